/* The control-transfer family of the software vCPU: near JMP, Jcc, near CALL, near RET (with
 * and without imm16), LOOP LOOPE LOOPNE and JCXZ/JECXZ/JRCXZ. The far forms of JMP, CALL and
 * RET go to the system family (emu_far_jmp, emu_far_call, emu_far_ret), which owns the
 * descriptor checks.
 *
 * When a handler runs c->rip already addresses the next instruction, so a relative target is
 * c->rip + the displacement (an immediate operand, sign-extended by the decoder), and the
 * return address of a CALL is c->rip. emu_jump() truncates the target to the operand size and
 * faults on a non-canonical one; it is called before rSP or rCX change, so a faulting branch
 * leaves them as they were (the run loop restores RIP itself).
 *
 * A relative Jcc has one handler per condition, chosen at decode time (emu_flow_bind). */
#include "vmm/cpu/emu/emu.h"
#include "vmm/cpu/emu/emu_flags.h"
#include "vmm/cpu/emu/emu_int.h"

/* The system family's far transfers (emu_system.c). */
void emu_far_jmp(struct emu_cpu *c, const struct emu_insn *i);
void emu_far_call(struct emu_cpu *c, const struct emu_insn *i);
void emu_far_ret(struct emu_cpu *c, const struct emu_insn *i);

/* The target of a near JMP/CALL/Jcc/LOOP: relative (an immediate) or absolute (r/m). */
static uint64_t near_target(struct emu_cpu *c, const struct emu_insn *i)
{
	if (i->op[0].kind == EMU_OPND_IMM)
		return c->rip + (uint64_t)i->op[0].disp;
	return emu_opnd_read(c, i, 0);
}

/* JMP ptr16:16/32 (EA), JMP m16:16/32/64 (FF /5); CALL 9A and FF /3 likewise. */
static bool is_far(const struct emu_insn *i, uint8_t ptr_opcode, uint8_t modrm_reg)
{
	return i->op[0].kind == EMU_OPND_PTR || i->opcode == ptr_opcode ||
	       (i->opcode == 0xff && i->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
		i->modrm_reg == modrm_reg);
}

static void h_jmp(struct emu_cpu *c, const struct emu_insn *i)
{
	if (is_far(i, 0xea, 5)) {
		emu_far_jmp(c, i);
		return;
	}
	emu_jump(c, near_target(c, i), i->opsize);
}

static void h_jcc(struct emu_cpu *c, const struct emu_insn *i)
{
	if (emu_cond(c->rflags, i->opcode & 0xf))
		emu_jump(c, near_target(c, i), i->opsize);
}

/* CALL: the target is read and checked first, then the return address pushed; a push that
 * faults leaves rSP alone and the run loop puts RIP back. */
static void h_call(struct emu_cpu *c, const struct emu_insn *i)
{
	if (is_far(i, 0x9a, 3)) {
		emu_far_call(c, i);
		return;
	}
	uint64_t ret = c->rip;
	emu_jump(c, near_target(c, i), i->opsize);
	emu_push(c, ret, i->opsize);
}

/* RET [imm16]: the return address is read without popping, so a non-canonical one faults at
 * the RET with rSP unchanged (as on Intel). */
static void h_ret(struct emu_cpu *c, const struct emu_insn *i)
{
	if (i->opcode == 0xca || i->opcode == 0xcb) {
		emu_far_ret(c, i);
		return;
	}
	unsigned size = i->opsize;
	uint64_t release = i->nopnd > 0 ? (uint64_t)i->op[0].disp & 0xffff : 0;
	emu_jump(c, emu_peek_stack(c, 0, size), size);
	emu_set_sp(c, c->gpr[EMU_RSP] + size + release);
}

/* LOOP LOOPE LOOPNE: rCX (at the address size) decremented, then the branch taken while it is
 * not 0 (and ZF is 1 resp. 0). */
