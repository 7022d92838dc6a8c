/* x86-64 decoder for the emulation assist (see the header for its scope).
 *
 * Decoding runs in the order the SDM (vol. 2, chapter 2) lays an instruction out: legacy
 * prefixes, an optional REX byte that must come last, the opcode (one byte, or 0f and one byte),
 * then ModRM, SIB and displacement. The opcode is looked up in a table that also says which
 * mandatory prefix it needs (F2/F3 take precedence over 66, as for SSE encodings) and what its
 * ModRM byte may be. No supported instruction has an immediate, so the length is known as soon as
 * the operand bytes are parsed. Every read is checked against the buffer length. */
#include "vmm/cpu/kvm/x86_decode.h"

#include <stdio.h>

#define PREFIX_NONE 0x00
#define PREFIX_ANY  0x01 /* the instruction ignores 66/f2/f3 */

enum opcode_map { MAP_ONE_BYTE, MAP_0F };

enum modrm_form {
	MODRM_NONE,  /* no ModRM byte */
	MODRM_EXACT, /* the ModRM byte must equal `modrm` (0f 01 ca) */
	MODRM_MEM,   /* memory operand only, ModRM.reg must equal `modrm` (0f ae /2) */
	MODRM_ANY,   /* register or memory operand, ModRM.reg is an operand */
};

struct opcode_entry {
	enum opcode_map map;
	uint8_t opcode;
	uint8_t prefix;
	enum modrm_form form;
	uint8_t modrm;
	bool aligned;
	enum x86_op op;
};

static const struct opcode_entry opcode_table[] = {
    {MAP_ONE_BYTE, 0xcc, PREFIX_ANY, MODRM_NONE, 0, false, X86_OP_INT3},
    {MAP_ONE_BYTE, 0x9b, PREFIX_ANY, MODRM_NONE, 0, false, X86_OP_FWAIT},
    {MAP_0F, 0x01, PREFIX_NONE, MODRM_EXACT, 0xca, false, X86_OP_CLAC},
    {MAP_0F, 0x01, PREFIX_NONE, MODRM_EXACT, 0xcb, false, X86_OP_STAC},
    {MAP_0F, 0xae, PREFIX_NONE, MODRM_MEM, 2, false, X86_OP_LDMXCSR},
    {MAP_0F, 0xae, PREFIX_NONE, MODRM_MEM, 3, false, X86_OP_STMXCSR},
    {MAP_0F, 0x6e, 0x66, MODRM_ANY, 0, false, X86_OP_MOVD_TO_XMM},
    {MAP_0F, 0x7e, 0x66, MODRM_ANY, 0, false, X86_OP_MOVD_FROM_XMM},
    {MAP_0F, 0x7e, 0xf3, MODRM_ANY, 0, false, X86_OP_MOVQ_LOAD},
    {MAP_0F, 0xd6, 0x66, MODRM_ANY, 0, false, X86_OP_MOVQ_STORE},
    {MAP_0F, 0x6f, 0x66, MODRM_ANY, 0, true, X86_OP_MOV128_LOAD},	   /* movdqa */
    {MAP_0F, 0x6f, 0xf3, MODRM_ANY, 0, false, X86_OP_MOV128_LOAD},	   /* movdqu */
    {MAP_0F, 0x28, PREFIX_NONE, MODRM_ANY, 0, true, X86_OP_MOV128_LOAD},   /* movaps */
    {MAP_0F, 0x28, 0x66, MODRM_ANY, 0, true, X86_OP_MOV128_LOAD},	   /* movapd */
    {MAP_0F, 0x10, PREFIX_NONE, MODRM_ANY, 0, false, X86_OP_MOV128_LOAD},  /* movups */
    {MAP_0F, 0x10, 0x66, MODRM_ANY, 0, false, X86_OP_MOV128_LOAD},	   /* movupd */
    {MAP_0F, 0x7f, 0x66, MODRM_ANY, 0, true, X86_OP_MOV128_STORE},	   /* movdqa */
    {MAP_0F, 0x7f, 0xf3, MODRM_ANY, 0, false, X86_OP_MOV128_STORE},	   /* movdqu */
    {MAP_0F, 0x29, PREFIX_NONE, MODRM_ANY, 0, true, X86_OP_MOV128_STORE},  /* movaps */
    {MAP_0F, 0x29, 0x66, MODRM_ANY, 0, true, X86_OP_MOV128_STORE},	   /* movapd */
    {MAP_0F, 0x11, PREFIX_NONE, MODRM_ANY, 0, false, X86_OP_MOV128_STORE}, /* movups */
    {MAP_0F, 0x11, 0x66, MODRM_ANY, 0, false, X86_OP_MOV128_STORE},	   /* movupd */
    {MAP_0F, 0xef, 0x66, MODRM_ANY, 0, true, X86_OP_XOR128},		   /* pxor */
    {MAP_0F, 0x57, PREFIX_NONE, MODRM_ANY, 0, true, X86_OP_XOR128},	   /* xorps */
    {MAP_0F, 0x57, 0x66, MODRM_ANY, 0, true, X86_OP_XOR128},		   /* xorpd */
};

