/* ipi: proves fixed, physically addressed IPIs are delivered exactly once, to the right vCPU.
 * Partner CPUs play ping-pong (each waits for the other's IPI before answering; a CPU without a
 * partner sends to itself), then the BSP sends one IPI to every AP. Afterwards every CPU's handler
 * count must have grown by exactly what was sent to it: a lost IPI times out, a duplicated or
 * misdirected one shows in the counts. */
#include <stdint.h>

#include "firmware/testguest/console.h"
#include "firmware/testguest/lapic.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/sync.h"
#include "firmware/testguest/workloads.h"

#define IPI_ROUND_TRIPS 200u

static uint64_t base[MAX_CPUS];

static uint64_t expected_ipis(unsigned cpu)
{
	return IPI_ROUND_TRIPS + (cpu != 0); /* every AP also gets one from the BSP */
}

void ipi_run(unsigned cpu)
{
	base[cpu] = ipis_received(cpu);
	smp_barrier();
	ipi_ping_pong(cpu, smp_partner(cpu), IPI_ROUND_TRIPS, base[cpu]);
	smp_barrier();
	if (cpu == 0) {
		for (unsigned ap = 1; ap < ncpus; ap++)
			lapic_send_ipi(cpus[ap].apic_id, VEC_IPI);
	} else {
		WAIT_UNTIL(ipis_received(cpu) >= base[cpu] + expected_ipis(cpu),
			   "ipi: cpu %u never got the BSP's IPI", cpu);
	}
}

void ipi_report(void)
{
	for (unsigned cpu = 0; cpu < ncpus; cpu++) {
		uint64_t got = ipis_received(cpu) - base[cpu];
		if (got != expected_ipis(cpu))
			fail("ipi: cpu %u handled %lu IPIs, expected %lu", cpu, got,
			     expected_ipis(cpu));
	}
	say("ipi ok vcpus=%u round_trips=%u per pair, 1 from the BSP to each AP", ncpus,
	    IPI_ROUND_TRIPS);
}
