/* Unit tests for the cluster layer: key files (permissions, formats, keygen), the derivations
 * (proofs, session keys), and clusters formed inside this process on loopback: a clean join and
 * leave, a peer with the wrong key or another configuration refused, the join timeout naming the
 * missing nodes, a forged connection ignored, a killed node reported lost once by each
 * survivor and blamed even by a survivor that sees another node stop first, and transport
 * messages between two nodes. */
#include "coherence/cluster.h"
#include "coherence/cluster_key.h"
#include "coherence/transport.h"
#include "coherence/wire.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vsmp-key-test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static const char *write_key_file(const char *name, const void *data, size_t len, mode_t mode)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	cr_assert_eq(chmod(path, mode), 0);
	return path;
}

static void expect_load_error(const char *path, const char *expected)
{
	uint8_t key[CLUSTER_KEY_SIZE];
	char err[512] = "";
	cr_assert_eq(cluster_key_load(path, key, err, sizeof(err)), -1, "%s was accepted", path);
	cr_assert(strstr(err, expected), "expected \"%s\" in \"%s\"", expected, err);
}

TestSuite(key, .init = make_dir, .fini = remove_dir);

Test(key, keygen_writes_a_private_hex_key_and_never_overwrites)
{
	char path[128], err[512];
	snprintf(path, sizeof(path), "%s/cluster.key", dir);
	cr_assert_eq(cluster_key_generate(path, err, sizeof(err)), 0, "%s", err);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(st.st_size, 65);
	uint8_t key1[CLUSTER_KEY_SIZE], key2[CLUSTER_KEY_SIZE];
	cr_assert_eq(cluster_key_load(path, key1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cluster_key_generate(path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "already exists"), "%s", err);
	cr_assert_eq(cluster_key_load(path, key2, err, sizeof(err)), 0, "%s", err);
	cr_assert_arr_eq(key1, key2, CLUSTER_KEY_SIZE, "the key changed");
	char other[128];
	uint8_t key3[CLUSTER_KEY_SIZE];
	snprintf(other, sizeof(other), "%s/other.key", dir);
	cr_assert_eq(cluster_key_generate(other, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cluster_key_load(other, key3, err, sizeof(err)), 0, "%s", err);
	cr_assert_arr_neq(key1, key3, CLUSTER_KEY_SIZE, "two generated keys are equal");
}

Test(key, group_or_other_access_is_refused)
{
	const char text[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
	const mode_t refused[] = {0644, 0640, 0604, 0660, 0601, 0610};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const char *path = write_key_file("k", text, sizeof(text) - 1, refused[i]);
		expect_load_error(path, "group or others");
		expect_load_error(path, "chmod 600");
	}
	uint8_t key[CLUSTER_KEY_SIZE];
	char err[512];
	const char *path = write_key_file("k", text, sizeof(text) - 1, 0400);
	cr_assert_eq(cluster_key_load(path, key, err, sizeof(err)), 0, "%s", err);
}

Test(key, only_regular_files)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/sub", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	expect_load_error(path, "not a regular file");
	snprintf(path, sizeof(path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	expect_load_error(path, "not a regular file");
	snprintf(path, sizeof(path), "%s/missing", dir);
	expect_load_error(path, "No such file");
}

Test(key, content_rules)
{
	uint8_t raw[CLUSTER_KEY_FILE_MAX + 1];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 37 + 200); /* not all hex digits */
	expect_load_error(write_key_file("k", raw, 31, 0600), "at least 32");
	expect_load_error(write_key_file("k", "", 0, 0600), "at least 32");
	expect_load_error(write_key_file("k", raw, sizeof(raw), 0600), "larger than");
	const char short_hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";
	expect_load_error(write_key_file("k", short_hex, sizeof(short_hex) - 1, 0600), "hex");
	uint8_t key[CLUSTER_KEY_SIZE];
	char err[512];
	cr_assert_eq(cluster_key_load(write_key_file("k", raw, 32, 0600), key, err, sizeof(err)), 0,
		     "%s", err);
}

Test(key, hex_and_raw_forms_of_the_same_bytes_agree)
{
	uint8_t bytes[40], from_raw[CLUSTER_KEY_SIZE], from_hex[CLUSTER_KEY_SIZE];
	char hex[2 * sizeof(bytes) + 3], err[256];
	for (size_t i = 0; i < sizeof(bytes); i++) {
		bytes[i] = (uint8_t)(0x80 + i);
		snprintf(hex + 2 * i, 3, "%02X", bytes[i]);
	}
	strcat(hex, "\r\n");
	cr_assert_eq(cluster_key_parse(bytes, sizeof(bytes), from_raw, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(cluster_key_parse(hex, strlen(hex), from_hex, err, sizeof(err)), 0, "%s", err);
	cr_assert_arr_eq(from_raw, from_hex, CLUSTER_KEY_SIZE);
	bytes[39] ^= 1;
	cr_assert_eq(cluster_key_parse(bytes, sizeof(bytes), from_raw, err, sizeof(err)), 0);
	cr_assert_arr_neq(from_raw, from_hex, CLUSTER_KEY_SIZE);
}

static const uint8_t key_a[CLUSTER_KEY_SIZE] = {0xa};
static const uint8_t key_b[CLUSTER_KEY_SIZE] = {0xb};
static const uint8_t nonce_1[32] = {1}, nonce_2[32] = {2};

Test(derive, proofs_bind_key_nonce_and_both_indices)
{
	uint8_t proof[CLUSTER_KEY_SIZE];
	cluster_key_proof(key_a, nonce_1, 2, 0, proof);
	cr_assert_eq(cluster_key_check_proof(key_a, nonce_1, 2, 0, proof), 0);
	cr_assert_eq(cluster_key_check_proof(key_b, nonce_1, 2, 0, proof), -1, "other key");
	cr_assert_eq(cluster_key_check_proof(key_a, nonce_2, 2, 0, proof), -1, "other nonce");
	cr_assert_eq(cluster_key_check_proof(key_a, nonce_1, 0, 2, proof), -1, "reflected");
	cr_assert_eq(cluster_key_check_proof(key_a, nonce_1, 1, 0, proof), -1, "other prover");
	proof[31] ^= 0x80;
	cr_assert_eq(cluster_key_check_proof(key_a, nonce_1, 2, 0, proof), -1, "flipped bit");
}

Test(derive, session_keys_are_symmetric_and_separated)
{
	uint8_t ab[CLUSTER_KEY_SIZE], ba[CLUSTER_KEY_SIZE], other[CLUSTER_KEY_SIZE];
	cluster_key_session(key_a, "control", 0, nonce_1, 3, nonce_2, ab);
	cluster_key_session(key_a, "control", 3, nonce_2, 0, nonce_1, ba);
	cr_assert_arr_eq(ab, ba, CLUSTER_KEY_SIZE);
	cluster_key_session(key_a, "transport", 0, nonce_1, 3, nonce_2, other);
	cr_assert_arr_neq(ab, other, CLUSTER_KEY_SIZE, "channels share a key");
	cluster_key_session(key_a, "control", 0, nonce_2, 3, nonce_1, other);
	cr_assert_arr_neq(ab, other, CLUSTER_KEY_SIZE, "swapped nonces give the same key");
	cluster_key_session(key_b, "control", 0, nonce_1, 3, nonce_2, other);
	cr_assert_arr_neq(ab, other, CLUSTER_KEY_SIZE, "the key does not matter");
	cluster_key_handshake(key_a, other);
	cr_assert_arr_neq(ab, other, CLUSTER_KEY_SIZE);
}

/* In-process clusters on loopback: one thread per node. */

#define MAX_NODES 3

struct node {
	struct cluster_params params;
	uint8_t key[CLUSTER_KEY_SIZE];
	struct cluster *c;
	char err[512];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	char log[4096];
	int left[MAX_NODES];
	int lost[MAX_NODES];
};

static const char *const names[MAX_NODES] = {"n0", "n1", "n2"};
static const char *const hosts[MAX_NODES] = {"127.0.0.1", "127.0.0.1", "127.0.0.1"};
static uint16_t ports[MAX_NODES];
static struct node nodes[MAX_NODES];

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void on_log(void *ctx, const char *msg)
{
	struct node *n = ctx;
	pthread_mutex_lock(&n->lock);
	size_t used = strlen(n->log);
	snprintf(n->log + used, sizeof(n->log) - used, "%s\n", msg);
	pthread_mutex_unlock(&n->lock);
}

static void on_left(void *ctx, unsigned node)
{
	struct node *n = ctx;
	pthread_mutex_lock(&n->lock);
	n->left[node]++;
	pthread_cond_broadcast(&n->changed);
	pthread_mutex_unlock(&n->lock);
}

static void on_lost(void *ctx, unsigned node, const char *why)
{
	(void)why;
	struct node *n = ctx;
	pthread_mutex_lock(&n->lock);
	n->lost[node]++;
	pthread_cond_broadcast(&n->changed);
	pthread_mutex_unlock(&n->lock);
}

static const struct cluster_ops ops = {.peer_left = on_left, .peer_lost = on_lost, .log = on_log};

static void *join_thread(void *arg)
{
	struct node *n = arg;
	n->c = cluster_join(&n->params, &ops, n, n->err, sizeof(n->err));
	return NULL;
}

static void setup_nodes(unsigned count, unsigned timeout_ms)
{
	for (unsigned i = 0; i < count; i++)
		ports[i] = free_port();
	for (unsigned i = 0; i < count; i++) {
		struct node *n = &nodes[i];
		memset(n, 0, sizeof(*n));
		memcpy(n->key, key_a, sizeof(n->key));
		n->params = (struct cluster_params){.node_count = count,
						    .self = i,
						    .hosts = hosts,
						    .ports = ports,
						    .names = names,
						    .key = n->key,
						    .join_timeout_ms = timeout_ms};
		memset(n->params.config_hash, 0x5c, sizeof(n->params.config_hash));
		pthread_mutex_init(&n->lock, NULL);
		pthread_cond_init(&n->changed, NULL);
	}
}

static void join_all(unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		cr_assert_eq(pthread_create(&nodes[i].thread, NULL, join_thread, &nodes[i]), 0);
	for (unsigned i = 0; i < count; i++)
		pthread_join(nodes[i].thread, NULL);
}

static void leave_all(unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		cluster_leave(nodes[i].c);
}

/* Waits up to 2 s for one of n's callback counters to become non-zero; returns its value. */
static int wait_for(struct node *n, const int *counter)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2;
	pthread_mutex_lock(&n->lock);
	while (!*counter && pthread_cond_timedwait(&n->changed, &n->lock, &deadline) == 0)
		;
	int value = *counter;
	pthread_mutex_unlock(&n->lock);
	return value;
}

static void expect_log(const struct node *n, const char *expected)
{
	cr_assert(strstr(n->log, expected), "expected \"%s\" in the log:\n%s", expected, n->log);
}

Test(cluster, three_nodes_join_and_see_a_leave)
{
	setup_nodes(3, 5000);
	join_all(3);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_not_null(nodes[i].c, "n%u: %s", i, nodes[i].err);
		for (unsigned j = 0; j < 3; j++)
			cr_assert_eq(cluster_peer_up(nodes[i].c, j), i != j);
		cr_assert_eq(cluster_self(nodes[i].c), i);
		cr_assert_str_eq(cluster_node_name(nodes[i].c, 2), "n2");
	}
	cluster_leave(nodes[2].c);
	for (unsigned i = 0; i < 2; i++) {
		struct node *n = &nodes[i];
		cr_assert_eq(wait_for(n, &n->left[2]), 1, "n%u did not see n2 leave", i);
		cr_assert_not(cluster_peer_up(n->c, 2));
		cr_assert(cluster_peer_up(n->c, 1 - i));
	}
	nodes[2].c = NULL;
	leave_all(3);
}

Test(cluster, a_peer_with_another_key_is_refused)
{
	setup_nodes(2, 700);
	nodes[1].key[0] ^= 1;
	join_all(2);
	cr_assert_null(nodes[0].c);
	cr_assert_null(nodes[1].c);
	cr_assert(strstr(nodes[0].err, "n1 (127.0.0.1:"), "%s", nodes[0].err);
	expect_log(&nodes[0], "failed authentication");
	expect_log(&nodes[1], "failed authentication");
	cr_assert_null(strstr(nodes[0].log, "authenticated"), "%s", nodes[0].log);
}

Test(cluster, a_peer_with_another_configuration_is_refused)
{
	setup_nodes(2, 700);
	nodes[1].params.config_hash[31] ^= 1;
	join_all(2);
	cr_assert_null(nodes[0].c);
	cr_assert_null(nodes[1].c);
	expect_log(&nodes[0], "the configurations differ: n0 has");
	expect_log(&nodes[0], "n1 has");
	expect_log(&nodes[1], "the configurations differ: n1 has");
}

Test(cluster, join_timeout_names_the_missing_nodes)
{
	setup_nodes(3, 300);
	struct timespec start, end;
	clock_gettime(CLOCK_MONOTONIC, &start);
	join_thread(&nodes[0]);
	clock_gettime(CLOCK_MONOTONIC, &end);
	cr_assert_null(nodes[0].c);
	cr_assert(strstr(nodes[0].err, " n1 (127.0.0.1:") &&
		      strstr(nodes[0].err, " n2 (127.0.0.1:"),
		  "%s", nodes[0].err);
	double ms =
	    (double)(end.tv_sec - start.tv_sec) * 1e3 + (double)(end.tv_nsec - start.tv_nsec) / 1e6;
	cr_assert(ms >= 295 && ms < 1000, "took %.1f ms", ms);
}

/* A connection that speaks the protocol with a forged MAC is refused; the real peer still joins. */
Test(cluster, a_forged_hello_is_ignored)
{
	setup_nodes(2, 3000);
	cr_assert_eq(pthread_create(&nodes[0].thread, NULL, join_thread, &nodes[0]), 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(ports[0]),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = socket(AF_INET, SOCK_STREAM, 0);
	}
	struct wire_hello hello = {.version = WIRE_VERSION, .node = 1, .name = "n1"};
	memset(hello.config_hash, 0x5c, sizeof(hello.config_hash));
	uint8_t msg[WIRE_HEADER_SIZE + WIRE_HELLO_SIZE];
	wire_hello_encode(&hello, msg + WIRE_HEADER_SIZE);
	wire_seal(msg, WIRE_HELLO, 1, 1, msg + WIRE_HEADER_SIZE, WIRE_HELLO_SIZE, key_b);
	cr_assert_eq(write(fd, msg, sizeof(msg)), (ssize_t)sizeof(msg));
	uint8_t buf[256];
	while (read(fd, buf, sizeof(buf)) > 0) /* node 0 hangs up on us */
		;
	close(fd);
	cr_assert_eq(pthread_create(&nodes[1].thread, NULL, join_thread, &nodes[1]), 0);
	pthread_join(nodes[0].thread, NULL);
	pthread_join(nodes[1].thread, NULL);
	cr_assert_not_null(nodes[0].c, "%s", nodes[0].err);
	cr_assert_not_null(nodes[1].c, "%s", nodes[1].err);
	expect_log(&nodes[0], "its hello failed authentication");
	leave_all(2);
}

/* n2 runs in a child process that is SIGKILLed once the cluster has formed. Each survivor
 * learns of it twice (its own connection closing, the other survivor's loss report) and must
 * report it exactly once, and never blame the other survivor. */
Test(cluster, a_killed_node_is_reported_lost_once_by_each_survivor)
{
	setup_nodes(3, 5000);
	pid_t child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		join_thread(&nodes[2]);
		for (;;)
			pause();
	}
	for (unsigned i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&nodes[i].thread, NULL, join_thread, &nodes[i]), 0);
	for (unsigned i = 0; i < 2; i++)
		pthread_join(nodes[i].thread, NULL);
	kill(child, SIGKILL);
	cr_assert_eq(waitpid(child, NULL, 0), child);
	for (unsigned i = 0; i < 2; i++) {
		struct node *n = &nodes[i];
		cr_assert_not_null(n->c, "n%u: %s", i, n->err);
		cr_assert_eq(wait_for(n, &n->lost[2]), 1, "n%u: n2 reported lost %d times", i,
			     n->lost[2]);
	}
	cluster_leave(nodes[1].c); /* the other survivor's leave is seen as a leave, not a loss */
	cr_assert_eq(wait_for(&nodes[0], &nodes[0].left[1]), 1, "n0 did not see n1 leave");
	cr_assert_eq(nodes[0].lost[1], 0, "n0 blamed n1:\n%s", nodes[0].log);
	cr_assert_eq(nodes[0].lost[2], 1);
	cluster_leave(nodes[0].c);
}