static const char *const op_names[X86_OP_COUNT] = {
    [X86_OP_INT3] = "int3",
    [X86_OP_FWAIT] = "fwait",
    [X86_OP_CLAC] = "clac",
    [X86_OP_STAC] = "stac",
    [X86_OP_LDMXCSR] = "ldmxcsr",
    [X86_OP_STMXCSR] = "stmxcsr",
    [X86_OP_MOVD_TO_XMM] = "movd/movq to xmm",
    [X86_OP_MOVD_FROM_XMM] = "movd/movq from xmm",
    [X86_OP_MOVQ_LOAD] = "movq xmm load",
    [X86_OP_MOVQ_STORE] = "movq xmm store",
    [X86_OP_MOV128_LOAD] = "128-bit xmm load",
    [X86_OP_MOV128_STORE] = "128-bit xmm store",
    [X86_OP_XOR128] = "pxor/xorps",
};

const char *x86_op_name(enum x86_op op)
{
	return (unsigned)op < X86_OP_COUNT ? op_names[op] : "?";
}

/* Where decoding stands: the buffer, the read position and what the prefixes said. */
struct decoder {
	const uint8_t *code;
	size_t len;
	size_t pos;
	uint8_t rex;
	uint8_t simd_prefix; /* last f2/f3, else 66, else PREFIX_NONE */
	bool opsize, rep_f2, rep_f3, lock;
	enum x86_seg seg;
	bool addr32;
};

static int next_byte(struct decoder *d, uint8_t *out)
{
	if (d->pos >= d->len || d->pos >= X86_MAX_INSN_LEN)
		return -1;
	*out = d->code[d->pos++];
	return 0;
}

static int next_disp(struct decoder *d, unsigned bytes, int32_t *out)
{
	uint32_t value = 0;
	for (unsigned i = 0; i < bytes; i++) {
		uint8_t b;
		if (next_byte(d, &b) < 0)
			return -1;
		value |= (uint32_t)b << (8 * i);
	}
	if (bytes == 1)
		*out = (int8_t)value;
	else
		*out = (int32_t)value;
	return 0;
}

static bool is_legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0x26:
	case 0x2e:
	case 0x36:
	case 0x3e:
	case 0x64:
	case 0x65:
	case 0x66:
	case 0x67:
	case 0xf0:
	case 0xf2:
	case 0xf3:
		return true;
	default:
		return false;
	}
}

static void apply_legacy_prefix(struct decoder *d, uint8_t b)
{
	switch (b) {
	case 0x64:
		d->seg = X86_SEG_FS;
		break;
	case 0x65:
		d->seg = X86_SEG_GS;
		break;
	case 0x26:
	case 0x2e:
	case 0x36:
	case 0x3e:
		d->seg = X86_SEG_DEFAULT; /* ignored in 64-bit mode */
		break;
	case 0x66:
		d->opsize = true;
		break;
	case 0x67:
		d->addr32 = true;
		break;
	case 0xf2:
		d->rep_f2 = true;
		d->rep_f3 = false;
		break;
	case 0xf3:
		d->rep_f3 = true;
		d->rep_f2 = false;
		break;
	default:
		d->lock = true;
		break;
	}
}

/* Reads prefixes and returns the first opcode byte. A REX byte only counts when the opcode
 * follows it directly; one followed by a legacy prefix is ignored, as the SDM specifies. */
static int read_prefixes(struct decoder *d, uint8_t *opcode)
{
	uint8_t b;
	for (;;) {
		if (next_byte(d, &b) < 0)
			return -1;
		if (is_legacy_prefix(b)) {
			apply_legacy_prefix(d, b);
			d->rex = 0;
		} else if ((b & 0xf0) == 0x40) {
			d->rex = b;
		} else {
			break;
		}
	}
	d->simd_prefix = d->rep_f3 ? 0xf3 : d->rep_f2 ? 0xf2 : d->opsize ? 0x66 : PREFIX_NONE;
	*opcode = b;
	return 0;
}

static const struct opcode_entry *find_opcode(enum opcode_map map, uint8_t opcode, uint8_t prefix,
					      bool have_modrm, uint8_t modrm)
{
	for (size_t i = 0; i < sizeof(opcode_table) / sizeof(opcode_table[0]); i++) {
		const struct opcode_entry *e = &opcode_table[i];
		if (e->map != map || e->opcode != opcode)
			continue;
		if (e->prefix != PREFIX_ANY && e->prefix != prefix)
			continue;
		if (e->form == MODRM_NONE)
			return e;
		if (!have_modrm)
			continue;
		if (e->form == MODRM_EXACT && modrm != e->modrm)
			continue;
		if (e->form == MODRM_MEM && ((modrm >> 6) == 3 || ((modrm >> 3) & 7) != e->modrm))
			continue;
		return e;
	}
	return NULL;
}

