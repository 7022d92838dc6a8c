/* The integer ALU family of the software vCPU: ADD ADC SUB SBB AND OR XOR CMP TEST, INC DEC
 * NEG NOT, the shifts and rotates (SHL/SAL SHR SAR ROL ROR RCL RCR) and SHLD/SHRD.
 *
 * Every instruction here is "destination = f(destination, source)" with f one of the pure
 * functions of emu_flags.h (emu_alu, emu_shift, emu_shift_double), which also compute the
 * flags. The destination is updated through emu_rmw() (emu_int.h): plainly, or under LOCK as
 * one host compare-exchange loop on the guest page, retrying f with the value found, so the
 * locked forms are atomic against the other vCPUs. Sources are read first and the flags are
 * committed last, after the only write that can fault.
 *
 * The commonest shapes, a general register destination with a register or immediate source and
 * no LOCK, get handlers of their own, one per operation, chosen when the instruction is decoded
 * (emu_alu_bind): they cannot fault and need none of the machinery above. */
#include "vmm/cpu/emu/emu.h"
#include "vmm/cpu/emu/emu_flags.h"
#include "vmm/cpu/emu/emu_int.h"

/* What one update computes: the operation, its fixed inputs, and the flags it leaves. */
struct alu_update {
	enum emu_alu_op alu;
	enum emu_shift_op shift;
	bool is_shift;
	bool is_double; /* SHLD (shift = SHL) / SHRD */
	uint64_t src;	/* ALU source or the shift's incoming bits */
	uint64_t count; /* shifts: the raw count */
	unsigned size;
	uint64_t flags_in;
	uint64_t flags; /* out */
};

static uint64_t alu_apply(void *ctx, uint64_t old)
{
	struct alu_update *u = ctx;
	u->flags = u->flags_in;
	if (u->is_double)
		return emu_shift_double(u->shift == EMU_SHIFT_SHL, old, u->src, u->count, u->size,
					&u->flags);
	if (u->is_shift)
		return emu_shift(u->shift, old, u->count, u->size, &u->flags);
	return emu_alu(u->alu, old, u->src, u->size, &u->flags);
}

/* Applies u to operand 0, writing it back unless `writes` is false (CMP, TEST). */
static void alu_run(struct emu_cpu *c, const struct emu_insn *i, struct alu_update *u, bool writes)
{
	const struct emu_opnd *r = &i->op[0];
	if (r->kind == EMU_OPND_REG && r->reg_class == EMU_RC_GPR) {
		/* The common case, without the read-modify-write machinery memory needs. */
		u->size = r->size;
		u->flags_in = c->rflags;
		uint64_t res = alu_apply(u, c->gpr[r->reg & 15] & emu_mask(r->size));
		if (writes)
			emu_reg_write(c, EMU_RC_GPR, r->reg, r->size, res);
		c->rflags = u->flags;
		return;
	}
	struct emu_loc d = emu_loc_of(c, i, 0);
	u->size = d.size;
	u->flags_in = c->rflags;
	if (writes)
		emu_rmw(c, &d, i->prefixes & EMU_PFX_LOCK, alu_apply, u);
	else
		alu_apply(u, emu_loc_read(c, &d));
	c->rflags = u->flags;
}

static enum emu_alu_op alu_op_of(unsigned mnemonic)
{
	switch (mnemonic) {
	case ZYDIS_MNEMONIC_ADD:
		return EMU_ALU_ADD;
	case ZYDIS_MNEMONIC_OR:
		return EMU_ALU_OR;
	case ZYDIS_MNEMONIC_ADC:
		return EMU_ALU_ADC;
	case ZYDIS_MNEMONIC_SBB:
		return EMU_ALU_SBB;
	case ZYDIS_MNEMONIC_AND:
		return EMU_ALU_AND;
	case ZYDIS_MNEMONIC_SUB:
		return EMU_ALU_SUB;
	case ZYDIS_MNEMONIC_XOR:
		return EMU_ALU_XOR;
	case ZYDIS_MNEMONIC_CMP:
		return EMU_ALU_CMP;
	case ZYDIS_MNEMONIC_TEST:
		return EMU_ALU_TEST;
	case ZYDIS_MNEMONIC_INC:
		return EMU_ALU_INC;
	case ZYDIS_MNEMONIC_DEC:
		return EMU_ALU_DEC;
	case ZYDIS_MNEMONIC_NEG:
		return EMU_ALU_NEG;
	default:
		return EMU_ALU_NOT;
	}
}

