/*
 * APIC bus: ICR decoding (Intel SDM vol. 3, "Interrupt Command Register") and the destination
 * rules that pick the LAPICs of this process a message is for: shorthands, physical APIC ID or
 * broadcast, logical MDA (matched by each LAPIC against its own DFR/LDR), and lowest priority
 * (the addressed LAPIC with the lowest TPR, the first one on ties).
 */
#include "devices/apic_bus.h"

#include <stdlib.h>

#define ICR_VECTOR(low)	    ((uint8_t)((low)&0xFF))
#define ICR_MODE(low)	    ((uint8_t)(((low) >> 8) & 7))
#define ICR_LOGICAL	    (1U << 11)
#define ICR_ASSERT	    (1U << 14)
#define ICR_LEVEL_TRIGGER   (1U << 15)
#define ICR_SHORTHAND(low)  ((uint8_t)(((low) >> 18) & 3))
#define ICR_DEST(high)	    ((uint8_t)((high) >> 24))
#define DELIVERY_RESERVED_3 3

struct apic_bus {
	struct lapic **lapics;
	size_t count;
	apic_bus_forward_fn forward;
	void *forward_ctx;
};

struct apic_bus *apic_bus_create(apic_bus_forward_fn fwd, void *fwd_ctx)
{
	struct apic_bus *bus = calloc(1, sizeof(*bus));
	if (!bus)
		return NULL;
	bus->forward = fwd;
	bus->forward_ctx = fwd_ctx;
	return bus;
}

void apic_bus_destroy(struct apic_bus *bus)
{
	if (!bus)
		return;
	free(bus->lapics);
	free(bus);
}

int apic_bus_add(struct apic_bus *bus, struct lapic *l)
{
	for (size_t i = 0; i < bus->count; i++)
		if (lapic_id(bus->lapics[i]) == lapic_id(l))
			return -1;
	struct lapic **grown = realloc(bus->lapics, (bus->count + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	grown[bus->count++] = l;
	bus->lapics = grown;
	return 0;
}

bool apic_bus_decode_icr(uint32_t icr_low, uint32_t icr_high, uint8_t src_apic_id,
			 struct apic_message *msg)
{
	uint8_t mode = ICR_MODE(icr_low);
	uint8_t shorthand = ICR_SHORTHAND(icr_low);
	bool level_trigger = icr_low & ICR_LEVEL_TRIGGER;

	if (mode == DELIVERY_RESERVED_3)
		return false;
	/* The INIT level de-assert only synchronises arbitration IDs on old buses. */
	if (mode == LAPIC_DM_INIT && level_trigger && !(icr_low & ICR_ASSERT))
		return false;
	/* "self" and "all including self" are only valid with fixed delivery. */
	if ((shorthand == APIC_SHORTHAND_SELF || shorthand == APIC_SHORTHAND_ALL) &&
	    mode != LAPIC_DM_FIXED)
		return false;

	*msg = (struct apic_message){
	    .mode = mode,
	    .vector = ICR_VECTOR(icr_low),
	    .level = level_trigger && (mode == LAPIC_DM_FIXED || mode == LAPIC_DM_LOWEST),
	    .logical = icr_low & ICR_LOGICAL,
	    .dest = ICR_DEST(icr_high),
	    .shorthand = shorthand,
	    .src_apic_id = src_apic_id,
	};
	return true;
}

static bool is_addressed(struct lapic *l, const struct apic_message *msg)
{
	uint8_t id = lapic_id(l);
	switch (msg->shorthand) {
	case APIC_SHORTHAND_SELF:
		return id == msg->src_apic_id;
	case APIC_SHORTHAND_ALL:
		return true;
	case APIC_SHORTHAND_OTHERS:
		return id != msg->src_apic_id;
	default:
		break;
	}
	if (msg->logical)
		return lapic_match_logical(l, msg->dest);
	return msg->dest == APIC_PHYSICAL_BROADCAST || id == msg->dest;
}

static struct lapic *lowest_priority_target(struct apic_bus *bus, const struct apic_message *msg)
{
	struct lapic *best = NULL;
	uint8_t best_tpr = 0;
	for (size_t i = 0; i < bus->count; i++) {
		struct lapic *l = bus->lapics[i];
		if (!is_addressed(l, msg))
			continue;
		uint8_t tpr = lapic_tpr(l);
		if (!best || tpr < best_tpr) {
			best = l;
			best_tpr = tpr;
		}
	}
	return best;
}

static void deliver_to(struct lapic *l, const struct apic_message *msg)
{
	lapic_deliver(l, (enum lapic_delivery)msg->mode, msg->vector, msg->level);
}

/* Returns how many local LAPICs received the message. */
static size_t deliver_local(struct apic_bus *bus, const struct apic_message *msg)
{
	if (msg->mode == LAPIC_DM_LOWEST) {
		struct lapic *target = lowest_priority_target(bus, msg);
		if (!target)
			return 0;
		deliver_to(target, msg);
		return 1;
	}
	size_t reached = 0;
	for (size_t i = 0; i < bus->count; i++) {
		if (is_addressed(bus->lapics[i], msg)) {
			deliver_to(bus->lapics[i], msg);
			reached++;
		}
	}
	return reached;
}

static bool may_concern_others(const struct apic_message *msg, size_t reached_here)
{
	if (msg->shorthand == APIC_SHORTHAND_SELF)
		return false;
	if (msg->mode == LAPIC_DM_LOWEST)
		return reached_here == 0;
	if (msg->shorthand != APIC_SHORTHAND_NONE || msg->logical)
		return true;
	return msg->dest == APIC_PHYSICAL_BROADCAST || reached_here == 0;
}

size_t apic_bus_deliver(struct apic_bus *bus, const struct apic_message *msg)
{
	return deliver_local(bus, msg);
}

void apic_bus_route(struct apic_bus *bus, const struct apic_message *msg)
{
	size_t reached = deliver_local(bus, msg);
	if (bus->forward && may_concern_others(msg, reached))
		bus->forward(bus->forward_ctx, msg);
}

void apic_bus_send_ipi(struct apic_bus *bus, struct lapic *src, uint32_t icr_low, uint32_t icr_high)
{
	struct apic_message msg;
	if (apic_bus_decode_icr(icr_low, icr_high, lapic_id(src), &msg))
		apic_bus_route(bus, &msg);
}
