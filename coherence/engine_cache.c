/* Memory mode's side of the engine: the bounded cache of pages homed on other nodes, given up in
 * batches, and the read-ahead that fetches a sequential run's next pages in one request
 * (docs/coherence.md, "The cache" and "Prefetch"). Ahead of a run of writes it asks for writable
 * copies, so that a page written is not fetched read-only and then upgraded (a second round
 * trip); such a page kept aside is the protocol's exclusive copy, so the protocol reads it (to
 * answer a fetch or write it back) and downgrades it where it is kept.
 *
 * Batches. A read-ahead's requests, and the EVICTs of pages given up together, are collected on
 * the thread that issues them (the protocol's send is routed here while a batch is open) and
 * leave as one message to their home, which handles them in order as if they had come one by
 * one. An eviction gives up what is over the budget: one page after a miss, a read-ahead's worth
 * after a read-ahead (its pages count from their request). The pages of an eviction are dropped
 * together, one hole punched per run of consecutive pages, before their EVICTs leave: a node must
 * not tell the home it holds no copy while it still maps one. A sequential pass makes its victims
 * consecutive, and such a run goes on past the budget to EVICT_RUN pages: the host unmaps a short
 * run with one TLB invalidation per page and a long one with a single flush, which on this host
 * costs about what six invalidations do (docs/benchmarks.md). So does a single clean victim
 * whose following pages are the clock's next victims (what a sequential pass left cold, which
 * random misses then push out one by one, each paying an invalidation). Scattered victims are
 * not worth it: each is a run of its own, and the miss that paid for a bigger batch would wait
 * longer.
 * Dirty victims join the batch too: write-protected a run at a time, written back, their bytes
 * kept aside (the protocol's MI_A copy, until WB_ACK) and punched with the rest, rather than
 * protected and later dropped one page at a time.
 *
 * A mirror's REPLICA_ACKs (replicas = 2) are batched across deliveries rather than on one thread:
 * each page written back costs the lenders a REPLICA_WRITE and its ack, and the lenders' CPU is
 * what a replicated write pass waits for. The acks a turn's deliveries produce leave together
 * when the turn ends (the chore), or before anything else this node sends to their node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coherence/cluster.h"
#include "coherence/engine_internal.h"
#include "coherence/homes.h"
#include "coherence/page_cache.h"
#include "coherence/prefetch.h"

#define BATCH_MAX_MSGS	64 /* protocol messages in one batch */
#define BATCH_MAX_SIZE	(BATCH_MAX_MSGS * COH_MSG_HEADER_SIZE)
#define EVICT_BATCH_MAX BATCH_MAX_MSGS

/* A run of consecutive victims is unmapped with one flush from 34 pages on (x86 Linux invalidates
 * up to tlb_single_page_flush_ceiling, 33, page by page); longer runs share the flush further. */
#define EVICT_RUN 64

_Static_assert(PREFETCH_WINDOW <= BATCH_MAX_MSGS && EVICT_RUN <= EVICT_BATCH_MAX,
	       "a read-ahead and a run of victims fit one batch");

/* Messages of one type for one node, and (for an eviction) the pages to drop before they leave:
 * clean copies the protocol gave up, and dirty ones still to be written back (`dirty`). */
struct batch {
	uint32_t node;
	uint16_t coh_type;
	size_t len;
	uint8_t buf[BATCH_MAX_SIZE];
	unsigned drops;
	struct {
		uint64_t page;
		bool dirty;
	} drop[EVICT_BATCH_MAX];
};
static _Thread_local struct batch *open_batch;

/* Which engine message carries a batch of which protocol message. */
static const struct {
	uint16_t msg, coh_type;
} batch_types[] = {
    {ENGINE_MSG_READ_BATCH, COH_MSG_READ_REQ},
    {ENGINE_MSG_WRITE_BATCH, COH_MSG_WRITE_REQ},
    {ENGINE_MSG_EVICT_BATCH, COH_MSG_EVICT},
    {ENGINE_MSG_ACK_BATCH, COH_MSG_REPLICA_ACK},
};
#define BATCH_TYPES (sizeof(batch_types) / sizeof(batch_types[0]))

bool engine_cache_batch_send(uint32_t node, const struct coh_msg *msg)
{
	struct batch *b = open_batch;
	size_t len;
	char err[128];
	if (!b || msg->type != b->coh_type || node != b->node ||
	    coh_msg_encode(msg, b->buf + b->len, sizeof(b->buf) - b->len, &len, err, sizeof(err)) <
		0)
		return false;
	b->len += len;
	return true;
}

