/* What the test guest takes from the Linux boot_params ("zero page") the VMM hands it. */
#ifndef TESTGUEST_BOOTINFO_H
#define TESTGUEST_BOOTINFO_H

#include <stdint.h>

#define CMDLINE_MAX 1024

struct boot_info {
	char cmdline[CMDLINE_MAX]; /* NUL-terminated copy; empty when there is none */
	uint64_t rsdp;		   /* 0 when the VMM gave none */
	uint64_t ram_bytes;	   /* sum of the e820 RAM entries */
};

void boot_info_read(uint64_t zero_page, struct boot_info *info);

#endif
