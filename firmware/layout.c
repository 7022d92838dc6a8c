/* Guest RAM is one host mapping. Its first 3 GiB appear at the same guest-physical addresses;
 * whatever lies beyond is shifted above 4 GiB so that [3 GiB, 4 GiB) stays free for MMIO
 * (LAPIC, IOAPIC, virtio-mmio). A range never spans the hole: the two RAM pieces are not
 * contiguous in guest-physical space even though they are in the host mapping. */
#include <stddef.h>

#include "firmware/layout.h"

#define HOLE_SIZE (LAYOUT_MMIO_HOLE_END - LAYOUT_MMIO_HOLE_START)

uint64_t layout_low_ram_end(uint64_t ram_size)
{
	return ram_size < LAYOUT_MMIO_HOLE_START ? ram_size : LAYOUT_MMIO_HOLE_START;
}

uint64_t layout_ram_offset_to_gpa(uint64_t offset)
{
	return offset < LAYOUT_MMIO_HOLE_START ? offset : offset + HOLE_SIZE;
}

/* The guest-physical piece of RAM that contains gpa, as [start, end); -1 if gpa is in none. */
static int ram_piece(uint64_t gpa, uint64_t ram_size, uint64_t *start, uint64_t *end)
{
	if (gpa < LAYOUT_MMIO_HOLE_START) {
		*start = 0;
		*end = layout_low_ram_end(ram_size);
	} else if (gpa >= LAYOUT_MMIO_HOLE_END && ram_size > LAYOUT_MMIO_HOLE_START) {
		*start = LAYOUT_MMIO_HOLE_END;
		*end = LAYOUT_MMIO_HOLE_END + (ram_size - LAYOUT_MMIO_HOLE_START);
	} else {
		return -1;
	}
	return gpa < *end ? 0 : -1;
}

int layout_gpa_to_ram_offset(uint64_t gpa, uint64_t ram_size, uint64_t *offset)
{
	uint64_t start, end;

	if (ram_piece(gpa, ram_size, &start, &end) < 0)
		return -1;
	*offset = gpa < LAYOUT_MMIO_HOLE_START ? gpa : gpa - HOLE_SIZE;
	return 0;
}

void *guest_ram_ptr(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
	uint64_t start, end, offset;

	if (len == 0)
		return NULL;
	if (ram_piece(gpa, ram->size, &start, &end) < 0 || len > end - gpa)
		return NULL;
	layout_gpa_to_ram_offset(gpa, ram->size, &offset);
	return ram->host + offset;
}

static unsigned e820_add(struct e820_entry *out, unsigned n, unsigned max, uint64_t start,
			 uint64_t end, uint32_t type)
{
	if (start >= end || n >= max)
		return n;
	out[n] = (struct e820_entry){.addr = start, .size = end - start, .type = type};
	return n + 1;
}

unsigned layout_e820(uint64_t ram_size, struct e820_entry *out, unsigned max)
{
	uint64_t low_end = layout_low_ram_end(ram_size);
	unsigned n = 0;

	n = e820_add(out, n, max, 0, low_end < LAYOUT_EBDA ? low_end : LAYOUT_EBDA, E820_TYPE_RAM);
	n = e820_add(out, n, max, LAYOUT_EBDA, LAYOUT_LEGACY_HOLE, E820_TYPE_RESERVED);
	n = e820_add(out, n, max, LAYOUT_ACPI_BASE, LAYOUT_ACPI_END, E820_TYPE_RESERVED);
	n = e820_add(out, n, max, LAYOUT_KERNEL_DEFAULT, low_end, E820_TYPE_RAM);
	if (ram_size > LAYOUT_MMIO_HOLE_START)
		n = e820_add(out, n, max, LAYOUT_MMIO_HOLE_END,
			     LAYOUT_MMIO_HOLE_END + (ram_size - LAYOUT_MMIO_HOLE_START),
			     E820_TYPE_RAM);
	return n;
}
