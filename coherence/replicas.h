/* Memory mode's replicas: every lent range is kept by its home and by a mirror, so that losing a
 * lending node loses no data. This is the engine's side of it: deciding, when a node is lost,
 * who serves and who mirrors each range from then on, handing that to the protocol
 * (coh_set_range) once the nodes concerned are ready for it, and re-creating lost copies on a
 * spare node in the background. docs/coherence.md, "Replicas", says how and why. */
#ifndef COHERENCE_REPLICAS_H
#define COHERENCE_REPLICAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coherence/wire.h"

struct cluster;
struct coh;
struct replicas;

/* Messages between the nodes' replica logic, beside the protocol's. */
enum replicas_msg {
	REPLICAS_MSG_RECOVERED = WIRE_DIAG_FIRST + 12, /* sender took its part in a loss */
	REPLICAS_MSG_MARK,			       /* home -> new mirror: copies so far sent */
	REPLICAS_MSG_MARKED,			       /* new mirror -> home: and stored */
	REPLICAS_MSG_PROTECTED, /* home -> all: a range has two copies again */
};

struct replicas_params {
	struct coh *coh;
	struct cluster *cluster;
	uint32_t node_count, self;
	/* Read during replicas_create only: */
	const uint64_t *range_pages; /* [node_count]: the pages each node's range holds */
	const uint32_t *mirrors;     /* [node_count]: as in struct coh_home_config */
	uint32_t spare;		     /* takes over a lost node's copies; COH_NO_MIRROR: none */
	/* Sends a replicas message; 0 or -1. */
	int (*send)(void *ctx, unsigned node, uint16_t type, const void *payload, size_t len);
	void (*fatal)(void *ctx, const char *why); /* a peer sent a malformed message */
	void *ctx;
};

struct replicas *replicas_create(const struct replicas_params *params);
void replicas_destroy(struct replicas *r);

/* Any thread: `node` is lost. False, with why, if some lent memory had its last copy there;
 * otherwise the guest goes on, and replicas_step does the recovery. */
bool replicas_node_lost(struct replicas *r, unsigned node, char *why, size_t whylen);
/* The engine's progress thread, on every turn: the recovery of losses reported since, and a
 * slice of the background copying. Returns how much it did (0: nothing to do). */
unsigned replicas_step(struct replicas *r);
/* The progress thread: a REPLICAS_MSG_* message from src. */
void replicas_receive(struct replicas *r, unsigned src, uint16_t type, const void *payload,
		      size_t len);

enum replicas_state {
	REPLICAS_PROTECTED,  /* every lent page on two nodes */
	REPLICAS_REBUILDING, /* some on one node, a second copy being made */
	REPLICAS_DEGRADED,   /* some on one node, and no node to copy them to */
};
struct replicas_status {
	enum replicas_state state;
	uint64_t pages_copied; /* sent to a new mirror by this node */
};
void replicas_status(struct replicas *r, struct replicas_status *out);
const char *replicas_state_name(enum replicas_state state);

#endif
