/* Minimal KVM VMs for the floor measurements.
 *
 * PIO: one real-mode vCPU runs `out dx, al; jmp back` forever; each KVM_RUN returns one exit.
 * IPI: two real-mode vCPUs halt with interrupts on (their threads sleep until an interrupt is
 * pending); the interrupt handler (IVT vector 0x40) does one `out` and `iret`. Thread A kicks B's
 * thread with a signal, B injects the vector with KVM_INTERRUPT, B's handler exits by PIO, B's
 * thread kicks A, and A's handler exit completes one round trip: the least work any userspace
 * interrupt path has to do on this host. */
#include "vmm/cmd/bench_floor.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/machine.h"

#define FLOOR_RAM     0x10000
#define FLOOR_PIO_IP  0x1000
#define FLOOR_HALT_IP 0x2000
#define FLOOR_ISR_IP  0x3000
#define FLOOR_VECTOR  0x40
#define FLOOR_SIGNAL  SIGUSR1

struct floor_vm {
	int sys_fd, vm_fd;
	uint8_t *ram;
	size_t ram_size;
	bool ram_owned;
	size_t run_size;
	int vcpu_fd[2];
	struct kvm_run *run[2];
};

static const uint8_t floor_pio_code[] = {0xba, 0x03, 0x05, 0xee, 0xeb, 0xfd};
static const uint8_t floor_halt_code[] = {0xfb, 0xf4, 0xeb, 0xfd}; /* sti; hlt; jmp hlt */
static const uint8_t floor_isr_code[] = {0xba, 0x03, 0x05, 0xee, 0xcf};

static int floor_vcpu_reset(struct floor_vm *vm, int i, uint32_t ip, char *err, size_t errlen)
{
	struct kvm_sregs sregs;
	if (ioctl(vm->vcpu_fd[i], KVM_GET_SREGS, &sregs) < 0)
		goto fail;
	/* Real mode: CS:IP = (ip >> 4):(ip & 15), so any address below 1 MiB can be the start. */
	sregs.cs.base = ip & ~0xfu;
	sregs.cs.selector = (uint16_t)(ip >> 4);
	ip &= 0xf;
	if (ioctl(vm->vcpu_fd[i], KVM_SET_SREGS, &sregs) < 0)
		goto fail;
	struct kvm_regs regs = {.rip = ip, .rflags = 0x2, .rsp = 0xf000};
	if (ioctl(vm->vcpu_fd[i], KVM_SET_REGS, &regs) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "floor VM registers: %s", strerror(errno));
	return -1;
}

static void floor_vm_close(struct floor_vm *vm)
{
	for (int i = 0; i < 2; i++) {
		if (vm->run[i])
			munmap(vm->run[i], vm->run_size);
		if (vm->vcpu_fd[i] >= 0)
			close(vm->vcpu_fd[i]);
	}
	if (vm->ram && vm->ram_owned)
		munmap(vm->ram, vm->ram_size);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->sys_fd >= 0)
		close(vm->sys_fd);
}

/* RAM is `ram` (size bytes, mapped at GPA 0) when given, else a private FLOOR_RAM holding the
 * floor programs. */
