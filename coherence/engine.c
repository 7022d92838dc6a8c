/* Engine glue. Order of creation matters: the protocol and the region exist before the transport
 * connects, because a peer may send a request (which reads or maps local pages) as soon as it is
 * connected; nobody touches the region before engine_create returns, so no fault needs the
 * transport before it exists. Callbacks from the protocol run under its page lock and never
 * block: transport_send copies the message and returns.
 *
 * The engine remembers which pages are mapped locally (a bit per page), because installing "the
 * bytes already there" means flipping protection on a mapped page but filling a zero page into a
 * missing one.
 *
 * One thread does all of a node's coherence work: the transport's progress thread delivers the
 * messages and, as its chore, serves the region's faults (transport_chore). A fault then reaches
 * the network without waking another thread, and a reply installs the page on the thread that
 * polls; with a fault thread of its own, each remote fault paid one more wake-up, tens of
 * microseconds on this host (docs/benchmarks.md). A thread that is about to touch a page may also
 * serve its own miss (engine_access): it takes the progress thread's turn and runs the transport
 * until the page is in, which spares the hand-offs of a fault through the userfaultfd.
 *
 * A request that may take a page away waits until the page has been here for ENGINE_HOLD_NS
 * (coherence/hold.h): the thread whose fault brought it must get to use it. The wait holds up
 * the delivery of every later message, which keeps each link's messages in order, as the
 * protocol needs; the node's faults are still served meanwhile.
 *
 * With a cache (memory mode), engine_cache.c is told which pages homed elsewhere are asked for
 * (counted from then on: the page pushed out goes while the request is in flight) and leave, and
 * after each fault and message served, gives pages up through the protocol (coh_evict) while
 * more than the budget are resident. Eviction never makes a fault wait: a clean copy goes at once,
 * a dirty one is written back while the fault that pushed it out proceeds. */
#include "coherence/engine.h"

#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coherence/cluster.h"
#include "coherence/engine_internal.h"
#include "coherence/page_cache.h"
#include "coherence/prefetch.h"
#include "coherence/replicas.h"
#include "coherence/transport.h"
#include "vmm/page_counts.h"

/* Long enough for a woken vCPU to retry its access, short next to a scheduler slice. Measured on
 * 2 nodes (docs/benchmarks.md, STREAM): 20 us already ended the livelocks, 50 us leaves a margin.
 * The price: a page handed back and forth as fast as possible waits up to this long per hand-off
 * (bench coherence's ping-pong: 10,800 transfers/s; before the progress thread's short slice,
 * 6900 at 50 us and 8650 at 20 us). */
#define ENGINE_HOLD_NS 50000ull

/* How long a thread serving its own access (engine_access) waits for its request's completion
 * before it asks again. */
#define ACCESS_REFAULT_NS 1000000ull

/* A dead peer's transport can refuse a send before the cluster has noticed the loss (over TCP the
 * connection's reset comes first), and a loss the cluster reports is survivable with replicas.
 * So a failed send stops the engine only if the cluster has not reported the node lost within
 * this long: its peer timeout (3 s of silence) and a margin. */
#define SEND_FAIL_GRACE_MS 5000ull

_Static_assert(ENGINE_MSG_ACK_BATCH < ENGINE_MSG_WRITE_BATCH &&
		   ENGINE_MSG_WRITE_BATCH < ENGINE_MSG_EVICT_BATCH &&
		   ENGINE_MSG_EVICT_BATCH < ENGINE_MSG_PING &&
		   ENGINE_MSG_READ_BATCH < (int)REPLICAS_MSG_RECOVERED,
	       "the engine's message types are its own (wire.h lists who has which)");

static const uint8_t zero_page[REGION_PAGE_SIZE] __attribute__((aligned(4096)));

void engine_fail(struct engine *e, const char *why)
{
	bool expected = false;
	if (atomic_compare_exchange_strong(&e->failed, &expected, true) && e->params.fatal)
		e->params.fatal(e->params.ctx, why);
}

