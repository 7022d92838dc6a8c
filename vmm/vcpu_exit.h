/* What a vCPU does with each exit of its cpu (vmm/cpu/cpu.h), top-down: a port or MMIO access
 * goes through the one device dispatch, vcpu_io_access (the vCPU's own LAPIC, else the I/O bus,
 * whose range is a device of this node or forwards the access to the node that owns it, else the
 * unknown_io policy) and back into the exit; an MSR the backend does not implement gets the
 * policy too; hlt parks the vCPU; a reset, something the guest did that nobody supports, or a
 * host failure stops the machine. The backend has checked what the guest controls in the exit
 * (sizes, counts, where the data lies). */
#ifndef VMM_VCPU_EXIT_H
#define VMM_VCPU_EXIT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/cpu/cpu.h"

struct vcpu;

/* On v's own thread, right after run() returned `exit`. */
void vcpu_exit_handle(struct vcpu *v, struct cpu_exit *exit);
/* The device dispatch (struct cpu_io, ctx = the vcpu): KVM's port and MMIO exits come here
 * through vcpu_exit_handle, the interpreter calls it in the middle of an instruction. On the
 * vCPU's own thread; a read fills data. */
void vcpu_io_access(void *ctx, enum cpu_io_space space, uint64_t addr, uint8_t *data, unsigned len,
		    bool is_write);

#endif
