/* The spinlock spins on a plain read and only tries the locked xchg once the lock looks free
 * (test-and-test-and-set), so waiters do not bounce the line with writes. The barrier is the
 * centralized sense-reversing one: the last arrival resets the count and flips the shared sense,
 * which releases everyone whose local sense matches. */
#include <stdbool.h>
#include <stdint.h>

#include "firmware/testguest/sync.h"
#include "firmware/testguest/x86.h"

bool spin_lock_within(struct spinlock *lock, unsigned seconds)
{
	uint64_t deadline = deadline_after(seconds);
	for (;;) {
		if (!lock->held && atomic_exchange32(&lock->held, 1) == 0)
			return true;
		cpu_relax();
		if (deadline_passed(deadline))
			return false;
	}
}

void spin_unlock(struct spinlock *lock)
{
	compiler_barrier(); /* x86 stores are released in order: a plain store suffices */
	lock->held = 0;
}

void barrier_init(struct barrier *barrier, unsigned parties)
{
	barrier->arrived = 0;
	barrier->sense = 0;
	barrier->parties = parties;
}

void barrier_wait(struct barrier *barrier, uint32_t *local_sense, const char *name)
{
	uint32_t sense = *local_sense ^ 1;
	*local_sense = sense;
	if (atomic_fetch_add(&barrier->arrived, 1) == barrier->parties - 1) {
		barrier->arrived = 0;
		compiler_barrier();
		barrier->sense = sense;
		return;
	}
	WAIT_UNTIL(barrier->sense == sense, "barrier %s timed out (%lu of %u arrived)", name,
		   barrier->arrived, barrier->parties);
}
