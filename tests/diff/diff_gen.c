/* The case generator of the differential harness: a random initial state, then one instruction
 * encoded from a template (diff_tmpl.c) with random prefixes, operand size, registers, ModRM/SIB
 * addressing form and immediates; or, for x87, a short load-operate-store sequence; or, for the
 * class pair, an ALU instruction so generated and a Jcc after it (the interpreter fuses such
 * pairs); for the class dead_flags, an ALU, shift or multiply instruction so generated and a CMP
 * after it (the interpreter computes the first one's result without its flags).
 *
 * Every memory operand lands in the data buffer: the generator picks the target offset first,
 * then an addressing form (base, base+index*scale, disp8/disp32, RIP-relative, absolute disp32,
 * 32-bit address size with garbage in the upper halves), then derives the base register's value
 * from the others. RSP always points into the buffer too (push/pop), and string instructions get
 * RSI/RDI/RCX and DF set up for small counts. Special setups bias the values where uniform
 * randomness would miss the interesting half (divisions that do not overflow, cmpxchg that
 * succeeds, shift counts near the operand width, zero sources for bsf).
 *
 * The same (seed, index) always gives the same case: every choice comes from one splitmix64
 * stream seeded by both. */
#include <stddef.h>
#include <string.h>

#include "tests/diff/diff.h"
#include "tests/diff/diff_gen.h"

/* ---- registers and memory of the initial state, at an operand's size --------------------- */

/* A GPR operand: with `rex`, 4-7 at byte size are SPL..DIL, without they are AH..BH. */
static uint64_t reg_get(const struct gen *g, unsigned n, unsigned size, bool rex)
{
	const uint64_t *gpr = g->c->init.r.gpr;
	if (size == 1 && !rex && n >= 4 && n < 8)
		return (gpr[n - 4] >> 8) & 0xff;
	return size == 8 ? gpr[n] : gpr[n] & ((1ull << (8 * size)) - 1);
}

static void reg_set(struct gen *g, unsigned n, unsigned size, bool rex, uint64_t v)
{
	uint64_t *gpr = g->c->init.r.gpr;
	if (size == 1 && !rex && n >= 4 && n < 8) {
		gpr[n - 4] = (gpr[n - 4] & ~0xff00ull) | (v & 0xff) << 8;
		return;
	}
	uint64_t m = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
	gpr[n] = (gpr[n] & ~m) | (v & m);
}

static uint64_t mem_get(const struct gen *g, uint32_t ea, unsigned size)
{
	uint64_t v = 0;
	memcpy(&v, g->c->init.data + ea, size);
	return v;
}

static void mem_set(struct gen *g, uint32_t ea, unsigned size, uint64_t v)
{
	memcpy(g->c->init.data + ea, &v, size);
}

/* The r/m operand's value and its update. */
static uint64_t rm_get(const struct gen *g, const struct enc *e, unsigned size)
{
	return g->mem ? mem_get(g, g->ea, size) : reg_get(g, g->rm, size, e->rex);
}

static void rm_set(struct gen *g, const struct enc *e, unsigned size, uint64_t v)
{
	if (g->mem)
		mem_set(g, g->ea, size, v);
	else
		reg_set(g, g->rm, size, e->rex, v);
}

/* ---- encoding ------------------------------------------------------------------------- */

void gen_add_prefix(struct enc *e, uint8_t p)
{
	if (e->nlegacy < sizeof(e->legacy))
		e->legacy[e->nlegacy++] = p;
}

