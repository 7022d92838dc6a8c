/* libFuzzer target for the boot loader: arbitrary bytes as the kernel image (ELF64, bzImage or
 * neither), booted with a small initrd into 64 MiB of guest RAM. Any crash, sanitizer report or
 * out-of-bounds guest write is a bug; refusals are expected. */
#include <stdint.h>
#include <stdlib.h>

#include "firmware/boot.h"

#define RAM_SIZE (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_ram ram;
	static struct e820_entry e820[LAYOUT_E820_MAX];
	static const uint8_t initrd[4096 + 17];
	struct boot_cpu_state cpu;
	char err[256];

	if (!ram.host) {
		ram.host = malloc(RAM_SIZE);
		if (!ram.host)
			abort();
		ram.size = RAM_SIZE;
	}
	struct boot_params_in in = {.kernel_path = "fuzz",
				    .initrd_path = "fuzz-initrd",
				    .cmdline = "console=ttyS0",
				    .acpi_rsdp_gpa = LAYOUT_ACPI_BASE,
				    .e820 = e820,
				    .e820_count = layout_e820(RAM_SIZE, e820, LAYOUT_E820_MAX)};
	boot_load_image(&ram, data, size, initrd, sizeof(initrd), &in, &cpu, err, sizeof(err));
	return 0;
}
