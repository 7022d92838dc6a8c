/* State instructions of the software vCPU's FPU: FXSAVE/FXRSTOR, LDMXCSR/STMXCSR, EMMS, and
 * the x87 control instructions (FNINIT, FNCLEX, FLDCW, FNSTCW, FNSTSW, FWAIT, FNOP, FFREE,
 * FINCSTP, FDECSTP, FNSTENV, FLDENV, FNSAVE, FRSTOR).
 *
 * The memory images are laid out by emu_sse_image.c; the handlers read a whole image before
 * changing any state, so a fault part-way leaves the vCPU as it was. The FN* forms do not
 * report pending x87 exceptions; FINIT, FCLEX, FSTCW, FSTSW, FSTENV and FSAVE are decoded as
 * FWAIT followed by the FN* instruction, so they need nothing of their own. */
#include <string.h>

#include "vmm/cpu/emu/emu_fpu.h"

static bool in_64bit_mode(const struct emu_cpu *c)
{
	return c->mode == EMU_MODE_64;
}

/* FXSAVE/FXRSTOR: #NM with CR0.EM or CR0.TS; the area must be 16-byte aligned. */
static uint64_t fx_area(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t ea = emu_opnd_ea(c, i, 0);

	if (c->cr0 & (CR0_EM | CR0_TS))
		emu_raise(c, EMU_NM, EMU_NO_ERROR_CODE);
	emu_fpu_check_align(c, i->op[0].seg, ea, FXSAVE_SIZE);
	return ea;
}

static void h_fxsave(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t ea = fx_area(c, i);
	unsigned nxmm = in_64bit_mode(c) ? 16 : 8;
	uint8_t img[FXSAVE_SIZE];

	fpu_fxsave_image(&c->fpu, img, i->mnemonic == ZYDIS_MNEMONIC_FXSAVE64, nxmm);
	emu_write_bytes(c, i->op[0].seg, ea, img, 160 + 16 * nxmm);
}

static void h_fxrstor(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t ea = fx_area(c, i);
	unsigned nxmm = in_64bit_mode(c) ? 16 : 8;
	uint8_t img[FXSAVE_SIZE];
	uint32_t mxcsr;

	emu_read_bytes(c, i->op[0].seg, ea, img, FXSAVE_USED);
	memcpy(&mxcsr, img + 24, 4);
	if (mxcsr & ~MXCSR_WRITABLE)
		emu_raise_gp0(c);
	fpu_fxrstor_image(&c->fpu, img, i->mnemonic == ZYDIS_MNEMONIC_FXRSTOR64, nxmm);
}

static void h_ldmxcsr(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_fpu_check_sse(c);
	uint32_t v = (uint32_t)emu_opnd_read(c, i, 0);
	if (v & ~MXCSR_WRITABLE)
		emu_raise_gp0(c);
	c->fpu.mxcsr = v;
}

static void h_stmxcsr(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_fpu_check_sse(c);
	emu_opnd_write(c, i, 0, c->fpu.mxcsr);
}

/* EMMS: an MMX instruction (EM -> #UD, TS -> #NM, pending x87 exception -> #MF) that empties
 * the x87 tags. */
static void h_emms(struct emu_cpu *c, const struct emu_insn *i)
{
	if (c->cr0 & CR0_EM)
		emu_raise_ud(c);
	emu_fpu_check_x87(c, true);
	c->fpu.ftw = 0;
}

/* ---- x87 control -------------------------------------------------------------------------- */

static void x87_init(struct emu_fpu *f)
{
	f->fcw = FCW_INIT;
	f->fsw = 0;
	f->ftw = 0;
	f->fop = 0;
	f->fip = 0;
	f->fdp = 0;
}

static void h_fninit(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_fpu_check_x87(c, false);
	x87_init(&c->fpu);
}

static void h_fnclex(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_fpu_check_x87(c, false);
	c->fpu.fsw &= (uint16_t) ~(FSW_EXC | FSW_SF | FSW_ES | FSW_B);
}

/* ES (and B) summarize the exception flags that the control word leaves unmasked. */
static void x87_update_es(struct emu_fpu *f)
{
	if (f->fsw & ~f->fcw & FSW_EXC)
		f->fsw |= FSW_ES | FSW_B;
	else
		f->fsw &= (uint16_t) ~(FSW_ES | FSW_B);
}

static void h_fldcw(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_fpu_check_x87(c, true);
	c->fpu.fcw = (uint16_t)emu_opnd_read(c, i, 0);
	x87_update_es(&c->fpu);
}

static void h_fnstcw(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_fpu_check_x87(c, false);
	emu_opnd_write(c, i, 0, c->fpu.fcw);
}

static void h_fnstsw(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_fpu_check_x87(c, false);
	emu_opnd_write(c, i, 0, c->fpu.fsw);
}

