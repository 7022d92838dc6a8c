/* Emulation assist: what the VMM does when KVM gives up on an instruction
 * (KVM_EXIT_INTERNAL_ERROR, suberror "emulation"). This host's PVM backend emulates guest ring 0
 * and cannot handle a few instructions a Linux kernel uses; we decode the instruction at RIP
 * (vmm/x86_decode.h), emulate the handful we know, count them, and refuse anything else with its
 * bytes and address. */
#ifndef VMM_EMULATE_H
#define VMM_EMULATE_H

#include <stdint.h>

#include "vmm/x86_decode.h"

struct vcpu;

/* Handles the exit: emulates, retries once if the code changed under KVM (live patching), or
 * stops the machine with VMM_EXIT_GUEST_UNSUPPORTED. Runs on the vCPU's own thread. */
void emulate_internal_error(struct vcpu *v);
/* How many times each instruction was emulated (all vCPUs of this process). */
uint64_t emulate_count(enum x86_op op);
/* Logs one line with the counts, or nothing if no instruction was emulated. */
void emulate_log_counts(void);

#endif
