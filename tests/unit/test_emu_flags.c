/* Unit tests for the software vCPU's flag helpers (vmm/cpu/emu/emu_flags.h), checked against the
 * host CPU: each operation runs natively (inline asm, with the input flags loaded by POPF and the
 * output flags captured by PUSHF) and through the helper, on thousands of random and edge-case
 * operands at every operand size. Flags the SDM leaves undefined for an operation are masked
 * (the host may be Intel or AMD, which differ there). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "vmm/cpu/emu/emu_flags.h"

#define ITERATIONS 4000

static const unsigned sizes[] = {1, 2, 4, 8};

/* ---- operands ----------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A random operand of `size`, biased towards the values where flags change: 0, 1, the sign
 * bit and its neighbours, all ones, nibble boundaries. */
static uint64_t operand(unsigned size)
{
	uint64_t m = emu_mask(size), msb = emu_msb(size);
	const uint64_t edges[] = {0, 1, 2, 0xf, 0x10, msb - 1, msb, msb + 1, m, m - 1};
	uint64_t r = rnd();
	if ((r & 3) == 0)
		return edges[(r >> 2) % (sizeof(edges) / sizeof(edges[0]))] & m;
	return rnd() & m;
}

/* Random arithmetic input flags (plus the fixed bit 1): TF, IF, DF, AC stay clear. */
static uint64_t input_flags(void)
{
	return (rnd() & RFLAGS_ARITH) | RFLAGS_FIXED;
}

/* ---- the host ----------------------------------------------------------------------------- */

/* Runs `text` with a (destination), b, the count n in CL and the flags fin loaded; returns the
 * destination, *fout the flags after. The stack pointer skips the red zone, which the compiler
 * may be using, before the pushes. */
#define HOST_RUN(text, T)                                                                          \
	do {                                                                                       \
		T a_ = (T)a, b_ = (T)b;                                                            \
		uint64_t f_;                                                                       \
		__asm__ volatile("lea -128(%%rsp), %%rsp\n\t"                                      \
				 "pushq %[fin]\n\t"                                                \
				 "popfq\n\t" text "\n\t"                                           \
				 "pushfq\n\t"                                                      \
				 "popq %[f]\n\t"                                                   \
				 "lea 128(%%rsp), %%rsp"                                           \
				 : [a] "+r"(a_), [f] "=&r"(f_)                                     \
				 : [b] "r"(b_), [n] "c"(n), [fin] "r"(fin)                         \
				 : "cc", "memory");                                                \
		*fout = f_;                                                                        \
		return a_;                                                                         \
	} while (0)

typedef uint64_t (*host_fn)(uint64_t a, uint64_t b, uint8_t n, unsigned size, uint64_t fin,
			    uint64_t *fout);

#define HOST_FN(name, insn, operands)                                                              \
	static uint64_t host_##name(uint64_t a, uint64_t b, uint8_t n, unsigned size,              \
				    uint64_t fin, uint64_t *fout)                                  \
	{                                                                                          \
		switch (size) {                                                                    \
		case 1:                                                                            \
			HOST_RUN(insn "b " operands, uint8_t);                                     \
		case 2:                                                                            \
			HOST_RUN(insn "w " operands, uint16_t);                                    \
		case 4:                                                                            \
			HOST_RUN(insn "l " operands, uint32_t);                                    \
		default:                                                                           \
			HOST_RUN(insn "q " operands, uint64_t);                                    \
		}                                                                                  \
	}

/* SHLD/SHRD have no byte form. */
#define HOST_FN_WIDE(name, insn, operands)                                                         \
	static uint64_t host_##name(uint64_t a, uint64_t b, uint8_t n, unsigned size,              \
				    uint64_t fin, uint64_t *fout)                                  \
	{                                                                                          \
		switch (size) {                                                                    \
		case 2:                                                                            \
			HOST_RUN(insn "w " operands, uint16_t);                                    \
		case 4:                                                                            \
			HOST_RUN(insn "l " operands, uint32_t);                                    \
		default:                                                                           \
			HOST_RUN(insn "q " operands, uint64_t);                                    \
		}                                                                                  \
	}

