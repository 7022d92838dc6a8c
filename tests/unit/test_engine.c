/* Two engines in this process joined over loopback (real cluster, transport and userfaultfd).
 * The page_changed callback: a node hears about a page when another node's bytes are put in and
 * when its copy is dropped, and not when it only maps, protects or unprotects bytes it already
 * has. Memory mode's bounded cache: pages given up (in batches) are really gone, and what their
 * home writes afterwards is what the next read sees. engine_access: the page is mapped (the host's
 * page table says so) before the thread touches it, for a read or a write as asked, and the
 * engine says when the node loses the page again (page_revoked). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coherence/cluster.h"
#include "coherence/cluster_key.h"
#include "coherence/engine.h"
#include "coherence/region.h"

#define NODES	  2
#define MAX_PAGES 1040

struct node {
	unsigned self;
	struct cluster_params params;
	struct cluster *cluster;
	struct engine *engine;
	int memfd;
	uint8_t *mem;
	atomic_uint changed[MAX_PAGES]; /* page_changed calls per page */
	atomic_uint revoked[MAX_PAGES]; /* page_revoked calls per page */
	atomic_uint bad_offsets;	/* calls with an offset that is not a page of the region */
	atomic_bool failed;		/* the engine reported a fatal error */
	char err[512];
};

static const char *const names[NODES] = {"n0", "n1"};
static const char *const hosts[NODES] = {"127.0.0.1", "127.0.0.1"};
static const uint8_t key[CLUSTER_KEY_SIZE] = {0x5e};
static uint16_t ports[NODES];
static struct node nodes[NODES];

/* How the region is laid out and homed, and node 0's cache (0: none). */
struct layout {
	uint64_t pages;
	struct coh_home_config homes;
	uint64_t cache_pages;
};
static struct layout layout;

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* One more call for the page at page_offset in `counts`, or a bad offset. */
static void count_call(struct node *n, atomic_uint *counts, uint64_t page_offset)
{
	uint64_t page = page_offset / REGION_PAGE_SIZE;
	if (page_offset % REGION_PAGE_SIZE || page >= layout.pages)
		atomic_fetch_add(&n->bad_offsets, 1);
	else
		atomic_fetch_add(&counts[page], 1);
}

static void on_page_changed(void *ctx, uint64_t page_offset)
{
	struct node *n = ctx;
	count_call(n, n->changed, page_offset);
}

static void on_page_revoked(void *ctx, uint64_t page_offset)
{
	struct node *n = ctx;
	count_call(n, n->revoked, page_offset);
}

static void on_fatal(void *ctx, const char *why)
{
	struct node *n = ctx;
	atomic_store(&n->failed, true);
	cr_log_error("engine failed: %s", why);
}

/* Each node joins and starts its engine at the same time as the other: both wait for the peer. */
static void *start_node(void *arg)
{
	struct node *n = arg;
	static const struct cluster_ops ops = {0};
	n->cluster = cluster_join(&n->params, &ops, n, n->err, sizeof(n->err));
	if (!n->cluster)
		return NULL;
	struct engine_params params = {.host = n->mem,
				       .memfd = n->memfd,
				       .size = layout.pages * REGION_PAGE_SIZE,
				       .cluster = n->cluster,
				       .homes = layout.homes,
				       .cache_pages = n->self == 0 ? layout.cache_pages : 0,
				       .fatal = on_fatal,
				       .page_changed = on_page_changed,
				       .page_revoked = on_page_revoked,
				       .ctx = n};
	n->engine = engine_create(&params, n->err, sizeof(n->err));
	return NULL;
}

static void start_nodes(const struct layout *l)
{
	pthread_t threads[NODES];
	layout = *l;
	for (unsigned i = 0; i < NODES; i++)
		ports[i] = free_port();
	for (unsigned i = 0; i < NODES; i++) {
		struct node *n = &nodes[i];
		memset(n, 0, sizeof(*n));
		n->self = i;
		n->params = (struct cluster_params){.node_count = NODES,
						    .self = i,
						    .hosts = hosts,
						    .ports = ports,
						    .names = names,
						    .key = key,
						    .join_timeout_ms = 5000};
		memset(n->params.config_hash, 0x3c, sizeof(n->params.config_hash));
		n->memfd = memfd_create("test-engine", MFD_CLOEXEC);
		cr_assert_geq(n->memfd, 0);
		cr_assert_eq(ftruncate(n->memfd, layout.pages * REGION_PAGE_SIZE), 0);
		n->mem = mmap(NULL, layout.pages * REGION_PAGE_SIZE, PROT_READ | PROT_WRITE,
			      MAP_SHARED, n->memfd, 0);
		cr_assert_neq(n->mem, MAP_FAILED);
		cr_assert_eq(pthread_create(&threads[i], NULL, start_node, n), 0);
	}
	for (unsigned i = 0; i < NODES; i++) {
		pthread_join(threads[i], NULL);
		cr_assert_not_null(nodes[i].engine, "node %u: %s", i, nodes[i].err);
	}
}

