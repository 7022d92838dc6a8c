/* Unit tests for the software vCPU's system family: descriptors and segment loads, exception and
 * interrupt delivery (real mode IVT, IA-32e mode with and without a privilege change, IST),
 * IRETQ, far jumps into long mode, port I/O permissions (CPUID and MSRs: test_emu_cpuid_msr.c).
 * Each test builds a vCPU and a small guest RAM by hand (tests/unit/emu_system_fixture.h) and
 * calls the family's functions directly; a fault unwinds to the setjmp in CATCH() as it would to
 * the run loop. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/emu_system_fixture.h"

TestSuite(emu_system, .init = setup, .fini = teardown);

/* ---- descriptors and segment loads ------------------------------------------------------- */

Test(emu_system, descriptor_decoding)
{
	struct emu_seg s;
	emu_seg_from_descriptor(&s, 0x08, 0x00cf9a000000ffffull);
	cr_assert_eq(s.base, 0);
	cr_assert_eq(s.limit, 0xffffffff);
	cr_assert_eq(s.attr, 0xc09a);
	emu_seg_from_descriptor(&s, 0x10, 0x12409312345678ffull | 0x000f000000000000ull);
	cr_assert_eq(s.base, 0x12123456);
	cr_assert_eq(s.limit, 0xf78ff);
	cr_assert_eq(s.attr, 0x4093);
	cr_assert_eq(s.sel, 0x10);
}

Test(emu_system, read_descriptor_limits)
{
	protected_mode();
	uint64_t lin;
	cr_assert_eq(emu_read_descriptor(c, SEL_DATA, &lin), 0x00cf92000000ffffull);
	cr_assert_eq(lin, GDT + SEL_DATA);
	cr_assert_eq(CATCH(emu_read_descriptor(c, 0x53, &lin)), EMU_GP);
	cr_assert_eq(c->fault_error, 0x50);
	cr_assert_eq(CATCH(emu_read_descriptor(c, 0x0c, &lin)), EMU_GP, "no LDT");
	cr_assert_eq(c->fault_error, 0x0c);
}

Test(emu_system, load_seg_checks)
{
	protected_mode();
	emu_load_seg(c, EMU_DS, SEL_DATA);
	cr_assert_eq(c->seg[EMU_DS].sel, SEL_DATA);
	cr_assert(ram[GDT + SEL_DATA + 5] & 1, "accessed bit set in the GDT");
	cr_assert_eq(CATCH(emu_load_seg(c, EMU_ES, SEL_NOT_PRESENT)), EMU_NP);
	cr_assert_eq(c->fault_error, SEL_NOT_PRESENT);
	cr_assert_eq(CATCH(emu_load_seg(c, EMU_SS, SEL_CODE32)), EMU_GP, "code as SS");
	cr_assert_eq(c->fault_error, SEL_CODE32);
	cr_assert_eq(CATCH(emu_load_seg(c, EMU_SS, 0)), EMU_GP, "null SS outside 64-bit mode");
	cr_assert_eq(CATCH(emu_load_seg(c, EMU_CS, SEL_CODE32)), EMU_UD);
	emu_load_seg(c, EMU_FS, 0);
	cr_assert_eq(c->seg[EMU_FS].attr & SEG_ATTR_P, 0, "null: unusable");

	load_seg_raw(EMU_CS, SEL_UCODE32);
	emu_update_mode(c);
	cr_assert_eq(c->cpl, 3);
	cr_assert_eq(CATCH(emu_load_seg(c, EMU_DS, SEL_DATA)), EMU_GP, "DPL 0 data at CPL 3");
	emu_load_seg(c, EMU_DS, SEL_UDATA);
	cr_assert_eq(c->seg[EMU_DS].sel, SEL_UDATA);
}

Test(emu_system, real_mode_segment_load)
{
	c->cr0 = CR0_ET;
	c->seg[EMU_DS].limit = 0xffffffff; /* unreal mode survives */
	emu_update_mode(c);
	emu_load_seg(c, EMU_DS, 0x1234);
	cr_assert_eq(c->seg[EMU_DS].base, 0x12340);
	cr_assert_eq(c->seg[EMU_DS].limit, 0xffffffff);
}

