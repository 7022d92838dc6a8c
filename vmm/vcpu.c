/* The vCPU thread.
 *
 * Loop: take start-up events (INIT/SIPI) and timer expiries from the LAPIC, inject the highest
 * pending interrupt if the guest can take it now (else ask for an interrupt window), arm a timer
 * for the LAPIC's next deadline, KVM_RUN, handle the exit, repeat.
 *
 * Waking a vCPU that sits in KVM_RUN: SIGUSR1 stays unblocked in the thread and its handler sets
 * kvm_run->immediate_exit, so a kick that lands just before KVM_RUN still makes it return at once.
 * The loop clears immediate_exit before it looks at the LAPIC, so no kick is lost. A vCPU that is
 * halted or waiting for SIPI sleeps on a condition variable instead, which a kick also signals. */
#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "firmware/boot.h"
#include "vmm/apic_bus.h"
#include "vmm/cpuid.h"
#include "vmm/ioapic.h"
#include "vmm/lapic.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/node_link.h"
#include "vmm/vcpu_exit.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static __thread struct kvm_run *current_run;

static void vcpu_kick_handler(int sig)
{
	(void)sig;
	if (current_run)
		current_run->immediate_exit = 1;
}

static void lapic_kick(void *ctx)
{
	vcpu_kick(ctx);
}

static void lapic_send_ipi(void *ctx, struct lapic *src, uint32_t icr_low, uint32_t icr_high)
{
	struct vcpu *v = ctx;
	apic_bus_send_ipi(v->m->apic_bus, src, icr_low, icr_high);
}

static void lapic_eoi_level(void *ctx, uint8_t vector)
{
	struct vcpu *v = ctx;
	/* The IOAPIC lives on one node: elsewhere the EOI is sent there, so that a level pin's
	 * Remote IRR clears wherever its interrupt was handled. */
	if (v->m->ioapic)
		ioapic_eoi(v->m->ioapic, vector);
	else if (v->m->link)
		node_link_forward_eoi(v->m->link, vector);
}

static const struct lapic_ops vcpu_lapic_ops = {
    .send_ipi = lapic_send_ipi,
    .kick = lapic_kick,
    .eoi_level = lapic_eoi_level,
};

