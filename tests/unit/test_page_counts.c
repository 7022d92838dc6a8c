/* Unit tests for --profile's bounded page table: counts of a page add up (page 0 included), the
 * top pages come out highest first and no more than asked, merging adds tables, and once the
 * table is full further pages land in "other" without losing a count. */
#include "vmm/page_counts.h"

#include <criterion/criterion.h>

static struct page_counts *t;

static void set_up(void)
{
	t = page_counts_create();
	cr_assert_not_null(t);
}

static void tear_down(void)
{
	page_counts_destroy(t);
}

TestSuite(page_counts, .init = set_up, .fini = tear_down);

Test(page_counts, counts_of_a_page_add_up)
{
	page_counts_add(t, 0, 3);
	page_counts_add(t, 0x7fff, 5);
	page_counts_add(t, 0, 4);
	page_counts_add(t, 0x123, 0);
	struct page_count top[4];
	cr_assert_eq(page_counts_top(t, top, 4), 2);
	cr_assert_eq(top[0].page, 0);
	cr_assert_eq(top[0].count, 7);
	cr_assert_eq(top[1].page, 0x7fff);
	cr_assert_eq(top[1].count, 5);
	cr_assert_eq(page_counts_total(t), 12);
	cr_assert_eq(t->other, 0);
}

Test(page_counts, top_is_highest_first_and_bounded)
{
	for (uint64_t p = 1; p <= 100; p++)
		page_counts_add(t, p * 0x1000, (p * 37) % 101);
	struct page_count top[5];
	cr_assert_eq(page_counts_top(t, top, 5), 5);
	/* (p * 37) % 101 takes the values 1..100 once each over p = 1..100. */
	for (unsigned k = 0; k < 5; k++)
		cr_assert_eq(top[k].count, 100 - k);
	cr_assert_eq(page_counts_top(t, top, 0), 0);
}

Test(page_counts, merge_adds_tables)
{
	struct page_counts *u = page_counts_create();
	cr_assert_not_null(u);
	page_counts_add(t, 42, 10);
	page_counts_add(u, 42, 5);
	page_counts_add(u, 43, 1);
	u->other = 2;
	page_counts_merge(t, u);
	page_counts_destroy(u);
	struct page_count top[3];
	cr_assert_eq(page_counts_top(t, top, 3), 2);
	cr_assert_eq(top[0].page, 42);
	cr_assert_eq(top[0].count, 15);
	cr_assert_eq(page_counts_total(t), 18);
	cr_assert_eq(t->other, 2);
}

Test(page_counts, full_table_spills_into_other)
{
	const uint64_t pages = 4 * PAGE_COUNTS_SLOTS;
	for (uint64_t p = 0; p < pages; p++)
		page_counts_add(t, p, 2);
	cr_assert_eq(page_counts_total(t), 2 * pages);
	cr_assert_gt(t->other, 0);
	cr_assert_geq(t->other, 2 * (pages - PAGE_COUNTS_SLOTS));
	/* A page that found a slot still counts there. */
	struct page_count top[1];
	cr_assert_eq(page_counts_top(t, top, 1), 1);
	page_counts_add(t, top[0].page, 100);
	cr_assert_eq(page_counts_top(t, top, 1), 1);
	cr_assert_eq(top[0].count, 102);
}
