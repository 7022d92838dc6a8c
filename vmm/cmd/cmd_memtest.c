/* `vsmp-vmm memtest`: one process per node (the launcher starts them all when --node is not
 * given), each mapping the same MEMTEST_PAGES-page region kept coherent by the engine (homed as
 * [cluster] homes or --homes says), with --threads threads running the workloads in lock step
 * (a barrier in the region between them). Each thread prints what it checked; the node exits 0
 * only if every check held and every litmus reader overlapped its writer. The seed is node 0's,
 * agreed through the region before the first workload. A peer lost mid-run is reported and ends
 * the node at once with "node lost" (6): its threads may be waiting on pages that node held,
 * and nothing can bring those back (docs/coherence.md; replicas = 2 is not used here: a mirror
 * keeps its copies in place of its own, which only a node that never touches the pages it
 * mirrors can do, and memtest's lending nodes run workloads too). SIGINT and SIGTERM end the node
 * at once with 130, for the same reason (a dedicated thread waits for them). */
#include "vmm/cmd/cmd_memtest.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "coherence/cluster.h"
#include "coherence/engine.h"
#include "vmm/cmd/memtest_workloads.h"
#include "vmm/config.h"
#include "vmm/launcher.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/node_cluster.h"
#include "vmm/node_options.h"
#include "vmm/node_stats.h"

#define MEMTEST_FAILED	    1
#define MEMTEST_MAX_THREADS 64

static const char usage_text[] =
    "usage: vsmp-vmm memtest --config FILE [--node NAME] [--netns] [--test LIST]\n"
    "                        [--threads N] [--iters N] [--seed N] [--timeout S]\n"
    "                        [--homes numa|striped|first-touch]\n"
    "  Runs coherence litmus tests and a randomized stress on a region shared by every node\n"
    "  of the configuration (no guest, no KVM). LIST: comma-separated of mp,sb,iriw,corr,stress\n"
    "  (default all). --homes, in place of the configuration's [cluster] homes: the region\n"
    "  split over the nodes in proportion to their memory_mib (numa), page p homed at node\n"
    "  p % N (striped), or at the first node to touch it (first-touch). Without --node,\n"
    "  starts every node on this host (--netns: each in its own network namespace).\n"
    "  --seed N: the stress's seed (default: node 0's clock; every node uses node 0's).\n"
    "  Exit status 0 if every check held, 1 if not (or a litmus test was not exercised),\n"
    "  2 on bad input, 6 if a node was lost, 130 if interrupted.\n";

struct memtest_options {
	struct node_options node;
	const char *tests;
	bool homes_given; /* --homes: replaces [cluster] homes */
	enum memory_homes homes;
	unsigned threads, iters, timeout_s;
	unsigned long long seed;
};

struct memtest_run {
	struct memtest_env env;
	const struct cluster_config *cfg;
	const char *node_name;
	unsigned node;
	uint32_t selected; /* bit per workload */
	atomic_bool failed;
	atomic_bool quiesced; /* every node has finished with the region */
};

struct memtest_thread {
	struct memtest_run *run;
	unsigned thread; /* global */
	pthread_t id;
};

static void memtest_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One write per line, so the lines of nodes sharing a terminal or pipe never interleave. */
static void memtest_say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 &&
	    write(STDOUT_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line)) < 0)
		return;
}

static void memtest_report(struct memtest_run *run, const char *name, unsigned thread,
			   enum memtest_result result, const char *note)
{
	static const char *const outcome[] = {[MEMTEST_OK] = "ok",
					      [MEMTEST_FAILED] = "FAIL",
					      [MEMTEST_NOT_EXERCISED] = "NOT-EXERCISED"};
	memtest_say("MEMTEST %s %s node=%s thread=%u %s\n", name, outcome[result], run->node_name,
		    thread, note);
}

/* The thread's own copy of the environment takes the agreed seed; its node's first thread says
 * which it is. */
static bool memtest_start(struct memtest_thread *t, struct memtest_env *env, uint64_t *sense)
{
	struct memtest_run *run = t->run;
	*env = run->env;
	if (!memtest_agree_seed(env, t->thread, sense)) {
		memtest_report(run, "seed", t->thread, MEMTEST_FAILED, "barrier timed out");
		return false;
	}
	if (t->thread % env->threads_per_node == 0)
		memtest_say("MEMTEST seed=%llu node=%s\n", (unsigned long long)env->seed,
			    run->node_name);
	return true;
}

