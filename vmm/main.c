/* vsmp-vmm's command line: parse arguments, load and validate the configuration, then either
 * run this node's part of the guest or a benchmark. Exit statuses are listed in --help. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cmd/bench.h"
#include "vmm/cmd/cmd_cluster.h"
#include "vmm/cmd/cmd_memtest.h"
#include "vmm/config.h"
#include "vmm/launcher.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/node_cluster.h"
#include "vmm/node_options.h"
#include "vmm/prom_file.h"

static const char usage_text[] =
    "usage: vsmp-vmm --config FILE [--node NAME] [--netns] [--no-pin] [--accel auto|kvm|emu]\n"
    "                [--check-config] [--stats N] [--stats-prometheus DIR] [--profile]\n"
    "                [--verbose]\n"
    "       vsmp-vmm bench exits [--iters N]\n"
    "       vsmp-vmm bench coherence [--local N] [--no-pin]\n"
    "       vsmp-vmm bench memory\n"
    "       vsmp-vmm bench guest [--nodes N] [--accel auto|kvm|emu] [--scale F] [--no-pin]\n"
    "       vsmp-vmm bench cpu [--iters N]\n"
    "       vsmp-vmm keygen FILE\n"
    "       vsmp-vmm cluster-check --config FILE [--node NAME] [--netns] [--seconds S] [--rtt N]\n"
    "       vsmp-vmm memtest --config FILE [--node NAME] [--netns] [--test LIST] ...\n"
    "       vsmp-vmm --help | --version\n"
    "\n"
    "Runs one guest across the nodes described by a cluster.toml (see docs/config.md).\n"
    "\n"
    "  -c, --config FILE   the cluster description (TOML)\n"
    "  -n, --node NAME     run only this node of the configuration (one per host); without\n"
    "                      it, every node is started as a process on this host\n"
    "      --netns         with several local nodes: each in its own network namespace\n"
    "      --no-pin        with several local nodes: leave them to the scheduler. Without\n"
    "                      it the nodes with vCPUs share the CPUs this process may use\n"
    "                      (taskset narrows them): each its own when there are enough,\n"
    "                      else node 0 one to itself and the others the rest, in turn\n"
    "      --accel KIND    what runs this node's vCPUs, in place of [guest] accel: kvm, emu\n"
    "                      (vsmp-vmm's own x86 interpreter) or auto (KVM if this host can\n"
    "                      create a VM, else emu)\n"
    "      --check-config  validate the configuration and, with several nodes, this node's\n"
    "                      key file, and exit (0 valid, 2 invalid)\n"
    "      --stats N       every N seconds (1 to 3600), each node prints its coherence\n"
    "                      counters on stderr (resident lent pages, misses, evictions,\n"
    "                      write-backs, prefetches, bytes each way), and once at the end\n"
    "                      (memory mode prints that summary without --stats too)\n"
    "      --stats-prometheus DIR\n"
    "                      each node also writes those counters as Prometheus text\n"
    "                      exposition to DIR/vsmp-CLUSTER-NODE.prom (node_exporter's\n"
    "                      textfile collector reads such a directory), replaced atomically\n"
    "                      when it starts, every --stats N seconds and at the end; DIR\n"
    "                      must be a writable directory. Needs several nodes\n"
    "      --profile       at exit, each node prints the 20 guest code pages (linear RIP\n"
    "                      >> 12; interpreter only) that ran the most instructions and the\n"
    "                      20 guest-physical pages that took the most read and write\n"
    "                      coherence faults on it (docs/benchmarks.md)\n"
    "  -v, --verbose       log VMM internals (exits ignored by policy, SIPIs, ...)\n"
    "  -h, --help          this text\n"
    "\n"
    "  bench exits         time to the first guest instruction, the PIO exit round trip and\n"
    "                      the IPI round trip between two vCPUs, against bare KVM\n"
    "                      (needs /dev/kvm)\n"
    "  bench coherence     remote read and write faults, page ping-pong and a vCPU's remote\n"
    "                      read on N local nodes (node k pinned to CPU k unless --no-pin),\n"
    "                      against the transport round trip + a local fault\n"
    "  bench memory        memory mode on 3 local nodes: sequential read/write and random\n"
    "                      access over 4x the cache in lent memory, against the transport's\n"
    "                      4 KiB round trip and all-local memory; then the write pass\n"
    "                      again with replicas = 2 (the cost of the second copy)\n"
    "  bench guest         compute, STREAM and a shared counter inside the test guest on\n"
    "                      1 node x N vCPUs and N nodes x 1 vCPU, as ratios\n"
    "  bench cpu           integer, memory and SSE kernels in the test guest on the\n"
    "                      interpreter against the same code natively: slowdowns, MIPS\n"
    "                      (every benchmark measures its floor in the same run:\n"
    "                      docs/benchmarks.md)\n"
    "  keygen FILE         create a cluster key file (mode 0600) for [cluster] key_file\n"
    "  cluster-check       form the configuration's cluster without a guest and exercise its\n"
    "                      transport (docs/cluster.md)\n"
    "  memtest             coherence litmus tests and a checked stress across the nodes,\n"
    "                      without a guest (vsmp-vmm memtest --help)\n"
    "\n"
    "The guest's console (its UART) is node 0's stdin/stdout; diagnostics go to stderr.\n"
    "Exit status: the guest's own (debug-exit port value; 0 after an ACPI power-off),\n"
    "  2 bad input (usage, configuration, kernel or key file, --accel kvm without\n"
    "    /dev/kvm, host memory),\n"
    "  3 the guest did something unsupported (unknown port/MMIO/MSR with unknown_io = \"stop\",\n"
    "    an instruction neither KVM nor vsmp-vmm can emulate, or one the interpreter\n"
    "    does not implement, named with its bytes),\n"
    "  4 the guest reset (triple fault) or halted every vCPU with interrupts disabled\n"
    "    (or never started it),\n"
    "  5 a host/KVM error while running, 6 another node of the guest was lost (in\n"
    "    memory mode with replicas = 2 a lending node's loss is not: the guest goes on),\n"
    "  130 interrupted by SIGINT/SIGTERM.\n";

struct cli_options {
	struct node_options node;
	bool check_only;
	bool no_pin;
	struct machine_options machine;
};

enum { KEY_CHECK_CONFIG = 0x100, KEY_VERSION, KEY_STATS, KEY_PROMETHEUS, KEY_PROFILE, KEY_NO_PIN };

static int cli_take(void *ctx, int key, const char *arg)
{
	struct cli_options *opt = ctx;
	unsigned long long seconds;
	char err[512];
	switch (key) {
	case KEY_VERSION:
		puts("vsmp-vmm " VSMP_VERSION);
		exit(0);
	case KEY_CHECK_CONFIG:
		opt->check_only = true;
		return 0;
	case KEY_STATS:
		if (parse_decimal(arg, 3600, &seconds) < 0 || seconds == 0)
			return -1;
		opt->machine.stats_interval_s = (unsigned)seconds;
		return 0;
	case KEY_PROMETHEUS:
		if (prom_file_check_dir(arg, err, sizeof(err)) < 0) {
			log_error("--stats-prometheus %s", err);
			return -1;
		}
		opt->machine.prometheus_dir = arg;
		return 0;
	case KEY_PROFILE:
		opt->machine.profile = true;
		return 0;
	case KEY_NO_PIN:
		opt->no_pin = true;
		return 0;
	default:
		return -1;
	}
}

/* --check-config: the file was checked when it was loaded; what is left to check without
 * starting is the key file a run would read, as it would read it. */
