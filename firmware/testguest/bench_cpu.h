/* The guest half of `vsmp-vmm bench cpu` (tg.bench=cpu): the kernels of cpu_kernels.c on the BSP
 * alone, each between two bench marks, each followed by a "TESTGUEST bench cpu ..." line. */
#ifndef TESTGUEST_BENCH_CPU_H
#define TESTGUEST_BENCH_CPU_H

#include <stdint.h>

/* BSP only, before any AP is started; ram_bytes bounds the buffers. Exits 0. */
__attribute__((noreturn)) void bench_cpu(uint32_t iters, uint64_t ram_bytes);

#endif
