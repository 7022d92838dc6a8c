/* Integer SIMD instructions of the software vCPU (MMX and SSE2 forms) and the bitwise
 * floating-point ones (ANDPS ... XORPD, which are the same bit operations).
 *
 * One handler serves them all: it reads the destination and the source (register, memory or
 * an immediate count) into 16-byte values, applies the shape the mnemonic's table row names
 * (lane-wise op, shift, unpack, pack, shuffle, sign mask, word insert/extract; the shapes are
 * in emu_sse_lanes.c) over 8 bytes for MMX or 16 for XMM, and writes the destination. */
#include <string.h>

#include "vmm/cpu/emu/emu_fpu.h"

enum int_shape {
	S_LANES,  /* arg = enum simd_lane_op */
	S_SHIFT,  /* arg = enum simd_shift */
	S_BSHIFT, /* PSLLDQ/PSRLDQ: arg = left */
	S_UNPACK, /* arg = high half */
	S_PACK,	  /* arg = unsigned saturation */
	S_SHUF4,  /* arg = base byte */
	S_SHUFP,
	S_MSB, /* PMOVMSKB, MOVMSKPS/PD: to a general register */
	S_PEXTRW,
	S_PINSRW,
};

struct int_desc {
	uint16_t mnemonic;
	uint8_t shape, width, arg;
};

#define L(m, w, op)                                                                                \
	{                                                                                          \
		ZYDIS_MNEMONIC_##m, S_LANES, w, LANE_##op                                          \
	}
#define SH(m, w, kind)                                                                             \
	{                                                                                          \
		ZYDIS_MNEMONIC_##m, S_SHIFT, w, SHIFT_##kind                                       \
	}
#define X(m, shape, w, a)                                                                          \
	{                                                                                          \
		ZYDIS_MNEMONIC_##m, shape, w, a                                                    \
	}
static const struct int_desc int_ops[] = {
    L(PADDB, 1, ADD),
    L(PADDW, 2, ADD),
    L(PADDD, 4, ADD),
    L(PADDQ, 8, ADD),
    L(PSUBB, 1, SUB),
    L(PSUBW, 2, SUB),
    L(PSUBD, 4, SUB),
    L(PSUBQ, 8, SUB),
    L(PADDSB, 1, ADDS),
    L(PADDSW, 2, ADDS),
    L(PADDUSB, 1, ADDUS),
    L(PADDUSW, 2, ADDUS),
    L(PSUBSB, 1, SUBS),
    L(PSUBSW, 2, SUBS),
    L(PSUBUSB, 1, SUBUS),
    L(PSUBUSW, 2, SUBUS),
    L(PCMPEQB, 1, CMPEQ),
    L(PCMPEQW, 2, CMPEQ),
    L(PCMPEQD, 4, CMPEQ),
    L(PCMPGTB, 1, CMPGT),
    L(PCMPGTW, 2, CMPGT),
    L(PCMPGTD, 4, CMPGT),
    L(PMULLW, 2, MULLO),
    L(PMULHW, 2, MULHI),
    L(PMULHUW, 2, MULHU),
    L(PMULUDQ, 8, MULUDQ),
    L(PMADDWD, 4, MADD),
    L(PSADBW, 8, SAD),
    L(PAVGB, 1, AVG),
    L(PAVGW, 2, AVG),
    L(PMINUB, 1, MINU),
    L(PMAXUB, 1, MAXU),
    L(PMINSW, 2, MINS),
    L(PMAXSW, 2, MAXS),
    L(PAND, 8, AND),
    L(PANDN, 8, ANDN),
    L(POR, 8, OR),
    L(PXOR, 8, XOR),
    L(ANDPS, 8, AND),
    L(ANDPD, 8, AND),
    L(ANDNPS, 8, ANDN),
    L(ANDNPD, 8, ANDN),
    L(ORPS, 8, OR),
    L(ORPD, 8, OR),
    L(XORPS, 8, XOR),
    L(XORPD, 8, XOR),
    SH(PSLLW, 2, LEFT),
    SH(PSLLD, 4, LEFT),
    SH(PSLLQ, 8, LEFT),
    SH(PSRLW, 2, RIGHT),
    SH(PSRLD, 4, RIGHT),
    SH(PSRLQ, 8, RIGHT),
    SH(PSRAW, 2, ARITH),
    SH(PSRAD, 4, ARITH),
    X(PSLLDQ, S_BSHIFT, 1, 1),
    X(PSRLDQ, S_BSHIFT, 1, 0),
    X(PUNPCKLBW, S_UNPACK, 1, 0),
    X(PUNPCKLWD, S_UNPACK, 2, 0),
    X(PUNPCKLDQ, S_UNPACK, 4, 0),
    X(PUNPCKLQDQ, S_UNPACK, 8, 0),
    X(PUNPCKHBW, S_UNPACK, 1, 1),
    X(PUNPCKHWD, S_UNPACK, 2, 1),
    X(PUNPCKHDQ, S_UNPACK, 4, 1),
    X(PUNPCKHQDQ, S_UNPACK, 8, 1),
    X(UNPCKLPS, S_UNPACK, 4, 0),
    X(UNPCKHPS, S_UNPACK, 4, 1),
    X(UNPCKLPD, S_UNPACK, 8, 0),
    X(UNPCKHPD, S_UNPACK, 8, 1),
    X(PACKSSWB, S_PACK, 2, 0),
    X(PACKSSDW, S_PACK, 4, 0),
    X(PACKUSWB, S_PACK, 2, 1),
    X(PSHUFD, S_SHUF4, 4, 0),
    X(PSHUFLW, S_SHUF4, 2, 0),
    X(PSHUFHW, S_SHUF4, 2, 8),
    X(PSHUFW, S_SHUF4, 2, 0),
    X(SHUFPS, S_SHUFP, 4, 0),
    X(SHUFPD, S_SHUFP, 8, 0),
    X(PMOVMSKB, S_MSB, 1, 0),
    X(MOVMSKPS, S_MSB, 4, 0),
    X(MOVMSKPD, S_MSB, 8, 0),
    X(PEXTRW, S_PEXTRW, 2, 0),
    X(PINSRW, S_PINSRW, 2, 0),
};

