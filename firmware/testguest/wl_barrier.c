/* barrier: proves the barrier (and the memory ordering under it) works: in each
 * round every CPU writes the round number into its own slot, passes the barrier, and checks that
 * every slot holds that round; a second barrier keeps a fast CPU from starting the next round
 * while a slow one is still checking. */
#include <stdint.h>

#include "firmware/testguest/console.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/workloads.h"

#define BARRIER_ROUNDS 250u

static struct {
	volatile uint32_t round;
} __attribute__((aligned(64))) slots[MAX_CPUS];

void barrier_run(unsigned cpu)
{
	for (uint32_t round = 1; round <= BARRIER_ROUNDS; round++) {
		slots[cpu].round = round;
		smp_barrier();
		for (unsigned other = 0; other < ncpus; other++) {
			uint32_t seen = slots[other].round;
			if (seen != round)
				fail("barrier: round %u: cpu %u saw cpu %u's slot at %u", round,
				     cpu, other, seen);
		}
		smp_barrier();
	}
}

void barrier_report(void)
{
	say("barrier ok vcpus=%u rounds=%u", ncpus, BARRIER_ROUNDS);
}
