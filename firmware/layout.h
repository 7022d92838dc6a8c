/* Guest-physical memory layout: where the VMM puts its boot structures, how the RAM mapping's
 * offsets become guest-physical addresses around the MMIO hole, and the e820 map that describes
 * it to the guest. Every part of the VMM takes addresses from here, and the one platform constant
 * a device model and a CPU backend must agree on: the LAPIC timer's clock. */
#ifndef FIRMWARE_LAYOUT_H
#define FIRMWARE_LAYOUT_H

#include <stdint.h>

#define LAYOUT_MMIO_HOLE_START 0xC0000000ULL
#define LAYOUT_MMIO_HOLE_END   0x100000000ULL
#define LAYOUT_LAPIC_BASE      0xFEE00000ULL
#define LAYOUT_IOAPIC_BASE     0xFEC00000ULL
/* The bus clock the LAPIC timer counts at, before its divider: the LAPIC model (devices/lapic.c)
 * counts at it and the interpreter's CPUID reports it (vmm/cpu/emu/emu_cpuid.c). */
#define LAPIC_TIMER_HZ 100000000ULL

/* Below 1 MiB: the VMM's boot structures. The boot stack grows down from the zero page. */
#define LAYOUT_GDT	      0x500 /* boot GDT: null, null, code 0x10, data 0x18 */
#define LAYOUT_GDT_SIZE	      0x20
#define LAYOUT_BOOT_STACK_TOP 0x7000
#define LAYOUT_ZERO_PAGE      0x7000 /* boot_params */
#define LAYOUT_ZERO_PAGE_SIZE 0x1000
/* Reserved for the guest's AP start-up code (not used by the VMM). */
#define LAYOUT_AP_TRAMPOLINE 0x8000
/* Identity page tables: PML4, PDPT, 4 PDs (0..4 GiB, 2 MiB pages). */
#define LAYOUT_PML4		0x9000
#define LAYOUT_PAGE_TABLES_SIZE 0x6000
#define LAYOUT_CMDLINE		0x20000
#define LAYOUT_CMDLINE_MAX	0x1000 /* bytes, NUL included */
/* Reserved from the EBDA up; [LEGACY_HOLE, ACPI_BASE) is absent from e820. */
#define LAYOUT_EBDA	   0x9FC00
#define LAYOUT_LEGACY_HOLE 0xA0000
/* RSDP and all ACPI tables, then the reset vector's stub (firmware/reset_vector.h). Both lie in
 * the e820's reserved [LAYOUT_ACPI_BASE, LAYOUT_ACPI_END). */
#define LAYOUT_ACPI_BASE      0xE0000
#define LAYOUT_RESET_VECTOR   0xFFFF0
#define LAYOUT_ACPI_END	      0x100000
#define LAYOUT_KERNEL_DEFAULT 0x100000

struct guest_ram {
	uint8_t *host;
	uint64_t size;
};

/* Host pointer to [gpa, gpa + len), or NULL if len is 0, any byte of the range is not RAM, it
 * crosses the MMIO hole or the arithmetic overflows. */
void *guest_ram_ptr(const struct guest_ram *ram, uint64_t gpa, uint64_t len);

uint64_t layout_ram_offset_to_gpa(uint64_t offset);

/* 0 and *offset set if gpa is backed by RAM of ram_size bytes, else -1. */
int layout_gpa_to_ram_offset(uint64_t gpa, uint64_t ram_size, uint64_t *offset);

/* One past the last RAM address below the MMIO hole. */
uint64_t layout_low_ram_end(uint64_t ram_size);

#define E820_TYPE_RAM	   1
#define E820_TYPE_RESERVED 2
#define LAYOUT_E820_MAX	   5 /* entries layout_e820 can produce */

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
} __attribute__((packed));

/* Writes the guest's memory map to out (at most max entries); returns how many were written. */
unsigned layout_e820(uint64_t ram_size, struct e820_entry *out, unsigned max);

#endif
