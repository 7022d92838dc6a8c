/* bench memory. The process forks the two lending nodes of a memory-mode cluster (same binary,
 * temporary key and configuration); they only serve the memory they lend, until node 0 says it
 * is done (engine_quiesce). Node 0, the compute node with a BENCH_CACHE_MIB cache, measures passes
 * over a working set four times the cache in memory n1 lends, each beside its floor sampled in
 * turns with it (bench_sampling.h), one of each per round:
 *   - sequential write, then sequential read, every byte of every page in page order, in chunks
 *     of BENCH_CHUNK_PAGES pages, each chunk's time per page beside the time per 4 KiB round trip
 *     of as many pings sent back to back (the transport's bandwidth);
 *   - random access: one word of a page the read pass has left behind, so that every access is
 *     a miss, beside one 4 KiB round trip (the floor a miss cannot beat: a request out, a page
 *     back) and a first touch of a page of node 0's own (a miss resolved locally: what a miss
 *     pays besides the round trip to map the page).
 * Node 0 reaches each page as the software vCPU of a memory-mode compute node does: engine_access
 * before its first access of the page (the interpreter's TLB fill), which serves a miss on the
 * measuring thread, then plain loads and stores.
 * The same passes over its own memory (warmed first, so no access there leaves the node) show
 * what the memory itself costs. The cost of a dirty eviction is the write chunks' extra time per
 * page over the read chunks' (each written page is written back as it leaves; a read page is
 * dropped); the prefetch hit rate is the share of the pages fetched ahead during the lent passes
 * that they then used.
 * Then a second cluster with replicas = 2 (n1 and n2 keep each other's memory) runs the same lent
 * write pass, and a third with one copy runs it again: the second's time per page over its floor,
 * against the third's, is what a second copy costs a write-heavy guest (each write-back waits for
 * the mirror's ack before the page's frame is freed); each against its own floor, as the clusters
 * do not run at once. Against a pass run after it rather than the first cluster's, so that both
 * follow another cluster in this process: a first cluster once wrote 40 % slower (glibc giving
 * the heap back, main.c), which made the second copy look free (docs/benchmarks.md). Both run on
 * a loss-tolerant cluster's transport (without shared memory, engine_params), which replicas
 * take, so that the comparison is of the second copy alone.
 * Node 0 runs on one CPU and the lenders on another (host_cpus_share): with 2 CPUs, 3 nodes
 * oversubscribe the host, and this keeps the compute node's CPU its own. */
#include "vmm/cmd/bench_memory.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coherence/cluster.h"
#include "coherence/engine.h"
#include "coherence/prefetch.h"
#include "coherence/transport.h"
#include "vmm/cmd/bench.h"
#include "vmm/cmd/bench_sampling.h"
#include "vmm/config.h"
#include "vmm/config_mode.h"
#include "vmm/guest_memory.h"
#include "vmm/host_cpus.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/node_cluster.h"
#include "vmm/node_options.h"
#include "vmm/node_stats.h"

#define BENCH_CACHE_MIB	  8
#define BENCH_SET_MIB	  (4 * BENCH_CACHE_MIB)
#define BENCH_OWN_MIB	  (BENCH_SET_MIB + 16)
#define BENCH_PAGE	  4096
#define BENCH_RANDOM	  1000
#define BENCH_LENDERS	  2
#define BENCH_QUIET_MS	  600000 /* a lender waits this long at most for node 0 to finish */
#define BENCH_ACK_WAIT_MS 30000	 /* for the replicated pass's last write-backs */
#define BENCH_SET_PAGES	  ((uint64_t)BENCH_SET_MIB << 20 >> 12)
#define BENCH_CACHE_PAGES ((uint64_t)BENCH_CACHE_MIB << 20 >> 12)
#define BENCH_CHUNK_PAGES 128
/* A chunk's first pages are not timed: the read-ahead fetched them while the floor's pings ran. */
#define BENCH_LEAD_PAGES  PREFETCH_WINDOW
#define BENCH_TIMED_PAGES (BENCH_CHUNK_PAGES - BENCH_LEAD_PAGES)
#define BENCH_CHUNKS	  (BENCH_SET_PAGES / BENCH_CHUNK_PAGES)
#define BENCH_WORDS	  (BENCH_SET_PAGES * BENCH_PAGE / 8)

