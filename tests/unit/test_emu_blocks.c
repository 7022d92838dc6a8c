/* Unit tests for the software vCPU's blocks of decoded instructions (vmm/cpu/emu/emu_decode.c,
 * emu_run.c): a taken conditional branch leaves a block, a not-taken one runs on in it, and a
 * store into the instructions ahead in the running block is seen by them (self-modifying code),
 * IP wraps within the code segment rather than running on in the page, and a loop that fits in
 * one block runs again without leaving it but still sees its own stores and a kick, as does a
 * loop of two blocks, which the run loop chains.
 * Each test runs a few real-mode instructions at 0100:0000 (after a SIPI with vector 1) on the
 * real interpreter until their final hlt (DS is 0, so data addresses are physical ones). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define RAM_SIZE  (1u << 20)
#define CODE_ADDR 0x1000u

#include "tests/unit/emu_vcpu.h"

/* Runs `code` from 0100:0000 to its hlt; AX afterwards. */
static uint16_t run_code(const uint8_t *code, size_t len)
{
	char err[256];
	memcpy(ram + CODE_ADDR, code, len);
	cr_assert_eq(cpu->ops->start_at_sipi(cpu, CODE_ADDR >> 12, err, sizeof(err)), 0, "%s", err);
	struct cpu_exit *x = cpu->ops->run(cpu);
	cr_assert_eq(x->reason, CPU_EXIT_HLT, "exit %d: %s", x->reason, x->message);
	cr_assert_eq(emu_cpu_of(cpu)->rip, len, "stopped at 0x%llx",
		     (unsigned long long)emu_cpu_of(cpu)->rip);
	return (uint16_t)emu_cpu_of(cpu)->gpr[EMU_RAX];
}

TestSuite(emu_blocks, .init = emu_vcpu_create, .fini = emu_vcpu_destroy);

Test(emu_blocks, taken_branch_leaves_the_block)
{
	static const uint8_t code[] = {
	    0x31, 0xc0,	      /* xor ax, ax */
	    0x74, 0x03,	      /* jz +3 (taken) */
	    0xb8, 0x05, 0x00, /* mov ax, 5 */
	    0xf4,	      /* hlt */
	};
	cr_assert_eq(run_code(code, sizeof(code)), 0);
}

Test(emu_blocks, branch_not_taken_runs_on)
{
	static const uint8_t code[] = {
	    0x83, 0xc8, 0x01, /* or ax, 1 */
	    0x74, 0x03,	      /* jz +3 (not taken) */
	    0xb8, 0x05, 0x00, /* mov ax, 5 */
	    0xf4,	      /* hlt */
	};
	cr_assert_eq(run_code(code, sizeof(code)), 5);
}

Test(emu_blocks, store_into_the_running_block_is_executed)
{
	static const uint8_t code[] = {
	    0xc6, 0x06, 0x06, 0x10, 0x2a, /* mov byte [0x1006], 0x2a: the imm of the next mov */
	    0xb8, 0x01, 0x00,		  /* mov ax, 1 (becomes mov ax, 0x2a) */
	    0xf4,			  /* hlt */
	};
	cr_assert_eq(run_code(code, sizeof(code)), 0x2a);
	/* Again, now that the block of the modified bytes is cached: the same result. */
	cr_assert_eq(run_code(code, sizeof(code)), 0x2a);
}

/* Stores whose memory operand the encoding does not name: PUSH's stack, STOS's ES:DI. */
Test(emu_blocks, implicit_stores_into_the_running_block_are_executed)
{
	static const uint8_t push[] = {
	    0xbc, 0x0d, 0x10, /* mov sp, 0x100d: pushing writes the imm of the mov below */
	    0xbb, 0x2a, 0x00, /* mov bx, 0x2a */
	    0x53,	      /* push bx: writes 0x100b..0x100c */
	    0x90, 0x90, 0x90, /* nop x3 */
	    0xb8, 0x01, 0x00, /* mov ax, 1 at 0x100a (becomes mov ax, 0x2a) */
	    0xf4,	      /* hlt */
	};
	static const uint8_t stos[] = {
	    0xbf, 0x09, 0x10, /* mov di, 0x1009: the imm of the mov below (ES is 0) */
	    0xb0, 0x2b,	      /* mov al, 0x2b */
	    0xaa,	      /* stosb */
	    0x90, 0x90,	      /* nop x2 */
	    0xb8, 0x01, 0x00, /* mov ax, 1 at 0x1008 (becomes mov ax, 0x2b) */
	    0xf4,	      /* hlt */
	};
	cr_assert_eq(run_code(push, sizeof(push)), 0x2a);
	cr_assert_eq(run_code(stos, sizeof(stos)), 0x2b);
}

Test(emu_blocks, code_rewritten_between_runs_is_decoded_again)
{
	static const uint8_t first[] = {0xb8, 0x01, 0x00, 0xf4};  /* mov ax, 1; hlt */
	static const uint8_t second[] = {0xb8, 0x02, 0x00, 0xf4}; /* mov ax, 2; hlt */
	cr_assert_eq(run_code(first, sizeof(first)), 1);
	/* As a device or the coherence engine changes a page: through the accel. */
	memcpy(ram + CODE_ADDR, second, sizeof(second));
	emu_accel_ops.page_changed(accel, CODE_ADDR);
	cr_assert_eq(run_code(second, sizeof(second)), 2);
}

