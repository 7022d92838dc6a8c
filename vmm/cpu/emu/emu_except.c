/* Exception and interrupt delivery of the software vCPU, and its inverse, IRET.
 *
 * emu_deliver() enters the handler the IVT (real mode), the IDT's 8-byte gates (protected mode)
 * or its 16-byte gates (IA-32e mode) name for a vector, switching stacks through the TSS when the
 * handler runs at an inner privilege level (and always to an IST stack when the 64-bit gate names
 * one). It reads and checks everything, then writes the whole frame, and changes registers only
 * after the last access that can fault: a fault during delivery unwinds (emu_raise) with the
 * interrupted state intact, and the run loop escalates it to #DF or a triple fault by the SDM's
 * classes (emu_run.c). The return address is always c->rip: the run loop has put it back to the
 * faulting instruction for a fault, and it is the next instruction for an interrupt or INT n.
 *
 * Task gates and virtual-8086 mode are not implemented: they stop the guest (CPU_EXIT_UNSUPPORTED).
 * Stack segment limits are not checked, like all limits in emu_mem.c. */
#include "vmm/cpu/emu/emu_system.h"

/* One event being delivered. */
struct event {
	int vector;
	bool software;	  /* INT n, INT3, INTO: the gate's DPL is checked against CPL */
	bool push_error;  /* the vector pushes an error code (faults only) */
	uint32_t error;	  /* the error code to push */
	uint32_t ext;	  /* EXT bit of error codes raised while delivering: not for INT n */
	uint32_t idt_err; /* error code naming the gate: vector, IDT bit, EXT */
};

/* A stack being written below sp; base + sp is the linear address of the top. */
struct frame {
	uint64_t base, sp, mask;
	unsigned width; /* bytes per pushed value */
};

static bool has_error_code(int vector)
{
	return vector == EMU_DF || (vector >= EMU_TS && vector <= EMU_PF) || vector == EMU_AC ||
	       vector == 21;
}

static void frame_push(struct emu_cpu *c, struct frame *f, uint64_t value)
{
	f->sp = (f->sp - f->width) & f->mask;
	emu_write_sys(c, f->base + f->sp, f->width, value);
}

/* The RSP a frame leaves: a 16-bit stack keeps the upper bits of the old value. */
static uint64_t frame_rsp(const struct frame *f, uint64_t old_rsp)
{
	return (old_rsp & ~f->mask) | f->sp;
}

/* ---- real mode --------------------------------------------------------------------------- */

static void deliver_real(struct emu_cpu *c, const struct event *ev)
{
	uint64_t entry = (uint64_t)ev->vector * 4;
	if (entry + 3 > c->idtr.limit)
		emu_raise_gp0(c);
	uint32_t ivt = (uint32_t)emu_read_sys(c, c->idtr.base + entry, 4);
	struct frame f = {.base = c->seg[EMU_SS].base,
			  .sp = c->gpr[EMU_RSP] & 0xffff,
			  .mask = 0xffff,
			  .width = 2};
	frame_push(c, &f, c->rflags & 0xffff);
	frame_push(c, &f, c->seg[EMU_CS].sel);
	frame_push(c, &f, c->rip & 0xffff);
	c->gpr[EMU_RSP] = frame_rsp(&f, c->gpr[EMU_RSP]);
	c->rflags &= ~(RFLAGS_IF | RFLAGS_TF | RFLAGS_AC | RFLAGS_RF);
	c->seg[EMU_CS].sel = (uint16_t)(ivt >> 16);
	c->seg[EMU_CS].base = (uint64_t)(ivt >> 16) << 4;
	c->rip = ivt & 0xffff;
}

/* ---- gates and the code segment they name ------------------------------------------------ */

/* The gate's descriptor checks shared by both IDT formats: type, DPL for INT n, present. */
static void gate_check(struct emu_cpu *c, const struct event *ev, uint64_t gate, bool long_mode)
{
	unsigned type = (unsigned)(gate >> 40) & 0x1f; /* S included: gates have it clear */
	bool ok = type == SYS_INT_GATE || type == SYS_TRAP_GATE;
	if (!long_mode)
		ok |= type == SYS_INT_GATE16 || type == SYS_TRAP_GATE16 || type == SYS_TASK_GATE;
	if (!ok)
		emu_raise(c, EMU_GP, ev->idt_err);
	if (ev->software && DESC_DPL(gate) < c->cpl)
		emu_raise(c, EMU_GP, ev->idt_err);
	if (!(gate & DESC_P))
		emu_raise(c, EMU_NP, ev->idt_err);
	if (type == SYS_TASK_GATE)
		emu_exit(
		    c, CPU_EXIT_UNSUPPORTED,
		    "vCPU %u: vector %d through a task gate is not implemented by the software "
		    "vCPU",
		    c->cpu.index, ev->vector);
}