int engine_transport_send_now(struct engine *e, unsigned node, uint16_t type, const void *payload,
			      size_t len)
{
	pthread_rwlock_rdlock(&e->send_lock);
	struct transport *t = atomic_load(&e->transport);
	int rc = t && !atomic_load(&e->closing) ? transport_send(t, node, type, payload, len) : -1;
	pthread_rwlock_unlock(&e->send_lock);
	if (rc == 0)
		atomic_fetch_add_explicit(&e->sends, 1, memory_order_relaxed);
	return rc;
}

int engine_transport_send(struct engine *e, unsigned node, uint16_t type, const void *payload,
			  size_t len)
{
	engine_cache_send_acks(e, node);
	return engine_transport_send_now(e, node, type, payload, len);
}

static void engine_send_coh(void *ctx, uint32_t node, const struct coh_msg *msg)
{
	struct engine *e = ctx;
	uint8_t buf[COH_MSG_MAX_SIZE];
	size_t len;
	char err[128];
	if (engine_cache_batch_send(node, msg) || engine_cache_ack(e, node, msg))
		return;
	if (coh_msg_encode(msg, buf, sizeof(buf), &len, err, sizeof(err)) < 0 ||
	    engine_transport_send(e, node, msg->type, buf, len) < 0) {
		/* Forgiven when shutting down (the faults waiting for it are released anyway) or
		 * once the cluster reports the peer lost (peer_lost, which stops the owner unless
		 * replicas carry on): a failure of ours reported first would hide which node failed
		 * (engine_send_failed). */
		char why[256];
		snprintf(why, sizeof(why), "coherence: cannot send %s for page %llu to node %u",
			 coh_msg_type_name(msg->type), (unsigned long long)msg->page, node);
		engine_send_failed(e, node, why);
		return;
	}
	atomic_fetch_add(&e->messages_out, 1);
	atomic_fetch_add(&e->bytes_out, len);
}

void engine_send_failed(struct engine *e, unsigned node, const char *why)
{
	if (atomic_load(&e->closing) || cluster_peer_lost(e->params.cluster, node))
		return;
	pthread_mutex_lock(&e->send_failed_lock);
	struct engine_send_failure *f = &e->send_failures[node];
	if (!f->at_ms) {
		f->at_ms = engine_now_ns() / 1000000 + 1; /* never 0 */
		snprintf(f->why, sizeof(f->why), "%s", why);
		atomic_store(&e->any_send_failed, true);
	}
	pthread_mutex_unlock(&e->send_failed_lock);
}

/* On the progress thread's turns: a failed send is forgiven once the cluster reports its node
 * lost, and stops the engine if it has not after SEND_FAIL_GRACE_MS. */
static void check_failed_sends(struct engine *e)
{
	if (!atomic_load(&e->any_send_failed))
		return;
	char why[sizeof(e->send_failures[0].why)] = "";
	bool pending = false;
	pthread_mutex_lock(&e->send_failed_lock);
	uint64_t now_ms = engine_now_ns() / 1000000;
	for (unsigned node = 0; node < cluster_node_count(e->params.cluster); node++) {
		struct engine_send_failure *f = &e->send_failures[node];
		if (!f->at_ms)
			continue;
		if (cluster_peer_lost(e->params.cluster, node))
			f->at_ms = 0;
		else if (now_ms >= f->at_ms + SEND_FAIL_GRACE_MS && !why[0])
			snprintf(why, sizeof(why), "%s", f->why);
		pending |= f->at_ms != 0;
	}
	atomic_store(&e->any_send_failed, pending);
	pthread_mutex_unlock(&e->send_failed_lock);
	if (why[0])
		engine_fail(e, why);
}

void engine_page_changed(struct engine *e, uint64_t page)
{
	if (e->params.page_changed)
		e->params.page_changed(e->params.ctx, page * REGION_PAGE_SIZE);
}

static void engine_page_revoked(struct engine *e, uint64_t page)
{
	if (e->params.page_revoked)
		e->params.page_revoked(e->params.ctx, page * REGION_PAGE_SIZE);
}

/* Only data from another node changes what the page holds: without data the bytes stay as they
 * are, or a missing page becomes zeros (reported when it was dropped, or never held anything). */
