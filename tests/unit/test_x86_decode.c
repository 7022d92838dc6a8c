/* Unit tests for the emulation assist's x86-64 decoding (Zydis, mapped to struct x86_insn): byte
 * sequences the Linux kernel really contains (from Debian's 6.1 vmlinux), each emulated
 * instruction with its operand forms and prefixes, Zydis quirks the mapping corrects, and
 * refusals. */
#include <criterion/criterion.h>
#include <string.h>

#include "vmm/cpu/kvm/x86_decode.h"

static struct x86_insn decode_ok(const uint8_t *code, size_t len)
{
	struct x86_insn insn;
	char err[128] = "";
	cr_assert_eq(x86_decode(code, len, &insn, err, sizeof(err)), 0, "%s", err);
	return insn;
}

static void decode_refused(const uint8_t *code, size_t len, const char *expected_message)
{
	struct x86_insn insn;
	char err[128] = "";
	cr_assert_eq(x86_decode(code, len, &insn, err, sizeof(err)), -1);
	cr_assert(strstr(err, expected_message), "message was '%s'", err);
}

#define DECODE_OK(...)                                                                             \
	({                                                                                         \
		static const uint8_t code_[] = {__VA_ARGS__};                                      \
		decode_ok(code_, sizeof(code_));                                                   \
	})

Test(x86_decode, one_byte_instructions)
{
	struct x86_insn insn = DECODE_OK(0xcc, 0x90);
	cr_assert_eq(insn.op, X86_OP_INT3);
	cr_assert_eq(insn.len, 1);
	insn = DECODE_OK(0x9b);
	cr_assert_eq(insn.op, X86_OP_FWAIT);
	cr_assert_eq(insn.len, 1);
}

Test(x86_decode, clac_and_stac)
{
	struct x86_insn insn = DECODE_OK(0x0f, 0x01, 0xca);
	cr_assert_eq(insn.op, X86_OP_CLAC);
	cr_assert_eq(insn.len, 3);
	insn = DECODE_OK(0x0f, 0x01, 0xcb);
	cr_assert_eq(insn.op, X86_OP_STAC);
	decode_refused((const uint8_t[]){0x0f, 0x01, 0xcc}, 3, "not a valid instruction: 0f 01 cc");
	/* clac takes no 66 prefix */
	decode_refused((const uint8_t[]){0x66, 0x0f, 0x01, 0xca}, 4, "not a valid instruction");
}

Test(x86_decode, ldmxcsr_with_disp8)
{
	/* ldmxcsr 0x4(%rsp): ModRM 0x54 = mod 1, reg 2, rm 4 (SIB), SIB 0x24 = base rsp, no index
	 */
	struct x86_insn insn = DECODE_OK(0x0f, 0xae, 0x54, 0x24, 0x04);
	cr_assert_eq(insn.op, X86_OP_LDMXCSR);
	cr_assert_eq(insn.len, 5);
	cr_assert(insn.rm_is_mem);
	cr_assert_eq(insn.mem.base, 4);
	cr_assert_eq(insn.mem.index, X86_REG_NONE);
	cr_assert_eq(insn.mem.disp, 4);
}

Test(x86_decode, stmxcsr_needs_a_memory_operand)
{
	struct x86_insn insn = DECODE_OK(0x0f, 0xae, 0x5d, 0xf8); /* stmxcsr -0x8(%rbp) */
	cr_assert_eq(insn.op, X86_OP_STMXCSR);
	cr_assert_eq(insn.mem.base, 5);
	cr_assert_eq(insn.mem.disp, -8);
	/* 0f ae /3 with mod 3 is not stmxcsr, and 0f ae /0 (fxsave) is not supported */
	decode_refused((const uint8_t[]){0x0f, 0xae, 0xdd}, 3, "not a valid instruction");
	decode_refused((const uint8_t[]){0x0f, 0xae, 0x00}, 3,
		       "not an instruction vsmp-vmm emulates: 0f ae 00 (fxsave (%rax))");
}

