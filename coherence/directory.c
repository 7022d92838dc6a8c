/* The home side: the directory entries of the pages homed here and the directory transitions. An
 * input is first classified against the entry (is its sender the owner, a sharer, the last one...),
 * then (state, event) is looked up in protocol.c's directory table and the row's actions run in
 * order. A busy entry queues requests; when its transaction ends, the queued requests are replayed
 * in arrival order until one starts a new transaction. Serving one request per page at a time is
 * what keeps the races few: see docs/coherence.md. */
#include "coherence/directory.h"
#include "coherence/page_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Directory storage ----------------------------------------------------------------------- */

int dir_init(struct coh_directory *dir, uint64_t slot_count, uint32_t node_count, char *err,
	     size_t errlen)
{
	memset(dir, 0, sizeof(*dir));
	dir->slot_count = slot_count;
	dir->node_count = node_count;
	dir->words = ((size_t)node_count + 63) / 64;
	if (slot_count == 0)
		return 0;
	dir->entries = calloc(slot_count, sizeof(*dir->entries));
	dir->sharers = calloc(slot_count, dir->words * sizeof(uint64_t));
	if (!dir->entries || !dir->sharers) {
		snprintf(err, errlen, "out of memory for %llu directory entries",
			 (unsigned long long)slot_count);
		dir_free(dir);
		return -1;
	}
	return 0;
}

void dir_free(struct coh_directory *dir)
{
	for (uint64_t i = 0; dir->entries && i < dir->slot_count; i++) {
		struct dir_queued *q = dir->entries[i].queue_head;
		while (q) {
			struct dir_queued *next = q->next;
			free(q);
			q = next;
		}
	}
	free(dir->entries);
	free(dir->sharers);
	dir->entries = NULL;
	dir->sharers = NULL;
}

static uint64_t *sharers_of(const struct coh_directory *dir, uint64_t slot)
{
	return dir->sharers + slot * dir->words;
}

bool dir_is_sharer(const struct coh_directory *dir, uint64_t slot, uint32_t node)
{
	return (sharers_of(dir, slot)[node / 64] >> (node % 64)) & 1;
}

uint32_t dir_sharer_count(const struct coh_directory *dir, uint64_t slot)
{
	uint32_t count = 0;
	for (size_t w = 0; w < dir->words; w++)
		count += (uint32_t)__builtin_popcountll(sharers_of(dir, slot)[w]);
	return count;
}

static void set_sharer(struct coh_directory *dir, uint64_t slot, uint32_t node, bool on)
{
	uint64_t *word = &sharers_of(dir, slot)[node / 64];
	uint64_t bit = 1ull << (node % 64);
	*word = on ? *word | bit : *word & ~bit;
}

static void clear_sharers(struct coh_directory *dir, uint64_t slot)
{
	memset(sharers_of(dir, slot), 0, dir->words * sizeof(uint64_t));
}

/* --- Transitions ----------------------------------------------------------------------------- */

/* Each node has at most one request per page outstanding, plus an EVICT sent just before it, and
 * the home queues its own load and store once each: a longer FIFO means a peer misbehaves. */
static uint32_t queue_limit(const struct coh_directory *dir)
{
	return 2 * dir->node_count + 2;
}

static bool is_busy(enum dir_state state)
{
	return state >= DIR_INVALIDATING;
}

static bool is_request(enum dir_input_kind kind)
{
	return kind <= DIR_IN_WRITEBACK;
}

static bool is_claim(enum dir_input_kind kind)
{
	return kind == DIR_IN_CLAIM_S || kind == DIR_IN_CLAIM_E;
}

