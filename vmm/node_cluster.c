/* The configuration -> cluster_params translation, and the key's lifetime: it is wiped from
 * memory as soon as the cluster has derived its session keys. */
#include "vmm/node_cluster.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coherence/cluster.h"
#include "coherence/cluster_key.h"
#include "vmm/config.h"

struct cluster *node_cluster_join(const struct cluster_config *cfg, unsigned self,
				  unsigned join_timeout_s, const struct cluster_ops *ops, void *ctx,
				  bool *bad_input, char *err, size_t errlen)
{
	*bad_input = true;
	if (!cfg->key_file[0]) {
		snprintf(
		    err, errlen,
		    "[cluster] key_file is not set (create a key with 'vsmp-vmm keygen FILE')");
		return NULL;
	}
	uint8_t key[CLUSTER_KEY_SIZE];
	if (cluster_key_load(cfg->key_file, key, err, errlen) < 0)
		return NULL;
	unsigned n = cfg->node_count;
	const char **hosts = calloc(n, sizeof(*hosts)), **names = calloc(n, sizeof(*names));
	uint16_t *ports = calloc(n, sizeof(*ports));
	struct cluster *c = NULL;
	if (!hosts || !names || !ports) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		hosts[i] = cfg->nodes[i].host;
		names[i] = cfg->nodes[i].name;
		ports[i] = cfg->nodes[i].port;
	}
	struct cluster_params params = {.node_count = n,
					.self = self,
					.hosts = hosts,
					.ports = ports,
					.names = names,
					.key = key,
					.join_timeout_ms = join_timeout_s * 1000};
	memcpy(params.config_hash, cfg->hash, sizeof(params.config_hash));
	*bad_input = false;
	c = cluster_join(&params, ops, ctx, err, errlen);
out:
	sodium_memzero(key, sizeof(key));
	free(hosts);
	free(names);
	free(ports);
	return c;
}
