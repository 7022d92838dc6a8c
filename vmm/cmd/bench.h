/* `vsmp-vmm bench ...`: benchmarks that print each result beside its floor measured in the same
 * run, as a ratio, and end with one JSON line for scripts. */
#ifndef VMM_CMD_BENCH_H
#define VMM_CMD_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coherence/homes.h"
#include "vmm/guest_memory.h"

struct cluster_config;

int bench_main(int argc, char **argv);

/* Makes a private directory $TMPDIR/vsmp-NAME.XXXXXX (/tmp without TMPDIR) into dir, for a
 * benchmark's configuration and key; logs and returns -1 if it cannot. */
int bench_make_temp_dir(const char *name, char *dir, size_t len);
/* The configuration of a benchmark's local cluster: a new key in dir, then [cluster] (name
 * "bench", that key, and cluster_keys: more "key = value\n" lines or "") and node_tables, parsed
 * into cfg. Logs and returns -1 if it cannot. */
int bench_cluster_config(const char *dir, const char *cluster_keys, const char *node_tables,
			 struct cluster_config *cfg);
/* The first port of a benchmark's nodes: one per process, so that runs at once do not collide. */
unsigned bench_first_port(void);
/* Removes what bench_cluster_config put in dir, and dir. */
void bench_remove_temp_dir(const char *dir);

/* One node of a benchmark's local cluster: joined, with its memory under a coherence engine. */
struct bench_region {
	struct cluster *cluster;
	struct guest_memory mem;
	struct engine *engine;
};
/* Joins cfg's cluster as node self and puts size bytes of new memory under an engine homed as
 * homes says, keeping at most cache_pages of lent pages resident (0: no bound), with the transport
 * of a loss-tolerant cluster or not (engine_params). A lost peer or an engine failure ends the
 * process with VMM_EXIT_HOST_ERROR: a benchmark cannot go on. */
int bench_region_start(struct bench_region *r, const struct cluster_config *cfg, unsigned self,
		       uint64_t size, struct coh_home_config homes, uint64_t cache_pages,
		       bool loss_tolerant, char *err, size_t errlen);
void bench_region_stop(struct bench_region *r);

#endif
