/* The framing of every message between nodes, and the payloads of the cluster's own control
 * messages. A message is a fixed 40-byte header followed by up to 64 KiB of payload; the header
 * carries a 16-byte MAC over itself and the payload, and a per-(sender, receiver) sequence number
 * that the receiver only accepts once and in increasing order. docs/cluster.md has the byte
 * layout.
 *
 * Hello and auth are MACed with keyed BLAKE2b; every other type with Poly1305 under a one-time
 * key that ChaCha20 derives from the key, the sender and the sequence number. So a key that seals
 * anything but hello and auth must never seal two messages with the same sender and sequence
 * number: it must be a session key, fresh for each connection, whose senders count up from 1. */
#ifndef COHERENCE_WIRE_H
#define COHERENCE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAGIC	 0x504d5356u /* "VSMP" as little-endian bytes */
#define WIRE_VERSION	 2
#define WIRE_HEADER_SIZE 40
#define WIRE_MAC_SIZE	 16
#define WIRE_KEY_SIZE	 32
#define WIRE_MAX_PAYLOAD 65536u
#define WIRE_NAME_SIZE	 32 /* node names, NUL-padded */
#define WIRE_NONCE_SIZE	 32
#define WIRE_HASH_SIZE	 32
#define WIRE_PROOF_SIZE	 32
#define WIRE_HELLO_SIZE	 (2 + 4 + WIRE_NAME_SIZE + WIRE_HASH_SIZE + WIRE_NONCE_SIZE)

enum wire_type {
	/* Cluster control channel (the bootstrap TCP connections). */
	WIRE_HELLO = 0x01,
	WIRE_AUTH = 0x02,
	WIRE_HEARTBEAT = 0x03,
	WIRE_LEAVE = 0x04,
	WIRE_ADDRESS = 0x05, /* this node's transport (UCX worker) address */
	WIRE_LOST = 0x06,    /* the sender lost this node (u32 index) */
	/* Carried opaquely by the transport: the coherence protocol's messages... */
	WIRE_PAYLOAD_FIRST = 0x100,
	WIRE_PAYLOAD_LAST = 0x1ff,
	/* ...and the engine's own messages beside the protocol. Taken: +0..3 cluster-check
	 * (cmd_cluster.c), +5..11 the engine (engine_internal.h), +12..15 replicas (replicas.h). */
	WIRE_DIAG_FIRST = 0x200,
	WIRE_DIAG_LAST = 0x20f,
};

struct wire_header {
	uint16_t type;
	uint8_t flags; /* none defined yet: must be 0 */
	uint32_t payload_len;
	uint32_t sender; /* node index */
	uint64_t seq;
	uint8_t mac[WIRE_MAC_SIZE];
};

/* What a receiver remembers per peer and channel: the last sequence number it accepted. */
struct wire_replay {
	uint64_t last;
};

bool wire_type_is_control(uint16_t type);
bool wire_type_is_transport(uint16_t type);

/* Writes the header for `payload` into hdr, MAC included. len must be <= WIRE_MAX_PAYLOAD. Never
 * twice with the same key, sender and seq (see above). */
void wire_seal(uint8_t hdr[WIRE_HEADER_SIZE], uint16_t type, uint32_t sender, uint64_t seq,
	       const void *payload, uint32_t len, const uint8_t key[WIRE_KEY_SIZE]);

/* Parses and sanity-checks a header from untrusted bytes (magic, version, flags, type, length)
 * without authenticating it: enough to know how much payload follows and whose key to try. */
int wire_decode_header(const void *buf, size_t len, struct wire_header *out, char *err,
		       size_t errlen);

/* Authenticates a decoded header and its payload under key (constant-time MAC check), then
 * enforces the sequence rule on replay, which is only updated for an authentic message. */
int wire_authenticate(const void *hdr, const struct wire_header *h, const void *payload, size_t len,
		      const uint8_t key[WIRE_KEY_SIZE], struct wire_replay *replay, char *err,
		      size_t errlen);

/* Payload of WIRE_HELLO. The name is a NUL-terminated node name. */
struct wire_hello {
	uint16_t version;
	uint32_t node;
	char name[WIRE_NAME_SIZE];
	uint8_t config_hash[WIRE_HASH_SIZE];
	uint8_t nonce[WIRE_NONCE_SIZE];
};

void wire_hello_encode(const struct wire_hello *hello, uint8_t out[WIRE_HELLO_SIZE]);
int wire_hello_decode(const void *buf, size_t len, struct wire_hello *out, char *err,
		      size_t errlen);
/* Payload of WIRE_AUTH: the proof of the cluster key. */
int wire_auth_decode(const void *buf, size_t len, uint8_t proof[WIRE_PROOF_SIZE], char *err,
		     size_t errlen);
/* Payload of WIRE_LOST: the index of the node the sender lost. The decoder checks only the
 * size; the receiver checks the index against its cluster. */
#define WIRE_LOST_SIZE 4
void wire_lost_encode(uint32_t node, uint8_t out[WIRE_LOST_SIZE]);
int wire_lost_decode(const void *buf, size_t len, uint32_t *node, char *err, size_t errlen);

#endif
