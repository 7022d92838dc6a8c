/* `vsmp-vmm bench cpu`: how much slower the interpreter (vmm/cpu/emu/) runs guest code than the
 * host runs the same code. firmware/testguest/cpu_kernels.c is compiled into this executable and
 * into the test guest, and its timed loops are inline assembly, so both sides execute the same
 * instructions on the same data; every kernel returns a checksum, and a guest checksum that
 * differs from the native one means the interpreter computed something wrong.
 *
 * Native: each kernel runs BC_NATIVE_RUNS times here (its buffer refilled, untimed, before
 * each) and the fastest run counts. Native runs take milliseconds, so more of them than the
 * guest's CPU_KERNEL_RUNS cost nothing and find the host's speed more surely on a busy host; if
 * anything this errs towards a larger slowdown.
 * Guest: one machine in this process, 1 node x 1 vCPU, accel "emu", the test guest with
 * tg.bench=cpu tg.iters=N (firmware/testguest/bench_cpu.c). It runs each kernel CPU_KERNEL_RUNS
 * times too, each run between two writes to the bench-mark port, and the fastest run counts. The
 * bench puts its own handler in front of the machine's for those writes (struct bc_marks); the
 * interpreter calls it on the vCPU's thread, in the middle of the `out`, so the run is timed on
 * the host and no guest clock is involved. That is why the guest runs in this process and not as
 * a child VMM. Its console goes to a memfd and its "TESTGUEST bench cpu ..." lines give the
 * checksums; a failed guest's console is copied to stderr.
 *
 * Time: both sides are timed with the running thread's CPU time (CLOCK_THREAD_CPUTIME_ID: the
 * vCPU thread's for the guest), which the other jobs of a shared host barely change, while a
 * guest run of seconds on a busy host loses a large and varying share of its wall time to them.
 * Slowdowns and MIPS come from CPU time; the wall time (CLOCK_MONOTONIC) is printed beside it.
 *
 * Instructions: each kernel's loop retires a fixed number of instructions per iteration
 * (cpu_kernels.h), so the guest's instruction count is iterations x that number; the few
 * instructions outside the loops (setup, the mark writes) are left out. */
#include "vmm/cmd/bench_cpu.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "devices/debug_port.h"
#include "firmware/testguest/cpu_kernels.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/node_options.h"

#define BC_DEFAULT_ITERS 1000000
#define BC_MAX_ITERS	 1000000000ull /* the guest's tg.iters limit */
#define BC_NATIVE_RUNS	 10
#define BC_GUEST_MIB	 64 /* the guest's buffers need 16 MiB + 4 KiB above its image */
#define BC_CONSOLE_MAX	 (64 * 1024)
#define BC_LINE_PREFIX	 "TESTGUEST bench cpu kernel="
/* Kept marks: the guest's first instruction's (0), then two per run. */
#define BC_MAX_MARKS (1 + 2 * CPU_KERNEL_COUNT * CPU_KERNEL_RUNS)

static const char bench_cpu_usage[] =
    "usage: vsmp-vmm bench cpu [--iters N]   (N = 1..1000000000 iterations per kernel, default "
    "1000000)\n";

struct bc_kernel_spec {
	const char *name;
	unsigned insns_per_iter;
};

static const struct bc_kernel_spec bc_kernels[CPU_KERNEL_COUNT] = {
    [CPU_KERNEL_INT] = {"int", CPU_KERNEL_INT_INSNS_PER_ITER},
    [CPU_KERNEL_MEM] = {"mem", CPU_KERNEL_MEM_INSNS_PER_ITER},
    [CPU_KERNEL_SSE] = {"sse", CPU_KERNEL_SSE_INSNS_PER_ITER},
};

/* A run's length, or a moment, on the two clocks. */
struct bc_times {
	uint64_t cpu_ns, wall_ns;
};

struct bc_result {
	struct bc_times native, guest; /* the fastest run on each clock */
	uint64_t native_sum, guest_sum;
};

/* The guest's marks with the vCPU thread's clocks, in the order it wrote them. */
struct bc_marks {
	struct debug_port machine; /* the machine's own handler: each call goes on to it */
	atomic_uint count;
	uint32_t value[BC_MAX_MARKS];
	struct bc_times at[BC_MAX_MARKS];
};

static uint64_t bc_clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct bc_times bc_now(void)
{
	return (struct bc_times){bc_clock_ns(CLOCK_THREAD_CPUTIME_ID),
				 bc_clock_ns(CLOCK_MONOTONIC)};
}

