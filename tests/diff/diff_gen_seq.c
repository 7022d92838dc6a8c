/* The generator's sequences and implicit-operand instructions: string instructions (RSI, RDI,
 * RCX and DF set up for small counts, equal runs for cmps/scas) and x87 cases, which are short
 * load-operate-store sequences on [rbx] so that the FPU stack ends empty and the results land in
 * memory, where the comparison sees them. */
#include <string.h>

#include "tests/diff/diff_gen.h"

/* ---- string instructions ------------------------------------------------------------------ */

void gen_string(struct gen *g, const struct tmpl *t)
{
	struct diff_rng *r = g->r;
	struct diff_state *s = &g->c->init;
	struct enc e = {.op = t->op};
	gen_choose_size(g, t, &e);
	bool rep = diff_chance(r, 60);
	if (rep)
		gen_add_prefix(&e, (t->f & F_REPNE) && diff_chance(r, 40) ? 0xf2 : 0xf3);
	bool a32 = diff_chance(r, 10);
	if (a32)
		gen_add_prefix(&e, 0x67);
	if (diff_chance(r, 8)) {
		static const uint8_t seg[] = {0x26, 0x2e, 0x36, 0x3e};
		gen_add_prefix(&e, seg[diff_below(r, 4)]);
	}
	if (diff_chance(r, 10))
		e.rex = true;
	gen_shuffle_prefixes(r, &e);

	unsigned count = (unsigned)diff_below(r, 13);
	uint64_t src = DIFF_DATA_ADDR + 1024 + diff_below(r, 6144);
	uint64_t dst = DIFF_DATA_ADDR + 1024 + diff_below(r, 6144);
	if (diff_chance(r, 50)) {
		src &= ~(uint64_t)(g->opsize - 1);
		dst &= ~(uint64_t)(g->opsize - 1);
	}
	if (rep)
		s->r.gpr[RCX] = a32 ? (diff_rand(r) & ~0xffffffffull) | count : count;
	/* A REP with a 32-bit address size and ECX = 0 runs no element, and what it leaves in the
	 * upper halves of RCX, RSI and RDI is not in the SDM and differs between CPUs: the hosts of
	 * 2026-12-07 (Intel, FSRM) clear them as a 32-bit write would (Linux's KVM commit 428e3d08
	 * says the same of Intel CPUs), the earlier hosts left them, as the interpreter does. */
	if (rep && a32 && count == 0)
		g->c->undef.gprs_high |= 1u << RCX | 1u << RSI | 1u << RDI;
	s->r.gpr[RSI] = src | (a32 && diff_chance(r, 50) ? diff_rand(r) << 32 : 0);
	s->r.gpr[RDI] = dst | (a32 && diff_chance(r, 50) ? diff_rand(r) << 32 : 0);
	/* cmps/scas: equal runs, so repe goes on for a while. */
	unsigned same = (unsigned)diff_below(r, count + 2) * g->opsize;
	bool down = s->r.rflags & DIFF_FLAG_DF;
	if ((t->op | 1) == 0xa7 && diff_chance(r, 60))
		for (unsigned k = 0; k < same; k++) {
			uint64_t so = src - DIFF_DATA_ADDR, d = dst - DIFF_DATA_ADDR;
			so = down ? so + g->opsize - 1 - k : so + k;
			d = down ? d + g->opsize - 1 - k : d + k;
			s->data[d] = s->data[so];
		}
	if ((t->op | 1) == 0xaf && diff_chance(r, 60)) {
		uint64_t d = dst - DIFF_DATA_ADDR;
		memcpy(&s->r.gpr[RAX], s->data + d, g->opsize < 8 ? g->opsize : 8);
	}
	gen_emit(g, &e);
}

/* ---- x87 sequences ------------------------------------------------------------------------ */

/* A raw instruction of the sequence: bytes as given, [rbx + disp8] already in them. */
static void x87_emit(struct gen *g, const uint8_t *b, unsigned n)
{
	if (g->off + n > DIFF_CODE_MAX)
		return;
	memcpy(g->c->code + g->off, b, n);
	g->off += n;
	g->c->len = (uint8_t)g->off;
	g->c->ninsn++;
}

#define X87(...)                                                                                   \
	do {                                                                                       \
		static const uint8_t b_[] = {__VA_ARGS__};                                         \
		x87_emit(g, b_, sizeof(b_));                                                       \
	} while (0)

/* Pushes one value: from memory at [rbx + slot] in some format, or a constant. */
static void x87_load(struct gen *g, unsigned slot)
{
	uint8_t b[3] = {0, 0x43, (uint8_t)slot}; /* ModRM 01 /0 011: [rbx+disp8] */
	switch (diff_below(g->r, 9)) {
	case 0:
		b[0] = 0xd9; /* fld m32 */
		break;
	case 1:
	case 2:
		b[0] = 0xdd; /* fld m64 */
		break;
	case 3:
		b[0] = 0xdb, b[1] = 0x6b; /* fld m80 */
		break;
	case 4:
		b[0] = 0xdf; /* fild m16 */
		break;
	case 5:
		b[0] = 0xdb; /* fild m32 */
		break;
	case 6:
		b[0] = 0xdf, b[1] = 0x6b; /* fild m64 */
		break;
	default: {
		static const uint8_t k[] = {0xe8, 0xee, 0xeb, 0xea, 0xed}; /* 1 0 pi l2e ln2 */
		uint8_t c[2] = {0xd9, k[diff_below(g->r, 5)]};
		x87_emit(g, c, 2);
		return;
	}
	}
	x87_emit(g, b, 3);
}

