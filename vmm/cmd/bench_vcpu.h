/* A bare vCPU for `vsmp-vmm bench coherence`, on whichever CPU backend this host runs (KVM or
 * the interpreter, through vmm/cpu/cpu.h): real-mode code that reads guest pages one after
 * another and reports each read with a port write, so the time between two port writes is one
 * guest access to a page plus one port exit. */
#ifndef VMM_CMD_BENCH_VCPU_H
#define VMM_CMD_BENCH_VCPU_H

#include <stddef.h>
#include <stdint.h>

/* Reads pages first_page, first_page + stride, ... (count of them, all below 1 MiB) of `ram`
 * (GPA 0); the code goes into code_page. *per_read_us: mean time per read + port exit;
 * *pio_us: the same loop reading one page over and over (the port exit alone, the floor to
 * subtract); *backend: which backend ran. */
int bench_vcpu_page_reads(uint8_t *ram, size_t ram_size, uint64_t code_page, uint64_t first_page,
			  unsigned stride_pages, unsigned count, double *per_read_us,
			  double *pio_us, const char **backend, char *err, size_t errlen);

#endif
