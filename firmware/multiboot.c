/* The Multiboot version 1 loader (specification 0.6.96), matching what QEMU's -kernel does with
 * such an image.
 *
 * The header is the first 32-bit aligned magic in the file's first 8 KiB whose checksum holds.
 * With flags bit 16 (the "a.out kludge") the header's address fields say which bytes of the file
 * go where, ELF or not; without it the image must be an i386 ELF32 executable whose PT_LOAD
 * segments go to their p_paddr. Of the required flag bits, 0 (page-aligned modules) and 1
 * (memory information) are always honoured and 2 (a video mode) is accepted and ignored as QEMU
 * does: no video field is flagged in the information structure, so the kernel keeps the mode it
 * finds. Any other required bit (3-15) refuses the image, as the specification demands.
 *
 * The kernel must lie in RAM between 1 MiB and the MMIO hole: everything below 1 MiB is the
 * loader's (GDT, information area, strings) or the legacy BIOS area's, which is also what GRUB
 * legacy required. The one module (the initrd) goes to the first page boundary after the
 * kernel's end, as QEMU puts it. The command line is the kernel's path, a space and the
 * configured command line, as QEMU and GRUB pass it; the module's string is its path.
 * The boot_device field is not provided (there is no BIOS disk); everything else QEMU fills in is.
 * Of the BIOS data area that QEMU's BIOS leaves, the two words giving the top of conventional
 * memory are written too (write_bda).
 *
 * The image is untrusted: every header field, offset and size is checked against the file and
 * guest RAM before anything is copied. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firmware/bytes.h"
#include "firmware/image.h"
#include "firmware/multiboot.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Multiboot structures are little-endian");

/* Header fields (specification 3.1.1) and how many bytes the flags say are present. */
enum {
	MBH_FLAGS = 4,
	MBH_CHECKSUM = 8,
	MBH_HEADER_ADDR = 12,
	MBH_LOAD_ADDR = 16,
	MBH_LOAD_END_ADDR = 20,
	MBH_BSS_END_ADDR = 24,
	MBH_ENTRY_ADDR = 28,
	MBH_SIZE_MIN = 12,
	MBH_SIZE_ADDRESSES = 32,
	MBH_SIZE_VIDEO = 48,
};

#define MBH_PAGE_ALIGN	0x00000001u
#define MBH_MEMORY_INFO 0x00000002u
#define MBH_VIDEO_MODE	0x00000004u
#define MBH_REQUIRED	0x0000ffffu
#define MBH_ADDRESSES	0x00010000u
#define MBH_HONOURED	(MBH_PAGE_ALIGN | MBH_MEMORY_INFO | MBH_VIDEO_MODE)

/* Information structure fields (specification 3.3); the rest of it stays zero. */
enum {
	MBI_FLAGS = 0,
	MBI_MEM_LOWER = 4,
	MBI_MEM_UPPER = 8,
	MBI_CMDLINE = 16,
	MBI_MODS_COUNT = 20,
	MBI_MODS_ADDR = 24,
	MBI_MMAP_LENGTH = 44,
	MBI_MMAP_ADDR = 48,
	MBI_BOOT_LOADER_NAME = 64,
};
#define MBI_SIZE 116 /* through the framebuffer fields */

#define MBI_HAS_MEMORY	    (1u << 0)
#define MBI_HAS_CMDLINE	    (1u << 2)
#define MBI_HAS_MODS	    (1u << 3)
#define MBI_HAS_MMAP	    (1u << 6)
#define MBI_HAS_LOADER_NAME (1u << 9)

/* Where each piece lies in the information area, and the module and memory map entries (a
 * memory map entry is a u32 size counting the 20 bytes after it, then the e820 entry). */
enum {
	AREA_MODS = 0x80,
	AREA_LOADER_NAME = 0xa0,
	AREA_MMAP = 0x100,
	MOD_START = 0,
	MOD_END = 4,
	MOD_STRING = 8,
	MMAP_ENTRY_SIZE = 24,
};
#define MOD_SIZE 16