static void stop_nodes(void)
{
	for (unsigned i = 0; i < NODES; i++)
		cr_assert_not(atomic_load(&nodes[i].failed), "node %u's engine failed", i);
	for (unsigned i = 0; i < NODES; i++)
		engine_close(nodes[i].engine);
	for (unsigned i = 0; i < NODES; i++) {
		engine_destroy(nodes[i].engine);
		cluster_leave(nodes[i].cluster);
		munmap(nodes[i].mem, layout.pages * REGION_PAGE_SIZE);
		close(nodes[i].memfd);
	}
}

/* Waits up to 2 s for a counter to reach `want`; returns its value. */
static unsigned wait_count(atomic_uint *counter, unsigned want)
{
	for (int i = 0; i < 2000 && atomic_load(counter) < want; i++)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	return atomic_load(counter);
}

Test(engine, page_changed_follows_other_nodes_bytes_and_drops, .timeout = 30)
{
	/* Striped: page 0 is homed at node 0, page 1 at node 1. */
	start_nodes(&(struct layout){.pages = 2, .homes = {.policy = COH_HOME_STRIPED}});
	volatile uint8_t *home = nodes[0].mem, *remote = nodes[1].mem;

	home[0] = 0x5a; /* node 0's own page, never anywhere else: no other node's bytes */
	cr_assert_eq(atomic_load(&nodes[0].changed[0]), 0);

	cr_assert_eq(remote[0], 0x5a, "node 1 reads node 0's bytes");
	/* Reported once the bytes are there, which may be just after the read they woke. */
	cr_assert_eq(wait_count(&nodes[1].changed[0], 1), 1, "node 0's copy arrived at node 1");

	home[0] = 0xa5; /* takes node 1's copy away */
	cr_assert_eq(wait_count(&nodes[1].changed[0], 2), 2, "node 1's copy was dropped");
	cr_assert_eq(atomic_load(&nodes[0].changed[0]), 0,
		     "node 0 only protected and unprotected its own bytes");

	remote[REGION_PAGE_SIZE] = 7; /* node 1's own page */
	cr_assert_eq(atomic_load(&nodes[1].changed[1]), 0);
	cr_assert_eq(atomic_load(&nodes[0].changed[1]), 0);
	for (unsigned i = 0; i < NODES; i++)
		cr_assert_eq(atomic_load(&nodes[i].bad_offsets), 0);
	stop_nodes();
}

/* Memory mode: node 0 computes with OWN pages of its own and a cache of `cache`; node 1 lends
 * `lent` (pages [OWN, OWN + lent)). */
enum { OWN = 16, LENT = 128, CACHE = 32 };

static void start_memory_mode_sized(uint64_t lent, uint64_t cache)
{
	static uint64_t ranges[NODES];
	ranges[0] = OWN;
	ranges[1] = lent;
	cr_assert_leq(OWN + lent, MAX_PAGES);
	start_nodes(&(struct layout){.pages = OWN + lent,
				     .homes = {.policy = COH_HOME_RANGES, .range_pages = ranges},
				     .cache_pages = cache});
}

static void start_memory_mode(void)
{
	start_memory_mode_sized(LENT, CACHE);
}

/* Reading the lent pages in order brings them in by read-ahead and gives them up in batches;
 * then node 1 writes every lent page, and node 0 must read the new bytes: a page given up but
 * still mapped would show the old ones. */
Test(engine, pages_given_up_are_gone_and_read_again_from_their_home, .timeout = 30)
{
	start_memory_mode();
	volatile uint8_t *compute = nodes[0].mem, *lender = nodes[1].mem;
	for (unsigned round = 0; round < 2; round++) {
		for (unsigned p = OWN; p < OWN + LENT; p++)
			lender[p * REGION_PAGE_SIZE + 1] = (uint8_t)(p + 100 * round);
		for (unsigned p = OWN; p < OWN + LENT; p++)
			cr_assert_eq(compute[p * REGION_PAGE_SIZE + 1], (uint8_t)(p + 100 * round),
				     "round %u, page %u", round, p);
		struct engine_stats st;
		engine_get_stats(nodes[0].engine, &st);
		cr_assert_leq(st.lent_resident, CACHE, "round %u", round);
		cr_assert_geq(st.evictions_clean, (round + 1) * (LENT - CACHE), "round %u", round);
		cr_assert_gt(st.prefetch_used, 0, "a sequential pass reads ahead");
	}
	cr_assert_geq(atomic_load(&nodes[0].changed[OWN]), 4, "in, out, in again, out again");
	for (unsigned i = 0; i < NODES; i++)
		cr_assert_eq(atomic_load(&nodes[i].bad_offsets), 0);
	stop_nodes();
}

