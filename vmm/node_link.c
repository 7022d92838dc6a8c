/* Node link messages. Every payload starts with a version byte and has one fixed size per type,
 * checked before any field is used; indexes (vCPU, node) are range-checked against the
 * configuration. A forwarded access blocks the issuing vCPU thread until the owner answers or the
 * machine stops (a lost node stops the machine, so nothing waits forever).
 *
 * An interrupt message goes to every other node: each delivers it to the local LAPICs that match
 * (physical, logical or broadcast destinations alike), so no node needs the others' LDR/DFR. A
 * lowest-priority message must reach one LAPIC only, so it travels the other nodes in a ring
 * instead, from its origin on, until one has a LAPIC it matches (or it is back at its origin).
 * Device interrupt lines and the EOIs of level-triggered vectors go to the IOAPIC's node only.
 *
 * Those three kinds are counted, sent and received, for the halted-for-good waves (halt_wave.h):
 * a node whose vCPUs are all halted with interrupts disabled reports to the coordinator (the
 * IOAPIC's node), which probes every node and stops the guest once two waves agree. */
#include "vmm/node_link.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "coherence/engine.h"
#include "devices/apic_bus.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "vmm/halt_wave.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/vcpu.h"

#define NODE_LINK_VERSION 2
#define NODE_LINK_RANGES  16

enum node_msg_type {
	NODE_MSG_APIC = ENGINE_USER_TYPE_FIRST,
	NODE_MSG_IO_REQ,
	NODE_MSG_IO_RESP,
	NODE_MSG_STOP,
	NODE_MSG_EOI,
	NODE_MSG_IRQ,
	NODE_MSG_HALTED,      /* node -> coordinator: my vCPUs may all be halted for good */
	NODE_MSG_PROBE,	      /* coordinator -> node: your counts for this wave, please */
	NODE_MSG_PROBE_REPLY, /* node -> coordinator */
	NODE_MSG_CLOCK,	      /* node 0 -> node: count the guest clock from this epoch */
	NODE_MSG_READY,	      /* node -> node 0: my devices and vCPUs exist */
};

struct node_msg_apic {
	uint8_t version, mode, vector, level, logical, dest, shorthand, src_apic_id;
	uint32_t origin; /* lowest priority: the node that sent it round the ring */
};

struct node_msg_eoi {
	uint8_t version, vector;
};

struct node_msg_irq {
	uint8_t version, pin, level;
};

struct node_msg_signal { /* HALTED, READY: the type says it all */
	uint8_t version;
};

struct node_msg_probe {
	uint8_t version, halted, pad[2]; /* halted: replies only, 0 or 1 */
	uint32_t wave;
	uint64_t sent, received;
};

struct node_msg_clock {
	uint8_t version, pad[7];
	uint64_t epoch_ns;
};

struct node_msg_io {
	uint8_t version, space, len, is_write;
	uint32_t vcpu;
	uint64_t seq, addr;
	uint8_t data[8];
	int32_t status; /* response: 0, or -1 when the owner has no device there */
	uint32_t pad;
};

struct node_msg_stop {
	uint8_t version, pad[3];
	int32_t status;
	int32_t lost_node; /* the node whose loss stopped the guest, or -1 */
};

struct io_slot { /* one per local vCPU: its forwarded access in flight */
	uint64_t seq;
	bool done;
	int status;
	uint8_t data[8];
};

struct remote_range {
	struct node_link *link;
	enum iobus_space space;
	uint64_t base;
	unsigned owner;
};

struct node_link {
	struct machine *m;
	struct engine *engine;
	struct io_slot *slots;
	struct remote_range ranges[NODE_LINK_RANGES];
	unsigned range_count;
	atomic_uint_fast64_t irqs_sent, irqs_received; /* interrupt messages, for the waves */
	pthread_mutex_t halt_lock;		       /* the coordinator's waves */
	struct halt_wave halt;
	int ready_fd;		/* node 0: readable once every other node is ready */
	atomic_uint ready_from; /* node 0: how many nodes said so */
	uint8_t *ready_seen;	/* node 0: which (transport thread only) */
	unsigned nodes_ready;	/* node 0, under halt_lock: ready nodes, itself included */
	bool halt_deferred;	/* node 0, under halt_lock: a report came before all were */
};

