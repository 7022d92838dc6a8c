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

int acpi_sleep_register(struct acpi_sleep *dev, struct iobus *bus);

#endif
