/* The multiply and divide family of the software vCPU: MUL, IMUL (one-, two- and
 * three-operand forms), DIV and IDIV at every operand size.
 *
 * The one-operand forms work on the accumulator pair: AX = AL * src for bytes, else
 * rDX:rAX = rAX * src; DIV/IDIV divide AX resp. rDX:rAX and leave the quotient in AL/rAX and
 * the remainder in AH/rDX. Products and dividends are computed in 128 bits (the compiler's
 * __int128, whose division comes from libgcc), so one path serves every size.
 *
 * Flags: after a multiply CF = OF = "the result did not fit the destination"; SF ZF PF, which
 * the SDM leaves undefined, are those of the low half and AF is 0 (as Bochs does for Intel).
 * DIV/IDIV leave all flags (undefined) unchanged. #DE is raised for a zero divisor and for a
 * quotient that does not fit, before anything changes.
 *
 * The truncating IMUL of 64- or 32-bit general registers (and an immediate) has a handler of its
 * own, chosen at decode time (emu_muldiv_bind), which multiplies at the operand's width; IMUL
 * r64, r64 one more. */
#include "vmm/cpu/emu/emu.h"
#include "vmm/cpu/emu/emu_flags.h"
#include "vmm/cpu/emu/emu_int.h"

static __int128 sext128(uint64_t v, unsigned size)
{
	return (__int128)(int64_t)emu_sext(v, size);
}

static uint64_t accumulator(const struct emu_cpu *c, unsigned size)
{
	return c->gpr[EMU_RAX] & emu_mask(size);
}

/* The high half of the accumulator pair: AH for bytes, else rDX. */
static uint64_t accumulator_high(const struct emu_cpu *c, unsigned size)
{
	if (size == 1)
		return (c->gpr[EMU_RAX] >> 8) & 0xff;
	return c->gpr[EMU_RDX] & emu_mask(size);
}

/* Writes the pair: AX = high:low for bytes, else rAX = low and rDX = high. */
static void set_accumulator_pair(struct emu_cpu *c, unsigned size, uint64_t low, uint64_t high)
{
	if (size == 1) {
		emu_reg_write(c, EMU_RC_GPR, EMU_RAX, 2, ((high & 0xff) << 8) | (low & 0xff));
		return;
	}
	emu_reg_write(c, EMU_RC_GPR, EMU_RAX, size, low & emu_mask(size));
	emu_reg_write(c, EMU_RC_GPR, EMU_RDX, size, high & emu_mask(size));
}

static inline void mul_flags(struct emu_cpu *c, uint64_t low, unsigned size, bool overflow)
{
	uint64_t f = emu_flags_szp(low, size) | (overflow ? RFLAGS_CF | RFLAGS_OF : 0);
	c->rflags = emu_flags_merge(c->rflags, f, RFLAGS_ARITH);
}

/* The full product of a and b (zero-extended from size), signed or not. */
static unsigned __int128 product(uint64_t a, uint64_t b, unsigned size, bool sign)
{
	if (sign)
		return (unsigned __int128)(sext128(a, size) * sext128(b, size));
	return (unsigned __int128)a * b;
}

/* Whether the product fits in `size` bytes (signed: sign-extends from its low half). */
static bool product_overflows(unsigned __int128 p, unsigned size, bool sign)
{
	uint64_t low = (uint64_t)p & emu_mask(size);
	if (sign)
		return (__int128)p != sext128(low, size);
	return (p >> (size * 8)) != 0;
}

/* MUL src / IMUL src: the pair = the accumulator * src. */
static void mul_widening(struct emu_cpu *c, const struct emu_insn *i, bool sign)
{
	unsigned size = i->op[0].size;
	uint64_t src = emu_src(c, i, 0, size);
	unsigned __int128 p = product(accumulator(c, size), src, size, sign);
	uint64_t low = (uint64_t)p & emu_mask(size);
	set_accumulator_pair(c, size, low, (uint64_t)(p >> (size * 8)));
	mul_flags(c, low, size, product_overflows(p, size, sign));
}

static void h_mul(struct emu_cpu *c, const struct emu_insn *i)
{
	mul_widening(c, i, false);
}

/* IMUL: one operand widens; two (op0 *= op1) and three (op0 = op1 * imm) truncate. */
static void h_imul(struct emu_cpu *c, const struct emu_insn *i)
{
	if (i->nopnd <= 1) {
		mul_widening(c, i, true);
		return;
	}
	unsigned size = i->op[0].size, first = i->nopnd == 3 ? 1 : 0;
	uint64_t b = emu_src(c, i, first + 1, size), a = emu_src(c, i, first, size);
	unsigned __int128 p = product(a, b, size, true);
	uint64_t low = (uint64_t)p & emu_mask(size);
	emu_opnd_write(c, i, 0, low);
	mul_flags(c, low, size, product_overflows(p, size, true));
}

static _Noreturn void divide_error(struct emu_cpu *c)
{
	emu_raise(c, EMU_DE, EMU_NO_ERROR_CODE);
}

