/* Choosing the CPU backend (vmm/cpu/cpu.h) that runs a machine's vCPUs: KVM or the interpreter
 * when the configuration names one, else KVM when this host can create a VM and the interpreter
 * when it cannot. One line on stderr says which runs. */
#ifndef VMM_ACCEL_H
#define VMM_ACCEL_H

#include <stddef.h>

#include "vmm/config.h"
#include "vmm/cpu/cpu.h"

/* NULL with a message if the backend asked for (or, for ACCEL_AUTO, neither) can be created; an
 * explicit "kvm" without /dev/kvm says so as KVM itself does. */
struct accel *accel_open(enum accel_kind kind, const struct accel_params *p, char *err,
			 size_t errlen);
/* Every cpu of `a` must be destroyed first. NULL is fine. */
void accel_close(struct accel *a);

#endif
