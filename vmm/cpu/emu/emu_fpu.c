/* Services shared by the software vCPU's x87, MMX and SSE handlers: registration with a
 * per-mnemonic descriptor, the availability checks of CR0/CR4, operand access for 8- and
 * 16-byte registers and memory, the MMX view of the x87 registers, and the x87 stack.
 *
 * Handlers of one shape serve many mnemonics: each registers a descriptor (a table row) next
 * to its handler, and the handler finds its row with emu_fpu_desc(), one array index. */
#include <string.h>

#include "vmm/cpu/emu/emu_fpu.h"

static const void *fpu_desc[ZYDIS_MNEMONIC_MAX_VALUE + 1];

void emu_fpu_register(emu_handler_fn *table, unsigned mnemonic, emu_handler_fn fn, const void *desc)
{
	if (table)
		table[mnemonic] = fn;
	fpu_desc[mnemonic] = desc;
}

const void *emu_fpu_desc(const struct emu_insn *i)
{
	return fpu_desc[i->mnemonic];
}

/* ---- availability ------------------------------------------------------------------------- */

static bool insn_has_class(const struct emu_insn *i, unsigned reg_class)
{
	for (unsigned n = 0; n < i->nopnd; n++)
		if (i->op[n].kind == EMU_OPND_REG && i->op[n].reg_class == reg_class)
			return true;
	return false;
}

bool emu_insn_has_mmx(const struct emu_insn *i)
{
	return insn_has_class(i, EMU_RC_MMX);
}

/* A pending unmasked x87 exception is reported by the next waiting instruction: #MF with
 * CR0.NE; without it the hardware signals FERR# to an external interrupt controller, which
 * this machine does not model, so the instruction simply proceeds. */
static void check_pending(struct emu_cpu *c)
{
	if ((c->fpu.fsw & FSW_ES) && (c->cr0 & CR0_NE))
		emu_raise(c, EMU_MF, EMU_NO_ERROR_CODE);
}

void emu_fpu_check_sse(struct emu_cpu *c)
{
	if ((c->cr0 & CR0_EM) || !(c->cr4 & CR4_OSFXSR))
		emu_raise_ud(c);
	if (c->cr0 & CR0_TS)
		emu_raise(c, EMU_NM, EMU_NO_ERROR_CODE);
}

void emu_fpu_check_x87(struct emu_cpu *c, bool waiting)
{
	if (c->cr0 & (CR0_EM | CR0_TS))
		emu_raise(c, EMU_NM, EMU_NO_ERROR_CODE);
	if (waiting)
		check_pending(c);
}

/* MMX forms: CR0.EM is #UD (not #NM as for x87); XMM operands also need CR4.OSFXSR; an MMX
 * operand makes the instruction report pending x87 exceptions. */
void emu_fpu_check_simd(struct emu_cpu *c, const struct emu_insn *i)
{
	bool mmx = emu_insn_has_mmx(i);

	if (!mmx || insn_has_class(i, EMU_RC_XMM)) {
		emu_fpu_check_sse(c);
	} else {
		if (c->cr0 & CR0_EM)
			emu_raise_ud(c);
		if (c->cr0 & CR0_TS)
			emu_raise(c, EMU_NM, EMU_NO_ERROR_CODE);
	}
	if (mmx)
		check_pending(c);
}

_Noreturn void emu_raise_xm(struct emu_cpu *c)
{
	if (c->cr4 & CR4_OSXMMEXCPT)
		emu_raise(c, EMU_XM, EMU_NO_ERROR_CODE);
	emu_raise_ud(c);
}

/* ---- x87 registers and their MMX view ----------------------------------------------------- */

void x87_get(const struct emu_cpu *c, unsigned i, f80 *v)
{
	memcpy(v->b, c->fpu.st[x87_phys(c, i)], sizeof(v->b));
}

void x87_set(struct emu_cpu *c, unsigned i, const f80 *v)
{
	unsigned r = x87_phys(c, i);

	memcpy(c->fpu.st[r], v->b, sizeof(v->b));
	c->fpu.ftw |= 1u << r;
}

void x87_set_top(struct emu_cpu *c, unsigned top)
{
	c->fpu.fsw = (uint16_t)((c->fpu.fsw & ~FSW_TOP) | ((top & 7) << FSW_TOP_SHIFT));
}

