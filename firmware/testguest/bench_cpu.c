/* tg.bench=cpu, the guest half of `vsmp-vmm bench cpu`: runs the integer, memory and SSE kernels
 * of cpu_kernels.c CPU_KERNEL_RUNS times each on the BSP, in ring 3, with `iters` iterations. The
 * VMM runs the same kernels natively and compares. Each run sits between the marks
 * CPU_KERNEL_MARK_START/END(k) on the bench-mark port, which the VMM timestamps with its own
 * clock, so the guest needs no clock of its own (the interpreter's TSC and KVM's differ); the
 * buffer is refilled before each run's first mark. After each kernel's runs, whose checksums must
 * agree, the BSP prints
 *     TESTGUEST bench cpu kernel=<int|mem|sse> iters=<n> checksum=0x<hex>
 * and after the last it exits with status 0.
 *
 * The buffers sit in RAM above the image, from the next 2 MiB boundary. SSE is off in this guest
 * (everything else is compiled -mgeneral-regs-only), so the BSP enables it in ring 0 first, for
 * this mode only: CR4.OSFXSR and OSXMMEXCPT set, CR0.EM and TS clear, CR0.MP set. Nothing else in
 * the guest touches the XMM registers, so no handler has to save them. */
#include <stdint.h>

#include "firmware/testguest/bench_cpu.h"
#include "firmware/testguest/console.h"
#include "firmware/testguest/cpu_kernels.h"
#include "firmware/testguest/layout.h"
#include "firmware/testguest/ring0.h"
#include "firmware/testguest/x86.h"

#define CR0_MP	       (1ull << 1)
#define CR0_EM	       (1ull << 2)
#define CR0_TS	       (1ull << 3)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define BUFFER_ALIGN   (2ull << 20)

extern const char image_end[];

static void sse_enable(void *unused)
{
	(void)unused;
	uint64_t cr0, cr4;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %0, %%cr0" : : "r"((cr0 & ~(CR0_EM | CR0_TS)) | CR0_MP));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_OSFXSR | CR4_OSXMMEXCPT));
}

/* CPU_KERNEL_RUNS runs of kernel k, each between its marks; the checksum, the same every run. */
static uint64_t run_kernel(enum cpu_kernel k, uint32_t iters, uint64_t *mem, uint64_t *sse)
{
	uint64_t sum = 0;
	for (unsigned run = 0; run < CPU_KERNEL_RUNS; run++) {
		uint64_t previous = sum;
		if (k == CPU_KERNEL_MEM)
			cpu_kernel_mem_init(mem);
		else if (k == CPU_KERNEL_SSE)
			cpu_kernel_sse_init(sse);
		outl(PORT_MARK, CPU_KERNEL_MARK_START(k));
		if (k == CPU_KERNEL_INT)
			sum = cpu_kernel_int(iters);
		else if (k == CPU_KERNEL_MEM)
			sum = cpu_kernel_mem(mem, iters);
		else
			sum = cpu_kernel_sse(sse, iters);
		outl(PORT_MARK, CPU_KERNEL_MARK_END(k));
		if (run > 0 && sum != previous)
			fail("bench cpu: kernel %u gave checksum 0x%lx, then 0x%lx", (unsigned)k,
			     previous, sum);
	}
	return sum;
}

void bench_cpu(uint32_t iters, uint64_t ram_bytes)
{
	static const char *const names[CPU_KERNEL_COUNT] = {
	    [CPU_KERNEL_INT] = "int", [CPU_KERNEL_MEM] = "mem", [CPU_KERNEL_SSE] = "sse"};
	uint64_t base = ((uintptr_t)image_end + BUFFER_ALIGN - 1) & ~(BUFFER_ALIGN - 1);
	uint64_t *mem = (uint64_t *)(uintptr_t)base;
	uint64_t *sse = (uint64_t *)(uintptr_t)(base + CPU_KERNEL_MEM_BYTES);
	if (base + CPU_KERNEL_MEM_BYTES + CPU_KERNEL_SSE_BYTES > ram_bytes)
		fail("tg.bench=cpu needs RAM up to %lu MiB, the guest has %lu MiB",
		     (base + CPU_KERNEL_MEM_BYTES + CPU_KERNEL_SSE_BYTES + (1 << 20) - 1) >> 20,
		     ram_bytes >> 20);
	ring0_call(sse_enable, 0);
	for (unsigned k = 0; k < CPU_KERNEL_COUNT; k++) {
		uint64_t sum = run_kernel((enum cpu_kernel)k, iters, mem, sse);
		say("bench cpu kernel=%s iters=%u checksum=0x%lx", names[k], iters, sum);
	}
	guest_exit(0);
}
