/* Runs every node of a configuration as a process on this host, optionally each in a network
 * namespace of its own, and supervises them (docs/cluster.md, "Running all nodes on one host"). */
#ifndef VMM_LAUNCHER_H
#define VMM_LAUNCHER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmm/node_options.h"

struct cluster_config;

/* Starts /proc/self/exe once per node with argv (less any --netns) plus "--node NAME", forwards
 * SIGINT/SIGTERM to them (as SIGINT, unless the terminal sent it to them too) and waits for all.
 * When one fails the others get 2 s to stop by themselves, then SIGTERM, then SIGKILL 1.5 s later.
 * Returns the exit status to use: 130 if the launcher was interrupted; 6 (node lost) if a node was
 * killed by a signal it did not send; the status of a node that exited non-zero for a reason of its
 * own (not 6); else the first non-zero status, else 0; 2 if the nodes could not be started. The
 * failed node is named on stderr, with how every node ended. Namespaces and veths it created are
 * removed before it returns. With pin, the nodes that have vCPUs run each on a share of the
 * CPUs the launcher may use (host_cpus_share). */
int launcher_run(const struct cluster_config *cfg, bool netns, bool pin, int argc, char **argv);

/* In a node the launcher started with --netns: points every node's host at the address of its
 * namespace (the launcher passes them in VSMP_NODE_HOSTS). Does nothing when that is unset. */
int launcher_apply_host_override(struct cluster_config *cfg, char *err, size_t errlen);

/* What every node command does with its configuration: load it (--accel replacing [guest] accel;
 * a launched node gets the option too), then either launch every node of a multi-node
 * configuration on this host (no `node` given) or run `node` (default: the first) in this
 * process through run_node. Bad input exits 2 with a message. */
struct node_command {
	struct node_options opts; /* opts.node NULL: launch them all (or run the only one) */
	bool launch;		  /* false: never launch; without a node, run_node gets node 0 */
	bool pin;		  /* launched nodes on CPUs of their own (launcher_run) */
	int argc;		  /* the whole command line, for the launcher to re-run per node */
	char **argv;
	int (*run_node)(const struct cluster_config *cfg, unsigned self, void *ctx);
	void *ctx;
};

int node_command_run(const struct node_command *cmd);

/* The signals that stop a node (SIGINT, SIGTERM), and whether one is pending. A node blocks them
 * in its threads and only polls a signalfd for them, never taking one, so one that arrived stays
 * pending until the exit: a peer lost at any moment after it was most likely stopped by the same
 * Ctrl-C, and is not blamed. (A library thread that did not block them dies of the signal
 * instead, with the whole node, which the launcher counts as 130 too.) */
void node_stop_signals(sigset_t *set);
bool node_stop_signal_pending(void);

#endif
