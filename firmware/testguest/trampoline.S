/* The AP start-up trampoline. The BSP copies it to TRAMPOLINE_ADDR and starts an AP with a SIPI;
 * the AP arrives here in real mode (CS base TRAMPOLINE_ADDR, IP 0), loads the guest's GDT, goes
 * to 32-bit protected mode, turns on PAE paging with the guest's page tables and EFER.LME, and far
 * jumps into 64-bit code in the main image (ap_long_mode_entry). The code runs at an address other
 * than the one it was linked at, so every address it uses inside itself is computed with AT(). */
#include "firmware/testguest/layout.h"

#define AT(label)   ((label) - trampoline_start + TRAMPOLINE_ADDR)
#define CR0_PE	    0x00000001
#define CR0_ET	    0x00000010
#define CR0_PG	    0x80000000
#define CR4_PAE	    0x00000020
#define MSR_EFER    0xc0000080
#define EFER_LME    0x00000100

	.section .text.trampoline, "ax"
	.code16
	.globl trampoline_start
trampoline_start:
	cli
	mov %cs, %ax
	mov %ax, %ds
	lgdtl (gdt_pointer - trampoline_start)
	/* Writing CR0 whole also clears CD and NW, which INIT leaves set. */
	mov $(CR0_PE | CR0_ET), %eax
	mov %eax, %cr0
	ljmpl $SEL_KERNEL_CODE32, $AT(protected_mode)

	.code32
protected_mode:
	mov $SEL_KERNEL_DATA, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $CR4_PAE, %eax
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov $(CR0_PG | CR0_ET | CR0_PE), %eax
	mov %eax, %cr0
	ljmp $SEL_KERNEL_CODE, $ap_long_mode_entry

	.balign 8
gdt_pointer:
	.word GDT_ENTRIES * 8 - 1
	.long gdt
	.globl trampoline_end
trampoline_end:
