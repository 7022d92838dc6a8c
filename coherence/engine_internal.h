/* What the engine's two files share: engine.c (the glue between region, protocol and transport)
 * and engine_cache.c (memory mode's bounded cache and read-ahead). Not for other layers: they
 * use coherence/engine.h. */
#ifndef COHERENCE_ENGINE_INTERNAL_H
#define COHERENCE_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "coherence/engine.h"
#include "coherence/hold.h"
#include "coherence/protocol.h"
#include "coherence/region.h"
#include "coherence/wire.h"

/* Diagnostic messages the engine answers itself (not protocol traffic). */
#define ENGINE_MSG_PING (WIRE_DIAG_FIRST + 8)
#define ENGINE_MSG_PONG (WIRE_DIAG_FIRST + 9)
#define ENGINE_MSG_DONE (WIRE_DIAG_FIRST + 10)
/* Memory mode's batches: several header-only protocol messages for one node in one message, each
 * encoded as on its own; the receiver handles them in order, exactly as if they had come one by
 * one. The READ_REQs of a read-ahead, the WRITE_REQs of one ahead of a run of writes, the EVICTs
 * of pages given up together, and a mirror's REPLICA_ACKs. */
#define ENGINE_MSG_ACK_BATCH   (WIRE_DIAG_FIRST + 5)
#define ENGINE_MSG_READ_BATCH  (WIRE_DIAG_FIRST + 11)
#define ENGINE_MSG_WRITE_BATCH (WIRE_DIAG_FIRST + 6)
#define ENGINE_MSG_EVICT_BATCH (WIRE_DIAG_FIRST + 7) /* +12.. are the replicas' */

struct batch;

struct engine {
	struct engine_params params;
	struct coh *coh;
	struct transport *_Atomic transport;
	/* Published once created; read by the transport's thread (which serves the faults too),
	 * started inside transport_create, so the ordering must be visible. */
	struct region *_Atomic region;
	_Atomic uint64_t *mapped; /* bit per page */
	atomic_bool failed;
	atomic_int accessors; /* threads in engine_access that may use the transport */
	/* The page of the access being served on its own thread (one at a time: it holds the
	 * transport's turn), UINT64_MAX if none, and whether a request for it completed since
	 * that thread last asked. */
	_Atomic uint64_t access_page;
	atomic_bool access_completed;
	atomic_uint_fast64_t faults, write_faults, messages_in, messages_out, bytes_in, bytes_out;
	struct region_host_time host_time; /* the region's, kept here to outlive it */
	/* --profile: faults per page, written only by the thread that serves the faults. */
	struct page_counts *read_pages, *write_pages;
	struct hold hold;
	/* Memory mode: the pages outside [own_first, own_end) are homed elsewhere; the cache and
	 * its counters are guarded by cache_lock (taken inside the protocol's page locks, never
	 * held across a coh_* call). */
	struct page_cache *cache;
	struct prefetch *prefetch; /* with the cache, under cache_lock too */
	struct replicas *replicas; /* memory mode with replicas = 2, else NULL */
	pthread_mutex_t cache_lock;
	uint64_t own_first, own_end;
	atomic_uint_fast64_t lent_misses, evictions_clean, evictions_dirty, writebacks_acked;
	atomic_uint_fast64_t lent_unmaps;
	/* Dirty copies being written back, unmapped (engine_cache.c), under cache_lock. */
	struct engine_kept {
		uint64_t page;
		uint8_t *data;
	} * leaving;
	size_t leaving_count, leaving_cap;
	atomic_uint_fast64_t prefetch_issued, prefetch_used, prefetch_unused;
	/* A mirror's REPLICA_ACKs not sent yet (engine_cache.c): the batch, under ack_lock, and
	 * whether it holds any. */
	pthread_mutex_t ack_lock;
	struct batch *acks;
	atomic_bool acks_pending;
	atomic_uint_fast64_t sends; /* messages handed to the transport */
	/* Sends that failed to a node the cluster had not reported lost (engine_send_failed):
	 * when the first failed, per node (0: none), and why; under send_failed_lock. */
	pthread_mutex_t send_failed_lock;
	struct engine_send_failure {
		uint64_t at_ms;
		char why[200];
	} * send_failures;
	atomic_bool any_send_failed;
	/* Senders hold it for reading across transport_send; engine_destroy takes it for writing
	 * to set `closing`, so no send is in flight once the transport is destroyed. Both the
	 * transport's own thread and vCPU threads (engine_send) send. */
	pthread_rwlock_t send_lock;
	atomic_bool closing;
	pthread_mutex_t done_lock;
	pthread_cond_t done_cond;
	uint64_t peers_done;	    /* guarded by done_lock */
	atomic_uint_fast64_t pongs; /* polled: engine_ping_us times the transport, not a wake-up */
};

