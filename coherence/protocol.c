/* The page-coherence protocol: its states, messages and transition tables, the payload codec, and
 * struct coh, which routes each fault and message to the home side (directory.c) or the requester
 * side (page_table.c) under the page's lock.
 *
 * States. Every node has a local state per page: I (no copy), S (read-only copy), E (the only,
 * writable copy), and while it waits: IS_D / IM_D (read / write requested, no copy), SM_D (upgrade
 * requested from S), MI_A / II_A (dirty copy written back, with / without a read-only copy kept).
 * The home of a page keeps its directory entry: UNOWNED (no other node has a copy), SHARED
 * (sharers have read-only copies), EXCLUSIVE (one owner), or busy serving one request:
 * INVALIDATING (waiting for INV_ACKs), FETCHING / FETCHING_INV (waiting for the owner's data).
 * Requests that reach a busy entry wait in its FIFO.
 *
 * Messages. READ_REQ, WRITE_REQ(has_copy), EVICT and WRITEBACK go to the home; it answers with
 * READ_DATA, WRITE_GRANT (with data unless the requester's copy is still valid) and WB_ACK, and
 * before that asks the others: INV (answered INV_ACK), FETCH and FETCH_INV (answered FETCH_DATA,
 * FETCH_INV_DATA). A write is granted only once every other copy's INV_ACK or FETCH_INV_DATA is in.
 *
 * The two tables below are the protocol: the code runs them and nothing else, and
 * docs/coherence.md reproduces them (a unit test keeps the two equal). */
#include "coherence/protocol.h"
#include "coherence/page_table.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Requester side: a node's copy of a page homed elsewhere. */
/* clang-format off */
const struct pt_row coh_pt_table[] = {
	{COH_I,    PT_EV_LOAD,       COH_IS_D, {PT_ACT_SEND_READ_REQ}},
	{COH_I,    PT_EV_STORE,      COH_IM_D, {PT_ACT_SEND_WRITE_REQ}},
	/* A stale sharer bit: our EVICT had not reached the home when it sent this. */
	{COH_I,    PT_EV_INV,        COH_I,    {PT_ACT_SEND_INV_ACK}},
	{COH_S,    PT_EV_LOAD,       COH_S,    {PT_ACT_COMPLETE}},
	{COH_S,    PT_EV_STORE,      COH_SM_D, {PT_ACT_SEND_UPGRADE_REQ}},
	{COH_S,    PT_EV_EVICT,      COH_I,    {PT_ACT_DROP, PT_ACT_SEND_EVICT}},
	{COH_S,    PT_EV_INV,        COH_I,    {PT_ACT_DROP, PT_ACT_SEND_INV_ACK}},
	{COH_E,    PT_EV_LOAD,       COH_E,    {PT_ACT_COMPLETE}},
	{COH_E,    PT_EV_STORE,      COH_E,    {PT_ACT_COMPLETE}},
	{COH_E,    PT_EV_EVICT,      COH_MI_A, {PT_ACT_DOWNGRADE, PT_ACT_READ,
		 PT_ACT_SEND_WRITEBACK}},
	{COH_E,    PT_EV_FETCH,      COH_S,    {PT_ACT_DOWNGRADE, PT_ACT_READ,
		 PT_ACT_SEND_FETCH_DATA}},
	{COH_E,    PT_EV_FETCH_INV,  COH_I,    {PT_ACT_DOWNGRADE, PT_ACT_READ, PT_ACT_DROP,
		 PT_ACT_SEND_FETCH_INV_DATA}},
	/* Faults while waiting: complete() comes when the wait ends and the thread retries. */
	{COH_IS_D, PT_EV_LOAD,       COH_IS_D, {}},
	{COH_IS_D, PT_EV_STORE,      COH_IS_D, {}},
	/* Per-link FIFO: an INV sent before our request was served concerns an older copy. */
	{COH_IS_D, PT_EV_INV,        COH_IS_D, {PT_ACT_SEND_INV_ACK}},
	{COH_IS_D, PT_EV_READ_DATA,  COH_S,    {PT_ACT_INSTALL_RO, PT_ACT_COMPLETE}},
	{COH_IM_D, PT_EV_LOAD,       COH_IM_D, {}},
	{COH_IM_D, PT_EV_STORE,      COH_IM_D, {}},
	{COH_IM_D, PT_EV_INV,        COH_IM_D, {PT_ACT_SEND_INV_ACK}},
	{COH_IM_D, PT_EV_GRANT_DATA, COH_E,    {PT_ACT_INSTALL_RW, PT_ACT_COMPLETE}},
	{COH_SM_D, PT_EV_LOAD,       COH_SM_D, {}},
	{COH_SM_D, PT_EV_STORE,      COH_SM_D, {}},
	/* Another writer won: our request now needs the data, which the home will see. */
	{COH_SM_D, PT_EV_INV,        COH_IM_D, {PT_ACT_DROP, PT_ACT_SEND_INV_ACK}},
	{COH_SM_D, PT_EV_GRANT,      COH_E,    {PT_ACT_MAP_RW, PT_ACT_COMPLETE}},
	{COH_MI_A, PT_EV_LOAD,       COH_MI_A, {}},
	{COH_MI_A, PT_EV_STORE,      COH_MI_A, {}},
	/* The home asked before our writeback reached it: answer from the copy we kept. */
	{COH_MI_A, PT_EV_FETCH,      COH_MI_A, {PT_ACT_READ, PT_ACT_SEND_FETCH_DATA}},
	{COH_MI_A, PT_EV_FETCH_INV,  COH_II_A, {PT_ACT_READ, PT_ACT_DROP,
		 PT_ACT_SEND_FETCH_INV_DATA}},
	{COH_MI_A, PT_EV_INV,        COH_II_A, {PT_ACT_DROP, PT_ACT_SEND_INV_ACK}},
	{COH_MI_A, PT_EV_WB_ACK,     COH_I,    {PT_ACT_DROP, PT_ACT_SEND_EVICT, PT_ACT_COMPLETE}},
	{COH_II_A, PT_EV_LOAD,       COH_II_A, {}},
	{COH_II_A, PT_EV_STORE,      COH_II_A, {}},
	{COH_II_A, PT_EV_WB_ACK,     COH_I,    {PT_ACT_COMPLETE}},
};
/* clang-format on */
const size_t coh_pt_table_size = sizeof(coh_pt_table) / sizeof(coh_pt_table[0]);

