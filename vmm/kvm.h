/* Thin wrapper over /dev/kvm: the system fd, one VM fd, memory slots, vCPU fds. Everything KVM-
 * specific that is not the vCPU run loop lives here, with errors that tell a user what to do. */
#ifndef VMM_KVM_H
#define VMM_KVM_H

#include <stddef.h>
#include <stdint.h>

struct kvm_run;

struct kvm_vm {
	int sys_fd;
	int vm_fd;
	size_t run_size; /* size of each vCPU's shared kvm_run area */
	unsigned slots;
};

int kvm_vm_open(struct kvm_vm *vm, char *err, size_t errlen);
void kvm_vm_close(struct kvm_vm *vm);
int kvm_vm_map(struct kvm_vm *vm, uint64_t gpa, uint64_t size, void *host, char *err,
	       size_t errlen);
/* Creates vCPU `index`; returns its fd and maps its kvm_run into *run. */
int kvm_vcpu_create(struct kvm_vm *vm, unsigned index, struct kvm_run **run, char *err,
		    size_t errlen);

#endif