static void engine_install(void *ctx, uint64_t page, const uint8_t *data, bool writable)
{
	struct engine *e = ctx;
	int rc;
	if (data && engine_cache_stage(e, page, data, writable))
		return;
	if (!data && page_mapped(e, page)) {
		struct region *r = engine_region(e);
		rc = writable ? region_unprotect(r, page) : region_protect(r, page, 1);
	} else {
		if (data && page_mapped(e, page))
			region_drop(engine_region(e), page, 1);
		rc = region_install(engine_region(e), page, data ? data : zero_page, writable);
		page_set_mapped(e, page, true);
	}
	engine_cache_note(e, page, true);
	hold_note(&e->hold, page, engine_now_ns());
	if (data)
		engine_page_changed(e, page);
	if (rc < 0)
		engine_fail(e, "coherence: installing a page failed");
}

static void engine_drop(void *ctx, uint64_t page)
{
	struct engine *e = ctx;
	bool mapped = page_mapped(e, page);
	page_set_mapped(e, page, false);
	engine_page_revoked(e, page);
	engine_cache_note(e, page, false);
	/* A dirty copy written back was unmapped then, and only its kept bytes go now; unless a
	 * thread touched it since, when it was staged (engine_cache_miss maps a staged copy). */
	bool kept = engine_cache_forget_leaving(e, page);
	int rc = 0;
	if ((!kept || mapped) && !engine_cache_batch_drop(page)) {
		rc = region_drop(engine_region(e), page, 1);
		if (page_lent(e, page))
			atomic_fetch_add(&e->lent_unmaps, 1);
	}
	engine_page_changed(e, page);
	if (rc < 0)
		engine_fail(e, "coherence: dropping a page failed");
}

static void engine_downgrade(void *ctx, uint64_t page)
{
	struct engine *e = ctx;
	engine_page_revoked(e, page);
	if (!page_mapped(e, page))
		engine_cache_protect(e, page);
	else if (!engine_cache_batch_protected(page) &&
		 region_protect(engine_region(e), page, 1) < 0)
		engine_fail(e, "coherence: write-protecting a page failed");
}

static void engine_read_local(void *ctx, uint64_t page, uint8_t *buf)
{
	struct engine *e = ctx;
	if (!engine_cache_read_kept(e, page, buf) && region_read(engine_region(e), page, buf) < 0)
		memset(buf, 0, COH_PAGE_SIZE);
}

static void engine_complete(void *ctx, uint64_t page)
{
	struct engine *e = ctx;
	if (atomic_load(&e->access_page) == page)
		atomic_store(&e->access_completed, true);
	region_wake(engine_region(e), page);
}

static void engine_keep_copy(void *ctx, uint64_t page, const uint8_t *data)
{
	struct engine *e = ctx;
	if (region_write(engine_region(e), page, data) < 0)
		engine_fail(e, "coherence: storing a mirrored page failed");
	/* The memfd holds the page now: bytes put in later must replace it (engine_install). */
	page_set_mapped(e, page, true);
}

static const struct coh_ops engine_coh_ops = {
    .send = engine_send_coh,
    .install = engine_install,
    .drop = engine_drop,
    .downgrade = engine_downgrade,
    .read_local = engine_read_local,
    .complete = engine_complete,
    .keep_copy = engine_keep_copy,
};

static void engine_fault(void *ctx, uint64_t page, bool write)
{
	struct engine *e = ctx;
	char err[256];
	atomic_fetch_add(&e->faults, 1);
	atomic_fetch_add(&e->write_faults, write);
	if (e->read_pages)
		page_counts_add(write ? e->write_pages : e->read_pages, page, 1);
	uint64_t first = 0, end = 0;
	bool writable = false;
	bool staged = page_lent(e, page) && !page_mapped(e, page) &&
		      engine_cache_miss(e, page, &writable, &first, &end);
	/* A staged page is mapped now: only a write to a read-only copy still needs the protocol.
	 * The thread's own request goes before the read-ahead. */
	if ((!staged || (write && !writable)) &&
	    coh_fault(e->coh, page, write, err, sizeof(err)) < 0)
		engine_fail(e, err);
	if (first < end)
		engine_cache_prefetch(e, first, end, write);
	engine_cache_trim(e);
}

