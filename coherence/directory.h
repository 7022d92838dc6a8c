/* The home side of the coherence protocol: what a home knows about each page it homes (struct
 * coh_directory: state, owner, a sharer bitmap sized for the cluster, the request being served and
 * the FIFO of requests that arrived meanwhile), and dir_handle(), which runs the directory
 * transitions of protocol.c's table on them.
 * The home's own copy is never in the sharer set: its memory is the page's backing store, valid
 * whenever no other node owns the page, so its local state follows from the directory's. */
#ifndef COHERENCE_DIRECTORY_H
#define COHERENCE_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Busy states (INVALIDATING, FETCHING, FETCHING_INV, REPLICATING) serve one request and queue the
 * others. */
enum dir_state {
	DIR_UNOWNED,	  /* no other node has a copy */
	DIR_SHARED,	  /* sharers (at least one) hold read-only copies; home copy valid */
	DIR_EXCLUSIVE,	  /* owner holds the only copy */
	DIR_INVALIDATING, /* waiting for INV_ACKs before granting a write */
	DIR_FETCHING,	  /* waiting for the owner's FETCH_DATA to serve a read */
	DIR_FETCHING_INV, /* waiting for the owner's FETCH_INV_DATA to serve a write */
	DIR_REPLICATING,  /* waiting for the mirror's REPLICA_ACK to acknowledge a write-back */
	DIR_STATE_COUNT
};

/* Inputs of the directory. The first six are requests (queued while busy), the rest replies and
 * the recovery after a node's loss (claims from the requesters, the mirror gone). */
enum dir_input_kind {
	DIR_IN_HOME_LOAD,
	DIR_IN_HOME_STORE,
	DIR_IN_READ_REQ,
	DIR_IN_WRITE_REQ,
	DIR_IN_EVICT,
	DIR_IN_WRITEBACK,
	DIR_IN_INV_ACK,
	DIR_IN_FETCH_DATA,
	DIR_IN_FETCH_INV_DATA,
	DIR_IN_REPLICA_ACK,
	DIR_IN_MIRROR_LOST,
	DIR_IN_CLAIM_S,
	DIR_IN_CLAIM_E,
};

/* Events: an input classified against the entry (is the sender the owner, the last sharer...). */
enum dir_event {
	DIR_EV_HOME_HIT, /* the home's own access is already allowed by its mapping */
	DIR_EV_HOME_LOAD,
	DIR_EV_HOME_STORE,
	DIR_EV_READ_REQ,
	DIR_EV_WRITE_REQ,	   /* requester holds no valid copy */
	DIR_EV_UPGRADE,		   /* requester is a sharer, others too */
	DIR_EV_UPGRADE_SOLE,	   /* requester is the only sharer */
	DIR_EV_EVICT,		   /* from a sharer, others remain */
	DIR_EV_EVICT_LAST,	   /* from the last sharer */
	DIR_EV_EVICT_STALE,	   /* from a node the directory no longer lists */
	DIR_EV_WRITEBACK,	   /* from the owner */
	DIR_EV_WRITEBACK_MIRRORED, /* from the owner, of a page a mirror keeps too */
	DIR_EV_WRITEBACK_STALE,	   /* from a former owner whose data the home already fetched */
	DIR_EV_REQUEST,		   /* any request while busy */
	DIR_EV_INV_ACK,
	DIR_EV_ACK_LAST_UPGRADE, /* last ack; the requester's copy is valid */
	DIR_EV_ACK_LAST_WRITE,	 /* last ack; the requester needs the data */
	DIR_EV_ACK_LAST_HOME,	 /* last ack; the requester is the home itself */
	DIR_EV_FETCH_DATA,
	DIR_EV_FETCH_DATA_HOME,
	DIR_EV_FETCH_INV_DATA,
	DIR_EV_FETCH_INV_DATA_HOME,
	DIR_EV_REPLICA_ACK,
	DIR_EV_MIRROR_LOST, /* the mirror whose ack is awaited was lost */
	DIR_EV_CLAIM_S,	    /* a requester's read-only copy of an adopted page */
	DIR_EV_CLAIM_E,	    /* a requester's writable copy of an adopted page */
	DIR_EVENT_COUNT
};

