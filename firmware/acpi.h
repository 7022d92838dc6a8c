/* ACPI tables for the guest: RSDP, XSDT, FADT (hardware-reduced, with a sleep control register
 * for power-off and a reset register), a DSDT with \_S5, COM1 and the CMOS RTC, MADT (LAPIC per
 * vCPU, one IOAPIC), and SRAT/SLIT with one proximity domain per NUMA node. */
#ifndef FIRMWARE_ACPI_H
#define FIRMWARE_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/layout.h"

#define ACPI_MAX_CPUS	    255 /* xAPIC IDs are 8 bits and 0xFF is the broadcast ID */
#define ACPI_MAX_NUMA_NODES 256
#define ACPI_SLP_TYP_S5	    5 /* SLP_TYP the DSDT's \_S5 names: written with SLP_EN to power off */

struct acpi_cpu {
	uint32_t apic_id;
	uint32_t numa_node;
};

struct acpi_mem_range { /* GPA ranges */
	uint64_t base, size;
	uint32_t numa_node;
};

struct acpi_machine {
	const struct acpi_cpu *cpus;
	unsigned cpu_count;
	const struct acpi_mem_range *mem;
	unsigned mem_count;
	unsigned numa_nodes; /* SRAT/SLIT emitted when >= 1; SLIT: 10 local, 20 remote */
	uint8_t ioapic_id;
	uint16_t sleep_port; /* FADT sleep control/status register I/O port */
	uint16_t reset_port; /* FADT reset register I/O port, where reset_value resets */
	uint8_t reset_value;
};

/* Writes all tables into guest RAM at [gpa, gpa + max_len), the RSDP first at gpa (16-byte
 * aligned); *rsdp_gpa = gpa. 0, or -1 with a message in err. */
int acpi_build(const struct guest_ram *ram, uint64_t gpa, uint64_t max_len,
	       const struct acpi_machine *m, uint64_t *rsdp_gpa, char *err, size_t errlen);

#endif
