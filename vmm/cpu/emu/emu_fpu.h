/* Internal interface of the software vCPU's floating-point families: x87, MMX, SSE and SSE2.
 *
 * The families split into two layers:
 *  - pure computation, with no access to a vCPU (emu_sse_host.c: floating point done by the
 *    host's own SSE and x87 instructions under the guest's MXCSR or control word;
 *    emu_sse_lanes.c: integer SIMD on lanes in plain C). The unit tests link only these.
 *  - instruction handlers (emu_sse.c moves and registration, emu_sse_int.c, emu_sse_fp.c,
 *    emu_x87.c, emu_fpu.c state), which fetch operands, check availability, call the
 *    computation and commit results and status.
 *
 * Register files live in struct emu_fpu (emu.h): st[] holds the physical x87 registers R0-R7
 * (ST(i) is R[(TOP + i) & 7]; MMX register n is R[n]), ftw the abridged tag (1 = valid). */
#ifndef VMM_CPU_EMU_EMU_FPU_H
#define VMM_CPU_EMU_EMU_FPU_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/cpu/emu/emu.h"

/* ---- MXCSR -------------------------------------------------------------------------------- */

#define MXCSR_IE	 0x0001u
#define MXCSR_DE	 0x0002u
#define MXCSR_ZE	 0x0004u
#define MXCSR_OE	 0x0008u
#define MXCSR_UE	 0x0010u
#define MXCSR_PE	 0x0020u
#define MXCSR_FLAGS	 0x003fu
#define MXCSR_DAZ	 0x0040u
#define MXCSR_MASKS	 0x1f80u
#define MXCSR_MASK_SHIFT 7
#define MXCSR_RESET	 0x1f80u
#define MXCSR_WRITABLE	 0xffffu /* our MXCSR_MASK: DAZ supported, bits 16-31 reserved */

/* ---- x87 status and control words --------------------------------------------------------- */

#define FSW_IE	      0x0001u
#define FSW_DE	      0x0002u
#define FSW_ZE	      0x0004u
#define FSW_OE	      0x0008u
#define FSW_UE	      0x0010u
#define FSW_PE	      0x0020u
#define FSW_SF	      0x0040u
#define FSW_ES	      0x0080u
#define FSW_C0	      0x0100u
#define FSW_C1	      0x0200u
#define FSW_C2	      0x0400u
#define FSW_TOP_SHIFT 11
#define FSW_TOP	      0x3800u
#define FSW_C3	      0x4000u
#define FSW_B	      0x8000u
#define FSW_EXC	      0x003fu /* the six exception flags, as in FCW's masks */
#define FSW_CC	      (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)
#define FCW_INIT      0x037fu

/* An 80-bit extended value as stored (little-endian: 64-bit significand, then sign+exponent). */
typedef struct {
	uint8_t b[10];
} f80;

/* ---- pure computation: the host's x87 (emu_sse_host.c) ------------------------------------ */

/* One x87 operation run on the host: inputs in[0] = ST(0), in[1] = ST(1) (or raw memory bytes
 * for the conversions), outputs out[0] = ST(0) after the operation (out[1] = ST(1) for the
 * operations that leave two values), sw = the host's status word after it (exception flags,
 * C0-C3). cw = the guest's control word; the host runs it with every exception masked. */
struct x87_io {
	f80 in[2], out[2];
	uint16_t cw, sw;
};
typedef void (*x87_host_fn)(struct x87_io *io);

/* Shapes: binary ops leave one result in out[0]; unary ones too; "split" ones (FPTAN,
 * FSINCOS, FXTRACT) leave ST(0) in out[0] and ST(1) in out[1]; constants have no input. */
enum x87_host_op {
	X87H_FADD,
	X87H_FSUB,
	X87H_FMUL,
	X87H_FDIV,
	X87H_FPREM,
	X87H_FPREM1,
	X87H_FSCALE,
	X87H_FCOM,
	X87H_FUCOM,
	X87H_FYL2X,
	X87H_FYL2XP1,
	X87H_FPATAN,
	X87H_FSQRT,
	X87H_FABS,
	X87H_FCHS,
	X87H_FRNDINT,
	X87H_F2XM1,
	X87H_FSIN,
	X87H_FCOS,
	X87H_FXAM,
	X87H_FPTAN,
	X87H_FSINCOS,
	X87H_FXTRACT,
	X87H_FLD1,
	X87H_FLDZ,
	X87H_FLDPI,
	X87H_FLDL2E,
	X87H_FLDLN2,
	X87H_FLDL2T,
	X87H_FLDLG2,
	/* conversions: in[0] raw memory bytes -> out[0] extended, or in[0] -> out[0] raw bytes */
	X87H_LOAD_F32,
	X87H_LOAD_F64,
	X87H_LOAD_I16,
	X87H_LOAD_I32,
	X87H_LOAD_I64,
	X87H_STORE_F32,
	X87H_STORE_F64,
	X87H_STORE_I16,
	X87H_STORE_I32,
	X87H_STORE_I64,
	X87H_STORE_T16,
	X87H_STORE_T32,
	X87H_STORE_T64, /* FISTTP: truncating */
	X87H_COUNT
};
void x87_host(enum x87_host_op op, struct x87_io *io);