static void bc_keep_fastest(struct bc_times *best, struct bc_times start, struct bc_times end)
{
	if (end.cpu_ns - start.cpu_ns < best->cpu_ns)
		best->cpu_ns = end.cpu_ns - start.cpu_ns;
	if (end.wall_ns - start.wall_ns < best->wall_ns)
		best->wall_ns = end.wall_ns - start.wall_ns;
}

/* The fastest of BC_NATIVE_RUNS runs of each kernel; -1 if a kernel's checksum changed from
 * one run to the next (it must not: the kernels are deterministic). */
static int bc_native(uint64_t iters, struct bc_result res[CPU_KERNEL_COUNT])
{
	uint64_t *mem = aligned_alloc(4096, CPU_KERNEL_MEM_BYTES);
	uint64_t *sse = aligned_alloc(4096, CPU_KERNEL_SSE_BYTES);
	int rc = mem && sse ? 0 : -1;
	if (rc < 0)
		log_error("bench cpu: cannot allocate the native buffers");
	for (unsigned k = 0; rc == 0 && k < CPU_KERNEL_COUNT; k++) {
		res[k].native = (struct bc_times){UINT64_MAX, UINT64_MAX};
		for (unsigned r = 0; r < BC_NATIVE_RUNS; r++) {
			uint64_t sum;
			struct bc_times start;
			if (k == CPU_KERNEL_MEM)
				cpu_kernel_mem_init(mem);
			else if (k == CPU_KERNEL_SSE)
				cpu_kernel_sse_init(sse);
			start = bc_now();
			if (k == CPU_KERNEL_INT)
				sum = cpu_kernel_int(iters);
			else if (k == CPU_KERNEL_MEM)
				sum = cpu_kernel_mem(mem, iters);
			else
				sum = cpu_kernel_sse(sse, iters);
			bc_keep_fastest(&res[k].native, start, bc_now());
			if (r > 0 && sum != res[k].native_sum) {
				log_error("bench cpu: native %s: the checksum changed",
					  bc_kernels[k].name);
				rc = -1;
			}
			res[k].native_sum = sum;
		}
	}
	free(mem);
	free(sse);
	return rc;
}

/* The debug port's mark, on the writing vCPU's thread: the clocks first, then the machine's. */
static void bc_mark(void *ctx, unsigned vcpu, uint32_t value)
{
	struct bc_marks *marks = ctx;
	struct bc_times now = bc_now();
	unsigned slot = atomic_fetch_add(&marks->count, 1);
	if (slot < BC_MAX_MARKS) {
		marks->value[slot] = value;
		marks->at[slot] = now;
	}
	marks->machine.ops->mark(marks->machine.ctx, vcpu, value);
}

static void bc_exit(void *ctx, unsigned vcpu, uint8_t status)
{
	struct bc_marks *marks = ctx;
	marks->machine.ops->exit(marks->machine.ctx, vcpu, status);
}

static const struct debug_port_ops bc_debug_ops = {.exit = bc_exit, .mark = bc_mark};

/* The fastest of kernel k's runs between its marks; -1 unless all CPU_KERNEL_RUNS runs have
 * both marks. One vCPU writes them all, so they are in order. */
static int bc_guest_times(const struct bc_marks *marks, enum cpu_kernel k, struct bc_times *best)
{
	unsigned n = atomic_load(&marks->count), runs = 0;
	int start = -1;
	*best = (struct bc_times){UINT64_MAX, UINT64_MAX};
	for (unsigned i = 0; i < n && i < BC_MAX_MARKS; i++) {
		if (marks->value[i] == CPU_KERNEL_MARK_START(k))
			start = (int)i;
		if (marks->value[i] != CPU_KERNEL_MARK_END(k) || start < 0)
			continue;
		bc_keep_fastest(best, marks->at[start], marks->at[i]);
		start = -1;
		runs++;
	}
	return runs == CPU_KERNEL_RUNS ? 0 : -1;
}

/* What the guest printed, NUL-terminated, from the start of the memfd. */
static void bc_read_console(int fd, char *out, size_t cap)
{
	ssize_t n = pread(fd, out, cap - 1, 0);
	out[n > 0 ? n : 0] = '\0';
}

