/* bench coherence. The process forks N-1 helper nodes (same binary, same temporary key and
 * configuration), then drives every measurement from node 0 while the helpers run a small agent:
 * commands and acknowledgements travel through the coherent region itself (a command word per
 * node on page 0, an acknowledgement on a page each helper homes), so no side channel is needed.
 * Pages are striped one per node (page p is homed at p % N), which lets each measurement pick
 * pages with the home it needs. Each access (and each round trip of the floor) is timed on its
 * own, the kinds in turn, and the median of each kind is reported.
 * Spinning waits yield the CPU: each node is pinned to one CPU, which its transport thread (the
 * one that serves its faults) must get for the spinner to make progress. */
#include "vmm/cmd/bench_coherence.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coherence/cluster.h"
#include "coherence/engine.h"
#include "coherence/transport.h"
#include "vmm/cmd/bench.h"
#include "vmm/cmd/bench_sampling.h"
#include "vmm/cmd/bench_vcpu.h"
#include "vmm/config.h"
#include "vmm/guest_memory.h"
#include "vmm/host_cpus.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/node_cluster.h"
#include "vmm/node_options.h"

#define BENCH_PAGES	 8192
#define BENCH_PAGE	 4096
#define BENCH_MAX_NODES	 5
#define BENCH_SAMPLES	 300
#define BENCH_VCPU_PAGES 40
#define BENCH_RANGE_BASE 256
#define BENCH_PING_ITERS 2000
#define BENCH_PINGPONG	 2000

enum agent_op { AGENT_IDLE, AGENT_READ_PAGES, AGENT_PINGPONG, AGENT_EXIT };

/* Node k's command, on page 0 (homed at node 0): written by node 0, polled by node k. */
struct agent_cmd {
	uint64_t seq, op, first, count, stride;
};

struct bench_node {
	unsigned nodes, self;
	bool pinned;
	struct bench_region region;
};

static volatile struct agent_cmd *agent_cmd(struct bench_node *b, unsigned node)
{
	return (volatile struct agent_cmd *)(b->region.mem.host) + node;
}

static volatile uint64_t *agent_ack(struct bench_node *b, unsigned node)
{
	return (volatile uint64_t *)(b->region.mem.host + (size_t)(node + b->nodes) * BENCH_PAGE);
}

static volatile uint64_t *pingpong_word(struct bench_node *b)
{
	return (volatile uint64_t *)(b->region.mem.host + (size_t)(2 * b->nodes) * BENCH_PAGE);
}

static uint8_t *page_at(struct bench_node *b, uint64_t page)
{
	return b->region.mem.host + page * BENCH_PAGE;
}

/* The i-th page homed at `home` within measurement range `range`. Page p is homed at
 * p % nodes, so the ranges start at a multiple of the node count: from BENCH_RANGE_BASE itself
 * (256), 3 nodes would have had every measurement use a page homed one node further on. */
static uint64_t range_page(const struct bench_node *b, unsigned range, unsigned home, unsigned i)
{
	uint64_t base = (BENCH_RANGE_BASE + b->nodes - 1) / b->nodes * b->nodes;
	return base + ((uint64_t)range * BENCH_SAMPLES + i) * b->nodes + home;
}

static uint64_t now_ns(void)
{
	return machine_now_ns();
}

static void poll_pause(void)
{
	struct timespec ts = {0, 20000};
	nanosleep(&ts, NULL);
}

static void agent_run_command(struct bench_node *b, const struct agent_cmd *cmd)
{
	if (cmd->op == AGENT_READ_PAGES) {
		for (uint64_t i = 0; i < cmd->count; i++)
			(void)*(volatile uint8_t *)page_at(b, cmd->first + i * cmd->stride);
	} else if (cmd->op == AGENT_PINGPONG) {
		volatile uint64_t *word = pingpong_word(b);
		for (uint64_t r = 0; r < cmd->count; r++) {
			while ((*word & 1) == 0)
				sched_yield();
			*word = *word + 1;
		}
	}
}

