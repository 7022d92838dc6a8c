/* The software vCPU's internal interface: the architectural state of one x86-64 CPU, the
 * pre-decoded instruction every handler receives, and the services the instruction families
 * share (operands, guest memory, the stack, faults).
 *
 * How an instruction runs (emu_run.c): RIP is translated to a guest-physical address, the
 * decode cache (emu_decode.c) returns the block of instructions there, decoded once by Zydis
 * into struct emu_insn, and for each in turn c->rip is advanced past it and its handler runs
 * (the family's general handler, or one bound to the instruction's operand shape). A handler
 * that faults calls emu_raise(), which never returns: it unwinds to the run loop, which puts RIP
 * back to the start of the instruction and delivers the exception (emu_except.c). So a handler
 * must finish every access that can fault before it changes architectural state (registers,
 * RIP, flags), as the hardware appears to do; string instructions commit per element.
 *
 * Flags are kept materialized in c->rflags (the handlers compute them eagerly with the helpers
 * in emu_flags.h).
 *
 * Guest memory: every access goes through emu_mem.c, which applies the segment base, walks the
 * guest's page tables through a TLB (emu_paging.c), and then does one host access of the same
 * width on guest RAM (so aligned accesses stay single-copy atomic and TSO, as on the hardware),
 * or calls the machine's MMIO dispatch. No lock is held meanwhile: a page that is not here faults
 * into the coherence engine like any host access. */
#ifndef VMM_CPU_EMU_EMU_H
#define VMM_CPU_EMU_EMU_H

#include <Zydis/Zydis.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vmm/cpu/cpu.h"

/* ---- registers ---------------------------------------------------------------------------- */

enum emu_gpr {
	EMU_RAX,
	EMU_RCX,
	EMU_RDX,
	EMU_RBX,
	EMU_RSP,
	EMU_RBP,
	EMU_RSI,
	EMU_RDI,
	EMU_R8,
	EMU_R9,
	EMU_R10,
	EMU_R11,
	EMU_R12,
	EMU_R13,
	EMU_R14,
	EMU_R15,
};
#define EMU_REG_NONE 0xff
#define EMU_REG_RIP  0xfe /* a memory operand's base: RIP-relative */

enum emu_sreg { EMU_ES, EMU_CS, EMU_SS, EMU_DS, EMU_FS, EMU_GS, EMU_SEG_COUNT };
#define EMU_SEG_NONE 0xff /* LEA-style: no segment applies */

/* Register classes of struct emu_opnd.reg_class. */
enum emu_reg_class {
	EMU_RC_GPR,   /* reg = 0..15, accessed at the operand's size */
	EMU_RC_GPR8H, /* AH, CH, DH, BH: reg = 0..3 (bits 8-15 of rax..rbx) */
	EMU_RC_SEG,   /* reg = enum emu_sreg */
	EMU_RC_CR,    /* reg = 0..15 */
	EMU_RC_DR,    /* reg = 0..7 */
	EMU_RC_XMM,   /* reg = 0..15 */
	EMU_RC_MMX,   /* reg = 0..7 */
	EMU_RC_ST,    /* reg = i of ST(i) */
	EMU_RC_OTHER, /* anything else Zydis names (the handler knows it) */
};

#define RFLAGS_CF    (1ull << 0)
#define RFLAGS_FIXED (1ull << 1)
#define RFLAGS_PF    (1ull << 2)
#define RFLAGS_AF    (1ull << 4)
#define RFLAGS_ZF    (1ull << 6)
#define RFLAGS_SF    (1ull << 7)
#define RFLAGS_TF    (1ull << 8)
#define RFLAGS_IF    (1ull << 9)
#define RFLAGS_DF    (1ull << 10)
#define RFLAGS_OF    (1ull << 11)
#define RFLAGS_IOPL  (3ull << 12)
#define RFLAGS_NT    (1ull << 14)
#define RFLAGS_RF    (1ull << 16)
#define RFLAGS_VM    (1ull << 17)
#define RFLAGS_AC    (1ull << 18)
#define RFLAGS_VIF   (1ull << 19)
#define RFLAGS_VIP   (1ull << 20)
#define RFLAGS_ID    (1ull << 21)
#define RFLAGS_ARITH (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)