static void h_loop(struct emu_cpu *c, const struct emu_insn *i)
{
	unsigned asz = i->addrsize;
	uint64_t count = (c->gpr[EMU_RCX] - 1) & emu_mask(asz);
	bool zf = c->rflags & RFLAGS_ZF, taken = count != 0;
	if (i->mnemonic == ZYDIS_MNEMONIC_LOOPE)
		taken = taken && zf;
	else if (i->mnemonic == ZYDIS_MNEMONIC_LOOPNE)
		taken = taken && !zf;
	if (taken)
		emu_jump(c, near_target(c, i), i->opsize);
	emu_reg_write(c, EMU_RC_GPR, EMU_RCX, asz, count);
}

/* JCXZ JECXZ JRCXZ: the register's width is the address size. */
static void h_jrcxz(struct emu_cpu *c, const struct emu_insn *i)
{
	if ((c->gpr[EMU_RCX] & emu_mask(i->addrsize)) == 0)
		emu_jump(c, near_target(c, i), i->opsize);
}

static inline __attribute__((always_inline)) void jcc_rel(struct emu_cpu *c,
							  const struct emu_insn *i, unsigned cc)
{
	if (emu_cond(c->rflags, cc))
		emu_jump(c, c->rip + (uint64_t)i->op[0].disp, i->opsize);
}

#define JCC_HANDLER(cc)                                                                            \
	static void h_jcc_##cc(struct emu_cpu *c, const struct emu_insn *i)                        \
	{                                                                                          \
		jcc_rel(c, i, cc);                                                                 \
	}
JCC_HANDLER(0)
JCC_HANDLER(1)
JCC_HANDLER(2)
JCC_HANDLER(3)
JCC_HANDLER(4)
JCC_HANDLER(5)
JCC_HANDLER(6)
JCC_HANDLER(7)
JCC_HANDLER(8)
JCC_HANDLER(9)
JCC_HANDLER(10)
JCC_HANDLER(11)
JCC_HANDLER(12)
JCC_HANDLER(13)
JCC_HANDLER(14)
JCC_HANDLER(15)

emu_handler_fn emu_flow_bind(const struct emu_insn *i)
{
	static const emu_handler_fn by_cond[16] = {
	    h_jcc_0, h_jcc_1, h_jcc_2,	h_jcc_3,  h_jcc_4,  h_jcc_5,  h_jcc_6,	h_jcc_7,
	    h_jcc_8, h_jcc_9, h_jcc_10, h_jcc_11, h_jcc_12, h_jcc_13, h_jcc_14, h_jcc_15,
	};
	if (i->fn != h_jcc || i->op[0].kind != EMU_OPND_IMM)
		return NULL;
	return by_cond[i->opcode & 0xf];
}

void emu_register_flow(emu_handler_fn *table)
{
	static const uint16_t jcc[] = {
	    ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB,  ZYDIS_MNEMONIC_JNB,
	    ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE,
	    ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP,  ZYDIS_MNEMONIC_JNP,
	    ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE, ZYDIS_MNEMONIC_JNLE,
	};
	for (unsigned k = 0; k < 16; k++)
		table[jcc[k]] = h_jcc;
	table[ZYDIS_MNEMONIC_JMP] = h_jmp;
	table[ZYDIS_MNEMONIC_CALL] = h_call;
	table[ZYDIS_MNEMONIC_RET] = h_ret;
	table[ZYDIS_MNEMONIC_LOOP] = h_loop;
	table[ZYDIS_MNEMONIC_LOOPE] = h_loop;
	table[ZYDIS_MNEMONIC_LOOPNE] = h_loop;
	table[ZYDIS_MNEMONIC_JCXZ] = h_jrcxz;
	table[ZYDIS_MNEMONIC_JECXZ] = h_jrcxz;
	table[ZYDIS_MNEMONIC_JRCXZ] = h_jrcxz;
}
