/* Forward progress for a faulting thread: a page this node has just installed stays here for a
 * short window before another node's request may take it away or write-protect it (the time
 * window of the Mirage DSM). Without it two nodes can livelock on one page: a node gets write
 * access, but before its vCPU is scheduled to retry the store, the other node's spinning reader
 * takes the page back, and the writer faults again (measured: thousands of hand-offs per
 * barrier, one every 20-40 us, see docs/benchmarks.md).
 *
 * The engine notes each install and, before handling a message that may take a page, waits out
 * what is left of that page's window. Only the most recent HOLD_SLOTS installs are remembered: a
 * page pushed out by that many newer installs inside one window loses its hold, nothing worse. */
#ifndef COHERENCE_HOLD_H
#define COHERENCE_HOLD_H

#include <pthread.h>
#include <stdint.h>

#define HOLD_SLOTS 64

struct hold {
	pthread_mutex_t lock;
	uint64_t window_ns;
	uint64_t page[HOLD_SLOTS];  /* page number + 1; 0: empty slot */
	uint64_t until[HOLD_SLOTS]; /* end of the page's window, CLOCK_MONOTONIC ns */
	unsigned next;
};

void hold_init(struct hold *h, uint64_t window_ns);
void hold_destroy(struct hold *h);
/* Any thread: `page` was installed at `now_ns`. */
void hold_note(struct hold *h, uint64_t page, uint64_t now_ns);
/* Nanoseconds left of `page`'s window at `now_ns`; 0 if it has none. */
uint64_t hold_remaining_ns(struct hold *h, uint64_t page, uint64_t now_ns);

#endif
