/* Model-specific registers of the software vCPU: the ones the interpreter implements, each kept
 * in struct emu_cpu and checked as the SDM says (a reserved bit, a non-canonical address or a
 * read-only register written raises #GP: -1). Everything else is unknown to the interpreter (1)
 * and the machine's policy decides (exit CPU_EXIT_MSR, completed by emu_msr_complete): that
 * includes the performance and power MSRs, which CPUID does not advertise.
 *
 * The set follows CPUID (emu_cpuid.c): EFER with SCE/LME/NXE, the SYSCALL and SYSENTER MSRs,
 * FS/GS bases, TSC, TSC_ADJUST and TSC_AUX, an xAPIC base that cannot move, PAT, MTRRs
 * (8 variable ranges, fixed ranges, write-combining) and the identification MSRs Linux reads on
 * Intel CPUs.
 *
 * Also KVM's clock MSRs (kvmclock, offered at CPUID 0x40000100): a Linux guest then has a
 * clocksource that needs no watchdog and serves as the TSC's watchdog in place of jiffies, whose
 * ticks an interpreted vCPU delays. The clock is the TSC itself: each vCPU's time record says
 * "nanoseconds = TSC - TSC_ADJUST" with the stable bit, and the wall-clock record gives the clock
 * epoch, so it is written once, never updated, and reads the same on every node. The MSRs are
 * write-only here (Linux never reads them back). */
#include <string.h>

#include "vmm/cpu/emu/emu_internal.h"
#include "vmm/cpu/emu/emu_system.h"

#define MSR_TSC		     0x10
#define MSR_PLATFORM_ID	     0x17
#define MSR_APIC_BASE	     0x1b
#define MSR_FEATURE_CONTROL  0x3a
#define MSR_TSC_ADJUST	     0x3b
#define MSR_BIOS_SIGN_ID     0x8b
#define MSR_MTRRCAP	     0xfe
#define MSR_SYSENTER_CS	     0x174
#define MSR_SYSENTER_ESP     0x175
#define MSR_SYSENTER_EIP     0x176
#define MSR_MCG_CAP	     0x179
#define MSR_MCG_STATUS	     0x17a
#define MSR_MISC_ENABLE	     0x1a0
#define MSR_MTRR_VAR_FIRST   0x200
#define MSR_MTRR_VAR_LAST    0x20f
#define MSR_MTRR_FIX64K	     0x250
#define MSR_MTRR_FIX16K_8000 0x258
#define MSR_MTRR_FIX16K_A000 0x259
#define MSR_MTRR_FIX4K_FIRST 0x268
#define MSR_MTRR_FIX4K_LAST  0x26f
#define MSR_PAT		     0x277
#define MSR_MTRR_DEF_TYPE    0x2ff
#define MSR_EFER	     0xc0000080
#define MSR_STAR	     0xc0000081
#define MSR_LSTAR	     0xc0000082
#define MSR_CSTAR	     0xc0000083
#define MSR_SFMASK	     0xc0000084
#define MSR_FS_BASE	     0xc0000100
#define MSR_GS_BASE	     0xc0000101
#define MSR_KERNEL_GS_BASE   0xc0000102
#define MSR_TSC_AUX	     0xc0000103
#define MSR_KVM_WALL_CLOCK   0x4b564d00
#define MSR_KVM_SYSTEM_TIME  0x4b564d01

#define APIC_BASE_BSP	  (1ull << 8)
#define APIC_BASE_X2APIC  (1ull << 10)
#define APIC_BASE_ENABLE  (1ull << 11)
#define APIC_BASE_ADDR	  0xfee00000ull
#define MTRRCAP_VALUE	  (8u | 1u << 8 | 1u << 10) /* 8 variable ranges, fixed, WC */
#define MTRR_DEF_E	  (1ull << 11)
#define MTRR_DEF_FE	  (1ull << 10)
#define MTRR_TYPE_WB	  6u
#define MTRR_VAR_VALID	  (1ull << 11)
#define PAT_POWER_ON	  0x0007040600070406ull
#define MISC_FAST_STRINGS 1ull
#define FEATURE_LOCKED	  1ull
#define EFER_WRITABLE	  (EFER_SCE | EFER_LME | EFER_NXE)

static const uint64_t phys_mask = (1ull << EMU_PHYS_ADDR_BITS) - 1;