static int floor_vm_open(struct floor_vm *vm, int vcpus, uint8_t *ram, size_t size, char *err,
			 size_t errlen)
{
	*vm = (struct floor_vm){.sys_fd = -1, .vm_fd = -1, .vcpu_fd = {-1, -1}};
	vm->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->sys_fd < 0 || (vm->vm_fd = ioctl(vm->sys_fd, KVM_CREATE_VM, 0)) < 0)
		goto fail;
	vm->run_size = (size_t)ioctl(vm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->ram = ram;
	vm->ram_size = size;
	if (!ram) {
		vm->ram_size = FLOOR_RAM;
		vm->ram = mmap(NULL, FLOOR_RAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (vm->ram == MAP_FAILED) {
			vm->ram = NULL;
			goto fail;
		}
		vm->ram_owned = true;
		memcpy(vm->ram + FLOOR_PIO_IP, floor_pio_code, sizeof(floor_pio_code));
		memcpy(vm->ram + FLOOR_HALT_IP, floor_halt_code, sizeof(floor_halt_code));
		memcpy(vm->ram + FLOOR_ISR_IP, floor_isr_code, sizeof(floor_isr_code));
		uint16_t ivt[2] = {FLOOR_ISR_IP, 0};
		memcpy(vm->ram + FLOOR_VECTOR * 4, ivt, sizeof(ivt));
	}
	struct kvm_userspace_memory_region region = {
	    .memory_size = vm->ram_size, .userspace_addr = (uint64_t)(uintptr_t)vm->ram};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		goto fail;
	for (int i = 0; i < vcpus; i++) {
		vm->vcpu_fd[i] = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (vm->vcpu_fd[i] < 0)
			goto fail;
		vm->run[i] =
		    mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd[i], 0);
		if (vm->run[i] == MAP_FAILED) {
			vm->run[i] = NULL;
			goto fail;
		}
	}
	return 0;
fail:
	snprintf(err, errlen, "floor VM: %s", strerror(errno));
	floor_vm_close(vm);
	return -1;
}

static int floor_expect_pio(struct floor_vm *vm, int i, char *err, size_t errlen)
{
	if (ioctl(vm->vcpu_fd[i], KVM_RUN, 0) < 0 && errno != EINTR) {
		snprintf(err, errlen, "floor VM KVM_RUN: %s", strerror(errno));
		return -1;
	}
	return vm->run[i]->exit_reason == KVM_EXIT_IO ? 1 : 0;
}

static int floor_pio(unsigned iters, struct bench_floor *out, char *err, size_t errlen)
{
	uint64_t t0 = machine_now_ns();
	struct floor_vm vm;
	if (floor_vm_open(&vm, 1, NULL, 0, err, errlen) < 0)
		return -1;
	int rc = -1;
	if (floor_vcpu_reset(&vm, 0, FLOOR_PIO_IP, err, errlen) < 0 ||
	    floor_expect_pio(&vm, 0, err, errlen) != 1)
		goto out;
	out->first_insn_us = (double)(machine_now_ns() - t0) / 1000.0;
	uint64_t t1 = machine_now_ns();
	for (unsigned i = 0; i < iters; i++)
		if (floor_expect_pio(&vm, 0, err, errlen) != 1)
			goto out;
	out->pio_us = (double)(machine_now_ns() - t1) / 1000.0 / iters;
	rc = 0;
out:
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "floor VM: unexpected exit");
	floor_vm_close(&vm);
	return rc;
}

/* IPI ping-pong: each thread owns one vCPU. */
struct floor_ipi {
	struct floor_vm *vm;
	pthread_t thread[2];
	pthread_mutex_t lock;
	pthread_cond_t wake[2];
	atomic_bool pending[2];
	atomic_bool stop;
	unsigned iters;
	unsigned round_trips;
};

static __thread struct kvm_run *floor_current_run;

static void floor_signal_handler(int sig)
{
	(void)sig;
	if (floor_current_run)
		floor_current_run->immediate_exit = 1;
}

static void floor_kick(struct floor_ipi *p, int target)
{
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->pending[target], true);
	pthread_cond_signal(&p->wake[target]);
	pthread_mutex_unlock(&p->lock);
	pthread_kill(p->thread[target], FLOOR_SIGNAL);
}

/* A halted vCPU's thread sleeps until its interrupt is pending, as a VMM's would. */
static void floor_wait_pending(struct floor_ipi *p, int self)
{
	pthread_mutex_lock(&p->lock);
	while (!atomic_load(&p->pending[self]) && !atomic_load(&p->stop))
		pthread_cond_wait(&p->wake[self], &p->lock);
	pthread_mutex_unlock(&p->lock);
}