extern const f80 x87_indefinite; /* the QNaN indefinite: - 1.1000...b * 2^16384 */

/* ---- pure computation: SSE floating point on the host (emu_sse_host.c) -------------------- */

/* Operands of one SSE floating-point operation: d = destination register (also the first
 * source), s = second source (memory operands zero-extended to 16 bytes), gpr = an integer
 * result (conversions to a general register; COMIS* return the RFLAGS bits ZF/PF/CF here),
 * imm = the immediate (compare predicate), int_size = the size of the general-register
 * operand of CVTSI2S* / CVTS*2SI (4 or 8). */
struct sse_fp_args {
	union emu_xmm d, s;
	uint64_t gpr;
	uint8_t imm, int_size;
};
typedef void (*sse_fp_fn)(struct sse_fp_args *a);

/* The op for a mnemonic (NULL if not one of the floating-point ops). */
sse_fp_fn sse_fp_op(unsigned mnemonic);
/* Runs fn under the guest's MXCSR (rounding, DAZ, FZ; all exceptions masked) and returns the
 * exception flags (MXCSR bits 0-5) the host raised. */
uint32_t sse_fp_run(uint32_t mxcsr, sse_fp_fn fn, struct sse_fp_args *a);

/* ---- pure computation: integer SIMD lanes (emu_sse_lanes.c) ------------------------------- */

/* d and s are registers of `bytes` (8 for MMX, 16 for XMM) holding lanes of `width` bytes. */
enum simd_lane_op {
	LANE_ADD,
	LANE_SUB,
	LANE_ADDS,
	LANE_ADDUS,
	LANE_SUBS,
	LANE_SUBUS,
	LANE_CMPEQ,
	LANE_CMPGT,
	LANE_MULLO,
	LANE_MULHI,
	LANE_MULHU,
	LANE_MULUDQ,
	LANE_MADD,
	LANE_SAD,
	LANE_AVG,
	LANE_MINU,
	LANE_MAXU,
	LANE_MINS,
	LANE_MAXS,
	LANE_AND,
	LANE_ANDN,
	LANE_OR,
	LANE_XOR,
};
void simd_lanes(union emu_xmm *d, const union emu_xmm *s, unsigned bytes, unsigned width,
		enum simd_lane_op op);

enum simd_shift { SHIFT_LEFT, SHIFT_RIGHT, SHIFT_ARITH };
/* Each lane shifted by count (counts past the lane width give 0, or the sign for ARITH). */
void simd_shift(union emu_xmm *d, unsigned bytes, unsigned width, enum simd_shift kind,
		uint64_t count);
/* The whole 128-bit register shifted by count bytes (PSLLDQ / PSRLDQ). */
void simd_shift_bytes(union emu_xmm *d, bool left, unsigned count);
/* Interleave the low (or high) halves of d and s lane by lane: d0 s0 d1 s1 ... */
void simd_unpack(union emu_xmm *d, const union emu_xmm *s, unsigned bytes, unsigned width,
		 bool high);
/* Narrow the lanes of d then s from `width` to width/2 bytes with saturation (signed input;
 * unsigned_sat saturates to the unsigned range, as PACKUSWB). */
void simd_pack(union emu_xmm *d, const union emu_xmm *s, unsigned bytes, unsigned width,
	       bool unsigned_sat);
/* Four lanes of `width` starting at byte `base` of s, chosen by the 2-bit fields of imm,
 * written to the same place in d (PSHUFD, PSHUFLW, PSHUFHW, PSHUFW). */
void simd_shuffle4(union emu_xmm *d, const union emu_xmm *s, unsigned base, unsigned width,
		   uint8_t imm);
/* SHUFPS / SHUFPD: the low half of the lanes chosen from d, the high half from s, by imm. */
void simd_shufp(union emu_xmm *d, const union emu_xmm *s, unsigned width, uint8_t imm);
/* The most significant bit of each lane, lane 0 in bit 0 (PMOVMSKB, MOVMSKPS/PD). */
uint32_t simd_msb_mask(const union emu_xmm *s, unsigned bytes, unsigned width);

/* ---- pure computation: state images (emu_sse_image.c) ------------------------------------ */

#define FXSAVE_SIZE 512
#define FXSAVE_USED 416 /* bytes 416-511 are reserved or for software: never written */

/* FXSAVE / FXRSTOR areas: rex_w selects the 64-bit FIP/FDP format; nxmm = 16 in 64-bit mode,
 * else 8 (the other XMM registers' slots are left alone). */
