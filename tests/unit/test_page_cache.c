/* Unit tests for the memory-mode cache (coherence/page_cache.c): its accounting, and that its
 * victims follow CLOCK: a used page is kept for one more turn of the hand, a refused victim is
 * passed over, leaving pages are never chosen, and a hot set survives a stream of cold pages that
 * FIFO would let push it out. */
#include "coherence/page_cache.h"

#include <criterion/criterion.h>
#include <stdlib.h>

static uint64_t victim(struct page_cache *c)
{
	uint64_t page = UINT64_MAX;
	cr_assert(page_cache_victim(c, &page), "no victim");
	return page;
}

static struct page_cache *cache(uint64_t pages, uint64_t budget)
{
	struct page_cache *c = page_cache_create(pages, budget);
	cr_assert_not_null(c);
	return c;
}

Test(page_cache, counts_resident_pages_and_the_excess)
{
	struct page_cache *c = cache(200, 2);
	page_cache_use(c, 5);
	page_cache_use(c, 5);
	page_cache_use(c, 130);
	cr_assert_eq(page_cache_resident_count(c), 2);
	cr_assert_eq(page_cache_excess(c), 0);
	page_cache_use(c, 199);
	cr_assert_eq(page_cache_excess(c), 1);
	cr_assert(page_cache_resident(c, 199));
	page_cache_leaving(c, 199);
	cr_assert_eq(page_cache_excess(c), 0, "a page being written back no longer counts");
	cr_assert_eq(page_cache_resident_count(c), 3, "but it is still resident");
	page_cache_remove(c, 199);
	page_cache_remove(c, 199);
	page_cache_remove(c, 7);
	cr_assert_eq(page_cache_resident_count(c), 2);
	cr_assert_not(page_cache_resident(c, 199));
	page_cache_use(c, 1000); /* out of range: ignored */
	cr_assert_eq(page_cache_resident_count(c), 2);
	page_cache_destroy(c);
}

Test(page_cache, a_used_page_gets_a_second_chance)
{
	struct page_cache *c = cache(64, 1);
	page_cache_use(c, 1);
	page_cache_use(c, 2);
	page_cache_use(c, 3);
	/* All just arrived (used) and clean: the passes clear the bits and find page 1. */
	cr_assert_eq(victim(c), 1);
	page_cache_remove(c, 1);
	page_cache_use(c, 2); /* the guest came back to 2 */
	cr_assert_eq(victim(c), 3, "2 was used since the hand passed it");
	page_cache_destroy(c);
}

Test(page_cache, a_victim_refused_is_passed_over_and_the_hand_wraps)
{
	struct page_cache *c = cache(300, 1);
	page_cache_use(c, 10);
	page_cache_use(c, 250);
	cr_assert_eq(victim(c), 10);
	cr_assert_eq(victim(c), 250, "10 was refused (busy): the hand moved on");
	cr_assert_eq(victim(c), 10, "round again");
	page_cache_destroy(c);
}

Test(page_cache, the_hand_moves_on_so_victims_rotate)
{
	struct page_cache *c = cache(128, 4);
	for (uint64_t p = 0; p < 128; p += 8)
		page_cache_use(c, p);
	uint64_t first = victim(c), second = victim(c);
	cr_assert_eq(first, 0);
	cr_assert_eq(second, 8, "the hand stopped after the last victim");
	page_cache_destroy(c);
}

/* victim_at takes a page only where the clock would take it next: under the hand, resident, not
 * leaving, not used since the hand passed; and moves the hand on past it. */
Test(page_cache, victim_at_takes_only_the_clocks_very_next_victim)
{
	struct page_cache *c = cache(128, 1);
	for (uint64_t p = 10; p < 16; p++)
		page_cache_use(c, p);
	cr_assert_eq(victim(c), 10); /* the first turn cleared the use bits of 10-15 */
	cr_assert(page_cache_victim_at(c, 11));
	cr_assert_not(page_cache_victim_at(c, 13), "the hand is on 12");
	page_cache_use(c, 12);
	cr_assert_not(page_cache_victim_at(c, 12), "used since the hand passed it");
	cr_assert_eq(victim(c), 13, "refused, the hand stayed: the clock passes 12, takes 13");
	page_cache_leaving(c, 14);
	cr_assert_not(page_cache_victim_at(c, 14), "leaving");
	page_cache_remove(c, 14);
	cr_assert_not(page_cache_victim_at(c, 14), "not resident");
	cr_assert_not(page_cache_victim_at(c, 128), "out of range");
	page_cache_destroy(c);
}

/* A loop over a hot set while a stream of cold pages passes through the cache: once the hand
 * has gone round (at first every page is freshly used, and CLOCK is FIFO), the hot pages, used
 * again between evictions, are never the victims; FIFO would evict each of them once per 8. */
Test(page_cache, keeps_a_hot_set_under_a_stream)
{
	struct page_cache *c = cache(512, 8);
	uint64_t hot[] = {3, 70, 200};
	for (size_t i = 0; i < 3; i++)
		page_cache_use(c, hot[i]);
	for (uint64_t cold = 300; cold < 500; cold++) {
		page_cache_use(c, cold);
		for (size_t i = 0; i < 3; i++)
			page_cache_use(c, hot[i]);
		while (page_cache_excess(c)) {
			uint64_t v = victim(c);
			for (size_t i = 0; i < 3 && cold >= 320; i++)
				cr_assert_neq(v, hot[i], "hot page %lu evicted for cold page %lu",
					      (unsigned long)v, (unsigned long)cold);
			page_cache_remove(c, v);
		}
	}
	cr_assert_eq(page_cache_resident_count(c), 8);
	page_cache_destroy(c);
}
