/* The system instructions of the software vCPU: interrupt flag and halt, port I/O, descriptor
 * table and task registers, control and debug registers, CPUID, TSC and MSRs, software
 * interrupts, cache and ordering instructions, and the instructions CPUID does not advertise
 * (#UD). emu_register_system() names each handler for its Zydis mnemonics.
 *
 * Privilege: instructions the SDM reserves for CPL 0 raise #GP(0) elsewhere (real mode is CPL 0);
 * instructions that exist only in protected mode raise #UD in real and virtual-8086 mode. Like
 * every handler these fault before they change anything. Segment loads, far transfers, IRET and
 * the fast system calls live in emu_segment.c and emu_except.c; CPUID's table and the MSRs in
 * emu_cpuid.c and emu_msr.c. */
#include <sched.h>

#include "vmm/cpu/emu/emu_system.h"

#define CR0_WRITABLE                                                                               \
	(CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | \
	 CR0_PG)
/* CR4 bits of the features CPUID advertises (and PCE, which has no CPUID bit). */
#define CR4_WRITABLE	 (CR4_TSD | CR4_PSE | CR4_PAE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT)
#define CR4_TLB_BITS	 (CR4_PSE | CR4_PAE | CR4_PGE)
#define CR0_TLB_BITS	 (CR0_PE | CR0_PG | CR0_WP)
#define DR6_FIXED_ONES	 0xffff0ff0ull
#define DR7_FIXED_ONES	 0x400ull
#define PAUSES_PER_YIELD 64

static void require_cpl0(struct emu_cpu *c)
{
	if (c->cpl != 0)
		emu_raise_gp0(c);
}

static void require_protected(struct emu_cpu *c)
{
	if (!emu_protected(c))
		emu_raise_ud(c);
}

static void set_zf(struct emu_cpu *c, bool set)
{
	c->rflags = set ? c->rflags | RFLAGS_ZF : c->rflags & ~RFLAGS_ZF;
}

static void set_edx_eax(struct emu_cpu *c, uint64_t v)
{
	c->gpr[EMU_RAX] = (uint32_t)v;
	c->gpr[EMU_RDX] = v >> 32;
}

/* ---- interrupt flag, halt ---------------------------------------------------------------- */

/* CLI/STI: real mode always; protected mode at CPL <= IOPL; virtual-8086 mode at IOPL 3 (no
 * VME/PVI). */
static void require_if_access(struct emu_cpu *c)
{
	unsigned iopl = (unsigned)(c->rflags >> 12) & 3;
	if (!(c->cr0 & CR0_PE))
		return;
	if ((c->rflags & RFLAGS_VM) ? iopl != 3 : c->cpl > iopl)
		emu_raise_gp0(c);
}

static void h_cli(struct emu_cpu *c, const struct emu_insn *i)
{
	require_if_access(c);
	c->rflags &= ~RFLAGS_IF;
}

/* Interrupts stay blocked until the instruction after STI has run, if STI set IF. */
static void h_sti(struct emu_cpu *c, const struct emu_insn *i)
{
	require_if_access(c);
	if (!(c->rflags & RFLAGS_IF))
		c->shadow = true;
	c->rflags |= RFLAGS_IF;
}

static void h_hlt(struct emu_cpu *c, const struct emu_insn *i)
{
	require_cpl0(c);
	c->halted = true;
	emu_exit(c, CPU_EXIT_HLT, "%s", "");
}

/* ---- port I/O ---------------------------------------------------------------------------- */

static uint16_t io_port(const struct emu_cpu *c, const struct emu_opnd *o)
{
	return o->kind == EMU_OPND_IMM ? (uint8_t)o->disp : (uint16_t)c->gpr[EMU_RDX];
}

/* IN AL/AX/EAX, imm8 or DX. */
static void h_in(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->op[0].size;
	uint32_t v = emu_port_in(c, io_port(c, &i->op[1]), size);
	emu_reg_write(c, EMU_RC_GPR, EMU_RAX, size, v);
}

