/* Shared option parsing for the node commands (node_options.h): one getopt_long table made of
 * the common options followed by the command's own, so "--config" means the same everywhere and
 * each command only writes what is its own. */
#include "vmm/node_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"

#define MAX_OPTIONS 24

enum {
	KEY_CONFIG = 'c',
	KEY_NODE = 'n',
	KEY_NETNS = 'N',
	KEY_ACCEL = 'A',
	KEY_VERBOSE = 'v',
	KEY_HELP = 'h'
};
#define COMMON_SHORT "c:n:vh"

static const struct option common_options[] = {
    {"config", required_argument, NULL, KEY_CONFIG}, {"node", required_argument, NULL, KEY_NODE},
    {"netns", no_argument, NULL, KEY_NETNS},	     {"accel", required_argument, NULL, KEY_ACCEL},
    {"verbose", no_argument, NULL, KEY_VERBOSE},     {"help", no_argument, NULL, KEY_HELP},
};

#define COMMON_COUNT (sizeof(common_options) / sizeof(common_options[0]))

static int usage_error(const struct node_options_spec *spec, const char *what, const char *arg)
{
	const char *sep = spec->command[0] ? " " : "";
	fprintf(stderr, "vsmp-vmm: %s%s%s%s%s%s\n(try 'vsmp-vmm %s%s--help')\n", spec->command,
		spec->command[0] ? ": " : "", what, arg ? " '" : "", arg ? arg : "", arg ? "'" : "",
		spec->command, sep);
	return -1;
}

/* The common options, then the command's; -1 if they do not fit. */
static int build_table(const struct node_options_spec *spec, struct option *table)
{
	size_t n = 0;
	for (; n < COMMON_COUNT; n++)
		table[n] = common_options[n];
	for (const struct option *o = spec->extra; o && o->name; o++) {
		if (n == MAX_OPTIONS - 1)
			return -1;
		table[n++] = *o;
	}
	table[n] = (struct option){NULL, 0, NULL, 0};
	return 0;
}

static const char *option_name(const struct option *table, int key)
{
	for (; table->name; table++)
		if (table->val == key)
			return table->name;
	return "?";
}

static int take_common(const struct node_options_spec *spec, int key, struct node_options *out)
{
	switch (key) {
	case KEY_CONFIG:
		out->config = optarg;
		return 0;
	case KEY_NODE:
		out->node = optarg;
		return 0;
	case KEY_NETNS:
		out->netns = true;
		return 0;
	case KEY_ACCEL:
		out->accel_given = true;
		return accel_kind_from_name(optarg, &out->accel);
	case KEY_VERBOSE:
		log_set_verbose(true);
		return 0;
	case KEY_HELP:
		fputs(spec->usage, stdout);
		exit(0);
	}
	return 1; /* not a common option */
}

int node_options_parse(int argc, char **argv, const struct node_options_spec *spec,
		       struct node_options *out)
{
	struct option table[MAX_OPTIONS];
	char shortopts[32];
	int len = snprintf(shortopts, sizeof(shortopts), "%s%s", COMMON_SHORT,
			   spec->extra_short ? spec->extra_short : "");
	if (build_table(spec, table) < 0 || len >= (int)sizeof(shortopts))
		return usage_error(spec, "too many options", NULL);
	*out = (struct node_options){0};
	optind = 1;
	opterr = 1; /* getopt names an unknown option or a missing argument itself */
	int key;
	while ((key = getopt_long(argc, argv, shortopts, table, NULL)) != -1) {
		if (key == '?')
			return usage_error(spec, "invalid arguments", NULL);
		int rc = take_common(spec, key, out);
		if (rc == 1)
			rc = spec->take ? spec->take(spec->ctx, key, optarg) : -1;
		if (rc < 0) {
			char what[64];
			snprintf(what, sizeof(what),
				 "invalid value for --%s:", option_name(table, key));
			return usage_error(spec, what, optarg);
		}
	}
	if (optind < argc)
		return usage_error(spec, "unexpected argument", argv[optind]);
	if (!out->config)
		return usage_error(spec, "--config FILE is required", NULL);
	return 0;
}

bool is_help_option(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int parse_decimal(const char *text, unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v > max)
		return -1;
	*out = v;
	return 0;
}