/* The blame test runs every node in a child process that tells the parent, one line per event
 * through a pipe, what its cluster saw. */
static int events_fd = -1;

static void tell(const char *fmt, unsigned node, unsigned other)
{
	char line[64];
	int n = snprintf(line, sizeof(line), fmt, node, other);
	if (write(events_fd, line, (size_t)n) != n)
		_exit(3);
}

static void child_log(void *ctx, const char *msg)
{
	struct node *n = ctx;
	unsigned other;
	if (sscanf(msg, "authenticated n%u", &other) == 1)
		tell("%u authenticated %u\n", n->params.self, other);
}

/* As the VMM and the memtest do: a node that loses a peer stops at once. */
static void child_lost_and_stop(void *ctx, unsigned node, const char *why)
{
	_exit(0);
}

static void child_lost_and_tell(void *ctx, unsigned node, const char *why)
{
	struct node *n = ctx;
	tell("%u lost %u\n", n->params.self, node);
}

static pid_t start_child(unsigned i, const struct cluster_ops *ops)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		struct node *n = &nodes[i];
		n->c = cluster_join(&n->params, ops, n, n->err, sizeof(n->err));
		tell(n->c ? "%u joined\n" : "%u failed\n", i, 0);
		for (;;)
			pause();
	}
	return pid;
}

