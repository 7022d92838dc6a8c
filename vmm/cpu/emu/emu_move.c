/* The data-movement family of the software vCPU: MOV (general-purpose, memory and immediate
 * forms), MOVZX MOVSX MOVSXD LEA, the exchanges (XCHG CMPXCHG CMPXCHG8B CMPXCHG16B XADD), the
 * stack (PUSH POP PUSHA/PUSHAD POPA/POPAD PUSHF POPF ENTER LEAVE), LAHF SAHF, the sign
 * extensions of the accumulator (CBW CWDE CDQE CWD CDQ CQO), CMOVcc SETcc BSWAP XLAT and NOP.
 *
 * MOV to or from segment, control and debug registers, and PUSH/POP of segment registers, are
 * the system family's: these handlers forward them (emu_mov_special, emu_push_pop_seg).
 *
 * Every handler performs all its accesses that can fault before it changes a register, so
 * the run loop can restart the instruction after a fault: where the hardware pops and then
 * stores (POP to memory, POPA, LEAVE, ENTER) the stack is read with emu_peek_stack() and rSP
 * written last. Exchanges with memory go through emu_rmw() (emu_int.h), atomic in guest RAM
 * (as LOCK, and XCHG always, require).
 *
 * MOV between general registers, immediates and memory has handlers per shape, chosen when the
 * instruction is decoded (emu_move_bind), that skip the operand-kind dispatch. */
#include "vmm/cpu/emu/emu.h"
#include "vmm/cpu/emu/emu_flags.h"
#include "vmm/cpu/emu/emu_int.h"

/* The system family's forms of MOV and PUSH/POP (emu_system.c). */
void emu_mov_special(struct emu_cpu *c, const struct emu_insn *i);
void emu_push_pop_seg(struct emu_cpu *c, const struct emu_insn *i);

static bool is_reg_of_class(const struct emu_opnd *o, unsigned reg_class)
{
	return o->kind == EMU_OPND_REG && o->reg_class == reg_class;
}

static bool is_special_reg(const struct emu_opnd *o)
{
	return is_reg_of_class(o, EMU_RC_SEG) || is_reg_of_class(o, EMU_RC_CR) ||
	       is_reg_of_class(o, EMU_RC_DR);
}

/* ---- moves -------------------------------------------------------------------------------- */

static void h_mov(struct emu_cpu *c, const struct emu_insn *i)
{
	if (is_special_reg(&i->op[0]) || is_special_reg(&i->op[1])) {
		emu_mov_special(c, i);
		return;
	}
	emu_opnd_write(c, i, 0, emu_src(c, i, 1, i->op[0].size));
}

/* MOV shapes bound at decode time: general register (not AH-BH) or memory destination; a
 * register destination of 64 or 32 bits, the commonest, with the size known, which makes the
 * write one store (the 8- and 16-bit ones merge). */
static inline __attribute__((always_inline)) void
mov_reg_reg(struct emu_cpu *c, const struct emu_insn *i, unsigned size)
{
	emu_gpr_write(c, i->op[0].reg, size, c->gpr[i->op[1].reg & 15]);
}

static inline __attribute__((always_inline)) void
mov_reg_imm(struct emu_cpu *c, const struct emu_insn *i, unsigned size)
{
	emu_gpr_write(c, i->op[0].reg, size, (uint64_t)i->op[1].disp);
}

#define MOV_SIZED(name, body)                                                                      \
	static void name##_64(struct emu_cpu *c, const struct emu_insn *i)                         \
	{                                                                                          \
		body(c, i, 8);                                                                     \
	}                                                                                          \
	static void name##_32(struct emu_cpu *c, const struct emu_insn *i)                         \
	{                                                                                          \
		body(c, i, 4);                                                                     \
	}                                                                                          \
	static void name(struct emu_cpu *c, const struct emu_insn *i)                              \
	{                                                                                          \
		body(c, i, i->op[0].size);                                                         \
	}
