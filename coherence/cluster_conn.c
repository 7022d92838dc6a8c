/* The cluster's control connections: dialing, accepting, framing, and the handshake.
 *
 * Node i dials every node j < i, so each pair has exactly one connection. On a new connection
 * both sides send a hello (node index, name, configuration hash, fresh nonce) and, once they have
 * the other's hello, a proof: a MAC under the cluster key over the other's nonce and both
 * indices. Until then messages are MACed with a key derived from the cluster key alone, so a
 * node holding another key fails at its first message and nothing it says is acted on; the proof
 * adds freshness, since a recorded hello could be replayed. After both proofs the connection is
 * handed to cluster.c as that peer's control channel, under a session key.
 *
 * Sockets are non-blocking; reads assemble one message at a time in the connection's buffer
 * (header first, then exactly the payload length it announced, at most 64 KiB). A connection
 * refused during the handshake is marked `closing` and freed by the event loop.
 */
#include "coherence/cluster_conn.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEND_TIMEOUT_MS 200

static const char *node_name(const struct cluster *c, int node)
{
	return node >= 0 && (unsigned)node < c->n ? c->names[node] : "an unknown node";
}

/* Logs a refusal unless it is the one last logged for that node (dialers retry every second),
 * then drops the connection. */
static void refuse(struct cluster *c, struct conn *conn, int node, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void refuse(struct cluster *c, struct conn *conn, int node, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	unsigned slot = node >= 0 && (unsigned)node < c->n ? (unsigned)node : c->n;
	if (strcmp(c->refusals[slot], why) != 0) {
		snprintf(c->refusals[slot], sizeof(c->refusals[slot]), "%s", why);
		cluster_log(c, "refusing %s", why);
	}
	conn->closing = true;
	if (conn->dialed)
		c->peers[conn->node].next_dial = cluster_now_ms() + REFUSED_RETRY_MS;
}

static struct conn *conn_add(struct cluster *c, int fd, int node, bool dialed, const char *where)
{
	if (c->conn_count == c->conn_cap) {
		close(fd);
		return NULL;
	}
	struct conn *conn = calloc(1, sizeof(*conn));
	if (!conn) {
		close(fd);
		return NULL;
	}
	conn->fd = fd;
	conn->node = node;
	conn->dialed = dialed;
	conn->state = CONN_CONNECTING;
	snprintf(conn->where, sizeof(conn->where), "%s", where);
	pthread_mutex_init(&conn->send_lock, NULL);
	memcpy(conn->key, c->handshake_key, WIRE_KEY_SIZE);
	conn->next_seq = 1;
	conn->handshake_deadline = cluster_now_ms() + HANDSHAKE_TIMEOUT_MS;
	randombytes_buf(conn->nonce, sizeof(conn->nonce));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->conns[c->conn_count++] = conn;
	return conn;
}

void cluster_conn_free(struct conn *conn)
{
	close(conn->fd);
	pthread_mutex_destroy(&conn->send_lock);
	sodium_memzero(conn->key, sizeof(conn->key));
	free(conn);
}

/* Writes the whole message or fails: a stalled peer must not stall the caller for long. */
static int write_all(int fd, struct iovec *iov, int iovcnt)
{
	uint64_t deadline = cluster_now_ms() + SEND_TIMEOUT_MS;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
	while (msg.msg_iovlen > 0) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (n < 0) {
			uint64_t now = cluster_now_ms();
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) == 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			continue;
		}
		while (msg.msg_iovlen > 0 && (size_t)n >= msg.msg_iov->iov_len) {
			n -= (ssize_t)msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen > 0) {
			msg.msg_iov->iov_base = (uint8_t *)msg.msg_iov->iov_base + n;
			msg.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int cluster_conn_send(struct cluster *c, struct conn *conn, uint16_t type, const void *payload,
		      size_t len)
{
	uint8_t hdr[WIRE_HEADER_SIZE];
	pthread_mutex_lock(&conn->send_lock);
	int rc = -1;
	if (!conn->dead) {
		wire_seal(hdr, type, c->self, conn->next_seq++, payload, (uint32_t)len, conn->key);
		struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)payload, len}};
		rc = write_all(conn->fd, iov, len ? 2 : 1);
	}
	pthread_mutex_unlock(&conn->send_lock);
	return rc;
}

static void send_hello(struct cluster *c, struct conn *conn)
{
	struct wire_hello hello = {.version = WIRE_VERSION, .node = c->self};
	memcpy(hello.name, c->names[c->self], WIRE_NAME_SIZE);
	memcpy(hello.config_hash, c->config_hash, WIRE_HASH_SIZE);
	memcpy(hello.nonce, conn->nonce, WIRE_NONCE_SIZE);
	uint8_t payload[WIRE_HELLO_SIZE];
	wire_hello_encode(&hello, payload);
	conn->state = CONN_HELLO;
	if (cluster_conn_send(c, conn, WIRE_HELLO, payload, sizeof(payload)) < 0)
		conn->closing = true;
}