/* OUT imm8 or DX, AL/AX/EAX. */
static void h_out(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned size = i->op[1].size;
	uint32_t v = (uint32_t)emu_reg_read(c, EMU_RC_GPR, EMU_RAX, size);
	emu_port_out(c, io_port(c, &i->op[0]), size, v);
}

/* ---- descriptor tables ------------------------------------------------------------------- */

/* The memory operand of LGDT/LIDT/SGDT/SIDT: a 2-byte limit, then the base (8 bytes in 64-bit
 * mode, else 4, of which a 16-bit operand size loads 24 bits). */
static uint64_t dtr_operand(struct emu_cpu *c, const struct emu_insn *i, uint64_t *base_ea)
{
	if (i->op[0].kind != EMU_OPND_MEM)
		emu_raise_ud(c);
	uint64_t ea = emu_opnd_ea(c, i, 0);
	*base_ea = (ea + 2) & emu_size_mask(i->addrsize);
	return ea;
}

static void load_dtr(struct emu_cpu *c, const struct emu_insn *i, struct emu_dtr *dtr)
{
	require_cpl0(c);
	uint64_t base_ea, ea = dtr_operand(c, i, &base_ea);
	unsigned seg = i->op[0].seg;
	uint16_t limit = (uint16_t)emu_read(c, seg, ea, 2);
	uint64_t base = emu_read(c, seg, base_ea, c->mode == EMU_MODE_64 ? 8 : 4);
	if (c->mode != EMU_MODE_64 && i->opsize == 2)
		base &= 0xffffff;
	dtr->base = base;
	dtr->limit = limit;
}

static void store_dtr(struct emu_cpu *c, const struct emu_insn *i, const struct emu_dtr *dtr)
{
	uint64_t base_ea, ea = dtr_operand(c, i, &base_ea);
	unsigned seg = i->op[0].seg;
	emu_write(c, seg, ea, 2, dtr->limit);
	emu_write(c, seg, base_ea, c->mode == EMU_MODE_64 ? 8 : 4, dtr->base);
}

static void h_lgdt(struct emu_cpu *c, const struct emu_insn *i)
{
	load_dtr(c, i, &c->gdtr);
}

static void h_lidt(struct emu_cpu *c, const struct emu_insn *i)
{
	load_dtr(c, i, &c->idtr);
}

static void h_sgdt(struct emu_cpu *c, const struct emu_insn *i)
{
	store_dtr(c, i, &c->gdtr);
}

static void h_sidt(struct emu_cpu *c, const struct emu_insn *i)
{
	store_dtr(c, i, &c->idtr);
}

/* The LDT or TSS descriptor of LLDT/LTR, from the GDT: 16 bytes in IA-32e mode (base bits
 * 32-63 in the second half, whose type field must be 0). */
static uint64_t system_desc(struct emu_cpu *c, uint16_t sel, struct emu_seg *s, uint64_t *lin)
{
	if (sel & 4)
		emu_raise(c, EMU_GP, SEL_ERR(sel));
	uint64_t d = emu_desc_fetch(c, sel, EMU_GP, 0, lin);
	emu_seg_from_descriptor(s, sel, d);
	if (!emu_long_mode(c))
		return d;
	if ((uint64_t)(sel & ~7u) + 15 > c->gdtr.limit)
		emu_raise(c, EMU_GP, SEL_ERR(sel));
	uint64_t hi = emu_read_sys(c, *lin + 8, 8);
	s->base |= hi << 32;
	if (((hi >> 40) & 0x1f) || !emu_canonical(s->base))
		emu_raise(c, EMU_GP, SEL_ERR(sel));
	return d;
}

static void h_lldt(struct emu_cpu *c, const struct emu_insn *i)
{
	require_protected(c);
	require_cpl0(c);
	uint16_t sel = (uint16_t)emu_opnd_read(c, i, 0);
	if (SEL_NULL(sel)) {
		c->ldtr = (struct emu_seg){.sel = sel}; /* unusable */
		return;
	}
	struct emu_seg s;
	uint64_t lin, d = system_desc(c, sel, &s, &lin);
	if ((d & DESC_S) || DESC_TYPE(d) != SYS_LDT)
		emu_raise(c, EMU_GP, SEL_ERR(sel));
	if (!(d & DESC_P))
		emu_raise(c, EMU_NP, SEL_ERR(sel));
	c->ldtr = s;
}

