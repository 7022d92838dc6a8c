/* What a vCPU does with each KVM exit: port and MMIO accesses go to the device models (its own
 * LAPIC first), MSRs KVM does not know and instructions KVM cannot emulate get the VMM's policy,
 * hlt parks the vCPU, a triple fault stops the machine. The guest is untrusted: every field of
 * kvm_run that comes from an exit is validated before use. */
#ifndef VMM_VCPU_EXIT_H
#define VMM_VCPU_EXIT_H

struct vcpu;

void vcpu_exit_handle(struct vcpu *v);
/* v can be woken only by another vCPU or a device from now on (hlt with interrupts off, or an AP
 * waiting for its SIPI); when every vCPU is so, the guest cannot resume and is stopped (status 4;
 * across nodes the IOAPIC's node decides, halt_wave.h). Only v's own thread calls these. */
void vcpu_exit_halted_for_good(struct vcpu *v);
/* v runs again: it left hlt, or took an INIT or its SIPI. */
void vcpu_exit_halt_ended(struct vcpu *v);

#endif
