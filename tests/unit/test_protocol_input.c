/* What the protocol accepts from outside: the payload codec (every shape, every rejection) and
 * coh_receive / coh_fault / coh_evict / coh_create refusing what breaks the protocol, without
 * acting on it. One node of a 3-node cluster with recording callbacks; page p is homed at p % 3. */
#include "coherence/protocol.h"

#include <criterion/criterion.h>
#include <string.h>

struct recorder {
	unsigned calls;
	unsigned sends;
	uint32_t last_to;
	struct coh_msg last;
	bool last_had_data;
};

static void rec_send(void *ctx, uint32_t node, const struct coh_msg *msg)
{
	struct recorder *r = ctx;
	r->calls++;
	r->sends++;
	r->last_to = node;
	r->last = *msg;
	r->last_had_data = msg->data != NULL;
	r->last.data = NULL;
}

static void rec_install(void *ctx, uint64_t page, const uint8_t *data, bool writable)
{
	((struct recorder *)ctx)->calls++;
}

static void rec_page(void *ctx, uint64_t page)
{
	((struct recorder *)ctx)->calls++;
}

static void rec_read(void *ctx, uint64_t page, uint8_t *buf)
{
	((struct recorder *)ctx)->calls++;
	memset(buf, 0xab, COH_PAGE_SIZE);
}

static void rec_keep(void *ctx, uint64_t page, const uint8_t *data)
{
	((struct recorder *)ctx)->calls++;
}

static const struct coh_ops rec_ops = {rec_send, rec_install, rec_page, rec_page,
				       rec_read, rec_page,    rec_keep};

static uint8_t page_bytes[COH_PAGE_SIZE];
static char err[256];

