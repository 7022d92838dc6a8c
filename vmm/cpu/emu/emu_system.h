/* The system family of the software vCPU (emu_system.c, emu_segment.c, emu_except.c, emu_io.c,
 * emu_cpuid.c, emu_msr.c): what it offers the other families and the core beyond emu.h, and the
 * descriptor helpers its own files share.
 *
 * Descriptors are handled as the raw 8-byte value the guest wrote (bit numbers as in the SDM's
 * figure "Segment Descriptor"), so every check reads like the SDM's pseudocode; only a committed
 * segment register holds the decoded struct emu_seg. */
#ifndef VMM_CPU_EMU_EMU_SYSTEM_H
#define VMM_CPU_EMU_EMU_SYSTEM_H

#include "vmm/cpu/emu/emu.h"

/* What CPUID tells the guest about clocks and addresses (emu_cpuid.c); emu_tsc() is the guest's
 * TSC in nanoseconds, c->tsc_offset included, so it counts at EMU_TSC_HZ. */
#define EMU_TSC_HZ	   1000000000ull
#define EMU_PHYS_ADDR_BITS 40
#define EMU_VIRT_ADDR_BITS 48

/* ---- for the other families -------------------------------------------------------------- */

/* Far JMP/CALL/RET (ptr16:16/32 immediates and m16:16/32/64 operands; RET's optional imm16). */
void emu_far_jmp(struct emu_cpu *c, const struct emu_insn *i);
void emu_far_call(struct emu_cpu *c, const struct emu_insn *i);
void emu_far_ret(struct emu_cpu *c, const struct emu_insn *i);
/* MOV to/from a segment, control or debug register (whichever operand is one). */
void emu_mov_special(struct emu_cpu *c, const struct emu_insn *i);
/* PUSH/POP of a segment register (op[0]). */
void emu_push_pop_seg(struct emu_cpu *c, const struct emu_insn *i);

/* ---- for the core ------------------------------------------------------------------------ */

/* Completes an rdmsr/wrmsr that exited with CPU_EXIT_MSR (the policy filled exit.msr):
 * -1 if the policy set msr.error (the caller raises #GP(0), RIP still at the instruction), else
 * 0 with EDX:EAX loaded for a read and RIP past the 2-byte instruction. */
int emu_msr_complete(struct emu_cpu *c);
/* The MSRs' power-on values (APIC base with the BSP bit for vCPU 0, PAT, MTRRs, MISC_ENABLE):
 * at vCPU creation and again at INIT. */
void emu_msr_reset(struct emu_cpu *c);

/* ---- shared by the system family's files ------------------------------------------------- */

#define DESC_ACCESSED	(1ull << 40)
#define DESC_RW		(1ull << 41) /* code: readable; data: writable */
#define DESC_CONFORMING (1ull << 42) /* code: conforming; data: expand-down */
#define DESC_CODE	(1ull << 43) /* with DESC_S */
#define DESC_S		(1ull << 44) /* code or data; clear: system descriptor or gate */
#define DESC_P		(1ull << 47)
#define DESC_L		(1ull << 53)
#define DESC_DB		(1ull << 54)
#define DESC_TYPE(d)	((unsigned)((d) >> 40) & 0xf)
#define DESC_DPL(d)	((unsigned)((d) >> 45) & 3)

/* System descriptor and gate types (S clear). */
#define SYS_LDT		2
#define SYS_TSS16_AVAIL 1
#define SYS_TSS16_BUSY	3
#define SYS_TASK_GATE	5
#define SYS_INT_GATE16	6
#define SYS_TRAP_GATE16 7
#define SYS_TSS_AVAIL	9 /* 32-bit, or 64-bit in long mode */
#define SYS_TSS_BUSY	11
#define SYS_CALL_GATE	12
#define SYS_INT_GATE	14
#define SYS_TRAP_GATE	15

#define SEL_ERR(sel)  ((uint32_t)(sel)&0xfffc) /* a selector in an error code: RPL dropped */
#define SEL_NULL(sel) (((sel)&0xfffc) == 0)

