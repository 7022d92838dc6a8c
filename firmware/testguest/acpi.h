/* CPU discovery from the ACPI tables: RSDP -> XSDT -> MADT ("APIC"). */
#ifndef TESTGUEST_ACPI_H
#define TESTGUEST_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* Stores the APIC ID of every enabled Processor Local APIC entry, in MADT order, into ids[0..max).
 * Returns how many, or -1 with a message in err (bad or missing table, more than max CPUs, a
 * duplicate ID). */
int acpi_enabled_apic_ids(uint64_t rsdp_addr, uint8_t *ids, unsigned max, char *err, size_t errlen);

#endif
