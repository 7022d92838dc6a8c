/* `vsmp-vmm keygen FILE` and `vsmp-vmm cluster-check`: the cluster layer without a guest.
 *
 * cluster-check joins the cluster of a configuration as one node (or, without --node, launches
 * every node on this host), then checks the transport: every node sends each peer one message
 * of each size in check_sizes, filled with a pattern derived from sender, receiver and index;
 * the receiver checks it and echoes it back, and the sender checks the echo. It prints one line
 * per milestone on stdout for scripts to wait for ("NODE", "CLUSTER UP", "TRANSPORT OK",
 * "PEER LOST", "PEER LEFT", "RTT"), stays up --seconds, then leaves. With --rtt N node 0 also
 * times N round trips of a 4 KiB message with every peer, spinning (not sleeping) on the reply,
 * and the other nodes stay (answering) until node 0 has left. A peer lost ends the node at once
 * with "node lost" (6), as it ends a guest: the cluster is no longer whole.
 */
#include "vmm/cmd/cmd_cluster.h"

#include "coherence/cluster.h"
#include "coherence/cluster_key.h"
#include "coherence/transport.h"
#include "coherence/wire.h"
#include "vmm/config.h"
#include "vmm/launcher.h"
#include "vmm/log.h"
#include "vmm/node_options.h"
#include "vmm/machine.h"
#include "vmm/node_cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define CHECK_FAILED	 1
#define CHECK_TIMEOUT_MS 10000
#define RTT_BYTES	 4096

enum check_type { CHECK_PING = WIRE_DIAG_FIRST, CHECK_PONG, RTT_PING, RTT_PONG };

static const size_t check_sizes[] = {4, 100, 1500, 4096, 9000, 32768, WIRE_MAX_PAYLOAD};
#define CHECK_COUNT (sizeof(check_sizes) / sizeof(check_sizes[0]))

static const char usage_text[] =
    "usage: vsmp-vmm keygen FILE\n"
    "       vsmp-vmm cluster-check --config FILE [--node NAME] [--seconds S]\n"
    "                              [--join-timeout S] [--netns] [--rtt N] [--verbose]\n"
    "\n"
    "keygen writes a new random cluster key to FILE (mode 0600; never overwrites).\n"
    "cluster-check forms the cluster of FILE without a guest, checks its transport with\n"
    "every peer, stays up S seconds (default 0) reporting lost peers, and leaves. Without\n"
    "--node it starts every node on this host (--netns: each in a network namespace).\n"
    "--rtt N: node 0 also times N round trips of a 4 KiB message with each peer.\n"
    "Exit status: 0 ok, 1 the cluster did not form or the transport check failed,\n"
    "2 bad input, 6 a peer was lost (the node stops at once), 130 interrupted.\n";

struct check_options {
	struct node_options node;
	unsigned seconds, join_timeout_s, rtt_iters;
};

struct check {
	const struct cluster_config *cfg;
	unsigned n, self;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	unsigned *pings, *pongs; /* per peer: correct messages received so far */
	char failure[256];
	bool lost; /* a peer was lost (under lock) */
	atomic_uint rtt_pongs;
	int node0_gone_fd; /* eventfd, signalled when node 0 leaves */
	int lost_fd;	   /* eventfd, signalled when a peer is lost */
};

static const char *name_of(const struct check *ck, unsigned node)
{
	return ck->cfg->nodes[node].name;
}

/* One write per line, so lines of nodes sharing a terminal or pipe never interleave. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
	line[len++] = '\n';
	if (write(STDOUT_FILENO, line, len) < 0)
		log_error("cannot write to stdout: %s", strerror(errno));
}

static uint8_t pattern_byte(unsigned index, unsigned from, unsigned to, size_t k)
{
	return (uint8_t)(index * 131 + from * 31 + to * 17 + k * 7 + (k >> 8));
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned index, unsigned from, unsigned to)
{
	memcpy(buf, &index, sizeof(index));
	for (size_t k = sizeof(index); k < len; k++)
		buf[k] = pattern_byte(index, from, to, k);
}

/* True if buf is message number `expected` of the from -> to sequence. */
static bool pattern_ok(const uint8_t *buf, size_t len, unsigned expected, unsigned from,
		       unsigned to)
{
	unsigned index;
	if (expected >= CHECK_COUNT || len != check_sizes[expected])
		return false;
	memcpy(&index, buf, sizeof(index));
	if (index != expected)
		return false;
	for (size_t k = sizeof(index); k < len; k++)
		if (buf[k] != pattern_byte(index, from, to, k))
			return false;
	return true;
}

