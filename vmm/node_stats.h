/* A node's coherence counters (resident lent pages, misses, evictions, write-backs, prefetches,
 * bytes each way) as one line on stderr: every --stats N seconds while the guest runs, and once
 * when it stops. */
#ifndef VMM_NODE_STATS_H
#define VMM_NODE_STATS_H

#include <stdint.h>

struct engine;

/* when: "stats" for the periodic line, "final" for the summary; cache_bytes: the node's
 * cache_mib in bytes, 0 without a cache. */
void node_stats_print(struct engine *e, uint64_t cache_bytes, const char *when);

#endif
