/* Strict TOML-subset parser (see toml.h for the subset).
 *
 * One pass over the buffer, one logical line at a time: a line is blank, a comment, a table
 * header or "key = value"; only an array may continue onto further lines. Nothing outside the
 * subset is skipped or guessed at: floats, dates, inline tables, multi-line strings, dotted or
 * quoted names each get their own message, so a config that parses means what it says.
 *
 * The input is hostile: every read goes through peek(), which returns -1 past the end, there is
 * no recursion (arrays hold scalars only), strings and comments must be valid UTF-8, and every
 * allocation is proportional to the input. Redefinitions (a key twice in one table, [t] twice,
 * [t] next to [[t]], a table named like a top-level key) are found through one hash set, so
 * checking them costs linear time however many keys a hostile file has.
 */
#include "vmm/toml.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Owner ids in the name set: 0 holds table names, 1 + i holds the keys of doc->tables[i]. */
#define TABLE_NAMES 0

struct name_entry {
	const char *name; /* NULL: empty slot */
	size_t owner;
	bool is_array;
};

struct name_set {
	struct name_entry *slots;
	size_t capacity, used; /* capacity is a power of two */
};

struct scanner {
	const unsigned char *text;
	size_t len, pos;
	int line;
	size_t line_start; /* offset of the current line's first byte */
	struct toml_doc *doc;
	struct toml_error *error;
	struct name_set names;
	char *scratch; /* decoded string being built */
	size_t scratch_len, scratch_cap;
};

static int fail_at(struct scanner *s, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct scanner *s, int line, int column, const char *fmt, ...)
{
	va_list ap;
	s->error->line = line;
	s->error->column = column;
	va_start(ap, fmt);
	vsnprintf(s->error->what, sizeof(s->error->what), fmt, ap);
	va_end(ap);
	return -1;
}

static int column_of(const struct scanner *s, size_t pos)
{
	return (int)(pos - s->line_start) + 1;
}

#define fail_here(s, ...) fail_at((s), (s)->line, column_of((s), (s)->pos), __VA_ARGS__)

static int peek(const struct scanner *s, size_t ahead)
{
	if (ahead >= s->len - s->pos)
		return -1;
	return s->text[s->pos + ahead];
}

static bool is_bare_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* TOML forbids every control character except tab outside of newlines. */
static bool is_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static bool is_hex_digit(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	return (unsigned)((c | 0x20) - 'a' + 10);
}

/* Length of the valid UTF-8 sequence at p (overlong forms, surrogates and values past U+10FFFF
 * are invalid), or 0. */