_Static_assert(MBI_SIZE <= AREA_MODS && AREA_MODS + MOD_SIZE <= AREA_LOADER_NAME,
	       "info area layout");
_Static_assert(AREA_LOADER_NAME + sizeof(MULTIBOOT_LOADER_NAME) <= AREA_MMAP, "loader name fits");
_Static_assert(AREA_MMAP + MULTIBOOT_MMAP_MAX * MMAP_ENTRY_SIZE <= MULTIBOOT_INFO_AREA_SIZE,
	       "memory map fits the info area");
_Static_assert(sizeof(struct e820_entry) == MMAP_ENTRY_SIZE - 4, "mmap entry = size + e820 entry");
_Static_assert(MULTIBOOT_INFO_GPA + MULTIBOOT_INFO_AREA_SIZE <= LAYOUT_AP_TRAMPOLINE,
	       "the info area leaves the guest's AP trampoline page alone");
_Static_assert(MULTIBOOT_MODSTR_GPA + MULTIBOOT_STRING_MAX <= LAYOUT_PML4 + LAYOUT_PAGE_TABLES_SIZE,
	       "the module string fits where the Linux boot page tables would be");

#define KERNEL_MIN	  LAYOUT_KERNEL_DEFAULT /* 1 MiB */
#define PAGE_SIZE	  0x1000ULL
#define LOWER_MEMORY_MAX  0xA0000ULL /* mem_lower counts at most 640 KiB */
#define LINUX_HDRS_OFFSET 0x202
#define LINUX_HDRS_MAGIC  0x53726448 /* "HdrS": a Linux setup header */
#define CR0_PE		  0x1ULL
#define CR0_ET		  0x10ULL
#define FLAT_CODE32	  0x00cf9b000000ffffULL /* base 0, limit 4 GiB (G), D=1, execute/read */
#define FLAT_DATA32	  0x00cf93000000ffffULL /* base 0, limit 4 GiB (G), B=1, read/write */
#define BDA_GPA		  0x400
#define BDA_SIZE	  0x100
#define BDA_EBDA_SEGMENT  0x0e /* u16: real-mode segment of the extended BIOS data area */
#define BDA_BASE_MEMORY	  0x13 /* u16: KiB of conventional memory */

_Static_assert(BDA_GPA + BDA_SIZE <= LAYOUT_GDT, "the BIOS data area lies below the boot GDT");

struct mb_header {
	size_t offset; /* in the file */
	uint32_t flags;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr; /* bit 16 */
};

struct mb_kernel {
	uint64_t entry;
	uint64_t end; /* one past the highest byte the kernel occupies, bss included */
};

enum header_search { HEADER_FOUND, HEADER_NONE, HEADER_BAD_CHECKSUM };

static enum header_search header_search(const uint8_t *image, size_t len, size_t *offset)
{
	size_t limit = len < MULTIBOOT_SEARCH ? len : MULTIBOOT_SEARCH;
	enum header_search found = HEADER_NONE;

	for (size_t off = 0; off + MBH_SIZE_MIN <= limit; off += 4) {
		uint32_t magic = get32(image, off);

		if (magic != MULTIBOOT_HEADER_MAGIC)
			continue;
		if ((uint32_t)(magic + get32(image, off + MBH_FLAGS) +
			       get32(image, off + MBH_CHECKSUM)) == 0) {
			*offset = off;
			return HEADER_FOUND;
		}
		if (found == HEADER_NONE) {
			*offset = off;
			found = HEADER_BAD_CHECKSUM;
		}
	}
	return found;
}

static size_t header_size(uint32_t flags)
{
	if (flags & MBH_VIDEO_MODE)
		return MBH_SIZE_VIDEO;
	return flags & MBH_ADDRESSES ? MBH_SIZE_ADDRESSES : MBH_SIZE_MIN;
}

