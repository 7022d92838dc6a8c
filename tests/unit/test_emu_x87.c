/* The software vCPU's x87 computation and state images checked against the host CPU, and whole
 * register-only x87, MMX and SSE instructions run through the handlers.
 *
 * x87 arithmetic runs on the host's own instructions behind the interpreter's control-word switch
 * (emu_sse_host.c), compared with long double; the FXSAVE and FNSTENV images the interpreter lays
 * out (emu_sse_image.c) are compared byte for byte with the host's for the same state. SIMD
 * lanes and SSE floating point: test_emu_sse.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/test_rng.h"
#include "vmm/cpu/emu/emu_fpu.h"
#include "vmm/cpu/emu/emu_internal.h"

/* ---- x87 ---------------------------------------------------------------------------------- */

static f80 ld(long double x)
{
	f80 v;
	memcpy(v.b, &x, 10);
	return v;
}

static long double val(const f80 *v)
{
	long double x = 0;
	memcpy(&x, v->b, 10);
	return x;
}

static long double rnd_ld(void)
{
	long double m = (long double)(int64_t)rnd() / 0x1p63L;
	return ldexpl(m, (int)(rnd() % 200) - 100);
}

static struct x87_io run2(enum x87_host_op op, long double a, long double b, uint16_t cw)
{
	struct x87_io io = {.in = {ld(a), ld(b)}, .cw = cw};
	x87_host(op, &io);
	return io;
}

Test(emu_x87, x87_arithmetic_matches_long_double)
{
	uint16_t cw_before, cw_after;
	__asm__ volatile("fnstcw %0" : "=m"(cw_before));
	for (int r = 0; r < ROUNDS; r++) {
		long double a = rnd_ld(), b = rnd_ld();
		struct x87_io io;
		io = run2(X87H_FADD, a, b, FCW_INIT);
		cr_assert(val(&io.out[0]) == a + b);
		io = run2(X87H_FSUB, a, b, FCW_INIT);
		cr_assert(val(&io.out[0]) == a - b, "ST(0) - ST(1)");
		io = run2(X87H_FMUL, a, b, FCW_INIT);
		cr_assert(val(&io.out[0]) == a * b);
		io = run2(X87H_FDIV, a, b, FCW_INIT);
		cr_assert(val(&io.out[0]) == a / b, "ST(0) / ST(1)");
		io = run2(X87H_FSQRT, fabsl(a), 0, FCW_INIT);
		cr_assert(val(&io.out[0]) == sqrtl(fabsl(a)));
	}
	__asm__ volatile("fnstcw %0" : "=m"(cw_after));
	cr_assert_eq(cw_after, cw_before, "the host's control word is restored");
}