/* FWAIT: #NM only when both CR0.MP and CR0.TS are set; reports pending exceptions. */
static void h_fwait(struct emu_cpu *c, const struct emu_insn *i)
{
	if ((c->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
		emu_raise(c, EMU_NM, EMU_NO_ERROR_CODE);
	if ((c->fpu.fsw & FSW_ES) && (c->cr0 & CR0_NE))
		emu_raise(c, EMU_MF, EMU_NO_ERROR_CODE);
}

static void h_fnop(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_fpu_check_x87(c, true);
	c->fpu.fip = c->insn_rip;
}

/* FFREE ST(i) empties the register; FFREEP also pops. */
static void h_ffree(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_fpu_check_x87(c, true);
	c->fpu.ftw &= (uint8_t) ~(1u << x87_phys(c, i->op[0].reg));
	if (i->mnemonic == ZYDIS_MNEMONIC_FFREEP) {
		c->fpu.ftw &= (uint8_t) ~(1u << x87_phys(c, 0));
		x87_set_top(c, x87_top(c) + 1);
	}
	c->fpu.fip = c->insn_rip;
}

/* FINCSTP / FDECSTP rotate TOP without touching the tags; C1 is cleared. */
static void h_fincdecstp(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_fpu_check_x87(c, true);
	x87_set_top(c, x87_top(c) + (i->mnemonic == ZYDIS_MNEMONIC_FINCSTP ? 1 : 7));
	c->fpu.fsw &= (uint16_t)~FSW_C1;
	c->fpu.fip = c->insn_rip;
}

/* The environment's format follows the operand size: 14 bytes for 16-bit, else 28. */
static bool env16(const struct emu_insn *i)
{
	return i->opsize == 2;
}

/* FNSTENV masks every exception after storing, as the hardware does. */
static void h_fnstenv(struct emu_cpu *c, const struct emu_insn *i)
{
	uint8_t env[28];

	emu_fpu_check_x87(c, false);
	fpu_env_image(&c->fpu, env, env16(i));
	emu_write_bytes(c, i->op[0].seg, emu_opnd_ea(c, i, 0), env, fpu_env_size(env16(i)));
	c->fpu.fcw |= FSW_EXC;
}

static void h_fldenv(struct emu_cpu *c, const struct emu_insn *i)
{
	uint8_t env[28];

	emu_fpu_check_x87(c, true);
	emu_read_bytes(c, i->op[0].seg, emu_opnd_ea(c, i, 0), env, fpu_env_size(env16(i)));
	fpu_env_load(&c->fpu, env, env16(i));
}

static void h_fnsave(struct emu_cpu *c, const struct emu_insn *i)
{
	uint8_t img[108];

	emu_fpu_check_x87(c, false);
	fpu_save_image(&c->fpu, img, env16(i));
	emu_write_bytes(c, i->op[0].seg, emu_opnd_ea(c, i, 0), img, fpu_env_size(env16(i)) + 80);
	x87_init(&c->fpu);
}

static void h_frstor(struct emu_cpu *c, const struct emu_insn *i)
{
	uint8_t img[108];

	emu_fpu_check_x87(c, true);
	emu_read_bytes(c, i->op[0].seg, emu_opnd_ea(c, i, 0), img, fpu_env_size(env16(i)) + 80);
	fpu_restore_image(&c->fpu, img, env16(i));
}

static const struct {
	uint16_t mnemonic;
	emu_handler_fn fn;
} state_ops[] = {
    {ZYDIS_MNEMONIC_FXSAVE, h_fxsave},	    {ZYDIS_MNEMONIC_FXSAVE64, h_fxsave},
    {ZYDIS_MNEMONIC_FXRSTOR, h_fxrstor},    {ZYDIS_MNEMONIC_FXRSTOR64, h_fxrstor},
    {ZYDIS_MNEMONIC_LDMXCSR, h_ldmxcsr},    {ZYDIS_MNEMONIC_STMXCSR, h_stmxcsr},
    {ZYDIS_MNEMONIC_EMMS, h_emms},	    {ZYDIS_MNEMONIC_FNINIT, h_fninit},
    {ZYDIS_MNEMONIC_FNCLEX, h_fnclex},	    {ZYDIS_MNEMONIC_FLDCW, h_fldcw},
    {ZYDIS_MNEMONIC_FNSTCW, h_fnstcw},	    {ZYDIS_MNEMONIC_FNSTSW, h_fnstsw},
    {ZYDIS_MNEMONIC_FWAIT, h_fwait},	    {ZYDIS_MNEMONIC_FNOP, h_fnop},
    {ZYDIS_MNEMONIC_FFREE, h_ffree},	    {ZYDIS_MNEMONIC_FFREEP, h_ffree},
    {ZYDIS_MNEMONIC_FINCSTP, h_fincdecstp}, {ZYDIS_MNEMONIC_FDECSTP, h_fincdecstp},
    {ZYDIS_MNEMONIC_FNSTENV, h_fnstenv},    {ZYDIS_MNEMONIC_FLDENV, h_fldenv},
    {ZYDIS_MNEMONIC_FNSAVE, h_fnsave},	    {ZYDIS_MNEMONIC_FRSTOR, h_frstor},
};

void emu_sse_register_state(emu_handler_fn *table)
{
	for (size_t k = 0; k < sizeof(state_ops) / sizeof(state_ops[0]); k++)
		emu_fpu_register(table, state_ops[k].mnemonic, state_ops[k].fn, NULL);
}
