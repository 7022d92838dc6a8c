/* Unit tests for memory mode's read-ahead (coherence/prefetch.c): a run is three consecutive
 * misses, the window is asked for once and topped up in batches of at least half a window, a
 * jump starts over; staged pages are told apart from expected ones, and the slots run out. */
#include "coherence/prefetch.h"

#include <criterion/criterion.h>
#include <string.h>

#include "coherence/region.h"

Test(prefetch, three_consecutive_misses_fetch_a_window_ahead)
{
	struct prefetch *p = prefetch_create();
	uint64_t first = 0, end = 0;
	cr_assert_not(prefetch_on_miss(p, 100, &first, &end));
	cr_assert_not(prefetch_on_miss(p, 101, &first, &end));
	cr_assert(prefetch_on_miss(p, 102, &first, &end));
	cr_assert_eq(first, 103);
	cr_assert_eq(end, 103 + PREFETCH_WINDOW);
	/* Touches inside the window ask for nothing until half of it is used up. */
	uint64_t page = 103;
	for (; page < 103 + PREFETCH_WINDOW / 2; page++)
		cr_assert_not(prefetch_on_miss(p, page, &first, &end), "page %lu", page);
	cr_assert(prefetch_on_miss(p, page, &first, &end));
	cr_assert_eq(first, 103 + PREFETCH_WINDOW, "never a page asked for already");
	cr_assert_eq(end, page + 1 + PREFETCH_WINDOW);
	cr_assert_geq(end - first, PREFETCH_WINDOW / 2);
	prefetch_destroy(p);
}

Test(prefetch, a_jump_or_a_repeat_starts_over)
{
	struct prefetch *p = prefetch_create();
	uint64_t first, end;
	prefetch_on_miss(p, 10, &first, &end);
	prefetch_on_miss(p, 11, &first, &end);
	cr_assert_not(prefetch_on_miss(p, 50, &first, &end));
	cr_assert_not(prefetch_on_miss(p, 50, &first, &end));
	cr_assert_not(prefetch_on_miss(p, 51, &first, &end));
	cr_assert(prefetch_on_miss(p, 52, &first, &end));
	cr_assert_eq(first, 53);
	prefetch_destroy(p);
}

Test(prefetch, staged_claimed_and_released_pages)
{
	struct prefetch *p = prefetch_create();
	uint8_t data[REGION_PAGE_SIZE];
	memset(data, 0xab, sizeof(data));
	bool writable = true;
	cr_assert_not(prefetch_stage(p, 7, data, false), "not expected");
	cr_assert(prefetch_expect(p, 7));
	cr_assert_not(prefetch_expect(p, 7), "already expected");
	cr_assert_null(prefetch_staged(p, 7, &writable), "expected, not arrived");
	cr_assert(prefetch_stage(p, 7, data, false));
	const uint8_t *staged = prefetch_staged(p, 7, &writable);
	cr_assert_not(writable);
	cr_assert_not_null(staged);
	cr_assert_eq(memcmp(staged, data, sizeof(data)), 0);
	cr_assert_not(prefetch_claim(p, 7), "staged, not in flight");
	cr_assert(prefetch_release(p, 7));
	cr_assert_not(prefetch_release(p, 7));
	cr_assert(prefetch_expect(p, 8));
	cr_assert(prefetch_claim(p, 8), "a thread waits for it: used");
	cr_assert_not(prefetch_stage(p, 8, data, true), "claimed: mapped on arrival, not staged");
	prefetch_destroy(p);
}

/* A writable page fetched ahead of a run of writes stays writable until the protocol
 * downgrades it. */
Test(prefetch, staged_writable_until_protected)
{
	struct prefetch *p = prefetch_create();
	uint8_t data[REGION_PAGE_SIZE] = {7};
	bool writable = false;
	cr_assert(prefetch_expect(p, 9));
	cr_assert(prefetch_stage(p, 9, data, true));
	cr_assert_not_null(prefetch_staged(p, 9, &writable));
	cr_assert(writable);
	prefetch_protect(p, 9);
	cr_assert_eq(prefetch_staged(p, 9, &writable)[0], 7);
	cr_assert_not(writable);
	prefetch_protect(p, 10); /* not staged: nothing */
	prefetch_destroy(p);
}

Test(prefetch, slots_run_out)
{
	struct prefetch *p = prefetch_create();
	for (uint64_t page = 0; page < PREFETCH_SLOTS; page++)
		cr_assert(prefetch_expect(p, 1000 + page));
	cr_assert_not(prefetch_expect(p, 5000));
	cr_assert(prefetch_release(p, 1000));
	cr_assert(prefetch_expect(p, 5000));
	prefetch_destroy(p);
}
