/* The decode cache: instructions decoded once by Zydis into struct emu_insn and kept per vCPU
 * in blocks, keyed by the guest-physical address of a block's first byte and the decoding mode.
 *
 * A block is what the run loop executes without looking anything up: the instructions that
 * follow one another in a page, up to one that ends the block (EMU_INSN_ENDS_BLOCK: anything
 * that may change the mode, paging, the code segment, the interrupt flag or shadow, or that
 * transfers control unconditionally), the page's end, or EMU_BLOCK_MAX_INSNS. A conditional
 * branch does not end one: the run loop leaves the block when RIP is not where the next
 * instruction is. Blocks live in one arena per vCPU; when it is full every block is dropped.
 *
 * A block is valid while its page's generation (emu_accel.page_gen) is what it was when it was
 * decoded. Decoding a page marks it in code_page; a store to a marked page (by a local vCPU,
 * emu_mem.c), a device or the coherence engine (accel page_changed) clears the mark and bumps
 * the generation, so every vCPU's blocks of that page go stale at once, without anyone walking
 * the caches; the run loop also checks the generation between the instructions of a block, so
 * code that modifies itself runs its new bytes. The mark is set before the bytes are read, so a
 * store that the reader might have missed finds the mark and bumps the generation.
 *
 * In 64-bit code a flag-setting register instruction and the relative Jcc after it become one
 * entry of the block (pair_fuse, emu_alu_pair_bind): one dispatch for the two.
 *
 * Flag liveness, also in 64-bit code: a register ALU, shift or IMUL instruction whose flags the
 * block writes again before anything can read them runs a twin that computes its result only
 * (struct emu_flag_writer). Anything may read the flags at the block's end and at every
 * instruction that is not a plain register computation (one that accesses memory or may fault,
 * exit or branch: an exception or event there sees RFLAGS), so the twins only ever stand
 * between two such points, where no one can tell. Linux's RSA limb loops write the flags of 15
 * of their 31 instructions for nothing. The run loop runs a block's first instruction alone at
 * the top of the IP range; there it decodes it afresh (emu_block_single), with its flags.
 *
 * An instruction that crosses a page boundary is decoded every time it runs (its bytes live in
 * two pages); they are rare. */
#include <stdlib.h>
#include <string.h>

#include "vmm/cpu/emu/emu.h"
#include "vmm/cpu/emu/emu_flags.h"
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

/* What a category's instructions are to a block. It runs on after those that only compute on
 * registers, flags and memory, or branch conditionally (the run loop sees a taken branch by RIP);
 * of those, the plain computations cannot fault, exit or branch without a memory operand (the
 * flag liveness's). The rest end it. */
enum category_kind { CATEGORY_ENDS_BLOCK, CATEGORY_CONTINUES, CATEGORY_PLAIN };

static enum category_kind category_kind(ZydisInstructionCategory cat)
{
	switch (cat) {
	case ZYDIS_CATEGORY_BINARY:
	case ZYDIS_CATEGORY_LOGICAL:
	case ZYDIS_CATEGORY_SHIFT:
	case ZYDIS_CATEGORY_ROTATE:
	case ZYDIS_CATEGORY_BITBYTE:
	case ZYDIS_CATEGORY_DATAXFER:
	case ZYDIS_CATEGORY_CMOV:
	case ZYDIS_CATEGORY_SETCC:
	case ZYDIS_CATEGORY_CONVERT:
		return CATEGORY_PLAIN;
	case ZYDIS_CATEGORY_PUSH:
	case ZYDIS_CATEGORY_POP:
	case ZYDIS_CATEGORY_STRINGOP:
	case ZYDIS_CATEGORY_SEMAPHORE:
	case ZYDIS_CATEGORY_NOP:
	case ZYDIS_CATEGORY_WIDENOP:
	case ZYDIS_CATEGORY_SSE:
	case ZYDIS_CATEGORY_MMX:
	case ZYDIS_CATEGORY_LOGICAL_FP:
	case ZYDIS_CATEGORY_X87_ALU:
	case ZYDIS_CATEGORY_FCMOV:
	case ZYDIS_CATEGORY_COND_BR:
		return CATEGORY_CONTINUES;
	default:
		return CATEGORY_ENDS_BLOCK;
	}
}

