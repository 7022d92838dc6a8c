/* What a vCPU does with each KVM exit: port and MMIO accesses go to the device models (its own
 * LAPIC first), MSRs KVM does not know and instructions KVM cannot emulate get the VMM's policy,
 * hlt parks the vCPU, a triple fault stops the machine. The guest is untrusted: every field of
 * kvm_run that comes from an exit is validated before use. */
#ifndef VMM_VCPU_EXIT_H
#define VMM_VCPU_EXIT_H

struct vcpu;

void vcpu_exit_handle(struct vcpu *v);
/* The vCPU left hlt (an interrupt arrived). */
void vcpu_exit_halt_ended(struct vcpu *v);

#endif
