/* `vsmp-vmm bench guest`: how the test guest's ring-3 kernels scale from one node to several.
 * Each kernel (tg.bench=compute|stream|contention|tsc, firmware/testguest/bench_guest.c) runs
 * twice: on 1 node with N vCPUs and on N nodes with 1 vCPU each. A multi-node guest needs one
 * process per node, so every run is a child `vsmp-vmm --config FILE` (this same executable) with
 * a configuration and cluster key written to a private temporary directory (under $TMPDIR, else
 * /tmp; removed at the end); its stdout, the guest's console, is read through a pipe and the
 * guest's "TESTGUEST bench ..." lines are parsed; its stderr goes to a file there, whose end is
 * shown if the run fails.
 *
 * The guest times each kernel with the BSP's TSC; cycles become seconds with the guest TSC's rate:
 * on KVM the host's, measured here (nothing scales it); on the interpreter exactly 1 GHz
 * (docs/interpreter.md). So the backend is chosen here (--accel; auto resolved as the VMM
 * would) and written into every child's configuration. --scale shrinks every kernel's work, for
 * a quick run (the smoke test). */
#include "vmm/cmd/bench_guest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "coherence/cluster_key.h"
#include "vmm/cmd/bench.h"
#include "vmm/cpu/kvm/kvm.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/node_options.h"

#define BG_MAX_NODES	   4
#define BG_DEFAULT_NODES   2
#define BG_NODE_MEMORY_MIB 64
#define BG_RUN_TIMEOUT_MS  300000
#define BG_OUTPUT_MAX	   (64 * 1024)
#define BG_STDERR_TAIL	   4096 /* of a failed child's stderr, shown */
#define BG_PORT_FIRST	   20000
#define BG_PORT_SLOTS	   350 /* 350 x 32 ports end below the ephemeral range (32768) */
#define BG_LINE_PREFIX	   "TESTGUEST bench "

extern char **environ;

static const char bench_guest_usage[] =
    "usage: vsmp-vmm bench guest [--nodes N] [--accel auto|kvm|emu] [--scale F] [--no-pin]\n"
    "  --nodes N   2..4 (default 3)\n"
    "  --accel     the CPU backend the guests run on (default auto: KVM if /dev/kvm opens)\n"
    "  --scale F   every kernel does F times its work, 0.001..1 (default 1)\n"
    "  --no-pin    the N nodes left to the host's scheduler, not each on CPUs of its own\n";

enum bg_kernel { BG_COMPUTE, BG_STREAM, BG_CONTENTION, BG_TSC, BG_KERNELS };

struct bg_kernel_spec {
	const char *name;
	unsigned iters; /* tg.iters: passes, elements per array per vCPU, adds per vCPU, rounds */
};

static const struct bg_kernel_spec bg_kernels[BG_KERNELS] = {
    [BG_COMPUTE] = {"compute", 100000},
    [BG_STREAM] = {"stream", 1 << 20},
    [BG_CONTENTION] = {"contention", 1000000},
    [BG_TSC] = {"tsc", 100},
};

enum bg_layout { BG_ONE_NODE, BG_SPREAD, BG_LAYOUTS };
static const char *const bg_layout_names[BG_LAYOUTS] = {"1 node x N vCPUs", "N nodes x 1 vCPU"};

struct bg_result {
	double compute_mwords_s, stream_mb_s, stream_warmup_ms, contention_mops_s;
	uint64_t handoffs;
	int64_t skew[BG_MAX_NODES], one_way[BG_MAX_NODES]; /* cycles, of vCPU i vs the BSP */
	double guest_behind_host_ms; /* host TSC when the line arrived - the guest's "now" */
};

struct bg_run {
	const char *dir;
	unsigned nodes, port_base;
	const char *accel; /* "kvm" or "emu" */
	double scale;	   /* of every kernel's iterations */
	bool no_pin;	   /* passed on to the guests' launcher */
	double tsc_hz;
	char output[BG_OUTPUT_MAX];
	uint64_t now_line_host_tsc; /* host TSC when the "bench tsc now=" line was complete */
};

static double bg_host_tsc_hz(void)
{
	struct timespec t0, t1, pause = {0, 200 * 1000 * 1000};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t c0 = __rdtsc();
	nanosleep(&pause, NULL);
	uint64_t c1 = __rdtsc();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return (double)(c1 - c0) / s;
}

