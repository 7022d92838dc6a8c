/* The decode cache: instructions decoded once by Zydis into struct emu_insn and kept per vCPU,
 * keyed by the guest-physical address of their first byte and the decoding mode.
 *
 * A cache entry is valid while its page's generation (emu_accel.page_gen) is what it was when
 * the entry was decoded. Decoding a page marks it in code_page; a store to a marked page (by a
 * local vCPU, emu_mem.c), a device or the coherence engine (accel page_changed) clears the mark
 * and bumps the generation, so every vCPU's entries of that page go stale at once, without
 * anyone walking the caches. The mark is set before the bytes are read, so a store that the
 * reader might have missed finds the mark and bumps the generation.
 *
 * An instruction that crosses a page boundary is decoded every time it runs (its bytes live in
 * two pages); they are rare. */
#include <stdlib.h>
#include <string.h>

#include "vmm/cpu/emu/emu.h"
#include "vmm/cpu/emu/emu_internal.h"

struct emu_decode_cache *emu_dcache_create(void)
{
	return calloc(1, sizeof(struct emu_decode_cache));
}

void emu_dcache_destroy(struct emu_decode_cache *d)
{
	free(d);
}

static const ZydisMachineMode zydis_modes[EMU_MODE_COUNT] = {
    [EMU_MODE_REAL] = ZYDIS_MACHINE_MODE_REAL_16,
    [EMU_MODE_16] = ZYDIS_MACHINE_MODE_LEGACY_16,
    [EMU_MODE_32] = ZYDIS_MACHINE_MODE_LEGACY_32,
    [EMU_MODE_64] = ZYDIS_MACHINE_MODE_LONG_64,
};
static const ZydisStackWidth zydis_stack[EMU_MODE_COUNT] = {
    [EMU_MODE_REAL] = ZYDIS_STACK_WIDTH_16,
    [EMU_MODE_16] = ZYDIS_STACK_WIDTH_16,
    [EMU_MODE_32] = ZYDIS_STACK_WIDTH_32,
    [EMU_MODE_64] = ZYDIS_STACK_WIDTH_64,
};

/* Zydis is told what our CPUID says: no LZCNT/TZCNT (F3 0F BC/BD stay BSF/BSR), no CET
 * (endbr64 is a NOP), no MPX (bnd prefixes are ignored). */
int emu_decoders_init(struct emu_accel *a)
{
	for (unsigned m = 0; m < EMU_MODE_COUNT; m++) {
		ZydisDecoder *d = &a->decoder[m];
		if (!ZYAN_SUCCESS(ZydisDecoderInit(d, zydis_modes[m], zydis_stack[m])))
			return -1;
		ZydisDecoderEnableMode(d, ZYDIS_DECODER_MODE_LZCNT, ZYAN_FALSE);
		ZydisDecoderEnableMode(d, ZYDIS_DECODER_MODE_TZCNT, ZYAN_FALSE);
		ZydisDecoderEnableMode(d, ZYDIS_DECODER_MODE_CET, ZYAN_FALSE);
		ZydisDecoderEnableMode(d, ZYDIS_DECODER_MODE_MPX, ZYAN_FALSE);
	}
	return 0;
}

static void reg_map(ZydisRegister r, uint8_t *cls, uint8_t *idx)
{
	*cls = EMU_RC_OTHER;
	*idx = 0;
	if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_R15B) {
		unsigned n = r - ZYDIS_REGISTER_AL;
		if (n >= 4 && n < 8) {
			*cls = EMU_RC_GPR8H;
			*idx = (uint8_t)(n - 4);
		} else {
			*cls = EMU_RC_GPR;
			*idx = (uint8_t)(n < 4 ? n : n - 4);
		}
	} else if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W) {
		*cls = EMU_RC_GPR;
		*idx = (uint8_t)(r - ZYDIS_REGISTER_AX);
	} else if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) {
		*cls = EMU_RC_GPR;
		*idx = (uint8_t)(r - ZYDIS_REGISTER_EAX);
	} else if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) {
		*cls = EMU_RC_GPR;
		*idx = (uint8_t)(r - ZYDIS_REGISTER_RAX);
	} else if (r >= ZYDIS_REGISTER_ES && r <= ZYDIS_REGISTER_GS) {
		*cls = EMU_RC_SEG;
		*idx = (uint8_t)(r - ZYDIS_REGISTER_ES);
	} else if (r >= ZYDIS_REGISTER_CR0 && r <= ZYDIS_REGISTER_CR15) {
		*cls = EMU_RC_CR;
		*idx = (uint8_t)(r - ZYDIS_REGISTER_CR0);
	} else if (r >= ZYDIS_REGISTER_DR0 && r <= ZYDIS_REGISTER_DR7) {
		*cls = EMU_RC_DR;
		*idx = (uint8_t)(r - ZYDIS_REGISTER_DR0);
	} else if (r >= ZYDIS_REGISTER_XMM0 && r <= ZYDIS_REGISTER_XMM15) {
		*cls = EMU_RC_XMM;
		*idx = (uint8_t)(r - ZYDIS_REGISTER_XMM0);
	} else if (r >= ZYDIS_REGISTER_MM0 && r <= ZYDIS_REGISTER_MM7) {
		*cls = EMU_RC_MMX;
		*idx = (uint8_t)(r - ZYDIS_REGISTER_MM0);
	} else if (r >= ZYDIS_REGISTER_ST0 && r <= ZYDIS_REGISTER_ST7) {
		*cls = EMU_RC_ST;
		*idx = (uint8_t)(r - ZYDIS_REGISTER_ST0);
	}
}