#define CR4_VME	       (1ull << 0)
#define CR4_PVI	       (1ull << 1)
#define CR4_TSD	       (1ull << 2)
#define CR4_DE	       (1ull << 3)
#define CR4_PSE	       (1ull << 4)
#define CR4_PAE	       (1ull << 5)
#define CR4_MCE	       (1ull << 6)
#define CR4_PGE	       (1ull << 7)
#define CR4_PCE	       (1ull << 8)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_UMIP       (1ull << 11)
#define CR4_FSGSBASE   (1ull << 16)
#define CR4_PCIDE      (1ull << 17)
#define CR4_OSXSAVE    (1ull << 18)
#define CR4_SMEP       (1ull << 20)
#define CR4_SMAP       (1ull << 21)

#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* Exception vectors. */
enum {
	EMU_DE = 0,
	EMU_DB = 1,
	EMU_NMI = 2,
	EMU_BP = 3,
	EMU_OF = 4,
	EMU_BR = 5,
	EMU_UD = 6,
	EMU_NM = 7,
	EMU_DF = 8,
	EMU_TS = 10,
	EMU_NP = 11,
	EMU_STACK_FAULT = 12,
	EMU_GP = 13,
	EMU_PF = 14,
	EMU_MF = 16,
	EMU_AC = 17,
	EMU_MC = 18,
	EMU_XM = 19,
};
#define EMU_NO_ERROR_CODE UINT32_MAX

/* Page-fault error code bits. */
#define PF_P	(1u << 0)
#define PF_W	(1u << 1)
#define PF_U	(1u << 2)
#define PF_RSVD (1u << 3)
#define PF_I	(1u << 4)

/* A segment register with its hidden part. attr holds the descriptor's access rights as
 * VMX stores them: bits 0-3 type, 4 S, 5-6 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G. */
struct emu_seg {
	uint16_t sel;
	uint16_t attr;
	uint32_t limit; /* in bytes, granularity applied */
	uint64_t base;
};
#define SEG_ATTR_TYPE(a) ((a)&0xf)
#define SEG_ATTR_S	 (1u << 4)
#define SEG_ATTR_DPL(a)	 (((a) >> 5) & 3)
#define SEG_ATTR_P	 (1u << 7)
#define SEG_ATTR_L	 (1u << 13)
#define SEG_ATTR_DB	 (1u << 14)
#define SEG_ATTR_G	 (1u << 15)

struct emu_dtr {
	uint64_t base;
	uint16_t limit;
};

/* The decoding mode, one Zydis decoder each (emu_mode() says which applies). */
enum emu_mode { EMU_MODE_REAL, EMU_MODE_16, EMU_MODE_32, EMU_MODE_64, EMU_MODE_COUNT };

/* x87, MMX and SSE state (FXSAVE's memory image is emu_sse_image.c's). */
union emu_xmm {
	uint8_t b[16];
	uint16_t w[8];
	uint32_t d[4];
	uint64_t q[2];
	float f[4];
	double df[2];
};

struct emu_fpu {
	uint16_t fcw, fsw;
	uint8_t ftw; /* abridged: one bit per physical register, 1 = valid */
	uint16_t fop;
	uint64_t fip, fdp;
	uint32_t mxcsr;
	uint8_t st[8][16]; /* physical registers R0-R7: 80-bit values (MMX: low 64 bits) */
	union emu_xmm xmm[16];
};

/* ---- the pre-decoded instruction ---------------------------------------------------------- */

enum emu_opnd_kind { EMU_OPND_NONE, EMU_OPND_REG, EMU_OPND_MEM, EMU_OPND_IMM, EMU_OPND_PTR };

struct emu_opnd {
	uint8_t kind;
	uint16_t size;	   /* bytes (1, 2, 4, 8, 10, 16, 512, ...); 0 where Zydis gives none */
	uint8_t reg_class; /* REG */
	uint8_t reg;	   /* REG */
	uint8_t seg;	   /* MEM: enum emu_sreg (after overrides) or EMU_SEG_NONE */
	uint8_t base;	   /* MEM: enum emu_gpr, EMU_REG_RIP or EMU_REG_NONE */
	uint8_t index;	   /* MEM: enum emu_gpr or EMU_REG_NONE */
	uint8_t scale;	   /* MEM: 1, 2, 4, 8 (0 without index) */
	uint16_t ptr_sel;  /* PTR: the selector of a far pointer immediate */
	int64_t disp;	   /* MEM: displacement; IMM: the value, sign-extended as the encoding
			    * says; PTR: the offset */
};
/* 24 bytes, not 32 (ptr_sel before disp fills its padding): an instruction is then 120 bytes,
 * and a block's run touches fewer cache lines. */
