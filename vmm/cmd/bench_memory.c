/* bench memory. The process forks the two lending nodes of a memory-mode cluster (same binary,
 * temporary key and configuration); they only serve the memory they lend, until node 0 says it
 * is done (engine_quiesce). Node 0, the compute node with a BENCH_CACHE_MIB cache, times passes
 * over a working set four times the cache, once in memory n1 lends and once in its own memory
 * (warmed first, so no access there leaves the node):
 *   - sequential write, then sequential read: every byte of every page, in page order;
 *   - random access: one word of a random page at a time, each access timed, the median kept.
 * The floor is the transport's 4 KiB round trip (engine_ping_us), which a miss cannot beat (a
 * request out, a page back), and the bandwidth of such round trips one after another.
 * The cost of a dirty eviction is the write pass's extra time per page over the read pass (each
 * written page is written back as it leaves; a read page is dropped); the prefetch hit rate is
 * the share of the pages fetched ahead during the lent passes that they then used.
 * Then a second cluster with replicas = 2 (n1 and n2 keep each other's memory) runs the same
 * lent passes: its write pass against the first's is what a second copy costs a write-heavy
 * guest (each write-back waits for the mirror's ack before the page's frame is freed). */
#include "vmm/cmd/bench_memory.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coherence/cluster.h"
#include "coherence/engine.h"
#include "vmm/cmd/bench.h"
#include "vmm/config.h"
#include "vmm/config_mode.h"
#include "vmm/guest_memory.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/node_cluster.h"
#include "vmm/node_options.h"

#define BENCH_CACHE_MIB 8
#define BENCH_SET_MIB	(4 * BENCH_CACHE_MIB)
#define BENCH_OWN_MIB	(BENCH_SET_MIB + 16)
#define BENCH_PAGE	4096
#define BENCH_RANDOM	2000
#define BENCH_PINGS	300
#define BENCH_LENDERS	2
#define BENCH_QUIET_MS	600000 /* a lender waits this long at most for node 0 to finish */
#define BENCH_SET_PAGES ((uint64_t)BENCH_SET_MIB << 20 >> 12)

struct pass_times {
	double write_s, read_s, random_us; /* random: median per access */
};

