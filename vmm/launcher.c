/* The local launcher: one VMM process per node of a configuration, all on this host.
 *
 * Each node is this same binary (/proc/self/exe) re-run with the launcher's own arguments plus
 * "--node NAME". With --netns each node gets a network namespace, vsmp-<pid>-<i>, whose eth0 is
 * a veth onto a bridge that lives in one more namespace, vsmp-<pid>-br, so nothing is added to
 * the host's own network: node i is 192.168.213.<i+1>/24 there, and the nodes learn these
 * addresses from VSMP_NODE_HOSTS in place of the configuration's hosts (ports are kept), and use
 * UCX over TCP unless UCX_TLS says otherwise. The namespaces are made and removed with iproute2's
 * `ip`; deleting a namespace deletes its end of each veth, and with it the pair.
 *
 * The launcher blocks SIGINT, SIGTERM and SIGCHLD and takes them with sigtimedwait, so a signal
 * arriving at any point is handled in one place: forwarded to the nodes, which then exit (130),
 * after which the namespaces are removed. Each node is killed by the kernel if the launcher dies
 * (PR_SET_PDEATHSIG), so none is left behind even then.
 *
 * With pinning (the guest's launches, unless --no-pin), each node with vCPUs is started on its
 * share of the launcher's CPUs (host_cpus_share), set between fork and exec.
 *
 * When a node fails, the others notice (its connections close) and stop by themselves with
 * "node lost" (6), each saying so; a survivor may well be reaped before the failed node. So the
 * launcher blames no node for exiting 6: the failed node is the one killed by a signal it did
 * not send, or that exited with another status, and the others get LOSS_GRACE_MS to report it
 * before the stragglers get SIGTERM, then SIGKILL. With replicas (memory mode), a lending node
 * killed is a loss the others survive: they go on, and the run's status is theirs.
 */
#include "vmm/launcher.h"

#include "vmm/config.h"
#include "vmm/host_cpus.h"
#include "vmm/log.h"
#include "vmm/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NETNS_SUBNET	"192.168.213"
#define NETNS_MAX_NODES 250
#define LOSS_GRACE_MS	2000 /* for the others to report a failed node and stop */
#define KILL_GRACE_MS	1500 /* from SIGTERM to SIGKILL for those that did not */
#define SIGNAL_GRACE_MS 5000 /* after the launcher was interrupted */
#define HOSTS_ENV	"VSMP_NODE_HOSTS"

extern char **environ;