static const struct region_ops engine_region_ops = {.fault = engine_fault};

/* A thread's access, served on that thread (engine_access). */
struct access_wait {
	struct engine *e;
	uint64_t page;
	bool write;
	uint64_t faulted_ns;
};

/* 1: this node may write the page now, 0: only read it, -1: neither (it must fault). */
static int page_access_now(struct engine *e, uint64_t page)
{
	if (!page_mapped(e, page))
		return -1;
	enum coh_page_state state = coh_page_state(e->coh, page);
	if (state == COH_E)
		return 1;
	return state == COH_S || state == COH_SM_D || state == COH_MI_A ? 0 : -1;
}

static bool page_usable(struct engine *e, uint64_t page, bool write)
{
	return page_access_now(e, page) >= (int)write;
}

static void access_fault(struct access_wait *w)
{
	atomic_store(&w->e->access_completed, false);
	w->faulted_ns = engine_now_ns();
	engine_fault(w->e, w->page, w->write);
}

static void access_start(void *ctx)
{
	struct access_wait *w = ctx;
	atomic_store(&w->e->access_page, w->page);
	if (!page_usable(w->e, w->page, w->write))
		access_fault(w);
}

/* A completed request does not promise the page (docs/coherence.md: a thread woken from a fault
 * retries its access, which may fault again), so the wait faults again after each completion;
 * and after ACCESS_REFAULT_NS without one, as a woken thread would after a stray wake-up. */
static bool access_done(void *ctx)
{
	struct access_wait *w = ctx;
	struct engine *e = w->e;
	if (atomic_load(&e->failed) || atomic_load(&e->closing) ||
	    page_usable(e, w->page, w->write)) {
		atomic_store(&e->access_page, UINT64_MAX);
		return true;
	}
	if (atomic_load(&e->access_completed) ||
	    engine_now_ns() - w->faulted_ns > ACCESS_REFAULT_NS)
		access_fault(w);
	return false;
}

int engine_access(struct engine *e, uint64_t offset, bool write)
{
	uint64_t page = offset / REGION_PAGE_SIZE;
	if (offset >= e->params.size)
		return -1;
	int now = page_access_now(e, page);
	if (now >= (int)write)
		return now;
	/* engine_close waits for every accessor that may not have seen it closing (seq_cst both
	 * ways) before it destroys the transport. */
	atomic_fetch_add(&e->accessors, 1);
	struct transport *t = atomic_load(&e->transport);
	if (t && !atomic_load(&e->closing)) {
		struct access_wait w = {.e = e, .page = page, .write = write};
		transport_wait(t, access_start, access_done, &w);
	}
	atomic_fetch_sub(&e->accessors, 1);
	return page_access_now(e, page);
}

/* The transport's progress thread serves the region's faults too (transport_chore). */
static unsigned engine_serve_faults(void *ctx)
{
	struct engine *e = ctx;
	engine_cache_send_acks(e, UINT32_MAX); /* what this turn's deliveries acknowledged */
	check_failed_sends(e);
	unsigned work = region_serve(engine_region(e));
	return e->replicas ? work + replicas_step(e->replicas) : work;
}

/* The requests that may take a page from this node or write-protect it here. */
static bool may_take_page(uint16_t type)
{
	return type == COH_MSG_READ_REQ || type == COH_MSG_WRITE_REQ || type == COH_MSG_INV ||
	       type == COH_MSG_FETCH || type == COH_MSG_FETCH_INV;
}

/* Sleeps out what is left of the page's hold, but serves this node's faults meanwhile: this is
 * the thread that serves them, and a fault served during the wait is one that could as well have
 * been served just before the held message arrived. */
static void wait_out_hold(struct engine *e, uint64_t page)
{
	struct region *r = engine_region(e);
	struct pollfd faults = {.fd = region_fd(r), .events = POLLIN};
	uint64_t left;
	while ((left = hold_remaining_ns(&e->hold, page, engine_now_ns())) > 0) {
		struct timespec pause = {.tv_sec = (time_t)(left / 1000000000ull),
					 .tv_nsec = (long)(left % 1000000000ull)};
		if (ppoll(&faults, 1, &pause, NULL) > 0)
			region_serve(r);
	}
}

