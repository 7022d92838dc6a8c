/* timer: proves the LAPIC timer interrupts each vCPU periodically. Every CPU programs its own
 * timer periodic at VEC_TIMER with a 1 ms period (the VMM's timer clock is 100 MHz, divide by 1),
 * waits for TIMER_TICKS ticks, then masks and stops it. The period is reported in TSC cycles as
 * information only: on a shared host it is not something to assert. */
#include <stdint.h>

#include "firmware/testguest/console.h"
#include "firmware/testguest/lapic.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/sync.h"
#include "firmware/testguest/workloads.h"
#include "firmware/testguest/x86.h"

#define TIMER_TICKS	5u
#define TIMER_COUNT_1MS 100000u

static struct {
	uint64_t cycles_per_tick;
} __attribute__((aligned(64))) measured[MAX_CPUS];

void timer_run(unsigned cpu)
{
	volatile uint64_t *ticks = &cpu_blocks[cpu].timer_ticks;
	uint64_t base = *ticks, start = rdtsc();
	lapic_timer_periodic(TIMER_COUNT_1MS);
	WAIT_UNTIL(*ticks >= base + TIMER_TICKS, "timer: cpu %u got %lu of %u ticks", cpu,
		   *ticks - base, TIMER_TICKS);
	uint64_t elapsed = rdtsc() - start;
	lapic_timer_stop();
	measured[cpu].cycles_per_tick = elapsed / TIMER_TICKS;
}

void timer_report(void)
{
	uint64_t slowest = 0;
	for (unsigned cpu = 0; cpu < ncpus; cpu++)
		if (measured[cpu].cycles_per_tick > slowest)
			slowest = measured[cpu].cycles_per_tick;
	say("timer ok vcpus=%u ticks=%u period_count=%u max_tsc_cycles_per_tick=%lu", ncpus,
	    TIMER_TICKS, TIMER_COUNT_1MS, slowest);
}
