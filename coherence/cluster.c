/* Cluster membership: joining, heartbeats, loss and leave, over the control connections that
 * cluster_conn.c authenticates.
 *
 * Every node listens on its own address. One event loop (cluster_step: poll over the listening
 * socket, the connections and an eventfd) does everything; cluster_join runs it on the caller's
 * thread until every peer is authenticated, then hands it to a thread of its own. Each peer's
 * connection then carries heartbeats every 200 ms both ways; a peer silent for 3 s, or whose
 * connection drops (a SIGKILLed process's socket is closed by its kernel at once), is reported
 * lost (and the other peers are told so: a node that stops on a loss must not be blamed for it),
 * and one that sends "leave" is reported as having left. Once the cluster has formed, the
 * connections of its members are only freed by cluster_leave, so other threads may send on them
 * (under their send lock) at any time, even after the peer is gone.
 */
#include "coherence/cluster_conn.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_JOIN_TIMEOUT_MS 30000
#define MAX_PENDING_ACCEPTS	8 /* unauthenticated connections held at once, beyond one per node */

uint64_t cluster_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void cluster_log(struct cluster *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->ops.log)
		c->ops.log(c->ctx, msg);
	else
		fprintf(stderr, "cluster: %s\n", msg);
}

/* While the cluster forms only the joining thread runs: a peer that drops out is forgotten, its
 * connection freed, and it may join again until the join timeout. */
static void forget_peer(struct cluster *c, struct peer *p)
{
	p->state = PEER_ABSENT;
	c->up_count--;
	p->conn->closing = true;
	p->conn = NULL;
	free(p->address);
	p->address = NULL;
	p->address_len = 0;
}

/* Tells the peers still up that this node lost `node`, before anything reacts to the loss: a
 * node that stops because of it would otherwise be the loss they see first (its connection
 * closes), and they would blame it rather than the node that failed. */
static void report_loss(struct cluster *c, unsigned node)
{
	uint8_t payload[WIRE_LOST_SIZE];
	wire_lost_encode(node, payload);
	bool unreachable[c->n];
	for (unsigned i = 0; i < c->n; i++)
		unreachable[i] =
		    c->peers[i].state == PEER_UP &&
		    cluster_conn_send(c, c->peers[i].conn, WIRE_LOST, payload, sizeof(payload)) < 0;
	/* Afterwards, as each of these reports in turn: a half-sent frame leaves the connection
	 * unusable, and a peer we cannot tell must not be kept as if it knew. */
	for (unsigned i = 0; i < c->n; i++)
		if (unreachable[i])
			cluster_peer_down(c, i, false, "cannot send to it");
}

/* The peer is gone: report it once, keep its connection (other threads may hold it) but stop
 * reading from it. */
void cluster_peer_down(struct cluster *c, unsigned node, bool left, const char *why)
{
	struct peer *p = &c->peers[node];
	if (p->state != PEER_UP)
		return;
	if (left)
		cluster_log(c, "%s (%s) left the cluster", c->names[node], c->where[node]);
	else
		cluster_log(c, "lost %s (%s): %s", c->names[node], c->where[node], why);
	if (!c->joined) {
		forget_peer(c, p);
		return;
	}
	pthread_mutex_lock(&c->lock);
	p->state = left ? PEER_LEFT : PEER_LOST;
	c->up_count--;
	pthread_mutex_lock(&p->conn->send_lock);
	p->conn->dead = true;
	pthread_mutex_unlock(&p->conn->send_lock);
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
	if (!left)
		report_loss(c, node);
	if (left && c->ops.peer_left)
		c->ops.peer_left(c->ctx, node);
	else if (!left && c->ops.peer_lost)
		c->ops.peer_lost(c->ctx, node, why);
}

void cluster_peer_authenticated(struct cluster *c, struct conn *conn)
{
	unsigned node = (unsigned)conn->node;
	struct peer *p = &c->peers[node];
	cluster_key_session(c->key, "transport", c->self, conn->nonce, node, conn->peer_nonce,
			    p->transport_key);
	pthread_mutex_lock(&conn->send_lock);
	cluster_key_session(c->key, "control", c->self, conn->nonce, node, conn->peer_nonce,
			    conn->key);
	conn->next_seq = 1;
	conn->replay.last = 0;
	conn->state = CONN_UP;
	pthread_mutex_unlock(&conn->send_lock);
	pthread_mutex_lock(&c->lock);
	p->conn = conn;
	p->last_rx = p->last_tx = cluster_now_ms();
	p->state = PEER_UP;
	c->up_count++;
	c->refusals[node][0] = '\0';
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
	cluster_log(c, "authenticated %s (%s)", c->names[node], c->where[node]);
}

