/* Unit tests for the strict TOML-subset parser: every accepted form, and every rejection with the
 * exact line and column it reports; hostile input (NULs, stray bytes, huge or deep input). */
#include "vmm/toml.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *test_alloc(size_t size)
{
	void *p = malloc(size);
	cr_assert_not_null(p, "out of memory");
	return p;
}

static struct toml_doc parse_ok_len(const char *text, size_t len)
{
	struct toml_doc doc;
	struct toml_error error;
	char msg[256];
	int rc = toml_parse(text, len, &doc, &error);
	toml_error_format(&error, msg, sizeof(msg));
	cr_assert_eq(rc, 0, "unexpected error: %s", msg);
	return doc;
}

static struct toml_doc parse_ok(const char *text)
{
	return parse_ok_len(text, strlen(text));
}

static void expect_error_len(const char *text, size_t len, const char *expected)
{
	struct toml_doc doc;
	struct toml_error error;
	char msg[256];
	cr_assert_eq(toml_parse(text, len, &doc, &error), -1, "accepted: %s", text);
	cr_assert_eq(doc.table_count, 0);
	cr_assert_null(doc.tables);
	toml_error_format(&error, msg, sizeof(msg));
	cr_assert(strstr(msg, expected), "for input:\n%s\nexpected \"%s\" in \"%s\"", text,
		  expected, msg);
}

static void expect_error(const char *text, const char *expected)
{
	expect_error_len(text, strlen(text), expected);
}

static const struct toml_value *get(const struct toml_doc *doc, size_t table, const char *key)
{
	cr_assert_lt(table, doc->table_count);
	const struct toml_table *t = &doc->tables[table];
	for (size_t i = 0; i < t->key_count; i++) {
		if (strcmp(t->keys[i].name, key) == 0)
			return &t->keys[i].value;
	}
	cr_assert_fail("no key %s in table %zu", key, table);
	return NULL;
}

static int64_t get_int(const char *text)
{
	struct toml_doc doc = parse_ok(text);
	const struct toml_value *v = get(&doc, 0, "v");
	cr_assert_eq(v->type, TOML_INTEGER, "%s", text);
	int64_t value = v->integer;
	toml_free(&doc);
	return value;
}

Test(toml, empty_and_comment_only_input)
{
	struct toml_doc doc = parse_ok_len(NULL, 0);
	cr_assert_eq(doc.table_count, 1);
	cr_assert_str_eq(doc.tables[0].name, "");
	cr_assert_eq(doc.tables[0].key_count, 0);
	toml_free(&doc);
	doc = parse_ok("# just a comment\n\n   \t\n# another, with UTF-8: \xc3\xa9\n");
	cr_assert_eq(doc.table_count, 1);
	toml_free(&doc);
}

Test(toml, tables_and_arrays_of_tables_in_order)
{
	struct toml_doc doc = parse_ok("top = 1\n"
				       "[cluster]\n"
				       "name = \"x\"\n"
				       "[[node]]\n"
				       "name = \"n0\"\n"
				       "[ guest ]  # comment\n"
				       "\n"
				       "[[node]]\n"
				       "name = \"n1\"\n"
				       "[[ empty ]]\n");
	cr_assert_eq(doc.table_count, 6);
	cr_assert_eq(doc.tables[0].key_count, 1);
	const char *names[] = {"", "cluster", "node", "guest", "node", "empty"};
	bool arrays[] = {false, false, true, false, true, true};
	int lines[] = {1, 2, 4, 6, 8, 10};
	for (size_t i = 0; i < 6; i++) {
		cr_assert_str_eq(doc.tables[i].name, names[i]);
		cr_assert_eq(doc.tables[i].is_array, arrays[i], "table %zu", i);
		cr_assert_eq(doc.tables[i].line, lines[i], "table %zu", i);
	}
	cr_assert_str_eq(get(&doc, 2, "name")->string, "n0");
	cr_assert_str_eq(get(&doc, 4, "name")->string, "n1");
	cr_assert_eq(doc.tables[5].key_count, 0);
	toml_free(&doc);
}

