/* libFuzzer target for the coherence protocol: hostile payloads through coh_msg_decode (whatever
 * decodes must encode back to the same bytes) and hostile sequences of messages, faults and
 * evictions into one protocol instance, which must refuse what breaks the protocol without
 * crashing. Input: node count (2 + b % 130; striped homes when b < 130, first-touch up to 199,
 * above that ranges mirrored by the next node, as replicas = 2 has them), own node, then
 * records; each starts with an op byte:
 *   op % 4 == 0  compact message: from, type, 12 header bytes, a node (4 bytes) for HOME_IS, a
 *                zero page if the data flag is set
 *   op % 4 == 1  raw message: from, type, length (u16 LE), payload
 *   op % 4 == 2  fault: page (op bit 4: write); pages run to twice the region, half invalid
 *   op % 4 == 3  evict: page; with op bit 5, copy the page to its mirror; with op bit 6 (ranges
 *                mirrored), move a range: range, home, mirror (node count means none)
 * Message types are 0x100 + type, or the raw type byte when op bit 7 is set. */
#include "coherence/protocol.h"

#include <stdint.h>
#include <string.h>

#define PAGES 8

static void on_send(void *ctx, uint32_t node, const struct coh_msg *msg)
{
}

static void on_install(void *ctx, uint64_t page, const uint8_t *data, bool writable)
{
}

static void on_page(void *ctx, uint64_t page)
{
}

static void on_read(void *ctx, uint64_t page, uint8_t *buf)
{
	memset(buf, (int)page, COH_PAGE_SIZE);
}

static void on_keep(void *ctx, uint64_t page, const uint8_t *data)
{
}

static const struct coh_ops ops = {on_send, on_install, on_page, on_page,
				   on_read, on_page,	on_keep};

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t take(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static void check_round_trip(const struct coh_msg *msg, const uint8_t *payload, size_t len)
{
	static uint8_t again[COH_MSG_MAX_SIZE];
	size_t again_len;
	char err[256];
	if (coh_msg_encode(msg, again, sizeof(again), &again_len, err, sizeof(err)) < 0 ||
	    again_len != len || memcmp(again, payload, len) != 0)
		__builtin_trap();
}

static void deliver(struct coh *c, uint32_t from, uint16_t type, const uint8_t *payload, size_t len)
{
	struct coh_msg msg;
	char err[256];
	if (coh_msg_decode(type, payload, len, PAGES, &msg, err, sizeof(err)) < 0)
		return;
	check_round_trip(&msg, payload, len);
	coh_receive(c, from, &msg, err, sizeof(err));
}

static void message(struct coh *c, struct input *in, uint8_t op, uint32_t nodes)
{
	static uint8_t payload[COH_MSG_MAX_SIZE + COH_MSG_NODE_SIZE];
	uint32_t from = take(in) % (nodes + 1);
	uint8_t type_byte = take(in);
	uint16_t type = (op & 0x80) ? type_byte : (uint16_t)(0x100 + type_byte);
	size_t len;
	if (op % 4 == 0) {
		size_t header =
		    COH_MSG_HEADER_SIZE + (type == COH_MSG_HOME_IS ? COH_MSG_NODE_SIZE : 0);
		for (len = 0; len < header; len++)
			payload[len] = take(in);
		if (payload[1] & 0x02) {
			memset(payload + len, 0, COH_PAGE_SIZE);
			len += COH_PAGE_SIZE;
		}
	} else {
		len = take(in);
		len |= (size_t)take(in) << 8;
		if (len > in->left)
			len = in->left;
		memcpy(payload, in->p, len);
		in->p += len;
		in->left -= len;
	}
	deliver(c, from, type, payload, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t shape = take(&in);
	uint32_t nodes = 2 + shape % 130;
	uint32_t self = take(&in) % nodes;
	uint64_t ranges[131];
	uint32_t mirrors[131];
	for (uint32_t n = 0; n < nodes; n++) {
		ranges[n] = PAGES / nodes + (n < PAGES % nodes);
		mirrors[n] = (n + 1) % nodes;
	}
	bool mirrored = shape >= 200;
	struct coh_home_config homes = {shape < 130 ? COH_HOME_STRIPED : COH_HOME_FIRST_TOUCH, 1,
					NULL, NULL};
	if (mirrored)
		homes = (struct coh_home_config){COH_HOME_RANGES, 0, ranges, mirrors};
	struct coh_config cfg = {PAGES, nodes, self, homes, &ops, NULL};
	char err[256];
	struct coh *c = coh_create(&cfg, err, sizeof(err));
	if (!c)
		__builtin_trap();
	while (in.left) {
		uint8_t op = take(&in);
		switch (op % 4) {
		case 0:
		case 1:
			message(c, &in, op, nodes);
			break;
		case 2:
			coh_fault(c, take(&in) % (2 * PAGES), op & 0x10, err, sizeof(err));
			break;
		case 3:
			if (mirrored && (op & 0x40)) {
				uint32_t range = take(&in) % nodes, home = take(&in) % nodes;
				uint32_t mirror = take(&in) % (nodes + 1);
				coh_set_range(c, range, home,
					      mirror == nodes ? COH_NO_MIRROR : mirror, err,
					      sizeof(err));
			} else if (op & 0x20) {
				coh_copy_to_mirror(c, take(&in) % (2 * PAGES));
			} else {
				coh_evict(c, take(&in) % (2 * PAGES), err, sizeof(err));
			}
			break;
		}
	}
	coh_destroy(c);
	return 0;
}
