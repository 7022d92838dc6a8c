/* CPUID of the software vCPU: our own table, so the guest sees exactly what the interpreter
 * implements and nothing of the host.
 *
 * Identity: "GenuineIntel" family 6 (Linux takes its Intel paths), model 0x1C stepping 10 (an
 * in-order Atom: Linux's vulnerability whitelist then knows the CPU does not speculate and enables
 * no Spectre/MDS mitigations, which would only slow the interpreter down; stepping > 2 avoids the
 * PSE erratum check of that model). Features: the x87 FPU, MMX, SSE and SSE2 with FXSR, CX8,
 * CX16, POPCNT, CMOV, PAE/PSE/PGE/PAT/MTRR paging and cache control, NX, 1 GHz invariant TSC with
 * RDTSCP and IA32_TSC_ADJUST, SYSENTER and SYSCALL, long mode with LAHF/SAHF, an xAPIC. Not: SSE3
 * and later, AVX, XSAVE, x2APIC, TSC-deadline, PCID/INVPCID, SMEP/SMAP, FSGSBASE, RDRAND,
 * MONITOR/MWAIT, MCE, performance counters, debug extensions, 1 GiB pages.
 *
 * Topology (leaves 1, 4, 0xB): one package whose cores are the vCPUs, one logical processor
 * each, APIC ID = vCPU index, as in the MADT. Clocks (0x15, 0x16, 0x40000010): the TSC counts at
 * 1 GHz (emu_tsc is nanoseconds), the LAPIC timer at 100 MHz (LAPIC_TIMER_HZ, firmware/layout.h).
 *
 * Why TSC_ADJUST: every vCPU of every node reads one TSC (emu_accel.c), so it is synchronized and
 * never stops; invariant TSC (constant and nonstop) plus TSC_ADJUST is what Linux (tsc.c, up to
 * four NUMA nodes) takes for a TSC that needs no clocksource watchdog. Without it the watchdog
 * checks the TSC against jiffies, whose ticks an interpreted vCPU delays (cross-node page faults,
 * a busy host), and marks the TSC unstable, leaving the guest on jiffies.
 *
 * Hypervisor leaves: our own signature at 0x40000000 (with the timing leaf 0x40000010), and
 * KVM's at 0x40000100, where Linux also looks, offering only kvmclock (emu_msr.c): with it the
 * guest's clocksource watchdog compares the TSC with kvmclock, not with jiffies.
 *
 * Leaves past the basic or extended maximum return the highest basic leaf, as Intel CPUs do;
 * unknown leaves of the hypervisor range 0x40000000-0x4fffffff return zeros (hypervisor probes
 * look for signatures there). */
#include <string.h>

#include "firmware/layout.h"
#include "vmm/cpu/emu/emu_system.h"

#define MAX_BASIC      0x16u
#define HV_BASE	       0x40000000u
#define HV_TIMING      0x40000010u
#define KVM_BASE       0x40000100u
#define KVM_FEATURES   0x40000101u
#define HV_RANGE_END   0x4fffffffu
#define EXT_BASE       0x80000000u
#define MAX_EXTENDED   0x80000008u
#define FAMILY	       6u
#define MODEL	       0x1cu
#define STEPPING       10u
#define CLFLUSH_QWORDS 8u /* 64-byte lines */

/* Leaf 1 EDX */
#define F_FPU	(1u << 0)
#define F_PSE	(1u << 3)
#define F_TSC	(1u << 4)
#define F_MSR	(1u << 5)
#define F_PAE	(1u << 6)
#define F_CX8	(1u << 8)
#define F_APIC	(1u << 9)
#define F_SEP	(1u << 11)
#define F_MTRR	(1u << 12)
#define F_PGE	(1u << 13)
#define F_CMOV	(1u << 15)
#define F_PAT	(1u << 16)
#define F_CLFSH (1u << 19)
#define F_MMX	(1u << 23)
#define F_FXSR	(1u << 24)
#define F_SSE	(1u << 25)
#define F_SSE2	(1u << 26)
#define F_HTT	(1u << 28)
/* Leaf 1 ECX */
#define F_CX16	     (1u << 13)
#define F_POPCNT     (1u << 23)
#define F_HYPERVISOR (1u << 31)
/* Leaf 0x80000001 */
#define F_LAHF_LM (1u << 0)  /* ECX */
#define F_SYSCALL (1u << 11) /* EDX */
#define F_NX	  (1u << 20)
#define F_RDTSCP  (1u << 27)
#define F_LM	  (1u << 29)
/* Leaf 0x40000101 EAX: kvmclock's MSRs 0x4b564d00/01, and its records say when it is stable */
#define KVM_FEATURE_CLOCKSOURCE2       (1u << 3)
#define KVM_FEATURE_CLOCKSOURCE_STABLE (1u << 24)
/* Leaf 7 subleaf 0 EBX */
#define F_TSC_ADJUST (1u << 1)
/* Leaf 6 EAX, leaf 0x80000007 EDX */
#define F_ARAT		(1u << 2)
#define F_INVARIANT_TSC (1u << 8)

