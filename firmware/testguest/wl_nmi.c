/* nmi: proves NMI IPIs reach the named vCPU, on whatever node it runs, exactly once, and wake it
 * from hlt.
 *
 * Running: in each step every CPU sends one NMI to the CPU `step` places after it (step 0:
 * itself), so every CPU is the target of exactly one NMI per step; the sender waits until its
 * target has handled one more, and all CPUs pass a barrier before the next step. Pending NMIs may
 * merge (a CPU latches at most one while it handles another), so never more than one is
 * outstanding per target, which makes the counts exact: a lost NMI times out, a duplicated or
 * misdirected one shows in the counts.
 *
 * Halted: then each CPU in turn halts in ring 0 with no timer running, and the next CPU sends it
 * one NMI, which alone can wake it. */
#include <stdint.h>

#include "firmware/testguest/console.h"
#include "firmware/testguest/lapic.h"
#include "firmware/testguest/ring0.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/sync.h"
#include "firmware/testguest/workloads.h"
#include "firmware/testguest/x86.h"

#define NMI_ROUNDS	   10u
#define HALT_SETTLE_CYCLES 3000000u /* ~1 ms: the target is in hlt when the NMI arrives */

/* vectors.S: through ring0_call, halts until this CPU has handled (uintptr_t)want NMIs. */
void halt_until_nmis(void *want);

static uint64_t base[MAX_CPUS];
static volatile uint32_t halting = UINT32_MAX; /* the CPU about to halt */

static uint64_t nmis_received(unsigned cpu)
{
	return cpu_blocks[cpu].nmis;
}

static void send_and_wait(unsigned cpu, unsigned target, uint64_t want, const char *what)
{
	lapic_send_nmi(cpus[target].apic_id);
	WAIT_UNTIL(nmis_received(target) >= want,
		   "nmi: cpu %u's NMI %lu never reached %s cpu %u (APIC ID %u)", cpu,
		   want - base[target], what, target, cpus[target].apic_id);
}

static void run_all_to_all(unsigned cpu)
{
	uint64_t sent = 0; /* to every CPU, as each receives one NMI per step */
	for (unsigned round = 1; round <= NMI_ROUNDS; round++) {
		for (unsigned step = 0; step < ncpus; step++) {
			unsigned target = (cpu + step) % ncpus;
			sent++;
			send_and_wait(cpu, target, base[target] + sent, "running");
			smp_barrier();
		}
	}
}

static void wake_each_halted(unsigned cpu)
{
	uint64_t want = base[cpu] + (uint64_t)NMI_ROUNDS * ncpus + 1;
	for (unsigned sleeper = 0; sleeper < ncpus; sleeper++) {
		unsigned waker = (sleeper + 1) % ncpus;
		if (cpu == sleeper) {
			halting = cpu;
			ring0_call(halt_until_nmis, (void *)(uintptr_t)want);
		} else if (cpu == waker) {
			WAIT_UNTIL(halting == sleeper, "nmi: cpu %u never went to halt", sleeper);
			uint64_t settle = rdtsc() + HALT_SETTLE_CYCLES;
			while (rdtsc() < settle)
				cpu_relax();
			send_and_wait(cpu, sleeper, want, "halted");
		}
		smp_barrier();
	}
}

static uint64_t expected_nmis(void)
{
	return (uint64_t)NMI_ROUNDS * ncpus + (ncpus > 1);
}

void nmi_run(unsigned cpu)
{
	base[cpu] = nmis_received(cpu);
	smp_barrier();
	run_all_to_all(cpu);
	if (ncpus > 1) /* a lone CPU cannot wake itself */
		wake_each_halted(cpu);
}

void nmi_report(void)
{
	for (unsigned cpu = 0; cpu < ncpus; cpu++) {
		uint64_t got = nmis_received(cpu) - base[cpu];
		if (got != expected_nmis())
			fail("nmi: cpu %u handled %lu NMIs, expected %lu", cpu, got,
			     expected_nmis());
	}
	say("nmi ok vcpus=%u rounds=%u of one NMI from every CPU to every CPU (itself too), "
	    "then one to each CPU halted: %lu per CPU",
	    ncpus, NMI_ROUNDS, expected_nmis());
}
