/* Guest-physical layout: RAM offsets <-> GPAs around the MMIO hole, guest_ram_ptr's bounds, and
 * the e820 map for small, exactly-3-GiB and above-the-hole RAM sizes. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "firmware/layout.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

Test(layout, offsets_below_the_hole_are_identity)
{
	cr_assert_eq(layout_ram_offset_to_gpa(0), 0);
	cr_assert_eq(layout_ram_offset_to_gpa(3 * GiB - 1), 3 * GiB - 1);
}

Test(layout, offsets_from_3g_move_above_4g)
{
	cr_assert_eq(layout_ram_offset_to_gpa(3 * GiB), 4 * GiB);
	cr_assert_eq(layout_ram_offset_to_gpa(5 * GiB + 7), 6 * GiB + 7);
}

Test(layout, gpa_to_offset_both_sides_of_the_hole)
{
	uint64_t off = 1;

	cr_assert_eq(layout_gpa_to_ram_offset(0x1234, 256 * MiB, &off), 0);
	cr_assert_eq(off, 0x1234);
	cr_assert_eq(layout_gpa_to_ram_offset(3 * GiB - 1, 5 * GiB, &off), 0);
	cr_assert_eq(off, 3 * GiB - 1);
	cr_assert_eq(layout_gpa_to_ram_offset(4 * GiB, 5 * GiB, &off), 0);
	cr_assert_eq(off, 3 * GiB);
	cr_assert_eq(layout_gpa_to_ram_offset(6 * GiB - 1, 5 * GiB, &off), 0);
	cr_assert_eq(off, 5 * GiB - 1);
}

Test(layout, gpa_to_offset_rejects_non_ram)
{
	uint64_t off;

	cr_assert_eq(layout_gpa_to_ram_offset(256 * MiB, 256 * MiB, &off), -1);
	cr_assert_eq(layout_gpa_to_ram_offset(3 * GiB, 5 * GiB, &off), -1);
	cr_assert_eq(layout_gpa_to_ram_offset(LAYOUT_LAPIC_BASE, 5 * GiB, &off), -1);
	cr_assert_eq(layout_gpa_to_ram_offset(4 * GiB, 3 * GiB, &off), -1);
	cr_assert_eq(layout_gpa_to_ram_offset(6 * GiB, 5 * GiB, &off), -1);
	cr_assert_eq(layout_gpa_to_ram_offset(UINT64_MAX, 5 * GiB, &off), -1);
}

Test(layout, round_trip_for_every_gib)
{
	for (uint64_t off = 0; off < 8 * GiB; off += GiB / 2) {
		uint64_t back;

		cr_assert_eq(
		    layout_gpa_to_ram_offset(layout_ram_offset_to_gpa(off), 8 * GiB, &back), 0);
		cr_assert_eq(back, off);
	}
}

/* guest_ram_ptr only does pointer arithmetic, so a fake base lets it be tested for sizes no test
 * could allocate. */
static struct guest_ram fake_ram(uint64_t size)
{
	return (struct guest_ram){.host = (uint8_t *)(uintptr_t)0x10000000, .size = size};
}

Test(layout, ptr_inside_low_ram)
{
	struct guest_ram ram = fake_ram(256 * MiB);

	cr_assert_eq(guest_ram_ptr(&ram, 0, 256 * MiB), ram.host);
	cr_assert_eq(guest_ram_ptr(&ram, 0x1000, 16), ram.host + 0x1000);
	cr_assert_eq(guest_ram_ptr(&ram, 256 * MiB - 1, 1), ram.host + 256 * MiB - 1);
}

Test(layout, ptr_rejects_past_end_and_empty)
{
	struct guest_ram ram = fake_ram(256 * MiB);

	cr_assert_null(guest_ram_ptr(&ram, 256 * MiB - 1, 2));
	cr_assert_null(guest_ram_ptr(&ram, 256 * MiB, 1));
	cr_assert_null(guest_ram_ptr(&ram, 0, 256 * MiB + 1));
	cr_assert_null(guest_ram_ptr(&ram, 0x1000, 0));
}

Test(layout, ptr_rejects_overflow)
{
	struct guest_ram ram = fake_ram(8 * GiB);

	cr_assert_null(guest_ram_ptr(&ram, 0x1000, UINT64_MAX));
	cr_assert_null(guest_ram_ptr(&ram, UINT64_MAX, 2));
	cr_assert_null(guest_ram_ptr(&ram, 5 * GiB, UINT64_MAX - 5 * GiB + 2));
}

Test(layout, ptr_above_the_hole)
{
	struct guest_ram ram = fake_ram(5 * GiB);

	cr_assert_eq(guest_ram_ptr(&ram, 4 * GiB, 4096), ram.host + 3 * GiB);
	cr_assert_eq(guest_ram_ptr(&ram, 6 * GiB - 8, 8), ram.host + 5 * GiB - 8);
	cr_assert_null(guest_ram_ptr(&ram, 6 * GiB - 8, 9));
}

Test(layout, ptr_never_spans_or_enters_the_hole)
{
	struct guest_ram ram = fake_ram(5 * GiB);

	cr_assert_null(guest_ram_ptr(&ram, 3 * GiB - 4096, 8192));
	cr_assert_null(guest_ram_ptr(&ram, 3 * GiB, 1));
	cr_assert_null(guest_ram_ptr(&ram, LAYOUT_IOAPIC_BASE, 4));
	cr_assert_null(guest_ram_ptr(&ram, 4 * GiB - 1, 2));
	cr_assert_not_null(guest_ram_ptr(&ram, 3 * GiB - 4096, 4096));
}

static void assert_entry(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	cr_assert_eq(e->addr, addr, "addr %#llx != %#llx", (unsigned long long)e->addr,
		     (unsigned long long)addr);
	cr_assert_eq(e->size, size, "size %#llx != %#llx at %#llx", (unsigned long long)e->size,
		     (unsigned long long)size, (unsigned long long)addr);
	cr_assert_eq(e->type, type);
}

static void assert_low_entries(const struct e820_entry *e)
{
	assert_entry(&e[0], 0, 0x9FC00, E820_TYPE_RAM);
	assert_entry(&e[1], 0x9FC00, 0x400, E820_TYPE_RESERVED);
	assert_entry(&e[2], 0xE0000, 0x20000, E820_TYPE_RESERVED);
}

Test(layout, e820_256m)
{
	struct e820_entry e[8];

	cr_assert_eq(layout_e820(256 * MiB, e, 8), 4);
	assert_low_entries(e);
	assert_entry(&e[3], MiB, 255 * MiB, E820_TYPE_RAM);
}

Test(layout, e820_3g_has_nothing_above_the_hole)
{
	struct e820_entry e[8];

	cr_assert_eq(layout_e820(3 * GiB, e, 8), 4);
	assert_low_entries(e);
	assert_entry(&e[3], MiB, 3 * GiB - MiB, E820_TYPE_RAM);
}

Test(layout, e820_5g_continues_above_4g)
{
	struct e820_entry e[8];

	cr_assert_eq(layout_e820(5 * GiB, e, 8), LAYOUT_E820_MAX);
	assert_low_entries(e);
	assert_entry(&e[3], MiB, 3 * GiB - MiB, E820_TYPE_RAM);
	assert_entry(&e[4], 4 * GiB, 2 * GiB, E820_TYPE_RAM);
}

Test(layout, e820_stops_at_max)
{
	struct e820_entry e[2] = {0};

	cr_assert_eq(layout_e820(5 * GiB, e, 2), 2);
	assert_entry(&e[1], 0x9FC00, 0x400, E820_TYPE_RESERVED);
}
