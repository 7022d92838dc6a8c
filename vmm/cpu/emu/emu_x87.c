/* The x87 family of the software vCPU: loads, stores, arithmetic, compares, transcendentals
 * and register moves on the 80-bit stack.
 *
 * Every value is computed by the host's own x87 instruction under the guest's control word
 * (precision and rounding; emu_sse_host.c), so results match the hardware bit for bit. What
 * the host cannot see is done here: the stack (TOP in FSW, the abridged tag word), stack
 * faults, the masking of exceptions, and the condition codes each instruction defines.
 *
 * Handlers are few and table-driven: a row names the host operation, the operand order, the
 * pops and which condition codes the instruction sets. Each handler reads its operands first
 * (memory faults happen before any change), runs the host, then commits:
 *  - an empty source register is a stack underflow: IE and SF, and the operation runs on the
 *    QNaN indefinite, which gives the masked response (an indefinite result, "unordered" for
 *    compares) without special cases;
 *  - a push onto a full stack is a stack overflow: IE, SF and C1, and the indefinite is
 *    pushed;
 *  - an unmasked invalid-operation, denormal or divide-by-zero exception leaves the
 *    destination and the stack alone and sets ES/B, to be reported as #MF by the next waiting
 *    instruction (emu_fpu_check_x87). Unmasked overflow/underflow deliver the rounded result
 *    rather than the hardware's exponent-wrapped one.
 * FIP and FDP record the last non-control instruction and its memory operand; FOP is not kept
 * (the decoded instruction does not carry the ModRM byte). */
#include <string.h>

#include "vmm/cpu/emu/emu_fpu.h"

enum x87_shape { X_ARITH, X_UNARY, X_LOAD, X_STORE, X_FXCH, X_FCMOV };

enum x87_flags {
	XF_REV = 1 << 0,     /* the operands are swapped: FSUBR, FDIVR */
	XF_POP = 1 << 1,     /* pop once afterwards */
	XF_POP2 = 1 << 2,    /* pop twice: FCOMPP, FUCOMPP */
	XF_INT = 1 << 3,     /* the memory operand is an integer */
	XF_NOWRITE = 1 << 4, /* compares and FXAM: condition codes only */
	XF_RFLAGS = 1 << 5,  /* FCOMI: the result goes to ZF, PF, CF */
	XF_ZERO = 1 << 6,    /* FTST: compare with +0.0 */
	XF_DST1 = 1 << 7,    /* FYL2X, FYL2XP1, FPATAN: the result replaces ST(1) */
	XF_RANGE = 1 << 8,   /* FSIN etc.: |x| >= 2^63 sets C2 and changes nothing */
	XF_SPLIT = 1 << 9,   /* FPTAN, FSINCOS, FXTRACT: two results, one pushed */
	XF_CONST = 1 << 10,  /* FLD1 etc. */
	XF_TRUNC = 1 << 11,  /* FISTTP */
	XF_FXAM = 1 << 12,
};

struct x87_desc {
	uint16_t mnemonic;
	uint8_t shape, op; /* op: enum x87_host_op */
	uint16_t flags, cc;
};

#define CC_ALL FSW_CC
#define CC_1   FSW_C1
#define CC_12  (FSW_C1 | FSW_C2)
#define D(m, shape, op, flags, cc)                                                                 \
	{                                                                                          \
		ZYDIS_MNEMONIC_##m, X_##shape, X87H_##op, flags, cc                                \
	}