/* The checksum on the guest's line for kernel k. */
static int bc_guest_sum(const char *console, enum cpu_kernel k, uint64_t iters, uint64_t *sum)
{
	char start[96];
	snprintf(start, sizeof(start), BC_LINE_PREFIX "%s iters=%" PRIu64 " checksum=0x",
		 bc_kernels[k].name, iters);
	const char *line = strstr(console, start);
	if (!line)
		return -1;
	char *end;
	errno = 0;
	*sum = strtoull(line + strlen(start), &end, 16);
	return errno || end == line + strlen(start) ? -1 : 0;
}

/* Shows why the guest run failed: the VMM said so on stderr already; the guest's console (its
 * FAIL line) went to the memfd. */
static void bc_show_console(const char *console)
{
	size_t len = strlen(console);
	fprintf(stderr, "bench cpu: the guest's console:%s%s%s", len ? "\n" : " (empty)\n", console,
		len && console[len - 1] != '\n' ? "\n" : "");
}

/* Runs tg.bench=cpu on the interpreter and fills in the guest half of res. */
static int bc_guest(uint64_t iters, struct bc_result res[CPU_KERNEL_COUNT])
{
	static char console[BC_CONSOLE_MAX];
	static struct bc_marks marks;
	char toml[512], err[1024];
	snprintf(toml, sizeof(toml),
		 "[cluster]\nname = \"bench-cpu\"\n[guest]\nkind = \"testguest\"\naccel = "
		 "\"emu\"\ncmdline = \"tg.bench=cpu tg.iters=%" PRIu64
		 "\"\n[[node]]\nname = \"n0\"\nvcpus = 1\nmemory_mib = %d\n",
		 iters, BC_GUEST_MIB);
	struct cluster_config cfg;
	if (config_parse(toml, strlen(toml), "bench-cpu", ".", &cfg, err, sizeof(err)) < 0) {
		log_error("bench cpu: %s", err);
		return -1;
	}
	int console_fd = memfd_create("vsmp-bench-cpu-console", MFD_CLOEXEC);
	if (console_fd < 0) {
		log_error("bench cpu: memfd_create: %s", strerror(errno));
		config_free(&cfg);
		return -1;
	}
	struct machine m;
	int rc = -1;
	if (machine_create(&m, &cfg, 0, NULL, err, sizeof(err)) < 0) {
		log_error("bench cpu: %s", err);
		goto out;
	}
	m.console_out = console_fd;
	marks.machine = m.debug_port;
	atomic_store(&marks.count, 0);
	m.debug_port = (struct debug_port){&bc_debug_ops, &marks};
	int status = machine_run(&m);
	bc_read_console(console_fd, console, sizeof(console));
	if (status != 0) {
		log_error("bench cpu: the guest on the interpreter stopped with status %d", status);
		bc_show_console(console);
		goto out;
	}
	for (unsigned k = 0; k < CPU_KERNEL_COUNT; k++) {
		bool timed = bc_guest_times(&marks, k, &res[k].guest) == 0;
		if (!timed || bc_guest_sum(console, k, iters, &res[k].guest_sum) < 0) {
			log_error("bench cpu: no %s of the %s kernel from the guest",
				  timed ? "result line" : "marks", bc_kernels[k].name);
			bc_show_console(console);
			goto out;
		}
	}
	rc = 0;
out:
	machine_destroy(&m);
	close(console_fd);
	config_free(&cfg);
	return rc;
}

static double bc_mips(uint64_t iters, unsigned insns_per_iter, uint64_t ns)
{
	return (double)iters * insns_per_iter / ((double)ns / 1e9) / 1e6;
}

