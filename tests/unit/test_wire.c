/* Unit tests for the inter-node message framing: seal/decode round trips, every header check,
 * both MACs against libsodium's one-buffer reference (the ChaCha20-Poly1305 tag for session
 * messages, keyed BLAKE2b for hello and auth), MAC verification (any flipped bit, wrong key,
 * length mismatch), the sequence rule (replays and old numbers rejected, and never advanced by a
 * forged message), and the hello/auth codecs. */
#include "coherence/wire.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

static const uint8_t key_a[WIRE_KEY_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t key_b[WIRE_KEY_SIZE] = {9, 9, 9};

struct message {
	uint8_t hdr[WIRE_HEADER_SIZE];
	uint8_t payload[WIRE_MAX_PAYLOAD];
	size_t len;
};

static struct message msg;

static void seal(uint16_t type, uint32_t sender, uint64_t seq, size_t len)
{
	for (size_t i = 0; i < len; i++)
		msg.payload[i] = (uint8_t)(i * 7 + 3);
	msg.len = len;
	wire_seal(msg.hdr, type, sender, seq, msg.payload, (uint32_t)len, key_a);
}

/* Decodes and authenticates msg; returns the error text ("" on success). */
static const char *open_msg(const uint8_t *key, struct wire_replay *replay)
{
	static char err[128];
	struct wire_header h;
	err[0] = '\0';
	if (wire_decode_header(msg.hdr, sizeof(msg.hdr), &h, err, sizeof(err)) == 0)
		wire_authenticate(msg.hdr, &h, msg.payload, msg.len, key, replay, err, sizeof(err));
	return err;
}

Test(wire, round_trip_keeps_every_field)
{
	const size_t sizes[] = {0, 1, 40, 4096, WIRE_MAX_PAYLOAD};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		seal(WIRE_PAYLOAD_FIRST + 5, 7, 42 + i, sizes[i]);
		struct wire_header h;
		char err[128];
		cr_assert_eq(wire_decode_header(msg.hdr, sizeof(msg.hdr), &h, err, sizeof(err)), 0,
			     "%s", err);
		cr_assert_eq(h.type, WIRE_PAYLOAD_FIRST + 5);
		cr_assert_eq(h.flags, 0);
		cr_assert_eq(h.payload_len, sizes[i]);
		cr_assert_eq(h.sender, 7);
		cr_assert_eq(h.seq, 42 + i);
		struct wire_replay replay = {0};
		cr_assert_str_empty(open_msg(key_a, &replay));
		cr_assert_eq(replay.last, 42 + i);
	}
}

Test(wire, header_layout_is_little_endian)
{
	seal(0x0123, 0x04050607, 0x08090a0b0c0d0e0full, 3);
	const uint8_t expected[24] = {'V',  'S',  'M',	'P',  2,    0,	  0x23, 0x01,
				      3,    0,	  0,	0,    7,    6,	  5,	4,
				      0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0x09, 0x08};
	cr_assert_arr_eq(msg.hdr, expected, sizeof(expected));
}

static void expect_header_error(const char *expected)
{
	struct wire_header h;
	char err[128] = "";
	cr_assert_eq(wire_decode_header(msg.hdr, sizeof(msg.hdr), &h, err, sizeof(err)), -1);
	cr_assert(strstr(err, expected), "expected \"%s\" in \"%s\"", expected, err);
}

Test(wire, header_checks)
{
	struct wire_header h;
	char err[128];
	seal(WIRE_HEARTBEAT, 1, 1, 0);
	cr_assert_eq(wire_decode_header(msg.hdr, WIRE_HEADER_SIZE - 1, &h, err, sizeof(err)), -1);
	cr_assert(strstr(err, "shorter"));
	msg.hdr[0] ^= 1;
	expect_header_error("magic");
	seal(WIRE_HEARTBEAT, 1, 1, 0);
	msg.hdr[4] = 1; /* BLAKE2b MACs on every message */
	expect_header_error("wire version 1, this node speaks 2");
	seal(WIRE_HEARTBEAT, 1, 1, 0);
	msg.hdr[5] = 0x80;
	expect_header_error("flags");
	seal(WIRE_HEARTBEAT, 1, 1, 0);
	msg.hdr[8] = 1;
	msg.hdr[10] = 1; /* 65537 bytes */
	expect_header_error("longer than 64 KiB");
}

