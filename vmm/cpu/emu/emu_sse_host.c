/* Floating point for the software vCPU, computed by the host's own SSE and x87 instructions.
 *
 * The host is x86-64, so the most exact model of a guest's floating-point instruction is the
 * same instruction on the host, run under the guest's rounding and precision controls: the
 * results then match bit for bit, including NaN propagation, denormal handling (DAZ/FZ) and
 * the approximations of RCPPS/RSQRTPS and the x87 transcendentals.
 *
 * SSE: sse_fp_run() loads the guest's MXCSR into the host's with every exception masked and
 * the flags cleared, runs the operation (one intrinsic on 16-byte operands in memory) and
 * reads back the flags the host raised; the caller merges them into the guest's MXCSR and
 * decides whether an unmasked one faults. The asm statements around the operation clobber
 * memory and the operands travel through memory, so the compiler cannot move the arithmetic
 * across the MXCSR switch.
 *
 * x87: each operation is one asm statement that saves the host's control word, loads the
 * guest's (all exceptions masked), loads its inputs from 80-bit images with FLD TBYTE, runs
 * the instruction, stores the results with FSTP TBYTE, reads the status word and restores the
 * host. The host's x87 stack is empty between statements (SysV ABI), and each statement
 * leaves it empty.
 *
 * Nothing here touches a vCPU: the unit tests call these directly. */
#include <emmintrin.h>
#include <stddef.h>
#include <string.h>

#include "vmm/cpu/emu/emu_fpu.h"

/* ---- SSE ---------------------------------------------------------------------------------- */

uint32_t sse_fp_run(uint32_t mxcsr, sse_fp_fn fn, struct sse_fp_args *a)
{
	uint32_t host, after;
	uint32_t guest = (mxcsr & MXCSR_WRITABLE & ~MXCSR_FLAGS) | MXCSR_MASKS;

	__asm__ volatile("stmxcsr %0" : "=m"(host));
	__asm__ volatile("ldmxcsr %0" : : "m"(guest) : "memory");
	fn(a);
	__asm__ volatile("stmxcsr %0" : "=m"(after) : : "memory");
	__asm__ volatile("ldmxcsr %0" : : "m"(host) : "memory");
	return after & MXCSR_FLAGS;
}

/* Each operation is the guest's instruction itself in a volatile asm statement: "insn y, x"
 * with x the destination register (also the first source) and y the source, so scalar forms
 * keep x's upper lanes exactly as the instruction does. Intrinsics would not do: the compiler
 * treats them as pure arithmetic, so it may commute the operands of ADDPS/MULPS (which picks
 * the other NaN) or compute both arms of a conditional (raising both arms' flags). */
#define ASM_XY(name, insn)                                                                         \
	static void name(struct sse_fp_args *a)                                                    \
	{                                                                                          \
		__m128 x = _mm_loadu_ps(a->d.f), y = _mm_loadu_ps(a->s.f);                         \
		__asm__ volatile(insn " %[y], %[x]" : [x] "+x"(x) : [y] "x"(y));                   \
		_mm_storeu_ps(a->d.f, x);                                                          \
	}

