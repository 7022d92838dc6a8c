/* x86-64 decoding for the emulation assist, on top of Zydis (see the header for its scope).
 *
 * Zydis does the decoding proper: prefixes and which of them count, opcode maps, mandatory
 * prefixes, ModRM/SIB/displacement, the length, and which encodings exist at all (an invalid
 * lock prefix, a truncated or over-long instruction). This file only recognises the emulated
 * instructions by Zydis mnemonic and converts their ModRM operands. The legacy SSE encodings are
 * the only ones matched: the VEX forms have mnemonics of their own (vmovdqa, ...), and an MMX
 * form (same mnemonic, mm registers) is refused when its operands are converted.
 *
 * Zydis is configured as for a CPU without MPX or CET, like the software vCPU's decoder: a bnd
 * prefix is an ignored f2 and endbr64 a nop. Neither is emulated, so this only decides how a
 * refusal disassembles them. */
#include "vmm/cpu/kvm/x86_decode.h"

#include <Zydis/Zydis.h>
#include <stdio.h>

_Static_assert(X86_MAX_INSN_LEN == ZYDIS_MAX_INSTRUCTION_LENGTH, "instruction length limit");

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

/* The emulated instruction z is, X86_OP_COUNT if none. `load` says whether the ModRM.reg operand
 * is the destination; `aligned` is set for the SSE instructions whose memory operand must be
 * 16-byte aligned. */
static enum x86_op classify(const ZydisDecodedInstruction *z, bool load, bool *aligned)
{
	*aligned = false;
	switch (z->mnemonic) {
	case ZYDIS_MNEMONIC_INT3:
		return X86_OP_INT3;
	case ZYDIS_MNEMONIC_FWAIT:
		return X86_OP_FWAIT;
	case ZYDIS_MNEMONIC_CLAC:
		return X86_OP_CLAC;
	case ZYDIS_MNEMONIC_STAC:
		return X86_OP_STAC;
	case ZYDIS_MNEMONIC_LDMXCSR:
		return X86_OP_LDMXCSR;
	case ZYDIS_MNEMONIC_STMXCSR:
		return X86_OP_STMXCSR;
	case ZYDIS_MNEMONIC_MOVD:
	case ZYDIS_MNEMONIC_MOVQ:
		/* Zydis names two families movq: to or from a general register or m32/m64 (66 0f
		 * 6e, 66 0f 7e) and between xmm registers and m64 (f3 0f 7e, 66 0f d6). With a
		 * memory operand only the opcode tells them apart. */
		if (z->opcode == 0x6e)
			return X86_OP_MOVD_TO_XMM;
		if (z->opcode == 0xd6)
			return X86_OP_MOVQ_STORE;
		return load ? X86_OP_MOVQ_LOAD : X86_OP_MOVD_FROM_XMM;
	case ZYDIS_MNEMONIC_MOVDQA:
	case ZYDIS_MNEMONIC_MOVAPS:
	case ZYDIS_MNEMONIC_MOVAPD:
		*aligned = true;
		return load ? X86_OP_MOV128_LOAD : X86_OP_MOV128_STORE;
	case ZYDIS_MNEMONIC_MOVDQU:
	case ZYDIS_MNEMONIC_MOVUPS:
	case ZYDIS_MNEMONIC_MOVUPD:
		return load ? X86_OP_MOV128_LOAD : X86_OP_MOV128_STORE;
	case ZYDIS_MNEMONIC_PXOR:
	case ZYDIS_MNEMONIC_XORPS:
	case ZYDIS_MNEMONIC_XORPD:
		*aligned = true;
		return X86_OP_XOR128;
	default:
		return X86_OP_COUNT;
	}
}

/* A base or index register: a general register's number, X86_REG_RIP or X86_REG_NONE. */
static int8_t address_register(ZydisRegister r)
{
	if (r == ZYDIS_REGISTER_NONE)
		return X86_REG_NONE;
	if (ZydisRegisterGetClass(r) == ZYDIS_REGCLASS_IP)
		return X86_REG_RIP;
	return ZydisRegisterGetId(r);
}

/* 64-bit mode ignores the other segments' bases, and their override prefixes. */
static enum x86_seg segment(ZydisRegister r)
{
	if (r == ZYDIS_REGISTER_FS)
		return X86_SEG_FS;
	if (r == ZYDIS_REGISTER_GS)
		return X86_SEG_GS;
	return X86_SEG_DEFAULT;
}

static void convert_mem(const ZydisDecodedInstruction *z, const ZydisDecodedOperand *o,
			struct x86_mem *m)
{
	m->base = address_register(o->mem.base);
	m->index = address_register(o->mem.index);
	m->scale = m->index == X86_REG_NONE ? 1 : o->mem.scale;
	m->disp = o->mem.disp.has_displacement ? (int32_t)o->mem.disp.value : 0;
	m->seg = segment(o->mem.segment);
	m->addr32 = z->address_width == 32;
	/* ModRM.mod = 0 with SIB.base = 101b means "no base, disp32" whatever REX.B says; with a
	 * 32-bit address size Zydis 4.0 names r13d as the base instead, without the displacement.
	 */
	if ((z->attributes & ZYDIS_ATTRIB_HAS_SIB) && z->raw.modrm.mod == 0 &&
	    z->raw.sib.base == 5) {
		m->base = X86_REG_NONE;
		m->disp = (int32_t)z->raw.disp.value;
	}
}

