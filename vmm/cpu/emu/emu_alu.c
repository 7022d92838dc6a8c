/* The integer ALU family of the software vCPU: ADD ADC SUB SBB AND OR XOR CMP TEST, INC DEC
 * NEG NOT, the shifts and rotates (SHL/SAL SHR SAR ROL ROR RCL RCR) and SHLD/SHRD.
 *
 * Every instruction here is "destination = f(destination, source)" with f one of the pure
 * functions of emu_flags.h (emu_alu, emu_shift, emu_shift_double), which also compute the
 * flags. The destination is updated through emu_rmw() (emu_int.h): in guest RAM as one host
 * compare-exchange loop on the guest page, retrying f with the value found, so the locked
 * forms are atomic against the other vCPUs (and the unlocked ones too, which is allowed). Sources
 * are read first and the flags are committed last, after the only write that can fault.
 *
 * The commonest shapes, a general register destination with a register or immediate source and
 * no LOCK, get handlers of their own, one per operation, chosen when the instruction is decoded
 * (emu_alu_bind): they cannot fault and need none of the machinery above. So do a register
 * destination with a memory source and CMP/TEST of memory with a register or immediate, whose
 * one access is a read (the inline emu_read) before anything changes. The host executes
 * the same operation at the same width and its flags are taken (LAHF and SETO: the interpreter runs
 * on x86-64 hosts only); the flags the SDM defines are the same on every x86 CPU, and AF after
 * a logic operation, the one it leaves undefined here, is cleared as emu_flags.h does. SHL, SHR
 * and SAR too: emu_shift() computes their flags with branches on the data, which a random
 * value mispredicts (the bench cpu int kernel's xorshift took 60% longer so); the flags they
 * leave undefined are then the host's. */
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
		emu_rmw(c, &d, alu_apply, u);
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

/* The operand shapes with handlers of their own: a 64- or 32-bit register destination with a
 * register or immediate source, and any other size (read from the instruction). */
enum reg_shape { SHAPE_R64, SHAPE_I64, SHAPE_R32, SHAPE_I32, SHAPE_ANY, SHAPE_COUNT };

static inline __attribute__((always_inline)) unsigned shape_size(const struct emu_insn *i,
								 enum reg_shape shape)
{
	return shape <= SHAPE_I64 ? 8 : shape <= SHAPE_I32 ? 4 : i->op[0].size;
}

/* The source operand: an immediate (sign-extended as encoded) or a general register. */
static inline __attribute__((always_inline)) uint64_t
shape_src(const struct emu_cpu *c, const struct emu_insn *i, enum reg_shape shape)
{
	const struct emu_opnd *s = &i->op[1];
	bool imm = shape == SHAPE_ANY ? s->kind == EMU_OPND_IMM : (shape & 1);
	return imm ? (uint64_t)s->disp : c->gpr[s->reg & 15];
}

/* The host's arithmetic flags as RFLAGS bits from AX after LAHF (SF ZF AF PF CF at their
 * RFLAGS positions in AH) and SETO (OF in AL). */
#define HOST_FLAGS(ax)                                                                             \
	((((ax) >> 8) & (RFLAGS_SF | RFLAGS_ZF | RFLAGS_AF | RFLAGS_PF | RFLAGS_CF)) |             \
	 (((ax)&1) ? RFLAGS_OF : 0))

/* res and f (the host's flags) after `text` on operands a, b, cf; T sets their width. */
#define HOST_ALU(text, T)                                                                          \
	({                                                                                         \
		T a_ = (T)a;                                                                       \
		uint32_t ax_;                                                                      \
		__asm__(text "\n\tlahf\n\tseto %%al"                                               \
			: [a] "+r"(a_), "=&a"(ax_)                                                 \
			: [b] "r"((T)b), [cf] "r"((uint32_t)cf)                                    \
			: "cc");                                                                   \
		res = a_;                                                                          \
		f = HOST_FLAGS(ax_);                                                               \
	})

/* res and f after the shift `text` of a by CL = n (T sets the width). */
#define HOST_SHIFT(text, T)                                                                        \
	({                                                                                         \
		T a_ = (T)a;                                                                       \
		uint32_t ax_;                                                                      \
		__asm__(text " %%cl, %[a]\n\tlahf\n\tseto %%al"                                    \
			: [a] "+r"(a_), "=&a"(ax_)                                                 \
			: "c"((uint8_t)n)                                                          \
			: "cc");                                                                   \
		res = a_;                                                                          \
		f = HOST_FLAGS(ax_);                                                               \
	})

