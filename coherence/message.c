/* The coherence messages' payload codec (message.h). One table gives each type its shape and
 * route; encode and decode both go through check_shape(), so a message the protocol builds and
 * one a peer sends are held to the same rules. Decoding trusts nothing: version, flags, reserved
 * bytes, length and page range are checked before any field is used. */
#include "coherence/message.h"

#include <stdio.h>
#include <string.h>

#define FLAG_HAS_COPY 0x01u
#define FLAG_DATA     0x02u

enum data_rule { DATA_NEVER, DATA_ALWAYS, DATA_OPTIONAL };

struct msg_shape {
	const char *name;
	uint8_t data;  /* enum data_rule */
	bool has_copy; /* the has_copy flag may be set */
	uint8_t route; /* enum coh_msg_route */
};

static const struct msg_shape msg_shapes[] = {
    {"READ_REQ", DATA_NEVER, false, COH_TO_HOME},
    {"WRITE_REQ", DATA_NEVER, true, COH_TO_HOME},
    {"READ_DATA", DATA_ALWAYS, false, COH_FROM_HOME},
    {"WRITE_GRANT", DATA_OPTIONAL, false, COH_FROM_HOME},
    {"INV", DATA_NEVER, false, COH_FROM_HOME},
    {"INV_ACK", DATA_NEVER, false, COH_TO_HOME},
    {"FETCH", DATA_NEVER, false, COH_FROM_HOME},
    {"FETCH_DATA", DATA_ALWAYS, false, COH_TO_HOME},
    {"FETCH_INV", DATA_NEVER, false, COH_FROM_HOME},
    {"FETCH_INV_DATA", DATA_ALWAYS, false, COH_TO_HOME},
    {"WRITEBACK", DATA_ALWAYS, false, COH_TO_HOME},
    {"WB_ACK", DATA_NEVER, false, COH_FROM_HOME},
    {"EVICT", DATA_NEVER, false, COH_TO_HOME},
    {"HOME_QUERY", DATA_NEVER, false, COH_TO_REGISTRAR},
    {"HOME_IS", DATA_NEVER, false, COH_FROM_REGISTRAR},
    {"REPLICA_WRITE", DATA_ALWAYS, false, COH_TO_MIRROR},
    {"REPLICA_ACK", DATA_NEVER, false, COH_TO_HOME},
    {"REPLICA_COPY", DATA_ALWAYS, false, COH_TO_MIRROR},
    {"CLAIM_S", DATA_NEVER, false, COH_TO_HOME},
    {"CLAIM_E", DATA_NEVER, false, COH_TO_HOME},
};

_Static_assert(sizeof(msg_shapes) / sizeof(msg_shapes[0]) == COH_MSG_TYPE_END - COH_MSG_READ_REQ,
	       "one shape per message type");

static const struct msg_shape *shape_of(uint16_t type)
{
	if (type < COH_MSG_READ_REQ || type >= COH_MSG_TYPE_END)
		return NULL;
	return &msg_shapes[type - COH_MSG_READ_REQ];
}

const char *coh_msg_type_name(uint16_t type)
{
	const struct msg_shape *shape = shape_of(type);
	return shape ? shape->name : "unknown";
}

enum coh_msg_route coh_msg_route(uint16_t type)
{
	return shape_of(type)->route;
}

