/* The command line of the commands that run on the nodes of a configuration (the guest itself,
 * cluster-check, memtest): the options they share (--config, --node, --netns, --accel, --verbose,
 * --help) are parsed here, each command's own options are handed back to it one by one, and every
 * error is reported the same way. */
#ifndef VMM_NODE_OPTIONS_H
#define VMM_NODE_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>

#include "vmm/config.h"

struct node_options {
	const char *config, *node;
	bool netns;
	bool accel_given; /* --accel: replaces [guest] accel once the configuration is loaded */
	enum accel_kind accel;
};

struct node_options_spec {
	const char *command;	    /* "" for the VMM itself, else e.g. "memtest" */
	const char *usage;	    /* --help prints it on stdout and exits 0 */
	const struct option *extra; /* the command's own options, zero-terminated; may be NULL */
	const char *extra_short;    /* their one-letter forms for getopt ("t:"), or NULL */
	/* One of them: `key` is its getopt val (not c, n, N, A, v or h, the common ones), arg its
	 * argument or NULL. -1 refuses the value. */
	int (*take)(void *ctx, int key, const char *arg);
	void *ctx;
};

/* argv[0] is the program or the command. 0 once --config was given and nothing is left over;
 * -1 after a message on stderr naming the problem. */
int node_options_parse(int argc, char **argv, const struct node_options_spec *spec,
		       struct node_options *out);
/* True for --help and -h, which every command answers with its usage on stdout and status 0. */
bool is_help_option(const char *arg);
/* A decimal number from 0 to max, nothing else; -1 otherwise. */
int parse_decimal(const char *text, unsigned long long max, unsigned long long *out);

#endif
