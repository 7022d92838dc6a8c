/* Unit tests for the counters' two renderings (vmm/node_stats.c) and the Prometheus file
 * (vmm/prom_file.c): every sample line of the exposition is `name{labels} value` after its own
 * # HELP and # TYPE lines, counters end in _total and gauges do not, the cache's counters appear
 * only with a cache, the key=value line and the exposition carry the same values (one table
 * serves both), label values are escaped, and the file is replaced whole, leaving no temporary
 * file behind. */
#include "vmm/node_stats.h"
#include "vmm/prom_file.h"

#include <criterion/criterion.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every counter a distinct value, so a sample that reads the wrong field shows. */
static struct node_stats sample(uint64_t cache_pages)
{
	return (struct node_stats){.engine = {.faults = 101,
					      .messages_in = 102,
					      .messages_out = 103,
					      .bytes_in = 104,
					      .bytes_out = 105,
					      .lent_resident = 106,
					      .lent_misses = 107,
					      .evictions_clean = 108,
					      .evictions_dirty = 109,
					      .writebacks_acked = 110,
					      .lent_unmaps = 113,
					      .prefetch_issued = 111,
					      .prefetch_used = 112,
					      .prefetch_unused = 18446744073709551615ULL,
					      .sends = 120,
					      .host_ops = {114, 115, 116},
					      .host_ns = {117, 118, 119}},
				   .cache_pages = cache_pages};
}

/* The exposition as a string (freed by the caller). */
static char *exposition(const struct node_stats *s, const char *cluster, const char *node)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	cr_assert_not_null(out);
	cr_assert_geq(node_stats_write_prometheus(out, s, cluster, node), 0);
	cr_assert_eq(fclose(out), 0);
	return text;
}

/* Checks the format line by line and returns the number of samples. */
static unsigned check_format(char *text, const char *labels)
{
	regex_t help, type, line;
	cr_assert_eq(regcomp(&help, "^# HELP (vsmp_[a-z_]+) [^ ].*\\.$", REG_EXTENDED), 0);
	cr_assert_eq(regcomp(&type, "^# TYPE (vsmp_[a-z_]+) (counter|gauge)$", REG_EXTENDED), 0);
	cr_assert_eq(regcomp(&line, "^(vsmp_[a-z_]+)\\{([^}]*)\\} ([0-9]+)$", REG_EXTENDED), 0);
	unsigned samples = 0;
	char *save, name[64] = "", kind[16] = "";
	int expect = 0; /* 0: a HELP line, 1: its TYPE, 2: its sample */
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		regmatch_t m[4];
		if (expect == 0) {
			cr_assert_eq(regexec(&help, l, 4, m, 0), 0, "not a HELP line: %s", l);
			snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
				 l + m[1].rm_so);
		} else if (expect == 1) {
			cr_assert_eq(regexec(&type, l, 4, m, 0), 0, "not a TYPE line: %s", l);
			cr_assert_eq(strncmp(l + m[1].rm_so, name, strlen(name)), 0, "%s", l);
			snprintf(kind, sizeof(kind), "%.*s", (int)(m[2].rm_eo - m[2].rm_so),
				 l + m[2].rm_so);
			size_t n = strlen(name);
			bool total = n > 6 && strcmp(name + n - 6, "_total") == 0;
			cr_assert_eq(total, strcmp(kind, "counter") == 0, "%s is a %s", name, kind);
		} else {
			cr_assert_eq(regexec(&line, l, 4, m, 0), 0, "not a sample: %s", l);
			cr_assert_eq((size_t)(m[1].rm_eo - m[1].rm_so), strlen(name), "%s", l);
			cr_assert_eq(strncmp(l + m[1].rm_so, name, strlen(name)), 0, "%s", l);
			cr_assert_eq(strncmp(l + m[2].rm_so, labels, strlen(labels)), 0, "%s", l);
			samples++;
		}
		expect = (expect + 1) % 3;
	}
	cr_assert_eq(expect, 0, "the exposition ends inside a metric");
	regfree(&help);
	regfree(&type);
	regfree(&line);
	return samples;
}