/* The four forms of an arithmetic instruction. */
#define ARITH4(op)                                                                                 \
	ASM_XY(op##ps, #op "ps")                                                                   \
	ASM_XY(op##ss, #op "ss")                                                                   \
	ASM_XY(op##pd, #op "pd")                                                                   \
	ASM_XY(op##sd, #op "sd")

ARITH4(add)
ARITH4(sub)
ARITH4(mul)
ARITH4(div)
ARITH4(min)
ARITH4(max)
ARITH4(sqrt)
ASM_XY(rcpps, "rcpps")
ASM_XY(rcpss, "rcpss")
ASM_XY(rsqrtps, "rsqrtps")
ASM_XY(rsqrtss, "rsqrtss")
ASM_XY(cvtss2sd, "cvtss2sd")
ASM_XY(cvtsd2ss, "cvtsd2ss")
ASM_XY(cvtps2pd, "cvtps2pd")
ASM_XY(cvtpd2ps, "cvtpd2ps")
ASM_XY(cvtdq2ps, "cvtdq2ps")
ASM_XY(cvtps2dq, "cvtps2dq")
ASM_XY(cvttps2dq, "cvttps2dq")
ASM_XY(cvtdq2pd, "cvtdq2pd")
ASM_XY(cvtpd2dq, "cvtpd2dq")
ASM_XY(cvttpd2dq, "cvttpd2dq")

/* Compares: the predicate is an immediate of the instruction, so one volatile statement per
 * predicate, chosen by a switch (volatile statements are never executed speculatively). */
#define CMP_CASE(insn, k)                                                                          \
	case k:                                                                                    \
		__asm__ volatile(insn " $" #k ", %[y], %[x]" : [x] "+x"(x) : [y] "x"(y));          \
		break;
#define ASM_CMP(name, insn)                                                                        \
	static void name(struct sse_fp_args *a)                                                    \
	{                                                                                          \
		__m128 x = _mm_loadu_ps(a->d.f), y = _mm_loadu_ps(a->s.f);                         \
		switch (a->imm & 7) {                                                              \
			CMP_CASE(insn, 0)                                                          \
			CMP_CASE(insn, 1)                                                          \
			CMP_CASE(insn, 2)                                                          \
			CMP_CASE(insn, 3)                                                          \
			CMP_CASE(insn, 4)                                                          \
			CMP_CASE(insn, 5)                                                          \
			CMP_CASE(insn, 6)                                                          \
			CMP_CASE(insn, 7)                                                          \
		}                                                                                  \
		_mm_storeu_ps(a->d.f, x);                                                          \
	}
ASM_CMP(cmpps, "cmpps")
ASM_CMP(cmpss, "cmpss")
ASM_CMP(cmppd, "cmppd")
ASM_CMP(cmpsd, "cmpsd")

/* COMISS and friends: ZF, PF, CF as the host's instruction sets them. */
#define ASM_COMI(name, insn)                                                                       \
	static void name(struct sse_fp_args *a)                                                    \
	{                                                                                          \
		bool z, p, cf;                                                                     \
		__m128 x = _mm_loadu_ps(a->d.f), y = _mm_loadu_ps(a->s.f);                         \
		__asm__ volatile(insn " %[y], %[x]"                                                \
				 : "=@ccz"(z), "=@ccp"(p), "=@ccc"(cf)                             \
				 : [x] "x"(x), [y] "x"(y));                                        \
		a->gpr = (z ? RFLAGS_ZF : 0) | (p ? RFLAGS_PF : 0) | (cf ? RFLAGS_CF : 0);         \
	}
ASM_COMI(comiss, "comiss")
ASM_COMI(ucomiss, "ucomiss")
ASM_COMI(comisd, "comisd")
ASM_COMI(ucomisd, "ucomisd")

/* Integer to scalar (source in s.q[0]) and scalar to integer (result in gpr), 32 or 64 bits
 * by int_size. */
#define ASM_FROM_INT(name, insn)                                                                   \
	static void name(struct sse_fp_args *a)                                                    \
	{                                                                                          \
		__m128 x = _mm_loadu_ps(a->d.f);                                                   \
		if (a->int_size == 8)                                                              \
			__asm__ volatile(insn "q %[y], %[x]" : [x] "+x"(x) : [y] "r"(a->s.q[0]));  \
		else                                                                               \
			__asm__ volatile(insn "l %[y], %[x]" : [x] "+x"(x) : [y] "r"(a->s.d[0]));  \
		_mm_storeu_ps(a->d.f, x);                                                          \
	}
#define ASM_TO_INT(name, insn)                                                                     \
	static void name(struct sse_fp_args *a)                                                    \
	{                                                                                          \
		__m128 y = _mm_loadu_ps(a->s.f);                                                   \
		uint64_t r64;                                                                      \
		uint32_t r32;                                                                      \
		if (a->int_size == 8) {                                                            \
			__asm__ volatile(insn " %[y], %q[r]" : [r] "=r"(r64) : [y] "x"(y));        \
			a->gpr = r64;                                                              \
		} else {                                                                           \
			__asm__ volatile(insn " %[y], %k[r]" : [r] "=r"(r32) : [y] "x"(y));        \
			a->gpr = r32;                                                              \
		}                                                                                  \
	}
ASM_FROM_INT(cvtsi2ss, "cvtsi2ss")
ASM_FROM_INT(cvtsi2sd, "cvtsi2sd")
ASM_TO_INT(cvtss2si, "cvtss2si")
ASM_TO_INT(cvttss2si, "cvttss2si")
ASM_TO_INT(cvtsd2si, "cvtsd2si")
ASM_TO_INT(cvttsd2si, "cvttsd2si")

/* The MMX forms, without touching the host's MMX registers (that would switch the host's x87
 * to MMX mode): the XMM form on the two lanes concerned, the other lanes zero so that they
 * raise nothing, then the two lanes merged into the destination. */
#define ASM_MMX(name, insn, src_bytes, keep_upper)                                                 \
	static void name(struct sse_fp_args *a)                                                    \
	{                                                                                          \
		union emu_xmm src = {0};                                                           \
		memcpy(src.b, a->s.b, src_bytes);                                                  \
		__m128 x = _mm_setzero_ps(), y = _mm_loadu_ps(src.f);                              \
		__asm__ volatile(insn " %[y], %[x]" : [x] "+x"(x) : [y] "x"(y));                   \
		union emu_xmm r;                                                                   \
		_mm_storeu_ps(r.f, x);                                                             \
		a->d.q[0] = r.q[0];                                                                \
		if (!(keep_upper))                                                                 \
			a->d.q[1] = r.q[1];                                                        \
	}
ASM_MMX(cvtpi2ps, "cvtdq2ps", 8, true)
ASM_MMX(cvtps2pi, "cvtps2dq", 8, true)
ASM_MMX(cvttps2pi, "cvttps2dq", 8, true)
ASM_MMX(cvtpi2pd, "cvtdq2pd", 8, false)
ASM_MMX(cvtpd2pi, "cvtpd2dq", 16, true)
ASM_MMX(cvttpd2pi, "cvttpd2dq", 16, true)

#define FP(m, fn)                                                                                  \
	{                                                                                          \
		ZYDIS_MNEMONIC_##m, fn                                                             \
	}
#define FP4(op, OP) FP(OP##PS, op##ps), FP(OP##SS, op##ss), FP(OP##PD, op##pd), FP(OP##SD, op##sd)
static const struct {
	uint16_t mnemonic;
	sse_fp_fn fn;
} sse_fp_ops[] = {
    FP4(add, ADD),
    FP4(sub, SUB),
    FP4(mul, MUL),
    FP4(div, DIV),
    FP4(min, MIN),
    FP4(max, MAX),
    FP4(sqrt, SQRT),
    FP4(cmp, CMP),
    FP(RCPPS, rcpps),
    FP(RCPSS, rcpss),
    FP(RSQRTPS, rsqrtps),
    FP(RSQRTSS, rsqrtss),
    FP(COMISS, comiss),
    FP(UCOMISS, ucomiss),
    FP(COMISD, comisd),
    FP(UCOMISD, ucomisd),
    FP(CVTSI2SS, cvtsi2ss),
    FP(CVTSI2SD, cvtsi2sd),
    FP(CVTSS2SI, cvtss2si),
    FP(CVTTSS2SI, cvttss2si),
    FP(CVTSD2SI, cvtsd2si),
    FP(CVTTSD2SI, cvttsd2si),
    FP(CVTSS2SD, cvtss2sd),
    FP(CVTSD2SS, cvtsd2ss),
    FP(CVTPS2PD, cvtps2pd),
    FP(CVTPD2PS, cvtpd2ps),
    FP(CVTDQ2PS, cvtdq2ps),
    FP(CVTPS2DQ, cvtps2dq),
    FP(CVTTPS2DQ, cvttps2dq),
    FP(CVTDQ2PD, cvtdq2pd),
    FP(CVTPD2DQ, cvtpd2dq),
    FP(CVTTPD2DQ, cvttpd2dq),
    FP(CVTPI2PS, cvtpi2ps),
    FP(CVTPS2PI, cvtps2pi),
    FP(CVTTPS2PI, cvttps2pi),
    FP(CVTPI2PD, cvtpi2pd),
    FP(CVTPD2PI, cvtpd2pi),
    FP(CVTTPD2PI, cvttpd2pi),
};

sse_fp_fn sse_fp_op(unsigned mnemonic)
{
	for (size_t k = 0; k < sizeof(sse_fp_ops) / sizeof(sse_fp_ops[0]); k++)
		if (sse_fp_ops[k].mnemonic == mnemonic)
			return sse_fp_ops[k].fn;
	return NULL;
}

/* ---- x87 ---------------------------------------------------------------------------------- */

const f80 x87_indefinite = {{0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff}};

/* pre loads the inputs, insn is the operation, post stores the results: the status word is
 * read between insn and post, because the stores change C1. */
#define X87_ASM(name, pre, insn, post)                                                             \
	static void name(struct x87_io *io)                                                        \
	{                                                                                          \
		uint16_t host_cw = 0;                                                              \
		__asm__ volatile("fnstcw %[hcw]\n\t"                                               \
				 "fnclex\n\t"                                                      \
				 "fldcw %[cw]\n\t" pre insn "\n\t"                                 \
				 "fnstsw %[sw]\n\t" post "\n\t"                                    \
				 "fnclex\n\t"                                                      \
				 "fldcw %[hcw]"                                                    \
				 : [sw] "=m"(io->sw), [o0] "=m"(io->out[0]),                       \
				   [o1] "=m"(io->out[1]), [hcw] "+m"(host_cw)                      \
				 : [i0] "m"(io->in[0]), [i1] "m"(io->in[1]), [cw] "m"(io->cw)      \
				 : "st", "st(1)", "st(2)", "memory");                              \
	}

/* Shapes (ST(0) = in[0], ST(1) = in[1] after loading). */
#define LOAD1		 "fldt %[i0]\n\t"
#define LOAD2		 "fldt %[i1]\n\tfldt %[i0]\n\t"
#define STORE1		 "fstpt %[o0]"
#define BINARY(insn)	 LOAD2, insn, STORE1 "\n\tfstp %%st(0)"
#define BINARY_POP(insn) LOAD2, insn, STORE1 /* the instruction pops ST(0) itself */
#define UNARY(insn)	 LOAD1, insn, STORE1
#define SPLIT(insn)	 LOAD1, insn, STORE1 "\n\tfstpt %[o1]"
#define CONSTANT(insn)	 "", insn, STORE1
#define LOAD(insn)	 "", insn " %[i0]", STORE1
#define STORE(insn)	 LOAD1, insn " %[o0]", ""

/* One function per operation: the shape macro expands to the pre, insn, post arguments. */
#define X87_OP(name, ...) X87_ASM(name, __VA_ARGS__)

X87_OP(h_fadd, BINARY("fadd %%st(1), %%st"))
X87_OP(h_fsub, BINARY("fsub %%st(1), %%st"))
X87_OP(h_fmul, BINARY("fmul %%st(1), %%st"))
X87_OP(h_fdiv, BINARY("fdiv %%st(1), %%st"))
X87_OP(h_fprem, BINARY("fprem"))
X87_OP(h_fprem1, BINARY("fprem1"))
X87_OP(h_fscale, BINARY("fscale"))
X87_OP(h_fcom, BINARY("fcom %%st(1)"))
X87_OP(h_fucom, BINARY("fucom %%st(1)"))
X87_OP(h_fyl2x, BINARY_POP("fyl2x"))
X87_OP(h_fyl2xp1, BINARY_POP("fyl2xp1"))
X87_OP(h_fpatan, BINARY_POP("fpatan"))
X87_OP(h_fsqrt, UNARY("fsqrt"))
X87_OP(h_fabs, UNARY("fabs"))
X87_OP(h_fchs, UNARY("fchs"))
X87_OP(h_frndint, UNARY("frndint"))
X87_OP(h_f2xm1, UNARY("f2xm1"))
X87_OP(h_fsin, UNARY("fsin"))
X87_OP(h_fcos, UNARY("fcos"))
X87_OP(h_fxam, UNARY("fxam"))
X87_OP(h_fptan, SPLIT("fptan"))
X87_OP(h_fsincos, SPLIT("fsincos"))
X87_OP(h_fxtract, SPLIT("fxtract"))
X87_OP(h_fld1, CONSTANT("fld1"))
X87_OP(h_fldz, CONSTANT("fldz"))
X87_OP(h_fldpi, CONSTANT("fldpi"))
X87_OP(h_fldl2e, CONSTANT("fldl2e"))
X87_OP(h_fldln2, CONSTANT("fldln2"))
X87_OP(h_fldl2t, CONSTANT("fldl2t"))
X87_OP(h_fldlg2, CONSTANT("fldlg2"))
X87_OP(h_load_f32, LOAD("flds"))
X87_OP(h_load_f64, LOAD("fldl"))
X87_OP(h_load_i16, LOAD("filds"))
X87_OP(h_load_i32, LOAD("fildl"))
X87_OP(h_load_i64, LOAD("fildll"))
X87_OP(h_store_f32, STORE("fstps"))
X87_OP(h_store_f64, STORE("fstpl"))
X87_OP(h_store_i16, STORE("fistps"))
X87_OP(h_store_i32, STORE("fistpl"))
X87_OP(h_store_i64, STORE("fistpll"))
X87_OP(h_store_t16, STORE("fisttps"))
X87_OP(h_store_t32, STORE("fisttpl"))
X87_OP(h_store_t64, STORE("fisttpll"))

static const x87_host_fn x87_host_ops[X87H_COUNT] = {
    [X87H_FADD] = h_fadd,	    [X87H_FSUB] = h_fsub,	    [X87H_FMUL] = h_fmul,
    [X87H_FDIV] = h_fdiv,	    [X87H_FPREM] = h_fprem,	    [X87H_FPREM1] = h_fprem1,
    [X87H_FSCALE] = h_fscale,	    [X87H_FCOM] = h_fcom,	    [X87H_FUCOM] = h_fucom,
    [X87H_FYL2X] = h_fyl2x,	    [X87H_FYL2XP1] = h_fyl2xp1,	    [X87H_FPATAN] = h_fpatan,
    [X87H_FSQRT] = h_fsqrt,	    [X87H_FABS] = h_fabs,	    [X87H_FCHS] = h_fchs,
    [X87H_FRNDINT] = h_frndint,	    [X87H_F2XM1] = h_f2xm1,	    [X87H_FSIN] = h_fsin,
    [X87H_FCOS] = h_fcos,	    [X87H_FXAM] = h_fxam,	    [X87H_FPTAN] = h_fptan,
    [X87H_FSINCOS] = h_fsincos,	    [X87H_FXTRACT] = h_fxtract,	    [X87H_FLD1] = h_fld1,
    [X87H_FLDZ] = h_fldz,	    [X87H_FLDPI] = h_fldpi,	    [X87H_FLDL2E] = h_fldl2e,
    [X87H_FLDLN2] = h_fldln2,	    [X87H_FLDL2T] = h_fldl2t,	    [X87H_FLDLG2] = h_fldlg2,
    [X87H_LOAD_F32] = h_load_f32,   [X87H_LOAD_F64] = h_load_f64,   [X87H_LOAD_I16] = h_load_i16,
    [X87H_LOAD_I32] = h_load_i32,   [X87H_LOAD_I64] = h_load_i64,   [X87H_STORE_F32] = h_store_f32,
    [X87H_STORE_F64] = h_store_f64, [X87H_STORE_I16] = h_store_i16, [X87H_STORE_I32] = h_store_i32,
    [X87H_STORE_I64] = h_store_i64, [X87H_STORE_T16] = h_store_t16, [X87H_STORE_T32] = h_store_t32,
    [X87H_STORE_T64] = h_store_t64,
};

void x87_host(enum x87_host_op op, struct x87_io *io)
{
	uint16_t cw = io->cw;

	io->cw |= FSW_EXC; /* the guest's masks are applied by the caller, not by the host */
	x87_host_ops[op](io);
	io->cw = cw;
}
