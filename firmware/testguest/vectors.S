/* Interrupt and exception entry stubs (ring 0, which is emulated and slow here: the hot ones are
 * a handful of instructions). The timer, IPI, NMI and device handlers bump a counter in the CPU's
 * block, found by masking RSP (interrupts from ring 3 arrive on the block's stack through
 * TSS.RSP0), write the LAPIC EOI and return. Exceptions are fatal: they hand their frame to
 * exception_report; the one exception is ring0_call's ud2. */
#include "firmware/testguest/layout.h"

	.section .text, "ax"
	.code64

.macro COUNTING_HANDLER name, counter, eoi
	.globl \name
\name:
	push %rax
	mov %rsp, %rax
	and $-KSTACK_SIZE, %rax
	incq \counter(%rax)
	.if \eoi
	mov $LAPIC_EOI, %eax
	movl $0, (%rax)
	.endif
	pop %rax
	iretq
.endm

	COUNTING_HANDLER timer_isr, KSTACK_TIMER_TICKS, 1
	COUNTING_HANDLER ipi_isr, KSTACK_IPIS, 1
	/* A spurious interrupt is not in service: no EOI. */
	COUNTING_HANDLER spurious_isr, KSTACK_SPURIOUS, 0

/* The NMI handler counts like the others, without an EOI (an NMI is not in service). An NMI that
 * lands on halt_until_nmis's hlt before it executed returns past it, so that the CPU re-checks its
 * count instead of halting with nothing left to wake it (the hlt is one byte). */
	.globl nmi_isr
nmi_isr:
	push %rax
	lea nmi_halt_point(%rip), %rax
	cmp %rax, 8(%rsp) /* the interrupted RIP */
	jne 1f
	incq 8(%rsp)
1:	mov %rsp, %rax
	and $-KSTACK_SIZE, %rax
	incq KSTACK_NMIS(%rax)
	pop %rax
	iretq

/* halt_until_nmis(want), through ring0_call: halts with interrupts disabled until this CPU has
 * handled `want` NMIs, so only an NMI can wake it: a node whose vCPUs all wait here is halted for
 * good as far as it can tell, and the guest must go on because another node will send one. */
	.globl halt_until_nmis
halt_until_nmis:
	pushf
	cli
	mov %rsp, %rax
	and $-KSTACK_SIZE, %rax
1:	cmp %rdi, KSTACK_NMIS(%rax)
	jae 2f
nmi_halt_point:
	hlt
	jmp 1b
2:	popf
	ret

/* The UART's interrupt (wl_ioapic.c): clearing IER lowers its line before the EOI, as a driver
 * must for a level-triggered pin, or the IOAPIC would send the interrupt again at once. */
	.globl device_isr
device_isr:
	push %rax
	push %rdx
	mov $PORT_COM1_IER, %dx
	xor %eax, %eax
	outb %al, %dx
	mov %rsp, %rax
	and $-KSTACK_SIZE, %rax
	incq KSTACK_DEVICE_IRQS(%rax)
	mov $LAPIC_EOI, %eax
	movl $0, (%rax)
	pop %rdx
	pop %rax
	iretq

/* Stubs push a zero where the CPU pushes no error code, then the vector, so every exception
 * reaches exception_common with the same frame layout (struct exception_frame). */
.macro EXCEPTION vector
exception_\vector:
	.if !(\vector == 8 || (\vector >= 10 && \vector <= 14) || \vector == 17 || \vector == 21 || \vector == 29 || \vector == 30)
	pushq $0
	.endif
	pushq $\vector
	jmp exception_common
.endm

	.irp v, 0,1,3,4,5,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	EXCEPTION \v
	.endr

/* ring0_call(fn, arg), called from ring 3, runs fn(arg) in ring 0 with interrupts enabled and
 * returns. PVM gives guest ring 3 no working gate into ring 0 (int n raises #UD, sysret faults),
 * but it does deliver faults: the call is a ud2 at a known address, which the #UD handler
 * recognises. Caller-saved registers are clobbered, as by any call. */
	.globl ring0_call
ring0_call:
	ud2
ring0_call_return:
	ret

exception_6:
	push %rax
	lea ring0_call(%rip), %rax
	cmp %rax, 8(%rsp) /* the faulting RIP */
	pop %rax
	jne 1f
	movq $ring0_call_return, (%rsp)
	mov %rdi, %rax
	mov %rsi, %rdi
	sti
	sub $8, %rsp /* the CPU pushed 5 words onto a 16-byte aligned stack */
	call *%rax
	add $8, %rsp
	iretq
1:	pushq $0
	pushq $6
	jmp exception_common

exception_common:
	mov %rsp, %rdi
	and $-16, %rsp
	call exception_report

	.section .rodata, "a"
	.balign 8
	.globl exception_stubs
exception_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.if \v == VEC_NMI
	.quad nmi_isr
	.else
	.quad exception_\v
	.endif
	.endr
