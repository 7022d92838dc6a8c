/* The data path between nodes: UCX active messages, one endpoint per peer, every message sealed
 * with the wire header (MAC under the pair's transport session key, sequence number). Message
 * types are opaque here: WIRE_PAYLOAD_FIRST..LAST for the coherence protocol, WIRE_DIAG_FIRST..
 * LAST for diagnostics. UCX picks TCP or shared memory (not for a loss-tolerant cluster);
 * UCX_TLS=tcp forces the network path. */
#ifndef COHERENCE_TRANSPORT_H
#define COHERENCE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cluster;
struct transport;

/* Runs on the transport's progress thread, only for authenticated, well-formed messages, in the
 * order each peer sent them; payload is valid until it returns. It may reply with transport_send
 * on t, which it is given because it can run before transport_create has returned. A peer's
 * messages travel apart from the cluster's control channel: what it sent before it left (or
 * died) may arrive after the cluster reported it gone. */
typedef void (*transport_recv_fn)(void *ctx, struct transport *t, unsigned src_node, uint16_t type,
				  const void *payload, size_t len);

/* Work the progress thread does beside the network (the engine's page faults), so that one
 * thread does both: `run` is called on every turn of its loop and returns how many things it did;
 * `fd` is readable when there is work, so the thread also wakes for it when it sleeps. The last
 * call has returned once transport_destroy has stopped the thread, before it closes the
 * endpoints (which may take a second or two), so the chore's work waits from then on. */
struct transport_chore {
	int fd;
	unsigned (*run)(void *ctx);
	void *ctx;
};

/* Creates the UCX worker, exchanges worker addresses with every peer over the cluster's control
 * channel and connects to them. The cluster must stay joined until transport_destroy. chore may
 * be NULL. loss_tolerant: the cluster goes on after a peer dies, so UCX's shared memory, which a
 * peer killed in the middle of a send can wedge for its receivers, is left out unless UCX_TLS
 * says which transports to use. */
struct transport *transport_create(struct cluster *c, bool loss_tolerant, transport_recv_fn recv,
				   void *ctx, const struct transport_chore *chore, char *err,
				   size_t errlen);
/* The UCX transport that carries the messages to `node` ("tcp", "sysv", "posix", "rc_mlx5", ...),
 * as UCX described the endpoint when it was made; "?" if it did not say. */
const char *transport_peer_path(const struct transport *t, unsigned node);
/* Any thread. The payload (up to WIRE_MAX_PAYLOAD bytes) is copied before this returns. Returns
 * -1 with errno EINVAL (bad node, type or length), ENOTCONN (peer lost or left), ENOMEM or EIO
 * (UCX refused the send). */
int transport_send(struct transport *t, unsigned dst_node, uint16_t type, const void *payload,
		   size_t len);
void transport_destroy(struct transport *t);

/* Runs the progress thread's turns on the calling thread until done(ctx): for a thread that would
 * otherwise sleep until the progress thread has its reply (a fault it serves itself). start(ctx),
 * if not NULL, runs first, as part of a turn. Returns early once the transport is stopping. */
void transport_wait(struct transport *t, void (*start)(void *ctx), bool (*done)(void *ctx),
		    void *ctx);

/* Gives the calling thread the scheduling of the progress thread (a short slice, so its
 * wake-ups preempt a spinning vCPU; 1 us timer slack). For a thread that measures against the
 * progress thread, e.g. a benchmark's pinging thread, so both take turns alike. */
void transport_sched_for_latency(void);

#endif