/* emu_alu(), computed by the host at the operand's size. */
static inline __attribute__((always_inline)) uint64_t
host_alu(enum emu_alu_op op, uint64_t a, uint64_t b, unsigned size, uint64_t *rflags)
{
	uint64_t cf = *rflags & RFLAGS_CF, res, f;
#define HOST_ALU_SIZED(text)                                                                       \
	do {                                                                                       \
		if (size == 8)                                                                     \
			HOST_ALU(text, uint64_t);                                                  \
		else if (size == 4)                                                                \
			HOST_ALU(text, uint32_t);                                                  \
		else if (size == 2)                                                                \
			HOST_ALU(text, uint16_t);                                                  \
		else                                                                               \
			HOST_ALU(text, uint8_t);                                                   \
	} while (0)
	switch (op) {
	case EMU_ALU_ADD:
		HOST_ALU_SIZED("add %[b], %[a]");
		break;
	case EMU_ALU_ADC:
		HOST_ALU_SIZED("bt $0, %[cf]\n\tadc %[b], %[a]");
		break;
	case EMU_ALU_SUB:
		HOST_ALU_SIZED("sub %[b], %[a]");
		break;
	case EMU_ALU_SBB:
		HOST_ALU_SIZED("bt $0, %[cf]\n\tsbb %[b], %[a]");
		break;
	case EMU_ALU_CMP:
		HOST_ALU_SIZED("cmp %[b], %[a]");
		break;
	case EMU_ALU_INC:
		HOST_ALU_SIZED("inc %[a]");
		f = (f & ~RFLAGS_CF) | cf;
		break;
	case EMU_ALU_DEC:
		HOST_ALU_SIZED("dec %[a]");
		f = (f & ~RFLAGS_CF) | cf;
		break;
	case EMU_ALU_NEG:
		HOST_ALU_SIZED("neg %[a]");
		break;
	case EMU_ALU_NOT:
		return ~a & emu_mask(size);
	case EMU_ALU_OR:
		HOST_ALU_SIZED("or %[b], %[a]");
		f &= ~RFLAGS_AF;
		break;
	case EMU_ALU_XOR:
		HOST_ALU_SIZED("xor %[b], %[a]");
		f &= ~RFLAGS_AF;
		break;
	case EMU_ALU_AND:
		HOST_ALU_SIZED("and %[b], %[a]");
		f &= ~RFLAGS_AF;
		break;
	default: /* TEST */
		HOST_ALU_SIZED("test %[b], %[a]");
		f &= ~RFLAGS_AF;
		break;
	}
#undef HOST_ALU_SIZED
	*rflags = emu_flags_merge(*rflags, f, RFLAGS_ARITH);
	return res;
}

/* op0 = op0 op op1 for a register op0 and a register or immediate op1. */
static inline __attribute__((always_inline)) void
alu_reg(struct emu_cpu *c, const struct emu_insn *i, enum emu_alu_op op, enum reg_shape shape)
{
	unsigned size = shape_size(i, shape), dst = i->op[0].reg & 15;
	uint64_t b = op >= EMU_ALU_INC ? 0 : shape_src(c, i, shape);
	uint64_t res = host_alu(op, c->gpr[dst], b, size, &c->rflags);
	if (op != EMU_ALU_CMP && op != EMU_ALU_TEST)
		emu_gpr_write(c, dst, size, res);
}

/* emu_shift() of SHL, SHR and SAR computed by the host at the operand's size: the flags the
 * SDM leaves undefined (AF; OF unless the count is 1; CF of a count at or above the width) are
 * then this host's, as the differential tests compare them anyway. A masked count of 0 leaves
 * the flags alone here as there (and the host's would be stale). Rotates change only CF and OF:
 * emu_shift() computes them. */