static void conn_broken(struct cluster *c, struct conn *conn, const char *why)
{
	if (conn->state == CONN_UP) {
		cluster_peer_down(c, (unsigned)conn->node, false, why);
		return;
	}
	if (conn->dialed && conn->state != CONN_CONNECTING)
		refuse(c, conn, conn->node,
		       "%s (%s): it closed the connection during the handshake",
		       node_name(c, conn->node), conn->where);
	conn->closing = true;
	if (conn->dialed && c->peers[conn->node].next_dial < cluster_now_ms() + DIAL_RETRY_MS)
		c->peers[conn->node].next_dial = cluster_now_ms() + DIAL_RETRY_MS;
}

/* Checks a verified hello against our configuration and membership; refuses it if need be. */
static bool hello_acceptable(struct cluster *c, struct conn *conn, const struct wire_hello *hello)
{
	int node = (int)hello->node;
	if (sodium_memcmp(hello->config_hash, c->config_hash, WIRE_HASH_SIZE) != 0) {
		char ours[17], theirs[17];
		sodium_bin2hex(ours, sizeof(ours), c->config_hash, 8);
		sodium_bin2hex(theirs, sizeof(theirs), hello->config_hash, 8);
		refuse(c, conn, node,
		       "%s (%s): the configurations differ: %s has %s..., %s has %s...: every "
		       "node must run the same cluster.toml",
		       hello->name, conn->where, c->names[c->self], ours, hello->name, theirs);
	} else if (hello->node >= c->n || hello->node == c->self ||
		   strcmp(hello->name, c->names[hello->node]) != 0) {
		refuse(c, conn, -1,
		       "a connection from %s: it says it is node %u '%s', which is not a peer "
		       "here",
		       conn->where, hello->node, hello->name);
	} else if (conn->dialed && node != conn->node) {
		refuse(c, conn, conn->node, "%s: %s answered at %s's address", conn->where,
		       hello->name, c->names[conn->node]);
	} else if (!conn->dialed && hello->node < c->self) {
		refuse(c, conn, node,
		       "%s (%s): it dialed us, but a lower-numbered node never dials", hello->name,
		       conn->where);
	} else if (c->peers[node].state != PEER_ABSENT) {
		refuse(c, conn, node, "%s (%s): it is already or was a member", hello->name,
		       conn->where);
	} else {
		return true;
	}
	return false;
}

/* The peer's hello: if we accept it, we answer with our proof. */
static void on_hello(struct cluster *c, struct conn *conn, uint32_t sender, const uint8_t *payload,
		     size_t len)
{
	struct wire_hello hello;
	char why[128];
	if (wire_hello_decode(payload, len, &hello, why, sizeof(why)) < 0) {
		refuse(c, conn, conn->node, "a connection from %s: %s", conn->where, why);
		return;
	}
	if (hello.node != sender) {
		refuse(c, conn, conn->node, "a connection from %s: its hello names another sender",
		       conn->where);
		return;
	}
	if (!hello_acceptable(c, conn, &hello))
		return;
	conn->node = (int)hello.node;
	memcpy(conn->peer_nonce, hello.nonce, WIRE_NONCE_SIZE);
	uint8_t proof[WIRE_PROOF_SIZE];
	cluster_key_proof(c->key, conn->peer_nonce, c->self, hello.node, proof);
	conn->state = CONN_AUTH;
	if (cluster_conn_send(c, conn, WIRE_AUTH, proof, sizeof(proof)) < 0)
		conn->closing = true;
}

static void on_auth(struct cluster *c, struct conn *conn, const uint8_t *payload, size_t len)
{
	uint8_t proof[WIRE_PROOF_SIZE];
	char why[128];
	const char *name = node_name(c, conn->node);
	if (wire_auth_decode(payload, len, proof, why, sizeof(why)) < 0) {
		refuse(c, conn, conn->node, "%s (%s): %s", name, conn->where, why);
	} else if (cluster_key_check_proof(c->key, conn->nonce, (uint32_t)conn->node, c->self,
					   proof) < 0) {
		refuse(c, conn, conn->node, "%s (%s): it failed to prove the cluster key", name,
		       conn->where);
	} else if (c->peers[conn->node].state != PEER_ABSENT) {
		refuse(c, conn, conn->node, "%s (%s): it is already a member", name, conn->where);
	} else {
		cluster_peer_authenticated(c, conn);
	}
}

static const uint16_t expected_type[] = {
    [CONN_HELLO] = WIRE_HELLO,
    [CONN_AUTH] = WIRE_AUTH,
};

/* Drops the connection over a bad message: a member is lost, anyone else refused. */
static void reject(struct cluster *c, struct conn *conn, uint32_t sender, const char *reason)
{
	if (conn->state == CONN_UP)
		cluster_peer_down(c, (unsigned)conn->node, false, reason);
	else if (conn->dialed)
		refuse(c, conn, conn->node, "%s (%s): %s", node_name(c, conn->node), conn->where,
		       reason);
	else
		refuse(c, conn, (int)sender, "a connection from %s (says it is %s): %s",
		       conn->where, node_name(c, (int)sender), reason);
}