_Static_assert(sizeof(struct emu_opnd) == 24, "struct emu_opnd grew");

#define EMU_PFX_LOCK  (1u << 0)
#define EMU_PFX_REP   (1u << 1) /* F3: rep / repe */
#define EMU_PFX_REPNE (1u << 2) /* F2 */
#define EMU_PFX_OPSZ  (1u << 3) /* 66 present (SSE handlers may need it) */

/* struct emu_insn.flags */
#define EMU_INSN_ENDS_BLOCK (1u << 0) /* the run loop looks at events and RIP afresh after it */

struct emu_cpu;
struct emu_insn;
typedef void (*emu_handler_fn)(struct emu_cpu *c, const struct emu_insn *i);

struct emu_insn {
	emu_handler_fn fn;
	uint16_t mnemonic; /* ZydisMnemonic */
	uint8_t len;
	uint8_t opsize;	    /* effective operand size in bytes (1 for byte forms, 2, 4, 8) */
	uint8_t addrsize;   /* effective address size in bytes (2, 4, 8) */
	uint8_t nopnd;	    /* visible operands in op[]; hidden ones (up to 4 in all) follow */
	uint8_t prefixes;   /* EMU_PFX_* */
	uint8_t opcode;	    /* last opcode byte */
	uint8_t opcode_map; /* ZydisOpcodeMap: tells 0F xx from one-byte opcodes */
	uint8_t modrm_reg;  /* ModRM.reg (group opcodes), if the encoding has ModRM */
	uint8_t mode;	    /* enum emu_mode it was decoded for */
	uint8_t flags;	    /* EMU_INSN_* */
	/* A flag-setting instruction fused with the relative Jcc after it (emu_alu_pair_bind): one
	 * entry of its block for both, len is both lengths, op[2] the Jcc's displacement (an
	 * immediate), jcc_len its length and jcc_conds its condition as a truth table indexed by
	 * emu_jcc_index() of the flags. */
	uint8_t jcc_len;
	uint16_t jcc_conds;
	struct emu_opnd op[4];
};

/* ---- the machine-wide part (one per VMM process) ------------------------------------------ */

#define EMU_REVOKED 64

struct emu_accel {
	struct accel base;
	uint8_t *ram;
	uint64_t ram_size;
	uint64_t pages;
	unsigned vcpu_count;
	/* Decoded instructions of a page are valid while its generation is unchanged: a store to
	 * a page marked in code_page, a device or the coherence engine bumps it. */
	_Atomic uint32_t *page_gen;
	_Atomic uint8_t *code_page;
	ZydisDecoder decoder[EMU_MODE_COUNT];
	emu_handler_fn handlers[ZYDIS_MNEMONIC_MAX_VALUE + 1];
	_Atomic uint64_t clock_epoch_ns; /* CLOCK_REALTIME the guest's TSC counts from */
	/* Pages the coherence engine took from this node or write-protected (accel page_revoked),
	 * the last EMU_REVOKED of them by their count; each vCPU drops its translations of them at
	 * its next block (emu_tlb_revoked). */
	_Atomic uint64_t revoked_count;
	_Atomic uint64_t revoked[EMU_REVOKED];
};

/* ---- one vCPU ----------------------------------------------------------------------------- */

#define EMU_TLB_SIZE 1024

struct emu_tlb_entry {
	uint64_t vpn;	    /* linear address >> 12, or UINT64_MAX when empty */
	uint64_t gpa;	    /* guest-physical page address */
	uint8_t *host;	    /* host address of the page, NULL if it is not RAM (MMIO) */
	uint8_t flags;	    /* EMU_TLB_* */
	uint8_t page_shift; /* of the guest's page that maps it: 12, 21, 22 or 30 */
	uint8_t perm[2];    /* EMU_PERM_* allowed now, [0] supervisor, [1] user accesses */
};
#define EMU_PERM_READ  (1u << 0)
#define EMU_PERM_WRITE (1u << 1) /* allowed and Dirty already set */
#define EMU_PERM_EXEC  (1u << 2)
#define EMU_TLB_WRITE  (1u << 0) /* writable at every CPL the U bit allows */
#define EMU_TLB_USER   (1u << 1)
#define EMU_TLB_NX     (1u << 2)
#define EMU_TLB_DIRTY  (1u << 3) /* D already set in the guest's entry */
#define EMU_TLB_GLOBAL (1u << 4)