/* Home side: the directory entry of a page homed here. */
/* clang-format off */
const struct dir_row coh_dir_table[] = {
	{DIR_UNOWNED,      DIR_EV_HOME_HIT,            DIR_UNOWNED,      {DIR_ACT_COMPLETE}},
	/* Nobody else has it: the home maps it writable even for a read, saving a second fault. */
	{DIR_UNOWNED,      DIR_EV_HOME_LOAD,           DIR_UNOWNED,      {DIR_ACT_HOME_MAP_RW,
		 DIR_ACT_COMPLETE}},
	{DIR_UNOWNED,      DIR_EV_HOME_STORE,          DIR_UNOWNED,      {DIR_ACT_HOME_MAP_RW,
		 DIR_ACT_COMPLETE}},
	{DIR_UNOWNED,      DIR_EV_READ_REQ,            DIR_SHARED,       {DIR_ACT_HOME_DOWNGRADE,
		 DIR_ACT_READ, DIR_ACT_ADD_REQUESTER, DIR_ACT_SEND_READ_DATA}},
	{DIR_UNOWNED,      DIR_EV_WRITE_REQ,           DIR_EXCLUSIVE,    {DIR_ACT_HOME_DOWNGRADE,
		 DIR_ACT_READ, DIR_ACT_HOME_DROP, DIR_ACT_SET_OWNER, DIR_ACT_SEND_GRANT_DATA}},
	{DIR_UNOWNED,      DIR_EV_EVICT_STALE,         DIR_UNOWNED,      {}},
	{DIR_UNOWNED,      DIR_EV_WRITEBACK_STALE,     DIR_UNOWNED,      {DIR_ACT_SEND_WB_ACK}},
	{DIR_SHARED,       DIR_EV_HOME_HIT,            DIR_SHARED,       {DIR_ACT_COMPLETE}},
	{DIR_SHARED,       DIR_EV_HOME_LOAD,           DIR_SHARED,       {DIR_ACT_HOME_MAP_RO,
		 DIR_ACT_COMPLETE}},
	{DIR_SHARED,       DIR_EV_HOME_STORE,          DIR_INVALIDATING, {DIR_ACT_SEND_INV_OTHERS}},
	{DIR_SHARED,       DIR_EV_READ_REQ,            DIR_SHARED,       {DIR_ACT_READ,
		 DIR_ACT_ADD_REQUESTER, DIR_ACT_SEND_READ_DATA}},
	{DIR_SHARED,       DIR_EV_WRITE_REQ,           DIR_INVALIDATING, {DIR_ACT_SEND_INV_OTHERS}},
	{DIR_SHARED,       DIR_EV_UPGRADE,             DIR_INVALIDATING, {DIR_ACT_SEND_INV_OTHERS}},
	{DIR_SHARED,       DIR_EV_UPGRADE_SOLE,        DIR_EXCLUSIVE,    {DIR_ACT_HOME_DROP,
		 DIR_ACT_SET_OWNER, DIR_ACT_SEND_GRANT}},
	{DIR_SHARED,       DIR_EV_EVICT,               DIR_SHARED,       {DIR_ACT_REMOVE_SENDER}},
	{DIR_SHARED,       DIR_EV_EVICT_LAST,          DIR_UNOWNED,      {DIR_ACT_REMOVE_SENDER}},
	{DIR_SHARED,       DIR_EV_EVICT_STALE,         DIR_SHARED,       {}},
	{DIR_SHARED,       DIR_EV_WRITEBACK_STALE,     DIR_SHARED,       {DIR_ACT_SEND_WB_ACK}},
	{DIR_EXCLUSIVE,    DIR_EV_HOME_LOAD,           DIR_FETCHING,     {DIR_ACT_SEND_FETCH}},
	{DIR_EXCLUSIVE,    DIR_EV_HOME_STORE,          DIR_FETCHING_INV, {DIR_ACT_SEND_FETCH_INV}},
	{DIR_EXCLUSIVE,    DIR_EV_READ_REQ,            DIR_FETCHING,     {DIR_ACT_SEND_FETCH}},
	{DIR_EXCLUSIVE,    DIR_EV_WRITE_REQ,           DIR_FETCHING_INV, {DIR_ACT_SEND_FETCH_INV}},
	{DIR_EXCLUSIVE,    DIR_EV_EVICT_STALE,         DIR_EXCLUSIVE,    {}},
	/* The owner keeps a read-only copy until WB_ACK, then drops it and sends EVICT. */
	{DIR_EXCLUSIVE,    DIR_EV_WRITEBACK,           DIR_SHARED,       {DIR_ACT_HOME_INSTALL_RO,
		 DIR_ACT_OWNER_TO_SHARER, DIR_ACT_SEND_WB_ACK}},
	{DIR_EXCLUSIVE,    DIR_EV_WRITEBACK_STALE,     DIR_EXCLUSIVE,    {DIR_ACT_SEND_WB_ACK}},
	{DIR_INVALIDATING, DIR_EV_HOME_HIT,            DIR_INVALIDATING, {DIR_ACT_COMPLETE}},
	{DIR_INVALIDATING, DIR_EV_REQUEST,             DIR_INVALIDATING, {DIR_ACT_QUEUE}},
	{DIR_INVALIDATING, DIR_EV_INV_ACK,             DIR_INVALIDATING, {DIR_ACT_REMOVE_SENDER}},
	{DIR_INVALIDATING, DIR_EV_ACK_LAST_UPGRADE,    DIR_EXCLUSIVE,    {DIR_ACT_REMOVE_SENDER,
		 DIR_ACT_HOME_DROP, DIR_ACT_SET_OWNER, DIR_ACT_SEND_GRANT}},
	{DIR_INVALIDATING, DIR_EV_ACK_LAST_WRITE,      DIR_EXCLUSIVE,    {DIR_ACT_REMOVE_SENDER,
		 DIR_ACT_READ, DIR_ACT_HOME_DROP, DIR_ACT_SET_OWNER, DIR_ACT_SEND_GRANT_DATA}},
	{DIR_INVALIDATING, DIR_EV_ACK_LAST_HOME,       DIR_UNOWNED,      {DIR_ACT_REMOVE_SENDER,
		 DIR_ACT_HOME_MAP_RW, DIR_ACT_COMPLETE}},
	{DIR_FETCHING,     DIR_EV_REQUEST,             DIR_FETCHING,     {DIR_ACT_QUEUE}},
	{DIR_FETCHING,     DIR_EV_FETCH_DATA,          DIR_SHARED,       {DIR_ACT_HOME_INSTALL_RO,
		 DIR_ACT_OWNER_TO_SHARER, DIR_ACT_ADD_REQUESTER, DIR_ACT_SEND_READ_DATA}},
	{DIR_FETCHING,     DIR_EV_FETCH_DATA_HOME,     DIR_SHARED,       {DIR_ACT_HOME_INSTALL_RO,
		 DIR_ACT_OWNER_TO_SHARER, DIR_ACT_COMPLETE}},
	{DIR_FETCHING_INV, DIR_EV_REQUEST,             DIR_FETCHING_INV, {DIR_ACT_QUEUE}},
	{DIR_FETCHING_INV, DIR_EV_FETCH_INV_DATA,      DIR_EXCLUSIVE,    {DIR_ACT_SET_OWNER,
		 DIR_ACT_SEND_GRANT_DATA}},
	{DIR_FETCHING_INV, DIR_EV_FETCH_INV_DATA_HOME, DIR_UNOWNED,      {DIR_ACT_HOME_INSTALL_RW,
		 DIR_ACT_COMPLETE}},
};
/* clang-format on */
const size_t coh_dir_table_size = sizeof(coh_dir_table) / sizeof(coh_dir_table[0]);

