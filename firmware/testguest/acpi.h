/* The machine from the ACPI tables: CPUs from RSDP -> XSDT -> MADT ("APIC"), NUMA nodes from the
 * SRAT. */
#ifndef TESTGUEST_ACPI_H
#define TESTGUEST_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* Stores the APIC ID of every enabled Processor Local APIC entry, in MADT order, into ids[0..max).
 * Returns how many, or -1 with a message in err (bad or missing table, more than max CPUs, a
 * duplicate ID). */
int acpi_enabled_apic_ids(uint64_t rsdp_addr, uint8_t *ids, unsigned max, char *err, size_t errlen);

struct acpi_numa_node {
	uint32_t domain;
	unsigned cpus;
	uint64_t memory_bytes;
};

/* Sums the enabled SRAT entries per proximity domain into nodes[0..max), in order of first
 * appearance. Returns how many, or -1 with a message (no SRAT, a malformed entry). */
int acpi_numa_nodes(uint64_t rsdp_addr, struct acpi_numa_node *nodes, unsigned max, char *err,
		    size_t errlen);

#endif