/* A whole message is in conn->buf: authenticate it, then act on it. */
static void on_frame(struct cluster *c, struct conn *conn)
{
	const struct wire_header *h = &conn->hdr;
	const uint8_t *payload = conn->buf + WIRE_HEADER_SIZE;
	char why[128];
	bool sender_ok = conn->node < 0 || h->sender == (uint32_t)conn->node;
	if (!sender_ok || wire_authenticate(conn->buf, h, payload, h->payload_len, conn->key,
					    &conn->replay, why, sizeof(why)) < 0) {
		reject(c, conn, h->sender,
		       !sender_ok ? "message from another node than expected"
		       : conn->state == CONN_HELLO
			   ? "its hello failed authentication: is its cluster key different?"
			   : why);
		return;
	}
	if (conn->state == CONN_UP)
		cluster_on_control(c, conn, h->type, payload, h->payload_len);
	else if (h->type != expected_type[conn->state])
		reject(c, conn, h->sender, "unexpected message during the handshake");
	else if (conn->state == CONN_HELLO)
		on_hello(c, conn, h->sender, payload, h->payload_len);
	else
		on_auth(c, conn, payload, h->payload_len);
}

void cluster_conn_read(struct cluster *c, struct conn *conn)
{
	while (!conn->closing && !conn->dead) {
		size_t want =
		    WIRE_HEADER_SIZE + (conn->have < WIRE_HEADER_SIZE ? 0 : conn->hdr.payload_len);
		ssize_t n = recv(conn->fd, conn->buf + conn->have, want - conn->have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_broken(c, conn, n == 0 ? "connection closed" : strerror(errno));
			return;
		}
		conn->have += (size_t)n;
		char why[128];
		if (conn->have == WIRE_HEADER_SIZE &&
		    wire_decode_header(conn->buf, conn->have, &conn->hdr, why, sizeof(why)) < 0) {
			reject(c, conn, UINT32_MAX, why);
			return;
		}
		if (conn->have == WIRE_HEADER_SIZE + conn->hdr.payload_len) {
			conn->have = 0;
			on_frame(c, conn);
		}
	}
}

/* The peer's address without its (ephemeral) port, so that one misconfigured node retrying is
 * one line in the log, not one per attempt. */
static void format_host(const struct sockaddr *sa, socklen_t len, char *out, size_t size)
{
	if (getnameinfo(sa, len, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out, size, "?");
}

void cluster_conn_accept(struct cluster *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = accept4(c->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	char where[WHERE_SIZE];
	format_host((struct sockaddr *)&ss, len, where, sizeof(where));
	struct conn *conn = conn_add(c, fd, -1, false, where);
	if (conn)
		send_hello(c, conn);
}

static bool dialing(const struct cluster *c, unsigned node)
{
	for (unsigned i = 0; i < c->conn_count; i++)
		if (c->conns[i]->dialed && c->conns[i]->node == (int)node)
			return true;
	return false;
}

/* Node i dials every node j < i that is not connected yet. */
void cluster_conn_dial(struct cluster *c, uint64_t now)
{
	for (unsigned j = 0; j < c->self; j++) {
		struct peer *p = &c->peers[j];
		if (p->state != PEER_ABSENT || now < p->next_dial || dialing(c, j))
			continue;
		p->next_dial = now + DIAL_RETRY_MS;
		int fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&p->addr, p->addrlen) < 0 &&
		    errno != EINPROGRESS) {
			close(fd);
			continue;
		}
		conn_add(c, fd, (int)j, true, c->where[j]);
	}
}

void cluster_conn_connected(struct cluster *c, struct conn *conn)
{
	int error = 0;
	socklen_t len = sizeof(error);
	if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0 || error) {
		conn->closing = true; /* not listening yet: cluster_conn_dial tries again */
		return;
	}
	send_hello(c, conn);
}

uint64_t cluster_conn_expire(struct cluster *c, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	for (unsigned i = 0; i < c->conn_count; i++) {
		struct conn *conn = c->conns[i];
		if (conn->state == CONN_UP || conn->closing)
			continue;
		if (now >= conn->handshake_deadline) {
			if (conn->state != CONN_CONNECTING)
				refuse(c, conn, conn->node, "%s: the handshake timed out",
				       conn->where);
			conn->closing = true;
		} else if (conn->handshake_deadline < next) {
			next = conn->handshake_deadline;
		}
	}
	return next;
}

void cluster_conn_sweep(struct cluster *c)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < c->conn_count; i++) {
		struct conn *conn = c->conns[i];
		if (conn->closing)
			cluster_conn_free(conn);
		else
			c->conns[kept++] = conn;
	}
	c->conn_count = kept;
}
