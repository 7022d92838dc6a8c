/* The Multiboot loader against synthetic ELF32 and a.out-kludge images built here: where the
 * bytes land and that the bss is zeroed, the information structure's fields at their
 * specification offsets (flags, memory sizes, memory map, command line, module, loader name),
 * the 32-bit GDT and CPU state; and the refusal, with a message, of images without a valid
 * header, with unsupported requirements, truncated, outside RAM, below 1 MiB or with absurd
 * sizes. The offsets below are the specification's, not the loader's. */
#include <criterion/criterion.h>
#include <elf.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firmware/multiboot.h"

#define MiB	 (1ULL << 20)
#define RAM_SIZE (64 * MiB)

/* Multiboot 0.6.96: header (3.1.1), information structure (3.3), module and mmap entries. */
#define MAGIC	      0x1BADB002u
#define F_PAGE_ALIGN  0x1u
#define F_MEMORY      0x2u
#define F_VIDEO	      0x4u
#define F_ADDRESSES   0x10000u
#define I_FLAGS	      0
#define I_MEM_LOWER   4
#define I_MEM_UPPER   8
#define I_CMDLINE     16
#define I_MODS_COUNT  20
#define I_MODS_ADDR   24
#define I_MMAP_LENGTH 44
#define I_MMAP_ADDR   48
#define I_LOADER_NAME 64
#define INFO_FLAGS    0x24D /* mem, cmdline, mods, mmap, boot_loader_name */
#define ELF_HEADER_AT 0x100 /* where make_elf puts the Multiboot header */
#define ELF_DATA_AT   0x200 /* and where segment data starts */

static struct guest_ram ram;
static uint8_t image[64 * 1024];
static char err[256];
static struct e820_entry e820[LAYOUT_E820_MAX];

static void ram_alloc(void)
{
	ram.size = RAM_SIZE;
	ram.host = malloc(RAM_SIZE);
	cr_assert_not_null(ram.host);
	memset(ram.host, 0xAA, RAM_SIZE);
	memset(image, 0, sizeof(image));
	err[0] = '\0';
}

static void ram_free(void)
{
	free(ram.host);
}

TestSuite(multiboot, .init = ram_alloc, .fini = ram_free);

static uint64_t rd(uint64_t gpa, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, ram.host + gpa, size);
	return v;
}

static uint64_t info(unsigned off)
{
	return rd(MULTIBOOT_INFO_GPA + off, 4);
}

static const char *str(uint64_t gpa)
{
	return (const char *)ram.host + gpa;
}

static void wr(uint8_t *buf, size_t off, uint64_t v, unsigned size)
{
	memcpy(buf + off, &v, size);
}

