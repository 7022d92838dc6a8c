/* The software vCPU's system-family unit tests' fixture: a vCPU and 4 MiB of guest RAM built by
 * hand (setup, teardown), a port I/O log, CATCH() to run a statement that may fault, and the
 * machine set-ups the tests start from (a GDT and TSS, protected mode, long mode in a given ring,
 * IDT gates). */
#ifndef TESTS_UNIT_EMU_SYSTEM_FIXTURE_H
#define TESTS_UNIT_EMU_SYSTEM_FIXTURE_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/guest_ram.h"
#include "vmm/cpu/emu/emu_system.h"

#define RAM_SIZE (4u << 20)
#define PML4	 0x1000u
#define PDPT	 0x2000u
#define GDT	 0x3000u
#define TSS	 0x4000u
#define IDT	 0x5000u
#define RSP0	 0x9000u
#define IST1	 0xa008u /* aligned down to 0xa000 on use */
#define HANDLER	 0x123456u
#define IOMAP	 0x68u

#define SEL_CODE32	0x08
#define SEL_CODE64	0x10
#define SEL_DATA	0x18
#define SEL_UDATA	0x23
#define SEL_UCODE64	0x2b
#define SEL_TSS		0x30
#define SEL_UCODE32	0x43
#define SEL_NOT_PRESENT 0x48

static struct emu_accel accel;
static struct emu_cpu *c;
static emu_handler_fn table[ZYDIS_MNEMONIC_MAX_VALUE + 1];

static struct {
	int count;
	uint16_t port;
	unsigned len;
	bool is_write;
	uint32_t value;
} io;

static inline void io_access(void *ctx, enum cpu_io_space space, uint64_t addr, uint8_t *data,
			     unsigned len, bool is_write)
{
	io.count++;
	io.port = (uint16_t)addr;
	io.len = len;
	io.is_write = is_write;
	if (is_write)
		memcpy(&io.value, data, len);
	else
		memset(data, 0xa5, len);
}

static const struct cpu_io test_io = {.access = io_access};

static inline void setup(void)
{
	memset(&io, 0, sizeof(io));
	guest_ram_create(&accel, RAM_SIZE);
	accel.vcpu_count = 4;
	c = calloc(1, sizeof(*c));
	cr_assert_not_null(c);
	c->cpu.index = 2;
	c->accel = &accel;
	c->io = &test_io;
	emu_tlb_flush(c, false);
	emu_msr_reset(c);
	memset(table, 0, sizeof(table));
	emu_register_system(table);
}

static inline void teardown(void)
{
	free(c);
	guest_ram_destroy(&accel);
}

/* ---- machine set-ups --------------------------------------------------------------------- */

static inline void gdt_fill(void)
{
	put64(GDT + SEL_CODE32, 0x00cf9a000000ffffull);
	put64(GDT + SEL_CODE64, 0x00af9a000000ffffull);
	put64(GDT + SEL_DATA, 0x00cf92000000ffffull);
	put64(GDT + SEL_UDATA - 3, 0x00cff2000000ffffull);
	put64(GDT + SEL_UCODE64 - 3, 0x00affa000000ffffull);
	uint64_t limit = IOMAP + 0x101 - 1; /* ports 0-0x7ff, then a 0xff byte */
	put64(GDT + SEL_TSS, (limit & 0xffff) | (uint64_t)TSS << 16 | 0x89ull << 40);
	put64(GDT + SEL_TSS + 8, 0);
	put64(GDT + SEL_UCODE32 - 3, 0x00cffa000000ffffull);
	put64(GDT + SEL_NOT_PRESENT, 0x00cf12000000ffffull);
	c->gdtr = (struct emu_dtr){GDT, 0x4f};
	put64(TSS + 4, RSP0);
	put64(TSS + 0x24, IST1);
	put16(TSS + 0x66, IOMAP);
	ram[TSS + IOMAP + 0x100] = 0xff;
	ram[TSS + IOMAP + 0x3f8 / 8] = 0x01; /* 0x3f8 closed */
}

static inline void load_seg_raw(unsigned sreg, uint16_t sel)
{
	emu_seg_from_descriptor(&c->seg[sreg], sel, get64(GDT + (sel & ~7u)));
}

/* 32-bit protected mode, flat, CPL 0, no paging. */
static inline void protected_mode(void)
{
	gdt_fill();
	c->cr0 = CR0_PE | CR0_ET;
	c->rflags = RFLAGS_FIXED;
	load_seg_raw(EMU_CS, SEL_CODE32);
	for (unsigned s = 0; s < EMU_SEG_COUNT; s++)
		if (s != EMU_CS)
			load_seg_raw(s, SEL_DATA);
	emu_update_mode(c);
}

/* 64-bit mode with identity paging (one 1 GiB page), the TSS loaded, in ring `cpl`. */
static inline void long_mode(unsigned cpl)
{
	gdt_fill();
	put64(PML4, PDPT | 7);
	put64(PDPT, 0x87);
	c->cr0 = CR0_PE | CR0_ET | CR0_PG;
	c->cr3 = PML4;
	c->cr4 = CR4_PAE;
	c->efer = EFER_LME | EFER_LMA | EFER_SCE | EFER_NXE;
	c->idtr = (struct emu_dtr){IDT, 0xfff};
	load_seg_raw(EMU_CS, cpl ? SEL_UCODE64 : SEL_CODE64);
	for (unsigned s = 0; s < EMU_SEG_COUNT; s++)
		if (s != EMU_CS)
			load_seg_raw(s, cpl ? SEL_UDATA : SEL_DATA);
	emu_seg_from_descriptor(&c->tr, SEL_TSS, get64(GDT + SEL_TSS) | 2ull << 40);
	c->rflags = RFLAGS_FIXED | RFLAGS_IF;
	emu_update_mode(c);
	cr_assert_eq(c->mode, EMU_MODE_64);
	cr_assert_eq(c->cpl, cpl);
}

static inline void set_gate64(unsigned vector, unsigned type, unsigned dpl, unsigned ist,
			      bool present)
{
	uint64_t h = HANDLER;
	uint64_t attr = type | dpl << 5 | (present ? 0x80 : 0);
	put64(IDT + 16 * vector, (h & 0xffff) | (uint64_t)SEL_CODE64 << 16 | (uint64_t)ist << 32 |
				     attr << 40 | (h & 0xffff0000) << 32);
	put64(IDT + 16 * vector + 8, h >> 32);
}

static inline struct emu_insn insn(ZydisMnemonic m, unsigned opsize)
{
	return (struct emu_insn){.mnemonic = (uint16_t)m, .opsize = (uint8_t)opsize, .len = 2};
}

#endif