struct launch {
	const struct cluster_config *cfg;
	bool netns;
	bool pin; /* each node with vCPUs on its share of the CPUs (host_cpus.h) */
	pid_t self;
	unsigned namespaces; /* created so far: the bridge's, then nodes 0..namespaces-2 */
	pid_t *pids;	     /* 0 once reaped */
	int *ends;	     /* wait status of each node, once reaped */
	bool *survived;	     /* killed, and the others went on without it (replicas) */
	unsigned alive;
	int culprit; /* the node whose failure stopped the others; -1: none (yet) */
	bool interrupted;
	uint64_t terminate_at; /* ms; 0: no node has failed */
	uint64_t kill_at;      /* ms; 0: not scheduled, UINT64_MAX: done */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs `ip` with the words of the formatted command line; 0 if it succeeded. */
static int run_ip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run_ip(const char *fmt, ...)
{
	char command[512], line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(command, sizeof(command), fmt, ap);
	va_end(ap);
	memcpy(line, command, sizeof(line));
	char *argv[24] = {"ip"};
	int argc = 1;
	char *save;
	for (char *w = strtok_r(line, " ", &save); w && argc < 23; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	pid_t pid;
	int status;
	int rc = posix_spawnp(&pid, "ip", NULL, NULL, argv, environ);
	if (rc != 0) {
		log_error("cannot run ip: %s", strerror(rc));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_error("'ip %s' failed", command);
		return -1;
	}
	return 0;
}

static void namespace_name(const struct launch *l, unsigned node, char *out, size_t size)
{
	snprintf(out, size, "vsmp-%d-%u", (int)l->self, node);
}

static void remove_namespaces(struct launch *l)
{
	char ns[64];
	for (unsigned i = 1; i < l->namespaces; i++) {
		namespace_name(l, i - 1, ns, sizeof(ns));
		run_ip("netns del %s", ns);
	}
	if (l->namespaces > 0)
		run_ip("netns del vsmp-%d-br", (int)l->self);
	l->namespaces = 0;
}

static int add_node_namespace(struct launch *l, unsigned i)
{
	char ns[64];
	namespace_name(l, i, ns, sizeof(ns));
	if (run_ip("netns add %s", ns) < 0)
		return -1;
	l->namespaces++;
	int br = (int)l->self;
	if (run_ip("-n %s link add eth0 type veth peer name p%u netns vsmp-%d-br", ns, i, br) ||
	    run_ip("-n vsmp-%d-br link set p%u master br0 up", br, i) ||
	    run_ip("-n %s addr add " NETNS_SUBNET ".%u/24 dev eth0", ns, i + 1) ||
	    run_ip("-n %s link set eth0 up", ns) || run_ip("-n %s link set lo up", ns))
		return -1;
	return 0;
}

static int create_namespaces(struct launch *l)
{
	unsigned n = l->cfg->node_count;
	if (n > NETNS_MAX_NODES) {
		log_error("--netns supports at most %d nodes", NETNS_MAX_NODES);
		return -1;
	}
	int br = (int)l->self;
	if (run_ip("netns add vsmp-%d-br", br) < 0)
		return -1;
	l->namespaces = 1;
	if (run_ip("-n vsmp-%d-br link add br0 type bridge", br) ||
	    run_ip("-n vsmp-%d-br link set br0 up", br))
		return -1;
	char hosts[NETNS_MAX_NODES * 16] = "";
	size_t used = 0;
	for (unsigned i = 0; i < n; i++) {
		if (add_node_namespace(l, i) < 0)
			return -1;
		used += (size_t)snprintf(hosts + used, sizeof(hosts) - used,
					 "%s" NETNS_SUBNET ".%u", i ? "," : "", i + 1);
	}
	setenv(HOSTS_ENV, hosts, 1);
	/* UCX's shared-memory transports wake a sleeping receiver through a socket that does not
	 * cross network namespaces, and separate namespaces stand for separate hosts anyway. */
	setenv("UCX_TLS", "tcp", 0);
	return 0;
}

/* The node's arguments: ours without --netns, then --node NAME. Everything else is passed on
 * as given (--accel, the command's own options), so each node parses what the user wrote. */
static char **node_argv(int argc, char **argv, const char *name)
{
	char **out = calloc((size_t)argc + 3, sizeof(*out));
	if (!out)
		return NULL;
	int n = 0;
	for (int i = 0; i < argc; i++)
		if (i == 0 || strcmp(argv[i], "--netns") != 0)
			out[n++] = argv[i];
	out[n++] = "--node";
	out[n++] = (char *)name;
	return out;
}

/* The node takes SIGINT and SIGTERM as the launcher forwards them, even when the launcher was
 * started with them ignored (as a shell starts a background job): the launcher itself still
 * takes them, since it blocks them. */
static void exec_node(const struct launch *l, unsigned i, char **args, const sigset_t *old)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigprocmask(SIG_SETMASK, old, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != l->self)
		_exit(127); /* the launcher is already gone */
	if (l->netns) {
		char path[96], ns[64];
		namespace_name(l, i, ns, sizeof(ns));
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
			log_error("cannot enter network namespace %s: %s", ns, strerror(errno));
			_exit(VMM_EXIT_BAD_INPUT);
		}
		close(fd);
	}
	execv("/proc/self/exe", args);
	log_error("cannot run /proc/self/exe: %s", strerror(errno));
	_exit(127);
}

/* Node i's CPUs, when it is pinned: the nodes with vCPUs share the host's CPUs among them; a
 * lending node (memory mode) mostly waits, and is left to the scheduler. */