/* A GPR used as base or index; RIP-relative; or none (anything else is malformed here). */
static uint8_t addr_reg(ZydisRegister r)
{
	uint8_t cls, idx;
	if (r == ZYDIS_REGISTER_NONE)
		return EMU_REG_NONE;
	if (r == ZYDIS_REGISTER_RIP || r == ZYDIS_REGISTER_EIP || r == ZYDIS_REGISTER_IP)
		return EMU_REG_RIP;
	reg_map(r, &cls, &idx);
	return cls == EMU_RC_GPR ? idx : EMU_REG_NONE;
}

static void opnd_convert(const ZydisDecodedOperand *z, struct emu_opnd *o)
{
	*o = (struct emu_opnd){.size = (uint16_t)(z->size / 8)};
	switch (z->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER:
		o->kind = EMU_OPND_REG;
		reg_map(z->reg.value, &o->reg_class, &o->reg);
		break;
	case ZYDIS_OPERAND_TYPE_MEMORY:
		o->kind = EMU_OPND_MEM;
		o->base = addr_reg(z->mem.base);
		o->index = addr_reg(z->mem.index);
		o->scale = o->index == EMU_REG_NONE ? 0 : z->mem.scale;
		o->disp = z->mem.disp.has_displacement ? z->mem.disp.value : 0;
		if (z->mem.type == ZYDIS_MEMOP_TYPE_AGEN)
			o->seg = EMU_SEG_NONE;
		else if (z->mem.segment >= ZYDIS_REGISTER_ES && z->mem.segment <= ZYDIS_REGISTER_GS)
			o->seg = (uint8_t)(z->mem.segment - ZYDIS_REGISTER_ES);
		else
			o->seg = EMU_DS;
		break;
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		o->kind = EMU_OPND_IMM;
		o->disp = z->imm.is_signed ? z->imm.value.s : (int64_t)z->imm.value.u;
		break;
	case ZYDIS_OPERAND_TYPE_POINTER:
		o->kind = EMU_OPND_PTR;
		o->ptr_sel = z->ptr.segment;
		o->disp = z->ptr.offset;
		break;
	default:
		o->kind = EMU_OPND_NONE;
		break;
	}
}

/* ModRM.mod = 0 with SIB.base = 101b means "no base, disp32" whatever REX.B says; Zydis 4.0
 * names r13 (r13d) as the base when REX.B is set with a 32-bit address size. */
static void sib_without_base(const ZydisDecodedInstruction *z, const ZydisDecodedOperand *ops,
			     unsigned count, struct emu_insn *i)
{
	if (!(z->attributes & ZYDIS_ATTRIB_HAS_SIB) || z->raw.modrm.mod != 0 ||
	    z->raw.sib.base != 5)
		return;
	for (unsigned n = 0; n < count; n++)
		if (i->op[n].kind == EMU_OPND_MEM &&
		    ops[n].encoding == ZYDIS_OPERAND_ENCODING_MODRM_RM) {
			i->op[n].base = EMU_REG_NONE;
			i->op[n].disp = z->raw.disp.value;
		}
}

