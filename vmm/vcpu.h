/* One vCPU: a thread that runs its CPU backend's cpu (vmm/cpu/cpu.h), handles the exits, injects
 * interrupts from its userspace LAPIC and follows the INIT/SIPI start-up protocol. */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vmm/cpu/cpu.h"

struct machine;
struct lapic;

enum vcpu_state { VCPU_RUNNABLE, VCPU_WAIT_FOR_SIPI, VCPU_HALTED };

struct vcpu {
	struct machine *m;
	unsigned index; /* global vCPU number, also its APIC ID */
	bool bsp;
	struct cpu *cpu;
	struct cpu_io io; /* the device dispatch its cpu calls (vcpu_exit.h) */
	struct lapic *lapic;
	pthread_t thread;
	bool thread_started;
	enum vcpu_state state;
	bool halted_for_good; /* machine.c's halt accounting: only INIT/NMI/SIPI can wake it */

	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;
	bool wake_pending;
	bool sleeping; /* in vcpu_wait: waking it needs wait_cond only, not the cpu kicked */
	bool in_run;   /* its own thread is inside run() (read on that thread only) */

	timer_t timer; /* kicks run() out when the LAPIC timer is due */
	bool timer_created;
	uint64_t timer_armed_ns;
};

/* Creates the vCPU's cpu on the machine's accelerator and its LAPIC. */
int vcpu_init(struct vcpu *v, struct machine *m, unsigned index, bool bsp, char *err,
	      size_t errlen);
int vcpu_start(struct vcpu *v, char *err, size_t errlen);
/* On v's own thread: arms its host timer for the LAPIC timer's next deadline, which kicks run()
 * out when it is due. The loop does before each run(); an access to the LAPIC inside run() (the
 * interpreter does not leave run() for one) must too. */
void vcpu_arm_timer(struct vcpu *v);
/* Any thread: makes the vCPU re-examine its LAPIC (and the stop flag) promptly. */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

#endif