static inline __attribute__((always_inline)) uint64_t
host_shift(enum emu_shift_op op, uint64_t a, uint64_t count, unsigned size, uint64_t *rflags)
{
	unsigned n = emu_shift_count(count, size);
	uint64_t res, f;
	if (op != EMU_SHIFT_SHL && op != EMU_SHIFT_SHR && op != EMU_SHIFT_SAR)
		return emu_shift(op, a, count, size, rflags);
	if (n == 0)
		return a & emu_mask(size);
#define HOST_SHIFT_SIZED(text)                                                                     \
	do {                                                                                       \
		if (size == 8)                                                                     \
			HOST_SHIFT(text "q", uint64_t);                                            \
		else if (size == 4)                                                                \
			HOST_SHIFT(text "l", uint32_t);                                            \
		else if (size == 2)                                                                \
			HOST_SHIFT(text "w", uint16_t);                                            \
		else                                                                               \
			HOST_SHIFT(text "b", uint8_t);                                             \
	} while (0)
	if (op == EMU_SHIFT_SHL)
		HOST_SHIFT_SIZED("shl");
	else if (op == EMU_SHIFT_SHR)
		HOST_SHIFT_SIZED("shr");
	else
		HOST_SHIFT_SIZED("sar");
#undef HOST_SHIFT_SIZED
	*rflags = emu_flags_merge(*rflags, f, RFLAGS_ARITH);
	return res;
}

/* op0 shifted by op1 (an immediate or CL) for a register op0. */
static inline __attribute__((always_inline)) void
shift_reg(struct emu_cpu *c, const struct emu_insn *i, enum emu_shift_op op, enum reg_shape shape)
{
	unsigned size = shape_size(i, shape), dst = i->op[0].reg & 15;
	uint64_t count = shape_src(c, i, shape); /* CL is register 1 at size 1 */
	emu_gpr_write(c, dst, size, host_shift(op, c->gpr[dst], count, size, &c->rflags));
}

static enum reg_shape shape_of(const struct emu_insn *i)
{
	bool imm = i->nopnd == 2 && i->op[1].kind == EMU_OPND_IMM;
	if (i->op[0].size == 8)
		return imm ? SHAPE_I64 : SHAPE_R64;
	if (i->op[0].size == 4)
		return imm ? SHAPE_I32 : SHAPE_R32;
	return SHAPE_ANY;
}

/* One handler per operation and shape, and the table of them by shape. */
#define REG_HANDLER(body, name, op, shape)                                                         \
	static void name##_##shape(struct emu_cpu *c, const struct emu_insn *i)                    \
	{                                                                                          \
		body(c, i, op, shape);                                                             \
	}
#define REG_HANDLERS(body, name, op)                                                               \
	REG_HANDLER(body, name, op, SHAPE_R64)                                                     \
	REG_HANDLER(body, name, op, SHAPE_I64)                                                     \
	REG_HANDLER(body, name, op, SHAPE_R32)                                                     \
	REG_HANDLER(body, name, op, SHAPE_I32) REG_HANDLER(body, name, op, SHAPE_ANY)
#define SHAPES_OF(name)                                                                            \
	{                                                                                          \
		name##_SHAPE_R64, name##_SHAPE_I64, name##_SHAPE_R32, name##_SHAPE_I32,            \
		    name##_SHAPE_ANY                                                               \
	}

REG_HANDLERS(alu_reg, h_add, EMU_ALU_ADD)
REG_HANDLERS(alu_reg, h_or, EMU_ALU_OR)
REG_HANDLERS(alu_reg, h_adc, EMU_ALU_ADC)
REG_HANDLERS(alu_reg, h_sbb, EMU_ALU_SBB)
REG_HANDLERS(alu_reg, h_and, EMU_ALU_AND)
REG_HANDLERS(alu_reg, h_sub, EMU_ALU_SUB)
REG_HANDLERS(alu_reg, h_xor, EMU_ALU_XOR)
REG_HANDLERS(alu_reg, h_cmp, EMU_ALU_CMP)
REG_HANDLERS(alu_reg, h_test, EMU_ALU_TEST)
REG_HANDLERS(alu_reg, h_inc, EMU_ALU_INC)
REG_HANDLERS(alu_reg, h_dec, EMU_ALU_DEC)
REG_HANDLERS(alu_reg, h_neg, EMU_ALU_NEG)
REG_HANDLERS(alu_reg, h_not, EMU_ALU_NOT)
REG_HANDLERS(shift_reg, h_shl, EMU_SHIFT_SHL)
REG_HANDLERS(shift_reg, h_shr, EMU_SHIFT_SHR)
REG_HANDLERS(shift_reg, h_sar, EMU_SHIFT_SAR)
REG_HANDLERS(shift_reg, h_rol, EMU_SHIFT_ROL)
REG_HANDLERS(shift_reg, h_ror, EMU_SHIFT_ROR)

