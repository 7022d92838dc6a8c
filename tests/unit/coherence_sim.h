/* A simulated cluster for the coherence protocol tests: N protocol instances joined by in-memory
 * FIFO links (one per ordered pair of nodes, as the transport guarantees) that a test delivers
 * from one message at a time, each node with a fake memory (page bytes + a protection) and threads
 * that access pages. Every message goes through the payload codec. After every step the
 * single-writer/multiple-readers invariant is checked: at most one writable copy, no other copy
 * beside it, and every mapped copy holds the page's last written version (a counter kept in the
 * page). Shared by test_protocol.c (scenarios), test_protocol_random.c (exploration) and
 * test_protocol_replicas.c (a node lost). */
#ifndef TESTS_UNIT_COHERENCE_SIM_H
#define TESTS_UNIT_COHERENCE_SIM_H

#include "coherence/protocol.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum prot { PROT_NONE, PROT_RO, PROT_RW };

struct sim_page {
	uint8_t prot;
	uint8_t data[COH_PAGE_SIZE];
};

struct sim_msg {
	struct sim_msg *next;
	uint16_t type;
	size_t len;
	uint8_t bytes[]; /* len bytes of payload */
};

struct sim_link {
	struct sim_msg *head, *tail;
	size_t len;
};

enum access_state { ACC_WAITING, ACC_RETRY, ACC_DONE };

struct sim_access {
	uint32_t node;
	uint64_t page;
	bool write;
	enum access_state state;
};

/* One line of the trace: a message sent or delivered. */
struct sim_event {
	bool delivered;
	uint32_t from, to;
	uint16_t type;
	bool has_data;
};

struct sim;

struct sim_node {
	struct sim *sim;
	uint32_t id;
	bool lost; /* killed: its messages are gone and nobody counts its copies */
	struct coh *coh;
	struct sim_page *pages;
};

struct sim {
	uint64_t seed;
	uint32_t node_count;
	uint64_t page_count;
	struct sim_node *nodes;
	struct sim_link *links; /* [from * node_count + to] */
	size_t in_flight;
	uint64_t *last_version;
	struct sim_access *accesses;
	size_t access_count, access_cap;
	struct sim_event *trace;
	size_t trace_len, trace_cap;
};

__attribute__((format(printf, 2, 3))) static void sim_fail(const struct sim *sim, const char *fmt,
							   ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	cr_assert_fail("seed %llu (replay with VSMP_PROTOCOL_SEED=%llu): %s",
		       (unsigned long long)sim->seed, (unsigned long long)sim->seed, what);
}

static void *grow(void *array, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return array;
	*cap = need * 2;
	void *p = realloc(array, *cap * size);
	cr_assert_not_null(p);
	return p;
}

static uint64_t version_of(const uint8_t *data)
{
	uint64_t head, tail;
	memcpy(&head, data, 8);
	memcpy(&tail, data + COH_PAGE_SIZE - 8, 8);
	return head == tail ? head : UINT64_MAX;
}

static void write_version(uint8_t *data, uint64_t version)
{
	memcpy(data, &version, 8);
	memcpy(data + COH_PAGE_SIZE - 8, &version, 8);
}

/* The page's home as the nodes know it; under FIRST_TOUCH all that know must agree, and it is
 * COH_HOME_UNKNOWN while none does. Read without the protocol's locks (callbacks run under them),
 * which the single-threaded simulation allows. */
static uint32_t home_of(const struct sim *sim, uint64_t page)
{
	uint32_t home = COH_HOME_UNKNOWN;
	for (uint32_t n = 0; n < sim->node_count; n++) {
		if (sim->nodes[n].lost)
			continue;
		uint32_t known = coh_home_of(coh_homes(sim->nodes[n].coh), page);
		if (known == COH_HOME_ASKED)
			continue;
		if (known != COH_HOME_UNKNOWN && home != COH_HOME_UNKNOWN && known != home)
			sim_fail(sim, "page %llu: node %u says node %u homes it, another %u",
				 (unsigned long long)page, n, known, home);
		if (known != COH_HOME_UNKNOWN)
			home = known;
	}
	return home;
}

static void log_event(struct sim *sim, bool delivered, uint32_t from, uint32_t to, uint16_t type,
		      bool has_data)
{
	sim->trace = grow(sim->trace, &sim->trace_cap, sim->trace_len + 1, sizeof(*sim->trace));
	sim->trace[sim->trace_len++] = (struct sim_event){delivered, from, to, type, has_data};
}

/* A message that lets its receiver read (or write) must leave a sender whose own copy already
 * allows no conflicting access: checked at send time, because the receiver may act at once. */