#define BINARY "%[b], %[a]"
#define UNARY  "%[a]"
#define SHIFT  "%[n], %[a]"
#define DOUBLE "%[n], %[b], %[a]"

HOST_FN(add, "add", BINARY)
HOST_FN(or, "or", BINARY)
HOST_FN(adc, "adc", BINARY)
HOST_FN(sbb, "sbb", BINARY)
HOST_FN(and, "and", BINARY)
HOST_FN(sub, "sub", BINARY)
HOST_FN(xor, "xor", BINARY)
HOST_FN(cmp, "cmp", BINARY)
HOST_FN(test, "test", BINARY)
HOST_FN(inc, "inc", UNARY)
HOST_FN(dec, "dec", UNARY)
HOST_FN(neg, "neg", UNARY)
HOST_FN(not, "not", UNARY)
HOST_FN(rol, "rol", SHIFT)
HOST_FN(ror, "ror", SHIFT)
HOST_FN(rcl, "rcl", SHIFT)
HOST_FN(rcr, "rcr", SHIFT)
HOST_FN(shl, "shl", SHIFT)
HOST_FN(shr, "shr", SHIFT)
HOST_FN(sar, "sar", SHIFT)
HOST_FN_WIDE(shld, "shld", DOUBLE)
HOST_FN_WIDE(shrd, "shrd", DOUBLE)

/* ---- the ALU ------------------------------------------------------------------------------ */

static const struct {
	const char *name;
	enum emu_alu_op op;
	host_fn host;
} alu_cases[] = {
    {"add", EMU_ALU_ADD, host_add},    {"or", EMU_ALU_OR, host_or},
    {"adc", EMU_ALU_ADC, host_adc},    {"sbb", EMU_ALU_SBB, host_sbb},
    {"and", EMU_ALU_AND, host_and},    {"sub", EMU_ALU_SUB, host_sub},
    {"xor", EMU_ALU_XOR, host_xor},    {"cmp", EMU_ALU_CMP, host_cmp},
    {"test", EMU_ALU_TEST, host_test}, {"inc", EMU_ALU_INC, host_inc},
    {"dec", EMU_ALU_DEC, host_dec},    {"neg", EMU_ALU_NEG, host_neg},
    {"not", EMU_ALU_NOT, host_not},
};

static bool is_logic(enum emu_alu_op op)
{
	return op == EMU_ALU_AND || op == EMU_ALU_OR || op == EMU_ALU_XOR || op == EMU_ALU_TEST;
}

Test(emu_flags, alu_matches_host)
{
	for (unsigned k = 0; k < sizeof(alu_cases) / sizeof(alu_cases[0]); k++) {
		enum emu_alu_op op = alu_cases[k].op;
		/* AF is undefined after logic ops; everything else is defined. */
		uint64_t defined = is_logic(op) ? RFLAGS_ARITH & ~RFLAGS_AF : RFLAGS_ARITH;
		for (unsigned s = 0; s < 4; s++) {
			unsigned size = sizes[s];
			for (unsigned it = 0; it < ITERATIONS; it++) {
				uint64_t a = operand(size), b = operand(size), fin = input_flags();
				uint64_t hf, ef = fin;
				uint64_t hr = alu_cases[k].host(a, b, 0, size, fin, &hf);
				uint64_t er = emu_alu(op, a, b, size, &ef);
				if (op == EMU_ALU_CMP || op == EMU_ALU_TEST)
					er = a; /* the host's destination is unchanged */
				cr_assert_eq(er, hr & emu_mask(size),
					     "%s size %u: %#llx, %#llx gives %#llx, host %#llx",
					     alu_cases[k].name, size, (unsigned long long)a,
					     (unsigned long long)b, (unsigned long long)er,
					     (unsigned long long)hr);
				cr_assert_eq(ef & defined, hf & defined,
					     "%s size %u: %#llx, %#llx flags in %#llx: %#llx, host "
					     "%#llx",
					     alu_cases[k].name, size, (unsigned long long)a,
					     (unsigned long long)b, (unsigned long long)fin,
					     (unsigned long long)(ef & defined),
					     (unsigned long long)(hf & defined));
			}
		}
	}
}

/* ---- shifts and rotates ------------------------------------------------------------------- */