void gen_emit(struct gen *g, const struct enc *e)
{
	uint8_t b[24];
	unsigned n = 0;
	for (unsigned i = 0; i < e->nlegacy; i++)
		b[n++] = e->legacy[i];
	if (e->rex || e->w || e->r || e->x || e->b)
		b[n++] = (uint8_t)(0x40 | e->w << 3 | e->r << 2 | e->x << 1 | e->b);
	if (e->map)
		b[n++] = 0x0f;
	if (e->map == 2)
		b[n++] = 0x38;
	if (e->map == 3)
		b[n++] = 0x3a;
	b[n++] = e->op;
	unsigned disp_at = 0;
	if (e->modrm) {
		b[n++] = (uint8_t)(e->mod << 6 | (e->reg & 7) << 3 | (e->rm & 7));
		if (e->sib)
			b[n++] = (uint8_t)(e->scale << 6 | (e->index & 7) << 3 | (e->base & 7));
		disp_at = n;
		n += e->disp_size;
	}
	for (unsigned k = 0; k < e->imm_size; k++)
		b[n + k] = (uint8_t)(e->imm >> (8 * k));
	n += e->imm_size;
	int64_t disp = e->disp;
	if (e->riprel)
		disp = (int64_t)(e->target - (DIFF_CODE_ADDR + g->off + n));
	for (unsigned k = 0; k < e->disp_size; k++)
		b[disp_at + k] = (uint8_t)((uint64_t)disp >> (8 * k));
	if (g->off + n > DIFF_CODE_MAX)
		return;
	memcpy(g->c->code + g->off, b, n);
	g->off += n;
	g->c->len = (uint8_t)g->off;
	g->c->ninsn++;
}

/* Legacy prefixes in random order; the mandatory SSE prefix goes last (nearest the opcode). */
void gen_shuffle_prefixes(struct diff_rng *r, struct enc *e)
{
	for (unsigned i = e->nlegacy; i > 1; i--) {
		unsigned j = (unsigned)diff_below(r, i);
		uint8_t t = e->legacy[i - 1];
		e->legacy[i - 1] = e->legacy[j];
		e->legacy[j] = t;
	}
}

/* ---- memory operands ------------------------------------------------------------------ */

static uint32_t pick_target(struct diff_rng *r, unsigned size, bool a16)
{
	uint32_t t;
	if (a16) {
		t = 16 * (8 + (uint32_t)diff_below(r, (DIFF_DATA_SIZE - 256) / 16));
		if (diff_chance(r, 4))
			t += 1 + (uint32_t)diff_below(r, 15); /* misaligned: #GP on both */
		return t;
	}
	if (diff_chance(r, 10)) /* at or across the page boundary */
		return 4096 - size + (uint32_t)diff_below(r, 2 * size);
	t = 128 + (uint32_t)diff_below(r, DIFF_DATA_SIZE - 256);
	if (diff_chance(r, 50))
		t &= ~((size < 8 ? size : 8) - 1);
	return t;
}

static unsigned pick_reg(struct diff_rng *r, uint16_t avoid)
{
	for (;;) {
		unsigned n = (unsigned)diff_below(r, 16);
		if (!(avoid & (1u << n)))
			return n;
	}
}

/* base (+ index * scale) (+ disp): picks the registers' values so the sum is the target. */
static bool mem_base_index(struct gen *g, struct enc *e, uint32_t t, bool a32)
{
	struct diff_rng *r = g->r;
	uint64_t *gpr = g->c->init.r.gpr;
	unsigned base = pick_reg(r, g->avoid);
	bool use_index = diff_chance(r, 35);
	unsigned index = use_index ? pick_reg(r, g->avoid | 1u << RSP | 1u << base) : 4;
	unsigned scale = (unsigned)diff_below(r, 4);
	unsigned mod = (unsigned)diff_below(r, 3);
	if (mod == 0 && (base & 7) == 5)
		mod = 1; /* mod 00 with base 101 means no base */
	int64_t disp = 0, idx = use_index ? (int64_t)diff_below(r, 33) - 16 : 0;
	uint64_t small = diff_below(r, 4096);
	if (mod == 1)
		disp = (int8_t)diff_rand(r);
	else if (mod == 2)
		disp = diff_chance(r, 25) ? (int64_t)(DIFF_DATA_ADDR + t - small)
					  : (int64_t)diff_below(r, 4097) - 2048;
	uint64_t bval = DIFF_DATA_ADDR + t - (uint64_t)disp - ((uint64_t)idx << scale);
	uint64_t ival = (uint64_t)idx;
	if (a32) {
		bval &= 0xffffffffull;
		ival &= 0xffffffffull;
	}
	/* RSP stays a usable stack pointer in the buffer. */
	if (base == RSP &&
	    (bval < DIFF_DATA_ADDR + 64 || bval > DIFF_DATA_ADDR + DIFF_DATA_SIZE - 64))
		return false;
	if (a32 && base != RSP && diff_chance(r, 50))
		bval |= diff_rand(r) << 32;
	if (a32 && use_index && diff_chance(r, 50))
		ival |= diff_rand(r) << 32;
	gpr[base] = bval;
	if (use_index)
		gpr[index] = ival;
	e->mod = (uint8_t)mod;
	e->disp = disp;
	e->disp_size = mod == 1 ? 1 : mod == 2 ? 4 : 0;
	e->b = base >= 8;
	e->base = (uint8_t)base;
	e->sib = use_index || (base & 7) == 4 || diff_chance(r, 10);
	if (e->sib) {
		e->rm = 4;
		e->index = (uint8_t)index;
		e->x = index >= 8;
		e->scale = (uint8_t)(use_index ? scale : diff_below(r, 4));
	} else {
		e->rm = (uint8_t)(base & 7);
	}
	return true;
}

