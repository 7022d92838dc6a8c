/* atomic: proves locked read-modify-write is atomic across vCPUs. Every CPU adds 1 to one shared
 * counter K times with lock xadd, then K times to another with a lock cmpxchg retry loop; both
 * totals must be exactly N*K. Each CPU also checks that the values its xadds return only grow. */
#include <stdint.h>

#include "firmware/testguest/console.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/sync.h"
#include "firmware/testguest/workloads.h"
#include "firmware/testguest/x86.h"

#define ATOMIC_ADDS 200000u

static struct {
	volatile uint64_t value;
} __attribute__((aligned(64))) xadd_counter, cmpxchg_counter;

static struct {
	uint64_t cmpxchg_retries;
} __attribute__((aligned(64))) stats[MAX_CPUS];

static void add_with_xadd(unsigned cpu)
{
	uint64_t last = 0;
	for (uint32_t i = 0; i < ATOMIC_ADDS; i++) {
		uint64_t before = atomic_fetch_add(&xadd_counter.value, 1);
		if (i > 0 && before <= last)
			fail("atomic: cpu %u: xadd returned %lu after %lu", cpu, before, last);
		last = before;
	}
}

static void add_with_cmpxchg(unsigned cpu)
{
	uint64_t retries = 0;
	for (uint32_t i = 0; i < ATOMIC_ADDS; i++) {
		uint64_t seen = cmpxchg_counter.value, deadline = 0;
		while (!atomic_compare_exchange(&cmpxchg_counter.value, seen, seen + 1)) {
			retries++;
			if (!deadline)
				deadline = deadline_after(WAIT_SECONDS);
			else if (deadline_passed(deadline))
				fail("atomic: cpu %u: cmpxchg starved at add %u", cpu, i);
			seen = cmpxchg_counter.value;
		}
	}
	stats[cpu].cmpxchg_retries = retries;
}

void atomic_run(unsigned cpu)
{
	add_with_xadd(cpu);
	add_with_cmpxchg(cpu);
}

void atomic_report(void)
{
	uint64_t expected = (uint64_t)ncpus * ATOMIC_ADDS, retries = 0;
	if (xadd_counter.value != expected)
		fail("atomic: xadd total %lu, expected %lu", xadd_counter.value, expected);
	if (cmpxchg_counter.value != expected)
		fail("atomic: cmpxchg total %lu, expected %lu", cmpxchg_counter.value, expected);
	for (unsigned cpu = 0; cpu < ncpus; cpu++)
		retries += stats[cpu].cmpxchg_retries;
	say("atomic ok vcpus=%u xadd=%lu cmpxchg=%lu cmpxchg_retries=%lu", ncpus, expected,
	    expected, retries);
}