void emu_msr_reset(struct emu_cpu *c)
{
	c->apic_base = APIC_BASE_ADDR | APIC_BASE_ENABLE | (c->cpu.index == 0 ? APIC_BASE_BSP : 0);
	c->pat = PAT_POWER_ON;
	c->misc_enable = MISC_FAST_STRINGS;
	/* What firmware would leave: MTRRs on, everything write-back (memory types are not
	 * emulated; Linux only wants a consistent, enabled set to enable PAT). */
	c->mtrr_def_type = MTRR_DEF_E | MTRR_TYPE_WB;
	for (unsigned k = 0; k < 11; k++)
		c->mtrr_fixed[k] = 0;
	for (unsigned k = 0; k < 16; k++)
		c->mtrr_var[k] = 0;
	c->efer = 0;
	c->star = c->lstar = c->cstar = c->sfmask = c->kernel_gs_base = c->tsc_aux = 0;
	c->sysenter_cs = c->sysenter_esp = c->sysenter_eip = 0;
}

/* ---- validation -------------------------------------------------------------------------- */

static bool mtrr_type_valid(unsigned type)
{
	return type == 0 || type == 1 || type == 4 || type == 5 || type == 6;
}

/* PAT entries may also be UC- (7). */
static bool pat_valid(uint64_t v)
{
	for (unsigned k = 0; k < 8; k++) {
		unsigned t = (unsigned)(v >> (8 * k)) & 0xff;
		if (!mtrr_type_valid(t) && t != 7)
			return false;
	}
	return true;
}

static bool fixed_mtrr_valid(uint64_t v)
{
	for (unsigned k = 0; k < 8; k++)
		if (!mtrr_type_valid((unsigned)(v >> (8 * k)) & 0xff))
			return false;
	return true;
}

/* Even MSRs are PHYSBASE (type, address), odd ones PHYSMASK (valid, mask). */
static bool var_mtrr_valid(uint32_t index, uint64_t v)
{
	uint64_t addr_bits = phys_mask & ~0xfffull;
	if (index % 2 == 0)
		return mtrr_type_valid(v & 0xff) && !(v & ~(addr_bits | 0xff));
	return !(v & ~(addr_bits | MTRR_VAR_VALID));
}

static bool def_type_valid(uint64_t v)
{
	return mtrr_type_valid(v & 0xff) && !(v & ~(0xffull | MTRR_DEF_FE | MTRR_DEF_E));
}

/* The index into mtrr_fixed[] of a fixed-range MTRR, or -1. */
static int fixed_mtrr_slot(uint32_t index)
{
	if (index == MSR_MTRR_FIX64K)
		return 0;
	if (index == MSR_MTRR_FIX16K_8000)
		return 1;
	if (index == MSR_MTRR_FIX16K_A000)
		return 2;
	if (index >= MSR_MTRR_FIX4K_FIRST && index <= MSR_MTRR_FIX4K_LAST)
		return (int)(index - MSR_MTRR_FIX4K_FIRST) + 3;
	return -1;
}

/* ---- registers with more than a store ---------------------------------------------------- */

static int efer_write(struct emu_cpu *c, uint64_t v)
{
	if (v & ~(EFER_WRITABLE | EFER_LMA))
		return -1;
	/* LME cannot change while paging is on; LMA follows CR0.PG and is not written. */
	if ((c->cr0 & CR0_PG) && ((v ^ c->efer) & EFER_LME))
		return -1;
	uint64_t efer = (v & EFER_WRITABLE) | (c->efer & EFER_LMA);
	if ((efer ^ c->efer) & EFER_NXE)
		emu_tlb_flush(c, false); /* cached translations hold the old NX meaning */
	c->efer = efer;
	emu_update_mode(c);
	return 0;
}

/* The xAPIC stays at its one address and cannot become an x2APIC; the global enable is the
 * guest's, the BSP bit ours. */
static int apic_base_write(struct emu_cpu *c, uint64_t v)
{
	uint64_t allowed = (phys_mask & ~0xfffull) | APIC_BASE_BSP | APIC_BASE_ENABLE;
	if ((v & ~allowed) || (v & APIC_BASE_X2APIC) || (v & ~0xfffull) != APIC_BASE_ADDR)
		return -1;
	c->apic_base = (v & ~APIC_BASE_BSP) | (c->apic_base & APIC_BASE_BSP);
	return 0;
}

/* A store of a canonical linear address. */
static int canonical_write(uint64_t *reg, uint64_t v)
{
	if (!emu_canonical(v))
		return -1;
	*reg = v;
	return 0;
}

/* A store of a register whose upper 32 bits are reserved. */
static int low32_write(uint64_t *reg, uint64_t v)
{
	if (v >> 32)
		return -1;
	*reg = v;
	return 0;
}

