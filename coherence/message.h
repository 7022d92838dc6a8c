/* The coherence protocol's messages: their types, struct coh_msg, and the payload codec. Every
 * type has one shape (may it carry a page, the has_copy flag, a node) and one route (to or from a
 * page's home or registrar); the decoder checks all of it before anything reads the message. */
#ifndef COHERENCE_MESSAGE_H
#define COHERENCE_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COH_PAGE_SIZE	    4096u
#define COH_MSG_VERSION	    3u
#define COH_MSG_HEADER_SIZE 12u
#define COH_MSG_NODE_SIZE   4u
#define COH_MSG_MAX_SIZE    (COH_MSG_HEADER_SIZE + COH_PAGE_SIZE)

/* Transport message types; the transport carries {type, payload} between authenticated nodes. */
enum coh_msg_type {
	COH_MSG_READ_REQ = 0x100, /* requester -> home: a read-only copy, please */
	COH_MSG_WRITE_REQ,	/* requester -> home: a writable copy; has_copy: I hold it shared */
	COH_MSG_READ_DATA,	/* home -> requester: a read-only copy (data) */
	COH_MSG_WRITE_GRANT,	/* home -> requester: write; data unless its copy is still valid */
	COH_MSG_INV,		/* home -> sharer: drop your read-only copy */
	COH_MSG_INV_ACK,	/* sharer -> home: dropped */
	COH_MSG_FETCH,		/* home -> owner: downgrade to read-only, send me the data */
	COH_MSG_FETCH_DATA,	/* owner -> home (data) */
	COH_MSG_FETCH_INV,	/* home -> owner: drop your copy, send me the data */
	COH_MSG_FETCH_INV_DATA, /* owner -> home (data) */
	COH_MSG_WRITEBACK,	/* owner -> home: evicting a dirty page (data) */
	COH_MSG_WB_ACK,		/* home -> former owner: writeback absorbed */
	COH_MSG_EVICT,		/* sharer -> home: dropped my clean copy */
	COH_MSG_HOME_QUERY,	/* FIRST_TOUCH, node -> registrar: who homes this page? */
	COH_MSG_HOME_IS,	/* registrar -> node: this node does (the first who asked) */
	COH_MSG_REPLICA_WRITE,	/* home -> mirror: keep this copy, then ack (data) */
	COH_MSG_REPLICA_ACK,	/* mirror -> home: the copy is kept */
	COH_MSG_REPLICA_COPY,	/* home -> new mirror: keep this copy, no reply (data) */
	COH_MSG_CLAIM_S,	/* requester -> new home: I hold a read-only copy */
	COH_MSG_CLAIM_E,	/* requester -> new home: I hold the only, writable copy */
	COH_MSG_TYPE_END
};

struct coh_msg {
	uint16_t type; /* enum coh_msg_type */
	uint64_t page;
	bool has_copy;	     /* COH_MSG_WRITE_REQ only */
	const uint8_t *data; /* COH_PAGE_SIZE bytes or NULL; borrowed, valid for the call only */
	uint32_t node;	     /* COH_MSG_HOME_IS only: the page's home */
};

/* Payload: version u8, flags u8 (bit 0 has_copy, bit 1 data follows), reserved u16 = 0,
 * page u64 little endian, then for HOME_IS the node u32 little endian, then the page when flagged.
 * Each type allows exactly one shape.
 * Decoding borrows: msg->data points into `payload`. */
int coh_msg_encode(const struct coh_msg *msg, uint8_t *buf, size_t buflen, size_t *len, char *err,
		   size_t errlen);
int coh_msg_decode(uint16_t type, const uint8_t *payload, size_t len, uint64_t page_count,
		   struct coh_msg *msg, char *err, size_t errlen);
const char *coh_msg_type_name(uint16_t type);

/* Which side of the protocol handles a message type, and so who may send it. */
enum coh_msg_route {
	COH_TO_HOME,
	COH_FROM_HOME,
	COH_TO_REGISTRAR,
	COH_FROM_REGISTRAR,
	COH_TO_MIRROR
};
enum coh_msg_route coh_msg_route(uint16_t type); /* type must be valid */
/* The checks every message must pass, decoded or built by a caller: type, flags, page range. */
int coh_msg_check(const struct coh_msg *msg, uint64_t page_count, char *err, size_t errlen);

#endif
