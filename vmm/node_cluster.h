/* Joining the cluster a configuration describes, as one of its nodes: the key file, every node's
 * address and name, and the configuration hash go into cluster_join. Every command that runs a
 * node (the VMM, cluster-check, memtest, bench coherence) joins through here. */
#ifndef VMM_NODE_CLUSTER_H
#define VMM_NODE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

struct cluster;
struct cluster_config;
struct cluster_ops;

/* Returns the joined cluster, or NULL with a message; *bad_input says whether the failure was the
 * user's input (no or unreadable key file) rather than the cluster not forming. */
struct cluster *node_cluster_join(const struct cluster_config *cfg, unsigned self,
				  unsigned join_timeout_s, const struct cluster_ops *ops, void *ctx,
				  bool *bad_input, char *err, size_t errlen);

#endif
