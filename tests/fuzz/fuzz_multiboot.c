/* libFuzzer target for the Multiboot loader: arbitrary bytes as the kernel image (ELF32, the
 * a.out kludge or neither), booted with a small module into 64 MiB of guest RAM. Any crash,
 * sanitizer report or out-of-bounds guest write is a bug; refusals are expected. */
#include <stdint.h>
#include <stdlib.h>

#include "firmware/multiboot.h"

#define RAM_SIZE (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_ram ram;
	static struct e820_entry e820[LAYOUT_E820_MAX];
	static const uint8_t module[4096 + 17];
	struct boot_cpu_state cpu;
	char err[256];

	if (!ram.host) {
		ram.host = malloc(RAM_SIZE);
		if (!ram.host)
			abort();
		ram.size = RAM_SIZE;
	}
	struct multiboot_params_in in = {.kernel_path = "fuzz",
					 .initrd_path = "fuzz-module",
					 .cmdline = "console=ttyS0",
					 .e820 = e820,
					 .e820_count =
					     layout_e820(RAM_SIZE, e820, LAYOUT_E820_MAX)};
	multiboot_load_image(&ram, data, size, module, sizeof(module), &in, &cpu, err, sizeof(err));
	return 0;
}