const struct pt_row *pt_lookup(enum coh_page_state state, enum pt_event event)
{
	for (size_t i = 0; i < coh_pt_table_size; i++) {
		if (coh_pt_table[i].state == state && coh_pt_table[i].event == event)
			return &coh_pt_table[i];
	}
	return NULL;
}

const struct dir_row *dir_lookup(enum dir_state state, enum dir_event event)
{
	for (size_t i = 0; i < coh_dir_table_size; i++) {
		if (coh_dir_table[i].state == state && coh_dir_table[i].event == event)
			return &coh_dir_table[i];
	}
	return NULL;
}

static const char *name_of(const char *const *names, size_t count, unsigned value)
{
	return value < count && names[value] ? names[value] : "?";
}

#define NAME_OF(names, value) name_of(names, sizeof(names) / sizeof(names[0]), value)

/* Names as the tables in docs/coherence.md spell them; a missing one shows as "?". */
static const char *const page_state_names[COH_PAGE_STATE_COUNT] = {
    [COH_I] = "I",	 [COH_S] = "S",	      [COH_E] = "E",	   [COH_IS_D] = "IS_D",
    [COH_IM_D] = "IM_D", [COH_SM_D] = "SM_D", [COH_MI_A] = "MI_A", [COH_II_A] = "II_A",
};
static const char *const pt_event_names[PT_EVENT_COUNT] = {
    [PT_EV_LOAD] = "LOAD",
    [PT_EV_STORE] = "STORE",
    [PT_EV_EVICT] = "EVICT",
    [PT_EV_READ_DATA] = "READ_DATA",
    [PT_EV_GRANT] = "WRITE_GRANT",
    [PT_EV_GRANT_DATA] = "WRITE_GRANT+data",
    [PT_EV_INV] = "INV",
    [PT_EV_FETCH] = "FETCH",
    [PT_EV_FETCH_INV] = "FETCH_INV",
    [PT_EV_WB_ACK] = "WB_ACK",
};
static const char *const pt_action_names[PT_ACTION_COUNT] = {
    [PT_ACT_SEND_READ_REQ] = "send READ_REQ",
    [PT_ACT_SEND_WRITE_REQ] = "send WRITE_REQ",
    [PT_ACT_SEND_UPGRADE_REQ] = "send WRITE_REQ+copy",
    [PT_ACT_SEND_EVICT] = "send EVICT",
    [PT_ACT_SEND_INV_ACK] = "send INV_ACK",
    [PT_ACT_SEND_FETCH_DATA] = "send FETCH_DATA",
    [PT_ACT_SEND_FETCH_INV_DATA] = "send FETCH_INV_DATA",
    [PT_ACT_SEND_WRITEBACK] = "send WRITEBACK",
    [PT_ACT_READ] = "read",
    [PT_ACT_DOWNGRADE] = "downgrade",
    [PT_ACT_DROP] = "drop",
    [PT_ACT_INSTALL_RO] = "install RO",
    [PT_ACT_INSTALL_RW] = "install RW",
    [PT_ACT_MAP_RW] = "map RW",
    [PT_ACT_COMPLETE] = "complete",
};
static const char *const dir_state_names[DIR_STATE_COUNT] = {
    [DIR_UNOWNED] = "UNOWNED",	   [DIR_SHARED] = "SHARED",
    [DIR_EXCLUSIVE] = "EXCLUSIVE", [DIR_INVALIDATING] = "INVALIDATING",
    [DIR_FETCHING] = "FETCHING",   [DIR_FETCHING_INV] = "FETCHING_INV",
};
static const char *const dir_event_names[DIR_EVENT_COUNT] = {
    [DIR_EV_HOME_HIT] = "HOME_HIT",
    [DIR_EV_HOME_LOAD] = "HOME_LOAD",
    [DIR_EV_HOME_STORE] = "HOME_STORE",
    [DIR_EV_READ_REQ] = "READ_REQ",
    [DIR_EV_WRITE_REQ] = "WRITE_REQ",
    [DIR_EV_UPGRADE] = "UPGRADE",
    [DIR_EV_UPGRADE_SOLE] = "UPGRADE_SOLE",
    [DIR_EV_EVICT] = "EVICT",
    [DIR_EV_EVICT_LAST] = "EVICT_LAST",
    [DIR_EV_EVICT_STALE] = "EVICT_STALE",
    [DIR_EV_WRITEBACK] = "WRITEBACK",
    [DIR_EV_WRITEBACK_STALE] = "WRITEBACK_STALE",
    [DIR_EV_REQUEST] = "REQUEST",
    [DIR_EV_INV_ACK] = "INV_ACK",
    [DIR_EV_ACK_LAST_UPGRADE] = "ACK_LAST_UPGRADE",
    [DIR_EV_ACK_LAST_WRITE] = "ACK_LAST_WRITE",
    [DIR_EV_ACK_LAST_HOME] = "ACK_LAST_HOME",
    [DIR_EV_FETCH_DATA] = "FETCH_DATA",
    [DIR_EV_FETCH_DATA_HOME] = "FETCH_DATA_HOME",
    [DIR_EV_FETCH_INV_DATA] = "FETCH_INV_DATA",
    [DIR_EV_FETCH_INV_DATA_HOME] = "FETCH_INV_DATA_HOME",
};
static const char *const dir_action_names[DIR_ACTION_COUNT] = {
    [DIR_ACT_QUEUE] = "queue",
    [DIR_ACT_HOME_DOWNGRADE] = "home downgrade",
    [DIR_ACT_HOME_DROP] = "home drop",
    [DIR_ACT_HOME_MAP_RO] = "home map RO",
    [DIR_ACT_HOME_MAP_RW] = "home map RW",
    [DIR_ACT_HOME_INSTALL_RO] = "home install RO",
    [DIR_ACT_HOME_INSTALL_RW] = "home install RW",
    [DIR_ACT_READ] = "read",
    [DIR_ACT_ADD_REQUESTER] = "add requester",
    [DIR_ACT_REMOVE_SENDER] = "remove sender",
    [DIR_ACT_OWNER_TO_SHARER] = "owner to sharer",
    [DIR_ACT_SET_OWNER] = "set owner",
    [DIR_ACT_SEND_READ_DATA] = "send READ_DATA",
    [DIR_ACT_SEND_GRANT] = "send WRITE_GRANT",
    [DIR_ACT_SEND_GRANT_DATA] = "send WRITE_GRANT+data",
    [DIR_ACT_SEND_INV_OTHERS] = "send INV to others",
    [DIR_ACT_SEND_FETCH] = "send FETCH",
    [DIR_ACT_SEND_FETCH_INV] = "send FETCH_INV",
    [DIR_ACT_SEND_WB_ACK] = "send WB_ACK",
    [DIR_ACT_COMPLETE] = "complete",
};