/* Helper nodes: obey node 0's commands until told to exit. */
static void agent_loop(struct bench_node *b)
{
	uint64_t done = 0;
	for (;;) {
		struct agent_cmd cmd = *agent_cmd(b, b->self);
		if (cmd.seq == done) {
			poll_pause();
			continue;
		}
		if (cmd.op == AGENT_EXIT)
			return;
		agent_run_command(b, &cmd);
		done = cmd.seq;
		*agent_ack(b, b->self) = done;
	}
}

static int agent_call(struct bench_node *b, unsigned node, uint64_t op, uint64_t first,
		      uint64_t count, uint64_t stride)
{
	volatile struct agent_cmd *cmd = agent_cmd(b, node);
	uint64_t seq = cmd->seq + 1;
	cmd->op = op;
	cmd->first = first;
	cmd->count = count;
	cmd->stride = stride;
	cmd->seq = seq;
	if (op == AGENT_EXIT || op == AGENT_PINGPONG)
		return 0;
	uint64_t deadline = now_ns() + 60000000000ULL;
	while (*agent_ack(b, node) != seq) {
		if (now_ns() > deadline)
			return -1;
		sched_yield();
	}
	return 0;
}

/* Times one first access (read or write) to the i-th page homed at `home` of a range. */
static uint64_t time_access(struct bench_node *b, unsigned range, unsigned home, unsigned i,
			    bool write)
{
	volatile uint8_t *p = page_at(b, range_page(b, range, home, i));
	uint64_t t0 = now_ns();
	if (write)
		*p = 1;
	else
		(void)*p;
	return now_ns() - t0;
}

/* Has helper nodes 1..sharers read every page of a range homed at node 0, so that node 0's
 * writes to them each invalidate `sharers` copies. */
static int share_range(struct bench_node *b, unsigned range, unsigned sharers)
{
	for (unsigned s = 1; s <= sharers; s++)
		if (agent_call(b, s, AGENT_READ_PAGES, range_page(b, range, 0, 0), BENCH_SAMPLES,
			       b->nodes) < 0)
			return -1;
	return 0;
}

static double time_pingpong(struct bench_node *b)
{
	volatile uint64_t *word = pingpong_word(b);
	*word = 0;
	agent_call(b, 1, AGENT_PINGPONG, 0, BENCH_PINGPONG, 0);
	uint64_t t0 = now_ns();
	for (unsigned r = 0; r < BENCH_PINGPONG; r++) {
		while (*word & 1)
			sched_yield();
		*word = *word + 1;
	}
	while (*word != 2 * BENCH_PINGPONG)
		sched_yield();
	return 2.0 * BENCH_PINGPONG / ((double)(now_ns() - t0) / 1e9);
}

struct bench_results {
	double rtt, local, read, write1, write2, pingpong, vcpu_local, vcpu_read;
	const char *backend; /* the vCPU's: kvm or emu */
};

enum sample_kind { RTT, LOCAL, READ, WRITE1, WRITE2, KINDS };

/* One sample of a kind: the floor's round trip, or a first access to the i-th page of the kind's
 * range (the range and home each measurement needs). */
static int coherence_sample(void *ctx, unsigned kind, unsigned i, uint64_t *ns)
{
	static const unsigned range[KINDS] = {[LOCAL] = 0, [READ] = 1, [WRITE1] = 2, [WRITE2] = 3};
	static const unsigned home[KINDS] = {[READ] = 1};
	struct bench_node *b = ctx;
	if (kind != RTT) {
		*ns = time_access(b, range[kind], home[kind], i, kind >= WRITE1);
		return 0;
	}
	uint64_t t0 = now_ns();
	if (engine_ping_us(b->region.engine, 1, BENCH_PAGE, 1) < 0)
		return -1;
	*ns = now_ns() - t0;
	return 0;
}

/* The floor and the faults are sampled in turn, one of each per round (bench_sampling.h). */
static int measure_interleaved(struct bench_node *b, struct bench_results *r)
{
	double us[KINDS];
	unsigned kinds = b->nodes >= 3 ? KINDS : WRITE2;
	if (share_range(b, 2, 1) < 0 || (kinds == KINDS && share_range(b, 3, 2) < 0) ||
	    bench_sample_in_turns(BENCH_SAMPLES, kinds, coherence_sample, b, us, NULL) < 0)
		return -1;
	r->rtt = us[RTT];
	r->local = us[LOCAL];
	r->read = us[READ];
	r->write1 = us[WRITE1];
	r->write2 = kinds == KINDS ? us[WRITE2] : -1;
	return 0;
}