Test(emu_x87, x87_control_word_and_status)
{
	/* precision control: single precision rounds 1/3 as a float would */
	struct x87_io io = run2(X87H_FDIV, 1.0L, 3.0L, FCW_INIT & ~0x300);
	cr_assert(val(&io.out[0]) == (long double)(1.0f / 3.0f));
	cr_assert(io.sw & FSW_PE);
	/* rounding control: down and up differ by one ulp */
	long double down = val(&run2(X87H_FDIV, 1.0L, 3.0L, FCW_INIT | 0x400).out[0]);
	long double up = val(&run2(X87H_FDIV, 1.0L, 3.0L, FCW_INIT | 0x800).out[0]);
	cr_assert(up == nextafterl(down, 1.0L));
	/* the rounding-up indicator C1 */
	io = run2(X87H_FDIV, 1.0L, 3.0L, FCW_INIT | 0x800);
	cr_assert(io.sw & FSW_C1);
	/* divide by zero, with the guest's mask clear: the host still runs masked */
	io = run2(X87H_FDIV, 1.0L, 0.0L, FCW_INIT & ~FSW_ZE);
	cr_assert(io.sw & FSW_ZE);
	cr_assert(isinf(val(&io.out[0])));

	/* compares: C3 C2 C0 */
	cr_assert_eq(run2(X87H_FCOM, 1, 2, FCW_INIT).sw & (FSW_C3 | FSW_C2 | FSW_C0), FSW_C0);
	cr_assert_eq(run2(X87H_FCOM, 2, 1, FCW_INIT).sw & (FSW_C3 | FSW_C2 | FSW_C0), 0);
	cr_assert_eq(run2(X87H_FCOM, 2, 2, FCW_INIT).sw & (FSW_C3 | FSW_C2 | FSW_C0), FSW_C3);
	io = run2(X87H_FCOM, NAN, 2, FCW_INIT);
	cr_assert_eq(io.sw & (FSW_C3 | FSW_C2 | FSW_C0 | FSW_IE),
		     FSW_C3 | FSW_C2 | FSW_C0 | FSW_IE);
	io = run2(X87H_FUCOM, NAN, 2, FCW_INIT);
	cr_assert_eq(io.sw & (FSW_C3 | FSW_C2 | FSW_C0 | FSW_IE), FSW_C3 | FSW_C2 | FSW_C0);
	/* the masked response to an invalid operation on the indefinite input */
	struct x87_io ind = {.in = {x87_indefinite, ld(1)}, .cw = FCW_INIT};
	x87_host(X87H_FADD, &ind);
	cr_assert(memcmp(&ind.out[0], &x87_indefinite, 10) == 0);
}

Test(emu_x87, x87_transcendentals_and_conversions)
{
	struct x87_io io = run2(X87H_FPTAN, 0.5L, 0, FCW_INIT);
	cr_assert(val(&io.out[0]) == 1.0L, "FPTAN pushes 1.0");
	cr_assert(fabsl(val(&io.out[1]) - tanl(0.5L)) < 1e-18L);
	io = run2(X87H_FSINCOS, 0.5L, 0, FCW_INIT);
	cr_assert(fabsl(val(&io.out[0]) - cosl(0.5L)) < 1e-18L, "ST(0) = cos");
	cr_assert(fabsl(val(&io.out[1]) - sinl(0.5L)) < 1e-18L, "ST(1) = sin");
	io = run2(X87H_FXTRACT, 48.0L, 0, FCW_INIT);
	cr_assert(val(&io.out[0]) == 1.5L && val(&io.out[1]) == 5.0L);
	io = run2(X87H_FYL2X, 8.0L, 3.0L, FCW_INIT);
	cr_assert(val(&io.out[0]) == 9.0L, "ST(1) * log2(ST(0))");
	io = run2(X87H_FPATAN, 1.0L, 1.0L, FCW_INIT);
	cr_assert(fabsl(val(&io.out[0]) - atanl(1.0L)) < 1e-18L);
	io = run2(X87H_FSCALE, 3.0L, 4.0L, FCW_INIT);
	cr_assert(val(&io.out[0]) == 48.0L);
	io = run2(X87H_FPREM, 10.0L, 3.0L, FCW_INIT);
	cr_assert(val(&io.out[0]) == 1.0L);
	io = (struct x87_io){.cw = FCW_INIT};
	x87_host(X87H_FLDPI, &io);
	cr_assert(val(&io.out[0]) == 3.14159265358979323851L);

	/* loads and stores through memory formats */
	double d = 0.1;
	io = (struct x87_io){.cw = FCW_INIT};
	memcpy(io.in[0].b, &d, 8);
	x87_host(X87H_LOAD_F64, &io);
	cr_assert(val(&io.out[0]) == (long double)0.1);
	int16_t i16 = -1234;
	memcpy(io.in[0].b, &i16, 2);
	x87_host(X87H_LOAD_I16, &io);
	cr_assert(val(&io.out[0]) == -1234.0L);
	io.in[0] = ld(-2.5L);
	x87_host(X87H_STORE_I32, &io);
	int32_t i32;
	memcpy(&i32, io.out[0].b, 4);
	cr_assert_eq(i32, -2, "round to even");
	x87_host(X87H_STORE_T64, &io);
	int64_t i64;
	memcpy(&i64, io.out[0].b, 8);
	cr_assert_eq(i64, -2, "FISTTP truncates");
	io.in[0] = ld(1e10L);
	x87_host(X87H_STORE_I16, &io);
	memcpy(&i16, io.out[0].b, 2);
	cr_assert(i16 == INT16_MIN && (io.sw & FSW_IE), "the integer indefinite");
	io.in[0] = ld(0.1L);
	x87_host(X87H_STORE_F32, &io);
	float f;
	memcpy(&f, io.out[0].b, 4);
	cr_assert(f == 0.1f && (io.sw & FSW_PE));
}

