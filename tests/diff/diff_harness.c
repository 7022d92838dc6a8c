/* The differential harness's judge and driver: compares the host's and the interpreter's final
 * states of a case, prints a failing case so that it can be understood without rerunning it
 * (bytes, disassembly, the initial state, both final states with the differences marked), and
 * runs batches of generated cases, counting verdicts per class.
 *
 * A run alternates: generate a batch into the memory shared with the native worker, let the
 * worker run it, then run each case on the interpreter and compare. Only what the SDM defines is
 * compared (struct diff_undef); a fault matches when both sides fault in the same class, and
 * then the state at the fault is compared too (nothing may have been committed). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "tests/diff/diff.h"

#define BATCH 256

const struct diff_case *volatile diff_running;

static const char *const gpr_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					  "r8",	 "r9",	"r10", "r11", "r12", "r13", "r14", "r15"};
static const char *const fault_names[DIFF_FAULT_COUNT] = {
    "none", "#DE", "#UD", "#GP/#PF/#SS", "#DB/#BP", "#MF/#XM", "#AC", "other"};
static const char *const verdict_names[DIFF_VERDICT_COUNT] = {"pass", "mismatch", "not-implemented",
							      "unsupported", "error"};

/* ---- comparison ----------------------------------------------------------------------- */

struct why {
	char *p;
	size_t left;
	unsigned items;
};

static void why_add(struct why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void why_add(struct why *w, const char *fmt, ...)
{
	if (w->items++ >= 6 || w->left < 2)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(w->p, w->left, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < w->left) {
		w->p += n;
		w->left -= (size_t)n;
	}
}

static uint64_t flags_mask(const struct diff_case *c)
{
	return (DIFF_FLAGS_ARITH | DIFF_FLAG_DF) & ~c->undef.flags;
}

/* The bits of GPR k that the SDM defines and every CPU model agrees on. */
static uint64_t gpr_mask(const struct diff_case *c, unsigned k)
{
	if (c->undef.gprs & (1u << k))
		return 0;
	return (c->undef.gprs_high & (1u << k)) ? 0xffffffffull : ~0ull;
}

static void compare_regs(const struct diff_case *c, const struct diff_regs *n,
			 const struct diff_regs *e, struct why *w)
{
	for (unsigned i = 0; i < 16; i++)
		if ((n->gpr[i] ^ e->gpr[i]) & gpr_mask(c, i))
			why_add(w, "%s ", gpr_names[i]);
	uint64_t fm = flags_mask(c);
	if ((n->rflags ^ e->rflags) & fm)
		why_add(w, "rflags(%#" PRIx64 ") ", (n->rflags ^ e->rflags) & fm);
	for (unsigned i = 0; i < 16; i++)
		if (memcmp(n->xmm[i], e->xmm[i], 16))
			why_add(w, "xmm%u ", i);
	if (n->mxcsr != e->mxcsr)
		why_add(w, "mxcsr ");
	if (n->fcw != e->fcw)
		why_add(w, "fcw ");
	if ((n->fsw ^ e->fsw) & ~c->undef.fsw)
		why_add(w, "fsw ");
	if (n->ftw != e->ftw)
		why_add(w, "ftw ");
}

enum diff_verdict diff_compare(const struct diff_case *c, const struct diff_outcome *native,
			       const struct diff_outcome *emu, char *whybuf, size_t whylen)
{
	struct why w = {whybuf, whylen, 0};
	whybuf[0] = 0;
	if (native->status != DIFF_RUN_OK) {
		why_add(&w, "native: %s", native->msg);
		return DIFF_ERROR;
	}
	if (emu->status == DIFF_RUN_UNSUPPORTED) {
		why_add(&w, "%s", emu->msg);
		return DIFF_UNSUPPORTED;
	}
	if (emu->status != DIFF_RUN_OK) {
		why_add(&w, "interpreter: %s", emu->msg);
		return DIFF_ERROR;
	}
	if (native->fault != emu->fault) {
		why_add(&w, "fault: native %s, interpreter %s", fault_names[native->fault],
			fault_names[emu->fault]);
		return DIFF_MISMATCH;
	}
	if (c->undef.all)
		return DIFF_PASS;
	if (native->rip != emu->rip)
		why_add(&w, "rip ");
	compare_regs(c, &native->s.r, &emu->s.r, &w);
	for (unsigned k = 0; k < DIFF_DATA_SIZE; k++)
		if (native->s.data[k] != emu->s.data[k]) {
			why_add(&w, "mem[+%#x] ", k);
			break;
		}
	return w.items ? DIFF_MISMATCH : DIFF_PASS;
}

/* ---- printing --------------------------------------------------------------------------- */

void diff_disasm(const struct diff_case *c, char *out, size_t outlen)
{
	ZydisDecoder dec;
	ZydisFormatter fmt;
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);
	size_t used = 0;
	out[0] = 0;
	for (unsigned off = 0; off < c->len && used + 8 < outlen;) {
		ZydisDecodedInstruction z;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		char text[128];
		unsigned len;
		if (ZYAN_SUCCESS(
			ZydisDecoderDecodeFull(&dec, c->code + off, c->len - off, &z, ops))) {
			ZydisFormatterFormatInstruction(&fmt, &z, ops, z.operand_count_visible,
							text, sizeof(text), DIFF_CODE_ADDR + off,
							NULL);
			len = z.length;
		} else {
			snprintf(text, sizeof(text), "(bad)");
			len = c->len - off;
		}
		used += (size_t)snprintf(out + used, outlen - used, "%s%s", off ? "; " : "", text);
		off += len;
	}
}

