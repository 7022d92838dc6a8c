/* The software vCPU's SIMD computation checked against the host CPU.
 *
 * The interpreter computes integer SIMD lanes in plain C (emu_sse_lanes.c) and SSE floating
 * point with the host's own instructions behind its own MXCSR switch (emu_sse_host.c). Each test
 * runs random (and chosen special) inputs through those helpers and through the host's
 * instruction directly, and compares the bits. x87, the FXSAVE and FNSTENV images and whole
 * instructions through the handlers: test_emu_x87.c. */
#include <criterion/criterion.h>
#include <emmintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/test_rng.h"
#include "vmm/cpu/emu/emu_fpu.h"
#include "vmm/cpu/emu/emu_internal.h"

/* Random lanes, biased towards the edges where saturation and signedness matter. */
static void rnd_xmm(union emu_xmm *v)
{
	static const uint8_t edges[] = {0x00, 0x01, 0x7f, 0x80, 0x81, 0xfe, 0xff};

	for (unsigned k = 0; k < 16; k++)
		v->b[k] = (rnd() & 3) ? edges[rnd() % sizeof(edges)] : (uint8_t)rnd();
}

static __m128i to_m(const union emu_xmm *v)
{
	return _mm_loadu_si128((const __m128i *)v->b);
}

static union emu_xmm from_m(__m128i m)
{
	union emu_xmm v;
	_mm_storeu_si128((__m128i *)v.b, m);
	return v;
}

/* ---- lane-wise integer ops ---------------------------------------------------------------- */

typedef __m128i (*host_binop)(__m128i, __m128i);

#define HOST_BINOP(name, intrinsic)                                                                \
	static __m128i name(__m128i a, __m128i b)                                                  \
	{                                                                                          \
		return intrinsic(a, b);                                                            \
	}
HOST_BINOP(h_add8, _mm_add_epi8)
HOST_BINOP(h_add16, _mm_add_epi16)
HOST_BINOP(h_add32, _mm_add_epi32)
HOST_BINOP(h_add64, _mm_add_epi64)
HOST_BINOP(h_sub8, _mm_sub_epi8)
HOST_BINOP(h_sub64, _mm_sub_epi64)
HOST_BINOP(h_adds8, _mm_adds_epi8)
HOST_BINOP(h_adds16, _mm_adds_epi16)
HOST_BINOP(h_addus8, _mm_adds_epu8)
HOST_BINOP(h_addus16, _mm_adds_epu16)
HOST_BINOP(h_subs8, _mm_subs_epi8)
HOST_BINOP(h_subs16, _mm_subs_epi16)
HOST_BINOP(h_subus8, _mm_subs_epu8)
HOST_BINOP(h_subus16, _mm_subs_epu16)
HOST_BINOP(h_cmpeq8, _mm_cmpeq_epi8)
HOST_BINOP(h_cmpeq32, _mm_cmpeq_epi32)
HOST_BINOP(h_cmpgt8, _mm_cmpgt_epi8)
HOST_BINOP(h_cmpgt16, _mm_cmpgt_epi16)
HOST_BINOP(h_cmpgt32, _mm_cmpgt_epi32)
HOST_BINOP(h_mullo16, _mm_mullo_epi16)
HOST_BINOP(h_mulhi16, _mm_mulhi_epi16)
HOST_BINOP(h_mulhu16, _mm_mulhi_epu16)
HOST_BINOP(h_muludq, _mm_mul_epu32)
HOST_BINOP(h_madd, _mm_madd_epi16)
HOST_BINOP(h_sad, _mm_sad_epu8)
HOST_BINOP(h_avg8, _mm_avg_epu8)
HOST_BINOP(h_avg16, _mm_avg_epu16)
HOST_BINOP(h_minu8, _mm_min_epu8)
HOST_BINOP(h_maxu8, _mm_max_epu8)
HOST_BINOP(h_mins16, _mm_min_epi16)
HOST_BINOP(h_maxs16, _mm_max_epi16)
HOST_BINOP(h_and, _mm_and_si128)
HOST_BINOP(h_andn, _mm_andnot_si128)
HOST_BINOP(h_or, _mm_or_si128)
HOST_BINOP(h_xor, _mm_xor_si128)
HOST_BINOP(h_unpacklo8, _mm_unpacklo_epi8)
HOST_BINOP(h_unpackhi16, _mm_unpackhi_epi16)
HOST_BINOP(h_unpacklo32, _mm_unpacklo_epi32)
HOST_BINOP(h_unpackhi64, _mm_unpackhi_epi64)
HOST_BINOP(h_packss16, _mm_packs_epi16)
HOST_BINOP(h_packss32, _mm_packs_epi32)
HOST_BINOP(h_packus16, _mm_packus_epi16)

