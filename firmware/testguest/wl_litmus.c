/* litmus: checks the x86-TSO guarantees a guest relies on, on partner CPUs (see smp_partner):
 * - message passing: the writer stores data then flag; a reader that sees flag = v must then
 *   see data >= v (stores are not reordered with stores, loads not with loads);
 * - store buffering: x = 1; r1 = y on one side, y = 1; r2 = x on the other. TSO lets each load
 *   pass the store before it, so r1 = r2 = 0 is allowed with plain stores (counted, shown as
 *   information) and forbidden with mfence between store and load (a failure).
 * Store buffering runs over arrays, one fresh (x, y) pair per iteration, in chunks; the lower
 * CPU of the pair resets and checks each chunk. For the two sides to race on the same iteration
 * at all, both start iteration i at the same TSC time (start + i * SB_STRIDE_CYCLES); a side that
 * is late, or on a host whose TSC differs, just runs late: timing affects only how often the
 * outcome can appear, never correctness. */
#include <stdbool.h>
#include <stdint.h>

#include "firmware/testguest/console.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/sync.h"
#include "firmware/testguest/workloads.h"
#include "firmware/testguest/x86.h"

#define MP_MESSAGES	 1000000u
#define SB_CHUNK	 1024u
#define SB_CHUNKS	 64u
#define SB_LEAD_CYCLES	 100000u /* from publishing a chunk's start time to the start */
#define SB_STRIDE_CYCLES 200u

struct litmus_pair {
	struct barrier both;
	volatile uint64_t data __attribute__((aligned(64)));
	volatile uint64_t flag __attribute__((aligned(64)));
	uint64_t sb_plain_both_zero;
	volatile uint64_t sb_start;
	volatile uint32_t x[SB_CHUNK] __attribute__((aligned(64)));
	volatile uint32_t y[SB_CHUNK] __attribute__((aligned(64)));
	volatile uint8_t r1[SB_CHUNK] __attribute__((aligned(64)));
	volatile uint8_t r2[SB_CHUNK] __attribute__((aligned(64)));
} __attribute__((aligned(64)));

static struct litmus_pair pairs[MAX_CPUS / 2];

static void pair_sync(struct litmus_pair *pair)
{
	barrier_wait(&pair->both, "litmus-pair");
}

static void message_passing(struct litmus_pair *pair, unsigned side, unsigned cpu)
{
	if (side == 0) {
		for (uint64_t v = 1; v <= MP_MESSAGES; v++) {
			pair->data = v;
			pair->flag = v;
		}
		return;
	}
	uint64_t deadline = deadline_after(WAIT_SECONDS), flag;
	do {
		flag = pair->flag;
		uint64_t data = pair->data;
		if (data < flag)
			fail("litmus: message passing: cpu %u saw flag %lu but data %lu", cpu, flag,
			     data);
		if (deadline_passed(deadline))
			fail("litmus: message passing: cpu %u saw only %lu of %u messages", cpu,
			     flag, MP_MESSAGES);
	} while (flag != MP_MESSAGES);
}

static void store_buffer_chunk(struct litmus_pair *pair, unsigned side, bool fenced)
{
	volatile uint32_t *mine = side == 0 ? pair->x : pair->y;
	volatile uint32_t *theirs = side == 0 ? pair->y : pair->x;
	volatile uint8_t *seen = side == 0 ? pair->r1 : pair->r2;
	uint64_t start = pair->sb_start;
	for (uint32_t i = 0; i < SB_CHUNK; i++) {
		while (rdtsc() < start + (uint64_t)i * SB_STRIDE_CYCLES)
			;
		mine[i] = 1;
		if (fenced)
			mfence();
		seen[i] = (uint8_t)theirs[i];
	}
}

/* Returns how often r1 = r2 = 0 appeared (on side 0; side 1 returns 0). */
static uint64_t store_buffering(struct litmus_pair *pair, unsigned side, bool fenced)
{
	uint64_t both_zero = 0;
	for (uint32_t chunk = 0; chunk < SB_CHUNKS; chunk++) {
		if (side == 0) {
			for (uint32_t i = 0; i < SB_CHUNK; i++)
				pair->x[i] = pair->y[i] = pair->r1[i] = pair->r2[i] = 0;
			pair->sb_start = rdtsc() + SB_LEAD_CYCLES;
		}
		pair_sync(pair);
		store_buffer_chunk(pair, side, fenced);
		pair_sync(pair);
		if (side == 0) {
			for (uint32_t i = 0; i < SB_CHUNK; i++)
				both_zero += pair->r1[i] == 0 && pair->r2[i] == 0;
		}
	}
	return both_zero;
}

void litmus_run(unsigned cpu)
{
	unsigned partner = smp_partner(cpu);
	unsigned side = cpu < partner ? 0 : 1;
	struct litmus_pair *pair = &pairs[side == 0 ? cpu : partner];
	if (partner != cpu && side == 0)
		barrier_init(&pair->both, 2);
	smp_barrier();
	if (partner == cpu)
		return;
	pair_sync(pair);
	message_passing(pair, side, cpu);
	uint64_t fenced = store_buffering(pair, side, true);
	if (fenced)
		fail("litmus: store buffering with mfence: r1 = r2 = 0 %lu times on cpus %u/%u",
		     fenced, cpu, partner);
	uint64_t plain = store_buffering(pair, side, false);
	if (side == 0)
		pair->sb_plain_both_zero = plain;
}

void litmus_report(void)
{
	uint64_t plain = 0;
	unsigned npairs = ncpus / 2;
	for (unsigned p = 0; p < npairs; p++)
		plain += pairs[p].sb_plain_both_zero;
	say("litmus ok pairs=%u mp_messages=%u sb_iterations=%u sb_fenced_r1=r2=0:0 "
	    "sb_plain_r1=r2=0:%lu",
	    npairs, MP_MESSAGES, SB_CHUNK * SB_CHUNKS, plain);
}