/* LTR loads an available TSS (64-bit in IA-32e mode) and marks it busy in the GDT. */
static void h_ltr(struct emu_cpu *c, const struct emu_insn *i)
{
	require_protected(c);
	require_cpl0(c);
	uint16_t sel = (uint16_t)emu_opnd_read(c, i, 0);
	if (SEL_NULL(sel))
		emu_raise_gp0(c);
	struct emu_seg s;
	uint64_t lin, d = system_desc(c, sel, &s, &lin);
	unsigned type = DESC_TYPE(d);
	bool avail = type == SYS_TSS_AVAIL || (!emu_long_mode(c) && type == SYS_TSS16_AVAIL);
	if ((d & DESC_S) || !avail)
		emu_raise(c, EMU_GP, SEL_ERR(sel));
	if (!(d & DESC_P))
		emu_raise(c, EMU_NP, SEL_ERR(sel));
	emu_write_sys(c, lin + 5, 1, ((d >> 40) & 0xff) | 2);
	s.attr |= 2;
	c->tr = s;
}

static void h_sldt(struct emu_cpu *c, const struct emu_insn *i)
{
	require_protected(c);
	emu_opnd_write(c, i, 0, c->ldtr.sel);
}

static void h_str(struct emu_cpu *c, const struct emu_insn *i)
{
	require_protected(c);
	emu_opnd_write(c, i, 0, c->tr.sel);
}

/* ---- LAR, LSL, VERR, VERW, ARPL ---------------------------------------------------------- */

/* The descriptor a LAR/LSL/VERR/VERW selector names, if it is inside its table (these report
 * a bad selector in ZF instead of faulting; reading the table can still page-fault). */
static bool probe_desc(struct emu_cpu *c, uint16_t sel, uint64_t *d)
{
	uint64_t base = c->gdtr.base, limit = c->gdtr.limit;
	if (SEL_NULL(sel))
		return false;
	if (sel & 4) {
		if (SEL_NULL(c->ldtr.sel))
			return false;
		base = c->ldtr.base;
		limit = c->ldtr.limit;
	}
	if ((uint64_t)(sel & ~7u) + 7 > limit)
		return false;
	*d = emu_read_sys(c, base + (sel & ~7u), 8);
	return true;
}

/* Conforming code is visible at any privilege, everything else needs DPL >= CPL and RPL. */
static bool desc_visible(const struct emu_cpu *c, uint16_t sel, uint64_t d)
{
	if (desc_is_code(d) && (d & DESC_CONFORMING))
		return true;
	return DESC_DPL(d) >= c->cpl && DESC_DPL(d) >= (sel & 3u);
}

/* System types LAR (lar = true) or LSL accept: LDT and TSS, LAR also call and task gates;
 * IA-32e mode has no 16-bit TSS or task gates. */
static bool system_type_ok(const struct emu_cpu *c, unsigned type, bool lar)
{
	bool lm = emu_long_mode(c);
	switch (type) {
	case SYS_LDT:
	case SYS_TSS_AVAIL:
	case SYS_TSS_BUSY:
		return true;
	case SYS_TSS16_AVAIL:
	case SYS_TSS16_BUSY:
		return !lm;
	case SYS_CALL_GATE:
		return lar;
	case 4: /* 16-bit call gate */
	case SYS_TASK_GATE:
		return lar && !lm;
	default:
		return false;
	}
}

static void lar_lsl(struct emu_cpu *c, const struct emu_insn *i, bool lar)
{
	require_protected(c);
	uint16_t sel = (uint16_t)emu_opnd_read(c, i, 1);
	uint64_t d;
	bool ok = probe_desc(c, sel, &d) && desc_visible(c, sel, d) &&
		  ((d & DESC_S) || system_type_ok(c, DESC_TYPE(d), lar));
	if (ok)
		emu_opnd_write(c, i, 0, lar ? (d >> 32) & 0x00f0ff00 : desc_limit(d));
	set_zf(c, ok);
}