static void print_outcome_head(FILE *f, const char *who, const struct diff_outcome *o)
{
	if (o->status != DIFF_RUN_OK) {
		fprintf(f, "  %-11s %s: %s\n", who,
			o->status == DIFF_RUN_UNSUPPORTED ? "unsupported" : "error", o->msg);
		return;
	}
	if (o->fault == DIFF_FAULT_NONE)
		fprintf(f, "  %-11s completed, rip %#" PRIx64 "\n", who, o->rip);
	else
		fprintf(f, "  %-11s fault %s (%s %d) at rip %#" PRIx64 "\n", who,
			fault_names[o->fault], strcmp(who, "native:") ? "vector" : "signal",
			o->detail, o->rip);
}

static void print_xmm(FILE *f, const char *label, const uint8_t *x, bool mark)
{
	uint64_t lo, hi;
	memcpy(&lo, x, 8);
	memcpy(&hi, x + 8, 8);
	fprintf(f, " %s%016" PRIx64 "_%016" PRIx64, mark ? "*" : " ", hi, lo);
	(void)label;
}

static void print_states(FILE *f, const struct diff_case *c, const struct diff_outcome *n,
			 const struct diff_outcome *e)
{
	const struct diff_regs *i = &c->init.r, *nr = &n->s.r, *er = &e->s.r;
	bool both = n->status == DIFF_RUN_OK && e->status == DIFF_RUN_OK;
	fprintf(f, "  %-6s %-18s %-18s %s\n", "", "initial", "native", "interpreter");
	for (unsigned k = 0; k < 16; k++) {
		bool d = both && nr->gpr[k] != er->gpr[k];
		fprintf(f, "  %-5s%c %016" PRIx64 "   %016" PRIx64 "   %016" PRIx64 "%s\n",
			gpr_names[k], d ? '*' : ' ', i->gpr[k], nr->gpr[k], er->gpr[k],
			d && !((nr->gpr[k] ^ er->gpr[k]) & gpr_mask(c, k)) ? "  (undefined)" : "");
	}
	uint64_t fm = flags_mask(c);
	fprintf(f,
		"  flags%c %016" PRIx64 "   %016" PRIx64 "   %016" PRIx64 "  (compared: %#" PRIx64
		")\n",
		both && ((nr->rflags ^ er->rflags) & fm) ? '*' : ' ', i->rflags,
		nr->rflags & (DIFF_FLAGS_ARITH | DIFF_FLAG_DF),
		er->rflags & (DIFF_FLAGS_ARITH | DIFF_FLAG_DF), fm);
	fprintf(f, "  mxcsr  %08x %08x %08x   fcw %04x %04x   fsw %04x %04x   ftw %02x %02x\n",
		i->mxcsr, nr->mxcsr, er->mxcsr, nr->fcw, er->fcw, nr->fsw, er->fsw, nr->ftw,
		er->ftw);
	for (unsigned k = 0; k < 16; k++) {
		bool d = both && memcmp(nr->xmm[k], er->xmm[k], 16);
		bool changed = memcmp(i->xmm[k], nr->xmm[k], 16) != 0;
		if (!d && !changed)
			continue;
		fprintf(f, "  xmm%-2u ", k);
		print_xmm(f, "init", i->xmm[k], false);
		print_xmm(f, "native", nr->xmm[k], false);
		print_xmm(f, "emu", er->xmm[k], d);
		fprintf(f, "\n");
	}
	unsigned shown = 0;
	for (unsigned k = 0; k < DIFF_DATA_SIZE && shown < 24; k++) {
		bool d = both && n->s.data[k] != e->s.data[k];
		if (!d && c->init.data[k] == n->s.data[k])
			continue;
		fprintf(f, "  mem %#" PRIx64 ": %02x -> native %02x, interpreter %02x%s\n",
			DIFF_DATA_ADDR + k, c->init.data[k], n->s.data[k], e->s.data[k],
			d ? "  *" : "");
		shown++;
	}
}

