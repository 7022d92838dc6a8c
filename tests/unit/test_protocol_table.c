/* The transition tables: docs/coherence.md must reproduce them exactly (the test reads the file
 * from $VSMP_SOURCE_DIR, which ctest sets), and they must be well-formed: one row per (state,
 * event), page data available to every action that sends or installs it, complete() last. */
#include "coherence/page_table.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_doc(void)
{
	const char *root = getenv("VSMP_SOURCE_DIR");
	cr_assert_not_null(root, "VSMP_SOURCE_DIR must name the repository (ctest sets it)");
	char path[4096];
	snprintf(path, sizeof(path), "%s/docs/coherence.md", root);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	rewind(f);
	char *text = calloc(1, (size_t)size + 1);
	cr_assert_not_null(text);
	cr_assert_eq(fread(text, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	return text;
}

/* "| a | b |" -> "|a|b|": cells trimmed, so column padding in the Markdown does not matter. */
static void normalize_row(const char *line, size_t len, char *out, size_t outlen)
{
	const char *end = line + len;
	size_t n = 0;
	out[0] = '\0';
	for (const char *cell = line; cell < end && n < outlen;) {
		const char *bar = memchr(cell, '|', (size_t)(end - cell));
		const char *stop = bar ? bar : end;
		while (cell < stop && *cell == ' ')
			cell++;
		const char *last = stop;
		while (last > cell && last[-1] == ' ')
			last--;
		n += (size_t)snprintf(out + n, outlen - n, "%.*s%s", (int)(last - cell), cell,
				      bar ? "|" : "");
		cell = stop + 1;
	}
}

static const char *next_line(const char *p, size_t *len)
{
	const char *end = strchr(p, '\n');
	*len = end ? (size_t)(end - p) : strlen(p);
	return end ? end + 1 : p + *len;
}

static void check_doc_table(const char *doc, const char *marker, enum coh_table table)
{
	const char *p = strstr(doc, marker);
	cr_assert_not_null(p, "docs/coherence.md has no \"%s\"", marker);
	size_t len;
	p = next_line(p, &len);
	p = next_line(p, &len); /* header */
	p = next_line(p, &len); /* separator */
	size_t rows = coh_table_rows(table);
	for (size_t i = 0;; i++) {
		const char *line = p;
		p = next_line(p, &len);
		bool is_row = len > 0 && line[0] == '|';
		if (!is_row) {
			cr_assert_eq(i, rows, "%s: the doc has %zu rows, the code %zu", marker, i,
				     rows);
			return;
		}
		cr_assert_lt(i, rows, "%s: extra row in the doc: %.*s", marker, (int)len, line);
		char code[512], doc_row[512], want[512];
		coh_table_row_markdown(table, i, code, sizeof(code));
		normalize_row(code, strlen(code), want, sizeof(want));
		normalize_row(line, len, doc_row, sizeof(doc_row));
		cr_assert_str_eq(doc_row, want, "%s row %zu:\n doc:  %.*s\n code: %s", marker, i,
				 (int)len, line, code);
	}
}

Test(protocol_table, docs_reproduce_the_code_tables)
{
	char *doc = read_doc();
	check_doc_table(doc, "<!-- table: requester -->", COH_TABLE_REQUESTER);
	check_doc_table(doc, "<!-- table: directory -->", COH_TABLE_DIRECTORY);
	free(doc);
}

Test(protocol_table, markdown_rows_render_every_action)
{
	char buf[256];
	coh_table_row_markdown(COH_TABLE_REQUESTER, 0, buf, sizeof(buf));
	cr_assert_str_eq(buf, "| I | LOAD | IS_D | send READ_REQ |");
	coh_table_row_markdown(COH_TABLE_DIRECTORY, 999, buf, sizeof(buf));
	cr_assert_str_eq(buf, "");
	char tiny[8];
	coh_table_row_markdown(COH_TABLE_DIRECTORY, 4, tiny, sizeof(tiny));
	cr_assert_str_eq(tiny, "| UNOWN");
}

Test(protocol_table, one_row_per_state_and_event)
{
	for (size_t i = 0; i < coh_pt_table_size; i++) {
		const struct pt_row *r = &coh_pt_table[i];
		cr_assert_eq(pt_lookup(r->state, r->event), r, "requester row %zu is shadowed", i);
	}
	for (size_t i = 0; i < coh_dir_table_size; i++) {
		const struct dir_row *r = &coh_dir_table[i];
		cr_assert_eq(dir_lookup(r->state, r->event), r, "directory row %zu is shadowed", i);
	}
}

static bool requester_event_has_data(enum pt_event event)
{
	return event == PT_EV_READ_DATA || event == PT_EV_GRANT_DATA;
}

Test(protocol_table, requester_rows_have_the_data_they_use)
{
	for (size_t i = 0; i < coh_pt_table_size; i++) {
		const struct pt_row *r = &coh_pt_table[i];
		bool read = false;
		for (size_t a = 0; a < PT_MAX_ACTIONS && r->actions[a]; a++) {
			enum pt_action act = r->actions[a];
			bool sends_data = act == PT_ACT_SEND_FETCH_DATA ||
					  act == PT_ACT_SEND_FETCH_INV_DATA ||
					  act == PT_ACT_SEND_WRITEBACK;
			bool installs = act == PT_ACT_INSTALL_RO || act == PT_ACT_INSTALL_RW;
			read |= act == PT_ACT_READ;
			cr_assert(!sends_data || read, "requester row %zu sends unread data", i);
			cr_assert(!installs || requester_event_has_data(r->event),
				  "requester row %zu installs data it has not", i);
			cr_assert(act != PT_ACT_COMPLETE || a + 1 == PT_MAX_ACTIONS ||
				      r->actions[a + 1] == PT_ACT_END,
				  "requester row %zu: complete is not last", i);
		}
	}
}

static bool directory_event_has_data(enum dir_event event)
{
	return event == DIR_EV_WRITEBACK || event == DIR_EV_WRITEBACK_MIRRORED ||
	       event == DIR_EV_FETCH_DATA || event == DIR_EV_FETCH_DATA_HOME ||
	       event == DIR_EV_FETCH_INV_DATA || event == DIR_EV_FETCH_INV_DATA_HOME;
}

Test(protocol_table, directory_rows_have_the_data_they_use)
{
	for (size_t i = 0; i < coh_dir_table_size; i++) {
		const struct dir_row *r = &coh_dir_table[i];
		bool data = directory_event_has_data(r->event);
		for (size_t a = 0; a < DIR_MAX_ACTIONS && r->actions[a]; a++) {
			enum dir_action act = r->actions[a];
			bool uses_data =
			    act == DIR_ACT_SEND_READ_DATA || act == DIR_ACT_SEND_GRANT_DATA ||
			    act == DIR_ACT_HOME_INSTALL_RO || act == DIR_ACT_HOME_INSTALL_RW ||
			    act == DIR_ACT_SEND_REPLICA;
			data |= act == DIR_ACT_READ;
			cr_assert(!uses_data || data, "directory row %zu uses data it has not", i);
			cr_assert(act != DIR_ACT_COMPLETE || a + 1 == DIR_MAX_ACTIONS ||
				      r->actions[a + 1] == DIR_ACT_END,
				  "directory row %zu: complete is not last", i);
		}
	}
}

/* A busy state must queue every request, and leave only on the reply it waits for. */
Test(protocol_table, busy_states_queue_requests)
{
	const enum dir_state busy[] = {DIR_INVALIDATING, DIR_FETCHING, DIR_FETCHING_INV};
	for (size_t i = 0; i < 3; i++) {
		const struct dir_row *r = dir_lookup(busy[i], DIR_EV_REQUEST);
		cr_assert_not_null(r, "%s does not queue", dir_state_name(busy[i]));
		cr_assert_eq(r->actions[0], DIR_ACT_QUEUE);
		cr_assert_null(dir_lookup(busy[i], DIR_EV_READ_REQ));
		cr_assert_null(dir_lookup(busy[i], DIR_EV_HOME_STORE));
	}
}

Test(protocol_table, every_state_event_and_action_has_a_name)
{
	for (int i = 0; i < COH_PAGE_STATE_COUNT; i++)
		cr_assert_str_neq(coh_page_state_name(i), "?", "page state %d", i);
	for (int i = 0; i < PT_EVENT_COUNT; i++)
		cr_assert_str_neq(pt_event_name(i), "?", "requester event %d", i);
	for (int i = 1; i < PT_ACTION_COUNT; i++)
		cr_assert_str_neq(pt_action_name(i), "?", "requester action %d", i);
	for (int i = 0; i < DIR_STATE_COUNT; i++)
		cr_assert_str_neq(dir_state_name(i), "?", "directory state %d", i);
	for (int i = 0; i < DIR_EVENT_COUNT; i++)
		cr_assert_str_neq(dir_event_name(i), "?", "directory event %d", i);
	for (int i = 1; i < DIR_ACTION_COUNT; i++)
		cr_assert_str_neq(dir_action_name(i), "?", "directory action %d", i);
	cr_assert_str_eq(dir_event_name(DIR_EVENT_COUNT), "?");
}
