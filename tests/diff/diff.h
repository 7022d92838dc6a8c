/* The differential CPU harness: a test case is a short instruction sequence (usually one
 * instruction) plus a random initial machine state; it runs once on the host processor
 * (diff_native.c, in a forked worker) and once on the software vCPU (diff_emu.c), and the two
 * final states are compared (diff_harness.c). The generator (diff_gen.c) builds the cases from
 * opcode templates with random prefixes, ModRM/SIB forms, registers and immediates.
 *
 * Both runs use the same addresses: the data buffer and the code sit at fixed low addresses that
 * are host virtual addresses in the native worker and identity-mapped guest-physical addresses in
 * the interpreter's guest, so pointers held in registers, RIP-relative displacements and
 * absolute disp32 operands mean the same bytes on both sides. */
#ifndef TESTS_DIFF_DIFF_H
#define TESTS_DIFF_DIFF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define DIFF_DATA_ADDR                                                                             \
	UINT64_C(0x10000000) /* the data buffer: two pages, so accesses can split                  \
			      */
#define DIFF_DATA_SIZE 8192u
#define DIFF_CODE_ADDR                                                                             \
	UINT64_C(0x10100000) /* the case's instructions, then hlt (guest) or a jump */
#define DIFF_CODE_MAX	64u
#define DIFF_STATE_ADDR UINT64_C(0x10200000) /* native only: the page the stubs load and store */

/* The arithmetic flags and DF: what a case sets and compares. */
#define DIFF_FLAGS_ARITH UINT64_C(0x8d5)
#define DIFF_FLAG_DF	 UINT64_C(0x400)

struct diff_regs {
	uint64_t gpr[16]; /* rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15 */
	uint64_t rflags;
	uint8_t xmm[16][16];
	uint32_t mxcsr;
	uint16_t fcw, fsw;
	uint8_t ftw; /* abridged (FXSAVE): one bit per physical register, 1 = valid */
};

struct diff_state {
	struct diff_regs r;
	uint8_t data[DIFF_DATA_SIZE];
};

/* How an instruction ended, in the terms both sides can name: Linux turns the vectors into
 * signals, and several vectors share one signal (#GP, #PF and #SS all become SIGSEGV or
 * SIGBUS), so a fault matches when its class does. */
enum diff_fault {
	DIFF_FAULT_NONE,
	DIFF_FAULT_DE,	  /* #DE: SIGFPE FPE_INTDIV/INTOVF */
	DIFF_FAULT_UD,	  /* #UD: SIGILL */
	DIFF_FAULT_SEGV,  /* #GP, #PF, #SS: SIGSEGV, SIGBUS (not alignment) */
	DIFF_FAULT_TRAP,  /* #DB, #BP: SIGTRAP */
	DIFF_FAULT_FPE,	  /* #MF, #XM: SIGFPE FPE_FLT* */
	DIFF_FAULT_AC,	  /* #AC: SIGBUS BUS_ADRALN */
	DIFF_FAULT_OTHER, /* any other vector or signal */
	DIFF_FAULT_COUNT,
};

enum diff_status {
	DIFF_RUN_OK,	      /* completed or faulted: s, fault, rip are valid */
	DIFF_RUN_UNSUPPORTED, /* the interpreter stopped with CPU_EXIT_UNSUPPORTED: msg */
	DIFF_RUN_ERROR,	      /* any other exit, a triple fault, the native worker died: msg */
};

struct diff_outcome {
	enum diff_status status;
	enum diff_fault fault;
	int detail;   /* the guest's vector, or the native signal number */
	uint64_t rip; /* completed: the address after the sequence; faulted: the faulting RIP */
	struct diff_state s;
	char msg[256];
};

/* Per case, what the comparison ignores because the SDM leaves it undefined. */
struct diff_undef {
	uint64_t flags; /* RFLAGS bits */
	uint16_t gprs;	/* GPRs whose value is undefined (bit n = register n) */
	uint16_t
	    gprs_high; /* GPRs whose upper 32 bits differ between CPU models: low 32 compared */
	uint16_t fsw;  /* FSW bits (x87 condition codes) */
	bool all;      /* the whole result is undefined: only the fault class is compared */
};

struct diff_case {
	unsigned cls;	  /* index into the class table (diff_gen.c) */
	const char *name; /* the template's name */
	uint8_t code[DIFF_CODE_MAX];
	uint8_t len;   /* bytes of the sequence */
	uint8_t ninsn; /* instructions in it */
	struct diff_undef undef;
	struct diff_state init;
};