static const char *input_name(enum dir_input_kind kind)
{
	static const char *const names[] = {
	    "home load",   "home store", "READ_REQ",   "WRITE_REQ",	 "EVICT",
	    "WRITEBACK",   "INV_ACK",	 "FETCH_DATA", "FETCH_INV_DATA", "REPLICA_ACK",
	    "mirror lost", "CLAIM_S",	 "CLAIM_E"};
	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

struct dir_step {
	const struct coh_env *env;
	struct coh_directory *dir;
	uint64_t slot, page;
	struct dir_entry *entry;
	const struct dir_input *in;
	uint32_t requester;  /* who the row serves: the sender of a request, else the active one */
	const uint8_t *data; /* the message's page data, or the home's after DIR_ACT_READ */
	uint8_t buf[COH_PAGE_SIZE];
};

/* Sentinel event: no row matches it, so dir_handle reports the input as a protocol violation. */
#define DIR_EV_UNEXPECTED DIR_EVENT_COUNT

static bool home_copy_allows(const struct dir_step *s, bool store)
{
	enum coh_page_state local = s->env->local[s->page];
	return local == COH_E || (local == COH_S && !store);
}

/* Asked of requests only, hence of a free entry: busy ones classify every request as REQUEST. */
static bool sender_is_owner(const struct dir_step *s)
{
	return s->entry->state == DIR_EXCLUSIVE && s->entry->owner == s->in->from;
}

static int classify_write_req(const struct dir_step *s)
{
	uint32_t from = s->in->from;
	if (sender_is_owner(s))
		return DIR_EV_UNEXPECTED;
	if (!s->in->has_copy || !dir_is_sharer(s->dir, s->slot, from))
		return DIR_EV_WRITE_REQ;
	return dir_sharer_count(s->dir, s->slot) == 1 ? DIR_EV_UPGRADE_SOLE : DIR_EV_UPGRADE;
}

static int classify_evict(const struct dir_step *s)
{
	if (sender_is_owner(s))
		return DIR_EV_UNEXPECTED;
	if (!dir_is_sharer(s->dir, s->slot, s->in->from))
		return DIR_EV_EVICT_STALE;
	return dir_sharer_count(s->dir, s->slot) == 1 ? DIR_EV_EVICT_LAST : DIR_EV_EVICT;
}

/* A replayed WRITEBACK has no data. It was queued while the home was busy, and the home is busy on
 * a page its sender owned only while fetching the page from it: by the replay the sender no longer
 * owns it. A sender that does shows a peer breaking the protocol. */
static int classify_writeback(const struct dir_step *s)
{
	if (!sender_is_owner(s))
		return DIR_EV_WRITEBACK_STALE;
	if (!s->in->data)
		return DIR_EV_UNEXPECTED;
	return s->in->mirror == COH_NO_MIRROR ? DIR_EV_WRITEBACK : DIR_EV_WRITEBACK_MIRRORED;
}

/* Only the mirror the write-back went to acknowledges it; a lost one is replaced by MIRROR_LOST. */
static int classify_replica_reply(const struct dir_step *s)
{
	if (s->entry->state != DIR_REPLICATING)
		return DIR_EV_UNEXPECTED;
	if (s->in->kind == DIR_IN_MIRROR_LOST)
		return DIR_EV_MIRROR_LOST;
	return s->in->from == s->in->mirror ? DIR_EV_REPLICA_ACK : DIR_EV_UNEXPECTED;
}

/* A claim is the requester's word for what it held of a page whose home was lost; it is taken
 * only before anything else happened to the page here. */
static int classify_claim(const struct dir_step *s)
{
	if (!s->entry->adopted || s->entry->state != DIR_UNOWNED)
		return DIR_EV_UNEXPECTED;
	return s->in->kind == DIR_IN_CLAIM_S ? DIR_EV_CLAIM_S : DIR_EV_CLAIM_E;
}

static int classify_inv_ack(const struct dir_step *s)
{
	const struct dir_entry *e = s->entry;
	uint32_t from = s->in->from;
	if (e->state != DIR_INVALIDATING || from == e->active.from ||
	    !dir_is_sharer(s->dir, s->slot, from))
		return DIR_EV_UNEXPECTED;
	bool requester_shares = dir_is_sharer(s->dir, s->slot, e->active.from);
	uint32_t awaited = dir_sharer_count(s->dir, s->slot) - (requester_shares ? 1 : 0);
	if (awaited > 1)
		return DIR_EV_INV_ACK;
	if (e->active.kind == DIR_IN_HOME_STORE)
		return DIR_EV_ACK_LAST_HOME;
	return e->active.has_copy && requester_shares ? DIR_EV_ACK_LAST_UPGRADE
						      : DIR_EV_ACK_LAST_WRITE;
}

static int classify_fetch_reply(const struct dir_step *s, enum dir_state awaiting, int remote,
				int home)
{
	if (s->entry->state != awaiting || s->in->from != s->entry->owner)
		return DIR_EV_UNEXPECTED;
	return s->entry->active.from == s->env->self ? home : remote;
}

static int classify(const struct dir_step *s)
{
	enum dir_input_kind kind = s->in->kind;
	if ((kind == DIR_IN_HOME_LOAD || kind == DIR_IN_HOME_STORE) &&
	    home_copy_allows(s, kind == DIR_IN_HOME_STORE))
		return DIR_EV_HOME_HIT;
	if (is_request(kind) && is_busy(s->entry->state))
		return DIR_EV_REQUEST;
	switch (kind) {
	case DIR_IN_HOME_LOAD:
		return DIR_EV_HOME_LOAD;
	case DIR_IN_HOME_STORE:
		return DIR_EV_HOME_STORE;
	case DIR_IN_READ_REQ:
		return sender_is_owner(s) ? DIR_EV_UNEXPECTED : DIR_EV_READ_REQ;
	case DIR_IN_WRITE_REQ:
		return classify_write_req(s);
	case DIR_IN_EVICT:
		return classify_evict(s);
	case DIR_IN_WRITEBACK:
		return classify_writeback(s);
	case DIR_IN_INV_ACK:
		return classify_inv_ack(s);
	case DIR_IN_FETCH_DATA:
		return classify_fetch_reply(s, DIR_FETCHING, DIR_EV_FETCH_DATA,
					    DIR_EV_FETCH_DATA_HOME);
	case DIR_IN_FETCH_INV_DATA:
		return classify_fetch_reply(s, DIR_FETCHING_INV, DIR_EV_FETCH_INV_DATA,
					    DIR_EV_FETCH_INV_DATA_HOME);
	case DIR_IN_REPLICA_ACK:
	case DIR_IN_MIRROR_LOST:
		return classify_replica_reply(s);
	case DIR_IN_CLAIM_S:
	case DIR_IN_CLAIM_E:
		return classify_claim(s);
	}
	return DIR_EV_UNEXPECTED;
}

static int queue_request(struct dir_step *s, char *err, size_t errlen)
{
	struct dir_entry *e = s->entry;
	struct dir_request req = {(uint8_t)s->in->kind, s->in->has_copy, s->in->from};
	bool home_request = req.kind == DIR_IN_HOME_LOAD || req.kind == DIR_IN_HOME_STORE;
	for (struct dir_queued *q = e->queue_head; home_request && q; q = q->next) {
		if (q->req.kind == req.kind)
			return 0; /* its complete() will wake this fault's thread as well */
	}
	if (e->queue_len >= queue_limit(s->dir)) {
		snprintf(err, errlen, "page %llu: request queue full (%s from node %u)",
			 (unsigned long long)s->page, input_name(s->in->kind), s->in->from);
		return -1;
	}
	struct dir_queued *q = calloc(1, sizeof(*q));
	if (!q) {
		snprintf(err, errlen, "page %llu: out of memory queueing a request",
			 (unsigned long long)s->page);
		return -1;
	}
	q->req = req;
	if (e->queue_tail)
		e->queue_tail->next = q;
	else
		e->queue_head = q;
	e->queue_tail = q;
	e->queue_len++;
	return 0;
}

static void set_home_copy(struct dir_step *s, const uint8_t *data, bool writable)
{
	s->env->ops->install(s->env->ctx, s->page, data, writable);
	s->env->local[s->page] = writable ? COH_E : COH_S;
}

static void send_to(struct dir_step *s, uint32_t node, uint16_t type, const uint8_t *data)
{
	struct coh_msg msg = {.type = type, .page = s->page, .data = data};
	s->env->ops->send(s->env->ctx, node, &msg);
}

static void send_inv_to_others(struct dir_step *s)
{
	for (uint32_t node = 0; node < s->dir->node_count; node++) {
		if (node != s->requester && dir_is_sharer(s->dir, s->slot, node))
			send_to(s, node, COH_MSG_INV, NULL);
	}
}

static void update_home_copy(struct dir_step *s, enum dir_action action)
{
	const struct coh_env *env = s->env;
	enum coh_page_state local = env->local[s->page];
	if (action == DIR_ACT_HOME_DOWNGRADE && local == COH_E) {
		env->ops->downgrade(env->ctx, s->page);
		env->local[s->page] = COH_S;
	} else if (action == DIR_ACT_HOME_DROP && local != COH_I) {
		env->ops->drop(env->ctx, s->page);
		env->local[s->page] = COH_I;
	} else if (action == DIR_ACT_HOME_MAP_RO || action == DIR_ACT_HOME_MAP_RW) {
		set_home_copy(s, NULL, action == DIR_ACT_HOME_MAP_RW);
	} else if (action == DIR_ACT_HOME_INSTALL_RO || action == DIR_ACT_HOME_INSTALL_RW) {
		set_home_copy(s, s->data, action == DIR_ACT_HOME_INSTALL_RW);
	}
}

static int run_action(struct dir_step *s, enum dir_action action, char *err, size_t errlen)
{
	switch (action) {
	case DIR_ACT_QUEUE:
		return queue_request(s, err, errlen);
	case DIR_ACT_HOME_DOWNGRADE:
	case DIR_ACT_HOME_DROP:
	case DIR_ACT_HOME_MAP_RO:
	case DIR_ACT_HOME_MAP_RW:
	case DIR_ACT_HOME_INSTALL_RO:
	case DIR_ACT_HOME_INSTALL_RW:
		update_home_copy(s, action);
		break;
	case DIR_ACT_READ:
		s->env->ops->read_local(s->env->ctx, s->page, s->buf);
		s->data = s->buf;
		break;
	case DIR_ACT_ADD_REQUESTER:
		set_sharer(s->dir, s->slot, s->requester, true);
		break;
	case DIR_ACT_REMOVE_SENDER:
		set_sharer(s->dir, s->slot, s->in->from, false);
		break;
	case DIR_ACT_OWNER_TO_SHARER:
		clear_sharers(s->dir, s->slot);
		set_sharer(s->dir, s->slot, s->entry->owner, true);
		break;
	case DIR_ACT_SET_OWNER:
		clear_sharers(s->dir, s->slot);
		s->entry->owner = s->requester;
		break;
	case DIR_ACT_SEND_READ_DATA:
		send_to(s, s->requester, COH_MSG_READ_DATA, s->data);
		break;
	case DIR_ACT_SEND_GRANT:
		send_to(s, s->requester, COH_MSG_WRITE_GRANT, NULL);
		break;
	case DIR_ACT_SEND_GRANT_DATA:
		send_to(s, s->requester, COH_MSG_WRITE_GRANT, s->data);
		break;
	case DIR_ACT_SEND_INV_OTHERS:
		send_inv_to_others(s);
		break;
	case DIR_ACT_SEND_FETCH:
		send_to(s, s->entry->owner, COH_MSG_FETCH, NULL);
		break;
	case DIR_ACT_SEND_FETCH_INV:
		send_to(s, s->entry->owner, COH_MSG_FETCH_INV, NULL);
		break;
	case DIR_ACT_SEND_WB_ACK:
		send_to(s, s->requester, COH_MSG_WB_ACK, NULL);
		break;
	case DIR_ACT_SEND_REPLICA:
		send_to(s, s->in->mirror, COH_MSG_REPLICA_WRITE, s->data);
		break;
	case DIR_ACT_COMPLETE:
		s->env->ops->complete(s->env->ctx, s->page);
		break;
	case DIR_ACT_END:
	case DIR_ACTION_COUNT:
		break;
	}
	return 0;
}

static int run_input(struct dir_step *s, const struct dir_input *in, char *err, size_t errlen)
{
	struct dir_entry *e = s->entry;
	s->in = in;
	s->data = in->data;
	s->requester = is_request(in->kind) || is_claim(in->kind) ? in->from : e->active.from;
	int event = classify(s);
	const struct dir_row *row = dir_lookup(e->state, event);
	if (!row) {
		snprintf(err, errlen, "page %llu: unexpected %s from node %u (directory %s)",
			 (unsigned long long)s->page, input_name(in->kind), in->from,
			 dir_state_name(e->state));
		return -1;
	}
	if (!is_busy(e->state) && is_busy(row->next))
		e->active = (struct dir_request){(uint8_t)in->kind, in->has_copy, in->from};
	for (size_t i = 0; i < DIR_MAX_ACTIONS && row->actions[i] != DIR_ACT_END; i++) {
		if (run_action(s, row->actions[i], err, errlen) < 0)
			return -1;
	}
	e->state = row->next;
	e->adopted = false;
	return 0;
}

/* Replays queued requests while the entry is free; keeps going past a bad one so that the others
 * are not stranded, and reports the first error. */
static int replay_queue(struct dir_step *s, char *err, size_t errlen)
{
	struct dir_entry *e = s->entry;
	int rc = 0;
	char later_err[256];
	uint32_t mirror = s->in->mirror;
	while (!is_busy(e->state) && e->queue_head) {
		struct dir_queued *q = e->queue_head;
		e->queue_head = q->next;
		if (!e->queue_head)
			e->queue_tail = NULL;
		e->queue_len--;
		struct dir_input in = {q->req.kind, q->req.from, q->req.has_copy, NULL, mirror};
		free(q);
		if (run_input(s, &in, rc < 0 ? later_err : err,
			      rc < 0 ? sizeof(later_err) : errlen) < 0)
			rc = -1;
	}
	return rc;
}

void dir_adopt(struct coh_directory *dir, uint64_t slot)
{
	dir->entries[slot].state = DIR_UNOWNED;
	dir->entries[slot].adopted = true;
	clear_sharers(dir, slot);
}

int dir_handle(const struct coh_env *env, struct coh_directory *dir, uint64_t slot, uint64_t page,
	       const struct dir_input *in, char *err, size_t errlen)
{
	struct dir_step step = {.env = env, .dir = dir, .slot = slot, .page = page};
	step.entry = &dir->entries[slot];
	bool was_busy = is_busy(step.entry->state);
	if (run_input(&step, in, err, errlen) < 0)
		return -1;
	if (!was_busy)
		return 0;
	return replay_queue(&step, err, errlen);
}