static void on_address(struct cluster *c, struct conn *conn, const uint8_t *payload, size_t len)
{
	struct peer *p = &c->peers[conn->node];
	if (len == 0 || p->address) {
		cluster_peer_down(c, (unsigned)conn->node, false,
				  "sent an invalid transport address");
		return;
	}
	uint8_t *copy = malloc(len);
	if (!copy) {
		cluster_peer_down(c, (unsigned)conn->node, false, "out of memory");
		return;
	}
	memcpy(copy, payload, len);
	pthread_mutex_lock(&c->lock);
	p->address = copy;
	p->address_len = len;
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
}

/* A peer lost a node. Losses are final and the cluster stops on one, so this node takes the
 * report as its own loss of that node (a report about this node itself is the sender's view
 * of a partition: the sender is stopping and will be lost in turn). */
static void on_loss_report(struct cluster *c, struct conn *conn, const uint8_t *payload, size_t len)
{
	unsigned sender = (unsigned)conn->node;
	uint32_t node;
	if (wire_lost_decode(payload, len, &node, NULL, 0) < 0 || node >= c->n || node == sender) {
		cluster_peer_down(c, sender, false, "sent an invalid loss report");
		return;
	}
	if (node == c->self)
		return;
	char why[64];
	snprintf(why, sizeof(why), "reported lost by %s", c->names[sender]);
	cluster_peer_down(c, node, false, why);
}

void cluster_on_control(struct cluster *c, struct conn *conn, uint16_t type, const uint8_t *payload,
			size_t len)
{
	c->peers[conn->node].last_rx = cluster_now_ms();
	if (type == WIRE_HEARTBEAT && len == 0)
		return;
	if (type == WIRE_LEAVE && len == 0)
		cluster_peer_down(c, (unsigned)conn->node, true, "left");
	else if (type == WIRE_ADDRESS)
		on_address(c, conn, payload, len);
	else if (type == WIRE_LOST)
		on_loss_report(c, conn, payload, len);
	else
		cluster_peer_down(c, (unsigned)conn->node, false, "sent an unexpected message");
}

/* Heartbeats out, silence and handshake timeouts in; returns when the next one is due. */
static uint64_t check_timers(struct cluster *c, uint64_t now)
{
	uint64_t next = now + HEARTBEAT_MS;
	for (unsigned i = 0; i < c->n; i++) {
		struct peer *p = &c->peers[i];
		if (p->state != PEER_UP)
			continue;
		if (now >= p->last_rx + PEER_TIMEOUT_MS) {
			cluster_peer_down(c, i, false, "silent for " PEER_TIMEOUT_TEXT);
			continue;
		}
		if (now >= p->last_tx + HEARTBEAT_MS) {
			if (cluster_conn_send(c, p->conn, WIRE_HEARTBEAT, NULL, 0) < 0) {
				cluster_peer_down(c, i, false, "cannot send to it");
				continue;
			}
			p->last_tx = now;
		}
		if (p->last_tx + HEARTBEAT_MS < next)
			next = p->last_tx + HEARTBEAT_MS;
		if (p->last_rx + PEER_TIMEOUT_MS < next)
			next = p->last_rx + PEER_TIMEOUT_MS;
	}
	uint64_t handshakes = cluster_conn_expire(c, now);
	return handshakes < next ? handshakes : next;
}

/* One round of the event loop, waiting until `until` at most; returns when the next timer is
 * due. */