struct emu_decode_cache;

struct emu_cpu {
	struct cpu cpu; /* the backend interface; first, so a struct cpu * converts */
	struct emu_accel *accel;
	const struct cpu_io *io;

	uint64_t gpr[16];
	uint64_t rip;	   /* while a handler runs: the next instruction */
	uint64_t insn_rip; /* the instruction being executed */
	uint64_t rflags;
	struct emu_seg seg[EMU_SEG_COUNT], ldtr, tr;
	struct emu_dtr gdtr, idtr;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t dr[8];
	uint8_t cpl;
	uint8_t mode; /* enum emu_mode, recomputed by emu_update_mode() */
	uint64_t xcr0;

	/* MSRs */
	uint64_t efer, star, lstar, cstar, sfmask, kernel_gs_base, tsc_aux, apic_base, pat,
	    misc_enable, sysenter_cs, sysenter_esp, sysenter_eip, tsc_offset;
	uint64_t mtrr_def_type, mtrr_fixed[11], mtrr_var[16];

	struct emu_fpu fpu;

	/* Interrupts */
	bool shadow;	    /* set by sti / mov ss: no interrupt before the next one ends */
	bool shadow_active; /* the run loop's copy: this boundary is in a shadow */
	bool nmi_pending;
	bool nmi_blocked;   /* from NMI delivery until the next iret */
	int pending_vector; /* accepted from the LAPIC, delivered at the next boundary; -1 none */
	bool window_wanted; /* run() returns once an interrupt could be delivered */
	atomic_bool kick;
	bool halted;

	/* Exits that complete on the next run(). */
	bool msr_pending; /* rdmsr/wrmsr waiting for exit.msr */

	/* Faults: emu_raise() jumps here; the loop delivers the exception. */
	jmp_buf fault_jmp;
	int fault_vector;
	uint32_t fault_error;
	int delivering; /* nesting of exception delivery: #DF, then shutdown */
	bool stop;	/* an exit other than a fault ends the run loop */

	struct emu_tlb_entry tlb[EMU_TLB_SIZE];
	uint64_t revoked_seen; /* emu_accel.revoked_count when this vCPU last looked */
	struct emu_decode_cache *dcache;
	struct emu_insn scratch;	/* an instruction no block can hold (page-crossing) */
	uint64_t instructions;		/* retired, for statistics */
	struct page_counts *code_pages; /* --profile: instructions per code page; NULL: off */
};

static inline struct emu_cpu *emu_cpu_of(struct cpu *c)
{
	return (struct emu_cpu *)c;
}

/* ---- services the families use ------------------------------------------------------------ */

/* Faults: set the vector and error code and unwind to the run loop (never returns). */
_Noreturn void emu_raise(struct emu_cpu *c, int vector, uint32_t error_code);
_Noreturn void emu_raise_ud(struct emu_cpu *c);
_Noreturn void emu_raise_gp0(struct emu_cpu *c);
/* Ends the run with an exit (the instruction has completed or will be retried, as the
 * caller arranged RIP): CPU_EXIT_UNSUPPORTED etc. with a message in c->cpu.exit. */
