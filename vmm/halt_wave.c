/* The coordinator's side of the halted-for-good waves (halt_wave.h). */
#include "vmm/halt_wave.h"

#include <stdlib.h>
#include <string.h>

int halt_wave_init(struct halt_wave *w, unsigned node_count)
{
	memset(w, 0, sizeof(*w));
	w->node_count = node_count;
	w->replied = calloc(node_count ? node_count : 1, 1);
	return w->replied ? 0 : -1;
}

void halt_wave_free(struct halt_wave *w)
{
	free(w->replied);
	w->replied = NULL;
}

static enum halt_verdict start_wave(struct halt_wave *w, uint32_t *wave)
{
	w->wave = ++w->last_id ? w->last_id : ++w->last_id;
	w->replies = 0;
	w->reported = false;
	w->total = (struct halt_counts){.halted = true};
	memset(w->replied, 0, w->node_count);
	*wave = w->wave;
	return HALT_START_WAVE;
}

enum halt_verdict halt_wave_report(struct halt_wave *w, uint32_t *wave)
{
	if (w->wave) {
		w->reported = true;
		return HALT_WAIT;
	}
	return start_wave(w, wave);
}

/* Every node answered: success needs all halted and nothing in flight, twice with equal totals. */
static enum halt_verdict finish_wave(struct halt_wave *w, uint32_t *wave)
{
	w->wave = 0;
	const struct halt_counts *t = &w->total;
	bool quiet = t->halted && t->sent == t->received;
	if (!quiet) {
		w->confirming = false;
		return w->reported ? start_wave(w, wave) : HALT_WAIT;
	}
	if (w->confirming && w->previous.sent == t->sent && w->previous.received == t->received)
		return HALT_FOR_GOOD;
	w->confirming = true;
	w->previous = *t;
	return start_wave(w, wave);
}

enum halt_verdict halt_wave_reply(struct halt_wave *w, unsigned node, uint32_t id,
				  const struct halt_counts *counts, uint32_t *wave)
{
	if (!w->wave || id != w->wave || node >= w->node_count || w->replied[node])
		return HALT_WAIT;
	w->replied[node] = 1;
	w->total.halted &= counts->halted;
	w->total.sent += counts->sent;
	w->total.received += counts->received;
	if (++w->replies < w->node_count)
		return HALT_WAIT;
	return finish_wave(w, wave);
}
