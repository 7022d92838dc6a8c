/* Emulation assist: what the KVM backend does when KVM gives up on an instruction
 * (KVM_EXIT_INTERNAL_ERROR, suberror "emulation"). This host's PVM backend emulates guest ring 0
 * and cannot handle a few instructions a Linux kernel uses; we decode the instruction at RIP with
 * Zydis (x86_decode.h), emulate the handful we know, count them, and refuse anything else with
 * its bytes and address. A detail of the KVM backend: the machine only sees the exit it turns
 * into. */
#ifndef VMM_CPU_KVM_EMULATE_H
#define VMM_CPU_KVM_EMULATE_H

#include <stdint.h>

#include "firmware/layout.h"
#include "vmm/cpu/cpu.h"
#include "vmm/cpu/kvm/x86_decode.h"

struct kvm_run;

/* The vCPU whose KVM_RUN ended in KVM_EXIT_INTERNAL_ERROR. */
struct emulate_vcpu {
	int fd;
	const struct kvm_run *run;
	const struct guest_ram *ram;
	unsigned index; /* for the log */
};

/* Handles the exit on the vCPU's own thread: emulates the instruction, or lets KVM retry it once
 * if the code changed under KVM (live patching); exit->reason is then CPU_EXIT_NONE. Otherwise
 * CPU_EXIT_UNSUPPORTED (an instruction nobody emulates, a suberror other than emulation) or
 * CPU_EXIT_HOST_ERROR, with exit->message saying what. */
void emulate_internal_error(const struct emulate_vcpu *v, struct cpu_exit *exit);
/* How many times each instruction was emulated (all vCPUs of this process). */
uint64_t emulate_count(enum x86_op op);
/* Logs one line with the counts, or nothing if no instruction was emulated. */
void emulate_log_counts(void);

#endif