/* Node 1 writes byte `at` of each of the `lent` pages it lends as the page number times `mul`;
 * node 0 reads them back in page order, a sequential pass through its cache. */
static void lend_and_read_in_order(unsigned lent, unsigned at, unsigned mul)
{
	volatile uint8_t *compute = nodes[0].mem, *lender = nodes[1].mem;
	for (unsigned p = OWN; p < OWN + lent; p++)
		lender[p * REGION_PAGE_SIZE + at] = (uint8_t)(p * mul);
	for (unsigned p = OWN; p < OWN + lent; p++)
		cr_assert_eq(compute[p * REGION_PAGE_SIZE + at], (uint8_t)(p * mul), "page %u", p);
}

/* A sequential pass's victims are consecutive: they are given up in runs long enough for the host
 * to unmap each with one flush (34 pages or more), not in a read-ahead's worth at a time, and the
 * cache stays within a run of its budget. */
Test(engine, a_sequential_pass_gives_pages_up_in_long_runs, .timeout = 30)
{
	enum { BIG_LENT = 1024, BIG_CACHE = 512 };
	start_memory_mode_sized(BIG_LENT, BIG_CACHE);
	volatile uint8_t *compute = nodes[0].mem, *lender = nodes[1].mem;
	lend_and_read_in_order(BIG_LENT, 3, 7);
	struct engine_stats st;
	engine_get_stats(nodes[0].engine, &st);
	cr_assert_geq(st.evictions_clean, BIG_LENT - BIG_CACHE);
	cr_assert_leq(st.lent_unmaps * 34, st.evictions_clean,
		      "%llu pages given up in %llu unmappings",
		      (unsigned long long)st.evictions_clean, (unsigned long long)st.lent_unmaps);
	cr_assert_leq(st.lent_resident, BIG_CACHE);
	cr_assert_geq(st.lent_resident, BIG_CACHE - 64);
	/* Writing every page: the clean copies left go first, then dirty ones, in runs as long
	 * (written back, then unmapped together); no write is lost. */
	struct engine_stats before = st;
	for (unsigned p = OWN; p < OWN + BIG_LENT; p++)
		compute[p * REGION_PAGE_SIZE + 3] = (uint8_t)(p * 11);
	engine_get_stats(nodes[0].engine, &st);
	uint64_t evicted = st.evictions_clean + st.evictions_dirty - before.evictions_clean -
			   before.evictions_dirty;
	uint64_t unmaps = st.lent_unmaps - before.lent_unmaps;
	cr_assert_geq(st.evictions_dirty, BIG_LENT - BIG_CACHE - 64);
	cr_assert_leq(unmaps * 34, evicted, "%llu pages given up in %llu unmappings",
		      (unsigned long long)evicted, (unsigned long long)unmaps);
	cr_assert_geq(st.lent_resident + (st.evictions_dirty - st.writebacks_acked), BIG_CACHE - 64,
		      "%llu resident, %llu dirty evictions", (unsigned long long)st.lent_resident,
		      (unsigned long long)st.evictions_dirty);
	for (unsigned p = OWN; p < OWN + BIG_LENT; p++)
		cr_assert_eq(lender[p * REGION_PAGE_SIZE + 3], (uint8_t)(p * 11), "page %u", p);
	stop_nodes();
}

/* What a sequential pass leaves behind is cold and consecutive: scattered misses after it push
 * it out in runs (one unmapping for many pages), not one invalidation per miss. */
Test(engine, scattered_misses_after_a_sequential_pass_give_pages_up_in_runs, .timeout = 30)
{
	enum { BIG_LENT = 1024, BIG_CACHE = 512, MISSES = 128 };
	start_memory_mode_sized(BIG_LENT, BIG_CACHE);
	volatile uint8_t *compute = nodes[0].mem;
	lend_and_read_in_order(BIG_LENT, 5, 3);
	struct engine_stats before, st;
	engine_get_stats(nodes[0].engine, &before);
	for (unsigned i = 0; i < MISSES; i++) {
		/* not resident, and not in order */
		unsigned p = OWN + (i * 197) % (BIG_LENT - BIG_CACHE);
		cr_assert_eq(compute[p * REGION_PAGE_SIZE + 5], (uint8_t)(p * 3), "page %u", p);
	}
	engine_get_stats(nodes[0].engine, &st);
	uint64_t evicted = st.evictions_clean - before.evictions_clean;
	uint64_t unmaps = st.lent_unmaps - before.lent_unmaps;
	cr_assert_geq(evicted, MISSES - 64);
	cr_assert_leq(unmaps * 16, evicted, "%llu pages given up in %llu unmappings",
		      (unsigned long long)evicted, (unsigned long long)unmaps);
	cr_assert_leq(st.lent_resident, BIG_CACHE);
	stop_nodes();
}