static void check_sender_copy(struct sim_node *n, const struct coh_msg *msg)
{
	uint8_t prot = n->pages[msg->page].prot;
	bool must_be_gone = msg->type == COH_MSG_WRITE_GRANT ||
			    msg->type == COH_MSG_FETCH_INV_DATA || msg->type == COH_MSG_INV_ACK;
	bool must_be_ro = msg->type == COH_MSG_READ_DATA || msg->type == COH_MSG_FETCH_DATA ||
			  msg->type == COH_MSG_WRITEBACK;
	if ((must_be_gone && prot != PROT_NONE) || (must_be_ro && prot == PROT_RW))
		sim_fail(n->sim, "node %u sends %s for page %llu while its copy is %s", n->id,
			 coh_msg_type_name(msg->type), (unsigned long long)msg->page,
			 prot == PROT_RW ? "writable" : "readable");
}

static void cb_send(void *ctx, uint32_t to, const struct coh_msg *msg)
{
	struct sim_node *n = ctx;
	struct sim *sim = n->sim;
	char err[256];
	check_sender_copy(n, msg);
	uint8_t payload[COH_MSG_MAX_SIZE];
	size_t len;
	if (coh_msg_encode(msg, payload, sizeof(payload), &len, err, sizeof(err)) < 0)
		sim_fail(sim, "node %u cannot encode: %s", n->id, err);
	struct sim_msg *m = malloc(sizeof(*m) + len);
	cr_assert_not_null(m);
	*m = (struct sim_msg){NULL, msg->type, len};
	memcpy(m->bytes, payload, len);
	struct sim_link *link = &sim->links[n->id * sim->node_count + to];
	if (link->tail)
		link->tail->next = m;
	else
		link->head = m;
	link->tail = m;
	link->len++;
	sim->in_flight++;
	log_event(sim, false, n->id, to, msg->type, msg->data != NULL);
}

static void cb_install(void *ctx, uint64_t page, const uint8_t *data, bool writable)
{
	struct sim_node *n = ctx;
	struct sim_page *p = &n->pages[page];
	if (data)
		memcpy(p->data, data, COH_PAGE_SIZE);
	else if (p->prot == PROT_NONE && home_of(n->sim, page) != n->id)
		sim_fail(n->sim, "node %u maps page %llu without data and without a copy", n->id,
			 (unsigned long long)page);
	p->prot = writable ? PROT_RW : PROT_RO;
}

static void cb_drop(void *ctx, uint64_t page)
{
	struct sim_node *n = ctx;
	n->pages[page].prot = PROT_NONE;
	memset(n->pages[page].data, 0, COH_PAGE_SIZE); /* a punched hole reads as zeros */
}

static void cb_downgrade(void *ctx, uint64_t page)
{
	struct sim_node *n = ctx;
	if (n->pages[page].prot != PROT_RW)
		sim_fail(n->sim, "node %u downgrades page %llu, not writable", n->id,
			 (unsigned long long)page);
	n->pages[page].prot = PROT_RO;
}

static void cb_read_local(void *ctx, uint64_t page, uint8_t *buf)
{
	struct sim_node *n = ctx;
	if (n->pages[page].prot == PROT_NONE && home_of(n->sim, page) != n->id)
		sim_fail(n->sim, "node %u reads page %llu, which it does not hold", n->id,
			 (unsigned long long)page);
	memcpy(buf, n->pages[page].data, COH_PAGE_SIZE);
}

/* The thread's access, if the mapping allows it now; a read checks it sees the last write. */
static bool try_perform(struct sim *sim, struct sim_access *a)
{
	struct sim_page *p = &sim->nodes[a->node].pages[a->page];
	if (p->prot == PROT_NONE || (a->write && p->prot != PROT_RW))
		return false;
	if (version_of(p->data) != sim->last_version[a->page])
		sim_fail(sim, "node %u reads version %llu of page %llu, last written %llu", a->node,
			 (unsigned long long)version_of(p->data), (unsigned long long)a->page,
			 (unsigned long long)sim->last_version[a->page]);
	if (a->write)
		write_version(p->data, ++sim->last_version[a->page]);
	a->state = ACC_DONE;
	return true;
}

/* Waiting threads wake and retry at once (as after UFFDIO_WAKE); one that still cannot proceed
 * faults again later. */
static void cb_complete(void *ctx, uint64_t page)
{
	struct sim_node *n = ctx;
	struct sim *sim = n->sim;
	for (size_t i = 0; i < sim->access_count; i++) {
		struct sim_access *a = &sim->accesses[i];
		if (a->node == n->id && a->page == page && a->state == ACC_WAITING &&
		    !try_perform(sim, a))
			a->state = ACC_RETRY;
	}
}

/* A mirror's copy: the bytes, never mapped. */
static void cb_keep_copy(void *ctx, uint64_t page, const uint8_t *data)
{
	struct sim_node *n = ctx;
	if (n->pages[page].prot != PROT_NONE)
		sim_fail(n->sim, "node %u keeps a copy of page %llu, which it maps", n->id,
			 (unsigned long long)page);
	memcpy(n->pages[page].data, data, COH_PAGE_SIZE);
}