Test(wire, unknown_types_are_rejected)
{
	const uint16_t bad[] = {0, WIRE_LOST + 1, 0xff, WIRE_DIAG_LAST + 1, 0xffff};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		seal(bad[i], 1, 1, 0);
		expect_header_error("unknown message type");
	}
	cr_assert(wire_type_is_control(WIRE_HELLO) && !wire_type_is_transport(WIRE_HELLO));
	cr_assert(wire_type_is_transport(WIRE_PAYLOAD_LAST) && wire_type_is_transport(0x200));
	cr_assert(!wire_type_is_control(WIRE_PAYLOAD_FIRST));
}

/* The MACed bytes in one buffer: the first 24 header bytes, then the payload. */
static size_t maced_bytes(uint8_t *out)
{
	memcpy(out, msg.hdr, WIRE_HEADER_SIZE - WIRE_MAC_SIZE);
	memcpy(out + WIRE_HEADER_SIZE - WIRE_MAC_SIZE, msg.payload, msg.len);
	return WIRE_HEADER_SIZE - WIRE_MAC_SIZE + msg.len;
}

/* What libsodium's ChaCha20-Poly1305 gives msg as the tag of an empty plaintext, the MACed bytes
 * being the additional data and sender, seq the nonce. */
static void reference_session_tag(uint32_t sender, uint64_t seq, uint8_t tag[WIRE_MAC_SIZE])
{
	static uint8_t ad[WIRE_HEADER_SIZE + WIRE_MAX_PAYLOAD];
	size_t ad_len = maced_bytes(ad);
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	for (int b = 0; b < 4; b++)
		nonce[b] = (uint8_t)(sender >> (8 * b));
	for (int b = 0; b < 8; b++)
		nonce[4 + b] = (uint8_t)(seq >> (8 * b));
	uint8_t no_ciphertext[1];
	cr_assert_geq(sodium_init(), 0);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(no_ciphertext, tag, NULL, NULL, 0, ad,
							   ad_len, NULL, nonce, key_a);
}

static const size_t mac_sizes[] = {0, 1, 7, 8, 9, 24, 4096, 4097, WIRE_MAX_PAYLOAD};

Test(wire, session_mac_is_the_chacha20_poly1305_tag_with_sender_and_seq_as_nonce)
{
	for (size_t i = 0; i < sizeof(mac_sizes) / sizeof(mac_sizes[0]); i++) {
		uint64_t seq = 0x1122334455667788ull + i;
		seal(WIRE_PAYLOAD_FIRST + 1, 0x01020304, seq, mac_sizes[i]);
		uint8_t tag[WIRE_MAC_SIZE];
		reference_session_tag(0x01020304, seq, tag);
		cr_assert_arr_eq(msg.hdr + WIRE_HEADER_SIZE - WIRE_MAC_SIZE, tag, sizeof(tag),
				 "payload of %zu bytes", mac_sizes[i]);
	}
}

Test(wire, other_control_types_take_the_session_mac)
{
	const uint16_t types[] = {WIRE_HEARTBEAT, WIRE_LEAVE, WIRE_ADDRESS, WIRE_DIAG_FIRST};
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		seal(types[t], 2, 3, 10);
		uint8_t tag[WIRE_MAC_SIZE];
		reference_session_tag(2, 3, tag);
		cr_assert_arr_eq(msg.hdr + WIRE_HEADER_SIZE - WIRE_MAC_SIZE, tag, sizeof(tag),
				 "type %#x", types[t]);
	}
}

Test(wire, handshake_mac_is_keyed_blake2b)
{
	static uint8_t data[WIRE_HEADER_SIZE + WIRE_MAX_PAYLOAD];
	const uint16_t types[] = {WIRE_HELLO, WIRE_AUTH};
	for (size_t t = 0; t < 2; t++) {
		for (size_t i = 0; i < sizeof(mac_sizes) / sizeof(mac_sizes[0]); i++) {
			seal(types[t], 1, 1, mac_sizes[i]);
			size_t len = maced_bytes(data);
			uint8_t mac[WIRE_MAC_SIZE];
			crypto_generichash(mac, sizeof(mac), data, len, key_a, WIRE_KEY_SIZE);
			cr_assert_arr_eq(msg.hdr + WIRE_HEADER_SIZE - WIRE_MAC_SIZE, mac,
					 sizeof(mac), "type %u, payload of %zu bytes", types[t],
					 mac_sizes[i]);
		}
	}
}

