/* Integer SIMD of the software vCPU (MMX and SSE2) on lanes, in plain C.
 *
 * A register is `bytes` long (8 for MMX, 16 for XMM) and holds lanes of `width` bytes; one
 * generic function per shape (lane-wise op, shift, unpack, pack, shuffle, sign mask) walks the
 * lanes, so the MMX and XMM forms of an instruction differ only in `bytes`. Lanes are read
 * zero-extended into 64 bits (the host is little-endian like the guest) and written back
 * truncated to their width; the signed operations sign-extend first.
 *
 * Nothing here touches a vCPU: the unit tests compare these against the host's instructions. */
#include <string.h>

#include "vmm/cpu/emu/emu_fpu.h"

static uint64_t lane_get(const union emu_xmm *v, unsigned off, unsigned width)
{
	uint64_t x = 0;

	memcpy(&x, v->b + off, width);
	return x;
}

static void lane_put(union emu_xmm *v, unsigned off, unsigned width, uint64_t x)
{
	memcpy(v->b + off, &x, width);
}

static int64_t sext(uint64_t x, unsigned bits)
{
	return bits >= 64 ? (int64_t)x : (int64_t)(x << (64 - bits)) >> (64 - bits);
}

static uint64_t clamp(int64_t x, int64_t lo, int64_t hi)
{
	return (uint64_t)(x < lo ? lo : x > hi ? hi : x);
}

static uint64_t sat_signed(int64_t x, unsigned bits)
{
	int64_t hi = (INT64_C(1) << (bits - 1)) - 1;

	return clamp(x, -hi - 1, hi);
}

static uint64_t sat_unsigned(int64_t x, unsigned bits)
{
	return clamp(x, 0, (INT64_C(1) << bits) - 1);
}

/* PMADDWD: the two signed 16-bit products of a 32-bit lane, added. */
static uint64_t madd(uint64_t a, uint64_t b)
{
	return (uint64_t)(sext(a & 0xffff, 16) * sext(b & 0xffff, 16) +
			  sext(a >> 16, 16) * sext(b >> 16, 16));
}

/* PSADBW: the sum of the absolute differences of the eight bytes of a 64-bit lane. */
static uint64_t sad(uint64_t a, uint64_t b)
{
	uint64_t sum = 0;

	for (unsigned k = 0; k < 64; k += 8) {
		int x = (int)((a >> k) & 0xff), y = (int)((b >> k) & 0xff);
		sum += (uint64_t)(x > y ? x - y : y - x);
	}
	return sum;
}

static uint64_t lane_op(enum simd_lane_op op, uint64_t a, uint64_t b, unsigned bits)
{
	int64_t sa = sext(a, bits), sb = sext(b, bits);

	switch (op) {
	case LANE_ADD:
		return a + b;
	case LANE_SUB:
		return a - b;
	case LANE_ADDS:
		return sat_signed(sa + sb, bits);
	case LANE_ADDUS:
		return sat_unsigned((int64_t)(a + b), bits);
	case LANE_SUBS:
		return sat_signed(sa - sb, bits);
	case LANE_SUBUS:
		return sat_unsigned((int64_t)a - (int64_t)b, bits);
	case LANE_CMPEQ:
		return a == b ? UINT64_MAX : 0;
	case LANE_CMPGT:
		return sa > sb ? UINT64_MAX : 0;
	case LANE_MULLO:
		return a * b;
	case LANE_MULHI:
		return (uint64_t)((sa * sb) >> bits);
	case LANE_MULHU:
		return (a * b) >> bits;
	case LANE_MULUDQ:
		return (a & 0xffffffffu) * (b & 0xffffffffu);
	case LANE_MADD:
		return madd(a, b);
	case LANE_SAD:
		return sad(a, b);
	case LANE_AVG:
		return (a + b + 1) >> 1;
	case LANE_MINU:
		return a < b ? a : b;
	case LANE_MAXU:
		return a > b ? a : b;
	case LANE_MINS:
		return sa < sb ? a : b;
	case LANE_MAXS:
		return sa > sb ? a : b;
	case LANE_AND:
		return a & b;
	case LANE_ANDN:
		return ~a & b;
	case LANE_OR:
		return a | b;
	case LANE_XOR:
		return a ^ b;
	}
	return 0;
}