static enum emu_shift_op shift_op_of(unsigned mnemonic)
{
	switch (mnemonic) {
	case ZYDIS_MNEMONIC_ROL:
		return EMU_SHIFT_ROL;
	case ZYDIS_MNEMONIC_ROR:
		return EMU_SHIFT_ROR;
	case ZYDIS_MNEMONIC_RCL:
		return EMU_SHIFT_RCL;
	case ZYDIS_MNEMONIC_RCR:
		return EMU_SHIFT_RCR;
	case ZYDIS_MNEMONIC_SHR:
	case ZYDIS_MNEMONIC_SHRD:
		return EMU_SHIFT_SHR;
	case ZYDIS_MNEMONIC_SAR:
		return EMU_SHIFT_SAR;
	default: /* SHL, SAL (D0-D3 /6), SHLD */
		return EMU_SHIFT_SHL;
	}
}

/* ADD OR ADC SBB AND SUB XOR CMP TEST: op0 = op0 op op1. */
static void h_binary(struct emu_cpu *c, const struct emu_insn *i)
{
	struct alu_update u = {.alu = alu_op_of(i->mnemonic)};
	bool writes = u.alu != EMU_ALU_CMP && u.alu != EMU_ALU_TEST;
	emu_check_lock(c, i, writes);
	u.src = emu_src(c, i, 1, i->op[0].size);
	alu_run(c, i, &u, writes);
}

/* INC DEC NEG NOT: op0 = op op0. */
static void h_unary(struct emu_cpu *c, const struct emu_insn *i)
{
	struct alu_update u = {.alu = alu_op_of(i->mnemonic)};
	emu_check_lock(c, i, true);
	alu_run(c, i, &u, true);
}

/* SHL SHR SAR ROL ROR RCL RCR: op0 shifted by op1 (1, imm8 or CL). */
static void h_shift(struct emu_cpu *c, const struct emu_insn *i)
{
	struct alu_update u = {.shift = shift_op_of(i->mnemonic), .is_shift = true};
	emu_check_lock(c, i, false);
	u.count = emu_src(c, i, 1, 1);
	alu_run(c, i, &u, true);
}

/* SHLD SHRD: op0 shifted by op2 (imm8 or CL), bits of op1 coming in. */
static void h_shift_double(struct emu_cpu *c, const struct emu_insn *i)
{
	struct alu_update u = {.shift = shift_op_of(i->mnemonic), .is_double = true};
	emu_check_lock(c, i, false);
	u.src = emu_src(c, i, 1, i->op[0].size);
	u.count = emu_src(c, i, 2, 1);
	alu_run(c, i, &u, true);
}

/* ---- register forms, bound at decode time ------------------------------------------------- */

static inline bool is_gpr(const struct emu_opnd *o)
{
	return o->kind == EMU_OPND_REG && o->reg_class == EMU_RC_GPR;
}

/* op0 = op0 op op1 for a register op0 and a register or immediate op1. */
static inline void alu_reg(struct emu_cpu *c, const struct emu_insn *i, enum emu_alu_op op)
{
	unsigned size = i->op[0].size, dst = i->op[0].reg & 15;
	const struct emu_opnd *s = &i->op[1];
	uint64_t b = s->kind == EMU_OPND_IMM ? (uint64_t)s->disp : c->gpr[s->reg & 15];
	uint64_t res = emu_alu(op, c->gpr[dst], b, size, &c->rflags);
	if (op != EMU_ALU_CMP && op != EMU_ALU_TEST)
		emu_gpr_write(c, dst, size, res);
}

/* op0 shifted by op1 (an immediate or CL) for a register op0. */
static inline void shift_reg(struct emu_cpu *c, const struct emu_insn *i, enum emu_shift_op op)
{
	unsigned size = i->op[0].size, dst = i->op[0].reg & 15;
	const struct emu_opnd *s = &i->op[1];
	uint64_t count = s->kind == EMU_OPND_IMM ? (uint64_t)s->disp : c->gpr[EMU_RCX];
	emu_gpr_write(c, dst, size, emu_shift(op, c->gpr[dst], count, size, &c->rflags));
}

#define ALU_REG_HANDLER(name, op)                                                                  \
	static void name(struct emu_cpu *c, const struct emu_insn *i)                              \
	{                                                                                          \
		alu_reg(c, i, op);                                                                 \
	}
#define SHIFT_REG_HANDLER(name, op)                                                                \
	static void name(struct emu_cpu *c, const struct emu_insn *i)                              \
	{                                                                                          \
		shift_reg(c, i, op);                                                               \
	}
