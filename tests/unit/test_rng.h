/* A fixed-seed xorshift64 generator for the unit tests that compare the interpreter with the host
 * CPU: the same inputs on every run, so that a failure reproduces; ROUNDS inputs per check. */
#ifndef TESTS_UNIT_TEST_RNG_H
#define TESTS_UNIT_TEST_RNG_H

#include <stdint.h>

#define ROUNDS 500

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

#endif
