/* The x86 64-bit boot protocol loader. A kernel image is either an ELF64 executable (an
 * uncompressed vmlinux or the freestanding test guest: PT_LOAD segments go to their physical
 * addresses) or a bzImage (the protected-mode part goes to its preferred address and is entered
 * at +0x200). Both end the same way: a zero page describing the command line, initrd, e820 map
 * and RSDP, identity page tables for the first 4 GiB, a flat GDT, and the BSP in long mode at
 * the entry point with rsi = zero page. Images are untrusted: every offset and size is checked
 * before use, and nothing the kernel occupies may cover the VMM's own boot structures. */
#include <elf.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/boot.h"
#include "firmware/bytes.h"
#include "firmware/image.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "boot structures are little-endian");
_Static_assert(sizeof(struct e820_entry) == 20, "boot_params e820 entries are 20 bytes");

/* Offsets in the zero page (struct boot_params, Documentation/arch/x86/zero-page.rst and
 * boot.rst). A bzImage carries the setup header at the same offsets in its first sectors. */
enum {
	ZP_ACPI_RSDP_ADDR = 0x070,
	ZP_E820_ENTRIES = 0x1e8,
	ZP_SETUP_SECTS = 0x1f1, /* first byte of the setup header */
	ZP_BOOT_FLAG = 0x1fe,
	ZP_HEADER_LEN =
	    0x201, /* displacement of the jump at 0x200: the header ends at 0x202 + it */
	ZP_HEADER = 0x202,
	ZP_VERSION = 0x206,
	ZP_TYPE_OF_LOADER = 0x210,
	ZP_LOADFLAGS = 0x211,
	ZP_CODE32_START = 0x214,
	ZP_RAMDISK_IMAGE = 0x218,
	ZP_RAMDISK_SIZE = 0x21c,
	ZP_HEAP_END_PTR = 0x224,
	ZP_CMD_LINE_PTR = 0x228,
	ZP_INITRD_ADDR_MAX = 0x22c,
	ZP_KERNEL_ALIGNMENT = 0x230,
	ZP_RELOCATABLE_KERNEL = 0x234,
	ZP_XLOADFLAGS = 0x236,
	ZP_CMDLINE_SIZE = 0x238,
	ZP_PREF_ADDRESS = 0x258,
	ZP_INIT_SIZE = 0x260,
	ZP_HEADER_FIELDS_END = 0x264, /* nothing past init_size is read */
	ZP_HEADER_ROOM_END = 0x290,   /* where the zero page's room for the setup header ends */
	ZP_E820_TABLE = 0x2d0,
};

#define HDRS_MAGIC	      0x53726448 /* "HdrS" */
#define BOOT_FLAG_MAGIC	      0xAA55
#define LOADED_HIGH	      0x01
#define CAN_USE_HEAP	      0x80
#define XLF_KERNEL_64	      0x01
#define LOADER_TYPE_UNDEFINED 0xff
#define SETUP_HEAP_END	      0xe000 /* boot.rst's suggested real-mode heap end */
#define BZIMAGE_MIN_VERSION   0x020c /* 2.12: first with xloadflags */
#define BZIMAGE_DEFAULT_SECTS 4
#define BZIMAGE_ENTRY_64      0x200
#define ELF_HEADER_VERSION    0x020f
#define KERNEL_ALIGNMENT      0x200000
#define INITRD_ADDR_MAX	      0x7fffffff
#define PAGE_SIZE	      0x1000ULL
#define MAX_KERNEL_RANGES     ELF_MAX_SEGMENTS

#define PTE_PRESENT  0x1ULL
#define PTE_WRITABLE 0x2ULL
#define PTE_LARGE    0x80ULL
#define LARGE_PAGE   0x200000ULL
#define PD_ENTRIES   2048 /* 4 page directories back to back: 4 GiB of 2 MiB pages */

#define CR0_PE	 0x1ULL
#define CR0_MP	 0x2ULL
#define CR0_ET	 0x10ULL
#define CR0_NE	 0x20ULL
#define CR0_WP	 0x10000ULL
#define CR0_PG	 0x80000000ULL
#define CR4_PAE	 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

struct mem_range {
	uint64_t start, end;
};

