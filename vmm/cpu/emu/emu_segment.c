/* Segmentation of the software vCPU: descriptor tables, segment register loads with the
 * protected-mode checks, far JMP/CALL/RET, PUSH/POP of segment registers and the fast system
 * calls (SYSCALL/SYSRET, SYSENTER/SYSEXIT).
 *
 * The guest is untrusted: every selector and descriptor goes through the SDM's checks and a bad
 * one raises the architectural fault. As in every handler, all accesses that can fault (the
 * descriptor read, the accessed bit, the stack) happen before the first register changes, so a
 * fault leaves the instruction restartable. Far transfers change privilege only by returning
 * (RET/IRET to an outer ring); call gates and task switches are not implemented and stop the
 * guest with CPU_EXIT_UNSUPPORTED (no guest this VMM runs uses them). */
#include "vmm/cpu/emu/emu_system.h"

/* ---- descriptors ------------------------------------------------------------------------- */

uint64_t emu_desc_fetch(struct emu_cpu *c, uint16_t sel, int vector, uint32_t ext, uint64_t *linear)
{
	uint64_t base = c->gdtr.base, limit = c->gdtr.limit;
	if (sel & 4) {
		/* A null LDTR (LLDT of a null selector, or never loaded) has no table. */
		if (SEL_NULL(c->ldtr.sel) || !(c->ldtr.attr & SEG_ATTR_P))
			emu_raise(c, vector, SEL_ERR(sel) | ext);
		base = c->ldtr.base;
		limit = c->ldtr.limit;
	}
	uint64_t offset = sel & ~7u;
	if (offset + 7 > limit)
		emu_raise(c, vector, SEL_ERR(sel) | ext);
	if (linear)
		*linear = base + offset;
	return emu_read_sys(c, base + offset, 8);
}

uint64_t emu_read_descriptor(struct emu_cpu *c, uint16_t selector, uint64_t *linear)
{
	return emu_desc_fetch(c, selector, EMU_GP, 0, linear);
}

void emu_seg_from_descriptor(struct emu_seg *s, uint16_t selector, uint64_t desc)
{
	s->sel = selector;
	s->base = desc_base(desc);
	s->limit = desc_limit(desc);
	/* Descriptor bits 40-47 and 52-55 are the VMX access rights' bits 0-7 and 12-15. */
	s->attr = (uint16_t)((desc >> 40) & 0xf0ff);
}

/* The hardware sets the bit with a locked access; the byte store here can only race with the
 * guest changing the same type byte on another vCPU at the same time. */
void emu_desc_set_accessed(struct emu_cpu *c, uint64_t desc, uint64_t linear)
{
	if (!(desc & DESC_ACCESSED))
		emu_write_sys(c, linear + 5, 1, ((desc >> 40) & 0xff) | 1);
}

void emu_null_ss(struct emu_seg *s, uint16_t sel)
{
	/* Unusable (P clear), DPL = RPL: 64-bit mode ignores SS's base, limit and B. */
	*s = (struct emu_seg){.sel = sel, .attr = (uint16_t)((sel & 3) << 5 | SEG_ATTR_DB)};
}

/* A data segment register the null selector (or a privilege drop) leaves unusable. */
static void null_data_seg(struct emu_seg *s, uint16_t sel)
{
	*s = (struct emu_seg){.sel = sel};
}

/* ---- data and stack segment loads -------------------------------------------------------- */

uint64_t emu_stack_desc(struct emu_cpu *c, uint16_t sel, unsigned cpl, int vector, uint32_t ext,
			uint64_t *linear)
{
	uint64_t d = emu_desc_fetch(c, sel, vector, ext, linear);
	if ((sel & 3) != cpl || !desc_is_data(d) || !(d & DESC_RW) || DESC_DPL(d) != cpl)
		emu_raise(c, vector, SEL_ERR(sel) | ext);
	if (!(d & DESC_P))
		emu_raise(c, EMU_SS, SEL_ERR(sel) | ext);
	return d;
}