static const struct x87_desc x87_ops[] = {
    D(FADD, ARITH, FADD, 0, CC_1),
    D(FADDP, ARITH, FADD, XF_POP, CC_1),
    D(FIADD, ARITH, FADD, XF_INT, CC_1),
    D(FSUB, ARITH, FSUB, 0, CC_1),
    D(FSUBP, ARITH, FSUB, XF_POP, CC_1),
    D(FISUB, ARITH, FSUB, XF_INT, CC_1),
    D(FSUBR, ARITH, FSUB, XF_REV, CC_1),
    D(FSUBRP, ARITH, FSUB, XF_REV | XF_POP, CC_1),
    D(FISUBR, ARITH, FSUB, XF_REV | XF_INT, CC_1),
    D(FMUL, ARITH, FMUL, 0, CC_1),
    D(FMULP, ARITH, FMUL, XF_POP, CC_1),
    D(FIMUL, ARITH, FMUL, XF_INT, CC_1),
    D(FDIV, ARITH, FDIV, 0, CC_1),
    D(FDIVP, ARITH, FDIV, XF_POP, CC_1),
    D(FIDIV, ARITH, FDIV, XF_INT, CC_1),
    D(FDIVR, ARITH, FDIV, XF_REV, CC_1),
    D(FDIVRP, ARITH, FDIV, XF_REV | XF_POP, CC_1),
    D(FIDIVR, ARITH, FDIV, XF_REV | XF_INT, CC_1),
    D(FPREM, ARITH, FPREM, 0, CC_ALL),
    D(FPREM1, ARITH, FPREM1, 0, CC_ALL),
    D(FSCALE, ARITH, FSCALE, 0, CC_1),
    D(FYL2X, ARITH, FYL2X, XF_DST1 | XF_POP, CC_1),
    D(FYL2XP1, ARITH, FYL2XP1, XF_DST1 | XF_POP, CC_1),
    D(FPATAN, ARITH, FPATAN, XF_DST1 | XF_POP, CC_1),
    D(FCOM, ARITH, FCOM, XF_NOWRITE, CC_ALL),
    D(FCOMP, ARITH, FCOM, XF_NOWRITE | XF_POP, CC_ALL),
    D(FCOMPP, ARITH, FCOM, XF_NOWRITE | XF_POP2, CC_ALL),
    D(FUCOM, ARITH, FUCOM, XF_NOWRITE, CC_ALL),
    D(FUCOMP, ARITH, FUCOM, XF_NOWRITE | XF_POP, CC_ALL),
    D(FUCOMPP, ARITH, FUCOM, XF_NOWRITE | XF_POP2, CC_ALL),
    D(FICOM, ARITH, FCOM, XF_NOWRITE | XF_INT, CC_ALL),
    D(FICOMP, ARITH, FCOM, XF_NOWRITE | XF_INT | XF_POP, CC_ALL),
    D(FTST, ARITH, FCOM, XF_NOWRITE | XF_ZERO, CC_ALL),
    D(FCOMI, ARITH, FCOM, XF_NOWRITE | XF_RFLAGS, CC_1),
    D(FCOMIP, ARITH, FCOM, XF_NOWRITE | XF_RFLAGS | XF_POP, CC_1),
    D(FUCOMI, ARITH, FUCOM, XF_NOWRITE | XF_RFLAGS, CC_1),
    D(FUCOMIP, ARITH, FUCOM, XF_NOWRITE | XF_RFLAGS | XF_POP, CC_1),
    D(FSQRT, UNARY, FSQRT, 0, CC_1),
    D(FABS, UNARY, FABS, 0, CC_1),
    D(FCHS, UNARY, FCHS, 0, CC_1),
    D(FRNDINT, UNARY, FRNDINT, 0, CC_1),
    D(F2XM1, UNARY, F2XM1, 0, CC_1),
    D(FSIN, UNARY, FSIN, XF_RANGE, CC_12),
    D(FCOS, UNARY, FCOS, XF_RANGE, CC_12),
    D(FPTAN, UNARY, FPTAN, XF_RANGE | XF_SPLIT, CC_12),
    D(FSINCOS, UNARY, FSINCOS, XF_RANGE | XF_SPLIT, CC_12),
    D(FXTRACT, UNARY, FXTRACT, XF_SPLIT, CC_1),
    D(FXAM, UNARY, FXAM, XF_NOWRITE | XF_FXAM, CC_ALL),
    D(FLD, LOAD, FLDZ, 0, CC_1),
    D(FILD, LOAD, FLDZ, XF_INT, CC_1),
    D(FLD1, LOAD, FLD1, XF_CONST, CC_1),
    D(FLDZ, LOAD, FLDZ, XF_CONST, CC_1),
    D(FLDPI, LOAD, FLDPI, XF_CONST, CC_1),
    D(FLDL2E, LOAD, FLDL2E, XF_CONST, CC_1),
    D(FLDLN2, LOAD, FLDLN2, XF_CONST, CC_1),
    D(FLDL2T, LOAD, FLDL2T, XF_CONST, CC_1),
    D(FLDLG2, LOAD, FLDLG2, XF_CONST, CC_1),
    D(FST, STORE, FLDZ, 0, CC_1),
    D(FSTP, STORE, FLDZ, XF_POP, CC_1),
    D(FIST, STORE, FLDZ, XF_INT, CC_1),
    D(FISTP, STORE, FLDZ, XF_INT | XF_POP, CC_1),
    D(FISTTP, STORE, FLDZ, XF_INT | XF_TRUNC | XF_POP, CC_1),
    D(FXCH, FXCH, FLDZ, 0, CC_1),
    D(FCMOVB, FCMOV, FLDZ, 0, CC_1),
    D(FCMOVE, FCMOV, FLDZ, 0, CC_1),
    D(FCMOVBE, FCMOV, FLDZ, 0, CC_1),
    D(FCMOVU, FCMOV, FLDZ, 0, CC_1),
    D(FCMOVNB, FCMOV, FLDZ, 0, CC_1),
    D(FCMOVNE, FCMOV, FLDZ, 0, CC_1),
    D(FCMOVNBE, FCMOV, FLDZ, 0, CC_1),
    D(FCMOVNU, FCMOV, FLDZ, 0, CC_1),
};

