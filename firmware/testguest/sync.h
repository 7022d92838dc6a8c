/* Ring-3 synchronization for the workloads and the console: time bounds on every wait, a
 * test-and-test-and-set spinlock and a ticket barrier. Nothing here waits forever: a lost
 * IPI or a dead vCPU must become a FAIL line, not a hang. */
#ifndef TESTGUEST_SYNC_H
#define TESTGUEST_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "firmware/testguest/console.h"
#include "firmware/testguest/x86.h"

/* The TSC rate is not known (CPUID is the host's and not to be trusted): bounds assume 3 GHz,
 * so they are somewhat shorter on a faster TSC and longer on a slower one. */
#define TSC_HZ_ASSUMED 3000000000ull
/* Long: the host is slow and shared, and an overcommitted vCPU may wait a scheduler slice. */
#define WAIT_SECONDS 30

static inline uint64_t deadline_after(unsigned seconds)
{
	return rdtsc() + seconds * TSC_HZ_ASSUMED;
}

static inline bool deadline_passed(uint64_t deadline)
{
	return rdtsc() > deadline;
}

/* Spins until `cond` holds; after WAIT_SECONDS, fails the run with the given message. */
#define WAIT_UNTIL(cond, ...)                                                                      \
	do {                                                                                       \
		uint64_t wait_deadline_ = deadline_after(WAIT_SECONDS);                            \
		while (!(cond)) {                                                                  \
			cpu_relax();                                                               \
			if (deadline_passed(wait_deadline_))                                       \
				fail(__VA_ARGS__);                                                 \
		}                                                                                  \
	} while (0)

struct spinlock {
	volatile uint32_t held;
};

/* False if the lock was not free within `seconds`. */
bool spin_lock_within(struct spinlock *lock, unsigned seconds);
void spin_unlock(struct spinlock *lock);

struct barrier {
	volatile uint64_t arrivals; /* since barrier_init, by all parties */
	volatile uint64_t released; /* episodes every party has arrived at */
	uint32_t parties;
} __attribute__((aligned(64)));

void barrier_init(struct barrier *barrier, unsigned parties);
void barrier_wait(struct barrier *barrier, const char *name);

#endif