/* ---- diff_rng: one splitmix64 stream per case, so a case replays from (seed, index) ------- */

struct diff_rng {
	uint64_t s;
};

static inline uint64_t diff_rand(struct diff_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static inline uint64_t diff_below(struct diff_rng *r, uint64_t n)
{
	return n ? diff_rand(r) % n : 0;
}

/* True with probability pct/100. */
static inline bool diff_chance(struct diff_rng *r, unsigned pct)
{
	return diff_below(r, 100) < pct;
}

/* ---- diff_gen.c: instruction classes and the case generator ------------------------------- */

unsigned diff_class_count(void);
const char *diff_class_name(unsigned cls);
/* The class named `name`, or -1. */
int diff_class_find(const char *name);
/* Case `index` of the run with `seed`, in class `cls`; c->undef says what the SDM leaves
 * undefined for it (computed from the initial state: shift counts, bsf sources). */
void diff_generate(struct diff_case *c, unsigned cls, uint64_t seed, uint64_t index);

/* ---- diff_native.c: the host processor, in a worker process ------------------------------- */

struct diff_native;
struct diff_native *diff_native_start(unsigned batch, char *err, size_t errlen);
void diff_native_stop(struct diff_native *n);
/* The batch's case slots live in memory shared with the worker: fill them, then run the
 * first `count`; the outcomes appear in the shared outcome slots. */
struct diff_case *diff_native_cases(struct diff_native *n);
const struct diff_outcome *diff_native_outcomes(struct diff_native *n);
int diff_native_run(struct diff_native *n, unsigned count, char *err, size_t errlen);

/* ---- diff_emu.c: the software vCPU -------------------------------------------------------- */

struct diff_emu;
struct diff_emu *diff_emu_create(char *err, size_t errlen);
void diff_emu_destroy(struct diff_emu *e);
void diff_emu_run(struct diff_emu *e, const struct diff_case *c, struct diff_outcome *out);
/* Whether the interpreter has a handler for every instruction of the case (if not,
 * CPU_EXIT_UNSUPPORTED is the expected outcome, not a failure). */
bool diff_emu_claims(struct diff_emu *e, const struct diff_case *c);

/* ---- diff_harness.c: comparison, reports, the run loop ------------------------------------ */

enum diff_verdict {
	DIFF_PASS,
	DIFF_MISMATCH,
	DIFF_NOT_IMPLEMENTED, /* UNSUPPORTED exit on an instruction with no handler */
	DIFF_UNSUPPORTED,     /* UNSUPPORTED exit on an instruction the interpreter claims */
	DIFF_ERROR,	      /* another exit, or the native side failed */
	DIFF_VERDICT_COUNT,
};

/* Compares; writes a one-line summary of the first differences into why. */
enum diff_verdict diff_compare(const struct diff_case *c, const struct diff_outcome *native,
			       const struct diff_outcome *emu, char *why, size_t whylen);
/* Bytes, disassembly, initial state, both final states with the differences marked. */
void diff_print_case(FILE *f, const struct diff_case *c, const struct diff_outcome *native,
		     const struct diff_outcome *emu);
/* One line of disassembly per instruction of the sequence ("; "-separated). */
void diff_disasm(const struct diff_case *c, char *out, size_t outlen);

struct diff_class_stats {
	uint64_t n[DIFF_VERDICT_COUNT];
	uint64_t run;
	uint64_t faults_matched; /* passes in which both sides faulted alike */
	unsigned printed;	 /* mismatches reported so far */
};

struct diff_run_opts {
	uint64_t seed;
	uint64_t cases;	 /* cases in all; case k is of class k % classes unless cls >= 0 */
	int cls;	 /* -1: every class in turn */
	int64_t only;	 /* >= 0: run just this case index */
	unsigned report; /* print up to this many failing cases per class */
	bool keep_going; /* false: stop at the first failure */
	bool quiet;	 /* no progress lines */
	FILE *out;
};

/* Runs the cases; stats[] has diff_class_count() entries. Returns the number of failures
 * (mismatches, claimed-but-unsupported and errors), or -1 if the harness itself failed. */
long diff_run(const struct diff_run_opts *o, struct diff_class_stats *stats, char *err,
	      size_t errlen);
void diff_print_stats(FILE *f, const struct diff_class_stats *stats);
/* The case the interpreter is running (for a crash handler), or NULL. */
extern const struct diff_case *volatile diff_running;

#endif