/* The exceptions that, unmasked, leave the destination and the stack unchanged. */
#define X87_ABORT (FSW_IE | FSW_DE | FSW_ZE)
/* A store to memory is also withheld on unmasked overflow or underflow. */
#define X87_ABORT_STORE (X87_ABORT | FSW_OE | FSW_UE)

static const f80 f80_zero;

/* ---- the stack ---------------------------------------------------------------------------- */

/* ST(i), or the indefinite with IE|SF if the register is empty (stack underflow). */
static uint16_t fetch(const struct emu_cpu *c, unsigned i, f80 *v)
{
	if (x87_empty(c, i)) {
		*v = x87_indefinite;
		return FSW_IE | FSW_SF;
	}
	x87_get(c, i, v);
	return 0;
}

static enum x87_host_op convert_op(bool integer, bool store, bool trunc, unsigned size)
{
	if (!integer)
		return size == 4 ? (store ? X87H_STORE_F32 : X87H_LOAD_F32)
				 : (store ? X87H_STORE_F64 : X87H_LOAD_F64);
	if (!store)
		return size == 2 ? X87H_LOAD_I16 : size == 4 ? X87H_LOAD_I32 : X87H_LOAD_I64;
	if (trunc)
		return size == 2 ? X87H_STORE_T16 : size == 4 ? X87H_STORE_T32 : X87H_STORE_T64;
	return size == 2 ? X87H_STORE_I16 : size == 4 ? X87H_STORE_I32 : X87H_STORE_I64;
}

/* Memory operand n converted to extended precision (an m80 is copied as is); returns the
 * exceptions of the conversion (IE for a signalling NaN, DE for a denormal). */
static uint16_t fetch_mem(struct emu_cpu *c, const struct emu_insn *i, unsigned n, bool integer,
			  f80 *v)
{
	unsigned size = i->op[n].size;
	struct x87_io io = {.cw = c->fpu.fcw};

	if (!integer && size == 10) {
		emu_fpu_mem_read(c, i, n, v->b, 10);
		return 0;
	}
	emu_fpu_mem_read(c, i, n, io.in[0].b, size);
	x87_host(convert_op(integer, false, false, size), &io);
	*v = io.out[0];
	return io.sw & FSW_EXC;
}

