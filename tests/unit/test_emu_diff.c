/* The software vCPU judged against the host CPU: for every instruction class of the differential
 * harness (tests/diff/), a few thousand generated cases run natively and on the interpreter, and
 * their final states must agree wherever the SDM defines them. Each class runs once with a fixed
 * seed (the same cases every time) and once with a seed from the clock (new cases every run,
 * printed so a failure can be replayed with `fuzz-cpu --seed N --class C`). Instructions the
 * interpreter has no handler for are counted and reported, not failed. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/diff/diff.h"

#define CASES_PER_SEED 3000
#define FIXED_SEED     20240601

static long run_class(const char *name, uint64_t seed, struct diff_class_stats *stats)
{
	int cls = diff_class_find(name);
	cr_assert_geq(cls, 0, "no class %s", name);
	struct diff_run_opts o = {
	    .seed = seed,
	    .cases = CASES_PER_SEED,
	    .cls = cls,
	    .only = -1,
	    .report = 3,
	    .keep_going = true,
	    .quiet = true,
	    .out = stderr,
	};
	char err[256] = "";
	long failures = diff_run(&o, stats, err, sizeof(err));
	cr_assert_geq(failures, 0, "harness: %s", err);
	const struct diff_class_stats *s = &stats[cls];
	fprintf(stderr,
		"emu_diff %s seed %" PRIu64 ": %" PRIu64 " cases, %" PRIu64 " pass, %" PRIu64
		" mismatch, %" PRIu64 " not implemented, %" PRIu64 " unsupported, %" PRIu64
		" error\n",
		name, seed, s->run, s->n[DIFF_PASS], s->n[DIFF_MISMATCH],
		s->n[DIFF_NOT_IMPLEMENTED], s->n[DIFF_UNSUPPORTED], s->n[DIFF_ERROR]);
	return failures;
}

static void check_class(const char *name)
{
	struct diff_class_stats *stats = calloc(diff_class_count(), sizeof(*stats));
	cr_assert_not_null(stats);
	uint64_t seeds[2] = {FIXED_SEED, (uint64_t)time(NULL)};
	long failures[2];
	for (unsigned k = 0; k < 2; k++)
		failures[k] = run_class(name, seeds[k], stats);
	free(stats);
	cr_expect_eq(failures[0], 0,
		     "%s: %ld cases differ from the host (fuzz-cpu --seed %" PRIu64
		     " --class %s --keep-going)",
		     name, failures[0], seeds[0], name);
	cr_expect_eq(failures[1], 0,
		     "%s: %ld cases differ from the host (fuzz-cpu --seed %" PRIu64
		     " --class %s --keep-going)",
		     name, failures[1], seeds[1], name);
}

Test(emu_diff, alu)
{
	check_class("alu");
}

Test(emu_diff, shift)
{
	check_class("shift");
}

Test(emu_diff, muldiv)
{
	check_class("muldiv");
}

Test(emu_diff, bits)
{
	check_class("bits");
}

Test(emu_diff, cond)
{
	check_class("cond");
}

Test(emu_diff, move)
{
	check_class("move");
}

Test(emu_diff, atomic)
{
	check_class("atomic");
}

Test(emu_diff, stack)
{
	check_class("stack");
}

Test(emu_diff, string)
{
	check_class("string");
}

Test(emu_diff, sse_move)
{
	check_class("sse_move");
}

Test(emu_diff, sse_int)
{
	check_class("sse_int");
}

Test(emu_diff, sse_float)
{
	check_class("sse_float");
}

Test(emu_diff, sse_cvt)
{
	check_class("sse_cvt");
}

Test(emu_diff, x87)
{
	check_class("x87");
}

Test(emu_diff, pair)
{
	check_class("pair");
}

Test(emu_diff, dead_flags)
{
	check_class("dead_flags");
}