/* Flips every bit of the header and of the first `checked` payload bytes in turn. */
static void expect_every_flip_refused(size_t checked)
{
	for (size_t byte = 0; byte < WIRE_HEADER_SIZE + checked; byte++) {
		uint8_t *p = byte < WIRE_HEADER_SIZE ? &msg.hdr[byte]
						     : &msg.payload[byte - WIRE_HEADER_SIZE];
		for (int bit = 0; bit < 8; bit++) {
			*p ^= (uint8_t)(1 << bit);
			struct wire_replay replay = {0};
			cr_assert_str_not_empty(open_msg(key_a, &replay), "byte %zu bit %d", byte,
						bit);
			cr_assert_eq(replay.last, 0, "a forged message moved the sequence");
			*p ^= (uint8_t)(1 << bit);
		}
	}
	struct wire_replay replay = {0};
	cr_assert_str_empty(open_msg(key_a, &replay));
}

Test(wire, any_flipped_bit_fails_authentication)
{
	seal(WIRE_PAYLOAD_FIRST, 3, 9, 64);
	expect_every_flip_refused(64);
	seal(WIRE_HELLO, 3, 1, WIRE_HELLO_SIZE);
	expect_every_flip_refused(WIRE_HELLO_SIZE);
}

Test(wire, a_flipped_bit_at_the_end_of_a_page_fails_authentication)
{
	seal(WIRE_PAYLOAD_FIRST, 3, 9, 4096);
	for (size_t byte = 4096 - 17; byte < 4096; byte++) {
		msg.payload[byte] ^= 0x80;
		struct wire_replay replay = {0};
		cr_assert(strstr(open_msg(key_a, &replay), "failed authentication"), "byte %zu",
			  byte);
		msg.payload[byte] ^= 0x80;
	}
}

Test(wire, wrong_key_and_wrong_length_fail)
{
	const uint16_t types[] = {WIRE_PAYLOAD_FIRST, WIRE_AUTH};
	for (size_t t = 0; t < 2; t++) {
		seal(types[t], 3, 9, 100);
		struct wire_replay replay = {0};
		cr_assert(strstr(open_msg(key_b, &replay), "failed authentication"));
		msg.len = 99;
		cr_assert(strstr(open_msg(key_a, &replay), "length"));
		msg.len = 101;
		cr_assert(strstr(open_msg(key_a, &replay), "length"));
		cr_assert_eq(replay.last, 0);
	}
}

Test(wire, the_same_message_from_another_sender_or_seq_has_another_mac)
{
	uint8_t first[WIRE_MAC_SIZE];
	seal(WIRE_PAYLOAD_FIRST, 1, 2, 32);
	memcpy(first, msg.hdr + WIRE_HEADER_SIZE - WIRE_MAC_SIZE, WIRE_MAC_SIZE);
	seal(WIRE_PAYLOAD_FIRST, 2, 1, 32); /* the two directions of one session key */
	cr_assert_arr_neq(first, msg.hdr + WIRE_HEADER_SIZE - WIRE_MAC_SIZE, WIRE_MAC_SIZE);
	seal(WIRE_PAYLOAD_FIRST, 1, 3, 32);
	cr_assert_arr_neq(first, msg.hdr + WIRE_HEADER_SIZE - WIRE_MAC_SIZE, WIRE_MAC_SIZE);
}

Test(wire, sequence_numbers_must_increase)
{
	struct wire_replay replay = {0};
	seal(WIRE_PAYLOAD_FIRST, 1, 5, 10);
	cr_assert_str_empty(open_msg(key_a, &replay));
	cr_assert(strstr(open_msg(key_a, &replay), "replayed"), "a replay was accepted");
	seal(WIRE_PAYLOAD_FIRST, 1, 4, 10);
	cr_assert(strstr(open_msg(key_a, &replay), "replayed"), "an older number was accepted");
	seal(WIRE_PAYLOAD_FIRST, 1, 0, 10);
	cr_assert_str_not_empty(open_msg(key_a, &replay), "sequence 0 was accepted");
	seal(WIRE_PAYLOAD_FIRST, 1, 1000, 10);
	cr_assert_str_empty(open_msg(key_a, &replay), "a gap must be allowed");
	cr_assert_eq(replay.last, 1000);
}