int vcpu_init(struct vcpu *v, struct machine *m, unsigned index, bool bsp, char *err, size_t errlen)
{
	*v = (struct vcpu){.m = m, .index = index, .bsp = bsp, .fd = -1};
	pthread_mutex_init(&v->wait_lock, NULL);
	pthread_cond_init(&v->wait_cond, NULL);
	v->state = bsp ? VCPU_RUNNABLE : VCPU_WAIT_FOR_SIPI;
	v->fd = kvm_vcpu_create(&m->kvm, index, &v->run, err, errlen);
	if (v->fd < 0)
		return -1;
	if (cpuid_configure(m->kvm.sys_fd, v->fd, index, err, errlen) < 0)
		return -1;
	v->lapic = lapic_create((uint8_t)index, bsp, &vcpu_lapic_ops, v);
	if (!v->lapic || apic_bus_add(m->apic_bus, v->lapic) < 0) {
		snprintf(err, errlen, "vCPU %u: cannot create its LAPIC", index);
		return -1;
	}
	return 0;
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

int vcpu_set_boot_state(struct vcpu *v, const void *state, char *err, size_t errlen)
{
	const struct boot_cpu_state *b = state;
	struct kvm_sregs sregs;
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		goto fail;
	segment_set(&sregs.cs, b->code_selector, 0, 0xffffffff, 0xb, true);
	segment_set(&sregs.ds, b->data_selector, 0, 0xffffffff, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = b->gdt_base;
	sregs.gdt.limit = b->gdt_limit;
	sregs.cr0 = b->cr0;
	sregs.cr3 = b->cr3;
	sregs.cr4 = b->cr4;
	sregs.efer = b->efer;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		goto fail;
	struct kvm_regs regs = {.rip = b->rip, .rsi = b->rsi, .rsp = b->rsp, .rflags = b->rflags};
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "vCPU %u: setting boot registers: %s", v->index, strerror(errno));
	return -1;
}

/* SIPI: the AP starts in real mode at vector:0000, as on hardware. */
static int vcpu_enter_sipi(struct vcpu *v, int vector)
{
	struct kvm_sregs sregs;
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return -1;
	segment_set(&sregs.cs, (uint16_t)(vector << 8), (uint64_t)vector << 12, 0xffff, 0xb, false);
	segment_set(&sregs.ds, 0, 0, 0xffff, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr0 = 0x60000010;
	sregs.cr3 = sregs.cr4 = sregs.efer = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		return -1;
	struct kvm_regs regs = {.rip = 0, .rflags = 0x2};
	return ioctl(v->fd, KVM_SET_REGS, &regs);
}

void vcpu_kick(struct vcpu *v)
{
	pthread_mutex_lock(&v->wait_lock);
	v->wake_pending = true;
	pthread_cond_signal(&v->wait_cond);
	pthread_mutex_unlock(&v->wait_lock);
	if (v->thread_started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

/* Sleeps until kicked or until `deadline_ns` (CLOCK_MONOTONIC). */
static void vcpu_wait(struct vcpu *v, uint64_t deadline_ns)
{
	pthread_mutex_lock(&v->wait_lock);
	while (!v->wake_pending && !atomic_load(&v->m->stopping)) {
		if (deadline_ns == UINT64_MAX) {
			pthread_cond_wait(&v->wait_cond, &v->wait_lock);
			continue;
		}
		if (machine_now_ns() >= deadline_ns)
			break;
		struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000ULL),
				      .tv_nsec = (long)(deadline_ns % 1000000000ULL)};
		pthread_cond_timedwait(&v->wait_cond, &v->wait_lock, &ts);
	}
	v->wake_pending = false;
	pthread_mutex_unlock(&v->wait_lock);
}

static void vcpu_arm_timer(struct vcpu *v, uint64_t deadline_ns)
{
	if (deadline_ns == v->timer_armed_ns)
		return;
	struct itimerspec its = {0};
	if (deadline_ns != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(deadline_ns / 1000000000ULL);
		its.it_value.tv_nsec = (long)(deadline_ns % 1000000000ULL);
	}
	timer_settime(v->timer, TIMER_ABSTIME, &its, NULL);
	v->timer_armed_ns = deadline_ns;
}

/* INIT and SIPI, from any state. Returns true if the vCPU may run guest code now. */
static bool vcpu_take_startup(struct vcpu *v)
{
	if (lapic_take_init(v->lapic)) {
		vcpu_exit_halt_ended(v); /* INIT ends a hlt, with interrupts disabled or not */
		if (!v->bsp)
			v->state = VCPU_WAIT_FOR_SIPI;
	}
	if (v->state == VCPU_WAIT_FOR_SIPI) {
		int vector = lapic_take_sipi(v->lapic);
		if (vector < 0)
			return false;
		if (vcpu_enter_sipi(v, vector) < 0) {
			machine_stop(v->m, VMM_EXIT_HOST_ERROR, "vCPU %u: SIPI: %s", v->index,
				     strerror(errno));
			return false;
		}
		log_debug("vCPU %u: SIPI vector 0x%02x", v->index, vector);
		v->state = VCPU_RUNNABLE;
		vcpu_exit_halt_ended(v);
	}
	return true;
}

/* Injects what the LAPIC has pending, or asks KVM to exit when the guest can take it. A vCPU
 * that leaves hlt with interrupts enabled is at an instruction boundary that can take one, even
 * where KVM (this PVM backend) does not say so in ready_for_interrupt_injection: waiting for the
 * window exit instead costs a host timer tick, milliseconds. */
static void vcpu_inject(struct vcpu *v, bool after_halt)
{
	struct kvm_run *run = v->run;
	if (lapic_take_nmi(v->lapic))
		ioctl(v->fd, KVM_NMI);
	int vector = lapic_pending_vector(v->lapic);
	run->request_interrupt_window = 0;
	if (vector < 0)
		return;
	if ((run->ready_for_interrupt_injection || after_halt) && run->if_flag) {
		struct kvm_interrupt irq = {.irq = (uint32_t)vector};
		if (ioctl(v->fd, KVM_INTERRUPT, &irq) == 0) {
			lapic_accept_vector(v->lapic, vector);
			return;
		}
	}
	run->request_interrupt_window = 1;
}

/* A halted vCPU resumes when an interrupt it can take or an NMI arrives (INIT is handled before
 * this, in vcpu_take_startup). */
static bool vcpu_halt_should_end(struct vcpu *v)
{
	return lapic_wakeup_pending(v->lapic) ||
	       (lapic_pending_vector(v->lapic) >= 0 && v->run->if_flag);
}

static void vcpu_run_once(struct vcpu *v)
{
	v->run->immediate_exit = 0;
	pthread_mutex_lock(&v->wait_lock);
	v->wake_pending = false;
	pthread_mutex_unlock(&v->wait_lock);

	if (!vcpu_take_startup(v)) {
		vcpu_exit_halted_for_good(v); /* an AP waiting for its SIPI */
		vcpu_wait(v, UINT64_MAX);
		return;
	}
	lapic_timer_update(v->lapic, machine_now_ns());
	bool after_halt = v->state == VCPU_HALTED;
	if (after_halt) {
		if (!vcpu_halt_should_end(v)) {
			vcpu_wait(v, lapic_timer_deadline(v->lapic));
			return;
		}
		v->state = VCPU_RUNNABLE;
		vcpu_exit_halt_ended(v);
	}
	vcpu_inject(v, after_halt);
	vcpu_arm_timer(v, lapic_timer_deadline(v->lapic));
	if (ioctl(v->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		machine_stop(v->m, VMM_EXIT_HOST_ERROR, "vCPU %u: KVM_RUN: %s", v->index,
			     strerror(errno));
		return;
	}
	v->exits++;
	vcpu_exit_handle(v);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	current_run = v->run;
	while (!atomic_load(&v->m->stopping))
		vcpu_run_once(v);
	return NULL;
}

static int vcpu_timer_create(struct vcpu *v, char *err, size_t errlen)
{
	struct sigevent sev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = VCPU_KICK_SIGNAL};
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, &v->timer) < 0) {
		snprintf(err, errlen, "vCPU %u: timer_create: %s", v->index, strerror(errno));
		return -1;
	}
	v->timer_created = true;
	return 0;
}

