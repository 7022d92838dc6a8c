/* Unit tests for the software vCPU's system family: CPUID, MSRs, descriptors and segment loads,
 * exception and interrupt delivery (real mode IVT, IA-32e mode with and without a privilege
 * change, IST), IRETQ, far jumps into long mode, port I/O permissions. Each test builds a vCPU
 * and a small guest RAM by hand and calls the family's functions directly; a fault unwinds to
 * the setjmp in CATCH() as it would to the run loop. */
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

static void io_access(void *ctx, enum cpu_io_space space, uint64_t addr, uint8_t *data,
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

static const struct cpu_io test_io = {io_access, NULL};

/* Runs stmt; the vector it raised, 1000 for an exit (emu_exit), or -1. */
#define CATCH(stmt)                                                                                \
	({                                                                                         \
		volatile int vector_ = -1;                                                         \
		c->stop = false;                                                                   \
		if (setjmp(c->fault_jmp) == 0) {                                                   \
			stmt;                                                                      \
		} else {                                                                           \
			vector_ = c->stop ? 1000 : c->fault_vector;                                \
		}                                                                                  \
		vector_;                                                                           \
	})

static void put16(uint64_t addr, uint16_t v)
{
	memcpy(ram + addr, &v, 2);
}

static uint16_t get16(uint64_t addr)
{
	uint16_t v;
	memcpy(&v, ram + addr, 2);
	return v;
}

static void setup(void)
{
	memset(&accel, 0, sizeof(accel));
	memset(&io, 0, sizeof(io));
	ram = aligned_alloc(4096, RAM_SIZE);
	cr_assert_not_null(ram);
	memset(ram, 0, RAM_SIZE);
	accel.ram = ram;
	accel.ram_size = RAM_SIZE;
	accel.pages = RAM_SIZE >> 12;
	accel.vcpu_count = 4;
	accel.page_gen = calloc(accel.pages, sizeof(*accel.page_gen));
	accel.code_page = calloc(accel.pages, sizeof(*accel.code_page));
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

static void teardown(void)
{
	free(c);
	free((void *)accel.page_gen);
	free((void *)accel.code_page);
	free(ram);
}

TestSuite(emu_system, .init = setup, .fini = teardown);

/* ---- machine set-ups --------------------------------------------------------------------- */

static void gdt_fill(void)
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

static void load_seg_raw(unsigned sreg, uint16_t sel)
{
	emu_seg_from_descriptor(&c->seg[sreg], sel, get64(GDT + (sel & ~7u)));
}

/* 32-bit protected mode, flat, CPL 0, no paging. */
static void protected_mode(void)
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
static void long_mode(unsigned cpl)
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

static void set_gate64(unsigned vector, unsigned type, unsigned dpl, unsigned ist, bool present)
{
	uint64_t h = HANDLER;
	uint64_t attr = type | dpl << 5 | (present ? 0x80 : 0);
	put64(IDT + 16 * vector, (h & 0xffff) | (uint64_t)SEL_CODE64 << 16 | (uint64_t)ist << 32 |
				     attr << 40 | (h & 0xffff0000) << 32);
	put64(IDT + 16 * vector + 8, h >> 32);
}

static struct emu_insn insn(ZydisMnemonic m, unsigned opsize)
{
	return (struct emu_insn){.mnemonic = (uint16_t)m, .opsize = (uint8_t)opsize, .len = 2};
}

/* ---- CPUID ------------------------------------------------------------------------------- */

static void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	emu_cpuid(c, leaf, subleaf, r);
}

Test(emu_system, cpuid_vendor_and_max_leaf)
{
	uint32_t r[4];
	char vendor[13] = {0};
	cpuid(0, 0, r);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	cr_assert_str_eq(vendor, "GenuineIntel");
	cr_assert_eq(r[0], 0x16);
	struct emu_insn i = insn(ZYDIS_MNEMONIC_CPUID, 4);
	c->gpr[EMU_RAX] = 0xffffffff00000000ull; /* the instruction takes EAX */
	table[ZYDIS_MNEMONIC_CPUID](c, &i);
	cr_assert_eq(c->gpr[EMU_RAX], 0x16);
	cr_assert_eq((uint32_t)c->gpr[EMU_RBX], 0x756e6547); /* "Genu" */
}

Test(emu_system, cpuid_leaf1_features_and_identity)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	cr_assert_eq((r[0] >> 8) & 0xf, 6, "family 6");
	cr_assert_eq(r[1] >> 24, 2, "APIC ID = vCPU index");
	cr_assert_eq((r[1] >> 8) & 0xff, 8, "64-byte CLFLUSH lines");
	cr_assert_eq((r[1] >> 16) & 0xff, 4, "4 logical processors");
	uint32_t want_edx = 1u << 0 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6 | 1u << 8 | 1u << 9 |
			    1u << 11 | 1u << 13 | 1u << 15 | 1u << 16 | 1u << 19 | 1u << 23 |
			    1u << 24 | 1u << 25 | 1u << 26;
	cr_assert_eq(r[3] & want_edx, want_edx);
	cr_assert(r[2] & (1u << 31), "hypervisor bit");
	cr_assert(r[2] & (1u << 13) && r[2] & (1u << 23), "CX16, POPCNT");
	uint32_t absent = 1u << 0 /* SSE3 */ | 1u << 3 /* MONITOR */ | 1u << 9 /* SSSE3 */ |
			  1u << 17 /* PCID */ | 1u << 21 /* x2APIC */ | 1u << 24 /* deadline */ |
			  1u << 26 /* XSAVE */ | 1u << 27 | 1u << 28 /* AVX */ | 1u << 30;
	cr_assert_eq(r[2] & absent, 0);
	cpuid(7, 0, r);
	cr_assert_eq(r[1], 1u << 1, "TSC_ADJUST, no other leaf 7 feature");
	cr_assert_eq(r[2] | r[3], 0, "no other leaf 7 feature");
}

