/* The data path: UCX (ucp) active messages between the nodes of a joined cluster.
 *
 * One ucp context and worker per process, shared by every thread (UCS_THREAD_MODE_MULTI), one
 * endpoint per peer, created from the worker addresses exchanged over the cluster's control
 * channel. A message is one active message whose UCX header is the 40-byte wire header and whose
 * data is the payload; the MAC covers both and uses the pair's transport session key, which only
 * authenticated peers have, and sequence numbers run per (sender, receiver) pair. The MAC's
 * one-time key comes from that session key, the sender and its sequence number (wire.h), so a
 * sender must never number two messages alike under one key: the key is fresh for each joined
 * cluster (both nodes' handshake nonces), each peer's numbers start at 1 when its transport is
 * created and only grow, under its send lock, and a cluster carries one transport in its
 * lifetime (a second would start again at 1 under the same keys, so the cluster refuses it).
 * Sends force UCX's eager protocol, so every message arrives whole in the handler, never as a
 * rendezvous descriptor. Sends to one peer are numbered and submitted under one lock, and UCX
 * delivers one endpoint's eager messages in submission order (UCX does not promise it for active
 * messages, but over shared memory and TCP it holds: a message that did arrive out of order would
 * fail the strictly increasing sequence check and be dropped with a log line).
 *
 * Endpoints keep UCX's default error handling (none): UCP_ERR_HANDLING_MODE_PEER would rule out
 * UCX's shared-memory transports (1.13). Noticing a dead peer is the cluster's job (heartbeats,
 * the control connection's EOF); sends to a peer it reports gone are refused, and its endpoint is
 * force-closed at the end.
 *
 * A transport for a cluster that must go on after a peer dies (loss_tolerant: memory mode with
 * replicas) leaves UCX's shared-memory transports out, unless UCX_TLS chooses them. They give
 * each process one receive FIFO that every sender on the host writes into, and the receiver takes
 * its slots strictly in order; a sender killed between taking a slot and filling it leaves one
 * that never completes, and the receiver then takes nothing more from anyone (docs/cluster.md).
 * Between hosts nothing changes: no shared memory crosses them.
 *
 * Received messages are not handled inside UCX's handler, which runs under the worker's lock: a
 * recv callback that replies would take our per-peer send lock there, while a sender holds that
 * lock and waits for the worker's, a deadlock. So the handler only keeps the message (UCX's
 * persistent data) in the inbox, and the progress thread authenticates and delivers it once
 * ucp_worker_progress has returned; lock order is then always send lock, then worker lock.
 *
 * The progress thread also runs its creator's chore on every turn (the engine's page faults).
 * A turn (progress, delivery, the chore) runs under the turn lock: another thread that waits for
 * a reply of its own may run turns itself (transport_wait; the chore only once it has waited for
 * POLL_WINDOW_US) rather than sleep until the progress thread has it, which sleeps on the lock
 * meanwhile.
 * When idle it sleeps on the worker's event fd (ucp_worker_arm + epoll) and the chore's fd. Waking
 * a sleeping thread costs tens of microseconds here (docs/benchmarks.md), more than a shared
 * memory round trip, so after any activity it keeps polling for POLL_WINDOW_US before sleeping
 * again, and never sleeps while one of our sends to a live peer is still in flight. Lost wakeups:
 * with UCX 1.13 a message occasionally arrives without the armed event fd firing (seen about once
 * in 20000 sleeps, over shared memory and TCP alike, with UCX used by this thread alone), so no
 * sleep lasts longer than MAX_SLEEP_MS: a missed wakeup costs a millisecond, not a hang.
 */
#include "coherence/transport.h"

#include "coherence/cluster.h"
#include "coherence/wire.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucp/api/ucp.h>
#include <unistd.h>

#define AM_ID	       0x5653 /* our only active message handler */
#define POLL_WINDOW_US 200
/* The progress thread's scheduler slice (EEVDF custom slice, Linux 6.12+): see
 * transport_sched_for_latency. */
#define PROGRESS_SLICE_NS 100000ull
#define MAX_SLEEP_MS	  1 /* see "lost wakeups" above */
#define CLOSE_TIMEOUT_MS  1000
#define LOGGED_DROPS	  10 /* per claimed sender */

