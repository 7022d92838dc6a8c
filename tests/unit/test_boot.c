/* The boot protocol loader against synthetic ELF64 and bzImage images built here: entry point,
 * zero-page fields at their boot-protocol offsets, command line, initrd placement, e820 copy,
 * page tables, GDT and CPU state; and the rejection of truncated, garbage, overlapping and
 * oversized images with a message. */
#include <criterion/criterion.h>
#include <elf.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firmware/boot.h"

#define MiB	 (1ULL << 20)
#define RAM_SIZE (64 * MiB)

/* boot_params offsets (Documentation/arch/x86/zero-page.rst, boot.rst) */
#define ACPI_RSDP_ADDR	 0x070
#define E820_ENTRIES	 0x1e8
#define SETUP_SECTS	 0x1f1
#define BOOT_FLAG	 0x1fe
#define HEADER		 0x202
#define VERSION		 0x206
#define TYPE_OF_LOADER	 0x210
#define LOADFLAGS	 0x211
#define CODE32_START	 0x214
#define RAMDISK_IMAGE	 0x218
#define RAMDISK_SIZE	 0x21c
#define HEAP_END_PTR	 0x224
#define CMD_LINE_PTR	 0x228
#define INITRD_ADDR_MAX	 0x22c
#define KERNEL_ALIGNMENT 0x230
#define RELOCATABLE	 0x234
#define XLOADFLAGS	 0x236
#define CMDLINE_SIZE	 0x238
#define PREF_ADDRESS	 0x258
#define INIT_SIZE	 0x260
#define E820_TABLE	 0x2d0

static struct guest_ram ram;
static uint8_t image[64 * 1024];
static char err[256];

static void ram_alloc(void)
{
	ram.size = RAM_SIZE;
	ram.host = malloc(RAM_SIZE);
	cr_assert_not_null(ram.host);
	memset(ram.host, 0xAA, RAM_SIZE);
	err[0] = '\0';
}

static void ram_free(void)
{
	free(ram.host);
}

TestSuite(boot, .init = ram_alloc, .fini = ram_free);

static uint64_t rd(uint64_t gpa, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, ram.host + gpa, size);
	return v;
}

static uint64_t zp(unsigned off, unsigned size)
{
	return rd(LAYOUT_ZERO_PAGE + off, size);
}

static void wr(uint8_t *buf, size_t off, uint64_t v, unsigned size)
{
	memcpy(buf + off, &v, size);
}

struct seg {
	uint32_t type;
	uint64_t vaddr, paddr, filesz, memsz;
	uint8_t fill;
};

#define LOAD(v, p, f, m, fill)                                                                     \
	{                                                                                          \
		PT_LOAD, v, p, f, m, fill                                                          \
	}

static size_t make_elf(const struct seg *s, unsigned n, uint64_t entry)
{
	Elf64_Ehdr eh = {.e_type = ET_EXEC,
			 .e_machine = EM_X86_64,
			 .e_version = EV_CURRENT,
			 .e_entry = entry,
			 .e_phoff = sizeof(Elf64_Ehdr),
			 .e_ehsize = sizeof(Elf64_Ehdr),
			 .e_phentsize = sizeof(Elf64_Phdr),
			 .e_phnum = n};
	size_t off = sizeof(eh) + n * sizeof(Elf64_Phdr);

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	memcpy(image, &eh, sizeof(eh));
	for (unsigned i = 0; i < n; i++) {
		Elf64_Phdr p = {.p_type = s[i].type,
				.p_flags = PF_R | PF_W | PF_X,
				.p_offset = off,
				.p_vaddr = s[i].vaddr,
				.p_paddr = s[i].paddr,
				.p_filesz = s[i].filesz,
				.p_memsz = s[i].memsz,
				.p_align = 0x1000};

		memcpy(image + sizeof(eh) + i * sizeof(p), &p, sizeof(p));
		cr_assert_leq(off + s[i].filesz, sizeof(image));
		memset(image + off, s[i].fill, s[i].filesz);
		off += s[i].filesz;
	}
	return off;
}

static size_t simple_elf(void)
{
	const struct seg s[] = {LOAD(0x200000, 0x200000, 0x100, 0x1000, 0x5A)};

	return make_elf(s, 1, 0x200000);
}