static const struct {
	const char *name;
	enum emu_shift_op op;
	host_fn host;
} shift_cases[] = {
    {"rol", EMU_SHIFT_ROL, host_rol}, {"ror", EMU_SHIFT_ROR, host_ror},
    {"rcl", EMU_SHIFT_RCL, host_rcl}, {"rcr", EMU_SHIFT_RCR, host_rcr},
    {"shl", EMU_SHIFT_SHL, host_shl}, {"shr", EMU_SHIFT_SHR, host_shr},
    {"sar", EMU_SHIFT_SAR, host_sar},
};

/* A count operand: random bytes, biased to 0, 1 and the operand size's edges. */
static uint8_t shift_count(unsigned size)
{
	const uint8_t edges[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65};
	uint64_t r = rnd();
	if ((r & 1) == 0)
		return edges[(r >> 1) % sizeof(edges)];
	return (uint8_t)(rnd() >> 3);
}

/* The flags the SDM defines after a shift or rotate with masked count c != 0. */
static uint64_t shift_defined(enum emu_shift_op op, unsigned c, unsigned size)
{
	uint64_t of = c == 1 ? RFLAGS_OF : 0;
	unsigned bits = size * 8;
	switch (op) {
	case EMU_SHIFT_ROL:
	case EMU_SHIFT_ROR:
	case EMU_SHIFT_RCL:
	case EMU_SHIFT_RCR:
		/* CF defined, OF for 1-bit rotates, the others unaffected. */
		return (RFLAGS_ARITH & ~RFLAGS_OF) | of;
	case EMU_SHIFT_SAR:
		return RFLAGS_CF | RFLAGS_SF | RFLAGS_ZF | RFLAGS_PF | of;
	default: /* SHL SHR: CF undefined once the count reaches the size */
		return (c < bits ? RFLAGS_CF : 0) | RFLAGS_SF | RFLAGS_ZF | RFLAGS_PF | of;
	}
}

Test(emu_flags, shifts_match_host)
{
	for (unsigned k = 0; k < sizeof(shift_cases) / sizeof(shift_cases[0]); k++) {
		enum emu_shift_op op = shift_cases[k].op;
		for (unsigned s = 0; s < 4; s++) {
			unsigned size = sizes[s];
			for (unsigned it = 0; it < ITERATIONS; it++) {
				uint64_t a = operand(size), fin = input_flags(), hf, ef = fin;
				uint8_t n = shift_count(size);
				unsigned c = emu_shift_count(n, size);
				uint64_t defined = c ? shift_defined(op, c, size) : RFLAGS_ARITH;
				uint64_t hr = shift_cases[k].host(a, 0, n, size, fin, &hf);
				uint64_t er = emu_shift(op, a, n, size, &ef);
				cr_assert_eq(er, hr & emu_mask(size),
					     "%s size %u: %#llx by %u gives %#llx, host %#llx",
					     shift_cases[k].name, size, (unsigned long long)a, n,
					     (unsigned long long)er, (unsigned long long)hr);
				cr_assert_eq(ef & defined, hf & defined,
					     "%s size %u: %#llx by %u flags in %#llx: %#llx, host "
					     "%#llx",
					     shift_cases[k].name, size, (unsigned long long)a, n,
					     (unsigned long long)fin,
					     (unsigned long long)(ef & defined),
					     (unsigned long long)(hf & defined));
			}
		}
	}
}

