/* The instruction templates of the differential harness, by class: the user-mode instructions
 * the software vCPU implements (ALU, shifts, mul/div, bit operations, moves, cmov/setcc,
 * atomics, the stack, strings, SSE/SSE2). x87 cases are sequences built by diff_gen.c.
 *
 * Templates that differ only in an opcode field (the eight ALU operations, the sixteen
 * conditions, the SSE ps/ss/pd/sd quartets) are produced by loops, so the table stays short. */
#include <stddef.h>

#include "tests/diff/diff_gen.h"

#define CF 0x001
#define PF 0x004
#define AF 0x010
#define ZF 0x040
#define SF 0x080
#define OF 0x800

#define MAX_TMPL 640

static struct tmpl tmpls[MAX_TMPL];
static unsigned ntmpl;

static const char *const class_names[CLS_COUNT] = {
    [CLS_ALU] = "alu",	       [CLS_SHIFT] = "shift",
    [CLS_MULDIV] = "muldiv",   [CLS_BITS] = "bits",
    [CLS_COND] = "cond",       [CLS_MOVE] = "move",
    [CLS_ATOMIC] = "atomic",   [CLS_STACK] = "stack",
    [CLS_STRING] = "string",   [CLS_SSE_MOVE] = "sse_move",
    [CLS_SSE_INT] = "sse_int", [CLS_SSE_FLOAT] = "sse_float",
    [CLS_SSE_CVT] = "sse_cvt", [CLS_X87] = "x87",
    [CLS_PAIR] = "pair",       [CLS_DEAD_FLAGS] = "dead_flags",
};

const char *diff_class_names(unsigned cls)
{
	return cls < CLS_COUNT ? class_names[cls] : "?";
}

static void add(const char *name, unsigned cls, unsigned map, unsigned op, int ext, unsigned pfx,
		unsigned imm, uint32_t f, unsigned sp, unsigned undef)
{
	if (ntmpl >= MAX_TMPL)
		return;
	tmpls[ntmpl++] = (struct tmpl){.name = name,
				       .cls = (uint8_t)cls,
				       .map = (uint8_t)map,
				       .op = (uint8_t)op,
				       .ext = (int8_t)ext,
				       .pfx = (uint8_t)pfx,
				       .imm = (uint8_t)imm,
				       .sp = (uint8_t)sp,
				       .f = f,
				       .undef = (uint16_t)undef};
}