static void on_message(void *ctx, struct transport *t, unsigned src, uint16_t type,
		       const void *payload, size_t len)
{
	struct check *ck = ctx;
	if (type == RTT_PING) {
		if (transport_send(t, src, RTT_PONG, payload, len) < 0)
			log_error("cannot answer %s: %s", name_of(ck, src), strerror(errno));
		return;
	}
	if (type == RTT_PONG) {
		atomic_fetch_add(&ck->rtt_pongs, 1);
		return;
	}
	pthread_mutex_lock(&ck->lock);
	bool ping = type == CHECK_PING;
	unsigned *count = ping ? &ck->pings[src] : &ck->pongs[src];
	bool ok = (ping || type == CHECK_PONG) &&
		  pattern_ok(payload, len, *count, ping ? src : ck->self, ping ? ck->self : src);
	if (ok)
		(*count)++;
	else if (!ck->failure[0])
		snprintf(ck->failure, sizeof(ck->failure),
			 "message %u (type 0x%x, %zu bytes) from %s is not what was sent", *count,
			 type, len, name_of(ck, src));
	pthread_cond_broadcast(&ck->changed);
	pthread_mutex_unlock(&ck->lock);
	if (ok && ping && transport_send(t, src, CHECK_PONG, payload, len) < 0)
		log_error("cannot echo to %s: %s", name_of(ck, src), strerror(errno));
}

static void signal_fd(int fd)
{
	if (eventfd_write(fd, 1) < 0)
		log_error("eventfd: %s", strerror(errno));
}

/* A peer lost ends the transport check and the stay, whichever is under way. */
static void on_peer_lost(void *ctx, unsigned node, const char *why)
{
	struct check *ck = ctx;
	say("PEER LOST %s (%s)", name_of(ck, node), why);
	pthread_mutex_lock(&ck->lock);
	ck->lost = true;
	pthread_cond_broadcast(&ck->changed);
	pthread_mutex_unlock(&ck->lock);
	signal_fd(ck->lost_fd);
}

/* Node 0 gone: the others stop answering its round trips. */
static void on_peer_left(void *ctx, unsigned node)
{
	struct check *ck = ctx;
	say("PEER LEFT %s", name_of(ck, node));
	if (node == 0)
		signal_fd(ck->node0_gone_fd);
}

static void on_log(void *ctx, const char *msg)
{
	log_info("%s", msg);
}

static bool exchange_done(const struct check *ck)
{
	for (unsigned i = 0; i < ck->n; i++)
		if (i != ck->self && (ck->pings[i] < CHECK_COUNT || ck->pongs[i] < CHECK_COUNT))
			return false;
	return true;
}

static void describe_missing(const struct check *ck, char *err, size_t errlen)
{
	int n = snprintf(err, errlen, "after %d s:", CHECK_TIMEOUT_MS / 1000);
	for (unsigned i = 0; i < ck->n && n >= 0 && (size_t)n < errlen; i++)
		if (i != ck->self)
			n += snprintf(err + n, errlen - (size_t)n,
				      " %u of %zu messages from %s and %u of %zu echoes;",
				      ck->pings[i], CHECK_COUNT, name_of(ck, i), ck->pongs[i],
				      CHECK_COUNT);
}

/* Sends the check messages to every peer and waits until all were echoed and all of theirs
 * arrived. */
static int check_transport(struct check *ck, struct transport *t, char *err, size_t errlen)
{
	static uint8_t buf[WIRE_MAX_PAYLOAD];
	for (unsigned peer = 0; peer < ck->n; peer++) {
		for (unsigned i = 0; i < CHECK_COUNT && peer != ck->self; i++) {
			fill_pattern(buf, check_sizes[i], i, ck->self, peer);
			if (transport_send(t, peer, CHECK_PING, buf, check_sizes[i]) < 0) {
				snprintf(err, errlen, "sending to %s: %s", name_of(ck, peer),
					 strerror(errno));
				return -1;
			}
		}
	}
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += CHECK_TIMEOUT_MS / 1000;
	int rc = 0;
	pthread_mutex_lock(&ck->lock);
	while (rc == 0 && !ck->failure[0] && !ck->lost && !exchange_done(ck))
		rc = pthread_cond_timedwait(&ck->changed, &ck->lock, &deadline);
	if (ck->lost)
		snprintf(err, errlen, "a peer was lost");
	else if (ck->failure[0])
		snprintf(err, errlen, "%s", ck->failure);
	else if (rc)
		describe_missing(ck, err, errlen);
	bool failed = ck->lost || ck->failure[0] || rc;
	pthread_mutex_unlock(&ck->lock);
	return failed ? -1 : 0;
}