static const struct {
	const char *name;
	enum simd_lane_op op;
	unsigned width;
	host_binop host;
} lane_cases[] = {
    {"paddb", LANE_ADD, 1, h_add8},	   {"paddw", LANE_ADD, 2, h_add16},
    {"paddd", LANE_ADD, 4, h_add32},	   {"paddq", LANE_ADD, 8, h_add64},
    {"psubb", LANE_SUB, 1, h_sub8},	   {"psubq", LANE_SUB, 8, h_sub64},
    {"paddsb", LANE_ADDS, 1, h_adds8},	   {"paddsw", LANE_ADDS, 2, h_adds16},
    {"paddusb", LANE_ADDUS, 1, h_addus8},  {"paddusw", LANE_ADDUS, 2, h_addus16},
    {"psubsb", LANE_SUBS, 1, h_subs8},	   {"psubsw", LANE_SUBS, 2, h_subs16},
    {"psubusb", LANE_SUBUS, 1, h_subus8},  {"psubusw", LANE_SUBUS, 2, h_subus16},
    {"pcmpeqb", LANE_CMPEQ, 1, h_cmpeq8},  {"pcmpeqd", LANE_CMPEQ, 4, h_cmpeq32},
    {"pcmpgtb", LANE_CMPGT, 1, h_cmpgt8},  {"pcmpgtw", LANE_CMPGT, 2, h_cmpgt16},
    {"pcmpgtd", LANE_CMPGT, 4, h_cmpgt32}, {"pmullw", LANE_MULLO, 2, h_mullo16},
    {"pmulhw", LANE_MULHI, 2, h_mulhi16},  {"pmulhuw", LANE_MULHU, 2, h_mulhu16},
    {"pmuludq", LANE_MULUDQ, 8, h_muludq}, {"pmaddwd", LANE_MADD, 4, h_madd},
    {"psadbw", LANE_SAD, 8, h_sad},	   {"pavgb", LANE_AVG, 1, h_avg8},
    {"pavgw", LANE_AVG, 2, h_avg16},	   {"pminub", LANE_MINU, 1, h_minu8},
    {"pmaxub", LANE_MAXU, 1, h_maxu8},	   {"pminsw", LANE_MINS, 2, h_mins16},
    {"pmaxsw", LANE_MAXS, 2, h_maxs16},	   {"pand", LANE_AND, 8, h_and},
    {"pandn", LANE_ANDN, 8, h_andn},	   {"por", LANE_OR, 8, h_or},
    {"pxor", LANE_XOR, 8, h_xor},
};

Test(emu_sse, lanes_match_host)
{
	for (size_t t = 0; t < sizeof(lane_cases) / sizeof(lane_cases[0]); t++)
		for (int r = 0; r < ROUNDS; r++) {
			union emu_xmm a, b, xmm, mmx;
			rnd_xmm(&a);
			rnd_xmm(&b);
			union emu_xmm want = from_m(lane_cases[t].host(to_m(&a), to_m(&b)));
			xmm = a;
			simd_lanes(&xmm, &b, 16, lane_cases[t].width, lane_cases[t].op);
			cr_assert(memcmp(&xmm, &want, 16) == 0, "%s", lane_cases[t].name);
			/* Lanes are independent: the MMX form is the low quadword. */
			mmx = a;
			mmx.q[1] = 0;
			simd_lanes(&mmx, &b, 8, lane_cases[t].width, lane_cases[t].op);
			cr_assert(mmx.q[0] == want.q[0] && mmx.q[1] == 0, "%s (mmx)",
				  lane_cases[t].name);
		}
}