static bool batch_add_drop(struct batch *b, uint64_t page, bool dirty)
{
	if (!b || b->coh_type != COH_MSG_EVICT || b->drops == EVICT_BATCH_MAX)
		return false;
	b->drop[b->drops].page = page;
	b->drop[b->drops++].dirty = dirty;
	return true;
}

bool engine_cache_batch_drop(uint64_t page)
{
	return batch_add_drop(open_batch, page, false);
}

bool engine_cache_batch_protected(uint64_t page)
{
	const struct batch *b = open_batch;
	for (unsigned i = 0; b && i < b->drops; i++)
		if (b->drop[i].page == page)
			return b->drop[i].dirty;
	return false;
}

/* Calls fn for each run of consecutive pages among the batch's drops (sorted), or only among its
 * dirty ones: its first page and length. Returns how many runs it called fn for. */
static unsigned batch_runs(struct engine *e, const struct batch *b, bool dirty_only,
			   int (*fn)(struct region *, uint64_t, uint64_t), const char *what)
{
	unsigned runs = 0;
	for (unsigned i = 0, j; i < b->drops; i = j) {
		bool dirty = b->drop[i].dirty;
		for (j = i + 1; j < b->drops && b->drop[j].page == b->drop[j - 1].page + 1 &&
				(!dirty_only || b->drop[j].dirty == dirty);
		     j++)
			;
		if (dirty_only && !dirty)
			continue;
		runs++;
		if (fn(engine_region(e), b->drop[i].page, j - i) < 0)
			engine_fail(e, what);
	}
	return runs;
}

/* A dirty copy's bytes stay here, unmapped, from its eviction until the protocol drops it (its
 * write-back acknowledged, or the home took it meanwhile): the protocol reads them to answer a
 * fetch, or to write them back again to a new home. They are what was written back: the page
 * (write-protected since), or its staged copy if it was fetched ahead and never touched. */
static bool leaving_keep(struct engine *e, uint64_t page)
{
	uint8_t *data = malloc(REGION_PAGE_SIZE);
	bool read = data && (engine_cache_read_kept(e, page, data) ||
			     region_read(engine_region(e), page, data) == 0);
	pthread_mutex_lock(&e->cache_lock);
	if (data && e->leaving_count == e->leaving_cap) {
		size_t cap = e->leaving_cap ? 2 * e->leaving_cap : 64;
		struct engine_kept *grown = realloc(e->leaving, cap * sizeof(*grown));
		if (grown) {
			e->leaving = grown;
			e->leaving_cap = cap;
		}
	}
	bool kept = read && e->leaving_count < e->leaving_cap;
	if (kept)
		e->leaving[e->leaving_count++] = (struct engine_kept){page, data};
	pthread_mutex_unlock(&e->cache_lock);
	if (!kept) {
		free(data);
		engine_fail(e, "coherence: keeping a page being written back failed");
	}
	return kept;
}

/* The batch's dirty pages: write-protected together (one run, one unmapping's worth), their bytes
 * kept aside, then written back through the protocol (which reads the kept bytes) to be dropped
 * with the batch. The protocol's downgrade finds them protected already
 * (engine_cache_batch_protected). */
static void batch_write_back(struct engine *e, struct batch *b)
{
	char err[128];
	unsigned kept = 0;
	batch_runs(e, b, true, region_protect, "coherence: write-protecting pages failed");
	for (unsigned i = 0; i < b->drops; i++) {
		uint64_t page = b->drop[i].page;
		if (b->drop[i].dirty) {
			if (!leaving_keep(e, page))
				continue; /* not written back: not to be dropped either */
			open_batch = b;
			int rc = coh_evict(e->coh, page, err, sizeof(err));
			open_batch = NULL;
			if (rc < 0) {
				engine_cache_forget_leaving(e, page);
				engine_fail(e, err);
				continue;
			}
			page_set_mapped(e, page, false);
		}
		b->drop[kept++] = b->drop[i];
	}
	b->drops = kept;
}

/* Sends the batch's messages as one and empties it; `now`: without sending this node's pending
 * acks first (the acks' own batch, sent with their lock held). */
