/* Sampling in turns, and medians (bench_sampling.h). A median rather than a mean: on a loaded host
 * the mean of many samples is mostly the few that waited for a CPU. The mean is there for costs
 * that come in lumps (a batch of work every few samples), which a median leaves out. */
#include "vmm/cmd/bench_sampling.h"

#include <stdlib.h>

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

double bench_median_us(uint64_t *ns, unsigned n)
{
	qsort(ns, n, sizeof(*ns), compare_u64);
	return (double)ns[n / 2] / 1000.0;
}

int bench_sample_in_turns(unsigned rounds, unsigned kinds, bench_sample_fn sample, void *ctx,
			  double *median_us, double *mean_us)
{
	if (rounds == 0)
		return -1;
	uint64_t *ns = malloc(sizeof(*ns) * rounds * kinds); /* kind k's samples at k * rounds */
	if (!ns)
		return -1;
	int rc = 0;
	for (unsigned r = 0; r < rounds && rc == 0; r++)
		for (unsigned k = 0; k < kinds && rc == 0; k++)
			rc = sample(ctx, k, r, &ns[k * rounds + r]);
	for (unsigned k = 0; k < kinds && rc == 0; k++) {
		uint64_t sum = 0;
		for (unsigned r = 0; r < rounds; r++)
			sum += ns[k * rounds + r];
		if (mean_us)
			mean_us[k] = (double)sum / rounds / 1000.0;
		median_us[k] = bench_median_us(&ns[k * rounds], rounds);
	}
	free(ns);
	return rc;
}