Test(emu_blocks, ip_wraps_to_0_within_the_segment)
{
	char err[256];
	const uint32_t base = CODE_ADDR + 0x10; /* CS = 0x101: IP 0 is not at a page start */
	static const uint8_t last[] = {0xb8, 0x07, 0x00};	 /* mov ax, 7 at IP 0xfffd */
	static const uint8_t after[] = {0xb8, 0x09, 0x00, 0xf4}; /* mov ax, 9; hlt */
	ram[base] = 0xf4;					 /* hlt at IP 0 */
	memcpy(ram + base + 0xfffd, last, sizeof(last));
	memcpy(ram + base + 0x10000, after, sizeof(after)); /* what follows in the page */
	cr_assert_eq(cpu->ops->start_at_sipi(cpu, CODE_ADDR >> 12, err, sizeof(err)), 0, "%s", err);
	struct emu_cpu *c = emu_cpu_of(cpu);
	c->seg[EMU_CS].sel = base >> 4;
	c->seg[EMU_CS].base = base;
	c->rip = 0xfffd;
	struct cpu_exit *x = cpu->ops->run(cpu);
	cr_assert_eq(x->reason, CPU_EXIT_HLT, "exit %d: %s", x->reason, x->message);
	cr_assert_eq(c->rip, 1);
	cr_assert_eq((uint16_t)c->gpr[EMU_RAX], 7);
}

Test(emu_blocks, loop_in_one_block_runs_every_pass)
{
	static const uint8_t code[] = {
	    0xb9, 0xe8, 0x03, /* mov cx, 1000 */
	    0x40,	      /* inc ax: the loop's block starts here */
	    0x49,	      /* dec cx */
	    0x75, 0xfc,	      /* jnz -4 (to the inc) */
	    0xf4,	      /* hlt */
	};
	cr_assert_eq(run_code(code, sizeof(code)), 1000);
	cr_assert_eq((uint16_t)emu_cpu_of(cpu)->gpr[EMU_RCX], 0);
}

Test(emu_blocks, loop_rewriting_itself_runs_the_new_bytes)
{
	static const uint8_t code[] = {
	    0xb9, 0x03, 0x00,		  /* mov cx, 3 */
	    0x40,			  /* inc ax at 0x1003 (becomes dec ax) */
	    0xc6, 0x06, 0x03, 0x10, 0x48, /* mov byte [0x1003], 0x48 (dec ax) */
	    0x49,			  /* dec cx */
	    0x75, 0xf7,			  /* jnz -9 (to the inc) */
	    0xf4,			  /* hlt */
	};
	/* Once inc, then twice dec. */
	cr_assert_eq(run_code(code, sizeof(code)), 0xffff);
}

static void *kick_until_stopped(void *arg)
{
	atomic_bool *stop = arg;
	while (!atomic_load(stop))
		cpu->ops->kick(cpu);
	return NULL;
}

/* Runs `code` at 0100:0000, kicked from another thread all along, until a run returns after
 * at least 5 instructions; that return is no exit. */
static void run_kicked(const uint8_t *code, size_t len)
{
	char err[256];
	memcpy(ram + CODE_ADDR, code, len);
	cr_assert_eq(cpu->ops->start_at_sipi(cpu, CODE_ADDR >> 12, err, sizeof(err)), 0, "%s", err);
	atomic_bool stop = false;
	pthread_t kicker;
	cr_assert_eq(pthread_create(&kicker, NULL, kick_until_stopped, &stop), 0);
	/* A kick taken at a block boundary returns at once: run until the loop's blocks ran. */
	struct emu_cpu *c = emu_cpu_of(cpu);
	struct cpu_exit *x;
	do
		x = cpu->ops->run(cpu);
	while (x->reason == CPU_EXIT_NONE && c->instructions < 5);
	atomic_store(&stop, true);
	pthread_join(kicker, NULL);
	cr_assert_eq(x->reason, CPU_EXIT_NONE, "exit %d: %s", x->reason, x->message);
}

Test(emu_blocks, kick_ends_a_loop_in_one_block, .timeout = 20)
{
	static const uint8_t code[] = {
	    0x31, 0xc0, /* xor ax, ax */
	    0x85, 0xc0, /* test ax, ax: the loop's block starts here */
	    0x74, 0xfc, /* jz -4 (to the test): forever */
	};
	run_kicked(code, sizeof(code));
	uint64_t rip = emu_cpu_of(cpu)->rip;
	cr_assert(rip == 2 || rip == 4, "stopped at 0x%llx", (unsigned long long)rip);
}

/* The run loop goes from block to block without returning while nothing is pending; a kick
 * still ends it at the next boundary. */
Test(emu_blocks, kick_ends_a_loop_of_two_blocks, .timeout = 20)
{
	static const uint8_t code[] = {
	    0x31, 0xc0, /* xor ax, ax */
	    0xeb, 0x00, /* jmp +0: ends its block, the next one is the jmp below */
	    0xeb, 0xfc, /* jmp -4 (to the first jmp): forever */
	};
	run_kicked(code, sizeof(code));
	uint64_t rip = emu_cpu_of(cpu)->rip;
	cr_assert(rip == 2 || rip == 4, "stopped at 0x%llx", (unsigned long long)rip);
}
