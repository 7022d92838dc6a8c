/* The page-coherence protocol: its states, messages and transition tables, and struct coh, which
 * routes each fault and message to the home side (directory.c) or the requester side
 * (page_table.c) under the page's lock; the messages' codec is message.c.
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
 * Homes (homes.h). Under FIRST_TOUCH a node that faults on a page whose home it does not know asks
 * the page's registrar (HOME_QUERY); the registrar names the first node that asked, or itself if
 * it touched the page first, and answers HOME_IS; the answer wakes the fault, which retries.
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

static bool is_node(const struct coh *c, uint32_t home)
{
	return home < c->node_count;
}

static int handle_home(struct coh *c, uint64_t page, const struct dir_input *in, char *err,
		       size_t errlen)
{
	uint64_t slot = coh_home_slot(&c->homes, page);
	return dir_handle(&c->env, &c->dir, slot, page, in, err, errlen);
}

/* The home of a page this node faults on. Under FIRST_TOUCH, for a page whose home nobody has
 * told us, the registrar decides: if that is us, we take the page; otherwise we ask and the fault
 * waits (COH_HOME_ASKED) until the answer's complete() makes the thread retry. */
static uint32_t home_for_fault(struct coh *c, uint64_t page)
{
	uint32_t home = coh_home_of(&c->homes, page);
	if (home != COH_HOME_UNKNOWN)
		return home;
	uint32_t registrar = coh_home_registrar(&c->homes, page);
	home = registrar == c->env.self ? c->env.self : COH_HOME_ASKED;
	coh_home_learn(&c->homes, page, home);
	if (home == COH_HOME_ASKED) {
		struct coh_msg query = {.type = COH_MSG_HOME_QUERY, .page = page};
		c->env.ops->send(c->env.ctx, registrar, &query);
	}
	return home;
}

