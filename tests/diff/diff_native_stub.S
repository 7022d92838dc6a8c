/* The native side's entry and exit stubs: diff_native_enter loads a case's initial state from
 * the state page (DIFF_STATE_ADDR, layout struct native_page in diff_native.c) and jumps to the
 * case's code; the code ends with an absolute jump to diff_native_exit, which stores the final
 * state back and returns to the C caller as if diff_native_enter had returned.
 *
 * The state page sits at a fixed address below 2 GiB, so every access here is an absolute
 * disp32 operand and needs no free register: all sixteen GPRs belong to the case. The flags are
 * loaded with popfq while the host stack is still current, before the GPR loads (plain moves,
 * which leave the flags alone). A fault inside the case never comes back here: the worker's
 * signal handler records the state from the signal frame and siglongjmps out. */

	.set	ST, 0x10200000

	.text
	.globl	diff_native_enter
	.type	diff_native_enter, @function
diff_native_enter:
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, ST+136
	fninit
	ldmxcsr	ST+416
	movdqu	ST+160, %xmm0
	movdqu	ST+176, %xmm1
	movdqu	ST+192, %xmm2
	movdqu	ST+208, %xmm3
	movdqu	ST+224, %xmm4
	movdqu	ST+240, %xmm5
	movdqu	ST+256, %xmm6
	movdqu	ST+272, %xmm7
	movdqu	ST+288, %xmm8
	movdqu	ST+304, %xmm9
	movdqu	ST+320, %xmm10
	movdqu	ST+336, %xmm11
	movdqu	ST+352, %xmm12
	movdqu	ST+368, %xmm13
	movdqu	ST+384, %xmm14
	movdqu	ST+400, %xmm15
	pushq	ST+128
	popfq
	movq	ST+0, %rax
	movq	ST+8, %rcx
	movq	ST+16, %rdx
	movq	ST+24, %rbx
	movq	ST+40, %rbp
	movq	ST+48, %rsi
	movq	ST+56, %rdi
	movq	ST+64, %r8
	movq	ST+72, %r9
	movq	ST+80, %r10
	movq	ST+88, %r11
	movq	ST+96, %r12
	movq	ST+104, %r13
	movq	ST+112, %r14
	movq	ST+120, %r15
	movq	ST+32, %rsp
	jmp	*ST+144
	.size	diff_native_enter, .-diff_native_enter

	.globl	diff_native_exit
	.type	diff_native_exit, @function
diff_native_exit:
	movq	%rax, ST+0
	movq	%rcx, ST+8
	movq	%rdx, ST+16
	movq	%rbx, ST+24
	movq	%rbp, ST+40
	movq	%rsi, ST+48
	movq	%rdi, ST+56
	movq	%r8, ST+64
	movq	%r9, ST+72
	movq	%r10, ST+80
	movq	%r11, ST+88
	movq	%r12, ST+96
	movq	%r13, ST+104
	movq	%r14, ST+112
	movq	%r15, ST+120
	movq	%rsp, ST+32
	movq	ST+136, %rsp
	pushfq
	popq	ST+128
	cld
	movdqu	%xmm0, ST+160
	movdqu	%xmm1, ST+176
	movdqu	%xmm2, ST+192
	movdqu	%xmm3, ST+208
	movdqu	%xmm4, ST+224
	movdqu	%xmm5, ST+240
	movdqu	%xmm6, ST+256
	movdqu	%xmm7, ST+272
	movdqu	%xmm8, ST+288
	movdqu	%xmm9, ST+304
	movdqu	%xmm10, ST+320
	movdqu	%xmm11, ST+336
	movdqu	%xmm12, ST+352
	movdqu	%xmm13, ST+368
	movdqu	%xmm14, ST+384
	movdqu	%xmm15, ST+400
	stmxcsr	ST+416
	fxsave64 ST+512
	/* Back to the C ABI's floating-point state. */
	fninit
	movl	$0x1f80, ST+420
	ldmxcsr	ST+420
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	ret
	.size	diff_native_exit, .-diff_native_exit

	.section .note.GNU-stack,"",@progbits