Test(emu_system, cpuid_clocks)
{
	uint32_t r[4];
	cpuid(0x15, 0, r);
	cr_assert_eq(r[0], 1);
	cr_assert_eq(r[1], 10);
	cr_assert_eq(r[2], 100000000);
	cpuid(0x16, 0, r);
	cr_assert_eq(r[0], 1000);
	cr_assert_eq(r[1], 1000);
	cr_assert_eq(r[2], 100);
}

Test(emu_system, cpuid_topology)
{
	uint32_t r[4];
	cpuid(0xb, 0, r);
	cr_assert_eq(r[1], 1, "one thread per core");
	cr_assert_eq((r[2] >> 8) & 0xff, 1, "SMT level");
	cr_assert_eq(r[3], 2, "x2APIC ID");
	cpuid(0xb, 1, r);
	cr_assert_eq(r[0] & 0x1f, 2, "4 cores: 2 bits");
	cr_assert_eq(r[1], 4);
	cr_assert_eq((r[2] >> 8) & 0xff, 2, "core level");
	cpuid(0xb, 2, r);
	cr_assert_eq((r[2] >> 8) & 0xff, 0, "no further level");
	cpuid(4, 0, r);
	cr_assert_eq(r[0] >> 26, 3, "4 cores per package");
	cr_assert_eq((r[0] >> 14) & 0xfff, 0, "L1 private");
	cpuid(4, 3, r);
	cr_assert_eq((r[0] >> 14) & 0xfff, 3, "L3 shared by 4");
	cpuid(4, 4, r);
	cr_assert_eq(r[0] & 0x1f, 0, "no more caches");
}

