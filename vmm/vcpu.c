/* The vCPU thread, the same for every CPU backend (it uses only struct cpu's ops).
 *
 * Loop: take start-up events (INIT/SIPI) and timer expiries from the LAPIC, inject the highest
 * pending interrupt if the guest can take it now (else the backend asks for an interrupt window),
 * arm a timer for the LAPIC's next deadline, run() until an exit, handle the exit, repeat.
 *
 * Waking a vCPU inside run(): the cpu's kick() makes run() return soon; it is async-signal-safe,
 * and SIGUSR1 stays unblocked in the thread with a handler that calls it, for backends that need
 * a signal to leave run() (KVM_RUN). A kick is kept until run() returns, so one that lands before
 * run() still makes it return at once; the loop looks at the LAPIC after that, so no kick is
 * lost. A vCPU that is halted or waiting for SIPI sleeps on a condition variable instead, which
 * a kick signals: it looks at its LAPIC before it runs again, so its cpu is left alone, and so is
 * the cpu of a vCPU that kicks itself between two runs (a timer expiry, an IPI to itself). */
#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "coherence/engine.h"
#include "devices/apic_bus.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/node_link.h"
#include "vmm/vcpu_exit.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static __thread struct cpu *current_cpu;

static void vcpu_kick_handler(int sig)
{
	if (current_cpu)
		current_cpu->ops->kick(current_cpu);
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

static int vcpu_ram_fetch(void *ctx, uint64_t ram_offset, bool write)
{
	struct vcpu *v = ctx;
	return engine_access(v->m->engine, ram_offset, write);
}

int vcpu_init(struct vcpu *v, struct machine *m, unsigned index, bool bsp, char *err, size_t errlen)
{
	*v = (struct vcpu){.m = m, .index = index, .bsp = bsp};
	pthread_mutex_init(&v->wait_lock, NULL);
	/* vcpu_wait's deadlines are CLOCK_MONOTONIC, like the LAPIC timer's. */
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&v->wait_cond, &attr);
	pthread_condattr_destroy(&attr);
	v->state = bsp ? VCPU_RUNNABLE : VCPU_WAIT_FOR_SIPI;
	v->io = (struct cpu_io){.access = vcpu_io_access,
				.ram_fetch = machine_serves_own_misses(m) ? vcpu_ram_fetch : NULL,
				.ctx = v};
	v->cpu = m->accel->ops->cpu_create(m->accel, index, &v->io, err, errlen);
	if (!v->cpu)
		return -1;
	v->lapic = lapic_create((uint8_t)index, bsp, &vcpu_lapic_ops, v);
	if (!v->lapic || apic_bus_add(m->apic_bus, v->lapic) < 0) {
		snprintf(err, errlen, "vCPU %u: cannot create its LAPIC", index);
		return -1;
	}
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	pthread_mutex_lock(&v->wait_lock);
	v->wake_pending = true;
	bool sleeping = v->sleeping;
	pthread_cond_signal(&v->wait_cond);
	pthread_mutex_unlock(&v->wait_lock);
	if (current_cpu == v->cpu) {
		/* Its own thread: between two runs the loop looks at the LAPIC before the next one
		 * anyway; inside run() (a device access of the interpreter's) run() must end. This
		 * comes first: the thread runs before its starter has set thread_started. */
		if (v->in_run)
			v->cpu->ops->kick(v->cpu);
		return;
	}
	if (sleeping)
		return;
	v->cpu->ops->kick(v->cpu);
	if (v->cpu->ops->kick_needs_signal && v->thread_started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

/* Sleeps until kicked or until `deadline_ns` (CLOCK_MONOTONIC). */
static void vcpu_wait(struct vcpu *v, uint64_t deadline_ns)
{
	pthread_mutex_lock(&v->wait_lock);
	v->sleeping = true;
	while (!v->wake_pending && !machine_stopping(v->m)) {
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
	v->sleeping = false;
	v->wake_pending = false;
	pthread_mutex_unlock(&v->wait_lock);
}

void vcpu_arm_timer(struct vcpu *v)
{
	uint64_t deadline_ns = lapic_timer_deadline(v->lapic);
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
		/* INIT ends a hlt, with interrupts disabled or not. */
		machine_vcpu_resumed(v->m, v);
		if (!v->bsp)
			v->state = VCPU_WAIT_FOR_SIPI;
	}
	if (v->state == VCPU_WAIT_FOR_SIPI) {
		int vector = lapic_take_sipi(v->lapic);
		if (vector < 0)
			return false;
		char err[256];
		if (v->cpu->ops->start_at_sipi(v->cpu, (uint8_t)vector, err, sizeof(err)) < 0) {
			machine_stop(v->m, VMM_EXIT_HOST_ERROR, "vCPU %u: %s", v->index, err);
			return false;
		}
		log_debug("vCPU %u: SIPI vector 0x%02x", v->index, vector);
		v->state = VCPU_RUNNABLE;
		machine_vcpu_resumed(v->m, v);
	}
	return true;
}

/* Injects what the LAPIC has pending, or has the cpu return once the guest can take it. */
static void vcpu_inject(struct vcpu *v, bool after_halt)
{
	struct cpu *c = v->cpu;
	if (lapic_take_nmi(v->lapic))
		c->ops->inject_nmi(c);
	int vector = lapic_pending_vector(v->lapic);
	if (vector >= 0 && c->ops->inject_interrupt(c, (uint8_t)vector, after_halt))
		lapic_accept_vector(v->lapic, vector);
}

/* A halted vCPU resumes when an interrupt it can take or an NMI arrives (INIT is handled before
 * this, in vcpu_take_startup). */
static bool vcpu_halt_should_end(struct vcpu *v)
{
	return lapic_wakeup_pending(v->lapic) ||
	       (lapic_pending_vector(v->lapic) >= 0 && v->cpu->ops->interrupts_enabled(v->cpu));
}

static void vcpu_run_once(struct vcpu *v)
{
	pthread_mutex_lock(&v->wait_lock);
	v->wake_pending = false;
	pthread_mutex_unlock(&v->wait_lock);

	if (!vcpu_take_startup(v)) {
		machine_vcpu_halted_for_good(v->m, v); /* an AP waiting for its SIPI */
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
		machine_vcpu_resumed(v->m, v);
	}
	vcpu_inject(v, after_halt);
	vcpu_arm_timer(v);
	v->in_run = true;
	struct cpu_exit *exit = v->cpu->ops->run(v->cpu);
	v->in_run = false;
	vcpu_exit_handle(v, exit);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	current_cpu = v->cpu;
	while (!machine_stopping(v->m))
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
	if (v->cpu)
		v->cpu->ops->destroy(v->cpu);
	v->cpu = NULL;
	pthread_mutex_destroy(&v->wait_lock);
	pthread_cond_destroy(&v->wait_cond);
}
