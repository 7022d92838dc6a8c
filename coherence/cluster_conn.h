/* Private to cluster.c and cluster_conn.c: the cluster's state, and the calls between membership
 * (cluster.c: peers, timers, the event loop) and the control connections (cluster_conn.c:
 * dialing, accepting, framing, the handshake). */
#ifndef COHERENCE_CLUSTER_CONN_H
#define COHERENCE_CLUSTER_CONN_H

#include "coherence/cluster.h"
#include "coherence/cluster_key.h"
#include "coherence/wire.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#define HEARTBEAT_MS 200
/* Silence is only how a hung or cut-off node is found (a dead process's sockets close at once).
 * 3 s, not 1: three interpreter-run nodes on a 2-core host starve each other's cluster threads
 * for over a second, and were then reported lost while healthy. */
#define PEER_TIMEOUT_MS	     3000
#define PEER_TIMEOUT_TEXT    "3 s"
#define HANDSHAKE_TIMEOUT_MS 5000
#define DIAL_RETRY_MS	     100
#define REFUSED_RETRY_MS     1000
#define WHERE_SIZE	     300 /* "host:port" or "[v6]:port" */

enum conn_state { CONN_CONNECTING, CONN_HELLO, CONN_AUTH, CONN_UP };
enum peer_state { PEER_ABSENT, PEER_UP, PEER_LOST, PEER_LEFT };

struct conn {
	int fd;
	enum conn_state state;
	int node; /* the node dialed, or the one an accepted connection said it is; -1 before */
	bool dialed;
	bool closing; /* dropped: the event loop frees it */
	bool dead;    /* its peer is gone: kept (other threads may hold it) but no longer read */
	char where[WHERE_SIZE];
	uint8_t nonce[WIRE_NONCE_SIZE], peer_nonce[WIRE_NONCE_SIZE];
	pthread_mutex_t send_lock;  /* key, next_seq and the socket's write side */
	uint8_t key[WIRE_KEY_SIZE]; /* handshake key, then the control session key */
	uint64_t next_seq;
	struct wire_replay replay;
	uint64_t handshake_deadline;
	struct wire_header hdr;
	size_t have;
	uint8_t buf[WIRE_HEADER_SIZE + WIRE_MAX_PAYLOAD];
};

struct peer {
	_Atomic int state;
	struct conn *conn; /* while up, and kept after loss until cluster_leave */
	uint64_t last_rx, last_tx, next_dial;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint8_t transport_key[WIRE_KEY_SIZE];
	uint8_t *address; /* the peer's transport address */
	size_t address_len;
};

struct cluster {
	unsigned n, self;
	char (*names)[WIRE_NAME_SIZE];
	char (*where)[WHERE_SIZE]; /* "host:port" of each node, for messages */
	uint8_t config_hash[WIRE_HASH_SIZE];
	uint8_t key[CLUSTER_KEY_SIZE], handshake_key[WIRE_KEY_SIZE];
	unsigned join_timeout_ms;
	struct cluster_ops ops;
	void *ctx;
	int listen_fd, wake_fd;
	struct peer *peers;
	char (*refusals)[256]; /* [n + 1]: the last refusal logged per claimed node, + unknown */
	struct conn **conns;
	unsigned conn_count, conn_cap;
	unsigned up_count;
	bool joined;
	bool addresses_sent;  /* once per cluster: the transport keys must never restart a count */
	pthread_mutex_t lock; /* peer states and addresses, for other threads */
	pthread_cond_t changed;
	pthread_t thread;
	bool thread_started;
	atomic_bool stopping;
};

/* cluster_conn.c */
void cluster_conn_dial(struct cluster *c, uint64_t now);
void cluster_conn_accept(struct cluster *c);
void cluster_conn_connected(struct cluster *c, struct conn *conn);
void cluster_conn_read(struct cluster *c, struct conn *conn);
int cluster_conn_send(struct cluster *c, struct conn *conn, uint16_t type, const void *payload,
		      size_t len);
void cluster_conn_free(struct conn *conn);
/* Drops connections whose handshake is overdue; returns the next deadline (UINT64_MAX: none). */
uint64_t cluster_conn_expire(struct cluster *c, uint64_t now);
/* Frees the connections marked closing. */
void cluster_conn_sweep(struct cluster *c);

/* cluster.c */
uint64_t cluster_now_ms(void);
void cluster_peer_authenticated(struct cluster *c, struct conn *conn);
void cluster_peer_down(struct cluster *c, unsigned node, bool left, const char *why);
void cluster_on_control(struct cluster *c, struct conn *conn, uint16_t type, const uint8_t *payload,
			size_t len);

#endif
