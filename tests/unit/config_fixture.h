/* The cluster configuration's unit tests' fixture: a mkdtemp directory holding the files whose
 * existence a configuration may check (setup, teardown), parsing text that must be accepted
 * (parse_ok) or refused with a given message (expect_error), and the smallest cluster and node
 * sections, with the lines they take. */
#ifndef TESTS_UNIT_CONFIG_FIXTURE_H
#define TESTS_UNIT_CONFIG_FIXTURE_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/config.h"

static inline void *test_alloc(size_t size)
{
	void *p = malloc(size);
	cr_assert_not_null(p, "out of memory");
	return p;
}

static char dir[64];

static inline void write_file(const char *name, const char *content, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "cannot create %s", path);
	cr_assert_eq(fwrite(content, 1, len, f), len);
	fclose(f);
}

static inline void setup(void)
{
	strcpy(dir, "/tmp/test_config.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	write_file("vmlinux", "kernel", 6);
	write_file("initrd.img", "initrd", 6);
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
}

static inline int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static inline void teardown(void)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline struct cluster_config parse_ok(const char *text)
{
	struct cluster_config cfg;
	char err[512] = "";
	int rc = config_parse(text, strlen(text), "test.toml", dir, &cfg, err, sizeof(err));
	cr_assert_eq(rc, 0, "unexpected error: %s\nfor:\n%s", err, text);
	return cfg;
}

static inline void expect_error(const char *text, const char *expected)
{
	struct cluster_config cfg;
	char err[512] = "";
	cr_assert_eq(config_parse(text, strlen(text), "test.toml", dir, &cfg, err, sizeof(err)), -1,
		     "accepted:\n%s", text);
	cr_assert_null(cfg.nodes);
	cr_assert_null(cfg.devices);
	cr_assert(strstr(err, expected), "for:\n%s\nexpected \"%s\" in \"%s\"", text, expected,
		  err);
}

#define CLUSTER "[cluster]\nname = \"c\"\n"				/* lines 1-2 */
#define NODE0	"[[node]]\nname = \"n0\"\nvcpus = 1\nmemory_mib = 64\n" /* 4 lines */

#endif
