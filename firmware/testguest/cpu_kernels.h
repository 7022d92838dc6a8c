/* The kernels of `vsmp-vmm bench cpu`: an integer, a memory and an SSE2 kernel that the test guest
 * runs on the VMM's interpreter (tg.bench=cpu) and the VMM runs natively, to compare the two.
 * cpu_kernels.c is compiled into both, and every timed loop is inline assembly, so both sides
 * execute the same instructions whatever the two compilers' flags (the guest's are freestanding
 * and -mgeneral-regs-only). Each loop iteration retires a fixed number of instructions, given
 * below, whichever way its branches go: the guest's instructions per second follow from the
 * iteration count and the time. Each kernel returns a checksum of all it computed; the guest's
 * must equal the native one. */
#ifndef TESTGUEST_CPU_KERNELS_H
#define TESTGUEST_CPU_KERNELS_H

#include <stdint.h>

enum cpu_kernel { CPU_KERNEL_INT, CPU_KERNEL_MEM, CPU_KERNEL_SSE, CPU_KERNEL_COUNT };

/* The guest runs each kernel this many times (its buffer refilled before each run) and the
 * fastest run counts: a shared host slows single runs, the guest's more as they last longer. */
#define CPU_KERNEL_RUNS 3

/* The bench-mark port values (0x502) the guest writes around each run of kernel k; the VMM
 * timestamps them. */
#define CPU_KERNEL_MARK_START(k) (1u + 2u * (unsigned)(k))
#define CPU_KERNEL_MARK_END(k)	 (2u + 2u * (unsigned)(k))

/* Instructions one iteration retires (the loop bodies in cpu_kernels.c). */
#define CPU_KERNEL_INT_INSNS_PER_ITER 16
#define CPU_KERNEL_MEM_INSNS_PER_ITER 21 /* a 32-byte copy (12) and a random access (9) */
#define CPU_KERNEL_SSE_INSNS_PER_ITER 14

/* The memory kernel's buffer: larger than the host's L2, 8-byte aligned. */
#define CPU_KERNEL_MEM_BYTES (16u << 20)
/* The SSE kernel's buffer: in L1, 16-byte aligned (movdqa). */
#define CPU_KERNEL_SSE_BYTES 4096u

/* xorshift64 and a multiply-add chain with a data-dependent branch, all in registers. */
uint64_t cpu_kernel_int(uint64_t iters);

/* Fills buf (CPU_KERNEL_MEM_BYTES) with its starting contents; not part of the timed work. */
void cpu_kernel_mem_init(uint64_t *buf);
/* iters 32-byte copies from one half of buf to the other (a pass copies a whole half, the next
 * copies back), then iters read-modify-writes of LCG-chosen words anywhere in buf. */
uint64_t cpu_kernel_mem(uint64_t *buf, uint64_t iters);

/* Fills buf (CPU_KERNEL_SSE_BYTES) with its starting contents; not part of the timed work. */
void cpu_kernel_sse_init(uint64_t *buf);
/* iters rounds of movdqa/paddd/pmuludq/pxor/pshufd/paddq over 32 bytes of buf at a time,
 * storing back. The guest must have enabled SSE (CR4.OSFXSR, CR0.EM clear). */
uint64_t cpu_kernel_sse(uint64_t *buf, uint64_t iters);

#endif