/* Reads the parent's end of the pipe until a line matching `want` (up to 5 s). */
static void expect_event(FILE *events, const char *want)
{
	char line[64];
	struct pollfd pfd = {.fd = fileno(events), .events = POLLIN};
	while (poll(&pfd, 1, 5000) > 0 && fgets(line, sizeof(line), events))
		if (strcmp(line, want) == 0)
			return;
	cr_assert_fail("no \"%.*s\" from the nodes", (int)strlen(want) - 1, want);
}

/* n2 fails; n1 notices, and stops. n0 is frozen meanwhile, so when it runs again both n1's and
 * n2's connections are closed, n1's read first (n0 accepted it first): without n1's loss report
 * n0 would report n1 lost, the node that merely stopped. It must report n2 first. */
Test(cluster, a_survivor_blames_the_failed_node_not_one_that_stopped)
{
	setup_nodes(3, 5000);
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	events_fd = fds[1];
	FILE *events = fdopen(fds[0], "r");
	setvbuf(events, NULL, _IONBF, 0);
	const struct cluster_ops observer = {.peer_lost = child_lost_and_tell, .log = child_log};
	const struct cluster_ops stopper = {.peer_lost = child_lost_and_stop, .log = on_log};
	pid_t n0 = start_child(0, &observer), n1 = start_child(1, &stopper);
	expect_event(events, "0 authenticated 1\n");
	pid_t n2 = start_child(2, &stopper);
	for (unsigned joined = 0; joined < 3;) {
		char line[64];
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		cr_assert_gt(poll(&pfd, 1, 5000), 0, "the cluster did not form");
		cr_assert_not_null(fgets(line, sizeof(line), events));
		cr_assert_null(strstr(line, " failed"), "%s", line);
		if (strstr(line, " joined")) /* not an "authenticated" line */
			joined++;
	}
	kill(n0, SIGSTOP);
	kill(n2, SIGKILL);
	int status;
	cr_assert_eq(waitpid(n2, &status, 0), n2);
	cr_assert_eq(waitpid(n1, &status, 0), n1); /* it stops once it has lost n2 */
	kill(n0, SIGCONT);
	char first[64];
	struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
	cr_assert_gt(poll(&pfd, 1, 5000), 0, "n0 reported no loss");
	cr_assert_not_null(fgets(first, sizeof(first), events));
	kill(n0, SIGKILL);
	waitpid(n0, &status, 0);
	fclose(events);
	close(fds[1]);
	cr_assert_str_eq(first, "0 lost 2\n", "n0 blamed the wrong node");
}