static void load_ss(struct emu_cpu *c, uint16_t sel)
{
	if (SEL_NULL(sel)) {
		if (c->mode != EMU_MODE_64 || c->cpl == 3 || (sel & 3) != c->cpl)
			emu_raise_gp0(c);
		emu_null_ss(&c->seg[EMU_SS], sel);
		return;
	}
	uint64_t lin, d = emu_stack_desc(c, sel, c->cpl, EMU_GP, 0, &lin);
	emu_desc_set_accessed(c, d, lin);
	emu_seg_from_descriptor(&c->seg[EMU_SS], sel, d);
}

/* DS, ES, FS, GS: data or readable code; the privilege check does not apply to conforming
 * code. In 64-bit mode a null selector also clears the base, as Intel CPUs do. */
static void load_data_seg(struct emu_cpu *c, unsigned sreg, uint16_t sel)
{
	if (SEL_NULL(sel)) {
		null_data_seg(&c->seg[sreg], sel);
		return;
	}
	uint64_t lin, d = emu_desc_fetch(c, sel, EMU_GP, 0, &lin);
	bool conforming = desc_is_code(d) && (d & DESC_CONFORMING);
	if (!desc_is_data(d) && !(desc_is_code(d) && (d & DESC_RW)))
		emu_raise(c, EMU_GP, SEL_ERR(sel));
	if (!conforming && ((sel & 3) > DESC_DPL(d) || c->cpl > DESC_DPL(d)))
		emu_raise(c, EMU_GP, SEL_ERR(sel));
	if (!(d & DESC_P))
		emu_raise(c, EMU_NP, SEL_ERR(sel));
	emu_desc_set_accessed(c, d, lin);
	emu_seg_from_descriptor(&c->seg[sreg], sel, d);
}

/* Real mode: the selector is the paragraph; the hidden limit and attributes stay (unreal mode
 * keeps working). Virtual-8086 mode also resets them to a 64 KiB DPL-3 data segment. */
static void load_real_seg(struct emu_cpu *c, unsigned sreg, uint16_t sel)
{
	struct emu_seg *s = &c->seg[sreg];
	s->sel = sel;
	s->base = (uint64_t)sel << 4;
	if (c->rflags & RFLAGS_VM) {
		s->limit = 0xffff;
		s->attr = 0x3 | SEG_ATTR_S | 3 << 5 | SEG_ATTR_P;
	}
}

void emu_load_seg(struct emu_cpu *c, unsigned sreg, uint16_t selector)
{
	if (sreg == EMU_CS || sreg >= EMU_SEG_COUNT)
		emu_raise_ud(c); /* CS changes only through far transfers */
	if (!emu_protected(c))
		load_real_seg(c, sreg, selector);
	else if (sreg == EMU_SS)
		load_ss(c, selector);
	else
		load_data_seg(c, sreg, selector);
}

/* ---- code segments ----------------------------------------------------------------------- */

void emu_load_cs(struct emu_cpu *c, uint16_t sel, uint64_t desc, unsigned cpl)
{
	emu_seg_from_descriptor(&c->seg[EMU_CS], (uint16_t)((sel & 0xfffc) | cpl), desc);
	c->cpl = (uint8_t)cpl;
	emu_update_mode(c);
}

uint64_t emu_code_rip(struct emu_cpu *c, uint64_t desc, uint64_t offset, unsigned opsize)
{
	if (emu_long_mode(c) && (desc & DESC_L)) {
		if (!emu_canonical(offset))
			emu_raise_gp0(c);
		return offset;
	}
	offset &= opsize == 2 ? 0xffff : 0xffffffff;
	if (offset > desc_limit(desc))
		emu_raise_gp0(c);
	return offset;
}