void simd_lanes(union emu_xmm *d, const union emu_xmm *s, unsigned bytes, unsigned width,
		enum simd_lane_op op)
{
	for (unsigned off = 0; off < bytes; off += width)
		lane_put(d, off, width,
			 lane_op(op, lane_get(d, off, width), lane_get(s, off, width), width * 8));
}

void simd_shift(union emu_xmm *d, unsigned bytes, unsigned width, enum simd_shift kind,
		uint64_t count)
{
	unsigned bits = width * 8;

	for (unsigned off = 0; off < bytes; off += width) {
		uint64_t x = lane_get(d, off, width);

		if (kind == SHIFT_ARITH)
			x = (uint64_t)(sext(x, bits) >> (count < bits ? count : bits - 1));
		else if (count >= bits)
			x = 0;
		else
			x = kind == SHIFT_LEFT ? x << count : x >> count;
		lane_put(d, off, width, x);
	}
}

void simd_shift_bytes(union emu_xmm *d, bool left, unsigned count)
{
	union emu_xmm r = {0};

	if (count > 16)
		count = 16;
	if (left)
		memcpy(r.b + count, d->b, 16 - count);
	else
		memcpy(r.b, d->b + count, 16 - count);
	*d = r;
}

void simd_unpack(union emu_xmm *d, const union emu_xmm *s, unsigned bytes, unsigned width,
		 bool high)
{
	union emu_xmm r = {0};
	unsigned half = bytes / 2, from = high ? half : 0;

	for (unsigned off = 0; off < half; off += width) {
		lane_put(&r, 2 * off, width, lane_get(d, from + off, width));
		lane_put(&r, 2 * off + width, width, lane_get(s, from + off, width));
	}
	*d = r;
}

void simd_pack(union emu_xmm *d, const union emu_xmm *s, unsigned bytes, unsigned width,
	       bool unsigned_sat)
{
	union emu_xmm r = {0};
	unsigned bits = width * 8, narrow = width / 2;
	const union emu_xmm *src[2] = {d, s};

	for (unsigned half = 0; half < 2; half++)
		for (unsigned off = 0; off < bytes; off += width) {
			int64_t x = sext(lane_get(src[half], off, width), bits);
			uint64_t y =
			    unsigned_sat ? sat_unsigned(x, bits / 2) : sat_signed(x, bits / 2);
			lane_put(&r, half * bytes / 2 + off / 2, narrow, y);
		}
	*d = r;
}

void simd_shuffle4(union emu_xmm *d, const union emu_xmm *s, unsigned base, unsigned width,
		   uint8_t imm)
{
	union emu_xmm src = *s;

	for (unsigned k = 0; k < 4; k++)
		lane_put(d, base + k * width, width,
			 lane_get(&src, base + ((imm >> (2 * k)) & 3) * width, width));
}

void simd_shufp(union emu_xmm *d, const union emu_xmm *s, unsigned width, uint8_t imm)
{
	union emu_xmm r;
	unsigned n = 16 / width, sel_bits = n == 4 ? 2 : 1;

	for (unsigned k = 0; k < n; k++) {
		unsigned sel = (imm >> (k * sel_bits)) & (n - 1);
		lane_put(&r, k * width, width, lane_get(k < n / 2 ? d : s, sel * width, width));
	}
	*d = r;
}

uint32_t simd_msb_mask(const union emu_xmm *s, unsigned bytes, unsigned width)
{
	uint32_t mask = 0;

	for (unsigned k = 0; k < bytes / width; k++)
		mask |= (uint32_t)(s->b[k * width + width - 1] >> 7) << k;
	return mask;
}