Test(emu_sse, unpack_pack_match_host)
{
	static const struct {
		unsigned width;
		bool high, pack, unsigned_sat;
		host_binop host;
	} cases[] = {
	    {1, false, false, false, h_unpacklo8},  {2, true, false, false, h_unpackhi16},
	    {4, false, false, false, h_unpacklo32}, {8, true, false, false, h_unpackhi64},
	    {2, false, true, false, h_packss16},    {4, false, true, false, h_packss32},
	    {2, false, true, true, h_packus16},
	};
	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++)
		for (int r = 0; r < ROUNDS; r++) {
			union emu_xmm a, b, got;
			rnd_xmm(&a);
			rnd_xmm(&b);
			union emu_xmm want = from_m(cases[t].host(to_m(&a), to_m(&b)));
			got = a;
			if (cases[t].pack)
				simd_pack(&got, &b, 16, cases[t].width, cases[t].unsigned_sat);
			else
				simd_unpack(&got, &b, 16, cases[t].width, cases[t].high);
			cr_assert(memcmp(&got, &want, 16) == 0, "case %zu", t);
		}
}

/* MMX forms whose result is not the low half of the XMM form's. */
#define MMX_BINOP(name, insn)                                                                      \
	static uint64_t name(uint64_t a, uint64_t b)                                               \
	{                                                                                          \
		uint64_t r;                                                                        \
		__asm__ volatile("movq %1, %%mm0\n\tmovq %2, %%mm1\n\t" insn                       \
				 " %%mm1, %%mm0\n\tmovq %%mm0, %0\n\temms"                         \
				 : "=m"(r)                                                         \
				 : "m"(a), "m"(b)                                                  \
				 : "mm0", "mm1", "st", "st(1)");                                   \
		return r;                                                                          \
	}
MMX_BINOP(mmx_punpckhbw, "punpckhbw")
MMX_BINOP(mmx_punpckhdq, "punpckhdq")
MMX_BINOP(mmx_packsswb, "packsswb")
MMX_BINOP(mmx_packuswb, "packuswb")

Test(emu_sse, mmx_shapes_match_host)
{
	for (int r = 0; r < ROUNDS; r++) {
		union emu_xmm a, b, got;
		rnd_xmm(&a);
		rnd_xmm(&b);
		a.q[1] = b.q[1] = 0;
		got = a;
		simd_unpack(&got, &b, 8, 1, true);
		cr_assert_eq(got.q[0], mmx_punpckhbw(a.q[0], b.q[0]));
		got = a;
		simd_unpack(&got, &b, 8, 4, true);
		cr_assert_eq(got.q[0], mmx_punpckhdq(a.q[0], b.q[0]));
		got = a;
		simd_pack(&got, &b, 8, 2, false);
		cr_assert_eq(got.q[0], mmx_packsswb(a.q[0], b.q[0]));
		got = a;
		simd_pack(&got, &b, 8, 2, true);
		cr_assert_eq(got.q[0], mmx_packuswb(a.q[0], b.q[0]));
	}
}

