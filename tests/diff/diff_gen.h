/* The generator's templates (diff_tmpl.c) as the generator (diff_gen.c) reads them: one opcode
 * form each, with what may vary around it (prefixes, operand size, register or memory r/m) and
 * what needs care (a special value setup, flags the SDM leaves undefined). */
#ifndef TESTS_DIFF_DIFF_GEN_H
#define TESTS_DIFF_DIFF_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "tests/diff/diff.h"

enum diff_class {
	CLS_ALU,
	CLS_SHIFT,
	CLS_MULDIV,
	CLS_BITS,
	CLS_COND,
	CLS_MOVE,
	CLS_ATOMIC,
	CLS_STACK,
	CLS_STRING,
	CLS_SSE_MOVE,
	CLS_SSE_INT,
	CLS_SSE_FLOAT,
	CLS_SSE_CVT,
	CLS_X87,
	CLS_PAIR, /* an ALU instruction, then a Jcc over one more (the interpreter fuses such pairs)
		   */
	CLS_DEAD_FLAGS, /* an ALU, shift or multiply instruction whose flags a CMP after it writes
			   again (the interpreter skips them) */
	CLS_COUNT,
};

/* Immediate operand kinds. */
enum { IMM_NONE, IMM_8, IMM_16, IMM_Z /* 2 or 4 bytes by operand size */, IMM_V /* 2, 4, 8 */ };

#define F_B	  (1u << 0)  /* 8-bit operation */
#define F_V	  (1u << 1)  /* 16/32/64-bit by 66 and REX.W */
#define F_D64	  (1u << 2)  /* 16/64-bit (push, pop): 66 makes it 16 */
#define F_MEM	  (1u << 3)  /* r/m must be memory */
#define F_REG	  (1u << 4)  /* r/m must be a register */
#define F_LOCK	  (1u << 5)  /* lock is allowed with a memory r/m */
#define F_OPR	  (1u << 6)  /* register in the opcode's low three bits */
#define F_XR	  (1u << 7)  /* ModRM.reg names an xmm register */
#define F_XM	  (1u << 8)  /* ModRM.rm, as a register, names an xmm register */
#define F_A16	  (1u << 9)  /* memory operand 16-byte aligned (else #GP) */
#define F_REP	  (1u << 10) /* string: rep allowed */
#define F_REPNE	  (1u << 11) /* string: repne allowed */
#define F_NOMODRM (1u << 12)
#define F_FLT	  (1u << 13) /* floating-point data in the xmm registers and memory */
#define F_RM8	  (1u << 14) /* r/m is 8-bit, reg F_V (movzx, movsx) */
#define F_RM16	  (1u << 15) /* r/m is 16-bit */
#define F_X	  (F_XR | F_XM)

/* Value setups and undefined-result rules beyond the static flag mask. */
enum {
	SP_NONE,
	SP_SHIFT,   /* count: imm8 (C0/C1), 1 (D0/D1), CL (D2/D3); ModRM.reg = operation */
	SP_SHXD,    /* shld/shrd: count imm8 or CL */
	SP_DIV,	    /* div: dividend's high part below the divisor, mostly */
	SP_IDIV,    /* idiv: dividend sign-extended, mostly */
	SP_BT,	    /* bt* r/m, reg: a small bit offset when r/m is memory */
	SP_BSF,	    /* bsf/bsr: destination undefined when the source is 0 */
	SP_BSWAP,   /* bswap r16: undefined */
	SP_CMPXCHG, /* accumulator equal to the destination half the time */
	SP_CX8,	    /* cmpxchg8b/16b: rdx:rax equal to memory half the time */
	SP_XCOUNT,  /* psrl/psra/psll by xmm/m128: a small count mostly */
	SP_LEAVE,   /* rbp points into the data buffer */
	SP_STRING,  /* string instruction: rsi, rdi, rcx, DF */
	SP_MXCSR,   /* float ops: random rounding, DAZ/FTZ, sometimes unmasked exceptions */
};

struct tmpl {
	const char *name;
	uint8_t cls;
	uint8_t map; /* 0 one-byte, 1 0F, 2 0F 38, 3 0F 3A */
	uint8_t op;
	int8_t ext;  /* ModRM.reg for /n forms; -1: a register operand */
	uint8_t pfx; /* mandatory 66, F2 or F3; 0 none */
	uint8_t imm;
	uint8_t sp;
	uint32_t f;
	uint16_t undef; /* arithmetic flags the SDM leaves undefined */
};

/* ---- the generator's shared state (diff_gen.c, diff_gen_seq.c, diff_values.c) ------------ */

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };

/* One instruction's encoding, assembled field by field, emitted by emit(). */
struct enc {
	uint8_t legacy[6];
	unsigned nlegacy;
	bool rex, w, r, x, b; /* REX present and its bits */
	uint8_t map, op;
	bool modrm, sib, riprel;
	uint8_t mod, reg, rm, scale, index, base;
	unsigned disp_size;
	int64_t disp;
	uint64_t target; /* RIP-relative: the address the displacement must reach */
	unsigned imm_size;
	uint64_t imm;
};

/* What the generator knows about the instruction being built. */
struct gen {
	struct diff_rng *r;
	struct diff_case *c;
	unsigned off;	  /* code bytes so far */
	unsigned opsize;  /* bytes */
	bool mem;	  /* r/m is memory */
	uint32_t ea;	  /* its offset in the data buffer */
	unsigned reg, rm; /* register numbers of ModRM.reg and a register r/m */
	uint16_t avoid;	  /* registers the special setup needs: not for addressing */
};

uint64_t gen_special_value(struct diff_rng *r);
uint64_t gen_random_value(struct diff_rng *r);
uint64_t gen_imm_value(struct diff_rng *r);
uint32_t gen_float32(struct diff_rng *r);
uint64_t gen_float64(struct diff_rng *r);
/* 16 bytes of float32 or float64 lanes. */
void gen_float_lanes(struct diff_rng *r, uint8_t *p);
void gen_random_state(struct diff_rng *r, struct diff_state *s);

void gen_add_prefix(struct enc *e, uint8_t p);
/* Appends the encoded instruction to the case (RIP-relative displacements resolved). */
void gen_emit(struct gen *g, const struct enc *e);
void gen_shuffle_prefixes(struct diff_rng *r, struct enc *e);
/* Operand size from 66 and REX.W as the template allows; the mandatory prefix. */
void gen_choose_size(struct gen *g, const struct tmpl *t, struct enc *e);
void gen_string(struct gen *g, const struct tmpl *t);
void gen_x87(struct gen *g);

/* All templates, built once. */
const struct tmpl *diff_templates(unsigned *count);
const char *diff_class_names(unsigned cls);

#endif