/* A gate or TSS as a far JMP/CALL target: task switches and call gates are not implemented. */
_Noreturn static void system_target(struct emu_cpu *c, uint16_t sel, uint64_t d)
{
	unsigned type = DESC_TYPE(d);
	if (type == SYS_CALL_GATE || type == SYS_TASK_GATE || type == SYS_TSS_AVAIL ||
	    (!emu_long_mode(c) && (type == 4 || type == SYS_TSS16_AVAIL)))
		emu_exit(
		    c, CPU_EXIT_UNSUPPORTED,
		    "vCPU %u: far transfer through a call gate or task (selector 0x%x, type %u) "
		    "at rip 0x%llx is not implemented by the software vCPU",
		    c->cpu.index, sel, type, (unsigned long long)c->insn_rip);
	emu_raise(c, EMU_GP, SEL_ERR(sel));
}

/* The code segment of a far JMP/CALL at the same privilege. */
static uint64_t jump_cs(struct emu_cpu *c, uint16_t sel, uint64_t *linear)
{
	if (SEL_NULL(sel))
		emu_raise_gp0(c);
	uint64_t d = emu_desc_fetch(c, sel, EMU_GP, 0, linear);
	if (!(d & DESC_S))
		system_target(c, sel, d);
	bool bad_priv = (d & DESC_CONFORMING) ? DESC_DPL(d) > c->cpl
					      : (sel & 3) > c->cpl || DESC_DPL(d) != c->cpl;
	if (!(d & DESC_CODE) || bad_priv)
		emu_raise(c, EMU_GP, SEL_ERR(sel));
	if (emu_long_mode(c) && (d & DESC_L) && (d & DESC_DB))
		emu_raise(c, EMU_GP, SEL_ERR(sel));
	if (!(d & DESC_P))
		emu_raise(c, EMU_NP, SEL_ERR(sel));
	return d;
}

uint64_t emu_return_cs(struct emu_cpu *c, uint16_t sel, uint64_t *linear)
{
	if (SEL_NULL(sel))
		emu_raise_gp0(c);
	uint64_t d = emu_desc_fetch(c, sel, EMU_GP, 0, linear);
	unsigned rpl = sel & 3;
	bool bad_priv = (d & DESC_CONFORMING) ? DESC_DPL(d) > rpl : DESC_DPL(d) != rpl;
	if (!desc_is_code(d) || rpl < c->cpl || bad_priv)
		emu_raise(c, EMU_GP, SEL_ERR(sel));
	if (emu_long_mode(c) && (d & DESC_L) && (d & DESC_DB))
		emu_raise(c, EMU_GP, SEL_ERR(sel));
	if (!(d & DESC_P))
		emu_raise(c, EMU_NP, SEL_ERR(sel));
	return d;
}

/* Real mode and virtual-8086 mode: CS is the paragraph of the selector. */
static void load_real_cs(struct emu_cpu *c, uint16_t sel)
{
	c->seg[EMU_CS].sel = sel;
	c->seg[EMU_CS].base = (uint64_t)sel << 4;
}

/* ---- the stack without committing -------------------------------------------------------- */

static uint64_t stack_mask(const struct emu_cpu *c)
{
	return emu_size_mask(emu_stack_width(c));
}

uint64_t emu_stack_peek(struct emu_cpu *c, uint64_t offset, unsigned size)
{
	uint64_t mask = stack_mask(c);
	return emu_read(c, EMU_SS, (c->gpr[EMU_RSP] + offset) & mask, size);
}

uint64_t emu_stack_add(const struct emu_cpu *c, uint64_t bytes)
{
	uint64_t mask = stack_mask(c);
	return (c->gpr[EMU_RSP] & ~mask) | ((c->gpr[EMU_RSP] + bytes) & mask);
}

/* Pushes a then b (size bytes each) below the stack pointer and returns the new RSP, which the
 * caller commits once nothing else can fault. */
static uint64_t stack_write2(struct emu_cpu *c, uint64_t a, uint64_t b, unsigned size)
{
	uint64_t mask = stack_mask(c), sp = c->gpr[EMU_RSP];
	emu_write(c, EMU_SS, (sp - size) & mask, size, a);
	emu_write(c, EMU_SS, (sp - 2 * size) & mask, size, b);
	return (sp & ~mask) | ((sp - 2 * size) & mask);
}

