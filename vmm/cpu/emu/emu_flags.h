/* Arithmetic flags of the software vCPU: operand-size masks, the flags of add/sub/logic/inc/
 * dec/neg results, the results and flags of the shifts and rotates, and the 16 condition codes.
 *
 * Everything here is a pure function of its operands (no CPU state), so the ALU family, the
 * string instructions, the system and SSE families (COMISS etc.) can share it, and
 * tests/unit/test_emu_flags.c can check it against the host CPU.
 *
 * Operands are passed zero-extended from their size (1, 2, 4 or 8 bytes); results come back
 * masked to it. The flag functions return only the bits of RFLAGS_ARITH they define; callers
 * merge them with emu_flags_merge().
 *
 * Where the SDM leaves a flag undefined we follow what Intel hardware does as Bochs models it:
 * AF = 0 after logic ops and shifts, OF of multi-bit shifts computed as for a 1-bit shift
 * (SHL: CF ^ MSB; SHR/RCR/ROR/SHRD: the two top result bits), OF = 0 after SAR. */
#ifndef VMM_CPU_EMU_EMU_FLAGS_H
#define VMM_CPU_EMU_EMU_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/cpu/emu/emu.h"

/* ---- sizes -------------------------------------------------------------------------------- */

static inline uint64_t emu_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static inline uint64_t emu_msb(unsigned size)
{
	return 1ull << (size * 8 - 1);
}

/* Sign-extends the low `size` bytes of v to 64 bits. */
static inline uint64_t emu_sext(uint64_t v, unsigned size)
{
	unsigned shift = 64 - size * 8;
	return (uint64_t)((int64_t)(v << shift) >> shift);
}

/* Replaces the flags in `mask` of rflags by those of `bits`. */
static inline uint64_t emu_flags_merge(uint64_t rflags, uint64_t bits, uint64_t mask)
{
	return (rflags & ~mask) | (bits & mask);
}

/* ---- flags of a result -------------------------------------------------------------------- */

/* `flag` if cond, else 0, as arithmetic (SETcc and a shift) rather than a branch: a flag of
 * computed data is as good as random to the host's branch predictor (IMUL's PF mispredicted
 * every other time in bench cpu's int kernel). */
static inline uint64_t emu_flag_if(bool cond, uint64_t flag)
{
	return (uint64_t)cond * flag;
}

/* SF, ZF and PF (even parity of the low byte) of a result. */
static inline uint64_t emu_flags_szp(uint64_t res, unsigned size)
{
	res &= emu_mask(size);
	return emu_flag_if(res == 0, RFLAGS_ZF) | emu_flag_if(res & emu_msb(size), RFLAGS_SF) |
	       emu_flag_if(!__builtin_parity((unsigned)(res & 0xff)), RFLAGS_PF);
}

/* All six flags of res = a + b + carry_in. The carry out of the top bit is the majority of
 * the two top operand bits and the carry into it (a ^ b ^ res), which the formula folds. */
static inline uint64_t emu_flags_add(uint64_t a, uint64_t b, uint64_t res, unsigned size)
{
	uint64_t msb = emu_msb(size);
	return emu_flags_szp(res, size) |
	       emu_flag_if(((a & b) | ((a | b) & ~res)) & msb, RFLAGS_CF) |
	       emu_flag_if((a ^ b ^ res) & 0x10, RFLAGS_AF) |
	       emu_flag_if((a ^ res) & (b ^ res) & msb, RFLAGS_OF);
}

/* All six flags of res = a - b - borrow_in (the borrow out mirrors the carry above). */
static inline uint64_t emu_flags_sub(uint64_t a, uint64_t b, uint64_t res, unsigned size)
{
	uint64_t msb = emu_msb(size);
	return emu_flags_szp(res, size) |
	       emu_flag_if(((~a & b) | ((~a | b) & res)) & msb, RFLAGS_CF) |
	       emu_flag_if((a ^ b ^ res) & 0x10, RFLAGS_AF) |
	       emu_flag_if((a ^ b) & (a ^ res) & msb, RFLAGS_OF);
}