static struct wire_hello sample_hello(void)
{
	struct wire_hello h = {.version = WIRE_VERSION, .node = 2, .name = "node-2_b"};
	for (int i = 0; i < WIRE_HASH_SIZE; i++)
		h.config_hash[i] = (uint8_t)i;
	for (int i = 0; i < WIRE_NONCE_SIZE; i++)
		h.nonce[i] = (uint8_t)(255 - i);
	return h;
}

Test(wire, hello_round_trip)
{
	struct wire_hello in = sample_hello(), out;
	uint8_t buf[WIRE_HELLO_SIZE];
	char err[128];
	wire_hello_encode(&in, buf);
	cr_assert_eq(wire_hello_decode(buf, sizeof(buf), &out, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(out.version, WIRE_VERSION);
	cr_assert_eq(out.node, 2);
	cr_assert_str_eq(out.name, "node-2_b");
	cr_assert_arr_eq(out.config_hash, in.config_hash, WIRE_HASH_SIZE);
	cr_assert_arr_eq(out.nonce, in.nonce, WIRE_NONCE_SIZE);
}

static void expect_hello_error(const uint8_t *buf, size_t len, const char *expected)
{
	struct wire_hello out;
	char err[128] = "";
	cr_assert_eq(wire_hello_decode(buf, len, &out, err, sizeof(err)), -1);
	cr_assert(strstr(err, expected), "expected \"%s\" in \"%s\"", expected, err);
}

Test(wire, hello_rejects_bad_input)
{
	struct wire_hello in = sample_hello();
	uint8_t buf[WIRE_HELLO_SIZE + 1];
	wire_hello_encode(&in, buf);
	expect_hello_error(buf, WIRE_HELLO_SIZE - 1, "wrong size");
	expect_hello_error(buf, WIRE_HELLO_SIZE + 1, "wrong size");
	buf[0] = 9;
	expect_hello_error(buf, WIRE_HELLO_SIZE, "version 9");
	const size_t name = 6;
	const char *bad_names[] = {"", "has space", "semi;colon", "\xc3\xa9t\xc3\xa9"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		wire_hello_encode(&in, buf);
		memset(buf + name, 0, WIRE_NAME_SIZE);
		memcpy(buf + name, bad_names[i], strlen(bad_names[i]));
		expect_hello_error(buf, WIRE_HELLO_SIZE, "name");
	}
	wire_hello_encode(&in, buf);
	memset(buf + name, 'a', WIRE_NAME_SIZE); /* no NUL */
	expect_hello_error(buf, WIRE_HELLO_SIZE, "name");
	wire_hello_encode(&in, buf);
	buf[name + WIRE_NAME_SIZE - 1] = 'x'; /* junk after the NUL */
	expect_hello_error(buf, WIRE_HELLO_SIZE, "name");
}

Test(wire, auth_payload_size_is_exact)
{
	uint8_t buf[WIRE_PROOF_SIZE + 1] = {7}, proof[WIRE_PROOF_SIZE];
	char err[128];
	cr_assert_eq(wire_auth_decode(buf, WIRE_PROOF_SIZE, proof, err, sizeof(err)), 0);
	cr_assert_eq(proof[0], 7);
	cr_assert_eq(wire_auth_decode(buf, WIRE_PROOF_SIZE - 1, proof, err, sizeof(err)), -1);
	cr_assert_eq(wire_auth_decode(buf, WIRE_PROOF_SIZE + 1, proof, err, sizeof(err)), -1);
}

Test(wire, loss_report_round_trip_and_size)
{
	uint8_t buf[WIRE_LOST_SIZE + 1] = {0};
	uint32_t node = 0;
	char err[128];
	wire_lost_encode(0x01020304, buf);
	cr_assert_eq(buf[0], 0x04, "little-endian");
	cr_assert_eq(wire_lost_decode(buf, WIRE_LOST_SIZE, &node, err, sizeof(err)), 0);
	cr_assert_eq(node, 0x01020304);
	cr_assert_eq(wire_lost_decode(buf, WIRE_LOST_SIZE - 1, &node, err, sizeof(err)), -1);
	cr_assert_eq(wire_lost_decode(buf, WIRE_LOST_SIZE + 1, &node, err, sizeof(err)), -1);
	cr_assert(strstr(err, "size"), "%s", err);
}
