/* Unit tests for a flag-setting register instruction fused with the relative Jcc after it
 * (vmm/cpu/emu/emu_alu.c emu_alu_pair_bind, emu_decode.c): pairs branch and fall through as the
 * two instructions do and count as two; an interrupt taken at the boundary right after a pair
 * sees the pair's flags; a jump to a pair's Jcc runs the Jcc alone on the flags it finds; a pair
 * cut by the block's instruction limit runs as two; and a taken Jcc to a non-canonical target
 * faults at the Jcc, with the flags the instruction before it set.
 * 64-bit mode, CPL 0, on the real interpreter: identity paging of the first 2 MiB, and the last
 * page below the non-canonical hole; every IDT gate leads to a hlt, #GP's to one of its own. */
#include <criterion/criterion.h>
#include <string.h>

#define RAM_SIZE   (4u << 20)
#define GDT	   0x1000u
#define IDT	   0x2000u
#define HANDLER	   0x3000u /* hlt: every vector's but #GP's */
#define GP_HANDLER 0x3008u /* hlt */
#define STACK	   0x9000u
#define PML4	   0x10000u
#define PDPT	   0x11000u
#define PD	   0x12000u
#define HIGH_PDPT  0x13000u
#define HIGH_PD	   0x14000u
#define HIGH_PT	   0x15000u
#define CODE	   0x20000u
#define HIGH_PHYS  0x30000u	     /* where HIGH_PAGE is mapped */
#define HIGH_PAGE  0x7ffffffff000ull /* the last canonical page of the lower half */
#define SEL_CODE64 0x08u
#define SEL_DATA   0x10u
#define VECTOR	   0x40u

#include "tests/unit/emu_vcpu.h"
#include "vmm/cpu/emu/emu_internal.h"

static struct emu_cpu *c;

static void set_gate(uint64_t vector, uint64_t handler)
{
	put64(IDT + 16 * vector, (handler & 0xffff) | (uint64_t)SEL_CODE64 << 16 | 0x8eull << 40 |
				     (handler & 0xffff0000) << 32);
	put64(IDT + 16 * vector + 8, handler >> 32);
}

static void setup(void)
{
	char err[256];
	emu_vcpu_create();
	cr_assert_eq(cpu->ops->start_at_sipi(cpu, CODE >> 12, err, sizeof(err)), 0, "%s", err);
	c = emu_cpu_of(cpu);

	put64(GDT + SEL_CODE64, 0x00af9a000000ffffull);
	put64(GDT + SEL_DATA, 0x00cf92000000ffffull);
	c->gdtr = (struct emu_dtr){GDT, 0x17};
	for (uint64_t v = 0; v < 256; v++)
		set_gate(v, v == EMU_GP ? GP_HANDLER : HANDLER);
	c->idtr = (struct emu_dtr){IDT, 0xfff};
	ram[HANDLER] = ram[GP_HANDLER] = 0xf4;

	put64(PML4, PDPT | 3);
	put64(PDPT, PD | 3);
	put64(PD, 0x83); /* 2 MiB at 0 */
	put64(PML4 + 8 * 255, HIGH_PDPT | 3);
	put64(HIGH_PDPT + 8 * 511, HIGH_PD | 3);
	put64(HIGH_PD + 8 * 511, HIGH_PT | 3);
	put64(HIGH_PT + 8 * 511, HIGH_PHYS | 3);
	c->cr0 = CR0_PE | CR0_ET | CR0_PG;
	c->cr3 = PML4;
	c->cr4 = CR4_PAE;
	c->efer = EFER_LME | EFER_LMA;
	emu_seg_from_descriptor(&c->seg[EMU_CS], SEL_CODE64, get64(GDT + SEL_CODE64));
	for (unsigned s = 0; s < EMU_SEG_COUNT; s++)
		if (s != EMU_CS)
			emu_seg_from_descriptor(&c->seg[s], SEL_DATA, get64(GDT + SEL_DATA));
	c->rflags = RFLAGS_FIXED;
	c->gpr[EMU_RSP] = STACK;
	emu_update_mode(c);
	emu_tlb_flush(c, false);
	cr_assert_eq(c->mode, EMU_MODE_64);
}