struct transport_peer {
	struct transport *t;
	unsigned node;
	ucp_ep_h ep;
	pthread_mutex_t send_lock; /* next_seq and the order of submission */
	uint64_t next_seq;
	struct wire_replay replay; /* under the turn lock */
	unsigned drops;		   /* under the turn lock */
	atomic_int in_flight;	   /* sends to it UCX has not completed yet */
	uint8_t key[WIRE_KEY_SIZE];
	char path[16]; /* the UCX transport of its active messages: "tcp", "sysv", ... */
};

struct transport {
	struct cluster *c;
	unsigned n, self;
	transport_recv_fn recv;
	void *recv_ctx;
	struct transport_chore chore; /* run NULL: none */
	ucp_context_h context;
	ucp_worker_h worker;
	int epoll_fd, stop_fd;
	struct transport_peer *peers;
	atomic_int in_flight;	/* sends UCX has not completed yet, to any peer */
	struct inbound *inbox;	/* under the turn lock */
	unsigned unknown_drops; /* under the turn lock */
	size_t inbox_count, inbox_cap;
	atomic_bool stopping;
	/* One turn (progress, delivery, the chore) at a time: the progress thread's, or that of a
	 * thread waiting for its own reply (transport_wait). */
	pthread_mutex_t turn_lock;
	atomic_bool sleeping; /* the progress thread, on the worker's event fd */
	pthread_t thread;
	bool thread_started;
};

/* A message UCX has handed over, awaiting delivery; data is UCX's until ucp_am_data_release. */
struct inbound {
	uint8_t hdr[WIRE_HEADER_SIZE];
	void *data;
	size_t len;
};

