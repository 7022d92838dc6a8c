/* The counters' table and its two renderings: the key=value line that scripts pick fields out
 * of, and the Prometheus text exposition. A counter is added with one line in `counters`: its
 * key (the line's field, and vsmp_<key>[_total] in Prometheus), its type, whether it exists only
 * with a cache, where its value is in struct node_stats, and its help text. */
#include "vmm/node_stats.h"

#include <stdbool.h>
#include <string.h>

#include "vmm/log.h"

enum counter_type { COUNTER, GAUGE };

struct counter {
	const char *key;
	enum counter_type type;
	bool cache_only;
	size_t offset; /* of its uint64_t in struct node_stats */
	const char *help;
};

#define ENGINE(field) offsetof(struct node_stats, engine.field)

static const struct counter counters[] = {
    {"faults", COUNTER, false, ENGINE(faults),
     "Coherence faults taken on guest RAM (missing pages and writes to read-only copies)"},
    {"messages_in", COUNTER, false, ENGINE(messages_in), "Coherence messages received"},
    {"messages_out", COUNTER, false, ENGINE(messages_out), "Coherence messages sent"},
    {"bytes_in", COUNTER, false, ENGINE(bytes_in), "Bytes of coherence messages received"},
    {"bytes_out", COUNTER, false, ENGINE(bytes_out), "Bytes of coherence messages sent"},
    {"resident_lent_pages", GAUGE, true, ENGINE(lent_resident),
     "Pages homed on a lending node resident in this node's cache now"},
    {"cache_pages", GAUGE, true, offsetof(struct node_stats, cache_pages),
     "The cache's budget in pages (cache_mib)"},
    {"misses", COUNTER, true, ENGINE(lent_misses), "Faults on lent pages that were not resident"},
    {"evictions_clean", COUNTER, true, ENGINE(evictions_clean),
     "Clean lent pages evicted from the cache (dropped)"},
    {"evictions_dirty", COUNTER, true, ENGINE(evictions_dirty),
     "Dirty lent pages evicted from the cache (each written back to its home)"},
    {"writebacks_acked", COUNTER, true, ENGINE(writebacks_acked),
     "Write-backs the lent page's home acknowledged"},
    {"prefetch_issued", COUNTER, true, ENGINE(prefetch_issued),
     "Pages fetched ahead of a sequential run of misses"},
    {"prefetch_used", COUNTER, true, ENGINE(prefetch_used),
     "Pages fetched ahead that the guest then touched"},
    {"prefetch_unused", COUNTER, true, ENGINE(prefetch_unused),
     "Pages fetched ahead and given up without a touch"},
};

#define COUNTER_COUNT (sizeof(counters) / sizeof(counters[0]))

static bool shown(const struct counter *c, const struct node_stats *s)
{
	return !c->cache_only || s->cache_pages;
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
		int n = snprintf(buf + used, len - used, "%s%s=%llu", used ? " " : "",
				 counters[i].key, value(&counters[i], s));
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
