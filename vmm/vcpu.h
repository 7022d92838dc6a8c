/* One vCPU: a thread that runs KVM_RUN, handles the exits, injects interrupts from its userspace
 * LAPIC and follows the INIT/SIPI start-up protocol. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct machine;
struct lapic;

enum vcpu_state { VCPU_RUNNABLE, VCPU_WAIT_FOR_SIPI, VCPU_HALTED };

struct vcpu {
	struct machine *m;
	unsigned index; /* global vCPU number, also its APIC ID */
	bool bsp;
	int fd;
	struct kvm_run *run;
	struct lapic *lapic;
	pthread_t thread;
	bool thread_started;
	enum vcpu_state state;
	bool halted_for_good; /* in hlt with interrupts disabled: only INIT/NMI can wake it */

	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;
	bool wake_pending;

	timer_t timer; /* kicks KVM_RUN out when the LAPIC timer is due */
	bool timer_created;
	uint64_t timer_armed_ns;

	uint64_t exits;
};

int vcpu_init(struct vcpu *v, struct machine *m, unsigned index, bool bsp, char *err,
	      size_t errlen);
int vcpu_set_boot_state(struct vcpu *v, const void *boot_cpu_state, char *err, size_t errlen);
int vcpu_start(struct vcpu *v, char *err, size_t errlen);
/* Any thread: makes the vCPU re-examine its LAPIC (and the stop flag) promptly. */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

#endif