const char *coh_page_state_name(enum coh_page_state state)
{
	return NAME_OF(page_state_names, state);
}

const char *pt_event_name(enum pt_event event)
{
	return NAME_OF(pt_event_names, event);
}

const char *pt_action_name(enum pt_action action)
{
	return NAME_OF(pt_action_names, action);
}

const char *dir_state_name(enum dir_state state)
{
	return NAME_OF(dir_state_names, state);
}

const char *dir_event_name(enum dir_event event)
{
	return NAME_OF(dir_event_names, event);
}

const char *dir_action_name(enum dir_action action)
{
	return NAME_OF(dir_action_names, action);
}

size_t coh_table_rows(enum coh_table table)
{
	return table == COH_TABLE_REQUESTER ? coh_pt_table_size : coh_dir_table_size;
}

static void append(char *buf, size_t buflen, size_t *used, const char *text)
{
	int n = snprintf(buf + *used, buflen - *used, "%s", text);
	if (n > 0)
		*used += (size_t)n < buflen - *used ? (size_t)n : buflen - *used - 1;
}

/* "| state | event | next | action, action |" with "-" for no action. */
void coh_table_row_markdown(enum coh_table table, size_t row, char *buf, size_t buflen)
{
	const char *state, *event, *next;
	const uint8_t *actions;
	size_t action_count;
	bool requester = table == COH_TABLE_REQUESTER;
	if (buflen == 0)
		return;
	buf[0] = '\0';
	if (row >= coh_table_rows(table))
		return;
	if (requester) {
		const struct pt_row *r = &coh_pt_table[row];
		state = coh_page_state_name(r->state);
		event = pt_event_name(r->event);
		next = coh_page_state_name(r->next);
		actions = r->actions;
		action_count = PT_MAX_ACTIONS;
	} else {
		const struct dir_row *r = &coh_dir_table[row];
		state = dir_state_name(r->state);
		event = dir_event_name(r->event);
		next = dir_state_name(r->next);
		actions = r->actions;
		action_count = DIR_MAX_ACTIONS;
	}
	size_t used = 0;
	const char *cells[] = {"| ", state, " | ", event, " | ", next, " | "};
	for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++)
		append(buf, buflen, &used, cells[i]);
	if (action_count == 0 || actions[0] == 0)
		append(buf, buflen, &used, "-");
	for (size_t i = 0; i < action_count && actions[i] != 0; i++) {
		if (i > 0)
			append(buf, buflen, &used, ", ");
		append(buf, buflen, &used,
		       requester ? pt_action_name(actions[i]) : dir_action_name(actions[i]));
	}
	append(buf, buflen, &used, " |");
}

