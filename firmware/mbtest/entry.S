/* The Multiboot header and the entry point. The loader enters _start in 32-bit protected mode
 * with paging off, EAX = the boot loader magic and EBX = the information structure; the
 * specification leaves ESP undefined, so the kernel takes its own stack before calling C. */
#define MULTIBOOT_HEADER_MAGIC 0x1BADB002
#define MULTIBOOT_HEADER_FLAGS 0x00000003 /* page-aligned modules, memory information */
#define STACK_SIZE	       0x4000

	.section .multiboot, "a"
	.align 4
	.long MULTIBOOT_HEADER_MAGIC
	.long MULTIBOOT_HEADER_FLAGS
	.long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_HEADER_FLAGS)

	.section .text.entry, "ax"
	.code32
	.globl _start
_start:
	mov $stack + STACK_SIZE, %esp
	cld			/* the C code assumes the ABI's direction flag */
	push %ebx		/* mbtest_main(magic, info) */
	push %eax
	call mbtest_main
	/* Only if the exit port did not stop the machine. */
1:	cli
	hlt
	jmp 1b

	.section .bss
	.align 16
stack:
	.space STACK_SIZE

	.section .note.GNU-stack, "", @progbits
