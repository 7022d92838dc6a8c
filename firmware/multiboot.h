/* Loading a Multiboot kernel (version 1, specification 0.6.96) the way QEMU's -kernel does: the
 * image is found by its Multiboot header in the first 8 KiB, loaded from its ELF32 program
 * headers or from the header's address fields, given an information structure (memory sizes,
 * memory map, command line, one module, boot loader name) and entered in 32-bit protected mode
 * with paging off, EAX = 0x2BADB002 and EBX = the structure's address. Nothing here touches
 * KVM; the register state goes to the backend as a struct boot_cpu_state with protected32 set. */
#ifndef FIRMWARE_MULTIBOOT_H
#define FIRMWARE_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/boot.h"
#include "firmware/layout.h"

#define MULTIBOOT_HEADER_MAGIC	   0x1BADB002
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002 /* EAX at the kernel's entry */
#define MULTIBOOT_SEARCH	   8192	      /* the header lies wholly within these first bytes */

/* What the loader writes for the kernel, all below 1 MiB where no Multiboot kernel may load
 * (the Linux boot structures at the same places are unused by a Multiboot boot). The GDT is
 * firmware/layout.h's LAYOUT_GDT with 32-bit descriptors at the BOOT_*_SELECTOR selectors. */
#define MULTIBOOT_INFO_GPA	 LAYOUT_ZERO_PAGE /* info structure, module list, name, mmap */
#define MULTIBOOT_INFO_AREA_SIZE 0x1000
#define MULTIBOOT_MODSTR_GPA	 LAYOUT_PML4	    /* module 0's string */
#define MULTIBOOT_CMDLINE_GPA	 LAYOUT_CMDLINE	    /* the kernel's command line */
#define MULTIBOOT_STRING_MAX	 LAYOUT_CMDLINE_MAX /* bytes of either string, NUL included */
#define MULTIBOOT_MMAP_MAX	 160		    /* memory map entries the info area holds */
#define MULTIBOOT_LOADER_NAME	 "vsmp-vmm"

struct multiboot_params_in {
	const char *kernel_path; /* names the kernel in messages and starts its command line */
	const char *initrd_path; /* module 0, may be NULL; its path is also the module's string */
	const char *cmdline;	 /* may be NULL: empty */
	const struct e820_entry *e820;
	unsigned e820_count;
};

/* 1 if the file should boot as Multiboot: a valid header in its first 8 KiB and no Linux setup
 * header (QEMU tries the Linux boot protocol first); 0 if not; -1 + err if it cannot be read. */
int multiboot_probe(const char *path, char *err, size_t errlen);

/* Reads the kernel and module files and loads them. 0 or -1 + err. */
int multiboot_load(const struct guest_ram *ram, const struct multiboot_params_in *in,
		   struct boot_cpu_state *cpu, char *err, size_t errlen);

/* Same from an in-memory image and module (module may be NULL: no modules); the paths in `in`
 * only name things in messages and strings. */
int multiboot_load_image(const struct guest_ram *ram, const uint8_t *image, size_t image_len,
			 const uint8_t *module, size_t module_len,
			 const struct multiboot_params_in *in, struct boot_cpu_state *cpu,
			 char *err, size_t errlen);

#endif