/* DIV / IDIV src: the pair divided by src, #DE if src is 0 or the quotient does not fit. */
static void h_div(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->op[0].size, bits = size * 8;
	uint64_t divisor = emu_src(c, i, 0, size), q, r;
	if (divisor == 0)
		divide_error(c);
	unsigned __int128 dividend =
	    ((unsigned __int128)accumulator_high(c, size) << bits) | accumulator(c, size);

	if (i->mnemonic == ZYDIS_MNEMONIC_DIV) {
		unsigned __int128 quotient = dividend / divisor;
		if (quotient >> bits)
			divide_error(c);
		q = (uint64_t)quotient;
		r = (uint64_t)(dividend % divisor);
	} else {
		/* The dividend is 2 * bits wide: sign-extend it to 128. */
		unsigned shift = 128 - 2 * bits;
		__int128 n = (__int128)(dividend << shift) >> shift;
		__int128 d = sext128(divisor, size);
		__int128 limit = (__int128)1 << (bits - 1);
		/* INT128_MIN / -1 would overflow the host division itself. */
		const __int128 int128_min = -(__int128)(((unsigned __int128)1 << 127) - 1) - 1;
		if (d == -1 && n == int128_min)
			divide_error(c);
		__int128 quotient = n / d;
		if (quotient >= limit || quotient < -limit)
			divide_error(c);
		q = (uint64_t)quotient & emu_mask(size);
		r = (uint64_t)(n % d) & emu_mask(size);
	}
	set_accumulator_pair(c, size, q, r);
}

/* IMUL r, r/imm and IMUL r, r, imm at 64 or 32 bits. */
static void h_imul_reg(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->op[0].size;
	const struct emu_opnd *x = &i->op[i->nopnd - 2], *y = &i->op[i->nopnd - 1];
	uint64_t a = c->gpr[x->reg & 15];
	uint64_t b = y->kind == EMU_OPND_IMM ? (uint64_t)y->disp : c->gpr[y->reg & 15];
	uint64_t low;
	bool overflow;
	if (size == 8) {
		int64_t p;
		overflow = __builtin_mul_overflow((int64_t)a, (int64_t)b, &p);
		low = (uint64_t)p;
	} else {
		int32_t p;
		overflow = __builtin_mul_overflow((int32_t)a, (int32_t)b, &p);
		low = (uint32_t)p;
	}
	c->gpr[i->op[0].reg & 15] = low;
	mul_flags(c, low, size, overflow);
}

/* IMUL r64, r64, the commonest form (Linux's RSA limb products are four of them each): the
 * operands where they always are, no size or immediate to look at. */
static void h_imul_r64_r64(struct emu_cpu *c, const struct emu_insn *i)
{
	int64_t p;
	bool overflow = __builtin_mul_overflow((int64_t)c->gpr[i->op[0].reg & 15],
					       (int64_t)c->gpr[i->op[1].reg & 15], &p);
	c->gpr[i->op[0].reg & 15] = (uint64_t)p;
	mul_flags(c, (uint64_t)p, 8, overflow);
}

/* The same product, the flags left alone (struct emu_flag_writer): the low 64 bits of a signed
 * product are those of the unsigned one. */
static void h_imul_r64_r64_flagless(struct emu_cpu *c, const struct emu_insn *i)
{
	c->gpr[i->op[0].reg & 15] *= c->gpr[i->op[1].reg & 15];
}

/* IMUL's register forms write all six flags (mul_flags); only IMUL r64, r64 has a twin. */
bool emu_muldiv_flag_writer(const struct emu_insn *i, struct emu_flag_writer *w)
{
	if (i->fn != h_imul_r64_r64 && i->fn != h_imul_reg)
		return false;
	w->writes = RFLAGS_ARITH;
	w->flagless = i->fn == h_imul_r64_r64 ? h_imul_r64_r64_flagless : NULL;
	return true;
}

static bool is_gpr(const struct emu_opnd *o)
{
	return o->kind == EMU_OPND_REG && o->reg_class == EMU_RC_GPR;
}

emu_handler_fn emu_muldiv_bind(const struct emu_insn *i)
{
	if (i->fn != h_imul || i->nopnd < 2 || (i->op[0].size != 8 && i->op[0].size != 4))
		return NULL;
	const struct emu_opnd *x = &i->op[i->nopnd - 2], *y = &i->op[i->nopnd - 1];
	if (!is_gpr(&i->op[0]) || !is_gpr(x) || (!is_gpr(y) && y->kind != EMU_OPND_IMM))
		return NULL;
	return i->nopnd == 2 && i->op[0].size == 8 && is_gpr(y) ? h_imul_r64_r64 : h_imul_reg;
}

void emu_register_muldiv(emu_handler_fn *table)
{
	table[ZYDIS_MNEMONIC_MUL] = h_mul;
	table[ZYDIS_MNEMONIC_IMUL] = h_imul;
	table[ZYDIS_MNEMONIC_DIV] = h_div;
	table[ZYDIS_MNEMONIC_IDIV] = h_div;
}
