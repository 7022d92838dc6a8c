/* The bit family of the software vCPU: bit tests (BT BTS BTR BTC), bit scans (BSF BSR, and
 * LZCNT TZCNT, which without their CPUID bits are BSR/BSF with an ignored F3 prefix), POPCNT,
 * the legacy BCD adjustments (DAA DAS AAA AAS AAM AAD) and the flag instructions CLC STC CMC
 * CLD STD.
 *
 * BT* with a register bit offset and a memory operand address the bit string beyond the
 * operand: the signed offset selects the operand-sized word at ea + (offset >> log2(bits)) *
 * size. BTS/BTR/BTC update it through emu_rmw() (emu_int.h), atomic in guest RAM (as LOCK
 * requires).
 *
 * Flags the SDM leaves undefined are left unchanged here (BT*: OF SF AF PF; BSF/BSR: all but
 * ZF), except where noted. */
#include "vmm/cpu/emu/emu.h"
#include "vmm/cpu/emu/emu_flags.h"
#include "vmm/cpu/emu/emu_int.h"

/* The CPUID bits of LZCNT (ABM) and TZCNT (BMI1): not advertised, so the instructions are
 * BSR and BSF. */
static const bool emu_has_lzcnt = false;
static const bool emu_has_bmi1 = false;

/* ---- bit tests ---------------------------------------------------------------------------- */

enum bt_op { BT_TEST, BT_SET, BT_RESET, BT_COMPLEMENT };

struct bt_update {
	enum bt_op op;
	uint64_t bit; /* the mask */
};

static uint64_t bt_apply(void *ctx, uint64_t old)
{
	const struct bt_update *u = ctx;
	switch (u->op) {
	case BT_SET:
		return old | u->bit;
	case BT_RESET:
		return old & ~u->bit;
	case BT_COMPLEMENT:
		return old ^ u->bit;
	default:
		return old;
	}
}

static enum bt_op bt_op_of(unsigned mnemonic)
{
	switch (mnemonic) {
	case ZYDIS_MNEMONIC_BTS:
		return BT_SET;
	case ZYDIS_MNEMONIC_BTR:
		return BT_RESET;
	case ZYDIS_MNEMONIC_BTC:
		return BT_COMPLEMENT;
	default:
		return BT_TEST;
	}
}

/* BT BTS BTR BTC op0, op1: CF = the selected bit, which BTS/BTR/BTC then set, clear or flip. */
static void h_bt(struct emu_cpu *c, const struct emu_insn *i)
{
	struct bt_update u = {.op = bt_op_of(i->mnemonic)};
	emu_check_lock(c, i, u.op != BT_TEST);
	struct emu_loc d = emu_loc_of(c, i, 0);
	unsigned bits = d.size * 8;
	uint64_t offset = emu_src(c, i, 1, d.size);
	if (d.mem && i->op[1].kind == EMU_OPND_REG) {
		/* The signed offset's whole-word part moves the address (arithmetic shift:
		 * negative offsets reach below the operand). */
		int64_t words = (int64_t)emu_sext(offset, d.size) >> __builtin_ctz(bits);
		d.ea = (d.ea + (uint64_t)words * d.size) & emu_mask(i->addrsize);
	}
	u.bit = 1ull << (offset & (bits - 1));
	uint64_t old = u.op == BT_TEST ? emu_loc_read(c, &d) : emu_rmw(c, &d, bt_apply, &u);
	c->rflags = emu_flags_merge(c->rflags, (old & u.bit) ? RFLAGS_CF : 0, RFLAGS_CF);
}

/* ---- bit scans and counts ----------------------------------------------------------------- */

/* BSF BSR (and LZCNT TZCNT without their CPUID bits). A zero source sets ZF and leaves the
 * destination as it was, written back so that a 32-bit one is zero-extended as on Intel. */
static void bit_scan(struct emu_cpu *c, const struct emu_insn *i, bool reverse)
{
	unsigned size = i->op[0].size;
	uint64_t src = emu_src(c, i, 1, size), res;
	if (src == 0) {
		res = emu_opnd_read(c, i, 0) & emu_mask(size);
	} else {
		res =
		    reverse ? 63 - (unsigned)__builtin_clzll(src) : (unsigned)__builtin_ctzll(src);
	}
	emu_opnd_write(c, i, 0, res);
	c->rflags = emu_flags_merge(c->rflags, src == 0 ? RFLAGS_ZF : 0, RFLAGS_ZF);
}