Test(emu_sse, shifts_match_host)
{
	static const uint64_t counts[] = {0, 1, 3, 7, 8, 15, 16, 31, 32, 63, 64, 65, 1ull << 40};
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
		for (int r = 0; r < ROUNDS / 10; r++) {
			union emu_xmm a, got;
			rnd_xmm(&a);
			__m128i cnt = _mm_set_epi64x(0, (long long)counts[k]);
			const struct {
				unsigned width;
				enum simd_shift kind;
				__m128i want;
			} cases[] = {
			    {2, SHIFT_LEFT, _mm_sll_epi16(to_m(&a), cnt)},
			    {4, SHIFT_LEFT, _mm_sll_epi32(to_m(&a), cnt)},
			    {8, SHIFT_LEFT, _mm_sll_epi64(to_m(&a), cnt)},
			    {2, SHIFT_RIGHT, _mm_srl_epi16(to_m(&a), cnt)},
			    {4, SHIFT_RIGHT, _mm_srl_epi32(to_m(&a), cnt)},
			    {8, SHIFT_RIGHT, _mm_srl_epi64(to_m(&a), cnt)},
			    {2, SHIFT_ARITH, _mm_sra_epi16(to_m(&a), cnt)},
			    {4, SHIFT_ARITH, _mm_sra_epi32(to_m(&a), cnt)},
			};
			for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
				union emu_xmm want = from_m(cases[t].want);
				got = a;
				simd_shift(&got, 16, cases[t].width, cases[t].kind, counts[k]);
				cr_assert(memcmp(&got, &want, 16) == 0, "count %llu case %zu",
					  (unsigned long long)counts[k], t);
			}
		}
}

#define CHECK_BYTE_SHIFT(n)                                                                        \
	do {                                                                                       \
		union emu_xmm got = a, want = from_m(_mm_slli_si128(to_m(&a), n));                 \
		simd_shift_bytes(&got, true, n);                                                   \
		cr_assert(memcmp(&got, &want, 16) == 0, "pslldq %d", n);                           \
		got = a, want = from_m(_mm_srli_si128(to_m(&a), n));                               \
		simd_shift_bytes(&got, false, n);                                                  \
		cr_assert(memcmp(&got, &want, 16) == 0, "psrldq %d", n);                           \
	} while (0)

#define CHECK_SHUFFLE(imm)                                                                         \
	do {                                                                                       \
		union emu_xmm got = a, want = from_m(_mm_shuffle_epi32(to_m(&b), imm));            \
		simd_shuffle4(&got, &b, 0, 4, imm);                                                \
		cr_assert(memcmp(&got, &want, 16) == 0, "pshufd %#x", imm);                        \
		got = b, want = from_m(_mm_shufflelo_epi16(to_m(&b), imm));                        \
		simd_shuffle4(&got, &b, 0, 2, imm);                                                \
		cr_assert(memcmp(&got, &want, 16) == 0, "pshuflw %#x", imm);                       \
		got = b, want = from_m(_mm_shufflehi_epi16(to_m(&b), imm));                        \
		simd_shuffle4(&got, &b, 8, 2, imm);                                                \
		cr_assert(memcmp(&got, &want, 16) == 0, "pshufhw %#x", imm);                       \
		got = a, want = from_m(_mm_castps_si128(_mm_shuffle_ps(                            \
			     _mm_castsi128_ps(to_m(&a)), _mm_castsi128_ps(to_m(&b)), imm)));       \
		simd_shufp(&got, &b, 4, imm);                                                      \
		cr_assert(memcmp(&got, &want, 16) == 0, "shufps %#x", imm);                        \
		got = a, want = from_m(_mm_castpd_si128(_mm_shuffle_pd(                            \
			     _mm_castsi128_pd(to_m(&a)), _mm_castsi128_pd(to_m(&b)), (imm)&3)));   \
		simd_shufp(&got, &b, 8, (imm)&3);                                                  \
		cr_assert(memcmp(&got, &want, 16) == 0, "shufpd %#x", (imm)&3);                    \
	} while (0)

Test(emu_sse, byte_shifts_shuffles_masks_match_host)
{
	for (int r = 0; r < ROUNDS; r++) {
		union emu_xmm a, b;
		rnd_xmm(&a);
		rnd_xmm(&b);
		CHECK_BYTE_SHIFT(0);
		CHECK_BYTE_SHIFT(1);
		CHECK_BYTE_SHIFT(7);
		CHECK_BYTE_SHIFT(8);
		CHECK_BYTE_SHIFT(15);
		CHECK_BYTE_SHIFT(16);
		CHECK_SHUFFLE(0x00);
		CHECK_SHUFFLE(0x1b);
		CHECK_SHUFFLE(0x4e);
		CHECK_SHUFFLE(0x93);
		CHECK_SHUFFLE(0xe5);
		cr_assert_eq(simd_msb_mask(&a, 16, 1), (uint32_t)_mm_movemask_epi8(to_m(&a)));
		cr_assert_eq(simd_msb_mask(&a, 16, 4),
			     (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(to_m(&a))));
		cr_assert_eq(simd_msb_mask(&a, 16, 8),
			     (uint32_t)_mm_movemask_pd(_mm_castsi128_pd(to_m(&a))));
		cr_assert_eq(simd_msb_mask(&a, 8, 1), (uint32_t)_mm_movemask_epi8(to_m(&a)) & 0xff);
	}
}