/* Runs from `rip` until a hlt; RIP is then past it. */
static void run_to_hlt(uint64_t rip)
{
	struct cpu_exit *x;
	c->rip = rip;
	do
		x = cpu->ops->run(cpu);
	while (x->reason == CPU_EXIT_NONE);
	cr_assert_eq(x->reason, CPU_EXIT_HLT, "exit %d: %s", x->reason, x->message);
}

TestSuite(emu_pairs, .init = setup, .fini = emu_vcpu_destroy);

Test(emu_pairs, pairs_branch_and_fall_through_as_two_instructions)
{
	static const uint8_t code[] = {
	    0xb9, 0x64, 0x00, 0x00, 0x00,	/* 0: mov ecx, 100 */
	    0x31, 0xc0,				/* 5: xor eax, eax */
	    0x31, 0xd2,				/* 7: xor edx, edx */
	    0x48, 0x83, 0xc0, 0x07,		/* 9: add rax, 7 */
	    0x48, 0x3d, 0x5e, 0x01, 0x00, 0x00, /* 13: cmp rax, 350 */
	    0x7c, 0x03,				/* 19: jl 24 */
	    0x48, 0xff, 0xc2,			/* 21: inc rdx */
	    0xa8, 0x01,				/* 24: test al, 1 */
	    0x74, 0x03,				/* 26: jz 31 */
	    0x48, 0xff, 0xc2,			/* 28: inc rdx */
	    0xff, 0xc9,				/* 31: dec ecx */
	    0x75, 0xe6,				/* 33: jnz 9 */
	    0xeb, 0x00,				/* 35: jmp 37: ends the block, counted */
	    0xf4,				/* 37: hlt */
	};
	memcpy(ram + CODE, code, sizeof(code));
	uint64_t before = c->instructions, incs = 0;
	for (uint64_t v = 7; v <= 700; v += 7)
		incs += (v >= 350) + (v & 1);
	run_to_hlt(CODE);
	cr_assert_eq(c->rip, CODE + sizeof(code));
	cr_assert_eq(c->gpr[EMU_RAX], 700);
	cr_assert_eq(c->gpr[EMU_RDX], incs);
	cr_assert_eq(c->instructions - before, 3 + 100 * 7 + incs + 1);
}

Test(emu_pairs, interrupt_after_a_pair_sees_its_flags)
{
	static const uint8_t code[] = {
	    0xfb,	      /* 0: sti: its shadow covers the next boundary */
	    0x48, 0x39, 0xd8, /* 1: cmp rax, rbx (1 - 2: CF, SF, not ZF) */
	    0x72, 0x01,	      /* 4: jb 7 (taken): the boundary after it takes the interrupt */
	    0xf4,	      /* 6: hlt (skipped) */
	    0x90,	      /* 7: nop */
	    0xf4,	      /* 8: hlt */
	};
	memcpy(ram + CODE, code, sizeof(code));
	c->gpr[EMU_RAX] = 1;
	c->gpr[EMU_RBX] = 2;
	c->rip = CODE;
	cr_assert_not(cpu->ops->inject_interrupt(cpu, VECTOR, false)); /* IF is clear: a window */
	struct cpu_exit *x = cpu->ops->run(cpu);
	cr_assert_eq(x->reason, CPU_EXIT_NONE, "exit %d: %s", x->reason, x->message);
	cr_assert_eq(c->rip, CODE + 7, "window at 0x%llx", (unsigned long long)c->rip);
	cr_assert(cpu->ops->inject_interrupt(cpu, VECTOR, false));
	run_to_hlt(c->rip);
	cr_assert_eq(c->rip, HANDLER + 1);
	uint64_t sp = c->gpr[EMU_RSP], rflags = get64(sp + 16);
	cr_assert_eq(get64(sp), CODE + 7);
	cr_assert_eq(rflags & (RFLAGS_CF | RFLAGS_SF | RFLAGS_ZF | RFLAGS_OF | RFLAGS_IF),
		     RFLAGS_CF | RFLAGS_SF | RFLAGS_IF, "rflags 0x%llx",
		     (unsigned long long)rflags);
}