_Noreturn void emu_exit(struct emu_cpu *c, enum cpu_exit_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The instruction is not implemented: stops the guest (exit status 3) naming bytes and RIP. */
_Noreturn void emu_unimplemented(struct emu_cpu *c, const struct emu_insn *i);

/* Registers, with x86's partial-write rules (32-bit writes zero-extend, 8/16 merge). */
uint64_t emu_reg_read(const struct emu_cpu *c, unsigned reg_class, unsigned reg, unsigned size);
void emu_reg_write(struct emu_cpu *c, unsigned reg_class, unsigned reg, unsigned size,
		   uint64_t value);

/* Operands of the current instruction: zero-extended reads, sized writes. The general-register
 * case, the commonest, is inline; the rest is emu_opnd_read_any/emu_opnd_write_any. */
uint64_t emu_opnd_read_any(struct emu_cpu *c, const struct emu_insn *i, unsigned n);
void emu_opnd_write_any(struct emu_cpu *c, const struct emu_insn *i, unsigned n, uint64_t value);

static inline uint64_t emu_size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static inline uint64_t emu_opnd_read(struct emu_cpu *c, const struct emu_insn *i, unsigned n)
{
	const struct emu_opnd *o = &i->op[n];
	if (o->kind == EMU_OPND_REG && o->reg_class == EMU_RC_GPR)
		return c->gpr[o->reg & 15] & emu_size_mask(o->size);
	return emu_opnd_read_any(c, i, n);
}

static inline void emu_opnd_write(struct emu_cpu *c, const struct emu_insn *i, unsigned n,
				  uint64_t value)
{
	const struct emu_opnd *o = &i->op[n];
	if (o->kind == EMU_OPND_REG && o->reg_class == EMU_RC_GPR && o->size >= 4) {
		c->gpr[o->reg & 15] =
		    value & emu_size_mask(o->size); /* 32-bit writes zero-extend */
		return;
	}
	emu_opnd_write_any(c, i, n, value);
}
static inline uint64_t emu_addr_reg_value(const struct emu_cpu *c, uint8_t reg)
{
	if (reg == EMU_REG_NONE)
		return 0;
	if (reg == EMU_REG_RIP)
		return c->rip; /* the next instruction: what RIP-relative addressing adds */
	return c->gpr[reg & 15];
}

/* A memory operand's effective address (offset within its segment, address-size wrapped);
 * inline, as it comes before every memory access of a handler. */
static inline uint64_t emu_opnd_ea(const struct emu_cpu *c, const struct emu_insn *i, unsigned n)
{
	const struct emu_opnd *o = &i->op[n];
	uint64_t ea = emu_addr_reg_value(c, o->base) + (uint64_t)o->disp;
	if (o->index != EMU_REG_NONE)
		ea += emu_addr_reg_value(c, o->index) * o->scale;
	return ea & emu_size_mask(i->addrsize);
}

/* Data accesses at seg:offset (offset wrapped by the caller to the address size). CPL decides
 * user/supervisor. size 1, 2, 4, 8 for read/write; any size up to 4096 for the _bytes forms.
 *
 * emu_read and emu_write are inline, so that a handler's access that hits the TLB costs no call:
 * in 64-bit mode, inside one page whose TLB entry allows the access, in RAM, and for a store to a
 * page holding no decoded code, it is one host access (emu_host_load/emu_host_store). Anything
 * else (other modes, a TLB miss, a fault, a page boundary, MMIO, a store into code) is
 * emu_mem.c's emu_read_slow/emu_write_slow. A TLB entry is never filled for a non-canonical
 * address, but the canonical check stays here: it is what raises #GP/#SS, on the slow path. */
uint64_t emu_read_slow(struct emu_cpu *c, unsigned seg, uint64_t offset, unsigned size);
void emu_write_slow(struct emu_cpu *c, unsigned seg, uint64_t offset, unsigned size,
		    uint64_t value);

/* An access inside one page is one host access: naturally aligned ones of 1, 2, 4 or 8 bytes with
 * __atomic loads and stores of that width (relaxed: the host is x86, whose plain moves give the
 * guest the same TSO ordering), unaligned ones with a memcpy of the constant width, which is one
 * plain move too (a memcpy of a variable size was a call). */
#define EMU_HOST_LOAD_AS(T, p)                                                                     \
	((((uintptr_t)(p) & (sizeof(T) - 1)) == 0)                                                 \
	     ? __atomic_load_n((const T *)(p), __ATOMIC_RELAXED)                                   \
	     : ({                                                                                  \
		       T v_;                                                                       \
		       memcpy(&v_, (p), sizeof(T));                                                \
		       v_;                                                                         \
	       }))
#define EMU_HOST_STORE_AS(T, p, v)                                                                 \
	do {                                                                                       \
		T v_ = (T)(v);                                                                     \
		if (((uintptr_t)(p) & (sizeof(T) - 1)) == 0)                                       \
			__atomic_store_n((T *)(p), v_, __ATOMIC_RELAXED);                          \
		else                                                                               \
			memcpy((p), &v_, sizeof(T));                                               \
	} while (0)

static inline uint64_t emu_host_load(const void *p, unsigned size)
{
	switch (size) {
	case 1:
		return __atomic_load_n((const uint8_t *)p, __ATOMIC_RELAXED);
	case 2:
		return EMU_HOST_LOAD_AS(uint16_t, p);
	case 4:
		return EMU_HOST_LOAD_AS(uint32_t, p);
	case 8:
		return EMU_HOST_LOAD_AS(uint64_t, p);
	}
	uint64_t v = 0;
	memcpy(&v, p, size);
	return v;
}

static inline void emu_host_store(void *p, unsigned size, uint64_t v)
{
	switch (size) {
	case 1:
		__atomic_store_n((uint8_t *)p, (uint8_t)v, __ATOMIC_RELAXED);
		return;
	case 2:
		EMU_HOST_STORE_AS(uint16_t, p, v);
		return;
	case 4:
		EMU_HOST_STORE_AS(uint32_t, p, v);
		return;
	case 8:
		EMU_HOST_STORE_AS(uint64_t, p, v);
		return;
	}
	memcpy(p, &v, size);
}

/* The host address of this access if the TLB allows it as it is (perm: EMU_PERM_READ or
 * EMU_PERM_WRITE), with *gpa its page's guest-physical address; else NULL. */
static inline uint8_t *emu_tlb_hit(const struct emu_cpu *c, unsigned seg, uint64_t offset,
				   unsigned size, unsigned perm, uint64_t *gpa)
{
	if (__builtin_expect(c->mode != EMU_MODE_64, 0))
		return NULL;
	uint64_t lin = offset;
	if (seg == EMU_FS || seg == EMU_GS)
		lin += c->seg[seg].base;
	/* Inside one page, whose canonical bits the access's last byte shares. */
	if ((lin & 0xfff) + size > 4096 || (uint64_t)((int64_t)(lin << 16) >> 16) != lin)
		return NULL;
	const struct emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];
	if (e->vpn != lin >> 12 || !(e->perm[c->cpl == 3] & perm) || !e->host)
		return NULL;
	*gpa = e->gpa;
	return e->host + (lin & 0xfff);
}

