/* The cluster's shared secret: reading and creating the key file, and every key and proof the
 * nodes derive from it (all keyed BLAKE2b, domain-separated by a label). */
#ifndef COHERENCE_CLUSTER_KEY_H
#define COHERENCE_CLUSTER_KEY_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTER_KEY_SIZE      32
#define CLUSTER_KEY_MIN_BYTES 32   /* of key material in the file */
#define CLUSTER_KEY_FILE_MAX  4096 /* bytes */

/* Reads a key file: a regular file owned by this user with no group/other permissions, holding
 * either hex digits (at least 64, trailing whitespace ignored) or at least 32 raw bytes. */
int cluster_key_load(const char *path, uint8_t key[CLUSTER_KEY_SIZE], char *err, size_t errlen);
/* The content rules of cluster_key_load, on bytes already read. */
int cluster_key_parse(const void *text, size_t len, uint8_t key[CLUSTER_KEY_SIZE], char *err,
		      size_t errlen);
/* Creates path (mode 0600, never overwriting) holding a fresh random key in hex. */
int cluster_key_generate(const char *path, char *err, size_t errlen);

/* MAC key of the handshake messages, sent before any session exists. */
void cluster_key_handshake(const uint8_t key[CLUSTER_KEY_SIZE], uint8_t out[CLUSTER_KEY_SIZE]);
/* What `prover` sends to prove it holds the key, answering `verifier`'s nonce. */
void cluster_key_proof(const uint8_t key[CLUSTER_KEY_SIZE], const uint8_t *verifier_nonce,
		       uint32_t prover, uint32_t verifier, uint8_t out[CLUSTER_KEY_SIZE]);
/* 0 if proof is what `prover` must send to answer our nonce; constant time. */
int cluster_key_check_proof(const uint8_t key[CLUSTER_KEY_SIZE], const uint8_t *our_nonce,
			    uint32_t prover, uint32_t us, const uint8_t *proof);
/* Session key of one channel ("control", "transport") between nodes a and b: the same whichever
 * of the two computes it. */
void cluster_key_session(const uint8_t key[CLUSTER_KEY_SIZE], const char *channel, uint32_t a,
			 const uint8_t *nonce_a, uint32_t b, const uint8_t *nonce_b,
			 uint8_t out[CLUSTER_KEY_SIZE]);

#endif