static inline uint64_t engine_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline struct region *engine_region(struct engine *e)
{
	return atomic_load_explicit(&e->region, memory_order_acquire);
}

static inline bool page_mapped(struct engine *e, uint64_t page)
{
	return (atomic_load(&e->mapped[page / 64]) >> (page % 64)) & 1;
}

static inline void page_set_mapped(struct engine *e, uint64_t page, bool mapped)
{
	uint64_t bit = 1ULL << (page % 64);
	if (mapped)
		atomic_fetch_or(&e->mapped[page / 64], bit);
	else
		atomic_fetch_and(&e->mapped[page / 64], ~bit);
}

/* Homed on another node, with a bounded cache (memory mode's compute node). */
static inline bool page_lent(const struct engine *e, uint64_t page)
{
	return e->cache && (page < e->own_first || page >= e->own_end);
}

/* engine.c */
void engine_fail(struct engine *e, const char *why);
/* Any message to a node, unless the engine is closing (then -1). */
int engine_transport_send(struct engine *e, unsigned node, uint16_t type, const void *payload,
			  size_t len);
/* Hands one protocol message from src to the protocol; false once the engine failed. */
bool engine_deliver(struct engine *e, unsigned src, uint16_t type, const void *payload, size_t len);
void engine_page_changed(struct engine *e, uint64_t page);

/* engine_cache.c */
int engine_cache_create(struct engine *e, uint64_t pages, char *err, size_t errlen);
/* A page homed elsewhere was asked for, or asked for again (used), or left. */
void engine_cache_note(struct engine *e, uint64_t page, bool resident);
/* Gives pages up while over the budget (from the thread that serves the faults). */
void engine_cache_trim(struct engine *e);
/* A page fetched ahead arrived (a writable copy or not): true if it was kept aside rather than
 * to be mapped now. */
bool engine_cache_stage(struct engine *e, uint64_t page, const uint8_t *data, bool writable);
/* The bytes of a page kept aside (staged, or a dirty copy being written back), into buf: false if
 * it is not. (The protocol reads a copy it holds, kept aside or mapped, to answer a fetch or to
 * write it back.) */
bool engine_cache_read_kept(struct engine *e, uint64_t page, uint8_t *buf);
/* The protocol drops a page: true if it was a dirty copy being written back, whose bytes are now
 * gone (it was unmapped when its write-back started). */
bool engine_cache_forget_leaving(struct engine *e, uint64_t page);
/* The protocol downgraded a page: if it is kept aside, it is a read-only copy from now on. */
void engine_cache_protect(struct engine *e, uint64_t page);
/* A fault on a lent page that is not mapped: true if it was staged and is now mapped, writable
 * or not (*writable); [*first, *end) are pages to fetch ahead (engine_cache_prefetch), empty if
 * none. */
bool engine_cache_miss(struct engine *e, uint64_t page, bool *writable, uint64_t *first,
		       uint64_t *end);
/* Fetches [first, end) ahead: writable copies for a run of writes, else read-only ones. */
void engine_cache_prefetch(struct engine *e, uint64_t first, uint64_t end, bool write);
/* The protocol sends msg to node: true if a batch being collected on this thread took it. */
bool engine_cache_batch_send(uint32_t node, const struct coh_msg *msg);
/* The protocol drops a page: true if a batch being collected on this thread will (its EVICT
 * leaves after the hole is punched). */
bool engine_cache_batch_drop(uint64_t page);
/* The protocol write-protects a page: true if a batch being collected on this thread did already
 * (a dirty page it writes back). */
bool engine_cache_batch_protected(uint64_t page);
/* A message from src: if it is a batch (ENGINE_MSG_READ_BATCH, _WRITE_BATCH, _EVICT_BATCH or
 * _ACK_BATCH), delivers its protocol messages and returns true; false for any other type. */
bool engine_cache_receive_batch(struct engine *e, unsigned src, uint16_t type,
				const uint8_t *payload, size_t len);
/* The protocol sends msg to node: true if it is a REPLICA_ACK, which joins the acks pending. They
 * leave as one batch after the turn's deliveries (engine_cache_send_acks from the chore), or
 * before anything else this node sends to theirs (engine_transport_send), which keeps the link's
 * order. */
bool engine_cache_ack(struct engine *e, uint32_t node, const struct coh_msg *msg);
/* Sends the acks pending for `node` (UINT32_MAX: for any node). */
void engine_cache_send_acks(struct engine *e, uint32_t node);
/* A send to `node` failed (why: what could not be sent). Fatal unless the cluster reports the
 * node lost within a grace period (see engine.c). */
void engine_send_failed(struct engine *e, unsigned node, const char *why);
/* engine_transport_send without sending pending acks first. */
int engine_transport_send_now(struct engine *e, unsigned node, uint16_t type, const void *payload,
			      size_t len);

#endif
