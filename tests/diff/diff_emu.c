/* The interpreter's side of the differential harness: a minimal 64-bit guest in which a case's
 * code runs at the same addresses as on the host.
 *
 * Guest RAM (512 MiB, reserved lazily) holds, at fixed guest-physical addresses: identity page
 * tables mapping the RAM with 2 MiB user-writable pages, a GDT (64-bit code 0x08, data 0x10, a
 * TSS 0x18), an IDT whose 32 exception gates lead, on a separate IST stack, to 32 distinct
 * `hlt` stubs, and the data buffer and code at DIFF_DATA_ADDR and DIFF_CODE_ADDR. The case's
 * code is followed by hlt, so a run ends with CPU_EXIT_HLT either there (completed) or in stub
 * v (vector v faulted). The fault's RIP, RSP and RFLAGS come from the interrupt frame on the IST
 * stack; everything else is still the state at the fault.
 *
 * The vCPU is created once, through emu_accel_ops like the VMM does, and set_boot_state resets
 * it before every case; the registers of the case are then written into struct emu_cpu. Writing
 * the code page goes with accel page_changed, so the decode cache cannot serve the last case's
 * instruction. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/diff/diff.h"
#include "vmm/cpu/emu/emu.h"

#define RAM_SIZE   (512ull << 20)
#define PML4	   0x1000ull
#define PDPT	   0x2000ull
#define PD	   0x3000ull
#define GDT	   0x4000ull
#define IDT	   0x5000ull
#define TSS	   0x6000ull
#define STUBS	   0x7000ull /* vector v: hlt at STUBS + 16 v */
#define IST_TOP	   0x9000ull
#define SEL_CODE   0x08
#define SEL_DATA   0x10
#define SEL_TSS	   0x18
#define NVECTORS   32
#define WATCHDOG_S 5

struct diff_emu {
	struct accel *accel;
	struct cpu *cpu;
	uint8_t *ram;
	struct cpu_io io;
	bool io_seen;
	char io_msg[128];
};

static struct cpu *volatile watchdog_cpu;

/* A case that runs away (an interpreter bug looping) is kicked out of run(). */
static void on_alarm(int sig)
{
	struct cpu *c = watchdog_cpu;
	if (c)
		c->ops->kick(c);
}

/* The cases do no I/O: any access is a failure, reported after the run. */
static void on_io(void *ctx, enum cpu_io_space space, uint64_t addr, uint8_t *data, unsigned len,
		  bool is_write)
{
	struct diff_emu *e = ctx;
	if (!is_write)
		memset(data, 0xff, len);
	if (!e->io_seen)
		snprintf(e->io_msg, sizeof(e->io_msg), "unexpected %s %s at 0x%llx (%u bytes)",
			 space == CPU_IO_PIO ? "port" : "MMIO", is_write ? "write" : "read",
			 (unsigned long long)addr, len);
	e->io_seen = true;
}

static void put64(uint8_t *ram, uint64_t gpa, uint64_t v)
{
	memcpy(ram + gpa, &v, 8);
}

static void build_tables(uint8_t *ram)
{
	const uint64_t pwu = 7, ps = 1ull << 7;
	put64(ram, PML4, PDPT | pwu);
	put64(ram, PDPT, PD | pwu);
	for (uint64_t i = 0; i < RAM_SIZE >> 21; i++)
		put64(ram, PD + 8 * i, (i << 21) | pwu | ps);

	put64(ram, GDT + 0x08, 0x00af9b000000ffffull); /* 64-bit code, DPL 0 */
	put64(ram, GDT + 0x10, 0x00cf93000000ffffull); /* data */
	/* 64-bit TSS (busy, as after ltr): base TSS, limit 0x67. */
	put64(ram, GDT + 0x18, 0x67 | (TSS & 0xffffff) << 16 | 0x8bull << 40);
	put64(ram, GDT + 0x20, 0);

	put64(ram, TSS + 0x04, IST_TOP); /* RSP0 */
	put64(ram, TSS + 0x24, IST_TOP); /* IST1 */

	for (uint64_t v = 0; v < NVECTORS; v++) {
		uint64_t h = STUBS + 16 * v;
		/* Interrupt gate, DPL 0, IST 1. */
		uint64_t lo = (h & 0xffff) | (uint64_t)SEL_CODE << 16 | 1ull << 32 | 0x8eull << 40 |
			      ((h >> 16) & 0xffff) << 48;
		put64(ram, IDT + 16 * v, lo);
		put64(ram, IDT + 16 * v + 8, h >> 32);
		static const uint8_t stub[] = {0xf4, 0xeb, 0xfd}; /* 1: hlt; jmp 1b */
		memcpy(ram + h, stub, sizeof(stub));
	}
}

