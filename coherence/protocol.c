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
 * The two tables in protocol_table.c are the protocol: the code runs them and nothing else, and
 * docs/coherence.md reproduces them (a unit test keeps the two equal). */
#include "coherence/protocol.h"
#include "coherence/page_table.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	       ops->complete && ops->keep_copy;
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

static int handle_home(struct coh *c, uint64_t page, struct dir_input *in, char *err, size_t errlen)
{
	uint64_t slot = coh_home_slot(&c->homes, page);
	in->mirror = coh_home_mirror(&c->homes, page);
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
				       false, NULL, 0};
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
	case COH_MSG_REPLICA_ACK:
		return DIR_IN_REPLICA_ACK;
	case COH_MSG_CLAIM_S:
		return DIR_IN_CLAIM_S;
	case COH_MSG_CLAIM_E:
		return DIR_IN_CLAIM_E;
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
	struct dir_input in = {home_input_of(msg->type), from, msg->has_copy, msg->data, 0};
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

/* --- Replicas: a range changes hands after a node's loss ------------------------------------ */

static void send_to_home(struct coh *c, uint32_t home, uint16_t type, uint64_t page, bool has_copy,
			 const uint8_t *data)
{
	struct coh_msg msg = {.type = type, .page = page, .has_copy = has_copy, .data = data};
	c->env.ops->send(c->env.ctx, home, &msg);
}

/* A requester's copy of a page whose home is now `home`: say what it holds, and send again what
 * the lost home left unanswered (each waiting state is left as it is: the new home's answer is
 * what it waits for). */
static int claim_copy(struct coh *c, uint64_t page, uint32_t home, char *err, size_t errlen)
{
	uint8_t buf[COH_PAGE_SIZE];
	switch ((enum coh_page_state)c->env.local[page]) {
	case COH_I:
		break;
	case COH_S:
		send_to_home(c, home, COH_MSG_CLAIM_S, page, false, NULL);
		break;
	case COH_E:
		send_to_home(c, home, COH_MSG_CLAIM_E, page, false, NULL);
		break;
	case COH_IS_D:
		send_to_home(c, home, COH_MSG_READ_REQ, page, false, NULL);
		break;
	case COH_IM_D:
		send_to_home(c, home, COH_MSG_WRITE_REQ, page, false, NULL);
		break;
	case COH_SM_D:
		send_to_home(c, home, COH_MSG_CLAIM_S, page, false, NULL);
		send_to_home(c, home, COH_MSG_WRITE_REQ, page, true, NULL);
		break;
	case COH_MI_A:
		c->env.ops->read_local(c->env.ctx, page, buf);
		send_to_home(c, home, COH_MSG_CLAIM_E, page, false, NULL);
		send_to_home(c, home, COH_MSG_WRITEBACK, page, false, buf);
		break;
	default:
		snprintf(err, errlen,
			 "page %llu: its write-back went to the lost home, which took the copy",
			 (unsigned long long)page);
		return -1;
	}
	return 0;
}

/* The page's home was lost and this node kept its copy: from now on that copy (stored, not
 * mapped, as an untouched home page is) is the home's. */
static void adopt_page(struct coh *c, uint64_t page)
{
	dir_adopt(&c->dir, coh_home_slot(&c->homes, page));
}

/* The mirror a write-back waits for is gone: acknowledge it on the copies left. */
static int mirror_lost(struct coh *c, uint64_t page, uint32_t lost, char *err, size_t errlen)
{
	const struct dir_entry *entry = &c->dir.entries[coh_home_slot(&c->homes, page)];
	if (entry->state != DIR_REPLICATING)
		return 0;
	struct dir_input in = {DIR_IN_MIRROR_LOST, lost, false, NULL, 0};
	return handle_home(c, page, &in, err, errlen);
}

int coh_set_range(struct coh *c, uint32_t range, uint32_t home, uint32_t mirror, char *err,
		  size_t errlen)
{
	const struct coh_homes *homes = &c->homes;
	if (!homes->range_home || range >= c->node_count || !is_node(c, home) || mirror == home ||
	    (mirror != COH_NO_MIRROR && !is_node(c, mirror))) {
		snprintf(err, errlen, "range %u cannot move to node %u, mirrored by %u", range,
			 home, mirror);
		return -1;
	}
	uint32_t old_home = homes->range_home[range], old_mirror = homes->range_mirror[range];
	uint32_t self = c->env.self;
	coh_home_set_range(&c->homes, range, home, mirror);
	uint64_t first, end;
	coh_home_range(homes, range, &first, &end);
	int rc = 0;
	for (uint64_t page = first; page < end && rc == 0; page++) {
		pthread_mutex_lock(lock_of(c, page));
		if (home == self && old_home != self)
			adopt_page(c, page);
		else if (home == self && old_mirror != mirror && old_mirror != COH_NO_MIRROR)
			rc = mirror_lost(c, page, old_mirror, err, errlen);
		else if (home != self && home != old_home)
			rc = claim_copy(c, page, home, err, errlen);
		pthread_mutex_unlock(lock_of(c, page));
	}
	return rc;
}

bool coh_copy_to_mirror(struct coh *c, uint64_t page)
{
	if (page >= c->page_count)
		return false;
	pthread_mutex_lock(lock_of(c, page));
	uint32_t mirror = coh_home_mirror(&c->homes, page);
	bool sent = false;
	if (mirror != COH_NO_MIRROR && coh_home_of(&c->homes, page) == c->env.self) {
		uint8_t state = c->dir.entries[coh_home_slot(&c->homes, page)].state;
		if (state == DIR_UNOWNED || state == DIR_SHARED) {
			uint8_t buf[COH_PAGE_SIZE];
			c->env.ops->read_local(c->env.ctx, page, buf);
			struct coh_msg msg = {
			    .type = COH_MSG_REPLICA_COPY, .page = page, .data = buf};
			c->env.ops->send(c->env.ctx, mirror, &msg);
			sent = true;
		}
	}
	pthread_mutex_unlock(lock_of(c, page));
	return sent;
}

/* The mirror's side: the page's home sends its copy; a REPLICA_WRITE waits for our ack. */
static int keep_copy(struct coh *c, uint32_t from, const struct coh_msg *msg, char *err,
		     size_t errlen)
{
	if (coh_home_mirror(&c->homes, msg->page) != c->env.self ||
	    coh_home_of(&c->homes, msg->page) != from) {
		snprintf(err, errlen,
			 "%s for page %llu from node %u, which this node does not mirror",
			 coh_msg_type_name(msg->type), (unsigned long long)msg->page, from);
		return -1;
	}
	c->env.ops->keep_copy(c->env.ctx, msg->page, msg->data);
	if (msg->type == COH_MSG_REPLICA_WRITE) {
		struct coh_msg ack = {.type = COH_MSG_REPLICA_ACK, .page = msg->page};
		c->env.ops->send(c->env.ctx, from, &ack);
	}
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
	case COH_TO_MIRROR:
		rc = keep_copy(c, from, msg, err, errlen);
		break;
	default:
		rc = learn_home(c, from, msg, err, errlen);
		break;
	}
	pthread_mutex_unlock(lock_of(c, msg->page));
	return rc;
}