/* LZCNT / TZCNT proper: the count of leading / trailing zeros (the size for 0); CF says the
 * source was 0, ZF the result is. */
static void bit_count_zeros(struct emu_cpu *c, const struct emu_insn *i, bool leading)
{
	unsigned size = i->op[0].size, bits = size * 8;
	uint64_t src = emu_src(c, i, 1, size), res;
	if (src == 0)
		res = bits;
	else if (leading)
		res = (unsigned)__builtin_clzll(src) - (64 - bits);
	else
		res = (unsigned)__builtin_ctzll(src);
	emu_opnd_write(c, i, 0, res);
	uint64_t f = (src == 0 ? RFLAGS_CF : 0) | (res == 0 ? RFLAGS_ZF : 0);
	c->rflags = emu_flags_merge(c->rflags, f, RFLAGS_CF | RFLAGS_ZF);
}

static void h_bsf(struct emu_cpu *c, const struct emu_insn *i)
{
	if (i->mnemonic == ZYDIS_MNEMONIC_TZCNT && emu_has_bmi1)
		bit_count_zeros(c, i, false);
	else
		bit_scan(c, i, false);
}

static void h_bsr(struct emu_cpu *c, const struct emu_insn *i)
{
	if (i->mnemonic == ZYDIS_MNEMONIC_LZCNT && emu_has_lzcnt)
		bit_count_zeros(c, i, true);
	else
		bit_scan(c, i, true);
}

/* POPCNT: ZF says the source was 0; CF OF SF AF PF are cleared. */
static void h_popcnt(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t src = emu_src(c, i, 1, i->op[0].size);
	emu_opnd_write(c, i, 0, (uint64_t)__builtin_popcountll(src));
	c->rflags = emu_flags_merge(c->rflags, src == 0 ? RFLAGS_ZF : 0, RFLAGS_ARITH);
}

/* ---- BCD ---------------------------------------------------------------------------------- */

static void no_64bit_mode(struct emu_cpu *c)
{
	if (c->mode == EMU_MODE_64)
		emu_raise_ud(c);
}

static uint64_t get_al(const struct emu_cpu *c)
{
	return c->gpr[EMU_RAX] & 0xff;
}

static uint64_t get_ah(const struct emu_cpu *c)
{
	return (c->gpr[EMU_RAX] >> 8) & 0xff;
}

static void set_ax(struct emu_cpu *c, uint64_t ax)
{
	emu_reg_write(c, EMU_RC_GPR, EMU_RAX, 2, ax & 0xffff);
}

/* The flags after a BCD adjustment: CF and AF as computed, SF ZF PF of AL, OF 0. */
static void bcd_flags(struct emu_cpu *c, uint64_t al, bool cf, bool af)
{
	uint64_t f = emu_flags_szp(al, 1) | (cf ? RFLAGS_CF : 0) | (af ? RFLAGS_AF : 0);
	c->rflags = emu_flags_merge(c->rflags, f, RFLAGS_ARITH);
}

/* DAA / DAS: AL adjusted to two packed BCD digits after an addition / subtraction. */
static void h_daa_das(struct emu_cpu *c, const struct emu_insn *i)
{
	no_64bit_mode(c);
	bool sub = i->mnemonic == ZYDIS_MNEMONIC_DAS;
	uint64_t old_al = get_al(c), al = old_al;
	bool old_cf = c->rflags & RFLAGS_CF, cf = false, af = false;
	if ((al & 0xf) > 9 || (c->rflags & RFLAGS_AF)) {
		cf = old_cf || (sub ? al < 6 : al > 0xff - 6);
		al = (sub ? al - 6 : al + 6) & 0xff;
		af = true;
	}
	if (old_al > 0x99 || old_cf) {
		al = (sub ? al - 0x60 : al + 0x60) & 0xff;
		cf = true;
	} else if (!sub) {
		cf = false;
	}
	emu_reg_write(c, EMU_RC_GPR, EMU_RAX, 1, al);
	bcd_flags(c, al, cf, af);
}