/* Whether the run loop must look at events and translate RIP afresh after this instruction:
 * unless its category only computes, and it touches no segment, control or debug register
 * and none of the system flags (POPF, IRET, STI, CLI, ...). */
static bool ends_block(const ZydisDecodedInstruction *z, const ZydisDecodedOperand *ops)
{
	const uint32_t system = ZYDIS_CPUFLAG_TF | ZYDIS_CPUFLAG_IF | ZYDIS_CPUFLAG_IOPL |
				ZYDIS_CPUFLAG_NT | ZYDIS_CPUFLAG_RF | ZYDIS_CPUFLAG_VM |
				ZYDIS_CPUFLAG_AC | ZYDIS_CPUFLAG_VIF | ZYDIS_CPUFLAG_VIP |
				ZYDIS_CPUFLAG_ID;
	if (category_kind(z->meta.category) == CATEGORY_ENDS_BLOCK &&
	    z->mnemonic != ZYDIS_MNEMONIC_LEA)
		return true;
	if (z->cpu_flags && ((z->cpu_flags->modified | z->cpu_flags->set_0 | z->cpu_flags->set_1 |
			      z->cpu_flags->undefined) &
			     system))
		return true;
	for (unsigned n = 0; n < z->operand_count; n++) {
		uint8_t cls, idx;
		if (ops[n].type != ZYDIS_OPERAND_TYPE_REGISTER)
			continue;
		reg_map(ops[n].reg.value, &cls, &idx);
		if (cls == EMU_RC_SEG || cls == EMU_RC_CR || cls == EMU_RC_DR)
			return true;
	}
	return false;
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
	static emu_handler_fn (*const binders[])(const struct emu_insn *) = {
	    emu_alu_bind, emu_move_bind, emu_muldiv_bind, emu_flow_bind};
	for (unsigned k = 0; k < sizeof(binders) / sizeof(binders[0]); k++) {
		emu_handler_fn bound = binders[k](i);
		if (bound) {
			i->fn = bound;
			break;
		}
	}
	if (ends_block(z, ops))
		i->flags |= EMU_INSN_ENDS_BLOCK;
}

/* What the flag liveness needs to know of a decoded instruction (flags_liveness). */
struct flag_use {
	uint64_t reads; /* the arithmetic flags it reads */
	bool plain;	/* a computation on registers: no memory access, fault, exit or branch */
};

static struct flag_use flag_use_of(const ZydisDecodedInstruction *z, const ZydisDecodedOperand *ops,
				   const struct emu_insn *i)
{
	struct flag_use u = {
	    .reads = z->cpu_flags ? z->cpu_flags->tested & RFLAGS_ARITH : RFLAGS_ARITH,
	    .plain = !(i->flags & EMU_INSN_ENDS_BLOCK) && i->fn != emu_unimplemented &&
		     category_kind(z->meta.category) == CATEGORY_PLAIN &&
		     z->mnemonic != ZYDIS_MNEMONIC_DIV && z->mnemonic != ZYDIS_MNEMONIC_IDIV};
	for (unsigned n = 0; n < z->operand_count; n++)
		if (ops[n].type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    ops[n].mem.type != ZYDIS_MEMOP_TYPE_AGEN)
			u.plain = false;
	return u;
}

