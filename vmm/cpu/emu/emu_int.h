/* Helpers the integer instruction families (emu_alu.c, emu_move.c, emu_flow.c, emu_string.c,
 * emu_bits.c, emu_muldiv.c) share on top of the core's services in emu.h:
 *
 * - source operands read at the destination's size (immediates arrive sign-extended as their
 *   encoding says, at their own encoded size, so they are masked here rather than read);
 * - operand locations and the read-modify-write of a destination: a register, a memory
 *   operand read and written plainly, or, under LOCK (and always for XCHG), one host
 *   compare-exchange loop of the operand's width on the guest page emu_lock_ptr() returns,
 *   so the update is atomic against the other vCPUs as on the hardware;
 * - the LOCK prefix check (#UD where it is not allowed);
 * - reading the stack without popping (for the instructions that must fault before they
 *   change RSP) and writing RSP at the stack-address width;
 * - the segment of an implicit DS:rSI / DS:rBX operand after overrides. */
#ifndef VMM_CPU_EMU_EMU_INT_H
#define VMM_CPU_EMU_EMU_INT_H

#include "vmm/cpu/emu/emu.h"
#include "vmm/cpu/emu/emu_flags.h"

/* Operand n as a source for a result of `size` bytes, zero-extended from that size. */
static inline uint64_t emu_src(struct emu_cpu *c, const struct emu_insn *i, unsigned n,
			       unsigned size)
{
	if (i->op[n].kind == EMU_OPND_IMM)
		return (uint64_t)i->op[n].disp & emu_mask(size);
	return emu_opnd_read(c, i, n) & emu_mask(size);
}

/* Writes the low `size` bytes of v to a general register (not AH-BH): 32-bit writes
 * zero-extend, 8- and 16-bit ones merge. */
static inline void emu_gpr_write(struct emu_cpu *c, unsigned reg, unsigned size, uint64_t v)
{
	uint64_t *r = &c->gpr[reg & 15];
	v &= emu_mask(size);
	*r = size >= 4 ? v : (*r & ~emu_mask(size)) | v;
}

/* #UD for a LOCK prefix where it is not allowed: on an instruction that does not take it, or
 * on one that does but whose destination is not in memory. */
static inline void emu_check_lock(struct emu_cpu *c, const struct emu_insn *i, bool lockable)
{
	if ((i->prefixes & EMU_PFX_LOCK) && (!lockable || i->op[0].kind != EMU_OPND_MEM))
		emu_raise_ud(c);
}

/* ---- locations and read-modify-write ------------------------------------------------------ */

/* Where a destination lives: operand n when it is a register, else seg:ea (which may differ
 * from the operand's own address, as for BT with a register bit offset). */
struct emu_loc {
	const struct emu_insn *i;
	unsigned n;
	bool mem;
	unsigned seg;
	uint64_t ea;
	unsigned size;
};

static inline struct emu_loc emu_loc_of(struct emu_cpu *c, const struct emu_insn *i, unsigned n)
{
	struct emu_loc l = {.i = i, .n = n, .size = i->op[n].size};
	if (i->op[n].kind == EMU_OPND_MEM) {
		l.mem = true;
		l.seg = i->op[n].seg;
		l.ea = emu_opnd_ea(c, i, n);
	}
	return l;
}

static inline uint64_t emu_loc_read(struct emu_cpu *c, const struct emu_loc *l)
{
	if (l->mem)
		return emu_read(c, l->seg, l->ea, l->size);
	return emu_opnd_read(c, l->i, l->n) & emu_mask(l->size);
}

static inline void emu_loc_write(struct emu_cpu *c, const struct emu_loc *l, uint64_t v)
{
	if (l->mem)
		emu_write(c, l->seg, l->ea, l->size, v);
	else
		emu_opnd_write(c, l->i, l->n, v);
}

/* The new value of a read-modify-write from the old one. Under contention it runs again with
 * a fresher old value, so it must recompute every output it leaves in ctx. */
typedef uint64_t (*emu_rmw_fn)(void *ctx, uint64_t old);

/* One compare-exchange of `size` bytes at host address p; on failure *expected is the value
 * found. */
static inline bool emu_host_cas(void *p, unsigned size, uint64_t *expected, uint64_t desired)
{
#define EMU_CAS_AS(T)                                                                              \
	do {                                                                                       \
		T e_ = (T)*expected;                                                               \
		bool ok_ = __atomic_compare_exchange_n((T *)p, &e_, (T)desired, false,             \
						       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);        \
		*expected = e_;                                                                    \
		return ok_;                                                                        \
	} while (0)
	switch (size) {
	case 1:
		EMU_CAS_AS(uint8_t);
	case 2:
		EMU_CAS_AS(uint16_t);
	case 4:
		EMU_CAS_AS(uint32_t);
	default:
		EMU_CAS_AS(uint64_t);
	}
#undef EMU_CAS_AS
}

/* Replaces the destination by fn(ctx, old) and returns old. `atomic`: one locked host
 * operation when the guest page allows it (emu_lock_ptr() is NULL for MMIO or a split
 * operand: those take the plain path, as a bus lock would be invisible to them anyway). The
 * memory is written even when the value is unchanged, as the hardware does. */
static inline uint64_t emu_rmw(struct emu_cpu *c, const struct emu_loc *l, bool atomic,
			       emu_rmw_fn fn, void *ctx)
{
	void *p = atomic && l->mem ? emu_lock_ptr(c, l->seg, l->ea, l->size) : NULL;
	uint64_t old;
	if (!p) {
		old = emu_loc_read(c, l);
		emu_loc_write(c, l, fn(ctx, old));
		return old;
	}
	old = emu_host_load(p, l->size);
	while (!emu_host_cas(p, l->size, &old, fn(ctx, old)))
		;
	return old;
}

/* ---- the stack ---------------------------------------------------------------------------- */

/* Reads `size` bytes at SS:rSP + off without changing rSP. */
static inline uint64_t emu_peek_stack(struct emu_cpu *c, uint64_t off, unsigned size)
{
	uint64_t sp = (c->gpr[EMU_RSP] + off) & emu_mask(emu_stack_width(c));
	return emu_read(c, EMU_SS, sp, size);
}

/* Sets rSP at the stack-address width (SP alone for a 16-bit stack). */
static inline void emu_set_sp(struct emu_cpu *c, uint64_t sp)
{
	emu_reg_write(c, EMU_RC_GPR, EMU_RSP, emu_stack_width(c), sp);
}

/* ---- implicit operands -------------------------------------------------------------------- */

/* The segment of the implicit memory operand based on `base` (rSI for the string sources,
 * rBX for XLAT) after a segment override: the decoder records it in that hidden operand. DS
 * when the instruction carries no such operand. */
static inline unsigned emu_implicit_seg(const struct emu_insn *i, unsigned base)
{
	for (unsigned n = 0; n < 4; n++)
		if (i->op[n].kind == EMU_OPND_MEM && i->op[n].base == base &&
		    i->op[n].seg != EMU_SEG_NONE)
			return i->op[n].seg;
	return EMU_DS;
}

#endif
