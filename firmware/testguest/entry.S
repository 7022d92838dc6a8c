/* Ring-0 entry points. The BSP arrives at _start from the VMM (64-bit boot protocol, RSI =
 * boot_params); an AP arrives at ap_long_mode_entry from the trampoline. Each sets its stack to
 * the top of its CPU block, runs the short ring-0 set-up in ring0.c and leaves for ring 3 through
 * enter_user, never to return to ring 0 except in interrupt handlers. */
#include "firmware/testguest/layout.h"

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	/* Before anything else: lets the VMM time start-up to the first guest instruction. */
	mov $PORT_MARK, %dx
	xor %eax, %eax
	out %eax, %dx
	lea cpu_blocks + KSTACK_SIZE(%rip), %rsp
	mov %rsi, %rdi
	call ring0_init_bsp
	xor %edi, %edi
	jmp enter_user

	.globl ap_long_mode_entry
ap_long_mode_entry:
	/* The BSP starts one AP at a time and names it in ap_boot_cpu before the SIPI. */
	mov ap_boot_cpu(%rip), %edi
	lea 1(%rdi), %eax
	shl $KSTACK_SHIFT, %rax
	lea cpu_blocks(%rip), %rsp
	add %rax, %rsp
	call ring0_init_ap
	mov %eax, %edi
	jmp enter_user

/* enter_user(cpu in EDI): iretq to user_main(cpu) in ring 3 on that CPU's user stack, with
 * IOPL=3 and interrupts enabled. */
	.globl enter_user
enter_user:
	lea 1(%rdi), %eax
	shl $USTACK_SHIFT, %rax
	lea user_stacks(%rip), %rcx
	lea -8(%rcx, %rax), %rax /* as if a call had pushed a return address */
	pushq $SEL_USER_DATA
	push %rax
	pushq $USER_RFLAGS
	pushq $SEL_USER_CODE
	lea user_main(%rip), %rax
	push %rax
	iretq