/* AND/OR/XOR/TEST: CF = OF = 0, AF undefined (0 on Intel). */
static inline uint64_t emu_flags_logic(uint64_t res, unsigned size)
{
	return emu_flags_szp(res, size);
}

/* ---- the two-operand ALU ------------------------------------------------------------------ */

/* In the order of the 00-3F opcode rows (ModRM.reg of 80-83), then the rest. */
enum emu_alu_op {
	EMU_ALU_ADD,
	EMU_ALU_OR,
	EMU_ALU_ADC,
	EMU_ALU_SBB,
	EMU_ALU_AND,
	EMU_ALU_SUB,
	EMU_ALU_XOR,
	EMU_ALU_CMP,
	EMU_ALU_TEST,
	EMU_ALU_INC, /* b ignored; CF kept */
	EMU_ALU_DEC, /* b ignored; CF kept */
	EMU_ALU_NEG, /* b ignored: 0 - a */
	EMU_ALU_NOT, /* b ignored; no flags */
};

/* a op b at `size`: returns the result (CMP: the difference, TEST: the AND) and updates the
 * arithmetic flags in *rflags (ADC/SBB take their carry from it). */
static inline uint64_t emu_alu(enum emu_alu_op op, uint64_t a, uint64_t b, unsigned size,
			       uint64_t *rflags)
{
	uint64_t m = emu_mask(size), cf = *rflags & RFLAGS_CF, res, f;
	a &= m;
	b &= m;
	switch (op) {
	case EMU_ALU_ADD:
	case EMU_ALU_ADC:
		res = (a + b + (op == EMU_ALU_ADC ? cf : 0)) & m;
		f = emu_flags_add(a, b, res, size);
		break;
	case EMU_ALU_SUB:
	case EMU_ALU_SBB:
	case EMU_ALU_CMP:
		res = (a - b - (op == EMU_ALU_SBB ? cf : 0)) & m;
		f = emu_flags_sub(a, b, res, size);
		break;
	case EMU_ALU_INC:
		res = (a + 1) & m;
		f = (emu_flags_add(a, 1, res, size) & ~RFLAGS_CF) | cf;
		break;
	case EMU_ALU_DEC:
		res = (a - 1) & m;
		f = (emu_flags_sub(a, 1, res, size) & ~RFLAGS_CF) | cf;
		break;
	case EMU_ALU_NEG:
		res = (0 - a) & m;
		f = emu_flags_sub(0, a, res, size);
		break;
	case EMU_ALU_NOT:
		return ~a & m;
	case EMU_ALU_OR:
		res = a | b;
		f = emu_flags_logic(res, size);
		break;
	case EMU_ALU_XOR:
		res = a ^ b;
		f = emu_flags_logic(res, size);
		break;
	default: /* AND, TEST */
		res = a & b;
		f = emu_flags_logic(res, size);
		break;
	}
	*rflags = emu_flags_merge(*rflags, f, RFLAGS_ARITH);
	return res;
}

/* ---- shifts and rotates ------------------------------------------------------------------- */

/* In the order of ModRM.reg of C0/C1/D0-D3 (SAL, /6, is SHL). */
enum emu_shift_op {
	EMU_SHIFT_ROL,
	EMU_SHIFT_ROR,
	EMU_SHIFT_RCL,
	EMU_SHIFT_RCR,
	EMU_SHIFT_SHL,
	EMU_SHIFT_SHR,
	EMU_SHIFT_SAL,
	EMU_SHIFT_SAR,
};

/* The count as the hardware uses it: 5 bits, 6 for 64-bit operands. */
static inline unsigned emu_shift_count(uint64_t count, unsigned size)
{
	return (unsigned)count & (size == 8 ? 0x3f : 0x1f);
}

static inline uint64_t emu_bit_flag(uint64_t v, unsigned bit, uint64_t flag)
{
	return emu_flag_if((v >> bit) & 1, flag);
}

