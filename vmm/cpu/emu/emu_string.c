/* The string family of the software vCPU: MOVS CMPS STOS LODS SCAS INS OUTS in every width,
 * with REP / REPE / REPNE.
 *
 * One element is: its accesses (the source at seg:rSI, DS unless overridden, the destination
 * at ES:rDI, which cannot be overridden; INS/OUTS one port access each), then the commit of
 * rSI/rDI (and the flags for CMPS/SCAS), stepping by the element size backwards when DF is
 * set. The address size decides the width of rSI, rDI and rCX, which wrap at it.
 *
 * A REP form commits rCX per element, so a fault in the middle leaves the registers
 * describing exactly the elements still to do and the restarted instruction continues. It
 * runs at most REP_BATCH elements per execution and then points RIP back at itself: the run
 * loop takes interrupts between batches, as the hardware does between iterations.
 *
 * Zydis names the string MOVSD/CMPSD like the SSE2 scalar-double instructions: those
 * mnemonics go through a dispatcher that hands the 0F-map forms to the SSE family. */
#include "vmm/cpu/emu/emu.h"
#include "vmm/cpu/emu/emu_flags.h"
#include "vmm/cpu/emu/emu_int.h"

/* The SSE family's MOVSD/CMPSD xmm forms (emu_sse.c). */
void emu_sse_movsd_cmpsd(struct emu_cpu *c, const struct emu_insn *i);

#define REP_BATCH 4096

enum str_kind { STR_MOVS, STR_CMPS, STR_STOS, STR_LODS, STR_SCAS, STR_INS, STR_OUTS };

struct str_op {
	enum str_kind kind;
	unsigned size;	  /* element bytes */
	unsigned asz;	  /* address size: the width of rSI, rDI, rCX */
	unsigned src_seg; /* of the rSI operand, after overrides */
	uint64_t step;	  /* +size or -size (DF), wrapped by the address mask */
};

static enum str_kind str_kind_of(unsigned mnemonic)
{
	switch (mnemonic) {
	case ZYDIS_MNEMONIC_MOVSB:
	case ZYDIS_MNEMONIC_MOVSW:
	case ZYDIS_MNEMONIC_MOVSD:
	case ZYDIS_MNEMONIC_MOVSQ:
		return STR_MOVS;
	case ZYDIS_MNEMONIC_CMPSB:
	case ZYDIS_MNEMONIC_CMPSW:
	case ZYDIS_MNEMONIC_CMPSD:
	case ZYDIS_MNEMONIC_CMPSQ:
		return STR_CMPS;
	case ZYDIS_MNEMONIC_STOSB:
	case ZYDIS_MNEMONIC_STOSW:
	case ZYDIS_MNEMONIC_STOSD:
	case ZYDIS_MNEMONIC_STOSQ:
		return STR_STOS;
	case ZYDIS_MNEMONIC_LODSB:
	case ZYDIS_MNEMONIC_LODSW:
	case ZYDIS_MNEMONIC_LODSD:
	case ZYDIS_MNEMONIC_LODSQ:
		return STR_LODS;
	case ZYDIS_MNEMONIC_SCASB:
	case ZYDIS_MNEMONIC_SCASW:
	case ZYDIS_MNEMONIC_SCASD:
	case ZYDIS_MNEMONIC_SCASQ:
		return STR_SCAS;
	case ZYDIS_MNEMONIC_INSB:
	case ZYDIS_MNEMONIC_INSW:
	case ZYDIS_MNEMONIC_INSD:
		return STR_INS;
	default:
		return STR_OUTS;
	}
}

static uint64_t str_addr(struct emu_cpu *c, const struct str_op *s, unsigned reg)
{
	return c->gpr[reg] & emu_mask(s->asz);
}

static void str_advance(struct emu_cpu *c, const struct str_op *s, unsigned reg)
{
	emu_reg_write(c, EMU_RC_GPR, reg, s->asz, (c->gpr[reg] + s->step) & emu_mask(s->asz));
}

/* The flags of CMPS/SCAS: those of CMP first, second. */
static uint64_t str_compare(struct emu_cpu *c, const struct str_op *s, uint64_t a, uint64_t b)
{
	uint64_t flags = c->rflags;
	emu_alu(EMU_ALU_CMP, a, b, s->size, &flags);
	return flags;
}

static uint16_t str_port(const struct emu_cpu *c)
{
	return (uint16_t)c->gpr[EMU_RDX];
}

/* One element: every access first, then the commit. emu_read and emu_write are inlined
 * (flatten): the compiler called out-of-line copies of them for every element of a REP. */