static inline uint64_t emu_read(struct emu_cpu *c, unsigned seg, uint64_t offset, unsigned size)
{
	uint64_t gpa;
	const uint8_t *p = emu_tlb_hit(c, seg, offset, size, EMU_PERM_READ, &gpa);
	if (__builtin_expect(p != NULL, 1))
		return emu_host_load(p, size);
	return emu_read_slow(c, seg, offset, size);
}

static inline void emu_write(struct emu_cpu *c, unsigned seg, uint64_t offset, unsigned size,
			     uint64_t value)
{
	uint64_t gpa;
	uint8_t *p = emu_tlb_hit(c, seg, offset, size, EMU_PERM_WRITE, &gpa);
	if (__builtin_expect(p != NULL && !atomic_load_explicit(&c->accel->code_page[gpa >> 12],
								memory_order_relaxed),
			     1)) {
		emu_host_store(p, size, value);
		return;
	}
	emu_write_slow(c, seg, offset, size, value);
}
void emu_read_bytes(struct emu_cpu *c, unsigned seg, uint64_t offset, void *out, unsigned size);
void emu_write_bytes(struct emu_cpu *c, unsigned seg, uint64_t offset, const void *in,
		     unsigned size);
/* Supervisor-mode accesses at a linear address (descriptor tables, TSS, interrupt frames). */
uint64_t emu_read_sys(struct emu_cpu *c, uint64_t linear, unsigned size);
void emu_write_sys(struct emu_cpu *c, uint64_t linear, unsigned size, uint64_t value);
/* The host address of seg:offset for a locked read-modify-write of `size` bytes, translated
 * for writing (faults raised as for a write). NULL if the operand is not naturally aligned
 * within one RAM page (MMIO, or split): the caller then does a plain read and write. */
void *emu_lock_ptr(struct emu_cpu *c, unsigned seg, uint64_t offset, unsigned size);
/* Linear address of seg:offset, checked canonical (else #GP(0), #SS(0) for SS). */
uint64_t emu_linear(struct emu_cpu *c, unsigned seg, uint64_t offset, unsigned size);

/* The stack at SS:RSP with the current stack-address size. */
void emu_push(struct emu_cpu *c, uint64_t value, unsigned size);
uint64_t emu_pop(struct emu_cpu *c, unsigned size);
/* Stack-address width in bytes (8 in 64-bit mode, else 4 or 2 by SS.B). */
unsigned emu_stack_width(const struct emu_cpu *c);

/* Near branch: RIP = target truncated to opsize (64-bit mode: #GP if not canonical). */
void emu_jump(struct emu_cpu *c, uint64_t target, unsigned opsize);