/* ---- far JMP, CALL, RET ------------------------------------------------------------------ */

/* The selector and offset of a far JMP/CALL operand: an immediate ptr16:16/32, or m16:16/32/64
 * (offset first, then the selector). */
static void far_operand(struct emu_cpu *c, const struct emu_insn *i, uint16_t *sel,
			uint64_t *offset)
{
	const struct emu_opnd *o = &i->op[0];
	if (o->kind == EMU_OPND_PTR) {
		*sel = o->ptr_sel;
		*offset = (uint64_t)o->disp & emu_size_mask(i->opsize);
		return;
	}
	if (o->kind != EMU_OPND_MEM)
		emu_raise_ud(c);
	uint64_t ea = emu_opnd_ea(c, i, 0);
	*offset = emu_read(c, o->seg, ea, i->opsize);
	*sel = (uint16_t)emu_read(c, o->seg, (ea + i->opsize) & emu_size_mask(i->addrsize), 2);
}

void emu_far_jmp(struct emu_cpu *c, const struct emu_insn *i)
{
	uint16_t sel;
	uint64_t offset, lin;
	far_operand(c, i, &sel, &offset);
	if (!emu_protected(c)) {
		load_real_cs(c, sel);
		c->rip = offset & emu_size_mask(i->opsize);
		return;
	}
	uint64_t d = jump_cs(c, sel, &lin);
	uint64_t rip = emu_code_rip(c, d, offset, i->opsize);
	emu_desc_set_accessed(c, d, lin);
	emu_load_cs(c, sel, d, c->cpl);
	c->rip = rip;
}

void emu_far_call(struct emu_cpu *c, const struct emu_insn *i)
{
	uint16_t sel;
	uint64_t offset, lin;
	unsigned size = i->opsize;
	far_operand(c, i, &sel, &offset);
	if (!emu_protected(c)) {
		c->gpr[EMU_RSP] = stack_write2(c, c->seg[EMU_CS].sel, c->rip, size);
		load_real_cs(c, sel);
		c->rip = offset & emu_size_mask(size);
		return;
	}
	uint64_t d = jump_cs(c, sel, &lin);
	uint64_t rip = emu_code_rip(c, d, offset, size);
	uint64_t rsp = stack_write2(c, c->seg[EMU_CS].sel, c->rip, size);
	emu_desc_set_accessed(c, d, lin);
	emu_load_cs(c, sel, d, c->cpl);
	c->gpr[EMU_RSP] = rsp;
	c->rip = rip;
}

/* Segment registers the new, less privileged CPL may not use become null (SDM: RET, IRET). */
static void drop_inaccessible_segs(struct emu_cpu *c)
{
	static const unsigned regs[] = {EMU_ES, EMU_DS, EMU_FS, EMU_GS};
	for (unsigned k = 0; k < sizeof(regs) / sizeof(regs[0]); k++) {
		struct emu_seg *s = &c->seg[regs[k]];
		bool conforming_code = (s->attr & 0x18) == 0x18 && (s->attr & 0x4);
		if ((s->attr & SEG_ATTR_P) && !conforming_code && SEG_ATTR_DPL(s->attr) < c->cpl) {
			s->sel = 0;
			s->attr = 0;
		}
	}
}

void emu_return_with_stack(struct emu_cpu *c, uint16_t cs_sel, uint64_t cs_desc, uint64_t cs_linear,
			   uint16_t ss_sel, uint64_t rsp)
{
	unsigned rpl = cs_sel & 3;
	bool to64 = emu_long_mode(c) && (cs_desc & DESC_L);
	uint64_t ss_desc = 0, ss_lin = 0;
	if (SEL_NULL(ss_sel)) {
		if (!to64 || rpl == 3 || (ss_sel & 3) != rpl)
			emu_raise_gp0(c);
	} else {
		ss_desc = emu_stack_desc(c, ss_sel, rpl, EMU_GP, 0, &ss_lin);
		emu_desc_set_accessed(c, ss_desc, ss_lin);
	}
	emu_desc_set_accessed(c, cs_desc, cs_linear);
	bool outer = rpl > c->cpl;
	emu_load_cs(c, cs_sel, cs_desc, rpl);
	if (SEL_NULL(ss_sel))
		emu_null_ss(&c->seg[EMU_SS], ss_sel);
	else
		emu_seg_from_descriptor(&c->seg[EMU_SS], ss_sel, ss_desc);
	c->gpr[EMU_RSP] = rsp;
	if (outer)
		drop_inaccessible_segs(c);
}

