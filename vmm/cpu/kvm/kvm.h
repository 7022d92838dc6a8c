/* Thin wrapper over /dev/kvm: the system fd, one VM fd, memory slots, vCPU fds, kvmclock, with
 * errors that tell a user what to do. The CPU backend built on it is kvm_cpu.c. */
#ifndef VMM_CPU_KVM_KVM_H
#define VMM_CPU_KVM_KVM_H

#include <stddef.h>
#include <stdint.h>

struct kvm_run;

struct kvm_vm {
	int sys_fd;
	int vm_fd;
	size_t run_size; /* size of each vCPU's shared kvm_run area */
	unsigned slots;
};

/* 0 if /dev/kvm can be opened, else -1 with a message that says what to do. */
int kvm_available(char *err, size_t errlen);
int kvm_vm_open(struct kvm_vm *vm, char *err, size_t errlen);
void kvm_vm_close(struct kvm_vm *vm);
int kvm_vm_map(struct kvm_vm *vm, uint64_t gpa, uint64_t size, void *host, char *err,
	       size_t errlen);
/* kvmclock: the VM's clock reads clock_ns at host CLOCK_REALTIME realtime_ns and runs on from
 * there (KVM adds the time elapsed since realtime_ns). */
int kvm_vm_set_clock(struct kvm_vm *vm, uint64_t clock_ns, uint64_t realtime_ns, char *err,
		     size_t errlen);
/* The VM's kvmclock now, in nanoseconds. */
int kvm_vm_get_clock(struct kvm_vm *vm, uint64_t *clock_ns, char *err, size_t errlen);
/* Creates vCPU `index`; returns its fd and maps its kvm_run into *run. */
int kvm_vcpu_create(struct kvm_vm *vm, unsigned index, struct kvm_run **run, char *err,
		    size_t errlen);

#endif