struct diff_emu *diff_emu_create(char *err, size_t errlen)
{
	struct diff_emu *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (e->ram == MAP_FAILED) {
		snprintf(err, errlen, "cannot reserve guest RAM");
		free(e);
		return NULL;
	}
	build_tables(e->ram);
	struct accel_params p = {.ram_host = e->ram, .ram_size = RAM_SIZE, .vcpu_count = 1};
	e->accel = emu_accel_ops.create(&p, err, errlen);
	if (!e->accel) {
		diff_emu_destroy(e);
		return NULL;
	}
	e->io = (struct cpu_io){.access = on_io, .ctx = e};
	e->cpu = emu_accel_ops.cpu_create(e->accel, 0, &e->io, err, errlen);
	if (!e->cpu) {
		diff_emu_destroy(e);
		return NULL;
	}
	struct sigaction sa = {.sa_handler = on_alarm};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	return e;
}

void diff_emu_destroy(struct diff_emu *e)
{
	if (!e)
		return;
	if (e->cpu)
		e->cpu->ops->destroy(e->cpu);
	if (e->accel)
		emu_accel_ops.destroy(e->accel);
	if (e->ram && e->ram != MAP_FAILED)
		munmap(e->ram, RAM_SIZE);
	free(e);
}

bool diff_emu_claims(struct diff_emu *e, const struct diff_case *c)
{
	const struct emu_accel *a = (const struct emu_accel *)e->accel;
	ZydisDecodedInstruction z;
	for (unsigned off = 0; off < c->len; off += z.length) {
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&a->decoder[EMU_MODE_64], NULL,
								c->code + off, c->len - off, &z)))
			return true; /* #UD is the interpreter's to raise */
		if (!a->handlers[z.mnemonic])
			return false;
	}
	return true;
}

static enum diff_fault fault_of_vector(int v)
{
	switch (v) {
	case EMU_DE:
		return DIFF_FAULT_DE;
	case EMU_UD:
		return DIFF_FAULT_UD;
	case EMU_STACK_FAULT:
	case EMU_GP:
	case EMU_PF:
		return DIFF_FAULT_SEGV;
	case EMU_DB:
	case EMU_BP:
		return DIFF_FAULT_TRAP;
	case EMU_MF:
	case EMU_XM:
		return DIFF_FAULT_FPE;
	case EMU_AC:
		return DIFF_FAULT_AC;
	default:
		return DIFF_FAULT_OTHER;
	}
}

static bool has_error_code(int v)
{
	return v == EMU_DF || (v >= EMU_TS && v <= EMU_PF) || v == EMU_AC || v == 21 || v == 29 ||
	       v == 30;
}

static void set_state(struct diff_emu *e, const struct diff_case *c)
{
	struct emu_cpu *u = emu_cpu_of(e->cpu);
	char err[256];
	struct boot_cpu_state b = {
	    .rip = DIFF_CODE_ADDR,
	    .rsp = IST_TOP,
	    .rflags = 2,
	    .cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG,
	    .cr3 = PML4,
	    .cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT,
	    .efer = EFER_LME | EFER_NXE,
	    .gdt_base = GDT,
	    .gdt_limit = 0x27,
	    .code_selector = SEL_CODE,
	    .data_selector = SEL_DATA,
	};
	e->cpu->ops->set_boot_state(e->cpu, &b, err, sizeof(err));
	u->idtr = (struct emu_dtr){IDT, NVECTORS * 16 - 1};
	u->tr =
	    (struct emu_seg){.sel = SEL_TSS, .attr = 0xb | SEG_ATTR_P, .limit = 0x67, .base = TSS};
	memcpy(u->gpr, c->init.r.gpr, sizeof(u->gpr));
	/* IF set as on the host, where user code cannot clear it (pushf sees it). */
	u->rflags = (c->init.r.rflags & (DIFF_FLAGS_ARITH | DIFF_FLAG_DF)) | RFLAGS_IF | 2;
	for (unsigned i = 0; i < 16; i++)
		memcpy(u->fpu.xmm[i].b, c->init.r.xmm[i], 16);
	u->fpu.mxcsr = c->init.r.mxcsr;

	memcpy(e->ram + DIFF_DATA_ADDR, c->init.data, DIFF_DATA_SIZE);
	memcpy(e->ram + DIFF_CODE_ADDR, c->code, c->len);
	e->ram[DIFF_CODE_ADDR + c->len] = 0xf4;
	emu_accel_ops.page_changed(e->accel, DIFF_CODE_ADDR);
}