static uint64_t cluster_step(struct cluster *c, uint64_t until)
{
	struct pollfd pfd[c->conn_cap + 2];
	struct conn *polled[c->conn_cap];
	nfds_t count = 0;
	pfd[count++] = (struct pollfd){.fd = c->wake_fd, .events = POLLIN};
	if (c->listen_fd >= 0)
		pfd[count++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
	nfds_t first_conn = count;
	for (unsigned i = 0; i < c->conn_count; i++) {
		struct conn *conn = c->conns[i];
		if (conn->dead)
			continue;
		short events = conn->state == CONN_CONNECTING ? POLLOUT : POLLIN;
		polled[count - first_conn] = conn;
		pfd[count++] = (struct pollfd){.fd = conn->fd, .events = events};
	}
	uint64_t now = cluster_now_ms();
	if (poll(pfd, count, until > now ? (int)(until - now) : 0) > 0) {
		if (c->listen_fd >= 0 && pfd[1].revents)
			cluster_conn_accept(c);
		for (nfds_t i = first_conn; i < count; i++) {
			struct conn *conn = polled[i - first_conn];
			if (!pfd[i].revents)
				continue;
			if (conn->state == CONN_CONNECTING)
				cluster_conn_connected(c, conn);
			else
				cluster_conn_read(c, conn);
		}
	}
	uint64_t next = check_timers(c, cluster_now_ms());
	cluster_conn_sweep(c);
	return next;
}

static int resolve(const char *host, uint16_t port, bool passive, struct sockaddr_storage *out,
		   socklen_t *outlen, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
	struct addrinfo *ai;
	char service[8];
	snprintf(service, sizeof(service), "%u", port);
	int rc = getaddrinfo(host, service, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	memcpy(out, ai->ai_addr, ai->ai_addrlen);
	*outlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int start_listening(struct cluster *c, const struct cluster_params *p, char *err,
			   size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (resolve(p->hosts[p->self], p->ports[p->self], true, &ss, &len, err, errlen) < 0)
		return -1;
	c->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (c->listen_fd < 0 ||
	    setsockopt(c->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(c->listen_fd, (struct sockaddr *)&ss, len) < 0 || listen(c->listen_fd, 64) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", c->where[p->self],
			 strerror(errno));
		return -1;
	}
	return 0;
}

static struct cluster *cluster_alloc(const struct cluster_params *p, const struct cluster_ops *ops,
				     void *ctx)
{
	struct cluster *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->n = p->node_count;
	c->self = p->self;
	c->listen_fd = c->wake_fd = -1;
	c->conn_cap = c->n + MAX_PENDING_ACCEPTS;
	c->names = calloc(c->n, sizeof(*c->names));
	c->where = calloc(c->n, sizeof(*c->where));
	c->peers = calloc(c->n, sizeof(*c->peers));
	c->refusals = calloc(c->n + 1, sizeof(*c->refusals));
	c->conns = calloc(c->conn_cap, sizeof(*c->conns));
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->changed, &attr);
	pthread_condattr_destroy(&attr);
	if (!c->names || !c->where || !c->peers || !c->refusals || !c->conns) {
		cluster_leave(c);
		return NULL;
	}
	for (unsigned i = 0; i < c->n; i++) {
		snprintf(c->names[i], sizeof(c->names[i]), "%s", p->names[i]);
		bool v6 = strchr(p->hosts[i], ':') != NULL;
		snprintf(c->where[i], sizeof(c->where[i]), v6 ? "[%s]:%u" : "%s:%u", p->hosts[i],
			 p->ports[i]);
	}
	memcpy(c->config_hash, p->config_hash, sizeof(c->config_hash));
	memcpy(c->key, p->key, sizeof(c->key));
	cluster_key_handshake(c->key, c->handshake_key);
	c->join_timeout_ms = p->join_timeout_ms ? p->join_timeout_ms : DEFAULT_JOIN_TIMEOUT_MS;
	if (ops)
		c->ops = *ops;
	c->ctx = ctx;
	return c;
}

static void missing_nodes(const struct cluster *c, char *err, size_t errlen)
{
	int n = snprintf(err, errlen, "no authenticated connection after %u ms with",
			 c->join_timeout_ms);
	for (unsigned i = 0; i < c->n && n >= 0 && (size_t)n < errlen; i++)
		if (i != c->self && c->peers[i].state != PEER_UP)
			n += snprintf(err + n, errlen - (size_t)n, " %s (%s)", c->names[i],
				      c->where[i]);
	if (n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n,
			 ": are they running, with the same configuration and key?");
}

static void *cluster_thread(void *arg)
{
	struct cluster *c = arg;
	uint64_t until = cluster_now_ms();
	while (!atomic_load(&c->stopping))
		until = cluster_step(c, until);
	return NULL;
}

/* The loop's thread takes no signals: they stay with the application's threads. */
static int start_thread(struct cluster *c)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&c->thread, NULL, cluster_thread, c);
	if (rc == 0)
		pthread_setname_np(c->thread, "vsmp-cluster");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	c->thread_started = rc == 0;
	return rc == 0 ? 0 : -1;
}

static int run_join(struct cluster *c, char *err, size_t errlen)
{
	uint64_t deadline = cluster_now_ms() + c->join_timeout_ms, until = cluster_now_ms();
	while (c->up_count < c->n - 1) {
		uint64_t now = cluster_now_ms();
		if (now >= deadline) {
			missing_nodes(c, err, errlen);
			return -1;
		}
		cluster_conn_dial(c, now);
		if (until > now + DIAL_RETRY_MS)
			until = now + DIAL_RETRY_MS;
		until = cluster_step(c, until < deadline ? until : deadline);
	}
	close(c->listen_fd);
	c->listen_fd = -1;
	for (unsigned i = 0; i < c->conn_count; i++)
		if (c->conns[i]->state != CONN_UP)
			c->conns[i]->closing = true;
	cluster_conn_sweep(c);
	c->joined = true;
	return 0;
}