/* The lent pages written in order: the pages after a run of write misses are fetched ahead as
 * writable copies, so each is written after one fault, not a fault and then an upgrade; every
 * write reaches the home (node 1 reads them all back, each given up or fetched from node 0), and
 * node 0 then reads what node 1 writes next. */
Test(engine, a_run_of_writes_fetches_writable_copies_and_loses_no_write, .timeout = 30)
{
	start_memory_mode();
	volatile uint8_t *compute = nodes[0].mem, *lender = nodes[1].mem;
	for (unsigned p = OWN; p < OWN + LENT; p++)
		compute[p * REGION_PAGE_SIZE + 2] = (uint8_t)(p * 3);
	struct engine_stats st;
	engine_get_stats(nodes[0].engine, &st);
	cr_assert_gt(st.prefetch_used, LENT / 2, "the run was fetched ahead: %llu used",
		     (unsigned long long)st.prefetch_used);
	cr_assert_leq(st.write_faults, LENT + 4, "one fault per page written, no upgrades: %llu",
		      (unsigned long long)st.write_faults);
	/* Over the budget only by the write-backs in flight (their pages stay until acked). */
	cr_assert_leq(st.lent_resident, CACHE + (st.evictions_dirty - st.writebacks_acked));
	for (unsigned p = OWN; p < OWN + LENT; p++)
		cr_assert_eq(lender[p * REGION_PAGE_SIZE + 2], (uint8_t)(p * 3), "page %u", p);
	for (unsigned p = OWN; p < OWN + LENT; p++)
		lender[p * REGION_PAGE_SIZE + 2] = (uint8_t)(p * 5);
	for (unsigned p = OWN; p < OWN + LENT; p++)
		cr_assert_eq(compute[p * REGION_PAGE_SIZE + 2], (uint8_t)(p * 5), "page %u", p);
	stop_nodes();
}

/* Whether the host's page table maps `addr` in this process (bit 63 of its pagemap entry). */
static bool host_maps(const volatile void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	uint64_t entry = 0;
	off_t at = (off_t)((uintptr_t)addr / REGION_PAGE_SIZE * sizeof(entry));
	cr_assert_eq(pread(fd, &entry, sizeof(entry), at), (ssize_t)sizeof(entry));
	close(fd);
	return entry >> 63;
}

/* engine_access brings each page in on the calling thread: mapped before the first touch (no
 * fault through the userfaultfd needed), writable when asked for a write, with the home's bytes;
 * what node 0 writes reaches node 1; a page node 1 then writes is revoked at node 0. */
Test(engine, engine_access_maps_the_page_before_the_thread_touches_it, .timeout = 30)
{
	start_memory_mode();
	struct engine *e = nodes[0].engine;
	volatile uint8_t *compute = nodes[0].mem, *lender = nodes[1].mem;
	for (unsigned p = OWN; p < OWN + LENT; p++)
		lender[p * REGION_PAGE_SIZE + 3] = (uint8_t)(p ^ 0x5a);
	for (unsigned p = OWN; p < OWN + LENT; p += 3) {
		uint64_t at = (uint64_t)p * REGION_PAGE_SIZE;
		bool write = p % 2;
		int can = engine_access(e, at, write);
		cr_assert_geq(can, (int)write, "page %u: engine_access gave %d", p, can);
		cr_assert(host_maps(compute + at), "page %u is mapped before it is touched", p);
		cr_assert_eq(compute[at + 3], (uint8_t)(p ^ 0x5a), "page %u", p);
		if (write)
			compute[at + 3] = (uint8_t)(p ^ 0xa5);
	}
	for (unsigned p = OWN; p < OWN + LENT; p += 3)
		cr_assert_eq(lender[p * REGION_PAGE_SIZE + 3],
			     (uint8_t)(p % 2 ? p ^ 0xa5 : p ^ 0x5a), "page %u", p);
	unsigned last = OWN + LENT - 1; /* still in node 0's cache, which node 1 now writes */
	cr_assert_geq(engine_access(e, (uint64_t)last * REGION_PAGE_SIZE, false), 0);
	unsigned before = atomic_load(&nodes[0].revoked[last]);
	lender[last * REGION_PAGE_SIZE + 3] = 1;
	cr_assert_gt(wait_count(&nodes[0].revoked[last], before + 1), before,
		     "node 0 heard that its copy went");
	cr_assert_eq(engine_access(e, (uint64_t)layout.pages * REGION_PAGE_SIZE, false), -1,
		     "past the region");
	for (unsigned i = 0; i < NODES; i++)
		cr_assert_eq(atomic_load(&nodes[i].bad_offsets), 0);
	stop_nodes();
}
