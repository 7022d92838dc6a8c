/* The kernels of `vsmp-vmm bench cpu` (cpu_kernels.h), built into the test guest and into the VMM.
 * Freestanding C: no library calls, only <stdint.h>. The timed loops are inline assembly with a
 * fixed instruction count per iteration on every path (the counts are in cpu_kernels.h and in the
 * comments below); what surrounds them (buffer fills, the copy's pass loop, folding results into
 * a checksum) is plain C and untimed or negligible, and computes the same values on both sides
 * however each compiler translates it. */
#include <stdint.h>

#include "firmware/testguest/cpu_kernels.h"

#define SEED	    0x243f6a8885a308d3ull /* pi's fraction: any nonzero start will do */
#define GOLDEN	    0x9e3779b97f4a7c15ull
#define LCG_MUL	    6364136223846793005ull /* Knuth's MMIX LCG */
#define LCG_ADD	    1442695040888963407ull
#define MEM_WORDS   (CPU_KERNEL_MEM_BYTES / 8)
#define INDEX_SHIFT 43 /* the top 21 bits of the LCG state index the buffer's 2^21 words */
_Static_assert(MEM_WORDS == 1ull << (64 - INDEX_SHIFT), "the random index covers the buffer");
/* The SSE kernel steps 32 bytes at a time and wraps around its buffer. */
#define SSE_OFFSET_MASK (CPU_KERNEL_SSE_BYTES - 32)

/* The guest is built with -mgeneral-regs-only, where GCC refuses xmm clobbers; it also never
 * uses those registers itself, so nothing needs telling there. The VMM's compiler does. */
#ifdef __SSE2__
#define XMM_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
#else
#define XMM_CLOBBERS
#endif

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= GOLDEN;
	return x ^ x >> 29;
}

uint64_t cpu_kernel_int(uint64_t iters)
{
	uint64_t x = SEED, y = 1, acc = 0, n = iters, t;
	if (iters == 0)
		return 0;
	/* 16 instructions per iteration: xorshift64 (9), y = y * GOLDEN + x (2), then a branch
	 * taken when x's low byte is zero (1 in 256, so mostly predicted, as ordinary code is)
	 * to one of two 3-instruction tails that each end the iteration. */
	__asm__ volatile("1:\n\t"
			 "mov %[x], %[t]\n\t"
			 "shl $13, %[t]\n\t"
			 "xor %[t], %[x]\n\t"
			 "mov %[x], %[t]\n\t"
			 "shr $7, %[t]\n\t"
			 "xor %[t], %[x]\n\t"
			 "mov %[x], %[t]\n\t"
			 "shl $17, %[t]\n\t"
			 "xor %[t], %[x]\n\t"
			 "imul %[k], %[y]\n\t"
			 "add %[x], %[y]\n\t"
			 "test $0xff, %b[x]\n\t"
			 "jz 2f\n\t"
			 "xor %[y], %[acc]\n\t"
			 "dec %[n]\n\t"
			 "jnz 1b\n\t"
			 "jmp 3f\n"
			 "2:\n\t"
			 "sub %[y], %[acc]\n\t"
			 "dec %[n]\n\t"
			 "jnz 1b\n"
			 "3:"
			 : [x] "+r"(x), [y] "+r"(y), [acc] "+r"(acc), [n] "+r"(n), [t] "=&r"(t)
			 : [k] "r"(GOLDEN)
			 : "cc");
	return acc ^ mix(x) ^ mix(y);
}

void cpu_kernel_mem_init(uint64_t *buf)
{
	for (uint64_t i = 0; i < MEM_WORDS; i++)
		buf[i] = mix(i + SEED);
}

/* 12 instructions per 32-byte block. */
static void copy_blocks(const uint64_t *src, uint64_t *dst, uint64_t blocks)
{
	uint64_t a, b, c, d;
	__asm__ volatile("1:\n\t"
			 "mov (%[src]), %[a]\n\t"
			 "mov 8(%[src]), %[b]\n\t"
			 "mov 16(%[src]), %[c]\n\t"
			 "mov 24(%[src]), %[d]\n\t"
			 "mov %[a], (%[dst])\n\t"
			 "mov %[b], 8(%[dst])\n\t"
			 "mov %[c], 16(%[dst])\n\t"
			 "mov %[d], 24(%[dst])\n\t"
			 "add $32, %[src]\n\t"
			 "add $32, %[dst]\n\t"
			 "dec %[n]\n\t"
			 "jnz 1b"
			 : [src] "+r"(src), [dst] "+r"(dst), [n] "+r"(blocks), [a] "=&r"(a),
			   [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d)
			 :
			 : "cc", "memory");
}