/* ---- FXSAVE / FNSTENV images -------------------------------------------------------------- */

/* Host state: TOP = 4 after four pushes (1, pi, 0, a denormal), a chosen MXCSR and XMM. */
static void host_fill_state(void)
{
	static const uint8_t denormal[10] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	uint32_t csr = 0x3f80 | MXCSR_PE;
	__asm__ volatile("fninit\n\tfld1\n\tfldpi\n\tfldz\n\tfldt %0\n\tldmxcsr %1"
			 :
			 : "m"(denormal), "m"(csr)
			 : "st", "st(1)", "st(2)", "st(3)", "memory");
	__asm__ volatile("pcmpeqb %%xmm7, %%xmm7" ::: "xmm7");
}

static void host_clear_state(void)
{
	uint32_t csr = MXCSR_RESET;
	__asm__ volatile("fninit\n\tldmxcsr %0" : : "m"(csr));
}

Test(emu_x87, fxsave_image_matches_host)
{
	uint8_t host[512] __attribute__((aligned(16))), ours[512];
	struct emu_fpu f;

	memset(host, 0xa5, sizeof(host));
	host_fill_state();
	__asm__ volatile("fxsave64 %0" : "=m"(host));
	host_clear_state();

	memset(&f, 0, sizeof(f));
	fpu_fxrstor_image(&f, host, true, 16);
	cr_assert_eq((f.fsw & FSW_TOP) >> FSW_TOP_SHIFT, 4);
	cr_assert_eq(f.ftw, 0xf0, "physical registers 4-7 valid");
	cr_assert(f.st[4][0] == 1 && f.st[5][9] == 0, "ST(0) = R4 holds the denormal");
	cr_assert(memcmp(f.st[7], (long double[]){1.0L}, 10) == 0, "ST(3) = R7 = 1.0");
	cr_assert_eq(f.mxcsr, 0x3f80 | MXCSR_PE);
	cr_assert_eq(f.xmm[7].q[0], UINT64_MAX);
	/* R0-R3 empty (3), R4 the denormal special (2), R5 zero (1), R6 and R7 valid (0) */
	cr_assert_eq(fpu_full_tag(&f), 0x06ff);

	memset(ours, 0xa5, sizeof(ours));
	fpu_fxsave_image(&f, ours, true, 16);
	/* FOP, FIP, FDP (6-23) are the host's; MXCSR_MASK (28) is ours: 0xffff */
	cr_assert(memcmp(ours, host, 6) == 0);
	cr_assert(memcmp(ours + 24, host + 24, 4) == 0);
	cr_assert_eq(ours[28] | ours[29] << 8, 0xffff);
	cr_assert(memcmp(ours + 32, host + 32, FXSAVE_USED - 32) == 0);
	cr_assert_eq(ours[FXSAVE_USED], 0xa5, "the reserved tail is not written");
}