static void gen_mem(struct gen *g, struct enc *e, unsigned size, bool a16)
{
	struct diff_rng *r = g->r;
	bool a32 = diff_chance(r, 10);
	uint32_t t = pick_target(r, size, a16);
	e->modrm = true;
	g->mem = true;
	g->ea = t;
	if (a32)
		gen_add_prefix(e, 0x67);
	unsigned form = (unsigned)diff_below(r, 100);
	if (form < 10) { /* RIP-relative */
		e->mod = 0;
		e->rm = 5;
		e->riprel = true;
		e->disp_size = 4;
		e->target = DIFF_DATA_ADDR + t;
		return;
	}
	if (form < 15) { /* absolute disp32: SIB with no base and no index (REX.B is ignored) */
		e->mod = 0;
		e->rm = 4;
		e->sib = true;
		e->base = 5;
		e->index = 4;
		e->scale = (uint8_t)diff_below(r, 4);
		e->b = diff_chance(r, 20);
		e->disp = (int64_t)(DIFF_DATA_ADDR + t);
		e->disp_size = 4;
		return;
	}
	for (unsigned tries = 0; tries < 16; tries++)
		if (mem_base_index(g, e, t, a32))
			return;
	/* Fall back to [rbx]. */
	g->c->init.r.gpr[RBX] = DIFF_DATA_ADDR + t;
	e->mod = 0;
	e->rm = RBX;
	e->b = false;
	e->sib = false;
	e->disp_size = 0;
}

/* ---- specials ------------------------------------------------------------------------- */

static unsigned count_mask(unsigned opsize)
{
	return opsize == 8 ? 0x3f : 0x1f;
}

static uint8_t biased_count(struct diff_rng *r, unsigned opsize)
{
	if (diff_chance(r, 60))
		return (uint8_t)diff_below(r, 8 * opsize + 2);
	return (uint8_t)diff_rand(r);
}

/* Shifts and rotates: the count, and the flags it leaves undefined (SDM SAL/SHL, RCL/ROL). */
static void special_shift(struct gen *g, const struct tmpl *t, struct enc *e)
{
	unsigned count;
	if (t->op == 0xc0 || t->op == 0xc1) {
		e->imm = biased_count(g->r, g->opsize);
		count = (unsigned)e->imm;
	} else if (t->op == 0xd0 || t->op == 0xd1) {
		count = 1;
	} else {
		reg_set(g, RCX, 1, true, biased_count(g->r, g->opsize));
		count = (unsigned)g->c->init.r.gpr[RCX] & 0xff;
	}
	count &= count_mask(g->opsize);
	uint64_t *u = &g->c->undef.flags;
	if (count == 0)
		return;
	if (t->ext <= 3) { /* rol ror rcl rcr */
		if (count != 1)
			*u |= 0x800;
		return;
	}
	*u |= 0x10; /* AF */
	if (count != 1)
		*u |= 0x800;
	if (count >= 8 * g->opsize && (t->ext == 4 || t->ext == 5 || t->ext == 6))
		*u |= 0x1;
}

