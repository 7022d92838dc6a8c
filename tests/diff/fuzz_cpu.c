/* fuzz-cpu: the differential CPU fuzzer. Generates cases (one instruction, or a short x87
 * sequence, with a random initial state), runs each on the host processor and on the software
 * vCPU, and compares the final states (tests/diff/diff.h explains the harness).
 *
 *   fuzz-cpu [--seed N] [--cases M] [--class NAME] [--only K] [--keep-going] [--report N]
 *
 * The seed is printed first; case K of a run is fully determined by (seed, K, class filter), so
 * `--seed N --only K` replays one case. By default the first failure is printed (bytes,
 * disassembly, initial state, both final states) and the exit status is 1; --keep-going runs
 * everything and prints up to --report failures per class, then a table of verdicts. Cases whose
 * instruction the interpreter has no handler for count as not-implemented, not as failures. */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/diff/diff.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: fuzz-cpu [--seed N] [--cases M] [--class NAME] [--only K] "
		   "[--keep-going] [--report N] [--quiet]\nclasses:");
	for (unsigned c = 0; c < diff_class_count(); c++)
		fprintf(f, " %s", diff_class_name(c));
	fprintf(f, "\n");
}

/* The interpreter itself crashed: name the case before dying of it. */
static void on_crash(int sig)
{
	const struct diff_case *c = diff_running;
	if (c) {
		char text[512];
		diff_disasm(c, text, sizeof(text));
		fprintf(stderr,
			"\nfuzz-cpu: the interpreter crashed (signal %d) on class %s: ", sig,
			diff_class_name(c->cls));
		for (unsigned k = 0; k < c->len; k++)
			fprintf(stderr, "%02x ", c->code[k]);
		fprintf(stderr, "(%s)\n", text);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static int parse_args(int argc, char **argv, struct diff_run_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--keep-going")) {
			o->keep_going = true;
			continue;
		}
		if (!strcmp(a, "--quiet")) {
			o->quiet = true;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		}
		if (!v)
			return -1;
		i++;
		if (!strcmp(a, "--seed"))
			o->seed = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--cases"))
			o->cases = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--only"))
			o->only = (int64_t)strtoull(v, NULL, 0);
		else if (!strcmp(a, "--report"))
			o->report = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--class")) {
			o->cls = diff_class_find(v);
			if (o->cls < 0) {
				fprintf(stderr, "fuzz-cpu: no class '%s'\n", v);
				return -1;
			}
		} else
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct diff_run_opts o = {
	    .seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32),
	    .cases = 1000000,
	    .cls = -1,
	    .only = -1,
	    .report = 0,
	    .out = stdout,
	};
	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	if (!o.report)
		o.report = o.keep_going ? 3 : 1;
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGABRT, on_crash);
	signal(SIGFPE, on_crash);
	signal(SIGILL, on_crash);
	printf("fuzz-cpu: seed %" PRIu64 ", %" PRIu64 " cases%s%s\n", o.seed,
	       o.only >= 0 ? 1 : o.cases, o.cls >= 0 ? ", class " : "",
	       o.cls >= 0 ? diff_class_name((unsigned)o.cls) : "");
	fflush(stdout);
	struct diff_class_stats *stats = calloc(diff_class_count(), sizeof(*stats));
	char err[256];
	long failures = diff_run(&o, stats, err, sizeof(err));
	if (failures < 0) {
		fprintf(stderr, "fuzz-cpu: %s\n", err);
		return 2;
	}
	diff_print_stats(stdout, stats);
	printf("fuzz-cpu: seed %" PRIu64 ": %ld failure%s\n", o.seed, failures,
	       failures == 1 ? "" : "s");
	free(stats);
	return failures ? 1 : 0;
}