/* What a format loader leaves for the common part: where to enter and what memory it claims. */
struct loaded_kernel {
	uint64_t entry;
	struct mem_range ranges[MAX_KERNEL_RANGES];
	unsigned range_count;
};

/* The VMM's own boot structures; the boot stack grows down from LAYOUT_BOOT_STACK_TOP inside the
 * first area. The AP trampoline page is left to the guest on purpose. */
static const struct vmm_area {
	uint64_t start, end;
	const char *what;
} vmm_areas[] = {
    {LAYOUT_GDT, LAYOUT_ZERO_PAGE + LAYOUT_ZERO_PAGE_SIZE, "boot GDT, stack and zero page"},
    {LAYOUT_PML4, LAYOUT_PML4 + LAYOUT_PAGE_TABLES_SIZE, "boot page tables"},
    {LAYOUT_CMDLINE, LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX, "command line"},
    {LAYOUT_EBDA, LAYOUT_ACPI_END, "legacy BIOS and ACPI area"},
};

/* Kernel memory must be RAM below the MMIO hole and stay clear of the VMM's structures. */
static int check_kernel_range(const struct guest_ram *ram, uint64_t start, uint64_t len,
			      const char *name, char *err, size_t errlen)
{
	uint64_t low_end = layout_low_ram_end(ram->size);

	if (start > low_end || len > low_end - start)
		return image_fail(err, errlen,
				  "%s: kernel memory [%#" PRIx64 ", +%#" PRIx64
				  ") is outside guest RAM below %#" PRIx64,
				  name, start, len, low_end);
	for (size_t i = 0; i < sizeof(vmm_areas) / sizeof(vmm_areas[0]); i++) {
		if (start < vmm_areas[i].end && start + len > vmm_areas[i].start)
			return image_fail(err, errlen,
					  "%s: kernel memory [%#" PRIx64 ", +%#" PRIx64
					  ") overlaps the %s at %#" PRIx64,
					  name, start, len, vmm_areas[i].what, vmm_areas[i].start);
	}
	return 0;
}

static bool is_elf64_x86_64(const uint8_t *image, size_t len)
{
	Elf64_Ehdr eh;

	if (len < sizeof(eh))
		return false;
	memcpy(&eh, image, sizeof(eh));
	return memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	       eh.e_ident[EI_DATA] == ELFDATA2LSB && eh.e_machine == EM_X86_64;
}

static bool is_bzimage(const uint8_t *image, size_t len)
{
	return len >= ZP_HEADER + 4 && get32(image, ZP_HEADER) == HDRS_MAGIC;
}

/* boot_params for a kernel that brings none: what a 2.15 bzImage header would say. */
static void synthesize_setup_header(uint8_t *zp)
{
	put16(zp, ZP_BOOT_FLAG, BOOT_FLAG_MAGIC);
	put32(zp, ZP_HEADER, HDRS_MAGIC);
	put16(zp, ZP_VERSION, ELF_HEADER_VERSION);
	put32(zp, ZP_INITRD_ADDR_MAX, INITRD_ADDR_MAX);
	put32(zp, ZP_KERNEL_ALIGNMENT, KERNEL_ALIGNMENT);
	put16(zp, ZP_XLOADFLAGS, XLF_KERNEL_64);
	put32(zp, ZP_CMDLINE_SIZE, LAYOUT_CMDLINE_MAX - 1);
}