static int mtrr_write(struct emu_cpu *c, uint32_t index, uint64_t v)
{
	int slot = fixed_mtrr_slot(index);
	if (slot >= 0) {
		if (!fixed_mtrr_valid(v))
			return -1;
		c->mtrr_fixed[slot] = v;
		return 0;
	}
	if (index >= MSR_MTRR_VAR_FIRST && index <= MSR_MTRR_VAR_LAST) {
		if (!var_mtrr_valid(index, v))
			return -1;
		c->mtrr_var[index - MSR_MTRR_VAR_FIRST] = v;
		return 0;
	}
	if (!def_type_valid(v))
		return -1;
	c->mtrr_def_type = v;
	return 0;
}

static bool is_mtrr(uint32_t index)
{
	return fixed_mtrr_slot(index) >= 0 ||
	       (index >= MSR_MTRR_VAR_FIRST && index <= MSR_MTRR_VAR_LAST) ||
	       index == MSR_MTRR_DEF_TYPE;
}

static uint64_t mtrr_read(const struct emu_cpu *c, uint32_t index)
{
	int slot = fixed_mtrr_slot(index);
	if (slot >= 0)
		return c->mtrr_fixed[slot];
	if (index == MSR_MTRR_DEF_TYPE)
		return c->mtrr_def_type;
	return c->mtrr_var[index - MSR_MTRR_VAR_FIRST];
}

/* ---- kvmclock --------------------------------------------------------------------------- */

#define KVM_SYSTEM_TIME_ENABLE 1ull
#define PVCLOCK_TSC_STABLE     1u
#define PVCLOCK_VERSION	       2u /* even: the record is complete */

/* struct pvclock_vcpu_time_info and struct pvclock_wall_clock, as KVM lays them out. */
struct pvclock_time {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags, pad[2];
} __attribute__((packed));
struct pvclock_wall {
	uint32_t version, sec, nsec;
} __attribute__((packed));

/* Copies a record into guest RAM at gpa; a record outside RAM or across a page is dropped (KVM
 * too writes nothing then). The store is a plain host write, which the coherence engine serves
 * like the guest's own. */
static void guest_record(struct emu_cpu *c, uint64_t gpa, const void *record, size_t len)
{
	uint8_t *host = emu_ram_host(c->accel, gpa, len);
	if (!host || (gpa & 0xfff) + len > 0x1000)
		return;
	uint64_t page = gpa >> 12;
	if (page < c->accel->pages &&
	    atomic_load_explicit(&c->accel->code_page[page], memory_order_relaxed))
		emu_code_page_written(c->accel, page); /* as for any store: no stale decodes */
	memcpy(host, record, len);
}

/* ns = ((tsc - tsc_timestamp) << 1) * 2^31 >> 32 = tsc - tsc_timestamp: the 1 GHz TSC. */
static void kvm_system_time_write(struct emu_cpu *c, uint64_t value)
{
	if (!(value & KVM_SYSTEM_TIME_ENABLE))
		return;
	struct pvclock_time t = {.version = PVCLOCK_VERSION,
				 .tsc_timestamp = c->tsc_offset,
				 .system_time = 0,
				 .tsc_to_system_mul = 1u << 31,
				 .tsc_shift = 1,
				 .flags = PVCLOCK_TSC_STABLE};
	guest_record(c, value & ~KVM_SYSTEM_TIME_ENABLE, &t, sizeof(t));
}

/* The wall-clock time at which the clock read 0: the clock epoch. */
static void kvm_wall_clock_write(struct emu_cpu *c, uint64_t gpa)
{
	uint64_t epoch = atomic_load_explicit(&c->accel->clock_epoch_ns, memory_order_relaxed);
	struct pvclock_wall w = {.version = PVCLOCK_VERSION,
				 .sec = (uint32_t)(epoch / 1000000000u),
				 .nsec = (uint32_t)(epoch % 1000000000u)};
	guest_record(c, gpa, &w, sizeof(w));
}

/* ---- the interface ----------------------------------------------------------------------- */