static void get_state(struct diff_emu *e, struct diff_outcome *o)
{
	const struct emu_cpu *u = emu_cpu_of(e->cpu);
	memcpy(o->s.r.gpr, u->gpr, sizeof(o->s.r.gpr));
	o->s.r.rflags = u->rflags;
	for (unsigned i = 0; i < 16; i++)
		memcpy(o->s.r.xmm[i], u->fpu.xmm[i].b, 16);
	o->s.r.mxcsr = u->fpu.mxcsr;
	o->s.r.fcw = u->fpu.fcw;
	o->s.r.fsw = u->fpu.fsw;
	o->s.r.ftw = u->fpu.ftw;
	memcpy(o->s.data, e->ram + DIFF_DATA_ADDR, DIFF_DATA_SIZE);
}

/* The vCPU stopped at `rip` with the case's hlt or a stub's hlt retired (or about to be, when
 * hlt itself is what the interpreter cannot run): fill the outcome. false: neither. */
static bool ended_at(struct diff_emu *e, const struct diff_case *c, uint64_t rip,
		     struct diff_outcome *o)
{
	uint64_t end = DIFF_CODE_ADDR + c->len;
	if (rip == end || rip == end + 1) {
		o->fault = DIFF_FAULT_NONE;
		o->rip = end;
		return true;
	}
	if (rip < STUBS || rip >= STUBS + 16 * NVECTORS)
		return false;
	const struct emu_cpu *u = emu_cpu_of(e->cpu);
	int v = (int)((rip - STUBS) / 16); /* at the stub's hlt or just past it */
	uint64_t frame = u->gpr[EMU_RSP] + (has_error_code(v) ? 8 : 0);
	if (frame + 40 > IST_TOP || frame < IST_TOP - 64) {
		snprintf(o->msg, sizeof(o->msg), "vector %d delivered with RSP 0x%llx, not on IST1",
			 v, (unsigned long long)u->gpr[EMU_RSP]);
		o->status = DIFF_RUN_ERROR;
		return true;
	}
	memcpy(&o->rip, e->ram + frame, 8);
	memcpy(&o->s.r.rflags, e->ram + frame + 16, 8);
	memcpy(&o->s.r.gpr[EMU_RSP], e->ram + frame + 24, 8);
	o->fault = fault_of_vector(v);
	o->detail = v;
	return true;
}

void diff_emu_run(struct diff_emu *e, const struct diff_case *c, struct diff_outcome *o)
{
	*o = (struct diff_outcome){.status = DIFF_RUN_OK};
	e->io_seen = false;
	set_state(e, c);
	struct cpu_exit *x = NULL;
	watchdog_cpu = e->cpu;
	alarm(WATCHDOG_S);
	unsigned kicks = 0;
	for (;;) {
		x = e->cpu->ops->run(e->cpu);
		if (x->reason != CPU_EXIT_NONE || ++kicks > 1)
			break;
	}
	alarm(0);
	watchdog_cpu = NULL;
	get_state(e, o);
	uint64_t rip = emu_cpu_of(e->cpu)->rip;
	switch (x->reason) {
	case CPU_EXIT_HLT:
		if (!ended_at(e, c, rip, o)) {
			o->status = DIFF_RUN_ERROR;
			snprintf(o->msg, sizeof(o->msg), "halted at unexpected rip 0x%llx",
				 (unsigned long long)rip);
		}
		break;
	case CPU_EXIT_UNSUPPORTED:
		/* hlt itself unimplemented: the case has still run. */
		if (!ended_at(e, c, rip, o)) {
			o->status = DIFF_RUN_UNSUPPORTED;
			snprintf(o->msg, sizeof(o->msg), "%s", x->message);
		}
		break;
	case CPU_EXIT_NONE:
		o->status = DIFF_RUN_ERROR;
		snprintf(o->msg, sizeof(o->msg), "ran for %d s without reaching hlt (rip 0x%llx)",
			 WATCHDOG_S, (unsigned long long)rip);
		break;
	default:
		o->status = DIFF_RUN_ERROR;
		snprintf(o->msg, sizeof(o->msg), "exit %d at rip 0x%llx: %.200s", x->reason,
			 (unsigned long long)rip, x->message);
		break;
	}
	if (e->io_seen && o->status == DIFF_RUN_OK) {
		o->status = DIFF_RUN_ERROR;
		snprintf(o->msg, sizeof(o->msg), "%s", e->io_msg);
	}
}
