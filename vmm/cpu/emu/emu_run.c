/* The software vCPU's run loop: one block of decoded instructions (emu_decode.c) at a time until
 * something needs the machine.
 *
 * At every block boundary: a kick (the LAPIC has news, a timer, a stop) ends the run; a
 * pending NMI or an accepted interrupt is delivered when the guest can take it; a wanted
 * interrupt window ends the run once IF is set and no sti / mov ss shadow is active. (Whatever
 * can change those conditions ends a block, and a block is at most EMU_BLOCK_MAX_INSNS long, so
 * an event waits a few instructions at most.) Then CS:RIP is translated through the TLB, the
 * block there found in (or added to) the decode cache, and its instructions run, each handler
 * with RIP already pointing past its instruction, until one branches or ends the block.
 *
 * Faults unwind with longjmp to the one setjmp of the run (emu_raise): RIP goes back to the
 * faulting instruction and the exception is delivered; a fault while delivering one becomes a
 * double fault per the SDM's classes, and a fault while delivering a double fault shuts the
 * vCPU down (triple fault). emu_exit unwinds the same way to return an exit. */
#include <stdarg.h>
#include <stdio.h>

#include "vmm/cpu/emu/emu_internal.h"
#include "vmm/cpu/emu/emu_system.h"
#include "vmm/page_counts.h"

_Noreturn void emu_raise(struct emu_cpu *c, int vector, uint32_t error_code)
{
	c->fault_vector = vector;
	c->fault_error = error_code;
	longjmp(c->fault_jmp, 1);
}

_Noreturn void emu_raise_ud(struct emu_cpu *c)
{
	emu_raise(c, EMU_UD, EMU_NO_ERROR_CODE);
}

_Noreturn void emu_raise_gp0(struct emu_cpu *c)
{
	emu_raise(c, EMU_GP, 0);
}

_Noreturn void emu_exit(struct emu_cpu *c, enum cpu_exit_reason reason, const char *fmt, ...)
{
	struct cpu_exit *x = &c->cpu.exit;
	x->reason = reason;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->message, sizeof(x->message), fmt, ap);
	va_end(ap);
	c->stop = true;
	longjmp(c->fault_jmp, 1);
}

_Noreturn void emu_unimplemented(struct emu_cpu *c, const struct emu_insn *i)
{
	uint8_t bytes[16] = {0};
	char hex[48] = "";
	c->rip = c->insn_rip;
	/* The bytes are re-read for the message only; a fault here just leaves them out. */
	const struct emu_tlb_entry *e = &c->tlb[(c->insn_rip >> 12) & (EMU_TLB_SIZE - 1)];
	uint64_t lin = c->mode == EMU_MODE_64 ? c->insn_rip : c->seg[EMU_CS].base + c->insn_rip;
	unsigned off = lin & 0xfff, n = i->len;
	if (e->vpn == lin >> 12 && e->host && off + n <= 4096)
		for (unsigned k = 0; k < n; k++) {
			bytes[k] = e->host[off + k];
			snprintf(hex + 3 * k, sizeof(hex) - 3 * k, "%02x ", bytes[k]);
		}
	emu_exit(c, CPU_EXIT_UNSUPPORTED,
		 "vCPU %u: instruction %s (%s) at rip 0x%llx is not implemented by the software "
		 "vCPU",
		 c->cpu.index, ZydisMnemonicGetString((ZydisMnemonic)i->mnemonic), hex,
		 (unsigned long long)c->insn_rip);
}

static bool contributory(int v)
{
	return v == EMU_DE || (v >= EMU_TS && v <= EMU_GP);
}

/* A fault was raised (c->fault_vector): deliver it, or escalate. false: triple fault. */
static bool fault_deliver(struct emu_cpu *c)
{
	int vector = c->fault_vector;
	uint32_t error = c->fault_error;
	int first = c->delivering - 1;
	if (first == EMU_DF)
		return false;
	if (first >= 0 && ((contributory(first) && contributory(vector)) ||
			   (first == EMU_PF && (contributory(vector) || vector == EMU_PF)))) {
		vector = EMU_DF;
		error = 0;
	}
	c->delivering = vector + 1;
	c->rip = c->insn_rip;
	emu_deliver(c, vector, EMU_EVENT_FAULT, error);
	c->delivering = 0;
	return true;
}

/* An external event at this boundary, if one is due. */
static void events_deliver(struct emu_cpu *c)
{
	c->insn_rip = c->rip;
	if (c->nmi_pending && !c->nmi_blocked) {
		c->nmi_pending = false;
		c->delivering = EMU_NMI + 1;
		emu_deliver(c, EMU_NMI, EMU_EVENT_EXTERNAL, EMU_NO_ERROR_CODE);
		c->delivering = 0;
		c->nmi_blocked = true;
		return;
	}
	if (c->pending_vector >= 0 && (c->rflags & RFLAGS_IF)) {
		int v = c->pending_vector;
		c->pending_vector = -1;
		c->delivering = v + 1;
		emu_deliver(c, v, EMU_EVENT_EXTERNAL, EMU_NO_ERROR_CODE);
		c->delivering = 0;
	}
}

static uint64_t ip_mask(const struct emu_cpu *c)
{
	return c->mode == EMU_MODE_64 ? ~0ull : c->mode == EMU_MODE_32 ? 0xffffffffull : 0xffffull;
}