struct node_link *node_link_create(struct machine *m)
{
	struct node_link *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->m = m;
	l->slots = calloc(m->cfg->total_vcpus, sizeof(*l->slots));
	l->ready_seen = calloc(m->cfg->node_count, 1);
	l->ready_fd = eventfd(0, EFD_CLOEXEC);
	if (!l->slots || !l->ready_seen || l->ready_fd < 0 ||
	    halt_wave_init(&l->halt, m->cfg->node_count) < 0) {
		if (l->ready_fd >= 0)
			close(l->ready_fd);
		free(l->ready_seen);
		free(l->slots);
		free(l);
		return NULL;
	}
	pthread_mutex_init(&l->halt_lock, NULL);
	return l;
}

void node_link_set_engine(struct node_link *l, struct engine *e)
{
	l->engine = e;
}

void node_link_destroy(struct node_link *l)
{
	if (!l)
		return;
	halt_wave_free(&l->halt);
	close(l->ready_fd);
	free(l->ready_seen);
	pthread_mutex_destroy(&l->halt_lock);
	free(l->slots);
	free(l);
}

static struct vcpu *local_vcpu(struct node_link *l, unsigned index)
{
	const struct node_config *node = &l->m->cfg->nodes[l->m->node];
	if (index < node->first_vcpu || index - node->first_vcpu >= l->m->vcpu_count)
		return NULL;
	return &l->m->vcpus[index - node->first_vcpu];
}

static void node_link_broadcast(struct node_link *l, uint16_t type, const void *msg, size_t len)
{
	for (unsigned n = 0; n < l->m->cfg->node_count; n++)
		if (n != l->m->node && l->engine)
			engine_send(l->engine, n, type, msg, len);
}

/* Counted before it leaves, so no node can count it received before it is counted sent. */
static void send_interrupt(struct node_link *l, unsigned node, uint16_t type, const void *msg,
			   size_t len)
{
	if (!l->engine)
		return;
	atomic_fetch_add(&l->irqs_sent, 1);
	engine_send(l->engine, node, type, msg, len);
}

void node_link_forward_apic(void *ctx, const struct apic_message *msg)
{
	struct node_msg_apic wire = {.version = NODE_LINK_VERSION,
				     .mode = msg->mode,
				     .vector = msg->vector,
				     .level = msg->level,
				     .logical = msg->logical,
				     .dest = msg->dest,
				     .shorthand = msg->shorthand,
				     .src_apic_id = msg->src_apic_id};
	struct node_link *l = ctx;
	wire.origin = l->m->node;
	if (msg->mode == LAPIC_DM_LOWEST) {
		send_interrupt(l, (l->m->node + 1) % l->m->cfg->node_count, NODE_MSG_APIC, &wire,
			       sizeof(wire));
		return;
	}
	for (unsigned n = 0; n < l->m->cfg->node_count; n++)
		if (n != l->m->node)
			send_interrupt(l, n, NODE_MSG_APIC, &wire, sizeof(wire));
}

/* A lowest-priority message none of our LAPICs took goes on to the next node, unless that is
 * where it started. */
static void pass_lowest_priority_on(struct node_link *l, const struct node_msg_apic *w)
{
	unsigned next = (l->m->node + 1) % l->m->cfg->node_count;
	if (w->origin < l->m->cfg->node_count && next != w->origin)
		send_interrupt(l, next, NODE_MSG_APIC, w, sizeof(*w));
}

void node_link_forward_irq(struct node_link *l, unsigned pin, bool level)
{
	struct node_msg_irq wire = {
	    .version = NODE_LINK_VERSION, .pin = (uint8_t)pin, .level = level};
	if (pin < IOAPIC_PINS)
		send_interrupt(l, MACHINE_IOAPIC_NODE, NODE_MSG_IRQ, &wire, sizeof(wire));
}

void node_link_forward_eoi(struct node_link *l, uint8_t vector)
{
	struct node_msg_eoi wire = {.version = NODE_LINK_VERSION, .vector = vector};
	send_interrupt(l, MACHINE_IOAPIC_NODE, NODE_MSG_EOI, &wire, sizeof(wire));
}

/* Node 0: one more node, itself included, has its devices and vCPUs. A node that has not yet
 * created its vCPUs would count as halted and has no engine to answer a probe with, so the halt
 * waves wait for every node; a report that came before starts the first wave then. */
static void count_ready(struct node_link *l)
{
	pthread_mutex_lock(&l->halt_lock);
	bool deferred = ++l->nodes_ready == l->m->cfg->node_count && l->halt_deferred;
	pthread_mutex_unlock(&l->halt_lock);
	if (deferred)
		node_link_report_halted(l);
}