static bool node_cpu_share(const struct launch *l, unsigned i, unsigned *first, unsigned *count)
{
	unsigned computing = 0, index = 0;
	for (unsigned k = 0; k < l->cfg->node_count; k++) {
		if (k == i)
			index = computing;
		computing += l->cfg->nodes[k].vcpus > 0;
	}
	return l->pin && l->cfg->nodes[i].vcpus > 0 &&
	       host_cpus_share(index, computing, host_cpus_count(), first, count);
}

static int start_nodes(struct launch *l, int argc, char **argv, const sigset_t *old)
{
	for (unsigned i = 0; i < l->cfg->node_count; i++) {
		unsigned first, count;
		bool pinned = node_cpu_share(l, i, &first, &count);
		if (pinned)
			log_debug("node %s runs on %u CPU%s, from the launcher's CPU #%u on",
				  l->cfg->nodes[i].name, count, count > 1 ? "s" : "", first);
		char **args = node_argv(argc, argv, l->cfg->nodes[i].name);
		pid_t pid = args ? fork() : -1;
		if (pid == 0 && pinned)
			host_cpus_pin(first, count);
		if (pid == 0)
			exec_node(l, i, args, old);
		free(args);
		if (pid < 0) {
			log_error("cannot start node %s: %s", l->cfg->nodes[i].name,
				  strerror(errno));
			return -1;
		}
		l->pids[i] = pid;
		l->alive++;
	}
	return 0;
}

static void signal_nodes(struct launch *l, int sig)
{
	for (unsigned i = 0; i < l->cfg->node_count; i++)
		if (l->pids[i])
			kill(l->pids[i], sig);
}

void node_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
}

bool node_stop_signal_pending(void)
{
	sigset_t pending;
	return sigpending(&pending) == 0 &&
	       (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM));
}