struct bz {
	uint8_t setup_sects, relocatable;
	uint16_t version, xloadflags;
	uint64_t pref;
	uint32_t init_size, cmdline_size, initrd_addr_max;
	size_t kernel_len;
};

static struct bz default_bz(void)
{
	return (struct bz){.setup_sects = 2,
			   .relocatable = 1,
			   .version = 0x020f,
			   .xloadflags = 1,
			   .pref = 16 * MiB,
			   .init_size = 4 * MiB,
			   .cmdline_size = 2047,
			   .initrd_addr_max = 0x7fffffff,
			   .kernel_len = 0x1000};
}

static size_t bz_setup_size(const struct bz *b)
{
	return ((b->setup_sects ? b->setup_sects : 4) + 1) * 512;
}

static size_t make_bzimage(const struct bz *b)
{
	size_t setup = bz_setup_size(b);

	memset(image, 0, setup);
	image[SETUP_SECTS] = b->setup_sects;
	wr(image, BOOT_FLAG, 0xAA55, 2);
	image[0x200] = 0xEB;
	image[0x201] = 0x268 - 0x202; /* header through kernel_info_offset */
	memcpy(image + HEADER, "HdrS", 4);
	wr(image, VERSION, b->version, 2);
	image[LOADFLAGS] = 0x01;
	wr(image, CODE32_START, 0x100000, 4);
	wr(image, INITRD_ADDR_MAX, b->initrd_addr_max, 4);
	wr(image, KERNEL_ALIGNMENT, 0x200000, 4);
	image[RELOCATABLE] = b->relocatable;
	wr(image, XLOADFLAGS, b->xloadflags, 2);
	wr(image, CMDLINE_SIZE, b->cmdline_size, 4);
	wr(image, PREF_ADDRESS, b->pref, 8);
	wr(image, INIT_SIZE, b->init_size, 4);
	for (size_t i = 0; i < b->kernel_len; i++)
		image[setup + i] = (uint8_t)(i * 7 + 1);
	return setup + b->kernel_len;
}

static struct e820_entry e820[LAYOUT_E820_MAX];

static struct boot_params_in default_in(void)
{
	return (struct boot_params_in){.kernel_path = "vmlinux",
				       .initrd_path = "initrd.img",
				       .cmdline = "console=ttyS0 quiet",
				       .acpi_rsdp_gpa = LAYOUT_ACPI_BASE,
				       .e820 = e820,
				       .e820_count = layout_e820(RAM_SIZE, e820, LAYOUT_E820_MAX)};
}

static int load(size_t len, const uint8_t *initrd, size_t initrd_len, struct boot_cpu_state *cpu)
{
	struct boot_params_in in = default_in();

	return boot_load_image(&ram, image, len, initrd, initrd_len, &in, cpu, err, sizeof(err));
}

static void assert_rejected(size_t len, const char *needle)
{
	struct boot_cpu_state cpu;

	cr_assert_eq(load(len, NULL, 0, &cpu), -1);
	cr_assert_not_null(strstr(err, needle), "error \"%s\" lacks \"%s\"", err, needle);
}

