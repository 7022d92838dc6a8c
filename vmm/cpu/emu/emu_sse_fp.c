/* SSE/SSE2 floating-point instructions of the software vCPU: arithmetic, compares,
 * COMISS/UCOMISS/COMISD/UCOMISD and conversions.
 *
 * One handler: it reads the destination and source into struct sse_fp_args, runs the host's
 * instruction for the mnemonic under the guest's MXCSR (emu_sse_host.c), merges the exception
 * flags the host raised into the guest's MXCSR and, if one of them is unmasked, raises #XM
 * (#UD without CR4.OSXMMEXCPT) leaving the destination as it was, as the hardware does.
 * When an unmasked invalid, denormal or divide-by-zero exception occurs the hardware does not
 * go on to detect overflow, underflow or precision, so those flags are dropped then.
 *
 * Known differences, with OE or UE unmasked only: the host runs with them masked, where an
 * exact tiny result raises no UE (the guest expects UE and #XM), and PE reflects the rounding
 * of the bounded result rather than of the exponent-unbounded one the hardware reports. */
#include <string.h>

#include "vmm/cpu/emu/emu_fpu.h"

/* Size of the general-register (or its memory stand-in) operand of the conversions. */
static uint8_t int_size(const struct emu_insn *i)
{
	for (unsigned n = 0; n < 2; n++) {
		const struct emu_opnd *o = &i->op[n];
		if (o->kind == EMU_OPND_REG && o->reg_class == EMU_RC_GPR)
			return o->size;
	}
	return i->opsize == 8 ? 8 : 4;
}

static void commit_flags(struct emu_cpu *c, uint32_t raised)
{
	uint32_t unmasked = raised & ~(c->fpu.mxcsr >> MXCSR_MASK_SHIFT) & MXCSR_FLAGS;

	if (unmasked & (MXCSR_IE | MXCSR_DE | MXCSR_ZE))
		raised &= MXCSR_IE | MXCSR_DE | MXCSR_ZE;
	c->fpu.mxcsr |= raised;
	if (unmasked)
		emu_raise_xm(c);
}

static void fp_compute(struct emu_cpu *c, const struct emu_insn *i, struct sse_fp_args *a)
{
	sse_fp_fn fn = (sse_fp_fn)emu_fpu_desc(i);

	emu_fpu_check_simd(c, i);
	memset(a, 0, sizeof(*a));
	emu_simd_read(c, i, 1, &a->s);
	emu_simd_read(c, i, 0, &a->d);
	a->imm = i->nopnd > 2 ? (uint8_t)i->op[2].disp : 0;
	a->int_size = int_size(i);
	commit_flags(c, sse_fp_run(c->fpu.mxcsr, fn, a));
}

void emu_sse_fp_exec(struct emu_cpu *c, const struct emu_insn *i)
{
	struct sse_fp_args a;

	fp_compute(c, i, &a);
	if (i->op[0].kind == EMU_OPND_REG && i->op[0].reg_class == EMU_RC_GPR)
		emu_opnd_write(c, i, 0, a.gpr);
	else
		emu_simd_write(c, i, 0, &a.d, 16);
	if (emu_insn_has_mmx(i))
		emu_mmx_enter(c);
}

/* COMISS and friends: ZF, PF, CF from the compare; OF, SF, AF cleared. */
static void h_comi(struct emu_cpu *c, const struct emu_insn *i)
{
	struct sse_fp_args a;

	fp_compute(c, i, &a);
	c->rflags = (c->rflags & ~RFLAGS_ARITH) | a.gpr;
}