/* The handler's code segment: present code at DPL <= CPL (64-bit code in IA-32e mode). */
static uint64_t handler_cs(struct emu_cpu *c, const struct event *ev, uint16_t sel, bool long_mode,
			   uint64_t *linear)
{
	if (SEL_NULL(sel))
		emu_raise(c, EMU_GP, ev->ext);
	uint64_t d = emu_desc_fetch(c, sel, EMU_GP, ev->ext, linear);
	bool bad_mode = long_mode && (!(d & DESC_L) || (d & DESC_DB));
	if (!desc_is_code(d) || DESC_DPL(d) > c->cpl || bad_mode)
		emu_raise(c, EMU_GP, SEL_ERR(sel) | ev->ext);
	if (!(d & DESC_P))
		emu_raise(c, EMU_NP, SEL_ERR(sel) | ev->ext);
	return d;
}

/* The CPL the handler runs at: a conforming segment keeps the current one. */
static unsigned handler_cpl(const struct emu_cpu *c, uint64_t cs_desc)
{
	return (cs_desc & DESC_CONFORMING) ? c->cpl : DESC_DPL(cs_desc);
}

/* A TSS field, inside the TSS's limit (else #TS naming the TSS). */
static uint64_t tss_read(struct emu_cpu *c, unsigned offset, unsigned size, uint32_t ext)
{
	if ((uint64_t)offset + size - 1 > c->tr.limit)
		emu_raise(c, EMU_TS, SEL_ERR(c->tr.sel) | ext);
	return emu_read_sys(c, c->tr.base + offset, size);
}

/* Flags of the handler: TF, NT, RF and VM clear; an interrupt gate clears IF too. */
static uint64_t handler_flags(uint64_t rflags, uint64_t gate)
{
	rflags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
	if (!(DESC_TYPE(gate) & 1))
		rflags &= ~RFLAGS_IF;
	return rflags;
}

/* ---- protected mode ---------------------------------------------------------------------- */

/* The inner stack for CPL `cpl` from a 32-bit (or 16-bit) TSS, checked as the new SS. */
static void tss32_stack(struct emu_cpu *c, const struct event *ev, unsigned cpl, uint16_t *ss_sel,
			uint64_t *ss_desc, uint64_t *ss_lin, uint64_t *sp)
{
	unsigned type = SEG_ATTR_TYPE(c->tr.attr);
	if (type == SYS_TSS16_AVAIL || type == SYS_TSS16_BUSY) {
		*sp = tss_read(c, 2 + 4 * cpl, 2, ev->ext);
		*ss_sel = (uint16_t)tss_read(c, 4 + 4 * cpl, 2, ev->ext);
	} else {
		*sp = tss_read(c, 4 + 8 * cpl, 4, ev->ext);
		*ss_sel = (uint16_t)tss_read(c, 8 + 8 * cpl, 2, ev->ext);
	}
	if (SEL_NULL(*ss_sel))
		emu_raise(c, EMU_TS, ev->ext);
	*ss_desc = emu_stack_desc(c, *ss_sel, cpl, EMU_TS, ev->ext, ss_lin);
}

