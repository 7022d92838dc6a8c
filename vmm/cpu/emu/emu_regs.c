/* Registers and operands of the software vCPU: x86's partial-register rules, effective
 * addresses, the stack and near branches, which every instruction family shares. */
#include "vmm/cpu/emu/emu.h"

uint64_t emu_reg_read(const struct emu_cpu *c, unsigned reg_class, unsigned reg, unsigned size)
{
	switch (reg_class) {
	case EMU_RC_GPR:
		return c->gpr[reg & 15] & emu_size_mask(size);
	case EMU_RC_GPR8H:
		return (c->gpr[reg & 3] >> 8) & 0xff;
	case EMU_RC_SEG:
		return reg < EMU_SEG_COUNT ? c->seg[reg].sel : 0;
	default:
		return 0;
	}
}

void emu_reg_write(struct emu_cpu *c, unsigned reg_class, unsigned reg, unsigned size,
		   uint64_t value)
{
	uint64_t *r;
	switch (reg_class) {
	case EMU_RC_GPR:
		r = &c->gpr[reg & 15];
		if (size >= 4)
			*r = value & emu_size_mask(size); /* 32-bit writes zero-extend */
		else
			*r = (*r & ~emu_size_mask(size)) | (value & emu_size_mask(size));
		return;
	case EMU_RC_GPR8H:
		r = &c->gpr[reg & 3];
		*r = (*r & ~0xff00ull) | ((value & 0xff) << 8);
		return;
	default:
		return;
	}
}

uint64_t emu_opnd_read_any(struct emu_cpu *c, const struct emu_insn *i, unsigned n)
{
	const struct emu_opnd *o = &i->op[n];
	switch (o->kind) {
	case EMU_OPND_REG:
		return emu_reg_read(c, o->reg_class, o->reg, o->size);
	case EMU_OPND_MEM:
		return emu_read(c, o->seg, emu_opnd_ea(c, i, n), o->size);
	case EMU_OPND_IMM:
		/* Sign-extended as encoded, then cut to the instruction's operand size (an imm8
		 * of `add rax, -1` reads as 64 one-bits). */
		return (uint64_t)o->disp & emu_size_mask(i->opsize ? i->opsize : 8);
	default:
		return 0;
	}
}

void emu_opnd_write_any(struct emu_cpu *c, const struct emu_insn *i, unsigned n, uint64_t value)
{
	const struct emu_opnd *o = &i->op[n];
	if (o->kind == EMU_OPND_REG)
		emu_reg_write(c, o->reg_class, o->reg, o->size, value);
	else if (o->kind == EMU_OPND_MEM)
		emu_write(c, o->seg, emu_opnd_ea(c, i, n), o->size, value);
}

unsigned emu_stack_width(const struct emu_cpu *c)
{
	if (c->mode == EMU_MODE_64)
		return 8;
	return (c->cr0 & CR0_PE) && (c->seg[EMU_SS].attr & SEG_ATTR_DB) ? 4 : 2;
}

/* PUSH, POP, CALL and RET's stack accesses with emu_write and emu_read inlined (flatten). */
__attribute__((flatten)) void emu_push(struct emu_cpu *c, uint64_t value, unsigned size)
{
	unsigned width = emu_stack_width(c);
	uint64_t mask = emu_size_mask(width);
	uint64_t sp = (c->gpr[EMU_RSP] - size) & mask;
	emu_write(c, EMU_SS, sp, size, value);
	c->gpr[EMU_RSP] = (c->gpr[EMU_RSP] & ~mask) | sp;
}

__attribute__((flatten)) uint64_t emu_pop(struct emu_cpu *c, unsigned size)
{
	unsigned width = emu_stack_width(c);
	uint64_t mask = emu_size_mask(width);
	uint64_t sp = c->gpr[EMU_RSP] & mask;
	uint64_t value = emu_read(c, EMU_SS, sp, size);
	c->gpr[EMU_RSP] = (c->gpr[EMU_RSP] & ~mask) | ((sp + size) & mask);
	return value;
}

static bool canonical(uint64_t a)
{
	return (uint64_t)(((int64_t)a << 16) >> 16) == a;
}

void emu_jump(struct emu_cpu *c, uint64_t target, unsigned opsize)
{
	if (c->mode == EMU_MODE_64 && opsize >= 4) {
		if (opsize == 4)
			target &= 0xffffffffull;
		else if (!canonical(target))
			emu_raise_gp0(c);
	} else {
		target &= emu_size_mask(opsize);
	}
	c->rip = target;
}