Test(x86_decode, movd_from_general_register_with_rex_r)
{
	/* movd %ecx, %xmm15: the instruction the probe stopped on */
	struct x86_insn insn = DECODE_OK(0x66, 0x44, 0x0f, 0x6e, 0xf9);
	cr_assert_eq(insn.op, X86_OP_MOVD_TO_XMM);
	cr_assert_eq(insn.len, 5);
	cr_assert_not(insn.rex_w);
	cr_assert_eq(insn.reg, 15);
	cr_assert_not(insn.rm_is_mem);
	cr_assert_eq(insn.rm, 1);
}

Test(x86_decode, movq_to_general_register_with_rex_w_and_b)
{
	/* movq %xmm0, %r9 */
	struct x86_insn insn = DECODE_OK(0x66, 0x49, 0x0f, 0x7e, 0xc1);
	cr_assert_eq(insn.op, X86_OP_MOVD_FROM_XMM);
	cr_assert(insn.rex_w);
	cr_assert_eq(insn.reg, 0);
	cr_assert_eq(insn.rm, 9);
}

Test(x86_decode, sib_with_index_and_scale)
{
	/* movd (%rsi,%rax,4),%xmm4 */
	struct x86_insn insn = DECODE_OK(0x66, 0x0f, 0x6e, 0x24, 0x86);
	cr_assert_eq(insn.op, X86_OP_MOVD_TO_XMM);
	cr_assert_eq(insn.reg, 4);
	cr_assert_eq(insn.mem.base, 6);
	cr_assert_eq(insn.mem.index, 0);
	cr_assert_eq(insn.mem.scale, 4);
	uint64_t gpr[16] = {[0] = 3, [6] = 0x1000};
	cr_assert_eq(x86_mem_address(&insn, gpr, 0, 0), 0x100c);
}

Test(x86_decode, sib_with_rex_x_and_no_base)
{
	/* movdqu 0x10(,%r10,8),%xmm1: SIB base 5 with mod 0 means disp32 and no base */
	struct x86_insn insn = DECODE_OK(0xf3, 0x42, 0x0f, 0x6f, 0x0c, 0xd5, 0x10, 0, 0, 0);
	cr_assert_eq(insn.op, X86_OP_MOV128_LOAD);
	cr_assert_eq(insn.len, 10);
	cr_assert_eq(insn.mem.base, X86_REG_NONE);
	cr_assert_eq(insn.mem.index, 10);
	cr_assert_eq(insn.mem.scale, 8);
	uint64_t gpr[16] = {[10] = 2};
	cr_assert_eq(x86_mem_address(&insn, gpr, 0, 0), 0x20);
}

Test(x86_decode, rip_relative)
{
	/* movdqa 0x12b4aa5(%rip),%xmm12 at 0xffffffff81094912, 9 bytes long */
	struct x86_insn insn = DECODE_OK(0x66, 0x44, 0x0f, 0x6f, 0x25, 0xa5, 0x4a, 0x2b, 0x01);
	cr_assert_eq(insn.op, X86_OP_MOV128_LOAD);
	cr_assert(insn.aligned);
	cr_assert_eq(insn.len, 9);
	cr_assert_eq(insn.reg, 12);
	cr_assert_eq(insn.mem.base, X86_REG_RIP);
	uint64_t gpr[16] = {0};
	cr_assert_eq(x86_mem_address(&insn, gpr, 0xffffffff81094912ull + insn.len, 0),
		     0xffffffff823493c0ull);
}

Test(x86_decode, negative_displacement_wraps)
{
	/* movups %xmm2,-0x20(%rax) */
	struct x86_insn insn = DECODE_OK(0x0f, 0x11, 0x50, 0xe0);
	cr_assert_eq(insn.op, X86_OP_MOV128_STORE);
	cr_assert_not(insn.aligned);
	cr_assert_eq(insn.reg, 2);
	uint64_t gpr[16] = {[0] = 0x10};
	cr_assert_eq(x86_mem_address(&insn, gpr, 0, 0), 0xfffffffffffffff0ull);
}