static const struct coh_ops sim_ops = {cb_send,	      cb_install,  cb_drop,	cb_downgrade,
				       cb_read_local, cb_complete, cb_keep_copy};

static void check_invariant(const struct sim *sim)
{
	for (uint64_t page = 0; page < sim->page_count; page++) {
		uint32_t readable = 0, writable = 0;
		for (uint32_t n = 0; n < sim->node_count; n++) {
			const struct sim_page *p = &sim->nodes[n].pages[page];
			if (p->prot == PROT_NONE || sim->nodes[n].lost)
				continue;
			readable++;
			writable += p->prot == PROT_RW;
			if (version_of(p->data) != sim->last_version[page])
				sim_fail(sim, "node %u maps version %llu of page %llu, last %llu",
					 n, (unsigned long long)version_of(p->data),
					 (unsigned long long)page,
					 (unsigned long long)sim->last_version[page]);
		}
		if (writable > 1 || (writable == 1 && readable > 1))
			sim_fail(sim, "page %llu: %u writable and %u mapped copies",
				 (unsigned long long)page, writable, readable);
	}
}

static struct sim *sim_new_homes(uint32_t node_count, uint64_t page_count,
				 struct coh_home_config homes, uint64_t seed)
{
	struct sim *sim = calloc(1, sizeof(*sim));
	cr_assert_not_null(sim);
	sim->seed = seed;
	sim->node_count = node_count;
	sim->page_count = page_count;
	sim->nodes = calloc(node_count, sizeof(*sim->nodes));
	sim->links = calloc((size_t)node_count * node_count, sizeof(*sim->links));
	sim->last_version = calloc(page_count, sizeof(uint64_t));
	cr_assert(sim->nodes && sim->links && sim->last_version);
	for (uint32_t n = 0; n < node_count; n++) {
		char err[256];
		struct sim_node *node = &sim->nodes[n];
		node->sim = sim;
		node->id = n;
		node->pages = calloc(page_count, sizeof(*node->pages));
		cr_assert_not_null(node->pages);
		struct coh_config cfg = {page_count, node_count, n, homes, &sim_ops, node};
		node->coh = coh_create(&cfg, err, sizeof(err));
		cr_assert_not_null(node->coh, "coh_create: %s", err);
	}
	return sim;
}

static void sim_free(struct sim *sim)
{
	for (size_t i = 0; i < (size_t)sim->node_count * sim->node_count; i++) {
		for (struct sim_msg *m = sim->links[i].head, *next; m; m = next) {
			next = m->next;
			free(m);
		}
	}
	for (uint32_t n = 0; n < sim->node_count; n++) {
		coh_destroy(sim->nodes[n].coh);
		free(sim->nodes[n].pages);
	}
	free(sim->nodes);
	free(sim->links);
	free(sim->last_version);
	free(sim->accesses);
	free(sim->trace);
	free(sim);
}

static void fault(struct sim *sim, struct sim_access *a)
{
	char err[256];
	a->state = ACC_WAITING;
	if (coh_fault(sim->nodes[a->node].coh, a->page, a->write, err, sizeof(err)) < 0)
		sim_fail(sim, "coh_fault: %s", err);
	check_invariant(sim);
}

/* A thread of `node` touches `page`: done at once if mapped, else it faults and waits. */
static size_t sim_access(struct sim *sim, uint32_t node, uint64_t page, bool write)
{
	sim->accesses =
	    grow(sim->accesses, &sim->access_cap, sim->access_count + 1, sizeof(*sim->accesses));
	size_t id = sim->access_count++;
	struct sim_access *a = &sim->accesses[id];
	*a = (struct sim_access){node, page, write, ACC_WAITING};
	if (!try_perform(sim, a))
		fault(sim, a);
	return id;
}

static size_t link_len(const struct sim *sim, uint32_t from, uint32_t to)
{
	return sim->links[from * sim->node_count + to].len;
}

static void deliver(struct sim *sim, uint32_t from, uint32_t to)
{
	struct sim_link *link = &sim->links[from * sim->node_count + to];
	struct sim_msg *m = link->head;
	if (!m)
		sim_fail(sim, "no message from %u to %u", from, to);
	link->head = m->next;
	if (!link->head)
		link->tail = NULL;
	link->len--;
	sim->in_flight--;
	struct coh_msg msg;
	char err[256];
	if (coh_msg_decode(m->type, m->bytes, m->len, sim->page_count, &msg, err, sizeof(err)) < 0)
		sim_fail(sim, "decode from %u: %s", from, err);
	log_event(sim, true, from, to, msg.type, msg.data != NULL);
	if (coh_receive(sim->nodes[to].coh, from, &msg, err, sizeof(err)) < 0)
		sim_fail(sim, "node %u rejects %s from %u: %s", to, coh_msg_type_name(m->type),
			 from, err);
	free(m);
	check_invariant(sim);
}

