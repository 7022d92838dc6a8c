/* The debug ports a guest uses to talk to its VMM without a driver:
 *   0x501  exit: a write ends the VM; the value's low 8 bits become vsmp-vmm's exit status
 *   0x502  bench mark: a 32-bit write makes the VMM timestamp that value (benchmarks)
 *   0x503  null: writes are ignored; a bare exit round trip, for measuring exit cost */
#ifndef DEVICES_DEBUG_PORT_H
#define DEVICES_DEBUG_PORT_H

#include <stdint.h>

#include "devices/iobus.h"

#define DEBUG_PORT_BASE 0x501
#define DEBUG_PORT_LEN	3

struct debug_port_ops {
	void (*exit)(void *ctx, unsigned vcpu, uint8_t status);
	void (*mark)(void *ctx, unsigned vcpu, uint32_t value);
};

struct debug_port {
	const struct debug_port_ops *ops;
	void *ctx;
};

/* The I/O bus handler; ctx is the struct debug_port. */
int debug_port_access(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data, unsigned len,
		      bool is_write);

#endif