int node_link_ready(struct node_link *l)
{
	if (l->m->node == 0) {
		count_ready(l);
		return l->ready_fd;
	}
	struct node_msg_signal wire = {.version = NODE_LINK_VERSION};
	if (l->engine)
		engine_send(l->engine, 0, NODE_MSG_READY, &wire, sizeof(wire));
	return -1;
}

/* Node 0, transport thread: the last node to be ready opens the gate. */
static void take_ready(struct node_link *l, unsigned src)
{
	if (l->m->node != 0 || l->ready_seen[src]) {
		log_error("node %u sent an unexpected ready message: ignored", src);
		return;
	}
	l->ready_seen[src] = 1;
	uint64_t one = 1;
	if (atomic_fetch_add(&l->ready_from, 1) + 2 == l->m->cfg->node_count &&
	    write(l->ready_fd, &one, sizeof(one)) < 0)
		log_error("ready event: %s", strerror(errno));
	count_ready(l);
}

void node_link_send_clock_epoch(struct node_link *l, uint64_t epoch_ns)
{
	struct node_msg_clock wire = {.version = NODE_LINK_VERSION, .epoch_ns = epoch_ns};
	node_link_broadcast(l, NODE_MSG_CLOCK, &wire, sizeof(wire));
}

void node_link_broadcast_stop(struct node_link *l, int status, int lost_node)
{
	struct node_msg_stop wire = {
	    .version = NODE_LINK_VERSION, .status = status, .lost_node = lost_node};
	node_link_broadcast(l, NODE_MSG_STOP, &wire, sizeof(wire));
}

/* --- Halted for good ------------------------------------------------------------------------- */

/* Halted read before the counters: a vCPU counts what it sends before it can halt. */
static struct halt_counts local_counts(struct node_link *l)
{
	struct halt_counts c = {.halted = machine_halted_for_good(l->m)};
	c.sent = atomic_load(&l->irqs_sent);
	c.received = atomic_load(&l->irqs_received);
	return c;
}

/* The coordinator probes every node, answering for itself at once, for as long as waves start,
 * and stops the guest once it is halted for good. */
static void coordinator_act(struct node_link *l, enum halt_verdict verdict, uint32_t wave)
{
	while (verdict == HALT_START_WAVE) {
		struct node_msg_probe probe = {.version = NODE_LINK_VERSION, .wave = wave};
		node_link_broadcast(l, NODE_MSG_PROBE, &probe, sizeof(probe));
		struct halt_counts own = local_counts(l);
		pthread_mutex_lock(&l->halt_lock);
		verdict = halt_wave_reply(&l->halt, l->m->node, wave, &own, &wave);
		pthread_mutex_unlock(&l->halt_lock);
	}
	if (verdict == HALT_FOR_GOOD)
		machine_stop(l->m, VMM_EXIT_GUEST_RESET,
			     "every vCPU of every node halted with interrupts disabled: the guest "
			     "cannot resume");
}

void node_link_report_halted(struct node_link *l)
{
	if (l->m->node != MACHINE_IOAPIC_NODE) {
		struct node_msg_signal wire = {.version = NODE_LINK_VERSION};
		if (l->engine)
			engine_send(l->engine, MACHINE_IOAPIC_NODE, NODE_MSG_HALTED, &wire,
				    sizeof(wire));
		return;
	}
	uint32_t wave = 0;
	enum halt_verdict verdict = HALT_WAIT;
	pthread_mutex_lock(&l->halt_lock);
	l->halt_deferred = l->nodes_ready < l->m->cfg->node_count; /* see count_ready */
	if (!l->halt_deferred)
		verdict = halt_wave_report(&l->halt, &wave);
	pthread_mutex_unlock(&l->halt_lock);
	coordinator_act(l, verdict, wave);
}

static void answer_probe(struct node_link *l, const struct node_msg_probe *probe)
{
	struct halt_counts c = local_counts(l);
	struct node_msg_probe reply = {.version = NODE_LINK_VERSION,
				       .halted = c.halted,
				       .wave = probe->wave,
				       .sent = c.sent,
				       .received = c.received};
	engine_send(l->engine, MACHINE_IOAPIC_NODE, NODE_MSG_PROBE_REPLY, &reply, sizeof(reply));
}

static void take_probe_reply(struct node_link *l, unsigned src, const struct node_msg_probe *r)
{
	struct halt_counts c = {.halted = r->halted, .sent = r->sent, .received = r->received};
	uint32_t wave = 0;
	pthread_mutex_lock(&l->halt_lock);
	enum halt_verdict verdict = halt_wave_reply(&l->halt, src, r->wave, &c, &wave);
	pthread_mutex_unlock(&l->halt_lock);
	coordinator_act(l, verdict, wave);
}