/* The shapes that compute the destination from d (the destination's value) and s. */
static void apply(const struct int_desc *o, union emu_xmm *d, const union emu_xmm *s,
		  unsigned bytes, uint8_t imm)
{
	unsigned lanes = bytes / o->width;

	switch (o->shape) {
	case S_LANES:
		simd_lanes(d, s, bytes, o->width, o->arg);
		break;
	case S_SHIFT:
		simd_shift(d, bytes, o->width, o->arg, s->q[0]);
		break;
	case S_BSHIFT:
		simd_shift_bytes(d, o->arg, (unsigned)(s->q[0] & 0xff));
		break;
	case S_UNPACK:
		simd_unpack(d, s, bytes, o->width, o->arg);
		break;
	case S_PACK:
		simd_pack(d, s, bytes, o->width, o->arg);
		break;
	case S_SHUF4:
		*d = *s;
		simd_shuffle4(d, s, o->arg, o->width, imm);
		break;
	case S_SHUFP:
		simd_shufp(d, s, o->width, imm);
		break;
	case S_MSB:
		d->q[0] = simd_msb_mask(s, bytes, o->width);
		d->q[1] = 0;
		break;
	case S_PEXTRW:
		d->q[0] = s->w[imm & (lanes - 1)];
		d->q[1] = 0;
		break;
	case S_PINSRW:
		d->w[imm & (lanes - 1)] = s->w[0];
		break;
	}
}

static void h_int(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct int_desc *o = emu_fpu_desc(i);
	bool mmx = emu_insn_has_mmx(i);
	unsigned bytes = mmx ? 8 : 16;
	uint8_t imm = i->nopnd > 2 ? (uint8_t)i->op[2].disp : 0;
	union emu_xmm d, s;

	emu_fpu_check_simd(c, i);
	emu_simd_read(c, i, 1, &s);
	if (i->op[1].kind == EMU_OPND_IMM)
		s.q[0] &= 0xff; /* shift counts are an unsigned imm8 */
	emu_simd_read(c, i, 0, &d);
	apply(o, &d, &s, bytes, imm);
	emu_simd_write(c, i, 0, &d, bytes);
	if (mmx)
		emu_mmx_enter(c);
}

void emu_sse_register_int(emu_handler_fn *table)
{
	for (size_t k = 0; k < sizeof(int_ops) / sizeof(int_ops[0]); k++)
		emu_fpu_register(table, int_ops[k].mnemonic, h_int, &int_ops[k]);
}
