/* The KVM CPU backend (vmm/cpu/cpu.h): the guest runs in a KVM VM, one KVM vCPU per cpu.
 *
 * The accelerator is the VM, with guest RAM in two memory slots around the MMIO hole and unknown
 * MSRs routed to user space. run() is one KVM_RUN, its exit translated into struct cpu_exit once
 * the fields the guest controls are checked. What KVM needs back from an exit lives in kvm_run:
 * a port or MMIO read is answered in place (the exit's data points into kvm_run), and an MSR's
 * outcome is copied there at the start of the next run(). KVM_EXIT_INTERNAL_ERROR goes to the
 * emulation assist (emulate.h), which the machine never sees.
 *
 * A kick sets kvm_run->immediate_exit (the vCPU thread's kick signal handler does, so a kick
 * that lands just before KVM_RUN still makes it return at once). run() clears it once KVM_RUN
 * has returned: the loop looks at the LAPIC after that, so no kick is lost, and one that lands
 * while the loop runs costs one immediate return. request_interrupt_window is cleared at the same
 * point: a request holds for one run(), and the loop's inject_interrupt() makes it again for as
 * long as a vector waits, so nothing asks for a window once nothing is pending. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm/cpu/cpu.h"
#include "vmm/cpu/kvm/cpuid.h"
#include "vmm/cpu/kvm/emulate.h"
#include "vmm/cpu/kvm/kvm.h"
#include "vmm/log.h"

#define SEGMENT_CODE 0xb	/* execute/read, accessed */
#define SEGMENT_DATA 0x3	/* read/write, accessed */
#define CR0_AT_INIT  0x60000010 /* CD, NW, ET: what INIT leaves */

struct kvm_accel {
	struct accel base;
	struct kvm_vm vm;
	struct guest_ram ram;
	_Atomic uint64_t clock_epoch_ns; /* 0 until set_clock_epoch */
};

struct kvm_cpu {
	struct cpu base;
	struct kvm_accel *accel;
	int fd;
	struct kvm_run *run;
	bool
	    msr_open; /* the last exit was an MSR access: its outcome goes to KVM on the next run */
};

static const struct cpu_ops kvm_cpu_ops;

static struct kvm_accel *kvm_accel_of(struct accel *a)
{
	return (struct kvm_accel *)a;
}

static struct kvm_cpu *kvm_cpu_of(struct cpu *c)
{
	return (struct kvm_cpu *)c;
}