/* Halt messages go between the coordinator and the others only; anything else is ignored. */
static void receive_halt_message(struct node_link *l, unsigned src, uint16_t type,
				 const struct node_msg_probe *probe)
{
	bool coordinator = l->m->node == MACHINE_IOAPIC_NODE;
	if (type == NODE_MSG_HALTED && coordinator)
		node_link_report_halted(l);
	else if (type == NODE_MSG_PROBE && src == MACHINE_IOAPIC_NODE && !coordinator)
		answer_probe(l, probe);
	else if (type == NODE_MSG_PROBE_REPLY && coordinator && probe->halted <= 1)
		take_probe_reply(l, src, probe);
	else
		log_error("node %u sent a misrouted halt message (type 0x%x): ignored", src, type);
}

/* An interrupt message arrived and was delivered: a halted node says so again, since the wave
 * that saw it in flight failed and nobody else may report. */
static void interrupt_received(struct node_link *l)
{
	atomic_fetch_add(&l->irqs_received, 1);
	if (machine_halted_for_good(l->m))
		node_link_report_halted(l);
}

/* Runs on the vCPU thread that touched a device another node owns. */
static int node_link_forward_io(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data,
				unsigned len, bool is_write)
{
	struct remote_range *r = ctx;
	struct node_link *l = r->link;
	struct vcpu *v = local_vcpu(l, vcpu);
	if (!v || len > 8)
		return -1;
	struct io_slot *slot = &l->slots[vcpu];
	pthread_mutex_lock(&v->wait_lock);
	uint64_t seq = ++slot->seq;
	slot->done = false;
	pthread_mutex_unlock(&v->wait_lock);
	struct node_msg_io req = {.version = NODE_LINK_VERSION,
				  .space = (uint8_t)r->space,
				  .len = (uint8_t)len,
				  .is_write = is_write,
				  .vcpu = vcpu,
				  .seq = seq,
				  .addr = r->base + offset};
	memcpy(req.data, data, len);
	if (engine_send(l->engine, r->owner, NODE_MSG_IO_REQ, &req, sizeof(req)) < 0)
		return -1;
	pthread_mutex_lock(&v->wait_lock);
	while (!slot->done && !machine_stopping(l->m))
		pthread_cond_wait(&v->wait_cond, &v->wait_lock);
	bool done = slot->done;
	int status = slot->status;
	memcpy(data, slot->data, len);
	pthread_mutex_unlock(&v->wait_lock);
	return done ? status : 0;
}

int node_link_forward_range(struct node_link *l, enum iobus_space space, uint64_t base,
			    uint64_t len, unsigned owner, const char *name)
{
	if (l->range_count == NODE_LINK_RANGES)
		return -1;
	struct remote_range *r = &l->ranges[l->range_count++];
	*r = (struct remote_range){.link = l, .space = space, .base = base, .owner = owner};
	return iobus_register(&l->m->bus, space, base, len, node_link_forward_io, r, name);
}

/* The owner's side: perform the access on the local device and answer. Runs on the transport's
 * progress thread, which also serves guest RAM's faults: a device model that touched guest RAM
 * here would wait for itself. Today's devices (UART, debug port, ACPI sleep) do not; one with DMA
 * must be served on a thread of its own. */
static void node_link_serve_io(struct node_link *l, unsigned src, const struct node_msg_io *req)
{
	struct node_msg_io resp = *req;
	enum iobus_space space = req->space == IOBUS_MMIO ? IOBUS_MMIO : IOBUS_PIO;
	const struct iobus_range *r = iobus_find(&l->m->bus, space, req->addr, req->len);
	resp.status = -1;
	if (r && r->handler != node_link_forward_io)
		resp.status = r->handler(r->ctx, req->vcpu, req->addr - r->base, resp.data,
					 req->len, req->is_write);
	engine_send(l->engine, src, NODE_MSG_IO_RESP, &resp, sizeof(resp));
}

static void node_link_complete_io(struct node_link *l, const struct node_msg_io *resp)
{
	struct vcpu *v = local_vcpu(l, resp->vcpu);
	if (!v)
		return;
	struct io_slot *slot = &l->slots[resp->vcpu];
	pthread_mutex_lock(&v->wait_lock);
	if (resp->seq == slot->seq) {
		memcpy(slot->data, resp->data, sizeof(slot->data));
		slot->status = resp->status;
		slot->done = true;
		pthread_cond_broadcast(&v->wait_cond);
	}
	pthread_mutex_unlock(&v->wait_lock);
}

