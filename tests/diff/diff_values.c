/* Random values for the differential harness's cases: integers biased towards the edges
 * (0, 1, -1, sign bits, widths), floats biased towards the interesting classes (zeros,
 * infinities, quiet and signalling NaNs, denormals, exact small numbers, moderate normals), and
 * the random initial state every case starts from. */
#include <string.h>

#include "tests/diff/diff_gen.h"

/* ---- values -------------------------------------------------------------------------- */

uint64_t gen_special_value(struct diff_rng *r)
{
	static const uint64_t v[] = {0,
				     1,
				     2,
				     ~0ull,
				     0x7f,
				     0x80,
				     0xff,
				     0x7fff,
				     0x8000,
				     0xffff,
				     0x7fffffff,
				     0x80000000,
				     0xffffffff,
				     0x100000000ull,
				     0x7fffffffffffffffull,
				     0x8000000000000000ull,
				     0xfffffffffffffffeull};
	return v[diff_below(r, sizeof(v) / sizeof(v[0]))];
}

uint64_t gen_random_value(struct diff_rng *r)
{
	unsigned k = (unsigned)diff_below(r, 100);
	if (k < 25)
		return diff_below(r, 256);
	if (k < 40)
		return gen_special_value(r);
	if (k < 50)
		return (uint64_t) - (int64_t)diff_below(r, 256);
	if (k < 65)
		return diff_rand(r) & 0xffffffffull;
	return diff_rand(r);
}

uint64_t gen_imm_value(struct diff_rng *r)
{
	unsigned k = (unsigned)diff_below(r, 100);
	if (k < 40)
		return (uint64_t)((int64_t)diff_below(r, 9) - 4);
	if (k < 60)
		return gen_special_value(r);
	return diff_rand(r);
}

uint32_t gen_float32(struct diff_rng *r)
{
	static const uint32_t special[] = {0x00000000, 0x80000000, 0x7f800000, 0xff800000,
					   0x7fc00000, 0xffc00000, 0x7fa00000, 0x00000001,
					   0x807fffff, 0x00800000, 0x7f7fffff, 0x3f800000,
					   0xbf800000, 0x4f000000, 0xcf000000, 0x5f000000};
	unsigned k = (unsigned)diff_below(r, 100);
	if (k < 20)
		return special[diff_below(r, sizeof(special) / sizeof(special[0]))];
	if (k < 40) {
		float f =
		    (float)((int64_t)diff_below(r, 2001) - 1000) / (float)(1 + diff_below(r, 8));
		uint32_t u;
		memcpy(&u, &f, 4);
		return u;
	}
	if (k < 85) /* normal numbers of moderate exponent */
		return (uint32_t)(diff_rand(r) & 0x807fffff) | (uint32_t)(112 + diff_below(r, 32))
								   << 23;
	return (uint32_t)diff_rand(r);
}

uint64_t gen_float64(struct diff_rng *r)
{
	static const uint64_t special[] = {0,
					   0x8000000000000000ull,
					   0x7ff0000000000000ull,
					   0xfff0000000000000ull,
					   0x7ff8000000000000ull,
					   0x7ff4000000000000ull,
					   0x0000000000000001ull,
					   0x0010000000000000ull,
					   0x7fefffffffffffffull,
					   0x3ff0000000000000ull,
					   0x43e0000000000000ull,
					   0xc3e0000000000000ull,
					   0x41e0000000000000ull};
	unsigned k = (unsigned)diff_below(r, 100);
	if (k < 20)
		return special[diff_below(r, sizeof(special) / sizeof(special[0]))];
	if (k < 40) {
		double d = (double)((int64_t)diff_below(r, 20001) - 10000) /
			   (double)(1 + diff_below(r, 8));
		uint64_t u;
		memcpy(&u, &d, 8);
		return u;
	}
	if (k < 85)
		return (diff_rand(r) & 0x800fffffffffffffull) | (1000 + diff_below(r, 50)) << 52;
	return diff_rand(r);
}

/* 16 bytes of float32 or float64 lanes. */
void gen_float_lanes(struct diff_rng *r, uint8_t *p)
{
	bool dbl = diff_chance(r, 50);
	for (unsigned k = 0; k < 16; k += dbl ? 8 : 4) {
		if (dbl) {
			uint64_t v = gen_float64(r);
			memcpy(p + k, &v, 8);
		} else {
			uint32_t v = gen_float32(r);
			memcpy(p + k, &v, 4);
		}
	}
}

void gen_random_state(struct diff_rng *r, struct diff_state *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < 16; i++)
		s->r.gpr[i] = gen_random_value(r);
	s->r.gpr[RSP] = DIFF_DATA_ADDR + 4096 + ((diff_below(r, 2048) - 1024) & ~7ull);
	if (diff_chance(r, 10))
		s->r.gpr[RSP] += 1 + diff_below(r, 7);
	s->r.rflags = diff_rand(r) & (DIFF_FLAGS_ARITH | DIFF_FLAG_DF);
	for (unsigned i = 0; i < 16; i++)
		for (unsigned k = 0; k < 16; k += 8) {
			uint64_t v = diff_chance(r, 30) ? gen_special_value(r) : diff_rand(r);
			memcpy(s->r.xmm[i] + k, &v, 8);
		}
	s->r.mxcsr = 0x1f80;
	s->r.fcw = 0x37f;
	for (unsigned k = 0; k < DIFF_DATA_SIZE; k += 8) {
		uint64_t v = diff_chance(r, 20) ? gen_special_value(r) : diff_rand(r);
		memcpy(s->data + k, &v, 8);
	}
}