static inline bool desc_is_code(uint64_t d)
{
	return (d & DESC_S) && (d & DESC_CODE);
}

static inline bool desc_is_data(uint64_t d)
{
	return (d & DESC_S) && !(d & DESC_CODE);
}

static inline uint64_t desc_base(uint64_t d)
{
	return ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
}

/* The limit in bytes, granularity applied. */
static inline uint32_t desc_limit(uint64_t d)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	return (d & (1ull << 55)) ? (limit << 12) | 0xfff : limit;
}

static inline bool emu_canonical(uint64_t a)
{
	return (uint64_t)(((int64_t)a << (64 - EMU_VIRT_ADDR_BITS)) >> (64 - EMU_VIRT_ADDR_BITS)) ==
	       a;
}

static inline bool emu_protected(const struct emu_cpu *c)
{
	return (c->cr0 & CR0_PE) && !(c->rflags & RFLAGS_VM);
}

/* The descriptor `sel` names (GDT or LDT by TI), its linear address in *linear; a selector past
 * the table raises `vector` with error code SEL_ERR(sel) | ext. */
uint64_t emu_desc_fetch(struct emu_cpu *c, uint16_t sel, int vector, uint32_t ext,
			uint64_t *linear);
/* The descriptor of a non-null SS for CPL `cpl`: a present writable data segment with
 * RPL = DPL = cpl, else `vector` (#GP for MOV SS and returns, #TS for an interrupt's stack switch)
 * naming the selector; not present: #SS. */
uint64_t emu_stack_desc(struct emu_cpu *c, uint16_t sel, unsigned cpl, int vector, uint32_t ext,
			uint64_t *linear);
/* Sets the descriptor's accessed bit in the table, as loading a segment does. */
void emu_desc_set_accessed(struct emu_cpu *c, uint64_t desc, uint64_t linear);
/* Commits CS (RPL replaced by cpl) and the CPL, and recomputes the mode. */
void emu_load_cs(struct emu_cpu *c, uint16_t sel, uint64_t desc, unsigned cpl);
/* The checks of a code segment that a far RET or IRET returns to (#GP(sel), #NP(sel)). */
uint64_t emu_return_cs(struct emu_cpu *c, uint16_t sel, uint64_t *linear);
/* RIP for `offset` in the code segment `desc`: canonical in 64-bit code, else within the
 * limit and opsize-truncated; #GP(0) otherwise. */
uint64_t emu_code_rip(struct emu_cpu *c, uint64_t desc, uint64_t offset, unsigned opsize);
/* A far RET or IRET that pops SS:rSP: checks the stack segment for the return to CPL `rpl` in
 * code segment cs_desc, then commits CS, SS and RSP, and drops data segments the new CPL may not
 * use (when the privilege goes down). */
void emu_return_with_stack(struct emu_cpu *c, uint16_t cs_sel, uint64_t cs_desc, uint64_t cs_linear,
			   uint16_t ss_sel, uint64_t rsp);
/* The `size`-byte value `offset` bytes above the stack pointer, without popping it. */
uint64_t emu_stack_peek(struct emu_cpu *c, uint64_t offset, unsigned size);
/* RSP after adding `bytes` with the current stack-address width. */
uint64_t emu_stack_add(const struct emu_cpu *c, uint64_t bytes);
/* The null SS of 64-bit mode (interrupts to an inner ring, IRETQ and RETF to CPL < 3). */
void emu_null_ss(struct emu_seg *s, uint16_t sel);

/* The instruction handlers of emu_segment.c and emu_except.c that emu_system.c registers. */
void emu_iret(struct emu_cpu *c, const struct emu_insn *i);
void emu_syscall(struct emu_cpu *c, const struct emu_insn *i);
void emu_sysret(struct emu_cpu *c, const struct emu_insn *i);
void emu_sysenter(struct emu_cpu *c, const struct emu_insn *i);
void emu_sysexit(struct emu_cpu *c, const struct emu_insn *i);

#endif