static void h_lar(struct emu_cpu *c, const struct emu_insn *i)
{
	lar_lsl(c, i, true);
}

static void h_lsl(struct emu_cpu *c, const struct emu_insn *i)
{
	lar_lsl(c, i, false);
}

/* VERR: readable (data, or readable code); VERW: writable data. */
static void verify(struct emu_cpu *c, const struct emu_insn *i, bool write)
{
	require_protected(c);
	uint16_t sel = (uint16_t)emu_opnd_read(c, i, 0);
	uint64_t d;
	bool ok = probe_desc(c, sel, &d) && desc_visible(c, sel, d);
	if (ok && write)
		ok = desc_is_data(d) && (d & DESC_RW);
	else if (ok)
		ok = desc_is_data(d) || (desc_is_code(d) && (d & DESC_RW));
	set_zf(c, ok);
}

static void h_verr(struct emu_cpu *c, const struct emu_insn *i)
{
	verify(c, i, false);
}

static void h_verw(struct emu_cpu *c, const struct emu_insn *i)
{
	verify(c, i, true);
}

/* ARPL (63 /r outside 64-bit mode, where the opcode is MOVSXD): raise the RPL to the source's. */
static void h_arpl(struct emu_cpu *c, const struct emu_insn *i)
{
	require_protected(c);
	if (c->mode == EMU_MODE_64)
		emu_raise_ud(c);
	uint16_t dst = (uint16_t)emu_opnd_read(c, i, 0);
	uint16_t src = (uint16_t)emu_opnd_read(c, i, 1);
	bool lower = (dst & 3) < (src & 3);
	if (lower)
		emu_opnd_write(c, i, 0, (dst & ~3u) | (src & 3u));
	set_zf(c, lower);
}

/* ---- control and debug registers --------------------------------------------------------- */

/* CR0: reserved bits 0-31 are ignored (ET reads 1), bits 32-63 raise #GP. Paging with EFER.LME
 * activates IA-32e mode, which needs PAE; 64-bit code cannot turn paging off. */
static void cr0_write(struct emu_cpu *c, uint64_t v)
{
	if (v >> 32)
		emu_raise_gp0(c);
	v = (v & CR0_WRITABLE) | CR0_ET;
	if (((v & CR0_PG) && !(v & CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)))
		emu_raise_gp0(c);
	bool paging_on = (v & CR0_PG) && !(c->cr0 & CR0_PG);
	bool paging_off = !(v & CR0_PG) && (c->cr0 & CR0_PG);
	if (paging_on && (c->efer & EFER_LME)) {
		if (!(c->cr4 & CR4_PAE) || (c->seg[EMU_CS].attr & SEG_ATTR_L))
			emu_raise_gp0(c);
		c->efer |= EFER_LMA;
	}
	if (paging_off) {
		if (c->mode == EMU_MODE_64)
			emu_raise_gp0(c);
		c->efer &= ~EFER_LMA;
	}
	if ((v ^ c->cr0) & CR0_TLB_BITS)
		emu_tlb_flush(c, false);
	c->cr0 = v;
	emu_update_mode(c);
}

/* CR3: in IA-32e mode bits above the physical address width are reserved (no PCIDs). */
static void cr3_write(struct emu_cpu *c, uint64_t v)
{
	if (emu_long_mode(c) && (v >> EMU_PHYS_ADDR_BITS))
		emu_raise_gp0(c);
	c->cr3 = emu_long_mode(c) ? v : (uint32_t)v;
	emu_tlb_flush(c, true);
}

static void cr4_write(struct emu_cpu *c, uint64_t v)
{
	if ((v & ~CR4_WRITABLE) || (emu_long_mode(c) && !(v & CR4_PAE)))
		emu_raise_gp0(c);
	if ((v ^ c->cr4) & CR4_TLB_BITS)
		emu_tlb_flush(c, false);
	c->cr4 = v;
}

