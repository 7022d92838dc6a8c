/* The memtest workloads. Shared variables each live on their own page, so every access that
 * matters is a coherence transaction; results that need two threads' views are published into
 * the region after the timed loop and checked after a barrier.
 *
 * The readers of mp and corr must overlap their writer, or they test nothing: a writer that
 * holds its pages stores thousands of values in the time one page takes to reach a reader, so
 * a reader left alone sees only the final value. So each reader publishes the latest value it
 * saw (on a page of its own), and the writer, every PACE_STEPS of its iterations, waits until
 * every reader has seen a value at most one step behind. A reader counts the values it saw
 * strictly between the initial and the final one; a run in which one saw none is reported as
 * not exercised, not as ok.
 *
 * IRIW needs a barrier per round (tens of ms across nodes), so its rounds stop once it has used
 * IRIW_TIME_SHARE of the time left before the deadline: its role 0 thread decides, once, the
 * last round, and everyone reads that decision after the next barrier.
 *
 * Region layout (pages): 0 barrier | 1-2 mp data/flag | 3-4 sb x/y | 5-6 iriw x/y | 7 corr word |
 * 8 agreed seed | 9 iriw last round | 16-31 sb results | 32-47 iriw results | 48 stress counters |
 * 49 stress increments per thread | 64-191 stress words | 192-319 stress final values |
 * 320-511 the latest value each thread saw as a litmus reader (a page each, shared past 192). */
#include "vmm/cmd/memtest_workloads.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE_BARRIER	  0
#define PAGE_MP_DATA	  1
#define PAGE_MP_FLAG	  2
#define PAGE_SB_X	  3
#define PAGE_SB_Y	  4
#define PAGE_IRIW_X	  5
#define PAGE_IRIW_Y	  6
#define PAGE_CORR	  7
#define PAGE_SEED	  8
#define PAGE_IRIW_LAST	  9
#define PAGE_SB_RESULTS	  16 /* two arrays of u32, 8 pages each */
#define PAGE_IRIW_RESULTS 32 /* four arrays of u32, 4 pages each */
#define PAGE_COUNTERS	  48
#define PAGE_INCREMENTS	  49
#define PAGE_WORDS	  64
#define PAGE_FINALS	  192
#define PAGE_PROGRESS	  320
#define STRESS_WORDS	  (128 * MEMTEST_PAGE / 8)
#define STRESS_COUNTERS	  8
#define SB_MAX_ITERS	  (8 * MEMTEST_PAGE / 4)
#define IRIW_MAX_ITERS	  (4 * MEMTEST_PAGE / 4)
#define SEQ_BITS	  48
#define PACE_STEPS	  16
#define IRIW_TIME_SHARE	  4 /* a quarter */

static volatile uint64_t *word_at(const struct memtest_env *env, unsigned page, size_t index)
{
	return (volatile uint64_t *)(env->region + (size_t)page * MEMTEST_PAGE) + index;
}