static size_t utf8_sequence_length(const unsigned char *p, size_t avail)
{
	size_t n;
	uint32_t cp, min;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2, cp = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3, cp = p[0] & 0x0f, min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4, cp = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Arrays grow to the next power of two, so their count alone tells when they are full. Returns the
 * array with room for one more element (perhaps moved), or NULL with the old one still allocated.
 */
static void *room_for_one_more(void *array, size_t count, size_t elem_size)
{
	if (count & (count - 1))
		return array;
	size_t capacity = count ? count * 2 : 1;
	if (capacity > SIZE_MAX / elem_size)
		return NULL;
	return realloc(array, capacity * elem_size);
}

static uint64_t name_hash(size_t owner, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull ^ owner;
	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
	return h;
}

static struct name_entry *name_set_find(const struct name_set *set, size_t owner, const char *name)
{
	size_t mask = set->capacity - 1;
	for (size_t i = name_hash(owner, name) & mask;; i = (i + 1) & mask) {
		struct name_entry *e = &set->slots[i];
		if (!e->name || (e->owner == owner && strcmp(e->name, name) == 0))
			return e;
	}
}

/* Keeps the load at most one half so that probing stays short and always ends. */
static int name_set_grow(struct name_set *set)
{
	if (set->slots && set->used < set->capacity / 2)
		return 0;
	struct name_set bigger = {.capacity = set->slots ? set->capacity * 2 : 64};
	bigger.slots = calloc(bigger.capacity, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -1;
	for (size_t i = 0; i < set->capacity; i++) {
		if (set->slots[i].name)
			*name_set_find(&bigger, set->slots[i].owner, set->slots[i].name) =
			    set->slots[i];
	}
	bigger.used = set->used;
	free(set->slots);
	*set = bigger;
	return 0;
}

/* Returns the existing entry for (owner, name), or adds one and returns NULL. */
static int name_set_add(struct name_set *set, size_t owner, const char *name, bool is_array,
			struct name_entry **existing)
{
	if (name_set_grow(set))
		return -1;
	struct name_entry *e = name_set_find(set, owner, name);
	*existing = e->name ? e : NULL;
	if (!e->name) {
		*e = (struct name_entry){.name = name, .owner = owner, .is_array = is_array};
		set->used++;
	}
	return 0;
}

static void skip_blanks(struct scanner *s)
{
	while (peek(s, 0) == ' ' || peek(s, 0) == '\t')
		s->pos++;
}

/* Consumes "\n" or "\r\n"; a lone "\r" is a control character, not a line end. */
static bool take_newline(struct scanner *s)
{
	size_t n = peek(s, 0) == '\n' ? 1 : (peek(s, 0) == '\r' && peek(s, 1) == '\n') ? 2 : 0;
	if (!n)
		return false;
	s->pos += n;
	s->line++;
	s->line_start = s->pos;
	return true;
}

static bool at_line_end(const struct scanner *s)
{
	int c = peek(s, 0);
	return c == -1 || c == '\n' || (c == '\r' && peek(s, 1) == '\n');
}

/* Checks one character of a string or comment body and returns its length in bytes. */
static int take_text_char(struct scanner *s, const char *where, size_t *n)
{
	int c = peek(s, 0);
	if (is_control(c))
		return fail_here(s, "control character 0x%02x in %s", c, where);
	*n = utf8_sequence_length(s->text + s->pos, s->len - s->pos);
	if (!*n)
		return fail_here(s, "invalid UTF-8 in %s", where);
	return 0;
}

static int skip_comment(struct scanner *s)
{
	if (peek(s, 0) != '#')
		return 0;
	s->pos++;
	while (!at_line_end(s)) {
		size_t n;
		if (take_text_char(s, "comment", &n))
			return -1;
		s->pos += n;
	}
	return 0;
}

static int finish_line(struct scanner *s)
{
	skip_blanks(s);
	if (skip_comment(s))
		return -1;
	if (peek(s, 0) == -1 || take_newline(s))
		return 0;
	return fail_here(s, "expected end of line");
}

static int scratch_append(struct scanner *s, const void *bytes, size_t n)
{
	while (s->scratch_cap - s->scratch_len < n + 1) {
		size_t cap = s->scratch_cap ? s->scratch_cap * 2 : 64;
		char *grown = realloc(s->scratch, cap);
		if (!grown)
			return fail_here(s, "out of memory");
		s->scratch = grown;
		s->scratch_cap = cap;
	}
	memcpy(s->scratch + s->scratch_len, bytes, n);
	s->scratch_len += n;
	s->scratch[s->scratch_len] = '\0';
	return 0;
}

static int append_code_point(struct scanner *s, uint32_t cp)
{
	unsigned char buf[4];
	size_t n;
	if (cp < 0x80) {
		buf[0] = (unsigned char)cp, n = 1;
	} else if (cp < 0x800) {
		buf[0] = (unsigned char)(0xc0 | cp >> 6), n = 2;
	} else if (cp < 0x10000) {
		buf[0] = (unsigned char)(0xe0 | cp >> 12), n = 3;
	} else {
		buf[0] = (unsigned char)(0xf0 | cp >> 18), n = 4;
	}
	for (size_t i = 1; i < n; i++)
		buf[i] = (unsigned char)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3f));
	return scratch_append(s, buf, n);
}