static struct coh *node0_homes(struct recorder *r, uint32_t nodes, enum coh_home_policy policy)
{
	memset(r, 0, sizeof(*r));
	struct coh_config cfg = {4, nodes, 0, {policy, 1, NULL, NULL}, &rec_ops, r};
	struct coh *c = coh_create(&cfg, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	return c;
}

static struct coh *node0(struct recorder *r, uint32_t nodes)
{
	return node0_homes(r, nodes, COH_HOME_STRIPED);
}

static struct coh_msg msg_of(uint16_t type, uint64_t page)
{
	return (struct coh_msg){.type = type, .page = page};
}

static void expect_rejected(struct coh *c, struct recorder *r, uint32_t from, struct coh_msg m,
			    const char *expected)
{
	unsigned calls = r->calls;
	cr_assert_eq(coh_receive(c, from, &m, err, sizeof(err)), -1, "accepted %s from %u",
		     coh_msg_type_name(m.type), from);
	cr_assert(strstr(err, expected), "expected \"%s\" in \"%s\"", expected, err);
	cr_assert_eq(r->calls, calls, "a rejected message must not act");
}

static void receive_ok(struct coh *c, uint32_t from, struct coh_msg m)
{
	cr_assert_eq(coh_receive(c, from, &m, err, sizeof(err)), 0, "%s", err);
}

/* --- Codec ----------------------------------------------------------------------------------- */

static void round_trip(uint16_t type, bool has_copy, bool data)
{
	struct coh_msg in = {.type = type,
			     .page = 0x0102030405060708ull,
			     .has_copy = has_copy,
			     .data = data ? page_bytes : NULL},
		       out;
	uint8_t buf[COH_MSG_MAX_SIZE];
	size_t len;
	page_bytes[17] = 0x5a;
	cr_assert_eq(coh_msg_encode(&in, buf, sizeof(buf), &len, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(len, COH_MSG_HEADER_SIZE + (data ? COH_PAGE_SIZE : 0));
	cr_assert_eq(buf[0], COH_MSG_VERSION);
	cr_assert_eq(buf[4], 0x08, "page is little endian");
	cr_assert_eq(coh_msg_decode(type, buf, len, UINT64_MAX, &out, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(out.type, type);
	cr_assert_eq(out.page, in.page);
	cr_assert_eq(out.has_copy, has_copy);
	cr_assert_eq(out.data != NULL, data);
	if (data)
		cr_assert_eq(out.data[17], 0x5a);
}

Test(protocol_codec, every_shape_round_trips)
{
	const uint16_t no_data[] = {COH_MSG_READ_REQ,  COH_MSG_WRITE_REQ, COH_MSG_WRITE_GRANT,
				    COH_MSG_INV,       COH_MSG_INV_ACK,	  COH_MSG_FETCH,
				    COH_MSG_FETCH_INV, COH_MSG_WB_ACK,	  COH_MSG_EVICT};
	const uint16_t with_data[] = {COH_MSG_READ_DATA, COH_MSG_WRITE_GRANT, COH_MSG_FETCH_DATA,
				      COH_MSG_FETCH_INV_DATA, COH_MSG_WRITEBACK};
	for (size_t i = 0; i < sizeof(no_data) / sizeof(no_data[0]); i++)
		round_trip(no_data[i], false, false);
	for (size_t i = 0; i < sizeof(with_data) / sizeof(with_data[0]); i++)
		round_trip(with_data[i], false, true);
	round_trip(COH_MSG_WRITE_REQ, true, false);
}

static void expect_decode_error(uint16_t type, const uint8_t *payload, size_t len,
				const char *expected)
{
	struct coh_msg msg;
	cr_assert_eq(coh_msg_decode(type, payload, len, 16, &msg, err, sizeof(err)), -1);
	cr_assert(strstr(err, expected), "expected \"%s\" in \"%s\"", expected, err);
}

Test(protocol_codec, decoder_rejects_malformed_payloads)
{
	uint8_t p[COH_MSG_MAX_SIZE + 1] = {COH_MSG_VERSION, 0, 0, 0, 3};
	expect_decode_error(COH_MSG_INV, p, 0, "shorter than");
	expect_decode_error(COH_MSG_INV, p, COH_MSG_HEADER_SIZE - 1, "shorter than");
	expect_decode_error(COH_MSG_INV, p, COH_MSG_HEADER_SIZE + 1, "expected 12");
	expect_decode_error(0x0ff, p, COH_MSG_HEADER_SIZE, "unknown coherence message type 0xff");
	expect_decode_error(COH_MSG_TYPE_END, p, COH_MSG_HEADER_SIZE, "unknown");
	expect_decode_error(COH_MSG_READ_DATA, p, COH_MSG_HEADER_SIZE, "page data missing");
	expect_decode_error(COH_MSG_FETCH_DATA, p, COH_MSG_HEADER_SIZE, "page data missing");
	expect_decode_error(COH_MSG_WRITEBACK, p, COH_MSG_HEADER_SIZE, "page data missing");
	p[1] = 0x01;
	expect_decode_error(COH_MSG_READ_REQ, p, COH_MSG_HEADER_SIZE, "has_copy flag not allowed");
	p[1] = 0x02;
	expect_decode_error(COH_MSG_INV, p, COH_MSG_MAX_SIZE, "must not carry page data");
	expect_decode_error(COH_MSG_READ_DATA, p, COH_MSG_HEADER_SIZE, "expected 4108");
	expect_decode_error(COH_MSG_READ_DATA, p, COH_MSG_MAX_SIZE + 1, "expected 4108");
	p[1] = 0x04;
	expect_decode_error(COH_MSG_INV, p, COH_MSG_HEADER_SIZE, "unknown flags 0x04");
	p[1] = 0;
	p[3] = 1;
	expect_decode_error(COH_MSG_INV, p, COH_MSG_HEADER_SIZE, "reserved");
	p[3] = 0;
	p[4] = 16;
	expect_decode_error(COH_MSG_INV, p, COH_MSG_HEADER_SIZE, "page 16 out of range");
	p[4] = 0;
	p[11] = 0x80;
	expect_decode_error(COH_MSG_INV, p, COH_MSG_HEADER_SIZE, "out of range");
	p[11] = 0;
	p[0] = COH_MSG_VERSION - 1;
	expect_decode_error(COH_MSG_INV, p, COH_MSG_HEADER_SIZE, "unsupported version 2");
	struct coh_msg msg;
	p[0] = COH_MSG_VERSION;
	cr_assert_eq(coh_msg_decode(COH_MSG_INV, p, COH_MSG_HEADER_SIZE, 16, &msg, err, 256), 0);
}

Test(protocol_codec, encoder_refuses_bad_shapes_and_small_buffers)
{
	uint8_t buf[COH_MSG_MAX_SIZE];
	size_t len;
	struct coh_msg m = {.type = COH_MSG_READ_DATA, .page = 1};
	cr_assert_eq(coh_msg_encode(&m, buf, sizeof(buf), &len, err, sizeof(err)), -1);
	cr_assert(strstr(err, "page data missing"), "%s", err);
	m = (struct coh_msg){.type = COH_MSG_INV, .page = 1, .has_copy = true};
	cr_assert_eq(coh_msg_encode(&m, buf, sizeof(buf), &len, err, sizeof(err)), -1);
	m = (struct coh_msg){.type = COH_MSG_WRITEBACK, .page = 1, .data = page_bytes};
	cr_assert_eq(coh_msg_encode(&m, buf, COH_MSG_MAX_SIZE - 1, &len, err, sizeof(err)), -1);
	cr_assert(strstr(err, "needs 4108 bytes"), "%s", err);
	m.type = 0x200;
	cr_assert_eq(coh_msg_encode(&m, buf, sizeof(buf), &len, err, sizeof(err)), -1);
}

/* --- Protocol violations --------------------------------------------------------------------- */

Test(protocol_input, messages_from_invalid_nodes_or_to_the_wrong_side)
{
	struct recorder r;
	struct coh *c = node0(&r, 3);
	expect_rejected(c, &r, 3, msg_of(COH_MSG_READ_REQ, 0), "invalid node 3");
	expect_rejected(c, &r, 0, msg_of(COH_MSG_READ_REQ, 0), "invalid node 0");
	expect_rejected(c, &r, 1, msg_of(COH_MSG_READ_REQ, 1), "which node 1 homes");
	expect_rejected(c, &r, 1, msg_of(COH_MSG_INV, 0), "not its home");
	expect_rejected(c, &r, 2, msg_of(COH_MSG_INV, 1), "not its home (node 1)");
	expect_rejected(c, &r, 1, msg_of(COH_MSG_READ_REQ, 4), "out of range");
	struct coh_msg unknown = msg_of(0x1ff, 0);
	expect_rejected(c, &r, 1, unknown, "unknown");
	struct coh_msg no_data = msg_of(COH_MSG_READ_DATA, 1);
	expect_rejected(c, &r, 1, no_data, "page data missing");
	coh_destroy(c);
}

Test(protocol_input, replies_nobody_asked_for)
{
	struct recorder r;
	struct coh *c = node0(&r, 3);
	struct coh_msg data = {.type = COH_MSG_READ_DATA, .page = 1, .data = page_bytes};
	expect_rejected(c, &r, 1, data, "READ_DATA not allowed in state I");
	expect_rejected(c, &r, 1, msg_of(COH_MSG_WRITE_GRANT, 1), "not allowed in state I");
	expect_rejected(c, &r, 1, msg_of(COH_MSG_FETCH, 1), "FETCH not allowed in state I");
	expect_rejected(c, &r, 1, msg_of(COH_MSG_WB_ACK, 1), "not allowed in state I");
	expect_rejected(c, &r, 1, msg_of(COH_MSG_INV_ACK, 0), "unexpected INV_ACK from node 1");
	struct coh_msg fetched = {.type = COH_MSG_FETCH_DATA, .page = 0, .data = page_bytes};
	expect_rejected(c, &r, 2, fetched, "unexpected FETCH_DATA");
	cr_assert_eq(coh_page_state(c, 1), COH_I);
	coh_destroy(c);
}

Test(protocol_input, upgrade_grant_without_data_needs_a_copy)
{
	struct recorder r;
	struct coh *c = node0(&r, 3);
	cr_assert_eq(coh_fault(c, 1, true, err, sizeof(err)), 0);
	cr_assert_eq(coh_page_state(c, 1), COH_IM_D);
	expect_rejected(c, &r, 1, msg_of(COH_MSG_WRITE_GRANT, 1), "WRITE_GRANT not allowed");
	coh_destroy(c);
}

Test(protocol_input, the_owner_cannot_request_its_own_page)
{
	struct recorder r;
	struct coh *c = node0(&r, 3);
	receive_ok(c, 1, msg_of(COH_MSG_WRITE_REQ, 0));
	cr_assert_eq(r.last.type, COH_MSG_WRITE_GRANT);
	cr_assert(r.last_had_data);
	expect_rejected(c, &r, 1, msg_of(COH_MSG_READ_REQ, 0), "unexpected READ_REQ from node 1");
	expect_rejected(c, &r, 1, msg_of(COH_MSG_WRITE_REQ, 0), "unexpected WRITE_REQ");
	expect_rejected(c, &r, 1, msg_of(COH_MSG_EVICT, 0), "unexpected EVICT");
	coh_destroy(c);
}

Test(protocol_input, a_flood_of_requests_overflows_the_queue)
{
	struct recorder r;
	struct coh *c = node0(&r, 3);
	receive_ok(c, 1, msg_of(COH_MSG_WRITE_REQ, 0));
	receive_ok(c, 2, msg_of(COH_MSG_READ_REQ, 0)); /* busy: fetching from node 1 */
	for (unsigned queued = 0; queued < 2 * 3 + 2; queued++)
		receive_ok(c, 2, msg_of(COH_MSG_READ_REQ, 0));
	expect_rejected(c, &r, 2, msg_of(COH_MSG_READ_REQ, 0), "request queue full");
	coh_destroy(c);
}

/* A peer that writes back while its own write request is still being served, then becomes owner:
 * the queued writeback has no data by then and must not be absorbed. */
Test(protocol_input, replayed_writeback_from_the_owner_is_refused)
{
	struct recorder r;
	struct coh *c = node0(&r, 3);
	receive_ok(c, 1, msg_of(COH_MSG_READ_REQ, 0));
	receive_ok(c, 2, msg_of(COH_MSG_WRITE_REQ, 0)); /* INV to node 1 */
	struct coh_msg wb = {.type = COH_MSG_WRITEBACK, .page = 0, .data = page_bytes};
	receive_ok(c, 2, wb);
	struct coh_msg ack = msg_of(COH_MSG_INV_ACK, 0);
	cr_assert_eq(coh_receive(c, 1, &ack, err, sizeof(err)), -1);
	cr_assert(strstr(err, "unexpected WRITEBACK from node 2"), "%s", err);
	cr_assert_eq(coh_directory(c)->entries[0].state, DIR_EXCLUSIVE, "the grant still went");
	coh_destroy(c);
}

Test(protocol_input, faults_and_evictions_out_of_range)
{
	struct recorder r;
	struct coh *c = node0(&r, 3);
	cr_assert_eq(coh_fault(c, 4, false, err, sizeof(err)), -1);
	cr_assert(strstr(err, "page 4 out of range"), "%s", err);
	cr_assert_eq(coh_evict(c, 99, err, sizeof(err)), -1);
	cr_assert_eq(coh_page_state(c, 99), COH_I);
	cr_assert_eq(coh_evict(c, 1, err, sizeof(err)), -1);
	cr_assert(strstr(err, "EVICT not allowed in state I"), "%s", err);
	cr_assert_eq(r.calls, 0);
	coh_destroy(c);
}

/* Two threads fault on one page; the second fault is seen after the first was served. */
Test(protocol_input, spurious_faults_just_complete)
{
	struct recorder r;
	struct coh *c = node0(&r, 3);
	cr_assert_eq(coh_fault(c, 0, true, err, sizeof(err)), 0);
	cr_assert_eq(coh_page_state(c, 0), COH_E);
	unsigned sends = r.sends;
	cr_assert_eq(coh_fault(c, 0, true, err, sizeof(err)), 0);
	cr_assert_eq(coh_fault(c, 0, false, err, sizeof(err)), 0);
	receive_ok(c, 1, msg_of(COH_MSG_READ_REQ, 0));
	cr_assert_eq(coh_page_state(c, 0), COH_S);
	receive_ok(c, 2, msg_of(COH_MSG_WRITE_REQ, 0)); /* busy invalidating node 1 */
	cr_assert_eq(coh_fault(c, 0, false, err, sizeof(err)), 0, "read hit while busy");
	cr_assert_eq(coh_directory(c)->entries[0].queue_len, 0);
	cr_assert_eq(r.sends, sends + 2, "READ_DATA and INV, nothing for the hits");
	coh_destroy(c);
}

Test(protocol_input, create_refuses_bad_configurations)
{
	struct recorder r = {0};
	struct coh_config cfg = {4, 3, 3, {COH_HOME_STRIPED, 0, NULL, NULL}, &rec_ops, &r};
	cr_assert_null(coh_create(&cfg, err, sizeof(err)));
	cr_assert(strstr(err, "node 3 is not among the 3 nodes"), "%s", err);
	cfg.self = 0;
	cfg.page_count = 0;
	cr_assert_null(coh_create(&cfg, err, sizeof(err)));
	cfg.page_count = 4;
	struct coh_ops partial = rec_ops;
	partial.complete = NULL;
	cfg.ops = &partial;
	cr_assert_null(coh_create(&cfg, err, sizeof(err)));
	cr_assert(strstr(err, "callback"), "%s", err);
	cfg.ops = &rec_ops;
	const uint64_t short_ranges[] = {1, 1, 1};
	cfg.homes = (struct coh_home_config){COH_HOME_RANGES, 0, short_ranges, NULL};
	cr_assert_null(coh_create(&cfg, err, sizeof(err)));
	cr_assert(strstr(err, "cover 3 of 4 pages"), "%s", err);
}

/* --- First-touch homes ----------------------------------------------------------------------- */

Test(protocol_codec, home_is_carries_the_node)
{
	struct coh_msg in = {.type = COH_MSG_HOME_IS, .page = 3, .node = 0x01020304}, out;
	uint8_t buf[COH_MSG_MAX_SIZE];
	size_t len;
	cr_assert_eq(coh_msg_encode(&in, buf, sizeof(buf), &len, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(len, COH_MSG_HEADER_SIZE + COH_MSG_NODE_SIZE);
	cr_assert_eq(buf[COH_MSG_HEADER_SIZE], 0x04, "node is little endian");
	cr_assert_eq(coh_msg_decode(in.type, buf, len, 4, &out, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(out.node, in.node);
	cr_assert_eq(out.page, 3);
	expect_decode_error(COH_MSG_HOME_IS, buf, COH_MSG_HEADER_SIZE, "expected 16");
	expect_decode_error(COH_MSG_HOME_QUERY, buf, len, "expected 12");
}

Test(protocol_input, home_messages_need_first_touch_homes)
{
	struct recorder r;
	struct coh *c = node0(&r, 3);
	expect_rejected(c, &r, 1, msg_of(COH_MSG_HOME_QUERY, 0), "not first-touch");
	expect_rejected(c, &r, 1, msg_of(COH_MSG_HOME_IS, 1), "not first-touch");
	coh_destroy(c);
}

/* Node 0 of 3 registers pages 0 and 3. */
Test(protocol_input, the_registrar_names_the_first_node_that_asks)
{
	struct recorder r;
	struct coh *c = node0_homes(&r, 3, COH_HOME_FIRST_TOUCH);
	expect_rejected(c, &r, 2, msg_of(COH_MSG_HOME_QUERY, 1), "whose registrar is node 1");
	expect_rejected(c, &r, 1, msg_of(COH_MSG_READ_REQ, 0), "which no node homes");
	receive_ok(c, 1, msg_of(COH_MSG_HOME_QUERY, 0));
	cr_assert_eq(r.last.type, COH_MSG_HOME_IS);
	cr_assert_eq(r.last_to, 1);
	cr_assert_eq(r.last.node, 1);
	receive_ok(c, 2, msg_of(COH_MSG_HOME_QUERY, 0));
	cr_assert_eq(r.last_to, 2);
	cr_assert_eq(r.last.node, 1, "the home never changes");
	expect_rejected(c, &r, 2, msg_of(COH_MSG_READ_REQ, 0), "which node 1 homes");
	cr_assert_eq(coh_fault(c, 0, false, err, sizeof(err)), 0);
	cr_assert_eq(r.last.type, COH_MSG_READ_REQ, "the registrar itself goes to the home");
	cr_assert_eq(r.last_to, 1);
	coh_destroy(c);
}

Test(protocol_input, only_the_asked_registrar_answers)
{
	struct recorder r;
	struct coh *c = node0_homes(&r, 3, COH_HOME_FIRST_TOUCH);
	struct coh_msg is = {.type = COH_MSG_HOME_IS, .page = 1, .node = 2};
	expect_rejected(c, &r, 1, is, "this node knows no node");
	cr_assert_eq(coh_fault(c, 1, true, err, sizeof(err)), 0);
	cr_assert_eq(r.last.type, COH_MSG_HOME_QUERY);
	cr_assert_eq(r.last_to, 1);
	cr_assert_eq(coh_fault(c, 1, false, err, sizeof(err)), 0);
	cr_assert_eq(r.sends, 1, "one question per page");
	expect_rejected(c, &r, 2, is, "whose registrar is node 1");
	is.node = 3;
	expect_rejected(c, &r, 1, is, "names node 3");
	is.node = 2;
	unsigned calls = r.calls;
	receive_ok(c, 1, is);
	cr_assert_eq(r.calls, calls + 1, "complete(): the fault retries");
	cr_assert_eq(coh_fault(c, 1, true, err, sizeof(err)), 0);
	cr_assert_eq(r.last.type, COH_MSG_WRITE_REQ);
	cr_assert_eq(r.last_to, 2);
	is.node = 1;
	expect_rejected(c, &r, 1, is, "this node knows node 2");
	coh_destroy(c);
}