static double elapsed_us(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e6 + (double)(b->tv_nsec - a->tv_nsec) / 1e3;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Times `iters` ping-pongs of RTT_BYTES with peer (after a tenth as many unmeasured). */
static int measure_rtt(struct check *ck, struct transport *t, unsigned peer, unsigned iters)
{
	static uint8_t payload[RTT_BYTES];
	double *samples = calloc(iters, sizeof(*samples));
	if (!samples)
		return -1;
	unsigned warmup = iters / 10;
	for (unsigned i = 0; i < warmup + iters; i++) {
		struct timespec start, now;
		unsigned expected = atomic_load(&ck->rtt_pongs) + 1;
		clock_gettime(CLOCK_MONOTONIC, &start);
		if (transport_send(t, peer, RTT_PING, payload, sizeof(payload)) < 0) {
			log_error("cannot send to %s: %s", name_of(ck, peer), strerror(errno));
			free(samples);
			return -1;
		}
		do {
			sched_yield(); /* this host has 2 cores for 3 busy threads */
			clock_gettime(CLOCK_MONOTONIC, &now);
		} while (atomic_load(&ck->rtt_pongs) < expected && elapsed_us(&start, &now) < 1e6);
		if (atomic_load(&ck->rtt_pongs) < expected) {
			log_error("no reply from %s within 1 s", name_of(ck, peer));
			free(samples);
			return -1;
		}
		if (i >= warmup)
			samples[i - warmup] = elapsed_us(&start, &now);
	}
	qsort(samples, iters, sizeof(*samples), compare_doubles);
	say("RTT %s %d B: median %.1f us, p99 %.1f us, min %.1f us (%u round trips)",
	    name_of(ck, peer), RTT_BYTES, samples[iters / 2], samples[iters * 99 / 100], samples[0],
	    iters);
	free(samples);
	return 0;
}

/* SIGINT/SIGTERM after the join ask for an orderly leave; a second one kills at once
 * (SA_RESETHAND), so a node that is stuck can still be stopped. */
static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig)
{
	if (write(stop_pipe[1], "", 1) < 0)
		return;
}

static int catch_stop_signals(void)
{
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESETHAND};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return 0;
}

/* Milliseconds until `end`, rounded up so that a wait of that long reaches it; 0 once past. */
static int ms_until(const struct timespec *end)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double left_ms = elapsed_us(&now, end) / 1000;
	return left_ms > 0 ? (int)left_ms + 1 : 0;
}

enum stay_end { STAY_DONE, STAY_STOPPED, STAY_LOST };

/* Waits `seconds`, then (if until_fd >= 0) until until_fd is readable; a stop signal or a lost
 * peer (lost_fd readable) ends the wait at any time. The end of the seconds only ends the wait
 * without until_fd: with it, the wait goes on until the fd says so. */
static enum stay_end stay_up(unsigned seconds, int lost_fd, int until_fd)
{
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	struct pollfd pfd[3] = {{.fd = stop_pipe[0], .events = POLLIN},
				{.fd = lost_fd, .events = POLLIN},
				{.fd = until_fd, .events = POLLIN}};
	for (;;) {
		int timeout_ms = ms_until(&end);
		if (timeout_ms == 0 && until_fd < 0)
			return STAY_DONE;
		/* Before the end only a stop signal or a loss counts; after it, until_fd too. */
		bool timed = timeout_ms > 0;
		int rc = poll(pfd, timed ? 2 : 3, timed ? timeout_ms : -1);
		if (rc > 0 && pfd[0].revents)
			return STAY_STOPPED;
		if (rc > 0 && pfd[1].revents)
			return STAY_LOST;
		if (rc > 0 && !timed && pfd[2].revents)
			return STAY_DONE;
	}
}

/* Everything after the join: transport check, round trips, the stay, the leave. */
static int run_joined(struct check *ck, struct cluster *c, const struct check_options *opt)
{
	char err[512];
	int status = 0;
	if (catch_stop_signals() < 0) {
		log_error("pipe: %s", strerror(errno));
		return CHECK_FAILED;
	}
	struct transport *t = transport_create(c, false, on_message, ck, NULL, err, sizeof(err));
	if (!t) {
		log_error("%s", err);
		status = CHECK_FAILED;
	} else if (check_transport(ck, t, err, sizeof(err)) < 0) {
		say("TRANSPORT FAILED: %s", err);
		status = CHECK_FAILED;
	} else {
		say("TRANSPORT OK");
	}
	for (unsigned peer = 1; status == 0 && ck->self == 0 && opt->rtt_iters && peer < ck->n;
	     peer++)
		if (measure_rtt(ck, t, peer, opt->rtt_iters) < 0)
			status = CHECK_FAILED;
	/* Node 0 times its round trips after the check: the others answer until it leaves. */
	bool answer_rtt = status == 0 && ck->self != 0 && opt->rtt_iters;
	enum stay_end end = stay_up(status == 0 ? opt->seconds : 0, ck->lost_fd,
				    answer_rtt ? ck->node0_gone_fd : -1);
	pthread_mutex_lock(&ck->lock);
	bool lost = ck->lost;
	pthread_mutex_unlock(&ck->lock);
	if (end == STAY_STOPPED)
		status = VMM_EXIT_INTERRUPTED;
	else if (lost)
		status = VMM_EXIT_NODE_LOST;
	transport_destroy(t);
	return status;
}

