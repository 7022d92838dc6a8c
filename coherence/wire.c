/* Message framing between nodes: encode, and decode input that may come from anyone.
 *
 * Header layout (little-endian): magic u32, version u8, flags u8, type u16, payload length u32,
 * sender u32, sequence u64, MAC[16]. The MAC covers the first 24 header bytes and then the
 * payload, fed to it piece by piece, so the header and payload may travel in separate buffers (a
 * UCX active message's header and data) without being copied together.
 *
 * Session messages take the ChaCha20-Poly1305 tag (RFC 8439) of an empty plaintext whose
 * additional data is header and payload: ChaCha20 under the session key with the nonce "sender
 * u32, sequence u64" (header bytes 12-23, as they stand) gives a one-time Poly1305 key, and
 * Poly1305 runs over the data, zero padding to 16 bytes and the two lengths. It is several times
 * faster than BLAKE2b, but a one-time key used twice gives the key away, which is why the nonce is
 * the sender's sequence number under a key fresh for each connection. Hello and auth travel under
 * the cluster-wide handshake key and restart at sequence 1 on every connection, so they keep keyed
 * BLAKE2b-128, which any number of messages may share a key with.
 *
 * Decoding is split in two because a receiver must read the header before it knows how much
 * payload to wait for and which peer's key to check it with; nothing in a message is acted on
 * before wire_authenticate accepts it.
 */
#include "coherence/wire.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define MACED_HEADER_BYTES (WIRE_HEADER_SIZE - WIRE_MAC_SIZE)
#define NONCE_OFFSET	   12 /* sender and sequence */

_Static_assert(NONCE_OFFSET + crypto_stream_chacha20_ietf_NONCEBYTES == MACED_HEADER_BYTES,
	       "the nonce is the header's last 12 MACed bytes");
_Static_assert(WIRE_KEY_SIZE == crypto_stream_chacha20_ietf_KEYBYTES,
	       "session keys are ChaCha20 keys");

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static int fail(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return -1;
}

bool wire_type_is_control(uint16_t type)
{
	return type >= WIRE_HELLO && type <= WIRE_LOST;
}

bool wire_type_is_transport(uint16_t type)
{
	return (type >= WIRE_PAYLOAD_FIRST && type <= WIRE_PAYLOAD_LAST) ||
	       (type >= WIRE_DIAG_FIRST && type <= WIRE_DIAG_LAST);
}

static bool is_handshake(uint16_t type)
{
	return type == WIRE_HELLO || type == WIRE_AUTH;
}

static void blake2b_mac(const uint8_t *hdr, const void *payload, size_t len,
			const uint8_t key[WIRE_KEY_SIZE], uint8_t mac[WIRE_MAC_SIZE])
{
	crypto_generichash_state state;
	crypto_generichash_init(&state, key, WIRE_KEY_SIZE, WIRE_MAC_SIZE);
	crypto_generichash_update(&state, hdr, MACED_HEADER_BYTES);
	if (len)
		crypto_generichash_update(&state, payload, len);
	crypto_generichash_final(&state, mac, WIRE_MAC_SIZE);
}

static void poly1305_mac(const uint8_t *hdr, const void *payload, size_t len,
			 const uint8_t key[WIRE_KEY_SIZE], uint8_t mac[WIRE_MAC_SIZE])
{
	static const uint8_t zeros[16];
	uint8_t one_time_key[crypto_onetimeauth_poly1305_KEYBYTES];
	crypto_stream_chacha20_ietf(one_time_key, sizeof(one_time_key), hdr + NONCE_OFFSET, key);
	crypto_onetimeauth_poly1305_state state;
	crypto_onetimeauth_poly1305_init(&state, one_time_key);
	crypto_onetimeauth_poly1305_update(&state, hdr, MACED_HEADER_BYTES);
	if (len)
		crypto_onetimeauth_poly1305_update(&state, payload, len);
	size_t data_len = MACED_HEADER_BYTES + len;
	crypto_onetimeauth_poly1305_update(&state, zeros, (16 - data_len % 16) % 16);
	uint8_t lengths[16] = {0}; /* the data's, then the (empty) plaintext's */
	put_u64(lengths, data_len);
	crypto_onetimeauth_poly1305_update(&state, lengths, sizeof(lengths));
	crypto_onetimeauth_poly1305_final(&state, mac);
	sodium_memzero(one_time_key, sizeof(one_time_key));
	sodium_memzero(&state, sizeof(state));
}

static void compute_mac(const uint8_t *hdr, const void *payload, size_t len,
			const uint8_t key[WIRE_KEY_SIZE], uint8_t mac[WIRE_MAC_SIZE])
{
	if (is_handshake(get_u16(hdr + 6)))
		blake2b_mac(hdr, payload, len, key, mac);
	else
		poly1305_mac(hdr, payload, len, key, mac);
}

void wire_seal(uint8_t hdr[WIRE_HEADER_SIZE], uint16_t type, uint32_t sender, uint64_t seq,
	       const void *payload, uint32_t len, const uint8_t key[WIRE_KEY_SIZE])
{
	put_u32(hdr, WIRE_MAGIC);
	hdr[4] = WIRE_VERSION;
	hdr[5] = 0;
	put_u16(hdr + 6, type);
	put_u32(hdr + 8, len);
	put_u32(hdr + 12, sender);
	put_u64(hdr + 16, seq);
	compute_mac(hdr, payload, len, key, hdr + MACED_HEADER_BYTES);
}