/* The AP trampoline's path: 32-bit code enables paging with EFER.LME (compatibility mode), then
 * a far jump to a 64-bit code segment enters 64-bit mode. */
Test(emu_system, paging_with_lme_then_far_jump_to_long_mode)
{
	protected_mode();
	put64(PML4, PDPT | 7);
	put64(PDPT, 0x87);
	c->cr3 = PML4;
	c->cr4 = CR4_PAE;
	c->efer = EFER_LME;
	c->gpr[EMU_RAX] = CR0_PE | CR0_ET | CR0_PG;
	struct emu_insn mov = insn(ZYDIS_MNEMONIC_MOV, 4);
	mov.nopnd = 2;
	mov.op[0] = (struct emu_opnd){.kind = EMU_OPND_REG, .size = 4, .reg_class = EMU_RC_CR};
	mov.op[1] = (struct emu_opnd){.kind = EMU_OPND_REG, .size = 4, .reg_class = EMU_RC_GPR};
	emu_mov_special(c, &mov);
	cr_assert(c->efer & EFER_LMA);
	cr_assert_eq(c->mode, EMU_MODE_32, "compatibility mode");

	struct emu_insn jmp = insn(ZYDIS_MNEMONIC_JMP, 4);
	jmp.nopnd = 1;
	jmp.op[0] =
	    (struct emu_opnd){.kind = EMU_OPND_PTR, .ptr_sel = SEL_CODE64, .disp = 0x200000};
	emu_far_jmp(c, &jmp);
	cr_assert_eq(c->mode, EMU_MODE_64);
	cr_assert_eq(c->seg[EMU_CS].sel, SEL_CODE64);
	cr_assert_eq(c->rip, 0x200000);

	c->gpr[EMU_RAX] = CR0_PE | CR0_ET;
	mov.op[0].size = mov.op[1].size = 8;
	cr_assert_eq(CATCH(emu_mov_special(c, &mov)), EMU_GP, "paging off in 64-bit mode");
}

Test(emu_system, cr_writes_checked)
{
	protected_mode();
	struct emu_insn mov = insn(ZYDIS_MNEMONIC_MOV, 4);
	mov.nopnd = 2;
	mov.op[0] = (struct emu_opnd){.kind = EMU_OPND_REG, .size = 4, .reg_class = EMU_RC_CR};
	mov.op[1] = (struct emu_opnd){.kind = EMU_OPND_REG, .size = 4, .reg_class = EMU_RC_GPR};
	mov.op[0].reg = 4;
	c->gpr[EMU_RAX] = CR4_OSXSAVE;
	cr_assert_eq(CATCH(emu_mov_special(c, &mov)), EMU_GP, "XSAVE not advertised");
	mov.op[0].reg = 0;
	c->efer = EFER_LME;
	c->gpr[EMU_RAX] = CR0_PE | CR0_PG;
	cr_assert_eq(CATCH(emu_mov_special(c, &mov)), EMU_GP, "long mode without PAE");
	c->gpr[EMU_RAX] = CR0_PE | CR0_NW;
	cr_assert_eq(CATCH(emu_mov_special(c, &mov)), EMU_GP, "NW without CD");
	mov.op[0].reg = 5;
	cr_assert_eq(CATCH(emu_mov_special(c, &mov)), EMU_UD, "no CR5");
	c->cpl = 3;
	mov.op[0].reg = 0;
	cr_assert_eq(CATCH(emu_mov_special(c, &mov)), EMU_GP, "CPL 3");
}

/* ---- delivery ---------------------------------------------------------------------------- */

