/* The machine from the ACPI tables: CPUs and interrupt routing from RSDP -> XSDT -> MADT
 * ("APIC"), NUMA nodes from the SRAT. */
#ifndef TESTGUEST_ACPI_H
#define TESTGUEST_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Stores the APIC ID of every enabled Processor Local APIC entry, in MADT order, into ids[0..max).
 * Returns how many, or -1 with a message in err (bad or missing table, more than max CPUs, a
 * duplicate ID). */
int acpi_enabled_apic_ids(uint64_t rsdp_addr, uint8_t *ids, unsigned max, char *err, size_t errlen);

/* Where an ISA IRQ reaches an IOAPIC, per the MADT: the IRQ's GSI (its interrupt source override,
 * or the IRQ number itself), the IOAPIC serving that GSI and its input pin there, and the trigger
 * mode and polarity (ISA's edge and active high unless an override says otherwise). */
struct acpi_isa_route {
	uint8_t irq;
	uint32_t gsi;
	uint64_t ioapic_addr;
	unsigned pin;
	bool level, active_low;
};

/* Returns 0, or -1 with a message (bad table, no IOAPIC for the GSI, reserved override flags). */
int acpi_isa_irq_route(uint64_t rsdp_addr, uint8_t irq, struct acpi_isa_route *route, char *err,
		       size_t errlen);

struct acpi_numa_node {
	uint32_t domain;
	unsigned cpus;
	uint64_t memory_bytes;
};

/* Sums the enabled SRAT entries per proximity domain into nodes[0..max), in order of first
 * appearance. Returns how many, or -1 with a message (no SRAT, a malformed entry). */
int acpi_numa_nodes(uint64_t rsdp_addr, struct acpi_numa_node *nodes, unsigned max, char *err,
		    size_t errlen);

/* One enabled SRAT entry: a CPU (APIC ID) or a range of memory, and its proximity domain. */
struct acpi_affinity {
	bool is_cpu;
	uint32_t domain;
	uint8_t apic_id;       /* is_cpu */
	uint64_t base, length; /* !is_cpu */
};

/* The enabled SRAT entries in table order into out[0..max). Returns how many, or -1 with a
 * message (no SRAT, a malformed entry, more than max). */
int acpi_affinities(uint64_t rsdp_addr, struct acpi_affinity *out, unsigned max, char *err,
		    size_t errlen);

#endif
