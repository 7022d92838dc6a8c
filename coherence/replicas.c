/* Replicas: who serves and who mirrors each lent range, through node losses (replicas.h).
 *
 * Every node computes the same assignment from the same facts: range n starts served by node n
 * and mirrored by mirrors[n]; when node X is lost, a range X served is served by its mirror from
 * then on, and a range that loses its home or its mirror is mirrored by the spare (if there is
 * one, alive, and not the range's home) or by nobody. The loss is known to each node at its own
 * moment (its own heartbeat, a peer's report), and a node must not be asked to serve or mirror a
 * range before it knows it does: the protocol would take the request for a stray one. So each
 * node, once it has taken its own part in a loss (a new home adopts its pages, a mirror accepts
 * copies from the new home), says RECOVERED to every peer; the others hand a range to its new
 * home, or a home starts copying to its new mirror, only once that node has said RECOVERED for
 * every loss they know of. Until then they keep the old assignment: a requester's messages to the
 * lost home go nowhere (the transport drops them) and it waits, which coh_set_range later turns
 * into messages to the new home.
 *
 * The copying onto a new mirror runs on the progress thread a slice per turn: each page whose
 * home copy is current goes as REPLICA_COPY (a page being written back reaches the new mirror
 * anyway). Every PAGES_PER_MARK pages the home sends MARK, which the mirror answers (MARKED) once
 * the copies before it are stored; at most MARKS_IN_FLIGHT are unanswered, which bounds what
 * waits in the transport's queues. The last MARKED makes the range protected again: the home
 * says PROTECTED to every node, for their status. */
#include "coherence/replicas.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coherence/cluster.h"
#include "coherence/protocol.h"

#define PAGES_PER_MARK	64
#define MARKS_IN_FLIGHT 4
#define MSG_VERSION	1
#define MSG_SIZE	12 /* version u8, 3 reserved, two u32 (little endian) */

struct range {
	uint64_t pages;
	bool lent;	       /* configured with a mirror: a lending node's memory */
	uint32_t home, mirror; /* the assignment all losses known here lead to */
	bool in_sync;	       /* the mirror holds every page (as far as this node knows) */
	/* The node serving the range, copying it to a new mirror (the progress thread's): */
	bool copying;
	uint32_t copy_to;
	uint64_t next_page, end_page;
	uint32_t marks_sent, marks_answered;
};

struct replicas {
	struct replicas_params p;
	pthread_mutex_t lock; /* losses reported (any thread) against the progress thread */
	struct range *ranges;
	size_t words;		       /* per node bitmap */
	uint64_t *lost;		       /* nodes reported lost (under lock) */
	uint64_t *pending;	       /* reported, this node's part not yet taken (under lock) */
	uint64_t *ready;	       /* [node]: the losses that node said RECOVERED for */
	_Atomic uint64_t pages_copied; /* read by replicas_status from any thread */
	atomic_bool any_pending;       /* so that the progress thread's turns take no lock */
};

static bool bit(const uint64_t *set, uint32_t node)
{
	return (set[node / 64] >> (node % 64)) & 1;
}

static void set_bit(uint64_t *set, uint32_t node)
{
	set[node / 64] |= 1ull << (node % 64);
}

static uint64_t *ready_of(struct replicas *r, uint32_t node)
{
	return r->ready + (size_t)node * r->words;
}

/* Has node said RECOVERED for every loss known here? Under lock. */
static bool node_ready(struct replicas *r, uint32_t node)
{
	if (node == r->p.self)
		return true;
	const uint64_t *ready = ready_of(r, node);
	for (size_t w = 0; w < r->words; w++)
		if (r->lost[w] & ~ready[w])
			return false;
	return true;
}