Test(emu_system, real_mode_ivt_delivery)
{
	c->cr0 = CR0_ET;
	c->idtr = (struct emu_dtr){0, 0x3ff};
	put16(0x21 * 4, 0x5678);
	put16(0x21 * 4 + 2, 0x1234);
	c->seg[EMU_CS] = (struct emu_seg){.sel = 0x100, .base = 0x1000, .limit = 0xffff};
	c->seg[EMU_SS] = (struct emu_seg){.sel = 0x200, .base = 0x2000, .limit = 0xffff};
	c->gpr[EMU_RSP] = 0x100;
	c->rip = 0x22;
	c->rflags = RFLAGS_FIXED | RFLAGS_IF | RFLAGS_TF | RFLAGS_CF;
	emu_update_mode(c);
	emu_deliver(c, 0x21, EMU_EVENT_SOFTWARE, EMU_NO_ERROR_CODE);
	cr_assert_eq(c->gpr[EMU_RSP], 0xfa);
	cr_assert_eq(get16(0x2000 + 0xfe), RFLAGS_FIXED | RFLAGS_IF | RFLAGS_TF | RFLAGS_CF);
	cr_assert_eq(get16(0x2000 + 0xfc), 0x100);
	cr_assert_eq(get16(0x2000 + 0xfa), 0x22);
	cr_assert_eq(c->seg[EMU_CS].sel, 0x1234);
	cr_assert_eq(c->seg[EMU_CS].base, 0x12340);
	cr_assert_eq(c->rip, 0x5678);
	cr_assert_eq(c->rflags, RFLAGS_FIXED | RFLAGS_CF, "IF and TF cleared");

	struct emu_insn iret = insn(ZYDIS_MNEMONIC_IRET, 2);
	emu_iret(c, &iret);
	cr_assert_eq(c->seg[EMU_CS].base, 0x1000);
	cr_assert_eq(c->rip, 0x22);
	cr_assert_eq(c->gpr[EMU_RSP], 0x100);
	cr_assert(c->rflags & RFLAGS_IF);
}

/* 32-bit protected mode: ring 3 to a ring-0 interrupt gate through a 32-bit TSS, and back. */
Test(emu_system, protected_mode_interrupt_from_ring3_and_iretd)
{
	protected_mode();
	uint64_t gate = (HANDLER & 0xffff) | (uint64_t)SEL_CODE32 << 16 | 0x8eull << 40 |
			(HANDLER & 0xffff0000ull) << 32;
	put64(IDT + 8 * 0x40, gate);
	c->idtr = (struct emu_dtr){IDT, 0x7ff};
	put64(0x6000 + 4, (uint64_t)SEL_DATA << 32 | RSP0); /* ESP0, SS0 */
	c->tr = (struct emu_seg){.sel = 0x50, .base = 0x6000, .limit = 0x67, .attr = 0x8b};
	load_seg_raw(EMU_CS, SEL_UCODE32);
	load_seg_raw(EMU_SS, SEL_UDATA);
	emu_update_mode(c);
	c->gpr[EMU_RSP] = 0x200100;
	c->rip = 0x401000;
	c->rflags |= RFLAGS_IF;
	uint64_t flags = c->rflags;
	emu_deliver(c, 0x40, EMU_EVENT_EXTERNAL, EMU_NO_ERROR_CODE);
	cr_assert_eq(c->cpl, 0);
	cr_assert_eq(c->mode, EMU_MODE_32);
	cr_assert_eq(c->seg[EMU_SS].sel, SEL_DATA);
	cr_assert_eq(c->gpr[EMU_RSP], RSP0 - 20);
	cr_assert_eq(get64(RSP0 - 8), (uint64_t)SEL_UDATA << 32 | 0x200100);
	cr_assert_eq(get64(RSP0 - 16), flags << 32 | SEL_UCODE32);
	cr_assert_eq(get64(RSP0 - 24) >> 32, 0x401000, "EIP");
	cr_assert_eq(c->rip, HANDLER);

	struct emu_insn iretd = insn(ZYDIS_MNEMONIC_IRETD, 4);
	emu_iret(c, &iretd);
	cr_assert_eq(c->cpl, 3);
	cr_assert_eq(c->gpr[EMU_RSP], 0x200100);
	cr_assert_eq(c->seg[EMU_SS].sel, SEL_UDATA);
	cr_assert_eq(c->seg[EMU_DS].sel, 0, "DPL-0 data dropped on the way out");
	cr_assert_eq(c->rflags, flags);
}

