/* /dev/kvm set-up. We deliberately create no in-kernel irqchip (KVM_CREATE_IRQCHIP): the LAPIC and
 * IOAPIC are emulated in user space so that an IPI can reach a vCPU in another process. */
#include "vmm/cpu/kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int kvm_open_device(char *err, size_t errlen)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "/dev/kvm: %s%s", strerror(errno),
			 errno == ENOENT   ? " (KVM is not available on this host)"
			 : errno == EACCES ? " (add yourself to the 'kvm' group or run as root)"
					   : "");
	return fd;
}

int kvm_available(char *err, size_t errlen)
{
	int fd = kvm_open_device(err, errlen);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int kvm_vm_open(struct kvm_vm *vm, char *err, size_t errlen)
{
	*vm = (struct kvm_vm){.sys_fd = -1, .vm_fd = -1};
	vm->sys_fd = kvm_open_device(err, errlen);
	if (vm->sys_fd < 0)
		return -1;
	int version = ioctl(vm->sys_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm: API version %d, expected %d", version,
			 KVM_API_VERSION);
		goto fail;
	}
	int run_size = ioctl(vm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		goto fail;
	}
	vm->run_size = (size_t)run_size;
	vm->vm_fd = ioctl(vm->sys_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	kvm_vm_close(vm);
	return -1;
}

int kvm_vm_set_clock(struct kvm_vm *vm, uint64_t clock_ns, uint64_t realtime_ns, char *err,
		     size_t errlen)
{
	struct kvm_clock_data data = {
	    .clock = clock_ns, .flags = KVM_CLOCK_REALTIME, .realtime = realtime_ns};
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &data) < 0) {
		snprintf(err, errlen, "KVM_SET_CLOCK: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int kvm_vm_get_clock(struct kvm_vm *vm, uint64_t *clock_ns, char *err, size_t errlen)
{
	struct kvm_clock_data data = {0};
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &data) < 0) {
		snprintf(err, errlen, "KVM_GET_CLOCK: %s", strerror(errno));
		return -1;
	}
	*clock_ns = data.clock;
	return 0;
}

void kvm_vm_close(struct kvm_vm *vm)
{
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->sys_fd >= 0)
		close(vm->sys_fd);
	vm->vm_fd = vm->sys_fd = -1;
}

int kvm_vm_map(struct kvm_vm *vm, uint64_t gpa, uint64_t size, void *host, char *err, size_t errlen)
{
	struct kvm_userspace_memory_region region = {
	    .slot = vm->slots,
	    .guest_phys_addr = gpa,
	    .memory_size = size,
	    .userspace_addr = (uint64_t)(uintptr_t)host,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION (gpa 0x%llx, %llu MiB): %s",
			 (unsigned long long)gpa, (unsigned long long)(size >> 20),
			 strerror(errno));
		return -1;
	}
	vm->slots++;
	return 0;
}

int kvm_vcpu_create(struct kvm_vm *vm, unsigned index, struct kvm_run **run, char *err,
		    size_t errlen)
{
	int fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VCPU %u: %s", index, strerror(errno));
		return -1;
	}
	void *p = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "mmap kvm_run of vCPU %u: %s", index, strerror(errno));
		close(fd);
		return -1;
	}
	*run = p;
	return fd;
}