static void batch_send(struct engine *e, struct batch *b, bool now)
{
	if (!b->len)
		return;
	uint16_t type = 0;
	for (unsigned k = 0; k < BATCH_TYPES; k++)
		if (batch_types[k].coh_type == b->coh_type)
			type = batch_types[k].msg;
	int rc = now ? engine_transport_send_now(e, b->node, type, b->buf, b->len)
		     : engine_transport_send(e, b->node, type, b->buf, b->len);
	if (rc == 0) {
		atomic_fetch_add(&e->messages_out, b->len / COH_MSG_HEADER_SIZE);
		atomic_fetch_add(&e->bytes_out, b->len);
	} else {
		char why[128];
		snprintf(why, sizeof(why), "coherence: cannot send a batch of %s to node %u",
			 coh_msg_type_name(b->coh_type), b->node);
		engine_send_failed(e, b->node, why);
	}
	b->len = 0;
}

/* Writes back the batch's dirty pages, punches all its pages (sorted, one hole per run), then
 * sends its messages. */
static void batch_flush(struct engine *e, struct batch *b)
{
	for (unsigned i = 1; i < b->drops; i++)
		for (unsigned j = i; j > 0 && b->drop[j - 1].page > b->drop[j].page; j--) {
			typeof(b->drop[0]) t = b->drop[j];
			b->drop[j] = b->drop[j - 1];
			b->drop[j - 1] = t;
		}
	batch_write_back(e, b);
	atomic_fetch_add(&e->lent_unmaps,
			 batch_runs(e, b, false, region_drop, "coherence: dropping a page failed"));
	batch_send(e, b, false);
	b->drops = 0;
}

void engine_cache_note(struct engine *e, uint64_t page, bool resident)
{
	if (!page_lent(e, page))
		return;
	pthread_mutex_lock(&e->cache_lock);
	if (resident) {
		page_cache_use(e->cache, page);
	} else {
		page_cache_remove(e->cache, page);
		if (prefetch_release(e->prefetch, page)) /* left before any touch */
			atomic_fetch_add(&e->prefetch_unused, 1);
	}
	pthread_mutex_unlock(&e->cache_lock);
}

/* Gives up one victim: a clean copy through the protocol now (its drop and EVICT join the batch),
 * a dirty one into the batch, to be written back when the batch leaves. false if it cannot go now
 * (the protocol is busy with it, or a thread of this node has just been given it: its hold). */
static bool evict_one(struct engine *e, struct batch *b, uint64_t page, uint64_t now)
{
	char err[128];
	if (hold_remaining_ns(&e->hold, page, now))
		return false;
	enum coh_page_state state = coh_page_state(e->coh, page);
	if (state == COH_E) {
		if (!batch_add_drop(b, page, true))
			return false;
		/* Leaving from now on: not counted against the budget, nor chosen again. */
		atomic_fetch_add(&e->evictions_dirty, 1);
		pthread_mutex_lock(&e->cache_lock);
		page_cache_leaving(e->cache, page);
		pthread_mutex_unlock(&e->cache_lock);
		return true;
	}
	if (state != COH_S)
		return false;
	open_batch = b;
	int rc = coh_evict(e->coh, page, err, sizeof(err));
	open_batch = NULL;
	if (rc < 0)
		return false;
	atomic_fetch_add(&e->evictions_clean, 1);
	return true;
}

/* The batch's pages so far are one ascending run of consecutive pages, shorter than `run`: two
 * or more, or a single clean one (a dirty one alone would start a burst of write-backs, which
 * made sequential writes slower). */
static bool run_to_extend(const struct batch *b, uint64_t run)
{
	return b->drops >= (b->drop[0].dirty ? 2u : 1u) && b->drops < run &&
	       b->drop[b->drops - 1].page - b->drop[0].page == b->drops - 1;
}

/* Evicts while over the budget, in batches of one home each; each resident page is tried at most
 * once. A run of consecutive victims goes on to EVICT_RUN pages (at most a quarter of the cache,
 * as a read-ahead): the host unmaps it at the cost of a few. */
void engine_cache_trim(struct engine *e)
{
	if (!e->cache)
		return;
	pthread_mutex_lock(&e->cache_lock);
	uint64_t tries = page_cache_resident_count(e->cache);
	uint64_t want = page_cache_excess(e->cache);
	pthread_mutex_unlock(&e->cache_lock);
	if (want == 0)
		return;
	const struct coh_homes *homes = coh_homes(e->coh);
	struct batch b = {.coh_type = COH_MSG_EVICT};
	uint64_t page, now = engine_now_ns();
	uint64_t run = e->params.cache_pages / 4;
	if (run > EVICT_RUN)
		run = EVICT_RUN;
	while (tries--) {
		bool extending = want == 0;
		if (extending && !run_to_extend(&b, run))
			break;
		/* One clean victim grows only along the clock's very next victims; a run of two or
		 * more goes on with whatever the clock picks while it stays a run. */
		pthread_mutex_lock(&e->cache_lock);
		bool found;
		if (extending && b.drops == 1) {
			page = b.drop[0].page + 1;
			found = page_cache_victim_at(e->cache, page);
		} else {
			found = page_cache_victim(e->cache, &page);
		}
		pthread_mutex_unlock(&e->cache_lock);
		if (!found)
			break;
		uint32_t home = coh_home_of(homes, page);
		if (b.drops == EVICT_BATCH_MAX || (home != b.node && (b.drops || b.len)))
			batch_flush(e, &b);
		b.node = home;
		bool evicted = evict_one(e, &b, page, now);
		if (!extending)
			want -= evicted;
		else if (!evicted)
			break;
	}
	batch_flush(e, &b);
}