static int check_shape(uint16_t type, bool has_copy, bool has_data, uint64_t page,
		       uint64_t page_count, char *err, size_t errlen)
{
	const struct msg_shape *shape = shape_of(type);
	if (!shape) {
		snprintf(err, errlen, "unknown coherence message type 0x%x", type);
		return -1;
	}
	if (has_copy && !shape->has_copy) {
		snprintf(err, errlen, "%s: has_copy flag not allowed", shape->name);
		return -1;
	}
	if (has_data && shape->data == DATA_NEVER) {
		snprintf(err, errlen, "%s: must not carry page data", shape->name);
		return -1;
	}
	if (!has_data && shape->data == DATA_ALWAYS) {
		snprintf(err, errlen, "%s: page data missing", shape->name);
		return -1;
	}
	if (page >= page_count) {
		snprintf(err, errlen, "%s: page %llu out of range (%llu pages)", shape->name,
			 (unsigned long long)page, (unsigned long long)page_count);
		return -1;
	}
	return 0;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Bytes after the header: HOME_IS names a node; the page, when present, comes last. */
static size_t body_size(uint16_t type, bool has_data)
{
	size_t node = shape_of(type)->route == COH_FROM_REGISTRAR ? COH_MSG_NODE_SIZE : 0;
	return node + (has_data ? COH_PAGE_SIZE : 0);
}

int coh_msg_encode(const struct coh_msg *msg, uint8_t *buf, size_t buflen, size_t *len, char *err,
		   size_t errlen)
{
	bool has_data = msg->data != NULL;
	if (check_shape(msg->type, msg->has_copy, has_data, msg->page, UINT64_MAX, err, errlen) < 0)
		return -1;
	size_t size = COH_MSG_HEADER_SIZE + body_size(msg->type, has_data);
	if (buflen < size) {
		snprintf(err, errlen, "%s: needs %zu bytes, buffer has %zu",
			 coh_msg_type_name(msg->type), size, buflen);
		return -1;
	}
	buf[0] = COH_MSG_VERSION;
	buf[1] = (uint8_t)((msg->has_copy ? FLAG_HAS_COPY : 0) | (has_data ? FLAG_DATA : 0));
	buf[2] = 0;
	buf[3] = 0;
	put_le(buf + 4, msg->page, 8);
	if (shape_of(msg->type)->route == COH_FROM_REGISTRAR)
		put_le(buf + COH_MSG_HEADER_SIZE, msg->node, COH_MSG_NODE_SIZE);
	if (has_data)
		memcpy(buf + size - COH_PAGE_SIZE, msg->data, COH_PAGE_SIZE);
	*len = size;
	return 0;
}

int coh_msg_decode(uint16_t type, const uint8_t *payload, size_t len, uint64_t page_count,
		   struct coh_msg *msg, char *err, size_t errlen)
{
	const char *name = coh_msg_type_name(type);
	if (len < COH_MSG_HEADER_SIZE) {
		snprintf(err, errlen, "%s: %zu bytes, shorter than the %u-byte header", name, len,
			 COH_MSG_HEADER_SIZE);
		return -1;
	}
	if (payload[0] != COH_MSG_VERSION) {
		snprintf(err, errlen, "%s: unsupported version %u (this node speaks %u)", name,
			 payload[0], COH_MSG_VERSION);
		return -1;
	}
	uint8_t flags = payload[1];
	if (flags & ~(FLAG_HAS_COPY | FLAG_DATA)) {
		snprintf(err, errlen, "%s: unknown flags 0x%02x", name, flags);
		return -1;
	}
	if (payload[2] != 0 || payload[3] != 0) {
		snprintf(err, errlen, "%s: reserved bytes not zero", name);
		return -1;
	}
	bool has_data = flags & FLAG_DATA;
	uint64_t page = get_le(payload + 4, 8);
	if (check_shape(type, flags & FLAG_HAS_COPY, has_data, page, page_count, err, errlen) < 0)
		return -1;
	size_t expected = COH_MSG_HEADER_SIZE + body_size(type, has_data);
	if (len != expected) {
		snprintf(err, errlen, "%s: %zu bytes, expected %zu", name, len, expected);
		return -1;
	}
	bool has_node = shape_of(type)->route == COH_FROM_REGISTRAR;
	msg->type = type;
	msg->page = page;
	msg->has_copy = flags & FLAG_HAS_COPY;
	msg->node = has_node ? (uint32_t)get_le(payload + COH_MSG_HEADER_SIZE, 4) : 0;
	msg->data = has_data ? payload + len - COH_PAGE_SIZE : NULL;
	return 0;
}

int coh_msg_check(const struct coh_msg *msg, uint64_t page_count, char *err, size_t errlen)
{
	return check_shape(msg->type, msg->has_copy, msg->data != NULL, msg->page, page_count, err,
			   errlen);
}
