/* Memory images of the x87/SSE state: the 512-byte FXSAVE area and the FNSTENV/FNSAVE
 * environment (the 28-byte 32-bit protected-mode format and the 14-byte 16-bit one).
 *
 * struct emu_fpu keeps the registers as FXSAVE does (abridged tag, physical registers), so the
 * FXSAVE image is mostly a copy; the registers are stored in stack order ST(0)..ST(7). The
 * environment's full tag word classifies each valid register (valid, zero, special) from its
 * contents, and loading it back keeps only empty / not empty, as the hardware does.
 *
 * The selectors FCS and FDS are not kept (the hardware deprecates them too): stored as 0.
 * Nothing here touches a vCPU, so the unit tests compare these layouts with the host's. */
#include <string.h>

#include "vmm/cpu/emu/emu_fpu.h"

static void put(uint8_t *p, unsigned off, uint64_t v, unsigned size)
{
	memcpy(p + off, &v, size);
}

static uint64_t get(const uint8_t *p, unsigned off, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, p + off, size);
	return v;
}

static unsigned phys(const struct emu_fpu *f, unsigned i)
{
	return (((f->fsw & FSW_TOP) >> FSW_TOP_SHIFT) + i) & 7;
}

/* FXSAVE: FIP/FDP are 64-bit with REX.W, else 32-bit offsets followed by the selectors. */
void fpu_fxsave_image(const struct emu_fpu *f, uint8_t img[FXSAVE_SIZE], bool rex_w, unsigned nxmm)
{
	memset(img, 0, FXSAVE_USED);
	put(img, 0, f->fcw, 2);
	put(img, 2, f->fsw, 2);
	put(img, 4, f->ftw, 1);
	put(img, 6, f->fop, 2);
	put(img, 8, f->fip, rex_w ? 8 : 4);
	put(img, 16, f->fdp, rex_w ? 8 : 4);
	put(img, 24, f->mxcsr, 4);
	put(img, 28, MXCSR_WRITABLE, 4);
	for (unsigned i = 0; i < 8; i++)
		memcpy(img + 32 + 16 * i, f->st[phys(f, i)], 10);
	memcpy(img + 160, f->xmm, 16 * nxmm);
}

void fpu_fxrstor_image(struct emu_fpu *f, const uint8_t img[FXSAVE_SIZE], bool rex_w, unsigned nxmm)
{
	f->fcw = (uint16_t)get(img, 0, 2);
	f->fsw = (uint16_t)get(img, 2, 2);
	f->ftw = (uint8_t)get(img, 4, 1);
	f->fop = (uint16_t)get(img, 6, 2) & 0x7ff;
	f->fip = get(img, 8, rex_w ? 8 : 4);
	f->fdp = get(img, 16, rex_w ? 8 : 4);
	f->mxcsr = (uint32_t)get(img, 24, 4);
	for (unsigned i = 0; i < 8; i++) {
		uint8_t *r = f->st[phys(f, i)];
		memcpy(r, img + 32 + 16 * i, 10);
		memset(r + 10, 0, 6);
	}
	memcpy(f->xmm, img + 160, 16 * nxmm);
}

/* The full tag of a valid register: 0 valid, 1 zero, 2 special (NaN, infinity, denormal,
 * unsupported encodings). */
static unsigned tag_of(const uint8_t *r)
{
	unsigned exp = (unsigned)get(r, 8, 2) & 0x7fff;
	uint64_t mant = get(r, 0, 8);

	if (exp == 0x7fff)
		return 2;
	if (exp == 0)
		return mant ? 2 : 1;
	return (mant >> 63) ? 0 : 2;
}

uint16_t fpu_full_tag(const struct emu_fpu *f)
{
	uint16_t tw = 0;

	for (unsigned r = 0; r < 8; r++)
		tw |= (uint16_t)((f->ftw & (1u << r) ? tag_of(f->st[r]) : 3) << (2 * r));
	return tw;
}

static uint8_t abridged_tag(uint16_t tw)
{
	uint8_t ftw = 0;

	for (unsigned r = 0; r < 8; r++)
		if (((tw >> (2 * r)) & 3) != 3)
			ftw |= (uint8_t)(1u << r);
	return ftw;
}

/* 28-byte format: dwords FCW, FSW, FTW, FIP, FCS | FOP << 16, FDP, FDS (upper halves of the
 * first three reserved, stored as ones as the hardware does); 14-byte format: the same as
 * words, without FOP. */
void fpu_env_image(const struct emu_fpu *f, uint8_t *env, bool op16)
{
	if (op16) {
		uint16_t w[7] = {f->fcw,	   f->fsw, fpu_full_tag(f), (uint16_t)f->fip, 0,
				 (uint16_t)f->fdp, 0};
		memcpy(env, w, sizeof(w));
		return;
	}
	uint32_t d[7] = {0xffff0000u | f->fcw,
			 0xffff0000u | f->fsw,
			 0xffff0000u | fpu_full_tag(f),
			 (uint32_t)f->fip,
			 (uint32_t)(f->fop & 0x7ff) << 16,
			 (uint32_t)f->fdp,
			 0xffff0000u};
	memcpy(env, d, sizeof(d));
}

void fpu_env_load(struct emu_fpu *f, const uint8_t *env, bool op16)
{
	unsigned size = op16 ? 2 : 4;

	f->fcw = (uint16_t)get(env, 0, 2);
	f->fsw = (uint16_t)get(env, size, 2);
	f->ftw = abridged_tag((uint16_t)get(env, 2 * size, 2));
	f->fip = get(env, 3 * size, size);
	f->fop = op16 ? 0 : (uint16_t)(get(env, 4 * size + 2, 2) & 0x7ff);
	f->fdp = get(env, 5 * size, size);
}

unsigned fpu_env_size(bool op16)
{
	return op16 ? 14 : 28;
}

void fpu_save_image(const struct emu_fpu *f, uint8_t *img, bool op16)
{
	unsigned env = fpu_env_size(op16);

	fpu_env_image(f, img, op16);
	for (unsigned i = 0; i < 8; i++)
		memcpy(img + env + 10 * i, f->st[phys(f, i)], 10);
}

void fpu_restore_image(struct emu_fpu *f, const uint8_t *img, bool op16)
{
	unsigned env = fpu_env_size(op16);

	fpu_env_load(f, img, op16);
	for (unsigned i = 0; i < 8; i++)
		memcpy(f->st[phys(f, i)], img + env + 10 * i, 10);
}