/* Our copy of one message while UCX may still read it. */
struct send_buffer {
	struct transport_peer *peer;
	uint8_t msg[];
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Logs the first few messages dropped per claimed sender (and from no known sender). */
static void drop(struct transport *t, unsigned sender, const char *why)
{
	bool known = sender < t->n && sender != t->self;
	unsigned *drops = known ? &t->peers[sender].drops : &t->unknown_drops;
	if ((*drops)++ >= LOGGED_DROPS)
		return;
	if (known)
		cluster_log(t->c, "transport: dropped a message claiming to be from %s: %s",
			    cluster_node_name(t->c, sender), why);
	else
		cluster_log(t->c, "transport: dropped a message: %s", why);
}

/* UCX's handler, under the worker's lock: keep the message for deliver_inbox. */
static ucs_status_t on_message(void *arg, const void *header, size_t header_length, void *data,
			       size_t length, const ucp_am_recv_param_t *param)
{
	struct transport *t = arg;
	if (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) {
		drop(t, UINT32_MAX, "rendezvous message (senders must use eager)");
		return UCS_OK;
	}
	if (header_length != WIRE_HEADER_SIZE || !(param->recv_attr & UCP_AM_RECV_ATTR_FLAG_DATA)) {
		drop(t, UINT32_MAX, "not a wire message");
		return UCS_OK;
	}
	if (t->inbox_count == t->inbox_cap) {
		size_t cap = t->inbox_cap ? 2 * t->inbox_cap : 64;
		struct inbound *bigger = realloc(t->inbox, cap * sizeof(*bigger));
		if (!bigger) {
			drop(t, UINT32_MAX, "out of memory");
			return UCS_OK;
		}
		t->inbox = bigger;
		t->inbox_cap = cap;
	}
	struct inbound *m = &t->inbox[t->inbox_count++];
	memcpy(m->hdr, header, WIRE_HEADER_SIZE);
	m->data = data;
	m->len = length;
	return UCS_INPROGRESS;
}

static void deliver(struct transport *t, const struct inbound *m)
{
	struct wire_header h;
	char why[128];
	if (wire_decode_header(m->hdr, WIRE_HEADER_SIZE, &h, why, sizeof(why)) < 0) {
		drop(t, UINT32_MAX, why);
		return;
	}
	if (h.sender >= t->n || h.sender == t->self || !wire_type_is_transport(h.type)) {
		drop(t, h.sender, "not a transport message from a peer");
		return;
	}
	struct transport_peer *p = &t->peers[h.sender];
	if (wire_authenticate(m->hdr, &h, m->data, m->len, p->key, &p->replay, why, sizeof(why)) <
	    0) {
		drop(t, h.sender, why);
		return;
	}
	t->recv(t->recv_ctx, t, h.sender, h.type, m->data, m->len);
}

/* In arrival order, then hands the buffers back to UCX. */
static void deliver_inbox(struct transport *t, bool discard)
{
	for (size_t i = 0; i < t->inbox_count; i++) {
		if (!discard)
			deliver(t, &t->inbox[i]);
		ucp_am_data_release(t->worker, t->inbox[i].data);
	}
	t->inbox_count = 0;
}

static void on_send_done(void *request, ucs_status_t status, void *user_data)
{
	struct send_buffer *buf = user_data;
	struct transport *t = buf->peer->t;
	if (status != UCS_OK && status != UCS_ERR_CANCELED)
		cluster_log(t->c, "transport: a send to %s failed: %s",
			    cluster_node_name(t->c, buf->peer->node), ucs_status_string(status));
	atomic_fetch_sub(&buf->peer->in_flight, 1);
	atomic_fetch_sub(&t->in_flight, 1);
	free(buf);
	ucp_request_free(request);
}

int transport_send(struct transport *t, unsigned dst, uint16_t type, const void *payload,
		   size_t len)
{
	if (dst >= t->n || dst == t->self || !wire_type_is_transport(type) ||
	    len > WIRE_MAX_PAYLOAD) {
		errno = EINVAL;
		return -1;
	}
	struct transport_peer *p = &t->peers[dst];
	if (!cluster_peer_up(t->c, dst)) {
		errno = ENOTCONN;
		return -1;
	}
	struct send_buffer *buf = malloc(sizeof(*buf) + WIRE_HEADER_SIZE + len);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	buf->peer = p;
	uint8_t *data = buf->msg + WIRE_HEADER_SIZE;
	if (len)
		memcpy(data, payload, len);
	ucp_request_param_t param = {
	    .op_attr_mask =
		UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_FLAGS,
	    .flags = UCP_AM_SEND_FLAG_EAGER,
	    .cb.send = on_send_done,
	    .user_data = buf,
	};
	atomic_fetch_add(&p->in_flight, 1);
	atomic_fetch_add(&t->in_flight, 1);
	pthread_mutex_lock(&p->send_lock);
	wire_seal(buf->msg, type, t->self, p->next_seq++, data, (uint32_t)len, p->key);
	ucs_status_ptr_t request =
	    ucp_am_send_nbx(p->ep, AM_ID, buf->msg, WIRE_HEADER_SIZE, data, len, &param);
	pthread_mutex_unlock(&p->send_lock);
	if (UCS_PTR_IS_PTR(request)) {
		ucp_worker_signal(t->worker); /* the progress thread must not sleep on it */
		return 0;
	}
	atomic_fetch_sub(&p->in_flight, 1);
	atomic_fetch_sub(&t->in_flight, 1);
	free(buf);
	if (UCS_PTR_IS_ERR(request)) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Sends to a lost peer may never complete: only those to live peers keep the thread polling. */
static bool sends_pending(struct transport *t)
{
	if (atomic_load(&t->in_flight) == 0)
		return false;
	for (unsigned i = 0; i < t->n; i++)
		if (atomic_load(&t->peers[i].in_flight) > 0 && cluster_peer_up(t->c, i))
			return true;
	return false;
}

/* Sleeps on the worker's event fd until UCX has something for us; false if it cannot arm. */
static bool sleep_until_event(struct transport *t)
{
	ucs_status_t status = ucp_worker_arm(t->worker);
	if (status == UCS_ERR_BUSY)
		return true;
	if (status != UCS_OK) {
		cluster_log(t->c, "transport: cannot arm the UCX worker (%s): polling from now on",
			    ucs_status_string(status));
		return false;
	}
	struct epoll_event ev;
	atomic_store(&t->sleeping, true);
	epoll_wait(t->epoll_fd, &ev, 1, MAX_SLEEP_MS);
	atomic_store(&t->sleeping, false);
	return true;
}

/* struct sched_attr (linux/sched/types.h clashes with glibc's sched.h). */
struct progress_sched_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
};

/* The coherence work must not queue behind a vCPU. A vCPU spinning in the guest keeps its CPU for
 * its whole slice: a woken progress thread with the default slice did not preempt it and ran
 * only at the next tick, up to 4 ms at HZ=250, which made a page hand-off between two spinning
 * vCPUs take 1-5 ms instead of 0.25 (docs/benchmarks.md, TSC). A short slice lets the woken
 * thread preempt at once (EEVDF's shorter-slice wake-up preemption). The thread still yields
 * while it polls, and bench guest's compute and STREAM ratios did not move. Unprivileged; a
 * kernel without custom slices (before 6.12) refuses it, and the thread runs as before. The
 * timer slack is cut for the same reason: the hold window's 50 us sleeps (engine.c) would
 * otherwise end up to 50 us late. */
void transport_sched_for_latency(void)
{
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, 0); /* this thread's: keep it */
	struct progress_sched_attr attr = {.size = sizeof(attr),
					   .sched_policy = SCHED_OTHER,
					   .sched_nice = nice,
					   .sched_runtime = PROGRESS_SLICE_NS};
	if (sched_getscheduler(0) == SCHED_OTHER && errno == 0)
		(void)syscall(SYS_sched_setattr, 0, &attr, 0);
	(void)prctl(PR_SET_TIMERSLACK, 1000ul, 0, 0, 0);
}

