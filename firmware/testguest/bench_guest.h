/* The guest half of `vsmp-vmm bench guest` (tg.bench=compute|stream|contention|tsc): ring-3
 * kernels on every CPU at once, each ending with "TESTGUEST bench <kernel> ..." lines and exit 0.
 */
#ifndef TESTGUEST_BENCH_GUEST_H
#define TESTGUEST_BENCH_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "firmware/testguest/options.h"

bool bench_guest_mode(enum bench_mode mode);
/* BSP, after smp_discover and before smp_start: gives each CPU its memory from the SRAT. */
void bench_guest_place(uint64_t rsdp);
/* Every started CPU: runs the kernel `mode` with size `iters`; the BSP reports and exits. */
__attribute__((noreturn)) void bench_guest_run(unsigned cpu, enum bench_mode mode, uint32_t iters);

#endif