struct bench_mem_results {
	double rtt_us; /* floor: 4 KiB there and back */
	struct pass_times lent, local;
	uint64_t prefetch_issued, prefetch_used, dirty_evictions;
	struct pass_times replicated; /* the lent passes with replicas = 2 */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Joins and puts the memory under the engine, homed as guest RAM is in memory mode. */
static int bench_mem_start(struct bench_region *b, const struct cluster_config *cfg, unsigned self,
			   char *err, size_t errlen)
{
	uint64_t range_pages[1 + BENCH_LENDERS];
	uint32_t mirrors[1 + BENCH_LENDERS];
	for (unsigned i = 0; i < cfg->node_count; i++)
		range_pages[i] = cfg->nodes[i].memory_bytes / BENCH_PAGE;
	struct coh_home_config homes = {.policy = COH_HOME_RANGES,
					.range_pages = range_pages,
					.mirrors = config_mirrors(cfg, mirrors) ? mirrors : NULL};
	return bench_region_start(b, cfg, self, cfg->total_memory, homes,
				  cfg->nodes[self].cache_bytes / BENCH_PAGE, err, errlen);
}

static void write_pass(uint8_t *set)
{
	volatile uint64_t *words = (volatile uint64_t *)set;
	for (uint64_t w = 0; w < BENCH_SET_PAGES * BENCH_PAGE / 8; w++)
		words[w] = w;
}

static uint64_t read_pass(const uint8_t *set)
{
	const volatile uint64_t *words = (const volatile uint64_t *)set;
	uint64_t sum = 0;
	for (uint64_t w = 0; w < BENCH_SET_PAGES * BENCH_PAGE / 8; w++)
		sum += words[w];
	return sum;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The median time of one read of a word of a random page (xorshift, fixed seed). */
static double random_pass_us(const uint8_t *set)
{
	static uint64_t ns[BENCH_RANDOM];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (unsigned i = 0; i < BENCH_RANDOM; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		const volatile uint64_t *word =
		    (const volatile uint64_t *)(set + (x % BENCH_SET_PAGES) * BENCH_PAGE);
		uint64_t t0 = now_ns();
		(void)*word; /* a volatile read: performed */
		ns[i] = now_ns() - t0;
	}
	qsort(ns, BENCH_RANDOM, sizeof(ns[0]), compare_u64);
	return (double)ns[BENCH_RANDOM / 2] / 1e3;
}

/* Write, read and random passes over the set; the read pass must see what the write pass wrote. */
static int time_passes(const uint8_t *set, struct pass_times *t)
{
	uint64_t t0 = now_ns();
	write_pass((uint8_t *)set);
	uint64_t t1 = now_ns();
	uint64_t sum = read_pass(set);
	uint64_t t2 = now_ns(), words = BENCH_SET_PAGES * BENCH_PAGE / 8;
	if (sum != words * (words - 1) / 2) {
		log_error("bench memory: the read pass summed %llu, expected %llu",
			  (unsigned long long)sum, (unsigned long long)(words * (words - 1) / 2));
		return -1;
	}
	t->write_s = (double)(t1 - t0) / 1e9;
	t->read_s = (double)(t2 - t1) / 1e9;
	t->random_us = random_pass_us(set);
	return 0;
}

/* The median of single 4 KiB round trips to node 1: on a loaded host the mean of many is mostly
 * the few that waited for a CPU. */
static int median_rtt_us(struct engine *e, double *out)
{
	static uint64_t ns[BENCH_PINGS];
	for (unsigned i = 0; i < BENCH_PINGS; i++) {
		double us = engine_ping_us(e, 1, BENCH_PAGE, 1);
		if (us < 0)
			return -1;
		ns[i] = (uint64_t)(us * 1e3);
	}
	qsort(ns, BENCH_PINGS, sizeof(ns[0]), compare_u64);
	*out = (double)ns[BENCH_PINGS / 2] / 1e3;
	return 0;
}

/* With replicas, only the lent passes (into r->replicated). */
static int bench_mem_measure(struct bench_region *b, const struct cluster_config *cfg,
			     struct bench_mem_results *r)
{
	uint8_t *local = b->mem.host, *lent = b->mem.host + cfg->nodes[1].memory_offset;
	if (cfg->replicas > 1)
		return time_passes(lent, &r->replicated);
	if (median_rtt_us(b->engine, &r->rtt_us) < 0) {
		log_error("bench memory: node 1 does not answer pings");
		return -1;
	}
	write_pass(local); /* the local set's first touches are not what is measured */
	if (time_passes(local, &r->local) < 0)
		return -1;
	struct engine_stats before, after;
	engine_get_stats(b->engine, &before);
	if (time_passes(lent, &r->lent) < 0)
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

static void bench_mem_report(const struct bench_mem_results *r)
{
	double floor_mib_s = BENCH_PAGE / r->rtt_us * 1e6 / (1 << 20);
	double read = mib_s(r->lent.read_s), write = mib_s(r->lent.write_s);
	double dirty_us = (r->lent.write_s - r->lent.read_s) * 1e6 / (double)BENCH_SET_PAGES;
	double hit_rate = r->prefetch_issued ? (double)r->prefetch_used / r->prefetch_issued : 0;
	printf(
	    "vsmp-vmm bench memory: 3 local nodes, %d MiB of lent memory through a %d MiB cache; "
	    "floor: the transport's 4 KiB round trip, %.1f us (%.1f MiB/s one after another)\n",
	    BENCH_SET_MIB, BENCH_CACHE_MIB, r->rtt_us, floor_mib_s);
	printf(
	    "  sequential read   %9.1f MiB/s  floor %9.1f MiB/s  ratio %.2fx  (local %.1f MiB/s)\n",
	    read, floor_mib_s, read / floor_mib_s, mib_s(r->local.read_s));
	printf(
	    "  sequential write  %9.1f MiB/s  floor %9.1f MiB/s  ratio %.2fx  (local %.1f MiB/s)\n",
	    write, floor_mib_s, write / floor_mib_s, mib_s(r->local.write_s));
	printf("  random access     %9.1f us     floor %9.1f us     ratio %.2fx  (local %.3f us)\n",
	       r->lent.random_us, r->rtt_us, r->lent.random_us / r->rtt_us, r->local.random_us);
	printf("  dirty eviction    %9.1f us extra per page written (%llu written back)\n",
	       dirty_us, (unsigned long long)r->dirty_evictions);
	printf("  prefetch          %llu pages fetched ahead in the lent passes, %.0f%% used\n",
	       (unsigned long long)r->prefetch_issued, hit_rate * 100);
	printf("  replicas = 2      sequential write %.1f MiB/s against %.1f with one copy: %.2fx "
	       "the time\n",
	       mib_s(r->replicated.write_s), write, r->replicated.write_s / r->lent.write_s);
	printf("{\"set_mib\": %d, \"cache_mib\": %d, \"rtt_4k_us\": %.2f, \"floor_mib_s\": %.1f, "
	       "\"seq_read_mib_s\": %.1f, \"seq_read_ratio\": %.3f, \"seq_write_mib_s\": %.1f, "
	       "\"seq_write_ratio\": %.3f, \"local_seq_read_mib_s\": %.1f, "
	       "\"local_seq_write_mib_s\": %.1f, \"rand_access_us\": %.2f, "
	       "\"rand_miss_ratio\": %.3f, \"local_rand_access_us\": %.3f, "
	       "\"dirty_eviction_us\": %.2f, \"prefetch_hit_rate\": %.3f, "
	       "\"replicas2_seq_write_mib_s\": %.1f, \"replicas2_write_cost\": %.3f}\n",
	       BENCH_SET_MIB, BENCH_CACHE_MIB, r->rtt_us, floor_mib_s, read, read / floor_mib_s,
	       write, write / floor_mib_s, mib_s(r->local.read_s), mib_s(r->local.write_s),
	       r->lent.random_us, r->lent.random_us / r->rtt_us, r->local.random_us, dirty_us,
	       hit_rate, mib_s(r->replicated.write_s), r->replicated.write_s / r->lent.write_s);
}

static int bench_mem_config(const char *dir, unsigned replicas, struct cluster_config *cfg)
{
	char nodes[1024], cluster[64];
	unsigned port = bench_first_port() + 3 * (replicas - 1); /* each cluster its own ports */
	snprintf(nodes, sizeof(nodes),
		 "[[node]]\nname = \"b0\"\naddress = \"127.0.0.1:%u\"\nvcpus = 1\n"
		 "memory_mib = %d\ncache_mib = %d\n"
		 "[[node]]\nname = \"b1\"\naddress = \"127.0.0.1:%u\"\nmemory_mib = %d\n"
		 "[[node]]\nname = \"b2\"\naddress = \"127.0.0.1:%u\"\nmemory_mib = 16\n",
		 port, BENCH_OWN_MIB, BENCH_CACHE_MIB, port + 1, BENCH_SET_MIB, port + 2);
	snprintf(cluster, sizeof(cluster), "mode = \"memory\"\nreplicas = %u\n", replicas);
	return bench_cluster_config(dir, cluster, nodes, cfg);
}

/* A lending node: serves its memory until node 0 is done. */
static int bench_mem_lender(const struct cluster_config *cfg, unsigned self)
{
	struct bench_region b = {0};
	char err[1024];
	log_set_node(cfg->nodes[self].name);
	int rc = bench_mem_start(&b, cfg, self, err, sizeof(err));
	if (rc < 0)
		log_error("%s", err);
	else
		rc = engine_quiesce(b.engine, BENCH_QUIET_MS);
	bench_region_stop(&b);
	return rc < 0 ? VMM_EXIT_HOST_ERROR : 0;
}

/* One cluster of 3 local nodes with `replicas` (its own key and configuration), measured into r. */
static int bench_memory_cluster(unsigned replicas, struct bench_mem_results *r)
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
			_exit(bench_mem_lender(&cfg, i));
	}
	struct bench_region b = {0};
	char err[1024];
	if (bench_mem_start(&b, &cfg, 0, err, sizeof(err)) < 0)
		log_error("%s", err);
	else if (bench_mem_measure(&b, &cfg, r) == 0)
		status = 0;
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
	int status = bench_memory_cluster(1, &r);
	if (status == 0)
		status = bench_memory_cluster(2, &r);
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