/* Merges a status into FSW: the exception flags and SF, and the condition codes in `cc`.
 * Returns the exception flags the control word leaves unmasked (those also set ES and B). */
static uint16_t commit(struct emu_cpu *c, const struct emu_insn *i, uint16_t sw, uint16_t cc)
{
	uint16_t unmasked = sw & ~c->fpu.fcw & FSW_EXC;

	c->fpu.fsw = (uint16_t)((c->fpu.fsw & ~cc) | (sw & cc) | (sw & (FSW_EXC | FSW_SF)));
	if (unmasked)
		c->fpu.fsw |= FSW_ES | FSW_B;
	c->fpu.fip = c->insn_rip;
	if (i->nopnd && i->op[0].kind == EMU_OPND_MEM)
		c->fpu.fdp = emu_opnd_ea(c, i, 0);
	return unmasked;
}

static void pop(struct emu_cpu *c)
{
	c->fpu.ftw &= (uint8_t) ~(1u << x87_phys(c, 0));
	x87_set_top(c, x87_top(c) + 1);
}

/* Pushes v, whose computation raised sw; a full stack overflows. */
static void push(struct emu_cpu *c, const struct emu_insn *i, const f80 *v, uint16_t sw)
{
	if (!x87_empty(c, 7)) {
		v = &x87_indefinite;
		sw = FSW_IE | FSW_SF | FSW_C1;
	}
	if (commit(c, i, sw, FSW_C1) & X87_ABORT)
		return;
	x87_set_top(c, x87_top(c) + 7);
	x87_set(c, 0, v);
}

/* ---- handlers ----------------------------------------------------------------------------- */

static uint16_t host_status(const struct x87_io *io)
{
	return io->sw & (FSW_EXC | FSW_CC);
}

static bool is_nan(const f80 *v)
{
	uint64_t mant;

	memcpy(&mant, v->b, 8);
	return (v->b[8] | (v->b[9] & 0x7f) << 8) == 0x7fff && (mant << 1);
}

#define X87_QUIET_BIT (1ull << 62)

static uint64_t f80_significand(const f80 *v)
{
	uint64_t mant;
	memcpy(&mant, v->b, 8);
	return mant;
}

static bool is_qnan(const f80 *v)
{
	return is_nan(v) && (v->b[7] & 0x40);
}

/* Two-operand instructions. Operands as Zydis gives them: none (ST(0), ST(1)); a memory
 * source (ST(0) op m); one register (ST(0) op ST(i), the compares); or two registers, the
 * first being the destination. */
static void h_arith(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct x87_desc *d = emu_fpu_desc(i);
	unsigned dst = 0, src = 1;
	uint16_t sw = 0;
	f80 a, b;

	emu_fpu_check_x87(c, true);
	bool mem = i->nopnd >= 1 && i->op[0].kind == EMU_OPND_MEM;
	if (mem)
		sw = fetch_mem(c, i, 0, d->flags & XF_INT, &b);
	else if (i->nopnd == 2)
		dst = i->op[0].reg, src = i->op[1].reg;
	else if (i->nopnd == 1)
		src = i->op[0].reg;
	sw |= fetch(c, dst, &a);
	if (d->flags & XF_ZERO)
		b = f80_zero;
	else if (!(i->nopnd >= 1 && i->op[0].kind == EMU_OPND_MEM))
		sw |= fetch(c, src, &b);

	struct x87_io io = {.cw = c->fpu.fcw};
	io.in[0] = d->flags & XF_REV ? b : a;
	io.in[1] = d->flags & XF_REV ? a : b;
	x87_host(d->op, &io);
	/* An SNaN in memory was quieted by its conversion, but the hardware chooses between the
	 * operands as they were: a QNaN over an SNaN, else the larger significand, quieted. */
	if (mem && (sw & FSW_IE) && is_nan(&b) && is_nan(&a) && !(d->flags & XF_RFLAGS) &&
	    (is_qnan(&a) || f80_significand(&a) > (f80_significand(&b) & ~X87_QUIET_BIT))) {
		io.out[0] = a;
		io.out[0].b[7] |= 0x40;
	}
	/* The denormal of a memory operand ranks below invalid, divide-by-zero and a QNaN in
	 * ST(0), as in the hardware's own conversion-and-operate. */
	if ((io.sw & (FSW_IE | FSW_ZE)) || is_nan(&a))
		sw &= (uint16_t)~FSW_DE;
	if (commit(c, i, sw | host_status(&io), d->cc) & X87_ABORT)
		return;
	if (d->flags & XF_RFLAGS)
		c->rflags = (c->rflags & ~RFLAGS_ARITH) | (io.sw & FSW_C3 ? RFLAGS_ZF : 0) |
			    (io.sw & FSW_C2 ? RFLAGS_PF : 0) | (io.sw & FSW_C0 ? RFLAGS_CF : 0);
	else if (!(d->flags & XF_NOWRITE))
		x87_set(c, d->flags & XF_DST1 ? 1 : dst, &io.out[0]);
	if (d->flags & (XF_POP | XF_POP2))
		pop(c);
	if (d->flags & XF_POP2)
		pop(c);
}