static void add_alu(void)
{
	static const char *const names[8] = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};
	for (unsigned n = 0; n < 8; n++) {
		unsigned u = (n == 1 || n == 4 || n == 6) ? AF : 0;
		uint32_t lk = n == 7 ? 0 : F_LOCK;
		add(names[n], CLS_ALU, 0, 8 * n + 0, -1, 0, IMM_NONE, F_B | lk, 0, u);
		add(names[n], CLS_ALU, 0, 8 * n + 1, -1, 0, IMM_NONE, F_V | lk, 0, u);
		add(names[n], CLS_ALU, 0, 8 * n + 2, -1, 0, IMM_NONE, F_B, 0, u);
		add(names[n], CLS_ALU, 0, 8 * n + 3, -1, 0, IMM_NONE, F_V, 0, u);
		add(names[n], CLS_ALU, 0, 8 * n + 4, 0, 0, IMM_8, F_B | F_NOMODRM, 0, u);
		add(names[n], CLS_ALU, 0, 8 * n + 5, 0, 0, IMM_Z, F_V | F_NOMODRM, 0, u);
		add(names[n], CLS_ALU, 0, 0x80, (int)n, 0, IMM_8, F_B | lk, 0, u);
		add(names[n], CLS_ALU, 0, 0x81, (int)n, 0, IMM_Z, F_V | lk, 0, u);
		add(names[n], CLS_ALU, 0, 0x83, (int)n, 0, IMM_8, F_V | lk, 0, u);
	}
	add("test", CLS_ALU, 0, 0x84, -1, 0, IMM_NONE, F_B, 0, AF);
	add("test", CLS_ALU, 0, 0x85, -1, 0, IMM_NONE, F_V, 0, AF);
	add("test", CLS_ALU, 0, 0xa8, 0, 0, IMM_8, F_B | F_NOMODRM, 0, AF);
	add("test", CLS_ALU, 0, 0xa9, 0, 0, IMM_Z, F_V | F_NOMODRM, 0, AF);
	add("test", CLS_ALU, 0, 0xf6, 0, 0, IMM_8, F_B, 0, AF);
	add("test", CLS_ALU, 0, 0xf7, 0, 0, IMM_Z, F_V, 0, AF);
	add("not", CLS_ALU, 0, 0xf6, 2, 0, IMM_NONE, F_B | F_LOCK, 0, 0);
	add("not", CLS_ALU, 0, 0xf7, 2, 0, IMM_NONE, F_V | F_LOCK, 0, 0);
	add("neg", CLS_ALU, 0, 0xf6, 3, 0, IMM_NONE, F_B | F_LOCK, 0, 0);
	add("neg", CLS_ALU, 0, 0xf7, 3, 0, IMM_NONE, F_V | F_LOCK, 0, 0);
	add("inc", CLS_ALU, 0, 0xfe, 0, 0, IMM_NONE, F_B | F_LOCK, 0, 0);
	add("inc", CLS_ALU, 0, 0xff, 0, 0, IMM_NONE, F_V | F_LOCK, 0, 0);
	add("dec", CLS_ALU, 0, 0xfe, 1, 0, IMM_NONE, F_B | F_LOCK, 0, 0);
	add("dec", CLS_ALU, 0, 0xff, 1, 0, IMM_NONE, F_V | F_LOCK, 0, 0);
}

static void add_shift_muldiv(void)
{
	for (int n = 0; n < 8; n++) {
		add("shift-imm", CLS_SHIFT, 0, 0xc0, n, 0, IMM_8, F_B, SP_SHIFT, 0);
		add("shift-imm", CLS_SHIFT, 0, 0xc1, n, 0, IMM_8, F_V, SP_SHIFT, 0);
		add("shift-1", CLS_SHIFT, 0, 0xd0, n, 0, IMM_NONE, F_B, SP_SHIFT, 0);
		add("shift-1", CLS_SHIFT, 0, 0xd1, n, 0, IMM_NONE, F_V, SP_SHIFT, 0);
		add("shift-cl", CLS_SHIFT, 0, 0xd2, n, 0, IMM_NONE, F_B, SP_SHIFT, 0);
		add("shift-cl", CLS_SHIFT, 0, 0xd3, n, 0, IMM_NONE, F_V, SP_SHIFT, 0);
	}
	add("shld", CLS_SHIFT, 1, 0xa4, -1, 0, IMM_8, F_V, SP_SHXD, 0);
	add("shld", CLS_SHIFT, 1, 0xa5, -1, 0, IMM_NONE, F_V, SP_SHXD, 0);
	add("shrd", CLS_SHIFT, 1, 0xac, -1, 0, IMM_8, F_V, SP_SHXD, 0);
	add("shrd", CLS_SHIFT, 1, 0xad, -1, 0, IMM_NONE, F_V, SP_SHXD, 0);

	const unsigned mul_undef = SF | ZF | AF | PF, div_undef = CF | PF | AF | ZF | SF | OF;
	add("mul", CLS_MULDIV, 0, 0xf6, 4, 0, IMM_NONE, F_B, 0, mul_undef);
	add("mul", CLS_MULDIV, 0, 0xf7, 4, 0, IMM_NONE, F_V, 0, mul_undef);
	add("imul", CLS_MULDIV, 0, 0xf6, 5, 0, IMM_NONE, F_B, 0, mul_undef);
	add("imul", CLS_MULDIV, 0, 0xf7, 5, 0, IMM_NONE, F_V, 0, mul_undef);
	add("imul", CLS_MULDIV, 1, 0xaf, -1, 0, IMM_NONE, F_V, 0, mul_undef);
	add("imul", CLS_MULDIV, 0, 0x69, -1, 0, IMM_Z, F_V, 0, mul_undef);
	add("imul", CLS_MULDIV, 0, 0x6b, -1, 0, IMM_8, F_V, 0, mul_undef);
	add("div", CLS_MULDIV, 0, 0xf6, 6, 0, IMM_NONE, F_B, SP_DIV, div_undef);
	add("div", CLS_MULDIV, 0, 0xf7, 6, 0, IMM_NONE, F_V, SP_DIV, div_undef);
	add("idiv", CLS_MULDIV, 0, 0xf6, 7, 0, IMM_NONE, F_B, SP_IDIV, div_undef);
	add("idiv", CLS_MULDIV, 0, 0xf7, 7, 0, IMM_NONE, F_V, SP_IDIV, div_undef);
}