static int header_parse(const uint8_t *image, size_t len, struct mb_header *h, const char *name,
			char *err, size_t errlen)
{
	size_t limit = len < MULTIBOOT_SEARCH ? len : MULTIBOOT_SEARCH;
	uint32_t unsupported;

	switch (header_search(image, len, &h->offset)) {
	case HEADER_NONE:
		return image_fail(err, errlen, "%s: no Multiboot header in the first %u bytes",
				  name, MULTIBOOT_SEARCH);
	case HEADER_BAD_CHECKSUM:
		return image_fail(err, errlen,
				  "%s: the Multiboot header at offset %#zx has a bad checksum",
				  name, h->offset);
	case HEADER_FOUND:
		break;
	}
	h->flags = get32(image, h->offset + MBH_FLAGS);
	if (header_size(h->flags) > limit - h->offset)
		return image_fail(
		    err, errlen,
		    "%s: the Multiboot header at offset %#zx (flags %#x) runs past the "
		    "first %u bytes of the file",
		    name, h->offset, h->flags, MULTIBOOT_SEARCH);
	unsupported = h->flags & MBH_REQUIRED & ~MBH_HONOURED;
	if (unsupported)
		return image_fail(err, errlen,
				  "%s: the Multiboot header requires features this loader does not "
				  "provide (flags %#x)",
				  name, unsupported);
	if (h->flags & MBH_ADDRESSES) {
		h->header_addr = get32(image, h->offset + MBH_HEADER_ADDR);
		h->load_addr = get32(image, h->offset + MBH_LOAD_ADDR);
		h->load_end_addr = get32(image, h->offset + MBH_LOAD_END_ADDR);
		h->bss_end_addr = get32(image, h->offset + MBH_BSS_END_ADDR);
		h->entry_addr = get32(image, h->offset + MBH_ENTRY_ADDR);
	}
	return 0;
}

/* Kernel memory must be RAM between 1 MiB and the MMIO hole. */
static int check_kernel_range(const struct guest_ram *ram, uint64_t start, uint64_t len,
			      const char *name, char *err, size_t errlen)
{
	uint64_t low_end = layout_low_ram_end(ram->size);

	if (start < KERNEL_MIN)
		return image_fail(
		    err, errlen,
		    "%s: kernel memory [%#" PRIx64 ", +%#" PRIx64
		    ") starts below 1 MiB, where the boot structures and the legacy BIOS "
		    "area are",
		    name, start, len);
	if (start > low_end || len > low_end - start)
		return image_fail(err, errlen,
				  "%s: kernel memory [%#" PRIx64 ", +%#" PRIx64
				  ") is outside guest RAM below %#" PRIx64,
				  name, start, len, low_end);
	return 0;
}

/* The header's address fields: the file from load_addr's offset (the header's offset less
 * header_addr - load_addr) up to load_end_addr (0: the end of the file) goes to load_addr, and
 * zeroes follow up to bss_end_addr (0: none). */
static int aout_extent(const struct mb_header *h, size_t len, uint64_t *file_off,
		       uint64_t *load_len, uint64_t *mem_len, const char *name, char *err,
		       size_t errlen)
{
	if (h->load_addr > h->header_addr)
		return image_fail(err, errlen,
				  "%s: Multiboot load_addr %#x is above header_addr %#x", name,
				  h->load_addr, h->header_addr);
	if (h->header_addr - h->load_addr > h->offset)
		return image_fail(
		    err, errlen,
		    "%s: Multiboot load_addr %#x would start %#x bytes before the header, "
		    "which is at file offset %#zx",
		    name, h->load_addr, h->header_addr - h->load_addr, h->offset);
	*file_off = h->offset - (h->header_addr - h->load_addr);
	if (h->load_end_addr && h->load_end_addr < h->load_addr)
		return image_fail(err, errlen,
				  "%s: Multiboot load_end_addr %#x is below load_addr %#x", name,
				  h->load_end_addr, h->load_addr);
	*load_len = h->load_end_addr ? h->load_end_addr - h->load_addr : len - *file_off;
	if (*load_len > len - *file_off)
		return image_fail(err, errlen,
				  "%s: Multiboot load_end_addr %#x asks for %#" PRIx64
				  " bytes from file offset %#" PRIx64 ", past the end of the file",
				  name, h->load_end_addr, *load_len, *file_off);
	*mem_len = *load_len;
	if (h->bss_end_addr) {
		if ((uint64_t)h->bss_end_addr < h->load_addr + *load_len)
			return image_fail(
			    err, errlen,
			    "%s: Multiboot bss_end_addr %#x is below the end of the loaded "
			    "image %#" PRIx64,
			    name, h->bss_end_addr, h->load_addr + *load_len);
		*mem_len = h->bss_end_addr - h->load_addr;
	}
	return 0;
}

