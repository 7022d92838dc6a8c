/* The SSE/SSE2/MMX family of the software vCPU: registration of every SSE and MMX mnemonic,
 * and the data moves.
 *
 * The moves are one handler driven by a table: each row says how many bytes move (0: the size
 * of the general-register or memory operand, as for MOVD/MOVQ), whether they come from the
 * upper quadword of a register source (MOVHPS store, MOVHLPS), whether they go to the upper
 * quadword of a register destination (MOVHPS load, MOVLHPS), and whether the rest of a register
 * destination is zeroed (always, never, or only when loading from memory as MOVSS/MOVSD do).
 *
 * The integer SIMD instructions are in emu_sse_int.c, the floating-point ones in
 * emu_sse_fp.c, the state instructions (FXSAVE, LDMXCSR, EMMS, x87 control) in emu_sse_state.c,
 * which emu_register_x87 registers. */
#include <string.h>

#include "vmm/cpu/emu/emu_fpu.h"

enum move_zext { ZX_NEVER, ZX_ALWAYS, ZX_FROM_MEM };

struct move_desc {
	uint16_t mnemonic;
	uint8_t width;
	bool src_hi, dst_hi;
	uint8_t zext;
};

#define MV(m, w, sh, dh, z)                                                                        \
	{                                                                                          \
		ZYDIS_MNEMONIC_##m, w, sh, dh, z                                                   \
	}
static const struct move_desc moves[] = {
    MV(MOVAPS, 16, 0, 0, ZX_ALWAYS),  MV(MOVUPS, 16, 0, 0, ZX_ALWAYS),
    MV(MOVAPD, 16, 0, 0, ZX_ALWAYS),  MV(MOVUPD, 16, 0, 0, ZX_ALWAYS),
    MV(MOVDQA, 16, 0, 0, ZX_ALWAYS),  MV(MOVDQU, 16, 0, 0, ZX_ALWAYS),
    MV(MOVNTPS, 16, 0, 0, ZX_ALWAYS), MV(MOVNTPD, 16, 0, 0, ZX_ALWAYS),
    MV(MOVNTDQ, 16, 0, 0, ZX_ALWAYS), MV(MOVNTQ, 8, 0, 0, ZX_ALWAYS),
    MV(MOVSS, 4, 0, 0, ZX_FROM_MEM),  MV(MOVSD, 8, 0, 0, ZX_FROM_MEM),
    MV(MOVD, 0, 0, 0, ZX_ALWAYS),     MV(MOVQ, 0, 0, 0, ZX_ALWAYS),
    MV(MOVQ2DQ, 8, 0, 0, ZX_ALWAYS),  MV(MOVDQ2Q, 8, 0, 0, ZX_ALWAYS),
    MV(MOVLPS, 8, 0, 0, ZX_NEVER),    MV(MOVLPD, 8, 0, 0, ZX_NEVER),
    MV(MOVHPS, 8, 1, 1, ZX_NEVER),    MV(MOVHPD, 8, 1, 1, ZX_NEVER),
    MV(MOVHLPS, 8, 1, 0, ZX_NEVER),   MV(MOVLHPS, 8, 0, 1, ZX_NEVER),
};

static bool is_simd_reg(const struct emu_opnd *o)
{
	return o->kind == EMU_OPND_REG &&
	       (o->reg_class == EMU_RC_XMM || o->reg_class == EMU_RC_MMX);
}

/* MOVD/MOVQ move the size of their general-register or memory operand; between two SIMD
 * registers a quadword. */
static unsigned move_width(const struct move_desc *m, const struct emu_insn *i)
{
	if (m->width)
		return m->width;
	if (!is_simd_reg(&i->op[0]))
		return i->op[0].size;
	if (!is_simd_reg(&i->op[1]))
		return i->op[1].size;
	return 8;
}

static void h_move(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct move_desc *m = emu_fpu_desc(i);
	const struct emu_opnd *dst = &i->op[0], *src = &i->op[1];
	unsigned width = move_width(m, i);
	union emu_xmm s, d = {0};

	emu_fpu_check_simd(c, i);
	emu_simd_read(c, i, 1, &s);
	const uint8_t *from = s.b + (m->src_hi && is_simd_reg(src) ? 8 : 0);
	if (is_simd_reg(dst)) {
		bool zero =
		    m->zext == ZX_ALWAYS || (m->zext == ZX_FROM_MEM && src->kind == EMU_OPND_MEM);
		if (!zero)
			emu_simd_read(c, i, 0, &d);
		memcpy(d.b + (m->dst_hi ? 8 : 0), from, width);
	} else {
		memcpy(d.b, from, width);
	}
	emu_simd_write(c, i, 0, &d, width);
	if (emu_insn_has_mmx(i))
		emu_mmx_enter(c);
}

/* MOVNTI: a plain store of a general register (SSE2, no CR0/CR4 condition). */
static void h_movnti(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_opnd_write(c, i, 0, emu_opnd_read(c, i, 1));
}

/* MASKMOVDQU / MASKMOVQ: the bytes of op0 whose mask byte in op1 has its top bit set are
 * stored at DS:rDI (the decoder's hidden memory operand, if it passes one, gives the segment
 * override). Stored byte by byte, so the unselected bytes are never written. */
static void h_maskmov(struct emu_cpu *c, const struct emu_insn *i)
{
	union emu_xmm v, mask;
	unsigned bytes = emu_insn_has_mmx(i) ? 8 : 16;
	uint64_t amask = i->addrsize == 8 ? UINT64_MAX : (UINT64_C(1) << (i->addrsize * 8)) - 1;
	unsigned seg = EMU_DS;
	uint64_t base = c->gpr[EMU_RDI] & amask;

	emu_fpu_check_simd(c, i);
	if (i->op[2].kind == EMU_OPND_MEM) {
		seg = i->op[2].seg;
		base = emu_opnd_ea(c, i, 2);
	}
	emu_simd_read(c, i, 0, &v);
	emu_simd_read(c, i, 1, &mask);
	for (unsigned k = 0; k < bytes; k++)
		if (mask.b[k] & 0x80)
			emu_write(c, seg, (base + k) & amask, 1, v.b[k]);
	if (bytes == 8)
		emu_mmx_enter(c);
}

void emu_sse_movsd_cmpsd(struct emu_cpu *c, const struct emu_insn *i)
{
	if (i->mnemonic == ZYDIS_MNEMONIC_MOVSD)
		h_move(c, i);
	else
		emu_sse_fp_exec(c, i);
}

void emu_register_sse(emu_handler_fn *table)
{
	for (size_t k = 0; k < sizeof(moves) / sizeof(moves[0]); k++) {
		/* MOVSD is the string family's mnemonic too: it forwards the SSE form here. */
		bool shared = moves[k].mnemonic == ZYDIS_MNEMONIC_MOVSD;
		emu_fpu_register(shared ? NULL : table, moves[k].mnemonic, h_move, &moves[k]);
	}
	emu_fpu_register(table, ZYDIS_MNEMONIC_MOVNTI, h_movnti, NULL);
	emu_fpu_register(table, ZYDIS_MNEMONIC_MASKMOVDQU, h_maskmov, NULL);
	emu_fpu_register(table, ZYDIS_MNEMONIC_MASKMOVQ, h_maskmov, NULL);
	emu_sse_register_int(table);
	emu_sse_register_fp(table);
}