static void add_bits_cond(void)
{
	const unsigned bt_undef = OF | SF | AF | PF;
	add("bt", CLS_BITS, 1, 0xa3, -1, 0, IMM_NONE, F_V, SP_BT, bt_undef);
	add("bts", CLS_BITS, 1, 0xab, -1, 0, IMM_NONE, F_V | F_LOCK, SP_BT, bt_undef);
	add("btr", CLS_BITS, 1, 0xb3, -1, 0, IMM_NONE, F_V | F_LOCK, SP_BT, bt_undef);
	add("btc", CLS_BITS, 1, 0xbb, -1, 0, IMM_NONE, F_V | F_LOCK, SP_BT, bt_undef);
	add("bt", CLS_BITS, 1, 0xba, 4, 0, IMM_8, F_V, 0, bt_undef);
	add("bts", CLS_BITS, 1, 0xba, 5, 0, IMM_8, F_V | F_LOCK, 0, bt_undef);
	add("btr", CLS_BITS, 1, 0xba, 6, 0, IMM_8, F_V | F_LOCK, 0, bt_undef);
	add("btc", CLS_BITS, 1, 0xba, 7, 0, IMM_8, F_V | F_LOCK, 0, bt_undef);
	add("bsf", CLS_BITS, 1, 0xbc, -1, 0, IMM_NONE, F_V, SP_BSF, CF | OF | SF | AF | PF);
	add("bsr", CLS_BITS, 1, 0xbd, -1, 0, IMM_NONE, F_V, SP_BSF, CF | OF | SF | AF | PF);
	add("popcnt", CLS_BITS, 1, 0xb8, -1, 0xf3, IMM_NONE, F_V, 0, 0);
	add("bswap", CLS_BITS, 1, 0xc8, 0, 0, IMM_NONE, F_V | F_OPR | F_NOMODRM, SP_BSWAP, 0);

	for (unsigned cc = 0; cc < 16; cc++) {
		add("setcc", CLS_COND, 1, 0x90 + cc, 0, 0, IMM_NONE, F_B, 0, 0);
		add("cmovcc", CLS_COND, 1, 0x40 + cc, -1, 0, IMM_NONE, F_V, 0, 0);
	}
	add("lahf", CLS_COND, 0, 0x9f, 0, 0, IMM_NONE, F_NOMODRM, 0, 0);
	add("sahf", CLS_COND, 0, 0x9e, 0, 0, IMM_NONE, F_NOMODRM, 0, 0);
	static const uint8_t flag_ops[] = {0xf5, 0xf8, 0xf9, 0xfc, 0xfd};
	for (unsigned k = 0; k < sizeof(flag_ops); k++)
		add("cmc/clc/stc/cld/std", CLS_COND, 0, flag_ops[k], 0, 0, IMM_NONE, F_NOMODRM, 0,
		    0);
}