/* Join, check, stay, leave: the node's exit status. */
static int check_node(struct check *ck, const struct check_options *opt)
{
	say("NODE %s pid=%d", name_of(ck, ck->self), (int)getpid());
	const struct cluster_ops ops = {on_peer_lost, on_peer_left, on_log};
	char err[1024];
	bool bad_input;
	struct cluster *c = node_cluster_join(ck->cfg, ck->self, opt->join_timeout_s, &ops, ck,
					      &bad_input, err, sizeof(err));
	if (!c) {
		log_error("%s", err);
		return bad_input ? VMM_EXIT_BAD_INPUT : CHECK_FAILED;
	}
	say("CLUSTER UP nodes=%u", ck->n);
	int status = run_joined(ck, c, opt);
	cluster_leave(c);
	return status;
}

/* One node (node_command_run calls it in each node's process). */
static int run_check_node(const struct cluster_config *cfg, unsigned self, void *ctx)
{
	const struct check_options *opt = ctx;
	struct check ck = {.cfg = cfg, .n = cfg->node_count, .self = self};
	ck.pings = calloc(ck.n, sizeof(*ck.pings));
	ck.pongs = calloc(ck.n, sizeof(*ck.pongs));
	ck.node0_gone_fd = eventfd(0, EFD_CLOEXEC);
	ck.lost_fd = eventfd(0, EFD_CLOEXEC);
	pthread_mutex_init(&ck.lock, NULL);
	pthread_cond_init(&ck.changed, NULL);
	int status = CHECK_FAILED;
	if (ck.pings && ck.pongs && ck.node0_gone_fd >= 0 && ck.lost_fd >= 0)
		status = check_node(&ck, opt);
	else
		log_error("out of memory or file descriptors");
	pthread_mutex_destroy(&ck.lock);
	pthread_cond_destroy(&ck.changed);
	free(ck.pings);
	free(ck.pongs);
	if (ck.node0_gone_fd >= 0)
		close(ck.node0_gone_fd);
	if (ck.lost_fd >= 0)
		close(ck.lost_fd);
	return status;
}

/* cluster-check's own options: --seconds S, --join-timeout S (at least 1), --rtt N. */
static int check_take(void *ctx, int key, const char *arg)
{
	struct check_options *opt = ctx;
	unsigned *field = key == 's'   ? &opt->seconds
			  : key == 'j' ? &opt->join_timeout_s
				       : &opt->rtt_iters;
	unsigned long long max = key == 's' ? 86400 : key == 'j' ? 3600 : 10000000, v;
	if (parse_decimal(arg, max, &v) < 0 || (key == 'j' && v == 0))
		return -1;
	*field = (unsigned)v;
	return 0;
}

static int cluster_check(int argc, char **argv)
{
	static const struct option extra[] = {{"seconds", required_argument, NULL, 's'},
					      {"join-timeout", required_argument, NULL, 'j'},
					      {"rtt", required_argument, NULL, 'r'},
					      {NULL, 0, NULL, 0}};
	struct check_options opt = {.join_timeout_s = 30};
	const struct node_options_spec spec = {.command = "cluster-check",
					       .usage = usage_text,
					       .extra = extra,
					       .extra_short = "s:",
					       .take = check_take,
					       .ctx = &opt};
	if (node_options_parse(argc - 1, argv + 1, &spec, &opt.node) < 0)
		return VMM_EXIT_BAD_INPUT;
	struct node_command cmd = {.opts = opt.node,
				   .launch = true,
				   .argc = argc,
				   .argv = argv,
				   .run_node = run_check_node,
				   .ctx = &opt};
	return node_command_run(&cmd);
}

static int keygen(int argc, char **argv)
{
	char err[512];
	if (argc == 3 && is_help_option(argv[2])) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc != 3 || argv[2][0] == '-') {
		fputs(usage_text, stderr);
		return VMM_EXIT_BAD_INPUT;
	}
	if (cluster_key_generate(argv[2], err, sizeof(err)) < 0) {
		log_error("%s", err);
		return VMM_EXIT_BAD_INPUT;
	}
	printf("wrote a new cluster key to %s\n", argv[2]);
	return 0;
}

bool cmd_cluster_handles(const char *subcommand)
{
	return strcmp(subcommand, "keygen") == 0 || strcmp(subcommand, "cluster-check") == 0;
}

int cmd_cluster_main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
		return keygen(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "cluster-check") == 0)
		return cluster_check(argc, argv);
	fputs(usage_text, stderr);
	return VMM_EXIT_BAD_INPUT;
}