/* Medians in us: per page of a pass's chunks, and per round trip of the floor sampled with it;
 * with random accesses, also a miss resolved locally (mapping the page, which every miss pays
 * besides the round trip). The means of the first two as well: what a miss costs on average,
 * with the few that paid for more than their own eviction. */
struct pass_times {
	double page_us, floor_us, local_fault_us;
	double page_mean_us, floor_mean_us;
};

/* The random pass's misses also in the host's page tables (means): unmapping the victim each
 * one pushes out, mapping a page, and the page's first access once mapped. */
struct host_times {
	double victim_unmap_us, map_us, first_access_us;
};

struct lent_times {
	struct pass_times write, read, random; /* random: per access and per single round trip */
	uint64_t random_misses;
	struct host_times random_host;
};

struct bench_mem_results {
	struct lent_times lent;
	double local_write_s, local_read_s, local_random_us;
	uint64_t prefetch_issued, prefetch_used, dirty_evictions;
	struct pass_times replicated_write; /* the lent write pass with replicas = 2 */
	struct pass_times write_again;	    /* and with one copy, in a cluster after it */
	char replicas_path[16];		    /* the transport of those two (transport_peer_path) */
	double load_avg;		    /* the host's 1-minute load average at the end */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Node 0 on the first CPU, the lenders on the others (host_cpus_share). */
static void bench_mem_pin(unsigned self)
{
	unsigned first, count;
	if (host_cpus_share(self, 1 + BENCH_LENDERS, host_cpus_count(), &first, &count))
		host_cpus_pin(first, count);
}

/* Joins and puts the memory under the engine, homed as guest RAM is in memory mode. */
static int bench_mem_start(struct bench_region *b, const struct cluster_config *cfg, unsigned self,
			   bool loss_tolerant, char *err, size_t errlen)
{
	uint64_t range_pages[1 + BENCH_LENDERS];
	uint32_t mirrors[1 + BENCH_LENDERS];
	for (unsigned i = 0; i < cfg->node_count; i++)
		range_pages[i] = cfg->nodes[i].memory_bytes / BENCH_PAGE;
	struct coh_home_config homes = {.policy = COH_HOME_RANGES,
					.range_pages = range_pages,
					.mirrors = config_mirrors(cfg, mirrors) ? mirrors : NULL};
	bench_mem_pin(self);
	return bench_region_start(b, cfg, self, cfg->total_memory, homes,
				  cfg->nodes[self].cache_bytes / BENCH_PAGE, loss_tolerant, err,
				  errlen);
}

/* Node 0's engine and memory, for fetch_page (see the top of the file). */
static struct engine *node0_engine;
static const uint8_t *node0_memory;

static void fetch_page(const uint8_t *set, uint64_t page, bool write)
{
	engine_access(node0_engine, (uint64_t)(set - node0_memory) + page * BENCH_PAGE, write);
}

/* Writes word w of the set as w, for the pages [first, end). */
static void write_pages(uint8_t *set, uint64_t first, uint64_t end)
{
	volatile uint64_t *words = (volatile uint64_t *)set;
	for (uint64_t p = first; p < end; p++) {
		fetch_page(set, p, true);
		for (uint64_t w = p * BENCH_PAGE / 8; w < (p + 1) * BENCH_PAGE / 8; w++)
			words[w] = w;
	}
}

static uint64_t read_pages(const uint8_t *set, uint64_t first, uint64_t end)
{
	const volatile uint64_t *words = (const volatile uint64_t *)set;
	uint64_t sum = 0;
	for (uint64_t p = first; p < end; p++) {
		fetch_page(set, p, false);
		for (uint64_t w = p * BENCH_PAGE / 8; w < (p + 1) * BENCH_PAGE / 8; w++)
			sum += words[w];
	}
	return sum;
}

/* The pages the random passes touch, in the order they touch them: BENCH_RANDOM distinct pages
 * of the set's first half (a fixed xorshift shuffle). The read pass leaves the last cache's worth
 * resident, so in the lent set each of these is a miss. */
static void random_pages(uint64_t *pages)
{
	static uint64_t all[BENCH_SET_PAGES / 2];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (uint64_t i = 0; i < BENCH_SET_PAGES / 2; i++)
		all[i] = i;
	for (uint64_t i = BENCH_SET_PAGES / 2 - 1; i > 0; i--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t j = x % (i + 1), t = all[i];
		all[i] = all[j];
		all[j] = t;
	}
	memcpy(pages, all, sizeof(*pages) * BENCH_RANDOM);
}

/* The access's time; its first access's part (after engine_access) added to *first_ns if given. */
static uint64_t time_random_access(const uint8_t *set, uint64_t page, uint64_t *first_ns)
{
	const volatile uint64_t *word = (const volatile uint64_t *)(set + page * BENCH_PAGE);
	uint64_t t0 = now_ns();
	fetch_page(set, page, false);
	uint64_t t1 = now_ns();
	(void)*word; /* a volatile read: performed */
	uint64_t t2 = now_ns();
	if (first_ns)
		*first_ns += t2 - t1;
	return t2 - t0;
}

/* Node 0's passes over the lent set, each sampled in turns with its floor. */
struct lent_pass {
	struct engine *engine;
	uint8_t *set;
	const uint8_t *fresh; /* node 0's own pages, never touched yet */
	enum { PASS_WRITE, PASS_READ, PASS_RANDOM } kind;
	uint64_t sum; /* of the read pass */
	uint64_t random[BENCH_RANDOM];
	uint64_t first_access_ns; /* the random accesses' (time_random_access), summed */
};

enum { SAMPLE_FLOOR, SAMPLE_PASS, SAMPLE_LOCAL_FAULT, SAMPLE_KINDS };

/* The floor of a sequential chunk: one round trip that lets through what node 1 sent before it
 * (links are FIFO), so that the pings do not share the link with the previous chunk's
 * read-ahead; then as many 4 KiB round trips back to back as the chunk has timed pages. The floor
 * of a random access: one 4 KiB round trip. A pong more than a second late fails
 * engine_ping_us (seen once, when all three nodes of the replicas cluster ran on one CPU, at
 * load 10): logged, and the sample taken again after a round trip that lets the late pong through
 * (it may end that round trip early, one ping in a sample at most). */
static int sample_floor(struct lent_pass *p, uint64_t *ns)
{
	unsigned iters = p->kind == PASS_RANDOM ? 1 : BENCH_TIMED_PAGES;
	for (unsigned attempt = 0; attempt < 2; attempt++) {
		bool barrier = p->kind != PASS_RANDOM || attempt > 0;
		double us = barrier ? engine_ping_us(p->engine, 1, BENCH_PAGE, 1) : 0;
		if (us >= 0)
			us = engine_ping_us(p->engine, 1, BENCH_PAGE, iters);
		if (us >= 0) {
			*ns = (uint64_t)(us * 1e3);
			return 0;
		}
		log_info("bench memory: a pong from node 1 came over a second late");
	}
	log_error("bench memory: node 1 does not answer pings");
	return -1;
}

/* Chunk `round` of the sequential pass (time per timed page), or random access `round`. */
static int sample_pass(struct lent_pass *p, unsigned round, uint64_t *ns)
{
	if (p->kind == PASS_RANDOM) {
		*ns = time_random_access(p->set, p->random[round], &p->first_access_ns);
		return 0;
	}
	uint64_t first = (uint64_t)round * BENCH_CHUNK_PAGES, timed = first + BENCH_LEAD_PAGES;
	uint64_t end = first + BENCH_CHUNK_PAGES, t0;
	if (p->kind == PASS_WRITE) {
		write_pages(p->set, first, timed);
		t0 = now_ns();
		write_pages(p->set, timed, end);
	} else {
		p->sum += read_pages(p->set, first, timed);
		t0 = now_ns();
		p->sum += read_pages(p->set, timed, end);
	}
	*ns = (now_ns() - t0) / BENCH_TIMED_PAGES;
	return 0;
}

static int lent_sample(void *ctx, unsigned kind, unsigned round, uint64_t *ns)
{
	struct lent_pass *p = ctx;
	if (kind == SAMPLE_FLOOR)
		return sample_floor(p, ns);
	if (kind == SAMPLE_PASS)
		return sample_pass(p, round, ns);
	/* a first touch: homed here, held nowhere */
	*ns = time_random_access(p->fresh, round, NULL);
	return 0;
}

static int run_lent_pass(struct lent_pass *p, int kind, struct pass_times *t)
{
	double us[SAMPLE_KINDS] = {0}, mean_us[SAMPLE_KINDS] = {0};
	p->kind = kind;
	unsigned rounds = kind == PASS_RANDOM ? BENCH_RANDOM : BENCH_CHUNKS;
	unsigned kinds = kind == PASS_RANDOM ? SAMPLE_KINDS : SAMPLE_LOCAL_FAULT;
	if (bench_sample_in_turns(rounds, kinds, lent_sample, p, us, mean_us) < 0)
		return -1;
	t->page_mean_us = mean_us[SAMPLE_PASS];
	t->floor_mean_us = mean_us[SAMPLE_FLOOR];
	t->page_us = us[SAMPLE_PASS];
	t->floor_us = us[SAMPLE_FLOOR];
	t->local_fault_us = us[SAMPLE_LOCAL_FAULT];
	return 0;
}

/* The random pass's host times: each miss unmaps one victim, its own and each local first touch
 * map a page (the same operation, so one mean serves both). */
static void host_times(const struct engine_stats *before, const struct engine_stats *after,
		       const struct lent_pass *p, struct lent_times *t)
{
	uint64_t unmap_ns = after->host_ns[REGION_HOST_UNMAP] - before->host_ns[REGION_HOST_UNMAP];
	uint64_t maps = after->host_ops[REGION_HOST_MAP] - before->host_ops[REGION_HOST_MAP];
	uint64_t map_ns = after->host_ns[REGION_HOST_MAP] - before->host_ns[REGION_HOST_MAP];
	t->random_host = (struct host_times){
	    .victim_unmap_us = t->random_misses ? unmap_ns / 1e3 / t->random_misses : 0,
	    .map_us = maps ? map_ns / 1e3 / maps : 0,
	    .first_access_us = p->first_access_ns / 1e3 / BENCH_RANDOM};
}

/* The lent write pass (all that a write-only cluster runs), then the read and random passes; the
 * read pass must see what the write pass wrote. */
static int measure_lent(struct engine *e, uint8_t *set, const uint8_t *fresh, bool write_only,
			struct lent_times *t)
{
	static struct lent_pass p;
	p = (struct lent_pass){.engine = e, .set = set, .fresh = fresh};
	if (run_lent_pass(&p, PASS_WRITE, &t->write) < 0)
		return -1;
	if (write_only)
		return 0;
	if (run_lent_pass(&p, PASS_READ, &t->read) < 0)
		return -1;
	if (p.sum != BENCH_WORDS * (BENCH_WORDS - 1) / 2) {
		log_error("bench memory: the read pass summed %llu, expected %llu",
			  (unsigned long long)p.sum,
			  (unsigned long long)(BENCH_WORDS * (BENCH_WORDS - 1) / 2));
		return -1;
	}
	struct engine_stats before, after;
	random_pages(p.random);
	engine_get_stats(e, &before);
	int rc = run_lent_pass(&p, PASS_RANDOM, &t->random);
	engine_get_stats(e, &after);
	t->random_misses = after.lent_misses - before.lent_misses;
	host_times(&before, &after, &p, t);
	return rc;
}

/* The same passes over node 0's own memory, warmed first: memory speed, nothing leaves the node. */
static void measure_local(uint8_t *set, struct bench_mem_results *r)
{
	static uint64_t pages[BENCH_RANDOM], ns[BENCH_RANDOM];
	write_pages(set, 0, BENCH_SET_PAGES);
	uint64_t t0 = now_ns();
	write_pages(set, 0, BENCH_SET_PAGES);
	uint64_t t1 = now_ns();
	(void)read_pages(set, 0, BENCH_SET_PAGES);
	uint64_t t2 = now_ns();
	r->local_write_s = (double)(t1 - t0) / 1e9;
	r->local_read_s = (double)(t2 - t1) / 1e9;
	random_pages(pages);
	for (unsigned i = 0; i < BENCH_RANDOM; i++)
		ns[i] = time_random_access(set, pages[i], NULL);
	r->local_random_us = bench_median_us(ns, BENCH_RANDOM);
}

/* Waits until node 0's every write-back is acknowledged, which with replicas the home does once
 * the mirror has the page too: a REPLICA_ACK lost on the way would leave one open for ever. */
static int await_write_backs(struct engine *e)
{
	struct engine_stats st;
	for (unsigned ms = 0;; ms++) {
		engine_get_stats(e, &st);
		if (st.writebacks_acked >= st.evictions_dirty)
			return 0;
		if (ms == BENCH_ACK_WAIT_MS)
			break;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	log_error("bench memory: %llu of node 0's %llu write-backs were acknowledged %u ms after "
		  "the replicated pass",
		  (unsigned long long)st.writebacks_acked, (unsigned long long)st.evictions_dirty,
		  BENCH_ACK_WAIT_MS);
	return -1;
}

/* Every pass, or only the lent write pass (write_only: into r->replicated_write with replicas,
 * else into r->write_again). */
static int bench_mem_measure(struct bench_region *b, const struct cluster_config *cfg,
			     bool write_only, struct bench_mem_results *r)
{
	uint8_t *local = b->mem.host, *lent = b->mem.host + cfg->nodes[1].memory_offset;
	node0_engine = b->engine;
	node0_memory = b->mem.host;
	/* The measuring thread polls for its pongs beside the progress thread on this CPU, with
	 * the progress thread's short slice (as bench coherence's does). */
	transport_sched_for_latency();
	if (write_only) {
		struct lent_times t;
		if (measure_lent(b->engine, lent, NULL, true, &t) < 0)
			return -1;
		if (cfg->replicas == 1) {
			r->write_again = t.write;
			return 0;
		}
		r->replicated_write = t.write;
		return await_write_backs(b->engine);
	}
	measure_local(local, r);
	struct engine_stats before, after;
	engine_get_stats(b->engine, &before);
	/* measure_local touches the first BENCH_SET_MIB of node 0's own memory, not the rest. */
	if (measure_lent(b->engine, lent, local + ((size_t)BENCH_SET_MIB << 20), false, &r->lent) <
	    0)
		return -1;
	engine_get_stats(b->engine, &after);
	r->prefetch_issued = after.prefetch_issued - before.prefetch_issued;
	r->prefetch_used = after.prefetch_used - before.prefetch_used;
	r->dirty_evictions = after.evictions_dirty - before.evictions_dirty;
	return 0;
}

static double mib_s(double seconds)
{
	return seconds > 0 ? BENCH_SET_MIB / seconds : 0;
}

/* 4 KiB per us, in MiB/s. */
static double page_mib_s(double us)
{
	return us > 0 ? BENCH_PAGE / us * 1e6 / (1 << 20) : 0;
}

static void bench_mem_report(const struct bench_mem_results *r)
{
	const struct lent_times *l = &r->lent;
	const struct host_times *h = &l->random_host;
	double read = page_mib_s(l->read.page_us), read_floor = page_mib_s(l->read.floor_us);
	double write = page_mib_s(l->write.page_us), write_floor = page_mib_s(l->write.floor_us);
	double random_ratio = l->random.page_us / l->random.floor_us;
	double random_mean_ratio = l->random.page_mean_us / l->random.floor_mean_us;
	double with_local_ratio =
	    l->random.page_us / (l->random.floor_us + l->random.local_fault_us);
	double dirty_us = l->write.page_us - l->read.page_us;
	double hit_rate = r->prefetch_issued ? (double)r->prefetch_used / r->prefetch_issued : 0;
	/* Each write pass against its own floor: the clusters ran one after the other. */
	double replicas_cost = (r->replicated_write.page_us / r->replicated_write.floor_us) /
			       (r->write_again.page_us / r->write_again.floor_us);
	printf("vsmp-vmm bench memory: 3 local nodes (node 0 on one CPU, the lenders on another), "
	       "%d MiB of lent memory through a %d MiB cache, each pass sampled in turns with its "
	       "floor, medians; load average %.2f\n",
	       BENCH_SET_MIB, BENCH_CACHE_MIB, r->load_avg);
	printf(
	    "  sequential read   %9.1f MiB/s  floor %9.1f MiB/s  ratio %.2fx  (local %.1f MiB/s)\n",
	    read, read_floor, read / read_floor, mib_s(r->local_read_s));
	printf(
	    "  sequential write  %9.1f MiB/s  floor %9.1f MiB/s  ratio %.2fx  (local %.1f MiB/s)\n",
	    write, write_floor, write / write_floor, mib_s(r->local_write_s));
	printf("  random access     %9.1f us     floor %9.1f us     ratio %.2fx  (local %.3f us; "
	       "%llu misses in %d accesses)\n",
	       l->random.page_us, l->random.floor_us, random_ratio, r->local_random_us,
	       (unsigned long long)l->random_misses, BENCH_RANDOM);
	printf("    their means     %9.1f us     floor %9.1f us     ratio %.2fx\n",
	       l->random.page_mean_us, l->random.floor_mean_us, random_mean_ratio);
	printf("    host page tables  per miss %.1f us unmapping its victim (while the request is "
	       "out), %.1f us mapping the page, %.1f us its first access (means)\n",
	       h->victim_unmap_us, h->map_us, h->first_access_us);
	printf("  a miss resolved locally %.1f us: a miss against the round trip + it: %.2fx\n",
	       l->random.local_fault_us, with_local_ratio);
	printf("  dirty eviction    %9.1f us extra per page written (%llu written back)\n",
	       dirty_us, (unsigned long long)r->dirty_evictions);
	printf("  prefetch          %llu pages fetched ahead in the lent passes, %.0f%% used\n",
	       (unsigned long long)r->prefetch_issued, hit_rate * 100);
	printf("  replicas = 2      sequential write %.1f MiB/s (floor %.1f) against %.1f (floor "
	       "%.1f) with one copy in the cluster after it, both over %s: %.2fx the time\n",
	       page_mib_s(r->replicated_write.page_us), page_mib_s(r->replicated_write.floor_us),
	       page_mib_s(r->write_again.page_us), page_mib_s(r->write_again.floor_us),
	       r->replicas_path, replicas_cost);
	printf("{\"set_mib\": %d, \"cache_mib\": %d, \"load_avg\": %.2f, \"rtt_4k_us\": %.2f, "
	       "\"floor_mib_s\": %.1f, \"seq_read_mib_s\": %.1f, \"seq_read_ratio\": %.3f, "
	       "\"write_floor_mib_s\": %.1f, \"seq_write_mib_s\": %.1f, \"seq_write_ratio\": %.3f, "
	       "\"local_seq_read_mib_s\": %.1f, \"local_seq_write_mib_s\": %.1f, "
	       "\"rand_access_us\": %.2f, \"rand_miss_ratio\": %.3f, \"rand_misses\": %llu, "
	       "\"rand_access_mean_us\": %.2f, \"rand_miss_mean_ratio\": %.3f, "
	       "\"local_fault_us\": %.2f, \"rand_miss_ratio_rtt_plus_local_fault\": %.3f, "
	       "\"local_rand_access_us\": %.3f, \"dirty_eviction_us\": %.2f, "
	       "\"prefetch_hit_rate\": %.3f, \"replicas2_seq_write_mib_s\": %.1f, "
	       "\"replicas2_write_cost\": %.3f, \"seq_write_again_mib_s\": %.1f, "
	       "\"replicas_transport\": \"%s\", "
	       "\"victim_unmap_us\": %.2f, \"map_us\": %.2f, \"first_access_us\": %.2f}\n",
	       BENCH_SET_MIB, BENCH_CACHE_MIB, r->load_avg, l->random.floor_us, read_floor, read,
	       read / read_floor, write_floor, write, write / write_floor, mib_s(r->local_read_s),
	       mib_s(r->local_write_s), l->random.page_us, random_ratio,
	       (unsigned long long)l->random_misses, l->random.page_mean_us, random_mean_ratio,
	       l->random.local_fault_us, with_local_ratio, r->local_random_us, dirty_us, hit_rate,
	       page_mib_s(r->replicated_write.page_us), replicas_cost,
	       page_mib_s(r->write_again.page_us), r->replicas_path, h->victim_unmap_us, h->map_us,
	       h->first_access_us);
}

static int bench_mem_config(const char *dir, unsigned replicas, struct cluster_config *cfg)
{
	char nodes[1024], cluster[64];
	static unsigned clusters; /* each cluster its own ports */
	unsigned port = bench_first_port() + 3 * clusters++;
	snprintf(nodes, sizeof(nodes),
		 "[[node]]\nname = \"b0\"\naddress = \"127.0.0.1:%u\"\nvcpus = 1\n"
		 "memory_mib = %d\ncache_mib = %d\n"
		 "[[node]]\nname = \"b1\"\naddress = \"127.0.0.1:%u\"\nmemory_mib = %d\n"
		 "[[node]]\nname = \"b2\"\naddress = \"127.0.0.1:%u\"\nmemory_mib = 16\n",
		 port, BENCH_OWN_MIB, BENCH_CACHE_MIB, port + 1, BENCH_SET_MIB, port + 2);
	snprintf(cluster, sizeof(cluster), "mode = \"memory\"\nreplicas = %u\n", replicas);
	return bench_cluster_config(dir, cluster, nodes, cfg);
}

/* A lending node: serves its memory until node 0 is done. With replicas, it prints its final
 * counters as a node does with --stats: the mirror's show how its acks were batched. */
static int bench_mem_lender(const struct cluster_config *cfg, unsigned self, bool loss_tolerant)
{
	struct bench_region b = {0};
	char err[1024];
	log_set_node(cfg->nodes[self].name);
	int rc = bench_mem_start(&b, cfg, self, loss_tolerant, err, sizeof(err));
	if (rc < 0)
		log_error("%s", err);
	else
		rc = engine_quiesce(b.engine, BENCH_QUIET_MS);
	if (rc == 0 && cfg->replicas > 1) {
		struct node_stats s;
		node_stats_read(b.engine, 0, &s);
		node_stats_print(&s, "final");
	}
	bench_region_stop(&b);
	return rc < 0 ? VMM_EXIT_HOST_ERROR : 0;
}

/* One cluster of 3 local nodes with `replicas` (its own key and configuration), measured into r
 * (bench_mem_measure). */
static int bench_memory_cluster(unsigned replicas, bool write_only, bool loss_tolerant,
				struct bench_mem_results *r)
{
	char dir[256];
	if (bench_make_temp_dir("bench-memory", dir, sizeof(dir)) < 0)
		return VMM_EXIT_HOST_ERROR;
	struct cluster_config cfg;
	int status = VMM_EXIT_HOST_ERROR;
	pid_t children[1 + BENCH_LENDERS] = {0};
	if (bench_mem_config(dir, replicas, &cfg) < 0)
		goto out_dir;
	fflush(stdout);
	for (unsigned i = 1; i <= BENCH_LENDERS; i++) {
		children[i] = fork();
		if (children[i] == 0)
			_exit(bench_mem_lender(&cfg, i, loss_tolerant));
	}
	struct bench_region b = {0};
	char err[1024];
	if (bench_mem_start(&b, &cfg, 0, loss_tolerant, err, sizeof(err)) < 0)
		log_error("%s", err);
	else if (bench_mem_measure(&b, &cfg, write_only, r) == 0)
		status = 0;
	if (b.engine && loss_tolerant)
		snprintf(r->replicas_path, sizeof(r->replicas_path), "%s",
			 engine_peer_path(b.engine, 1));
	if (b.engine && engine_quiesce(b.engine, 30000) < 0)
		status = VMM_EXIT_HOST_ERROR;
	for (unsigned i = 1; i <= BENCH_LENDERS; i++) {
		int ws;
		if (children[i] > 0 && waitpid(children[i], &ws, 0) == children[i] &&
		    (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0))
			status = VMM_EXIT_HOST_ERROR;
	}
	bench_region_stop(&b);
	config_free(&cfg);
out_dir:
	bench_remove_temp_dir(dir);
	return status;
}

static int bench_memory(void)
{
	struct bench_mem_results r = {0};
	int status = bench_memory_cluster(1, false, false, &r);
	if (status == 0)
		status = bench_memory_cluster(2, true, true, &r);
	if (status == 0)
		status = bench_memory_cluster(1, true, true, &r);
	if (status == 0 && getloadavg(&r.load_avg, 1) < 1)
		r.load_avg = -1;
	if (status == 0) /* last, after the nodes' leave messages: the JSON ends the output */
		bench_mem_report(&r);
	return status;
}

int bench_memory_main(int argc, char **argv)
{
	static const char usage[] = "usage: vsmp-vmm bench memory\n";
	if (argc == 2 && is_help_option(argv[1])) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc != 1) {
		fputs(usage, stderr);
		return VMM_EXIT_BAD_INPUT;
	}
	return bench_memory();
}
