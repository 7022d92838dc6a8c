/* The local APIC (xAPIC MMIO at LAPIC_BASE), driven from ring 3: the page is user-accessible and
 * every access is an MMIO exit to the VMM's user-space LAPIC. */
#ifndef TESTGUEST_LAPIC_H
#define TESTGUEST_LAPIC_H

#include <stdint.h>

uint32_t lapic_id(void);
/* Software-enables this CPU's LAPIC with VEC_SPURIOUS and accepts every priority. */
void lapic_enable(void);
/* Fixed delivery, physical destination. */
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
/* NMI delivery, physical destination (may be this CPU's own APIC ID). */
void lapic_send_nmi(uint32_t apic_id);
void lapic_send_init(uint32_t apic_id);
void lapic_send_startup(uint32_t apic_id, uint32_t trampoline_addr);
/* Periodic timer at VEC_TIMER, divide by 1, `count` timer-clock ticks per period. */
void lapic_timer_periodic(uint32_t count);
void lapic_timer_stop(void);

#endif