struct inbox {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	unsigned count;
	uint16_t type;
	size_t len;
	uint8_t first, last;
};

static void on_message(void *ctx, struct transport *t, unsigned src, uint16_t type,
		       const void *payload, size_t len)
{
	struct inbox *in = ctx;
	const uint8_t *p = payload;
	pthread_mutex_lock(&in->lock);
	in->count++;
	in->type = type;
	in->len = len;
	in->first = len ? p[0] : 0;
	in->last = len ? p[len - 1] : 0;
	pthread_cond_broadcast(&in->changed);
	pthread_mutex_unlock(&in->lock);
}

struct transport_run {
	struct cluster *c;
	bool loss_tolerant;
	struct inbox inbox;
	struct transport *t;
	char err[512];
};

static void *create_transport(void *arg)
{
	struct transport_run *r = arg;
	r->t = transport_create(r->c, r->loss_tolerant, on_message, &r->inbox, NULL, r->err,
				sizeof(r->err));
	return NULL;
}

/* Joins two nodes and creates their transports, loss-tolerant or not. */
static void create_transports(struct transport_run runs[2], bool loss_tolerant)
{
	setup_nodes(2, 5000);
	join_all(2);
	pthread_t threads[2];
	for (int i = 0; i < 2; i++) {
		runs[i] = (struct transport_run){.c = nodes[i].c, .loss_tolerant = loss_tolerant};
		cr_assert_not_null(runs[i].c, "%s", nodes[i].err);
		pthread_mutex_init(&runs[i].inbox.lock, NULL);
		pthread_cond_init(&runs[i].inbox.changed, NULL);
		pthread_create(&threads[i], NULL, create_transport, &runs[i]);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(threads[i], NULL);
		cr_assert_not_null(runs[i].t, "%s", runs[i].err);
	}
}

