/* The hardware-reduced ACPI sleep control register (FADT SLEEP_CONTROL_REG): how a Linux guest
 * powers the machine off ("poweroff" -> SLP_TYP of \_S5 with SLP_EN). */
#ifndef DEVICES_ACPI_SLEEP_H
#define DEVICES_ACPI_SLEEP_H

#include "devices/iobus.h"

#define ACPI_SLEEP_PORT 0x600

struct acpi_sleep {
	void (*poweroff)(void *ctx);
	void *ctx;
};

/* The I/O bus handler; ctx is the struct acpi_sleep. */
int acpi_sleep_access(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data, unsigned len,
		      bool is_write);

#endif