int emu_msr_read(struct emu_cpu *c, uint32_t index, uint64_t *value)
{
	if (is_mtrr(index)) {
		*value = mtrr_read(c, index);
		return 0;
	}
	switch (index) {
	case MSR_TSC:
		*value = emu_tsc(c);
		return 0;
	case MSR_TSC_ADJUST: /* both start at 0 and a TSC write moves both alike (SDM 17.17.3) */
		*value = c->tsc_offset;
		return 0;
	case MSR_PLATFORM_ID:
	case MSR_BIOS_SIGN_ID: /* microcode revision 0 */
	case MSR_MCG_CAP:
	case MSR_MCG_STATUS:
		*value = 0;
		return 0;
	case MSR_APIC_BASE:
		*value = c->apic_base;
		return 0;
	case MSR_FEATURE_CONTROL: /* locked with VMX and SMX off */
		*value = FEATURE_LOCKED;
		return 0;
	case MSR_MTRRCAP:
		*value = MTRRCAP_VALUE;
		return 0;
	case MSR_SYSENTER_CS:
		*value = c->sysenter_cs;
		return 0;
	case MSR_SYSENTER_ESP:
		*value = c->sysenter_esp;
		return 0;
	case MSR_SYSENTER_EIP:
		*value = c->sysenter_eip;
		return 0;
	case MSR_MISC_ENABLE:
		*value = c->misc_enable;
		return 0;
	case MSR_PAT:
		*value = c->pat;
		return 0;
	case MSR_EFER:
		*value = c->efer;
		return 0;
	case MSR_STAR:
		*value = c->star;
		return 0;
	case MSR_LSTAR:
		*value = c->lstar;
		return 0;
	case MSR_CSTAR:
		*value = c->cstar;
		return 0;
	case MSR_SFMASK:
		*value = c->sfmask;
		return 0;
	case MSR_FS_BASE:
		*value = c->seg[EMU_FS].base;
		return 0;
	case MSR_GS_BASE:
		*value = c->seg[EMU_GS].base;
		return 0;
	case MSR_KERNEL_GS_BASE:
		*value = c->kernel_gs_base;
		return 0;
	case MSR_TSC_AUX:
		*value = c->tsc_aux;
		return 0;
	default:
		return 1;
	}
}

int emu_msr_write(struct emu_cpu *c, uint32_t index, uint64_t value)
{
	if (is_mtrr(index))
		return mtrr_write(c, index, value);
	switch (index) {
	case MSR_TSC: /* the guest's TSC becomes `value` now */
		c->tsc_offset += value - emu_tsc(c);
		return 0;
	case MSR_TSC_ADJUST: /* the TSC moves by what the adjustment does */
		c->tsc_offset = value;
		return 0;
	case MSR_BIOS_SIGN_ID: /* Linux writes 0 before reading the microcode revision */
		return 0;
	case MSR_MCG_STATUS:
		return value ? -1 : 0;
	case MSR_PLATFORM_ID:
	case MSR_FEATURE_CONTROL:
	case MSR_MTRRCAP:
	case MSR_MCG_CAP:
		return -1;
	case MSR_APIC_BASE:
		return apic_base_write(c, value);
	case MSR_SYSENTER_CS:
		return low32_write(&c->sysenter_cs, value);
	case MSR_SYSENTER_ESP:
		return canonical_write(&c->sysenter_esp, value);
	case MSR_SYSENTER_EIP:
		return canonical_write(&c->sysenter_eip, value);
	case MSR_MISC_ENABLE: /* stored; the bits' effects are not modelled */
		c->misc_enable = value;
		return 0;
	case MSR_PAT:
		if (!pat_valid(value))
			return -1;
		c->pat = value;
		return 0;
	case MSR_EFER:
		return efer_write(c, value);
	case MSR_STAR:
		c->star = value;
		return 0;
	case MSR_LSTAR:
		return canonical_write(&c->lstar, value);
	case MSR_CSTAR:
		return canonical_write(&c->cstar, value);
	case MSR_SFMASK:
		return low32_write(&c->sfmask, value);
	case MSR_FS_BASE:
		return canonical_write(&c->seg[EMU_FS].base, value);
	case MSR_GS_BASE:
		return canonical_write(&c->seg[EMU_GS].base, value);
	case MSR_KERNEL_GS_BASE:
		return canonical_write(&c->kernel_gs_base, value);
	case MSR_TSC_AUX:
		return low32_write(&c->tsc_aux, value);
	case MSR_KVM_SYSTEM_TIME:
		kvm_system_time_write(c, value);
		return 0;
	case MSR_KVM_WALL_CLOCK:
		kvm_wall_clock_write(c, value);
		return 0;
	default:
		return 1;
	}
}

int emu_msr_complete(struct emu_cpu *c)
{
	const struct cpu_exit *x = &c->cpu.exit;
	c->msr_pending = false;
	if (x->msr.error)
		return -1;
	if (!x->msr.is_write) {
		c->gpr[EMU_RAX] = (uint32_t)x->msr.value;
		c->gpr[EMU_RDX] = x->msr.value >> 32;
	}
	c->rip += 2; /* rdmsr and wrmsr are 0f 32 and 0f 30 */
	return 0;
}