/* Waits (3 s at most) until the inbox holds a message. */
static void await_message(struct inbox *in)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 3;
	pthread_mutex_lock(&in->lock);
	while (in->count == 0 && pthread_cond_timedwait(&in->changed, &in->lock, &deadline) == 0)
		;
	pthread_mutex_unlock(&in->lock);
}

static bool shared_memory_path(const char *path)
{
	return !strcmp(path, "sysv") || !strcmp(path, "posix") || !strcmp(path, "xpmem");
}

/* Two processes on one host talk through shared memory, unless the cluster must survive a
 * node's loss (a killed sender can wedge a shared-memory receiver): then through the network. */
Test(transport, a_loss_tolerant_cluster_keeps_out_of_shared_memory)
{
	if (getenv("UCX_TLS"))
		cr_skip_test("UCX_TLS is set (%s), and it chooses the transports",
			     getenv("UCX_TLS"));
	for (int tolerant = 0; tolerant < 2; tolerant++) {
		struct transport_run runs[2];
		create_transports(runs, tolerant);
		for (int i = 0; i < 2; i++) {
			const char *path = transport_peer_path(runs[i].t, 1 - (unsigned)i);
			if (tolerant)
				cr_assert(!shared_memory_path(path) && strcmp(path, "?"),
					  "loss-tolerant, node %d reaches its peer over %s", i,
					  path);
			else
				cr_assert(shared_memory_path(path),
					  "node %d reaches its peer on this host over %s", i, path);
		}
		cr_assert_str_eq(transport_peer_path(runs[0].t, 0), "?", "no path to itself");
		uint8_t byte = 7;
		cr_assert_eq(transport_send(runs[0].t, 1, WIRE_PAYLOAD_FIRST, &byte, 1), 0);
		await_message(&runs[1].inbox);
		cr_assert_eq(runs[1].inbox.count, 1, "a message over %s",
			     transport_peer_path(runs[0].t, 1));
		for (int i = 0; i < 2; i++)
			transport_destroy(runs[i].t);
		leave_all(2);
	}
}

