/* Guest RAM for the interpreter's unit tests: the host mapping a test sets up (`ram`), and
 * 64-bit little-endian stores and loads at guest-physical addresses in it, for the page tables,
 * descriptor tables and data the tests lay out. */
#ifndef TESTS_UNIT_GUEST_RAM_H
#define TESTS_UNIT_GUEST_RAM_H

#include <stdint.h>
#include <string.h>

static uint8_t *ram;

static inline void put64(uint64_t addr, uint64_t v)
{
	memcpy(ram + addr, &v, 8);
}

static inline uint64_t get64(uint64_t addr)
{
	uint64_t v;
	memcpy(&v, ram + addr, 8);
	return v;
}

#endif