static void deliver_protected(struct emu_cpu *c, const struct event *ev)
{
	uint64_t entry = (uint64_t)ev->vector * 8;
	if (entry + 7 > c->idtr.limit)
		emu_raise(c, EMU_GP, ev->idt_err);
	uint64_t gate = emu_read_sys(c, c->idtr.base + entry, 8);
	gate_check(c, ev, gate, false);
	if (c->rflags & RFLAGS_VM)
		emu_exit(c, CPU_EXIT_UNSUPPORTED,
			 "vCPU %u: interrupts in virtual-8086 mode are not implemented by the "
			 "software vCPU",
			 c->cpu.index);
	bool gate32 = DESC_TYPE(gate) & 8;
	uint16_t sel = (uint16_t)(gate >> 16);
	uint64_t offset = (gate & 0xffff) | (gate32 ? (gate >> 32) & 0xffff0000 : 0);
	uint64_t cs_lin, cs = handler_cs(c, ev, sel, false, &cs_lin);
	unsigned cpl = handler_cpl(c, cs);
	if (offset > desc_limit(cs))
		emu_raise(c, EMU_GP, ev->ext);

	struct frame f = {.width = gate32 ? 4 : 2};
	uint16_t ss_sel = c->seg[EMU_SS].sel;
	uint64_t ss_desc = 0, ss_lin = 0, sp = c->gpr[EMU_RSP];
	bool inner = cpl < c->cpl;
	if (inner) {
		tss32_stack(c, ev, cpl, &ss_sel, &ss_desc, &ss_lin, &sp);
		f.base = desc_base(ss_desc);
		f.mask = (ss_desc & DESC_DB) ? 0xffffffff : 0xffff;
	} else {
		f.base = c->seg[EMU_SS].base;
		f.mask = emu_size_mask(emu_stack_width(c));
	}
	f.sp = sp & f.mask;
	if (inner) {
		frame_push(c, &f, c->seg[EMU_SS].sel);
		frame_push(c, &f, c->gpr[EMU_RSP]);
	}
	frame_push(c, &f, c->rflags);
	frame_push(c, &f, c->seg[EMU_CS].sel);
	frame_push(c, &f, c->rip);
	if (ev->push_error)
		frame_push(c, &f, ev->error);
	if (inner)
		emu_desc_set_accessed(c, ss_desc, ss_lin);
	emu_desc_set_accessed(c, cs, cs_lin);

	c->rflags = handler_flags(c->rflags, gate);
	emu_load_cs(c, sel, cs, cpl);
	if (inner)
		emu_seg_from_descriptor(&c->seg[EMU_SS], ss_sel, ss_desc);
	c->gpr[EMU_RSP] = frame_rsp(&f, sp);
	c->rip = offset;
}

/* ---- IA-32e mode ------------------------------------------------------------------------- */

/* The handler's RSP: the IST stack the gate names, else RSP0-2 for an inner CPL, else the
 * current one; then aligned to 16 bytes. */
static uint64_t long_stack(struct emu_cpu *c, const struct event *ev, unsigned ist, unsigned cpl)
{
	uint64_t rsp = c->gpr[EMU_RSP];
	if (ist)
		rsp = tss_read(c, 0x24 + 8 * (ist - 1), 8, ev->ext);
	else if (cpl < c->cpl)
		rsp = tss_read(c, 4 + 8 * cpl, 8, ev->ext);
	if (!emu_canonical(rsp))
		emu_raise(c, EMU_SS, ev->ext);
	return rsp & ~15ull;
}

static void deliver_long(struct emu_cpu *c, const struct event *ev)
{
	uint64_t entry = (uint64_t)ev->vector * 16;
	if (entry + 15 > c->idtr.limit)
		emu_raise(c, EMU_GP, ev->idt_err);
	uint64_t gate = emu_read_sys(c, c->idtr.base + entry, 8);
	uint64_t gate_hi = emu_read_sys(c, c->idtr.base + entry + 8, 8);
	gate_check(c, ev, gate, true);
	uint16_t sel = (uint16_t)(gate >> 16);
	uint64_t offset = (gate & 0xffff) | ((gate >> 32) & 0xffff0000) | gate_hi << 32;
	uint64_t cs_lin, cs = handler_cs(c, ev, sel, true, &cs_lin);
	unsigned cpl = handler_cpl(c, cs);
	if (!emu_canonical(offset))
		emu_raise(c, EMU_GP, ev->ext);
	uint64_t rsp = long_stack(c, ev, (unsigned)(gate >> 32) & 7, cpl);

	struct frame f = {.base = 0, .sp = rsp, .mask = ~0ull, .width = 8};
	frame_push(c, &f, c->seg[EMU_SS].sel);
	frame_push(c, &f, c->gpr[EMU_RSP]);
	frame_push(c, &f, c->rflags);
	frame_push(c, &f, c->seg[EMU_CS].sel);
	frame_push(c, &f, c->rip);
	if (ev->push_error)
		frame_push(c, &f, ev->error);
	emu_desc_set_accessed(c, cs, cs_lin);

	bool inner = cpl < c->cpl;
	c->rflags = handler_flags(c->rflags, gate);
	emu_load_cs(c, sel, cs, cpl);
	if (inner)
		emu_null_ss(&c->seg[EMU_SS], (uint16_t)cpl);
	c->gpr[EMU_RSP] = f.sp;
	c->rip = offset;
}

void emu_deliver(struct emu_cpu *c, int vector, enum emu_event_kind kind, uint32_t error_code)
{
	struct event ev = {.vector = vector & 0xff, .software = kind == EMU_EVENT_SOFTWARE};
	ev.push_error = kind == EMU_EVENT_FAULT && has_error_code(ev.vector);
	ev.error = error_code == EMU_NO_ERROR_CODE ? 0 : error_code;
	/* EXT: the event did not come from the program (an interrupt, or an exception). */
	ev.ext = ev.software ? 0 : 1;
	ev.idt_err = (uint32_t)ev.vector << 3 | 2 | ev.ext;
	if (!(c->cr0 & CR0_PE))
		deliver_real(c, &ev);
	else if (emu_long_mode(c))
		deliver_long(c, &ev);
	else
		deliver_protected(c, &ev);
	if (ev.vector == EMU_NMI && kind == EMU_EVENT_EXTERNAL)
		c->nmi_blocked = true;
}