int wire_decode_header(const void *buf, size_t len, struct wire_header *out, char *err,
		       size_t errlen)
{
	const uint8_t *p = buf;
	if (len < WIRE_HEADER_SIZE)
		return fail(err, errlen, "message shorter than a header");
	if (get_u32(p) != WIRE_MAGIC)
		return fail(err, errlen, "bad magic: not a vsmp-vmm message");
	if (p[4] != WIRE_VERSION) {
		if (err && errlen)
			snprintf(err, errlen, "wire version %u, this node speaks %u", p[4],
				 WIRE_VERSION);
		return -1;
	}
	out->flags = p[5];
	if (out->flags != 0)
		return fail(err, errlen, "unknown flags");
	out->type = get_u16(p + 6);
	if (!wire_type_is_control(out->type) && !wire_type_is_transport(out->type))
		return fail(err, errlen, "unknown message type");
	out->payload_len = get_u32(p + 8);
	if (out->payload_len > WIRE_MAX_PAYLOAD)
		return fail(err, errlen, "payload longer than 64 KiB");
	out->sender = get_u32(p + 12);
	out->seq = get_u64(p + 16);
	memcpy(out->mac, p + MACED_HEADER_BYTES, WIRE_MAC_SIZE);
	return 0;
}

int wire_authenticate(const void *hdr, const struct wire_header *h, const void *payload, size_t len,
		      const uint8_t key[WIRE_KEY_SIZE], struct wire_replay *replay, char *err,
		      size_t errlen)
{
	if (len != h->payload_len)
		return fail(err, errlen, "payload length does not match the header");
	uint8_t mac[WIRE_MAC_SIZE];
	compute_mac(hdr, payload, len, key, mac);
	if (crypto_verify_16(mac, h->mac) != 0)
		return fail(err, errlen, "message failed authentication");
	if (h->seq <= replay->last)
		return fail(err, errlen, "replayed or reordered message (sequence number)");
	replay->last = h->seq;
	return 0;
}

void wire_hello_encode(const struct wire_hello *hello, uint8_t out[WIRE_HELLO_SIZE])
{
	uint8_t *p = out;
	put_u16(p, hello->version);
	put_u32(p + 2, hello->node);
	p += 6;
	memset(p, 0, WIRE_NAME_SIZE);
	memcpy(p, hello->name, strnlen(hello->name, WIRE_NAME_SIZE - 1));
	p += WIRE_NAME_SIZE;
	memcpy(p, hello->config_hash, WIRE_HASH_SIZE);
	p += WIRE_HASH_SIZE;
	memcpy(p, hello->nonce, WIRE_NONCE_SIZE);
}

/* Node names as config.c accepts them, NUL-padded to the end of the field. */
static bool valid_name_field(const uint8_t *p)
{
	size_t n = 0;
	while (n < WIRE_NAME_SIZE && p[n])
		n++;
	if (n == 0 || n == WIRE_NAME_SIZE)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
		if (!ok)
			return false;
	}
	for (size_t i = n; i < WIRE_NAME_SIZE; i++)
		if (p[i])
			return false;
	return true;
}

int wire_hello_decode(const void *buf, size_t len, struct wire_hello *out, char *err, size_t errlen)
{
	const uint8_t *p = buf;
	if (len != WIRE_HELLO_SIZE)
		return fail(err, errlen, "hello has the wrong size");
	out->version = get_u16(p);
	if (out->version != WIRE_VERSION) {
		if (err && errlen)
			snprintf(err, errlen, "hello for protocol version %u, this node speaks %u",
				 out->version, WIRE_VERSION);
		return -1;
	}
	out->node = get_u32(p + 2);
	p += 6;
	if (!valid_name_field(p))
		return fail(err, errlen, "hello carries an invalid node name");
	memcpy(out->name, p, WIRE_NAME_SIZE);
	p += WIRE_NAME_SIZE;
	memcpy(out->config_hash, p, WIRE_HASH_SIZE);
	p += WIRE_HASH_SIZE;
	memcpy(out->nonce, p, WIRE_NONCE_SIZE);
	return 0;
}

int wire_auth_decode(const void *buf, size_t len, uint8_t proof[WIRE_PROOF_SIZE], char *err,
		     size_t errlen)
{
	if (len != WIRE_PROOF_SIZE)
		return fail(err, errlen, "authentication message has the wrong size");
	memcpy(proof, buf, WIRE_PROOF_SIZE);
	return 0;
}

void wire_lost_encode(uint32_t node, uint8_t out[WIRE_LOST_SIZE])
{
	put_u32(out, node);
}

int wire_lost_decode(const void *buf, size_t len, uint32_t *node, char *err, size_t errlen)
{
	if (len != WIRE_LOST_SIZE)
		return fail(err, errlen, "loss report has the wrong size");
	*node = get_u32(buf);
	return 0;
}
