/* Ring-0 state of the test guest: the per-CPU blocks (interrupt counters, TSS, interrupt stack)
 * and the one-time set-up each CPU runs before it drops to ring 3. */
#ifndef TESTGUEST_RING0_H
#define TESTGUEST_RING0_H

#include <stdint.h>

#include "firmware/testguest/layout.h"

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

/* Ports 0..IO_BITMAP_PORTS-1 are open to ring 3 through the TSS I/O bitmap. IOPL=3 alone is not
 * enough on the PVM backend: it does not honour the IOPL that iretq sets (measured). */
#define IO_BITMAP_PORTS 0x800

/* The counters are written only by their own CPU's handlers; ring 3 on any CPU reads them. */
struct cpu_block {
	volatile uint64_t timer_ticks;
	volatile uint64_t ipis;
	volatile uint64_t spurious;
	uint32_t cpu;
	volatile uint64_t nmis;
	volatile uint64_t device_irqs;
	uint8_t unused[KSTACK_TSS - KSTACK_DEVICE_IRQS - 8];
	struct tss tss;
	uint8_t io_bitmap[IO_BITMAP_PORTS / 8 + 1]; /* zero bits allow; ends with an 0xff byte */
	uint8_t stack[KSTACK_SIZE - KSTACK_TSS - sizeof(struct tss) - IO_BITMAP_PORTS / 8 - 1];
} __attribute__((aligned(KSTACK_SIZE)));

extern struct cpu_block cpu_blocks[MAX_CPUS];

/* From ring 3: runs fn(arg) in ring 0, interrupts enabled, on this CPU's block stack. On the PVM
 * backend an exit from ring 0 costs about 9 us and one from ring 3 about 60 us (the ring-3 access
 * first traps into PVM), so the benchmarks run their exits through this; the workloads do not. */
void ring0_call(void (*fn)(void *), void *arg);

/* Guest-physical address of boot_params, as the VMM passed it in RSI. */
extern uint64_t boot_params_addr;

#endif