static bool io_valid(const struct node_link *l, const struct node_msg_io *io)
{
	return io->vcpu < l->m->cfg->total_vcpus && io->space <= IOBUS_MMIO &&
	       (io->len == 1 || io->len == 2 || io->len == 4 || io->len == 8);
}

void node_link_receive(void *ctx, unsigned src, uint16_t type, const void *payload, size_t len)
{
	struct node_link *l = ctx;
	const uint8_t *p = payload;
	if (len == 0 || p[0] != NODE_LINK_VERSION) {
		log_error("node %u sent a node-link message of an unknown version: ignored", src);
		return;
	}
	if (type == NODE_MSG_APIC && len == sizeof(struct node_msg_apic)) {
		struct node_msg_apic w;
		memcpy(&w, payload, sizeof(w));
		struct apic_message msg = {.mode = w.mode,
					   .vector = w.vector,
					   .level = w.level,
					   .logical = w.logical,
					   .dest = w.dest,
					   .shorthand = w.shorthand,
					   .src_apic_id = w.src_apic_id};
		size_t reached = apic_bus_deliver(l->m->apic_bus, &msg);
		if (msg.mode == LAPIC_DM_LOWEST && reached == 0)
			pass_lowest_priority_on(l, &w);
		interrupt_received(l);
	} else if (type == NODE_MSG_IRQ && len == sizeof(struct node_msg_irq)) {
		struct node_msg_irq w;
		memcpy(&w, payload, sizeof(w));
		if (l->m->ioapic && w.pin < IOAPIC_PINS && w.level <= 1)
			ioapic_set_irq(l->m->ioapic, w.pin, w.level);
		else
			log_error("node %u sent a bad interrupt line message: ignored", src);
		interrupt_received(l);
	} else if (type == NODE_MSG_EOI && len == sizeof(struct node_msg_eoi)) {
		struct node_msg_eoi w;
		memcpy(&w, payload, sizeof(w));
		if (l->m->ioapic)
			ioapic_eoi(l->m->ioapic, w.vector);
		else
			log_error("node %u sent an EOI to a node without the IOAPIC: ignored", src);
		interrupt_received(l);
	} else if ((type == NODE_MSG_IO_REQ || type == NODE_MSG_IO_RESP) &&
		   len == sizeof(struct node_msg_io)) {
		struct node_msg_io io;
		memcpy(&io, payload, sizeof(io));
		if (!io_valid(l, &io))
			log_error("node %u sent a malformed I/O message: ignored", src);
		else if (type == NODE_MSG_IO_REQ)
			node_link_serve_io(l, src, &io);
		else
			node_link_complete_io(l, &io);
	} else if (type == NODE_MSG_HALTED && len == sizeof(struct node_msg_signal)) {
		receive_halt_message(l, src, type, NULL);
	} else if ((type == NODE_MSG_PROBE || type == NODE_MSG_PROBE_REPLY) &&
		   len == sizeof(struct node_msg_probe)) {
		struct node_msg_probe probe;
		memcpy(&probe, payload, sizeof(probe));
		receive_halt_message(l, src, type, &probe);
	} else if (type == NODE_MSG_READY && len == sizeof(struct node_msg_signal)) {
		take_ready(l, src);
	} else if (type == NODE_MSG_CLOCK && len == sizeof(struct node_msg_clock)) {
		struct node_msg_clock w;
		memcpy(&w, payload, sizeof(w));
		if (src == 0 && w.epoch_ns)
			machine_set_clock_epoch(l->m, w.epoch_ns);
		else
			log_error("node %u sent a clock epoch: ignored (only node 0 may)", src);
	} else if (type == NODE_MSG_STOP && len == sizeof(struct node_msg_stop)) {
		struct node_msg_stop w;
		memcpy(&w, payload, sizeof(w));
		if (w.lost_node >= 0 && (unsigned)w.lost_node < l->m->cfg->node_count)
			machine_stop(l->m, w.status, "node %s lost (reported by node %s): stopping",
				     l->m->cfg->nodes[w.lost_node].name,
				     l->m->cfg->nodes[src].name);
		else
			machine_stop(l->m, w.status, "stopped by node %s (status %d)",
				     l->m->cfg->nodes[src].name, w.status);
	} else {
		log_error("node %u sent a node-link message of type 0x%x, %zu bytes: ignored", src,
			  type, len);
	}
}
