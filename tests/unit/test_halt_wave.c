/* The coordinator's waves deciding that a guest on several nodes is halted for good: two
 * successive waves with every node halted and equal, unchanged totals, and nothing less. */
#include "vmm/halt_wave.h"

#include <criterion/criterion.h>

static struct halt_wave w;
static uint32_t wave;

static void setup(void)
{
	cr_assert_eq(halt_wave_init(&w, 3), 0);
}

static void teardown(void)
{
	halt_wave_free(&w);
}

static enum halt_verdict reply(unsigned node, bool halted, uint64_t sent, uint64_t received)
{
	struct halt_counts c = {halted, sent, received};
	return halt_wave_reply(&w, node, wave, &c, &wave);
}

/* Three nodes answer the current wave; the verdict of the last answer. */
static enum halt_verdict answer(bool halted1, uint64_t sent, uint64_t received)
{
	cr_assert_eq(reply(0, true, sent, 0), HALT_WAIT);
	cr_assert_eq(reply(1, halted1, 0, received), HALT_WAIT);
	return reply(2, true, 0, 0);
}

TestSuite(halt_wave, .init = setup, .fini = teardown);

Test(halt_wave, two_quiet_waves_with_equal_totals_mean_halted_for_good)
{
	cr_assert_eq(halt_wave_report(&w, &wave), HALT_START_WAVE);
	uint32_t first = wave;
	cr_assert_eq(answer(true, 4, 4), HALT_START_WAVE, "a success is confirmed at once");
	cr_assert_neq(wave, first);
	cr_assert_eq(answer(true, 4, 4), HALT_FOR_GOOD);
}

Test(halt_wave, a_running_node_fails_the_wave_until_it_reports)
{
	cr_assert_eq(halt_wave_report(&w, &wave), HALT_START_WAVE);
	cr_assert_eq(answer(false, 4, 4), HALT_WAIT);
	cr_assert_eq(halt_wave_report(&w, &wave), HALT_START_WAVE);
	cr_assert_eq(answer(true, 4, 4), HALT_START_WAVE);
	cr_assert_eq(answer(true, 4, 4), HALT_FOR_GOOD);
}

Test(halt_wave, a_message_in_flight_fails_the_wave)
{
	cr_assert_eq(halt_wave_report(&w, &wave), HALT_START_WAVE);
	cr_assert_eq(answer(true, 5, 4), HALT_WAIT);
	cr_assert_eq(halt_wave_report(&w, &wave), HALT_START_WAVE, "its receiver reports");
	cr_assert_eq(answer(true, 5, 5), HALT_START_WAVE);
	cr_assert_eq(answer(true, 5, 5), HALT_FOR_GOOD);
}

/* Between the waves a node woke, exchanged messages and halted again: the totals moved. */
Test(halt_wave, activity_between_the_waves_needs_another_pair)
{
	cr_assert_eq(halt_wave_report(&w, &wave), HALT_START_WAVE);
	cr_assert_eq(answer(true, 4, 4), HALT_START_WAVE);
	cr_assert_eq(answer(true, 6, 6), HALT_START_WAVE);
	cr_assert_eq(answer(true, 6, 6), HALT_FOR_GOOD);
}

Test(halt_wave, a_report_during_a_failing_wave_starts_another)
{
	cr_assert_eq(halt_wave_report(&w, &wave), HALT_START_WAVE);
	uint32_t first = wave;
	cr_assert_eq(halt_wave_report(&w, &wave), HALT_WAIT, "one wave at a time");
	cr_assert_eq(wave, first);
	cr_assert_eq(answer(false, 1, 1), HALT_START_WAVE);
	cr_assert_neq(wave, first);
}

Test(halt_wave, stale_repeated_and_foreign_replies_are_ignored)
{
	struct halt_counts quiet = {true, 0, 0};
	uint32_t out;
	cr_assert_eq(halt_wave_reply(&w, 0, 1, &quiet, &out), HALT_WAIT, "no wave yet");
	cr_assert_eq(halt_wave_report(&w, &wave), HALT_START_WAVE);
	cr_assert_eq(halt_wave_reply(&w, 0, wave + 1, &quiet, &out), HALT_WAIT);
	cr_assert_eq(halt_wave_reply(&w, 3, wave, &quiet, &out), HALT_WAIT);
	cr_assert_eq(reply(0, true, 0, 0), HALT_WAIT);
	cr_assert_eq(reply(0, true, 0, 0), HALT_WAIT, "node 0 answered already");
	cr_assert_eq(reply(1, true, 0, 0), HALT_WAIT);
	cr_assert_eq(reply(2, true, 0, 0), HALT_START_WAVE, "the third distinct node completes it");
}