static int check_config(const struct cluster_config *cfg, const char *path)
{
	char err[1024];
	if (node_cluster_check_key(cfg, err, sizeof(err)) < 0) {
		if (cfg->key_file_line)
			log_error("%s:%d: %s", path, cfg->key_file_line, err);
		else
			log_error("%s: %s", path, err);
		return VMM_EXIT_BAD_INPUT;
	}
	printf("%s: valid: %u node(s), %u vCPU(s), %llu MiB, accel %s\n", path, cfg->node_count,
	       cfg->total_vcpus, (unsigned long long)(cfg->total_memory >> 20),
	       accel_kind_name(cfg->guest.accel));
	return 0;
}

static int run_machine(const struct cluster_config *cfg, unsigned self, void *ctx)
{
	const struct cli_options *opt = ctx;
	if (opt->check_only)
		return check_config(cfg, opt->node.config);
	struct machine m;
	char err[1024];
	int status;
	if (machine_create(&m, cfg, self, &opt->machine, err, sizeof(err)) < 0) {
		log_error("%s", err);
		status = VMM_EXIT_BAD_INPUT;
	} else {
		status = machine_run(&m);
	}
	machine_destroy(&m);
	return status;
}

static int run_config(struct cli_options *opt, int argc, char **argv)
{
	struct node_command cmd = {.opts = opt->node,
				   .launch = !opt->check_only,
				   .pin = !opt->no_pin,
				   .argc = argc,
				   .argv = argv,
				   .run_node = run_machine,
				   .ctx = opt};
	return node_command_run(&cmd);
}

int main(int argc, char **argv)
{
	/* Coherence traffic allocates and frees a page-sized buffer per message. By default glibc
	 * hands the freed top of the heap back to the kernel after each burst, and the next burst
	 * faults it in again: where a page fault costs tens of microseconds, that made bench
	 * memory's sequential write 40 % slower (docs/benchmarks.md, "The heap given back"). So
	 * freed heap is kept, up to this much, for the next burst. */
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	if (argc >= 2 && strcmp(argv[1], "bench") == 0)
		return bench_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "memtest") == 0)
		return cmd_memtest_main(argc, argv);
	if (argc >= 2 && cmd_cluster_handles(argv[1]))
		return cmd_cluster_main(argc, argv);
	static const struct option extra[] = {
	    {"check-config", no_argument, NULL, KEY_CHECK_CONFIG},
	    {"version", no_argument, NULL, KEY_VERSION},
	    {"stats", required_argument, NULL, KEY_STATS},
	    {"stats-prometheus", required_argument, NULL, KEY_PROMETHEUS},
	    {"profile", no_argument, NULL, KEY_PROFILE},
	    {"no-pin", no_argument, NULL, KEY_NO_PIN},
	    {NULL, 0, NULL, 0}};
	struct cli_options opt = {0};
	const struct node_options_spec spec = {
	    .command = "", .usage = usage_text, .extra = extra, .take = cli_take, .ctx = &opt};
	if (node_options_parse(argc, argv, &spec, &opt.node) < 0)
		return VMM_EXIT_BAD_INPUT;
	return run_config(&opt, argc, argv);
}