/* ---- SSE floating point ------------------------------------------------------------------- */

static uint32_t host_mxcsr(void)
{
	uint32_t v;
	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}

/* Floats with NaNs, infinities, zeros, denormals and ordinary values in every lane. */
static void rnd_floats(union emu_xmm *v, bool doubles)
{
	static const uint64_t specials_d[] = {0,
					      0x8000000000000000ull,
					      0x7ff0000000000000ull,
					      0xfff0000000000000ull,
					      0x7ff8000000000000ull,
					      0x7ff4000000000000ull,
					      0x0000000000000001ull,
					      0x3ff0000000000000ull,
					      0x41e0000000000000ull,
					      0xc3e0000000000000ull};
	static const uint32_t specials_f[] = {0,	  0x80000000, 0x7f800000, 0xff800000,
					      0x7fc00000, 0x7fa00000, 0x00000001, 0x3f800000,
					      0x4f000000, 0xdf000000};
	const unsigned n = sizeof(specials_f) / sizeof(specials_f[0]);

	for (unsigned k = 0; k < (doubles ? 2u : 4u); k++) {
		bool special = rnd() % 3 == 0;
		if (doubles)
			v->q[k] = special ? specials_d[rnd() % n]
					  : (rnd() & 0x800fffffffffffffull) |
						((uint64_t)(0x3c0 + rnd() % 0x80) << 52);
		else
			v->d[k] = special ? specials_f[rnd() % n]
					  : (uint32_t)((rnd() & 0x807fffff) |
						       ((uint64_t)(0x60 + rnd() % 0x40) << 23));
	}
}

/* The host instruction run directly, for comparison. */
#define ASM_OP(name, insn)                                                                         \
	static uint32_t name(union emu_xmm *d, const union emu_xmm *s, uint32_t csr)               \
	{                                                                                          \
		uint32_t saved, after;                                                             \
		__m128 x = _mm_loadu_ps(d->f), y = _mm_loadu_ps(s->f);                             \
		__asm__ volatile("stmxcsr %[sv]\n\tldmxcsr %[c]\n\t" insn                          \
				 " %[y], %[x]\n\tstmxcsr %[af]\n\tldmxcsr %[sv]"                   \
				 : [x] "+x"(x), [sv] "=m"(saved), [af] "=m"(after)                 \
				 : [y] "x"(y), [c] "m"(csr));                                      \
		_mm_storeu_ps(d->f, x);                                                            \
		return after & MXCSR_FLAGS;                                                        \
	}
ASM_OP(asm_subps, "subps")
ASM_OP(asm_subsd, "subsd")
ASM_OP(asm_divss, "divss")
ASM_OP(asm_minps, "minps")
ASM_OP(asm_maxsd, "maxsd")
ASM_OP(asm_sqrtss, "sqrtss")
ASM_OP(asm_rcpps, "rcpps")
ASM_OP(asm_rsqrtss, "rsqrtss")
ASM_OP(asm_cmpltps, "cmpps $1,")
ASM_OP(asm_cmpunordss, "cmpss $3,")
ASM_OP(asm_cmpnlepd, "cmppd $6,")
ASM_OP(asm_cmpneqsd, "cmpsd $4,")
ASM_OP(asm_cvtps2dq, "cvtps2dq")
ASM_OP(asm_cvttpd2dq, "cvttpd2dq")
ASM_OP(asm_cvtsd2ss, "cvtsd2ss")
ASM_OP(asm_cvtss2sd, "cvtss2sd")
ASM_OP(asm_cvtpd2ps, "cvtpd2ps")

