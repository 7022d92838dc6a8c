/* CPUID filtering. Bit positions are from the Intel SDM (leaf 1) and KVM's api/cpuid.rst
 * (leaf 0x40000001 feature bits). */
#include "vmm/cpu/kvm/cpuid.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_MAX_ENTRIES	   256
#define LEAF1_ECX_X2APIC	   (1u << 21)
#define LEAF1_ECX_TSC_DEADLINE	   (1u << 24)
#define LEAF1_ECX_HYPERVISOR	   (1u << 31)
#define KVM_LEAF_FEATURES	   0x40000001u
#define KVM_FEATURE_PV_EOI	   (1u << 6)
#define KVM_FEATURE_PV_UNHALT	   (1u << 7)
#define KVM_FEATURE_PV_SEND_IPI	   (1u << 11)
#define KVM_FEATURE_PV_SCHED_YIELD (1u << 13)

static void cpuid_filter_entry(struct kvm_cpuid_entry2 *e, unsigned apic_id)
{
	switch (e->function) {
	case 1:
		e->ecx &= ~(LEAF1_ECX_X2APIC | LEAF1_ECX_TSC_DEADLINE);
		e->ecx |= LEAF1_ECX_HYPERVISOR;
		e->ebx = (e->ebx & 0x00ffffffu) | (apic_id << 24);
		break;
	case 0xb:
	case 0x1f:
		e->edx = apic_id;
		break;
	case KVM_LEAF_FEATURES:
		/* PV unhalt too: a vCPU halted in our vcpu_wait cannot be woken by KVM's
		 * KVM_HC_KICK_CPU, so PV spinlocks would hang. */
		e->eax &= ~(KVM_FEATURE_PV_EOI | KVM_FEATURE_PV_UNHALT | KVM_FEATURE_PV_SEND_IPI |
			    KVM_FEATURE_PV_SCHED_YIELD);
		break;
	}
}

int cpuid_configure(int sys_fd, int vcpu_fd, unsigned apic_id, char *err, size_t errlen)
{
	size_t bytes =
	    sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *cpuid = calloc(1, bytes);
	if (!cpuid) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cpuid->nent = CPUID_MAX_ENTRIES;
	int rc = -1;
	if (ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		goto out;
	}
	for (unsigned i = 0; i < cpuid->nent; i++)
		cpuid_filter_entry(&cpuid->entries[i], apic_id);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid) < 0) {
		snprintf(err, errlen, "KVM_SET_CPUID2: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(cpuid);
	return rc;
}