/* 9 instructions per access: the next LCG state, its top bits as the word's index, add the word
 * to the running sum and store the sum back (so later reads depend on earlier writes). */
static uint64_t random_rmw(uint64_t *buf, uint64_t accesses)
{
	uint64_t x = SEED, sum = 0, i, v;
	__asm__ volatile(
	    "1:\n\t"
	    "imul %[mul], %[x]\n\t"
	    "add %[add], %[x]\n\t"
	    "mov %[x], %[i]\n\t"
	    "shr %[shift], %[i]\n\t"
	    "mov (%[buf], %[i], 8), %[v]\n\t"
	    "add %[v], %[sum]\n\t"
	    "mov %[sum], (%[buf], %[i], 8)\n\t"
	    "dec %[n]\n\t"
	    "jnz 1b"
	    : [x] "+r"(x), [sum] "+r"(sum), [n] "+r"(accesses), [i] "=&r"(i), [v] "=&r"(v)
	    : [buf] "r"(buf), [mul] "r"(LCG_MUL), [add] "r"(LCG_ADD), [shift] "i"(INDEX_SHIFT)
	    : "cc", "memory");
	return sum ^ mix(x);
}

uint64_t cpu_kernel_mem(uint64_t *buf, uint64_t iters)
{
	const uint64_t half_words = MEM_WORDS / 2, half_blocks = half_words / 4;
	if (iters == 0)
		return 0;
	uint64_t *low = buf, *high = buf + half_words;
	for (uint64_t done = 0, pass = 0; done < iters; pass++) {
		uint64_t blocks = iters - done < half_blocks ? iters - done : half_blocks;
		if (pass % 2 == 0)
			copy_blocks(low, high, blocks);
		else
			copy_blocks(high, low, blocks);
		done += blocks;
	}
	return random_rmw(buf, iters);
}

void cpu_kernel_sse_init(uint64_t *buf)
{
	for (uint64_t i = 0; i < CPU_KERNEL_SSE_BYTES / 8; i++)
		buf[i] = mix(i ^ GOLDEN);
}

uint64_t cpu_kernel_sse(uint64_t *buf, uint64_t iters)
{
	/* xmm3: the multiplier; xmm4-xmm6: the accumulators, stored to out[] at the end. */
	static const uint64_t start[8] __attribute__((aligned(16))) = {
	    0x0000000100000003ull, 0x0000000500000007ull, SEED, GOLDEN, LCG_MUL, LCG_ADD, 1, 2};
	uint64_t out[6] __attribute__((aligned(16))) = {0};
	uint64_t offset = 0, n = iters;
	if (iters == 0)
		return 0;
	/* 14 instructions per iteration, on the 32 bytes at buf + offset. */
	__asm__ volatile(
	    "movdqa 0(%[start]), %%xmm3\n\t"
	    "movdqa 16(%[start]), %%xmm4\n\t"
	    "movdqa 32(%[start]), %%xmm5\n\t"
	    "movdqa 48(%[start]), %%xmm6\n"
	    "1:\n\t"
	    "movdqa (%[buf], %[off]), %%xmm0\n\t"
	    "movdqa 16(%[buf], %[off]), %%xmm1\n\t"
	    "paddd %%xmm4, %%xmm0\n\t"
	    "pmuludq %%xmm3, %%xmm1\n\t"
	    "pxor %%xmm0, %%xmm5\n\t"
	    "paddq %%xmm1, %%xmm6\n\t"
	    "pshufd $0x4e, %%xmm5, %%xmm2\n\t"
	    "paddd %%xmm2, %%xmm4\n\t"
	    "movdqa %%xmm4, (%[buf], %[off])\n\t"
	    "movdqa %%xmm6, 16(%[buf], %[off])\n\t"
	    "add $32, %[off]\n\t"
	    "and %[mask], %[off]\n\t"
	    "dec %[n]\n\t"
	    "jnz 1b\n\t"
	    "movdqa %%xmm4, 0(%[out])\n\t"
	    "movdqa %%xmm5, 16(%[out])\n\t"
	    "movdqa %%xmm6, 32(%[out])"
	    : [off] "+r"(offset), [n] "+r"(n)
	    : [buf] "r"(buf), [start] "r"(start), [out] "r"(out), [mask] "i"(SSE_OFFSET_MASK)
	    : XMM_CLOBBERS "cc", "memory");
	uint64_t sum = 0;
	for (unsigned i = 0; i < 6; i++)
		sum = mix(sum ^ out[i]);
	for (uint64_t i = 0; i < CPU_KERNEL_SSE_BYTES / 8; i++)
		sum += buf[i];
	return sum;
}