ALU_REG_HANDLER(h_add_reg, EMU_ALU_ADD)
ALU_REG_HANDLER(h_or_reg, EMU_ALU_OR)
ALU_REG_HANDLER(h_adc_reg, EMU_ALU_ADC)
ALU_REG_HANDLER(h_sbb_reg, EMU_ALU_SBB)
ALU_REG_HANDLER(h_and_reg, EMU_ALU_AND)
ALU_REG_HANDLER(h_sub_reg, EMU_ALU_SUB)
ALU_REG_HANDLER(h_xor_reg, EMU_ALU_XOR)
ALU_REG_HANDLER(h_cmp_reg, EMU_ALU_CMP)
ALU_REG_HANDLER(h_test_reg, EMU_ALU_TEST)
ALU_REG_HANDLER(h_inc_reg, EMU_ALU_INC)
ALU_REG_HANDLER(h_dec_reg, EMU_ALU_DEC)
ALU_REG_HANDLER(h_neg_reg, EMU_ALU_NEG)
ALU_REG_HANDLER(h_not_reg, EMU_ALU_NOT)
SHIFT_REG_HANDLER(h_shl_reg, EMU_SHIFT_SHL)
SHIFT_REG_HANDLER(h_shr_reg, EMU_SHIFT_SHR)
SHIFT_REG_HANDLER(h_sar_reg, EMU_SHIFT_SAR)
SHIFT_REG_HANDLER(h_rol_reg, EMU_SHIFT_ROL)
SHIFT_REG_HANDLER(h_ror_reg, EMU_SHIFT_ROR)

emu_handler_fn emu_alu_bind(const struct emu_insn *i)
{
	static const emu_handler_fn by_alu_op[] = {
	    [EMU_ALU_ADD] = h_add_reg, [EMU_ALU_OR] = h_or_reg,	  [EMU_ALU_ADC] = h_adc_reg,
	    [EMU_ALU_SBB] = h_sbb_reg, [EMU_ALU_AND] = h_and_reg, [EMU_ALU_SUB] = h_sub_reg,
	    [EMU_ALU_XOR] = h_xor_reg, [EMU_ALU_CMP] = h_cmp_reg, [EMU_ALU_TEST] = h_test_reg,
	    [EMU_ALU_INC] = h_inc_reg, [EMU_ALU_DEC] = h_dec_reg, [EMU_ALU_NEG] = h_neg_reg,
	    [EMU_ALU_NOT] = h_not_reg,
	};
	static const emu_handler_fn by_shift_op[] = {
	    [EMU_SHIFT_SHL] = h_shl_reg, [EMU_SHIFT_SHR] = h_shr_reg, [EMU_SHIFT_SAR] = h_sar_reg,
	    [EMU_SHIFT_ROL] = h_rol_reg, [EMU_SHIFT_ROR] = h_ror_reg,
	};
	if ((i->prefixes & EMU_PFX_LOCK) || !is_gpr(&i->op[0]))
		return NULL;
	if (i->fn == h_unary && i->nopnd == 1)
		return by_alu_op[alu_op_of(i->mnemonic)];
	if (i->nopnd != 2 || (i->op[1].kind != EMU_OPND_IMM && !is_gpr(&i->op[1])))
		return NULL;
	if (i->fn == h_binary)
		return by_alu_op[alu_op_of(i->mnemonic)];
	if (i->fn == h_shift && (i->op[1].kind == EMU_OPND_IMM || i->op[1].reg == EMU_RCX))
		return by_shift_op[shift_op_of(i->mnemonic)];
	return NULL;
}

void emu_register_alu(emu_handler_fn *table)
{
	static const uint16_t binary[] = {
	    ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_OR,  ZYDIS_MNEMONIC_ADC,
	    ZYDIS_MNEMONIC_SBB, ZYDIS_MNEMONIC_AND, ZYDIS_MNEMONIC_SUB,
	    ZYDIS_MNEMONIC_XOR, ZYDIS_MNEMONIC_CMP, ZYDIS_MNEMONIC_TEST,
	};
	static const uint16_t unary[] = {ZYDIS_MNEMONIC_INC, ZYDIS_MNEMONIC_DEC, ZYDIS_MNEMONIC_NEG,
					 ZYDIS_MNEMONIC_NOT};
	static const uint16_t shift[] = {ZYDIS_MNEMONIC_SHL, ZYDIS_MNEMONIC_SHR, ZYDIS_MNEMONIC_SAR,
					 ZYDIS_MNEMONIC_ROL, ZYDIS_MNEMONIC_ROR, ZYDIS_MNEMONIC_RCL,
					 ZYDIS_MNEMONIC_RCR};
	for (unsigned k = 0; k < sizeof(binary) / sizeof(binary[0]); k++)
		table[binary[k]] = h_binary;
	for (unsigned k = 0; k < sizeof(unary) / sizeof(unary[0]); k++)
		table[unary[k]] = h_unary;
	for (unsigned k = 0; k < sizeof(shift) / sizeof(shift[0]); k++)
		table[shift[k]] = h_shift;
	table[ZYDIS_MNEMONIC_SHLD] = h_shift_double;
	table[ZYDIS_MNEMONIC_SHRD] = h_shift_double;
}