/* With the turn lock held. */
static unsigned turn(struct transport *t, bool chore)
{
	unsigned events = ucp_worker_progress(t->worker);
	deliver_inbox(t, false);
	if (chore && t->chore.run)
		events += t->chore.run(t->chore.ctx);
	return events;
}

void transport_wait(struct transport *t, void (*start)(void *ctx), bool (*done)(void *ctx),
		    void *ctx)
{
	pthread_mutex_lock(&t->turn_lock);
	uint64_t since = now_us();
	if (start)
		start(ctx);
	/* The chore only once the wait is long: a short one would pay a system call a turn for it,
	 * a long one must not hold up the node's other faults or the replicas' background work. */
	while (!done(ctx) && !atomic_load(&t->stopping))
		if (turn(t, now_us() - since > POLL_WINDOW_US) == 0)
			sched_yield();
	pthread_mutex_unlock(&t->turn_lock);
	if (atomic_load(&t->sleeping))
		ucp_worker_signal(t->worker); /* what came after our last turn is its now */
}

static void *progress_thread(void *arg)
{
	struct transport *t = arg;
	uint64_t last_activity = now_us();
	bool can_sleep = true;
	transport_sched_for_latency();
	while (!atomic_load(&t->stopping)) {
		pthread_mutex_lock(&t->turn_lock);
		unsigned events = turn(t, true);
		pthread_mutex_unlock(&t->turn_lock);
		if (events || sends_pending(t)) {
			last_activity = now_us();
		} else if (!can_sleep || now_us() - last_activity < POLL_WINDOW_US) {
			sched_yield(); /* polling must not keep a ready thread off the CPU */
		} else {
			can_sleep = sleep_until_event(t);
			last_activity = now_us();
		}
	}
	return NULL;
}

static int fail_ucx(char *err, size_t errlen, const char *what, ucs_status_t status)
{
	snprintf(err, errlen, "UCX: %s: %s", what, ucs_status_string(status));
	return -1;
}