/* A bare vCPU reading BENCH_VCPU_PAGES pages homed at `home` (0: resolved here, 1: remote),
 * below 1 MiB as real mode needs: pages 4N + home + kN, each touched for the first time. The
 * port exit that reports each read is measured in the same pass and subtracted. */
static int time_vcpu_reads(struct bench_node *b, unsigned home, double *per_read_us,
			   const char **backend)
{
	char err[256] = "";
	double pio;
	uint64_t code_page = 3 * b->nodes, first = 4 * b->nodes + home;
	if (bench_vcpu_page_reads(b->region.mem.host, b->region.mem.size, code_page, first,
				  b->nodes, BENCH_VCPU_PAGES, per_read_us, &pio, backend, err,
				  sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	*per_read_us -= pio;
	return 0;
}

static int bench_measure(struct bench_node *b, struct bench_results *r)
{
	/* The measuring thread (and the vCPU threads it starts, which inherit it) takes the
	 * progress thread's scheduling: the pinging thread polls beside the progress thread on the
	 * node's CPU, where a faulting thread sleeps, and with the default slice it would keep the
	 * CPU from the progress thread longer, inflating the floor (11 us instead of 9). */
	transport_sched_for_latency();
	if (engine_ping_us(b->region.engine, 1, BENCH_PAGE, BENCH_PING_ITERS) < 0 ||
	    measure_interleaved(b, r) < 0)
		return -1;
	r->pingpong = time_pingpong(b);
	if (time_vcpu_reads(b, 0, &r->vcpu_local, &r->backend) < 0 ||
	    time_vcpu_reads(b, 1, &r->vcpu_read, &r->backend) < 0)
		return -1;
	return 0;
}

static void bench_line(const char *what, double us, double floor)
{
	printf("%-40s %9.1f us   floor %7.1f us   ratio %5.2fx\n", what, us, floor, us / floor);
}

static void bench_report(const struct bench_node *b, const struct bench_results *r)
{
	double floor = r->rtt + r->local;
	printf("vsmp-vmm bench coherence: %u local nodes%s, medians of %u faults each\n", b->nodes,
	       b->pinned ? " (each pinned to one CPU)" : " (not pinned)", BENCH_SAMPLES);
	printf("%-40s %9.1f us\n", "transport round trip, 4 KiB", r->rtt);
	printf("%-40s %9.1f us\n", "fault resolved locally (no network)", r->local);
	bench_line("remote read fault", r->read, floor);
	bench_line("write fault invalidating 1 sharer", r->write1, floor);
	if (r->write2 >= 0)
		bench_line("write fault invalidating 2 sharers", r->write2, floor);
	else
		printf("%-40s   n/a (needs --local 3)\n", "write fault invalidating 2 sharers");
	char what[64];
	snprintf(what, sizeof(what), "fault resolved locally from a vCPU (%s)", r->backend);
	printf("%-40s %9.1f us\n", what, r->vcpu_local);
	/* A vCPU's floor: the round trip + its own local fault (the backend's part is in both). */
	snprintf(what, sizeof(what), "remote read fault from a vCPU (%s)", r->backend);
	bench_line(what, r->vcpu_read, r->rtt + r->vcpu_local);
	printf("%-40s %9.0f transfers/s\n", "page ping-pong between 2 nodes", r->pingpong);
	printf("{\"nodes\": %u, \"rtt_us\": %.2f, \"local_fault_us\": %.2f, \"floor_us\": %.2f, "
	       "\"read_fault_us\": %.2f, \"write_fault_us\": %.2f, \"write_fault_2_sharers_us\": ",
	       b->nodes, r->rtt, r->local, floor, r->read, r->write1);
	if (r->write2 >= 0)
		printf("%.2f", r->write2);
	else
		printf("null");
	printf(", \"vcpu_backend\": \"%s\", \"vcpu_local_fault_us\": %.2f, \"vcpu_read_fault_us\": "
	       "%.2f, "
	       "\"pingpong_per_s\": "
	       "%.0f, \"read_ratio\": %.3f, "
	       "\"write_ratio\": %.3f}\n",
	       r->backend, r->vcpu_local, r->vcpu_read, r->pingpong, r->read / floor,
	       r->write1 / floor);
}

static int bench_node_start(struct bench_node *b, const struct cluster_config *cfg, char *err,
			    size_t errlen)
{
	if (b->pinned)
		host_cpus_pin(b->self, 1);
	struct coh_home_config striped = {.policy = COH_HOME_STRIPED, .stripe_pages = 1};
	return bench_region_start(&b->region, cfg, b->self, (uint64_t)BENCH_PAGES * BENCH_PAGE,
				  striped, 0, false, err, errlen);
}

static int bench_write_config(const char *dir, unsigned nodes, struct cluster_config *cfg)
{
	char text[2048];
	unsigned port = bench_first_port();
	int n = 0;
	for (unsigned i = 0; i < nodes && n >= 0 && (size_t)n < sizeof(text); i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "[[node]]\nname = \"b%u\"\naddress = \"127.0.0.1:%u\"\nvcpus = 1\n"
			      "memory_mib = 16\n",
			      i, port + i);
	return bench_cluster_config(dir, "", text, cfg);
}

static int bench_coherence(unsigned nodes, bool pinned)
{
	char dir[256];
	if (bench_make_temp_dir("bench-coherence", dir, sizeof(dir)) < 0)
		return VMM_EXIT_HOST_ERROR;
	struct cluster_config cfg;
	int status = VMM_EXIT_HOST_ERROR;
	pid_t children[BENCH_MAX_NODES] = {0};
	if (bench_write_config(dir, nodes, &cfg) < 0)
		goto out_dir;
	fflush(stdout);
	for (unsigned i = 1; i < nodes; i++) {
		children[i] = fork();
		if (children[i] == 0) {
			struct bench_node b = {.nodes = nodes, .self = i, .pinned = pinned};
			char err[1024];
			log_set_node(cfg.nodes[i].name);
			int rc = bench_node_start(&b, &cfg, err, sizeof(err));
			if (rc < 0)
				log_error("%s", err);
			else
				agent_loop(&b);
			bench_region_stop(&b.region);
			_exit(rc < 0 ? VMM_EXIT_HOST_ERROR : 0);
		}
	}
	struct bench_node b = {.nodes = nodes, .self = 0, .pinned = pinned};
	char err[1024];
	struct bench_results r;
	if (bench_node_start(&b, &cfg, err, sizeof(err)) < 0) {
		log_error("%s", err);
	} else if (bench_measure(&b, &r) == 0) {
		status = 0;
	}
	for (unsigned i = 1; i < nodes && b.region.engine; i++)
		agent_call(&b, i, AGENT_EXIT, 0, 0, 0);
	for (unsigned i = 1; i < nodes; i++) {
		int ws;
		if (children[i] > 0 && waitpid(children[i], &ws, 0) == children[i] &&
		    (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0))
			status = VMM_EXIT_HOST_ERROR;
	}
	bench_region_stop(&b.region);
	if (status == 0) /* last, after the nodes' leave messages: the JSON ends the output */
		bench_report(&b, &r);
	config_free(&cfg);
out_dir:
	bench_remove_temp_dir(dir);
	return status;
}

int bench_coherence_main(int argc, char **argv)
{
	static const char usage[] = "usage: vsmp-vmm bench coherence [--local N] [--no-pin]\n";
	unsigned long nodes = 2;
	bool pinned = true;
	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		if (is_help_option(argv[i])) {
			fputs(usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--no-pin") == 0) {
			pinned = false;
		} else if (strcmp(argv[i], "--local") == 0 && i + 1 < argc) {
			nodes = strtoul(argv[++i], &end, 10);
			if (*end || nodes < 2 || nodes > BENCH_MAX_NODES) {
				fprintf(stderr, "vsmp-vmm: --local takes 2..%d\n", BENCH_MAX_NODES);
				return VMM_EXIT_BAD_INPUT;
			}
		} else {
			fputs(usage, stderr);
			return VMM_EXIT_BAD_INPUT;
		}
	}
	return bench_coherence((unsigned)nodes, pinned);
}
