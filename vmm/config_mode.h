/* The rules of the two cluster modes, checked once every [[node]] has been read (config.c). */
#ifndef VMM_CONFIG_MODE_H
#define VMM_CONFIG_MODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"

/* 0 if the nodes, cache and replicas fit the mode; otherwise the line to blame (cluster_line when
 * no key is to blame) with the reason in why. Sets replicas to its default (1). */
int config_check_mode(struct cluster_config *cfg, int cluster_line, char *why, size_t whylen);
/* Memory mode: the spare node, or -1. */
int config_spare_node(const struct cluster_config *cfg);
/* Memory mode with replicas = 2: fills mirrors[node_count] with the node that keeps a second copy
 * of each node's memory (UINT32_MAX, i.e. COH_NO_MIRROR, for the compute node and the spare) and
 * returns true; false without replicas. */
bool config_mirrors(const struct cluster_config *cfg, uint32_t *mirrors);

#endif