int coh_fault(struct coh *c, uint64_t page, bool write, char *err, size_t errlen)
{
	if (check_page(c, page, err, errlen) < 0)
		return -1;
	pthread_mutex_lock(lock_of(c, page));
	uint32_t home = home_for_fault(c, page);
	int rc = 0;
	if (home == c->env.self) {
		struct dir_input in = {write ? DIR_IN_HOME_STORE : DIR_IN_HOME_LOAD, c->env.self,
				       false, NULL};
		rc = handle_home(c, page, &in, err, errlen);
	} else if (is_node(c, home)) {
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
	pthread_mutex_lock(lock_of(c, page));
	uint32_t home = coh_home_of(&c->homes, page);
	int rc = -1;
	if (home == c->env.self)
		snprintf(err, errlen, "page %llu is homed here: its memory is the backing store",
			 (unsigned long long)page);
	else if (!is_node(c, home))
		snprintf(err, errlen, "page %llu: no copy here to evict", (unsigned long long)page);
	else
		rc = pt_handle(&c->env, home, page, PT_EV_EVICT, NULL, err, errlen);
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

/* A home as this node knows it, for error messages. */
static const char *home_text(const struct coh *c, uint32_t home, char *buf, size_t len)
{
	if (is_node(c, home))
		snprintf(buf, len, "node %u", home);
	else
		snprintf(buf, len, "%s",
			 home == COH_HOME_ASKED ? "a node not yet known" : "no node");
	return buf;
}

/* Requests and replies to the home. Under FIRST_TOUCH a node may learn from the registrar that we
 * home a page before the registrar's answer to our own question reaches us: the sender cannot
 * have been told anything else, so we take the page now. */
static int receive_at_home(struct coh *c, uint32_t from, const struct coh_msg *msg, char *err,
			   size_t errlen)
{
	uint32_t home = coh_home_of(&c->homes, msg->page);
	if (home == COH_HOME_ASKED) {
		home = c->env.self;
		coh_home_learn(&c->homes, msg->page, home);
	}
	if (home != c->env.self) {
		char text[32];
		snprintf(err, errlen, "%s from node %u for page %llu, which %s homes",
			 coh_msg_type_name(msg->type), from, (unsigned long long)msg->page,
			 home_text(c, home, text, sizeof(text)));
		return -1;
	}
	struct dir_input in = {home_input_of(msg->type), from, msg->has_copy, msg->data};
	return handle_home(c, msg->page, &in, err, errlen);
}

static int receive_from_home(struct coh *c, uint32_t from, const struct coh_msg *msg, char *err,
			     size_t errlen)
{
	uint32_t home = coh_home_of(&c->homes, msg->page);
	if (home != from || home == c->env.self) {
		char text[32];
		snprintf(err, errlen, "%s for page %llu from node %u, not its home (%s)",
			 coh_msg_type_name(msg->type), (unsigned long long)msg->page, from,
			 home_text(c, home, text, sizeof(text)));
		return -1;
	}
	return pt_handle(&c->env, home, msg->page, requester_event_of(msg), msg->data, err, errlen);
}

static int check_registrar(const struct coh *c, uint32_t registrar, const struct coh_msg *msg,
			   uint32_t from, char *err, size_t errlen)
{
	if (c->homes.policy != COH_HOME_FIRST_TOUCH) {
		snprintf(err, errlen, "%s for page %llu from node %u: homes are not first-touch",
			 coh_msg_type_name(msg->type), (unsigned long long)msg->page, from);
		return -1;
	}
	uint32_t expected = coh_home_registrar(&c->homes, msg->page);
	if (registrar != expected) {
		snprintf(err, errlen, "%s for page %llu from node %u, whose registrar is node %u",
			 coh_msg_type_name(msg->type), (unsigned long long)msg->page, from,
			 expected);
		return -1;
	}
	return 0;
}

/* The registrar names the first node that asks, unless it touched the page first itself. */
static int answer_home_query(struct coh *c, uint32_t from, const struct coh_msg *msg, char *err,
			     size_t errlen)
{
	if (check_registrar(c, c->env.self, msg, from, err, errlen) < 0)
		return -1;
	uint32_t home = coh_home_of(&c->homes, msg->page);
	if (home == COH_HOME_UNKNOWN) {
		home = from;
		coh_home_learn(&c->homes, msg->page, home);
	}
	struct coh_msg reply = {.type = COH_MSG_HOME_IS, .page = msg->page, .node = home};
	c->env.ops->send(c->env.ctx, from, &reply);
	return 0;
}

/* The registrar's answer: the faults that waited for it retry, now knowing where to go. */
static int learn_home(struct coh *c, uint32_t from, const struct coh_msg *msg, char *err,
		      size_t errlen)
{
	if (check_registrar(c, from, msg, from, err, errlen) < 0)
		return -1;
	uint32_t known = coh_home_of(&c->homes, msg->page);
	if (!is_node(c, msg->node) || (known != COH_HOME_ASKED && known != msg->node)) {
		char text[32];
		snprintf(err, errlen, "HOME_IS for page %llu names node %u, but this node knows %s",
			 (unsigned long long)msg->page, msg->node,
			 home_text(c, known, text, sizeof(text)));
		return -1;
	}
	coh_home_learn(&c->homes, msg->page, msg->node);
	c->env.ops->complete(c->env.ctx, msg->page);
	return 0;
}

int coh_receive(struct coh *c, uint32_t from, const struct coh_msg *msg, char *err, size_t errlen)
{
	if (coh_msg_check(msg, c->page_count, err, errlen) < 0)
		return -1;
	if (from >= c->node_count || from == c->env.self) {
		snprintf(err, errlen, "%s for page %llu from invalid node %u",
			 coh_msg_type_name(msg->type), (unsigned long long)msg->page, from);
		return -1;
	}
	pthread_mutex_lock(lock_of(c, msg->page));
	int rc;
	switch (coh_msg_route(msg->type)) {
	case COH_TO_HOME:
		rc = receive_at_home(c, from, msg, err, errlen);
		break;
	case COH_FROM_HOME:
		rc = receive_from_home(c, from, msg, err, errlen);
		break;
	case COH_TO_REGISTRAR:
		rc = answer_home_query(c, from, msg, err, errlen);
		break;
	default:
		rc = learn_home(c, from, msg, err, errlen);
		break;
	}
	pthread_mutex_unlock(lock_of(c, msg->page));
	return rc;
}
