/* The configuration hash (docs/config.md, "Configuration hash"): BLAKE2b-256 over every field the
 * nodes of a cluster must agree on, each number as 8 little-endian bytes and each string preceded
 * by its length, so that formatting, comments and key order do not change it and no two
 * different configurations hash the same bytes. Paths and accel are left out (config.h says why).
 */
#include "vmm/config_hash.h"

#include <sodium.h>
#include <string.h>

static void hash_u64(crypto_generichash_state *state, uint64_t value)
{
	uint8_t bytes[8];
	for (int i = 0; i < 8; i++)
		bytes[i] = (uint8_t)(value >> (8 * i));
	crypto_generichash_update(state, bytes, sizeof(bytes));
}

/* Length first, so that no two different field sequences hash the same bytes. */
static void hash_string(crypto_generichash_state *state, const char *s)
{
	hash_u64(state, strlen(s));
	crypto_generichash_update(state, (const unsigned char *)s, strlen(s));
}

void config_compute_hash(struct cluster_config *cfg)
{
	crypto_generichash_state state;
	crypto_generichash_init(&state, NULL, 0, sizeof(cfg->hash));
	hash_string(&state, "vsmp-vmm cluster config 1");
	hash_string(&state, cfg->name);
	hash_u64(&state, cfg->mode);
	hash_u64(&state, cfg->homes);
	hash_u64(&state, cfg->memory_view);
	hash_u64(&state, cfg->replicas);
	hash_u64(&state, cfg->guest.kind);
	hash_string(&state, cfg->guest.cmdline);
	hash_u64(&state, cfg->guest.unknown_io);
	hash_u64(&state, cfg->node_count);
	for (unsigned i = 0; i < cfg->node_count; i++) {
		const struct node_config *node = &cfg->nodes[i];
		hash_string(&state, node->name);
		hash_string(&state, node->host);
		hash_u64(&state, node->port);
		hash_u64(&state, node->vcpus);
		hash_u64(&state, node->memory_bytes);
		hash_u64(&state, node->cache_bytes);
	}
	hash_u64(&state, cfg->device_count);
	for (unsigned i = 0; i < cfg->device_count; i++) {
		hash_u64(&state, cfg->devices[i].kind);
		hash_u64(&state, cfg->devices[i].owner);
	}
	crypto_generichash_final(&state, cfg->hash, sizeof(cfg->hash));
}