static void special_shxd(struct gen *g, const struct tmpl *t, struct enc *e)
{
	unsigned count;
	if (t->imm == IMM_8) {
		e->imm = biased_count(g->r, g->opsize);
		count = (unsigned)e->imm;
	} else {
		reg_set(g, RCX, 1, true, biased_count(g->r, g->opsize));
		count = (unsigned)g->c->init.r.gpr[RCX] & 0xff;
	}
	count &= count_mask(g->opsize);
	if (count == 0)
		return;
	g->c->undef.flags |= 0x10 | (count != 1 ? 0x800 : 0);
	if (count > 8 * g->opsize)
		g->c->undef.all = true; /* 16-bit operand, count 17-31: result undefined */
}

static void special_div(struct gen *g, const struct tmpl *t, const struct enc *e)
{
	struct diff_rng *r = g->r;
	unsigned sz = g->opsize;
	uint64_t m = sz == 8 ? ~0ull : (1ull << (8 * sz)) - 1;
	if (!diff_chance(r, 75))
		return;
	uint64_t d = rm_get(g, e, sz);
	if (d == 0) {
		d = 1 + diff_below(r, sz == 1 ? 255 : 1000);
		rm_set(g, e, sz, d);
	}
	unsigned hi_reg = sz == 1 ? 4 : RDX; /* AH (no REX meaning) or rDX */
	if (t->sp == SP_DIV) {
		reg_set(g, hi_reg, sz, false, diff_rand(r) % d);
	} else {
		uint64_t lo = reg_get(g, RAX, sz, false);
		bool neg = (lo >> (8 * sz - 1)) & 1;
		reg_set(g, hi_reg, sz, false, neg ? m : 0);
	}
}

static void special_bt(struct gen *g, const struct enc *e)
{
	if (!g->mem)
		return;
	/* A signed bit offset within +-64 bytes; above the operand size, garbage (ignored for
	 * 16 and 32 bits, as the offset is the sign-extended register at the operand size). */
	int64_t off = (int64_t)diff_below(g->r, 1024) - 512;
	uint64_t v = (uint64_t)off;
	if (g->opsize < 8)
		v = ((uint64_t)off & ((1ull << (8 * g->opsize)) - 1)) |
		    (diff_rand(g->r) << (8 * g->opsize));
	g->c->init.r.gpr[g->reg] = v;
}

static void special_bsf(struct gen *g, const struct enc *e)
{
	if (diff_chance(g->r, 30))
		rm_set(g, e, g->opsize, 0);
	if (rm_get(g, e, g->opsize) == 0)
		g->c->undef.gprs |= (uint16_t)(1u << g->reg);
}

static void special_cmpxchg(struct gen *g, const struct tmpl *t, const struct enc *e)
{
	if (t->sp == SP_CMPXCHG) {
		if (diff_chance(g->r, 50))
			reg_set(g, RAX, g->opsize, true, rm_get(g, e, g->opsize));
		return;
	}
	unsigned half = e->w ? 8 : 4;
	if (diff_chance(g->r, 50)) {
		reg_set(g, RAX, half, true, mem_get(g, g->ea, half));
		reg_set(g, RDX, half, true, mem_get(g, g->ea + half, half));
	}
}

static void special_xcount(struct gen *g, const struct enc *e)
{
	if (!diff_chance(g->r, 60))
		return;
	uint64_t count = diff_below(g->r, 66);
	if (g->mem)
		mem_set(g, g->ea, 8, count);
	else
		memcpy(g->c->init.r.xmm[g->rm], &count, 8);
}

/* SSE float cases: float data, and sometimes another rounding mode, DAZ/FTZ, or unmasked
 * invalid, denormal, divide-by-zero or precision exceptions (#XM then, SIGFPE natively). */