Test(emu_x87, fnstenv_image_matches_host)
{
	uint8_t host[28], ours[28];
	uint8_t fx[512] __attribute__((aligned(16)));
	struct emu_fpu f;

	host_fill_state();
	__asm__ volatile("fxsave64 %0" : "=m"(fx));
	__asm__ volatile("fnstenv %0" : "=m"(host));
	host_clear_state();

	memset(&f, 0, sizeof(f));
	fpu_fxrstor_image(&f, fx, true, 16);
	fpu_env_image(&f, ours, false);
	/* FCW, FSW, FTW with their reserved upper halves; the pointers are the host's. */
	cr_assert(memcmp(ours, host, 12) == 0, "ours %08x %08x %08x host %08x %08x %08x",
		  *(uint32_t *)ours, *(uint32_t *)(ours + 4), *(uint32_t *)(ours + 8),
		  *(uint32_t *)host, *(uint32_t *)(host + 4), *(uint32_t *)(host + 8));

	/* loading the environment back keeps empty / not empty and the words */
	struct emu_fpu g;
	memset(&g, 0, sizeof(g));
	fpu_env_load(&g, ours, false);
	cr_assert(g.fcw == f.fcw && g.fsw == f.fsw && g.ftw == f.ftw);
	uint8_t env16[14];
	fpu_env_image(&f, env16, true);
	memset(&g, 0, sizeof(g));
	fpu_env_load(&g, env16, true);
	cr_assert(g.fcw == f.fcw && g.fsw == f.fsw && g.ftw == f.ftw);
}

/* ---- whole register-only instructions through the handlers -------------------------------- */

static struct emu_accel accel;
static struct emu_cpu cpu;

static void cpu_setup(void)
{
	cr_assert_eq(emu_decoders_init(&accel), 0);
	emu_register_sse(accel.handlers);
	emu_register_x87(accel.handlers);
	memset(&cpu, 0, sizeof(cpu));
	cpu.accel = &accel;
	cpu.mode = EMU_MODE_64;
	cpu.cr0 = CR0_PE | CR0_PG | CR0_NE | CR0_MP | CR0_ET;
	cpu.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	cpu.rflags = RFLAGS_FIXED;
	cpu.fpu.fcw = FCW_INIT;
	cpu.fpu.mxcsr = MXCSR_RESET;
}

/* Runs one instruction given as bytes; returns the exception vector, or -1. */
static int run(const char *hex)
{
	uint8_t bytes[16];
	unsigned n = 0;
	struct emu_insn insn;

	for (const char *p = hex; *p;) {
		unsigned v;
		if (sscanf(p, "%2x", &v) != 1)
			break;
		bytes[n++] = (uint8_t)v;
		p += 2;
		while (*p == ' ')
			p++;
	}
	cr_assert_eq(emu_decode_bytes(&accel, EMU_MODE_64, bytes, n, &insn), 0, "%s", hex);
	cr_assert(insn.fn != emu_unimplemented, "%s is implemented", hex);
	if (setjmp(cpu.fault_jmp))
		return cpu.fault_vector;
	insn.fn(&cpu, &insn);
	return -1;
}

static long double st(unsigned i)
{
	f80 v;
	x87_get(&cpu, i, &v);
	return val(&v);
}

