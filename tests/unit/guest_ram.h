/* Guest RAM for the interpreter's unit tests: the host mapping a test sets up (`ram`), 16- and
 * 64-bit little-endian stores and loads at guest-physical addresses in it, for the page tables,
 * descriptor tables and data the tests lay out, and CATCH() to run a statement on the test's
 * vCPU (`c`) that may fault, as the run loop would. */
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