Test(x86_decode, gs_override_and_addr32)
{
	/* movq %gs:0x28(%eax),%xmm3 with an address-size prefix */
	struct x86_insn insn = DECODE_OK(0x65, 0x67, 0xf3, 0x0f, 0x7e, 0x58, 0x28);
	cr_assert_eq(insn.op, X86_OP_MOVQ_LOAD);
	cr_assert_eq(insn.mem.seg, X86_SEG_GS);
	cr_assert(insn.mem.addr32);
	uint64_t gpr[16] = {[0] = 0x1ffffffe0ull};
	cr_assert_eq(x86_mem_address(&insn, gpr, 0, 0x5000), 0x5008);
}

Test(x86_decode, mandatory_prefix_selects_the_instruction)
{
	/* 66 0f 7e is movd from xmm, f3 0f 7e is movq to xmm; f3 wins over 66 */
	cr_assert_eq(DECODE_OK(0x66, 0x0f, 0x7e, 0xc0).op, X86_OP_MOVD_FROM_XMM);
	cr_assert_eq(DECODE_OK(0xf3, 0x0f, 0x7e, 0xc0).op, X86_OP_MOVQ_LOAD);
	cr_assert_eq(DECODE_OK(0x66, 0xf3, 0x0f, 0x7e, 0xc0).op, X86_OP_MOVQ_LOAD);
	cr_assert_eq(DECODE_OK(0x66, 0x0f, 0xd6, 0xc1).op, X86_OP_MOVQ_STORE);
	cr_assert_eq(DECODE_OK(0x66, 0x0f, 0xef, 0xc0).op, X86_OP_XOR128);
	cr_assert_eq(DECODE_OK(0x0f, 0x57, 0xc0).op, X86_OP_XOR128);
	/* 0f 6e without 66 is the MMX form, and f2 0f 6f does not exist */
	decode_refused((const uint8_t[]){0x0f, 0x6e, 0xc0}, 3,
		       "not an instruction vsmp-vmm emulates: 0f 6e c0 (movd %eax, %mm0)");
	decode_refused((const uint8_t[]){0xf2, 0x0f, 0x6f, 0xc0}, 4, "not a valid instruction");
}

Test(x86_decode, rex_must_precede_the_opcode)
{
	/* A REX byte followed by a legacy prefix is ignored: this is movd %eax,%xmm0 */
	struct x86_insn insn = DECODE_OK(0x4c, 0x66, 0x0f, 0x6e, 0xc0);
	cr_assert_eq(insn.reg, 0);
	cr_assert_not(insn.rex_w);
}

Test(x86_decode, null_segment_prefix_does_not_cancel_fs_or_gs)
{
	/* 64-bit mode ignores cs/ds/es/ss overrides, so a later one leaves gs in force (the
	 * hand-written decoder let it reset the segment) */
	cr_assert_eq(DECODE_OK(0x65, 0x2e, 0x0f, 0x10, 0x00).mem.seg, X86_SEG_GS);
	cr_assert_eq(DECODE_OK(0x2e, 0x65, 0x0f, 0x10, 0x00).mem.seg, X86_SEG_GS);
	/* stmxcsr %fs:(%rax) */
	struct x86_insn insn = DECODE_OK(0x64, 0x0f, 0xae, 0x18);
	cr_assert_eq(insn.op, X86_OP_STMXCSR);
	cr_assert_eq(insn.mem.seg, X86_SEG_FS);
	cr_assert_eq(DECODE_OK(0x3e, 0x0f, 0xae, 0x18).mem.seg, X86_SEG_DEFAULT);
}