/* \uXXXX or \UXXXXXXXX, with s->pos on the backslash. */
static int take_unicode_escape(struct scanner *s, size_t digits)
{
	int column = column_of(s, s->pos);
	uint32_t cp = 0;
	for (size_t i = 0; i < digits; i++) {
		int c = peek(s, 2 + i);
		if (!is_hex_digit(c))
			return fail_at(s, s->line, column, "\\%c escape needs %zu hex digits",
				       digits == 4 ? 'u' : 'U', digits);
		cp = cp << 4 | hex_value(c);
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return fail_at(s, s->line, column, "escape is not a Unicode scalar value");
	s->pos += 2 + digits;
	return append_code_point(s, cp);
}

static int take_escape(struct scanner *s)
{
	static const char simple_from[] = "btnfr\"\\";
	static const char simple_to[] = "\b\t\n\f\r\"\\";
	int c = peek(s, 1);
	if (c == 'u' || c == 'U')
		return take_unicode_escape(s, c == 'u' ? 4 : 8);
	const char *found = c > 0 ? strchr(simple_from, c) : NULL;
	if (!found) {
		if (c > 0x20 && c < 0x7f)
			return fail_here(s, "invalid escape '\\%c'", c);
		return fail_here(s, "invalid escape");
	}
	s->pos += 2;
	return scratch_append(s, &simple_to[found - simple_from], 1);
}

/* Moves the decoded scratch string into v. */
static int store_string(struct scanner *s, struct toml_value *v)
{
	v->type = TOML_STRING;
	v->string = malloc(s->scratch_len + 1);
	if (!v->string)
		return fail_here(s, "out of memory");
	if (s->scratch_len)
		memcpy(v->string, s->scratch, s->scratch_len);
	v->string[s->scratch_len] = '\0';
	v->string_len = s->scratch_len;
	return 0;
}

/* A basic ("...") or literal ('...') string on one line. */
static int parse_string(struct scanner *s, struct toml_value *v)
{
	int quote = peek(s, 0);
	bool basic = quote == '"';
	if (peek(s, 1) == quote && peek(s, 2) == quote)
		return fail_here(s, "multi-line strings are not supported");
	s->pos++;
	s->scratch_len = 0;
	for (;;) {
		int c = peek(s, 0);
		if (at_line_end(s))
			return fail_at(s, v->line, v->column, "unterminated string");
		if (c == quote) {
			s->pos++;
			return store_string(s, v);
		}
		if (basic && c == '\\') {
			if (take_escape(s))
				return -1;
			continue;
		}
		size_t n;
		if (take_text_char(s, "string", &n) || scratch_append(s, s->text + s->pos, n))
			return -1;
		s->pos += n;
	}
}

static bool token_equals(const char *token, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(token, word, len) == 0;
}

static bool looks_like_date_or_time(const char *t, size_t len)
{
	if (memchr(t, ':', len))
		return true;
	for (size_t i = 0; i < 4; i++) {
		if (i >= len || t[i] < '0' || t[i] > '9')
			return false;
	}
	return len > 4 && t[4] == '-';
}

/* Digits in base 10 or 16 with single underscores between them, into magnitude <= limit. */
static int parse_digits(struct scanner *s, const struct toml_value *v, const char *t, size_t len,
			unsigned base, uint64_t limit, uint64_t *magnitude)
{
	uint64_t value = 0;
	if (len == 0 || t[0] == '_' || t[len - 1] == '_')
		return fail_at(s, v->line, v->column, "invalid integer");
	for (size_t i = 0; i < len; i++) {
		if (t[i] == '_') {
			if (t[i + 1] == '_')
				return fail_at(s, v->line, v->column, "invalid integer");
			continue;
		}
		bool digit = base == 16 ? is_hex_digit(t[i]) : (t[i] >= '0' && t[i] <= '9');
		if (!digit)
			return fail_at(s, v->line, v->column, "invalid integer");
		unsigned d = hex_value(t[i]);
		if (value > (limit - d) / base)
			return fail_at(s, v->line, v->column, "integer out of range");
		value = value * base + d;
	}
	*magnitude = value;
	return 0;
}

static int parse_integer_token(struct scanner *s, struct toml_value *v, const char *t, size_t len)
{
	uint64_t magnitude;
	v->type = TOML_INTEGER;
	if (len >= 2 && t[0] == '0' && t[1] == 'x') {
		if (parse_digits(s, v, t + 2, len - 2, 16, INT64_MAX, &magnitude))
			return -1;
		v->integer = (int64_t)magnitude;
		return 0;
	}
	bool negative = t[0] == '-';
	if (t[0] == '-' || t[0] == '+')
		t++, len--;
	if (len > 1 && t[0] == '0') {
		if (t[1] == 'o' || t[1] == 'b')
			return fail_at(s, v->line, v->column,
				       "octal and binary integers are not supported");
		if (t[1] >= '0' && t[1] <= '9')
			return fail_at(s, v->line, v->column, "leading zeros are not allowed");
		return fail_at(s, v->line, v->column, "invalid integer");
	}
	uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (parse_digits(s, v, t, len, 10, limit, &magnitude))
		return -1;
	v->integer = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
	return 0;
}

/* Everything that starts like a number: integers, and the floats and dates we reject. */
static int parse_number(struct scanner *s, struct toml_value *v)
{
	const char *t = (const char *)s->text + s->pos;
	size_t len = 0;
	for (int c; (c = peek(s, len)) != -1 && (is_bare_key_char(c) || (c && strchr("+.:", c)));)
		len++;
	s->pos += len;
	const char *digits = (t[0] == '+' || t[0] == '-') ? t + 1 : t;
	size_t digits_len = len - (size_t)(digits - t);
	bool hex = digits_len >= 2 && digits[0] == '0' && digits[1] == 'x';
	if (looks_like_date_or_time(t, len))
		return fail_at(s, v->line, v->column, "dates and times are not supported");
	if (token_equals(digits, digits_len, "inf") || token_equals(digits, digits_len, "nan"))
		return fail_at(s, v->line, v->column, "floating-point numbers are not supported");
	if (t[0] >= 'a' && t[0] <= 'z')
		return fail_at(s, v->line, v->column, "expected a value (strings must be quoted)");
	bool starts_with_digit = digits_len && digits[0] >= '0' && digits[0] <= '9';
	if (starts_with_digit &&
	    (memchr(t, '.', len) || (!hex && (memchr(t, 'e', len) || memchr(t, 'E', len)))))
		return fail_at(s, v->line, v->column, "floating-point numbers are not supported");
	return parse_integer_token(s, v, t, len);
}

static int parse_boolean(struct scanner *s, struct toml_value *v)
{
	const char *t = (const char *)s->text + s->pos;
	size_t len = 0;
	while (is_bare_key_char(peek(s, len)))
		len++;
	v->type = TOML_BOOLEAN;
	if (token_equals(t, len, "true"))
		v->boolean = true;
	else if (!token_equals(t, len, "false"))
		return fail_here(s, "expected a value (strings must be quoted)");
	s->pos += len;
	return 0;
}

static int parse_array(struct scanner *s, struct toml_value *v);

/* One value at s->pos; arrays only at the top (in_array false). */
static int parse_value(struct scanner *s, struct toml_value *v, bool in_array)
{
	int c = peek(s, 0);
	v->line = s->line;
	v->column = column_of(s, s->pos);
	if (c == '"' || c == '\'')
		return parse_string(s, v);
	if (c == '[')
		return in_array ? fail_here(s, "nested arrays are not supported")
				: parse_array(s, v);
	if (c == '{')
		return fail_here(s, "inline tables are not supported");
	if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'i' || c == 'n')
		return parse_number(s, v);
	if (c == 't' || c == 'f')
		return parse_boolean(s, v);
	if (c == -1 || at_line_end(s) || c == '#' || c == ',' || c == ']')
		return fail_here(s, "expected a value");
	return fail_here(s, "expected a value (strings must be quoted)");
}

