/* A node's coherence counters (resident lent pages, misses, evictions, write-backs, prefetches,
 * bytes each way), described once in one table and rendered from it two ways: as one key=value
 * line on stderr (every --stats N seconds while the guest runs, and once when it stops) and as
 * Prometheus text exposition (--stats-prometheus, vmm/prom_file.c). */
#ifndef VMM_NODE_STATS_H
#define VMM_NODE_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "coherence/engine.h"

/* What the table reads: the engine's counters and the node's cache budget (0 without a cache:
 * a lending node, or system mode; the cache's counters are then left out of both forms). */
struct node_stats {
	struct engine_stats engine;
	uint64_t cache_pages;
};

/* e's counters now; cache_bytes: the node's cache_mib in bytes, 0 without a cache. */
void node_stats_read(struct engine *e, uint64_t cache_bytes, struct node_stats *out);

/* "faults=N messages_in=N ..." in the table's order, NUL-terminated (truncated to len). */
void node_stats_format_line(const struct node_stats *s, char *buf, size_t len);

/* Every counter as Prometheus text exposition (format 0.0.4): a # HELP and a # TYPE line, then
 * `vsmp_<key>{cluster="...",node="..."} value`, counters named with a _total suffix. Returns
 * what fprintf returns last (negative on a write error). */
int node_stats_write_prometheus(FILE *out, const struct node_stats *s, const char *cluster,
				const char *node);

/* s as the line on stderr, prefixed by when: "stats" for the periodic line, "final" for the
 * summary. */
void node_stats_print(const struct node_stats *s, const char *when);

#endif
