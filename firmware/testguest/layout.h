/* Fixed numbers of the test guest shared by its C and assembly: where things are, the GDT
 * selectors, the interrupt vectors and the layout of each CPU's ring-0 block. Only #defines, so
 * that the .S files can include it. */
#ifndef TESTGUEST_LAYOUT_H
#define TESTGUEST_LAYOUT_H

#define MAX_CPUS 64

/* The AP trampoline is copied here; a SIPI with vector TRAMPOLINE_ADDR >> 12 starts an AP at
 * CS:IP = (TRAMPOLINE_ADDR >> 4):0 in real mode. */
#define TRAMPOLINE_ADDR 0x8000

#define LAPIC_BASE 0xfee00000
#define LAPIC_EOI  (LAPIC_BASE + 0xb0)

/* GDT: the kernel selectors match the ones the VMM enters us with (CS 0x10, DS 0x18), so loading
 * our GDT needs no far jump; the 32-bit code segment is only used by the AP trampoline. */
#define SEL_KERNEL_CODE32 0x08
#define SEL_KERNEL_CODE	  0x10
#define SEL_KERNEL_DATA	  0x18
#define SEL_USER_DATA	  0x23
#define SEL_USER_CODE	  0x2b
#define GDT_FIRST_TSS	  6 /* each CPU's TSS descriptor takes two GDT slots from here */
#define GDT_ENTRIES	  (GDT_FIRST_TSS + 2 * MAX_CPUS)

/* RFLAGS for ring 3: IOPL=3 (port I/O exits straight to the VMM), IF=1, reserved bit 1. */
#define USER_RFLAGS 0x3202

#define VEC_NMI	     2
#define VEC_TIMER    0x40
#define VEC_IPI	     0x41
#define VEC_DEVICE   0x42 /* the UART's interrupt, routed by the IOAPIC (wl_ioapic.c) */
#define VEC_SPURIOUS 0xff

/* Each CPU's ring-0 block: its interrupt counters at the bottom, its stack growing down from the
 * top. Blocks are KSTACK_SIZE-aligned, so a handler finds its counters by masking RSP. */
#define KSTACK_SHIFT	   13
#define KSTACK_SIZE	   (1 << KSTACK_SHIFT)
#define KSTACK_TIMER_TICKS 0
#define KSTACK_IPIS	   8
#define KSTACK_SPURIOUS	   16
#define KSTACK_CPU	   24
#define KSTACK_NMIS	   32
#define KSTACK_DEVICE_IRQS 40
#define KSTACK_TSS	   64

#define USTACK_SHIFT 14
#define USTACK_SIZE  (1 << USTACK_SHIFT)

/* Debug ports of the VMM. */
#define PORT_EXIT     0x501
#define PORT_MARK     0x502
#define PORT_NULL     0x503
#define PORT_COM1     0x3f8
#define PORT_COM1_IER (PORT_COM1 + 1)

#endif