/* OF of the right shifts and rotates: the two top bits of the result differ (for a 1-bit
 * shift this is the sign change the SDM defines). */
static inline uint64_t emu_flags_of_top2(uint64_t res, unsigned bits)
{
	return emu_flag_if(((res >> (bits - 1)) ^ (res >> (bits - 2))) & 1, RFLAGS_OF);
}

/* Rotates through CF: a (bits + 1)-bit rotate of CF:a left by t (0 < t <= bits). */
static inline uint64_t emu_rcl(uint64_t a, unsigned t, unsigned bits, uint64_t *cf)
{
	unsigned __int128 v = ((unsigned __int128)(*cf ? 1 : 0) << bits) | a;
	unsigned __int128 w = (((unsigned __int128)1) << (bits + 1)) - 1;
	v = ((v << t) | (v >> (bits + 1 - t))) & w;
	*cf = (uint64_t)(v >> bits) & 1;
	return (uint64_t)v & emu_mask(bits / 8);
}

/* The rotates: ROL/ROR change only CF and OF, RCL/RCR rotate through CF. `c` is the masked
 * count, non-zero. */
static inline uint64_t emu_rotate(enum emu_shift_op op, uint64_t a, unsigned c, unsigned size,
				  uint64_t *rflags)
{
	unsigned bits = size * 8;
	uint64_t res, cf = *rflags & RFLAGS_CF, of;
	if (op == EMU_SHIFT_ROL || op == EMU_SHIFT_ROR) {
		unsigned t = c % bits;
		if (op == EMU_SHIFT_ROR)
			t = (bits - t) % bits;
		res = t ? ((a << t) | (a >> (bits - t))) & emu_mask(size) : a;
		if (op == EMU_SHIFT_ROL) {
			cf = res & 1;
			of = emu_flag_if(((res >> (bits - 1)) ^ cf) & 1, RFLAGS_OF);
		} else {
			cf = (res >> (bits - 1)) & 1;
			of = emu_flags_of_top2(res, bits);
		}
	} else {
		/* 8- and 16-bit operands rotate modulo 9 and 17; a rotate by a multiple of that
		 * changes nothing, not even the flags. */
		unsigned t = bits < 32 ? c % (bits + 1) : c;
		if (t == 0)
			return a;
		if (op == EMU_SHIFT_RCR)
			t = bits + 1 - t;
		res = emu_rcl(a, t, bits, &cf);
		if (op == EMU_SHIFT_RCL)
			of = emu_flag_if(((res >> (bits - 1)) ^ cf) & 1, RFLAGS_OF);
		else
			of = emu_flags_of_top2(res, bits);
	}
	*rflags = emu_flags_merge(*rflags, (cf ? RFLAGS_CF : 0) | of, RFLAGS_CF | RFLAGS_OF);
	return res;
}

/* a shifted or rotated by `count` (the raw count operand: masked here). A masked count of 0
 * leaves the value and the flags alone. */
static inline uint64_t emu_shift(enum emu_shift_op op, uint64_t a, uint64_t count, unsigned size,
				 uint64_t *rflags)
{
	unsigned bits = size * 8, c = emu_shift_count(count, size);
	uint64_t res, f;
	a &= emu_mask(size);
	if (c == 0)
		return a;
	switch (op) {
	case EMU_SHIFT_SHL:
	case EMU_SHIFT_SAL:
		/* c < 64, and a << c loses nothing the result needs for sizes below 8. */
		res = (a << c) & emu_mask(size);
		f = c <= bits ? emu_bit_flag(a, bits - c, RFLAGS_CF) : 0;
		f |= emu_flag_if(((res >> (bits - 1)) & 1) ^ (f != 0), RFLAGS_OF);
		break;
	case EMU_SHIFT_SHR:
		res = a >> c;
		f = emu_bit_flag(a, c - 1, RFLAGS_CF) | emu_flags_of_top2(res, bits);
		break;
	case EMU_SHIFT_SAR: {
		int64_t s = (int64_t)emu_sext(a, size);
		res = (uint64_t)(s >> c) & emu_mask(size);
		f = emu_bit_flag((uint64_t)s, c - 1, RFLAGS_CF);
		break;
	}
	default:
		return emu_rotate(op, a, c, size, rflags);
	}
	*rflags = emu_flags_merge(*rflags, f | emu_flags_szp(res, size), RFLAGS_ARITH);
	return res;
}