Test(transport, messages_arrive_intact_and_bad_sends_are_refused)
{
	struct transport_run runs[2];
	create_transports(runs, false);
	static uint8_t big[WIRE_MAX_PAYLOAD];
	big[0] = 0x11;
	big[sizeof(big) - 1] = 0x22;
	cr_assert_eq(transport_send(runs[0].t, 1, WIRE_PAYLOAD_FIRST + 1, big, sizeof(big)), 0);
	struct inbox *in = &runs[1].inbox;
	await_message(in);
	cr_assert_eq(in->count, 1);
	cr_assert_eq(in->type, WIRE_PAYLOAD_FIRST + 1);
	cr_assert_eq(in->len, sizeof(big));
	cr_assert_eq(in->first, 0x11);
	cr_assert_eq(in->last, 0x22);
	errno = 0;
	cr_assert_eq(transport_send(runs[0].t, 0, WIRE_PAYLOAD_FIRST, big, 1), -1, "to itself");
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(transport_send(runs[0].t, 2, WIRE_PAYLOAD_FIRST, big, 1), -1, "no node 2");
	cr_assert_eq(transport_send(runs[0].t, 1, WIRE_HEARTBEAT, big, 1), -1, "control type");
	cr_assert_eq(transport_send(runs[0].t, 1, WIRE_PAYLOAD_FIRST, big, sizeof(big) + 1), -1);
	cr_assert_eq(errno, EINVAL);
	char err[512] = "";
	cr_assert_null(transport_create(nodes[0].c, false, on_message, in, NULL, err, sizeof(err)),
		       "a second transport would reuse the session keys");
	cr_assert(strstr(err, "already"), "%s", err);
	for (int i = 0; i < 2; i++)
		transport_destroy(runs[i].t);
	leave_all(2);
}
