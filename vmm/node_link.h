/* The VMM's messages between the nodes of one guest, carried by the coherence engine's transport
 * beside the page protocol: interrupt messages for vCPUs on other nodes (IPIs, INIT/SIPI, device
 * interrupts), device interrupt lines and level-triggered EOIs for the IOAPIC's node, port and
 * MMIO accesses to devices another node owns, and "the guest stopped". */
#ifndef VMM_NODE_LINK_H
#define VMM_NODE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/iobus.h"

struct machine;
struct engine;
struct apic_message;
struct node_link;

struct node_link *node_link_create(struct machine *m);
void node_link_set_engine(struct node_link *l, struct engine *e);
void node_link_destroy(struct node_link *l);

/* Registers `len` bytes at `base` in `space` as owned by node `owner`: accesses are forwarded. */
int node_link_forward_range(struct node_link *l, enum iobus_space space, uint64_t base,
			    uint64_t len, unsigned owner, const char *name);
/* apic_bus forward hook: sends an interrupt message to every other node. */
void node_link_forward_apic(void *ctx, const struct apic_message *msg);
/* A device on a node without the IOAPIC drives IOAPIC input `pin` to `level` (asserted = true)
 * on the IOAPIC's node. Changes arrive there in the order they were made. */
void node_link_forward_irq(struct node_link *l, unsigned pin, bool level);
/* lapic eoi_level hook on a node without the IOAPIC: sends the EOI of `vector` to the IOAPIC's
 * node, which clears Remote IRR of the level pins using it (ioapic_eoi). */
void node_link_forward_eoi(struct node_link *l, uint8_t vector);
/* Every vCPU of this node is halted with interrupts disabled: the guest may be halted for good,
 * which the coordinating node finds out and then stops it (halt_wave.h). */
void node_link_report_halted(struct node_link *l);
/* The machine is created: node 0 gets an fd that becomes readable once every other node has
 * said so too (then it may start the guest); the others tell node 0 and get -1. The halt waves
 * start once every node, node 0 included, has said so. */
int node_link_ready(struct node_link *l);
/* Node 0: every other node counts its guest clock from epoch_ns too (machine_set_clock_epoch). */
void node_link_send_clock_epoch(struct node_link *l, uint64_t epoch_ns);
/* Tells every other node the guest stopped with `status` (because `lost_node` was lost, or -1). */
void node_link_broadcast_stop(struct node_link *l, int status, int lost_node);
/* The engine's user_message hook. */
void node_link_receive(void *ctx, unsigned src, uint16_t type, const void *payload, size_t len);

#endif