/* AAA / AAS: AL adjusted to one unpacked BCD digit, the carry going into AH. As the SDM
 * (and Intel hardware) has it, AAS subtracts 6 from all of AX and then 1 from AH, so a borrow
 * out of AL decrements AH twice. */
static void h_aaa_aas(struct emu_cpu *c, const struct emu_insn *i)
{
	no_64bit_mode(c);
	bool sub = i->mnemonic == ZYDIS_MNEMONIC_AAS;
	uint64_t ax = c->gpr[EMU_RAX] & 0xffff;
	bool adjust = (ax & 0xf) > 9 || (c->rflags & RFLAGS_AF);
	if (adjust)
		ax = sub ? ax - 6 - 0x100 : ax + 0x106;
	ax &= 0xff0f; /* also wraps the 16-bit arithmetic above */
	set_ax(c, ax);
	bcd_flags(c, ax & 0xff, adjust, adjust);
}

/* AAM imm8: AH = AL / imm8, AL = AL % imm8 (#DE for 0). */
static void h_aam(struct emu_cpu *c, const struct emu_insn *i)
{
	no_64bit_mode(c);
	uint64_t base = (uint64_t)i->op[0].disp & 0xff, al = get_al(c);
	if (base == 0)
		emu_raise(c, EMU_DE, EMU_NO_ERROR_CODE);
	set_ax(c, ((al / base) << 8) | (al % base));
	bcd_flags(c, al % base, false, false);
}

/* AAD imm8: AL = AL + AH * imm8, AH = 0; the flags are those of that 8-bit addition. */
static void h_aad(struct emu_cpu *c, const struct emu_insn *i)
{
	no_64bit_mode(c);
	uint64_t base = (uint64_t)i->op[0].disp & 0xff, flags = c->rflags;
	uint64_t al = emu_alu(EMU_ALU_ADD, get_al(c), get_ah(c) * base, 1, &flags);
	set_ax(c, al);
	c->rflags = flags;
}

/* ---- flag instructions -------------------------------------------------------------------- */

static void h_flag(struct emu_cpu *c, const struct emu_insn *i)
{
	switch (i->mnemonic) {
	case ZYDIS_MNEMONIC_CLC:
		c->rflags &= ~RFLAGS_CF;
		break;
	case ZYDIS_MNEMONIC_STC:
		c->rflags |= RFLAGS_CF;
		break;
	case ZYDIS_MNEMONIC_CMC:
		c->rflags ^= RFLAGS_CF;
		break;
	case ZYDIS_MNEMONIC_CLD:
		c->rflags &= ~RFLAGS_DF;
		break;
	default: /* STD */
		c->rflags |= RFLAGS_DF;
		break;
	}
}

void emu_register_bits(emu_handler_fn *table)
{
	table[ZYDIS_MNEMONIC_BT] = h_bt;
	table[ZYDIS_MNEMONIC_BTS] = h_bt;
	table[ZYDIS_MNEMONIC_BTR] = h_bt;
	table[ZYDIS_MNEMONIC_BTC] = h_bt;
	table[ZYDIS_MNEMONIC_BSF] = h_bsf;
	table[ZYDIS_MNEMONIC_TZCNT] = h_bsf;
	table[ZYDIS_MNEMONIC_BSR] = h_bsr;
	table[ZYDIS_MNEMONIC_LZCNT] = h_bsr;
	table[ZYDIS_MNEMONIC_POPCNT] = h_popcnt;
	table[ZYDIS_MNEMONIC_DAA] = h_daa_das;
	table[ZYDIS_MNEMONIC_DAS] = h_daa_das;
	table[ZYDIS_MNEMONIC_AAA] = h_aaa_aas;
	table[ZYDIS_MNEMONIC_AAS] = h_aaa_aas;
	table[ZYDIS_MNEMONIC_AAM] = h_aam;
	table[ZYDIS_MNEMONIC_AAD] = h_aad;
	table[ZYDIS_MNEMONIC_CLC] = h_flag;
	table[ZYDIS_MNEMONIC_STC] = h_flag;
	table[ZYDIS_MNEMONIC_CMC] = h_flag;
	table[ZYDIS_MNEMONIC_CLD] = h_flag;
	table[ZYDIS_MNEMONIC_STD] = h_flag;
}