void emu_far_ret(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->opsize;
	uint64_t imm =
	    i->nopnd && i->op[0].kind == EMU_OPND_IMM ? (uint64_t)i->op[0].disp & 0xffff : 0;
	uint64_t offset = emu_stack_peek(c, 0, size);
	uint16_t sel = (uint16_t)emu_stack_peek(c, size, size);
	if (!emu_protected(c)) {
		load_real_cs(c, sel);
		c->rip = offset & emu_size_mask(size);
		c->gpr[EMU_RSP] = emu_stack_add(c, 2 * size + imm);
		return;
	}
	uint64_t lin, d = emu_return_cs(c, sel, &lin);
	uint64_t rip = emu_code_rip(c, d, offset, size);
	if ((sel & 3) == c->cpl) {
		emu_desc_set_accessed(c, d, lin);
		emu_load_cs(c, sel, d, c->cpl);
		c->gpr[EMU_RSP] = emu_stack_add(c, 2 * size + imm);
		c->rip = rip;
		return;
	}
	/* To an outer ring: the caller's SS:rSP follow the immediate's parameter bytes, and the
	 * immediate is released from the caller's stack too. */
	uint64_t rsp = emu_stack_peek(c, 2 * size + imm, size);
	uint16_t ss = (uint16_t)emu_stack_peek(c, 3 * size + imm, size);
	emu_return_with_stack(c, sel, d, lin, ss, (rsp + imm) & emu_size_mask(size));
	c->rip = rip;
}

/* ---- PUSH/POP of segment registers ------------------------------------------------------- */

void emu_push_pop_seg(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned sreg = i->op[0].reg;
	if (i->op[0].kind != EMU_OPND_REG || i->op[0].reg_class != EMU_RC_SEG ||
	    sreg >= EMU_SEG_COUNT)
		emu_unimplemented(c, i);
	if (i->mnemonic == ZYDIS_MNEMONIC_PUSH) {
		emu_push(c, c->seg[sreg].sel, i->opsize);
		return;
	}
	/* The increment uses the old SS's width; RSP changes only once the load succeeded. */
	uint16_t sel = (uint16_t)emu_stack_peek(c, 0, i->opsize);
	uint64_t rsp = emu_stack_add(c, i->opsize);
	emu_load_seg(c, sreg, sel);
	c->gpr[EMU_RSP] = rsp;
	if (sreg == EMU_SS)
		c->shadow = true;
}

/* ---- SYSCALL/SYSRET, SYSENTER/SYSEXIT ---------------------------------------------------- */

/* These load fixed flat segments from the MSRs' selectors without reading the GDT. */
static void flat_code(struct emu_seg *s, uint16_t sel, unsigned dpl, bool code64)
{
	*s = (struct emu_seg){.sel = sel,
			      .limit = 0xffffffff,
			      .attr = (uint16_t)(0xb | SEG_ATTR_S | dpl << 5 | SEG_ATTR_P |
						 SEG_ATTR_G | (code64 ? SEG_ATTR_L : SEG_ATTR_DB))};
}

static void flat_stack(struct emu_seg *s, uint16_t sel, unsigned dpl)
{
	*s = (struct emu_seg){.sel = sel,
			      .limit = 0xffffffff,
			      .attr = (uint16_t)(0x3 | SEG_ATTR_S | dpl << 5 | SEG_ATTR_P |
						 SEG_ATTR_DB | SEG_ATTR_G)};
}