Test(toml, keys_keep_their_line_and_column)
{
	struct toml_doc doc = parse_ok("\n\n  alpha\t=   \"v\"\nb=2");
	const struct toml_key *k = &doc.tables[0].keys[0];
	cr_assert_str_eq(k->name, "alpha");
	cr_assert_eq(k->line, 3);
	cr_assert_eq(k->column, 3);
	cr_assert_eq(k->value.line, 3);
	cr_assert_eq(k->value.column, 13);
	cr_assert_eq(doc.tables[0].keys[1].line, 4);
	cr_assert_eq(get(&doc, 0, "b")->integer, 2);
	toml_free(&doc);
}

Test(toml, bare_keys_use_letters_digits_dash_underscore)
{
	struct toml_doc doc = parse_ok("A-z_09 = true\n-1 = false\n");
	cr_assert_eq(get(&doc, 0, "A-z_09")->boolean, true);
	cr_assert_eq(get(&doc, 0, "-1")->type, TOML_BOOLEAN);
	cr_assert_eq(get(&doc, 0, "-1")->boolean, false);
	toml_free(&doc);
}

Test(toml, crlf_line_endings)
{
	struct toml_doc doc = parse_ok("[t]\r\na = 1 # c\r\nb = [\r\n 1,\r\n 2 ]\r\n");
	cr_assert_eq(get(&doc, 1, "a")->integer, 1);
	cr_assert_eq(get(&doc, 1, "b")->item_count, 2);
	cr_assert_eq(doc.tables[1].keys[1].line, 3);
	toml_free(&doc);
}