bool engine_deliver(struct engine *e, unsigned src, uint16_t type, const void *payload, size_t len)
{
	struct coh_msg msg;
	char err[256];
	int rc = coh_msg_decode(type, payload, len, e->params.size / REGION_PAGE_SIZE, &msg, err,
				sizeof(err));
	if (rc == 0 && may_take_page(type))
		wait_out_hold(e, msg.page);
	if (rc < 0 || coh_receive(e->coh, src, &msg, err, sizeof(err)) < 0) {
		char why[400];
		snprintf(why, sizeof(why), "coherence: node %u broke the protocol: %s", src, err);
		engine_fail(e, why);
		return false;
	}
	return true;
}

static void engine_receive(void *ctx, struct transport *t, unsigned src, uint16_t type,
			   const void *payload, size_t len)
{
	struct engine *e = ctx;
	struct transport *none = NULL;
	atomic_compare_exchange_strong(&e->transport, &none, t);
	/* What a lost node sent last may still arrive: its part is over (replicas have moved what
	 * it served, and the guest stops otherwise). */
	if (cluster_peer_lost(e->params.cluster, src))
		return;
	if (type >= REPLICAS_MSG_RECOVERED && type <= REPLICAS_MSG_PROTECTED && e->replicas) {
		replicas_receive(e->replicas, src, type, payload, len);
		return;
	}
	if (type == ENGINE_MSG_PING) {
		engine_transport_send(e, src, ENGINE_MSG_PONG, payload, len);
		return;
	}
	if (type == ENGINE_MSG_PONG) {
		atomic_fetch_add(&e->pongs, 1);
		return;
	}
	if (type == ENGINE_MSG_DONE) {
		pthread_mutex_lock(&e->done_lock);
		e->peers_done++;
		pthread_cond_signal(&e->done_cond);
		pthread_mutex_unlock(&e->done_lock);
		return;
	}
	if (engine_cache_receive_batch(e, src, type, payload, len))
		return;
	if (type >= ENGINE_USER_TYPE_FIRST && type <= ENGINE_USER_TYPE_LAST) {
		if (e->params.user_message)
			e->params.user_message(e->params.ctx, src, type, payload, len);
		return;
	}
	atomic_fetch_add(&e->messages_in, 1);
	atomic_fetch_add(&e->bytes_in, len);
	if (type == COH_MSG_WB_ACK)
		atomic_fetch_add(&e->writebacks_acked, 1);
	if (engine_deliver(e, src, type, payload, len))
		engine_cache_trim(e);
}

