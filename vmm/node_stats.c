/* One line of counters, key=value so that scripts can pick fields out of it. Without a cache (a
 * lending node, or system mode) the cache's fields are left out. */
#include "vmm/node_stats.h"

#include <stdio.h>

#include "coherence/engine.h"
#include "vmm/log.h"

void node_stats_print(struct engine *e, uint64_t cache_bytes, const char *when)
{
	struct engine_stats st;
	engine_get_stats(e, &st);
	char cache[512] = "";
	if (cache_bytes)
		snprintf(
		    cache, sizeof(cache),
		    " resident_lent_pages=%llu cache_pages=%llu misses=%llu "
		    "evictions_clean=%llu evictions_dirty=%llu writebacks_acked=%llu "
		    "prefetch_issued=%llu prefetch_used=%llu prefetch_unused=%llu",
		    (unsigned long long)st.lent_resident, (unsigned long long)(cache_bytes / 4096),
		    (unsigned long long)st.lent_misses, (unsigned long long)st.evictions_clean,
		    (unsigned long long)st.evictions_dirty, (unsigned long long)st.writebacks_acked,
		    (unsigned long long)st.prefetch_issued, (unsigned long long)st.prefetch_used,
		    (unsigned long long)st.prefetch_unused);
	log_info("%s: faults=%llu messages_in=%llu messages_out=%llu bytes_in=%llu "
		 "bytes_out=%llu%s",
		 when, (unsigned long long)st.faults, (unsigned long long)st.messages_in,
		 (unsigned long long)st.messages_out, (unsigned long long)st.bytes_in,
		 (unsigned long long)st.bytes_out, cache);
}