static void add_move_atomic_stack(void)
{
	add("mov", CLS_MOVE, 0, 0x88, -1, 0, IMM_NONE, F_B, 0, 0);
	add("mov", CLS_MOVE, 0, 0x89, -1, 0, IMM_NONE, F_V, 0, 0);
	add("mov", CLS_MOVE, 0, 0x8a, -1, 0, IMM_NONE, F_B, 0, 0);
	add("mov", CLS_MOVE, 0, 0x8b, -1, 0, IMM_NONE, F_V, 0, 0);
	add("mov", CLS_MOVE, 0, 0xc6, 0, 0, IMM_8, F_B, 0, 0);
	add("mov", CLS_MOVE, 0, 0xc7, 0, 0, IMM_Z, F_V, 0, 0);
	add("mov", CLS_MOVE, 0, 0xb0, 0, 0, IMM_8, F_B | F_OPR | F_NOMODRM, 0, 0);
	add("mov", CLS_MOVE, 0, 0xb8, 0, 0, IMM_V, F_V | F_OPR | F_NOMODRM, 0, 0);
	add("movzx", CLS_MOVE, 1, 0xb6, -1, 0, IMM_NONE, F_V | F_RM8, 0, 0);
	add("movzx", CLS_MOVE, 1, 0xb7, -1, 0, IMM_NONE, F_V | F_RM16, 0, 0);
	add("movsx", CLS_MOVE, 1, 0xbe, -1, 0, IMM_NONE, F_V | F_RM8, 0, 0);
	add("movsx", CLS_MOVE, 1, 0xbf, -1, 0, IMM_NONE, F_V | F_RM16, 0, 0);
	add("movsxd", CLS_MOVE, 0, 0x63, -1, 0, IMM_NONE, F_V, 0, 0);
	add("lea", CLS_MOVE, 0, 0x8d, -1, 0, IMM_NONE, F_V | F_MEM, 0, 0);
	add("xchg-acc", CLS_MOVE, 0, 0x90, 0, 0, IMM_NONE, F_V | F_OPR | F_NOMODRM, 0, 0);
	add("cbw", CLS_MOVE, 0, 0x98, 0, 0, IMM_NONE, F_V | F_NOMODRM, 0, 0);
	add("cwd", CLS_MOVE, 0, 0x99, 0, 0, IMM_NONE, F_V | F_NOMODRM, 0, 0);
	add("nop", CLS_MOVE, 1, 0x1f, 0, 0, IMM_NONE, F_V, 0, 0);

	add("xchg", CLS_ATOMIC, 0, 0x86, -1, 0, IMM_NONE, F_B | F_LOCK, 0, 0);
	add("xchg", CLS_ATOMIC, 0, 0x87, -1, 0, IMM_NONE, F_V | F_LOCK, 0, 0);
	add("cmpxchg", CLS_ATOMIC, 1, 0xb0, -1, 0, IMM_NONE, F_B | F_LOCK, SP_CMPXCHG, 0);
	add("cmpxchg", CLS_ATOMIC, 1, 0xb1, -1, 0, IMM_NONE, F_V | F_LOCK, SP_CMPXCHG, 0);
	add("xadd", CLS_ATOMIC, 1, 0xc0, -1, 0, IMM_NONE, F_B | F_LOCK, 0, 0);
	add("xadd", CLS_ATOMIC, 1, 0xc1, -1, 0, IMM_NONE, F_V | F_LOCK, 0, 0);
	add("cmpxchg8b/16b", CLS_ATOMIC, 1, 0xc7, 1, 0, IMM_NONE, F_V | F_MEM | F_LOCK, SP_CX8, 0);
	add("lock add", CLS_ATOMIC, 0, 0x01, -1, 0, IMM_NONE, F_V | F_LOCK | F_MEM, 0, 0);
	add("lock or", CLS_ATOMIC, 0, 0x80, 1, 0, IMM_8, F_B | F_LOCK | F_MEM, 0, AF);
	add("lock sub", CLS_ATOMIC, 0, 0x83, 5, 0, IMM_8, F_V | F_LOCK | F_MEM, 0, 0);

	add("push", CLS_STACK, 0, 0x50, 0, 0, IMM_NONE, F_D64 | F_OPR | F_NOMODRM, 0, 0);
	add("pop", CLS_STACK, 0, 0x58, 0, 0, IMM_NONE, F_D64 | F_OPR | F_NOMODRM, 0, 0);
	add("push", CLS_STACK, 0, 0x6a, 0, 0, IMM_8, F_D64 | F_NOMODRM, 0, 0);
	add("push", CLS_STACK, 0, 0x68, 0, 0, IMM_Z, F_D64 | F_NOMODRM, 0, 0);
	add("push", CLS_STACK, 0, 0xff, 6, 0, IMM_NONE, F_D64, 0, 0);
	add("pop", CLS_STACK, 0, 0x8f, 0, 0, IMM_NONE, F_D64, 0, 0);
	add("leave", CLS_STACK, 0, 0xc9, 0, 0, IMM_NONE, F_D64 | F_NOMODRM, SP_LEAVE, 0);
	add("pushf", CLS_STACK, 0, 0x9c, 0, 0, IMM_NONE, F_D64 | F_NOMODRM, 0, 0);

	static const struct {
		const char *name;
		uint8_t op;
		uint32_t f;
	} str[] = {{"movs", 0xa4, F_REP},
		   {"cmps", 0xa6, F_REP | F_REPNE},
		   {"stos", 0xaa, F_REP},
		   {"lods", 0xac, F_REP},
		   {"scas", 0xae, F_REP | F_REPNE}};
	for (unsigned k = 0; k < sizeof(str) / sizeof(str[0]); k++) {
		add(str[k].name, CLS_STRING, 0, str[k].op, 0, 0, IMM_NONE,
		    F_B | F_NOMODRM | str[k].f, SP_STRING, 0);
		add(str[k].name, CLS_STRING, 0, str[k].op + 1u, 0, 0, IMM_NONE,
		    F_V | F_NOMODRM | str[k].f, SP_STRING, 0);
	}
}