#define LEAF1_EDX                                                                                  \
	(F_FPU | F_PSE | F_TSC | F_MSR | F_PAE | F_CX8 | F_SEP | F_MTRR | F_PGE | F_CMOV | F_PAT | \
	 F_CLFSH | F_MMX | F_FXSR | F_SSE | F_SSE2)
#define LEAF1_ECX (F_CX16 | F_POPCNT | F_HYPERVISOR)

static const char brand[48] = "vsmp-vmm software x86-64 CPU";

/* Cache hierarchy for leaf 4 (and 0x80000006): private L1d, L1i, L2, a shared L3. */
struct cache {
	unsigned type, level, kib, ways;
	bool shared;
};
static const struct cache caches[] = {
    {1, 1, 32, 8, false},
    {2, 1, 32, 8, false},
    {3, 2, 1024, 16, false},
    {3, 3, 16384, 16, true},
};
#define CACHE_LINE 64u

/* The smallest power of two >= n, and its log2. */
static unsigned pow2_at_least(unsigned n, unsigned *log2)
{
	unsigned p = 1, l = 0;
	while (p < n) {
		p <<= 1;
		l++;
	}
	if (log2)
		*log2 = l;
	return p;
}

static unsigned vcpus(const struct emu_cpu *c)
{
	unsigned n = c->accel ? c->accel->vcpu_count : 1;
	return n ? n : 1;
}

static void set(uint32_t out[4], uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	out[0] = a;
	out[1] = b;
	out[2] = c;
	out[3] = d;
}

/* Four characters of a signature as a register holds them. */
static uint32_t sig(const char *s)
{
	uint32_t v;
	memcpy(&v, s, 4);
	return v;
}

static void leaf1(const struct emu_cpu *c, uint32_t out[4])
{
	unsigned n = vcpus(c);
	uint32_t eax = STEPPING | (MODEL & 0xf) << 4 | FAMILY << 8 | (MODEL >> 4) << 16;
	unsigned logical = pow2_at_least(n, NULL);
	uint32_t ebx = CLFLUSH_QWORDS << 8 | (logical > 255 ? 255 : logical) << 16 |
		       (c->cpu.index & 0xff) << 24;
	uint32_t edx = LEAF1_EDX | (n > 1 ? F_HTT : 0);
	/* The APIC bit follows the global enable of IA32_APIC_BASE, as on hardware. */
	if (c->apic_base & (1u << 11))
		edx |= F_APIC;
	set(out, eax, ebx, LEAF1_ECX, edx);
}

static void leaf4(const struct emu_cpu *c, uint32_t subleaf, uint32_t out[4])
{
	if (subleaf >= sizeof(caches) / sizeof(caches[0])) {
		set(out, 0, 0, 0, 0);
		return;
	}
	const struct cache *k = &caches[subleaf];
	unsigned cores = pow2_at_least(vcpus(c), NULL);
	unsigned sharing = k->shared ? cores : 1;
	unsigned sets = k->kib * 1024 / (k->ways * CACHE_LINE);
	uint32_t eax = k->type | k->level << 5 | 1u << 8 /* self-initializing */ |
		       ((sharing - 1) & 0xfff) << 14 | ((cores > 64 ? 64 : cores) - 1) << 26;
	uint32_t ebx = (CACHE_LINE - 1) | (k->ways - 1) << 22;
	set(out, eax, ebx, sets - 1, 0);
}