MOV_SIZED(h_mov_reg_reg, mov_reg_reg)
MOV_SIZED(h_mov_reg_imm, mov_reg_imm)

/* The loads and stores of MOV, the commonest memory accesses, with emu_read and emu_write
 * inlined (flatten): left to itself the compiler calls one out-of-line copy of each here. */
static __attribute__((flatten)) void h_mov_reg_mem(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_opnd *m = &i->op[1];
	emu_gpr_write(c, i->op[0].reg, i->op[0].size,
		      emu_read(c, m->seg, emu_opnd_ea(c, i, 1), m->size));
}

static __attribute__((flatten)) void h_mov_mem_reg(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_opnd *m = &i->op[0];
	emu_write(c, m->seg, emu_opnd_ea(c, i, 0), m->size,
		  c->gpr[i->op[1].reg & 15] & emu_mask(m->size));
}

emu_handler_fn emu_move_bind(const struct emu_insn *i)
{
	const struct emu_opnd *d = &i->op[0], *s = &i->op[1];
	if (i->fn != h_mov || i->nopnd != 2 || (i->prefixes & EMU_PFX_LOCK))
		return NULL;
	bool d_gpr = is_reg_of_class(d, EMU_RC_GPR), s_gpr = is_reg_of_class(s, EMU_RC_GPR);
	if (d_gpr && s_gpr)
		return d->size == 8   ? h_mov_reg_reg_64
		       : d->size == 4 ? h_mov_reg_reg_32
				      : h_mov_reg_reg;
	if (d_gpr && s->kind == EMU_OPND_IMM)
		return d->size == 8   ? h_mov_reg_imm_64
		       : d->size == 4 ? h_mov_reg_imm_32
				      : h_mov_reg_imm;
	if (d_gpr && s->kind == EMU_OPND_MEM && s->size == d->size)
		return h_mov_reg_mem;
	if (d->kind == EMU_OPND_MEM && s_gpr && s->size == d->size)
		return h_mov_mem_reg;
	return NULL;
}

/* MOVZX MOVSX MOVSXD: the source at its own size, extended to the destination's. A memory
 * source, as common as a register one, is read here with emu_read inlined (flatten) rather
 * than through emu_opnd_read_any. */
static __attribute__((flatten)) void h_movx(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_opnd *s = &i->op[1];
	unsigned from = s->size;
	uint64_t v = s->kind == EMU_OPND_MEM ? emu_read(c, s->seg, emu_opnd_ea(c, i, 1), from)
					     : emu_opnd_read(c, i, 1) & emu_mask(from);
	if (i->mnemonic != ZYDIS_MNEMONIC_MOVZX)
		v = emu_sext(v, from);
	emu_opnd_write(c, i, 0, v & emu_mask(i->op[0].size));
}

static void h_lea(struct emu_cpu *c, const struct emu_insn *i)
{
	if (i->op[1].kind != EMU_OPND_MEM)
		emu_raise_ud(c);
	emu_opnd_write(c, i, 0, emu_opnd_ea(c, i, 1) & emu_mask(i->op[0].size));
}

static void h_cmov(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->op[0].size;
	uint64_t v = emu_src(c, i, 1, size); /* the source is read (and faults) either way */
	if (emu_cond(c->rflags, i->opcode & 0xf))
		emu_opnd_write(c, i, 0, v);
	else if (size == 4) /* a 32-bit destination is zero-extended even then */
		emu_opnd_write(c, i, 0, emu_opnd_read(c, i, 0) & 0xffffffffu);
}

/* A byte register, the common destination, is written here; emu_opnd_write's inline path is
 * for 32- and 64-bit ones only. */
static void h_setcc(struct emu_cpu *c, const struct emu_insn *i)
{
	bool v = emu_cond(c->rflags, i->opcode & 0xf);
	if (i->op[0].kind == EMU_OPND_REG && i->op[0].reg_class == EMU_RC_GPR)
		emu_gpr_write(c, i->op[0].reg, 1, v);
	else
		emu_opnd_write(c, i, 0, v);
}

