/* The counters' table and its two renderings: the key=value line that scripts pick fields out
 * of, and the Prometheus text exposition. A counter is added with one line in `counters`: its
 * key (the line's field, and vsmp_<key>[_total] in Prometheus), its type, whether it exists only
 * with a cache or with replicas, where its value is in struct node_stats, its help text, and for
 * a state the names of its values (the line shows the name, Prometheus the number). */
#include "vmm/node_stats.h"

#include <stdbool.h>
#include <string.h>

#include "coherence/replicas.h"
#include "vmm/log.h"

enum counter_type { COUNTER, GAUGE };
enum counter_needs { ALWAYS, CACHE, REPLICAS };

struct counter {
	const char *key;
	enum counter_type type;
	enum counter_needs needs;
	size_t offset; /* of its uint64_t in struct node_stats */
	const char *help;
	const char *const *names; /* a state's values, or NULL */
};

static const char *const replica_states[] = {
    [REPLICAS_PROTECTED] = "protected",
    [REPLICAS_REBUILDING] = "rebuilding",
    [REPLICAS_DEGRADED] = "degraded",
};

#define ENGINE(field) offsetof(struct node_stats, engine.field)

static const struct counter counters[] = {
    {"faults", COUNTER, ALWAYS, ENGINE(faults),
     "Coherence faults taken on guest RAM (missing pages and writes to read-only copies)", NULL},
    {"messages_in", COUNTER, ALWAYS, ENGINE(messages_in), "Coherence messages received", NULL},
    {"messages_out", COUNTER, ALWAYS, ENGINE(messages_out), "Coherence messages sent", NULL},
    {"bytes_in", COUNTER, ALWAYS, ENGINE(bytes_in), "Bytes of coherence messages received", NULL},
    {"bytes_out", COUNTER, ALWAYS, ENGINE(bytes_out), "Bytes of coherence messages sent", NULL},
    {"transport_sends", COUNTER, ALWAYS, ENGINE(sends),
     "Messages handed to the transport (a batch of coherence messages is one)", NULL},
    {"host_maps", COUNTER, ALWAYS, ENGINE(host_ops[REGION_HOST_MAP]),
     "Pages mapped into guest RAM's host mapping (a userfaultfd copy each)", NULL},
    {"host_map_ns", COUNTER, ALWAYS, ENGINE(host_ns[REGION_HOST_MAP]),
     "Nanoseconds (wall clock) the host took to map them", NULL},
    {"host_unmaps", COUNTER, ALWAYS, ENGINE(host_ops[REGION_HOST_UNMAP]),
     "Unmappings of guest RAM from the host mapping (a hole punched per run of pages)", NULL},
    {"host_unmap_ns", COUNTER, ALWAYS, ENGINE(host_ns[REGION_HOST_UNMAP]),
     "Nanoseconds (wall clock) the host took to unmap them, TLB invalidations included", NULL},
    {"host_protects", COUNTER, ALWAYS, ENGINE(host_ops[REGION_HOST_PROTECT]),
     "Changes of write protection on guest RAM in the host mapping (one per run of pages)", NULL},
    {"host_protect_ns", COUNTER, ALWAYS, ENGINE(host_ns[REGION_HOST_PROTECT]),
     "Nanoseconds (wall clock) the host took to change it", NULL},
    {"resident_lent_pages", GAUGE, CACHE, ENGINE(lent_resident),
     "Pages homed on a lending node resident in this node's cache now", NULL},
    {"cache_pages", GAUGE, CACHE, offsetof(struct node_stats, cache_pages),
     "The cache's budget in pages (cache_mib)", NULL},
    {"misses", COUNTER, CACHE, ENGINE(lent_misses), "Faults on lent pages that were not resident",
     NULL},
    {"evictions_clean", COUNTER, CACHE, ENGINE(evictions_clean),
     "Clean lent pages evicted from the cache (dropped)", NULL},
    {"evictions_dirty", COUNTER, CACHE, ENGINE(evictions_dirty),
     "Dirty lent pages evicted from the cache (each written back to its home)", NULL},
    {"writebacks_acked", COUNTER, CACHE, ENGINE(writebacks_acked),
     "Write-backs the lent page's home acknowledged", NULL},
    {"lent_unmaps", COUNTER, CACHE, ENGINE(lent_unmaps),
     "Unmappings that gave up lent pages, one per run of consecutive pages given up together (on "
     "x86 Linux a run of 34 pages or more costs one TLB flush, a shorter one an invalidation per "
     "page)",
     NULL},
    {"prefetch_issued", COUNTER, CACHE, ENGINE(prefetch_issued),
     "Pages fetched ahead of a sequential run of misses", NULL},
    {"prefetch_used", COUNTER, CACHE, ENGINE(prefetch_used),
     "Pages fetched ahead that the guest then touched", NULL},
    {"prefetch_unused", COUNTER, CACHE, ENGINE(prefetch_unused),
     "Pages fetched ahead and given up without a touch", NULL},
    {"replica_state", GAUGE, REPLICAS, ENGINE(replica_state),
     "Lent memory's copies as this node knows them: 0 protected (every lent page on two nodes), "
     "1 rebuilding (some on one, a spare receiving copies), 2 degraded (some on one only)",
     replica_states},
    {"replica_pages_copied", COUNTER, REPLICAS, ENGINE(replica_pages_copied),
     "Pages this node copied to a new mirror after a loss", NULL},
};