static int engine_create_profile(struct engine *e, char *err, size_t errlen)
{
	if (!e->params.profile_faults)
		return 0;
	e->read_pages = page_counts_create();
	e->write_pages = page_counts_create();
	if (e->read_pages && e->write_pages)
		return 0;
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int engine_replicas_send(void *ctx, unsigned node, uint16_t type, const void *payload,
				size_t len)
{
	return engine_transport_send(ctx, node, type, payload, len);
}

static void engine_replicas_fatal(void *ctx, const char *why)
{
	engine_fail(ctx, why);
}

static int engine_create_replicas(struct engine *e, char *err, size_t errlen)
{
	const struct engine_params *params = &e->params;
	if (!params->homes.mirrors)
		return 0;
	struct replicas_params rp = {.cluster = params->cluster,
				     .node_count = cluster_node_count(params->cluster),
				     .self = cluster_self(params->cluster),
				     .range_pages = params->homes.range_pages,
				     .mirrors = params->homes.mirrors,
				     .spare = params->spare,
				     .send = engine_replicas_send,
				     .fatal = engine_replicas_fatal,
				     .ctx = e};
	rp.coh = e->coh;
	e->replicas = replicas_create(&rp);
	if (e->replicas)
		return 0;
	snprintf(err, errlen, "out of memory");
	return -1;
}

bool engine_node_lost(struct engine *e, unsigned node, char *why, size_t whylen)
{
	if (e->replicas)
		return replicas_node_lost(e->replicas, node, why, whylen);
	snprintf(why, whylen, "no other node keeps what it held");
	return false;
}

const struct page_counts *engine_fault_pages(struct engine *e, bool write)
{
	return write ? e->write_pages : e->read_pages;
}

struct engine *engine_create(const struct engine_params *params, char *err, size_t errlen)
{
	struct engine *e = calloc(1, sizeof(*e));
	if (e)
		atomic_init(&e->access_page, UINT64_MAX);
	uint64_t pages = params->size / REGION_PAGE_SIZE;
	if (!e || !(e->mapped = calloc((pages + 63) / 64, sizeof(*e->mapped))) ||
	    !(e->send_failures =
		  calloc(cluster_node_count(params->cluster), sizeof(*e->send_failures)))) {
		snprintf(err, errlen, "out of memory");
		if (e)
			free(e->mapped);
		free(e);
		return NULL;
	}
	pthread_mutex_init(&e->send_failed_lock, NULL);
	e->params = *params;
	pthread_mutex_init(&e->done_lock, NULL);
	pthread_cond_init(&e->done_cond, NULL);
	hold_init(&e->hold, ENGINE_HOLD_NS);
	pthread_rwlock_init(&e->send_lock, NULL);
	if (engine_cache_create(e, pages, err, errlen) < 0 ||
	    engine_create_profile(e, err, errlen) < 0)
		goto fail;
	struct coh_config cfg = {.page_count = pages,
				 .node_count = cluster_node_count(params->cluster),
				 .self = cluster_self(params->cluster),
				 .homes = params->homes,
				 .ops = &engine_coh_ops,
				 .ctx = e};
	e->coh = coh_create(&cfg, err, errlen);
	if (!e->coh || engine_create_replicas(e, err, errlen) < 0)
		goto fail;
	struct region *r = region_create(params->host, params->memfd, params->size,
					 &engine_region_ops, e, &e->host_time, err, errlen);
	if (!r)
		goto fail;
	atomic_store_explicit(&e->region, r, memory_order_release);
	struct transport_chore faults = {.fd = region_fd(r), .run = engine_serve_faults, .ctx = e};
	struct transport *t = transport_create(params->cluster, params->loss_tolerant,
					       engine_receive, e, &faults, err, errlen);
	if (!t)
		goto fail;
	atomic_store(&e->transport, t);
	return e;
fail:
	engine_destroy(e);
	return NULL;
}

void engine_close(struct engine *e)
{
	if (!e)
		return;
	/* No send may be in flight into a destroyed transport, and (the reverse of creation) no
	 * message may be delivered into a destroyed region. */
	pthread_rwlock_wrlock(&e->send_lock);
	bool closed = atomic_exchange(&e->closing, true);
	pthread_rwlock_unlock(&e->send_lock);
	if (closed)
		return;
	while (atomic_load(&e->accessors) > 0)
		sched_yield(); /* each sees `closing` within one turn of the transport */
	if (atomic_load(&e->transport))
		transport_destroy(atomic_load(&e->transport));
	region_destroy(engine_region(e));
	atomic_store(&e->region, NULL);
}

void engine_destroy(struct engine *e)
{
	if (!e)
		return;
	engine_close(e);
	if (e->coh)
		coh_destroy(e->coh);
	free(e->mapped);
	free(e->send_failures);
	pthread_mutex_destroy(&e->send_failed_lock);
	page_cache_destroy(e->cache);
	prefetch_destroy(e->prefetch);
	for (size_t i = 0; i < e->leaving_count; i++)
		free(e->leaving[i].data);
	free(e->leaving);
	page_counts_destroy(e->read_pages);
	page_counts_destroy(e->write_pages);
	replicas_destroy(e->replicas);
	free(e->acks);
	pthread_mutex_destroy(&e->cache_lock);
	pthread_mutex_destroy(&e->ack_lock);
	pthread_mutex_destroy(&e->done_lock);
	pthread_cond_destroy(&e->done_cond);
	hold_destroy(&e->hold);
	pthread_rwlock_destroy(&e->send_lock);
	free(e);
}

int engine_send(struct engine *e, unsigned node, uint16_t type, const void *payload, size_t len)
{
	if (type < ENGINE_USER_TYPE_FIRST || type > ENGINE_USER_TYPE_LAST)
		return -1;
	return engine_transport_send(e, node, type, payload, len);
}

/* Waits until `want` peers have said they are done, at most timeout_ms. */
static bool engine_wait_peers_done(struct engine *e, uint64_t want, unsigned timeout_ms)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&e->done_lock);
	while (e->peers_done < want &&
	       pthread_cond_timedwait(&e->done_cond, &e->done_lock, &deadline) == 0)
		;
	bool ok = e->peers_done >= want;
	pthread_mutex_unlock(&e->done_lock);
	return ok;
}