static void special_float(struct gen *g, const struct tmpl *t)
{
	struct diff_rng *r = g->r;
	for (unsigned i = 0; i < 16; i++)
		gen_float_lanes(r, g->c->init.r.xmm[i]);
	if (g->mem)
		gen_float_lanes(r, g->c->init.data + g->ea);
	uint32_t *mx = &g->c->init.r.mxcsr;
	if (diff_chance(r, 20))
		*mx = (*mx & ~0x6000u) | (uint32_t)diff_below(r, 4) << 13;
	if (diff_chance(r, 10))
		*mx |= 0x8040; /* FTZ, DAZ */
	/* Overflow and underflow stay masked: with them unmasked the interpreter's flags can
	 * differ (it computes with them masked; docs/interpreter.md, known differences). */
	if (diff_chance(r, 5))
		*mx &= ~(uint32_t)(diff_rand(r) & 0x1380);
}

static void apply_special(struct gen *g, const struct tmpl *t, struct enc *e)
{
	switch (t->sp) {
	case SP_SHIFT:
		special_shift(g, t, e);
		break;
	case SP_SHXD:
		special_shxd(g, t, e);
		break;
	case SP_DIV:
	case SP_IDIV:
		special_div(g, t, e);
		break;
	case SP_BT:
		special_bt(g, e);
		break;
	case SP_BSF:
		special_bsf(g, e);
		break;
	case SP_BSWAP:
		if (g->opsize == 2)
			g->c->undef.gprs |= (uint16_t)(1u << g->rm);
		break;
	case SP_CMPXCHG:
	case SP_CX8:
		special_cmpxchg(g, t, e);
		break;
	case SP_XCOUNT:
		special_xcount(g, e);
		break;
	case SP_LEAVE:
		g->c->init.r.gpr[RBP] = DIFF_DATA_ADDR + 1024 + (diff_below(g->r, 6144) & ~7ull);
		break;
	}
	if (t->f & F_FLT)
		special_float(g, t);
}

/* Registers a special setup writes must not be the addressing registers. */
static uint16_t avoid_for(const struct tmpl *t, unsigned reg)
{
	switch (t->sp) {
	case SP_DIV:
	case SP_IDIV:
	case SP_CX8:
		return 1u << RAX | 1u << RDX;
	case SP_CMPXCHG:
		return 1u << RAX;
	case SP_SHIFT:
	case SP_SHXD:
		return 1u << RCX;
	case SP_BT:
		return (uint16_t)(1u << reg);
	default:
		return 0;
	}
}

/* ---- one instruction from a template ------------------------------------------------------ */

/* Operand size from 66 and REX.W as the template allows. */
void gen_choose_size(struct gen *g, const struct tmpl *t, struct enc *e)
{
	struct diff_rng *r = g->r;
	bool sse = (t->f & (F_XR | F_XM)) != 0;
	e->w = diff_chance(r, sse ? 30 : 0);
	g->opsize = 4;
	if (t->f & F_B) {
		g->opsize = 1;
	} else if (t->f & (F_V | F_D64)) {
		unsigned k = (unsigned)diff_below(r, 100);
		bool p66 = k < 25 || k >= 95, w = k >= 60;
		if (p66)
			gen_add_prefix(e, 0x66);
		e->w = w;
		g->opsize = w ? 8 : p66 ? 2 : (t->f & F_D64) ? 8 : 4;
	}
	if (t->pfx)
		gen_add_prefix(e, t->pfx);
}

static unsigned mem_size(const struct gen *g, const struct tmpl *t)
{
	if (t->f & (F_XR | F_XM))
		return 16;
	if (t->sp == SP_CX8)
		return 16;
	return g->opsize;
}

