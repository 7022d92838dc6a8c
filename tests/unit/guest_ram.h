/* Guest RAM for the interpreter's unit tests: the host mapping a test sets up (`ram`), 16- and
 * 64-bit little-endian stores and loads at guest-physical addresses in it, for the page tables,
 * descriptor tables and data the tests lay out, and CATCH() to run a statement on the test's
 * vCPU (`c`) that may fault, as the run loop would. */
#ifndef TESTS_UNIT_GUEST_RAM_H
#define TESTS_UNIT_GUEST_RAM_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cpu/emu/emu.h"

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

/* `size` bytes of zeroed guest RAM at `ram`, and the interpreter's view of them in *accel, for
 * the tests that build a vCPU by hand. */
static inline void guest_ram_create(struct emu_accel *accel, size_t size)
{
	memset(accel, 0, sizeof(*accel));
	ram = aligned_alloc(4096, size);
	cr_assert_not_null(ram);
	memset(ram, 0, size);
	accel->ram = ram;
	accel->ram_size = size;
	accel->pages = size >> 12;
	accel->page_gen = calloc(accel->pages, sizeof(*accel->page_gen));
	accel->code_page = calloc(accel->pages, sizeof(*accel->code_page));
	cr_assert(accel->page_gen && accel->code_page);
}

static inline void guest_ram_destroy(struct emu_accel *accel)
{
	free((void *)accel->page_gen);
	free((void *)accel->code_page);
	free(ram);
}

static inline void put16(uint64_t addr, uint16_t v)
{
	memcpy(ram + addr, &v, 2);
}

static inline uint16_t get16(uint64_t addr)
{
	uint16_t v;
	memcpy(&v, ram + addr, 2);
	return v;
}

/* Runs stmt; the vector it raised, 1000 for an exit (emu_exit), or -1. */
#define CATCH(stmt)                                                                                \
	({                                                                                         \
		volatile int vector_ = -1;                                                         \
		c->stop = false;                                                                   \
		if (setjmp(c->fault_jmp) == 0) {                                                   \
			stmt;                                                                      \
		} else {                                                                           \
			vector_ = c->stop ? 1000 : c->fault_vector;                                \
		}                                                                                  \
		vector_;                                                                           \
	})

#endif
