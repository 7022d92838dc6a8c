/* The benchmark loops. The marks bracket exactly the measured work: the VMM timestamps each mark
 * write, so it sees the cost of `iters` bare PIO exits, or of `iters` IPI round trips through its
 * user-space LAPIC. Both run in ring 0 (ring0_call), where an exit costs what the VMM costs; from
 * ring 3 every port or MMIO access would first take a ~50 us detour through PVM's trap path. */
#include <stdint.h>

#include "firmware/testguest/bench.h"
#include "firmware/testguest/console.h"
#include "firmware/testguest/lapic.h"
#include "firmware/testguest/layout.h"
#include "firmware/testguest/ring0.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/x86.h"

#define MARK_START 1
#define MARK_END   2
/* A timer tick every 10 ms (100 MHz timer clock) bounds each halt of the IPI bench. */
#define BENCH_WATCHDOG_TICKS 1000000

struct ipi_bench {
	unsigned cpu, partner;
	uint32_t iters;
	uint64_t base;
};

static void null_port_writes(void *arg)
{
	uint32_t iters = *(const uint32_t *)arg;
	outl(PORT_MARK, MARK_START);
	for (uint32_t i = 0; i < iters; i++)
		outl(PORT_NULL, 0);
	outl(PORT_MARK, MARK_END);
}

void bench_pio(uint32_t iters)
{
	ring0_call(null_port_writes, &iters);
	say("bench pio done iters=%u", iters);
	guest_exit(0);
}

static void ipi_round_trips(void *arg)
{
	const struct ipi_bench *bench = arg;
	if (bench->cpu == 0)
		outl(PORT_MARK, MARK_START);
	lapic_timer_periodic(BENCH_WATCHDOG_TICKS);
	ipi_ping_pong_halted(bench->cpu, bench->partner, bench->iters, bench->base);
	lapic_timer_stop();
	if (bench->cpu == 0)
		outl(PORT_MARK, MARK_END);
}

void bench_ipi(unsigned cpu, uint32_t iters)
{
	struct ipi_bench bench = {cpu, cpu == 0 ? 1 : 0, iters, ipis_received(cpu)};
	smp_barrier();
	ring0_call(ipi_round_trips, &bench);
	if (cpu != 0)
		smp_park();
	say("bench ipi done iters=%u", iters);
	guest_exit(0);
}
