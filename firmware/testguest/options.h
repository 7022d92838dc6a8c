/* The guest's command-line options:
 *   tg.run=<name>[,<name>...]  workloads to run (default: all but memory)
 *   tg.bench=pio|ipi|compute|stream|contention|tsc|cpu
 *                              run a benchmark instead of the workloads
 *   tg.iters=<n>               benchmark iterations or size (default 10000)
 *   tg.mem_mib=<n>             the memory workload's working set (default 4)
 *   tg.fault=port|msr|triple|halt|halt-bsp
 *                              misbehave on purpose (the VMM must stop the guest cleanly);
 *                              halt: every CPU, once all are up, halts with interrupts off;
 *                              halt-bsp: the BSP does, before starting any AP
 * Other tokens are ignored. */
#ifndef TESTGUEST_OPTIONS_H
#define TESTGUEST_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

enum bench_mode {
	BENCH_NONE,
	BENCH_PIO,
	BENCH_IPI,
	BENCH_COMPUTE,
	BENCH_STREAM,
	BENCH_CONTENTION,
	BENCH_TSC,
	BENCH_CPU,
	BENCH_MODE_COUNT
};
enum fault_mode { FAULT_NONE, FAULT_PORT, FAULT_MSR, FAULT_TRIPLE, FAULT_HALT, FAULT_HALT_BSP };

struct options {
	uint32_t workload_mask; /* bit i selects names[i] */
	enum bench_mode bench;
	uint32_t iters;
	uint32_t mem_mib;
	enum fault_mode fault;
};

/* `names` are the workloads in table order (at most 32); without tg.run, default_mask selects.
 * Returns 0, or -1 with a message. */
int options_parse(const char *cmdline, const char *const *names, unsigned count,
		  uint32_t default_mask, struct options *opts, char *err, size_t errlen);

#endif