static int create_worker(struct transport *t, bool loss_tolerant, char *err, size_t errlen)
{
	ucp_config_t *config;
	ucs_status_t status = ucp_config_read(NULL, NULL, &config);
	if (status != UCS_OK)
		return fail_ucx(err, errlen, "reading the UCX_* configuration", status);
	if (loss_tolerant && !getenv("UCX_TLS")) {
		status = ucp_config_modify(config, "TLS", "^sm");
		if (status != UCS_OK) {
			ucp_config_release(config);
			return fail_ucx(err, errlen, "leaving shared memory out", status);
		}
	}
	ucp_params_t params = {.field_mask = UCP_PARAM_FIELD_FEATURES,
			       .features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP};
	status = ucp_init(&params, config, &t->context);
	ucp_config_release(config);
	if (status != UCS_OK)
		return fail_ucx(err, errlen, "ucp_init", status);
	ucp_worker_params_t wparams = {.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
				       .thread_mode = UCS_THREAD_MODE_MULTI};
	status = ucp_worker_create(t->context, &wparams, &t->worker);
	if (status != UCS_OK)
		return fail_ucx(err, errlen, "ucp_worker_create", status);
	ucp_am_handler_param_t handler = {
	    .field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_FLAGS |
			  UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG,
	    .id = AM_ID,
	    .flags = UCP_AM_FLAG_WHOLE_MSG | UCP_AM_FLAG_PERSISTENT_DATA,
	    .cb = on_message,
	    .arg = t,
	};
	status = ucp_worker_set_am_recv_handler(t->worker, &handler);
	if (status != UCS_OK)
		return fail_ucx(err, errlen, "setting the active message handler", status);
	int efd;
	status = ucp_worker_get_efd(t->worker, &efd);
	if (status != UCS_OK)
		return fail_ucx(err, errlen, "ucp_worker_get_efd", status);
	t->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN};
	if (t->epoll_fd < 0 || t->stop_fd < 0 || epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, efd, &ev) ||
	    epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, t->stop_fd, &ev) ||
	    (t->chore.run && epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, t->chore.fd, &ev))) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int exchange_addresses(struct transport *t, char *err, size_t errlen)
{
	ucp_address_t *address;
	size_t len;
	ucs_status_t status = ucp_worker_get_address(t->worker, &address, &len);
	if (status != UCS_OK)
		return fail_ucx(err, errlen, "ucp_worker_get_address", status);
	int rc = cluster_exchange_addresses(t->c, address, len, err, errlen);
	ucp_worker_release_address(t->worker, address);
	return rc;
}

/* Whether `word` is one of the space-separated words of `s`. */
static bool has_word(const char *s, const char *word)
{
	size_t len = strlen(word);
	for (const char *at = strstr(s, word); at; at = strstr(at + 1, word))
		if ((at == s || at[-1] == ' ') && (at[len] == ' ' || at[len] == '\0'))
			return true;
	return false;
}

/* Names the UCX transport of a new endpoint's active-message lane, from UCX's description of the
 * endpoint (ucp_ep_print_info; 1.13 has no query for it): the lane whose uses include "am", as
 * in "lane[0]:  2:sysv/memory.0 md[2] -> md[2]/sysv/sysdev[255] am am_bw#0". */
static void describe_path(struct transport_peer *p)
{
	char *text = NULL, *save = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	if (!f)
		return;
	ucp_ep_print_info(p->ep, f);
	if (fclose(f) != 0) {
		free(text);
		return;
	}
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *lane = strstr(line, "lane["), *to = strstr(line, "->");
		char *colon = lane ? strchr(lane, ':') : NULL;
		char *tl = colon ? strchr(colon + 1, ':') : NULL;
		if (!tl || !to || tl > to || !has_word(to, "am"))
			continue;
		int len = (int)strcspn(tl + 1, "/ ");
		if (len > 0 && (size_t)len < sizeof(p->path))
			snprintf(p->path, sizeof(p->path), "%.*s", len, tl + 1);
		break;
	}
	free(text);
}

static int connect_peers(struct transport *t, char *err, size_t errlen)
{
	for (unsigned i = 0; i < t->n; i++) {
		struct transport_peer *p = &t->peers[i];
		if (i == t->self)
			continue;
		memcpy(p->key, cluster_transport_key(t->c, i), WIRE_KEY_SIZE);
		size_t len;
		ucp_ep_params_t params = {
		    .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS,
		    .address = cluster_peer_address(t->c, i, &len),
		};
		ucs_status_t status = ucp_ep_create(t->worker, &params, &p->ep);
		if (status != UCS_OK) {
			p->ep = NULL;
			snprintf(err, errlen, "UCX: connecting to %s: %s",
				 cluster_node_name(t->c, i), ucs_status_string(status));
			return -1;
		}
		describe_path(p);
	}
	return 0;
}

const char *transport_peer_path(const struct transport *t, unsigned node)
{
	return node < t->n && t->peers[node].path[0] ? t->peers[node].path : "?";
}

