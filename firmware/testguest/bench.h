/* Benchmark modes (tg.bench=...): instead of the workloads, a timed loop between two marks on the
 * VMM's bench port (value 1 before, 2 after), then a clean exit. */
#ifndef TESTGUEST_BENCH_H
#define TESTGUEST_BENCH_H

#include <stdint.h>

/* BSP only, before any AP is started: `iters` writes to the null port. */
__attribute__((noreturn)) void bench_pio(uint32_t iters);
/* CPUs 0 and 1 (both started): `iters` IPI round trips between them. */
__attribute__((noreturn)) void bench_ipi(unsigned cpu, uint32_t iters);

#endif