static int load_aout(const struct guest_ram *ram, const uint8_t *image, size_t len,
		     const struct mb_header *h, const char *name, struct mb_kernel *k, char *err,
		     size_t errlen)
{
	uint64_t file_off = 0, load_len = 0, mem_len = 0;
	uint8_t *dst;

	if (aout_extent(h, len, &file_off, &load_len, &mem_len, name, err, errlen) < 0 ||
	    check_kernel_range(ram, h->load_addr, mem_len, name, err, errlen) < 0)
		return -1;
	if ((uint64_t)h->entry_addr - h->load_addr >= mem_len)
		return image_fail(
		    err, errlen,
		    "%s: Multiboot entry_addr %#x is outside the kernel [%#x, %#" PRIx64 ")", name,
		    h->entry_addr, h->load_addr, h->load_addr + mem_len);
	dst = guest_ram_ptr(ram, h->load_addr, mem_len);
	memcpy(dst, image + file_off, load_len);
	memset(dst + load_len, 0, mem_len - load_len);
	k->entry = h->entry_addr;
	k->end = h->load_addr + mem_len;
	return 0;
}

static int elf32_header(const uint8_t *image, size_t len, Elf32_Ehdr *eh, const char *name,
			char *err, size_t errlen)
{
	if (len < sizeof(*eh))
		return image_fail(err, errlen, "%s: truncated ELF header", name);
	memcpy(eh, image, sizeof(*eh));
	if (eh->e_ident[EI_CLASS] != ELFCLASS32)
		return image_fail(err, errlen,
				  "%s: not an ELF32 image; a Multiboot kernel without the address "
				  "fields (flags bit 16) must be one",
				  name);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_386)
		return image_fail(err, errlen, "%s: not a little-endian i386 ELF32 image", name);
	if (eh->e_type != ET_EXEC)
		return image_fail(err, errlen, "%s: ELF type %u is not an executable (ET_EXEC)",
				  name, eh->e_type);
	return 0;
}

static int load_elf32(const struct guest_ram *ram, const uint8_t *image, size_t len,
		      const char *name, struct mb_kernel *k, char *err, size_t errlen)
{
	Elf32_Ehdr eh;
	struct elf_segment seg[ELF_MAX_SEGMENTS];
	unsigned n;

	if (elf32_header(image, len, &eh, name, err, errlen) < 0 ||
	    elf_segments(image, len, false, eh.e_phoff, eh.e_phnum, eh.e_phentsize, seg, &n, name,
			 err, errlen) < 0)
		return -1;
	k->end = 0;
	for (unsigned i = 0; i < n; i++) {
		if (check_kernel_range(ram, seg[i].paddr, seg[i].memsz, name, err, errlen) < 0)
			return -1;
		if (seg[i].paddr + seg[i].memsz > k->end)
			k->end = seg[i].paddr + seg[i].memsz;
	}
	/* QEMU enters at e_entry unchanged, right for the usual kernel linked where it loads; one
	 * linked elsewhere has its entry translated through its segment, as GRUB does. */
	if (elf_entry_gpa(eh.e_entry, seg, n, &k->entry) < 0)
		return image_fail(err, errlen, "%s: entry point %#x is in no loadable segment",
				  name, eh.e_entry);
	elf_copy_segments(ram, image, seg, n);
	return 0;
}