static void choose_operands(struct gen *g, const struct tmpl *t, struct enc *e)
{
	struct diff_rng *r = g->r;
	if (t->f & F_OPR) {
		unsigned n = (unsigned)diff_below(r, 16);
		e->op = (uint8_t)(t->op | (n & 7));
		e->b = n >= 8;
		g->rm = n;
	}
	if (t->f & F_NOMODRM)
		return;
	e->modrm = true;
	g->reg = t->ext >= 0 ? (unsigned)t->ext : (unsigned)diff_below(r, 16);
	e->reg = (uint8_t)g->reg;
	e->r = t->ext < 0 && g->reg >= 8;
	if (t->ext >= 0 && diff_chance(r, 5))
		e->r = true; /* REX.R on a /n opcode extension is ignored */
	g->avoid = avoid_for(t, g->reg);
	bool mem = (t->f & F_MEM) || (!(t->f & F_REG) && diff_chance(r, 55));
	if (mem) {
		bool a16 = (t->f & F_A16) || (t->sp == SP_CX8 && e->w);
		gen_mem(g, e, mem_size(g, t), a16);
	} else {
		g->rm = (unsigned)diff_below(r, 16);
		e->mod = 3;
		e->rm = (uint8_t)g->rm;
		e->b = g->rm >= 8;
	}
}

static void choose_prefixes(struct gen *g, const struct tmpl *t, struct enc *e)
{
	struct diff_rng *r = g->r;
	bool sse = (t->f & (F_XR | F_XM)) != 0;
	/* Byte registers: REX changes AH..BH into SPL..DIL; sometimes an empty REX anyway. */
	if (diff_chance(r, (t->f & (F_B | F_RM8)) ? 40 : 5))
		e->rex = true;
	if ((t->f & F_LOCK) && g->mem && diff_chance(r, t->cls == CLS_ATOMIC ? 70 : 30))
		gen_add_prefix(e, 0xf0);
	else if (diff_chance(r, 1))
		gen_add_prefix(e, 0xf0); /* where lock is invalid: #UD on both */
	if (g->mem && diff_chance(r, 8)) {
		static const uint8_t seg[] = {0x26, 0x2e, 0x36, 0x3e}; /* ignored in 64-bit mode */
		gen_add_prefix(e, seg[diff_below(r, 4)]);
	}
	if (!sse)
		gen_shuffle_prefixes(r, e);
	else if (t->pfx && e->nlegacy > 1) {
		/* Keep the mandatory prefix last. */
		for (unsigned i = 0; i + 1 < e->nlegacy; i++)
			if (e->legacy[i] == t->pfx) {
				e->legacy[i] = e->legacy[e->nlegacy - 1];
				e->legacy[e->nlegacy - 1] = t->pfx;
			}
	}
}

static void choose_imm(struct gen *g, const struct tmpl *t, struct enc *e)
{
	switch (t->imm) {
	case IMM_8:
		e->imm_size = 1;
		break;
	case IMM_16:
		e->imm_size = 2;
		break;
	case IMM_Z:
		e->imm_size = g->opsize == 2 ? 2 : 4;
		break;
	case IMM_V:
		e->imm_size = g->opsize;
		break;
	}
	e->imm = gen_imm_value(g->r);
}

static void gen_template(struct gen *g, const struct tmpl *t)
{
	struct enc e = {.map = t->map, .op = t->op};
	gen_choose_size(g, t, &e);
	choose_operands(g, t, &e);
	choose_prefixes(g, t, &e);
	choose_imm(g, t, &e);
	apply_special(g, t, &e);
	g->c->undef.flags |= t->undef;
	gen_emit(g, &e);
}

/* Appends bytes as one more instruction of the case, if they fit. */
static void gen_append(struct gen *g, const uint8_t *bytes, unsigned len)
{
	if (g->off + len > DIFF_CODE_MAX)
		return;
	memcpy(g->c->code + g->off, bytes, len);
	g->off += len;
	g->c->len = (uint8_t)g->off;
	g->c->ninsn++;
}

/* ---- an ALU instruction and a Jcc ------------------------------------------------------------ */

static const unsigned *class_templates(unsigned cls, unsigned *n);

/* An ALU template's instruction, a Jcc (any condition, rel8 or rel32) over `not rdx`, which
 * leaves the flags alone: whether it is skipped shows the branch, the flags the ALU's. */