static void *memtest_thread_main(void *arg)
{
	struct memtest_thread *t = arg;
	struct memtest_run *run = t->run;
	struct memtest_env env;
	uint64_t sense = 0;
	if (!memtest_start(t, &env, &sense)) {
		atomic_store(&run->failed, true);
		return NULL;
	}
	for (unsigned w = 0; w < memtest_workload_count; w++) {
		const struct memtest_workload *wl = &memtest_workloads[w];
		if (!(run->selected & (1u << w)))
			continue;
		if (env.nodes * env.threads_per_node < wl->min_threads) {
			if (t->thread == 0)
				memtest_report(run, wl->name, 0, MEMTEST_OK,
					       "skipped: needs more threads");
			continue;
		}
		if (!memtest_barrier(&env, t->thread, &sense)) {
			memtest_report(run, wl->name, t->thread, MEMTEST_FAILED,
				       "barrier timed out");
			atomic_store(&run->failed, true);
			return NULL;
		}
		char note[256] = "";
		enum memtest_result result = wl->run(&env, t->thread, &sense, note, sizeof(note));
		if (note[0] || result != MEMTEST_OK)
			memtest_report(run, wl->name, t->thread, result,
				       note[0] ? note : "timed out");
		if (result != MEMTEST_OK)
			atomic_store(&run->failed, true);
	}
	memtest_barrier(&env, t->thread, &sense);
	return NULL;
}

static atomic_flag memtest_interrupt_said = ATOMIC_FLAG_INIT;

/* SIGINT or SIGTERM, also one pending while a peer is lost (the peer was most likely stopped by
 * the same Ctrl-C, and was only quicker): the node ends interrupted. The thread that comes
 * second waits for the first one's exit. */
static void memtest_interrupted(const struct memtest_run *run)
{
	if (atomic_flag_test_and_set(&memtest_interrupt_said))
		for (;;)
			pause();
	memtest_say("MEMTEST interrupted node=%s\n", run->node_name);
	_exit(VMM_EXIT_INTERRUPTED);
}

static int memtest_signal_fd = -1; /* SIGINT and SIGTERM, for poll (which leaves them pending) */

static void *memtest_signal_thread(void *arg)
{
	struct pollfd fd = {.fd = memtest_signal_fd, .events = POLLIN};
	while (poll(&fd, 1, -1) < 0 && errno == EINTR)
		;
	memtest_interrupted(arg);
	return NULL;
}

/* Blocks SIGINT and SIGTERM in this thread and every thread started after it (the cluster's,
 * the engine's, UCX's, the workloads'), and starts the one thread that waits for them. */
static int memtest_catch_signals(struct memtest_run *run)
{
	sigset_t stop;
	node_stop_signals(&stop);
	pthread_t id;
	if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0)
		return -1;
	memtest_signal_fd = signalfd(-1, &stop, SFD_CLOEXEC);
	if (memtest_signal_fd < 0 || pthread_create(&id, NULL, memtest_signal_thread, run) != 0)
		return -1;
	pthread_detach(id);
	return 0;
}

static void memtest_peer_lost(void *ctx, unsigned node, const char *why)
{
	struct memtest_run *run = ctx;
	if (node_stop_signal_pending())
		memtest_interrupted(run);
	const char *name = run->cfg->nodes[node].name;
	if (atomic_load(&run->quiesced)) { /* it can take nothing away from this run any more */
		log_error("node %s lost (%s) after every node had finished: the results stand",
			  name, why);
		return;
	}
	log_error("node %s lost (%s): stopping", name, why);
	memtest_say("MEMTEST FAIL node=%s peer %s lost\n", run->node_name, name);
	_exit(VMM_EXIT_NODE_LOST);
}

static void memtest_peer_left(void *ctx, unsigned node)
{
	log_debug("peer %u left", node);
}

static void memtest_fatal(void *ctx, const char *why)
{
	struct memtest_run *run = ctx;
	log_error("%s", why);
	memtest_say("MEMTEST FAIL node=%s coherence engine stopped\n", run->node_name);
	_exit(MEMTEST_FAILED);
}

