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

/* key_file's key with several nodes; with one, a random key: cluster_join wants a key, and with
 * no peer nothing is ever checked against it. */
static int load_key(const struct cluster_config *cfg, uint8_t key[CLUSTER_KEY_SIZE], char *err,
		    size_t errlen)
{
	if (cfg->node_count == 1) {
		if (sodium_init() < 0) {
			snprintf(err, errlen, "libsodium could not be initialised");
			return -1;
		}
		randombytes_buf(key, CLUSTER_KEY_SIZE);
		return 0;
	}
	if (!cfg->key_file[0]) {
		snprintf(err, errlen,
			 "[cluster] key_file is not set: %u nodes need a shared key (create one "
			 "with 'vsmp-vmm keygen FILE')",
			 cfg->node_count);
		return -1;
	}
	return cluster_key_load(cfg->key_file, key, err, errlen);
}

int node_cluster_check_key(const struct cluster_config *cfg, char *err, size_t errlen)
{
	uint8_t key[CLUSTER_KEY_SIZE];
	int rc = load_key(cfg, key, err, errlen);
	sodium_memzero(key, sizeof(key));
	return rc;
}

struct cluster *node_cluster_join(const struct cluster_config *cfg, unsigned self,
				  unsigned join_timeout_s, const struct cluster_ops *ops, void *ctx,
				  bool *bad_input, char *err, size_t errlen)
{
	*bad_input = true;
	uint8_t key[CLUSTER_KEY_SIZE];
	if (load_key(cfg, key, err, errlen) < 0)
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
