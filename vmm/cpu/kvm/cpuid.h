/* The CPUID table each vCPU gets: what KVM supports, minus what our userspace LAPIC cannot back
 * (x2APIC, TSC-deadline) and the KVM paravirtual features that bypass it (PV IPI, PV EOI, PV
 * unhalt), with the APIC ID of each vCPU in leaves 1 and 0xB. On hosts whose KVM does not
 * virtualize CPUID (this PVM backend), the guest sees the host's values instead: guest
 * configurations must turn those features off on the kernel command line (see
 * docs/architecture.md). */
#ifndef VMM_CPU_KVM_CPUID_H
#define VMM_CPU_KVM_CPUID_H

#include <stddef.h>

int cpuid_configure(int sys_fd, int vcpu_fd, unsigned apic_id, char *err, size_t errlen);

#endif