Test(emu_sse_insn, x87_stack, .init = cpu_setup)
{
	cr_assert_eq(run("d9 e8"), -1); /* fld1 */
	cr_assert_eq(run("d9 eb"), -1); /* fldpi */
	cr_assert_eq(x87_top(&cpu), 6);
	cr_assert_eq(cpu.fpu.ftw, 0xc0);
	cr_assert_eq(run("de e9"), -1); /* fsubp st(1), st: ST(1) - ST(0), pop */
	cr_assert(st(0) == 1.0L - 3.14159265358979323851L);
	cr_assert_eq(x87_top(&cpu), 7);
	cr_assert_eq(cpu.fpu.ftw, 0x80);
	cr_assert_eq(run("d9 e8"), -1); /* fld1 */
	cr_assert_eq(run("dc e9"), -1); /* fsub st(1), st: ST(1) = ST(1) - ST(0) */
	cr_assert(st(1) == -3.14159265358979323851L && st(0) == 1.0L);
	cr_assert_eq(run("d9 c9"), -1); /* fxch */
	cr_assert(st(0) == -3.14159265358979323851L && st(1) == 1.0L);
	cr_assert_eq(run("db f1"), -1); /* fcomi st, st(1): less -> CF */
	cr_assert_eq(cpu.rflags & RFLAGS_ARITH, RFLAGS_CF);
	cr_assert_eq(run("d9 e1"), -1); /* fabs */
	cr_assert_eq(run("d9 fa"), -1); /* fsqrt */
	cr_assert(st(0) == sqrtl(3.14159265358979323851L));
	cr_assert_eq(cpu.fpu.fsw & FSW_EXC, FSW_PE);
	cr_assert_eq(run("de d9"), -1); /* fcompp */
	cr_assert_eq(cpu.fpu.ftw, 0);
	cr_assert_eq(x87_top(&cpu), 0);
}

Test(emu_sse_insn, x87_stack_faults, .init = cpu_setup)
{
	/* underflow, masked: IE and SF, C1 = 0, the indefinite in the destination */
	cr_assert_eq(run("d8 c1"), -1); /* fadd st, st(1) on an empty stack */
	cr_assert_eq(cpu.fpu.fsw & (FSW_IE | FSW_SF | FSW_C1 | FSW_ES), FSW_IE | FSW_SF);
	f80 v;
	x87_get(&cpu, 0, &v);
	cr_assert(memcmp(&v, &x87_indefinite, 10) == 0);
	/* overflow: the ninth push */
	cr_assert_eq(run("db e3"), -1); /* fninit */
	for (int k = 0; k < 8; k++)
		cr_assert_eq(run("d9 ee"), -1); /* fldz */
	cr_assert_eq(cpu.fpu.fsw & FSW_EXC, 0);
	cr_assert_eq(run("d9 e8"), -1);
	cr_assert_eq(cpu.fpu.fsw & (FSW_IE | FSW_SF | FSW_C1), FSW_IE | FSW_SF | FSW_C1);
	x87_get(&cpu, 0, &v);
	cr_assert(memcmp(&v, &x87_indefinite, 10) == 0);
	/* unmasked divide by zero: no result, ES; the next waiting instruction is #MF */
	cr_assert_eq(run("db e3"), -1);
	cpu.fpu.fcw = FCW_INIT & ~FSW_ZE;
	cr_assert_eq(run("d9 ee"), -1); /* fldz */
	cr_assert_eq(run("d9 e8"), -1); /* fld1 */
	cr_assert_eq(run("de f9"), -1); /* fdivp: ST(1) = ST(1) / ST(0) = 0 / 1 */
	cr_assert_eq(run("d9 ee"), -1);
	cr_assert_eq(run("de f1"), -1); /* fdivrp: ST(1) = ST(0) / ST(1) = 0 / 0: invalid */
	cr_assert_eq(cpu.fpu.fsw & (FSW_IE | FSW_ES), FSW_IE);
	cr_assert_eq(run("d9 e8"), -1);
	cr_assert_eq(run("d9 ee"), -1);
	cr_assert_eq(run("de f9"), -1); /* 1 / 0, ZE unmasked */
	cr_assert(cpu.fpu.fsw & FSW_ES);
	cr_assert(st(0) == 0.0L && st(1) == 1.0L, "no result, no pop");
	cr_assert_eq(run("d9 e8"), EMU_MF);
	cr_assert_eq(run("db e2"), -1); /* fnclex: no wait */
	cr_assert_eq(run("d9 e8"), -1);
	/* availability */
	cpu.cr0 |= CR0_TS;
	cr_assert_eq(run("d9 e8"), EMU_NM);
	cr_assert_eq(run("0f 58 c1"), EMU_NM); /* addps */
	cpu.cr0 = (cpu.cr0 & ~CR0_TS) | CR0_EM;
	cr_assert_eq(run("0f 58 c1"), EMU_UD);
	cr_assert_eq(run("0f fc c1"), EMU_UD); /* paddb mm0, mm1 */
	cr_assert_eq(run("d9 e8"), EMU_NM);
}

