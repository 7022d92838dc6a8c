/* Parses the space-separated command line into struct options. Tokens are handled as
 * (pointer, length) slices of the original string, so nothing is copied or modified; a malformed
 * value of one of our own keys is an error (a typo must not silently run the wrong test). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/testguest/console.h"
#include "firmware/testguest/lib.h"
#include "firmware/testguest/options.h"

#define DEFAULT_ITERS	10000
#define MAX_ITERS	1000000000u
#define DEFAULT_MEM_MIB 4
#define MAX_MEM_MIB	3072 /* below the MMIO hole, which is all the identity map covers */

struct slice {
	const char *p;
	size_t len;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool equals(struct slice s, const char *word)
{
	size_t i = 0;
	for (; i < s.len; i++)
		if (word[i] != s.p[i]) /* also stops at the end of `word` */
			return false;
	return word[i] == 0;
}

/* If `token` starts with `key`, the rest of it. */
static bool value_of(struct slice token, const char *key, struct slice *value)
{
	size_t n = 0;
	while (key[n])
		n++;
	if (token.len < n || memcmp(token.p, key, n) != 0)
		return false;
	*value = (struct slice){token.p + n, token.len - n};
	return true;
}

/* A bounded NUL-terminated copy of `s`, for error messages. */
static const char *shown(struct slice s, char *buf, size_t cap)
{
	size_t n = s.len < cap - 1 ? s.len : cap - 1;
	memcpy(buf, s.p, n);
	buf[n] = 0;
	return buf;
}

static int parse_run(struct slice list, const char *const *names, unsigned count, uint32_t *mask,
		     char *err, size_t errlen)
{
	char buf[32];
	*mask = 0;
	size_t start = 0;
	for (size_t i = 0; i <= list.len; i++) {
		if (i < list.len && list.p[i] != ',')
			continue;
		struct slice name = {list.p + start, i - start};
		unsigned w = 0;
		while (w < count && !equals(name, names[w]))
			w++;
		if (w == count) {
			snformat(err, errlen, "tg.run: unknown workload '%s'",
				 shown(name, buf, sizeof(buf)));
			return -1;
		}
		*mask |= 1u << w;
		start = i + 1;
	}
	return 0;
}

/* Indexed by enum bench_mode; BENCH_NONE has no name. */
static const char *const bench_names[BENCH_MODE_COUNT] = {
    [BENCH_PIO] = "pio",
    [BENCH_IPI] = "ipi",
    [BENCH_COMPUTE] = "compute",
    [BENCH_STREAM] = "stream",
    [BENCH_CONTENTION] = "contention",
    [BENCH_TSC] = "tsc",
    [BENCH_CPU] = "cpu",
};

static int parse_bench(struct slice value, enum bench_mode *bench, char *err, size_t errlen)
{
	char buf[32];
	for (unsigned mode = BENCH_NONE + 1; mode < BENCH_MODE_COUNT; mode++) {
		if (equals(value, bench_names[mode])) {
			*bench = (enum bench_mode)mode;
			return 0;
		}
	}
	snformat(err, errlen,
		 "tg.bench: '%s' is not pio, ipi, compute, stream, contention, tsc or cpu",
		 shown(value, buf, sizeof(buf)));
	return -1;
}

static int parse_fault(struct slice value, enum fault_mode *fault, char *err, size_t errlen)
{
	char buf[32];
	if (equals(value, "port"))
		*fault = FAULT_PORT;
	else if (equals(value, "msr"))
		*fault = FAULT_MSR;
	else if (equals(value, "triple"))
		*fault = FAULT_TRIPLE;
	else if (equals(value, "halt"))
		*fault = FAULT_HALT;
	else if (equals(value, "halt-bsp"))
		*fault = FAULT_HALT_BSP;
	else {
		snformat(err, errlen, "tg.fault: '%s' is not port, msr, triple, halt or halt-bsp",
			 shown(value, buf, sizeof(buf)));
		return -1;
	}
	return 0;
}

/* A decimal number from 1 to max, for the option `key`. */
static int parse_number(struct slice value, const char *key, uint32_t max, uint32_t *out, char *err,
			size_t errlen)
{
	uint64_t n = 0;
	bool ok = value.len > 0;
	for (size_t i = 0; ok && i < value.len; i++) {
		ok = value.p[i] >= '0' && value.p[i] <= '9';
		n = n * 10 + (uint64_t)(value.p[i] - '0');
		ok = ok && n <= max;
	}
	if (!ok || n == 0) {
		snformat(err, errlen, "%s: expected a number from 1 to %u", key, max);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

static int parse_token(struct slice token, const char *const *names, unsigned count,
		       struct options *opts, char *err, size_t errlen)
{
	struct slice value;
	if (value_of(token, "tg.run=", &value))
		return parse_run(value, names, count, &opts->workload_mask, err, errlen);
	if (value_of(token, "tg.bench=", &value))
		return parse_bench(value, &opts->bench, err, errlen);
	if (value_of(token, "tg.fault=", &value))
		return parse_fault(value, &opts->fault, err, errlen);
	if (value_of(token, "tg.iters=", &value))
		return parse_number(value, "tg.iters", MAX_ITERS, &opts->iters, err, errlen);
	if (value_of(token, "tg.mem_mib=", &value))
		return parse_number(value, "tg.mem_mib", MAX_MEM_MIB, &opts->mem_mib, err, errlen);
	return 0;
}

int options_parse(const char *cmdline, const char *const *names, unsigned count,
		  uint32_t default_mask, struct options *opts, char *err, size_t errlen)
{
	*opts = (struct options){
	    .workload_mask = default_mask,
	    .bench = BENCH_NONE,
	    .iters = DEFAULT_ITERS,
	    .mem_mib = DEFAULT_MEM_MIB,
	    .fault = FAULT_NONE,
	};
	const char *p = cmdline;
	for (;;) {
		while (is_space(*p))
			p++;
		if (!*p)
			return 0;
		struct slice token = {p, 0};
		while (p[token.len] && !is_space(p[token.len]))
			token.len++;
		if (parse_token(token, names, count, opts, err, errlen) < 0)
			return -1;
		p += token.len;
	}
}