/* magic, flags, checksum and (bit 16) the five address fields. */
struct mbh {
	uint32_t flags, header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

static void put_header(size_t off, const struct mbh *h)
{
	wr(image, off, MAGIC, 4);
	wr(image, off + 4, h->flags, 4);
	wr(image, off + 8, -(MAGIC + h->flags), 4);
	wr(image, off + 12, h->header_addr, 4);
	wr(image, off + 16, h->load_addr, 4);
	wr(image, off + 20, h->load_end_addr, 4);
	wr(image, off + 24, h->bss_end_addr, 4);
	wr(image, off + 28, h->entry_addr, 4);
}

struct seg {
	uint32_t type, vaddr, paddr, filesz, memsz;
	uint8_t fill;
};

#define LOAD(v, p, f, m, fill)                                                                     \
	{                                                                                          \
		PT_LOAD, v, p, f, m, fill                                                          \
	}

/* An i386 ELF32 executable with a Multiboot header of `flags` at ELF_HEADER_AT. */
static size_t make_elf(const struct seg *s, unsigned n, uint32_t entry, uint32_t flags)
{
	Elf32_Ehdr eh = {.e_type = ET_EXEC,
			 .e_machine = EM_386,
			 .e_version = EV_CURRENT,
			 .e_entry = entry,
			 .e_phoff = sizeof(Elf32_Ehdr),
			 .e_ehsize = sizeof(Elf32_Ehdr),
			 .e_phentsize = sizeof(Elf32_Phdr),
			 .e_phnum = n};
	const struct mbh h = {.flags = flags};
	size_t off = ELF_DATA_AT;

	cr_assert_leq(sizeof(eh) + n * sizeof(Elf32_Phdr), ELF_HEADER_AT);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	memcpy(image, &eh, sizeof(eh));
	put_header(ELF_HEADER_AT, &h);
	for (unsigned i = 0; i < n; i++) {
		Elf32_Phdr p = {.p_type = s[i].type,
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
	const struct seg s[] = {LOAD(0x100000, 0x100000, 0x100, 0x3000, 0x5A)};

	return make_elf(s, 1, 0x100010, F_PAGE_ALIGN | F_MEMORY);
}

/* A flat image of `len` patterned bytes with an address-fields header at file offset `at`. */
static size_t make_aout(size_t len, size_t at, const struct mbh *h)
{
	for (size_t i = 0; i < len; i++)
		image[i] = (uint8_t)(i * 7 + 1);
	put_header(at, h);
	return len;
}

static const struct mbh aout_header = {.flags = F_ADDRESSES | F_PAGE_ALIGN | F_MEMORY,
				       .header_addr = 0x200040,
				       .load_addr = 0x200000,
				       .load_end_addr = 0x200800,
				       .bss_end_addr = 0x202000,
				       .entry_addr = 0x200100};

static struct multiboot_params_in default_in(void)
{
	return (struct multiboot_params_in){.kernel_path = "mbkernel",
					    .initrd_path = "mods/hello.txt",
					    .cmdline = "console=ttyS0 mbtest.exit=3",
					    .e820 = e820,
					    .e820_count =
						layout_e820(RAM_SIZE, e820, LAYOUT_E820_MAX)};
}

static int load_with(size_t len, const uint8_t *mod, size_t mod_len, struct boot_cpu_state *cpu)
{
	struct multiboot_params_in in = default_in();

	return multiboot_load_image(&ram, image, len, mod, mod_len, &in, cpu, err, sizeof(err));
}

static int load(size_t len, struct boot_cpu_state *cpu)
{
	return load_with(len, NULL, 0, cpu);
}

static void assert_rejected(size_t len, const char *needle)
{
	struct boot_cpu_state cpu;

	cr_assert_eq(load(len, &cpu), -1, "image of %zu bytes was accepted", len);
	cr_assert_not_null(strstr(err, needle), "error \"%s\" lacks \"%s\"", err, needle);
}

Test(multiboot, elf_segments_are_loaded_and_bss_cleared)
{
	const struct seg s[] = {{PT_NOTE, 0, 0, 0x10, 0x10, 9},
				LOAD(0x100000, 0x100000, 0x100, 0x3000, 0x5A),
				LOAD(0x400000, 0x400000, 0x10, 0x10, 0x6B)};
	struct boot_cpu_state cpu;

	cr_assert_eq(load(make_elf(s, 3, 0x100010, F_PAGE_ALIGN | F_MEMORY), &cpu), 0, "%s", err);
	cr_assert_eq(cpu.rip, 0x100010);
	cr_assert_eq(rd(0x100000, 1), 0x5A);
	cr_assert_eq(rd(0x1000ff, 1), 0x5A);
	cr_assert_eq(rd(0x100100, 8), 0, "bss starts zeroed");
	cr_assert_eq(rd(0x102ff8, 8), 0, "bss ends zeroed");
	cr_assert_eq(rd(0x103000, 1), 0xAA, "nothing past memsz is touched");
	cr_assert_eq(rd(0x40000f, 1), 0x6B);
	cr_assert_eq(rd(0x400010, 1), 0xAA);
}

Test(multiboot, elf_higher_half_entry_is_translated)
{
	const struct seg s[] = {LOAD(0xC0100000, 0x100000, 0x100, 0x1000, 1)};
	struct boot_cpu_state cpu;

	cr_assert_eq(load(make_elf(s, 1, 0xC0100040, 0), &cpu), 0, "%s", err);
	cr_assert_eq(cpu.rip, 0x100040);
}

Test(multiboot, elf_physical_entry_is_kept)
{
	const struct seg s[] = {LOAD(0xC0100000, 0x100000, 0x100, 0x1000, 1)};
	struct boot_cpu_state cpu;

	cr_assert_eq(load(make_elf(s, 1, 0x100020, 0), &cpu), 0, "%s", err);
	cr_assert_eq(cpu.rip, 0x100020);
}

Test(multiboot, aout_kludge_loads_by_the_address_fields)
{
	struct boot_cpu_state cpu;

	cr_assert_eq(load(make_aout(0x1000, 0x40, &aout_header), &cpu), 0, "%s", err);
	cr_assert_eq(cpu.rip, 0x200100);
	cr_assert_eq(memcmp(ram.host + 0x200000, image, 0x800), 0, "file offset 0 at load_addr");
	cr_assert_eq(rd(0x200040, 4), MAGIC, "the header lands at header_addr");
	cr_assert_eq(rd(0x200800, 8), 0, "bss zeroed from load_end_addr");
	cr_assert_eq(rd(0x201ff8, 8), 0, "up to bss_end_addr");
	cr_assert_eq(rd(0x202000, 1), 0xAA, "and no further");
	cr_assert_eq(rd(0x1fffff, 1), 0xAA);
}

Test(multiboot, aout_text_offset_comes_from_the_header_position)
{
	struct mbh h = aout_header;
	struct boot_cpu_state cpu;

	/* Header at file offset 0x1040 but 0x40 past load_addr: loading starts at offset 0x1000. */
	cr_assert_eq(load(make_aout(0x2000, 0x1040, &h), &cpu), 0, "%s", err);
	cr_assert_eq(memcmp(ram.host + 0x200000, image + 0x1000, 0x800), 0);
}

Test(multiboot, aout_zero_ends_mean_whole_file_and_no_bss)
{
	struct mbh h = aout_header;
	struct boot_cpu_state cpu;

	h.load_end_addr = 0;
	h.bss_end_addr = 0;
	cr_assert_eq(load(make_aout(0x1234, 0x40, &h), &cpu), 0, "%s", err);
	cr_assert_eq(memcmp(ram.host + 0x200000, image, 0x1234), 0);
	cr_assert_eq(rd(0x201234, 1), 0xAA);
}

Test(multiboot, address_fields_win_over_elf_headers)
{
	const struct seg s[] = {LOAD(0x100000, 0x100000, 0x100, 0x1000, 1)};
	struct mbh h = {.flags = F_ADDRESSES,
			.header_addr = 0x300000 + ELF_HEADER_AT,
			.load_addr = 0x300000,
			.load_end_addr = 0,
			.bss_end_addr = 0,
			.entry_addr = 0x300000 + ELF_DATA_AT};
	struct boot_cpu_state cpu;
	size_t len = make_elf(s, 1, 0x100000, 0);

	put_header(ELF_HEADER_AT, &h);
	cr_assert_eq(load(len, &cpu), 0, "%s", err);
	cr_assert_eq(cpu.rip, 0x300000 + ELF_DATA_AT);
	cr_assert_eq(memcmp(ram.host + 0x300000, image, len), 0, "the whole file, ELF header too");
	cr_assert_eq(rd(0x100000, 1), 0xAA, "the program headers are ignored");
}

Test(multiboot, video_mode_request_is_ignored_as_qemu_does)
{
	struct boot_cpu_state cpu;
	size_t len = simple_elf();

	put_header(ELF_HEADER_AT, &(struct mbh){.flags = F_VIDEO | F_MEMORY});
	cr_assert_eq(load(len, &cpu), 0, "%s", err);
	cr_assert_eq(info(I_FLAGS), INFO_FLAGS, "no video information is claimed");
}

Test(multiboot, information_structure)
{
	struct boot_cpu_state cpu;

	cr_assert_eq(load(simple_elf(), &cpu), 0, "%s", err);
	cr_assert_eq(cpu.rbx, MULTIBOOT_INFO_GPA);
	cr_assert_eq(info(I_FLAGS), INFO_FLAGS);
	cr_assert_eq(info(I_MEM_LOWER), 0x9FC00 / 1024, "RAM below the EBDA");
	cr_assert_eq(info(I_MEM_UPPER), (RAM_SIZE - MiB) / 1024);
	cr_assert_str_eq(str(info(I_CMDLINE)), "mbkernel console=ttyS0 mbtest.exit=3");
	cr_assert_str_eq(str(info(I_LOADER_NAME)), "vsmp-vmm");
	cr_assert_eq(info(12), 0, "no boot_device");
	cr_assert_eq(info(88), 0, "no framebuffer");
}

Test(multiboot, bios_data_area_gives_the_top_of_conventional_memory)
{
	struct boot_cpu_state cpu;

	cr_assert_eq(load(simple_elf(), &cpu), 0, "%s", err);
	cr_assert_eq(rd(0x40e, 2), 0x9FC00 >> 4, "EBDA segment");
	cr_assert_eq(rd(0x413, 2), info(I_MEM_LOWER), "base memory KiB = mem_lower");
}

Test(multiboot, memory_map_mirrors_e820)
{
	struct boot_cpu_state cpu;
	uint64_t map;

	cr_assert_eq(load(simple_elf(), &cpu), 0, "%s", err);
	cr_assert_eq(info(I_MMAP_LENGTH), 4 * 24);
	map = info(I_MMAP_ADDR);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t entry = map + 24 * i;

		cr_assert_eq(rd(entry, 4), 20, "size field of entry %u", i);
		cr_assert_eq(rd(entry + 4, 8), e820[i].addr);
		cr_assert_eq(rd(entry + 12, 8), e820[i].size);
		cr_assert_eq(rd(entry + 20, 4), e820[i].type);
	}
	cr_assert_eq(rd(map + 3 * 24 + 4, 8), MiB, "the 4th entry is RAM from 1 MiB");
	cr_assert_eq(rd(map + 3 * 24 + 12, 8), RAM_SIZE - MiB);
}

Test(multiboot, mem_upper_stops_at_the_first_gap)
{
	const struct e820_entry map[] = {
	    {0, 0x9FC00, 1},	{0x9FC00, 0x400, 2},	 {16 * MiB, 16 * MiB, 1},
	    {MiB, 15 * MiB, 1}, {48 * MiB, 16 * MiB, 1}, {0xE0000, 0x20000, 2},
	};
	struct multiboot_params_in in = default_in();
	struct boot_cpu_state cpu;

	in.e820 = map;
	in.e820_count = sizeof(map) / sizeof(map[0]);
	cr_assert_eq(
	    multiboot_load_image(&ram, image, simple_elf(), NULL, 0, &in, &cpu, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(info(I_MEM_LOWER), 639);
	cr_assert_eq(info(I_MEM_UPPER), 31 * 1024, "1 MiB to 32 MiB, across two entries");
	cr_assert_eq(info(I_MMAP_LENGTH), 6 * 24);
}

Test(multiboot, module_follows_the_kernel_page_aligned)
{
	static const char text[] = "hello from module 0\nsecond line";
	struct boot_cpu_state cpu;
	uint64_t mod, start;

	cr_assert_eq(load_with(simple_elf(), (const uint8_t *)text, sizeof(text), &cpu), 0, "%s",
		     err);
	cr_assert_eq(info(I_MODS_COUNT), 1);
	mod = info(I_MODS_ADDR);
	start = rd(mod, 4);
	cr_assert_eq(start, 0x103000, "first page after the kernel's bss");
	cr_assert_eq(rd(mod + 4, 4), start + sizeof(text), "mod_end is one past the last byte");
	cr_assert_str_eq(str(rd(mod + 8, 4)), "mods/hello.txt");
	cr_assert_eq(rd(mod + 12, 4), 0, "reserved");
	cr_assert_eq(memcmp(ram.host + start, text, sizeof(text)), 0);
}

Test(multiboot, module_after_an_unaligned_kernel_end)
{
	const struct seg s[] = {LOAD(0x100000, 0x100000, 0x10, 0x1801, 1)};
	static const uint8_t data[] = {1, 2, 3};
	struct boot_cpu_state cpu;

	cr_assert_eq(load_with(make_elf(s, 1, 0x100000, F_PAGE_ALIGN), data, sizeof(data), &cpu), 0,
		     "%s", err);
	cr_assert_eq(rd(info(I_MODS_ADDR), 4), 0x102000);
}

Test(multiboot, empty_module_is_allowed)
{
	static const uint8_t none[1];
	struct boot_cpu_state cpu;
	uint64_t mod;

	cr_assert_eq(load_with(simple_elf(), none, 0, &cpu), 0, "%s", err);
	cr_assert_eq(info(I_MODS_COUNT), 1);
	mod = info(I_MODS_ADDR);
	cr_assert_eq(rd(mod, 4), rd(mod + 4, 4));
}

Test(multiboot, no_module)
{
	struct boot_cpu_state cpu;

	cr_assert_eq(load(simple_elf(), &cpu), 0, "%s", err);
	cr_assert_eq(info(I_MODS_COUNT), 0);
	cr_assert_neq(info(I_MODS_ADDR), 0);
}

Test(multiboot, command_line_without_path_or_arguments)
{
	struct multiboot_params_in in = default_in();
	struct boot_cpu_state cpu;
	size_t len = simple_elf();

	in.cmdline = NULL;
	cr_assert_eq(multiboot_load_image(&ram, image, len, NULL, 0, &in, &cpu, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(str(info(I_CMDLINE)), "mbkernel");
	in.kernel_path = NULL;
	in.cmdline = "a b";
	cr_assert_eq(multiboot_load_image(&ram, image, len, NULL, 0, &in, &cpu, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(str(info(I_CMDLINE)), "a b");
}

Test(multiboot, cpu_state_is_flat_protected_mode)
{
	struct boot_cpu_state cpu;
	uint64_t code, data;

	cr_assert_eq(load(simple_elf(), &cpu), 0, "%s", err);
	cr_assert(cpu.protected32);
	cr_assert_eq(cpu.rip, 0x100010);
	cr_assert_eq(cpu.rax, 0x2BADB002);
	cr_assert_eq(cpu.rbx, MULTIBOOT_INFO_GPA);
	cr_assert_eq(cpu.cr0, 0x11, "PE and ET, no paging");
	cr_assert_eq(cpu.cr3, 0);
	cr_assert_eq(cpu.cr4, 0);
	cr_assert_eq(cpu.efer, 0);
	cr_assert_eq(cpu.rflags, 2, "IF clear");
	cr_assert_eq(cpu.gdt_base, LAYOUT_GDT);
	cr_assert_eq(cpu.gdt_limit, 31);
	cr_assert_eq(cpu.code_selector, 0x10);
	cr_assert_eq(cpu.data_selector, 0x18);

	code = rd(LAYOUT_GDT + cpu.code_selector, 8);
	data = rd(LAYOUT_GDT + cpu.data_selector, 8);
	cr_assert_eq(rd(LAYOUT_GDT, 8), 0);
	cr_assert_eq(code & 0xffff, 0xffff, "limit 15:0");
	cr_assert_eq((code >> 48) & 0xf, 0xf, "limit 19:16");
	cr_assert_eq((code >> 16) & 0xffffff, 0, "base 23:0");
	cr_assert_eq(code >> 56, 0, "base 31:24");
	cr_assert(code & (1ULL << 55), "4 KiB granularity");
	cr_assert(code & (1ULL << 54), "32-bit (D)");
	cr_assert_eq(code & (1ULL << 53), 0, "not 64-bit (L)");
	cr_assert(code & (1ULL << 47), "present");
	cr_assert(code & (1ULL << 43), "executable");
	cr_assert_eq((code >> 45) & 3, 0, "DPL 0");
	cr_assert_eq(data & ~(1ULL << 43), code & ~(1ULL << 43), "data is the same but for type");
	cr_assert_eq(data & (1ULL << 43), 0, "data is not code");
	cr_assert(data & (1ULL << 41), "data writable");
}

Test(multiboot, header_missing_or_bad_checksum)
{
	size_t len = simple_elf();

	memset(image + ELF_HEADER_AT, 0, 12);
	assert_rejected(len, "mbkernel: no Multiboot header in the first 8192 bytes");
	assert_rejected(0, "no Multiboot header");
	simple_elf();
	wr(image, ELF_HEADER_AT + 8, 0x12345678, 4);
	assert_rejected(len, "offset 0x100 has a bad checksum");
}

Test(multiboot, header_must_be_aligned_and_within_8k)
{
	struct mbh h = aout_header;
	struct boot_cpu_state cpu;

	make_aout(0x3000, 0x40, &h);
	memmove(image + 0x42, image + 0x40, 32);
	wr(image, 0x40, 0, 2);
	assert_rejected(0x3000, "no Multiboot header");

	h.header_addr = h.load_addr + 0x2000;
	make_aout(0x3000, 0x2000, &h);
	assert_rejected(0x3000, "no Multiboot header in the first 8192 bytes");

	h.header_addr = h.load_addr + 0x1ff4;
	make_aout(0x3000, 0x1ff4, &h);
	assert_rejected(0x3000, "runs past the first 8192 bytes");
	h.header_addr = h.load_addr + 0x1fe0;
	make_aout(0x3000, 0x1fe0, &h);
	cr_assert_eq(load(0x3000, &cpu), 0, "32 bytes ending at 8 KiB fit: %s", err);
}

Test(multiboot, unsupported_requirements_are_refused)
{
	size_t len = simple_elf();

	put_header(ELF_HEADER_AT, &(struct mbh){.flags = 0x8 | F_MEMORY});
	assert_rejected(len, "requires features this loader does not provide (flags 0x8)");
	put_header(ELF_HEADER_AT, &(struct mbh){.flags = 0x8000});
	assert_rejected(len, "(flags 0x8000)");
}

Test(multiboot, optional_unknown_flags_are_ignored)
{
	struct boot_cpu_state cpu;
	size_t len = simple_elf();

	put_header(ELF_HEADER_AT, &(struct mbh){.flags = 0x80000000u | F_MEMORY});
	cr_assert_eq(load(len, &cpu), 0, "%s", err);
}

Test(multiboot, truncated_elf)
{
	size_t len = simple_elf();

	memcpy(image, ELFMAG, SELFMAG);
	put_header(4, &(struct mbh){.flags = 0});
	assert_rejected(16, "truncated ELF header");

	simple_elf();
	assert_rejected(len - 1, "segment 0 lies beyond the end of the file");
	wr(image, offsetof(Elf32_Ehdr, e_phoff), 0xfff0, 4);
	assert_rejected(len, "program headers lie beyond the end of the file");
}

Test(multiboot, elf_that_is_not_i386_exec)
{
	size_t len = simple_elf();

	image[EI_CLASS] = ELFCLASS64;
	assert_rejected(len, "not an ELF32 image");
	simple_elf();
	wr(image, offsetof(Elf32_Ehdr, e_machine), EM_X86_64, 2);
	assert_rejected(len, "not a little-endian i386 ELF32 image");
	simple_elf();
	wr(image, offsetof(Elf32_Ehdr, e_type), ET_DYN, 2);
	assert_rejected(len, "ET_EXEC");
	simple_elf();
	wr(image, offsetof(Elf32_Ehdr, e_phnum), 1000, 2);
	assert_rejected(len, "program header table");
	simple_elf();
	wr(image, offsetof(Elf32_Ehdr, e_phentsize), 56, 2);
	assert_rejected(len, "program header table");
}

Test(multiboot, not_elf_without_address_fields)
{
	struct mbh h = aout_header;

	h.flags = F_MEMORY;
	assert_rejected(make_aout(0x1000, 0x40, &h), "must be an ELF32 image");
}

Test(multiboot, elf_segment_outside_ram)
{
	const struct seg past[] = {LOAD(0, RAM_SIZE - 0x800, 0, 0x1000, 1)};
	const struct seg hole[] = {LOAD(0, LAYOUT_IOAPIC_BASE, 0, 0x10, 1)};
	const struct seg wrap[] = {LOAD(0, 0xFFFFF000, 0, 0x2000, 1)};

	assert_rejected(make_elf(past, 1, RAM_SIZE - 0x800, 0), "outside guest RAM");
	assert_rejected(make_elf(hole, 1, LAYOUT_IOAPIC_BASE, 0), "outside guest RAM");
	assert_rejected(make_elf(wrap, 1, 0xFFFFF000, 0), "outside guest RAM");
}

Test(multiboot, elf_segment_below_1mib)
{
	const struct seg gdt[] = {LOAD(0x500, 0x500, 0x10, 0x10, 1)};
	const struct seg info_area[] = {LOAD(0x7000, 0x7000, 0x10, 0x10, 1)};
	const struct seg crossing[] = {LOAD(0xFF000, 0xFF000, 0, 0x2000, 1)};

	assert_rejected(make_elf(gdt, 1, 0x500, 0), "below 1 MiB");
	assert_rejected(make_elf(info_area, 1, 0x7000, 0), "below 1 MiB");
	assert_rejected(make_elf(crossing, 1, 0xFF000, 0), "below 1 MiB");
}

Test(multiboot, elf_bad_segments)
{
	const struct seg fat[] = {LOAD(0x100000, 0x100000, 0x20, 0x10, 1)};
	const struct seg empty[] = {{PT_NOTE, 0, 0, 0x10, 0x10, 0},
				    LOAD(0x100000, 0x100000, 0, 0, 1)};
	const struct seg s[] = {LOAD(0x100000, 0x100000, 0x10, 0x1000, 1)};
	size_t len;

	assert_rejected(make_elf(fat, 1, 0x100000, 0), "more file bytes than memory bytes");
	assert_rejected(make_elf(empty, 2, 0x100000, 0), "no loadable segments");
	assert_rejected(make_elf(s, 1, 0x101000, 0), "entry point 0x101000 is in no loadable");
	len = make_elf(s, 1, 0x100000, 0);
	wr(image, sizeof(Elf32_Ehdr) + offsetof(Elf32_Phdr, p_offset), 0xFFFFFFF8, 4);
	assert_rejected(len, "beyond the end of the file");
}

Test(multiboot, aout_absurd_fields)
{
	struct mbh h;

	h = aout_header;
	h.load_addr = h.header_addr + 4;
	assert_rejected(make_aout(0x1000, 0x40, &h), "load_addr 0x200044 is above header_addr");
	h = aout_header;
	h.load_addr = h.header_addr - 0x41;
	assert_rejected(make_aout(0x1000, 0x40, &h), "before the header");
	h = aout_header;
	h.load_end_addr = h.load_addr - 1;
	assert_rejected(make_aout(0x1000, 0x40, &h), "load_end_addr 0x1fffff is below load_addr");
	h = aout_header;
	h.load_end_addr = h.load_addr + 0x1001;
	assert_rejected(make_aout(0x1000, 0x40, &h), "past the end of the file");
	h = aout_header;
	h.load_end_addr = 0xFFFFFFFF;
	assert_rejected(make_aout(0x1000, 0x40, &h), "past the end of the file");
	h = aout_header;
	h.bss_end_addr = h.load_end_addr - 1;
	assert_rejected(make_aout(0x1000, 0x40, &h), "bss_end_addr 0x2007ff is below the end");
	h = aout_header;
	h.bss_end_addr = 0xFFFFFFFF;
	assert_rejected(make_aout(0x1000, 0x40, &h), "outside guest RAM");
	h = aout_header;
	h.entry_addr = h.bss_end_addr;
	assert_rejected(make_aout(0x1000, 0x40, &h), "entry_addr 0x202000 is outside the kernel");
	h = aout_header;
	h.entry_addr = h.load_addr - 1;
	assert_rejected(make_aout(0x1000, 0x40, &h), "is outside the kernel");
	h = (struct mbh){.flags = F_ADDRESSES,
			 .header_addr = 0x80000,
			 .load_addr = 0x80000,
			 .load_end_addr = 0x80800,
			 .bss_end_addr = 0x82000,
			 .entry_addr = 0x80100};
	assert_rejected(make_aout(0x1000, 0, &h), "below 1 MiB");
}

Test(multiboot, oversized_inputs_are_refused)
{
	struct multiboot_params_in in = default_in();
	struct boot_cpu_state cpu;
	static char line[MULTIBOOT_STRING_MAX];
	uint8_t *big;

	cr_assert_eq(multiboot_load_image(&ram, image, BOOT_MAX_FILE_SIZE + 1, NULL, 0, &in, &cpu,
					  err, sizeof(err)),
		     -1);
	cr_assert_not_null(strstr(err, "limit"), "%s", err);

	memset(line, 'x', sizeof(line) - 1 - strlen("mbkernel "));
	in.cmdline = line;
	cr_assert_eq(
	    multiboot_load_image(&ram, image, simple_elf(), NULL, 0, &in, &cpu, err, sizeof(err)),
	    0, "the longest command line that fits: %s", err);
	line[strlen(line)] = 'x';
	cr_assert_eq(
	    multiboot_load_image(&ram, image, simple_elf(), NULL, 0, &in, &cpu, err, sizeof(err)),
	    -1);
	cr_assert_not_null(strstr(err, "command line is 4096 bytes, at most 4095"), "%s", err);

	big = calloc(1, RAM_SIZE);
	cr_assert_not_null(big);
	cr_assert_eq(load_with(simple_elf(), big, RAM_SIZE - MiB - 0x3000, &cpu), 0, "%s", err);
	cr_assert_eq(load_with(simple_elf(), big, RAM_SIZE - MiB - 0x3000 + 1, &cpu), -1);
	cr_assert_not_null(strstr(err, "module of"), "%s", err);
	free(big);
}

Test(multiboot, too_many_e820_entries)
{
	static struct e820_entry many[MULTIBOOT_MMAP_MAX + 1];
	struct multiboot_params_in in = default_in();
	struct boot_cpu_state cpu;

	in.e820 = many;
	in.e820_count = MULTIBOOT_MMAP_MAX + 1;
	cr_assert_eq(
	    multiboot_load_image(&ram, image, simple_elf(), NULL, 0, &in, &cpu, err, sizeof(err)),
	    -1);
	cr_assert_not_null(strstr(err, "e820"), "%s", err);
	in.e820_count = MULTIBOOT_MMAP_MAX;
	cr_assert_eq(
	    multiboot_load_image(&ram, image, simple_elf(), NULL, 0, &in, &cpu, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(info(I_MMAP_LENGTH), MULTIBOOT_MMAP_MAX * 24);
}

Test(multiboot, ram_below_one_mib_is_refused)
{
	struct guest_ram small = {.host = ram.host, .size = 512 * 1024};
	struct multiboot_params_in in = default_in();
	struct boot_cpu_state cpu;

	cr_assert_eq(
	    multiboot_load_image(&small, image, simple_elf(), NULL, 0, &in, &cpu, err, sizeof(err)),
	    -1);
	cr_assert_not_null(strstr(err, "first MiB"), "%s", err);
}

static void write_temp(char *path, const void *data, size_t len)
{
	int fd;

	strcpy(path, "/tmp/vsmp-test-mb-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

Test(multiboot, load_from_files)
{
	static const char text[] = "module text\n";
	char kpath[64], mpath[64];
	struct multiboot_params_in in = default_in();
	struct boot_cpu_state cpu;
	uint64_t mod;

	write_temp(kpath, image, simple_elf());
	write_temp(mpath, text, strlen(text));
	in.kernel_path = kpath;
	in.initrd_path = mpath;
	cr_assert_eq(multiboot_load(&ram, &in, &cpu, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cpu.rip, 0x100010);
	mod = info(I_MODS_ADDR);
	cr_assert_eq(rd(mod + 4, 4) - rd(mod, 4), strlen(text));
	cr_assert_str_eq(str(rd(mod + 8, 4)), mpath);
	cr_assert_eq(strncmp(str(info(I_CMDLINE)), kpath, strlen(kpath)), 0);

	in.initrd_path = "/nonexistent/module";
	cr_assert_eq(multiboot_load(&ram, &in, &cpu, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "/nonexistent/module: No such file"), "%s", err);
	in.kernel_path = "/tmp";
	cr_assert_eq(multiboot_load(&ram, &in, &cpu, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "not a regular file"), "%s", err);
	unlink(kpath);
	unlink(mpath);
}

Test(multiboot, probe_tells_multiboot_from_the_rest)
{
	char path[64];

	write_temp(path, image, simple_elf());
	cr_assert_eq(multiboot_probe(path, err, sizeof(err)), 1, "%s", err);
	unlink(path);

	wr(image, 0x202, 0x53726448, 4); /* "HdrS": QEMU boots it as Linux */
	write_temp(path, image, ELF_DATA_AT + 0x100);
	cr_assert_eq(multiboot_probe(path, err, sizeof(err)), 0);
	unlink(path);

	simple_elf();
	wr(image, ELF_HEADER_AT + 8, 0, 4);
	write_temp(path, image, ELF_DATA_AT + 0x100);
	cr_assert_eq(multiboot_probe(path, err, sizeof(err)), 0, "a bad checksum is no header");
	unlink(path);

	cr_assert_eq(multiboot_probe("/nonexistent/kernel", err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "/nonexistent/kernel: No such file"), "%s", err);
}
