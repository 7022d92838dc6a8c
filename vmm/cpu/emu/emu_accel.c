/* The software vCPU behind the CPU backend interface (vmm/cpu/cpu.h).
 *
 * The accelerator holds what every local vCPU shares: guest RAM, the decoders, the handler
 * table and the per-page generations that keep every decode cache honest. A cpu is an
 * emu_cpu: its registers, TLB and decode cache. Interrupts given by the machine are taken at
 * the next instruction boundary of run(); a kick is an atomic flag the run loop polls, so
 * another thread needs no signal to reach it. The guest's TSC counts nanoseconds (1 GHz) from
 * the clock epoch, CLOCK_REALTIME, which several nodes share, so every vCPU of every node reads
 * the same TSC; the LAPIC timer runs at 100 MHz, and CPUID leaves 0x15/0x16 say both. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "firmware/layout.h"
#include "vmm/cpu/emu/emu_internal.h"
#include "vmm/cpu/emu/emu_system.h"

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t emu_tsc(const struct emu_cpu *c)
{
	return realtime_ns() -
	       atomic_load_explicit(&c->accel->clock_epoch_ns, memory_order_relaxed) +
	       c->tsc_offset;
}

void emu_update_mode(struct emu_cpu *c)
{
	if (!(c->cr0 & CR0_PE))
		c->mode = EMU_MODE_REAL;
	else if ((c->efer & EFER_LMA) && (c->seg[EMU_CS].attr & SEG_ATTR_L))
		c->mode = EMU_MODE_64;
	else
		c->mode = (c->seg[EMU_CS].attr & SEG_ATTR_DB) ? EMU_MODE_32 : EMU_MODE_16;
	c->cpl = c->mode == EMU_MODE_REAL ? 0 : (uint8_t)(c->seg[EMU_CS].sel & 3);
}

bool emu_long_mode(const struct emu_cpu *c)
{
	return (c->efer & EFER_LMA) != 0;
}

/* Access rights of flat segments (struct emu_seg.attr). */
#define ATTR_CODE64 (0xb | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_L | SEG_ATTR_G)
#define ATTR_CODE32 (0xb | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_DB | SEG_ATTR_G)
#define ATTR_DATA32 (0x3 | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_DB | SEG_ATTR_G)
#define ATTR_CODE16 (0xb | SEG_ATTR_S | SEG_ATTR_P)
#define ATTR_DATA16 (0x3 | SEG_ATTR_S | SEG_ATTR_P)

static void seg_set(struct emu_seg *s, uint16_t sel, uint64_t base, uint32_t limit, uint16_t attr)
{
	*s = (struct emu_seg){.sel = sel, .base = base, .limit = limit, .attr = attr};
}

/* The architectural state after INIT (SDM vol. 3, 10.1.1), before the SIPI's vector. */
static void cpu_reset(struct emu_cpu *c)
{
	memset(c->gpr, 0, sizeof(c->gpr));
	c->gpr[EMU_RDX] = 0x600; /* family 6 */
	c->rflags = RFLAGS_FIXED;
	c->cr0 = CR0_ET | CR0_CD | CR0_NW;
	c->cr2 = c->cr3 = c->cr4 = c->cr8 = 0;
	c->efer = 0;
	c->dr[6] = 0xffff0ff0;
	c->dr[7] = 0x400;
	for (unsigned s = 0; s < EMU_SEG_COUNT; s++)
		seg_set(&c->seg[s], 0, 0, 0xffff, ATTR_DATA16);
	seg_set(&c->ldtr, 0, 0, 0xffff, 0x2 | SEG_ATTR_P);
	seg_set(&c->tr, 0, 0, 0xffff, 0xb | SEG_ATTR_P);
	c->gdtr = (struct emu_dtr){0, 0xffff};
	c->idtr = (struct emu_dtr){0, 0xffff};
	memset(&c->fpu, 0, sizeof(c->fpu));
	c->fpu.fcw = 0x37f;
	c->fpu.mxcsr = 0x1f80;
	c->xcr0 = 1;
	c->shadow = c->shadow_active = c->nmi_pending = c->nmi_blocked = false;
	c->pending_vector = -1;
	c->window_wanted = c->msr_pending = c->halted = false;
	c->delivering = 0;
	emu_tlb_flush(c, false);
}