Test(boot, elf_segments_are_loaded_and_bss_cleared)
{
	const struct seg s[] = {LOAD(0x200000, 0x200000, 0x100, 0x3000, 0x5A),
				LOAD(0x400000, 0x400000, 0x10, 0x10, 0x6B)};
	struct boot_cpu_state cpu;

	cr_assert_eq(load(make_elf(s, 2, 0x200010), NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(cpu.rip, 0x200010);
	cr_assert_eq(rd(0x200000, 1), 0x5A);
	cr_assert_eq(rd(0x2000ff, 1), 0x5A);
	cr_assert_eq(rd(0x200100, 8), 0);
	cr_assert_eq(rd(0x202ff8, 8), 0);
	cr_assert_eq(rd(0x203000, 1), 0xAA, "nothing past memsz is touched");
	cr_assert_eq(rd(0x40000f, 1), 0x6B);
}

Test(boot, elf_virtual_entry_is_translated)
{
	const struct seg s[] = {LOAD(0xffffffff81000000ULL, 0x1000000, 0x100, 0x1000, 1)};
	struct boot_cpu_state cpu;

	cr_assert_eq(load(make_elf(s, 1, 0xffffffff81000040ULL), NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(cpu.rip, 0x1000040);
}

Test(boot, elf_physical_entry_like_vmlinux)
{
	const struct seg s[] = {{PT_NOTE, 0, 0, 0x10, 0x10, 0},
				LOAD(0xffffffff81000000ULL, 0x1000000, 0x100, 0x1000, 1),
				LOAD(0, 0x1001000, 0x20, 0x1000, 2)};
	struct boot_cpu_state cpu;

	cr_assert_eq(load(make_elf(s, 3, 0x1000000), NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(cpu.rip, 0x1000000);
	cr_assert_eq(rd(0x1001000, 1), 2);
}

Test(boot, elf_zero_page_is_synthesized)
{
	struct boot_cpu_state cpu;

	cr_assert_eq(load(simple_elf(), NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(zp(BOOT_FLAG, 2), 0xAA55);
	cr_assert_eq(zp(HEADER, 4), 0x53726448);
	cr_assert_eq(zp(VERSION, 2), 0x020f);
	cr_assert_eq(zp(KERNEL_ALIGNMENT, 4), 0x200000);
	cr_assert_eq(zp(TYPE_OF_LOADER, 1), 0xff);
	cr_assert_eq(zp(LOADFLAGS, 1) & 0x81, 0x81, "LOADED_HIGH | CAN_USE_HEAP");
	cr_assert_neq(zp(HEAP_END_PTR, 2), 0);
	cr_assert_eq(zp(ACPI_RSDP_ADDR, 8), LAYOUT_ACPI_BASE);
	cr_assert_eq(zp(RAMDISK_IMAGE, 4), 0);
	cr_assert_eq(zp(RAMDISK_SIZE, 4), 0);
	cr_assert_eq(zp(0x0, 8), 0, "the rest of the zero page is cleared");
}

Test(boot, command_line_is_copied)
{
	struct boot_cpu_state cpu;

	cr_assert_eq(load(simple_elf(), NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(zp(CMD_LINE_PTR, 4), LAYOUT_CMDLINE);
	cr_assert_str_eq((const char *)ram.host + LAYOUT_CMDLINE, "console=ttyS0 quiet");
}

Test(boot, null_command_line_is_empty)
{
	struct boot_params_in in = default_in();
	struct boot_cpu_state cpu;

	in.cmdline = NULL;
	cr_assert_eq(
	    boot_load_image(&ram, image, simple_elf(), NULL, 0, &in, &cpu, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(rd(LAYOUT_CMDLINE, 1), 0);
}

Test(boot, e820_is_copied)
{
	struct boot_cpu_state cpu;

	cr_assert_eq(load(simple_elf(), NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(zp(E820_ENTRIES, 1), 4);
	cr_assert_eq(memcmp(ram.host + LAYOUT_ZERO_PAGE + E820_TABLE, e820, 4 * 20), 0);
	cr_assert_eq(zp(E820_TABLE + 3 * 20, 8), MiB, "addr of the 4th entry");
	cr_assert_eq(zp(E820_TABLE + 3 * 20 + 8, 8), RAM_SIZE - MiB, "its size");
	cr_assert_eq(zp(E820_TABLE + 3 * 20 + 16, 4), 1, "its type");
}

Test(boot, too_many_e820_entries)
{
	static struct e820_entry many[BOOT_E820_MAX + 1];
	struct boot_params_in in = default_in();
	struct boot_cpu_state cpu;

	in.e820 = many;
	in.e820_count = BOOT_E820_MAX + 1;
	cr_assert_eq(
	    boot_load_image(&ram, image, simple_elf(), NULL, 0, &in, &cpu, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "e820"), "%s", err);
	in.e820_count = BOOT_E820_MAX;
	cr_assert_eq(
	    boot_load_image(&ram, image, simple_elf(), NULL, 0, &in, &cpu, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(zp(E820_ENTRIES, 1), BOOT_E820_MAX);
}

Test(boot, initrd_goes_as_high_as_possible)
{
	static uint8_t initrd[10000];
	struct boot_cpu_state cpu;

	memset(initrd, 0x3C, sizeof(initrd));
	cr_assert_eq(load(simple_elf(), initrd, sizeof(initrd), &cpu), 0, "%s", err);
	cr_assert_eq(zp(RAMDISK_IMAGE, 4), (RAM_SIZE - sizeof(initrd)) & ~0xfffULL);
	cr_assert_eq(zp(RAMDISK_SIZE, 4), sizeof(initrd));
	cr_assert_eq(memcmp(ram.host + zp(RAMDISK_IMAGE, 4), initrd, sizeof(initrd)), 0);
}

Test(boot, initrd_avoids_a_kernel_at_the_top)
{
	const struct seg s[] = {LOAD(60 * MiB, 60 * MiB, 0x100, 4 * MiB, 1)};
	static uint8_t initrd[3 * 4096 + 1];
	struct boot_cpu_state cpu;
	uint64_t at;

	cr_assert_eq(load(make_elf(s, 1, 60 * MiB), initrd, sizeof(initrd), &cpu), 0, "%s", err);
	at = zp(RAMDISK_IMAGE, 4);
	cr_assert_eq(at, (60 * MiB - sizeof(initrd)) & ~0xfffULL);
	cr_assert_leq(at + sizeof(initrd), 60 * MiB);
}

Test(boot, initrd_respects_initrd_addr_max)
{
	struct bz b = default_bz();
	static uint8_t initrd[5000];
	struct boot_cpu_state cpu;

	b.initrd_addr_max = 8 * MiB - 1;
	cr_assert_eq(load(make_bzimage(&b), initrd, sizeof(initrd), &cpu), 0, "%s", err);
	cr_assert_eq(zp(RAMDISK_IMAGE, 4), (8 * MiB - sizeof(initrd)) & ~0xfffULL);
}

Test(boot, initrd_too_big_is_refused)
{
	uint8_t *initrd = calloc(1, RAM_SIZE);
	struct boot_cpu_state cpu;

	cr_assert_eq(load(simple_elf(), initrd, RAM_SIZE - MiB, &cpu), -1);
	cr_assert_not_null(strstr(err, "initrd.img: initrd"), "%s", err);
	free(initrd);
}

Test(boot, page_tables_identity_map_4g)
{
	struct boot_cpu_state cpu;

	cr_assert_eq(load(simple_elf(), NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(rd(LAYOUT_PML4, 8), 0xA000 | 3);
	cr_assert_eq(rd(LAYOUT_PML4 + 8, 8), 0);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(rd(0xA000 + 8 * i, 8), (0xB000 + 0x1000 * i) | 3);
	cr_assert_eq(rd(0xA000 + 8 * 4, 8), 0);
	for (uint64_t i = 0; i < 2048; i++) {
		uint64_t pte = rd(0xB000 + 8 * i, 8);

		cr_assert_eq(pte, (i << 21) | 0x83, "PD entry %llu = %#llx", (unsigned long long)i,
			     (unsigned long long)pte);
	}
}

Test(boot, gdt_and_cpu_state_are_long_mode)
{
	struct boot_cpu_state cpu;
	uint64_t code, data;

	cr_assert_eq(load(simple_elf(), NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(cpu.gdt_base, LAYOUT_GDT);
	cr_assert_eq(cpu.gdt_limit, 31);
	cr_assert_eq(cpu.code_selector, 0x10);
	cr_assert_eq(cpu.data_selector, 0x18);
	cr_assert_eq(rd(LAYOUT_GDT, 8), 0);
	cr_assert_eq(rd(LAYOUT_GDT + 8, 8), 0);
	code = rd(LAYOUT_GDT + 0x10, 8);
	data = rd(LAYOUT_GDT + 0x18, 8);
	cr_assert(code & (1ULL << 47), "code present");
	cr_assert(code & (1ULL << 53), "code is 64-bit (L)");
	cr_assert(code & (1ULL << 43), "code is executable");
	cr_assert_eq((code >> 45) & 3, 0, "DPL 0");
	cr_assert(data & (1ULL << 47), "data present");
	cr_assert(data & (1ULL << 41), "data writable");
	cr_assert_eq(data & (1ULL << 43), 0, "data is not code");

	cr_assert_eq(cpu.cr0 & 0x80000001ULL, 0x80000001ULL, "PE and PG");
	cr_assert(cpu.cr4 & 0x20, "PAE");
	cr_assert_eq(cpu.efer & 0x500, 0x500, "LME and LMA");
	cr_assert_eq(cpu.cr3, LAYOUT_PML4);
	cr_assert_eq(cpu.rsi, LAYOUT_ZERO_PAGE);
	cr_assert_eq(cpu.rflags, 2);
	cr_assert(cpu.rsp > 0x1000 && cpu.rsp <= LAYOUT_ZERO_PAGE);
}

Test(boot, bzimage_goes_to_pref_address)
{
	struct bz b = default_bz();
	struct boot_cpu_state cpu;
	size_t len = make_bzimage(&b);

	cr_assert_eq(load(len, NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(cpu.rip, 16 * MiB + 0x200);
	cr_assert_eq(memcmp(ram.host + 16 * MiB, image + bz_setup_size(&b), b.kernel_len), 0);
	cr_assert_eq(zp(CODE32_START, 4), 16 * MiB);
}

Test(boot, bzimage_setup_header_is_copied_and_completed)
{
	struct bz b = default_bz();
	struct boot_cpu_state cpu;

	cr_assert_eq(load(make_bzimage(&b), NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(zp(SETUP_SECTS, 1), 2);
	cr_assert_eq(zp(HEADER, 4), 0x53726448);
	cr_assert_eq(zp(PREF_ADDRESS, 8), 16 * MiB);
	cr_assert_eq(zp(INIT_SIZE, 4), 4 * MiB);
	cr_assert_eq(zp(CMDLINE_SIZE, 4), 2047);
	cr_assert_eq(zp(TYPE_OF_LOADER, 1), 0xff);
	cr_assert_eq(zp(LOADFLAGS, 1), 0x81);
	cr_assert_eq(zp(CMD_LINE_PTR, 4), LAYOUT_CMDLINE);
	cr_assert_eq(zp(ACPI_RSDP_ADDR, 8), LAYOUT_ACPI_BASE);
	cr_assert_eq(zp(0x268, 4), 0, "nothing past the header's end is copied");
}

Test(boot, bzimage_initrd_stays_clear_of_init_size)
{
	struct bz b = default_bz();
	static uint8_t initrd[4096];
	struct boot_cpu_state cpu;

	b.pref = 56 * MiB;
	b.init_size = 8 * MiB;
	cr_assert_eq(load(make_bzimage(&b), initrd, sizeof(initrd), &cpu), 0, "%s", err);
	cr_assert_eq(zp(RAMDISK_IMAGE, 4), 56 * MiB - 4096);
}

Test(boot, bzimage_falls_back_to_code32_start)
{
	struct bz b = default_bz();
	struct boot_cpu_state cpu;

	b.pref = 62 * MiB; /* + init_size runs past the end of RAM */
	cr_assert_eq(load(make_bzimage(&b), NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(cpu.rip, 0x100000 + 0x200);
}

Test(boot, bzimage_non_relocatable_uses_code32_start)
{
	struct bz b = default_bz();
	struct boot_cpu_state cpu;

	b.relocatable = 0;
	cr_assert_eq(load(make_bzimage(&b), NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(cpu.rip, 0x100000 + 0x200);
}

Test(boot, bzimage_zero_setup_sects_means_four)
{
	struct bz b = default_bz();
	struct boot_cpu_state cpu;

	b.setup_sects = 0;
	cr_assert_eq(load(make_bzimage(&b), NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(rd(16 * MiB, 1), image[5 * 512]);
	cr_assert_eq(rd(16 * MiB + 1, 1), image[5 * 512 + 1]);
}

Test(boot, bzimage_command_line_limit)
{
	struct bz b = default_bz();
	struct boot_params_in in = default_in();
	struct boot_cpu_state cpu;
	size_t len;

	b.cmdline_size = 5;
	len = make_bzimage(&b);
	in.cmdline = "12345";
	cr_assert_eq(boot_load_image(&ram, image, len, NULL, 0, &in, &cpu, err, sizeof(err)), 0,
		     "%s", err);
	in.cmdline = "123456";
	cr_assert_eq(boot_load_image(&ram, image, len, NULL, 0, &in, &cpu, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "command line"), "%s", err);
}

Test(boot, elf_command_line_limit)
{
	static char line[LAYOUT_CMDLINE_MAX + 1];
	struct boot_params_in in = default_in();
	struct boot_cpu_state cpu;

	memset(line, 'x', LAYOUT_CMDLINE_MAX);
	in.cmdline = line;
	cr_assert_eq(
	    boot_load_image(&ram, image, simple_elf(), NULL, 0, &in, &cpu, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "command line"), "%s", err);
}

Test(boot, bzimage_old_protocol_is_refused)
{
	struct bz b = default_bz();

	b.version = 0x020b;
	assert_rejected(make_bzimage(&b), "2.11 is too old");
}

Test(boot, bzimage_without_64bit_entry_is_refused)
{
	struct bz b = default_bz();

	b.xloadflags = 0;
	assert_rejected(make_bzimage(&b), "64-bit");
}

Test(boot, bzimage_truncations_are_refused)
{
	struct bz b = default_bz();
	size_t len = make_bzimage(&b);

	assert_rejected(bz_setup_size(&b) + 0x200, "truncated");
	assert_rejected(0x250, "truncated");
	cr_assert_gt(len, 0x250);
}

Test(boot, bzimage_that_fits_nowhere_is_refused)
{
	struct bz b = default_bz();

	b.init_size = 0xF0000000;
	assert_rejected(make_bzimage(&b), "outside guest RAM");
}

Test(boot, garbage_is_refused)
{
	memset(image, 0x90, 4096);
	assert_rejected(4096, "vmlinux: not a bzImage or an ELF64 x86-64 kernel");
	assert_rejected(0, "not a bzImage or an ELF64");
}

Test(boot, elf32_is_refused)
{
	simple_elf();
	image[EI_CLASS] = ELFCLASS32;
	assert_rejected(sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr), "not a bzImage or an ELF64");
}

Test(boot, elf_not_exec_is_refused)
{
	size_t len = simple_elf();

	wr(image, offsetof(Elf64_Ehdr, e_type), ET_DYN, 2);
	assert_rejected(len, "ET_EXEC");
}

Test(boot, elf_truncated_program_headers)
{
	simple_elf();
	assert_rejected(sizeof(Elf64_Ehdr) + 10, "program headers");
}

Test(boot, elf_truncated_segment_data)
{
	size_t len = simple_elf();

	assert_rejected(len - 1, "beyond the end of the file");
}

Test(boot, elf_segment_over_the_zero_page)
{
	const struct seg s[] = {LOAD(0x7000, 0x7000, 0x10, 0x10, 1)};

	assert_rejected(make_elf(s, 1, 0x7000), "overlaps the boot GDT, stack and zero page");
}

Test(boot, elf_segment_over_page_tables_cmdline_and_acpi)
{
	const struct seg pt[] = {LOAD(0xC000, 0xC000, 0, 0x10, 1)};
	const struct seg cmd[] = {LOAD(0x1F000, 0x1F000, 0, 0x2000, 1)};
	const struct seg acpi[] = {LOAD(0xF0000, 0xF0000, 0, 0x20000, 1)};

	assert_rejected(make_elf(pt, 1, 0xC000), "page tables");
	assert_rejected(make_elf(cmd, 1, 0x1F000), "command line");
	assert_rejected(make_elf(acpi, 1, 0xF0000), "ACPI");
}

Test(boot, elf_segment_in_the_ap_trampoline_page_is_allowed)
{
	const struct seg s[] = {LOAD(0x8000, 0x8000, 0x10, 0x1000, 7)};
	struct boot_cpu_state cpu;

	cr_assert_eq(load(make_elf(s, 1, 0x8000), NULL, 0, &cpu), 0, "%s", err);
	cr_assert_eq(rd(0x8000, 1), 7);
}

Test(boot, elf_segment_outside_ram)
{
	const struct seg past[] = {LOAD(0, RAM_SIZE - 0x800, 0, 0x1000, 1)};
	const struct seg wrap[] = {LOAD(0, UINT64_MAX - 0xff, 0, 0x1000, 1)};
	const struct seg hole[] = {LOAD(0, LAYOUT_IOAPIC_BASE, 0, 0x10, 1)};

	assert_rejected(make_elf(past, 1, RAM_SIZE - 0x800), "outside guest RAM");
	assert_rejected(make_elf(wrap, 1, UINT64_MAX - 0xff), "outside guest RAM");
	assert_rejected(make_elf(hole, 1, LAYOUT_IOAPIC_BASE), "outside guest RAM");
}

Test(boot, elf_bad_segment_sizes)
{
	const struct seg s[] = {LOAD(0x200000, 0x200000, 0x20, 0x10, 1)};
	size_t len = make_elf(s, 1, 0x200000);

	assert_rejected(len, "more file bytes than memory bytes");
	wr(image, sizeof(Elf64_Ehdr) + offsetof(Elf64_Phdr, p_filesz), 0x10, 8);
	wr(image, sizeof(Elf64_Ehdr) + offsetof(Elf64_Phdr, p_offset), UINT64_MAX - 4, 8);
	assert_rejected(len, "beyond the end of the file");
}

Test(boot, elf_entry_outside_segments)
{
	const struct seg s[] = {LOAD(0x200000, 0x200000, 0x10, 0x1000, 1)};

	assert_rejected(make_elf(s, 1, 0x201000), "entry point");
}

Test(boot, elf_without_load_segments)
{
	const struct seg s[] = {{PT_NOTE, 0, 0, 0x10, 0x10, 0}, LOAD(0x200000, 0x200000, 0, 0, 1)};

	assert_rejected(make_elf(s, 2, 0x200000), "no loadable segments");
}

Test(boot, elf_too_many_program_headers)
{
	size_t len = simple_elf();

	wr(image, offsetof(Elf64_Ehdr, e_phnum), 1000, 2);
	assert_rejected(len, "program header table");
}

Test(boot, oversized_image_is_refused_before_reading)
{
	struct boot_cpu_state cpu;
	struct boot_params_in in = default_in();

	cr_assert_eq(boot_load_image(&ram, image, BOOT_MAX_FILE_SIZE + 1, NULL, 0, &in, &cpu, err,
				     sizeof(err)),
		     -1);
	cr_assert_not_null(strstr(err, "limit"), "%s", err);
}

Test(boot, ram_below_one_mib_is_refused)
{
	struct guest_ram small = {.host = ram.host, .size = 512 * 1024};
	struct boot_params_in in = default_in();
	struct boot_cpu_state cpu;

	cr_assert_eq(
	    boot_load_image(&small, image, simple_elf(), NULL, 0, &in, &cpu, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "first MiB"), "%s", err);
}

static void write_temp(char *path, const void *data, size_t len)
{
	int fd;

	strcpy(path, "/tmp/vsmp-test-boot-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

Test(boot, load_from_files)
{
	char kpath[64], ipath[64];
	static const uint8_t initrd[] = "initramfs";
	struct boot_params_in in = default_in();
	struct boot_cpu_state cpu;

	write_temp(kpath, image, simple_elf());
	write_temp(ipath, initrd, sizeof(initrd));
	in.kernel_path = kpath;
	in.initrd_path = ipath;
	cr_assert_eq(boot_load(&ram, &in, &cpu, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cpu.rip, 0x200000);
	cr_assert_eq(zp(RAMDISK_SIZE, 4), sizeof(initrd));
	cr_assert_str_eq((const char *)ram.host + zp(RAMDISK_IMAGE, 4), "initramfs");
	unlink(kpath);
	unlink(ipath);
}

Test(boot, load_reports_file_errors)
{
	struct boot_params_in in = default_in();
	struct boot_cpu_state cpu;
	char kpath[64];

	in.kernel_path = "/nonexistent/vmlinux";
	cr_assert_eq(boot_load(&ram, &in, &cpu, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "/nonexistent/vmlinux: No such file"), "%s", err);

	in.kernel_path = "/tmp";
	cr_assert_eq(boot_load(&ram, &in, &cpu, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "not a regular file"), "%s", err);

	write_temp(kpath, image, simple_elf());
	in.kernel_path = kpath;
	in.initrd_path = "/nonexistent/initrd";
	cr_assert_eq(boot_load(&ram, &in, &cpu, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "/nonexistent/initrd"), "%s", err);
	unlink(kpath);
}

Test(boot, load_refuses_oversized_file)
{
	struct boot_params_in in = default_in();
	struct boot_cpu_state cpu;
	char kpath[64];

	write_temp(kpath, "", 0);
	cr_assert_eq(truncate(kpath, BOOT_MAX_FILE_SIZE + 1), 0);
	in.kernel_path = kpath;
	cr_assert_eq(boot_load(&ram, &in, &cpu, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "512 MiB limit"), "%s", err);
	unlink(kpath);
}