struct replicas *replicas_create(const struct replicas_params *params)
{
	struct replicas *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->p = *params;
	r->p.range_pages = NULL; /* the caller's: copied below */
	r->p.mirrors = NULL;
	uint32_t n = params->node_count;
	r->words = (n + 63) / 64;
	r->ranges = calloc(n, sizeof(*r->ranges));
	r->lost = calloc(r->words, sizeof(uint64_t));
	r->pending = calloc(r->words, sizeof(uint64_t));
	r->ready = calloc((size_t)n * r->words, sizeof(uint64_t));
	if (!r->ranges || !r->lost || !r->pending || !r->ready) {
		replicas_destroy(r);
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	for (uint32_t i = 0; i < n; i++) {
		r->ranges[i] = (struct range){.pages = params->range_pages[i],
					      .lent = params->mirrors[i] != COH_NO_MIRROR,
					      .home = i,
					      .mirror = params->mirrors[i],
					      .in_sync = params->mirrors[i] != COH_NO_MIRROR};
	}
	return r;
}

void replicas_destroy(struct replicas *r)
{
	if (!r)
		return;
	if (r->ranges)
		pthread_mutex_destroy(&r->lock);
	free(r->ranges);
	free(r->lost);
	free(r->pending);
	free(r->ready);
	free(r);
}

static const char *name_of(struct replicas *r, uint32_t node)
{
	return cluster_node_name(r->p.cluster, node);
}

/* The spare for a range served by home, or COH_NO_MIRROR. */
static uint32_t spare_for(struct replicas *r, uint32_t home)
{
	uint32_t spare = r->p.spare;
	if (spare == COH_NO_MIRROR || bit(r->lost, spare) || spare == home)
		return COH_NO_MIRROR;
	return spare;
}

bool replicas_node_lost(struct replicas *r, unsigned node, char *why, size_t whylen)
{
	pthread_mutex_lock(&r->lock);
	bool ok = true;
	set_bit(r->lost, node);
	for (uint32_t i = 0; i < r->p.node_count && ok; i++) {
		struct range *range = &r->ranges[i];
		if (!range->pages || (range->home != node && range->mirror != node))
			continue;
		if (range->home == node && (range->mirror == COH_NO_MIRROR || !range->in_sync)) {
			snprintf(why, whylen, "%s held the only copy of %s's memory",
				 name_of(r, node), name_of(r, i));
			ok = false;
			break;
		}
		if (range->home == node)
			range->home = range->mirror;
		range->mirror = spare_for(r, range->home);
		range->in_sync = false;
	}
	if (ok) {
		set_bit(r->pending, node);
		atomic_store(&r->any_pending, true);
	}
	pthread_mutex_unlock(&r->lock);
	return ok;
}

static void send_msg(struct replicas *r, uint32_t node, uint16_t type, uint32_t a, uint32_t b)
{
	uint8_t msg[MSG_SIZE] = {MSG_VERSION};
	for (int i = 0; i < 4; i++) {
		msg[4 + i] = (uint8_t)(a >> (8 * i));
		msg[8 + i] = (uint8_t)(b >> (8 * i));
	}
	r->p.send(r->p.ctx, node, type, msg, sizeof(msg));
}

static void broadcast(struct replicas *r, uint16_t type, uint32_t a)
{
	for (uint32_t n = 0; n < r->p.node_count; n++)
		if (n != r->p.self && cluster_peer_up(r->p.cluster, n))
			send_msg(r, n, type, a, 0);
}

/* What this node hands the protocol for range i now: its own part at once, another node's part
 * once that node is ready for it; the protocol's current view otherwise. Under lock. */
static void wanted(struct replicas *r, uint32_t i, uint32_t *home, uint32_t *mirror)
{
	const struct coh_homes *homes = coh_homes(r->p.coh);
	const struct range *range = &r->ranges[i];
	uint32_t self = r->p.self;
	*home = homes->range_home[i];
	*mirror = homes->range_mirror[i];
	if (range->home == self) {
		*home = self;
		*mirror = range->mirror != COH_NO_MIRROR && node_ready(r, range->mirror)
			      ? range->mirror
			      : COH_NO_MIRROR;
	} else if (range->mirror == self || node_ready(r, range->home)) {
		*home = range->home;
		*mirror = range->mirror;
	}
}

static void start_copying(struct replicas *r, uint32_t i, uint32_t mirror)
{
	struct range *range = &r->ranges[i];
	uint64_t first, end;
	coh_home_range(coh_homes(r->p.coh), i, &first, &end);
	range->copying = true;
	range->copy_to = mirror;
	range->next_page = first;
	range->end_page = end;
	range->marks_sent = range->marks_answered = 0;
	cluster_log(r->p.cluster, "replicas on %s: copying %s's memory (%llu pages) onto %s",
		    name_of(r, r->p.self), name_of(r, i), (unsigned long long)(end - first),
		    name_of(r, mirror));
}

/* Brings the protocol's assignment of every range as far as the nodes' readiness allows. */
static void apply(struct replicas *r)
{
	char err[256];
	for (uint32_t i = 0; i < r->p.node_count; i++) {
		const struct coh_homes *homes = coh_homes(r->p.coh);
		if (!r->ranges[i].pages)
			continue;
		uint32_t home, mirror, old_mirror = homes->range_mirror[i];
		pthread_mutex_lock(&r->lock);
		wanted(r, i, &home, &mirror);
		pthread_mutex_unlock(&r->lock);
		if (home == homes->range_home[i] && mirror == old_mirror)
			continue;
		if (coh_set_range(r->p.coh, i, home, mirror, err, sizeof(err)) < 0) {
			r->p.fatal(r->p.ctx, err);
			return;
		}
		r->ranges[i].copying = false;
		if (home == r->p.self && mirror != COH_NO_MIRROR)
			start_copying(r, i, mirror);
	}
}

static void take_part(struct replicas *r, uint32_t node)
{
	apply(r);
	broadcast(r, REPLICAS_MSG_RECOVERED, node);
	struct replicas_status st;
	replicas_status(r, &st);
	cluster_log(
	    r->p.cluster, "replicas on %s: %s lost; the guest goes on from the copies left (%s)",
	    name_of(r, r->p.self), name_of(r, node),
	    st.state == REPLICAS_PROTECTED ? "every lent page still on two nodes"
	    : st.state == REPLICAS_REBUILDING
		? "degraded: some lent memory on one node until a spare has a copy"
		: "degraded: some lent memory on one node only, and no spare to copy it to");
}

/* A slice of the copying onto new mirrors. */
static unsigned copy_slice(struct replicas *r)
{
	unsigned work = 0;
	for (uint32_t i = 0; i < r->p.node_count; i++) {
		struct range *range = &r->ranges[i];
		if (!range->copying ||
		    range->marks_sent - range->marks_answered >= MARKS_IN_FLIGHT ||
		    range->next_page >= range->end_page)
			continue;
		uint64_t end = range->next_page + PAGES_PER_MARK;
		if (end > range->end_page)
			end = range->end_page;
		for (; range->next_page < end; range->next_page++)
			r->pages_copied += coh_copy_to_mirror(r->p.coh, range->next_page);
		send_msg(r, range->copy_to, REPLICAS_MSG_MARK, i, ++range->marks_sent);
		work++;
	}
	return work;
}

unsigned replicas_step(struct replicas *r)
{
	unsigned work = 0;
	/* A load first: no locked write on the turns (nearly all) with nothing pending. */
	bool pending = atomic_load(&r->any_pending) && atomic_exchange(&r->any_pending, false);
	for (uint32_t node = 0; pending && node < r->p.node_count; node++) {
		pthread_mutex_lock(&r->lock);
		bool due = bit(r->pending, node);
		r->pending[node / 64] &= ~(1ull << (node % 64));
		pthread_mutex_unlock(&r->lock);
		if (due) {
			take_part(r, node);
			work++;
		}
	}
	return work + copy_slice(r);
}

static void mark_answered(struct replicas *r, unsigned src, uint32_t i, uint32_t seq)
{
	struct range *range = &r->ranges[i];
	if (!range->copying || src != range->copy_to || seq != range->marks_answered + 1 ||
	    seq > range->marks_sent) {
		char why[128];
		snprintf(why, sizeof(why), "replicas: %s answered a copy mark it was not sent",
			 name_of(r, src));
		r->p.fatal(r->p.ctx, why);
		return;
	}
	range->marks_answered = seq;
	if (range->next_page < range->end_page || seq != range->marks_sent)
		return;
	range->copying = false;
	pthread_mutex_lock(&r->lock);
	range->in_sync = true;
	pthread_mutex_unlock(&r->lock);
	cluster_log(r->p.cluster, "replicas on %s: %s's memory is on two nodes again (%s and %s)",
		    name_of(r, r->p.self), name_of(r, i), name_of(r, r->p.self), name_of(r, src));
	broadcast(r, REPLICAS_MSG_PROTECTED, i);
}

void replicas_receive(struct replicas *r, unsigned src, uint16_t type, const void *payload,
		      size_t len)
{
	const uint8_t *p = payload;
	uint32_t a = 0, b = 0;
	for (int i = 0; len == MSG_SIZE && i < 4; i++) {
		a |= (uint32_t)p[4 + i] << (8 * i);
		b |= (uint32_t)p[8 + i] << (8 * i);
	}
	if (len != MSG_SIZE || p[0] != MSG_VERSION || p[1] || p[2] || p[3] ||
	    a >= r->p.node_count) {
		char why[128];
		snprintf(why, sizeof(why), "replicas: %s sent a malformed message (type 0x%x)",
			 name_of(r, src), type);
		r->p.fatal(r->p.ctx, why);
		return;
	}
	switch (type) {
	case REPLICAS_MSG_RECOVERED:
		pthread_mutex_lock(&r->lock);
		set_bit(ready_of(r, src), a);
		pthread_mutex_unlock(&r->lock);
		apply(r);
		break;
	case REPLICAS_MSG_MARK:
		send_msg(r, src, REPLICAS_MSG_MARKED, a, b);
		break;
	case REPLICAS_MSG_MARKED:
		mark_answered(r, src, a, b);
		break;
	default:
		pthread_mutex_lock(&r->lock);
		bool from_home = r->ranges[a].home == src;
		r->ranges[a].in_sync |= from_home;
		pthread_mutex_unlock(&r->lock);
		if (from_home)
			cluster_log(r->p.cluster,
				    "replicas on %s: %s's memory is on two nodes again",
				    name_of(r, r->p.self), name_of(r, a));
		break;
	}
}

void replicas_status(struct replicas *r, struct replicas_status *out)
{
	pthread_mutex_lock(&r->lock);
	bool single = false, copying = false;
	for (uint32_t i = 0; i < r->p.node_count; i++) {
		const struct range *range = &r->ranges[i];
		if (!range->pages || range->in_sync || !range->lent)
			continue;
		single = true;
		copying |= range->mirror != COH_NO_MIRROR;
	}
	out->state = !single   ? REPLICAS_PROTECTED
		     : copying ? REPLICAS_REBUILDING
			       : REPLICAS_DEGRADED;
	out->pages_copied = r->pages_copied;
	pthread_mutex_unlock(&r->lock);
}

const char *replicas_state_name(enum replicas_state state)
{
	static const char *const names[] = {"protected", "rebuilding", "degraded"};
	return names[state];
}