Test(emu_system, cpuid_hypervisor_and_extended_leaves)
{
	uint32_t r[4];
	char sig[13] = {0};
	cpuid(0x40000000, 0, r);
	memcpy(sig, &r[1], 12);
	cr_assert_str_eq(sig, "vsmpvsmpvsmp");
	cr_assert_eq(r[0], 0x40000010);
	cpuid(0x40000010, 0, r);
	cr_assert_eq(r[0], 1000000, "TSC kHz");
	cr_assert_eq(r[1], 100000, "bus kHz");
	cpuid(0x40000100, 0, r);
	memcpy(sig, &r[1], 12);
	cr_assert_eq(memcmp(sig, "KVMKVMKVM\0\0\0", 12), 0, "KVM's signature");
	cr_assert_eq(r[0], 0x40000101);
	cpuid(0x40000101, 0, r);
	cr_assert_eq(r[0], 1u << 3 | 1u << 24,
		     "kvmclock (MSRs 0x4b564d0x, stable bit), nothing else");
	cr_assert_eq(r[3], 0, "no hints");
	cpuid(0x40000200, 0, r);
	cr_assert_eq(r[0] | r[1] | r[2] | r[3], 0);
	cpuid(0x80000000, 0, r);
	cr_assert_eq(r[0], 0x80000008);
	cpuid(0x80000001, 0, r);
	uint32_t want = 1u << 11 | 1u << 20 | 1u << 27 | 1u << 29;
	cr_assert_eq(r[3] & want, want, "SYSCALL NX RDTSCP LM");
	cr_assert(r[2] & 1, "LAHF in long mode");
	cpuid(0x80000008, 0, r);
	cr_assert_eq(r[0], EMU_PHYS_ADDR_BITS | 48 << 8);
	uint32_t top[4];
	cpuid(0x16, 0, top);
	cpuid(0x80000009, 0, r);
	cr_assert_arr_eq(r, top, sizeof(r), "past the maximum: the highest basic leaf");
	cpuid(0x17, 0, r);
	cr_assert_arr_eq(r, top, sizeof(r));
}

/* ---- MSRs -------------------------------------------------------------------------------- */

Test(emu_system, msr_efer)
{
	uint64_t v;
	cr_assert_eq(emu_msr_write(c, 0xc0000080, EFER_SCE | EFER_LME | EFER_NXE), 0);
	cr_assert_eq(emu_msr_read(c, 0xc0000080, &v), 0);
	cr_assert_eq(v, EFER_SCE | EFER_LME | EFER_NXE);
	cr_assert_eq(emu_msr_write(c, 0xc0000080, 1ull << 12), -1, "reserved bit");
	cr_assert_eq(emu_msr_write(c, 0xc0000080, EFER_LMA), 0, "LMA is ignored");
	cr_assert_eq(c->efer, 0);
	c->cr0 = CR0_PE | CR0_PG;
	cr_assert_eq(emu_msr_write(c, 0xc0000080, EFER_LME), -1, "LME with paging on");
}

Test(emu_system, msr_canonical_and_bases)
{
	uint64_t v;
	cr_assert_eq(emu_msr_write(c, 0xc0000082, 0x0000800000000000ull), -1);
	cr_assert_eq(emu_msr_write(c, 0xc0000082, 0xffffffff81000000ull), 0);
	cr_assert_eq(c->lstar, 0xffffffff81000000ull);
	cr_assert_eq(emu_msr_write(c, 0xc0000100, 0x7000), 0);
	cr_assert_eq(c->seg[EMU_FS].base, 0x7000);
	cr_assert_eq(emu_msr_write(c, 0xc0000101, 0x8000), 0);
	cr_assert_eq(emu_msr_read(c, 0xc0000101, &v), 0);
	cr_assert_eq(v, 0x8000);
	cr_assert_eq(emu_msr_write(c, 0xc0000084, 1ull << 32), -1, "SFMASK upper half");
	cr_assert_eq(emu_msr_write(c, 0xc0000103, 1ull << 32), -1, "TSC_AUX upper half");
}