/* The initial bytes under each memory operand (addresses from the initial registers, so
 * exact for the first instruction of a sequence), which the register table does not show. */
static void print_mem_operands(FILE *f, const struct diff_case *c)
{
	ZydisDecoder dec;
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	ZydisRegisterContext ctx = {0};
	for (unsigned k = 0; k < 16; k++) {
		ctx.values[ZYDIS_REGISTER_RAX + k] = c->init.r.gpr[k];
		ctx.values[ZYDIS_REGISTER_EAX + k] = c->init.r.gpr[k] & 0xffffffffu;
	}
	ZydisDecodedInstruction z;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	for (unsigned off = 0; off < c->len; off += z.length) {
		if (!ZYAN_SUCCESS(
			ZydisDecoderDecodeFull(&dec, c->code + off, c->len - off, &z, ops)))
			return;
		ctx.values[ZYDIS_REGISTER_RIP] = DIFF_CODE_ADDR + off;
		for (unsigned n = 0; n < z.operand_count_visible; n++) {
			ZyanU64 a;
			if (ops[n].type != ZYDIS_OPERAND_TYPE_MEMORY ||
			    ops[n].mem.type == ZYDIS_MEMOP_TYPE_AGEN ||
			    !ZYAN_SUCCESS(ZydisCalcAbsoluteAddressEx(
				&z, &ops[n], DIFF_CODE_ADDR + off, &ctx, &a)))
				continue;
			fprintf(f, "  operand at %#" PRIx64 " (Zydis):", (uint64_t)a);
			for (uint64_t b = a; b < a + 16; b++)
				if (b >= DIFF_DATA_ADDR && b < DIFF_DATA_ADDR + DIFF_DATA_SIZE)
					fprintf(f, " %02x", c->init.data[b - DIFF_DATA_ADDR]);
			fprintf(f, "\n");
		}
	}
}

void diff_print_case(FILE *f, const struct diff_case *c, const struct diff_outcome *native,
		     const struct diff_outcome *emu)
{
	char text[512];
	diff_disasm(c, text, sizeof(text));
	fprintf(f, "  class %s, template %s\n  bytes:", diff_class_name(c->cls), c->name);
	for (unsigned k = 0; k < c->len; k++)
		fprintf(f, " %02x", c->code[k]);
	fprintf(f, "\n  asm:   %s\n", text);
	print_outcome_head(f, "native:", native);
	print_outcome_head(f, "interpreter:", emu);
	print_mem_operands(f, c);
	print_states(f, c, native, emu);
}