static __attribute__((flatten)) void str_element(struct emu_cpu *c, const struct str_op *s)
{
	uint64_t v, flags;
	switch (s->kind) {
	case STR_MOVS:
		v = emu_read(c, s->src_seg, str_addr(c, s, EMU_RSI), s->size);
		emu_write(c, EMU_ES, str_addr(c, s, EMU_RDI), s->size, v);
		str_advance(c, s, EMU_RSI);
		str_advance(c, s, EMU_RDI);
		break;
	case STR_CMPS:
		v = emu_read(c, s->src_seg, str_addr(c, s, EMU_RSI), s->size);
		flags = str_compare(c, s, v, emu_read(c, EMU_ES, str_addr(c, s, EMU_RDI), s->size));
		str_advance(c, s, EMU_RSI);
		str_advance(c, s, EMU_RDI);
		c->rflags = flags;
		break;
	case STR_STOS:
		emu_write(c, EMU_ES, str_addr(c, s, EMU_RDI), s->size,
			  c->gpr[EMU_RAX] & emu_mask(s->size));
		str_advance(c, s, EMU_RDI);
		break;
	case STR_LODS:
		v = emu_read(c, s->src_seg, str_addr(c, s, EMU_RSI), s->size);
		emu_reg_write(c, EMU_RC_GPR, EMU_RAX, s->size, v);
		str_advance(c, s, EMU_RSI);
		break;
	case STR_SCAS:
		flags = str_compare(c, s, c->gpr[EMU_RAX],
				    emu_read(c, EMU_ES, str_addr(c, s, EMU_RDI), s->size));
		str_advance(c, s, EMU_RDI);
		c->rflags = flags;
		break;
	case STR_INS:
		/* The port read has side effects: fault on the destination before it. */
		emu_lock_ptr(c, EMU_ES, str_addr(c, s, EMU_RDI), s->size);
		v = emu_port_in(c, str_port(c), s->size);
		emu_write(c, EMU_ES, str_addr(c, s, EMU_RDI), s->size, v);
		str_advance(c, s, EMU_RDI);
		break;
	case STR_OUTS:
		v = emu_read(c, s->src_seg, str_addr(c, s, EMU_RSI), s->size);
		emu_port_out(c, str_port(c), s->size, (uint32_t)v);
		str_advance(c, s, EMU_RSI);
		break;
	}
}

/* REPE/REPNE forms of CMPS/SCAS stop when ZF says so. */
static bool str_stops(const struct emu_cpu *c, const struct emu_insn *i, const struct str_op *s)
{
	if (s->kind != STR_CMPS && s->kind != STR_SCAS)
		return false;
	bool zf = c->rflags & RFLAGS_ZF;
	return (i->prefixes & EMU_PFX_REPNE) ? zf : !zf;
}

static void h_string(struct emu_cpu *c, const struct emu_insn *i)
{
	struct str_op s = {.kind = str_kind_of(i->mnemonic), .asz = i->addrsize};
	/* Even opcodes are the byte forms; the port forms stop at 32 bits. */
	s.size = (i->opcode & 1) ? i->opsize : 1;
	if ((s.kind == STR_INS || s.kind == STR_OUTS) && s.size > 4)
		s.size = 4;
	s.src_seg = emu_implicit_seg(i, EMU_RSI);
	s.step = (c->rflags & RFLAGS_DF) ? -(uint64_t)s.size : s.size;

	if (!(i->prefixes & (EMU_PFX_REP | EMU_PFX_REPNE))) {
		str_element(c, &s);
		return;
	}
	uint64_t amask = emu_mask(s.asz);
	for (unsigned n = 0; n < REP_BATCH; n++) {
		if ((c->gpr[EMU_RCX] & amask) == 0)
			return;
		str_element(c, &s);
		emu_reg_write(c, EMU_RC_GPR, EMU_RCX, s.asz, (c->gpr[EMU_RCX] - 1) & amask);
		if (str_stops(c, i, &s))
			return;
	}
	if (c->gpr[EMU_RCX] & amask)
		c->rip = c->insn_rip;
}

/* MOVSD / CMPSD: the string forms are A5 / A7 of the one-byte map. */
static void h_movsd_cmpsd(struct emu_cpu *c, const struct emu_insn *i)
{
	if (i->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && i->opcode >= 0xa4 && i->opcode <= 0xa7)
		h_string(c, i);
	else
		emu_sse_movsd_cmpsd(c, i);
}

void emu_register_string(emu_handler_fn *table)
{
	static const uint16_t strings[] = {
	    ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW, ZYDIS_MNEMONIC_MOVSQ, ZYDIS_MNEMONIC_CMPSB,
	    ZYDIS_MNEMONIC_CMPSW, ZYDIS_MNEMONIC_CMPSQ, ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW,
	    ZYDIS_MNEMONIC_STOSD, ZYDIS_MNEMONIC_STOSQ, ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW,
	    ZYDIS_MNEMONIC_LODSD, ZYDIS_MNEMONIC_LODSQ, ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW,
	    ZYDIS_MNEMONIC_SCASD, ZYDIS_MNEMONIC_SCASQ, ZYDIS_MNEMONIC_INSB,  ZYDIS_MNEMONIC_INSW,
	    ZYDIS_MNEMONIC_INSD,  ZYDIS_MNEMONIC_OUTSB, ZYDIS_MNEMONIC_OUTSW, ZYDIS_MNEMONIC_OUTSD,
	};
	for (unsigned k = 0; k < sizeof(strings) / sizeof(strings[0]); k++)
		table[strings[k]] = h_string;
	table[ZYDIS_MNEMONIC_MOVSD] = h_movsd_cmpsd;
	table[ZYDIS_MNEMONIC_CMPSD] = h_movsd_cmpsd;
}