/* The progress thread takes no signals: they stay with the application's threads. */
static int start_thread(struct transport *t)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&t->thread, NULL, progress_thread, t);
	if (rc == 0)
		pthread_setname_np(t->thread, "vsmp-transport");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	t->thread_started = rc == 0;
	return rc == 0 ? 0 : -1;
}

struct transport *transport_create(struct cluster *c, bool loss_tolerant, transport_recv_fn recv,
				   void *ctx, const struct transport_chore *chore, char *err,
				   size_t errlen)
{
	struct transport *t = calloc(1, sizeof(*t));
	if (t)
		t->peers = calloc(cluster_node_count(c), sizeof(*t->peers));
	if (!t || !t->peers) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->c = c;
	t->n = cluster_node_count(c);
	t->self = cluster_self(c);
	t->recv = recv;
	t->recv_ctx = ctx;
	if (chore)
		t->chore = *chore;
	t->epoll_fd = t->stop_fd = -1;
	for (unsigned i = 0; i < t->n; i++) {
		t->peers[i].t = t;
		t->peers[i].node = i;
		t->peers[i].next_seq = 1;
		pthread_mutex_init(&t->peers[i].send_lock, NULL);
	}
	int rc = create_worker(t, loss_tolerant, err, errlen);
	if (rc == 0 && t->n > 1)
		rc = exchange_addresses(t, err, errlen);
	if (rc == 0)
		rc = connect_peers(t, err, errlen);
	if (rc == 0 && start_thread(t) < 0) {
		snprintf(err, errlen, "cannot start the transport's progress thread");
		rc = -1;
	}
	if (rc < 0) {
		transport_destroy(t);
		return NULL;
	}
	return t;
}

/* Lets UCX complete what we sent to live peers (bounded: a peer may die meanwhile), so that it is
 * delivered even though we leave, then closes every endpoint without a handshake: a flushing
 * close would wait for the peer, which may be closing (or dead) at the same moment. A completed
 * send is in the peer's shared-memory queue or our socket's buffer, which the close keeps. */
static void close_endpoints(struct transport *t)
{
	uint64_t deadline = now_us() + CLOSE_TIMEOUT_MS * 1000;
	while (sends_pending(t) && now_us() < deadline) {
		ucp_worker_progress(t->worker);
		deliver_inbox(t, true);
	}
	if (sends_pending(t))
		cluster_log(t->c, "transport: closing with messages still in flight");
	ucp_request_param_t force = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
				     .flags = UCP_EP_CLOSE_FLAG_FORCE};
	for (unsigned i = 0; i < t->n; i++) {
		if (!t->peers[i].ep)
			continue;
		ucs_status_ptr_t request = ucp_ep_close_nbx(t->peers[i].ep, &force);
		deadline = now_us() + CLOSE_TIMEOUT_MS * 1000;
		while (UCS_PTR_IS_PTR(request) &&
		       ucp_request_check_status(request) == UCS_INPROGRESS && now_us() < deadline) {
			ucp_worker_progress(t->worker);
			deliver_inbox(t, true);
		}
		if (UCS_PTR_IS_PTR(request))
			ucp_request_free(request);
	}
}

void transport_destroy(struct transport *t)
{
	if (!t)
		return;
	if (t->thread_started) {
		atomic_store(&t->stopping, true);
		uint64_t one = 1;
		if (write(t->stop_fd, &one, sizeof(one)) < 0)
			cluster_log(t->c, "transport: cannot stop the progress thread: %s",
				    strerror(errno));
		pthread_join(t->thread, NULL);
	}
	if (t->worker) {
		deliver_inbox(t, true);
		close_endpoints(t);
		ucp_worker_destroy(t->worker);
	}
	if (t->context)
		ucp_cleanup(t->context);
	for (unsigned i = 0; i < t->n; i++)
		pthread_mutex_destroy(&t->peers[i].send_lock);
	pthread_mutex_destroy(&t->turn_lock);
	if (t->epoll_fd >= 0)
		close(t->epoll_fd);
	if (t->stop_fd >= 0)
		close(t->stop_fd);
	free(t->inbox);
	free(t->peers);
	free(t);
}
