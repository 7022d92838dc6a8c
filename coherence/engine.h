/* The coherence engine: keeps one region of memory coherent between the nodes of a joined cluster.
 * It wires three layers together and owns none of their logic: the region (userfaultfd faults
 * in, page installs out), the protocol (the state machine) and the transport (messages). */
#ifndef COHERENCE_ENGINE_H
#define COHERENCE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coherence/homes.h"
#include "coherence/region.h"

struct cluster;
struct engine;
struct page_counts;

struct engine_params {
	uint8_t *host; /* the region: a MAP_SHARED mapping of memfd, page-aligned */
	int memfd;
	uint64_t size;
	struct cluster *cluster; /* joined; outlives the engine */
	struct coh_home_config homes;
	/* Memory mode's compute node: at most this many pages homed elsewhere resident here, the
	 * others given up through the protocol (docs/coherence.md, "The cache"); needs RANGES
	 * homes. 0: no bound. */
	uint64_t cache_pages;
	/* Replicas (homes.mirrors set, and then this must be too): the node that takes over the
	 * copies a lost node kept; COH_NO_MIRROR: none. */
	uint32_t spare;
	/* --profile: count this node's faults per page (engine_fault_pages). */
	bool profile_faults;
	/* The cluster goes on after a node dies (replicas): the transport then keeps out of shared
	 * memory, which a node killed in mid-send can wedge for the others (transport_create). */
	bool loss_tolerant;
	/* The callbacks run on the transport's thread, which also serves the region's faults: they
	 * must not block, and must not touch a page of the region that may be absent (it would
	 * wait for the very thread it runs on).
	 *
	 * Called once if the engine can no longer keep the region coherent (a peer broke the
	 * protocol, or a message could not be sent): the owner must stop using the region. */
	void (*fatal)(void *ctx, const char *why);
	/* Messages of the user's own types (ENGINE_USER_TYPE_FIRST..LAST) arriving from `src`. May
	 * be NULL. */
	void (*user_message)(void *ctx, unsigned src, uint16_t type, const void *payload,
			     size_t len);
	/* The bytes of the page at byte offset `page_offset` changed behind the back of whoever
	 * uses the region: another node's copy was put in (called once it is there), or the local
	 * copy was dropped (the next access faults). For users that keep something derived from
	 * the bytes, such as decoded instructions. May be NULL. */
	void (*page_changed)(void *ctx, uint64_t page_offset);
	/* This node may no longer access the page as before: it was dropped or write-protected.
	 * For users that remember what engine_access returned. May be NULL. */
	void (*page_revoked)(void *ctx, uint64_t page_offset);
	void *ctx;
};

/* Message types the engine's user may send alongside the coherence protocol (the VMM's IPIs,
 * forwarded I/O, stop requests). */
#define ENGINE_USER_TYPE_FIRST 0x180
#define ENGINE_USER_TYPE_LAST  0x1ff

/* Any thread: sends a user message (type in the user range) to `node`. -1 on failure. */
int engine_send(struct engine *e, unsigned node, uint16_t type, const void *payload, size_t len);

struct engine *engine_create(const struct engine_params *params, char *err, size_t errlen);
/* Stops the transport, then fault handling (closing the userfaultfd releases every thread
 * waiting in a fault); engine_send fails from then on, so threads that still hold the engine may
 * call it until engine_destroy. The cluster is left to the caller. */
void engine_close(struct engine *e);
/* engine_close, then frees it. */
void engine_destroy(struct engine *e);

/* Any thread, before it accesses the region at byte `offset` through a new translation (the
 * software vCPU's TLB fill): makes the page usable here for a read or a write, serving a miss on
 * the calling thread, which runs the transport's turns until the page is in. That spares the two
 * thread hand-offs of a fault (the faulting thread sleeps in the userfaultfd, the transport's
 * thread serves it and wakes it). The page may be taken away again before the access, which then
 * faults as usual. Returns 1 if the page may be written now, 0 if only read, -1 if it is not
 * usable (the engine is closing or failed, or has no transport yet): the access faults as usual.
 */
int engine_access(struct engine *e, uint64_t offset, bool write);

/* The transport that carries the engine's messages to `node` (transport_peer_path), "?" before
 * there is one. */
const char *engine_peer_path(struct engine *e, unsigned node);

/* Round trip of a `len`-byte message to `node` and back through the engine's own transport,
 * averaged over `iters` (the network half of a remote fault's floor). Returns microseconds, or
 * a negative value if the peer does not answer within a second. One caller at a time. */
double engine_ping_us(struct engine *e, unsigned node, size_t len, unsigned iters);

/* Before leaving: tells every peer this node will touch the region no more, and waits (at most
 * timeout_ms) until every peer has said the same, so that no node leaves while another may still
 * need a page it holds. -1 on timeout. Once per engine. */
int engine_quiesce(struct engine *e, unsigned timeout_ms);

/* The cluster lost `node` (call from the cluster's peer_lost). True if the engine carries on
 * without it: it lent memory that other nodes also keep (replicas), and the recovery runs in the
 * background. False, with why, if the region can no longer be whole. */
bool engine_node_lost(struct engine *e, unsigned node, char *why, size_t whylen);

struct engine_stats {
	uint64_t faults, read_faults, write_faults, messages_in, messages_out;
	uint64_t bytes_in, bytes_out; /* coherence message payloads */
	uint64_t sends; /* messages handed to the transport: a batch is one, and pings count too */
	/* With a cache (cache_pages): pages homed elsewhere resident now, faults on such pages that
	 * were not resident, evictions of clean copies and of dirty ones (each a write-back), and
	 * write-backs the home acknowledged; the unmappings that gave up such pages (one per run
	 * of consecutive pages given up together). */
	uint64_t lent_resident, lent_misses, evictions_clean, evictions_dirty, writebacks_acked;
	uint64_t lent_unmaps;
	/* Pages fetched ahead of a sequential run of misses, those the guest then touched, and
	 * those given up untouched. */
	uint64_t prefetch_issued, prefetch_used, prefetch_unused;
	/* With replicas (replicated = 1): enum replicas_state (0 protected, 1 rebuilding, 2
	 * degraded; replicas_state_name) and the pages this node copied to a new mirror. */
	uint64_t replicated, replica_state, replica_pages_copied;
	/* The host's page-table operations on guest RAM by kind (enum region_host_op: mapping a
	 * page, unmapping pages, changing their protection), and the nanoseconds spent in them. */
	uint64_t host_ops[REGION_HOST_OPS], host_ns[REGION_HOST_OPS];
};
void engine_get_stats(struct engine *e, struct engine_stats *out);
/* With params.profile_faults, after engine_close (the counting thread has stopped): this node's
 * read or write faults per region page (byte offset >> 12); else NULL. */
const struct page_counts *engine_fault_pages(struct engine *e, bool write);

#endif
