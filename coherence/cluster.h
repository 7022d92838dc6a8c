/* Cluster membership: the nodes of one configuration find each other over TCP, prove that they
 * hold the same key and run the same configuration, then watch each other with heartbeats until
 * they leave. The TCP connections stay open as the control channel; the data path (transport.h)
 * runs beside them. Knows nothing about KVM: the caller passes plain values. */
#ifndef COHERENCE_CLUSTER_H
#define COHERENCE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cluster_params {
	unsigned node_count, self;
	const char *const *hosts; /* [node_count], numeric or resolvable */
	const uint16_t *ports;	  /* [node_count] */
	const char *const *names; /* [node_count], as in the configuration */
	uint8_t config_hash[32];
	const uint8_t *key;	  /* CLUSTER_KEY_SIZE bytes, from cluster_key_load */
	unsigned join_timeout_ms; /* 0: 30 s */
};

/* Called on the cluster's own thread, once per peer, after cluster_join has returned. */
struct cluster_ops {
	void (*peer_lost)(void *ctx, unsigned node, const char *why);
	void (*peer_left)(void *ctx, unsigned node); /* the peer called cluster_leave */
	void (*log)(void *ctx, const char *msg);     /* NULL: stderr */
};

/* Returns once every peer is authenticated, or NULL with a message naming the nodes that never
 * showed up (or why one was refused) after the join timeout. */
struct cluster *cluster_join(const struct cluster_params *params, const struct cluster_ops *ops,
			     void *ctx, char *err, size_t errlen);
/* Orderly exit: peers see "left", not "lost". Any transport must be destroyed first. */
void cluster_leave(struct cluster *c);

unsigned cluster_node_count(const struct cluster *c);
unsigned cluster_self(const struct cluster *c);
const char *cluster_node_name(const struct cluster *c, unsigned node);
bool cluster_peer_up(const struct cluster *c, unsigned node);
/* True from the moment the cluster takes node for lost, a little before peer_lost runs. */
bool cluster_peer_lost(const struct cluster *c, unsigned node);
void cluster_log(struct cluster *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For the transport: sends this node's address to every peer over the control channel and
 * waits (bounded by the join timeout) until every peer's has arrived. Once per cluster: a
 * second transport would reuse the session keys with sequence numbers from 1 (docs/cluster.md). */
int cluster_exchange_addresses(struct cluster *c, const void *mine, size_t len, char *err,
			       size_t errlen);
const void *cluster_peer_address(const struct cluster *c, unsigned node, size_t *len);
/* The session key of the transport channel with node (32 bytes). */
const uint8_t *cluster_transport_key(const struct cluster *c, unsigned node);

#endif