void fpu_fxsave_image(const struct emu_fpu *f, uint8_t img[FXSAVE_SIZE], bool rex_w, unsigned nxmm);
void fpu_fxrstor_image(struct emu_fpu *f, const uint8_t img[FXSAVE_SIZE], bool rex_w,
		       unsigned nxmm);
/* The full x87 tag word (2 bits per physical register: 0 valid, 1 zero, 2 special, 3 empty). */
uint16_t fpu_full_tag(const struct emu_fpu *f);
/* FNSTENV/FLDENV (14 or 28 bytes) and FNSAVE/FRSTOR (environment + 80 bytes) images in the
 * protected-mode format; op16 selects the 16-bit one. */
unsigned fpu_env_size(bool op16);
void fpu_env_image(const struct emu_fpu *f, uint8_t *env, bool op16);
void fpu_env_load(struct emu_fpu *f, const uint8_t *env, bool op16);
void fpu_save_image(const struct emu_fpu *f, uint8_t *img, bool op16);
void fpu_restore_image(struct emu_fpu *f, const uint8_t *img, bool op16);

/* ---- handler services (emu_sse.c, emu_fpu.c) ---------------------------------------------- */

/* Registration: table[mnemonic] = fn, and `desc` is what emu_fpu_desc(i) gives its handler. */
void emu_fpu_register(emu_handler_fn *table, unsigned mnemonic, emu_handler_fn fn,
		      const void *desc);
const void *emu_fpu_desc(const struct emu_insn *i);

void emu_sse_register_int(emu_handler_fn *table);
void emu_sse_register_fp(emu_handler_fn *table);
void emu_sse_register_state(emu_handler_fn *table); /* FXSAVE, MXCSR, EMMS, x87 control */

/* The handler of the SSE floating-point instructions (CMPSD comes through the string family's
 * CMPSD, see emu_sse_movsd_cmpsd). */
void emu_sse_fp_exec(struct emu_cpu *c, const struct emu_insn *i);
/* MOVSD / CMPSD share their mnemonics with the string instructions: the string family's handler
 * passes the SSE encodings (those with XMM operands) here. */
void emu_sse_movsd_cmpsd(struct emu_cpu *c, const struct emu_insn *i);

/* Availability (raise #UD / #NM / #MF as the hardware does): */
void emu_fpu_check_sse(struct emu_cpu *c);		 /* SSE state: EM, OSFXSR, TS */
void emu_fpu_check_x87(struct emu_cpu *c, bool waiting); /* EM/TS -> #NM; pending -> #MF */
void emu_fpu_check_simd(struct emu_cpu *c, const struct emu_insn *i); /* by operand classes */
bool emu_insn_has_mmx(const struct emu_insn *i);

/* After an MMX instruction: TOP = 0 and all tags valid. */
void emu_mmx_enter(struct emu_cpu *c);

/* SIMD operands: registers (XMM 16 bytes, MMX 8, GPR at its size), memory (its size; 16-byte
 * operands must be aligned unless the instruction is an unaligned move), immediates; the
 * value is zero-extended to 16 bytes. */
void emu_simd_read(struct emu_cpu *c, const struct emu_insn *i, unsigned n, union emu_xmm *v);
/* Writes a register operand whole (an MMX write also sets its exponent bits to ones), or
 * `size` bytes of a memory or general-register operand. */
void emu_simd_write(struct emu_cpu *c, const struct emu_insn *i, unsigned n, const union emu_xmm *v,
		    unsigned size);

/* Memory operand n at `size` bytes (16-byte operands of the aligned instructions #GP(0) when
 * misaligned); sizes 1, 2, 4, 8 are one access of that width. */
void emu_fpu_mem_read(struct emu_cpu *c, const struct emu_insn *i, unsigned n, void *out,
		      unsigned size);
void emu_fpu_mem_write(struct emu_cpu *c, const struct emu_insn *i, unsigned n, const void *in,
		       unsigned size);
/* #GP(0) unless seg:offset is 16-byte aligned (linear address). */
void emu_fpu_check_align(struct emu_cpu *c, unsigned seg, uint64_t offset, unsigned size);

/* Unmasked SIMD floating-point exception: #XM if CR4.OSXMMEXCPT, else #UD. */
_Noreturn void emu_raise_xm(struct emu_cpu *c);

/* x87 registers: */
static inline unsigned x87_top(const struct emu_cpu *c)
{
	return (c->fpu.fsw & FSW_TOP) >> FSW_TOP_SHIFT;
}
static inline unsigned x87_phys(const struct emu_cpu *c, unsigned i)
{
	return (x87_top(c) + i) & 7;
}
static inline bool x87_empty(const struct emu_cpu *c, unsigned i)
{
	return !(c->fpu.ftw & (1u << x87_phys(c, i)));
}
void x87_get(const struct emu_cpu *c, unsigned i, f80 *v);
void x87_set(struct emu_cpu *c, unsigned i, const f80 *v); /* and tags it valid */
void x87_set_top(struct emu_cpu *c, unsigned top);

#endif