/* The value of sample `name` in the exposition; false if it is absent. */
static bool sample_value(const char *text, const char *name, unsigned long long *out)
{
	char key[80];
	snprintf(key, sizeof(key), "\n%s{", name);
	const char *p = strstr(text, key);
	if (!p)
		return false;
	*out = strtoull(strchr(p, '}') + 1, NULL, 10);
	return true;
}

/* The value of sample `name`, which must be there. */
static unsigned long long value_of(const char *text, const char *name)
{
	unsigned long long v;
	cr_assert(sample_value(text, name, &v), "no sample %s", name);
	return v;
}

/* The number of fields of the key=value line: the counters shown for s. */
static unsigned line_fields(const struct node_stats *s)
{
	char line[1024];
	unsigned n = 0;
	node_stats_format_line(s, line, sizeof(line));
	for (const char *p = line; (p = strchr(p, '=')); p++)
		n++;
	return n;
}

Test(node_stats, exposition_is_well_formed_with_a_cache)
{
	struct node_stats s = sample(8192);
	char *text = exposition(&s, "mem", "n0");
	cr_assert_eq(value_of(text, "vsmp_misses_total"), 107);
	cr_assert_eq(value_of(text, "vsmp_cache_pages"), 8192);
	cr_assert_eq(value_of(text, "vsmp_resident_lent_pages"), 106);
	cr_assert_eq(value_of(text, "vsmp_evictions_clean_total"), 108);
	cr_assert_eq(value_of(text, "vsmp_evictions_dirty_total"), 109);
	cr_assert_eq(value_of(text, "vsmp_writebacks_acked_total"), 110);
	cr_assert_eq(value_of(text, "vsmp_lent_unmaps_total"), 113);
	cr_assert_eq(value_of(text, "vsmp_prefetch_issued_total"), 111);
	cr_assert_eq(value_of(text, "vsmp_prefetch_used_total"), 112);
	cr_assert(strstr(text, "\nvsmp_prefetch_unused_total{cluster=\"mem\",node=\"n0\"} "
			       "18446744073709551615\n"));
	cr_assert_eq(check_format(text, "cluster=\"mem\",node=\"n0\""), line_fields(&s));
	struct node_stats without = sample(0);
	cr_assert_gt(line_fields(&s), line_fields(&without));
	free(text);
}

Test(node_stats, no_cache_counters_without_a_cache)
{
	struct node_stats s = sample(0);
	char *text = exposition(&s, "mem", "n1");
	cr_assert_eq(value_of(text, "vsmp_faults_total"), 101);
	cr_assert_eq(value_of(text, "vsmp_messages_in_total"), 102);
	cr_assert_eq(value_of(text, "vsmp_messages_out_total"), 103);
	cr_assert_eq(value_of(text, "vsmp_bytes_in_total"), 104);
	cr_assert_eq(value_of(text, "vsmp_bytes_out_total"), 105);
	cr_assert_eq(value_of(text, "vsmp_transport_sends_total"), 120);
	cr_assert_eq(value_of(text, "vsmp_host_maps_total"), 114);
	cr_assert_eq(value_of(text, "vsmp_host_unmap_ns_total"), 118);
	cr_assert_eq(value_of(text, "vsmp_host_protect_ns_total"), 119);
	unsigned long long v;
	cr_assert_not(sample_value(text, "vsmp_misses_total", &v));
	cr_assert_null(strstr(text, "cache_pages"));
	cr_assert_eq(check_format(text, "cluster=\"mem\",node=\"n1\""), line_fields(&s));
	free(text);

	char line[1024];
	node_stats_format_line(&s, line, sizeof(line));
	const char *start =
	    "faults=101 messages_in=102 messages_out=103 bytes_in=104 bytes_out=105";
	cr_assert_eq(strncmp(line, start, strlen(start)), 0, "%s", line);
	cr_assert_null(strstr(line, "misses="), "%s", line);
	cr_assert_null(strstr(line, "cache_pages="), "%s", line);
}