static void exit_set(struct cpu_exit *exit, enum cpu_exit_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void exit_set(struct cpu_exit *exit, enum cpu_exit_reason reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(exit->message, sizeof(exit->message), fmt, ap);
	va_end(ap);
	exit->reason = reason;
}

/* --- The VM ---------------------------------------------------------------------------------- */

static int kvm_accel_map_ram(struct kvm_accel *a, char *err, size_t errlen)
{
	uint64_t low = layout_low_ram_end(a->ram.size);
	if (kvm_vm_map(&a->vm, 0, low, a->ram.host, err, errlen) < 0)
		return -1;
	if (a->ram.size > low && kvm_vm_map(&a->vm, layout_ram_offset_to_gpa(low),
					    a->ram.size - low, a->ram.host + low, err, errlen) < 0)
		return -1;
	return 0;
}

/* Unknown or invalid MSR accesses exit to us instead of KVM silently injecting #GP, so the
 * unknown_io policy applies to them too. */
static void kvm_accel_enable_msr_exits(struct kvm_accel *a)
{
	struct kvm_enable_cap cap = {.cap = KVM_CAP_X86_USER_SPACE_MSR,
				     .args[0] =
					 KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_INVAL};
	if (ioctl(a->vm.vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		log_debug("KVM_CAP_X86_USER_SPACE_MSR unavailable: unknown MSRs raise #GP");
}

static void kvm_accel_destroy(struct accel *accel)
{
	struct kvm_accel *a = kvm_accel_of(accel);
	kvm_vm_close(&a->vm);
	emulate_log_counts();
	free(a);
}

static struct accel *kvm_accel_create(const struct accel_params *p, char *err, size_t errlen)
{
	struct kvm_accel *a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->base.ops = &kvm_accel_ops;
	a->ram = (struct guest_ram){.host = p->ram_host, .size = p->ram_size};
	if (kvm_vm_open(&a->vm, err, errlen) < 0) {
		free(a);
		return NULL;
	}
	kvm_accel_enable_msr_exits(a);
	if (kvm_accel_map_ram(a, err, errlen) < 0) {
		kvm_accel_destroy(&a->base);
		return NULL;
	}
	return &a->base;
}

/* Each node's VM is its own KVM VM, whose kvmclock would start at 0 when that node created it.
 * Counting every node's from one epoch makes them agree as well as the hosts' realtime clocks do
 * (on one host: exactly, up to the ioctl's own time). */
static int kvm_accel_set_clock_epoch(struct accel *accel, uint64_t epoch_ns, char *err,
				     size_t errlen)
{
	struct kvm_accel *a = kvm_accel_of(accel);
	if (kvm_vm_set_clock(&a->vm, 0, epoch_ns, err, errlen) < 0)
		return -1;
	atomic_store(&a->clock_epoch_ns, epoch_ns);
	return 0;
}

/* kvmclock - (realtime - epoch): how far this VM's clock is from the cluster's. */
static bool kvm_accel_clock_offset_ns(struct accel *accel, int64_t *offset)
{
	struct kvm_accel *a = kvm_accel_of(accel);
	uint64_t epoch = atomic_load(&a->clock_epoch_ns), clock;
	char err[128];
	if (!epoch || kvm_vm_get_clock(&a->vm, &clock, err, sizeof(err)) < 0)
		return false;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t realtime = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	*offset = (int64_t)(clock - (realtime - epoch));
	return true;
}

/* KVM maps guest RAM through the host's page tables and follows their changes (its MMU
 * notifier): a page the coherence engine installs or drops needs nothing from us. */
static void kvm_accel_page_changed(struct accel *a, uint64_t ram_offset)
{
}

/* --- A vCPU ---------------------------------------------------------------------------------- */

static void kvm_cpu_destroy(struct cpu *c)
{
	struct kvm_cpu *k = kvm_cpu_of(c);
	if (k->run)
		munmap(k->run, k->accel->vm.run_size);
	if (k->fd >= 0)
		close(k->fd);
	free(k);
}

/* KVM reports port and MMIO accesses as exits, which the loop dispatches: `io` is not needed. */
static struct cpu *kvm_cpu_create(struct accel *accel, unsigned index, const struct cpu_io *io,
				  char *err, size_t errlen)
{
	struct kvm_accel *a = kvm_accel_of(accel);
	struct kvm_cpu *k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*k = (struct kvm_cpu){.base = {.ops = &kvm_cpu_ops, .index = index}, .accel = a, .fd = -1};
	k->fd = kvm_vcpu_create(&a->vm, index, &k->run, err, errlen);
	if (k->fd < 0 || cpuid_configure(a->vm.sys_fd, k->fd, index, err, errlen) < 0) {
		kvm_cpu_destroy(&k->base);
		return NULL;
	}
	return &k->base;
}

static void segment_set(struct kvm_segment *s, uint16_t selector, uint64_t base, uint32_t limit,
			uint8_t type, bool code64)
{
	*s = (struct kvm_segment){.base = base,
				  .limit = limit,
				  .selector = selector,
				  .type = type,
				  .present = 1,
				  .s = 1,
				  .l = code64,
				  .db = !code64 && limit > 0xffff,
				  .g = limit > 0xfffff};
}

/* Flat segments either way: 64-bit code for the 64-bit boot protocol, 32-bit code for a
 * Multiboot entry (protected32). Control registers, EFER and the general registers are the
 * loader's (firmware/boot.h): rax and rbx are 0 for a 64-bit entry. */
static int kvm_cpu_set_boot_state(struct cpu *c, const struct boot_cpu_state *b, char *err,
				  size_t errlen)
{
	struct kvm_cpu *k = kvm_cpu_of(c);
	struct kvm_sregs sregs;
	if (ioctl(k->fd, KVM_GET_SREGS, &sregs) < 0)
		goto fail;
	segment_set(&sregs.cs, b->code_selector, 0, 0xffffffff, SEGMENT_CODE, !b->protected32);
	segment_set(&sregs.ds, b->data_selector, 0, 0xffffffff, SEGMENT_DATA, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = b->gdt_base;
	sregs.gdt.limit = b->gdt_limit;
	sregs.cr0 = b->cr0;
	sregs.cr3 = b->cr3;
	sregs.cr4 = b->cr4;
	sregs.efer = b->efer;
	if (ioctl(k->fd, KVM_SET_SREGS, &sregs) < 0)
		goto fail;
	struct kvm_regs regs = {.rax = b->rax,
				.rbx = b->rbx,
				.rsi = b->rsi,
				.rsp = b->rsp,
				.rip = b->rip,
				.rflags = b->rflags};
	if (ioctl(k->fd, KVM_SET_REGS, &regs) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "setting boot registers: %s", strerror(errno));
	return -1;
}

/* As on hardware: real mode at vector:0000, the state INIT leaves otherwise. */
static int kvm_cpu_start_at_sipi(struct cpu *c, uint8_t vector, char *err, size_t errlen)
{
	struct kvm_cpu *k = kvm_cpu_of(c);
	struct kvm_sregs sregs;
	if (ioctl(k->fd, KVM_GET_SREGS, &sregs) < 0)
		goto fail;
	segment_set(&sregs.cs, (uint16_t)(vector << 8), (uint64_t)vector << 12, 0xffff,
		    SEGMENT_CODE, false);
	segment_set(&sregs.ds, 0, 0, 0xffff, SEGMENT_DATA, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr0 = CR0_AT_INIT;
	sregs.cr3 = sregs.cr4 = sregs.efer = 0;
	if (ioctl(k->fd, KVM_SET_SREGS, &sregs) < 0)
		goto fail;
	struct kvm_regs regs = {.rip = 0, .rflags = 0x2};
	if (ioctl(k->fd, KVM_SET_REGS, &regs) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "SIPI: %s", strerror(errno));
	return -1;
}

/* The elements of a string I/O instruction lie in kvm_run, which is run_size bytes. */
static void kvm_exit_io(struct kvm_cpu *k)
{
	const struct kvm_run *run = k->run;
	struct cpu_exit *exit = &k->base.exit;
	size_t run_size = k->accel->vm.run_size;
	unsigned size = run->io.size;
	uint64_t span = (uint64_t)size * run->io.count;
	if ((size != 1 && size != 2 && size != 4) || run->io.data_offset > run_size ||
	    span > run_size - run->io.data_offset) {
		exit_set(exit, CPU_EXIT_HOST_ERROR, "malformed I/O exit");
		return;
	}
	exit->reason = CPU_EXIT_IO;
	exit->io.port = run->io.port;
	exit->io.size = (uint8_t)size;
	exit->io.is_write = run->io.direction == KVM_EXIT_IO_OUT;
	exit->io.count = run->io.count;
	exit->io.data = (uint8_t *)k->run + run->io.data_offset;
}

static void kvm_exit_mmio(struct kvm_cpu *k)
{
	struct kvm_run *run = k->run;
	struct cpu_exit *exit = &k->base.exit;
	if (run->mmio.len == 0 || run->mmio.len > sizeof(run->mmio.data)) {
		exit_set(exit, CPU_EXIT_HOST_ERROR, "malformed MMIO exit");
		return;
	}
	exit->reason = CPU_EXIT_MMIO;
	exit->mmio.addr = run->mmio.phys_addr;
	exit->mmio.len = (uint8_t)run->mmio.len;
	exit->mmio.is_write = run->mmio.is_write;
	exit->mmio.data = run->mmio.data;
}

/* MSR accesses KVM does not implement or would answer with #GP (exit reasons UNKNOWN and
 * INVAL). */
static void kvm_exit_msr(struct kvm_cpu *k)
{
	const struct kvm_run *run = k->run;
	struct cpu_exit *exit = &k->base.exit;
	exit->reason = CPU_EXIT_MSR;
	exit->msr.index = run->msr.index;
	exit->msr.is_write = run->exit_reason == KVM_EXIT_X86_WRMSR;
	exit->msr.value = exit->msr.is_write ? run->msr.data : 0;
	exit->msr.error = false;
	k->msr_open = true;
}

/* What the loop decided about the MSR: #GP, or (a read) the value; KVM completes the
 * instruction on this KVM_RUN. */
static void kvm_complete_msr(struct kvm_cpu *k)
{
	const struct cpu_exit *exit = &k->base.exit;
	k->run->msr.error = exit->msr.error;
	if (!exit->msr.is_write && !exit->msr.error)
		k->run->msr.data = exit->msr.value;
	k->msr_open = false;
}

static void kvm_exit_internal_error(struct kvm_cpu *k)
{
	const struct emulate_vcpu v = {
	    .fd = k->fd, .run = k->run, .ram = &k->accel->ram, .index = k->base.index};
	emulate_internal_error(&v, &k->base.exit);
}

static void kvm_exit_translate(struct kvm_cpu *k)
{
	const struct kvm_run *run = k->run;
	struct cpu_exit *exit = &k->base.exit;
	exit->reason = CPU_EXIT_NONE;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		kvm_exit_io(k);
		break;
	case KVM_EXIT_MMIO:
		kvm_exit_mmio(k);
		break;
	case KVM_EXIT_HLT:
		exit->reason = CPU_EXIT_HLT;
		break;
	case KVM_EXIT_IRQ_WINDOW_OPEN: /* the loop injects what waits */
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		kvm_exit_msr(k);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		kvm_exit_internal_error(k);
		break;
	case KVM_EXIT_SHUTDOWN:
		exit->reason = CPU_EXIT_SHUTDOWN; /* a triple fault */
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		exit_set(exit, CPU_EXIT_SHUTDOWN, "system event %u", run->system_event.type);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		exit_set(exit, CPU_EXIT_HOST_ERROR, "KVM could not enter the guest (reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	default:
		exit_set(exit, CPU_EXIT_UNSUPPORTED, "unhandled KVM exit %u", run->exit_reason);
		break;
	}
}

static struct cpu_exit *kvm_cpu_run(struct cpu *c)
{
	struct kvm_cpu *k = kvm_cpu_of(c);
	if (k->msr_open)
		kvm_complete_msr(k);
	int rc = ioctl(k->fd, KVM_RUN, 0);
	int error = errno;
	k->run->immediate_exit = 0;
	k->run->request_interrupt_window = 0;
	c->exit.message[0] = '\0';
	if (rc == 0)
		kvm_exit_translate(k);
	else if (error == EINTR || error == EAGAIN) /* kicked */
		c->exit.reason = CPU_EXIT_NONE;
	else
		exit_set(&c->exit, CPU_EXIT_HOST_ERROR, "KVM_RUN: %s", strerror(error));
	return &c->exit;
}

static bool kvm_cpu_interrupts_enabled(struct cpu *c)
{
	return kvm_cpu_of(c)->run->if_flag;
}

/* A vCPU that leaves hlt with interrupts enabled is at an instruction boundary that can take an
 * interrupt, even where KVM (this PVM backend) does not say so in ready_for_interrupt_injection:
 * waiting for the window exit instead costs a host timer tick, milliseconds. */
static bool kvm_cpu_inject_interrupt(struct cpu *c, uint8_t vector, bool after_halt)
{
	struct kvm_cpu *k = kvm_cpu_of(c);
	struct kvm_run *run = k->run;
	if ((run->ready_for_interrupt_injection || after_halt) && run->if_flag) {
		struct kvm_interrupt irq = {.irq = vector};
		if (ioctl(k->fd, KVM_INTERRUPT, &irq) == 0)
			return true;
	}
	run->request_interrupt_window = 1;
	return false;
}

static void kvm_cpu_inject_nmi(struct cpu *c)
{
	ioctl(kvm_cpu_of(c)->fd, KVM_NMI);
}

static void kvm_cpu_kick(struct cpu *c)
{
	kvm_cpu_of(c)->run->immediate_exit = 1;
}

static const struct cpu_ops kvm_cpu_ops = {
    .destroy = kvm_cpu_destroy,
    .set_boot_state = kvm_cpu_set_boot_state,
    .start_at_sipi = kvm_cpu_start_at_sipi,
    .run = kvm_cpu_run,
    .interrupts_enabled = kvm_cpu_interrupts_enabled,
    .inject_interrupt = kvm_cpu_inject_interrupt,
    .inject_nmi = kvm_cpu_inject_nmi,
    .kick = kvm_cpu_kick,
    .kick_needs_signal = true, /* only a signal makes a running KVM_RUN return */
};

const struct accel_ops kvm_accel_ops = {
    .name = "kvm",
    .create = kvm_accel_create,
    .destroy = kvm_accel_destroy,
    .cpu_create = kvm_cpu_create,
    .set_clock_epoch = kvm_accel_set_clock_epoch,
    .clock_offset_ns = kvm_accel_clock_offset_ns,
    .page_changed = kvm_accel_page_changed,
};