static int memtest_threads(struct memtest_run *run, unsigned local_threads)
{
	struct memtest_thread threads[MEMTEST_MAX_THREADS];
	for (unsigned i = 0; i < local_threads; i++) {
		threads[i] =
		    (struct memtest_thread){.run = run, .thread = run->node * local_threads + i};
		if (pthread_create(&threads[i].id, NULL, memtest_thread_main, &threads[i]) != 0) {
			log_error("cannot start memtest thread %u", i);
			_exit(MEMTEST_FAILED);
		}
	}
	for (unsigned i = 0; i < local_threads; i++)
		pthread_join(threads[i].id, NULL);
	return atomic_load(&run->failed) ? MEMTEST_FAILED : 0;
}

struct memtest_node_args {
	const struct memtest_options *opt;
	uint32_t selected;
};

/* The region's homes: under numa each node homes a share of the region in proportion to its
 * memory_mib, as it would of guest RAM (the last node takes what the division leaves).
 * range_pages has a slot per node. */
static struct coh_home_config memtest_homes(const struct cluster_config *cfg,
					    enum memory_homes homes, uint64_t *range_pages)
{
	if (homes == HOMES_STRIPED)
		return (struct coh_home_config){.policy = COH_HOME_STRIPED, .stripe_pages = 1};
	if (homes == HOMES_FIRST_TOUCH)
		return (struct coh_home_config){.policy = COH_HOME_FIRST_TOUCH, .stripe_pages = 1};
	uint64_t given = 0;
	for (unsigned i = 0; i + 1 < cfg->node_count; i++) {
		range_pages[i] = MEMTEST_PAGES * cfg->nodes[i].memory_bytes / cfg->total_memory;
		given += range_pages[i];
	}
	range_pages[cfg->node_count - 1] = MEMTEST_PAGES - given;
	return (struct coh_home_config){.policy = COH_HOME_RANGES, .range_pages = range_pages};
}

/* Memory mode: the compute node's cache_mib scaled to the region as the homes are (at least one
 * page). None unless the region is homed by share (numa), which a cache needs. */
static uint64_t memtest_cache_pages(const struct cluster_config *cfg, unsigned node,
				    enum memory_homes homes)
{
	uint64_t bytes = cfg->nodes[node].cache_bytes;
	if (!bytes || homes != HOMES_NUMA)
		return 0;
	uint64_t pages = MEMTEST_PAGES * bytes / cfg->total_memory;
	return pages ? pages : 1;
}

static void memtest_fetch(void *ctx, uint64_t offset, bool write)
{
	engine_access(ctx, offset, write);
}

/* The joined node's run: the region under the engine, homed as [cluster] homes (or --homes)
 * says, and the workloads on it. The node's exit status. */
static int memtest_on_region(const struct cluster_config *cfg, const struct memtest_options *opt,
			     struct memtest_run *run, struct cluster *c,
			     const struct guest_memory *mem)
{
	enum memory_homes homes = opt->homes_given ? opt->homes : cfg->homes;
	uint64_t *range_pages = calloc(cfg->node_count, sizeof(*range_pages));
	if (!range_pages) {
		log_error("out of memory");
		return MEMTEST_FAILED;
	}
	struct engine_params params = {.host = mem->host,
				       .memfd = mem->fd,
				       .size = mem->size,
				       .cluster = c,
				       .homes = memtest_homes(cfg, homes, range_pages),
				       .cache_pages = memtest_cache_pages(cfg, run->node, homes),
				       .fatal = memtest_fatal,
				       .ctx = run};
	char err[1024];
	struct engine *e = engine_create(&params, err, sizeof(err));
	free(range_pages); /* the engine keeps its own copy of the ranges */
	if (!e) {
		log_error("%s", err);
		return MEMTEST_FAILED;
	}
	run->env.region = mem->host;
	run->env.fetch = memtest_fetch;
	run->env.fetch_ctx = e;
	int status = memtest_threads(run, opt->threads);
	if (engine_quiesce(e, 30000) < 0) {
		log_error("the other nodes did not finish within 30 s");
		status = MEMTEST_FAILED;
	} else {
		atomic_store(&run->quiesced, true);
	}
	memtest_say("MEMTEST %s node=%s homes=%s\n", status == 0 ? "PASS" : "FAIL", run->node_name,
		    memory_homes_name(homes));
	if (params.cache_pages) {
		struct node_stats st;
		node_stats_read(e, params.cache_pages * 4096, &st);
		node_stats_print(&st, "final");
	}
	engine_destroy(e);
	return status;
}