Test(x86_decode, last_rex_counts)
{
	/* movaps %xmm1,%xmm0: only the REX byte next to the opcode counts */
	struct x86_insn insn = DECODE_OK(0x41, 0x48, 0x0f, 0x28, 0xc1);
	cr_assert(insn.rex_w);
	cr_assert_eq(insn.rm, 1);
	insn = DECODE_OK(0x48, 0x41, 0x0f, 0x28, 0xc1);
	cr_assert_not(insn.rex_w);
	cr_assert_eq(insn.rm, 9);
}

Test(x86_decode, sib_without_base_with_addr32_and_rex_b)
{
	/* movups 0x10(,%eiz),%xmm0 with REX.B: mod 0 and SIB base 101b mean disp32 and no base,
	 * whatever REX.B says (Zydis 4.0 reports r13d and no displacement here) */
	struct x86_insn insn = DECODE_OK(0x67, 0x41, 0x0f, 0x10, 0x04, 0x25, 0x10, 0, 0, 0);
	cr_assert_eq(insn.op, X86_OP_MOV128_LOAD);
	cr_assert_eq(insn.len, 10);
	cr_assert(insn.mem.addr32);
	cr_assert_eq(insn.mem.base, X86_REG_NONE);
	cr_assert_eq(insn.mem.index, X86_REG_NONE);
	cr_assert_eq(insn.mem.disp, 0x10);
	uint64_t gpr[16] = {[13] = 0x1000};
	cr_assert_eq(x86_mem_address(&insn, gpr, 0, 0), 0x10);
	/* without 67 the same */
	insn = DECODE_OK(0x41, 0x0f, 0x10, 0x04, 0x25, 0x10, 0, 0, 0);
	cr_assert_eq(insn.mem.base, X86_REG_NONE);
	cr_assert_eq(insn.mem.disp, 0x10);
	/* with mod 1 SIB base 101b is r13 (ldmxcsr 0x8(%r13d)), and so is ModRM.rm 101b */
	insn = DECODE_OK(0x67, 0x41, 0x0f, 0xae, 0x54, 0x25, 0x08);
	cr_assert_eq(insn.op, X86_OP_LDMXCSR);
	cr_assert_eq(insn.mem.base, 13);
	cr_assert_eq(insn.mem.disp, 8);
	cr_assert_eq(DECODE_OK(0x41, 0x0f, 0x10, 0x45, 0x00).mem.base, 13);
}

Test(x86_decode, eip_relative)
{
	/* movups -0x10(%eip),%xmm0 */
	struct x86_insn insn = DECODE_OK(0x67, 0x0f, 0x10, 0x05, 0xf0, 0xff, 0xff, 0xff);
	cr_assert_eq(insn.len, 8);
	cr_assert_eq(insn.mem.base, X86_REG_RIP);
	cr_assert(insn.mem.addr32);
	uint64_t gpr[16] = {0};
	cr_assert_eq(x86_mem_address(&insn, gpr, 0x100000008ull, 0), 0xfffffff8ull);
}