static unsigned bg_iters(const struct bg_run *r, enum bg_kernel k)
{
	double iters = bg_kernels[k].iters * r->scale;
	return iters < 1 ? 1 : (unsigned)iters;
}

static int bg_write_config(const struct bg_run *r, enum bg_layout layout, enum bg_kernel k,
			   unsigned port, char *path, size_t pathlen, char *err, size_t errlen)
{
	snprintf(path, pathlen, "%s/%s-%u.toml", r->dir, bg_kernels[k].name, (unsigned)layout);
	FILE *f = fopen(path, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f,
		"[cluster]\nname = \"bench-guest\"\nmode = \"system\"\nkey_file = "
		"\"%s/cluster.key\"\n[guest]\nkind = \"testguest\"\naccel = \"%s\"\n"
		"cmdline = \"tg.bench=%s tg.iters=%u\"\n",
		r->dir, r->accel, bg_kernels[k].name, bg_iters(r, k));
	unsigned nodes = layout == BG_ONE_NODE ? 1 : r->nodes;
	unsigned vcpus = layout == BG_ONE_NODE ? r->nodes : 1;
	for (unsigned i = 0; i < nodes; i++)
		fprintf(f,
			"[[node]]\nname = \"n%u\"\naddress = \"127.0.0.1:%u\"\nvcpus = %u\n"
			"memory_mib = %u\n",
			i, port + i, vcpus, BG_NODE_MEMORY_MIB * vcpus);
	fprintf(f, "[[device]]\nkind = \"uart\"\nowner = \"n0\"\n[[device]]\nkind = "
		   "\"debug-exit\"\nowner = \"n0\"\n");
	if (fclose(f) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

static pid_t bg_spawn(const struct bg_run *r, const char *config, const char *errpath, int out_fd,
		      char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errpath, O_WRONLY | O_CREAT | O_TRUNC,
					 0600);
	char *argv[] = {"vsmp-vmm", "--config", (char *)config, r->no_pin ? "--no-pin" : NULL,
			NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start vsmp-vmm: %s", strerror(rc));
		return -1;
	}
	return pid;
}

static uint64_t bg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads the child's stdout into r->output until EOF or the time limit, noting when the guest's
 * "now=" line is complete. Returns 0, or -1 on timeout. */
static int bg_collect(struct bg_run *r, int fd)
{
	size_t len = 0;
	uint64_t deadline = bg_now_ms() + BG_RUN_TIMEOUT_MS;
	r->now_line_host_tsc = 0;
	for (;;) {
		uint64_t now = bg_now_ms();
		if (now >= deadline)
			return -1;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return -1;
		char chunk[4096];
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		size_t keep = (size_t)n < sizeof(r->output) - 1 - len ? (size_t)n
								      : sizeof(r->output) - 1 - len;
		memcpy(r->output + len, chunk, keep);
		len += keep;
		r->output[len] = '\0';
		const char *now_line = strstr(r->output, BG_LINE_PREFIX "tsc now=");
		if (!r->now_line_host_tsc && now_line && strchr(now_line, '\n'))
			r->now_line_host_tsc = __rdtsc();
	}
	return 0;
}

/* Copies the end of a failed child's stderr to ours: the child says there why it failed. A tail
 * cut mid-line starts at its next line. */
static void bg_show_stderr(const char *errpath, const char *config)
{
	int fd = open(errpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char tail[BG_STDERR_TAIL + 1];
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > BG_STDERR_TAIL ? size - BG_STDERR_TAIL : 0;
	ssize_t n = size > 0 ? pread(fd, tail, BG_STDERR_TAIL, from) : 0;
	close(fd);
	if (n <= 0)
		return;
	tail[n] = '\0';
	const char *start = from > 0 && strchr(tail, '\n') ? strchr(tail, '\n') + 1 : tail;
	fprintf(stderr, "bench guest: %s of the stderr of vsmp-vmm --config %s:\n%s",
		from > 0 ? "the end" : "all", config, start);
}

/* Runs one configuration to its end; r->output holds what the guest printed. */
static int bg_run_child(struct bg_run *r, const char *config, char *err, size_t errlen)
{
	char errpath[160];
	snprintf(errpath, sizeof(errpath), "%s.err", config);
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = bg_spawn(r, config, errpath, pipefd[1], err, errlen);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return -1;
	}
	bool timed_out = bg_collect(r, pipefd[0]) < 0;
	close(pipefd[0]);
	if (timed_out)
		kill(pid, SIGTERM);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	bool failed = timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	if (failed)
		bg_show_stderr(errpath, config);
	unlink(errpath);
	if (failed) {
		const char *fail = strstr(r->output, "TESTGUEST FAIL");
		snprintf(err, errlen, "%s: %s%.*s", config,
			 timed_out ? "no end within the time limit"
				   : "vsmp-vmm did not exit with status 0",
			 fail ? 160 : 0, fail ? fail : "");
		return -1;
	}
	return 0;
}

/* The value of " key=" in the output line that starts with `line_start`, searched from `from`. */
static int bg_field(const char *from, const char *line_start, const char *key, int64_t *value)
{
	const char *line = strstr(from, line_start);
	if (!line)
		return -1;
	const char *eol = strchr(line, '\n');
	size_t line_len = eol ? (size_t)(eol - line) : strlen(line);
	char pattern[64];
	snprintf(pattern, sizeof(pattern), " %s=", key);
	const char *at = strstr(line, pattern);
	if (!at || at >= line + line_len)
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(at + strlen(pattern), &end, 10);
	if (errno || end == at + strlen(pattern))
		return -1;
	*value = v;
	return 0;
}

static double bg_seconds(const struct bg_run *r, int64_t cycles)
{
	return (double)cycles / r->tsc_hz;
}

static int bg_parse_tsc(const struct bg_run *r, unsigned vcpus, struct bg_result *res)
{
	for (unsigned cpu = 1; cpu < vcpus; cpu++) {
		char start[64];
		snprintf(start, sizeof(start), BG_LINE_PREFIX "tsc cpu=%u ", cpu);
		if (bg_field(r->output, start, "skew_cycles", &res->skew[cpu]) < 0 ||
		    bg_field(r->output, start, "one_way_cycles", &res->one_way[cpu]) < 0)
			return -1;
	}
	int64_t guest_now;
	const char *now = strstr(r->output, BG_LINE_PREFIX "tsc now=");
	if (!now || !r->now_line_host_tsc)
		return -1;
	errno = 0;
	guest_now = strtoll(now + strlen(BG_LINE_PREFIX "tsc now="), NULL, 10);
	if (errno)
		return -1;
	res->guest_behind_host_ms =
	    bg_seconds(r, (int64_t)r->now_line_host_tsc - guest_now) * 1000.0;
	return 0;
}

/* Turns the guest's line for kernel k into rates in res. */
static int bg_parse(const struct bg_run *r, enum bg_kernel k, unsigned vcpus, struct bg_result *res)
{
	char start[64];
	snprintf(start, sizeof(start), BG_LINE_PREFIX "%s vcpus=", bg_kernels[k].name);
	int64_t cycles, amount, extra;
	if (k == BG_TSC)
		return bg_parse_tsc(r, vcpus, res);
	if (bg_field(r->output, start, "cycles", &cycles) < 0 || cycles <= 0)
		return -1;
	double s = bg_seconds(r, cycles);
	switch (k) {
	case BG_COMPUTE:
		if (bg_field(r->output, start, "words", &amount) < 0)
			return -1;
		res->compute_mwords_s = (double)amount / s / 1e6;
		return 0;
	case BG_STREAM:
		if (bg_field(r->output, start, "bytes", &amount) < 0 ||
		    bg_field(r->output, start, "warmup_cycles", &extra) < 0)
			return -1;
		res->stream_mb_s = (double)amount / s / 1e6;
		res->stream_warmup_ms = bg_seconds(r, extra) * 1000.0;
		return 0;
	default:
		if (bg_field(r->output, start, "ops", &amount) < 0 ||
		    bg_field(r->output, start, "handoffs", &extra) < 0)
			return -1;
		res->contention_mops_s = (double)amount / s / 1e6;
		res->handoffs = (uint64_t)extra;
		return 0;
	}
}

static int bg_measure(struct bg_run *r, enum bg_layout layout, struct bg_result *res, char *err,
		      size_t errlen)
{
	for (unsigned k = 0; k < BG_KERNELS; k++) {
		char config[128];
		unsigned port = r->port_base + (layout * BG_KERNELS + k) * BG_MAX_NODES;
		if (bg_write_config(r, layout, k, port, config, sizeof(config), err, errlen) < 0)
			return -1;
		fprintf(stderr, "bench guest: %s on %s...\n", bg_kernels[k].name,
			bg_layout_names[layout]);
		int rc = bg_run_child(r, config, err, errlen);
		unlink(config);
		if (rc < 0)
			return -1;
		if (bg_parse(r, k, r->nodes, res) < 0) {
			snprintf(err, errlen, "%s on %s: no result line from the guest",
				 bg_kernels[k].name, bg_layout_names[layout]);
			return -1;
		}
	}
	return 0;
}

static void bg_print_ratio(const char *what, const char *unit, double one, double spread,
			   const char *goal)
{
	printf("%-24s %12.1f %-6s %12.1f %-6s %6.2fx  %s\n", what, one, unit, spread, unit,
	       spread / one, goal);
}

static void bg_print_skews(const char *what, const struct bg_result *res, unsigned n, double hz)
{
	for (unsigned cpu = 1; cpu < n; cpu++)
		printf("TSC skew %-16s vCPU %u - vCPU 0: %10.1f us  (+- %.1f us one-way latency)\n",
		       what, cpu, (double)res->skew[cpu] / hz * 1e6,
		       (double)res->one_way[cpu] / hz * 1e6);
}

static void bg_json_skews(const struct bg_result *res, unsigned n)
{
	printf("[");
	for (unsigned cpu = 1; cpu < n; cpu++)
		printf("%s{\"skew_cycles\": %" PRId64 ", \"one_way_cycles\": %" PRId64 "}",
		       cpu > 1 ? ", " : "", res->skew[cpu], res->one_way[cpu]);
	printf("]");
}

static void bg_report(const struct bg_run *r, const struct bg_result *one,
		      const struct bg_result *spread)
{
	unsigned n = r->nodes;
	printf("vsmp-vmm bench guest: 1 node x %u vCPUs vs %u nodes x 1 vCPU (%s, guest TSC %.3f "
	       "GHz, the nodes %s)\n",
	       n, n, r->accel, r->tsc_hz / 1e9,
	       r->no_pin ? "not pinned"
			 : "pinned to CPUs of their own as the launcher places them");
	printf("%-24s %19s %19s %7s\n", "kernel", "1 node", "N nodes", "ratio");
	bg_print_ratio("compute", "Mw/s", one->compute_mwords_s, spread->compute_mwords_s,
		       "(goal >= 0.9x)");
	bg_print_ratio("stream triad", "MB/s", one->stream_mb_s, spread->stream_mb_s,
		       "(goal >= 0.8x)");
	bg_print_ratio("contention (lock xadd)", "Mops/s", one->contention_mops_s,
		       spread->contention_mops_s, "");
	printf("stream warm-up pass: %.1f ms on 1 node, %.1f ms on %u nodes\n",
	       one->stream_warmup_ms, spread->stream_warmup_ms, n);
	printf("contention hand-offs between vCPUs: %" PRIu64 " on 1 node, %" PRIu64
	       " on %u nodes\n",
	       one->handoffs, spread->handoffs, n);
	bg_print_skews("on 1 node,", one, n, r->tsc_hz);
	bg_print_skews("across nodes,", spread, n, r->tsc_hz);
	/* The interpreter's TSC counts from the guest's start, not from the host TSC's origin. */
	if (strcmp(r->accel, "kvm") == 0)
		printf("guest TSC behind host TSC (incl. ~ms of printing): %.1f ms on 1 node, %.1f "
		       "ms on %u nodes\n",
		       one->guest_behind_host_ms, spread->guest_behind_host_ms, n);
	printf("{\"nodes\": %u, \"pinned\": %s, \"accel\": \"%s\", \"tsc_hz\": %.0f, "
	       "\"compute_mwords_s\": [%.1f, "
	       "%.1f], "
	       "\"compute_ratio\": %.3f, \"stream_mb_s\": [%.1f, %.1f], \"stream_ratio\": %.3f, "
	       "\"stream_warmup_ms\": [%.1f, %.1f], \"contention_mops_s\": [%.3f, %.3f], "
	       "\"contention_ratio\": %.3f, \"contention_handoffs\": [%" PRIu64 ", %" PRIu64 "], "
	       "\"guest_behind_host_ms\": [%.1f, %.1f], \"tsc_one_node\": ",
	       n, r->no_pin ? "false" : "true", r->accel, r->tsc_hz, one->compute_mwords_s,
	       spread->compute_mwords_s, spread->compute_mwords_s / one->compute_mwords_s,
	       one->stream_mb_s, spread->stream_mb_s, spread->stream_mb_s / one->stream_mb_s,
	       one->stream_warmup_ms, spread->stream_warmup_ms, one->contention_mops_s,
	       spread->contention_mops_s, spread->contention_mops_s / one->contention_mops_s,
	       one->handoffs, spread->handoffs, one->guest_behind_host_ms,
	       spread->guest_behind_host_ms);
	bg_json_skews(one, n);
	printf(", \"tsc_nodes\": ");
	bg_json_skews(spread, n);
	printf("}\n");
}

static int bg_bad_value(const char *option, const char *value)
{
	fprintf(stderr, "vsmp-vmm: invalid value for %s: '%s'\n%s", option, value,
		bench_guest_usage);
	return -1;
}

/* 0 to run, 1 once --help has printed the usage, -1 on bad arguments. */
static int bg_parse_args(int argc, char **argv, struct bg_run *r)
{
	r->nodes = BG_DEFAULT_NODES;
	r->accel = "auto";
	r->scale = 1;
	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;
		if (is_help_option(argv[i])) {
			fputs(bench_guest_usage, stdout);
			return 1;
		}
		if (strcmp(argv[i], "--nodes") == 0 && value) {
			unsigned long n = strtoul(argv[++i], &end, 10);
			if (*end || n < 2 || n > BG_MAX_NODES) {
				fprintf(stderr, "vsmp-vmm: --nodes takes 2..%d\n", BG_MAX_NODES);
				return -1;
			}
			r->nodes = (unsigned)n;
		} else if (strcmp(argv[i], "--accel") == 0 && value) {
			enum accel_kind kind;
			if (accel_kind_from_name(argv[++i], &kind) < 0)
				return bg_bad_value("--accel", value);
			r->accel = accel_kind_name(kind);
		} else if (strcmp(argv[i], "--no-pin") == 0) {
			r->no_pin = true;
		} else if (strcmp(argv[i], "--scale") == 0 && value) {
			r->scale = strtod(argv[++i], &end);
			if (*end || !(r->scale >= 0.001 && r->scale <= 1))
				return bg_bad_value("--scale", value);
		} else {
			fprintf(stderr, "vsmp-vmm: unexpected argument '%s'\n%s", argv[i],
				bench_guest_usage);
			return -1;
		}
	}
	return 0;
}