static const emu_handler_fn by_alu_op[][SHAPE_COUNT] = {
    [EMU_ALU_ADD] = SHAPES_OF(h_add),	[EMU_ALU_OR] = SHAPES_OF(h_or),
    [EMU_ALU_ADC] = SHAPES_OF(h_adc),	[EMU_ALU_SBB] = SHAPES_OF(h_sbb),
    [EMU_ALU_AND] = SHAPES_OF(h_and),	[EMU_ALU_SUB] = SHAPES_OF(h_sub),
    [EMU_ALU_XOR] = SHAPES_OF(h_xor),	[EMU_ALU_CMP] = SHAPES_OF(h_cmp),
    [EMU_ALU_TEST] = SHAPES_OF(h_test), [EMU_ALU_INC] = SHAPES_OF(h_inc),
    [EMU_ALU_DEC] = SHAPES_OF(h_dec),	[EMU_ALU_NEG] = SHAPES_OF(h_neg),
    [EMU_ALU_NOT] = SHAPES_OF(h_not),
};
static const emu_handler_fn by_shift_op[][SHAPE_COUNT] = {
    [EMU_SHIFT_SHL] = SHAPES_OF(h_shl), [EMU_SHIFT_SHR] = SHAPES_OF(h_shr),
    [EMU_SHIFT_SAR] = SHAPES_OF(h_sar), [EMU_SHIFT_ROL] = SHAPES_OF(h_rol),
    [EMU_SHIFT_ROR] = SHAPES_OF(h_ror),
};

/* ---- the same register forms, the flags left alone ----------------------------------------- */

/* The result alu_reg computes, for the operations that have a twin here; for a block whose next
 * flag writer comes before anything reads them (struct emu_flag_writer). */
static inline __attribute__((always_inline)) void alu_reg_flagless(struct emu_cpu *c,
								   const struct emu_insn *i,
								   enum emu_alu_op op,
								   enum reg_shape shape)
{
	unsigned size = shape_size(i, shape), dst = i->op[0].reg & 15;
	uint64_t a = c->gpr[dst], b = shape_src(c, i, shape), res;
	if (op == EMU_ALU_ADD)
		res = a + b;
	else if (op == EMU_ALU_SUB)
		res = a - b;
	else if (op == EMU_ALU_AND)
		res = a & b;
	else if (op == EMU_ALU_OR)
		res = a | b;
	else
		res = a ^ b;
	emu_gpr_write(c, dst, size, res);
}

/* The result shift_reg computes for SHL, SHR and SAR (the count masked as there; 0 leaves the
 * value). */
static inline __attribute__((always_inline)) void shift_reg_flagless(struct emu_cpu *c,
								     const struct emu_insn *i,
								     enum emu_shift_op op,
								     enum reg_shape shape)
{
	unsigned size = shape_size(i, shape), dst = i->op[0].reg & 15;
	unsigned n = emu_shift_count(shape_src(c, i, shape), size);
	uint64_t a = c->gpr[dst] & emu_mask(size), res;
	if (op == EMU_SHIFT_SHL)
		res = a << n;
	else if (op == EMU_SHIFT_SHR)
		res = a >> n;
	else
		res = (uint64_t)((int64_t)emu_sext(a, size) >> n);
	emu_gpr_write(c, dst, size, res);
}

/* The four shapes of 32 and 64 bits (SHAPE_ANY's byte and word forms have no twin). */
#define FLAGLESS_HANDLERS(body, name, op)                                                          \
	REG_HANDLER(body, name, op, SHAPE_R64)                                                     \
	REG_HANDLER(body, name, op, SHAPE_I64)                                                     \
	REG_HANDLER(body, name, op, SHAPE_R32) REG_HANDLER(body, name, op, SHAPE_I32)
#define FLAGLESS_OF(name)                                                                          \
	{                                                                                          \
		name##_SHAPE_R64, name##_SHAPE_I64, name##_SHAPE_R32, name##_SHAPE_I32, NULL       \
	}

FLAGLESS_HANDLERS(alu_reg_flagless, h_add_nf, EMU_ALU_ADD)
FLAGLESS_HANDLERS(alu_reg_flagless, h_sub_nf, EMU_ALU_SUB)
FLAGLESS_HANDLERS(alu_reg_flagless, h_and_nf, EMU_ALU_AND)
FLAGLESS_HANDLERS(alu_reg_flagless, h_or_nf, EMU_ALU_OR)
FLAGLESS_HANDLERS(alu_reg_flagless, h_xor_nf, EMU_ALU_XOR)
FLAGLESS_HANDLERS(shift_reg_flagless, h_shl_nf, EMU_SHIFT_SHL)
FLAGLESS_HANDLERS(shift_reg_flagless, h_shr_nf, EMU_SHIFT_SHR)
FLAGLESS_HANDLERS(shift_reg_flagless, h_sar_nf, EMU_SHIFT_SAR)

