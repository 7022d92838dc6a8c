/* The I/O bus: which device model answers a guest port or MMIO address. Devices register a range
 * and a handler at set-up; vCPU threads look ranges up on every exit (read-only after set-up, so no
 * lock). Later, a range owned by another node gets a forwarding handler: the bus does not care. */
#ifndef DEVICES_IOBUS_H
#define DEVICES_IOBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum iobus_space { IOBUS_PIO, IOBUS_MMIO };

/* Handles one access of `len` (1, 2, 4 or 8) bytes at `offset` from the range base. For a read the
 * handler fills `data`; for a write it consumes it. Returns 0, or -1 if the device refuses the
 * access (the VMM then applies the unknown-I/O policy). `vcpu` is the accessing vCPU's index. */
typedef int (*iobus_handler_fn)(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data,
				unsigned len, bool is_write);

struct iobus_range {
	uint64_t base, len;
	iobus_handler_fn handler;
	void *ctx;
	const char *name;
};

#define IOBUS_MAX_RANGES 64

struct iobus {
	struct iobus_range ranges[2][IOBUS_MAX_RANGES];
	unsigned count[2];
};

/* Fails (-1) on overlap with an existing range or when full. */
int iobus_register(struct iobus *bus, enum iobus_space space, uint64_t base, uint64_t len,
		   iobus_handler_fn handler, void *ctx, const char *name);
const struct iobus_range *iobus_find(const struct iobus *bus, enum iobus_space space, uint64_t addr,
				     unsigned len);

#endif