/* A node's end as a shell would give it: its exit status, or 128 + the signal that killed it. */
static int exit_code(int ws)
{
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* The node that failed, as opposed to the ones that stopped because it did: one killed by a
 * signal the launcher did not send, or one that exited non-zero for a reason of its own (not
 * "node lost"). Once the launcher has signalled the nodes, they only do as they were told. */
static bool is_culprit(const struct launch *l, int ws)
{
	if (l->interrupted || l->kill_at)
		return false;
	if (WIFSIGNALED(ws))
		return true;
	return WEXITSTATUS(ws) != 0 && WEXITSTATUS(ws) != VMM_EXIT_NODE_LOST;
}

/* A lending node killed while every lent page has a second copy: the guest goes on. If it
 * cannot (a second loss), the others stop by themselves and say so. */
static bool loss_survived(const struct launch *l, unsigned i, int ws)
{
	const struct node_config *node = &l->cfg->nodes[i];
	return is_culprit(l, ws) && WIFSIGNALED(ws) && l->cfg->mode == CLUSTER_MODE_MEMORY &&
	       l->cfg->replicas >= 2 && node->vcpus == 0;
}

static void node_ended(struct launch *l, unsigned i, int ws)
{
	l->pids[i] = 0;
	l->alive--;
	l->ends[i] = ws;
	if (exit_code(ws) == 0)
		return;
	if (loss_survived(l, i, ws)) {
		l->survived[i] = true;
		log_error(
		    "node %s lost: killed by signal %d (%s); the others go on with the copies "
		    "of its memory",
		    l->cfg->nodes[i].name, WTERMSIG(ws), strsignal(WTERMSIG(ws)));
		return;
	}
	/* The others get a grace to report the failure and stop by themselves. */
	if (!l->terminate_at)
		l->terminate_at = now_ms() + LOSS_GRACE_MS;
	if (l->culprit < 0 && is_culprit(l, ws))
		l->culprit = (int)i;
}

static void reap(struct launch *l)
{
	int ws;
	pid_t pid;
	while ((pid = waitpid(-1, &ws, WNOHANG)) > 0) {
		unsigned i = 0;
		while (i < l->cfg->node_count && l->pids[i] != pid)
			i++;
		if (i < l->cfg->node_count)
			node_ended(l, i, ws);
	}
}

/* SIGINT to every node at once, as the terminal sends it: a node that ended on it before
 * another had it would be seen by that one as lost. So every node is stopped (and seen stopped)
 * before any is sent SIGINT, and all have it pending when they go on. */
static void interrupt_nodes(struct launch *l)
{
	signal_nodes(l, SIGSTOP);
	for (unsigned i = 0; i < l->cfg->node_count; i++) {
		int ws;
		pid_t pid = l->pids[i];
		pid_t got = 0;
		while (pid && (got = waitpid(pid, &ws, WUNTRACED)) < 0 && errno == EINTR)
			;
		if (pid && got == pid && !WIFSTOPPED(ws))
			node_ended(l, i, ws);
	}
	signal_nodes(l, SIGINT);
	signal_nodes(l, SIGCONT);
}

/* Past the grace after a failure, the nodes still running get SIGTERM, then SIGKILL. */
static void stop_stragglers(struct launch *l, uint64_t now)
{
	if (l->terminate_at && now >= l->terminate_at && !l->kill_at && !l->interrupted) {
		for (unsigned i = 0; i < l->cfg->node_count; i++)
			if (l->pids[i])
				log_error(
				    "node %s still running %d ms after the failure: terminating it",
				    l->cfg->nodes[i].name, LOSS_GRACE_MS);
		signal_nodes(l, SIGTERM);
		l->kill_at = now + KILL_GRACE_MS;
	}
	if (l->kill_at && now >= l->kill_at) {
		signal_nodes(l, SIGKILL);
		l->kill_at = UINT64_MAX;
	}
}

static uint64_t next_deadline(const struct launch *l)
{
	if (l->kill_at && l->kill_at != UINT64_MAX)
		return l->kill_at;
	if (l->terminate_at && !l->kill_at && !l->interrupted)
		return l->terminate_at;
	return 0;
}

/* Waits for every node, forwarding signals and enforcing the grace and kill deadlines. SIGINT or
 * SIGTERM for the launcher reaches the nodes as SIGINT, so that each ends with 130, also one
 * that is killed by it before it handles it. A SIGINT the terminal sent (Ctrl-C) went to the
 * nodes as well, in its foreground process group: it is not sent a second time, which
 * cluster-check would take for "kill at once". */
static void supervise(struct launch *l, const sigset_t *set)
{
	for (;;) {
		reap(l);
		if (l->alive == 0)
			return;
		uint64_t now = now_ms();
		stop_stragglers(l, now);
		uint64_t deadline = next_deadline(l);
		uint64_t wait_ms = deadline > now ? deadline - now : deadline ? 0 : 1000;
		struct timespec ts = {(time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000};
		siginfo_t info;
		int sig = sigtimedwait(set, &info, &ts);
		if (sig == SIGINT || sig == SIGTERM) {
			l->interrupted = true;
			if (info.si_code != SI_KERNEL)
				interrupt_nodes(l);
			if (!l->kill_at)
				l->kill_at = now_ms() + SIGNAL_GRACE_MS;
		}
	}
}

/* "n0 6, n1 137 (signal 9), n2 6": how each node ended, as a shell would say it. */
static void describe_ends(const struct launch *l, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < l->cfg->node_count && used < size; i++) {
		int ws = l->ends[i];
		const char *sep = i ? ", " : "";
		const char *name = l->cfg->nodes[i].name;
		int n = snprintf(out + used, size - used, "%s%s %d", sep, name, exit_code(ws));
		used += n > 0 ? (size_t)n : 0;
		if (WIFSIGNALED(ws) && used < size)
			n = snprintf(out + used, size - used, " (signal %d)", WTERMSIG(ws));
		else
			n = 0;
		used += n > 0 ? (size_t)n : 0;
	}
}

/* The launcher's exit status, with the message that explains it: interrupted, 130; a node lost
 * (killed by a signal), "node lost", naming it; a node that failed by itself, its status; else
 * node 0's, or if that is 0 the first other node's that is not. */
static int launch_status(const struct launch *l)
{
	int status = exit_code(l->ends[0]);
	if (l->interrupted) {
		status = VMM_EXIT_INTERRUPTED;
	} else if (l->culprit >= 0) {
		int ws = l->ends[l->culprit];
		const char *name = l->cfg->nodes[l->culprit].name;
		if (WIFSIGNALED(ws)) {
			log_error("node %s lost: killed by signal %d (%s)", name, WTERMSIG(ws),
				  strsignal(WTERMSIG(ws)));
			status = VMM_EXIT_NODE_LOST;
		} else {
			log_error("node %s failed: exited with status %d", name, exit_code(ws));
			status = exit_code(ws);
		}
	} else {
		for (unsigned i = 0; i < l->cfg->node_count; i++)
			if (exit_code(l->ends[i]) != 0 && status == 0 && !l->survived[i])
				status = exit_code(l->ends[i]);
		if (status == VMM_EXIT_NODE_LOST)
			log_error("nodes reported a loss but none died (one too slow to answer its "
				  "heartbeats, or cut off): their messages say which");
	}
	if (status != 0) {
		char ends[1024];
		describe_ends(l, ends, sizeof(ends));
		log_error("node exits: %s", ends);
	}
	return status;
}

int launcher_run(const struct cluster_config *cfg, bool netns, bool pin, int argc, char **argv)
{
	struct launch l = {.cfg = cfg, .netns = netns, .pin = pin, .self = getpid(), .culprit = -1};
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	l.pids = calloc(cfg->node_count, sizeof(*l.pids));
	l.ends = calloc(cfg->node_count, sizeof(*l.ends));
	l.survived = calloc(cfg->node_count, sizeof(*l.survived));
	int status = VMM_EXIT_BAD_INPUT;
	bool ready = l.pids && l.ends && l.survived && (!netns || create_namespaces(&l) == 0);
	if (ready && start_nodes(&l, argc, argv, &old) < 0)
		signal_nodes(&l, SIGKILL);
	else if (ready)
		status = -1;
	supervise(&l, &set);
	if (status < 0)
		status = launch_status(&l);
	remove_namespaces(&l);
	free(l.pids);
	free(l.ends);
	free(l.survived);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return status;
}

int launcher_apply_host_override(struct cluster_config *cfg, char *err, size_t errlen)
{
	const char *p = getenv(HOSTS_ENV);
	if (!p)
		return 0;
	for (unsigned i = 0; i < cfg->node_count; i++) {
		size_t len = strcspn(p, ",");
		char end = i + 1 == cfg->node_count ? '\0' : ',';
		if (len == 0 || len >= sizeof(cfg->nodes[i].host) || p[len] != end) {
			snprintf(err, errlen, "%s must list one host for each of the %u nodes",
				 HOSTS_ENV, cfg->node_count);
			return -1;
		}
		memcpy(cfg->nodes[i].host, p, len);
		cfg->nodes[i].host[len] = '\0';
		p += len + 1;
	}
	return 0;
}

int node_command_run(const struct node_command *cmd)
{
	struct cluster_config cfg;
	char err[1024];
	if (config_load_file(cmd->opts.config, &cfg, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return VMM_EXIT_BAD_INPUT;
	}
	if (cmd->opts.accel_given)
		cfg.guest.accel = cmd->opts.accel;
	int node = cmd->opts.node ? config_find_node(&cfg, cmd->opts.node) : 0;
	int status;
	if (node < 0) {
		log_error("%s: no node named '%s'", cmd->opts.config, cmd->opts.node);
		status = VMM_EXIT_BAD_INPUT;
	} else if (cmd->launch && !cmd->opts.node && cfg.node_count > 1) {
		status = launcher_run(&cfg, cmd->opts.netns, cmd->pin, cmd->argc, cmd->argv);
	} else if (launcher_apply_host_override(&cfg, err, sizeof(err)) < 0) {
		log_error("%s", err);
		status = VMM_EXIT_BAD_INPUT;
	} else {
		log_set_node(cfg.nodes[node].name);
		status = cmd->run_node(&cfg, (unsigned)node, cmd->ctx);
	}
	config_free(&cfg);
	return status;
}