/* FSIN, FCOS, FPTAN, FSINCOS take |x| < 2^63; beyond, C2 is set and nothing changes. */
static bool out_of_range(const f80 *v)
{
	unsigned exp = ((v->b[9] & 0x7fu) << 8) | v->b[8];

	return exp != 0x7fff && exp >= 0x3fff + 63;
}

/* FXAM of an empty register: C3 and C0, and C1 = the sign bit it holds. */
static void fxam_empty(struct emu_cpu *c, const struct emu_insn *i)
{
	f80 r;

	x87_get(c, 0, &r);
	commit(c, i, FSW_C3 | FSW_C0 | (r.b[9] & 0x80 ? FSW_C1 : 0), FSW_CC);
}

/* One-operand instructions on ST(0); the split ones replace ST(0) by out[1] and push out[0]. */
static void h_unary(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct x87_desc *d = emu_fpu_desc(i);
	struct x87_io io = {.cw = c->fpu.fcw};

	emu_fpu_check_x87(c, true);
	if ((d->flags & XF_FXAM) && x87_empty(c, 0)) {
		fxam_empty(c, i);
		return;
	}
	uint16_t sw = fetch(c, 0, &io.in[0]);
	if ((d->flags & XF_RANGE) && !sw && out_of_range(&io.in[0])) {
		commit(c, i, FSW_C2, d->cc);
		return;
	}
	if ((d->flags & XF_SPLIT) && !x87_empty(c, 7)) {
		io.out[0] = io.out[1] = x87_indefinite;
		sw = FSW_IE | FSW_SF | FSW_C1;
	} else {
		x87_host(d->op, &io);
		sw |= host_status(&io);
	}
	if ((commit(c, i, sw, d->cc) & X87_ABORT) || (d->flags & XF_NOWRITE))
		return;
	if (d->flags & XF_SPLIT) {
		x87_set(c, 0, &io.out[1]);
		x87_set_top(c, x87_top(c) + 7);
	}
	x87_set(c, 0, &io.out[0]);
}

/* FLD, FILD and the constants (computed by the host: FLDPI and friends round by RC). */
static void h_load(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct x87_desc *d = emu_fpu_desc(i);
	uint16_t sw = 0;
	f80 v;

	emu_fpu_check_x87(c, true);
	if (d->flags & XF_CONST) {
		struct x87_io io = {.cw = c->fpu.fcw};
		x87_host(d->op, &io);
		v = io.out[0];
	} else if (i->op[0].kind == EMU_OPND_MEM) {
		sw = fetch_mem(c, i, 0, d->flags & XF_INT, &v);
	} else {
		sw = fetch(c, i->op[0].reg, &v);
	}
	push(c, i, &v, sw);
}

/* FST, FSTP, FIST, FISTP, FISTTP: to memory (converted by the host; an m80 is copied) or to
 * ST(i). The memory write comes before any change to the stack or status. */
