/* Loading a Linux kernel (or the freestanding test guest) into guest RAM per the x86 64-bit boot
 * protocol: the kernel image, initrd, command line, zero page (boot_params), identity page tables
 * and boot GDT, plus the register state the bootstrap vCPU starts with. Nothing here touches
 * KVM. */
#ifndef FIRMWARE_BOOT_H
#define FIRMWARE_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/layout.h"

/* Kernel and initrd files larger than this are refused. */
#define BOOT_MAX_FILE_SIZE (512ULL << 20)
#define BOOT_CODE_SELECTOR 0x10 /* Linux __BOOT_CS */
#define BOOT_DATA_SELECTOR 0x18 /* Linux __BOOT_DS */
#define BOOT_E820_MAX	   128	/* entries the zero page can hold */

/* What the VMM puts in the BSP's registers. Zero-initialised extras keep the 64-bit meaning:
 * long mode with paging, a 64-bit code segment, rsi = zero page.
 * With protected32 set (a Multiboot kernel, firmware/multiboot.h) the entry is 32-bit protected
 * mode with paging off, and a backend must load: CS = code_selector as flat 32-bit code (base 0,
 * limit 4 GiB, G=1, D=1, L=0), DS/ES/FS/GS/SS = data_selector as flat 32-bit read/write data,
 * GDTR = gdt_base/gdt_limit (the loader wrote descriptors matching those caches there, so a
 * later reload of a selector changes nothing), CR0/CR3/CR4/EFER = cr0 (PE|ET), cr3, cr4, efer
 * (all 0: paging and long mode off), EFLAGS = rflags (0x2: IF clear), EIP = rip, EAX = rax
 * (0x2BADB002), EBX = rbx (the information structure's address), ESP = rsp. */
struct boot_cpu_state {
	uint64_t rip, rsi, rsp, rflags, cr0, cr3, cr4, efer;
	uint64_t gdt_base;
	uint16_t gdt_limit;
	uint16_t code_selector, data_selector;
	bool protected32;
	uint64_t rax, rbx;
};

struct boot_params_in {
	const char *kernel_path; /* also names the kernel in error messages */
	const char *initrd_path; /* may be NULL */
	const char *cmdline;	 /* may be NULL: empty */
	uint64_t acpi_rsdp_gpa;
	const struct e820_entry *e820;
	unsigned e820_count;
};

/* Reads the kernel (ELF64 vmlinux or bzImage) and initrd files and loads them. 0 or -1 + err. */
int boot_load(const struct guest_ram *ram, const struct boot_params_in *in,
	      struct boot_cpu_state *cpu, char *err, size_t errlen);

/* Same from an in-memory kernel image and initrd (initrd may be NULL); the paths in `in` only
 * name things in messages. */
int boot_load_image(const struct guest_ram *ram, const uint8_t *image, size_t image_len,
		    const uint8_t *initrd, size_t initrd_len, const struct boot_params_in *in,
		    struct boot_cpu_state *cpu, char *err, size_t errlen);

#endif
