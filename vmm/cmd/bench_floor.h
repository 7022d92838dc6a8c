/* The bare-KVM floor for `vsmp-vmm bench exits`: the same three things measured on a minimal VM
 * built in a few lines (real-mode code, no devices, no LAPIC model), so our own path can be
 * reported as a ratio to what KVM itself costs on this host in the same run. */
#ifndef VMM_CMD_BENCH_FLOOR_H
#define VMM_CMD_BENCH_FLOOR_H

#include <stddef.h>
#include <stdint.h>

struct bench_floor {
	double first_insn_us; /* open(/dev/kvm) to the first guest exit */
	double pio_us;	      /* one KVM_RUN -> PIO exit -> KVM_RUN round trip */
	double ipi_us;	      /* interrupt ping-pong between two vCPU threads, one round trip */
};

int bench_floor_measure(unsigned iters, struct bench_floor *out, char *err, size_t errlen);

#endif
