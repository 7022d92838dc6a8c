/* The requester side of the coherence protocol: a node's own copy of each page homed elsewhere
 * (enum coh_page_state) and pt_handle(), which runs the requester transitions of protocol.c's
 * table: local faults and evictions send requests to the home, messages from the home install,
 * downgrade or drop the copy. struct coh_env is what both sides act through. */
#ifndef COHERENCE_PAGE_TABLE_H
#define COHERENCE_PAGE_TABLE_H

#include "coherence/protocol.h"

struct coh_env {
	const struct coh_ops *ops;
	void *ctx;
	uint32_t self;
	uint8_t *local; /* enum coh_page_state of every page, home pages included */
};

enum pt_event {
	PT_EV_LOAD,  /* a local thread faulted reading */
	PT_EV_STORE, /* a local thread faulted writing */
	PT_EV_EVICT, /* the engine gives the copy up */
	PT_EV_READ_DATA,
	PT_EV_GRANT,	  /* WRITE_GRANT without data */
	PT_EV_GRANT_DATA, /* WRITE_GRANT with data */
	PT_EV_INV,
	PT_EV_FETCH,
	PT_EV_FETCH_INV,
	PT_EV_WB_ACK,
	PT_EVENT_COUNT
};

enum pt_action {
	PT_ACT_END,
	PT_ACT_SEND_READ_REQ,
	PT_ACT_SEND_WRITE_REQ,	 /* has_copy = false */
	PT_ACT_SEND_UPGRADE_REQ, /* WRITE_REQ with has_copy = true */
	PT_ACT_SEND_EVICT,
	PT_ACT_SEND_INV_ACK,
	PT_ACT_SEND_FETCH_DATA, /* with the bytes PT_ACT_READ took */
	PT_ACT_SEND_FETCH_INV_DATA,
	PT_ACT_SEND_WRITEBACK,
	PT_ACT_READ, /* copy the local bytes for a later send */
	PT_ACT_DOWNGRADE,
	PT_ACT_DROP,
	PT_ACT_INSTALL_RO, /* the message's data, read-only */
	PT_ACT_INSTALL_RW, /* the message's data, writable */
	PT_ACT_MAP_RW,	   /* keep the bytes, make them writable */
	PT_ACT_COMPLETE,
	PT_ACTION_COUNT
};

#define PT_MAX_ACTIONS 4

struct pt_row {
	uint8_t state, event, next;
	uint8_t actions[PT_MAX_ACTIONS]; /* run in order, up to PT_ACT_END */
};

extern const struct pt_row coh_pt_table[];
extern const size_t coh_pt_table_size;
const struct pt_row *pt_lookup(enum coh_page_state state, enum pt_event event);
const char *pt_event_name(enum pt_event event);
const char *pt_action_name(enum pt_action action);

/* Runs one event for a page homed at `home` (not this node). */
int pt_handle(const struct coh_env *env, uint32_t home, uint64_t page, enum pt_event event,
	      const uint8_t *data, char *err, size_t errlen);

#endif