static void h_bswap(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t v = emu_opnd_read(c, i, 0);
	switch (i->op[0].size) {
	case 8:
		v = __builtin_bswap64(v);
		break;
	case 4:
		v = __builtin_bswap32((uint32_t)v);
		break;
	default: /* BSWAP r16 is undefined: the hardware clears the register */
		v = 0;
		break;
	}
	emu_opnd_write(c, i, 0, v);
}

/* CBW CWDE CDQE: the accumulator's low half sign-extended into all of it. */
static void h_cbw(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->mnemonic == ZYDIS_MNEMONIC_CBW    ? 2
			: i->mnemonic == ZYDIS_MNEMONIC_CWDE ? 4
							     : 8;
	emu_gpr_write(c, EMU_RAX, size, emu_sext(c->gpr[EMU_RAX], size / 2));
}

/* CWD CDQ CQO: rDX filled with the accumulator's sign. */
static void h_cwd(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->mnemonic == ZYDIS_MNEMONIC_CWD   ? 2
			: i->mnemonic == ZYDIS_MNEMONIC_CDQ ? 4
							    : 8;
	emu_gpr_write(c, EMU_RDX, size, c->gpr[EMU_RAX] & emu_msb(size) ? ~0ull : 0);
}

static void h_lahf(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t ah = (c->rflags & (RFLAGS_SF | RFLAGS_ZF | RFLAGS_AF | RFLAGS_PF | RFLAGS_CF)) |
		      RFLAGS_FIXED;
	emu_reg_write(c, EMU_RC_GPR8H, EMU_RAX, 1, ah);
}

static void h_sahf(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t ah = emu_reg_read(c, EMU_RC_GPR8H, EMU_RAX, 1);
	c->rflags = emu_flags_merge(c->rflags, ah,
				    RFLAGS_SF | RFLAGS_ZF | RFLAGS_AF | RFLAGS_PF | RFLAGS_CF);
}

/* XLAT: AL = seg:[rBX + AL], rBX at the address size. */
static void h_xlat(struct emu_cpu *c, const struct emu_insn *i)
{
	uint64_t ea = (c->gpr[EMU_RBX] + (c->gpr[EMU_RAX] & 0xff)) & emu_mask(i->addrsize);
	emu_gpr_write(c, EMU_RAX, 1, emu_read(c, emu_implicit_seg(i, EMU_RBX), ea, 1));
}

static void h_nop(struct emu_cpu *c, const struct emu_insn *i)
{
}

/* ---- exchanges ---------------------------------------------------------------------------- */

/* The update of a compare-exchange: the new value if the old one is the expected one, else
 * the old one written back (the hardware always writes). */
struct cx_update {
	uint64_t expected, desired;
};

static uint64_t cx_apply(void *ctx, uint64_t old)
{
	const struct cx_update *u = ctx;
	return old == u->expected ? u->desired : old;
}

static uint64_t xchg_apply(void *ctx, uint64_t old)
{
	return *(const uint64_t *)ctx;
}

/* XCHG: with memory always atomic (the hardware asserts LOCK itself). */
static void h_xchg(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned m = i->op[1].kind == EMU_OPND_MEM ? 1 : 0, r = 1 - m;
	uint64_t v = emu_opnd_read(c, i, r), old;
	if (i->op[m].kind != EMU_OPND_MEM) {
		if (i->prefixes & EMU_PFX_LOCK)
			emu_raise_ud(c);
		old = emu_opnd_read(c, i, m);
		emu_opnd_write(c, i, m, v);
		emu_opnd_write(c, i, r, old);
		return;
	}
	struct emu_loc d = emu_loc_of(c, i, m);
	old = emu_rmw(c, &d, xchg_apply, &v);
	emu_opnd_write(c, i, r, old);
}

/* CMPXCHG: compares the accumulator with op0; equal: op0 = op1, else the accumulator = op0.
 * The flags are those of CMP accumulator, op0. A memory destination is always written; a
 * register one only on success (a failing 32-bit CMPXCHG leaves its top half alone). */