enum dir_action {
	DIR_ACT_END,
	DIR_ACT_QUEUE,		 /* append the request to the page's FIFO */
	DIR_ACT_HOME_DOWNGRADE,	 /* write-protect the home's copy if writable */
	DIR_ACT_HOME_DROP,	 /* drop the home's copy if mapped */
	DIR_ACT_HOME_MAP_RO,	 /* map the home's (valid) bytes read-only */
	DIR_ACT_HOME_MAP_RW,	 /* map the home's (valid) bytes writable */
	DIR_ACT_HOME_INSTALL_RO, /* write the event's data into the home, map read-only */
	DIR_ACT_HOME_INSTALL_RW, /* same, writable */
	DIR_ACT_READ,		 /* read the home's bytes as the event's data */
	DIR_ACT_ADD_REQUESTER,	 /* sharers += requester */
	DIR_ACT_REMOVE_SENDER,	 /* sharers -= sender */
	DIR_ACT_OWNER_TO_SHARER, /* sharers = {owner} */
	DIR_ACT_SET_OWNER,	 /* owner = requester, sharers = {} */
	DIR_ACT_SEND_READ_DATA,	 /* to the requester, with the event's data */
	DIR_ACT_SEND_GRANT,	 /* WRITE_GRANT without data */
	DIR_ACT_SEND_GRANT_DATA, /* WRITE_GRANT with the event's data */
	DIR_ACT_SEND_INV_OTHERS, /* INV to every sharer but the requester */
	DIR_ACT_SEND_FETCH,	 /* to the owner */
	DIR_ACT_SEND_FETCH_INV,	 /* to the owner */
	DIR_ACT_SEND_WB_ACK,	 /* to the requester */
	DIR_ACT_SEND_REPLICA,	 /* REPLICA_WRITE to the mirror, with the event's data */
	DIR_ACT_COMPLETE,	 /* the home's own request is done */
	DIR_ACTION_COUNT
};

#define DIR_MAX_ACTIONS 6

struct dir_row {
	uint8_t state, event, next;
	uint8_t actions[DIR_MAX_ACTIONS]; /* run in order, up to DIR_ACT_END */
};

extern const struct dir_row coh_dir_table[];
extern const size_t coh_dir_table_size;
const struct dir_row *dir_lookup(enum dir_state state, enum dir_event event);
const char *dir_state_name(enum dir_state state);
const char *dir_event_name(enum dir_event event);
const char *dir_action_name(enum dir_action action);

struct dir_request {
	uint8_t kind; /* enum dir_input_kind, a request */
	bool has_copy;
	uint32_t from;
};

struct dir_queued {
	struct dir_request req;
	struct dir_queued *next;
};

struct dir_entry {
	uint8_t state;		   /* enum dir_state */
	struct dir_request active; /* the request a busy state serves */
	uint32_t owner;		   /* EXCLUSIVE and FETCHING*: who holds the page */
	uint32_t queue_len;
	/* Taken over from a lost home: until the first input, a requester may claim its copy. */
	bool adopted;
	struct dir_queued *queue_head, *queue_tail;
};

struct coh_directory {
	uint64_t slot_count;
	uint32_t node_count;
	size_t words; /* uint64_t words per sharer set */
	struct dir_entry *entries;
	uint64_t *sharers; /* slot_count sets of `words` words */
};

int dir_init(struct coh_directory *dir, uint64_t slot_count, uint32_t node_count, char *err,
	     size_t errlen);
void dir_free(struct coh_directory *dir);
bool dir_is_sharer(const struct coh_directory *dir, uint64_t slot, uint32_t node);
uint32_t dir_sharer_count(const struct coh_directory *dir, uint64_t slot);

struct coh_env;

struct dir_input {
	enum dir_input_kind kind;
	uint32_t from;	     /* the sender; the home itself for HOME_LOAD/HOME_STORE */
	bool has_copy;	     /* WRITE_REQ */
	const uint8_t *data; /* WRITEBACK, FETCH_DATA, FETCH_INV_DATA */
	uint32_t mirror;     /* the node keeping the page's second copy, or COH_NO_MIRROR */
};

/* A page of a lost home's range, now homed here: no other node holds it until one claims it, and
 * the home's copy (the mirror's, kept here) is valid. */
void dir_adopt(struct coh_directory *dir, uint64_t slot);
/* Runs one input for a page homed here, then the queued requests it unblocks. */
int dir_handle(const struct coh_env *env, struct coh_directory *dir, uint64_t slot, uint64_t page,
	       const struct dir_input *in, char *err, size_t errlen);

#endif
