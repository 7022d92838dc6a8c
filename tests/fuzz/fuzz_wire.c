/* libFuzzer target for everything that decodes bytes from another node: the wire header and its
 * MAC check, the hello, auth and loss-report payloads, and key file contents. The first input byte
 * picks the decoder. Random bytes never carry a valid MAC, so one mode builds a sealed message from
 * the input instead and checks the invariants past that point: it opens exactly once, any flipped
 * bit makes it fail, and a replay is refused. */
#include "coherence/cluster_key.h"
#include "coherence/wire.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t key[WIRE_KEY_SIZE] = {0x42, 0x17};

static int open_message(const uint8_t *hdr, size_t hdr_len, const uint8_t *payload, size_t len,
			struct wire_replay *replay)
{
	struct wire_header h;
	char err[128];
	if (wire_decode_header(hdr, hdr_len, &h, err, sizeof(err)) < 0)
		return -1;
	return wire_authenticate(hdr, &h, payload, len, key, replay, err, sizeof(err));
}

static uint64_t read_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static void sealed_message(const uint8_t *data, size_t size)
{
	static uint8_t msg[WIRE_HEADER_SIZE + WIRE_MAX_PAYLOAD];
	if (size < 12)
		return;
	uint16_t type = (uint16_t)(WIRE_HELLO + data[0] % (WIRE_LOST - WIRE_HELLO + 1));
	if (data[1] & 1)
		type = (uint16_t)(WIRE_PAYLOAD_FIRST + data[1] % 0x110);
	uint64_t seq = read_u64(data + 2) | 1;
	uint16_t flip = (uint16_t)(data[10] | data[11] << 8);
	size_t len = size - 12 > WIRE_MAX_PAYLOAD ? WIRE_MAX_PAYLOAD : size - 12;
	memcpy(msg + WIRE_HEADER_SIZE, data + 12, len);
	wire_seal(msg, type, 3, seq, msg + WIRE_HEADER_SIZE, (uint32_t)len, key);
	struct wire_replay replay = {0};
	if (open_message(msg, WIRE_HEADER_SIZE, msg + WIRE_HEADER_SIZE, len, &replay) != 0)
		abort(); /* a sealed message must open */
	if (open_message(msg, WIRE_HEADER_SIZE, msg + WIRE_HEADER_SIZE, len, &replay) == 0)
		abort(); /* and only once */
	size_t bit = flip % (8 * (WIRE_HEADER_SIZE + len));
	msg[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	struct wire_replay fresh = {0};
	if (open_message(msg, WIRE_HEADER_SIZE, msg + WIRE_HEADER_SIZE, len, &fresh) == 0)
		abort(); /* a changed message must not open */
	if (fresh.last != 0)
		abort(); /* nor move the sequence */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char err[256];
	struct wire_replay replay = {0};
	struct wire_hello hello;
	uint8_t out[WIRE_KEY_SIZE];
	uint32_t node;
	const uint8_t *rest = data + 1;
	size_t len = size - 1;
	switch (data[0] % 6) {
	case 0:
		open_message(rest, len, len > WIRE_HEADER_SIZE ? rest + WIRE_HEADER_SIZE : rest,
			     len > WIRE_HEADER_SIZE ? len - WIRE_HEADER_SIZE : 0, &replay);
		break;
	case 1:
		wire_hello_decode(rest, len, &hello, err, sizeof(err));
		break;
	case 2:
		wire_auth_decode(rest, len, out, err, sizeof(err));
		break;
	case 3:
		cluster_key_parse(rest, len, out, err, sizeof(err));
		break;
	case 4:
		sealed_message(rest, len);
		break;
	default:
		wire_lost_decode(rest, len, &node, err, sizeof(err));
		break;
	}
	return 0;
}
