/* Sampling in turns: a benchmark's kinds of measurement (a floor and what is compared with it)
 * taken one of each per round, round after round, and each kind's median reported. On this shared
 * host the cost of a wake-up or a round trip changes from second to second; sampled one kind after
 * the other, the two sides of a ratio would see different hosts. */
#ifndef VMM_CMD_BENCH_SAMPLING_H
#define VMM_CMD_BENCH_SAMPLING_H

#include <stdint.h>

/* Takes one sample of `kind` in round `round`: its cost in ns into *ns. Returns 0, or -1 to stop
 * (the sampler has logged why). */
typedef int (*bench_sample_fn)(void *ctx, unsigned kind, unsigned round, uint64_t *ns);

/* rounds rounds of kinds 0..kinds-1 in order, each kind's median into median_us[kind] and, if
 * mean_us is not NULL, its mean into mean_us[kind]. -1 if a sample failed, rounds is 0 or memory
 * ran out. */
int bench_sample_in_turns(unsigned rounds, unsigned kinds, bench_sample_fn sample, void *ctx,
			  double *median_us, double *mean_us);

/* The median of n values in ns (sorts them), in us. */
double bench_median_us(uint64_t *ns, unsigned n);

#endif