static void add_sse_move(void)
{
	const unsigned c = CLS_SSE_MOVE;
	add("movups", c, 1, 0x10, -1, 0, IMM_NONE, F_X, 0, 0);
	add("movups", c, 1, 0x11, -1, 0, IMM_NONE, F_X, 0, 0);
	add("movupd", c, 1, 0x10, -1, 0x66, IMM_NONE, F_X, 0, 0);
	add("movupd", c, 1, 0x11, -1, 0x66, IMM_NONE, F_X, 0, 0);
	add("movaps", c, 1, 0x28, -1, 0, IMM_NONE, F_X | F_A16, 0, 0);
	add("movaps", c, 1, 0x29, -1, 0, IMM_NONE, F_X | F_A16, 0, 0);
	add("movapd", c, 1, 0x28, -1, 0x66, IMM_NONE, F_X | F_A16, 0, 0);
	add("movapd", c, 1, 0x29, -1, 0x66, IMM_NONE, F_X | F_A16, 0, 0);
	add("movdqa", c, 1, 0x6f, -1, 0x66, IMM_NONE, F_X | F_A16, 0, 0);
	add("movdqa", c, 1, 0x7f, -1, 0x66, IMM_NONE, F_X | F_A16, 0, 0);
	add("movdqu", c, 1, 0x6f, -1, 0xf3, IMM_NONE, F_X, 0, 0);
	add("movdqu", c, 1, 0x7f, -1, 0xf3, IMM_NONE, F_X, 0, 0);
	add("movss", c, 1, 0x10, -1, 0xf3, IMM_NONE, F_X, 0, 0);
	add("movss", c, 1, 0x11, -1, 0xf3, IMM_NONE, F_X, 0, 0);
	add("movsd", c, 1, 0x10, -1, 0xf2, IMM_NONE, F_X, 0, 0);
	add("movsd", c, 1, 0x11, -1, 0xf2, IMM_NONE, F_X, 0, 0);
	add("movlps/movhlps", c, 1, 0x12, -1, 0, IMM_NONE, F_X, 0, 0);
	add("movlps", c, 1, 0x13, -1, 0, IMM_NONE, F_X | F_MEM, 0, 0);
	add("movhps/movlhps", c, 1, 0x16, -1, 0, IMM_NONE, F_X, 0, 0);
	add("movhps", c, 1, 0x17, -1, 0, IMM_NONE, F_X | F_MEM, 0, 0);
	add("movlpd", c, 1, 0x12, -1, 0x66, IMM_NONE, F_X | F_MEM, 0, 0);
	add("movlpd", c, 1, 0x13, -1, 0x66, IMM_NONE, F_X | F_MEM, 0, 0);
	add("movhpd", c, 1, 0x16, -1, 0x66, IMM_NONE, F_X | F_MEM, 0, 0);
	add("movhpd", c, 1, 0x17, -1, 0x66, IMM_NONE, F_X | F_MEM, 0, 0);
	add("movd/movq", c, 1, 0x6e, -1, 0x66, IMM_NONE, F_XR, 0, 0);
	add("movd/movq", c, 1, 0x7e, -1, 0x66, IMM_NONE, F_XR, 0, 0);
	add("movq", c, 1, 0x7e, -1, 0xf3, IMM_NONE, F_X, 0, 0);
	add("movq", c, 1, 0xd6, -1, 0x66, IMM_NONE, F_X, 0, 0);
	add("movmskps", c, 1, 0x50, -1, 0, IMM_NONE, F_XM | F_REG, 0, 0);
	add("movmskpd", c, 1, 0x50, -1, 0x66, IMM_NONE, F_XM | F_REG, 0, 0);
	add("pmovmskb", c, 1, 0xd7, -1, 0x66, IMM_NONE, F_XM | F_REG, 0, 0);
	add("movntdq", c, 1, 0xe7, -1, 0x66, IMM_NONE, F_X | F_MEM | F_A16, 0, 0);
	add("movntps", c, 1, 0x2b, -1, 0, IMM_NONE, F_X | F_MEM | F_A16, 0, 0);
	add("movnti", c, 1, 0xc3, -1, 0, IMM_NONE, F_V | F_MEM, 0, 0);
	add("pshufd", c, 1, 0x70, -1, 0x66, IMM_8, F_X | F_A16, 0, 0);
	add("pshuflw", c, 1, 0x70, -1, 0xf2, IMM_8, F_X | F_A16, 0, 0);
	add("pshufhw", c, 1, 0x70, -1, 0xf3, IMM_8, F_X | F_A16, 0, 0);
	add("shufps", c, 1, 0xc6, -1, 0, IMM_8, F_X | F_A16, 0, 0);
	add("shufpd", c, 1, 0xc6, -1, 0x66, IMM_8, F_X | F_A16, 0, 0);
	add("unpcklps", c, 1, 0x14, -1, 0, IMM_NONE, F_X | F_A16, 0, 0);
	add("unpckhps", c, 1, 0x15, -1, 0, IMM_NONE, F_X | F_A16, 0, 0);
	add("unpcklpd", c, 1, 0x14, -1, 0x66, IMM_NONE, F_X | F_A16, 0, 0);
	add("unpckhpd", c, 1, 0x15, -1, 0x66, IMM_NONE, F_X | F_A16, 0, 0);
	static const uint8_t unpk[] = {0x60, 0x61, 0x62, 0x68, 0x69, 0x6a,
				       0x6c, 0x6d, 0x63, 0x67, 0x6b};
	for (unsigned k = 0; k < sizeof(unpk); k++)
		add("punpck/pack", c, 1, unpk[k], -1, 0x66, IMM_NONE, F_X | F_A16, 0, 0);
	add("pinsrw", c, 1, 0xc4, -1, 0x66, IMM_8, F_XR, 0, 0);
	add("pextrw", c, 1, 0xc5, -1, 0x66, IMM_8, F_XM | F_REG, 0, 0);
}

