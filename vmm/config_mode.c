/* The rules of the two cluster modes (docs/config.md).
 *
 * System mode: every node runs vCPUs and homes its share of RAM; nothing is cached or
 * replicated. Memory mode: one node (the compute node) runs every vCPU and keeps at most
 * cache_mib of the memory the others lend resident; every other node has no vCPU and lends its
 * memory_mib, homed there (the NUMA homes), so that each lent page's directory and backing
 * store are on a lending node. */
#include "vmm/config_mode.h"

#include <stdarg.h>
#include <stdio.h>

static int refuse(char *why, size_t whylen, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Returns line, with the message in why. */
static int refuse(char *why, size_t whylen, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return line;
}

static int check_system_mode(const struct cluster_config *cfg, char *why, size_t whylen)
{
	for (unsigned i = 0; i < cfg->node_count; i++) {
		const struct node_config *node = &cfg->nodes[i];
		if (node->vcpus == 0)
			return refuse(why, whylen, node->line,
				      "node '%s' needs vcpus >= 1 in system mode", node->name);
		if (node->cache_line)
			return refuse(why, whylen, node->cache_line,
				      "node '%s': 'cache_mib' is only for mode = \"memory\"",
				      node->name);
	}
	if (cfg->replicas_line)
		return refuse(why, whylen, cfg->replicas_line,
			      "'replicas' is only for mode = \"memory\"");
	return 0;
}

/* A spare lends nothing, runs nothing, comes last (so the guest's NUMA nodes are the others)
 * and only serves replicas. */
static int check_spare(const struct cluster_config *cfg, char *why, size_t whylen)
{
	for (unsigned i = 0; i < cfg->node_count; i++) {
		const struct node_config *node = &cfg->nodes[i];
		if (!node->spare)
			continue;
		if (cfg->mode != CLUSTER_MODE_MEMORY || cfg->replicas < 2)
			return refuse(
			    why, whylen, node->spare_line,
			    "a spare node serves replicas: it needs mode = \"memory\" and "
			    "replicas = 2");
		if (node->vcpus)
			return refuse(why, whylen, node->spare_line,
				      "node '%s' is a spare and cannot run vCPUs", node->name);
		if (i + 1 != cfg->node_count)
			return refuse(why, whylen, node->spare_line,
				      "the spare node '%s' must be the last node", node->name);
	}
	return 0;
}

/* The compute node's rules: it exists, it is alone, and it has a cache; lenders have none. */
static int check_nodes(const struct cluster_config *cfg, int cluster_line, char *why, size_t whylen)
{
	int compute = -1;
	for (unsigned i = 0; i < cfg->node_count; i++) {
		const struct node_config *node = &cfg->nodes[i];
		if (node->vcpus && compute >= 0)
			return refuse(why, whylen, node->line,
				      "memory mode puts all vCPUs on one node, and '%s' has some",
				      cfg->nodes[compute].name);
		if (node->vcpus) {
			compute = (int)i;
			if (!node->cache_line)
				return refuse(why, whylen, node->line,
					      "node '%s' runs the vCPUs in memory mode and needs "
					      "'cache_mib' (how much lent memory it may keep)",
					      node->name);
		} else if (node->cache_line) {
			return refuse(why, whylen, node->cache_line,
				      "node '%s' lends memory (vcpus = 0): 'cache_mib' is only for "
				      "the node with vCPUs",
				      node->name);
		}
	}
	if (compute < 0)
		return refuse(why, whylen, cluster_line,
			      "memory mode needs one node with vcpus >= 1");
	if (cfg->node_count < 2)
		return refuse(why, whylen, cluster_line,
			      "memory mode needs a node with vcpus = 0 to lend memory");
	return 0;
}

static int check_memory_mode(struct cluster_config *cfg, int cluster_line, char *why, size_t whylen)
{
	int line = check_nodes(cfg, cluster_line, why, whylen);
	if (line)
		return line;
	if (cfg->homes != HOMES_NUMA)
		return refuse(why, whylen, cluster_line,
			      "memory mode homes lent memory where it is lent: 'homes' must be "
			      "\"numa\"");
	unsigned lenders = cfg->node_count - 1 - (config_spare_node(cfg) >= 0);
	if (!cfg->replicas)
		cfg->replicas = 1;
	if (cfg->replicas > lenders)
		return refuse(
		    why, whylen, cfg->replicas_line,
		    "replicas = %u needs at least %u nodes lending memory, and there %s %u",
		    cfg->replicas, cfg->replicas, lenders == 1 ? "is" : "are", lenders);
	return check_spare(cfg, why, whylen);
}

int config_check_mode(struct cluster_config *cfg, int cluster_line, char *why, size_t whylen)
{
	if (cfg->mode == CLUSTER_MODE_MEMORY)
		return check_memory_mode(cfg, cluster_line, why, whylen);
	int line = check_system_mode(cfg, why, whylen);
	return line ? line : check_spare(cfg, why, whylen);
}

int config_spare_node(const struct cluster_config *cfg)
{
	for (unsigned i = 0; i < cfg->node_count; i++)
		if (cfg->nodes[i].spare)
			return (int)i;
	return -1;
}

bool config_mirrors(const struct cluster_config *cfg, uint32_t *mirrors)
{
	if (cfg->mode != CLUSTER_MODE_MEMORY || cfg->replicas < 2)
		return false;
	int first = -1, prev = -1;
	for (unsigned i = 0; i < cfg->node_count; i++) {
		mirrors[i] = UINT32_MAX;
		if (cfg->nodes[i].vcpus || cfg->nodes[i].spare)
			continue;
		if (prev >= 0)
			mirrors[prev] = i;
		else
			first = (int)i;
		prev = (int)i;
	}
	mirrors[prev] = (uint32_t)first;
	return true;
}

int config_compute_node(const struct cluster_config *cfg)
{
	if (cfg->mode != CLUSTER_MODE_MEMORY)
		return -1;
	for (unsigned i = 0; i < cfg->node_count; i++)
		if (cfg->nodes[i].vcpus)
			return (int)i;
	return -1;
}