Test(emu_system, msr_apic_base)
{
	uint64_t v;
	cr_assert_eq(emu_msr_read(c, 0x1b, &v), 0);
	cr_assert_eq(v, 0xfee00000ull | 1u << 11, "vCPU 2 is no BSP");
	cr_assert_eq(emu_msr_write(c, 0x1b, 0xfee00000ull | 1u << 11 | 1u << 8), 0);
	emu_msr_read(c, 0x1b, &v);
	cr_assert_eq(v & (1u << 8), 0, "the BSP bit is not the guest's");
	cr_assert_eq(emu_msr_write(c, 0x1b, 0xfed00000ull | 1u << 11), -1, "moved");
	cr_assert_eq(emu_msr_write(c, 0x1b, 0xfee00000ull | 3u << 10), -1, "x2APIC");
	cr_assert_eq(emu_msr_write(c, 0x1b, 0xfee00000ull), 0, "disabled");
}

Test(emu_system, msr_pat_mtrr_misc)
{
	uint64_t v;
	cr_assert_eq(emu_msr_read(c, 0x277, &v), 0);
	cr_assert_eq(v, 0x0007040600070406ull);
	cr_assert_eq(emu_msr_write(c, 0x277, 0x0007040600070402ull), -1, "type 2");
	cr_assert_eq(emu_msr_write(c, 0x277, 0x0001050600070406ull), 0);
	cr_assert_eq(emu_msr_read(c, 0xfe, &v), 0);
	cr_assert_eq(v & 0xff, 8);
	cr_assert_eq(emu_msr_write(c, 0x200, 0x80000006ull), 0);
	cr_assert_eq(emu_msr_write(c, 0x201, 0xff80000800ull), 0);
	cr_assert_eq(emu_msr_read(c, 0x201, &v), 0);
	cr_assert_eq(v, 0xff80000800ull);
	cr_assert_eq(emu_msr_write(c, 0x200, 0x80000003ull), -1, "type 3");
	cr_assert_eq(emu_msr_write(c, 0x26f, 0x0606060606060606ull), 0);
	cr_assert_eq(c->mtrr_fixed[10], 0x0606060606060606ull);
	cr_assert_eq(emu_msr_write(c, 0x2ff, 1ull << 12), -1);
	cr_assert_eq(emu_msr_read(c, 0x1a0, &v), 0);
	cr_assert_eq(v & 1, 1, "fast strings");
	cr_assert_eq(emu_msr_read(c, 0x3a, &v), 0);
	cr_assert_eq(v, 1, "locked");
	cr_assert_eq(emu_msr_write(c, 0x3a, 5), -1);
	cr_assert_eq(emu_msr_read(c, 0x199, &v), 1, "perf MSRs go to the policy");
	cr_assert_eq(emu_msr_write(c, 0x12345, 0), 1);
}

Test(emu_system, msr_instructions_and_completion)
{
	struct emu_insn i = insn(ZYDIS_MNEMONIC_RDMSR, 4);
	c->insn_rip = 0x1000;
	c->rip = 0x1002;
	c->gpr[EMU_RCX] = 0xc0000082;
	c->lstar = 0xffffffff81000000ull;
	table[ZYDIS_MNEMONIC_RDMSR](c, &i);
	cr_assert_eq(c->gpr[EMU_RAX], 0x81000000);
	cr_assert_eq(c->gpr[EMU_RDX], 0xffffffff);

	c->gpr[EMU_RCX] = 0x4b564dff;
	cr_assert_eq(CATCH(table[ZYDIS_MNEMONIC_RDMSR](c, &i)), 1000, "an exit");
	cr_assert_eq(c->cpu.exit.reason, CPU_EXIT_MSR);
	cr_assert(c->msr_pending);
	cr_assert_eq(c->cpu.exit.msr.index, 0x4b564dff);
	cr_assert_eq(c->rip, 0x1000, "the instruction re-executes");
	c->cpu.exit.msr.value = 0x1122334455667788ull;
	cr_assert_eq(emu_msr_complete(c), 0);
	cr_assert_eq(c->gpr[EMU_RAX], 0x55667788);
	cr_assert_eq(c->gpr[EMU_RDX], 0x11223344);
	cr_assert_eq(c->rip, 0x1002);
	c->cpu.exit.msr.error = true;
	cr_assert_eq(emu_msr_complete(c), -1);

	c->gpr[EMU_RCX] = 0xc0000080;
	c->gpr[EMU_RAX] = 1ull << 12;
	c->gpr[EMU_RDX] = 0;
	struct emu_insn w = insn(ZYDIS_MNEMONIC_WRMSR, 4);
	cr_assert_eq(CATCH(table[ZYDIS_MNEMONIC_WRMSR](c, &w)), EMU_GP);
	c->cpl = 3;
	cr_assert_eq(CATCH(table[ZYDIS_MNEMONIC_RDMSR](c, &i)), EMU_GP, "CPL 3");
}