static void enter_flat(struct emu_cpu *c, uint16_t cs, uint16_t ss, unsigned cpl, bool code64)
{
	flat_code(&c->seg[EMU_CS], cs, cpl, code64);
	flat_stack(&c->seg[EMU_SS], ss, cpl);
	c->cpl = (uint8_t)cpl;
	emu_update_mode(c);
}

/* SYSCALL in 64-bit mode to LSTAR; from compatibility mode to CSTAR (as AMD CPUs do: Intel
 * CPUs raise #UD there, which no guest relies on). Legacy mode has no SYSCALL here. */
void emu_syscall(struct emu_cpu *c, const struct emu_insn *i)
{
	if (!(c->efer & EFER_SCE) || !emu_long_mode(c))
		emu_raise_ud(c);
	uint64_t target = c->mode == EMU_MODE_64 ? c->lstar : c->cstar;
	uint16_t sel = (uint16_t)(c->star >> 32) & 0xfffc;
	c->gpr[EMU_RCX] = c->rip;
	c->gpr[EMU_R11] = c->rflags & ~RFLAGS_RF;
	c->rflags = (c->rflags & ~(c->sfmask | RFLAGS_RF)) | RFLAGS_FIXED;
	enter_flat(c, sel, sel + 8, 0, true);
	c->rip = target;
}

void emu_sysret(struct emu_cpu *c, const struct emu_insn *i)
{
	if (!(c->efer & EFER_SCE) || c->mode != EMU_MODE_64)
		emu_raise_ud(c);
	if (c->cpl != 0)
		emu_raise_gp0(c);
	bool to64 = i->opsize == 8;
	uint64_t rcx = c->gpr[EMU_RCX];
	if (to64 && !emu_canonical(rcx))
		emu_raise_gp0(c);
	uint16_t base = (uint16_t)(c->star >> 48);
	c->rflags = (c->gpr[EMU_R11] & 0x3c7fd7) | RFLAGS_FIXED;
	enter_flat(c, (uint16_t)((to64 ? base + 16 : base) | 3), (uint16_t)((base + 8) | 3), 3,
		   to64);
	c->rip = to64 ? rcx : (uint32_t)rcx;
}

/* SYSENTER to the SYSENTER_CS/EIP/ESP MSRs: 64-bit code in IA-32e mode, else 32-bit. */
void emu_sysenter(struct emu_cpu *c, const struct emu_insn *i)
{
	uint16_t sel = (uint16_t)c->sysenter_cs & 0xfffc;
	if (!(c->cr0 & CR0_PE) || sel == 0)
		emu_raise_gp0(c);
	bool lm = emu_long_mode(c);
	c->rflags &= ~(RFLAGS_VM | RFLAGS_IF | RFLAGS_RF);
	enter_flat(c, sel, sel + 8, 0, lm);
	c->rip = lm ? c->sysenter_eip : (uint32_t)c->sysenter_eip;
	c->gpr[EMU_RSP] = lm ? c->sysenter_esp : (uint32_t)c->sysenter_esp;
}

void emu_sysexit(struct emu_cpu *c, const struct emu_insn *i)
{
	uint16_t base = (uint16_t)c->sysenter_cs & 0xfffc;
	if (!(c->cr0 & CR0_PE) || c->cpl != 0 || base == 0)
		emu_raise_gp0(c);
	bool to64 = i->opsize == 8;
	uint64_t rip = c->gpr[EMU_RDX], rsp = c->gpr[EMU_RCX];
	if (to64 && (!emu_canonical(rip) || !emu_canonical(rsp)))
		emu_raise_gp0(c);
	uint16_t cs = to64 ? base + 32 : base + 16;
	enter_flat(c, cs | 3, (cs + 8) | 3, 3, to64);
	c->rip = to64 ? rip : (uint32_t)rip;
	c->gpr[EMU_RSP] = to64 ? rsp : (uint32_t)rsp;
}
