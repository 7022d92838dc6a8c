/* Enhanced second chance over bitmaps.
 *
 * Three bits per page of the region: resident, used (set when the page arrives or faults
 * again, cleared by the passing hand) and leaving (its write-back is in flight). The hand walks
 * the page numbers in order, a word of 64 pages at a time, so pages that are not resident cost
 * 1/64 of a step each; the bitmaps take 3/32768 of the memory they describe.
 *
 * The policy is CLOCK (second chance); docs/coherence.md, "The cache", says why. */
#include "coherence/page_cache.h"

#include <stdlib.h>

struct page_cache {
	uint64_t page_count, budget, words;
	uint64_t resident_count, leaving_count;
	uint64_t hand; /* a page number */
	uint64_t *resident, *used, *leaving;
};

static bool bit(const uint64_t *map, uint64_t page)
{
	return (map[page / 64] >> (page % 64)) & 1;
}

static void set_bit(uint64_t *map, uint64_t page, bool value)
{
	if (value)
		map[page / 64] |= 1ull << (page % 64);
	else
		map[page / 64] &= ~(1ull << (page % 64));
}

struct page_cache *page_cache_create(uint64_t page_count, uint64_t budget_pages)
{
	struct page_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->page_count = page_count;
	c->budget = budget_pages ? budget_pages : 1;
	c->words = (page_count + 63) / 64;
	c->resident = calloc(c->words ? c->words : 1, sizeof(uint64_t));
	c->used = calloc(c->words ? c->words : 1, sizeof(uint64_t));
	c->leaving = calloc(c->words ? c->words : 1, sizeof(uint64_t));
	if (!c->resident || !c->used || !c->leaving) {
		page_cache_destroy(c);
		return NULL;
	}
	return c;
}

void page_cache_destroy(struct page_cache *c)
{
	if (!c)
		return;
	free(c->resident);
	free(c->used);
	free(c->leaving);
	free(c);
}

void page_cache_use(struct page_cache *c, uint64_t page)
{
	if (page >= c->page_count)
		return;
	if (!bit(c->resident, page)) {
		set_bit(c->resident, page, true);
		c->resident_count++;
	}
	set_bit(c->used, page, true);
}

void page_cache_remove(struct page_cache *c, uint64_t page)
{
	if (page >= c->page_count || !bit(c->resident, page))
		return;
	set_bit(c->resident, page, false);
	set_bit(c->used, page, false);
	c->resident_count--;
	if (bit(c->leaving, page)) {
		set_bit(c->leaving, page, false);
		c->leaving_count--;
	}
}

void page_cache_leaving(struct page_cache *c, uint64_t page)
{
	if (page >= c->page_count || !bit(c->resident, page) || bit(c->leaving, page))
		return;
	set_bit(c->leaving, page, true);
	c->leaving_count++;
}

bool page_cache_resident(const struct page_cache *c, uint64_t page)
{
	return page < c->page_count && bit(c->resident, page);
}

uint64_t page_cache_resident_count(const struct page_cache *c)
{
	return c->resident_count;
}

uint64_t page_cache_excess(const struct page_cache *c)
{
	uint64_t counted = c->resident_count - c->leaving_count;
	return counted > c->budget ? counted - c->budget : 0;
}

/* The next candidate page at or after `from` (wrapping once): resident and not leaving. Returns
 * page_count when there is none before `from` comes round again. */
static uint64_t next_candidate(const struct page_cache *c, uint64_t from, uint64_t *visited)
{
	while (*visited < c->page_count) {
		uint64_t word = from / 64, shift = from % 64;
		uint64_t bits = (c->resident[word] & ~c->leaving[word]) >> shift;
		uint64_t span = 64 - shift;
		if (word == c->words - 1 && c->page_count % 64)
			span = c->page_count - from;
		if (bits) {
			uint64_t skip = (uint64_t)__builtin_ctzll(bits);
			if (skip < span && skip < c->page_count - *visited) {
				*visited += skip + 1;
				return from + skip;
			}
		}
		*visited += span;
		from = from + span == c->page_count ? 0 : from + span;
	}
	return c->page_count;
}

/* One turn of the hand: the first candidate whose use bit is clear; the use bits of the pages
 * passed are cleared, so a page survives one turn after each use. */
static bool clock_turn(struct page_cache *c, uint64_t *victim)
{
	uint64_t visited = 0, page = c->hand;
	for (;;) {
		page = next_candidate(c, page, &visited);
		if (page == c->page_count)
			return false;
		uint64_t next = page + 1 == c->page_count ? 0 : page + 1;
		if (!bit(c->used, page)) {
			*victim = page;
			c->hand = next;
			return true;
		}
		set_bit(c->used, page, false);
		page = next;
	}
}

/* Two turns at most: after the first, every use bit is clear. */
bool page_cache_victim(struct page_cache *c, uint64_t *victim)
{
	return c->page_count && (clock_turn(c, victim) || clock_turn(c, victim));
}

bool page_cache_victim_at(struct page_cache *c, uint64_t page)
{
	if (page >= c->page_count || c->hand != page || !bit(c->resident, page) ||
	    bit(c->leaving, page) || bit(c->used, page))
		return false;
	c->hand = page + 1 == c->page_count ? 0 : page + 1;
	return true;
}