static void h_cmpxchg(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_check_lock(c, i, true);
	struct emu_loc d = emu_loc_of(c, i, 0);
	unsigned size = d.size;
	struct cx_update u = {c->gpr[EMU_RAX] & emu_mask(size), emu_src(c, i, 1, size)};
	uint64_t old;
	if (d.mem) {
		old = emu_rmw(c, &d, cx_apply, &u);
	} else {
		old = emu_loc_read(c, &d);
		if (old == u.expected)
			emu_loc_write(c, &d, u.desired);
	}
	uint64_t flags = c->rflags;
	emu_alu(EMU_ALU_CMP, u.expected, old, size, &flags);
	if (old != u.expected) /* on success rAX is not written (its top half stays) */
		emu_gpr_write(c, EMU_RAX, size, old);
	c->rflags = flags;
}

/* One lock cmpxchg16b on a host address: gcc turns the 16-byte __atomic builtins into
 * libatomic calls, which the VMM does not link. */
static bool host_cmpxchg16b(void *p, uint64_t *lo, uint64_t *hi, uint64_t new_lo, uint64_t new_hi)
{
	bool ok;
	__asm__ volatile("lock cmpxchg16b %[m]"
			 : [m] "+m"(*(unsigned __int128 *)p), "=@ccz"(ok), "+a"(*lo), "+d"(*hi)
			 : "b"(new_lo), "c"(new_hi)
			 : "memory");
	return ok;
}

/* CMPXCHG16B's memory access: lo and hi hold the expected value and return the value found. */
static bool cmpxchg16(struct emu_cpu *c, const struct emu_insn *i, uint64_t *lo, uint64_t *hi)
{
	unsigned seg = i->op[0].seg;
	uint64_t ea = emu_opnd_ea(c, i, 0), m[2];
	if (emu_linear(c, seg, ea, 16) & 15)
		emu_raise_gp0(c);
	void *p = i->prefixes & EMU_PFX_LOCK ? emu_lock_ptr(c, seg, ea, 16) : NULL;
	if (p)
		return host_cmpxchg16b(p, lo, hi, c->gpr[EMU_RBX], c->gpr[EMU_RCX]);
	emu_read_bytes(c, seg, ea, m, 16);
	bool equal = m[0] == *lo && m[1] == *hi;
	if (equal) {
		m[0] = c->gpr[EMU_RBX];
		m[1] = c->gpr[EMU_RCX];
	}
	emu_write_bytes(c, seg, ea, m, 16);
	if (!equal) {
		*lo = m[0];
		*hi = m[1];
	}
	return equal;
}

/* CMPXCHG8B / CMPXCHG16B: rDX:rAX against the memory; equal: memory = rCX:rBX, else rDX:rAX
 * = memory. Only ZF changes. */
static void h_cmpxchg_wide(struct emu_cpu *c, const struct emu_insn *i)
{
	if (i->op[0].kind != EMU_OPND_MEM)
		emu_raise_ud(c);
	unsigned half = i->op[0].size == 16 ? 8 : 4;
	uint64_t lo = c->gpr[EMU_RAX], hi = c->gpr[EMU_RDX];
	bool equal;
	if (half == 8) {
		equal = cmpxchg16(c, i, &lo, &hi);
	} else {
		struct emu_loc d = emu_loc_of(c, i, 0);
		d.size = 8;
		struct cx_update u = {(hi << 32) | (uint32_t)lo,
				      (c->gpr[EMU_RCX] << 32) | (uint32_t)c->gpr[EMU_RBX]};
		uint64_t old = emu_rmw(c, &d, cx_apply, &u);
		equal = old == u.expected;
		lo = old;
		hi = old >> 32;
	}
	if (!equal) {
		emu_gpr_write(c, EMU_RAX, half, lo);
		emu_gpr_write(c, EMU_RDX, half, hi);
	}
	c->rflags = emu_flags_merge(c->rflags, equal ? RFLAGS_ZF : 0, RFLAGS_ZF);
}