static int load_kernel(const struct guest_ram *ram, const uint8_t *image, size_t len,
		       const struct mb_header *h, const char *name, struct mb_kernel *k, char *err,
		       size_t errlen)
{
	if (h->flags & MBH_ADDRESSES)
		return load_aout(ram, image, len, h, name, k, err, errlen);
	if (len >= SELFMAG && memcmp(image, ELFMAG, SELFMAG) == 0)
		return load_elf32(ram, image, len, name, k, err, errlen);
	return image_fail(
	    err, errlen,
	    "%s: a Multiboot kernel without the address fields (flags bit 16) must be an "
	    "ELF32 image",
	    name);
}

/* Writes a, then a space if both are non-empty, then b, as one string at gpa. */
static int put_string(const struct guest_ram *ram, uint64_t gpa, const char *a, const char *b,
		      const char *what, const char *name, char *err, size_t errlen)
{
	size_t la = strlen(a), lb = strlen(b), sep = la && lb ? 1 : 0;
	char *dst;

	if (la + sep + lb >= MULTIBOOT_STRING_MAX)
		return image_fail(err, errlen, "%s: %s is %zu bytes, at most %u fit", name, what,
				  la + sep + lb, MULTIBOOT_STRING_MAX - 1);
	dst = guest_ram_ptr(ram, gpa, MULTIBOOT_STRING_MAX);
	memcpy(dst, a, la);
	memset(dst + la, ' ', sep);
	memcpy(dst + la + sep, b, lb + 1);
	return 0;
}