/* Extended topology: the SMT level has one thread per core, the core level all vCPUs. */
static void leaf_b(const struct emu_cpu *c, uint32_t subleaf, uint32_t out[4])
{
	unsigned n = vcpus(c), shift;
	pow2_at_least(n, &shift);
	uint32_t apic_id = c->cpu.index;
	if (subleaf == 0)
		set(out, 0, 1, 0 | 1u << 8, apic_id);
	else if (subleaf == 1)
		set(out, shift, n, 1 | 2u << 8, apic_id);
	else
		set(out, 0, 0, subleaf & 0xff, apic_id);
}

static void basic_leaf(const struct emu_cpu *c, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	switch (leaf) {
	case 0:
		set(out, MAX_BASIC, sig("Genu"), sig("ntel"), sig("ineI"));
		return;
	case 1:
		leaf1(c, out);
		return;
	case 2: /* one descriptor byte, 0xff: "use leaf 4" */
		set(out, 0xff01, 0, 0, 0);
		return;
	case 4:
		leaf4(c, subleaf, out);
		return;
	case 6:
		set(out, F_ARAT, 0, 0, 0);
		return;
	case 7: /* subleaf 0 is the only one (EAX = 0) */
		set(out, 0, subleaf == 0 ? F_TSC_ADJUST : 0, 0, 0);
		return;
	case 0xb:
		leaf_b(c, subleaf, out);
		return;
	case 0x15: /* TSC = 100 MHz crystal * 10 / 1 */
		set(out, 1, (uint32_t)(EMU_TSC_HZ / LAPIC_TIMER_HZ), (uint32_t)LAPIC_TIMER_HZ, 0);
		return;
	case 0x16: /* base, maximum and bus frequencies in MHz */
		set(out, (uint32_t)(EMU_TSC_HZ / 1000000), (uint32_t)(EMU_TSC_HZ / 1000000),
		    (uint32_t)(LAPIC_TIMER_HZ / 1000000), 0);
		return;
	default: /* 3, 5 and 8-0x14: nothing advertised */
		set(out, 0, 0, 0, 0);
		return;
	}
}

static void hypervisor_leaf(uint32_t leaf, uint32_t out[4])
{
	if (leaf == HV_BASE)
		set(out, HV_TIMING, sig("vsmp"), sig("vsmp"), sig("vsmp"));
	else if (leaf == HV_TIMING) /* TSC and LAPIC bus frequencies in kHz */
		set(out, (uint32_t)(EMU_TSC_HZ / 1000), (uint32_t)(LAPIC_TIMER_HZ / 1000), 0, 0);
	else if (leaf == KVM_BASE) /* "KVMKVMKVM\0\0\0" */
		set(out, KVM_FEATURES, sig("KVMK"), sig("VMKV"), sig("M\0\0\0"));
	else if (leaf == KVM_FEATURES) /* kvmclock only: no other paravirtual feature, no hints */
		set(out, KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE, 0, 0, 0);
	else
		set(out, 0, 0, 0, 0);
}

static void extended_leaf(uint32_t leaf, uint32_t out[4])
{
	switch (leaf) {
	case EXT_BASE:
		set(out, MAX_EXTENDED, 0, 0, 0);
		return;
	case EXT_BASE + 1:
		set(out, 0, 0, F_LAHF_LM, F_SYSCALL | F_NX | F_RDTSCP | F_LM);
		return;
	case EXT_BASE + 2:
	case EXT_BASE + 3:
	case EXT_BASE + 4:
		memcpy(out, brand + 16 * (leaf - (EXT_BASE + 2)), 16);
		return;
	case EXT_BASE + 6: /* L2: line size, associativity code 8 = 16-way, size in KiB */
		set(out, 0, 0, CACHE_LINE | 8u << 12 | caches[2].kib << 16, 0);
		return;
	case EXT_BASE + 7:
		set(out, 0, 0, 0, F_INVARIANT_TSC);
		return;
	case EXT_BASE + 8:
		set(out, EMU_PHYS_ADDR_BITS | EMU_VIRT_ADDR_BITS << 8, 0, 0, 0);
		return;
	default: /* 5 */
		set(out, 0, 0, 0, 0);
		return;
	}
}

void emu_cpuid(const struct emu_cpu *c, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	if (leaf >= HV_BASE && leaf <= HV_RANGE_END)
		hypervisor_leaf(leaf, out);
	else if (leaf >= EXT_BASE && leaf <= MAX_EXTENDED)
		extended_leaf(leaf, out);
	else if (leaf <= MAX_BASIC)
		basic_leaf(c, leaf, subleaf, out);
	else
		basic_leaf(c, MAX_BASIC, subleaf, out);
}