static uint64_t xadd_apply(void *ctx, uint64_t old)
{
	const uint64_t *src = ctx;
	return old + *src;
}

/* XADD: op1 = op0, op0 = op0 + op1, in that order (XADD r, r with one register doubles it). */
static void h_xadd(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_check_lock(c, i, true);
	struct emu_loc d = emu_loc_of(c, i, 0);
	uint64_t src = emu_src(c, i, 1, d.size), old, flags = c->rflags;
	if (d.mem) {
		old = emu_rmw(c, &d, xadd_apply, &src);
		emu_opnd_write(c, i, 1, old);
	} else {
		old = emu_loc_read(c, &d);
		emu_opnd_write(c, i, 1, old);
		emu_opnd_write(c, i, 0, (old + src) & emu_mask(d.size));
	}
	emu_alu(EMU_ALU_ADD, old, src, d.size, &flags);
	c->rflags = flags;
}

/* ---- the stack ---------------------------------------------------------------------------- */

static void h_push(struct emu_cpu *c, const struct emu_insn *i)
{
	if (is_reg_of_class(&i->op[0], EMU_RC_SEG)) {
		emu_push_pop_seg(c, i);
		return;
	}
	/* PUSH rSP pushes the value before the push. */
	emu_push(c, emu_src(c, i, 0, i->opsize), i->opsize);
}

/* POP: a memory destination whose address uses rSP sees rSP after the pop; rSP changes only
 * once the store has succeeded. */
static void h_pop(struct emu_cpu *c, const struct emu_insn *i)
{
	if (is_reg_of_class(&i->op[0], EMU_RC_SEG)) {
		emu_push_pop_seg(c, i);
		return;
	}
	unsigned size = i->opsize;
	if (i->op[0].kind != EMU_OPND_MEM) {
		/* POP rSP: the popped value replaces the incremented rSP. */
		uint64_t v = emu_pop(c, size);
		emu_opnd_write(c, i, 0, v);
		return;
	}
	uint64_t v = emu_peek_stack(c, 0, size);
	uint64_t ea = emu_opnd_ea(c, i, 0);
	if (i->op[0].base == EMU_RSP)
		ea = (ea + size) & emu_mask(i->addrsize);
	emu_write(c, i->op[0].seg, ea, size, v);
	emu_set_sp(c, c->gpr[EMU_RSP] + size);
}

/* PUSHA/PUSHAD: AX CX DX BX, the original SP, BP SI DI. */
static void h_pusha(struct emu_cpu *c, const struct emu_insn *i)
{
	if (c->mode == EMU_MODE_64)
		emu_raise_ud(c);
	unsigned size = i->opsize, sw = emu_stack_width(c);
	uint64_t sp = c->gpr[EMU_RSP];
	for (unsigned r = EMU_RAX; r <= EMU_RDI; r++)
		emu_write(c, EMU_SS, (sp - (r + 1) * size) & emu_mask(sw), size,
			  c->gpr[r] & emu_mask(size));
	emu_set_sp(c, sp - 8 * size);
}

/* POPA/POPAD: the reverse, skipping the saved SP. */
static void h_popa(struct emu_cpu *c, const struct emu_insn *i)
{
	if (c->mode == EMU_MODE_64)
		emu_raise_ud(c);
	unsigned size = i->opsize;
	uint64_t v[8];
	for (unsigned r = EMU_RAX; r <= EMU_RDI; r++)
		v[r] = emu_peek_stack(c, (7 - r) * size, size);
	for (unsigned r = EMU_RAX; r <= EMU_RDI; r++)
		if (r != EMU_RSP)
			emu_gpr_write(c, r, size, v[r]);
	emu_set_sp(c, c->gpr[EMU_RSP] + 8 * size);
}

/* Virtual-8086 mode with IOPL < 3 traps PUSHF/POPF (no VME support). */
static void check_v86_iopl(struct emu_cpu *c)
{
	if ((c->rflags & RFLAGS_VM) && (c->rflags & RFLAGS_IOPL) != RFLAGS_IOPL)
		emu_raise_gp0(c);
}