struct vcpu_start_sync {
	struct vcpu *v;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int result;
	char *err;
	size_t errlen;
};

/* The timer must target the vCPU thread itself, so it is created on that thread; vcpu_start
 * waits for the outcome so a failure is reported before anything runs. */
static void *vcpu_thread_start(void *arg)
{
	struct vcpu_start_sync *sync = arg;
	struct vcpu *v = sync->v;
	int result = vcpu_timer_create(v, sync->err, sync->errlen);
	pthread_mutex_lock(&sync->lock);
	sync->result = result < 0 ? -1 : 1;
	pthread_cond_signal(&sync->cond);
	pthread_mutex_unlock(&sync->lock);
	return result < 0 ? NULL : vcpu_thread(v);
}

int vcpu_start(struct vcpu *v, char *err, size_t errlen)
{
	struct sigaction sa = {.sa_handler = vcpu_kick_handler};
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);

	struct vcpu_start_sync sync = {.v = v, .err = err, .errlen = errlen};
	pthread_mutex_init(&sync.lock, NULL);
	pthread_cond_init(&sync.cond, NULL);
	if (pthread_create(&v->thread, NULL, vcpu_thread_start, &sync) != 0) {
		snprintf(err, errlen, "vCPU %u: cannot start its thread", v->index);
		return -1;
	}
	v->thread_started = true;
	char name[16];
	snprintf(name, sizeof(name), "vcpu-%u", v->index);
	pthread_setname_np(v->thread, name);
	pthread_mutex_lock(&sync.lock);
	while (sync.result == 0)
		pthread_cond_wait(&sync.cond, &sync.lock);
	pthread_mutex_unlock(&sync.lock);
	pthread_mutex_destroy(&sync.lock);
	pthread_cond_destroy(&sync.cond);
	return sync.result < 0 ? -1 : 0;
}

void vcpu_join(struct vcpu *v)
{
	if (!v->thread_started)
		return;
	pthread_join(v->thread, NULL);
	v->thread_started = false;
}

void vcpu_destroy(struct vcpu *v)
{
	vcpu_join(v);
	if (v->timer_created)
		timer_delete(v->timer);
	if (v->lapic)
		lapic_destroy(v->lapic);
	if (v->run)
		munmap(v->run, v->m->kvm.run_size);
	if (v->fd >= 0)
		close(v->fd);
	pthread_mutex_destroy(&v->wait_lock);
	pthread_cond_destroy(&v->wait_cond);
	v->fd = -1;
}
