/* The page-coherence protocol: keeps a region of 4 KiB pages coherent between the nodes of a
 * cluster, single writer / multiple readers, with each page's directory entry at its home node.
 * It is a pure state machine: no KVM, no userfaultfd, no transport. The engine feeds it local
 * faults and decoded messages; it answers through the callbacks of struct coh_ops.
 *
 * Threading: every coh_* call may come from any thread. Calls are serialized per page by a striped
 * lock, held for the whole call, callbacks included, so the actions of one page run in order.
 * Callbacks must not call back into the same struct coh and must not wait for another node (send()
 * only queues). The engine must not hold, across a coh_* call, a lock its callbacks take.
 * docs/coherence.md explains the protocol and why this cannot deadlock. */
#ifndef COHERENCE_PROTOCOL_H
#define COHERENCE_PROTOCOL_H

#include "coherence/directory.h"
#include "coherence/homes.h"
#include "coherence/message.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A node's own copy of a page. Stable: I, S, E. Transient: a request or writeback in flight. */
enum coh_page_state {
	COH_I,	  /* no valid copy mapped */
	COH_S,	  /* read-only copy */
	COH_E,	  /* the only copy, writable */
	COH_IS_D, /* I, READ_REQ sent, waiting for READ_DATA */
	COH_IM_D, /* I, WRITE_REQ sent, waiting for WRITE_GRANT with data */
	COH_SM_D, /* S, WRITE_REQ(has_copy) sent, waiting for WRITE_GRANT */
	COH_MI_A, /* was E, WRITEBACK sent, keeps a read-only copy until WB_ACK */
	COH_II_A, /* was E, WRITEBACK sent, copy already taken by the home, waiting for WB_ACK */
	COH_PAGE_STATE_COUNT
};

/* What the protocol asks the engine to do. All are called with the page's lock held. */
struct coh_ops {
	/* Queue msg for node; msg->data is only valid during the call. Must not block. */
	void (*send)(void *ctx, uint32_t node, const struct coh_msg *msg);
	/* Map the page: write data into it first unless data is NULL (NULL keeps the bytes present,
	 * zeros for a page never touched), then map it writable or read-only. */
	void (*install)(void *ctx, uint64_t page, const uint8_t *data, bool writable);
	/* Invalidate the local copy (unmap / punch the hole): the next access faults. */
	void (*drop)(void *ctx, uint64_t page);
	/* Write-protect the local copy: reads still hit, the next write faults. */
	void (*downgrade)(void *ctx, uint64_t page);
	/* Copy the page's current local bytes (zeros if never touched) into buf. */
	void (*read_local)(void *ctx, uint64_t page, uint8_t *buf);
	/* A request of this node for the page finished: wake the threads that faulted on it; each
	 * retries its access, which may fault again. */
	void (*complete)(void *ctx, uint64_t page);
	/* Replicas: keep the home's copy of a page this node mirrors (store the bytes without
	 * mapping them; this node does not use the page). */
	void (*keep_copy)(void *ctx, uint64_t page, const uint8_t *data);
};

struct coh_config {
	uint64_t page_count;
	uint32_t node_count;
	uint32_t self;
	struct coh_home_config homes;
	const struct coh_ops *ops;
	void *ctx;
};

struct coh;

struct coh *coh_create(const struct coh_config *cfg, char *err, size_t errlen);
void coh_destroy(struct coh *c);

/* A thread of this node wants `page` for reading or writing. complete() follows, now or later.
 * -1 on misuse (page out of range). */
int coh_fault(struct coh *c, uint64_t page, bool write, char *err, size_t errlen);
/* A decoded message from node `from`. -1 if it breaks the protocol (state left unchanged for it):
 * the cluster can no longer be trusted and the engine should stop. */
int coh_receive(struct coh *c, uint32_t from, const struct coh_msg *msg, char *err, size_t errlen);
/* Give up this node's copy of a page homed elsewhere (memory budget). Allowed in S (clean, no
 * reply awaited) and E (written back to the home); -1 in any other state or for a home page. */
int coh_evict(struct coh *c, uint64_t page, char *err, size_t errlen);

/* Replicas (RANGES homes with mirrors; docs/coherence.md, "Replicas"). Range `range` is served by
 * `home` and mirrored by `mirror` (COH_NO_MIRROR: nobody) from now on. This node takes the part
 * the change gives it, page by page: a new home adopts the pages (the copy it kept as mirror
 * becomes the home's); a home whose mirror changed acknowledges the write-backs the old one
 * never will; any other node tells the new home what it holds of each page (CLAIM_S, CLAIM_E)
 * and sends again the request or write-back the lost home left unanswered. -1 if this node
 * cannot: a write-back only the lost home had. Call it from the thread that makes the other
 * calls (the engine's progress thread): the range changes for all pages at once. */
int coh_set_range(struct coh *c, uint32_t range, uint32_t home, uint32_t mirror, char *err,
		  size_t errlen);
/* Home side: sends the page's copy to its mirror (REPLICA_COPY) if the home's copy is the page's
 * latest and no transaction is under way; a write-back under way reaches the mirror anyway.
 * Re-creates a lost copy in the background. True if sent. */
bool coh_copy_to_mirror(struct coh *c, uint64_t page);

enum coh_page_state coh_page_state(struct coh *c, uint64_t page);
const char *coh_page_state_name(enum coh_page_state state);
/* The home map, with what this node learned under FIRST_TOUCH; read it only while no call runs. */
const struct coh_homes *coh_homes(const struct coh *c);
/* This node's directory entries (pages homed here); read it only while no call is running. */
const struct coh_directory *coh_directory(const struct coh *c);

/* The transition tables, rendered as the Markdown rows docs/coherence.md must contain. */
enum coh_table { COH_TABLE_REQUESTER, COH_TABLE_DIRECTORY };
size_t coh_table_rows(enum coh_table table);
void coh_table_row_markdown(enum coh_table table, size_t row, char *buf, size_t buflen);

#endif
