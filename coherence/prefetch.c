/* Run detection: the last page missed and the length of the run of consecutive pages ending
 * there; `ahead` is the first page not yet asked for in the run, so that a run asks for each
 * page once, up to PREFETCH_WINDOW pages ahead of the thread, topped up (in one batch) once the
 * thread is within half a window of `ahead`.
 *
 * Slots: a small array searched linearly (64 entries: cheaper than any index at this size),
 * each a page number and, once it arrived, its bytes. */
#include "coherence/prefetch.h"

#include <stdlib.h>
#include <string.h>

#include "coherence/region.h"

enum slot_state { SLOT_FREE, SLOT_EXPECTED, SLOT_STAGED };

struct slot {
	enum slot_state state;
	bool writable;
	uint64_t page;
	uint8_t data[REGION_PAGE_SIZE];
};

struct prefetch {
	uint64_t last, run, ahead;
	bool any;
	struct slot slots[PREFETCH_SLOTS];
};

struct prefetch *prefetch_create(void)
{
	return calloc(1, sizeof(struct prefetch));
}

void prefetch_destroy(struct prefetch *p)
{
	free(p);
}

bool prefetch_on_miss(struct prefetch *p, uint64_t page, uint64_t *first, uint64_t *end)
{
	bool next = p->any && page == p->last + 1;
	p->run = next ? p->run + 1 : 0;
	if (!next || page >= p->ahead)
		p->ahead = page + 1;
	p->last = page;
	p->any = true;
	if (p->run < PREFETCH_TRIGGER || p->ahead >= page + 1 + PREFETCH_WINDOW / 2)
		return false;
	*first = p->ahead;
	*end = page + 1 + PREFETCH_WINDOW;
	p->ahead = *end;
	return true;
}

static struct slot *find(struct prefetch *p, uint64_t page)
{
	for (unsigned i = 0; i < PREFETCH_SLOTS; i++)
		if (p->slots[i].state != SLOT_FREE && p->slots[i].page == page)
			return &p->slots[i];
	return NULL;
}

bool prefetch_expect(struct prefetch *p, uint64_t page)
{
	if (find(p, page))
		return false;
	for (unsigned i = 0; i < PREFETCH_SLOTS; i++) {
		if (p->slots[i].state == SLOT_FREE) {
			p->slots[i].state = SLOT_EXPECTED;
			p->slots[i].page = page;
			return true;
		}
	}
	return false;
}

bool prefetch_claim(struct prefetch *p, uint64_t page)
{
	struct slot *s = find(p, page);
	if (!s || s->state != SLOT_EXPECTED)
		return false;
	s->state = SLOT_FREE;
	return true;
}

bool prefetch_stage(struct prefetch *p, uint64_t page, const uint8_t *data, bool writable)
{
	struct slot *s = find(p, page);
	if (!s || s->state != SLOT_EXPECTED)
		return false;
	memcpy(s->data, data, REGION_PAGE_SIZE);
	s->state = SLOT_STAGED;
	s->writable = writable;
	return true;
}

const uint8_t *prefetch_staged(struct prefetch *p, uint64_t page, bool *writable)
{
	struct slot *s = find(p, page);
	if (!s || s->state != SLOT_STAGED)
		return NULL;
	*writable = s->writable;
	return s->data;
}

void prefetch_protect(struct prefetch *p, uint64_t page)
{
	struct slot *s = find(p, page);
	if (s)
		s->writable = false;
}

bool prefetch_release(struct prefetch *p, uint64_t page)
{
	struct slot *s = find(p, page);
	if (!s)
		return false;
	s->state = SLOT_FREE;
	return true;
}
