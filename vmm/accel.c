/* Backend choice (see the header). With "auto", KVM is tried first because it runs the guest at
 * hardware speed; any failure to create its VM (no /dev/kvm, no permission, an old API) falls
 * back to the interpreter, and the line naming the backend says why. */
#include "vmm/accel.h"

#include <stdio.h>

#include "vmm/log.h"

static struct accel *accel_open_auto(const struct accel_params *p, char *err, size_t errlen)
{
	char kvm_err[256], emu_err[256];
	struct accel *a = kvm_accel_ops.create(p, kvm_err, sizeof(kvm_err));
	if (a) {
		log_info("CPU backend: %s", kvm_accel_ops.name);
		return a;
	}
	a = emu_accel_ops.create(p, emu_err, sizeof(emu_err));
	if (!a) {
		snprintf(err, errlen, "no CPU backend: %s; %s: %s", kvm_err, emu_accel_ops.name,
			 emu_err);
		return NULL;
	}
	log_info("CPU backend: %s (%s)", emu_accel_ops.name, kvm_err);
	return a;
}

struct accel *accel_open(enum accel_kind kind, const struct accel_params *p, char *err,
			 size_t errlen)
{
	if (kind == ACCEL_AUTO)
		return accel_open_auto(p, err, errlen);
	const struct accel_ops *ops = kind == ACCEL_KVM ? &kvm_accel_ops : &emu_accel_ops;
	struct accel *a = ops->create(p, err, errlen);
	if (a)
		log_info("CPU backend: %s", ops->name);
	return a;
}

void accel_close(struct accel *a)
{
	if (a)
		a->ops->destroy(a);
}