Test(emu_sse, fp_ops_match_host)
{
	static const struct {
		unsigned mnemonic, imm;
		bool doubles;
		uint32_t (*host)(union emu_xmm *, const union emu_xmm *, uint32_t);
	} cases[] = {
	    {ZYDIS_MNEMONIC_SUBPS, 0, false, asm_subps},
	    {ZYDIS_MNEMONIC_SUBSD, 0, true, asm_subsd},
	    {ZYDIS_MNEMONIC_DIVSS, 0, false, asm_divss},
	    {ZYDIS_MNEMONIC_MINPS, 0, false, asm_minps},
	    {ZYDIS_MNEMONIC_MAXSD, 0, true, asm_maxsd},
	    {ZYDIS_MNEMONIC_SQRTSS, 0, false, asm_sqrtss},
	    {ZYDIS_MNEMONIC_RCPPS, 0, false, asm_rcpps},
	    {ZYDIS_MNEMONIC_RSQRTSS, 0, false, asm_rsqrtss},
	    {ZYDIS_MNEMONIC_CMPPS, 1, false, asm_cmpltps},
	    {ZYDIS_MNEMONIC_CMPSS, 3, false, asm_cmpunordss},
	    {ZYDIS_MNEMONIC_CMPPD, 6, true, asm_cmpnlepd},
	    {ZYDIS_MNEMONIC_CMPSD, 4, true, asm_cmpneqsd},
	    {ZYDIS_MNEMONIC_CVTPS2DQ, 0, false, asm_cvtps2dq},
	    {ZYDIS_MNEMONIC_CVTTPD2DQ, 0, true, asm_cvttpd2dq},
	    {ZYDIS_MNEMONIC_CVTSD2SS, 0, true, asm_cvtsd2ss},
	    {ZYDIS_MNEMONIC_CVTSS2SD, 0, false, asm_cvtss2sd},
	    {ZYDIS_MNEMONIC_CVTPD2PS, 0, true, asm_cvtpd2ps},
	};
	/* rounding modes, with and without DAZ/FZ */
	static const uint32_t csrs[] = {0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9fc0, 0x1fc0};
	uint32_t before = host_mxcsr();

	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
		sse_fp_fn fn = sse_fp_op(cases[t].mnemonic);
		cr_assert_not_null(fn);
		for (int r = 0; r < ROUNDS; r++) {
			uint32_t csr = csrs[rnd() % (sizeof(csrs) / sizeof(csrs[0]))];
			struct sse_fp_args a = {.imm = (uint8_t)cases[t].imm};
			rnd_floats(&a.d, cases[t].doubles);
			rnd_floats(&a.s, cases[t].doubles);
			union emu_xmm want = a.d;
			uint32_t want_flags = cases[t].host(&want, &a.s, csr);
			uint32_t flags = sse_fp_run(csr | MXCSR_FLAGS, fn, &a);
			cr_assert(memcmp(&a.d, &want, 16) == 0, "case %zu csr %#x", t, csr);
			cr_assert_eq(flags, want_flags, "case %zu csr %#x", t, csr);
		}
	}
	cr_assert_eq(host_mxcsr(), before, "the host's MXCSR is restored");
}

