/* spinlock: proves mutual exclusion built from xchg holds across vCPUs. Every CPU takes the
 * test-and-test-and-set lock M times and, inside, does non-atomic read-modify-writes of a counter
 * and of a two-word invariant (first == second outside the lock), and records itself as owner. A
 * second CPU inside at the same time would see a foreign owner or first != second, or lose an
 * increment of the counter. */
#include <stdint.h>

#include "firmware/testguest/console.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/sync.h"
#include "firmware/testguest/workloads.h"

#define SPINLOCK_ROUNDS 50000u
#define NO_OWNER	0xffffffffu

static struct spinlock lock __attribute__((aligned(64)));

static struct {
	volatile uint64_t counter;
	volatile uint64_t first, second;
	volatile uint32_t owner;
} __attribute__((aligned(64))) guarded = {.owner = NO_OWNER};

static void critical_section(unsigned cpu)
{
	if (guarded.owner != NO_OWNER)
		fail("spinlock: cpu %u got the lock while cpu %u holds it", cpu, guarded.owner);
	guarded.owner = cpu;
	uint64_t first = guarded.first, second = guarded.second;
	if (first != second)
		fail("spinlock: cpu %u saw the invariant broken (%lu != %lu)", cpu, first, second);
	guarded.first = first + 1;
	guarded.counter = guarded.counter + 1;
	guarded.second = second + 1;
	if (guarded.owner != cpu)
		fail("spinlock: cpu %u lost the lock to cpu %u", cpu, guarded.owner);
	guarded.owner = NO_OWNER;
}

void spinlock_run(unsigned cpu)
{
	for (uint32_t i = 0; i < SPINLOCK_ROUNDS; i++) {
		if (!spin_lock_within(&lock, WAIT_SECONDS))
			fail("spinlock: cpu %u could not take the lock (round %u)", cpu, i);
		critical_section(cpu);
		spin_unlock(&lock);
	}
}

void spinlock_report(void)
{
	uint64_t expected = (uint64_t)ncpus * SPINLOCK_ROUNDS;
	if (guarded.counter != expected || guarded.first != expected || guarded.second != expected)
		fail("spinlock: counter %lu first %lu second %lu, expected %lu", guarded.counter,
		     guarded.first, guarded.second, expected);
	say("spinlock ok vcpus=%u acquisitions=%lu", ncpus, expected);
}