/* PUSHF: the image has VM and RF clear. */
static void h_pushf(struct emu_cpu *c, const struct emu_insn *i)
{
	check_v86_iopl(c);
	emu_push(c, c->rflags & ~(RFLAGS_VM | RFLAGS_RF) & emu_mask(i->opsize), i->opsize);
}

/* POPF: IOPL changes only at CPL 0 (or in real mode), IF only when CPL <= IOPL; VM, VIP, VIF
 * and the reserved bits never; a 32- or 64-bit POPF clears RF, a 16-bit one reaches none of
 * the upper flags. */
static void h_popf(struct emu_cpu *c, const struct emu_insn *i)
{
	check_v86_iopl(c);
	unsigned size = i->opsize;
	uint64_t writable = RFLAGS_ARITH | RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_IOPL |
			    RFLAGS_NT | RFLAGS_AC | RFLAGS_ID;
	unsigned iopl = (c->rflags & RFLAGS_IOPL) >> 12;
	bool protected_mode = (c->cr0 & CR0_PE) || (c->rflags & RFLAGS_VM);
	if (protected_mode && c->cpl > 0)
		writable &= ~RFLAGS_IOPL;
	if (protected_mode && c->cpl > iopl)
		writable &= ~RFLAGS_IF;
	writable &= emu_mask(size);
	uint64_t v = emu_pop(c, size);
	uint64_t f = emu_flags_merge(c->rflags, v, writable) | RFLAGS_FIXED;
	if (size >= 4)
		f &= ~RFLAGS_RF;
	c->rflags = f;
}

/* LEAVE: rSP = rBP, then rBP popped. */
static void h_leave(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->opsize, sw = emu_stack_width(c);
	uint64_t sp = c->gpr[EMU_RBP] & emu_mask(sw);
	uint64_t v = emu_read(c, EMU_SS, sp, size);
	emu_set_sp(c, sp + size);
	emu_gpr_write(c, EMU_RBP, size, v);
}

/* ENTER alloc, level: pushes rBP, for level > 1 the level - 1 frame pointers of the enclosing
 * frames, for level > 0 the new frame pointer; then rBP = the frame, rSP -= alloc. The
 * registers change only after every store succeeded. */
static void h_enter(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->opsize, sw = emu_stack_width(c);
	uint64_t smask = emu_mask(sw);
	uint64_t alloc = (uint64_t)i->op[0].disp & 0xffff;
	unsigned level = (unsigned)i->op[1].disp & 31;
	uint64_t sp = c->gpr[EMU_RSP], bp = c->gpr[EMU_RBP];

	sp -= size;
	emu_write(c, EMU_SS, sp & smask, size, bp & emu_mask(size));
	uint64_t frame = sp & smask;
	if (level > 0) {
		for (unsigned k = 1; k < level; k++) {
			bp -= size;
			uint64_t link = emu_read(c, EMU_SS, bp & smask, size);
			sp -= size;
			emu_write(c, EMU_SS, sp & smask, size, link);
		}
		sp -= size;
		emu_write(c, EMU_SS, sp & smask, size, frame & emu_mask(size));
	}
	emu_gpr_write(c, EMU_RBP, size, frame);
	emu_set_sp(c, sp - alloc);
}

