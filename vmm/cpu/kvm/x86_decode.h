/* x86-64 decoding for the emulation assist (emulate.c). Zydis decodes the instruction; this layer
 * picks out the ones the assist can emulate and names each with an enum x86_op and its operands
 * (the xmm register of ModRM.reg, and the register or memory operand of ModRM.rm). Anything else
 * is refused with a message, so the caller can report the bytes instead of guessing their
 * meaning. Pure code on a byte buffer: no KVM, no guest state. 64-bit mode only: the assist only
 * runs for long-mode kernels. */
#ifndef VMM_CPU_KVM_X86_DECODE_H
#define VMM_CPU_KVM_X86_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define X86_MAX_INSN_LEN 15
#define X86_REG_NONE	 (-1)
#define X86_REG_RIP	 16

enum x86_op {
	X86_OP_INT3,
	X86_OP_FWAIT,
	X86_OP_CLAC,
	X86_OP_STAC,
	X86_OP_LDMXCSR,	      /* MXCSR <- m32 */
	X86_OP_STMXCSR,	      /* m32 <- MXCSR */
	X86_OP_MOVD_TO_XMM,   /* movd/movq xmm, r/m32 or r/m64: zero-extends into the xmm */
	X86_OP_MOVD_FROM_XMM, /* movd/movq r/m32 or r/m64, xmm */
	X86_OP_MOVQ_LOAD,     /* movq xmm, xmm/m64 (f3 0f 7e): zero-extends */
	X86_OP_MOVQ_STORE,    /* movq xmm/m64, xmm (66 0f d6): zero-extends an xmm destination */
	X86_OP_MOV128_LOAD,   /* movdqa/movdqu/movaps/movups/movapd/movupd xmm, xmm/m128 */
	X86_OP_MOV128_STORE,  /* the same, xmm/m128, xmm */
	X86_OP_XOR128,	      /* pxor/xorps/xorpd xmm, xmm/m128 */
	X86_OP_COUNT
};

enum x86_seg { X86_SEG_DEFAULT, X86_SEG_FS, X86_SEG_GS };

/* A memory operand: seg:[base + index * scale + disp], truncated to 32 bits if addr32. */
struct x86_mem {
	int8_t
	    base; /* 0-15 (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8-r15), X86_REG_RIP or NONE */
	int8_t index;  /* 0-15 or X86_REG_NONE */
	uint8_t scale; /* 1, 2, 4 or 8 */
	int32_t disp;
	enum x86_seg seg;
	bool addr32;
};

struct x86_insn {
	enum x86_op op;
	uint8_t len;
	bool rex_w;
	bool aligned;	/* a memory operand must be 16-byte aligned (else #GP) */
	uint8_t reg;	/* the xmm register in ModRM.reg (with REX.R), if the instruction has one */
	bool rm_is_mem; /* ModRM.rm names memory (mem), else a register (rm) */
	uint8_t rm;	/* 0-15: an xmm or general register, as the instruction says */
	struct x86_mem mem;
};

/* Decodes the instruction at the start of code[0..len). 0 on success; -1 with a message if the
 * bytes are truncated, malformed or not one of enum x86_op. */
int x86_decode(const uint8_t *code, size_t len, struct x86_insn *insn, char *err, size_t errlen);

/* The linear address of insn's memory operand. gpr[] is in encoding order (see x86_mem.base);
 * next_rip is the address of the following instruction; seg_base is the base of the segment the
 * operand uses (FS or GS base; 0 for the others, as 64-bit mode ignores them). */
uint64_t x86_mem_address(const struct x86_insn *insn, const uint64_t gpr[16], uint64_t next_rip,
			 uint64_t seg_base);

const char *x86_op_name(enum x86_op op);

#endif
