/* The rules of the two cluster modes, checked once every [[node]] has been read (config.c). */
#ifndef VMM_CONFIG_MODE_H
#define VMM_CONFIG_MODE_H

#include <stddef.h>

#include "vmm/config.h"

/* 0 if the nodes, cache and replicas fit the mode; otherwise the line to blame (cluster_line when
 * no key is to blame) with the reason in why. Sets replicas to its default (1). */
int config_check_mode(struct cluster_config *cfg, int cluster_line, char *why, size_t whylen);

#endif