static uint64_t cr_read(struct emu_cpu *c, unsigned n)
{
	switch (n) {
	case 0:
		return c->cr0;
	case 2:
		return c->cr2;
	case 3:
		return c->cr3;
	case 4:
		return c->cr4;
	case 8:
		return c->cr8;
	default:
		emu_raise_ud(c);
	}
}

static void cr_write(struct emu_cpu *c, unsigned n, uint64_t v)
{
	switch (n) {
	case 0:
		cr0_write(c, v);
		return;
	case 2:
		c->cr2 = v;
		return;
	case 3:
		cr3_write(c, v);
		return;
	case 4:
		cr4_write(c, v);
		return;
	case 8: /* the task priority; the LAPIC's TPR is kept in step by the core */
		if (v & ~0xfull)
			emu_raise_gp0(c);
		c->cr8 = v;
		return;
	default:
		emu_raise_ud(c);
	}
}

/* DR4/DR5 are DR6/DR7 without CR4.DE (which is never set: DE is not advertised). Breakpoints
 * are not implemented: the registers only hold their values. */
static unsigned dr_index(unsigned n)
{
	return n == 4 || n == 5 ? n + 2 : n;
}

static void dr_write(struct emu_cpu *c, unsigned n, uint64_t v)
{
	n = dr_index(n);
	if ((n == 6 || n == 7) && (v >> 32))
		emu_raise_gp0(c);
	if (n == 6)
		v |= DR6_FIXED_ONES;
	else if (n == 7)
		v |= DR7_FIXED_ONES;
	c->dr[n] = v;
}

static uint64_t dr_read(const struct emu_cpu *c, unsigned n)
{
	n = dr_index(n);
	if (n == 6)
		return c->dr[6] | DR6_FIXED_ONES;
	if (n == 7)
		return c->dr[7] | DR7_FIXED_ONES;
	return c->dr[n];
}

static bool opnd_is(const struct emu_opnd *o, unsigned reg_class)
{
	return o->kind == EMU_OPND_REG && o->reg_class == reg_class;
}

void emu_mov_special(struct emu_cpu *c, const struct emu_insn *i)
{
	const struct emu_opnd *dst = &i->op[0], *src = &i->op[1];
	if (opnd_is(dst, EMU_RC_SEG)) {
		emu_load_seg(c, dst->reg, (uint16_t)emu_opnd_read(c, i, 1));
		if (dst->reg == EMU_SS)
			c->shadow = true;
	} else if (opnd_is(src, EMU_RC_SEG)) {
		emu_opnd_write(c, i, 0, emu_reg_read(c, EMU_RC_SEG, src->reg, 2));
	} else if (opnd_is(dst, EMU_RC_CR)) {
		require_cpl0(c);
		cr_write(c, dst->reg, emu_opnd_read(c, i, 1));
	} else if (opnd_is(src, EMU_RC_CR)) {
		require_cpl0(c);
		emu_opnd_write(c, i, 0, cr_read(c, src->reg));
	} else if (opnd_is(dst, EMU_RC_DR)) {
		require_cpl0(c);
		dr_write(c, dst->reg, emu_opnd_read(c, i, 1));
	} else if (opnd_is(src, EMU_RC_DR)) {
		require_cpl0(c);
		emu_opnd_write(c, i, 0, dr_read(c, src->reg));
	} else {
		emu_unimplemented(c, i);
	}
}

/* LMSW loads PE, MP, EM and TS but cannot clear PE. */
static void h_lmsw(struct emu_cpu *c, const struct emu_insn *i)
{
	require_cpl0(c);
	uint64_t msw = emu_opnd_read(c, i, 0) & 0xf;
	cr0_write(c, (c->cr0 & ~0xeull) | msw | (c->cr0 & CR0_PE));
}

static void h_smsw(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_opnd_write(c, i, 0, c->cr0);
}

static void h_clts(struct emu_cpu *c, const struct emu_insn *i)
{
	require_cpl0(c);
	c->cr0 &= ~CR0_TS;
}

/* ---- TLB, caches, ordering ---------------------------------------------------------------- */