/* Whitespace, comments and newlines between array elements. */
static int skip_array_space(struct scanner *s)
{
	for (;;) {
		skip_blanks(s);
		if (skip_comment(s))
			return -1;
		if (!take_newline(s))
			return 0;
	}
}

static void value_free(struct toml_value *v)
{
	for (size_t i = 0; i < v->item_count; i++)
		free(v->items[i].string);
	free(v->items);
	free(v->string);
	*v = (struct toml_value){0};
}

static int append_item(struct scanner *s, struct toml_value *array)
{
	struct toml_value item = {0};
	if (parse_value(s, &item, true))
		return -1;
	if (array->item_count && item.type != array->items[0].type) {
		fail_at(s, item.line, item.column,
			"array elements must all have the same type (%s, not %s)",
			toml_type_name(array->items[0].type), toml_type_name(item.type));
		value_free(&item);
		return -1;
	}
	struct toml_value *items = room_for_one_more(array->items, array->item_count, sizeof(item));
	if (!items) {
		value_free(&item);
		return fail_here(s, "out of memory");
	}
	array->items = items;
	array->items[array->item_count++] = item;
	return 0;
}

static int parse_array(struct scanner *s, struct toml_value *v)
{
	v->type = TOML_ARRAY;
	s->pos++;
	for (;;) {
		if (skip_array_space(s))
			return -1;
		if (peek(s, 0) == ']')
			break;
		if (peek(s, 0) == -1)
			return fail_at(s, v->line, v->column, "unterminated array");
		if (append_item(s, v) || skip_array_space(s))
			return -1;
		if (peek(s, 0) == ']')
			break;
		if (peek(s, 0) == -1)
			return fail_at(s, v->line, v->column, "unterminated array");
		if (peek(s, 0) != ',')
			return fail_here(s, "expected ',' or ']'");
		s->pos++;
	}
	s->pos++;
	return 0;
}