static void h_store(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct x87_desc *d = emu_fpu_desc(i);
	const struct emu_opnd *o = &i->op[0];
	struct x87_io io = {.cw = c->fpu.fcw};
	uint16_t sw, abort = X87_ABORT_STORE;

	emu_fpu_check_x87(c, true);
	sw = fetch(c, 0, &io.in[0]);
	if (o->kind == EMU_OPND_REG) {
		abort = X87_ABORT;
		io.out[0] = io.in[0];
	} else if (!(d->flags & XF_INT) && o->size == 10) {
		io.out[0] = io.in[0];
	} else {
		x87_host(convert_op(d->flags & XF_INT, true, d->flags & XF_TRUNC, o->size), &io);
		sw |= io.sw & (FSW_EXC | FSW_C1);
	}
	bool withheld = sw & ~c->fpu.fcw & abort;
	if (!withheld && o->kind == EMU_OPND_MEM)
		emu_fpu_mem_write(c, i, 0, io.out[0].b, o->size);
	commit(c, i, sw, FSW_C1);
	if (withheld)
		return;
	if (o->kind == EMU_OPND_REG)
		x87_set(c, o->reg, &io.out[0]);
	if (d->flags & XF_POP)
		pop(c);
}

/* FXCH ST(i) (ST(1) without an operand). */
static void h_fxch(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned j = i->nopnd ? i->op[0].reg : 1;
	f80 a, b;

	emu_fpu_check_x87(c, true);
	uint16_t sw = fetch(c, 0, &a) | fetch(c, j, &b);
	if (commit(c, i, sw, FSW_C1) & X87_ABORT)
		return;
	x87_set(c, 0, &b);
	x87_set(c, j, &a);
}

static bool fcmov_condition(const struct emu_cpu *c, unsigned mnemonic)
{
	uint64_t f = c->rflags;

	switch (mnemonic) {
	case ZYDIS_MNEMONIC_FCMOVB:
		return f & RFLAGS_CF;
	case ZYDIS_MNEMONIC_FCMOVE:
		return f & RFLAGS_ZF;
	case ZYDIS_MNEMONIC_FCMOVBE:
		return f & (RFLAGS_CF | RFLAGS_ZF);
	case ZYDIS_MNEMONIC_FCMOVU:
		return f & RFLAGS_PF;
	case ZYDIS_MNEMONIC_FCMOVNB:
		return !(f & RFLAGS_CF);
	case ZYDIS_MNEMONIC_FCMOVNE:
		return !(f & RFLAGS_ZF);
	case ZYDIS_MNEMONIC_FCMOVNBE:
		return !(f & (RFLAGS_CF | RFLAGS_ZF));
	default: /* FCMOVNU */
		return !(f & RFLAGS_PF);
	}
}

/* FCMOVcc ST(0), ST(i). Writing ST(0) back when the condition is false is a no-op, except
 * that an empty ST(0) then receives the indefinite, the masked underflow response. */
static void h_fcmov(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned j = i->op[1].reg;
	f80 a, b;

	emu_fpu_check_x87(c, true);
	uint16_t sw = fetch(c, 0, &a) | fetch(c, j, &b);
	if (commit(c, i, sw, FSW_C1) & X87_ABORT)
		return;
	x87_set(c, 0, fcmov_condition(c, i->mnemonic) ? &b : &a);
}

static const emu_handler_fn x87_handlers[] = {
    [X_ARITH] = h_arith, [X_UNARY] = h_unary, [X_LOAD] = h_load,
    [X_STORE] = h_store, [X_FXCH] = h_fxch,   [X_FCMOV] = h_fcmov,
};

void emu_register_x87(emu_handler_fn *table)
{
	for (size_t k = 0; k < sizeof(x87_ops) / sizeof(x87_ops[0]); k++)
		emu_fpu_register(table, x87_ops[k].mnemonic, x87_handlers[x87_ops[k].shape],
				 &x87_ops[k]);
	emu_sse_register_state(table);
}