/* --- Payload codec --------------------------------------------------------------------------- */

#define FLAG_HAS_COPY 0x01u
#define FLAG_DATA     0x02u

enum data_rule { DATA_NEVER, DATA_ALWAYS, DATA_OPTIONAL };

struct msg_shape {
	const char *name;
	uint8_t data;  /* enum data_rule */
	bool has_copy; /* the has_copy flag may be set */
	bool to_home;  /* handled by the page's home */
};

static const struct msg_shape msg_shapes[] = {
    {"READ_REQ", DATA_NEVER, false, true},    {"WRITE_REQ", DATA_NEVER, true, true},
    {"READ_DATA", DATA_ALWAYS, false, false}, {"WRITE_GRANT", DATA_OPTIONAL, false, false},
    {"INV", DATA_NEVER, false, false},	      {"INV_ACK", DATA_NEVER, false, true},
    {"FETCH", DATA_NEVER, false, false},      {"FETCH_DATA", DATA_ALWAYS, false, true},
    {"FETCH_INV", DATA_NEVER, false, false},  {"FETCH_INV_DATA", DATA_ALWAYS, false, true},
    {"WRITEBACK", DATA_ALWAYS, false, true},  {"WB_ACK", DATA_NEVER, false, false},
    {"EVICT", DATA_NEVER, false, true},
};