/* auto becomes what the VMM would take; the guest TSC's rate follows from it. */
static void bg_resolve_accel(struct bg_run *r)
{
	char err[256];
	if (strcmp(r->accel, "auto") == 0)
		r->accel = kvm_available(err, sizeof(err)) == 0 ? "kvm" : "emu";
	r->tsc_hz = strcmp(r->accel, "kvm") == 0 ? bg_host_tsc_hz() : 1e9;
	fprintf(stderr, "bench guest: guests run on %s, TSC %.3f GHz\n", r->accel, r->tsc_hz / 1e9);
}

int bench_guest_main(int argc, char **argv)
{
	static struct bg_run run;
	char dir[256], key[288], err[512];
	int parsed = bg_parse_args(argc, argv, &run);
	if (parsed != 0)
		return parsed < 0 ? VMM_EXIT_BAD_INPUT : 0;
	if (bench_make_temp_dir("bench-guest", dir, sizeof(dir)) < 0)
		return VMM_EXIT_HOST_ERROR;
	snprintf(key, sizeof(key), "%s/cluster.key", dir);
	run.dir = dir;
	run.port_base = BG_PORT_FIRST + (unsigned)getpid() % BG_PORT_SLOTS *
					    (BG_LAYOUTS * BG_KERNELS * BG_MAX_NODES);
	bg_resolve_accel(&run);
	struct bg_result one = {0}, spread = {0};
	int rc = cluster_key_generate(key, err, sizeof(err));
	if (rc == 0)
		rc = bg_measure(&run, BG_ONE_NODE, &one, err, sizeof(err));
	if (rc == 0)
		rc = bg_measure(&run, BG_SPREAD, &spread, err, sizeof(err));
	unlink(key);
	rmdir(dir);
	if (rc < 0) {
		log_error("bench guest: %s", err);
		return VMM_EXIT_HOST_ERROR;
	}
	bg_report(&run, &one, &spread);
	return 0;
}