Test(emu_sse_insn, mmx_and_sse, .init = cpu_setup)
{
	cr_assert_eq(run("d9 e8"), -1);	   /* fld1: TOP = 7 */
	cr_assert_eq(run("0f 76 c9"), -1); /* pcmpeqd mm1, mm1 */
	cr_assert_eq(run("0f ef c0"), -1); /* pxor mm0, mm0 */
	cr_assert_eq(run("0f f8 c1"), -1); /* psubb mm0, mm1: 0 - (-1) = 1 */
	cr_assert_eq(memcmp(cpu.fpu.st[0], "\1\1\1\1\1\1\1\1\xff\xff", 10), 0);
	cr_assert_eq(x87_top(&cpu), 0);
	cr_assert_eq(cpu.fpu.ftw, 0xff);
	cr_assert_eq(run("0f 77"), -1); /* emms */
	cr_assert_eq(cpu.fpu.ftw, 0);

	cpu.fpu.xmm[1].f[0] = 2.0f;
	cpu.fpu.xmm[1].f[1] = 9.0f;
	cpu.fpu.xmm[0].f[1] = 5.0f;
	cr_assert_eq(run("f3 0f 10 c1"), -1); /* movss xmm0, xmm1: merges */
	cr_assert(cpu.fpu.xmm[0].f[0] == 2.0f && cpu.fpu.xmm[0].f[1] == 5.0f);
	cr_assert_eq(run("66 0f 70 c1 1b"), -1); /* pshufd xmm0, xmm1, 0x1b */
	cr_assert(cpu.fpu.xmm[0].f[3] == 2.0f && cpu.fpu.xmm[0].f[2] == 9.0f);
	cpu.gpr[EMU_RAX] = (uint64_t)-7;
	cr_assert_eq(run("f2 48 0f 2a c0"), -1); /* cvtsi2sd xmm0, rax */
	cr_assert(cpu.fpu.xmm[0].df[0] == -7.0);
	cr_assert_eq(run("66 0f d7 c0"), -1); /* pmovmskb eax, xmm0 */
	cr_assert_eq(cpu.gpr[EMU_RAX], 0x80); /* the sign of -7.0 */
	cr_assert_eq(run("66 0f 7e c0"), -1); /* movd eax, xmm0 */
	cr_assert_eq(cpu.gpr[EMU_RAX], 0);
	cr_assert_eq(run("0f 2f c1"), -1); /* comiss xmm0, xmm1: 0 < 2 */
	cr_assert_eq(cpu.rflags & RFLAGS_ARITH, RFLAGS_CF);

	/* unmasked divide by zero: #XM, the flag set, the destination unchanged */
	cpu.fpu.mxcsr = MXCSR_RESET & ~(MXCSR_ZE << MXCSR_MASK_SHIFT);
	cpu.fpu.xmm[2].f[0] = 0.0f;
	union emu_xmm before = cpu.fpu.xmm[1];
	cr_assert_eq(run("f3 0f 5e ca"), EMU_XM); /* divss xmm1, xmm2 */
	cr_assert(cpu.fpu.mxcsr & MXCSR_ZE);
	cr_assert(memcmp(&cpu.fpu.xmm[1], &before, 16) == 0);
	cpu.cr4 &= ~CR4_OSXMMEXCPT;
	cr_assert_eq(run("f3 0f 5e ca"), EMU_UD);
	cpu.cr4 &= ~CR4_OSFXSR;
	cr_assert_eq(run("0f 28 c1"), EMU_UD); /* movaps */
	cr_assert_eq(run("0f 6f c1"), -1, "MMX needs no OSFXSR");
}