/* Kept aside, unmapped, so that the first touch faults and shows it was used. It is resident
 * since it was asked for, and the protocol holds it as shared or (a write run's) exclusive. */
bool engine_cache_stage(struct engine *e, uint64_t page, const uint8_t *data, bool writable)
{
	if (!page_lent(e, page) || page_mapped(e, page))
		return false;
	pthread_mutex_lock(&e->cache_lock);
	bool staged = prefetch_stage(e->prefetch, page, data, writable);
	pthread_mutex_unlock(&e->cache_lock);
	if (staged)
		engine_page_changed(e, page);
	return staged;
}

static struct engine_kept *leaving_find(struct engine *e, uint64_t page)
{
	for (size_t i = 0; i < e->leaving_count; i++)
		if (e->leaving[i].page == page)
			return &e->leaving[i];
	return NULL;
}

bool engine_cache_read_kept(struct engine *e, uint64_t page, uint8_t *buf)
{
	if (!page_lent(e, page))
		return false;
	bool writable;
	pthread_mutex_lock(&e->cache_lock);
	const uint8_t *kept = prefetch_staged(e->prefetch, page, &writable);
	if (!kept) {
		const struct engine_kept *leaving = leaving_find(e, page);
		kept = leaving ? leaving->data : NULL;
	}
	if (kept)
		memcpy(buf, kept, REGION_PAGE_SIZE);
	pthread_mutex_unlock(&e->cache_lock);
	return kept != NULL;
}

bool engine_cache_forget_leaving(struct engine *e, uint64_t page)
{
	if (!page_lent(e, page))
		return false;
	pthread_mutex_lock(&e->cache_lock);
	struct engine_kept *leaving = leaving_find(e, page);
	if (leaving) {
		free(leaving->data);
		*leaving = e->leaving[--e->leaving_count];
	}
	pthread_mutex_unlock(&e->cache_lock);
	return leaving != NULL;
}

void engine_cache_protect(struct engine *e, uint64_t page)
{
	if (!page_lent(e, page))
		return;
	pthread_mutex_lock(&e->cache_lock);
	prefetch_protect(e->prefetch, page);
	pthread_mutex_unlock(&e->cache_lock);
}

/* Asks the home of `first` for the pages of [first, end) that it homes and this node lacks, in
 * one message, as far as slots are free. A read-ahead takes at most a quarter of the cache, so
 * that it does not push out what it is meant to add to. */
void engine_cache_prefetch(struct engine *e, uint64_t first, uint64_t end, bool write)
{
	if (end - first > e->params.cache_pages / 4)
		end = first + e->params.cache_pages / 4;
	const struct coh_homes *homes = coh_homes(e->coh);
	struct batch b = {.node = coh_home_of(homes, first),
			  .coh_type = write ? COH_MSG_WRITE_REQ : COH_MSG_READ_REQ};
	char err[256];
	for (uint64_t page = first; page < end && page < e->params.size / REGION_PAGE_SIZE;
	     page++) {
		if (!page_lent(e, page) || coh_home_of(homes, page) != b.node)
			break;
		if (page_mapped(e, page) || coh_page_state(e->coh, page) != COH_I)
			continue;
		pthread_mutex_lock(&e->cache_lock);
		bool expected = prefetch_expect(e->prefetch, page);
		if (expected)
			page_cache_use(e->cache, page);
		pthread_mutex_unlock(&e->cache_lock);
		if (!expected)
			break;
		open_batch = &b;
		int rc = coh_fault(e->coh, page, write, err, sizeof(err));
		open_batch = NULL;
		if (rc < 0) {
			engine_fail(e, err);
			return;
		}
		atomic_fetch_add(&e->prefetch_issued, 1);
	}
	batch_flush(e, &b);
}

/* A staged page is mapped now, one fetched ahead and still in flight is claimed, anything else is
 * a miss (resident from now on); all continue a sequential run. */
