/* Unit tests for the hold windows of installed pages: a noted page is held for the window and no
 * longer, other pages are not, a later install extends the window, a zero window holds nothing,
 * and a page pushed out of the ring by HOLD_SLOTS newer installs loses its hold. */
#include "coherence/hold.h"

#include <criterion/criterion.h>

#define WINDOW 100000ull
#define T0     5000000000ull

static struct hold h;

static void set_up(void)
{
	hold_init(&h, WINDOW);
}

static void tear_down(void)
{
	hold_destroy(&h);
}

TestSuite(hold, .init = set_up, .fini = tear_down);

Test(hold, nothing_noted_nothing_held)
{
	cr_assert_eq(hold_remaining_ns(&h, 0, T0), 0);
	cr_assert_eq(hold_remaining_ns(&h, 7, T0), 0);
}

Test(hold, noted_page_is_held_for_the_window)
{
	hold_note(&h, 7, T0);
	cr_assert_eq(hold_remaining_ns(&h, 7, T0), WINDOW);
	cr_assert_eq(hold_remaining_ns(&h, 7, T0 + 40000), WINDOW - 40000);
	cr_assert_eq(hold_remaining_ns(&h, 7, T0 + WINDOW), 0);
	cr_assert_eq(hold_remaining_ns(&h, 7, T0 + 2 * WINDOW), 0);
}

Test(hold, other_pages_are_not_held)
{
	hold_note(&h, 7, T0);
	cr_assert_eq(hold_remaining_ns(&h, 6, T0), 0);
	cr_assert_eq(hold_remaining_ns(&h, 8, T0), 0);
}

Test(hold, page_zero_is_a_page_like_any_other)
{
	hold_note(&h, 0, T0);
	cr_assert_eq(hold_remaining_ns(&h, 0, T0 + 1), WINDOW - 1);
}

Test(hold, later_install_extends_the_window)
{
	hold_note(&h, 3, T0);
	hold_note(&h, 3, T0 + 60000);
	cr_assert_eq(hold_remaining_ns(&h, 3, T0 + WINDOW), 60000);
}

Test(hold, zero_window_holds_nothing)
{
	struct hold none;
	hold_init(&none, 0);
	hold_note(&none, 3, T0);
	cr_assert_eq(hold_remaining_ns(&none, 3, T0), 0);
	hold_destroy(&none);
}

Test(hold, page_pushed_out_of_the_ring_loses_its_hold)
{
	hold_note(&h, 1000, T0);
	for (uint64_t page = 0; page < HOLD_SLOTS - 1; page++)
		hold_note(&h, page, T0);
	cr_assert_eq(hold_remaining_ns(&h, 1000, T0), WINDOW, "still among the last HOLD_SLOTS");
	hold_note(&h, HOLD_SLOTS, T0);
	cr_assert_eq(hold_remaining_ns(&h, 1000, T0), 0);
	cr_assert_eq(hold_remaining_ns(&h, HOLD_SLOTS, T0), WINDOW);
}