struct cluster *cluster_join(const struct cluster_params *p, const struct cluster_ops *ops,
			     void *ctx, char *err, size_t errlen)
{
	if (p->node_count == 0 || p->self >= p->node_count || !p->key) {
		snprintf(err, errlen, "invalid cluster parameters");
		return NULL;
	}
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium could not be initialised");
		return NULL;
	}
	struct cluster *c = cluster_alloc(p, ops, ctx);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	int rc = 0;
	for (unsigned j = 0; j < c->self && rc == 0; j++)
		rc = resolve(p->hosts[j], p->ports[j], false, &c->peers[j].addr,
			     &c->peers[j].addrlen, err, errlen);
	if (rc == 0 && c->n > 1) {
		c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		rc = c->wake_fd < 0 ? -1 : start_listening(c, p, err, errlen);
		if (rc == 0)
			rc = run_join(c, err, errlen);
		if (rc == 0 && start_thread(c) < 0) {
			snprintf(err, errlen, "cannot start the cluster thread");
			rc = -1;
		}
	}
	if (rc < 0) {
		cluster_leave(c);
		return NULL;
	}
	return c;
}

void cluster_leave(struct cluster *c)
{
	if (!c)
		return;
	if (c->thread_started) {
		atomic_store(&c->stopping, true);
		uint64_t one = 1;
		if (write(c->wake_fd, &one, sizeof(one)) < 0)
			cluster_log(c, "cannot wake the cluster thread: %s", strerror(errno));
		pthread_join(c->thread, NULL);
	}
	for (unsigned i = 0; i < c->n && c->peers; i++) {
		if (c->peers[i].state == PEER_UP)
			cluster_conn_send(c, c->peers[i].conn, WIRE_LEAVE, NULL, 0);
		free(c->peers[i].address);
	}
	for (unsigned i = 0; i < c->conn_count; i++)
		cluster_conn_free(c->conns[i]);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->changed);
	sodium_memzero(c->key, sizeof(c->key));
	free(c->names);
	free(c->where);
	free(c->peers);
	free(c->refusals);
	free(c->conns);
	free(c);
}

unsigned cluster_node_count(const struct cluster *c)
{
	return c->n;
}

unsigned cluster_self(const struct cluster *c)
{
	return c->self;
}

const char *cluster_node_name(const struct cluster *c, unsigned node)
{
	return node < c->n ? c->names[node] : "?";
}

bool cluster_peer_up(const struct cluster *c, unsigned node)
{
	return node < c->n && node != c->self && c->peers[node].state == PEER_UP;
}

bool cluster_peer_lost(const struct cluster *c, unsigned node)
{
	return node < c->n && c->peers[node].state == PEER_LOST;
}

const void *cluster_peer_address(const struct cluster *c, unsigned node, size_t *len)
{
	*len = node < c->n ? c->peers[node].address_len : 0;
	return node < c->n ? c->peers[node].address : NULL;
}

const uint8_t *cluster_transport_key(const struct cluster *c, unsigned node)
{
	return c->peers[node].transport_key;
}

static bool all_addresses(const struct cluster *c, char *err, size_t errlen)
{
	for (unsigned i = 0; i < c->n; i++) {
		if (i == c->self || c->peers[i].address)
			continue;
		if (c->peers[i].state != PEER_UP)
			snprintf(err, errlen, "%s left or was lost before sending its address",
				 c->names[i]);
		return false;
	}
	return true;
}

int cluster_exchange_addresses(struct cluster *c, const void *mine, size_t len, char *err,
			       size_t errlen)
{
	if (len == 0 || len > WIRE_MAX_PAYLOAD) {
		snprintf(err, errlen, "transport address of %zu bytes", len);
		return -1;
	}
	if (c->addresses_sent) {
		snprintf(err, errlen,
			 "this cluster already has had a transport (its session keys "
			 "would number messages from 1 again)");
		return -1;
	}
	c->addresses_sent = true;
	for (unsigned i = 0; i < c->n; i++) {
		if (i != c->self && c->peers[i].state == PEER_UP &&
		    cluster_conn_send(c, c->peers[i].conn, WIRE_ADDRESS, mine, len) < 0) {
			snprintf(err, errlen, "cannot send the transport address to %s",
				 c->names[i]);
			return -1;
		}
	}
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += c->join_timeout_ms / 1000;
	deadline.tv_nsec += (long)(c->join_timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	err[0] = '\0';
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	while (rc == 0 && !all_addresses(c, err, errlen)) {
		if (err[0])
			rc = -1;
		else if (pthread_cond_timedwait(&c->changed, &c->lock, &deadline) == ETIMEDOUT)
			rc = -1;
	}
	pthread_mutex_unlock(&c->lock);
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "transport addresses did not arrive within %u ms",
			 c->join_timeout_ms);
	return rc;
}