/* The node dies: what it sent and what was sent to it is gone. */
__attribute__((unused)) static void sim_kill(struct sim *sim, uint32_t node)
{
	sim->nodes[node].lost = true;
	for (uint32_t other = 0; other < sim->node_count; other++) {
		struct sim_link *links[] = {&sim->links[node * sim->node_count + other],
					    &sim->links[other * sim->node_count + node]};
		for (int i = 0; i < 2; i++) {
			while (links[i]->head) {
				struct sim_msg *m = links[i]->head;
				links[i]->head = m->next;
				free(m);
				sim->in_flight--;
			}
			links[i]->tail = NULL;
			links[i]->len = 0;
		}
	}
}

static bool retry_one(struct sim *sim, size_t i)
{
	struct sim_access *a = &sim->accesses[i];
	if (a->state != ACC_RETRY)
		return false;
	if (!try_perform(sim, a))
		fault(sim, a);
	return true;
}

static enum coh_page_state state_at(struct sim *sim, uint32_t node, uint64_t page)
{
	return coh_page_state(sim->nodes[node].coh, page);
}

/* The directory entry of a page at its home, and its slot there. */
static const struct dir_entry *home_entry(const struct sim *sim, uint64_t page,
					  const struct coh_directory **dir, uint64_t *slot)
{
	const struct coh *home = sim->nodes[home_of(sim, page)].coh;
	*dir = coh_directory(home);
	*slot = coh_home_slot(coh_homes(home), page);
	return &(*dir)->entries[*slot];
}

/* A page no node has homed yet (FIRST_TOUCH) has no copy anywhere. */
static void check_untouched(struct sim *sim, uint64_t page)
{
	for (uint32_t n = 0; n < sim->node_count; n++) {
		if (state_at(sim, n, page) != COH_I || sim->nodes[n].pages[page].prot != PROT_NONE)
			sim_fail(sim, "page %llu has no home but node %u holds it",
				 (unsigned long long)page, n);
	}
}

/* Delivers everything in a fixed order (links round robin, retries in between) until idle. */
__attribute__((unused)) static void sim_run(struct sim *sim)
{
	for (int rounds = 0;; rounds++) {
		bool progress = false;
		if (rounds > 100000)
			sim_fail(sim, "no quiescence");
		for (uint32_t from = 0; from < sim->node_count; from++) {
			for (uint32_t to = 0; to < sim->node_count; to++) {
				if (link_len(sim, from, to)) {
					deliver(sim, from, to);
					progress = true;
				}
			}
		}
		for (size_t i = 0; i < sim->access_count; i++)
			progress |= retry_one(sim, i);
		if (!progress)
			return;
	}
}

/* Quiescent: every access done, no message in flight, each directory equal to the copies. */
__attribute__((unused)) static void check_quiescent(struct sim *sim)
{
	for (size_t i = 0; i < sim->access_count; i++) {
		const struct sim_access *a = &sim->accesses[i];
		if (a->state != ACC_DONE)
			sim_fail(sim, "access %zu (node %u, page %llu, %s) never completed", i,
				 a->node, (unsigned long long)a->page, a->write ? "write" : "read");
	}
	if (sim->in_flight)
		sim_fail(sim, "%zu messages still in flight", sim->in_flight);
	for (uint64_t page = 0; page < sim->page_count; page++) {
		uint32_t home = home_of(sim, page);
		if (home == COH_HOME_UNKNOWN) {
			check_untouched(sim, page);
			continue;
		}
		const struct coh_directory *dir;
		uint64_t slot;
		const struct dir_entry *e = home_entry(sim, page, &dir, &slot);
		if (e->state > DIR_EXCLUSIVE || e->queue_len)
			sim_fail(sim, "page %llu: directory %s with %u queued",
				 (unsigned long long)page, dir_state_name(e->state), e->queue_len);
		for (uint32_t n = 0; n < sim->node_count; n++) {
			enum coh_page_state st = state_at(sim, n, page);
			bool shares = n != home && dir_is_sharer(dir, slot, n);
			bool owns = n != home && e->state == DIR_EXCLUSIVE && e->owner == n;
			bool ok =
			    n == home
				? st <= COH_E && (e->state != DIR_EXCLUSIVE || st == COH_I)
				: (st == COH_S) == shares && (st == COH_E) == owns && st <= COH_E;
			if (!ok)
				sim_fail(sim, "page %llu: node %u is %s, directory %s",
					 (unsigned long long)page, n, coh_page_state_name(st),
					 dir_state_name(e->state));
		}
	}
}

#endif