/* emu_decode_bytes, and what the flag liveness needs into *use if it is not NULL. */
static int decode(const struct emu_accel *a, unsigned mode, const uint8_t *bytes, unsigned len,
		  struct emu_insn *out, struct flag_use *use)
{
	ZydisDecodedInstruction z;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	ZyanStatus st = ZydisDecoderDecodeFull(&a->decoder[mode], bytes, len, &z, ops);
	if (st == ZYDIS_STATUS_NO_MORE_DATA)
		return -2;
	if (st == ZYDIS_STATUS_INSTRUCTION_TOO_LONG)
		return -3;
	if (!ZYAN_SUCCESS(st))
		return -1;
	insn_convert(a, mode, &z, ops, out);
	if (use)
		*use = flag_use_of(&z, ops, out);
	return 0;
}

/* Decodes bytes[0..len) for mode. 0, or -1 if the bytes are no instruction (#UD), -2 if
 * more bytes are needed than given, -3 if the instruction is longer than 15 bytes (#GP). */
int emu_decode_bytes(const struct emu_accel *a, unsigned mode, const uint8_t *bytes, unsigned len,
		     struct emu_insn *out)
{
	return decode(a, mode, bytes, len, out, NULL);
}

void emu_code_page_written(struct emu_accel *a, uint64_t page)
{
	if (page >= a->pages)
		return;
	atomic_store_explicit(&a->code_page[page], 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&a->page_gen[page], 1, memory_order_release);
}

/* Arena room for a new block of up to EMU_BLOCK_MAX_INSNS: when it is full, every block goes
 * (none is running: blocks are only built between two). */
static struct emu_insn *arena_room(struct emu_decode_cache *d)
{
	if (d->used > EMU_BLOCK_ARENA - EMU_BLOCK_MAX_INSNS) {
		memset(d->block, 0, sizeof(d->block));
		d->used = 0;
	}
	return &d->arena[d->used];
}

/* Makes `alu` the entry of it and the Jcc decoded after it when emu_alu_pair_bind has a
 * handler for the two (struct emu_insn); the Jcc's condition becomes a truth table over
 * emu_jcc_index, built from emu_cond itself. */
static bool pair_fuse(struct emu_insn *alu, const struct emu_insn *jcc)
{
	emu_handler_fn fn = emu_alu_pair_bind(alu, jcc);
	if (!fn)
		return false;
	uint16_t conds = 0;
	for (unsigned k = 0; k < 16; k++) {
		uint64_t f = (k & 1 ? RFLAGS_CF : 0) | (k & 2 ? RFLAGS_ZF : 0) |
			     (k & 4 ? RFLAGS_SF : 0) | (k & 8 ? RFLAGS_OF : 0);
		if (emu_cond(f, jcc->opcode & 0xf))
			conds |= (uint16_t)(1u << emu_jcc_index(f));
	}
	alu->fn = fn;
	alu->len = (uint8_t)(alu->len + jcc->len);
	alu->jcc_len = jcc->len;
	alu->jcc_conds = conds;
	alu->op[2] = jcc->op[0];
	return true;
}

/* Backwards through a block: the arithmetic flags someone may read after each entry (all of them
 * after the last and at every entry that is not plain), and the writers of flags no one reads,
 * which get their flag-less twins. */
static void flags_liveness(struct emu_insn *out, const struct flag_use *use, unsigned count)
{
	uint64_t live = RFLAGS_ARITH;
	for (unsigned k = count; k-- > 0;) {
		struct emu_flag_writer w;
		if (!use[k].plain) {
			live = RFLAGS_ARITH;
			continue;
		}
		if (emu_alu_flag_writer(&out[k], &w) || emu_muldiv_flag_writer(&out[k], &w)) {
			if (w.flagless && !live)
				out[k].fn = w.flagless;
			live &= ~w.writes;
		}
		live |= use[k].reads;
	}
}

/* Decodes the block at `host` (avail bytes left in its page) into out[]: its number of
 * entries (a fused pair is one), 0 when its first instruction is not all in the page. */
