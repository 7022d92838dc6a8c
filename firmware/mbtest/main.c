/* The Multiboot test kernel's one C file. It reports on COM1, one "MBTEST" line each, what its
 * loader handed it: the magic in EAX, the boot loader's name, the command line, the modules (the
 * first one's size and first line of text) and the RAM the memory map describes; then it writes
 * the value of a "mbtest.exit=N" command-line token (default 0) to the debug-exit port 0x501,
 * which becomes the VMM's exit status. A field whose flag is clear in the information structure
 * is reported as absent, not read. Runs in 32-bit protected mode, paging off, ring 0, with plain
 * integer instructions only; every character costs two port exits, so it prints little. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PORT_COM1	   0x3F8
#define UART_LSR	   5
#define UART_LSR_THRE	   0x20
#define UART_MAX_POLLS	   1000
#define PORT_DEBUG_EXIT	   0x501
#define BOOTLOADER_MAGIC   0x2BADB002
#define MODULE_TEXT_MAX	   64
#define EXIT_TOKEN	   "mbtest.exit="
#define EXIT_NOT_MULTIBOOT 1

/* Information structure flags (Multiboot 0.6.96, 3.3). */
#define INFO_CMDLINE	 (1u << 2)
#define INFO_MODS	 (1u << 3)
#define INFO_MMAP	 (1u << 6)
#define INFO_LOADER_NAME (1u << 9)
#define MMAP_RAM	 1

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr, drives_length, drives_addr, config_table;
	uint32_t boot_loader_name;
};
_Static_assert(offsetof(struct mb_info, mmap_length) == 44, "info layout");
_Static_assert(offsetof(struct mb_info, boot_loader_name) == 64, "info layout");

struct mb_module {
	uint32_t start, end, string, reserved;
};

/* The size field counts the bytes after it, so entries are walked by it, not by sizeof. */
struct mb_mmap_entry {
	uint32_t size;
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

void mbtest_main(uint32_t magic, uint32_t info_addr);

static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t value;

	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
	return value;
}

/* Bounded, so that a UART that never reports an empty transmitter cannot hang the kernel. */
static void put_char(char c)
{
	for (int i = 0; i < UART_MAX_POLLS && !(inb(PORT_COM1 + UART_LSR) & UART_LSR_THRE); i++)
		__asm__ volatile("pause");
	outb(PORT_COM1, (uint8_t)c);
}

static void put_str(const char *s)
{
	while (*s)
		put_char(*s++);
}

static void put_unsigned(uint32_t value, uint32_t base)
{
	char digits[10];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[value % base];
		value /= base;
	} while (value);
	while (n)
		put_char(digits[--n]);
}

static const char *ptr(uint32_t addr)
{
	return (const char *)(uintptr_t)addr;
}

/* Up to the first newline or MODULE_TEXT_MAX bytes, anything unprintable as '.'. */
static void put_text(const char *p, uint32_t len)
{
	for (uint32_t i = 0; i < len && i < MODULE_TEXT_MAX && p[i] != '\n'; i++)
		put_char(p[i] >= ' ' && p[i] <= '~' ? p[i] : '.');
}

static bool starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return false;
	return true;
}

/* The value of the first "mbtest.exit=N" token (a word of the command line), 0 if none, at
 * most 255. */
static uint8_t exit_value(const char *cmdline)
{
	const char *p = cmdline;
	uint32_t value = 0;

	while (*p && !(starts_with(p, EXIT_TOKEN) && (p == cmdline || p[-1] == ' ')))
		p++;
	if (!*p)
		return 0;
	for (p += sizeof(EXIT_TOKEN) - 1; *p >= '0' && *p <= '9' && value <= UINT8_MAX; p++)
		value = value * 10 + (uint32_t)(*p - '0');
	return value > UINT8_MAX ? UINT8_MAX : (uint8_t)value;
}

static void report_modules(const struct mb_info *info)
{
	const struct mb_module *mod = (const struct mb_module *)ptr(info->mods_addr);

	put_str("MBTEST mods=");
	put_unsigned(info->mods_count, 10);
	put_str("\n");
	if (info->mods_count == 0)
		return;
	put_str("MBTEST mod0 size=");
	put_unsigned(mod->end - mod->start, 10);
	put_str(" text=");
	put_text(ptr(mod->start), mod->end - mod->start);
	put_str("\n");
}

/* KiB of RAM (type 1) the memory map describes, capped at 4 TiB. Offsets are 64-bit so that
 * no size field can wrap the walk around. */
static uint32_t mmap_ram_kib(const struct mb_info *info)
{
	uint64_t kib = 0;

	for (uint64_t off = 0; off + sizeof(struct mb_mmap_entry) <= info->mmap_length;) {
		const struct mb_mmap_entry *e =
		    (const struct mb_mmap_entry *)ptr(info->mmap_addr + (uint32_t)off);

		if (e->type == MMAP_RAM)
			kib += e->len >> 10;
		off += (uint64_t)e->size + sizeof(e->size);
	}
	return kib > UINT32_MAX ? UINT32_MAX : (uint32_t)kib;
}

void mbtest_main(uint32_t magic, uint32_t info_addr)
{
	const struct mb_info *info = (const struct mb_info *)ptr(info_addr);
	const char *cmdline = "";
	uint8_t status;

	put_str("MBTEST start magic=0x");
	put_unsigned(magic, 16);
	put_str("\n");
	if (magic != BOOTLOADER_MAGIC) {
		put_str("MBTEST FAIL not started by a Multiboot loader\n");
		outb(PORT_DEBUG_EXIT, EXIT_NOT_MULTIBOOT);
		return;
	}
	put_str("MBTEST flags=0x");
	put_unsigned(info->flags, 16);
	put_str("\n");
	if (info->flags & INFO_LOADER_NAME) {
		put_str("MBTEST loader=");
		put_str(ptr(info->boot_loader_name));
		put_str("\n");
	}
	if (info->flags & INFO_CMDLINE)
		cmdline = ptr(info->cmdline);
	put_str("MBTEST cmdline=");
	put_str(cmdline);
	put_str("\n");
	if (info->flags & INFO_MODS)
		report_modules(info);
	if (info->flags & INFO_MMAP) {
		put_str("MBTEST mem_kib=");
		put_unsigned(mmap_ram_kib(info), 10);
		put_str("\n");
	}
	status = exit_value(cmdline);
	put_str("MBTEST exit=");
	put_unsigned(status, 10);
	put_str("\n");
	outb(PORT_DEBUG_EXIT, status);
}