Test(emu_system, long_mode_interrupt_from_ring3_and_iretq)
{
	long_mode(3);
	set_gate64(0x40, SYS_INT_GATE, 0, 0, true);
	c->gpr[EMU_RSP] = 0x200123;
	c->rip = 0x401000;
	uint64_t flags = c->rflags;
	emu_deliver(c, 0x40, EMU_EVENT_EXTERNAL, EMU_NO_ERROR_CODE);
	cr_assert_eq(c->cpl, 0);
	cr_assert_eq(c->seg[EMU_CS].sel, SEL_CODE64);
	cr_assert_eq(c->seg[EMU_SS].sel, 0, "null SS, RPL 0");
	cr_assert_eq(c->rip, HANDLER);
	cr_assert_eq(c->gpr[EMU_RSP], RSP0 - 40);
	cr_assert_eq(get64(RSP0 - 8), SEL_UDATA);
	cr_assert_eq(get64(RSP0 - 16), 0x200123);
	cr_assert_eq(get64(RSP0 - 24), flags);
	cr_assert_eq(get64(RSP0 - 32), SEL_UCODE64);
	cr_assert_eq(get64(RSP0 - 40), 0x401000);
	cr_assert_eq(c->rflags & RFLAGS_IF, 0, "interrupt gate");

	struct emu_insn iretq = insn(ZYDIS_MNEMONIC_IRETQ, 8);
	emu_iret(c, &iretq);
	cr_assert_eq(c->cpl, 3);
	cr_assert_eq(c->mode, EMU_MODE_64);
	cr_assert_eq(c->seg[EMU_CS].sel, SEL_UCODE64);
	cr_assert_eq(c->seg[EMU_SS].sel, SEL_UDATA);
	cr_assert_eq(c->gpr[EMU_RSP], 0x200123);
	cr_assert_eq(c->rip, 0x401000);
	cr_assert_eq(c->rflags, flags);
}

Test(emu_system, long_mode_fault_on_ist_with_error_code)
{
	long_mode(0);
	set_gate64(EMU_GP, SYS_TRAP_GATE, 0, 1, true);
	c->gpr[EMU_RSP] = 0x7777;
	c->rip = 0x401000;
	emu_deliver(c, EMU_GP, EMU_EVENT_FAULT, 0x18);
	cr_assert_eq(c->gpr[EMU_RSP], 0xa000 - 48, "IST1 aligned to 16");
	cr_assert_eq(get64(0xa000 - 8), SEL_DATA, "SS pushed at the same CPL");
	cr_assert_eq(get64(0xa000 - 16), 0x7777);
	cr_assert_eq(get64(0xa000 - 40), 0x401000);
	cr_assert_eq(get64(0xa000 - 48), 0x18, "error code");
	cr_assert_eq(c->seg[EMU_SS].sel, SEL_DATA, "no privilege change");
	cr_assert(c->rflags & RFLAGS_IF, "trap gate keeps IF");
}

Test(emu_system, long_mode_same_cpl_aligns_stack)
{
	long_mode(0);
	set_gate64(EMU_UD, SYS_INT_GATE, 0, 0, true);
	c->gpr[EMU_RSP] = 0x8008;
	emu_deliver(c, EMU_UD, EMU_EVENT_FAULT, EMU_NO_ERROR_CODE);
	cr_assert_eq(c->gpr[EMU_RSP], 0x8000 - 40, "no error code for #UD");
	cr_assert_eq(get64(0x8000 - 16), 0x8008);
}