static void add_sse_int(void)
{
	static const uint8_t ops[] = {
	    0xdb, 0xdf, 0xeb, 0xef,			    /* pand pandn por pxor */
	    0xfc, 0xfd, 0xfe, 0xd4, 0xf8, 0xf9, 0xfa, 0xfb, /* padd psub */
	    0xec, 0xed, 0xdc, 0xdd, 0xe8, 0xe9, 0xd8, 0xd9, /* saturating */
	    0x74, 0x75, 0x76, 0x64, 0x65, 0x66,		    /* pcmpeq pcmpgt */
	    0xd5, 0xe5, 0xe4, 0xf4, 0xf5,	      /* pmullw pmulhw pmulhuw pmuludq pmaddwd */
	    0xe0, 0xe3, 0xde, 0xda, 0xee, 0xea, 0xf6, /* pavg pmax pmin psadbw */
	};
	for (unsigned k = 0; k < sizeof(ops); k++)
		add("sse2-int", CLS_SSE_INT, 1, ops[k], -1, 0x66, IMM_NONE, F_X | F_A16, 0, 0);
	static const uint8_t shifts[] = {0xd1, 0xd2, 0xd3, 0xe1, 0xe2, 0xf1, 0xf2, 0xf3};
	for (unsigned k = 0; k < sizeof(shifts); k++)
		add("psrl/psra/psll xmm", CLS_SSE_INT, 1, shifts[k], -1, 0x66, IMM_NONE,
		    F_X | F_A16, SP_XCOUNT, 0);
	static const struct {
		uint8_t op, ext;
	} shimm[] = {{0x71, 2}, {0x71, 4}, {0x71, 6}, {0x72, 2}, {0x72, 4},
		     {0x72, 6}, {0x73, 2}, {0x73, 3}, {0x73, 6}, {0x73, 7}};
	for (unsigned k = 0; k < sizeof(shimm) / sizeof(shimm[0]); k++)
		add("psrl/psra/psll imm", CLS_SSE_INT, 1, shimm[k].op, shimm[k].ext, 0x66, IMM_8,
		    F_XM | F_REG, 0, 0);
	for (unsigned op = 0x54; op <= 0x57; op++) {
		add("andps/andnps/orps/xorps", CLS_SSE_INT, 1, op, -1, 0, IMM_NONE, F_X | F_A16, 0,
		    0);
		add("andpd/andnpd/orpd/xorpd", CLS_SSE_INT, 1, op, -1, 0x66, IMM_NONE, F_X | F_A16,
		    0, 0);
	}
}