/* The module goes to the first page after the kernel; mods_addr is set even with no module. */
static int place_module(const struct guest_ram *ram, uint8_t *info, const struct mb_kernel *k,
			const uint8_t *module, size_t len, const char *path, const char *name,
			char *err, size_t errlen)
{
	uint64_t low_end = layout_low_ram_end(ram->size);
	uint64_t start = (k->end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	uint8_t *mod = info + AREA_MODS;

	put32(info, MBI_MODS_ADDR, MULTIBOOT_INFO_GPA + AREA_MODS);
	if (!module)
		return 0;
	if (start > low_end || len > low_end - start)
		return image_fail(err, errlen,
				  "%s: module of %zu bytes does not fit in guest RAM between the "
				  "kernel's end %#" PRIx64 " and %#" PRIx64,
				  name, len, k->end, low_end);
	if (put_string(ram, MULTIBOOT_MODSTR_GPA, path, "", "the module's path", name, err,
		       errlen) < 0)
		return -1;
	if (len)
		image_copy_to_guest(ram, start, module, len, 0);
	put32(info, MBI_MODS_COUNT, 1);
	put32(mod, MOD_START, (uint32_t)start);
	put32(mod, MOD_END, (uint32_t)(start + len));
	put32(mod, MOD_STRING, MULTIBOOT_MODSTR_GPA);
	return 0;
}

static int write_mmap(uint8_t *info, const struct e820_entry *e820, unsigned count, char *err,
		      size_t errlen)
{
	if (count > MULTIBOOT_MMAP_MAX)
		return image_fail(err, errlen,
				  "%u e820 entries, the Multiboot memory map holds at most %u",
				  count, MULTIBOOT_MMAP_MAX);
	for (unsigned i = 0; i < count; i++) {
		uint8_t *entry = info + AREA_MMAP + i * MMAP_ENTRY_SIZE;

		put32(entry, 0, MMAP_ENTRY_SIZE - 4);
		memcpy(entry + 4, &e820[i], sizeof(e820[i]));
	}
	put32(info, MBI_MMAP_LENGTH, count * MMAP_ENTRY_SIZE);
	put32(info, MBI_MMAP_ADDR, MULTIBOOT_INFO_GPA + AREA_MMAP);
	return 0;
}

/* One past the end of the RAM that runs on without a gap from start (start if none covers it).
 * Each growth passes an entry's end, so no entry grows it twice and the loop ends. */
static uint64_t ram_run_end(const struct e820_entry *e820, unsigned count, uint64_t start)
{
	uint64_t end = start;
	bool grew = true;

	while (grew) {
		grew = false;
		for (unsigned i = 0; i < count; i++) {
			struct e820_entry e = e820[i];
			uint64_t e_end = e.addr + e.size < e.addr ? UINT64_MAX : e.addr + e.size;

			if (e.type == E820_TYPE_RAM && e.addr <= end && end < e_end) {
				end = e_end;
				grew = true;
			}
		}
	}
	return end;
}

/* mem_lower: KiB of RAM from 0 (at most 640); mem_upper: KiB of RAM from 1 MiB up to the first
 * gap, the specification's "first upper memory hole". */
static void write_memory_sizes(uint8_t *info, const struct e820_entry *e820, unsigned count)
{
	uint64_t lower = ram_run_end(e820, count, 0);
	uint64_t upper_kib = (ram_run_end(e820, count, KERNEL_MIN) - KERNEL_MIN) >> 10;

	put32(info, MBI_MEM_LOWER,
	      (uint32_t)((lower < LOWER_MEMORY_MAX ? lower : LOWER_MEMORY_MAX) >> 10));
	put32(info, MBI_MEM_UPPER, upper_kib > UINT32_MAX ? UINT32_MAX : (uint32_t)upper_kib);
}

static void write_info_fields(uint8_t *info, const struct multiboot_params_in *in)
{
	write_memory_sizes(info, in->e820, in->e820_count);
	put32(info, MBI_CMDLINE, MULTIBOOT_CMDLINE_GPA);
	memcpy(info + AREA_LOADER_NAME, MULTIBOOT_LOADER_NAME, sizeof(MULTIBOOT_LOADER_NAME));
	put32(info, MBI_BOOT_LOADER_NAME, MULTIBOOT_INFO_GPA + AREA_LOADER_NAME);
	put32(info, MBI_FLAGS,
	      MBI_HAS_MEMORY | MBI_HAS_CMDLINE | MBI_HAS_MODS | MBI_HAS_MMAP | MBI_HAS_LOADER_NAME);
}

/* A kernel may take the top of conventional memory from the BIOS data area as well as from
 * mem_lower: Xen puts its real-mode trampoline below the lower of the EBDA's segment (or the base
 * memory size) and mem_lower, so with zeros there its address wraps below 0. Both words agree
 * with mem_lower; the EBDA lies right above it, where the e820 map reserves it. */
static void write_bda(const struct guest_ram *ram, uint32_t mem_lower_kib)
{
	uint8_t *bda = guest_ram_ptr(ram, BDA_GPA, BDA_SIZE);

	put16(bda, BDA_EBDA_SEGMENT, (uint16_t)(mem_lower_kib << 6));
	put16(bda, BDA_BASE_MEMORY, (uint16_t)mem_lower_kib);
}

/* Descriptors matching the segment caches a backend loads, so that a selector reload by the
 * kernel changes nothing: null, null, flat 32-bit code, flat 32-bit data. */
static void write_gdt(uint8_t *gdt)
{
	static const uint64_t descriptors[] = {0, 0, FLAT_CODE32, FLAT_DATA32};

	_Static_assert(sizeof(descriptors) == LAYOUT_GDT_SIZE, "GDT size");
	_Static_assert(BOOT_CODE_SELECTOR == 2 * 8 && BOOT_DATA_SELECTOR == 3 * 8, "selectors");
	memcpy(gdt, descriptors, sizeof(descriptors));
}

/* The specification leaves ESP undefined; a valid stack below the info area costs nothing. */
static void set_cpu_state(struct boot_cpu_state *cpu, uint64_t entry)
{
	*cpu = (struct boot_cpu_state){
	    .protected32 = true,
	    .rip = entry,
	    .rax = MULTIBOOT_BOOTLOADER_MAGIC,
	    .rbx = MULTIBOOT_INFO_GPA,
	    .rsp = LAYOUT_BOOT_STACK_TOP,
	    .rflags = 0x2,
	    .cr0 = CR0_PE | CR0_ET,
	    .gdt_base = LAYOUT_GDT,
	    .gdt_limit = LAYOUT_GDT_SIZE - 1,
	    .code_selector = BOOT_CODE_SELECTOR,
	    .data_selector = BOOT_DATA_SELECTOR,
	};
}

int multiboot_load_image(const struct guest_ram *ram, const uint8_t *image, size_t image_len,
			 const uint8_t *module, size_t module_len,
			 const struct multiboot_params_in *in, struct boot_cpu_state *cpu,
			 char *err, size_t errlen)
{
	const char *name = in->kernel_path ? in->kernel_path : "kernel";
	struct mb_header h = {0};
	struct mb_kernel k;
	uint8_t *info;

	if (!guest_ram_ptr(ram, 0, LAYOUT_ACPI_END))
		return image_fail(err, errlen,
				  "guest RAM of %" PRIu64 " bytes does not cover the first MiB",
				  ram->size);
	if (image_len > BOOT_MAX_FILE_SIZE || module_len > BOOT_MAX_FILE_SIZE)
		return image_fail(err, errlen,
				  "%s: the kernel or module is over the %llu MiB limit", name,
				  BOOT_MAX_FILE_SIZE >> 20);
	if (header_parse(image, image_len, &h, name, err, errlen) < 0 ||
	    load_kernel(ram, image, image_len, &h, name, &k, err, errlen) < 0)
		return -1;
	info = guest_ram_ptr(ram, MULTIBOOT_INFO_GPA, MULTIBOOT_INFO_AREA_SIZE);
	memset(info, 0, MULTIBOOT_INFO_AREA_SIZE);
	if (put_string(ram, MULTIBOOT_CMDLINE_GPA, in->kernel_path ? in->kernel_path : "",
		       in->cmdline ? in->cmdline : "", "the command line", name, err, errlen) < 0 ||
	    place_module(ram, info, &k, module, module_len, in->initrd_path ? in->initrd_path : "",
			 name, err, errlen) < 0 ||
	    write_mmap(info, in->e820, in->e820_count, err, errlen) < 0)
		return -1;
	write_info_fields(info, in);
	write_bda(ram, get32(info, MBI_MEM_LOWER));
	write_gdt(guest_ram_ptr(ram, LAYOUT_GDT, LAYOUT_GDT_SIZE));
	set_cpu_state(cpu, k.entry);
	return 0;
}

int multiboot_probe(const char *path, char *err, size_t errlen)
{
	uint8_t head[MULTIBOOT_SEARCH];
	size_t offset;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return image_fail(err, errlen, "%s: %s", path, strerror(errno));
	got = image_read_up_to(fd, head, sizeof(head));
	if (got < 0)
		image_fail(err, errlen, "%s: %s", path, strerror(errno));
	close(fd);
	if (got < 0)
		return -1;
	if ((size_t)got >= LINUX_HDRS_OFFSET + 4 &&
	    get32(head, LINUX_HDRS_OFFSET) == LINUX_HDRS_MAGIC)
		return 0;
	return header_search(head, (size_t)got, &offset) == HEADER_FOUND;
}

int multiboot_load(const struct guest_ram *ram, const struct multiboot_params_in *in,
		   struct boot_cpu_state *cpu, char *err, size_t errlen)
{
	const uint8_t *kernel = NULL, *module = NULL;
	size_t kernel_len = 0, module_len = 0;
	int rc = -1;

	if (!in->kernel_path)
		return image_fail(err, errlen, "no kernel to boot");
	if (image_map_file(in->kernel_path, &kernel, &kernel_len, err, errlen) == 0 &&
	    (!in->initrd_path ||
	     image_map_file(in->initrd_path, &module, &module_len, err, errlen) == 0))
		rc = multiboot_load_image(ram, kernel, kernel_len, module, module_len, in, cpu, err,
					  errlen);
	image_unmap_file(kernel, kernel_len);
	image_unmap_file(module, module_len);
	return rc;
}