/* A bare key or table name; what says which, for messages. */
static int parse_name(struct scanner *s, const char *what, char **name)
{
	size_t len = 0;
	while (is_bare_key_char(peek(s, len)))
		len++;
	if (len == 0) {
		int c = peek(s, 0);
		if (c == '"' || c == '\'')
			return fail_here(s, "quoted %ss are not supported", what);
		return fail_here(s, "expected a %s", what);
	}
	*name = strndup((const char *)s->text + s->pos, len);
	if (!*name)
		return fail_here(s, "out of memory");
	s->pos += len;
	skip_blanks(s);
	if (peek(s, 0) == '.')
		return fail_here(s, "dotted %ss are not supported", what);
	return 0;
}

static struct toml_table *current_table(struct scanner *s)
{
	return &s->doc->tables[s->doc->table_count - 1];
}

/* Fills key; on failure the caller frees what it holds. */
static int parse_key_value_into(struct scanner *s, struct toml_key *key)
{
	struct toml_table *table = current_table(s);
	if (parse_name(s, "key", &key->name))
		return -1;
	if (peek(s, 0) != '=')
		return fail_here(s, "expected '='");
	s->pos++;
	skip_blanks(s);
	if (parse_value(s, &key->value, false))
		return -1;
	struct toml_key *keys = room_for_one_more(table->keys, table->key_count, sizeof(*keys));
	if (!keys)
		return fail_here(s, "out of memory");
	table->keys = keys;
	struct name_entry *existing;
	if (name_set_add(&s->names, s->doc->table_count, key->name, false, &existing))
		return fail_here(s, "out of memory");
	if (existing)
		return fail_at(s, key->line, key->column, "duplicate key '%s'", key->name);
	table->keys[table->key_count++] = *key;
	return 0;
}

static int parse_key_value(struct scanner *s)
{
	struct toml_key key = {.line = s->line, .column = column_of(s, s->pos)};
	if (parse_key_value_into(s, &key) == 0)
		return 0;
	free(key.name);
	value_free(&key.value);
	return -1;
}