static void h_invlpg(struct emu_cpu *c, const struct emu_insn *i)
{
	require_cpl0(c);
	if (i->op[0].kind != EMU_OPND_MEM)
		emu_raise_ud(c);
	emu_tlb_flush_page(c, emu_linear(c, i->op[0].seg, emu_opnd_ea(c, i, 0), 1));
}

static void h_wbinvd(struct emu_cpu *c, const struct emu_insn *i)
{
	require_cpl0(c); /* guest RAM is host memory: nothing to write back */
}

/* The line is not flushed (the host keeps guest RAM coherent) but the address must translate. */
static void h_clflush(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_read(c, i->op[0].seg, emu_opnd_ea(c, i, 0), 1);
}

/* Host stores are TSO already and every handler is a call: LFENCE/SFENCE only need to stop the
 * compiler; MFENCE orders the guest's earlier stores before its later loads. */
static void h_lfence_sfence(struct emu_cpu *c, const struct emu_insn *i)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static void h_mfence(struct emu_cpu *c, const struct emu_insn *i)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* A spinning guest: give the host CPU to another thread now and then (more vCPUs than cores). */
static void h_pause(struct emu_cpu *c, const struct emu_insn *i)
{
	static __thread unsigned pauses;
	if (++pauses % PAUSES_PER_YIELD == 0)
		sched_yield();
}

static void h_nop(struct emu_cpu *c, const struct emu_insn *i)
{
}

static void h_ud(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_raise_ud(c);
}

static void h_gp0(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_raise_gp0(c);
}

/* ---- CPUID, TSC, MSRs, SWAPGS ------------------------------------------------------------ */

static void h_cpuid(struct emu_cpu *c, const struct emu_insn *i)
{
	uint32_t r[4];
	emu_cpuid(c, (uint32_t)c->gpr[EMU_RAX], (uint32_t)c->gpr[EMU_RCX], r);
	c->gpr[EMU_RAX] = r[0];
	c->gpr[EMU_RBX] = r[1];
	c->gpr[EMU_RCX] = r[2];
	c->gpr[EMU_RDX] = r[3];
}

static void require_tsc_access(struct emu_cpu *c)
{
	if ((c->cr4 & CR4_TSD) && c->cpl != 0 && (c->cr0 & CR0_PE))
		emu_raise_gp0(c);
}

static void h_rdtsc(struct emu_cpu *c, const struct emu_insn *i)
{
	require_tsc_access(c);
	set_edx_eax(c, emu_tsc(c));
}

static void h_rdtscp(struct emu_cpu *c, const struct emu_insn *i)
{
	require_tsc_access(c);
	set_edx_eax(c, emu_tsc(c));
	c->gpr[EMU_RCX] = (uint32_t)c->tsc_aux;
}

/* An MSR the interpreter does not know: the machine's policy answers through exit.msr, and
 * emu_msr_complete finishes the instruction when the run resumes. */
_Noreturn static void msr_exit(struct emu_cpu *c, uint32_t index, bool is_write, uint64_t value)
{
	c->cpu.exit.msr.index = index;
	c->cpu.exit.msr.is_write = is_write;
	c->cpu.exit.msr.value = value;
	c->cpu.exit.msr.error = false;
	c->msr_pending = true;
	c->rip = c->insn_rip;
	emu_exit(c, CPU_EXIT_MSR, "%s", "");
}

static void h_rdmsr(struct emu_cpu *c, const struct emu_insn *i)
{
	require_cpl0(c);
	uint32_t index = (uint32_t)c->gpr[EMU_RCX];
	uint64_t v = 0;
	int rc = emu_msr_read(c, index, &v);
	if (rc < 0)
		emu_raise_gp0(c);
	if (rc > 0)
		msr_exit(c, index, false, 0);
	set_edx_eax(c, v);
}

static void h_wrmsr(struct emu_cpu *c, const struct emu_insn *i)
{
	require_cpl0(c);
	uint32_t index = (uint32_t)c->gpr[EMU_RCX];
	uint64_t v = (uint32_t)c->gpr[EMU_RAX] | c->gpr[EMU_RDX] << 32;
	int rc = emu_msr_write(c, index, v);
	if (rc < 0)
		emu_raise_gp0(c);
	if (rc > 0)
		msr_exit(c, index, true, v);
}

