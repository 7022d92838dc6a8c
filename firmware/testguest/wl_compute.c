/* compute: proves that every vCPU executes ordinary ring-3 code correctly and keeps its registers
 * across whatever the VMM does meanwhile (exits on other vCPUs, page faults, preemption). Each
 * CPU runs a xorshift64* generator seeded by its index; the BSP recomputes every CPU's result. */
#include <stdint.h>

#include "firmware/testguest/console.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/workloads.h"

#define COMPUTE_ITERS 10000000u

static uint64_t results[MAX_CPUS];

static uint64_t checksum(unsigned seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1), sum = 0;
	for (uint32_t i = 0; i < COMPUTE_ITERS; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		sum += x * 0x2545f4914f6cdd1dull;
	}
	return sum ^ x;
}

void compute_run(unsigned cpu)
{
	results[cpu] = checksum(cpu);
}

void compute_report(void)
{
	for (unsigned cpu = 0; cpu < ncpus; cpu++) {
		uint64_t expected = checksum(cpu);
		if (results[cpu] != expected)
			fail("compute: cpu %u checksum 0x%lx, expected 0x%lx", cpu, results[cpu],
			     expected);
	}
	say("compute ok vcpus=%u iters=%u", ncpus, COMPUTE_ITERS);
}