static const uint16_t sse_fp_mnemonics[] = {
    ZYDIS_MNEMONIC_ADDPS,     ZYDIS_MNEMONIC_ADDSS,    ZYDIS_MNEMONIC_ADDPD,
    ZYDIS_MNEMONIC_ADDSD,     ZYDIS_MNEMONIC_SUBPS,    ZYDIS_MNEMONIC_SUBSS,
    ZYDIS_MNEMONIC_SUBPD,     ZYDIS_MNEMONIC_SUBSD,    ZYDIS_MNEMONIC_MULPS,
    ZYDIS_MNEMONIC_MULSS,     ZYDIS_MNEMONIC_MULPD,    ZYDIS_MNEMONIC_MULSD,
    ZYDIS_MNEMONIC_DIVPS,     ZYDIS_MNEMONIC_DIVSS,    ZYDIS_MNEMONIC_DIVPD,
    ZYDIS_MNEMONIC_DIVSD,     ZYDIS_MNEMONIC_MINPS,    ZYDIS_MNEMONIC_MINSS,
    ZYDIS_MNEMONIC_MINPD,     ZYDIS_MNEMONIC_MINSD,    ZYDIS_MNEMONIC_MAXPS,
    ZYDIS_MNEMONIC_MAXSS,     ZYDIS_MNEMONIC_MAXPD,    ZYDIS_MNEMONIC_MAXSD,
    ZYDIS_MNEMONIC_SQRTPS,    ZYDIS_MNEMONIC_SQRTSS,   ZYDIS_MNEMONIC_SQRTPD,
    ZYDIS_MNEMONIC_SQRTSD,    ZYDIS_MNEMONIC_CMPPS,    ZYDIS_MNEMONIC_CMPSS,
    ZYDIS_MNEMONIC_CMPPD,     ZYDIS_MNEMONIC_CMPSD,    ZYDIS_MNEMONIC_RCPPS,
    ZYDIS_MNEMONIC_RCPSS,     ZYDIS_MNEMONIC_RSQRTPS,  ZYDIS_MNEMONIC_RSQRTSS,
    ZYDIS_MNEMONIC_CVTSI2SS,  ZYDIS_MNEMONIC_CVTSI2SD, ZYDIS_MNEMONIC_CVTSS2SI,
    ZYDIS_MNEMONIC_CVTTSS2SI, ZYDIS_MNEMONIC_CVTSD2SI, ZYDIS_MNEMONIC_CVTTSD2SI,
    ZYDIS_MNEMONIC_CVTSS2SD,  ZYDIS_MNEMONIC_CVTSD2SS, ZYDIS_MNEMONIC_CVTPS2PD,
    ZYDIS_MNEMONIC_CVTPD2PS,  ZYDIS_MNEMONIC_CVTDQ2PS, ZYDIS_MNEMONIC_CVTPS2DQ,
    ZYDIS_MNEMONIC_CVTTPS2DQ, ZYDIS_MNEMONIC_CVTDQ2PD, ZYDIS_MNEMONIC_CVTPD2DQ,
    ZYDIS_MNEMONIC_CVTTPD2DQ, ZYDIS_MNEMONIC_CVTPI2PS, ZYDIS_MNEMONIC_CVTPS2PI,
    ZYDIS_MNEMONIC_CVTTPS2PI, ZYDIS_MNEMONIC_CVTPI2PD, ZYDIS_MNEMONIC_CVTPD2PI,
    ZYDIS_MNEMONIC_CVTTPD2PI,
};

static const uint16_t sse_comi_mnemonics[] = {
    ZYDIS_MNEMONIC_COMISS,
    ZYDIS_MNEMONIC_UCOMISS,
    ZYDIS_MNEMONIC_COMISD,
    ZYDIS_MNEMONIC_UCOMISD,
};

void emu_sse_register_fp(emu_handler_fn *table)
{
	for (size_t k = 0; k < sizeof(sse_fp_mnemonics) / sizeof(sse_fp_mnemonics[0]); k++) {
		unsigned m = sse_fp_mnemonics[k];
		/* CMPSD is the string family's mnemonic too: it forwards the SSE form here. */
		emu_fpu_register(m == ZYDIS_MNEMONIC_CMPSD ? NULL : table, m, emu_sse_fp_exec,
				 (const void *)sse_fp_op(m));
	}
	for (size_t k = 0; k < sizeof(sse_comi_mnemonics) / sizeof(sse_comi_mnemonics[0]); k++)
		emu_fpu_register(table, sse_comi_mnemonics[k], h_comi,
				 (const void *)sse_fp_op(sse_comi_mnemonics[k]));
}