/* What the register handlers above write: every ALU operation all six flags except NOT (none)
 * and INC/DEC (CF kept); SHL, SHR and SAR by an immediate that is not 0 after masking all six,
 * by CL possibly none (a count of 0), the rotates not all of them. */
bool emu_alu_flag_writer(const struct emu_insn *i, struct emu_flag_writer *w)
{
	static const emu_handler_fn flagless_alu[][SHAPE_COUNT] = {
	    [EMU_ALU_ADD] = FLAGLESS_OF(h_add_nf), [EMU_ALU_SUB] = FLAGLESS_OF(h_sub_nf),
	    [EMU_ALU_AND] = FLAGLESS_OF(h_and_nf), [EMU_ALU_OR] = FLAGLESS_OF(h_or_nf),
	    [EMU_ALU_XOR] = FLAGLESS_OF(h_xor_nf),
	};
	static const emu_handler_fn flagless_shift[][SHAPE_COUNT] = {
	    [EMU_SHIFT_SHL] = FLAGLESS_OF(h_shl_nf),
	    [EMU_SHIFT_SHR] = FLAGLESS_OF(h_shr_nf),
	    [EMU_SHIFT_SAR] = FLAGLESS_OF(h_sar_nf),
	};
	enum reg_shape shape = shape_of(i);
	enum emu_alu_op op = alu_op_of(i->mnemonic);
	enum emu_shift_op sop = shift_op_of(i->mnemonic);
	if (i->fn == by_alu_op[op][shape]) {
		w->writes = op == EMU_ALU_NOT			     ? 0
			    : op == EMU_ALU_INC || op == EMU_ALU_DEC ? RFLAGS_ARITH & ~RFLAGS_CF
								     : RFLAGS_ARITH;
		w->flagless = op < sizeof(flagless_alu) / sizeof(flagless_alu[0])
				  ? flagless_alu[op][shape]
				  : NULL;
		return true;
	}
	if (sop < sizeof(by_shift_op) / sizeof(by_shift_op[0]) &&
	    i->fn == by_shift_op[sop][shape]) {
		bool counted = i->op[1].kind == EMU_OPND_IMM &&
			       emu_shift_count((uint64_t)i->op[1].disp, shape_size(i, shape)) != 0;
		bool defined = sop == EMU_SHIFT_SHL || sop == EMU_SHIFT_SHR || sop == EMU_SHIFT_SAR;
		w->writes = counted && defined ? RFLAGS_ARITH : 0;
		w->flagless = sop < sizeof(flagless_shift) / sizeof(flagless_shift[0])
				  ? flagless_shift[sop][shape]
				  : NULL;
		return true;
	}
	return false;
}

/* ---- memory forms, bound at decode time --------------------------------------------------- */

/* op0 = op0 op op1 for a register op0 and a memory op1 of its size: the read, the only access
 * that can fault, comes before anything changes. RSA's limb loops add a loaded limb so. */
static inline __attribute__((always_inline)) void
alu_reg_mem(struct emu_cpu *c, const struct emu_insn *i, enum emu_alu_op op, enum reg_shape shape)
{
	unsigned size = shape_size(i, shape), dst = i->op[0].reg & 15;
	uint64_t b = emu_read(c, i->op[1].seg, emu_opnd_ea(c, i, 1), size);
	uint64_t res = host_alu(op, c->gpr[dst], b, size, &c->rflags);
	if (op != EMU_ALU_CMP)
		emu_gpr_write(c, dst, size, res);
}

/* CMP and TEST of a memory op0 with a register or immediate op1: flags only, nothing written. */
static inline __attribute__((always_inline)) void
alu_mem_flags(struct emu_cpu *c, const struct emu_insn *i, enum emu_alu_op op, enum reg_shape shape)
{
	unsigned size = shape_size(i, shape);
	uint64_t a = emu_read(c, i->op[0].seg, emu_opnd_ea(c, i, 0), size);
	host_alu(op, a, shape_src(c, i, shape), size, &c->rflags);
}