static int memtest_node(const struct cluster_config *cfg, unsigned self, void *ctx)
{
	const struct memtest_node_args *args = ctx;
	const struct memtest_options *opt = args->opt;
	uint32_t selected = args->selected;
	struct memtest_run run = {
	    .env = {.nodes = cfg->node_count,
		    .threads_per_node = opt->threads,
		    .iters = opt->iters,
		    .seed = opt->seed,
		    .deadline_ns = machine_now_ns() + (uint64_t)opt->timeout_s * 1000000000ULL},
	    .cfg = cfg,
	    .node_name = cfg->nodes[self].name,
	    .node = self,
	    .selected = selected};
	const struct cluster_ops ops = {.peer_lost = memtest_peer_lost,
					.peer_left = memtest_peer_left};
	char err[1024];
	bool bad_input;
	if (memtest_catch_signals(&run) < 0) {
		log_error("cannot start the signal thread");
		return MEMTEST_FAILED;
	}
	struct cluster *c =
	    node_cluster_join(cfg, self, 30, &ops, &run, &bad_input, err, sizeof(err));
	if (!c) {
		log_error("%s", err);
		return bad_input ? VMM_EXIT_BAD_INPUT : MEMTEST_FAILED;
	}
	struct guest_memory mem;
	if (guest_memory_create(&mem, MEMTEST_PAGES * MEMTEST_PAGE, err, sizeof(err)) < 0) {
		log_error("%s", err);
		cluster_leave(c);
		return MEMTEST_FAILED;
	}
	int status = memtest_on_region(cfg, opt, &run, c, &mem);
	cluster_leave(c);
	guest_memory_destroy(&mem);
	return status;
}

static int memtest_select(const char *list, uint32_t *selected)
{
	*selected = 0;
	if (!list) {
		*selected = (1u << memtest_workload_count) - 1;
		return 0;
	}
	char *copy = strdup(list), *save = NULL;
	int rc = copy ? 0 : -1;
	for (char *name = copy ? strtok_r(copy, ",", &save) : NULL; name && rc == 0;
	     name = strtok_r(NULL, ",", &save)) {
		rc = -1;
		for (unsigned w = 0; w < memtest_workload_count; w++) {
			if (strcmp(memtest_workloads[w].name, name) == 0) {
				*selected |= 1u << w;
				rc = 0;
			}
		}
		if (rc < 0)
			fprintf(stderr, "vsmp-vmm: memtest: unknown test '%s'\n", name);
	}
	free(copy);
	return rc;
}

/* memtest's own options; numbers must be at least 1. */
static int memtest_take(void *ctx, int key, const char *arg)
{
	struct memtest_options *opt = ctx;
	unsigned long long v;
	switch (key) {
	case 't':
		opt->tests = arg;
		return 0;
	case 'H':
		opt->homes_given = true;
		return memory_homes_from_name(arg, &opt->homes);
	case 's':
		return parse_decimal(arg, ~0ULL, &opt->seed);
	}
	if (parse_decimal(arg, key == 'T' ? MEMTEST_MAX_THREADS : 100000000, &v) < 0 || v == 0)
		return -1;
	*(key == 'T' ? &opt->threads : key == 'i' ? &opt->iters : &opt->timeout_s) = (unsigned)v;
	return 0;
}

int cmd_memtest_main(int argc, char **argv)
{
	struct memtest_options opt = {
	    .threads = 2, .iters = 2000, .timeout_s = 120, .seed = (unsigned long long)time(NULL)};
	static const struct option extra[] = {{"test", required_argument, NULL, 't'},
					      {"threads", required_argument, NULL, 'T'},
					      {"iters", required_argument, NULL, 'i'},
					      {"seed", required_argument, NULL, 's'},
					      {"timeout", required_argument, NULL, 'o'},
					      {"homes", required_argument, NULL, 'H'},
					      {NULL, 0, NULL, 0}};
	const struct node_options_spec spec = {.command = "memtest",
					       .usage = usage_text,
					       .extra = extra,
					       .extra_short = "t:",
					       .take = memtest_take,
					       .ctx = &opt};
	uint32_t selected;
	if (node_options_parse(argc - 1, argv + 1, &spec, &opt.node) < 0 ||
	    memtest_select(opt.tests, &selected) < 0)
		return VMM_EXIT_BAD_INPUT;
	struct memtest_node_args args = {.opt = &opt, .selected = selected};
	struct node_command cmd = {.opts = opt.node,
				   .launch = true,
				   .argc = argc,
				   .argv = argv,
				   .run_node = memtest_node,
				   .ctx = &args};
	return node_command_run(&cmd);
}