Test(emu_system, delivery_errors)
{
	long_mode(3);
	set_gate64(0x41, SYS_INT_GATE, 0, 0, false);
	set_gate64(0x80, SYS_INT_GATE, 0, 0, true);
	uint64_t rsp = c->gpr[EMU_RSP] = 0x200100;
	cr_assert_eq(CATCH(emu_deliver(c, 0x41, EMU_EVENT_EXTERNAL, EMU_NO_ERROR_CODE)), EMU_NP);
	cr_assert_eq(c->fault_error, 0x41 * 8 + 3, "IDT and EXT bits");
	cr_assert_eq(CATCH(emu_deliver(c, 0x80, EMU_EVENT_SOFTWARE, EMU_NO_ERROR_CODE)), EMU_GP);
	cr_assert_eq(c->fault_error, 0x80 * 8 + 2, "DPL 0 gate, INT n from ring 3");
	c->idtr.limit = 0x40 * 16 - 1;
	cr_assert_eq(CATCH(emu_deliver(c, 0x40, EMU_EVENT_EXTERNAL, EMU_NO_ERROR_CODE)), EMU_GP);
	cr_assert_eq(c->fault_error, 0x40 * 8 + 3, "past the IDT limit");
	cr_assert_eq(c->cpl, 3, "nothing changed");
	cr_assert_eq(c->gpr[EMU_RSP], rsp);

	c->idtr.limit = 0xfff;
	set_gate64(0x80, SYS_INT_GATE, 3, 0, true);
	emu_deliver(c, 0x80, EMU_EVENT_SOFTWARE, EMU_NO_ERROR_CODE);
	cr_assert_eq(c->cpl, 0, "DPL 3 gate");
}

Test(emu_system, nmi_blocks_until_iret)
{
	long_mode(0);
	set_gate64(EMU_NMI, SYS_INT_GATE, 0, 0, true);
	c->gpr[EMU_RSP] = 0x8000;
	emu_deliver(c, EMU_NMI, EMU_EVENT_EXTERNAL, EMU_NO_ERROR_CODE);
	cr_assert(c->nmi_blocked);
	struct emu_insn iretq = insn(ZYDIS_MNEMONIC_IRETQ, 8);
	emu_iret(c, &iretq);
	cr_assert(!c->nmi_blocked);
	cr_assert_eq(c->gpr[EMU_RSP], 0x8000);
}

Test(emu_system, iretq_to_ring3_checks_segments)
{
	long_mode(0);
	c->gpr[EMU_RSP] = 0x8000;
	put64(0x8000, 0x401000);
	put64(0x8008, SEL_UCODE64);
	put64(0x8010, RFLAGS_FIXED);
	put64(0x8018, 0x200000);
	put64(0x8020, SEL_DATA | 3); /* DPL 0 data as the ring-3 stack */
	struct emu_insn iretq = insn(ZYDIS_MNEMONIC_IRETQ, 8);
	cr_assert_eq(CATCH(emu_iret(c, &iretq)), EMU_GP);
	cr_assert_eq(c->fault_error, SEL_DATA);
	put64(0x8020, 0);
	cr_assert_eq(CATCH(emu_iret(c, &iretq)), EMU_GP, "null SS to ring 3");
	cr_assert_eq(c->cpl, 0, "nothing changed");
	put64(0x8008, SEL_CODE64);
	emu_iret(c, &iretq);
	cr_assert_eq(c->seg[EMU_SS].sel, 0, "null SS at CPL 0 in 64-bit mode");
	cr_assert_eq(c->gpr[EMU_RSP], 0x200000);
}

/* ---- system calls ------------------------------------------------------------------------ */

Test(emu_system, syscall_sysret_round_trip)
{
	long_mode(3);
	c->star = (uint64_t)(SEL_CODE32 | 0) << 48 | (uint64_t)SEL_CODE64 << 32;
	c->lstar = 0xffffffff81000000ull;
	c->sfmask = RFLAGS_IF;
	c->rip = 0x401002;
	uint64_t flags = c->rflags;
	struct emu_insn sc = insn(ZYDIS_MNEMONIC_SYSCALL, 4);
	table[ZYDIS_MNEMONIC_SYSCALL](c, &sc);
	cr_assert_eq(c->cpl, 0);
	cr_assert_eq(c->rip, 0xffffffff81000000ull);
	cr_assert_eq(c->gpr[EMU_RCX], 0x401002);
	cr_assert_eq(c->gpr[EMU_R11], flags);
	cr_assert_eq(c->rflags & RFLAGS_IF, 0);
	cr_assert_eq(c->seg[EMU_SS].sel, SEL_DATA);

	struct emu_insn sr = insn(ZYDIS_MNEMONIC_SYSRET, 8);
	table[ZYDIS_MNEMONIC_SYSRET](c, &sr);
	cr_assert_eq(c->cpl, 3);
	cr_assert_eq(c->mode, EMU_MODE_64);
	cr_assert_eq(c->seg[EMU_CS].sel, SEL_CODE32 + 16 + 3);
	cr_assert_eq(c->seg[EMU_SS].sel, SEL_CODE32 + 8 + 3);
	cr_assert_eq(c->rip, 0x401002);
	cr_assert_eq(c->rflags, flags);

	c->efer &= ~EFER_SCE;
	cr_assert_eq(CATCH(table[ZYDIS_MNEMONIC_SYSCALL](c, &sc)), EMU_UD);
}

