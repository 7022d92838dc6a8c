/*
 * The APIC "bus" of one VMM process: turns ICR writes and IOAPIC redirection entries into
 * interrupt messages and hands each to the LAPICs of this process it is addressed to. A message
 * that may also concern vCPUs living in other processes is passed to a forward callback, which
 * sends it to the other nodes; they give it to apic_bus_deliver (local delivery only).
 *
 * The set of LAPICs is fixed before any traffic, so routing takes no lock of its own; it only
 * calls the thread-safe lapic functions, never while holding any lock.
 */
#ifndef DEVICES_APIC_BUS_H
#define DEVICES_APIC_BUS_H

#include <stddef.h>

#include "devices/lapic.h"

#define APIC_SHORTHAND_NONE	0
#define APIC_SHORTHAND_SELF	1
#define APIC_SHORTHAND_ALL	2 /* all including self */
#define APIC_SHORTHAND_OTHERS	3 /* all excluding self */
#define APIC_PHYSICAL_BROADCAST 0xFF

struct apic_message {
	uint8_t mode; /* enum lapic_delivery */
	uint8_t vector;
	bool level;   /* level-triggered (fixed and lowest-priority only) */
	bool logical; /* dest is a logical destination (MDA) rather than an APIC ID */
	uint8_t dest;
	uint8_t shorthand; /* APIC_SHORTHAND_* */
	uint8_t src_apic_id;
};

/* Called when a message may concern vCPUs not in this process: a physical destination that is
 * not local, a broadcast or all-(excluding-)self shorthand, any logical destination; a lowest-
 * priority message only when no local LAPIC matched (the forwarder must then see that exactly
 * one LAPIC elsewhere takes it: node_link.c passes it round the nodes). NULL = single process. */
typedef void (*apic_bus_forward_fn)(void *ctx, const struct apic_message *msg);

struct apic_bus;

struct apic_bus *apic_bus_create(apic_bus_forward_fn fwd, void *fwd_ctx);
void apic_bus_destroy(struct apic_bus *bus); /* does not destroy the LAPICs */
/* Before any traffic. -1 on ENOMEM or an APIC ID already on the bus. */
int apic_bus_add(struct apic_bus *bus, struct lapic *l);

/* Decodes an ICR write from src and routes it; invalid combinations are dropped. */
void apic_bus_send_ipi(struct apic_bus *bus, struct lapic *src, uint32_t icr_low,
		       uint32_t icr_high);
/* Returns false if the ICR describes nothing to send (INIT de-assert, invalid combination). */
bool apic_bus_decode_icr(uint32_t icr_low, uint32_t icr_high, uint8_t src_apic_id,
			 struct apic_message *msg);

/* Local delivery only; returns how many LAPICs took the message. */
size_t apic_bus_deliver(struct apic_bus *bus, const struct apic_message *msg);
/* Local delivery, then forwarding when the message may concern other processes. A lowest-
 * priority message reaches exactly one LAPIC: a local one if any matches, else it is forwarded. */
void apic_bus_route(struct apic_bus *bus, const struct apic_message *msg);

#endif
