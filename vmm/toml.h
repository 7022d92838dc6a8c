/* A strict parser for the small TOML subset that cluster.toml uses: [table] and [[array]] headers
 * with plain names, bare keys, and values that are strings, integers, booleans or one-typed arrays
 * of those. Anything else is rejected with the line and column of the offending byte. The result
 * is a flat list of tables in order of appearance; every value remembers its line so the caller
 * can name it in its own errors. */
#ifndef VMM_TOML_H
#define VMM_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum toml_type { TOML_STRING, TOML_INTEGER, TOML_BOOLEAN, TOML_ARRAY };

struct toml_value {
	enum toml_type type;
	int line, column;
	char *string; /* NUL-terminated; \u0000 can put NULs inside, so also see string_len */
	size_t string_len;
	int64_t integer;
	bool boolean;
	struct toml_value *items; /* TOML_ARRAY: all items have the same scalar type */
	size_t item_count;
};

struct toml_key {
	char *name;
	int line, column;
	struct toml_value value;
};

struct toml_table {
	char *name;    /* "" for the root table (keys before the first header) */
	bool is_array; /* one entry of a [[name]] array of tables */
	int line;      /* line of the header; 1 for the root table */
	struct toml_key *keys;
	size_t key_count;
};

/* tables[0] is the root table; the others follow in the order their headers appear. */
struct toml_doc {
	struct toml_table *tables;
	size_t table_count;
};

struct toml_error {
	int line, column; /* 1-based; the column counts bytes */
	char what[160];
};

/* Parses len bytes of text (any bytes, NULs included). On failure returns -1 with doc empty and
 * error filled in. */
int toml_parse(const char *text, size_t len, struct toml_doc *doc, struct toml_error *error);
void toml_free(struct toml_doc *doc);

/* "line L, column C: what" */
void toml_error_format(const struct toml_error *error, char *buf, size_t len);
const char *toml_type_name(enum toml_type type);

#endif
