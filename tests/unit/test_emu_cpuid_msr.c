/* Unit tests for the software vCPU's CPUID leaves and MSRs: what the guest learns (vendor,
 * features, topology, clocks, the hypervisor leaves) and the MSRs' checks and effects (EFER,
 * canonical bases, the APIC base, PAT and MTRRs, the TSC and its adjust, kvmclock), through the
 * family's functions as test_emu_system.c calls them (tests/unit/emu_system_fixture.h). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/emu_system_fixture.h"

TestSuite(emu_cpuid_msr, .init = setup, .fini = teardown);

/* ---- CPUID ------------------------------------------------------------------------------- */

static void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	emu_cpuid(c, leaf, subleaf, r);
}

Test(emu_cpuid_msr, cpuid_vendor_and_max_leaf)
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

Test(emu_cpuid_msr, cpuid_leaf1_features_and_identity)
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

Test(emu_cpuid_msr, cpuid_clocks)
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

Test(emu_cpuid_msr, cpuid_topology)
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

Test(emu_cpuid_msr, cpuid_hypervisor_and_extended_leaves)
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

Test(emu_cpuid_msr, msr_efer)
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

Test(emu_cpuid_msr, msr_canonical_and_bases)
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

Test(emu_cpuid_msr, msr_apic_base)
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

Test(emu_cpuid_msr, msr_pat_mtrr_misc)
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

Test(emu_cpuid_msr, msr_instructions_and_completion)
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

Test(emu_cpuid_msr, msr_tsc_write_sets_offset)
{
	uint64_t v;
	accel.clock_epoch_ns = 0;
	cr_assert_eq(emu_msr_write(c, 0x10, 1000), 0);
	cr_assert_eq(emu_msr_read(c, 0x10, &v), 0);
	cr_assert(v >= 1000 && v < 1000 + 1000000000ull, "counts on from the written value");
}

/* kvmclock: the time record says ns = TSC - TSC_ADJUST, stable; the wall clock is the epoch. */
Test(emu_cpuid_msr, msr_kvmclock_records)
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
Test(emu_cpuid_msr, msr_tsc_adjust)
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