/* Parses SIB (if any) and the displacement of a memory ModRM byte. */
static int decode_mem_operand(struct decoder *d, uint8_t modrm, struct x86_mem *mem)
{
	unsigned mod = modrm >> 6, rm = modrm & 7;
	unsigned disp_bytes = mod == 1 ? 1 : mod == 2 ? 4 : 0;
	mem->index = X86_REG_NONE;
	mem->scale = 1;
	mem->seg = d->seg;
	mem->addr32 = d->addr32;
	if (rm == 4) {
		uint8_t sib;
		if (next_byte(d, &sib) < 0)
			return -1;
		unsigned index = ((sib >> 3) & 7) | ((d->rex & 0x2) << 2);
		unsigned base = sib & 7;
		mem->scale = (uint8_t)(1u << (sib >> 6));
		mem->index = index == 4 ? X86_REG_NONE : (int8_t)index;
		if (base == 5 && mod == 0) {
			mem->base = X86_REG_NONE;
			disp_bytes = 4;
		} else {
			mem->base = (int8_t)(base | ((d->rex & 0x1) << 3));
		}
	} else if (rm == 5 && mod == 0) {
		mem->base = X86_REG_RIP;
		disp_bytes = 4;
	} else {
		mem->base = (int8_t)(rm | ((d->rex & 0x1) << 3));
	}
	mem->disp = 0;
	return disp_bytes ? next_disp(d, disp_bytes, &mem->disp) : 0;
}

static int refuse(const struct decoder *d, char *err, size_t errlen, const char *why)
{
	int n = snprintf(err, errlen, "%s:", why);
	for (size_t i = 0; i < d->len && i < X86_MAX_INSN_LEN && n >= 0 && (size_t)n < errlen; i++)
		n += snprintf(err + n, errlen - (size_t)n, " %02x", d->code[i]);
	return -1;
}

int x86_decode(const uint8_t *code, size_t len, struct x86_insn *insn, char *err, size_t errlen)
{
	struct decoder d = {.code = code, .len = len};
	uint8_t opcode, modrm = 0;
	enum opcode_map map = MAP_ONE_BYTE;
	*insn = (struct x86_insn){0};
	if (read_prefixes(&d, &opcode) < 0)
		return refuse(&d, err, errlen, "truncated instruction");
	if (opcode == 0x0f) {
		map = MAP_0F;
		if (next_byte(&d, &opcode) < 0)
			return refuse(&d, err, errlen, "truncated instruction");
	}
	/* Only 0f-map instructions in the table take a ModRM byte, and all of them do. */
	bool have_modrm = map == MAP_0F;
	if (have_modrm) {
		if (d.pos >= d.len || d.pos >= X86_MAX_INSN_LEN)
			return refuse(&d, err, errlen, "truncated instruction");
		modrm = d.code[d.pos];
	}
	const struct opcode_entry *e = find_opcode(map, opcode, d.simd_prefix, have_modrm, modrm);
	if (!e)
		return refuse(&d, err, errlen, "not an instruction vsmp-vmm emulates");
	if (d.lock) /* none of the supported instructions accepts it: #UD on hardware */
		return refuse(&d, err, errlen,
			      "lock prefix on an instruction that does not take one");
	insn->op = e->op;
	insn->rex_w = d.rex & 0x8;
	insn->aligned = e->aligned;
	if (e->form != MODRM_NONE) {
		d.pos++;
		insn->reg = (uint8_t)(((modrm >> 3) & 7) | ((d.rex & 0x4) << 1));
		insn->rm_is_mem = (modrm >> 6) != 3;
		if (!insn->rm_is_mem)
			insn->rm = (uint8_t)((modrm & 7) | ((d.rex & 0x1) << 3));
		else if (decode_mem_operand(&d, modrm, &insn->mem) < 0)
			return refuse(&d, err, errlen, "truncated instruction");
	}
	insn->len = (uint8_t)d.pos;
	return 0;
}

uint64_t x86_mem_address(const struct x86_insn *insn, const uint64_t gpr[16], uint64_t next_rip,
			 uint64_t seg_base)
{
	const struct x86_mem *m = &insn->mem;
	uint64_t ea = (uint64_t)(int64_t)m->disp;
	if (m->base == X86_REG_RIP)
		ea += next_rip;
	else if (m->base >= 0 && m->base < 16)
		ea += gpr[m->base];
	if (m->index >= 0 && m->index < 16)
		ea += gpr[m->index] * m->scale;
	if (m->addr32)
		ea &= 0xffffffffu;
	return ea + seg_base;
}