int engine_quiesce(struct engine *e, unsigned timeout_ms)
{
	unsigned nodes = cluster_node_count(e->params.cluster);
	unsigned self = cluster_self(e->params.cluster);
	if (!atomic_load(&e->transport))
		return -1;
	for (unsigned n = 0; n < nodes; n++)
		if (n != self)
			engine_transport_send(e, n, ENGINE_MSG_DONE, NULL, 0);
	return engine_wait_peers_done(e, nodes - 1, timeout_ms) ? 0 : -1;
}

const char *engine_peer_path(struct engine *e, unsigned node)
{
	struct transport *t = atomic_load(&e->transport);
	return t ? transport_peer_path(t, node) : "?";
}

/* The waiter polls (yielding, as the transport's own thread may need this CPU) rather than
 * sleeping, so the time is the transport's round trip and not a thread wake-up as well. */
double engine_ping_us(struct engine *e, unsigned node, size_t len, unsigned iters)
{
	static uint8_t payload[WIRE_MAX_PAYLOAD];
	if (!atomic_load(&e->transport) || len > sizeof(payload) || iters == 0)
		return -1;
	uint64_t t0 = engine_now_ns();
	for (unsigned i = 1; i <= iters; i++) {
		uint64_t want = atomic_load(&e->pongs) + 1, sent = engine_now_ns();
		if (engine_transport_send(e, node, ENGINE_MSG_PING, payload, len) < 0)
			return -1;
		while (atomic_load(&e->pongs) < want) {
			if (engine_now_ns() - sent > 1000000000ull)
				return -1;
			sched_yield();
		}
	}
	return (double)(engine_now_ns() - t0) / 1e3 / iters;
}

void engine_get_stats(struct engine *e, struct engine_stats *out)
{
	uint64_t writes = atomic_load(&e->write_faults);
	uint64_t faults = atomic_load(&e->faults);
	*out = (struct engine_stats){.faults = faults,
				     .read_faults = faults - writes,
				     .write_faults = writes,
				     .messages_in = atomic_load(&e->messages_in),
				     .messages_out = atomic_load(&e->messages_out),
				     .bytes_in = atomic_load(&e->bytes_in),
				     .bytes_out = atomic_load(&e->bytes_out),
				     .sends = atomic_load(&e->sends),
				     .lent_misses = atomic_load(&e->lent_misses),
				     .evictions_clean = atomic_load(&e->evictions_clean),
				     .evictions_dirty = atomic_load(&e->evictions_dirty),
				     .writebacks_acked = atomic_load(&e->writebacks_acked),
				     .lent_unmaps = atomic_load(&e->lent_unmaps),
				     .prefetch_issued = atomic_load(&e->prefetch_issued),
				     .prefetch_used = atomic_load(&e->prefetch_used),
				     .prefetch_unused = atomic_load(&e->prefetch_unused)};
	for (unsigned op = 0; op < REGION_HOST_OPS; op++) {
		out->host_ops[op] = atomic_load(&e->host_time.ops[op]);
		out->host_ns[op] = atomic_load(&e->host_time.ns[op]);
	}
	if (e->cache) {
		pthread_mutex_lock(&e->cache_lock);
		out->lent_resident = page_cache_resident_count(e->cache);
		pthread_mutex_unlock(&e->cache_lock);
	}
	out->replicated = e->replicas != NULL;
	if (e->replicas) {
		struct replicas_status rs;
		replicas_status(e->replicas, &rs);
		out->replica_state = rs.state;
		out->replica_pages_copied = rs.pages_copied;
	}
}