/* ---- IRET -------------------------------------------------------------------------------- */

/* The flags IRET takes from the popped image: IOPL only at CPL 0, IF only at CPL <= IOPL;
 * VM is never taken (returns to virtual-8086 mode stop the guest before). */
static uint64_t iret_flags(const struct emu_cpu *c, uint64_t popped, unsigned size)
{
	uint64_t take = RFLAGS_ARITH | RFLAGS_TF | RFLAGS_DF | RFLAGS_NT;
	unsigned iopl = (unsigned)(c->rflags >> 12) & 3;
	if (size > 2)
		take |= RFLAGS_RF | RFLAGS_AC | RFLAGS_ID;
	if (c->cpl <= iopl)
		take |= RFLAGS_IF;
	if (c->cpl == 0) {
		take |= RFLAGS_IOPL;
		if (size > 2)
			take |= RFLAGS_VIF | RFLAGS_VIP;
	}
	return (c->rflags & ~take) | (popped & take) | RFLAGS_FIXED;
}

static void iret_real(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->opsize;
	uint64_t ip = emu_stack_peek(c, 0, size);
	uint16_t cs = (uint16_t)emu_stack_peek(c, size, size);
	uint64_t flags = emu_stack_peek(c, 2 * size, size);
	if (size == 2)
		c->rflags = (c->rflags & ~0xffffull) | flags | RFLAGS_FIXED;
	else /* VM, VIF and VIP stay: SDM "IRET", real-address mode */
		c->rflags = (flags & 0x257fd5) | (c->rflags & 0x1a0000) | RFLAGS_FIXED;
	c->gpr[EMU_RSP] = emu_stack_add(c, 3 * size);
	c->seg[EMU_CS].sel = cs;
	c->seg[EMU_CS].base = (uint64_t)cs << 4;
	c->rip = ip & emu_size_mask(size);
}

_Noreturn static void iret_unsupported(struct emu_cpu *c, const char *what)
{
	emu_exit(c, CPU_EXIT_UNSUPPORTED,
		 "vCPU %u: iret %s at rip 0x%llx is not implemented by the software vCPU",
		 c->cpu.index, what, (unsigned long long)c->insn_rip);
}

/* Protected and IA-32e mode: to the same privilege, or to an outer one popping SS:rSP (which
 * 64-bit mode always pops). */
static void iret_protected(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->opsize;
	if (c->rflags & RFLAGS_NT) {
		if (emu_long_mode(c))
			emu_raise_gp0(c);
		iret_unsupported(c, "to a nested task");
	}
	uint64_t ip = emu_stack_peek(c, 0, size);
	uint16_t sel = (uint16_t)emu_stack_peek(c, size, size);
	uint64_t popped = emu_stack_peek(c, 2 * size, size);
	if (size == 4 && (popped & RFLAGS_VM) && c->cpl == 0 && !emu_long_mode(c))
		iret_unsupported(c, "to virtual-8086 mode");
	uint64_t lin, cs = emu_return_cs(c, sel, &lin);
	uint64_t rip = emu_code_rip(c, cs, ip, size);
	uint64_t flags = iret_flags(c, popped, size);
	if (c->mode != EMU_MODE_64 && (sel & 3) == c->cpl) {
		emu_desc_set_accessed(c, cs, lin);
		emu_load_cs(c, sel, cs, c->cpl);
		c->gpr[EMU_RSP] = emu_stack_add(c, 3 * size);
	} else {
		uint64_t rsp = emu_stack_peek(c, 3 * size, size);
		uint16_t ss = (uint16_t)emu_stack_peek(c, 4 * size, size);
		emu_return_with_stack(c, sel, cs, lin, ss, rsp);
	}
	/* After the last check: the flags were computed with the old CPL. */
	c->rflags = flags;
	c->rip = rip;
}

void emu_iret(struct emu_cpu *c, const struct emu_insn *i)
{
	if (c->rflags & RFLAGS_VM)
		iret_unsupported(c, "in virtual-8086 mode");
	if (c->cr0 & CR0_PE)
		iret_protected(c, i);
	else
		iret_real(c, i);
	c->nmi_blocked = false;
}