static void h_swapgs(struct emu_cpu *c, const struct emu_insn *i)
{
	if (c->mode != EMU_MODE_64)
		emu_raise_ud(c);
	require_cpl0(c);
	uint64_t gs = c->seg[EMU_GS].base;
	c->seg[EMU_GS].base = c->kernel_gs_base;
	c->kernel_gs_base = gs;
}

/* ---- software interrupts (RIP already points past the instruction) ----------------------- */

static void h_int(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_deliver(c, (int)(i->op[0].disp & 0xff), EMU_EVENT_SOFTWARE, EMU_NO_ERROR_CODE);
}

static void h_int3(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_deliver(c, EMU_BP, EMU_EVENT_SOFTWARE, EMU_NO_ERROR_CODE);
}

static void h_into(struct emu_cpu *c, const struct emu_insn *i)
{
	if (c->rflags & RFLAGS_OF)
		emu_deliver(c, EMU_OF, EMU_EVENT_SOFTWARE, EMU_NO_ERROR_CODE);
}

/* INT1 (ICEBP) is delivered like a hardware #DB: no DPL check, EXT set in error codes. */
static void h_int1(struct emu_cpu *c, const struct emu_insn *i)
{
	emu_deliver(c, EMU_DB, EMU_EVENT_EXTERNAL, EMU_NO_ERROR_CODE);
}

/* ---- registration ------------------------------------------------------------------------ */

struct reg {
	ZydisMnemonic m;
	emu_handler_fn fn;
};