/* Prints the table and the JSON line; false if a checksum differs. */
static bool bc_report(uint64_t iters, const struct bc_result res[CPU_KERNEL_COUNT])
{
	bool match = true;
	struct bc_times guest = {0, 0};
	double insns = 0;
	printf("vsmp-vmm bench cpu: %" PRIu64 " iterations per kernel, the interpreter (1 vCPU) "
	       "against this host, same code\n"
	       "times: CPU time of the running thread, fastest of %d native and %d guest runs\n",
	       iters, BC_NATIVE_RUNS, CPU_KERNEL_RUNS);
	printf("%-6s %10s %10s %9s %10s %11s %13s  %s\n", "kernel", "native ms", "guest ms",
	       "slowdown", "guest MIPS", "native MIPS", "guest wall ms", "checksum");
	for (unsigned k = 0; k < CPU_KERNEL_COUNT; k++) {
		const struct bc_result *r = &res[k];
		unsigned per_iter = bc_kernels[k].insns_per_iter;
		bool same = r->guest_sum == r->native_sum;
		match = match && same;
		guest.cpu_ns += r->guest.cpu_ns;
		guest.wall_ns += r->guest.wall_ns;
		insns += (double)iters * per_iter;
		printf("%-6s %10.3f %10.3f %8.1fx %10.2f %11.1f %13.3f  0x%016" PRIx64 " %s\n",
		       bc_kernels[k].name, (double)r->native.cpu_ns / 1e6,
		       (double)r->guest.cpu_ns / 1e6,
		       (double)r->guest.cpu_ns / (double)r->native.cpu_ns,
		       bc_mips(iters, per_iter, r->guest.cpu_ns),
		       bc_mips(iters, per_iter, r->native.cpu_ns), (double)r->guest.wall_ns / 1e6,
		       r->native_sum, same ? "ok" : "MISMATCH");
		if (!same)
			printf("MISMATCH: the %s kernel's checksum in the guest is 0x%016" PRIx64
			       "\n",
			       bc_kernels[k].name, r->guest_sum);
	}
	double guest_mips = insns / ((double)guest.cpu_ns / 1e9) / 1e6;
	double guest_wall_mips = insns / ((double)guest.wall_ns / 1e9) / 1e6;
	printf("guest instructions per second, all three kernels: %.2f MIPS (%.2f by wall time); "
	       "counted by construction: %u, %u and %u per iteration\n",
	       guest_mips, guest_wall_mips, CPU_KERNEL_INT_INSNS_PER_ITER,
	       CPU_KERNEL_MEM_INSNS_PER_ITER, CPU_KERNEL_SSE_INSNS_PER_ITER);
	printf("{\"iters\": %" PRIu64 ", \"guest_mips\": %.3f, \"guest_wall_mips\": %.3f", iters,
	       guest_mips, guest_wall_mips);
	for (unsigned k = 0; k < CPU_KERNEL_COUNT; k++) {
		const struct bc_result *r = &res[k];
		const char *name = bc_kernels[k].name;
		printf(", \"%s_slowdown\": %.2f, \"%s_native_ns\": %" PRIu64
		       ", \"%s_guest_ns\": %" PRIu64 ", \"%s_guest_mips\": %.3f, "
		       "\"%s_native_wall_ns\": %" PRIu64 ", \"%s_guest_wall_ns\": %" PRIu64,
		       name, (double)r->guest.cpu_ns / (double)r->native.cpu_ns, name,
		       r->native.cpu_ns, name, r->guest.cpu_ns, name,
		       bc_mips(iters, bc_kernels[k].insns_per_iter, r->guest.cpu_ns), name,
		       r->native.wall_ns, name, r->guest.wall_ns);
	}
	printf(", \"checksums_match\": %s}\n", match ? "true" : "false");
	return match;
}

/* 0 to run, 1 once --help has printed the usage, -1 on bad arguments. */
static int bc_parse_args(int argc, char **argv, uint64_t *iters)
{
	*iters = BC_DEFAULT_ITERS;
	for (int i = 1; i < argc; i++) {
		unsigned long long n;
		if (is_help_option(argv[i])) {
			fputs(bench_cpu_usage, stdout);
			return 1;
		}
		if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
			if (parse_decimal(argv[++i], BC_MAX_ITERS, &n) < 0 || n == 0) {
				fprintf(stderr, "vsmp-vmm: --iters takes 1..%llu\n", BC_MAX_ITERS);
				return -1;
			}
			*iters = n;
		} else {
			fprintf(stderr, "vsmp-vmm: unexpected argument '%s'\n%s", argv[i],
				bench_cpu_usage);
			return -1;
		}
	}
	return 0;
}

int bench_cpu_main(int argc, char **argv)
{
	uint64_t iters;
	struct bc_result res[CPU_KERNEL_COUNT] = {0};
	int parsed = bc_parse_args(argc, argv, &iters);
	if (parsed != 0)
		return parsed < 0 ? VMM_EXIT_BAD_INPUT : 0;
	fprintf(stderr, "bench cpu: %" PRIu64 " iterations natively...\n", iters);
	if (bc_native(iters, res) < 0)
		return 1;
	fprintf(stderr, "bench cpu: the same in the test guest on the interpreter...\n");
	if (bc_guest(iters, res) < 0)
		return 1;
	return bc_report(iters, res) ? 0 : 1;
}