Test(toml, basic_string_escapes)
{
	struct toml_doc doc = parse_ok("s = \"q\\\" b\\\\ n\\n t\\t r\\r b\\b f\\f\"\n"
				       "u = \"\\u00e9\\u20AC\\U0001F600\"\n"
				       "raw = \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\ttab\"\n"
				       "empty = \"\"\n");
	cr_assert_str_eq(get(&doc, 0, "s")->string, "q\" b\\ n\n t\t r\r b\b f\f");
	cr_assert_str_eq(get(&doc, 0, "u")->string, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	cr_assert_str_eq(get(&doc, 0, "raw")->string,
			 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\ttab");
	cr_assert_str_eq(get(&doc, 0, "empty")->string, "");
	cr_assert_eq(get(&doc, 0, "empty")->string_len, 0);
	toml_free(&doc);
}

Test(toml, escaped_nul_is_kept_with_its_length)
{
	struct toml_doc doc = parse_ok("s = \"a\\u0000b\"\n");
	const struct toml_value *v = get(&doc, 0, "s");
	cr_assert_eq(v->string_len, 3);
	cr_assert_eq(memcmp(v->string, "a\0b", 4), 0);
	toml_free(&doc);
}

Test(toml, literal_strings_take_backslashes_as_is)
{
	struct toml_doc doc = parse_ok("p = 'C:\\path\\n \"x\"'\ne = ''\n");
	cr_assert_str_eq(get(&doc, 0, "p")->string, "C:\\path\\n \"x\"");
	cr_assert_str_eq(get(&doc, 0, "e")->string, "");
	toml_free(&doc);
}

Test(toml, integers)
{
	cr_assert_eq(get_int("v = 0"), 0);
	cr_assert_eq(get_int("v = +0"), 0);
	cr_assert_eq(get_int("v = -0"), 0);
	cr_assert_eq(get_int("v = 42"), 42);
	cr_assert_eq(get_int("v = +17"), 17);
	cr_assert_eq(get_int("v = -17"), -17);
	cr_assert_eq(get_int("v = 1_000_000"), 1000000);
	cr_assert_eq(get_int("v = 0xff"), 255);
	cr_assert_eq(get_int("v = 0xdead_BEEF"), 0xdeadbeef);
	cr_assert_eq(get_int("v = 0x0"), 0);
	cr_assert_eq(get_int("v = 9223372036854775807"), INT64_MAX);
	cr_assert_eq(get_int("v = -9223372036854775808"), INT64_MIN);
	cr_assert_eq(get_int("v = 0x7fffffffffffffff"), INT64_MAX);
	cr_assert_eq(get_int("v = 12 # trailing comment"), 12);
}

Test(toml, booleans)
{
	struct toml_doc doc = parse_ok("t = true\nf = false\n");
	cr_assert_eq(get(&doc, 0, "t")->type, TOML_BOOLEAN);
	cr_assert_eq(get(&doc, 0, "t")->boolean, true);
	cr_assert_eq(get(&doc, 0, "f")->boolean, false);
	toml_free(&doc);
}

Test(toml, arrays_span_lines_with_comments_and_a_trailing_comma)
{
	struct toml_doc doc = parse_ok("a = [\n"
				       "  1, # one\n"
				       "  0x2,\n"
				       "\n"
				       "  -3,\n"
				       "]\n"
				       "s = ['x', \"y\"]\n"
				       "e = []\n"
				       "b = [ true ,false ]\n");
	const struct toml_value *a = get(&doc, 0, "a");
	cr_assert_eq(a->type, TOML_ARRAY);
	cr_assert_eq(a->item_count, 3);
	cr_assert_eq(a->items[0].integer, 1);
	cr_assert_eq(a->items[1].integer, 2);
	cr_assert_eq(a->items[2].integer, -3);
	cr_assert_eq(a->items[2].line, 5);
	cr_assert_eq(a->items[2].column, 3);
	const struct toml_value *s = get(&doc, 0, "s");
	cr_assert_eq(s->item_count, 2);
	cr_assert_str_eq(s->items[1].string, "y");
	cr_assert_eq(get(&doc, 0, "e")->item_count, 0);
	cr_assert_eq(get(&doc, 0, "b")->items[1].boolean, false);
	cr_assert_eq(doc.tables[0].keys[1].line, 7);
	toml_free(&doc);
}

Test(toml, input_is_a_buffer_not_a_c_string)
{
	/* Exactly sized heap copy, so ASan catches any read past the end. */
	const char text[] = "v = 12345";
	char *copy = test_alloc(sizeof(text) - 1);
	memcpy(copy, text, sizeof(text) - 1);
	struct toml_doc doc = parse_ok_len(copy, sizeof(text) - 1);
	cr_assert_eq(get(&doc, 0, "v")->integer, 12345);
	toml_free(&doc);
	doc = parse_ok_len(copy, 7);
	cr_assert_eq(get(&doc, 0, "v")->integer, 123);
	toml_free(&doc);
	free(copy);
	expect_error_len("s = \"abc\"", 8, "line 1, column 5: unterminated string");
	expect_error_len("v = tru", 7, "line 1, column 5: expected a value");
}

Test(toml, rejects_syntax_errors_with_line_and_column)
{
	expect_error("a 1", "line 1, column 3: expected '='");
	expect_error("[t]\n\n\n\n\n# x\n      abcde 5\n", "line 7, column 13: expected '='");
	expect_error("a =", "line 1, column 4: expected a value");
	expect_error("a = # nothing", "line 1, column 5: expected a value");
	expect_error("a = hello", "line 1, column 5: expected a value (strings must be quoted)");
	expect_error("a = nope", "line 1, column 5: expected a value (strings must be quoted)");
	expect_error("a = truex", "line 1, column 5: expected a value (strings must be quoted)");
	expect_error("a = 1 2", "line 1, column 7: expected end of line");
	expect_error("a = \"x\"y", "line 1, column 8: expected end of line");
	expect_error("= 1", "line 1, column 1: expected a key, a [table] or a comment");
	expect_error("[t", "line 1, column 3: expected ']'");
	expect_error("[[t]", "line 1, column 4: expected ']]'");
	expect_error("[[t] ]", "line 1, column 4: expected ']]'");
	expect_error("[]", "line 1, column 2: expected a table name");
	expect_error("[[[t]]]", "line 1, column 3: expected a table name");
	expect_error("[t] x = 1", "line 1, column 5: expected end of line");
}

Test(toml, rejects_unsupported_forms_clearly)
{
	expect_error("a = {x = 1}", "line 1, column 5: inline tables are not supported");
	expect_error("a = 1.5", "line 1, column 5: floating-point numbers are not supported");
	expect_error("a = 1e5", "line 1, column 5: floating-point numbers are not supported");
	expect_error("a = -2E3", "line 1, column 5: floating-point numbers are not supported");
	expect_error("a = inf", "line 1, column 5: floating-point numbers are not supported");
	expect_error("a = -nan", "line 1, column 5: floating-point numbers are not supported");
	expect_error("a = 1979-05-27", "line 1, column 5: dates and times are not supported");
	expect_error("a = 1979-05-27T07:32:00Z", "line 1, column 5: dates and times");
	expect_error("a = 07:32:00", "line 1, column 5: dates and times are not supported");
	expect_error("a = \"\"\"x\"\"\"", "line 1, column 5: multi-line strings are not supported");
	expect_error("a = '''x'''", "line 1, column 5: multi-line strings are not supported");
	expect_error("a.b = 1", "line 1, column 2: dotted keys are not supported");
	expect_error("a .b = 1", "line 1, column 3: dotted keys are not supported");
	expect_error("[a.b]", "line 1, column 3: dotted table names are not supported");
	expect_error("[[a . b]]", "line 1, column 5: dotted table names are not supported");
	expect_error("\"a\" = 1", "line 1, column 1: quoted keys are not supported");
	expect_error("'a' = 1", "line 1, column 1: quoted keys are not supported");
	expect_error("[\"a\"]", "line 1, column 2: quoted table names are not supported");
	expect_error("a = [[1]]", "line 1, column 6: nested arrays are not supported");
	expect_error("a = [{}]", "line 1, column 6: inline tables are not supported");
	expect_error("a = 0o17", "line 1, column 5: octal and binary integers are not supported");
	expect_error("a = 0b101", "line 1, column 5: octal and binary integers are not supported");
}

Test(toml, rejects_redefinitions)
{
	expect_error("a = 1\nb = 2\na = 3\n", "line 3, column 1: duplicate key 'a'");
	expect_error("[t]\na = 1\n[u]\na = 1\n[t]\n", "line 5, column 1: duplicate table [t]");
	expect_error("[t]\n[[t]]\n", "line 2, column 1: 't' is already defined as a table");
	expect_error("[[t]]\n[t]\n", "line 2, column 1: 't' is already defined as an array");
	expect_error("t = 1\n[t]\n", "line 2, column 1: 't' is already defined as a key");
	expect_error("t = 1\n[[t]]\n", "line 2, column 1: 't' is already defined as a key");
	expect_error("[[n]]\na = 1\na = 2\n", "line 3, column 1: duplicate key 'a'");
	/* The same key in different entries of an array of tables is fine. */
	struct toml_doc doc = parse_ok("[[n]]\na = 1\n[[n]]\na = 2\n[t]\nn = 5\n");
	cr_assert_eq(get(&doc, 2, "a")->integer, 2);
	cr_assert_eq(get(&doc, 3, "n")->integer, 5);
	toml_free(&doc);
}

Test(toml, rejects_bad_integers)
{
	expect_error("v = 9223372036854775808", "line 1, column 5: integer out of range");
	expect_error("v = -9223372036854775809", "line 1, column 5: integer out of range");
	expect_error("v = 0x8000000000000000", "line 1, column 5: integer out of range");
	expect_error("v = 0xffffffffffffffffff", "line 1, column 5: integer out of range");
	expect_error("v = 99999999999999999999999999999999999999999999999999999999999999999999",
		     "line 1, column 5: integer out of range");
	expect_error("v = 007", "line 1, column 5: leading zeros are not allowed");
	expect_error("v = -01", "line 1, column 5: leading zeros are not allowed");
	expect_error("v = 1__0", "line 1, column 5: invalid integer");
	expect_error("v = 1_", "line 1, column 5: invalid integer");
	expect_error("v = _1", "line 1, column 5: expected a value");
	expect_error("v = 0x", "line 1, column 5: invalid integer");
	expect_error("v = 0x_1", "line 1, column 5: invalid integer");
	expect_error("v = 0xg", "line 1, column 5: invalid integer");
	expect_error("v = +0x1", "line 1, column 5: invalid integer");
	expect_error("v = 0X1", "line 1, column 5: invalid integer");
	expect_error("v = 12abc", "line 1, column 5: invalid integer");
	expect_error("v = -", "line 1, column 5: invalid integer");
	expect_error("v = +-1", "line 1, column 5: invalid integer");
}

Test(toml, rejects_bad_strings)
{
	expect_error("s = \"abc", "line 1, column 5: unterminated string");
	expect_error("s = 'abc\nt = 1", "line 1, column 5: unterminated string");
	expect_error("s = \"a\\x\"", "line 1, column 7: invalid escape '\\x'");
	expect_error("s = \"a\\ \"", "line 1, column 7: invalid escape");
	expect_error("s = \"a\\", "line 1, column 7: invalid escape");
	expect_error("s = \"\\u12\"", "line 1, column 6: \\u escape needs 4 hex digits");
	expect_error("s = \"\\U0001F60\"", "line 1, column 6: \\U escape needs 8 hex digits");
	expect_error("s = \"\\ud800\"", "line 1, column 6: escape is not a Unicode scalar value");
	expect_error("s = \"\\U00110000\"", "line 1, column 6: escape is not a Unicode scalar");
	expect_error("s = \"a\x01\"", "line 1, column 7: control character 0x01 in string");
	expect_error("s = 'a\x7f'", "line 1, column 7: control character 0x7f in string");
	expect_error("s = \"a\rb\"", "line 1, column 7: control character 0x0d in string");
	expect_error("s = \"\xc0\x80\"", "line 1, column 6: invalid UTF-8 in string");
	expect_error("s = \"\xed\xa0\x80\"", "line 1, column 6: invalid UTF-8 in string");
	expect_error("s = \"\xf4\x90\x80\x80\"", "line 1, column 6: invalid UTF-8 in string");
	expect_error("s = \"ab\xe2\x82\"", "line 1, column 8: invalid UTF-8 in string");
	expect_error("s = '\xff'", "line 1, column 6: invalid UTF-8 in string");
}

Test(toml, rejects_bad_arrays)
{
	expect_error("a = [1, 'x']", "line 1, column 9: array elements must all have the same type "
				     "(integer, not string)");
	expect_error("a = [\n'x',\n true]", "line 3, column 2: array elements must all have the "
					    "same type (string, not boolean)");
	expect_error("a = [1 2]", "line 1, column 8: expected ',' or ']'");
	expect_error("a = [1,,2]", "line 1, column 8: expected a value");
	expect_error("a = [,]", "line 1, column 6: expected a value");
	expect_error("x = 1\na = [1,\n2,\n", "line 2, column 5: unterminated array");
	expect_error("a = [1", "line 1, column 5: unterminated array");
	expect_error("a = [1 # c\n", "line 1, column 5: unterminated array");
	expect_error("a = [1, \"x\n", "line 1, column 9: unterminated string");
}

Test(toml, rejects_control_bytes_and_nul_everywhere)
{
	expect_error_len("a = 1\n\0", 7, "line 2, column 1: expected a key");
	expect_error_len("a\0 = 1", 6, "line 1, column 2: expected '='");
	expect_error_len("a = \"x\0y\"", 9, "line 1, column 7: control character 0x00 in string");
	expect_error_len("a = 1 # c\0\n", 11,
			 "line 1, column 10: control character 0x00 in comment");
	expect_error_len("a = 1\0", 6, "line 1, column 6: expected end of line");
	expect_error_len("a = [1,\0]", 9, "line 1, column 8: expected a value");
	expect_error_len("a = \0", 5, "line 1, column 5: expected a value");
	expect_error_len("a = 1\0\n", 7, "line 1, column 6: expected end of line");
	expect_error("a = 1\rb = 2", "line 1, column 6: expected end of line");
	expect_error("# bad \x7f\n", "line 1, column 7: control character 0x7f in comment");
	expect_error("# bad \xff\n", "line 1, column 7: invalid UTF-8 in comment");
	expect_error("\xef\xbb\xbf"
		     "a = 1",
		     "line 1, column 1: expected a key");
}

Test(toml, deep_and_odd_input)
{
	/* Nothing recurses: a long run of brackets is one error, not a deep stack. */
	static char text[100005];
	size_t n = sizeof(text);
	memcpy(text, "a = ", 4);
	memset(text + 4, '[', n - 4);
	expect_error_len(text, n, "line 1, column 6: nested arrays are not supported");
	memset(text, '[', n);
	expect_error_len(text, n, "line 1, column 3: expected a table name");
	memset(text, '\n', n);
	text[n - 1] = '=';
	expect_error_len(text, n, "line 100005, column 1: expected a key");
}

/* Many distinct keys and tables: redefinition checks must stay fast (hash set, not pairs). */
Test(toml, large_documents_parse_quickly)
{
	size_t keys = 100000, size = keys * 32;
	char *text = test_alloc(size);
	size_t len = 0;
	for (size_t i = 0; i < keys; i++)
		len += (size_t)snprintf(text + len, size - len, "k%zu = %zu\n", i, i);
	for (size_t i = 0; i < 20000; i++)
		len += (size_t)snprintf(text + len, size - len, "[t%zu]\n[[a]]\n", i);
	struct toml_doc doc = parse_ok_len(text, len);
	cr_assert_eq(doc.tables[0].key_count, keys);
	cr_assert_eq(get(&doc, 0, "k99999")->integer, 99999);
	cr_assert_eq(doc.table_count, 1 + 40000);
	toml_free(&doc);
	len += (size_t)snprintf(text + len, size - len, "[t123]\n");
	expect_error_len(text, len, "line 140001, column 1: duplicate table [t123]");
	free(text);
}

Test(toml, long_arrays_and_strings)
{
	size_t items = 50000, size = items * 4 + 16;
	char *text = test_alloc(size);
	size_t len = (size_t)snprintf(text, size, "a = [");
	for (size_t i = 0; i < items; i++)
		len += (size_t)snprintf(text + len, size - len, "'',");
	len += (size_t)snprintf(text + len, size - len, "]");
	struct toml_doc doc = parse_ok_len(text, len);
	cr_assert_eq(get(&doc, 0, "a")->item_count, items);
	toml_free(&doc);
	free(text);

	size_t chars = 200000;
	text = test_alloc(chars + 8);
	memcpy(text, "s = \"", 5);
	memset(text + 5, 'x', chars);
	text[chars + 5] = '"';
	doc = parse_ok_len(text, chars + 6);
	cr_assert_eq(get(&doc, 0, "s")->string_len, chars);
	toml_free(&doc);
	free(text);
}

Test(toml, type_names)
{
	cr_assert_str_eq(toml_type_name(TOML_STRING), "string");
	cr_assert_str_eq(toml_type_name(TOML_INTEGER), "integer");
	cr_assert_str_eq(toml_type_name(TOML_BOOLEAN), "boolean");
	cr_assert_str_eq(toml_type_name(TOML_ARRAY), "array");
}