/* The memory source's size picks the shape: 8 (SHAPE_R64), 4 (SHAPE_R32), else SHAPE_ANY. */
#define MEM_SRC_HANDLERS(name, op)                                                                 \
	REG_HANDLER(alu_reg_mem, name, op, SHAPE_R64)                                              \
	REG_HANDLER(alu_reg_mem, name, op, SHAPE_R32)                                              \
	REG_HANDLER(alu_reg_mem, name, op, SHAPE_ANY)
#define MEM_SRC_SHAPES_OF(name)                                                                    \
	{                                                                                          \
		[SHAPE_R64] = name##_SHAPE_R64, [SHAPE_R32] = name##_SHAPE_R32,                    \
		[SHAPE_ANY] = name##_SHAPE_ANY                                                     \
	}

MEM_SRC_HANDLERS(h_add_mem, EMU_ALU_ADD)
MEM_SRC_HANDLERS(h_or_mem, EMU_ALU_OR)
MEM_SRC_HANDLERS(h_adc_mem, EMU_ALU_ADC)
MEM_SRC_HANDLERS(h_sbb_mem, EMU_ALU_SBB)
MEM_SRC_HANDLERS(h_and_mem, EMU_ALU_AND)
MEM_SRC_HANDLERS(h_sub_mem, EMU_ALU_SUB)
MEM_SRC_HANDLERS(h_xor_mem, EMU_ALU_XOR)
MEM_SRC_HANDLERS(h_cmp_mem, EMU_ALU_CMP)
REG_HANDLERS(alu_mem_flags, h_cmp_to_mem, EMU_ALU_CMP)
REG_HANDLERS(alu_mem_flags, h_test_to_mem, EMU_ALU_TEST)

/* A handler for ADD OR ADC SBB AND SUB XOR CMP of a register with memory, or CMP and TEST of
 * memory with a register or immediate; NULL for other shapes (TEST's memory operand is op0). */
static emu_handler_fn mem_bind(const struct emu_insn *i)
{
	static const emu_handler_fn by_mem_src_op[][SHAPE_COUNT] = {
	    [EMU_ALU_ADD] = MEM_SRC_SHAPES_OF(h_add_mem),
	    [EMU_ALU_OR] = MEM_SRC_SHAPES_OF(h_or_mem),
	    [EMU_ALU_ADC] = MEM_SRC_SHAPES_OF(h_adc_mem),
	    [EMU_ALU_SBB] = MEM_SRC_SHAPES_OF(h_sbb_mem),
	    [EMU_ALU_AND] = MEM_SRC_SHAPES_OF(h_and_mem),
	    [EMU_ALU_SUB] = MEM_SRC_SHAPES_OF(h_sub_mem),
	    [EMU_ALU_XOR] = MEM_SRC_SHAPES_OF(h_xor_mem),
	    [EMU_ALU_CMP] = MEM_SRC_SHAPES_OF(h_cmp_mem),
	};
	static const emu_handler_fn cmp_to_mem[] = SHAPES_OF(h_cmp_to_mem),
				    test_to_mem[] = SHAPES_OF(h_test_to_mem);
	enum emu_alu_op op = alu_op_of(i->mnemonic);
	const struct emu_opnd *d = &i->op[0], *s = &i->op[1];
	if (is_gpr(d) && s->kind == EMU_OPND_MEM && s->size == d->size && op != EMU_ALU_TEST)
		return by_mem_src_op[op][d->size == 8	? SHAPE_R64
					 : d->size == 4 ? SHAPE_R32
							: SHAPE_ANY];
	if (d->kind != EMU_OPND_MEM || (s->kind != EMU_OPND_IMM && !is_gpr(s)))
		return NULL;
	if (op == EMU_ALU_CMP)
		return cmp_to_mem[shape_of(i)];
	return op == EMU_ALU_TEST ? test_to_mem[shape_of(i)] : NULL;
}

/* ---- a register form fused with the Jcc after it ------------------------------------------ */

/* The register form, then the relative Jcc that follows it, as one entry of the block (struct
 * emu_insn, emu_alu_pair_bind): one dispatch of the block loop for two instructions. The flags
 * are written exactly as by the instruction alone, so whatever looks at them next, an
 * interrupt or exception handler included, sees them as after the pair; no event can come
 * between the two, which run as one entry. The condition is read back from the flags through
 * the Jcc's truth table. A taken Jcc whose target is not canonical faults at the Jcc. */
