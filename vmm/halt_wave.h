/* Deciding that a guest spread over several nodes is halted for good: every vCPU of every node in
 * hlt with interrupts disabled, nothing pending that could wake one, and no interrupt message in
 * flight between nodes that could. No node sees all of that, so one node (the coordinator) asks
 * them all in waves; this is the coordinator's bookkeeping, with no I/O (node_link.c does that).
 *
 * Each node counts the interrupt messages it sent to and received from other nodes. A wave asks
 * every node for (halted, sent, received); it succeeds when every node is halted and the totals
 * of sent and received are equal. Two successive successful waves with the same totals prove that
 * nothing happened in between and nothing was in flight (Mattern's four-counter method): only
 * then is the guest halted for good. A wave starts when a node reports that it may be halted (its
 * last vCPU halted, or a message reached it while halted); a failed wave waits for the next
 * report, a successful one is followed by the confirming wave at once. */
#ifndef VMM_HALT_WAVE_H
#define VMM_HALT_WAVE_H

#include <stdbool.h>
#include <stdint.h>

struct halt_counts {
	bool halted;
	uint64_t sent, received;
};

struct halt_wave {
	unsigned node_count;
	uint32_t wave;	  /* the wave in progress, 0 while none is */
	uint32_t last_id; /* wave ids are never reused, so a late reply cannot count twice */
	unsigned replies;
	bool reported; /* a report came during the wave: another wave follows a failed one */
	struct halt_counts total;
	bool confirming; /* the previous wave succeeded with totals `previous` */
	struct halt_counts previous;
	uint8_t *replied; /* node_count flags: who answered the wave in progress */
};

enum halt_verdict {
	HALT_WAIT,	 /* nothing to do until the next reply or report */
	HALT_START_WAVE, /* ask every node: wave id in *wave */
	HALT_FOR_GOOD,	 /* the guest is halted for good */
};

int halt_wave_init(struct halt_wave *w, unsigned node_count);
void halt_wave_free(struct halt_wave *w);
/* A node may be halted (the coordinator's own report included). */
enum halt_verdict halt_wave_report(struct halt_wave *w, uint32_t *wave);
/* Node `node`'s answer to wave `id`. Replies to another wave, from an unknown node or repeated
 * within a wave are ignored. */
enum halt_verdict halt_wave_reply(struct halt_wave *w, unsigned node, uint32_t id,
				  const struct halt_counts *counts, uint32_t *wave);

#endif