static const struct reg handlers[] = {
    {ZYDIS_MNEMONIC_CLI, h_cli},
    {ZYDIS_MNEMONIC_STI, h_sti},
    {ZYDIS_MNEMONIC_HLT, h_hlt},
    {ZYDIS_MNEMONIC_IN, h_in},
    {ZYDIS_MNEMONIC_OUT, h_out},
    {ZYDIS_MNEMONIC_LGDT, h_lgdt},
    {ZYDIS_MNEMONIC_LIDT, h_lidt},
    {ZYDIS_MNEMONIC_SGDT, h_sgdt},
    {ZYDIS_MNEMONIC_SIDT, h_sidt},
    {ZYDIS_MNEMONIC_LLDT, h_lldt},
    {ZYDIS_MNEMONIC_LTR, h_ltr},
    {ZYDIS_MNEMONIC_SLDT, h_sldt},
    {ZYDIS_MNEMONIC_STR, h_str},
    {ZYDIS_MNEMONIC_LAR, h_lar},
    {ZYDIS_MNEMONIC_LSL, h_lsl},
    {ZYDIS_MNEMONIC_VERR, h_verr},
    {ZYDIS_MNEMONIC_VERW, h_verw},
    {ZYDIS_MNEMONIC_ARPL, h_arpl},
    {ZYDIS_MNEMONIC_LMSW, h_lmsw},
    {ZYDIS_MNEMONIC_SMSW, h_smsw},
    {ZYDIS_MNEMONIC_CLTS, h_clts},
    {ZYDIS_MNEMONIC_INVLPG, h_invlpg},
    {ZYDIS_MNEMONIC_WBINVD, h_wbinvd},
    {ZYDIS_MNEMONIC_INVD, h_wbinvd},
    {ZYDIS_MNEMONIC_CLFLUSH, h_clflush},
    {ZYDIS_MNEMONIC_CLFLUSHOPT, h_clflush},
    {ZYDIS_MNEMONIC_LFENCE, h_lfence_sfence},
    {ZYDIS_MNEMONIC_SFENCE, h_lfence_sfence},
    {ZYDIS_MNEMONIC_MFENCE, h_mfence},
    {ZYDIS_MNEMONIC_PAUSE, h_pause},
    {ZYDIS_MNEMONIC_PREFETCH, h_nop},
    {ZYDIS_MNEMONIC_PREFETCHW, h_nop},
    {ZYDIS_MNEMONIC_PREFETCHNTA, h_nop},
    {ZYDIS_MNEMONIC_PREFETCHT0, h_nop},
    {ZYDIS_MNEMONIC_PREFETCHT1, h_nop},
    {ZYDIS_MNEMONIC_PREFETCHT2, h_nop},
    {ZYDIS_MNEMONIC_CPUID, h_cpuid},
    {ZYDIS_MNEMONIC_RDTSC, h_rdtsc},
    {ZYDIS_MNEMONIC_RDTSCP, h_rdtscp},
    {ZYDIS_MNEMONIC_RDMSR, h_rdmsr},
    {ZYDIS_MNEMONIC_WRMSR, h_wrmsr},
    {ZYDIS_MNEMONIC_SWAPGS, h_swapgs},
    {ZYDIS_MNEMONIC_SYSCALL, emu_syscall},
    {ZYDIS_MNEMONIC_SYSRET, emu_sysret},
    {ZYDIS_MNEMONIC_SYSENTER, emu_sysenter},
    {ZYDIS_MNEMONIC_SYSEXIT, emu_sysexit},
    {ZYDIS_MNEMONIC_INT, h_int},
    {ZYDIS_MNEMONIC_INT3, h_int3},
    {ZYDIS_MNEMONIC_INTO, h_into},
    {ZYDIS_MNEMONIC_INT1, h_int1},
    {ZYDIS_MNEMONIC_IRET, emu_iret},
    {ZYDIS_MNEMONIC_IRETD, emu_iret},
    {ZYDIS_MNEMONIC_IRETQ, emu_iret},
    /* No performance counters: RDPMC's counter index is always invalid. */
    {ZYDIS_MNEMONIC_RDPMC, h_gp0},
    /* Undefined, or not advertised by CPUID (emu_cpuid.c). */
    {ZYDIS_MNEMONIC_UD0, h_ud},
    {ZYDIS_MNEMONIC_UD1, h_ud},
    {ZYDIS_MNEMONIC_UD2, h_ud},
    {ZYDIS_MNEMONIC_XGETBV, h_ud},
    {ZYDIS_MNEMONIC_XSETBV, h_ud},
    {ZYDIS_MNEMONIC_MONITOR, h_ud},
    {ZYDIS_MNEMONIC_MWAIT, h_ud},
    {ZYDIS_MNEMONIC_MONITORX, h_ud},
    {ZYDIS_MNEMONIC_MWAITX, h_ud},
    {ZYDIS_MNEMONIC_UMONITOR, h_ud},
    {ZYDIS_MNEMONIC_UMWAIT, h_ud},
    {ZYDIS_MNEMONIC_TPAUSE, h_ud},
    {ZYDIS_MNEMONIC_RDRAND, h_ud},
    {ZYDIS_MNEMONIC_RDSEED, h_ud},
    {ZYDIS_MNEMONIC_RDPID, h_ud},
    {ZYDIS_MNEMONIC_RDPKRU, h_ud},
    {ZYDIS_MNEMONIC_WRPKRU, h_ud},
    {ZYDIS_MNEMONIC_RDFSBASE, h_ud},
    {ZYDIS_MNEMONIC_RDGSBASE, h_ud},
    {ZYDIS_MNEMONIC_WRFSBASE, h_ud},
    {ZYDIS_MNEMONIC_WRGSBASE, h_ud},
    {ZYDIS_MNEMONIC_INVPCID, h_ud},
    {ZYDIS_MNEMONIC_CLAC, h_ud},
    {ZYDIS_MNEMONIC_STAC, h_ud},
    {ZYDIS_MNEMONIC_CLWB, h_ud},
    {ZYDIS_MNEMONIC_SERIALIZE, h_ud},
    {ZYDIS_MNEMONIC_VMCALL, h_ud},
    {ZYDIS_MNEMONIC_VMMCALL, h_ud},
    {ZYDIS_MNEMONIC_RSM, h_ud},
    {ZYDIS_MNEMONIC_GETSEC, h_ud},
};

void emu_register_system(emu_handler_fn *table)
{
	for (unsigned k = 0; k < sizeof(handlers) / sizeof(handlers[0]); k++)
		table[handlers[k].m] = handlers[k].fn;
}