#define COUNTER_COUNT (sizeof(counters) / sizeof(counters[0]))

static bool shown(const struct counter *c, const struct node_stats *s)
{
	return c->needs == ALWAYS || (c->needs == CACHE && s->cache_pages) ||
	       (c->needs == REPLICAS && s->engine.replicated);
}

static unsigned long long value(const struct counter *c, const struct node_stats *s)
{
	uint64_t v;
	memcpy(&v, (const char *)s + c->offset, sizeof(v));
	return (unsigned long long)v;
}

void node_stats_read(struct engine *e, uint64_t cache_bytes, struct node_stats *out)
{
	engine_get_stats(e, &out->engine);
	out->cache_pages = cache_bytes / 4096;
}

void node_stats_format_line(const struct node_stats *s, char *buf, size_t len)
{
	size_t used = 0;
	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < COUNTER_COUNT && used < len; i++) {
		if (!shown(&counters[i], s))
			continue;
		const struct counter *c = &counters[i];
		unsigned long long v = value(c, s);
		int n = c->names ? snprintf(buf + used, len - used, "%s%s=%s", used ? " " : "",
					    c->key, c->names[v])
				 : snprintf(buf + used, len - used, "%s%s=%llu", used ? " " : "",
					    c->key, v);
		used += n > 0 ? (size_t)n : 0;
	}
}

/* A label value with \, " and newline escaped, as the exposition format requires. */
static int write_label(FILE *out, const char *name, const char *text)
{
	int rc = fprintf(out, "%s=\"", name);
	for (const char *p = text; rc >= 0 && *p; p++)
		rc = *p == '\\'	  ? fputs("\\\\", out)
		     : *p == '"'  ? fputs("\\\"", out)
		     : *p == '\n' ? fputs("\\n", out)
				  : fputc(*p, out);
	return rc < 0 ? rc : fputc('"', out);
}

int node_stats_write_prometheus(FILE *out, const struct node_stats *s, const char *cluster,
				const char *node)
{
	int rc = 0;
	for (size_t i = 0; i < COUNTER_COUNT && rc >= 0; i++) {
		const struct counter *c = &counters[i];
		if (!shown(c, s))
			continue;
		const char *suffix = c->type == COUNTER ? "_total" : "";
		rc = fprintf(out, "# HELP vsmp_%s%s %s.\n# TYPE vsmp_%s%s %s\nvsmp_%s%s{", c->key,
			     suffix, c->help, c->key, suffix,
			     c->type == COUNTER ? "counter" : "gauge", c->key, suffix);
		if (rc >= 0)
			rc = write_label(out, "cluster", cluster);
		if (rc >= 0)
			rc = fputc(',', out);
		if (rc >= 0)
			rc = write_label(out, "node", node);
		if (rc >= 0)
			rc = fprintf(out, "} %llu\n", value(c, s));
	}
	return rc;
}

void node_stats_print(const struct node_stats *s, const char *when)
{
	char line[1024];
	node_stats_format_line(s, line, sizeof(line));
	log_info("%s: %s", when, line);
}
