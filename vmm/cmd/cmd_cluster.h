/* The cluster subcommands of vsmp-vmm: `keygen FILE` and `cluster-check`, which forms the cluster
 * of a configuration and exercises its transport without a guest (docs/cluster.md). */
#ifndef VMM_CMD_CLUSTER_H
#define VMM_CMD_CLUSTER_H

#include <stdbool.h>

/* True for the subcommand names cmd_cluster_main handles. */
bool cmd_cluster_handles(const char *subcommand);
/* argv[1] is the subcommand; argv[0] the program, as main() received them. Returns the exit
 * status: 0 success, 1 the cluster or its transport failed, 2 bad input, 130 interrupted. */
int cmd_cluster_main(int argc, char **argv);

#endif
