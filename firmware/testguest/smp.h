/* The CPUs of the guest, from ring 3: who they are (from the MADT, the BSP always index 0), how
 * they are started (INIT/SIPI, one at a time), the barrier all started CPUs share, and IPI
 * ping-pong between two of them. */
#ifndef TESTGUEST_SMP_H
#define TESTGUEST_SMP_H

#include <stdint.h>

#include "firmware/testguest/layout.h"
#include "firmware/testguest/ring0.h"

struct cpu_info {
	uint32_t apic_id;
	volatile uint32_t online;
} __attribute__((aligned(64)));

extern struct cpu_info cpus[MAX_CPUS];
extern unsigned ncpus; /* enabled CPUs in the MADT */

/* Finds every CPU; the caller must be the BSP with its LAPIC enabled. */
void smp_discover(uint64_t rsdp);
/* Starts CPUs 1..count-1 and waits until each is in ring 3; sets the barrier to `count` parties. */
void smp_start(unsigned count);
/* First thing an AP does in ring 3. */
void smp_ap_online(unsigned cpu);
void smp_barrier(void);
/* Pairs CPUs from both ends (0 with n-1, 1 with n-2, ...), so that on several nodes a pair spans
 * nodes; the middle CPU of an odd count is its own partner. */
unsigned smp_partner(unsigned cpu);
__attribute__((noreturn)) void smp_park(void);

static inline uint64_t ipis_received(unsigned cpu)
{
	return cpu_blocks[cpu].ipis;
}

/* `rounds` IPI round trips with `partner`: the lower-numbered CPU sends first, each waits for the
 * other's IPI before sending the next. `base` is this CPU's ipis_received() read before both
 * sides passed a barrier, so that an early IPI is not missed. */
void ipi_ping_pong(unsigned cpu, unsigned partner, unsigned rounds, uint64_t base);
/* The same from ring 0, halting between IPIs as an idle OS does (the bench's IPI round trip). */
void ipi_ping_pong_halted(unsigned cpu, unsigned partner, unsigned rounds, uint64_t base);

#endif