/* The number of an xmm register, or of a general register if gpr_too; -1 for anything else. */
static int register_number(const ZydisDecodedOperand *o, bool gpr_too)
{
	if (o->type != ZYDIS_OPERAND_TYPE_REGISTER)
		return -1;
	ZydisRegisterClass class = ZydisRegisterGetClass(o->reg.value);
	if (class == ZYDIS_REGCLASS_XMM ||
	    (gpr_too && (class == ZYDIS_REGCLASS_GPR32 || class == ZYDIS_REGCLASS_GPR64)))
		return ZydisRegisterGetId(o->reg.value);
	return -1;
}

/* Fills insn's reg/rm/mem from the visible operands; false if one is not what the assist handles
 * (an mm register, or an operand not encoded in ModRM). */
static bool convert_operands(const ZydisDecodedInstruction *z, const ZydisDecodedOperand *ops,
			     struct x86_insn *insn)
{
	for (unsigned i = 0; i < z->operand_count_visible; i++) {
		const ZydisDecodedOperand *o = &ops[i];
		bool modrm_reg = o->encoding == ZYDIS_OPERAND_ENCODING_MODRM_REG;
		bool modrm_rm = o->encoding == ZYDIS_OPERAND_ENCODING_MODRM_RM;
		int n;
		if (modrm_rm && o->type == ZYDIS_OPERAND_TYPE_MEMORY) {
			insn->rm_is_mem = true;
			convert_mem(z, o, &insn->mem);
		} else if (modrm_reg && (n = register_number(o, false)) >= 0) {
			insn->reg = (uint8_t)n;
		} else if (modrm_rm && (n = register_number(o, true)) >= 0) {
			insn->rm = (uint8_t)n;
		} else {
			return false;
		}
	}
	return true;
}

/* Formats "why: bytes" (and the disassembly, if any) into err; returns -1. */
static int refuse(char *err, size_t errlen, const char *why, const uint8_t *code, size_t len,
		  const char *text)
{
	int n = snprintf(err, errlen, "%s:", why);
	for (size_t i = 0; i < len && i < X86_MAX_INSN_LEN && n >= 0 && (size_t)n < errlen; i++)
		n += snprintf(err + n, errlen - (size_t)n, " %02x", code[i]);
	if (text && n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, " (%s)", text);
	return -1;
}

/* Refuses an instruction Zydis decoded but the assist does not emulate, with its disassembly. */
static int refuse_decoded(char *err, size_t errlen, const uint8_t *code,
			  const ZydisDecodedInstruction *z, const ZydisDecodedOperand *ops)
{
	ZydisFormatter f;
	char text[96];
	/* AT&T syntax, as objdump shows the kernel's code. */
	if (!ZYAN_SUCCESS(ZydisFormatterInit(&f, ZYDIS_FORMATTER_STYLE_ATT)) ||
	    !ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&f, z, ops, z->operand_count_visible,
							  text, sizeof(text),
							  ZYDIS_RUNTIME_ADDRESS_NONE, NULL)))
		snprintf(text, sizeof(text), "%s", ZydisMnemonicGetString(z->mnemonic));
	return refuse(err, errlen, "not an instruction vsmp-vmm emulates", code, z->length, text);
}

static const char *decode_failure(ZyanStatus status)
{
	switch (status) {
	case ZYDIS_STATUS_NO_MORE_DATA:
		return "truncated instruction";
	case ZYDIS_STATUS_INSTRUCTION_TOO_LONG:
		return "longer than 15 bytes";
	case ZYDIS_STATUS_ILLEGAL_LOCK:
		return "lock prefix on an instruction that does not take one";
	default:
		return "not a valid instruction";
	}
}

int x86_decode(const uint8_t *code, size_t len, struct x86_insn *insn, char *err, size_t errlen)
{
	ZydisDecoder decoder;
	ZydisDecodedInstruction z;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	*insn = (struct x86_insn){0};
	/* Cannot fail: it only checks that the mode and the stack width go together. */
	ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	ZydisDecoderEnableMode(&decoder, ZYDIS_DECODER_MODE_MPX, ZYAN_FALSE);
	ZydisDecoderEnableMode(&decoder, ZYDIS_DECODER_MODE_CET, ZYAN_FALSE);
	ZyanStatus status = ZydisDecoderDecodeFull(&decoder, code, len, &z, ops);
	if (!ZYAN_SUCCESS(status))
		return refuse(err, errlen, decode_failure(status), code, len, NULL);
	/* The destination comes first: an xmm register in ModRM.reg there makes a load. */
	bool load = z.operand_count_visible && ops[0].encoding == ZYDIS_OPERAND_ENCODING_MODRM_REG;
	insn->op = classify(&z, load, &insn->aligned);
	if (insn->op == X86_OP_COUNT || !convert_operands(&z, ops, insn))
		return refuse_decoded(err, errlen, code, &z, ops);
	insn->len = z.length;
	/* A REX byte that a later prefix cancelled does not count. */
	insn->rex_w = (z.attributes & ZYDIS_ATTRIB_HAS_REX) && z.raw.rex.W;
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
