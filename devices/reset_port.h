/* The guest's ways of asking for a reset: the FADT reset register (ACPI reboot) and the keyboard
 * controller's pulse-reset command (0xFE to port 0x64), the two Linux tries first. */
#ifndef DEVICES_RESET_PORT_H
#define DEVICES_RESET_PORT_H

#include "devices/iobus.h"

#define RESET_REG_PORT	 0x601 /* beside the sleep control register */
#define RESET_REG_VALUE	 0x01  /* the FADT RESET_VALUE */
#define KBC_COMMAND_PORT 0x64
#define KBC_PULSE_RESET	 0xFE

struct reset_port {
	void (*reset)(void *ctx, const char *how);
	void *ctx;
};

/* I/O bus handlers; ctx is the struct reset_port. Both read as zero (for the keyboard
 * controller's status: no byte waiting either way) and ignore other written values. */
int reset_reg_access(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data, unsigned len,
		     bool is_write);
int reset_kbc_access(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data, unsigned len,
		     bool is_write);

#endif
