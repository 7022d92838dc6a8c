/* The IOAPIC, driven from ring 3 through its MMIO window like the LAPIC (the page is mapped
 * user-accessible and uncached). Register access is IOREGSEL then IOWIN, two accesses that are not
 * atomic together: only one CPU at a time may use an IOAPIC. */
#ifndef TESTGUEST_IOAPIC_H
#define TESTGUEST_IOAPIC_H

#include <stdint.h>

/* Redirection entry, low dword (delivery mode fixed and physical destination are zeros). */
#define IOAPIC_ACTIVE_LOW (1u << 13)
#define IOAPIC_REMOTE_IRR (1u << 14)
#define IOAPIC_LEVEL	  (1u << 15)
#define IOAPIC_MASKED	  (1u << 16)

/* Number of input pins, from the version register. */
unsigned ioapic_pins(uint64_t base);
/* Programs pin's entry: `low` (vector and flags) with physical destination apic_id. */
void ioapic_route(uint64_t base, unsigned pin, uint32_t low, uint8_t apic_id);
uint32_t ioapic_entry_low(uint64_t base, unsigned pin);

#endif