/* Each field of the line is the sample vsmp_<key> or vsmp_<key>_total, with the same value. */
Test(node_stats, line_and_exposition_agree)
{
	struct node_stats s = sample(4);
	char line[1024], *save;
	node_stats_format_line(&s, line, sizeof(line));
	char *text = exposition(&s, "c", "n");
	unsigned fields = 0;
	for (char *f = strtok_r(line, " ", &save); f; f = strtok_r(NULL, " ", &save), fields++) {
		char *eq = strchr(f, '=');
		cr_assert_not_null(eq, "%s", f);
		*eq = '\0';
		char counter[80], gauge[80];
		snprintf(gauge, sizeof(gauge), "vsmp_%s", f);
		snprintf(counter, sizeof(counter), "vsmp_%s_total", f);
		unsigned long long v;
		cr_assert(sample_value(text, counter, &v) || sample_value(text, gauge, &v), "%s",
			  f);
		cr_assert_eq(v, strtoull(eq + 1, NULL, 10), "%s", f);
	}
	cr_assert_eq(fields, check_format(text, "cluster=\"c\",node=\"n\""));
	free(text);
}

/* A state shows by name on the line and by number in the exposition. */
Test(node_stats, replica_state_by_name_and_number)
{
	struct node_stats s = sample(0);
	char line[1024];
	node_stats_format_line(&s, line, sizeof(line));
	cr_assert_null(strstr(line, "replica"), "no replicas, no replica fields: %s", line);
	s.engine.replicated = 1;
	s.engine.replica_state = 2;
	s.engine.replica_pages_copied = 77;
	node_stats_format_line(&s, line, sizeof(line));
	cr_assert(strstr(line, " replica_state=degraded replica_pages_copied=77"), "%s", line);
	char *text = exposition(&s, "c", "n");
	unsigned long long v;
	cr_assert(sample_value(text, "vsmp_replica_state", &v));
	cr_assert_eq(v, 2);
	cr_assert(sample_value(text, "vsmp_replica_pages_copied_total", &v));
	cr_assert_eq(v, 77);
	free(text);
}

Test(node_stats, label_values_are_escaped)
{
	struct node_stats s = sample(0);
	char *text = exposition(&s, "a\\b", "x\"y\nz");
	cr_assert(strstr(text, "vsmp_faults_total{cluster=\"a\\\\b\",node=\"x\\\"y\\nz\"} 101\n"),
		  "%s", text);
	free(text);
}

Test(node_stats, line_is_truncated_not_overrun)
{
	struct node_stats s = sample(1);
	char line[24];
	memset(line, 'X', sizeof(line));
	node_stats_format_line(&s, line, 20);
	cr_assert_str_eq(line, "faults=101 messages");
	cr_assert_eq(line[20], 'X');
}

Test(prom_file, written_whole_into_its_directory)
{
	char dir[] = "/tmp/vsmp-prom.XXXXXX", err[512], path[128], tmp[128];
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(prom_file_check_dir(dir, err, sizeof(err)), 0, "%s", err);
	struct node_stats s = sample(2);
	for (int i = 0; i < 2; i++) { /* the second replaces the first */
		s.engine.faults = 500 + (uint64_t)i;
		cr_assert_eq(prom_file_write(dir, "mem", "n0", &s, err, sizeof(err)), 0, "%s", err);
	}
	snprintf(path, sizeof(path), "%s/vsmp-mem-n0.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s/.vsmp-mem-n0.prom.tmp", dir);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	char text[4096];
	text[0] = '\n';
	size_t n = fread(text + 1, 1, sizeof(text) - 2, f);
	text[n + 1] = '\0';
	fclose(f);
	cr_assert_eq(value_of(text, "vsmp_faults_total"), 501);
	cr_assert_eq(check_format(text + 1, "cluster=\"mem\",node=\"n0\""), line_fields(&s));
	cr_assert_eq(access(tmp, F_OK), -1, "the temporary file was left behind");
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(rmdir(dir), 0);
}

Test(prom_file, refuses_what_is_not_a_directory)
{
	char err[512];
	cr_assert_eq(prom_file_check_dir("/nonexistent/vsmp", err, sizeof(err)), -1);
	cr_assert(strstr(err, "No such file or directory"), "%s", err);
	cr_assert_eq(prom_file_check_dir("/dev/null", err, sizeof(err)), -1);
	cr_assert(strstr(err, "not a directory"), "%s", err);
	struct node_stats s = sample(0);
	cr_assert_eq(prom_file_write("/nonexistent/vsmp", "c", "n", &s, err, sizeof(err)), -1);
	cr_assert(strstr(err, "/nonexistent/vsmp/.vsmp-c-n.prom.tmp"), "%s", err);
}