Test(emu_pairs, jump_to_a_pairs_jcc_runs_it_alone)
{
	static const uint8_t code[] = {
	    0x48, 0x39, 0xc0,		  /* 0: cmp rax, rax: ZF */
	    0xeb, 0x03,			  /* 3: jmp 8 */
	    0x48, 0x39, 0xd8,		  /* 5: cmp rax, rbx: not ZF */
	    0x74, 0x05,			  /* 8: jz 15 */
	    0xb8, 0x01, 0x00, 0x00, 0x00, /* 10: mov eax, 1 */
	    0xf4,			  /* 15: hlt */
	};
	memcpy(ram + CODE, code, sizeof(code));
	c->gpr[EMU_RBX] = 9;
	for (unsigned pass = 0; pass < 2; pass++) { /* the second with both blocks cached */
		c->gpr[EMU_RAX] = 7;
		run_to_hlt(CODE + 5); /* the pair: not taken */
		cr_assert_eq(c->gpr[EMU_RAX], 1);
		c->gpr[EMU_RAX] = 7;
		run_to_hlt(CODE); /* the Jcc alone, on cmp rax, rax's ZF: taken */
		cr_assert_eq(c->gpr[EMU_RAX], 7);
	}
}

Test(emu_pairs, pair_cut_by_the_block_limit_runs_as_two)
{
	enum { NOPS = EMU_BLOCK_MAX_INSNS - 1 }; /* the cmp is a block's last instruction */
	uint8_t code[NOPS + 16];
	memset(code, 0x90, NOPS);
	static const uint8_t tail[] = {
	    0x48, 0x39, 0xd8,		  /* cmp rax, rbx */
	    0x74, 0x05,			  /* jz +5 (taken) */
	    0xb8, 0x01, 0x00, 0x00, 0x00, /* mov eax, 1 */
	    0xf4,			  /* hlt */
	};
	memcpy(code + NOPS, tail, sizeof(tail));
	memcpy(ram + CODE, code, NOPS + sizeof(tail));
	c->gpr[EMU_RAX] = c->gpr[EMU_RBX] = 5;
	run_to_hlt(CODE);
	cr_assert_eq(c->rip, CODE + NOPS + sizeof(tail));
	cr_assert_eq(c->gpr[EMU_RAX], 5);
}

Test(emu_pairs, non_canonical_target_faults_at_the_jcc)
{
	static const uint8_t code[] = {
	    0x48, 0x39, 0xd8,			/* cmp rax, rbx: ZF */
	    0x0f, 0x84, 0x00, 0x01, 0x00, 0x00, /* jz +0x100: past the canonical hole */
	    0xf4,				/* hlt (not reached) */
	};
	const uint64_t at = HIGH_PAGE + 0xff0;
	memcpy(ram + HIGH_PHYS + 0xff0, code, sizeof(code));
	c->gpr[EMU_RAX] = c->gpr[EMU_RBX] = 5;
	run_to_hlt(at);
	cr_assert_eq(c->rip, GP_HANDLER + 1);
	uint64_t sp = c->gpr[EMU_RSP], rflags = get64(sp + 24);
	cr_assert_eq(get64(sp), 0, "error code"); /* #GP(0) */
	cr_assert_eq(get64(sp + 8), at + 3, "fault at 0x%llx", (unsigned long long)get64(sp + 8));
	cr_assert_eq(rflags & (RFLAGS_CF | RFLAGS_SF | RFLAGS_ZF | RFLAGS_OF), RFLAGS_ZF,
		     "rflags 0x%llx", (unsigned long long)rflags);
}
