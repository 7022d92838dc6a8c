/* The hash every node of a cluster compares to know they all run the same configuration. */
#ifndef VMM_CONFIG_HASH_H
#define VMM_CONFIG_HASH_H

#include "vmm/config.h"

/* Fills cfg->hash from the parsed configuration. */
void config_compute_hash(struct cluster_config *cfg);

#endif