void diff_print_stats(FILE *f, const struct diff_class_stats *stats)
{
	fprintf(f, "%-10s %9s %9s %9s %9s %9s %9s %9s\n", "class", "cases", "pass", "mismatch",
		"not-impl", "unsupp", "error", "faulted");
	for (unsigned c = 0; c < diff_class_count(); c++) {
		const struct diff_class_stats *s = &stats[c];
		if (!s->run)
			continue;
		fprintf(f,
			"%-10s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64
			" %9" PRIu64 " %9" PRIu64 "\n",
			diff_class_name(c), s->run, s->n[DIFF_PASS], s->n[DIFF_MISMATCH],
			s->n[DIFF_NOT_IMPLEMENTED], s->n[DIFF_UNSUPPORTED], s->n[DIFF_ERROR],
			s->faults_matched);
	}
}

/* ---- the run loop ---------------------------------------------------------------------- */

static bool failing(enum diff_verdict v)
{
	return v == DIFF_MISMATCH || v == DIFF_UNSUPPORTED || v == DIFF_ERROR;
}

/* Judges case k of the batch; prints it if it fails and the class's report quota allows. */
static enum diff_verdict judge(const struct diff_run_opts *o, struct diff_emu *emu,
			       const struct diff_case *c, const struct diff_outcome *native,
			       struct diff_outcome *out, uint64_t index, struct diff_class_stats *s)
{
	char why[256];
	diff_running = c;
	diff_emu_run(emu, c, out);
	diff_running = NULL;
	enum diff_verdict v = diff_compare(c, native, out, why, sizeof(why));
	if (v == DIFF_UNSUPPORTED && !diff_emu_claims(emu, c))
		v = DIFF_NOT_IMPLEMENTED;
	s->run++;
	s->n[v]++;
	if (v == DIFF_PASS && native->fault != DIFF_FAULT_NONE)
		s->faults_matched++;
	if (failing(v) && s->printed < o->report) {
		s->printed++;
		fprintf(o->out,
			"%s: case %" PRIu64 " (replay: fuzz-cpu --seed %" PRIu64 " --only %" PRIu64
			"%s%s): %s\n",
			verdict_names[v], index, o->seed, index, o->cls >= 0 ? " --class " : "",
			o->cls >= 0 ? diff_class_name((unsigned)o->cls) : "", why);
		diff_print_case(o->out, c, native, out);
		fflush(o->out);
	}
	return v;
}

long diff_run(const struct diff_run_opts *o, struct diff_class_stats *stats, char *err,
	      size_t errlen)
{
	unsigned ncls = diff_class_count();
	memset(stats, 0, ncls * sizeof(*stats));
	struct diff_native *native = diff_native_start(BATCH, err, errlen);
	if (!native)
		return -1;
	struct diff_emu *emu = diff_emu_create(err, errlen);
	struct diff_outcome *out = malloc(sizeof(*out));
	if (!emu || !out) {
		if (!out)
			snprintf(err, errlen, "out of memory");
		diff_native_stop(native);
		diff_emu_destroy(emu);
		free(out);
		return -1;
	}
	struct diff_case *cases = diff_native_cases(native);
	const struct diff_outcome *nout = diff_native_outcomes(native);
	uint64_t first = o->only >= 0 ? (uint64_t)o->only : 0;
	uint64_t total = o->only >= 0 ? 1 : o->cases;
	long failures = 0;
	bool stop = false;
	for (uint64_t start = 0; start < total && !stop; start += BATCH) {
		unsigned n = total - start < BATCH ? (unsigned)(total - start) : BATCH;
		for (unsigned i = 0; i < n; i++) {
			uint64_t k = first + start + i;
			unsigned cls = o->cls >= 0 ? (unsigned)o->cls : (unsigned)(k % ncls);
			diff_generate(&cases[i], cls, o->seed, k);
		}
		if (diff_native_run(native, n, err, errlen) < 0) {
			failures = -1;
			break;
		}
		for (unsigned i = 0; i < n && !stop; i++) {
			uint64_t k = first + start + i;
			enum diff_verdict v =
			    judge(o, emu, &cases[i], &nout[i], out, k, &stats[cases[i].cls]);
			if (failing(v)) {
				failures++;
				stop = !o->keep_going;
			}
		}
		if (!o->quiet && (start / BATCH) % 1024 == 1023)
			fprintf(o->out, "... %" PRIu64 " cases, %ld failures\n", start + n,
				failures);
	}
	free(out);
	diff_emu_destroy(emu);
	diff_native_stop(native);
	return failures;
}