static void x87_store(struct gen *g)
{
	static const uint8_t st[][3] = {
	    {0xdd, 0x5b, 0x40}, /* fstp m64 */
	    {0xd9, 0x5b, 0x40}, /* fstp m32 */
	    {0xdb, 0x7b, 0x40}, /* fstp m80 */
	    {0xdb, 0x5b, 0x40}, /* fistp m32 */
	    {0xdf, 0x5b, 0x40}, /* fistp m16 */
	    {0xdf, 0x7b, 0x40}, /* fistp m64 */
	    {0xdb, 0x4b, 0x40}, /* fisttp m32 */
	    {0xdd, 0x4b, 0x40}, /* fisttp m64 */
	};
	x87_emit(g, st[diff_below(g->r, sizeof(st) / sizeof(st[0]))], 3);
}

/* One operation on the stack of `depth` values; returns the new depth. */
static unsigned x87_op(struct gen *g, unsigned depth)
{
	struct diff_rng *r = g->r;
	unsigned k = (unsigned)diff_below(r, 10);
	if (k < 4) { /* fadd fmul fcom fcomp fsub fsubr fdiv fdivr with m32/m64/m32int */
		unsigned n = (unsigned)diff_below(r, 8);
		static const uint8_t ops[] = {0xd8, 0xdc, 0xda};
		uint8_t b[3] = {ops[diff_below(r, 3)], (uint8_t)(0x43 | n << 3), 0x20};
		x87_emit(g, b, 3);
		return n == 3 ? depth - 1 : depth;
	}
	if (k < 7) {
		static const uint8_t un[] = {0xfa, 0xe1, 0xe0, 0xfc,
					     0xe4, 0xe5}; /* sqrt abs chs
							     rndint tst xam */
		uint8_t b[2] = {0xd9, un[diff_below(r, sizeof(un))]};
		x87_emit(g, b, 2);
		return depth;
	}
	if (depth < 2) {
		x87_load(g, 0x28);
		depth++;
	}
	static const uint8_t two[][2] = {
	    {0xde, 0xc1}, {0xde, 0xc9}, {0xde, 0xe9}, {0xde, 0xe1}, /* faddp fmulp fsubp fsubrp */
	    {0xde, 0xf9}, {0xde, 0xf1}, {0xd9, 0xc9}, {0xdb, 0xf1}, /* fdivp fdivrp fxch fcomi */
	    {0xdf, 0xe9}, {0xd9, 0xfd}, {0xd9, 0xf8}, {0xd8, 0xc1}, /* fucomip fscale fprem fadd */
	};
	unsigned i = (unsigned)diff_below(r, sizeof(two) / sizeof(two[0]));
	x87_emit(g, two[i], 2);
	return (i < 6 || i == 8) ? depth - 1 : depth;
}

static void fill_x87_data(struct gen *g, uint32_t t)
{
	struct diff_rng *r = g->r;
	uint8_t *d = g->c->init.data + t;
	for (unsigned slot = 0; slot < 0x40; slot += 8) {
		unsigned k = (unsigned)diff_below(r, 4);
		uint64_t v = k == 0   ? gen_float64(r)
			     : k == 1 ? gen_float32(r)
				      : gen_random_value(r);
		memcpy(d + slot, &v, 8);
	}
	/* An 80-bit value at 0x28, sometimes: random significand with the integer bit. */
	if (diff_chance(r, 30)) {
		uint64_t m = diff_rand(r) | 1ull << 63;
		uint16_t ex =
		    (uint16_t)(0x3fff - 40 + diff_below(r, 80)) | (diff_chance(r, 50) ? 0x8000 : 0);
		memcpy(d + 0x28, &m, 8);
		memcpy(d + 0x30, &ex, 2);
	}
}

void gen_x87(struct gen *g)
{
	struct diff_rng *r = g->r;
	uint32_t t = 128 + 16 * (uint32_t)diff_below(r, (DIFF_DATA_SIZE - 512) / 16);
	g->c->init.r.gpr[RBX] = DIFF_DATA_ADDR + t;
	fill_x87_data(g, t);
	g->c->name = "x87";
	if (diff_chance(r, 25)) { /* another rounding or precision control: fldcw [rbx+0x38] */
		uint16_t cw = (uint16_t)(0x007f | diff_below(r, 4) << 10 | diff_below(r, 4) << 8);
		memcpy(g->c->init.data + t + 0x38, &cw, 2);
		X87(0xd9, 0x6b, 0x38);
	}
	x87_load(g, 0x00);
	unsigned depth = 1;
	unsigned nops = 1 + (unsigned)diff_below(r, 3);
	for (unsigned i = 0; i < nops && depth > 0; i++)
		depth = x87_op(g, depth);
	if (depth > 0) {
		x87_store(g);
		depth--;
	}
	while (depth-- > 0)
		X87(0xdd, 0xd8); /* fstp st(0) */
	/* Condition codes are undefined after most operations. */
	g->c->undef.fsw = 0x4700;
}