static void gen_pair(struct gen *g)
{
	unsigned n, total;
	const unsigned *idx = class_templates(CLS_ALU, &n);
	const struct tmpl *t = &diff_templates(&total)[idx[diff_below(g->r, n)]];
	g->c->name = t->name;
	gen_template(g, t);
	static const uint8_t not_rdx[] = {0x48, 0xf7, 0xd2};
	unsigned cc = (unsigned)diff_below(g->r, 16);
	struct enc jcc = {.op = (uint8_t)(0x70 + cc), .imm_size = 1, .imm = sizeof(not_rdx)};
	if (diff_chance(g->r, 30)) {
		jcc.map = 1;
		jcc.op = (uint8_t)(0x80 + cc);
		jcc.imm_size = 4;
	}
	gen_emit(g, &jcc);
	gen_append(g, not_rdx, sizeof(not_rdx));
}

/* An ALU, shift or multiply template's instruction, then `cmp rdx, rbx`, which writes all six
 * arithmetic flags: the first one's flags are dead (emu_decode.c's flag liveness), so only its
 * result is compared, and what the SDM leaves undefined in its flags no longer shows. One case in
 * five puts a load from a non-canonical address between them (`mov rax, [0x8000000000000000]`,
 * #GP): the exception must see the first one's flags, so an instruction that may fault keeps
 * them alive although the CMP after it writes them all. */
static void gen_dead_flags(struct gen *g)
{
	static const unsigned classes[] = {CLS_ALU, CLS_SHIFT, CLS_MULDIV};
	unsigned n, total;
	const unsigned *idx = class_templates(classes[diff_below(g->r, 3)], &n);
	const struct tmpl *t = &diff_templates(&total)[idx[diff_below(g->r, n)]];
	g->c->name = t->name;
	gen_template(g, t);
	static const uint8_t load_gp[] = {0x48, 0xa1, 0, 0, 0, 0, 0, 0, 0, 0x80};
	static const uint8_t cmp_rdx_rbx[] = {0x48, 0x39, 0xda};
	if (diff_chance(g->r, 20))
		gen_append(g, load_gp, sizeof(load_gp));
	else
		g->c->undef.flags = 0;
	gen_append(g, cmp_rdx_rbx, sizeof(cmp_rdx_rbx));
}

/* ---- the public face ----------------------------------------------------------------------- */

static const unsigned *class_templates(unsigned cls, unsigned *n)
{
	static unsigned idx[CLS_COUNT][256], cnt[CLS_COUNT];
	static bool built;
	if (!built) {
		unsigned total;
		const struct tmpl *t = diff_templates(&total);
		for (unsigned i = 0; i < total; i++)
			if (cnt[t[i].cls] < 256)
				idx[t[i].cls][cnt[t[i].cls]++] = i;
		built = true;
	}
	*n = cnt[cls];
	return idx[cls];
}

unsigned diff_class_count(void)
{
	return CLS_COUNT;
}

const char *diff_class_name(unsigned cls)
{
	return diff_class_names(cls);
}

int diff_class_find(const char *name)
{
	for (unsigned c = 0; c < CLS_COUNT; c++)
		if (!strcmp(name, diff_class_names(c)))
			return (int)c;
	return -1;
}

void diff_generate(struct diff_case *c, unsigned cls, uint64_t seed, uint64_t index)
{
	struct diff_rng r = {.s = seed * 0x2545f4914f6cdd1dull ^ index};
	diff_rand(&r);
	memset(c, 0, offsetof(struct diff_case, init));
	c->cls = cls;
	gen_random_state(&r, &c->init);
	struct gen g = {.r = &r, .c = c};
	if (cls == CLS_X87) {
		gen_x87(&g);
		return;
	}
	if (cls == CLS_PAIR) {
		gen_pair(&g);
		return;
	}
	if (cls == CLS_DEAD_FLAGS) {
		gen_dead_flags(&g);
		return;
	}
	unsigned n, total;
	const unsigned *idx = class_templates(cls, &n);
	const struct tmpl *t = &diff_templates(&total)[idx[diff_below(&r, n)]];
	c->name = t->name;
	if (t->sp == SP_STRING)
		gen_string(&g, t);
	else
		gen_template(&g, t);
}