static inline __attribute__((always_inline)) void
alu_jcc(struct emu_cpu *c, const struct emu_insn *i, enum emu_alu_op op, enum reg_shape shape)
{
	alu_reg(c, i, op, shape);
	c->instructions++; /* the block loop counts the entry as one instruction */
	if ((i->jcc_conds >> emu_jcc_index(c->rflags)) & 1) {
		c->insn_rip = c->rip - i->jcc_len;
		emu_jump(c, c->rip + (uint64_t)i->op[2].disp, 8);
	}
}

REG_HANDLERS(alu_jcc, h_add_jcc, EMU_ALU_ADD)
REG_HANDLERS(alu_jcc, h_and_jcc, EMU_ALU_AND)
REG_HANDLERS(alu_jcc, h_sub_jcc, EMU_ALU_SUB)
REG_HANDLERS(alu_jcc, h_cmp_jcc, EMU_ALU_CMP)
REG_HANDLERS(alu_jcc, h_test_jcc, EMU_ALU_TEST)
REG_HANDLERS(alu_jcc, h_inc_jcc, EMU_ALU_INC)
REG_HANDLERS(alu_jcc, h_dec_jcc, EMU_ALU_DEC)

static bool is_jcc_rel(const struct emu_insn *i)
{
	return i->op[0].kind == EMU_OPND_IMM &&
	       ((i->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && (i->opcode & 0xf0) == 0x70) ||
		(i->opcode_map == ZYDIS_OPCODE_MAP_0F && (i->opcode & 0xf0) == 0x80));
}

/* The operations that commonly decide a branch, in the register forms alu_reg handles (the
 * instruction is bound to one of them), and a Jcc of 64-bit code whose condition is not P/NP
 * (emu_jcc_index leaves PF out): in 64-bit mode RIP does not wrap within a segment, so the
 * block loop's step over both and the Jcc's RIP below it need no mask. The entry becomes the
 * pair's; the caller drops the Jcc's. */
emu_handler_fn emu_alu_pair_bind(const struct emu_insn *alu, const struct emu_insn *jcc)
{
	static const emu_handler_fn by_pair_op[][SHAPE_COUNT] = {
	    [EMU_ALU_ADD] = SHAPES_OF(h_add_jcc),   [EMU_ALU_AND] = SHAPES_OF(h_and_jcc),
	    [EMU_ALU_SUB] = SHAPES_OF(h_sub_jcc),   [EMU_ALU_CMP] = SHAPES_OF(h_cmp_jcc),
	    [EMU_ALU_TEST] = SHAPES_OF(h_test_jcc), [EMU_ALU_INC] = SHAPES_OF(h_inc_jcc),
	    [EMU_ALU_DEC] = SHAPES_OF(h_dec_jcc),
	};
	enum emu_alu_op op = alu_op_of(alu->mnemonic);
	enum reg_shape shape = shape_of(alu);
	unsigned cc = jcc->opcode & 0xf;
	if (alu->mode != EMU_MODE_64 || !is_jcc_rel(jcc) || jcc->opsize != 8 || cc == 0xa ||
	    cc == 0xb || op > EMU_ALU_DEC || !by_pair_op[op][shape] ||
	    alu->fn != by_alu_op[op][shape])
		return NULL;
	return by_pair_op[op][shape];
}

emu_handler_fn emu_alu_bind(const struct emu_insn *i)
{
	if (i->prefixes & EMU_PFX_LOCK)
		return NULL;
	if (i->fn == h_binary && i->nopnd == 2 &&
	    (i->op[0].kind == EMU_OPND_MEM || i->op[1].kind == EMU_OPND_MEM))
		return mem_bind(i);
	if (!is_gpr(&i->op[0]))
		return NULL;
	if (i->fn == h_unary && i->nopnd == 1)
		return by_alu_op[alu_op_of(i->mnemonic)][shape_of(i)];
	if (i->nopnd != 2 || (i->op[1].kind != EMU_OPND_IMM && !is_gpr(&i->op[1])))
		return NULL;
	if (i->fn == h_binary)
		return by_alu_op[alu_op_of(i->mnemonic)][shape_of(i)];
	if (i->fn == h_shift && (i->op[1].kind == EMU_OPND_IMM || i->op[1].reg == EMU_RCX))
		return by_shift_op[shift_op_of(i->mnemonic)][shape_of(i)];
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