/* ---- port I/O and privileged instructions ------------------------------------------------ */

Test(emu_system, port_io_permissions)
{
	long_mode(3);
	c->rflags &= ~RFLAGS_IOPL;
	emu_port_out(c, 0x501, 1, 7);
	cr_assert_eq(io.count, 1);
	cr_assert(io.is_write);
	cr_assert_eq(io.value, 7);
	cr_assert_eq(emu_port_in(c, 0x3fd, 1), 0xa5);
	cr_assert_eq(CATCH(emu_port_in(c, 0x3f8, 1)), EMU_GP, "closed in the bitmap");
	cr_assert_eq(CATCH(emu_port_in(c, 0x7ff, 2)), EMU_GP, "0x800 is closed");
	cr_assert_eq(CATCH(emu_port_out(c, 0x900, 4, 0)), EMU_GP, "past the TSS limit");
	cr_assert_eq(io.count, 2);
	c->rflags |= RFLAGS_IOPL;
	emu_port_in(c, 0x3f8, 1);
	cr_assert_eq(io.count, 3, "IOPL 3");
}

Test(emu_system, hlt_cli_sti)
{
	long_mode(3);
	struct emu_insn i = insn(ZYDIS_MNEMONIC_HLT, 4);
	cr_assert_eq(CATCH(table[ZYDIS_MNEMONIC_HLT](c, &i)), EMU_GP);
	c->rflags &= ~RFLAGS_IOPL;
	cr_assert_eq(CATCH(table[ZYDIS_MNEMONIC_CLI](c, &i)), EMU_GP, "CPL 3 > IOPL 0");
	long_mode(0);
	table[ZYDIS_MNEMONIC_CLI](c, &i);
	cr_assert_eq(c->rflags & RFLAGS_IF, 0);
	table[ZYDIS_MNEMONIC_STI](c, &i);
	cr_assert(c->shadow);
	cr_assert_eq(CATCH(table[ZYDIS_MNEMONIC_HLT](c, &i)), 1000);
	cr_assert(c->halted);
	cr_assert_eq(c->cpu.exit.reason, CPU_EXIT_HLT);
}

Test(emu_system, ltr_marks_busy)
{
	long_mode(0);
	c->tr = (struct emu_seg){0};
	struct emu_insn i = insn(ZYDIS_MNEMONIC_LTR, 2);
	i.nopnd = 1;
	i.op[0] = (struct emu_opnd){.kind = EMU_OPND_REG, .size = 2, .reg_class = EMU_RC_GPR};
	c->gpr[EMU_RAX] = SEL_TSS;
	table[ZYDIS_MNEMONIC_LTR](c, &i);
	cr_assert_eq(c->tr.base, TSS);
	cr_assert_eq(SEG_ATTR_TYPE(c->tr.attr), SYS_TSS_BUSY);
	cr_assert_eq(ram[GDT + SEL_TSS + 5], 0x8b);
	cr_assert_eq(CATCH(table[ZYDIS_MNEMONIC_LTR](c, &i)), EMU_GP, "already busy");
	c->gpr[EMU_RAX] = SEL_DATA;
	cr_assert_eq(CATCH(table[ZYDIS_MNEMONIC_LTR](c, &i)), EMU_GP, "not a TSS");
}