static unsigned block_decode(struct emu_cpu *c, const uint8_t *host, unsigned avail,
			     struct emu_insn *out)
{
	struct flag_use use[EMU_BLOCK_MAX_INSNS];
	unsigned count = 0, off = 0, insns = 0;
	while (insns < EMU_BLOCK_MAX_INSNS && off < avail) {
		uint8_t bytes[15];
		unsigned have = avail - off < 15 ? avail - off : 15;
		memcpy(bytes, host + off, have);
		int rc = decode(c->accel, c->mode, bytes, have, &out[count], &use[count]);
		if (rc == -2 && have == 15)
			rc = -3;
		if (rc == -1 && count == 0)
			emu_raise_ud(c);
		if (rc == -3 && count == 0)
			emu_raise_gp0(c);
		if (rc < 0) /* raised later, when it is reached; or it crosses the page */
			break;
		off += out[count].len;
		insns++;
		if (count > 0 && pair_fuse(&out[count - 1], &out[count])) {
			use[count - 1].plain = false; /* it may branch */
			continue;
		}
		if (out[count++].flags & EMU_INSN_ENDS_BLOCK)
			break;
	}
	if (c->mode == EMU_MODE_64)
		flags_liveness(out, use, count);
	return count;
}

/* The instruction at RIP whose bytes continue on the next page, into c->scratch. */
static void decode_crossing(struct emu_cpu *c, const uint8_t *host, unsigned avail)
{
	uint8_t bytes[15];
	memcpy(bytes, host, avail);
	emu_fetch_bytes(c, c->insn_rip + avail, bytes + avail, 15 - avail);
	int rc = emu_decode_bytes(c->accel, c->mode, bytes, 15, &c->scratch);
	if (rc == -1)
		emu_raise_ud(c);
	if (rc < 0) /* longer than 15 bytes */
		emu_raise_gp0(c);
}

struct emu_run_block emu_block_single(struct emu_cpu *c, uint64_t gpa, const uint8_t *host,
				      unsigned avail)
{
	uint8_t bytes[15];
	unsigned have = avail < 15 ? avail : 15;
	memcpy(bytes, host, have);
	int rc = emu_decode_bytes(c->accel, c->mode, bytes, have, &c->scratch);
	if (rc == -2 && have < 15)
		decode_crossing(c, host, avail);
	else if (rc == -1)
		emu_raise_ud(c);
	else if (rc < 0)
		emu_raise_gp0(c);
	const _Atomic uint32_t *gen_now = &c->accel->page_gen[gpa >> 12];
	return (struct emu_run_block){&c->scratch, 1,
				      atomic_load_explicit(gen_now, memory_order_acquire), gen_now};
}

struct emu_run_block emu_block_decode(struct emu_cpu *c, uint64_t gpa, const uint8_t *host,
				      unsigned avail)
{
	struct emu_accel *a = c->accel;
	struct emu_decode_cache *d = c->dcache;
	uint64_t page = gpa >> 12;
	uint64_t tag = gpa << 3 | (uint64_t)c->mode << 1 | 1;
	struct emu_block *b = emu_block_slot(d, gpa);
	if (!host)
		emu_exit(c, CPU_EXIT_UNSUPPORTED, "vCPU %u: executing outside RAM at 0x%llx",
			 c->cpu.index, (unsigned long long)gpa);
	if (!atomic_load_explicit(&a->code_page[page], memory_order_relaxed))
		atomic_store(&a->code_page[page], 1);
	uint32_t gen = atomic_load_explicit(&a->page_gen[page], memory_order_acquire);
	struct emu_insn *insn = arena_room(d);
	b->tag = 0;
	unsigned count = block_decode(c, host, avail, insn);
	struct emu_run_block r = {insn, count, gen, &a->page_gen[page]};
	if (count == 0) {
		decode_crossing(c, host, avail);
		r.insn = &c->scratch;
		r.count = 1;
		return r;
	}
	*b = (struct emu_block){.tag = tag, .gen = gen, .first = d->used, .count = count};
	d->used += count;
	return r;
}