void emu_register_move(emu_handler_fn *table)
{
	static const uint16_t cmov[] = {
	    ZYDIS_MNEMONIC_CMOVO,   ZYDIS_MNEMONIC_CMOVNO,  ZYDIS_MNEMONIC_CMOVB,
	    ZYDIS_MNEMONIC_CMOVNB,  ZYDIS_MNEMONIC_CMOVZ,   ZYDIS_MNEMONIC_CMOVNZ,
	    ZYDIS_MNEMONIC_CMOVBE,  ZYDIS_MNEMONIC_CMOVNBE, ZYDIS_MNEMONIC_CMOVS,
	    ZYDIS_MNEMONIC_CMOVNS,  ZYDIS_MNEMONIC_CMOVP,   ZYDIS_MNEMONIC_CMOVNP,
	    ZYDIS_MNEMONIC_CMOVL,   ZYDIS_MNEMONIC_CMOVNL,  ZYDIS_MNEMONIC_CMOVLE,
	    ZYDIS_MNEMONIC_CMOVNLE,
	};
	static const uint16_t setcc[] = {
	    ZYDIS_MNEMONIC_SETO, ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB,  ZYDIS_MNEMONIC_SETNB,
	    ZYDIS_MNEMONIC_SETZ, ZYDIS_MNEMONIC_SETNZ, ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE,
	    ZYDIS_MNEMONIC_SETS, ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP,  ZYDIS_MNEMONIC_SETNP,
	    ZYDIS_MNEMONIC_SETL, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE, ZYDIS_MNEMONIC_SETNLE,
	};
	for (unsigned k = 0; k < 16; k++) {
		table[cmov[k]] = h_cmov;
		table[setcc[k]] = h_setcc;
	}
	table[ZYDIS_MNEMONIC_MOV] = h_mov;
	table[ZYDIS_MNEMONIC_MOVZX] = h_movx;
	table[ZYDIS_MNEMONIC_MOVSX] = h_movx;
	table[ZYDIS_MNEMONIC_MOVSXD] = h_movx;
	table[ZYDIS_MNEMONIC_LEA] = h_lea;
	table[ZYDIS_MNEMONIC_XCHG] = h_xchg;
	table[ZYDIS_MNEMONIC_CMPXCHG] = h_cmpxchg;
	table[ZYDIS_MNEMONIC_CMPXCHG8B] = h_cmpxchg_wide;
	table[ZYDIS_MNEMONIC_CMPXCHG16B] = h_cmpxchg_wide;
	table[ZYDIS_MNEMONIC_XADD] = h_xadd;
	table[ZYDIS_MNEMONIC_PUSH] = h_push;
	table[ZYDIS_MNEMONIC_POP] = h_pop;
	table[ZYDIS_MNEMONIC_PUSHA] = h_pusha;
	table[ZYDIS_MNEMONIC_PUSHAD] = h_pusha;
	table[ZYDIS_MNEMONIC_POPA] = h_popa;
	table[ZYDIS_MNEMONIC_POPAD] = h_popa;
	table[ZYDIS_MNEMONIC_PUSHF] = h_pushf;
	table[ZYDIS_MNEMONIC_PUSHFD] = h_pushf;
	table[ZYDIS_MNEMONIC_PUSHFQ] = h_pushf;
	table[ZYDIS_MNEMONIC_POPF] = h_popf;
	table[ZYDIS_MNEMONIC_POPFD] = h_popf;
	table[ZYDIS_MNEMONIC_POPFQ] = h_popf;
	table[ZYDIS_MNEMONIC_LAHF] = h_lahf;
	table[ZYDIS_MNEMONIC_SAHF] = h_sahf;
	table[ZYDIS_MNEMONIC_CBW] = h_cbw;
	table[ZYDIS_MNEMONIC_CWDE] = h_cbw;
	table[ZYDIS_MNEMONIC_CDQE] = h_cbw;
	table[ZYDIS_MNEMONIC_CWD] = h_cwd;
	table[ZYDIS_MNEMONIC_CDQ] = h_cwd;
	table[ZYDIS_MNEMONIC_CQO] = h_cwd;
	table[ZYDIS_MNEMONIC_BSWAP] = h_bswap;
	table[ZYDIS_MNEMONIC_LEAVE] = h_leave;
	table[ZYDIS_MNEMONIC_ENTER] = h_enter;
	table[ZYDIS_MNEMONIC_XLAT] = h_xlat;
	table[ZYDIS_MNEMONIC_NOP] = h_nop;
	table[ZYDIS_MNEMONIC_ENDBR32] = h_nop;
	table[ZYDIS_MNEMONIC_ENDBR64] = h_nop;
}
