/*
 * I/O APIC (82093AA-style, version 0x20 with an EOI register), emulated in user space: 24 input
 * pins, each turned into an interrupt message by its redirection entry and handed to the
 * deliver callback (usually apic_bus_route).
 *
 * Thread-safe: devices set pins from any thread, the guest programs it through MMIO and the
 * LAPICs' eoi_level callbacks end in ioapic_eoi. One mutex per instance, never held while
 * calling deliver, so deliver may call back into the IOAPIC (e.g. a LAPIC EOI).
 */
#ifndef DEVICES_IOAPIC_H
#define DEVICES_IOAPIC_H

#include "devices/apic_bus.h"

#define IOAPIC_MMIO_BASE 0xFEC00000ULL
#define IOAPIC_MMIO_SIZE 0x1000U
#define IOAPIC_PINS	 24

/* MMIO offsets */
#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN	0x10
#define IOAPIC_EOI	0x40

/* Indirect register indexes (through IOREGSEL) */
#define IOAPIC_REG_ID	   0x00
#define IOAPIC_REG_VERSION 0x01
#define IOAPIC_REG_ARB	   0x02
#define IOAPIC_REG_REDIR   0x10 /* pin n: low dword at 0x10 + 2n, high dword at 0x11 + 2n */

#define IOAPIC_VERSION_VALUE 0x00170020U /* max redirection entry 23, version 0x20 */

#define IOAPIC_REDIR_DELIVERY_STATUS (1U << 12)
#define IOAPIC_REDIR_REMOTE_IRR	     (1U << 14)
#define IOAPIC_REDIR_LEVEL	     (1U << 15)
#define IOAPIC_REDIR_MASKED	     (1U << 16)

struct ioapic_ops {
	void (*deliver)(void *ctx, const struct apic_message *msg);
};

struct ioapic;

struct ioapic *ioapic_create(uint8_t id, const struct ioapic_ops *ops, void *ctx);
void ioapic_destroy(struct ioapic *io);

uint32_t ioapic_mmio_read(struct ioapic *io, uint32_t offset);
void ioapic_mmio_write(struct ioapic *io, uint32_t offset, uint32_t value);

/* Drive a pin (any thread). level is the logical state, asserted = true: the polarity bit is
 * for the guest's information, the device model already speaks in asserted/deasserted. */
void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level);
/* Clears Remote IRR of the level pins using vector, and delivers again those still asserted. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

#endif