static volatile uint32_t *u32_at(const struct memtest_env *env, unsigned page, size_t index)
{
	return (volatile uint32_t *)(env->region + (size_t)page * MEMTEST_PAGE) + index;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Called on every turn of a spin loop: every 1024th also yields the CPU, so that on a host with
 * fewer cores than busy threads the engine's threads (serving the pages this loop waits for) and
 * the cluster's (whose heartbeats must go out every 200 ms) get to run. */
static bool expired(const struct memtest_env *env, unsigned *spins)
{
	if ((++*spins & 1023) != 0)
		return false;
	sched_yield();
	return now_ns() > env->deadline_ns;
}

static unsigned total_threads(const struct memtest_env *env)
{
	return env->nodes * env->threads_per_node;
}

/* Role k of a test, spread over the nodes first: roles 0..nodes-1 are on different nodes. */
static unsigned role_thread(const struct memtest_env *env, unsigned k)
{
	return (k % env->nodes) * env->threads_per_node + (k / env->nodes) % env->threads_per_node;
}

bool memtest_barrier(const struct memtest_env *env, unsigned thread, uint64_t *sense)
{
	volatile uint64_t *count = word_at(env, PAGE_BARRIER, 0);
	volatile uint64_t *global_sense = word_at(env, PAGE_BARRIER, 1);
	*sense = !*sense;
	if (__atomic_add_fetch(count, 1, __ATOMIC_SEQ_CST) == total_threads(env)) {
		__atomic_store_n(count, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(global_sense, *sense, __ATOMIC_SEQ_CST);
		return true;
	}
	unsigned spins = 0;
	while (__atomic_load_n(global_sense, __ATOMIC_SEQ_CST) != *sense)
		if (expired(env, &spins))
			return false;
	return true;
}

bool memtest_agree_seed(struct memtest_env *env, unsigned thread, uint64_t *sense)
{
	volatile uint64_t *agreed = word_at(env, PAGE_SEED, 0);
	if (thread == 0)
		__atomic_store_n(agreed, env->seed, __ATOMIC_RELEASE);
	if (!memtest_barrier(env, thread, sense))
		return false;
	env->seed = __atomic_load_n(agreed, __ATOMIC_ACQUIRE);
	return true;
}

/* The latest value `thread` saw as a litmus reader: one page per thread (up to 192 of them). */
static volatile uint64_t *progress_of(const struct memtest_env *env, unsigned thread)
{
	return word_at(env, PAGE_PROGRESS + thread % (MEMTEST_PAGES - PAGE_PROGRESS),
		       thread / (MEMTEST_PAGES - PAGE_PROGRESS));
}

/* The litmus writer's pacing: waits until every reader (only `reader`, or every thread but
 * `writer` when reader is UINT32_MAX) has seen at least `value`. False past the deadline. */
static bool await_readers(const struct memtest_env *env, unsigned writer, unsigned reader,
			  uint64_t value)
{
	unsigned spins = 0;
	for (unsigned t = 0; t < total_threads(env); t++) {
		if (t == writer || (reader != UINT32_MAX && t != reader))
			continue;
		while (__atomic_load_n(progress_of(env, t), __ATOMIC_ACQUIRE) < value)
			if (expired(env, &spins))
				return false;
	}
	return true;
}

/* Stores 1..iters through `store`, pausing every PACE_STEPS-th of the way for the readers. */
static bool paced_writes(const struct memtest_env *env, unsigned writer, unsigned reader,
			 void (*store)(const struct memtest_env *env, uint64_t value))
{
	uint64_t step = env->iters / PACE_STEPS ? env->iters / PACE_STEPS : 1;
	for (uint64_t i = 1; i <= env->iters; i++) {
		store(env, i);
		if (i % step == 0 && i < env->iters &&
		    !await_readers(env, writer, reader, i - step))
			return false;
	}
	return true;
}

/* What one litmus reader saw of a counter the writer takes from 0 to iters. */
struct reading {
	uint64_t reads, last, midway; /* midway: changes seen to a value short of the final one */
};

static void reader_saw(const struct memtest_env *env, unsigned thread, struct reading *r,
		       uint64_t v)
{
	r->reads++;
	if (v > r->last) {
		r->midway += v < env->iters;
		r->last = v;
		__atomic_store_n(progress_of(env, thread), v, __ATOMIC_RELEASE);
	}
}

/* A reader's verdict: failed if it saw something forbidden or not the final value; else
 * exercised only if it saw the writer midway. Its progress goes back to 0 for the next test
 * (its writer is done with it: the final value is stored after the last pause). */
static enum memtest_result reader_result(const struct memtest_env *env, unsigned thread,
					 const struct reading *r, uint64_t forbidden)
{
	__atomic_store_n(progress_of(env, thread), 0, __ATOMIC_RELEASE);
	if (forbidden || r->last != env->iters)
		return MEMTEST_FAILED;
	return r->midway ? MEMTEST_OK : MEMTEST_NOT_EXERCISED;
}

static void mp_store(const struct memtest_env *env, uint64_t i)
{
	__atomic_store_n(word_at(env, PAGE_MP_DATA, 0), i, __ATOMIC_RELAXED);
	__atomic_store_n(word_at(env, PAGE_MP_FLAG, 0), i, __ATOMIC_RELEASE);
}

/* Message passing: the writer stores data then flag; a reader that sees flag = i must see data
 * >= i. */
static enum memtest_result memtest_mp(const struct memtest_env *env, unsigned thread,
				      uint64_t *sense, char *note, unsigned len)
{
	volatile uint64_t *data = word_at(env, PAGE_MP_DATA, 0),
			  *flag = word_at(env, PAGE_MP_FLAG, 0);
	unsigned writer = role_thread(env, 0), reader = role_thread(env, 1);
	if (thread == writer) {
		bool done = paced_writes(env, writer, reader, mp_store);
		snprintf(note, len, "role=writer messages=%u", env->iters);
		return done ? MEMTEST_OK : MEMTEST_FAILED;
	}
	if (thread != reader)
		return MEMTEST_OK;
	struct reading r = {0};
	uint64_t stale = 0;
	unsigned spins = 0;
	while (r.last < env->iters && !expired(env, &spins)) {
		uint64_t seen = __atomic_load_n(flag, __ATOMIC_ACQUIRE);
		stale += __atomic_load_n(data, __ATOMIC_RELAXED) < seen;
		reader_saw(env, thread, &r, seen);
	}
	snprintf(note, len, "role=reader reads=%llu midway=%llu last_flag=%llu stale_data=%llu",
		 (unsigned long long)r.reads, (unsigned long long)r.midway,
		 (unsigned long long)r.last, (unsigned long long)stale);
	return reader_result(env, thread, &r, stale);
}

static unsigned sb_forbidden(const struct memtest_env *env, unsigned iters)
{
	unsigned forbidden = 0;
	for (unsigned i = 1; i <= iters; i++)
		forbidden += *u32_at(env, PAGE_SB_RESULTS, i - 1) < i &&
			     *u32_at(env, PAGE_SB_RESULTS + 8, i - 1) < i;
	return forbidden;
}

/* Store buffering with fences: x = i; mfence; r1 = y  ||  y = i; mfence; r2 = x. Both r1 < i
 * and r2 < i in one iteration is forbidden. The loads are kept locally during the loop (so the
 * loop is only the race) and published for the check after a barrier. */
static enum memtest_result memtest_sb(const struct memtest_env *env, unsigned thread,
				      uint64_t *sense, char *note, unsigned len)
{
	unsigned a = role_thread(env, 0), b = role_thread(env, 1);
	unsigned iters = env->iters < SB_MAX_ITERS ? env->iters : SB_MAX_ITERS;
	if (thread == a || thread == b) {
		volatile uint64_t *mine = word_at(env, thread == a ? PAGE_SB_X : PAGE_SB_Y, 0);
		volatile uint64_t *other = word_at(env, thread == a ? PAGE_SB_Y : PAGE_SB_X, 0);
		uint32_t *seen = malloc(iters * sizeof(*seen));
		if (!seen)
			return MEMTEST_FAILED;
		for (unsigned i = 1; i <= iters; i++) {
			__atomic_store_n(mine, i, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			seen[i - 1] = (uint32_t)__atomic_load_n(other, __ATOMIC_RELAXED);
		}
		for (unsigned i = 0; i < iters; i++)
			*u32_at(env, PAGE_SB_RESULTS + (thread == a ? 0 : 8), i) = seen[i];
		free(seen);
	}
	if (!memtest_barrier(env, thread, sense))
		return MEMTEST_FAILED;
	if (thread != a)
		return MEMTEST_OK;
	unsigned forbidden = sb_forbidden(env, iters);
	snprintf(note, len, "iterations=%u forbidden_r1=r2=old:%u", iters, forbidden);
	return forbidden == 0 ? MEMTEST_OK : MEMTEST_FAILED;
}

/* One IRIW round's accesses: role 0 and 1 write x and y, roles 2 and 3 read them in opposite
 * orders and record what they saw. */
static void iriw_round(const struct memtest_env *env, unsigned role, uint32_t i)
{
	volatile uint64_t *x = word_at(env, PAGE_IRIW_X, 0), *y = word_at(env, PAGE_IRIW_Y, 0);
	if (role == 0)
		__atomic_store_n(x, i, __ATOMIC_RELAXED);
	if (role == 1)
		__atomic_store_n(y, i, __ATOMIC_RELAXED);
	if (role == 2 || role == 3) {
		volatile uint64_t *first = role == 2 ? x : y, *second = role == 2 ? y : x;
		uint32_t f = (uint32_t)__atomic_load_n(first, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		uint32_t s = (uint32_t)__atomic_load_n(second, __ATOMIC_RELAXED);
		unsigned base = PAGE_IRIW_RESULTS + (role - 2) * 8;
		*u32_at(env, base, i - 1) = f;
		*u32_at(env, base + 4, i - 1) = s;
	}
}

static unsigned iriw_forbidden(const struct memtest_env *env, unsigned rounds)
{
	unsigned forbidden = 0;
	for (unsigned i = 1; i <= rounds; i++) {
		uint32_t r1x = *u32_at(env, PAGE_IRIW_RESULTS, i - 1);
		uint32_t r1y = *u32_at(env, PAGE_IRIW_RESULTS + 4, i - 1);
		uint32_t r2y = *u32_at(env, PAGE_IRIW_RESULTS + 8, i - 1);
		uint32_t r2x = *u32_at(env, PAGE_IRIW_RESULTS + 12, i - 1);
		forbidden += r1x == i && r1y < i && r2y == i && r2x < i;
	}
	return forbidden;
}

/* IRIW: two writers (x = i, y = i), two readers reading in opposite orders with a fence; the
 * readers disagreeing on the order of the writes is forbidden. A barrier starts each round; the
 * rounds end early once the time share is used (the layout comment says how all agree). */
static enum memtest_result memtest_iriw(const struct memtest_env *env, unsigned thread,
					uint64_t *sense, char *note, unsigned len)
{
	unsigned role = 4;
	for (unsigned k = 0; k < 4; k++)
		if (thread == role_thread(env, k))
			role = k;
	unsigned planned = env->iters / 10 ? env->iters / 10 : 1;
	if (planned > IRIW_MAX_ITERS)
		planned = IRIW_MAX_ITERS;
	volatile uint64_t *last = word_at(env, PAGE_IRIW_LAST, 0);
	uint64_t start = now_ns();
	uint64_t budget_end =
	    start + (env->deadline_ns > start ? (env->deadline_ns - start) / IRIW_TIME_SHARE : 0);
	unsigned rounds = planned;
	for (unsigned i = 1; i <= planned; i++) {
		if (!memtest_barrier(env, thread, sense))
			return MEMTEST_FAILED;
		uint64_t agreed = __atomic_load_n(last, __ATOMIC_ACQUIRE);
		if (agreed && i > agreed) {
			rounds = (unsigned)agreed;
			break;
		}
		iriw_round(env, role, i);
		if (role == 0 && !agreed && i < planned && now_ns() >= budget_end)
			__atomic_store_n(last, i, __ATOMIC_RELEASE);
	}
	if (!memtest_barrier(env, thread, sense))
		return MEMTEST_FAILED;
	if (role != 2)
		return MEMTEST_OK;
	unsigned forbidden = iriw_forbidden(env, rounds);
	snprintf(note, len, "rounds=%u of %u forbidden_disagreement=%u", rounds, planned,
		 forbidden);
	return forbidden == 0 ? MEMTEST_OK : MEMTEST_FAILED;
}

static void corr_store(const struct memtest_env *env, uint64_t i)
{
	__atomic_store_n(word_at(env, PAGE_CORR, 0), i, __ATOMIC_RELAXED);
}

/* Coherence of one word: one writer counts up; no reader may ever see it go down. */
static enum memtest_result memtest_corr(const struct memtest_env *env, unsigned thread,
					uint64_t *sense, char *note, unsigned len)
{
	volatile uint64_t *w = word_at(env, PAGE_CORR, 0);
	unsigned writer = role_thread(env, 0);
	if (thread == writer)
		return paced_writes(env, writer, UINT32_MAX, corr_store) ? MEMTEST_OK
									 : MEMTEST_FAILED;
	struct reading r = {0};
	uint64_t backwards = 0;
	unsigned spins = 0;
	while (r.last < env->iters && !expired(env, &spins)) {
		uint64_t v = __atomic_load_n(w, __ATOMIC_RELAXED);
		backwards += v < r.last;
		reader_saw(env, thread, &r, v);
	}
	snprintf(note, len, "reads=%llu midway=%llu last=%llu went_backwards=%llu",
		 (unsigned long long)r.reads, (unsigned long long)r.midway,
		 (unsigned long long)r.last, (unsigned long long)backwards);
	return reader_result(env, thread, &r, backwards);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct stress_state {
	uint64_t *last_seen; /* per word, this thread's latest observation */
	uint64_t *written;   /* per word, what this thread last wrote (its own words) */
	uint64_t increments, reads, writes, bad;
};

/* Both ways to reach a page race on the same pages: see memtest_env.fetch. */
static void stress_fetch(const struct memtest_env *env, unsigned thread, unsigned page, size_t word,
			 bool write)
{
	if (env->fetch && thread % 2)
		env->fetch(env->fetch_ctx, (uint64_t)page * MEMTEST_PAGE + word * sizeof(uint64_t),
			   write);
}

static void stress_op(const struct memtest_env *env, unsigned thread, struct stress_state *st,
		      uint64_t *rng)
{
	unsigned total = total_threads(env);
	uint64_t r = xorshift(rng);
	size_t word = (size_t)(r >> 8) % STRESS_WORDS;
	unsigned op = (unsigned)(r % 10);
	if (op < 4) {
		word -= word % total;
		word += thread;
		if (word >= STRESS_WORDS)
			return;
		uint64_t value = ((uint64_t)thread << SEQ_BITS) |
				 ((st->written[word] & ((1ULL << SEQ_BITS) - 1)) + 1);
		stress_fetch(env, thread, PAGE_WORDS, word, true);
		__atomic_store_n(word_at(env, PAGE_WORDS, word), value, __ATOMIC_RELAXED);
		st->written[word] = value;
		st->writes++;
	} else if (op < 9) {
		stress_fetch(env, thread, PAGE_WORDS, word, false);
		uint64_t v = __atomic_load_n(word_at(env, PAGE_WORDS, word), __ATOMIC_RELAXED);
		bool owner_ok = v == 0 || (v >> SEQ_BITS) == word % total;
		bool monotonic = v >= st->last_seen[word];
		st->bad += !owner_ok || !monotonic;
		st->last_seen[word] = v > st->last_seen[word] ? v : st->last_seen[word];
		st->reads++;
	} else {
		stress_fetch(env, thread, PAGE_COUNTERS, r % STRESS_COUNTERS, true);
		__atomic_add_fetch(word_at(env, PAGE_COUNTERS, r % STRESS_COUNTERS), 1,
				   __ATOMIC_SEQ_CST);
		st->increments++;
	}
}

/* Final state: every word holds what its owner last wrote; the counters hold every increment. */
static uint64_t stress_check_final(const struct memtest_env *env, unsigned thread)
{
	unsigned total = total_threads(env);
	uint64_t bad = 0;
	for (size_t w = 0; w < STRESS_WORDS; w++)
		if ((w / 7) % total == thread)
			bad += *word_at(env, PAGE_WORDS, w) != *word_at(env, PAGE_FINALS, w);
	if (thread == 0) {
		uint64_t sum = 0, expected = 0;
		for (unsigned c = 0; c < STRESS_COUNTERS; c++)
			sum += *word_at(env, PAGE_COUNTERS, c);
		for (unsigned t = 0; t < total; t++)
			expected += *word_at(env, PAGE_INCREMENTS, t);
		bad += sum != expected;
	}
	return bad;
}

static enum memtest_result memtest_stress(const struct memtest_env *env, unsigned thread,
					  uint64_t *sense, char *note, unsigned len)
{
	struct stress_state st = {.last_seen = calloc(STRESS_WORDS, sizeof(uint64_t)),
				  .written = calloc(STRESS_WORDS, sizeof(uint64_t))};
	if (!st.last_seen || !st.written) {
		free(st.last_seen);
		free(st.written);
		return MEMTEST_FAILED;
	}
	uint64_t rng = env->seed * 0x9e3779b97f4a7c15ULL + thread + 1;
	for (unsigned i = 0; i < env->iters; i++)
		stress_op(env, thread, &st, &rng);
	for (size_t w = thread; w < STRESS_WORDS; w += total_threads(env))
		*word_at(env, PAGE_FINALS, w) = st.written[w];
	*word_at(env, PAGE_INCREMENTS, thread) = st.increments;
	bool synced = memtest_barrier(env, thread, sense);
	uint64_t final_bad = synced ? stress_check_final(env, thread) : 0;
	snprintf(note, len,
		 "seed=%llu ops=%u reads=%llu writes=%llu increments=%llu bad_reads=%llu "
		 "bad_final=%llu",
		 (unsigned long long)env->seed, env->iters, (unsigned long long)st.reads,
		 (unsigned long long)st.writes, (unsigned long long)st.increments,
		 (unsigned long long)st.bad, (unsigned long long)final_bad);
	free(st.last_seen);
	free(st.written);
	return synced && st.bad == 0 && final_bad == 0 ? MEMTEST_OK : MEMTEST_FAILED;
}

const struct memtest_workload memtest_workloads[] = {
    {"mp", memtest_mp, 2},     {"sb", memtest_sb, 2},	      {"iriw", memtest_iriw, 4},
    {"corr", memtest_corr, 2}, {"stress", memtest_stress, 1},
};
const unsigned memtest_workload_count = sizeof(memtest_workloads) / sizeof(memtest_workloads[0]);
