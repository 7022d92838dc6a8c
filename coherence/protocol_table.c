/* The coherence protocol's two transition tables, the requester's and the directory's, with the
 * names of their states, events and actions. The code runs these tables and nothing else
 * (page_table.c, directory.c), and docs/coherence.md reproduces them: coh_table_row_markdown
 * renders a row as the document spells it, and a unit test keeps the two equal. */
#include "coherence/page_table.h"
#include "coherence/protocol.h"

#include <stdio.h>

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
	/* Adopted from a lost home: the requester says what it holds; the copy kept here is the
	 * mirror's, valid unless the requester owns the page. */
	{DIR_UNOWNED,      DIR_EV_CLAIM_S,             DIR_SHARED,       {DIR_ACT_ADD_REQUESTER}},
	{DIR_UNOWNED,      DIR_EV_CLAIM_E,             DIR_EXCLUSIVE,    {DIR_ACT_HOME_DROP,
		 DIR_ACT_SET_OWNER}},
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
	/* Replicas: the write-back completes only once the mirror has the data too. */
	{DIR_EXCLUSIVE,    DIR_EV_WRITEBACK_MIRRORED,  DIR_REPLICATING,  {DIR_ACT_HOME_INSTALL_RO,
		 DIR_ACT_OWNER_TO_SHARER, DIR_ACT_SEND_REPLICA}},
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
	{DIR_REPLICATING,  DIR_EV_HOME_HIT,            DIR_REPLICATING,  {DIR_ACT_COMPLETE}},
	{DIR_REPLICATING,  DIR_EV_REQUEST,             DIR_REPLICATING,  {DIR_ACT_QUEUE}},
	{DIR_REPLICATING,  DIR_EV_REPLICA_ACK,         DIR_SHARED,       {DIR_ACT_SEND_WB_ACK}},
	/* The only copies left are the home's and the writer's: acknowledge on one. */
	{DIR_REPLICATING,  DIR_EV_MIRROR_LOST,         DIR_SHARED,       {DIR_ACT_SEND_WB_ACK}},
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
    [DIR_UNOWNED] = "UNOWNED",	       [DIR_SHARED] = "SHARED",
    [DIR_EXCLUSIVE] = "EXCLUSIVE",     [DIR_INVALIDATING] = "INVALIDATING",
    [DIR_FETCHING] = "FETCHING",       [DIR_FETCHING_INV] = "FETCHING_INV",
    [DIR_REPLICATING] = "REPLICATING",
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
    [DIR_EV_WRITEBACK_MIRRORED] = "WRITEBACK_MIRRORED",
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
    [DIR_EV_REPLICA_ACK] = "REPLICA_ACK",
    [DIR_EV_MIRROR_LOST] = "MIRROR_LOST",
    [DIR_EV_CLAIM_S] = "CLAIM_S",
    [DIR_EV_CLAIM_E] = "CLAIM_E",
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
    [DIR_ACT_SEND_REPLICA] = "send REPLICA_WRITE",
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