/* Takes ownership of name on success. */
static int add_table(struct scanner *s, char *name, bool is_array, int line, int column)
{
	if (name_set_find(&s->names, 1, name)->name)
		return fail_at(s, line, column, "'%s' is already defined as a key", name);
	struct toml_table *tables =
	    room_for_one_more(s->doc->tables, s->doc->table_count, sizeof(*tables));
	if (!tables)
		return fail_here(s, "out of memory");
	s->doc->tables = tables;
	struct name_entry *existing;
	if (name_set_add(&s->names, TABLE_NAMES, name, is_array, &existing))
		return fail_here(s, "out of memory");
	if (existing && existing->is_array != is_array)
		return fail_at(s, line, column, "'%s' is already defined as %s", name,
			       existing->is_array ? "an array of tables" : "a table");
	if (existing && !is_array)
		return fail_at(s, line, column, "duplicate table [%s]", name);
	tables[s->doc->table_count++] =
	    (struct toml_table){.name = name, .is_array = is_array, .line = line};
	return 0;
}

static int parse_header(struct scanner *s)
{
	int line = s->line, column = column_of(s, s->pos);
	bool is_array = peek(s, 1) == '[';
	char *name = NULL;
	s->pos += is_array ? 2 : 1;
	skip_blanks(s);
	int rc = parse_name(s, "table name", &name);
	if (rc == 0 && (peek(s, 0) != ']' || (is_array && peek(s, 1) != ']')))
		rc = fail_here(s, is_array ? "expected ']]'" : "expected ']'");
	if (rc == 0) {
		s->pos += is_array ? 2 : 1;
		rc = add_table(s, name, is_array, line, column);
	}
	if (rc)
		free(name);
	return rc;
}

static int parse_document(struct scanner *s)
{
	if (name_set_grow(&s->names))
		return fail_here(s, "out of memory");
	s->doc->tables = calloc(1, sizeof(*s->doc->tables));
	if (!s->doc->tables)
		return fail_here(s, "out of memory");
	s->doc->table_count = 1;
	s->doc->tables[0] = (struct toml_table){.name = strdup(""), .line = 1};
	if (!s->doc->tables[0].name)
		return fail_here(s, "out of memory");
	while (peek(s, 0) != -1) {
		int rc = 0;
		skip_blanks(s);
		int c = peek(s, 0);
		if (c == '[')
			rc = parse_header(s);
		else if (is_bare_key_char(c) || c == '"' || c == '\'')
			rc = parse_key_value(s);
		else if (c != '#' && !at_line_end(s))
			rc = fail_here(s, "expected a key, a [table] or a comment");
		if (rc || finish_line(s))
			return -1;
	}
	return 0;
}

int toml_parse(const char *text, size_t len, struct toml_doc *doc, struct toml_error *error)
{
	struct scanner s = {
	    .text = (const unsigned char *)text,
	    .len = len,
	    .line = 1,
	    .doc = doc,
	    .error = error,
	};
	*doc = (struct toml_doc){0};
	*error = (struct toml_error){0};
	/* Lines and columns are ints: keep them from overflowing. */
	int rc = len >= INT_MAX ? fail_at(&s, 1, 1, "input too large") : parse_document(&s);
	free(s.scratch);
	free(s.names.slots);
	if (rc)
		toml_free(doc);
	return rc;
}

void toml_free(struct toml_doc *doc)
{
	for (size_t i = 0; i < doc->table_count; i++) {
		struct toml_table *table = &doc->tables[i];
		for (size_t k = 0; k < table->key_count; k++) {
			free(table->keys[k].name);
			value_free(&table->keys[k].value);
		}
		free(table->keys);
		free(table->name);
	}
	free(doc->tables);
	*doc = (struct toml_doc){0};
}

void toml_error_format(const struct toml_error *error, char *buf, size_t len)
{
	snprintf(buf, len, "line %d, column %d: %s", error->line, error->column, error->what);
}

const char *toml_type_name(enum toml_type type)
{
	switch (type) {
	case TOML_STRING:
		return "string";
	case TOML_INTEGER:
		return "integer";
	case TOML_BOOLEAN:
		return "boolean";
	case TOML_ARRAY:
		return "array";
	}
	return "?";
}