/* Nothing for the run loop to look at between two blocks: no kick, no event pending, no
 * interrupt window wanted. (Only a kick arrives while a block runs; the rest are set before.) */
static bool boundary_quiet(struct emu_cpu *c)
{
	return !atomic_load_explicit(&c->kick, memory_order_relaxed) && !c->nmi_pending &&
	       c->pending_vector < 0 && !c->window_wanted;
}

/* Runs the block at CS:RIP: its instructions one after the other, each with RIP already past
 * it and c->insn_rip at it, until one ends the block or branches, or a store changes the page.
 * A branch back to the block's first instruction (a loop that fits in one block) runs it again
 * here when the boundary is quiet: the translation of RIP and the cache lookup would find the
 * same block, since nothing in it changed the mode, CS or paging (those end a block and are
 * not restarted) and its page's generation is unchanged. */
static inline __attribute__((always_inline)) void run_block(struct emu_cpu *c)
{
	uint64_t start = c->insn_rip = c->rip, retired_before = c->instructions;
	if (__builtin_expect(atomic_load_explicit(&c->accel->revoked_count, memory_order_relaxed) !=
				 c->revoked_seen,
			     0))
		emu_tlb_revoked(c);
	uint64_t lin =
	    c->mode == EMU_MODE_64 ? c->rip : (c->seg[EMU_CS].base + c->rip) & 0xffffffffull;
	const struct emu_tlb_entry *e = emu_translate(c, lin, EMU_ACC_EXEC, c->cpl == 3);
	unsigned off = lin & 0xfff;
	struct emu_run_block b =
	    emu_block_at(c, e->gpa + off, e->host ? e->host + off : NULL, 4096 - off);
	uint64_t mask = ip_mask(c);
	/* Near the end of the IP's range the next instruction may be at IP 0, not after this one
	 * in the page: one instruction at a time there, decoded with its flags (a block's first
	 * instruction may skip flags that the rest of the block writes again). */
	if (__builtin_expect(mask - c->rip < 4096, 0))
		b = emu_block_single(c, e->gpa + off, e->host + off, 4096 - off);
	const struct emu_insn *i = b.insn, *end = b.insn + b.count;
	for (;;) {
		/* The exits are marked unlikely so that going on to the next instruction is the
		 * fall-through path: laid out the other way, every instruction took three more
		 * branches, a tenth of the integer kernel's time. */
		for (;;) {
			uint64_t next = (c->insn_rip + i->len) & mask;
			c->rip = next;
			i->fn(c, i);
			if (__builtin_expect(++i == end, 0))
				break;
			if (__builtin_expect(c->rip != next, 0))
				break;
			if (__builtin_expect(
				atomic_load_explicit(b.gen_now, memory_order_acquire) != b.gen, 0))
				break;
			c->insn_rip = next;
		}
		/* Retired, for statistics: an instruction that faulted is counted too. (An entry is
		 * one instruction; a fused pair's handler counts its second.) */
		c->instructions += (uint64_t)(i - b.insn);
		if (c->rip != start || (i[-1].flags & EMU_INSN_ENDS_BLOCK) ||
		    b.insn == &c->scratch ||
		    atomic_load_explicit(b.gen_now, memory_order_acquire) != b.gen || c->shadow ||
		    !boundary_quiet(c))
			break;
		c->insn_rip = start;
		i = b.insn;
	}
	/* Once per call, not per rerun: a loop in one block pays nothing more for profiling. A
	 * call left by a fault or an exit (longjmp) is not counted, its earlier reruns neither. */
	if (__builtin_expect(c->code_pages != NULL, 0))
		page_counts_add(c->code_pages, lin >> 12, c->instructions - retired_before);
}

/* Blocks one after the other for as long as the boundary between two is quiet and no shadow
 * began (STI, MOV SS): emu_run would then do nothing between them but call this again. Not
 * inlined into emu_run: there, setjmp would keep the block loop's variables in memory. */
static __attribute__((noinline)) void run_blocks(struct emu_cpu *c)
{
	for (;;) {
		run_block(c);
		if (c->shadow || !boundary_quiet(c))
			return;
		c->shadow_active = false; /* as emu_run would set it: this boundary is in none */
	}
}

struct cpu_exit *emu_run(struct emu_cpu *c)
{
	struct cpu_exit *x = &c->cpu.exit;
	x->reason = CPU_EXIT_NONE;
	c->stop = false;
	if (setjmp(c->fault_jmp)) {
		c->shadow = c->shadow_active = false;
		if (c->stop)
			return x;
		if (!fault_deliver(c)) {
			x->reason = CPU_EXIT_SHUTDOWN;
			snprintf(x->message, sizeof(x->message), "triple fault");
			return x;
		}
	} else if (c->msr_pending) {
		c->msr_pending = false;
		c->insn_rip = c->rip;
		if (emu_msr_complete(c) < 0)
			emu_raise_gp0(c);
	}
	for (;;) {
		if (atomic_load_explicit(&c->kick, memory_order_relaxed)) {
			atomic_store_explicit(&c->kick, false, memory_order_relaxed);
			return x;
		}
		if (!c->shadow_active) {
			if (c->nmi_pending || c->pending_vector >= 0)
				events_deliver(c);
			if (c->window_wanted && (c->rflags & RFLAGS_IF)) {
				c->window_wanted = false;
				return x;
			}
		}
		run_blocks(c);
		c->shadow_active = c->shadow;
		c->shadow = false;
	}
}