/* Port I/O through the machine's dispatch: permission (IOPL / TSS bitmap) checked first. */
uint32_t emu_port_in(struct emu_cpu *c, uint16_t port, unsigned size);
void emu_port_out(struct emu_cpu *c, uint16_t port, unsigned size, uint32_t value);

/* Modes and system state. */
void emu_update_mode(struct emu_cpu *c); /* after CS, CR0 or EFER change */
bool emu_long_mode(const struct emu_cpu *c);
void emu_tlb_flush(struct emu_cpu *c, bool keep_global);
/* The RAM pages revoked since this vCPU last looked leave its TLB (all of it if it fell more
 * than EMU_REVOKED behind). */
void emu_tlb_revoked(struct emu_cpu *c);
void emu_tlb_flush_page(struct emu_cpu *c, uint64_t linear);
uint64_t emu_tsc(const struct emu_cpu *c);

/* Exceptions and interrupts (emu_except.c): delivers `vector` through the IDT/IVT for the
 * current mode. kind says where the return address points and whether an error code is
 * pushed. */
enum emu_event_kind {
	EMU_EVENT_FAULT,    /* RIP = the faulting instruction; error code if the vector has one */
	EMU_EVENT_EXTERNAL, /* hardware interrupt or NMI: RIP = next instruction */
	EMU_EVENT_SOFTWARE, /* int n / int3 / into: RIP = next; DPL checked against CPL */
};
void emu_deliver(struct emu_cpu *c, int vector, enum emu_event_kind kind, uint32_t error_code);

/* Segment loading with the protected-mode checks (emu_segment.c). */
void emu_load_seg(struct emu_cpu *c, unsigned sreg, uint16_t selector);
/* Reads the 8-byte descriptor `selector` names (GDT or LDT); #GP(selector) past the limit. */
uint64_t emu_read_descriptor(struct emu_cpu *c, uint16_t selector, uint64_t *linear);
void emu_seg_from_descriptor(struct emu_seg *s, uint16_t selector, uint64_t desc);

/* CPUID and MSRs (emu_cpuid.c, emu_msr.c). */
void emu_cpuid(const struct emu_cpu *c, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
/* 0 handled; -1 #GP; 1 unknown to the interpreter (the machine's policy decides). */
int emu_msr_read(struct emu_cpu *c, uint32_t index, uint64_t *value);
int emu_msr_write(struct emu_cpu *c, uint32_t index, uint64_t value);

/* ---- handler registration: each family file fills its mnemonics ------------------------- */

void emu_register_alu(emu_handler_fn *table);
void emu_register_move(emu_handler_fn *table);
void emu_register_flow(emu_handler_fn *table);
void emu_register_string(emu_handler_fn *table);
void emu_register_bits(emu_handler_fn *table);
void emu_register_muldiv(emu_handler_fn *table);
void emu_register_system(emu_handler_fn *table);
void emu_register_sse(emu_handler_fn *table);
void emu_register_x87(emu_handler_fn *table);

/* Handlers for an operand shape, chosen once per decoded instruction: a faster equivalent of
 * i->fn (the family's general handler) for this instruction, or NULL. */
emu_handler_fn emu_alu_bind(const struct emu_insn *i);
emu_handler_fn emu_move_bind(const struct emu_insn *i);
emu_handler_fn emu_muldiv_bind(const struct emu_insn *i);
emu_handler_fn emu_flow_bind(const struct emu_insn *i);
/* A handler that runs `alu` and then the Jcc after it, or NULL: see struct emu_insn. */
emu_handler_fn emu_alu_pair_bind(const struct emu_insn *alu, const struct emu_insn *jcc);

/* The arithmetic flags a bound handler always writes, whatever its operands (RFLAGS_ARITH bits;
 * a flag written with its old value counts as not written), and its twin that computes the same
 * result and writes no flags (NULL if it has none). For emu_decode.c's flag liveness: a block
 * runs the twin where the flags are written again before anything can read them. false if the
 * family does not know the handler (it writes no flags as far as the caller may assume). */
struct emu_flag_writer {
	uint64_t writes;
	emu_handler_fn flagless;
};
bool emu_alu_flag_writer(const struct emu_insn *i, struct emu_flag_writer *w);
bool emu_muldiv_flag_writer(const struct emu_insn *i, struct emu_flag_writer *w);

#endif