static int load_elf(const struct guest_ram *ram, const uint8_t *image, size_t len, uint8_t *zp,
		    const char *name, struct loaded_kernel *k, char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	struct elf_segment seg[ELF_MAX_SEGMENTS];
	unsigned n = 0;

	memcpy(&eh, image, sizeof(eh));
	if (eh.e_type != ET_EXEC)
		return image_fail(err, errlen, "%s: ELF type %u is not an executable (ET_EXEC)",
				  name, eh.e_type);
	if (elf_segments(image, len, true, eh.e_phoff, eh.e_phnum, eh.e_phentsize, seg, &n, name,
			 err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++)
		if (check_kernel_range(ram, seg[i].paddr, seg[i].memsz, name, err, errlen) < 0)
			return -1;
	if (elf_entry_gpa(eh.e_entry, seg, n, &k->entry) < 0)
		return image_fail(err, errlen,
				  "%s: entry point %#" PRIx64 " is in no loadable segment", name,
				  (uint64_t)eh.e_entry);
	elf_copy_segments(ram, image, seg, n);
	for (unsigned i = 0; i < n; i++)
		k->ranges[i] = (struct mem_range){seg[i].paddr, seg[i].paddr + seg[i].memsz};
	k->range_count = n;
	synthesize_setup_header(zp);
	return 0;
}

/* A relocatable kernel goes to its preferred address when that fits, else to code32_start. */
static int bzimage_load_address(const struct guest_ram *ram, const uint8_t *image, uint64_t mem_len,
				const char *name, uint64_t *addr, char *err, size_t errlen)
{
	char ignored[1];
	uint64_t pref = get64(image, ZP_PREF_ADDRESS);

	if (image[ZP_RELOCATABLE_KERNEL] &&
	    check_kernel_range(ram, pref, mem_len, name, ignored, sizeof(ignored)) == 0) {
		*addr = pref;
		return 0;
	}
	*addr = get32(image, ZP_CODE32_START);
	return check_kernel_range(ram, *addr, mem_len, name, err, errlen);
}

static int load_bzimage(const struct guest_ram *ram, const uint8_t *image, size_t len, uint8_t *zp,
			const char *name, struct loaded_kernel *k, char *err, size_t errlen)
{
	uint16_t version;
	size_t setup_size, kernel_len, header_end;
	uint64_t load, mem_len;

	if (len < ZP_HEADER_FIELDS_END)
		return image_fail(err, errlen, "%s: truncated bzImage setup header", name);
	version = get16(image, ZP_VERSION);
	if (version < BZIMAGE_MIN_VERSION)
		return image_fail(err, errlen,
				  "%s: boot protocol %u.%02u is too old (2.12 or later needed)",
				  name, version >> 8, version & 0xff);
	if (!(get16(image, ZP_XLOADFLAGS) & XLF_KERNEL_64))
		return image_fail(err, errlen, "%s: bzImage has no 64-bit entry point", name);

	setup_size =
	    ((size_t)(image[ZP_SETUP_SECTS] ? image[ZP_SETUP_SECTS] : BZIMAGE_DEFAULT_SECTS) + 1) *
	    512;
	if (setup_size + BZIMAGE_ENTRY_64 >= len)
		return image_fail(err, errlen,
				  "%s: truncated bzImage (%zu bytes, %zu of setup code)", name, len,
				  setup_size);
	kernel_len = len - setup_size;
	mem_len = get32(image, ZP_INIT_SIZE);
	if (mem_len < kernel_len)
		mem_len = kernel_len;
	if (bzimage_load_address(ram, image, mem_len, name, &load, err, errlen) < 0)
		return -1;

	header_end = ZP_HEADER + (size_t)image[ZP_HEADER_LEN];
	if (header_end > ZP_HEADER_ROOM_END)
		header_end = ZP_HEADER_ROOM_END;
	if (header_end > len)
		header_end = len;
	memcpy(zp + ZP_SETUP_SECTS, image + ZP_SETUP_SECTS, header_end - ZP_SETUP_SECTS);
	put32(zp, ZP_CODE32_START, (uint32_t)load);

	image_copy_to_guest(ram, load, image + setup_size, kernel_len, 0);
	k->entry = load + BZIMAGE_ENTRY_64;
	k->ranges[0] = (struct mem_range){load, load + mem_len};
	k->range_count = 1;
	return 0;
}

static int write_cmdline(const struct guest_ram *ram, uint8_t *zp, const char *cmdline,
			 const char *name, char *err, size_t errlen)
{
	const char *s = cmdline ? cmdline : "";
	size_t len = strlen(s);
	uint32_t limit = get32(zp, ZP_CMDLINE_SIZE);

	if (limit > LAYOUT_CMDLINE_MAX - 1)
		limit = LAYOUT_CMDLINE_MAX - 1;
	if (len > limit)
		return image_fail(err, errlen, "%s: command line is %zu bytes, at most %u fit",
				  name, len, limit);
	memcpy(guest_ram_ptr(ram, LAYOUT_CMDLINE, len + 1), s, len + 1);
	put32(zp, ZP_CMD_LINE_PTR, LAYOUT_CMDLINE);
	return 0;
}

/* The highest page-aligned start at or above 1 MiB where len bytes end at or below top without
 * touching the kernel. Each move goes below the range hit, so the loop ends. */
static int find_initrd_slot(const struct loaded_kernel *k, uint64_t top, uint64_t len,
			    uint64_t *addr)
{
	uint64_t start;
	bool moved = true;

	if (top < LAYOUT_KERNEL_DEFAULT || len > top - LAYOUT_KERNEL_DEFAULT)
		return -1;
	start = (top - len) & ~(PAGE_SIZE - 1);
	while (moved) {
		moved = false;
		for (unsigned i = 0; i < k->range_count; i++) {
			const struct mem_range *r = &k->ranges[i];

			if (start >= r->end || start + len <= r->start)
				continue;
			if (r->start < LAYOUT_KERNEL_DEFAULT + len)
				return -1;
			start = (r->start - len) & ~(PAGE_SIZE - 1);
			moved = true;
		}
	}
	*addr = start;
	return 0;
}

static int place_initrd(const struct guest_ram *ram, uint8_t *zp, const struct loaded_kernel *k,
			const uint8_t *initrd, size_t len, const char *name, char *err,
			size_t errlen)
{
	uint64_t top = (uint64_t)get32(zp, ZP_INITRD_ADDR_MAX) + 1;
	uint64_t addr;

	if (!initrd)
		return 0;
	if (len == 0)
		return image_fail(err, errlen, "%s: initrd is empty", name);
	if (top > layout_low_ram_end(ram->size))
		top = layout_low_ram_end(ram->size);
	if (find_initrd_slot(k, top, len, &addr) < 0)
		return image_fail(
		    err, errlen,
		    "%s: initrd of %zu bytes does not fit in guest RAM below %#" PRIx64
		    " beside the kernel",
		    name, len, top);
	image_copy_to_guest(ram, addr, initrd, len, 0);
	put32(zp, ZP_RAMDISK_IMAGE, (uint32_t)addr);
	put32(zp, ZP_RAMDISK_SIZE, (uint32_t)len);
	return 0;
}

static int write_e820(uint8_t *zp, const struct e820_entry *e820, unsigned count, char *err,
		      size_t errlen)
{
	if (count > BOOT_E820_MAX)
		return image_fail(err, errlen, "%u e820 entries, the zero page holds at most %u",
				  count, BOOT_E820_MAX);
	zp[ZP_E820_ENTRIES] = (uint8_t)count;
	if (count)
		memcpy(zp + ZP_E820_TABLE, e820, count * sizeof(*e820));
	return 0;
}

/* What every boot loader tells the kernel about itself. */
static void write_loader_fields(uint8_t *zp, uint64_t acpi_rsdp_gpa)
{
	zp[ZP_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
	zp[ZP_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
	put16(zp, ZP_HEAP_END_PTR, SETUP_HEAP_END - 0x200);
	put64(zp, ZP_ACPI_RSDP_ADDR, acpi_rsdp_gpa);
}

/* PML4 -> one PDPT -> four page directories of 2 MiB pages, all supervisor-only. */
static void write_page_tables(uint8_t *pt)
{
	const uint64_t pdpt = LAYOUT_PML4 + PAGE_SIZE, pd = LAYOUT_PML4 + 2 * PAGE_SIZE;

	memset(pt, 0, LAYOUT_PAGE_TABLES_SIZE);
	put64(pt, 0, pdpt | PTE_PRESENT | PTE_WRITABLE);
	for (uint64_t i = 0; i < 4; i++)
		put64(pt, PAGE_SIZE + i * 8, (pd + i * PAGE_SIZE) | PTE_PRESENT | PTE_WRITABLE);
	for (uint64_t i = 0; i < PD_ENTRIES; i++)
		put64(pt, 2 * PAGE_SIZE + i * 8,
		      (i * LARGE_PAGE) | PTE_PRESENT | PTE_WRITABLE | PTE_LARGE);
}

/* Flat 4 GiB descriptors, granularity 4 KiB, present, DPL 0: 64-bit execute/read code (L=1) at
 * BOOT_CODE_SELECTOR and read/write data at BOOT_DATA_SELECTOR. */
static void write_gdt(uint8_t *gdt)
{
	static const uint64_t descriptors[] = {0, 0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL};

	_Static_assert(sizeof(descriptors) == LAYOUT_GDT_SIZE, "GDT size");
	memcpy(gdt, descriptors, sizeof(descriptors));
}

static void set_cpu_state(struct boot_cpu_state *cpu, uint64_t entry)
{
	*cpu = (struct boot_cpu_state){
	    .rip = entry,
	    .rsi = LAYOUT_ZERO_PAGE,
	    .rsp = LAYOUT_BOOT_STACK_TOP,
	    .rflags = 0x2,
	    .cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG,
	    .cr3 = LAYOUT_PML4,
	    .cr4 = CR4_PAE,
	    .efer = EFER_LME | EFER_LMA,
	    .gdt_base = LAYOUT_GDT,
	    .gdt_limit = LAYOUT_GDT_SIZE - 1,
	    .code_selector = BOOT_CODE_SELECTOR,
	    .data_selector = BOOT_DATA_SELECTOR,
	};
}

int boot_load_image(const struct guest_ram *ram, const uint8_t *image, size_t image_len,
		    const uint8_t *initrd, size_t initrd_len, const struct boot_params_in *in,
		    struct boot_cpu_state *cpu, char *err, size_t errlen)
{
	const char *name = in->kernel_path ? in->kernel_path : "kernel";
	struct loaded_kernel k = {0};
	uint8_t *zp;
	int rc;

	if (!guest_ram_ptr(ram, 0, LAYOUT_ACPI_END))
		return image_fail(err, errlen,
				  "guest RAM of %" PRIu64 " bytes does not cover the first MiB",
				  ram->size);
	if (image_len > BOOT_MAX_FILE_SIZE)
		return image_fail(err, errlen, "%s: %zu bytes is over the %llu MiB limit", name,
				  image_len, BOOT_MAX_FILE_SIZE >> 20);
	zp = guest_ram_ptr(ram, LAYOUT_ZERO_PAGE, LAYOUT_ZERO_PAGE_SIZE);
	memset(zp, 0, LAYOUT_ZERO_PAGE_SIZE);
	if (is_elf64_x86_64(image, image_len))
		rc = load_elf(ram, image, image_len, zp, name, &k, err, errlen);
	else if (is_bzimage(image, image_len))
		rc = load_bzimage(ram, image, image_len, zp, name, &k, err, errlen);
	else
		rc = image_fail(err, errlen, "%s: not a bzImage or an ELF64 x86-64 kernel", name);
	if (rc < 0 || write_cmdline(ram, zp, in->cmdline, name, err, errlen) < 0 ||
	    place_initrd(ram, zp, &k, initrd, initrd_len,
			 in->initrd_path ? in->initrd_path : "initrd", err, errlen) < 0 ||
	    write_e820(zp, in->e820, in->e820_count, err, errlen) < 0)
		return -1;
	write_loader_fields(zp, in->acpi_rsdp_gpa);
	write_page_tables(guest_ram_ptr(ram, LAYOUT_PML4, LAYOUT_PAGE_TABLES_SIZE));
	write_gdt(guest_ram_ptr(ram, LAYOUT_GDT, LAYOUT_GDT_SIZE));
	set_cpu_state(cpu, k.entry);
	return 0;
}

int boot_load(const struct guest_ram *ram, const struct boot_params_in *in,
	      struct boot_cpu_state *cpu, char *err, size_t errlen)
{
	const uint8_t *kernel = NULL, *initrd = NULL;
	size_t kernel_len = 0, initrd_len = 0;
	int rc = -1;

	if (!in->kernel_path)
		return image_fail(err, errlen, "no kernel to boot");
	if (image_map_file(in->kernel_path, &kernel, &kernel_len, err, errlen) == 0 &&
	    (!in->initrd_path ||
	     image_map_file(in->initrd_path, &initrd, &initrd_len, err, errlen) == 0))
		rc = boot_load_image(ram, kernel, kernel_len, initrd, initrd_len, in, cpu, err,
				     errlen);
	image_unmap_file(kernel, kernel_len);
	image_unmap_file(initrd, initrd_len);
	return rc;
}
