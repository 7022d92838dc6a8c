/* The spinlock spins on a plain read and only tries the locked xchg once the lock looks free
 * (test-and-test-and-set), so waiters do not bounce the line with writes. The barrier is a
 * centralized ticket barrier: arrival k (counted forever, never reset) belongs to episode
 * k / parties, and the episode's last arrival releases it by advancing `released`. One locked add
 * both counts a party in and tells it which episode to wait for, so a party writes the barrier
 * once and keeps no state of its own anywhere. Across nodes that matters, because memory is kept
 * coherent page by page: a per-CPU sense in a shared array moved that array's page between the
 * nodes twice per barrier, and reading a shared sense before the add costs a read and then a
 * write transfer where the add alone costs one. */
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
	barrier->arrivals = 0;
	barrier->released = 0;
	barrier->parties = parties;
}

void barrier_wait(struct barrier *barrier, const char *name)
{
	uint64_t ticket = atomic_fetch_add(&barrier->arrivals, 1);
	uint64_t episode = ticket / barrier->parties;
	if (ticket % barrier->parties == barrier->parties - 1) {
		barrier->released = episode + 1;
		return;
	}
	WAIT_UNTIL(barrier->released > episode, "barrier %s timed out (%lu of %u arrived)", name,
		   barrier->arrivals - episode * barrier->parties, barrier->parties);
}