void emu_mmx_enter(struct emu_cpu *c)
{
	x87_set_top(c, 0);
	c->fpu.ftw = 0xff;
}

/* An MMX write fills the register's exponent and sign with ones, so that x87 code sees a NaN
 * or infinity rather than a plausible number. */
static void mmx_write(struct emu_cpu *c, unsigned reg, uint64_t v)
{
	memcpy(c->fpu.st[reg], &v, 8);
	c->fpu.st[reg][8] = 0xff;
	c->fpu.st[reg][9] = 0xff;
}

/* ---- operands ----------------------------------------------------------------------------- */

/* Legacy SSE instructions fault on a misaligned 16-byte memory operand, except the unaligned
 * moves. */
static bool needs_alignment(const struct emu_insn *i, unsigned size)
{
	switch (i->mnemonic) {
	case ZYDIS_MNEMONIC_MOVUPS:
	case ZYDIS_MNEMONIC_MOVUPD:
	case ZYDIS_MNEMONIC_MOVDQU:
		return false;
	default:
		return size == 16;
	}
}

void emu_fpu_check_align(struct emu_cpu *c, unsigned seg, uint64_t offset, unsigned size)
{
	if (emu_linear(c, seg, offset, size) & 15)
		emu_raise_gp0(c);
}

/* Sizes 1, 2, 4 and 8 go through emu_read/emu_write as one access of that width, so that an
 * aligned MOVQ stays single-copy atomic as on the hardware. */
void emu_fpu_mem_read(struct emu_cpu *c, const struct emu_insn *i, unsigned n, void *out,
		      unsigned size)
{
	const struct emu_opnd *o = &i->op[n];
	uint64_t ea = emu_opnd_ea(c, i, n);

	if (needs_alignment(i, size))
		emu_fpu_check_align(c, o->seg, ea, size);
	if (size == 1 || size == 2 || size == 4 || size == 8) {
		uint64_t v = emu_read(c, o->seg, ea, size);
		memcpy(out, &v, size);
	} else {
		emu_read_bytes(c, o->seg, ea, out, size);
	}
}

void emu_fpu_mem_write(struct emu_cpu *c, const struct emu_insn *i, unsigned n, const void *in,
		       unsigned size)
{
	const struct emu_opnd *o = &i->op[n];
	uint64_t ea = emu_opnd_ea(c, i, n);

	if (needs_alignment(i, size))
		emu_fpu_check_align(c, o->seg, ea, size);
	if (size == 1 || size == 2 || size == 4 || size == 8) {
		uint64_t v = 0;
		memcpy(&v, in, size);
		emu_write(c, o->seg, ea, size, v);
	} else {
		emu_write_bytes(c, o->seg, ea, in, size);
	}
}

void emu_simd_read(struct emu_cpu *c, const struct emu_insn *i, unsigned n, union emu_xmm *v)
{
	const struct emu_opnd *o = &i->op[n];

	memset(v, 0, sizeof(*v));
	switch (o->kind) {
	case EMU_OPND_REG:
		if (o->reg_class == EMU_RC_XMM)
			*v = c->fpu.xmm[o->reg];
		else if (o->reg_class == EMU_RC_MMX)
			memcpy(v->b, c->fpu.st[o->reg], 8);
		else
			v->q[0] = emu_opnd_read(c, i, n);
		break;
	case EMU_OPND_MEM:
		emu_fpu_mem_read(c, i, n, v->b, o->size > 16 ? 16 : o->size);
		break;
	case EMU_OPND_IMM:
		v->q[0] = (uint64_t)o->disp;
		break;
	}
}

void emu_simd_write(struct emu_cpu *c, const struct emu_insn *i, unsigned n, const union emu_xmm *v,
		    unsigned size)
{
	const struct emu_opnd *o = &i->op[n];

	if (o->kind == EMU_OPND_MEM)
		emu_fpu_mem_write(c, i, n, v->b, size);
	else if (o->reg_class == EMU_RC_XMM)
		c->fpu.xmm[o->reg] = *v;
	else if (o->reg_class == EMU_RC_MMX)
		mmx_write(c, o->reg, v->q[0]);
	else
		emu_opnd_write(c, i, n, v->q[0]);
}