struct floor_thread_arg {
	struct floor_ipi *p;
	int self;
};

static void *floor_ipi_thread(void *arg)
{
	struct floor_thread_arg *a = arg;
	struct floor_ipi *p = a->p;
	int self = a->self, peer = 1 - self;
	struct kvm_run *run = p->vm->run[self];
	floor_current_run = run;
	/* Both thread ids are set before anyone kicks: floor_ipi creates the threads under the
	 * lock. Without this, vCPU 1's first kick could signal thread id 0 and crash. */
	pthread_mutex_lock(&p->lock);
	pthread_mutex_unlock(&p->lock);
	while (!atomic_load(&p->stop)) {
		run->immediate_exit = 0;
		if (atomic_exchange(&p->pending[self], false)) {
			struct kvm_interrupt irq = {.irq = FLOOR_VECTOR};
			ioctl(p->vm->vcpu_fd[self], KVM_INTERRUPT, &irq);
		}
		if (ioctl(p->vm->vcpu_fd[self], KVM_RUN, 0) < 0)
			continue;
		if (run->exit_reason == KVM_EXIT_HLT)
			floor_wait_pending(p, self);
		if (run->exit_reason != KVM_EXIT_IO)
			continue;
		if (self == 0 && ++p->round_trips >= p->iters) {
			atomic_store(&p->stop, true);
			floor_kick(p, peer);
			break;
		}
		floor_kick(p, peer);
	}
	return NULL;
}

static int floor_ipi(unsigned iters, struct bench_floor *out, char *err, size_t errlen)
{
	struct floor_vm vm;
	if (floor_vm_open(&vm, 2, NULL, 0, err, errlen) < 0)
		return -1;
	int rc = -1;
	if (floor_vcpu_reset(&vm, 0, FLOOR_HALT_IP, err, errlen) < 0 ||
	    floor_vcpu_reset(&vm, 1, FLOOR_HALT_IP, err, errlen) < 0)
		goto out;
	struct sigaction sa = {.sa_handler = floor_signal_handler};
	sigemptyset(&sa.sa_mask);
	sigaction(FLOOR_SIGNAL, &sa, NULL);
	struct floor_ipi p = {.vm = &vm, .iters = iters};
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.wake[0], NULL);
	pthread_cond_init(&p.wake[1], NULL);
	struct floor_thread_arg args[2] = {{&p, 0}, {&p, 1}};
	/* Vector pending on vCPU 1 from the start: the first delivery opens the ping-pong. */
	atomic_store(&p.pending[1], true);
	uint64_t t0 = machine_now_ns();
	pthread_mutex_lock(&p.lock);
	bool started[2] = {false, false};
	for (int i = 1; i >= 0; i--)
		started[i] = pthread_create(&p.thread[i], NULL, floor_ipi_thread, &args[i]) == 0;
	if (!started[0] || !started[1])
		atomic_store(&p.stop, true); /* a lone thread must not signal a missing one */
	pthread_mutex_unlock(&p.lock);
	for (int i = 0; i < 2; i++)
		if (started[i])
			pthread_join(p.thread[i], NULL);
	out->ipi_us = (double)(machine_now_ns() - t0) / 1000.0 / iters;
	pthread_mutex_destroy(&p.lock);
	pthread_cond_destroy(&p.wake[0]);
	pthread_cond_destroy(&p.wake[1]);
	if (started[0] && started[1])
		rc = 0;
	else
		snprintf(err, errlen, "IPI floor: cannot start the vCPU threads");
out:
	floor_vm_close(&vm);
	return rc;
}

int bench_floor_measure(unsigned iters, struct bench_floor *out, char *err, size_t errlen)
{
	err[0] = '\0';
	if (floor_pio(iters, out, err, errlen) < 0)
		return -1;
	return floor_ipi(iters / 10 ? iters / 10 : 1, out, err, errlen);
}
