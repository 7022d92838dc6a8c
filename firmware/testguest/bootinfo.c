/* Reads the boot_params fields of the Linux x86 boot protocol (Documentation/arch/x86/
 * zero-page.rst) that the guest needs. Every field is bounded: the command line is copied up to
 * CMDLINE_MAX - 1 bytes and never read past 4 GiB (the end of our identity map), and the e820
 * count is capped at the table's capacity. */
#include <stdint.h>

#include "firmware/testguest/bootinfo.h"
#include "firmware/testguest/lib.h"

#define BP_ACPI_RSDP_ADDR 0x070
#define BP_E820_ENTRIES	  0x1e8
#define BP_CMD_LINE_PTR	  0x228
#define BP_E820_TABLE	  0x2d0
#define E820_MAX_ENTRIES  128
#define E820_ENTRY_SIZE	  20
#define E820_RAM	  1
#define MAPPED_LIMIT	  (1ull << 32)

static void copy_cmdline(uint64_t addr, char *out)
{
	uint64_t len = 0;
	if (addr) {
		const char *src = (const char *)(uintptr_t)addr;
		while (len < CMDLINE_MAX - 1 && addr + len < MAPPED_LIMIT && src[len]) {
			out[len] = src[len];
			len++;
		}
	}
	out[len] = 0;
}

static uint64_t e820_ram_bytes(const uint8_t *zero_page)
{
	unsigned entries = zero_page[BP_E820_ENTRIES];
	if (entries > E820_MAX_ENTRIES)
		entries = E820_MAX_ENTRIES;
	uint64_t total = 0;
	for (unsigned i = 0; i < entries; i++) {
		const uint8_t *entry = zero_page + BP_E820_TABLE + i * E820_ENTRY_SIZE;
		uint64_t size = load_le64(entry + 8);
		if (load_le32(entry + 16) == E820_RAM)
			total = total + size < total ? UINT64_MAX : total + size;
	}
	return total;
}

void boot_info_read(uint64_t zero_page, struct boot_info *info)
{
	const uint8_t *bp = (const uint8_t *)(uintptr_t)zero_page;
	copy_cmdline(load_le32(bp + BP_CMD_LINE_PTR), info->cmdline);
	info->rsdp = load_le64(bp + BP_ACPI_RSDP_ADDR);
	info->ram_bytes = e820_ram_bytes(bp);
}