/* SHLD (left) / SHRD: dest shifted by `count` (raw, masked here) with bits of src coming in.
 * The bits stream through a 128-bit concatenation: dest:src for 64-bit operands, and for
 * narrower ones dest:src:dest resp. src:dest:..., which also gives 16-bit counts above 16 the
 * result Intel hardware has. */
static inline uint64_t emu_shift_double(bool left, uint64_t dest, uint64_t src, uint64_t count,
					unsigned size, uint64_t *rflags)
{
	unsigned s = size * 8, c = emu_shift_count(count, size);
	unsigned width = s == 64 ? 128 : 3 * s;
	unsigned __int128 v;
	uint64_t res, f;
	dest &= emu_mask(size);
	src &= emu_mask(size);
	if (c == 0)
		return dest;
	if (left) {
		v = ((unsigned __int128)dest << (width - s)) |
		    ((unsigned __int128)src << (width - 2 * s));
		if (s != 64)
			v |= dest;
		res = (uint64_t)(v >> (width - s - c)) & emu_mask(size);
		f = (uint64_t)(v >> (width - c)) & 1 ? RFLAGS_CF : 0;
		f |= emu_flag_if(((res >> (s - 1)) & 1) ^ (f != 0), RFLAGS_OF);
	} else {
		v = ((unsigned __int128)src << s) | dest;
		if (s != 64)
			v |= (unsigned __int128)dest << (2 * s);
		res = (uint64_t)(v >> c) & emu_mask(size);
		f = (uint64_t)(v >> (c - 1)) & 1 ? RFLAGS_CF : 0;
		f |= emu_flags_of_top2(res, s);
	}
	*rflags = emu_flags_merge(*rflags, f | emu_flags_szp(res, size), RFLAGS_ARITH);
	return res;
}

/* ---- condition codes ---------------------------------------------------------------------- */

/* The condition `cc` (the low 4 bits of the Jcc/SETcc/CMOVcc opcode): the even codes test,
 * the odd ones negate. The eight tests O B Z BE S P L LE are computed as the bits of one byte
 * and cc picks one: no branch on a condition the handler (SETcc, CMOVcc, an unfused Jcc) only
 * knows at run time, which a switch made a jump through a table, mispredicted. */
static inline bool emu_cond(uint64_t rflags, unsigned cc)
{
	unsigned cf = rflags & RFLAGS_CF ? 1 : 0, zf = rflags & RFLAGS_ZF ? 1 : 0;
	unsigned sf = rflags & RFLAGS_SF ? 1 : 0, of = rflags & RFLAGS_OF ? 1 : 0;
	unsigned pf = rflags & RFLAGS_PF ? 1 : 0, lt = sf ^ of;
	unsigned tests =
	    of | cf << 1 | zf << 2 | (cf | zf) << 3 | sf << 4 | pf << 5 | lt << 6 | (zf | lt) << 7;
	return ((tests >> ((cc >> 1) & 7)) ^ cc) & 1;
}

/* The flags every condition but P/NP reads, CF ZF SF OF, as bits 0-3 of an index into a truth
 * table of 16 bits (a fused flag-setter and Jcc, emu_alu.c): a few shifts and masks in place of
 * emu_cond's branches on a condition known only at run time. */
static inline unsigned emu_jcc_index(uint64_t rflags)
{
	return (unsigned)((rflags & RFLAGS_CF) | ((rflags >> 5) & 6) | ((rflags >> 8) & 8));
}

#endif