static int emu_start_at_sipi(struct cpu *cpu, uint8_t vector, char *err, size_t errlen)
{
	struct emu_cpu *c = emu_cpu_of(cpu);
	cpu_reset(c);
	seg_set(&c->seg[EMU_CS], (uint16_t)(vector << 8), (uint64_t)vector << 12, 0xffff,
		ATTR_CODE16);
	c->rip = 0;
	emu_update_mode(c);
	return 0;
}

static int emu_set_boot_state(struct cpu *cpu, const struct boot_cpu_state *b, char *err,
			      size_t errlen)
{
	struct emu_cpu *c = emu_cpu_of(cpu);
	cpu_reset(c);
	c->cr0 = b->cr0;
	c->cr3 = b->cr3;
	c->cr4 = b->cr4;
	c->efer = b->efer;
	if ((c->efer & EFER_LME) && (c->cr0 & CR0_PG))
		c->efer |= EFER_LMA;
	c->gdtr = (struct emu_dtr){b->gdt_base, b->gdt_limit};
	bool code64 = !b->protected32;
	seg_set(&c->seg[EMU_CS], b->code_selector, 0, 0xffffffff,
		code64 ? ATTR_CODE64 : ATTR_CODE32);
	for (unsigned s = 0; s < EMU_SEG_COUNT; s++)
		if (s != EMU_CS)
			seg_set(&c->seg[s], b->data_selector, 0, 0xffffffff, ATTR_DATA32);
	c->rip = b->rip;
	c->rflags = b->rflags | RFLAGS_FIXED;
	c->gpr[EMU_RSI] = b->rsi;
	c->gpr[EMU_RSP] = b->rsp;
	c->gpr[EMU_RAX] = b->rax;
	c->gpr[EMU_RBX] = b->rbx;
	c->gpr[EMU_RDX] = 0;
	emu_update_mode(c);
	return 0;
}

static struct cpu_exit *emu_cpu_run(struct cpu *cpu)
{
	return emu_run(emu_cpu_of(cpu));
}

static bool emu_interrupts_enabled(struct cpu *cpu)
{
	return (emu_cpu_of(cpu)->rflags & RFLAGS_IF) != 0;
}

static bool emu_inject_interrupt(struct cpu *cpu, uint8_t vector, bool after_halt)
{
	struct emu_cpu *c = emu_cpu_of(cpu);
	if ((c->rflags & RFLAGS_IF) && (after_halt || !c->shadow_active) && c->pending_vector < 0) {
		c->pending_vector = vector;
		c->shadow_active = false;
		c->window_wanted = false;
		return true;
	}
	c->window_wanted = true;
	return false;
}

static void emu_inject_nmi(struct cpu *cpu)
{
	emu_cpu_of(cpu)->nmi_pending = true;
}

static void emu_kick(struct cpu *cpu)
{
	atomic_store(&emu_cpu_of(cpu)->kick, true);
}

static void emu_cpu_destroy(struct cpu *cpu)
{
	struct emu_cpu *c = emu_cpu_of(cpu);
	emu_dcache_destroy(c->dcache);
	free(c);
}

static void emu_count_code_pages(struct cpu *base, struct page_counts *t)
{
	emu_cpu_of(base)->code_pages = t;
}

static const struct cpu_ops emu_cpu_ops = {
    .destroy = emu_cpu_destroy,
    .set_boot_state = emu_set_boot_state,
    .start_at_sipi = emu_start_at_sipi,
    .run = emu_cpu_run,
    .interrupts_enabled = emu_interrupts_enabled,
    .inject_interrupt = emu_inject_interrupt,
    .inject_nmi = emu_inject_nmi,
    .kick = emu_kick,
    .count_code_pages = emu_count_code_pages,
    .kick_needs_signal = false,
};