static void add_sse_float(void)
{
	/* sqrt add mul sub min div max: ps ss pd sd each; packed forms need alignment. */
	static const uint8_t ops[] = {0x51, 0x58, 0x59, 0x5c, 0x5d, 0x5e, 0x5f};
	const uint32_t fl = F_X | F_FLT;
	for (unsigned k = 0; k < sizeof(ops); k++) {
		add("sse-ps", CLS_SSE_FLOAT, 1, ops[k], -1, 0, IMM_NONE, fl | F_A16, SP_MXCSR, 0);
		add("sse-ss", CLS_SSE_FLOAT, 1, ops[k], -1, 0xf3, IMM_NONE, fl, SP_MXCSR, 0);
		add("sse-pd", CLS_SSE_FLOAT, 1, ops[k], -1, 0x66, IMM_NONE, fl | F_A16, SP_MXCSR,
		    0);
		add("sse-sd", CLS_SSE_FLOAT, 1, ops[k], -1, 0xf2, IMM_NONE, fl, SP_MXCSR, 0);
	}
	add("cmpps", CLS_SSE_FLOAT, 1, 0xc2, -1, 0, IMM_8, fl | F_A16, SP_MXCSR, 0);
	add("cmpss", CLS_SSE_FLOAT, 1, 0xc2, -1, 0xf3, IMM_8, fl, SP_MXCSR, 0);
	add("cmppd", CLS_SSE_FLOAT, 1, 0xc2, -1, 0x66, IMM_8, fl | F_A16, SP_MXCSR, 0);
	add("cmpsd", CLS_SSE_FLOAT, 1, 0xc2, -1, 0xf2, IMM_8, fl, SP_MXCSR, 0);
	add("ucomiss", CLS_SSE_FLOAT, 1, 0x2e, -1, 0, IMM_NONE, fl, SP_MXCSR, 0);
	add("comiss", CLS_SSE_FLOAT, 1, 0x2f, -1, 0, IMM_NONE, fl, SP_MXCSR, 0);
	add("ucomisd", CLS_SSE_FLOAT, 1, 0x2e, -1, 0x66, IMM_NONE, fl, SP_MXCSR, 0);
	add("comisd", CLS_SSE_FLOAT, 1, 0x2f, -1, 0x66, IMM_NONE, fl, SP_MXCSR, 0);

	const unsigned c = CLS_SSE_CVT;
	add("cvtsi2ss", c, 1, 0x2a, -1, 0xf3, IMM_NONE, F_XR | F_FLT, SP_MXCSR, 0);
	add("cvtsi2sd", c, 1, 0x2a, -1, 0xf2, IMM_NONE, F_XR | F_FLT, SP_MXCSR, 0);
	add("cvttss2si", c, 1, 0x2c, -1, 0xf3, IMM_NONE, F_XM | F_FLT, SP_MXCSR, 0);
	add("cvttsd2si", c, 1, 0x2c, -1, 0xf2, IMM_NONE, F_XM | F_FLT, SP_MXCSR, 0);
	add("cvtss2si", c, 1, 0x2d, -1, 0xf3, IMM_NONE, F_XM | F_FLT, SP_MXCSR, 0);
	add("cvtsd2si", c, 1, 0x2d, -1, 0xf2, IMM_NONE, F_XM | F_FLT, SP_MXCSR, 0);
	add("cvtps2pd", c, 1, 0x5a, -1, 0, IMM_NONE, fl, SP_MXCSR, 0);
	add("cvtpd2ps", c, 1, 0x5a, -1, 0x66, IMM_NONE, fl | F_A16, SP_MXCSR, 0);
	add("cvtss2sd", c, 1, 0x5a, -1, 0xf3, IMM_NONE, fl, SP_MXCSR, 0);
	add("cvtsd2ss", c, 1, 0x5a, -1, 0xf2, IMM_NONE, fl, SP_MXCSR, 0);
	add("cvtdq2ps", c, 1, 0x5b, -1, 0, IMM_NONE, fl | F_A16, SP_MXCSR, 0);
	add("cvtps2dq", c, 1, 0x5b, -1, 0x66, IMM_NONE, fl | F_A16, SP_MXCSR, 0);
	add("cvttps2dq", c, 1, 0x5b, -1, 0xf3, IMM_NONE, fl | F_A16, SP_MXCSR, 0);
	add("cvtdq2pd", c, 1, 0xe6, -1, 0xf3, IMM_NONE, fl, SP_MXCSR, 0);
	add("cvttpd2dq", c, 1, 0xe6, -1, 0x66, IMM_NONE, fl | F_A16, SP_MXCSR, 0);
	add("cvtpd2dq", c, 1, 0xe6, -1, 0xf2, IMM_NONE, fl | F_A16, SP_MXCSR, 0);
}

const struct tmpl *diff_templates(unsigned *count)
{
	if (!ntmpl) {
		add_alu();
		add_shift_muldiv();
		add_bits_cond();
		add_move_atomic_stack();
		add_sse_move();
		add_sse_int();
		add_sse_float();
	}
	*count = ntmpl;
	return tmpls;
}