Test(emu_system, msr_tsc_write_sets_offset)
{
	uint64_t v;
	accel.clock_epoch_ns = 0;
	cr_assert_eq(emu_msr_write(c, 0x10, 1000), 0);
	cr_assert_eq(emu_msr_read(c, 0x10, &v), 0);
	cr_assert(v >= 1000 && v < 1000 + 1000000000ull, "counts on from the written value");
}

/* kvmclock: the time record says ns = TSC - TSC_ADJUST, stable; the wall clock is the epoch. */
Test(emu_system, msr_kvmclock_records)
{
	uint8_t *ram = accel.ram;
	accel.clock_epoch_ns = 1700000000123456789ull;
	c->tsc_offset = 77;
	cr_assert_eq(emu_msr_write(c, 0x4b564d01, 0x2040 | 1), 0);
	uint32_t version, mul;
	uint64_t tsc_timestamp, system_time;
	memcpy(&version, ram + 0x2040, 4);
	memcpy(&tsc_timestamp, ram + 0x2048, 8);
	memcpy(&system_time, ram + 0x2050, 8);
	memcpy(&mul, ram + 0x2058, 4);
	cr_assert_eq(version & 1, 0, "complete");
	cr_assert_eq(tsc_timestamp, 77);
	cr_assert_eq(system_time, 0);
	cr_assert_eq(mul, 1u << 31);
	cr_assert_eq((int8_t)ram[0x205c], 1, "shift");
	cr_assert_eq(ram[0x205d], 1, "PVCLOCK_TSC_STABLE_BIT");
	cr_assert_eq(emu_msr_write(c, 0x4b564d00, 0x3000), 0);
	uint32_t sec, nsec;
	memcpy(&sec, ram + 0x3004, 4);
	memcpy(&nsec, ram + 0x3008, 4);
	cr_assert_eq(sec, 1700000000u);
	cr_assert_eq(nsec, 123456789u);
	memset(ram + 0x4000, 0xee, 64);
	cr_assert_eq(emu_msr_write(c, 0x4b564d01, 0x4000), 0, "disabled: accepted");
	cr_assert_eq(ram[0x4000], 0xee, "disabled: nothing written");
	cr_assert_eq(emu_msr_write(c, 0x4b564d01, (accel.ram_size - 8) | 1), 0);
	cr_assert_eq(emu_msr_write(c, 0x4b564d01, 0xffffffffffff0001ull), 0,
		     "outside RAM: dropped");
}

/* IA32_TSC_ADJUST follows TSC writes, and a write of it moves the TSC by the same amount. */
Test(emu_system, msr_tsc_adjust)
{
	uint64_t before, adjust, after;
	cr_assert_eq(emu_msr_read(c, 0x3b, &adjust), 0);
	cr_assert_eq(adjust, 0, "0 after reset");
	cr_assert_eq(emu_msr_read(c, 0x10, &before), 0);
	cr_assert_eq(emu_msr_write(c, 0x10, before + 5000000000ull), 0);
	cr_assert_eq(emu_msr_read(c, 0x3b, &adjust), 0);
	cr_assert(adjust >= 5000000000ull - 1000000000ull && adjust <= 5000000000ull,
		  "the TSC write moved TSC_ADJUST by about 5 s: %llu", (unsigned long long)adjust);
	cr_assert_eq(emu_msr_write(c, 0x3b, 0), 0);
	cr_assert_eq(emu_msr_read(c, 0x10, &after), 0);
	cr_assert(after >= before && after < before + 1000000000ull,
		  "clearing TSC_ADJUST took the 5 s back out");
}

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