static void insn_convert(const struct emu_accel *a, unsigned mode, const ZydisDecodedInstruction *z,
			 const ZydisDecodedOperand *ops, struct emu_insn *i)
{
	*i = (struct emu_insn){
	    .mnemonic = (uint16_t)z->mnemonic,
	    .len = z->length,
	    .opsize = (uint8_t)(z->operand_width / 8),
	    .addrsize = (uint8_t)(z->address_width / 8),
	    .nopnd = z->operand_count_visible > 4 ? 4 : z->operand_count_visible,
	    .opcode = z->opcode,
	    .opcode_map = (uint8_t)z->opcode_map,
	    .modrm_reg = (z->attributes & ZYDIS_ATTRIB_HAS_MODRM) ? z->raw.modrm.reg : 0,
	    .mode = (uint8_t)mode,
	};
	if (z->attributes & ZYDIS_ATTRIB_HAS_LOCK)
		i->prefixes |= EMU_PFX_LOCK;
	if (z->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE))
		i->prefixes |= EMU_PFX_REP;
	if (z->attributes & ZYDIS_ATTRIB_HAS_REPNE)
		i->prefixes |= EMU_PFX_REPNE;
	if (z->attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE)
		i->prefixes |= EMU_PFX_OPSZ;
	/* Hidden operands follow the visible ones: a string instruction's DS:rSI is one, and it
	 * carries the segment override. */
	unsigned count = z->operand_count < 4 ? z->operand_count : 4;
	for (unsigned n = 0; n < count; n++)
		opnd_convert(&ops[n], &i->op[n]);
	sib_without_base(z, ops, count, i);
	i->fn = a->handlers[z->mnemonic];
	if (!i->fn)
		i->fn = emu_unimplemented;
}

/* Decodes bytes[0..len) for mode. 0, or -1 if the bytes are no instruction (#UD), or -2 if
 * more bytes are needed than given. */
int emu_decode_bytes(const struct emu_accel *a, unsigned mode, const uint8_t *bytes, unsigned len,
		     struct emu_insn *out)
{
	ZydisDecodedInstruction z;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	ZyanStatus st = ZydisDecoderDecodeFull(&a->decoder[mode], bytes, len, &z, ops);
	if (st == ZYDIS_STATUS_NO_MORE_DATA)
		return -2;
	if (!ZYAN_SUCCESS(st))
		return -1;
	insn_convert(a, mode, &z, ops, out);
	return 0;
}

void emu_code_page_written(struct emu_accel *a, uint64_t page)
{
	if (page >= a->pages)
		return;
	atomic_store_explicit(&a->code_page[page], 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&a->page_gen[page], 1, memory_order_release);
}

/* Decodes the instruction at RIP on a decode-cache miss: its first byte is at guest-physical
 * `gpa`, host `host` (NULL if it is not in RAM), with `avail` bytes left in its page. Faults (#PF
 * on the next page, #UD) are raised. `scratch` holds an instruction that is not cached. */
const struct emu_insn *emu_fetch_decode(struct emu_cpu *c, uint64_t gpa, const uint8_t *host,
					unsigned avail, struct emu_insn *scratch)
{
	struct emu_accel *a = c->accel;
	if (!host)
		emu_exit(c, CPU_EXIT_UNSUPPORTED, "vCPU %u: executing outside RAM at 0x%llx",
			 c->cpu.index, (unsigned long long)gpa);
	uint64_t page = gpa >> 12;
	uint64_t tag = gpa << 3 | (uint64_t)c->mode << 1 | 1;
	struct emu_dcache_entry *e = &c->dcache->e[(gpa ^ (gpa >> 13)) & (EMU_DCACHE_ENTRIES - 1)];

	if (!atomic_load_explicit(&a->code_page[page], memory_order_relaxed))
		atomic_store(&a->code_page[page], 1);
	uint32_t gen = atomic_load_explicit(&a->page_gen[page], memory_order_acquire);
	uint8_t bytes[16];
	unsigned have = avail < 15 ? avail : 15;
	memcpy(bytes, host, have);
	int rc = emu_decode_bytes(a, c->mode, bytes, have, &e->insn);
	if (rc == 0) {
		e->tag = tag;
		e->gen = gen;
		return &e->insn;
	}
	e->tag = 0;
	if (rc == -1 || have == 15)
		emu_raise_ud(c);
	/* The instruction continues on the next page. */
	emu_fetch_bytes(c, c->insn_rip + have, bytes + have, 15 - have);
	if (emu_decode_bytes(a, c->mode, bytes, 15, scratch) < 0)
		emu_raise_ud(c);
	return scratch;
}