Test(emu_sse, fp_rounding_flags_and_conversions)
{
	struct sse_fp_args a = {0};

	/* 1 + 2^-30 in single precision: inexact, rounded by RC */
	a.d.f[0] = 1.0f;
	a.s.f[0] = 0x1p-30f;
	a.d.f[1] = 7.0f;
	cr_assert_eq(sse_fp_run(0x1f80, sse_fp_op(ZYDIS_MNEMONIC_ADDSS), &a), MXCSR_PE);
	cr_assert_eq(a.d.f[0], 1.0f);
	cr_assert_eq(a.d.f[1], 7.0f, "the scalar form keeps the upper lanes");
	a.d.f[0] = 1.0f;
	sse_fp_run(0x5f80, sse_fp_op(ZYDIS_MNEMONIC_ADDSS), &a); /* round up */
	cr_assert_eq(a.d.f[0], nextafterf(1.0f, 2.0f));

	/* divide by zero, invalid */
	a.d.df[0] = 1.0;
	a.s.df[0] = 0.0;
	cr_assert_eq(sse_fp_run(0x1f80, sse_fp_op(ZYDIS_MNEMONIC_DIVSD), &a), MXCSR_ZE);
	a.s.df[0] = -1.0;
	cr_assert_eq(sse_fp_run(0x1f80, sse_fp_op(ZYDIS_MNEMONIC_SQRTSD), &a), MXCSR_IE);
	cr_assert_eq(a.d.q[0], 0xfff8000000000000ull, "the default NaN");

	/* DAZ: a denormal source reads as zero */
	a.d.f[0] = 1.0f;
	a.s.d[0] = 1; /* smallest denormal */
	cr_assert_eq(sse_fp_run(0x1fc0, sse_fp_op(ZYDIS_MNEMONIC_MULSS), &a), 0);
	cr_assert_eq(a.d.d[0], 0);

	/* conversions to general registers: 32 and 64 bits, rounding and truncation */
	a.s.df[0] = -2.5;
	a.int_size = 4;
	sse_fp_run(0x1f80, sse_fp_op(ZYDIS_MNEMONIC_CVTSD2SI), &a);
	cr_assert_eq(a.gpr, 0xfffffffeull, "round to even, zero-extended to 64 bits");
	a.int_size = 8;
	sse_fp_run(0x1f80, sse_fp_op(ZYDIS_MNEMONIC_CVTTSD2SI), &a);
	cr_assert_eq(a.gpr, (uint64_t)-2);
	a.s.df[0] = 1e30;
	cr_assert_eq(sse_fp_run(0x1f80, sse_fp_op(ZYDIS_MNEMONIC_CVTSD2SI), &a), MXCSR_IE);
	cr_assert_eq(a.gpr, 0x8000000000000000ull, "the integer indefinite");
	a.s.q[0] = (uint64_t)-3;
	sse_fp_run(0x1f80, sse_fp_op(ZYDIS_MNEMONIC_CVTSI2SD), &a);
	cr_assert_eq(a.d.df[0], -3.0);

	/* CVTPI2PS converts two lanes and keeps the upper two */
	a.d.f[2] = 5.0f;
	a.d.f[3] = 6.0f;
	a.s.q[1] = 0;
	a.s.d[0] = (uint32_t)-1;
	a.s.d[1] = 16777217; /* 2^24 + 1: inexact in single precision */
	cr_assert_eq(sse_fp_run(0x1f80, sse_fp_op(ZYDIS_MNEMONIC_CVTPI2PS), &a), MXCSR_PE);
	cr_assert(a.d.f[0] == -1.0f && a.d.f[1] == 16777216.0f && a.d.f[2] == 5.0f &&
		  a.d.f[3] == 6.0f);

	/* COMISS / UCOMISS: ZF PF CF, and QNaN is invalid only for COMISS */
	static const struct {
		float x, y;
		uint64_t flags;
	} cmps[] = {{1, 2, RFLAGS_CF}, {2, 1, 0}, {3, 3, RFLAGS_ZF}, {NAN, 1, RFLAGS_ARITH}};
	for (size_t k = 0; k < 4; k++) {
		a.d.f[0] = cmps[k].x;
		a.s.f[0] = cmps[k].y;
		uint32_t f = sse_fp_run(0x1f80, sse_fp_op(ZYDIS_MNEMONIC_UCOMISS), &a);
		cr_assert_eq(a.gpr, cmps[k].flags & (RFLAGS_ZF | RFLAGS_PF | RFLAGS_CF));
		cr_assert_eq(f, 0);
		f = sse_fp_run(0x1f80, sse_fp_op(ZYDIS_MNEMONIC_COMISS), &a);
		cr_assert_eq(f, k == 3 ? MXCSR_IE : 0);
	}
}
