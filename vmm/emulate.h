/* Emulation assist: what the VMM does when KVM gives up on an instruction
 * (KVM_EXIT_INTERNAL_ERROR, suberror "emulation"). This host's PVM backend emulates guest ring 0
 * and cannot handle a few instructions a Linux kernel uses; we decode the instruction at RIP,
 * emulate the handful we know, count them, and refuse anything else with its bytes and address. */
#ifndef VMM_EMULATE_H
#define VMM_EMULATE_H

#include <stdint.h>

struct vcpu;

enum emulate_op { EMULATE_INT3, EMULATE_FWAIT, EMULATE_CLAC, EMULATE_STAC, EMULATE_OP_COUNT };

/* Handles the exit: emulates, or stops the machine with VMM_EXIT_GUEST_UNSUPPORTED. */
void emulate_internal_error(struct vcpu *v);
/* How many times each instruction was emulated (all vCPUs of this process). */
uint64_t emulate_count(enum emulate_op op);
const char *emulate_op_name(enum emulate_op op);

#endif
