/* Joining the cluster a configuration describes, as one of its nodes: the key file, every node's
 * address and name, and the configuration hash go into cluster_join. Every command that runs a
 * node (the VMM, cluster-check, memtest, bench coherence) joins through here, and --check-config
 * checks the key file the same way. Only a configuration of several nodes needs a key: a single
 * node has no peer to prove anything to. */
#ifndef VMM_NODE_CLUSTER_H
#define VMM_NODE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

struct cluster;
struct cluster_config;
struct cluster_ops;

/* Returns the joined cluster, or NULL with a message; *bad_input says whether the failure was the
 * user's input (no or unreadable key file) rather than the cluster not forming. A single node
 * joins at once, under a random key. */
struct cluster *node_cluster_join(const struct cluster_config *cfg, unsigned self,
				  unsigned join_timeout_s, const struct cluster_ops *ops, void *ctx,
				  bool *bad_input, char *err, size_t errlen);
/* What node_cluster_join would say of the key file (not set, missing, open to group or others,
 * malformed), without joining; 0 if it would take it, or if the configuration has one node. */
int node_cluster_check_key(const struct cluster_config *cfg, char *err, size_t errlen);

#endif