bool engine_cache_miss(struct engine *e, uint64_t page, bool *writable, uint64_t *first,
		       uint64_t *end)
{
	pthread_mutex_lock(&e->cache_lock);
	*writable = false;
	const uint8_t *staged = prefetch_staged(e->prefetch, page, writable);
	int rc = staged ? region_install(engine_region(e), page, staged, *writable) : 0;
	bool used =
	    staged ? prefetch_release(e->prefetch, page) : prefetch_claim(e->prefetch, page);
	if (!prefetch_on_miss(e->prefetch, page, first, end))
		*first = *end = 0;
	page_cache_use(e->cache, page);
	pthread_mutex_unlock(&e->cache_lock);
	if (staged) {
		page_set_mapped(e, page, true);
		hold_note(&e->hold, page, engine_now_ns());
	}
	atomic_fetch_add(used ? &e->prefetch_used : &e->lent_misses, 1);
	if (rc < 0)
		engine_fail(e, "coherence: installing a staged page failed");
	return staged != NULL;
}

bool engine_cache_receive_batch(struct engine *e, unsigned src, uint16_t type,
				const uint8_t *payload, size_t len)
{
	uint16_t coh_type = 0;
	for (unsigned k = 0; k < BATCH_TYPES; k++)
		if (batch_types[k].msg == type)
			coh_type = batch_types[k].coh_type;
	if (!coh_type)
		return false;
	if (len == 0 || len > BATCH_MAX_SIZE || len % COH_MSG_HEADER_SIZE) {
		char why[128];
		snprintf(why, sizeof(why), "coherence: node %u sent a batch of %s of %zu bytes",
			 src, coh_msg_type_name(coh_type), len);
		engine_fail(e, why);
		return true;
	}
	atomic_fetch_add(&e->bytes_in, len);
	for (size_t at = 0; at < len; at += COH_MSG_HEADER_SIZE) {
		atomic_fetch_add(&e->messages_in, 1);
		if (!engine_deliver(e, src, coh_type, payload + at, COH_MSG_HEADER_SIZE))
			return true;
	}
	engine_cache_trim(e);
	return true;
}

/* With ack_lock held. */
static void acks_send_locked(struct engine *e)
{
	batch_send(e, e->acks, true);
	atomic_store(&e->acks_pending, false);
}

bool engine_cache_ack(struct engine *e, uint32_t node, const struct coh_msg *msg)
{
	if (msg->type != COH_MSG_REPLICA_ACK)
		return false;
	pthread_mutex_lock(&e->ack_lock);
	if (!e->acks && (e->acks = calloc(1, sizeof(*e->acks))))
		e->acks->coh_type = COH_MSG_REPLICA_ACK;
	struct batch *b = e->acks;
	size_t len = 0;
	char err[128];
	if (b && (b->node != node || b->len + COH_MSG_HEADER_SIZE > sizeof(b->buf)))
		acks_send_locked(e);
	bool taken = b && coh_msg_encode(msg, b->buf + b->len, sizeof(b->buf) - b->len, &len, err,
					 sizeof(err)) == 0;
	if (taken) {
		b->node = node;
		b->len += len;
		atomic_store(&e->acks_pending, true);
	}
	pthread_mutex_unlock(&e->ack_lock);
	return taken;
}

void engine_cache_send_acks(struct engine *e, uint32_t node)
{
	if (!atomic_load(&e->acks_pending))
		return;
	pthread_mutex_lock(&e->ack_lock);
	if (e->acks && (node == UINT32_MAX || node == e->acks->node))
		acks_send_locked(e);
	pthread_mutex_unlock(&e->ack_lock);
}

/* The cache, and which pages are this node's own (its range under RANGES homes). */
int engine_cache_create(struct engine *e, uint64_t pages, char *err, size_t errlen)
{
	const struct engine_params *params = &e->params;
	pthread_mutex_init(&e->cache_lock, NULL);
	pthread_mutex_init(&e->ack_lock, NULL);
	if (!params->cache_pages)
		return 0;
	if (params->homes.policy != COH_HOME_RANGES) {
		snprintf(err, errlen,
			 "a bounded cache needs each node's memory homed there (ranges)");
		return -1;
	}
	unsigned self = cluster_self(params->cluster);
	for (unsigned n = 0; n < self; n++)
		e->own_first += params->homes.range_pages[n];
	e->own_end = e->own_first + params->homes.range_pages[self];
	e->cache = page_cache_create(pages, params->cache_pages);
	e->prefetch = prefetch_create();
	if (!e->cache || !e->prefetch) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