Test(x86_decode, each_128_bit_instruction_and_its_alignment)
{
	static const struct {
		uint8_t code[4];
		size_t len;
		enum x86_op op;
		bool aligned;
	} cases[] = {
	    {{0x66, 0x0f, 0x6f, 0x00}, 4, X86_OP_MOV128_LOAD, true},   /* movdqa (%rax),%xmm0 */
	    {{0x66, 0x0f, 0x7f, 0x00}, 4, X86_OP_MOV128_STORE, true},  /* movdqa %xmm0,(%rax) */
	    {{0xf3, 0x0f, 0x6f, 0x00}, 4, X86_OP_MOV128_LOAD, false},  /* movdqu */
	    {{0xf3, 0x0f, 0x7f, 0x00}, 4, X86_OP_MOV128_STORE, false}, /* movdqu */
	    {{0x0f, 0x28, 0x00}, 3, X86_OP_MOV128_LOAD, true},	       /* movaps */
	    {{0x0f, 0x29, 0x00}, 3, X86_OP_MOV128_STORE, true},	       /* movaps */
	    {{0x66, 0x0f, 0x28, 0x00}, 4, X86_OP_MOV128_LOAD, true},   /* movapd */
	    {{0x66, 0x0f, 0x29, 0x00}, 4, X86_OP_MOV128_STORE, true},  /* movapd */
	    {{0x0f, 0x10, 0x00}, 3, X86_OP_MOV128_LOAD, false},	       /* movups */
	    {{0x0f, 0x11, 0x00}, 3, X86_OP_MOV128_STORE, false},       /* movups */
	    {{0x66, 0x0f, 0x10, 0x00}, 4, X86_OP_MOV128_LOAD, false},  /* movupd */
	    {{0x66, 0x0f, 0x11, 0x00}, 4, X86_OP_MOV128_STORE, false}, /* movupd */
	    {{0x66, 0x0f, 0xef, 0x00}, 4, X86_OP_XOR128, true},	       /* pxor */
	    {{0x0f, 0x57, 0x00}, 3, X86_OP_XOR128, true},	       /* xorps */
	    {{0x66, 0x0f, 0x57, 0x00}, 4, X86_OP_XOR128, true},	       /* xorpd */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct x86_insn insn = decode_ok(cases[i].code, cases[i].len);
		cr_assert_eq(insn.op, cases[i].op, "case %zu", i);
		cr_assert_eq(insn.aligned, cases[i].aligned, "case %zu", i);
		cr_assert_eq(insn.len, cases[i].len, "case %zu", i);
		cr_assert(insn.rm_is_mem, "case %zu", i);
		cr_assert_eq(insn.mem.base, 0, "case %zu", i);
	}
}

Test(x86_decode, store_forms_between_registers)
{
	/* movaps %xmm0,%xmm1 in its store encoding: ModRM.reg is the source */
	struct x86_insn insn = DECODE_OK(0x0f, 0x29, 0xc1);
	cr_assert_eq(insn.op, X86_OP_MOV128_STORE);
	cr_assert_eq(insn.reg, 0);
	cr_assert_not(insn.rm_is_mem);
	cr_assert_eq(insn.rm, 1);
	insn = DECODE_OK(0x66, 0x0f, 0xd6, 0xc1); /* movq %xmm0,%xmm1 */
	cr_assert_eq(insn.op, X86_OP_MOVQ_STORE);
	cr_assert_eq(insn.reg, 0);
	cr_assert_eq(insn.rm, 1);
}

Test(x86_decode, movq_with_memory_operands)
{
	/* With a memory operand, the general-register family and the xmm family of movq differ
	 * only in their opcode; both move 8 bytes with REX.W. */
	struct x86_insn insn = DECODE_OK(0x66, 0x48, 0x0f, 0x6e, 0x00);
	cr_assert_eq(insn.op, X86_OP_MOVD_TO_XMM);
	cr_assert(insn.rex_w);
	cr_assert(insn.rm_is_mem);
	insn = DECODE_OK(0x66, 0x48, 0x0f, 0x7e, 0x00);
	cr_assert_eq(insn.op, X86_OP_MOVD_FROM_XMM);
	cr_assert(insn.rex_w);
	cr_assert(insn.rm_is_mem);
	cr_assert_eq(DECODE_OK(0xf3, 0x0f, 0x7e, 0x00).op, X86_OP_MOVQ_LOAD);
	cr_assert_eq(DECODE_OK(0x66, 0x0f, 0xd6, 0x00).op, X86_OP_MOVQ_STORE);
}