_Static_assert(sizeof(msg_shapes) / sizeof(msg_shapes[0]) == COH_MSG_TYPE_END - COH_MSG_READ_REQ,
	       "one shape per message type");

static const struct msg_shape *shape_of(uint16_t type)
{
	if (type < COH_MSG_READ_REQ || type >= COH_MSG_TYPE_END)
		return NULL;
	return &msg_shapes[type - COH_MSG_READ_REQ];
}

const char *coh_msg_type_name(uint16_t type)
{
	const struct msg_shape *shape = shape_of(type);
	return shape ? shape->name : "unknown";
}

/* The checks every message must pass, whether decoded or built by a caller. */
static int check_shape(uint16_t type, bool has_copy, bool has_data, uint64_t page,
		       uint64_t page_count, char *err, size_t errlen)
{
	const struct msg_shape *shape = shape_of(type);
	if (!shape) {
		snprintf(err, errlen, "unknown coherence message type 0x%x", type);
		return -1;
	}
	if (has_copy && !shape->has_copy) {
		snprintf(err, errlen, "%s: has_copy flag not allowed", shape->name);
		return -1;
	}
	if (has_data && shape->data == DATA_NEVER) {
		snprintf(err, errlen, "%s: must not carry page data", shape->name);
		return -1;
	}
	if (!has_data && shape->data == DATA_ALWAYS) {
		snprintf(err, errlen, "%s: page data missing", shape->name);
		return -1;
	}
	if (page >= page_count) {
		snprintf(err, errlen, "%s: page %llu out of range (%llu pages)", shape->name,
			 (unsigned long long)page, (unsigned long long)page_count);
		return -1;
	}
	return 0;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int coh_msg_encode(const struct coh_msg *msg, uint8_t *buf, size_t buflen, size_t *len, char *err,
		   size_t errlen)
{
	bool has_data = msg->data != NULL;
	if (check_shape(msg->type, msg->has_copy, has_data, msg->page, UINT64_MAX, err, errlen) < 0)
		return -1;
	size_t size = COH_MSG_HEADER_SIZE + (has_data ? COH_PAGE_SIZE : 0);
	if (buflen < size) {
		snprintf(err, errlen, "%s: needs %zu bytes, buffer has %zu",
			 coh_msg_type_name(msg->type), size, buflen);
		return -1;
	}
	buf[0] = COH_MSG_VERSION;
	buf[1] = (uint8_t)((msg->has_copy ? FLAG_HAS_COPY : 0) | (has_data ? FLAG_DATA : 0));
	buf[2] = 0;
	buf[3] = 0;
	put_le64(buf + 4, msg->page);
	if (has_data)
		memcpy(buf + COH_MSG_HEADER_SIZE, msg->data, COH_PAGE_SIZE);
	*len = size;
	return 0;
}

int coh_msg_decode(uint16_t type, const uint8_t *payload, size_t len, uint64_t page_count,
		   struct coh_msg *msg, char *err, size_t errlen)
{
	const char *name = coh_msg_type_name(type);
	if (len < COH_MSG_HEADER_SIZE) {
		snprintf(err, errlen, "%s: %zu bytes, shorter than the %u-byte header", name, len,
			 COH_MSG_HEADER_SIZE);
		return -1;
	}
	if (payload[0] != COH_MSG_VERSION) {
		snprintf(err, errlen, "%s: unsupported version %u (this node speaks %u)", name,
			 payload[0], COH_MSG_VERSION);
		return -1;
	}
	uint8_t flags = payload[1];
	if (flags & ~(FLAG_HAS_COPY | FLAG_DATA)) {
		snprintf(err, errlen, "%s: unknown flags 0x%02x", name, flags);
		return -1;
	}
	if (payload[2] != 0 || payload[3] != 0) {
		snprintf(err, errlen, "%s: reserved bytes not zero", name);
		return -1;
	}
	bool has_data = flags & FLAG_DATA;
	size_t expected = COH_MSG_HEADER_SIZE + (has_data ? COH_PAGE_SIZE : 0);
	if (len != expected) {
		snprintf(err, errlen, "%s: %zu bytes, expected %zu", name, len, expected);
		return -1;
	}
	uint64_t page = get_le64(payload + 4);
	if (check_shape(type, flags & FLAG_HAS_COPY, has_data, page, page_count, err, errlen) < 0)
		return -1;
	msg->type = type;
	msg->page = page;
	msg->has_copy = flags & FLAG_HAS_COPY;
	msg->data = has_data ? payload + COH_MSG_HEADER_SIZE : NULL;
	return 0;
}

/* --- The protocol object --------------------------------------------------------------------- */

/* Striped page locks: enough stripes that unrelated pages rarely contend, few enough to be
 * small. A call holds exactly one, so locks never nest. */
#define LOCK_STRIPES 256

struct coh {
	struct coh_env env;
	struct coh_homes homes;
	struct coh_directory dir;
	uint64_t page_count;
	uint32_t node_count;
	pthread_mutex_t locks[LOCK_STRIPES];
};

static bool ops_complete(const struct coh_ops *ops)
{
	return ops && ops->send && ops->install && ops->drop && ops->downgrade && ops->read_local &&
	       ops->complete;
}

struct coh *coh_create(const struct coh_config *cfg, char *err, size_t errlen)
{
	if (cfg->self >= cfg->node_count) {
		snprintf(err, errlen, "node %u is not among the %u nodes", cfg->self,
			 cfg->node_count);
		return NULL;
	}
	if (!ops_complete(cfg->ops)) {
		snprintf(err, errlen, "every coherence callback must be set");
		return NULL;
	}
	struct coh *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (coh_homes_init(&c->homes, cfg->page_count, cfg->node_count, &cfg->homes, err, errlen) <
	    0) {
		free(c);
		return NULL;
	}
	uint64_t slots = coh_home_slot_count(&c->homes, cfg->self);
	c->env.local = calloc(cfg->page_count, 1);
	if (!c->env.local || dir_init(&c->dir, slots, cfg->node_count, err, errlen) < 0) {
		if (!c->env.local)
			snprintf(err, errlen, "out of memory for %llu page states",
				 (unsigned long long)cfg->page_count);
		free(c->env.local);
		coh_homes_free(&c->homes);
		free(c);
		return NULL;
	}
	c->env.ops = cfg->ops;
	c->env.ctx = cfg->ctx;
	c->env.self = cfg->self;
	c->page_count = cfg->page_count;
	c->node_count = cfg->node_count;
	for (size_t i = 0; i < LOCK_STRIPES; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	return c;
}

void coh_destroy(struct coh *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < LOCK_STRIPES; i++)
		pthread_mutex_destroy(&c->locks[i]);
	dir_free(&c->dir);
	coh_homes_free(&c->homes);
	free(c->env.local);
	free(c);
}

const struct coh_homes *coh_homes(const struct coh *c)
{
	return &c->homes;
}

const struct coh_directory *coh_directory(const struct coh *c)
{
	return &c->dir;
}

static pthread_mutex_t *lock_of(struct coh *c, uint64_t page)
{
	return &c->locks[page % LOCK_STRIPES];
}

static int check_page(const struct coh *c, uint64_t page, char *err, size_t errlen)
{
	if (page < c->page_count)
		return 0;
	snprintf(err, errlen, "page %llu out of range (%llu pages)", (unsigned long long)page,
		 (unsigned long long)c->page_count);
	return -1;
}

enum coh_page_state coh_page_state(struct coh *c, uint64_t page)
{
	if (page >= c->page_count)
		return COH_I;
	pthread_mutex_lock(lock_of(c, page));
	enum coh_page_state state = c->env.local[page];
	pthread_mutex_unlock(lock_of(c, page));
	return state;
}

static int handle_home(struct coh *c, uint64_t page, const struct dir_input *in, char *err,
		       size_t errlen)
{
	uint64_t slot = coh_home_slot(&c->homes, page);
	return dir_handle(&c->env, &c->dir, slot, page, in, err, errlen);
}

int coh_fault(struct coh *c, uint64_t page, bool write, char *err, size_t errlen)
{
	if (check_page(c, page, err, errlen) < 0)
		return -1;
	uint32_t home = coh_home_of(&c->homes, page);
	pthread_mutex_lock(lock_of(c, page));
	int rc;
	if (home == c->env.self) {
		struct dir_input in = {write ? DIR_IN_HOME_STORE : DIR_IN_HOME_LOAD, c->env.self,
				       false, NULL};
		rc = handle_home(c, page, &in, err, errlen);
	} else {
		rc = pt_handle(&c->env, home, page, write ? PT_EV_STORE : PT_EV_LOAD, NULL, err,
			       errlen);
	}
	pthread_mutex_unlock(lock_of(c, page));
	return rc;
}

int coh_evict(struct coh *c, uint64_t page, char *err, size_t errlen)
{
	if (check_page(c, page, err, errlen) < 0)
		return -1;
	uint32_t home = coh_home_of(&c->homes, page);
	if (home == c->env.self) {
		snprintf(err, errlen, "page %llu is homed here: its memory is the backing store",
			 (unsigned long long)page);
		return -1;
	}
	pthread_mutex_lock(lock_of(c, page));
	int rc = pt_handle(&c->env, home, page, PT_EV_EVICT, NULL, err, errlen);
	pthread_mutex_unlock(lock_of(c, page));
	return rc;
}

static enum dir_input_kind home_input_of(uint16_t type)
{
	switch (type) {
	case COH_MSG_READ_REQ:
		return DIR_IN_READ_REQ;
	case COH_MSG_WRITE_REQ:
		return DIR_IN_WRITE_REQ;
	case COH_MSG_EVICT:
		return DIR_IN_EVICT;
	case COH_MSG_WRITEBACK:
		return DIR_IN_WRITEBACK;
	case COH_MSG_INV_ACK:
		return DIR_IN_INV_ACK;
	case COH_MSG_FETCH_DATA:
		return DIR_IN_FETCH_DATA;
	default:
		return DIR_IN_FETCH_INV_DATA;
	}
}

static enum pt_event requester_event_of(const struct coh_msg *msg)
{
	switch (msg->type) {
	case COH_MSG_READ_DATA:
		return PT_EV_READ_DATA;
	case COH_MSG_WRITE_GRANT:
		return msg->data ? PT_EV_GRANT_DATA : PT_EV_GRANT;
	case COH_MSG_INV:
		return PT_EV_INV;
	case COH_MSG_FETCH:
		return PT_EV_FETCH;
	case COH_MSG_FETCH_INV:
		return PT_EV_FETCH_INV;
	default:
		return PT_EV_WB_ACK;
	}
}

/* Who may send what: messages to a home come from other nodes, the others only from the home. */
static int check_route(const struct coh *c, uint32_t from, uint32_t home, bool to_home,
		       const struct coh_msg *msg, char *err, size_t errlen)
{
	const char *name = coh_msg_type_name(msg->type);
	unsigned long long page = msg->page;
	if (from >= c->node_count || from == c->env.self) {
		snprintf(err, errlen, "%s for page %llu from invalid node %u", name, page, from);
		return -1;
	}
	if (to_home && home != c->env.self) {
		snprintf(err, errlen, "%s from node %u for page %llu, which node %u homes", name,
			 from, page, home);
		return -1;
	}
	if (!to_home && (home == c->env.self || from != home)) {
		snprintf(err, errlen, "%s for page %llu from node %u, not its home (node %u)", name,
			 page, from, home);
		return -1;
	}
	return 0;
}

int coh_receive(struct coh *c, uint32_t from, const struct coh_msg *msg, char *err, size_t errlen)
{
	if (check_shape(msg->type, msg->has_copy, msg->data != NULL, msg->page, c->page_count, err,
			errlen) < 0)
		return -1;
	bool to_home = shape_of(msg->type)->to_home;
	uint32_t home = coh_home_of(&c->homes, msg->page);
	if (check_route(c, from, home, to_home, msg, err, errlen) < 0)
		return -1;
	pthread_mutex_lock(lock_of(c, msg->page));
	int rc;
	if (to_home) {
		struct dir_input in = {home_input_of(msg->type), from, msg->has_copy, msg->data};
		rc = handle_home(c, msg->page, &in, err, errlen);
	} else {
		rc = pt_handle(&c->env, home, msg->page, requester_event_of(msg), msg->data, err,
			       errlen);
	}
	pthread_mutex_unlock(lock_of(c, msg->page));
	return rc;
}
