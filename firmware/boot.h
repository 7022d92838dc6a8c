/* Loading a Linux kernel (or the freestanding test guest) into guest RAM per the x86 64-bit boot
 * protocol: the kernel image, initrd, command line, zero page (boot_params), identity page tables
 * and boot GDT, plus the register state the bootstrap vCPU starts with. Nothing here touches
 * KVM. */
#ifndef FIRMWARE_BOOT_H
#define FIRMWARE_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/layout.h"

/* Kernel and initrd files larger than this are refused. */
#define BOOT_MAX_FILE_SIZE (512ULL << 20)
#define BOOT_CODE_SELECTOR 0x10 /* Linux __BOOT_CS */
#define BOOT_DATA_SELECTOR 0x18 /* Linux __BOOT_DS */
#define BOOT_E820_MAX	   128	/* entries the zero page can hold */

struct boot_cpu_state { /* what the VMM puts in the BSP's registers */
	uint64_t rip, rsi, rsp, rflags, cr0, cr3, cr4, efer;
	uint64_t gdt_base;
	uint16_t gdt_limit;
	uint16_t code_selector, data_selector;
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