Test(emu_flags, double_shifts_match_host)
{
	for (unsigned left = 0; left < 2; left++) {
		host_fn host = left ? host_shld : host_shrd;
		for (unsigned s = 1; s < 4; s++) {
			unsigned size = sizes[s];
			for (unsigned it = 0; it < ITERATIONS; it++) {
				uint64_t a = operand(size), b = operand(size), fin = input_flags();
				uint64_t hf, ef = fin;
				uint8_t n = shift_count(size);
				unsigned c = emu_shift_count(n, size);
				if (c > size * 8)
					continue; /* result and flags undefined */
				uint64_t defined = RFLAGS_ARITH;
				if (c)
					defined = RFLAGS_CF | RFLAGS_SF | RFLAGS_ZF | RFLAGS_PF |
						  (c == 1 ? RFLAGS_OF : 0);
				uint64_t hr = host(a, b, n, size, fin, &hf);
				uint64_t er = emu_shift_double(left, a, b, n, size, &ef);
				cr_assert_eq(
				    er, hr & emu_mask(size),
				    "sh%cd size %u: %#llx, %#llx by %u gives %#llx, host %#llx",
				    left ? 'l' : 'r', size, (unsigned long long)a,
				    (unsigned long long)b, n, (unsigned long long)er,
				    (unsigned long long)hr);
				cr_assert_eq(
				    ef & defined, hf & defined,
				    "sh%cd size %u: %#llx, %#llx by %u flags in %#llx: %#llx, "
				    "host %#llx",
				    left ? 'l' : 'r', size, (unsigned long long)a,
				    (unsigned long long)b, n, (unsigned long long)fin,
				    (unsigned long long)(ef & defined),
				    (unsigned long long)(hf & defined));
			}
		}
	}
}

/* ---- condition codes ---------------------------------------------------------------------- */

#define HOST_SETCC(cc)                                                                             \
	__asm__ volatile("lea -128(%%rsp), %%rsp\n\t"                                              \
			 "pushq %[fin]\n\t"                                                        \
			 "popfq\n\t"                                                               \
			 "set" cc " %[r]\n\t"                                                      \
			 "lea 128(%%rsp), %%rsp"                                                   \
			 : [r] "=r"(r)                                                             \
			 : [fin] "r"(fin)                                                          \
			 : "cc", "memory")

static bool host_cond(uint64_t fin, unsigned cc)
{
	uint8_t r = 0;
	switch (cc) {
	case 0x0:
		HOST_SETCC("o");
		break;
	case 0x1:
		HOST_SETCC("no");
		break;
	case 0x2:
		HOST_SETCC("b");
		break;
	case 0x3:
		HOST_SETCC("ae");
		break;
	case 0x4:
		HOST_SETCC("e");
		break;
	case 0x5:
		HOST_SETCC("ne");
		break;
	case 0x6:
		HOST_SETCC("be");
		break;
	case 0x7:
		HOST_SETCC("a");
		break;
	case 0x8:
		HOST_SETCC("s");
		break;
	case 0x9:
		HOST_SETCC("ns");
		break;
	case 0xa:
		HOST_SETCC("p");
		break;
	case 0xb:
		HOST_SETCC("np");
		break;
	case 0xc:
		HOST_SETCC("l");
		break;
	case 0xd:
		HOST_SETCC("ge");
		break;
	case 0xe:
		HOST_SETCC("le");
		break;
	default:
		HOST_SETCC("g");
		break;
	}
	return r;
}

Test(emu_flags, conditions_match_host)
{
	/* Every combination of the arithmetic flags, for every condition. */
	for (uint64_t bits = 0; bits < 64; bits++) {
		uint64_t fin = RFLAGS_FIXED;
		const uint64_t each[] = {RFLAGS_CF, RFLAGS_PF, RFLAGS_AF,
					 RFLAGS_ZF, RFLAGS_SF, RFLAGS_OF};
		for (unsigned b = 0; b < 6; b++)
			if (bits & (1ull << b))
				fin |= each[b];
		for (unsigned cc = 0; cc < 16; cc++)
			cr_assert_eq(emu_cond(fin, cc), host_cond(fin, cc),
				     "cc %#x with flags %#llx", cc, (unsigned long long)fin);
	}
}

/* ---- sizes -------------------------------------------------------------------------------- */

Test(emu_flags, masks_and_sign_extension)
{
	cr_assert_eq(emu_mask(1), 0xffull);
	cr_assert_eq(emu_mask(2), 0xffffull);
	cr_assert_eq(emu_mask(4), 0xffffffffull);
	cr_assert_eq(emu_mask(8), ~0ull);
	cr_assert_eq(emu_msb(8), 1ull << 63);
	cr_assert_eq(emu_sext(0x80, 1), 0xffffffffffffff80ull);
	cr_assert_eq(emu_sext(0x7fff, 2), 0x7fffull);
	cr_assert_eq(emu_sext(0x80000000, 4), 0xffffffff80000000ull);
	cr_assert_eq(emu_sext(0x8000000000000000ull, 8), 0x8000000000000000ull);
}