Test(x86_decode, refuses_mmx_and_vex_forms)
{
	/* the same mnemonics with mm registers, and the AVX encodings */
	decode_refused((const uint8_t[]){0x0f, 0xef, 0xc0}, 3,
		       "emulates: 0f ef c0 (pxor %mm0, %mm0)");
	decode_refused((const uint8_t[]){0x0f, 0x7e, 0xc0}, 3, "(movd %mm0, %eax)");
	decode_refused((const uint8_t[]){0x0f, 0x6f, 0xc0}, 3, "(movq %mm0, %mm0)");
	decode_refused((const uint8_t[]){0xf3, 0x0f, 0xd6, 0xc0}, 4, "(movq2dq %mm0, %xmm0)");
	decode_refused((const uint8_t[]){0xc5, 0xfa, 0x6f, 0x07}, 4, "(vmovdqu (%rdi), %xmm0)");
}

Test(x86_decode, decodes_as_a_cpu_without_mpx_or_cet)
{
	/* a bnd prefix is an ignored f2, endbr64 a nop; neither is emulated */
	decode_refused((const uint8_t[]){0xf2, 0xeb, 0x00}, 3, "emulates: f2 eb 00 (jmp ");
	decode_refused((const uint8_t[]){0xf3, 0x0f, 0x1e, 0xfa}, 4, "(nop ");
}

Test(x86_decode, refuses_unknown_and_reports_the_bytes)
{
	/* lock cmpxchg16b (%rdi) */
	decode_refused(
	    (const uint8_t[]){0xf0, 0x48, 0x0f, 0xc7, 0x0f}, 5,
	    "not an instruction vsmp-vmm emulates: f0 48 0f c7 0f (lock cmpxchg16b (%rdi))");
	/* only the instruction's own bytes */
	decode_refused((const uint8_t[]){0xeb, 0x38, 0x90}, 3, "emulates: eb 38 (jmp");
	decode_refused((const uint8_t[]){0xf0, 0x66, 0x0f, 0xef, 0xc0}, 5, "lock prefix");
}

Test(x86_decode, refuses_truncated_input)
{
	static const uint8_t full[] = {0x66, 0x44, 0x0f, 0x6f, 0x25, 0xa5, 0x4a, 0x2b, 0x01};
	for (size_t len = 0; len < sizeof(full); len++)
		decode_refused(full, len, "truncated");
	decode_refused((const uint8_t[]){0x0f, 0xae, 0x54}, 3, "truncated"); /* SIB missing */
}

Test(x86_decode, refuses_more_than_fifteen_bytes)
{
	uint8_t code[20];
	memset(code, 0x66, sizeof(code));
	code[14] = 0x0f;
	code[15] = 0xef;
	code[16] = 0xc0;
	decode_refused(code, sizeof(code), "longer than 15 bytes");
	code[12] = 0x0f;
	code[13] = 0xef;
	code[14] = 0xc0;
	cr_assert_eq(decode_ok(code, sizeof(code)).len, 15);
}

Test(x86_decode, any_input_is_safe)
{
	/* Every two-byte prefix of every byte pair, within a 15-byte buffer: no crash, no overrun
	 * (the ASan build checks), and a success always has a length inside the buffer and
	 * register numbers emulate.c can index with. */
	uint8_t code[X86_MAX_INSN_LEN] = {0};
	struct x86_insn insn;
	char err[8];
	for (unsigned a = 0; a < 256; a++) {
		for (unsigned b = 0; b < 256; b++) {
			code[0] = (uint8_t)a;
			code[1] = (uint8_t)b;
			for (size_t len = 0; len <= 3; len++)
				if (x86_decode(code, len, &insn, err, sizeof(err)) == 0)
					cr_assert(insn.len >= 1 && insn.len <= len &&
						  insn.reg < 16 && insn.rm < 16);
		}
	}
}

Test(x86_decode, op_names)
{
	cr_assert_str_eq(x86_op_name(X86_OP_INT3), "int3");
	cr_assert_str_eq(x86_op_name(X86_OP_COUNT), "?");
	for (unsigned op = 0; op < X86_OP_COUNT; op++)
		cr_assert_str_neq(x86_op_name(op), "?");
}