static struct cpu *emu_cpu_create(struct accel *base, unsigned index, const struct cpu_io *io,
				  char *err, size_t errlen)
{
	struct emu_accel *a = (struct emu_accel *)base;
	struct emu_cpu *c = calloc(1, sizeof(*c));
	if (c)
		c->dcache = emu_dcache_create();
	if (!c || !c->dcache) {
		free(c);
		snprintf(err, errlen, "vCPU %u: out of memory", index);
		return NULL;
	}
	c->cpu = (struct cpu){.ops = &emu_cpu_ops, .index = index};
	c->accel = a;
	c->io = io;
	c->revoked_seen = atomic_load(&a->revoked_count);
	emu_msr_reset(c);
	cpu_reset(c);
	emu_update_mode(c);
	return &c->cpu;
}

static void emu_accel_destroy(struct accel *base)
{
	struct emu_accel *a = (struct emu_accel *)base;
	if (!a)
		return;
	free(a->page_gen);
	free(a->code_page);
	free(a);
}

static void register_families(emu_handler_fn *t)
{
	emu_register_alu(t);
	emu_register_move(t);
	emu_register_flow(t);
	emu_register_string(t);
	emu_register_bits(t);
	emu_register_muldiv(t);
	emu_register_system(t);
	emu_register_sse(t);
	emu_register_x87(t);
}

static struct accel *emu_accel_create(const struct accel_params *p, char *err, size_t errlen)
{
	struct emu_accel *a = calloc(1, sizeof(*a));
	if (!a)
		goto nomem;
	a->base.ops = &emu_accel_ops;
	a->ram = p->ram_host;
	a->ram_size = p->ram_size;
	a->vcpu_count = p->vcpu_count;
	uint64_t top = p->ram_size <= LAYOUT_MMIO_HOLE_START
			   ? p->ram_size
			   : p->ram_size + (LAYOUT_MMIO_HOLE_END - LAYOUT_MMIO_HOLE_START);
	a->pages = (top + 4095) >> 12;
	a->page_gen = calloc(a->pages, sizeof(*a->page_gen));
	a->code_page = calloc(a->pages, sizeof(*a->code_page));
	if (!a->page_gen || !a->code_page)
		goto nomem;
	if (emu_decoders_init(a) < 0) {
		snprintf(err, errlen, "cannot initialise the Zydis decoder");
		emu_accel_destroy(&a->base);
		return NULL;
	}
	register_families(a->handlers);
	atomic_store(&a->clock_epoch_ns, realtime_ns());
	return &a->base;
nomem:
	emu_accel_destroy(a ? &a->base : NULL);
	snprintf(err, errlen, "software vCPU: out of memory");
	return NULL;
}

static int emu_set_clock_epoch(struct accel *base, uint64_t epoch_ns, char *err, size_t errlen)
{
	atomic_store(&((struct emu_accel *)base)->clock_epoch_ns, epoch_ns);
	return 0;
}

static bool emu_clock_offset_ns(struct accel *base, int64_t *offset)
{
	*offset = 0; /* the TSC is the cluster clock itself */
	return true;
}

static void emu_page_changed(struct accel *base, uint64_t ram_offset)
{
	struct emu_accel *a = (struct emu_accel *)base;
	emu_code_page_written(a, layout_ram_offset_to_gpa(ram_offset) >> 12);
}

static void emu_page_revoked(struct accel *base, uint64_t ram_offset)
{
	struct emu_accel *a = (struct emu_accel *)base;
	uint64_t slot = atomic_fetch_add(&a->revoked_count, 1) % EMU_REVOKED;
	atomic_store_explicit(&a->revoked[slot], layout_ram_offset_to_gpa(ram_offset) >> 12,
			      memory_order_relaxed);
}

const struct accel_ops emu_accel_ops = {
    .name = "emu",
    .create = emu_accel_create,
    .destroy = emu_accel_destroy,
    .cpu_create = emu_cpu_create,
    .set_clock_epoch = emu_set_clock_epoch,
    .clock_offset_ns = emu_clock_offset_ns,
    .page_changed = emu_page_changed,
    .page_revoked = emu_page_revoked,
};
