/*
 * I/O APIC model. Each pin has a 64-bit redirection entry and a line state. Edge pins send one
 * message per rising edge while unmasked (edges on masked pins are lost, as on the 82093AA).
 * Level pins send while asserted, unmasked and Remote IRR is clear, and set Remote IRR; the EOI
 * of that vector (ioapic_eoi or the version 0x20 EOI register) clears it and, if the line is
 * still asserted, sends again. Messages are collected under the lock and sent after it.
 */
#include "devices/ioapic.h"

#include <pthread.h>
#include <stdlib.h>

#define REDIR_LOW_WRITABLE  0x0001AFFFU /* vector, mode, dest mode, polarity, trigger, mask */
#define REDIR_HIGH_WRITABLE 0xFF000000U
#define REDIR_LOGICAL	    (1U << 11)
#define ID_WRITABLE	    0x0F000000U
#define MODE_RESERVED_3	    3
#define MODE_RESERVED_6	    6

struct ioapic {
	pthread_mutex_t lock;
	struct ioapic_ops ops;
	void *ctx;
	uint32_t id_reg;
	uint32_t regsel;
	uint32_t redir_low[IOAPIC_PINS];
	uint32_t redir_high[IOAPIC_PINS];
	uint32_t asserted; /* bit n: pin n's line is asserted */
};

/* Messages owed by a locked section. */
struct outbox {
	struct apic_message msg[IOAPIC_PINS];
	unsigned count;
};

static bool pin_asserted(const struct ioapic *io, unsigned pin)
{
	return io->asserted & (1U << pin);
}

static struct apic_message entry_message(const struct ioapic *io, unsigned pin)
{
	uint32_t low = io->redir_low[pin];
	return (struct apic_message){
	    .mode = (low >> 8) & 7,
	    .vector = low & 0xFF,
	    .level = low & IOAPIC_REDIR_LEVEL,
	    .logical = low & REDIR_LOGICAL,
	    .dest = io->redir_high[pin] >> 24,
	    .shorthand = APIC_SHORTHAND_NONE,
	    .src_apic_id = 0xFF, /* no LAPIC sent this: only shorthands would look */
	};
}

/* Sends pin's message if its entry allows it now; for a level pin that sets Remote IRR. */
static void try_send(struct ioapic *io, unsigned pin, struct outbox *out)
{
	uint32_t *low = &io->redir_low[pin];
	uint32_t mode = (*low >> 8) & 7;
	if ((*low & IOAPIC_REDIR_MASKED) || mode == MODE_RESERVED_3 || mode == MODE_RESERVED_6)
		return;
	if (*low & IOAPIC_REDIR_LEVEL) {
		if (!pin_asserted(io, pin) || (*low & IOAPIC_REDIR_REMOTE_IRR))
			return;
		*low |= IOAPIC_REDIR_REMOTE_IRR;
	}
	out->msg[out->count++] = entry_message(io, pin);
}

static void send_level_if_due(struct ioapic *io, unsigned pin, struct outbox *out)
{
	if ((io->redir_low[pin] & IOAPIC_REDIR_LEVEL) && pin_asserted(io, pin))
		try_send(io, pin, out);
}

static void write_redir(struct ioapic *io, unsigned index, uint32_t value, struct outbox *out)
{
	unsigned pin = index / 2;
	if (index % 2) {
		io->redir_high[pin] = value & REDIR_HIGH_WRITABLE;
		return;
	}
	uint32_t kept = io->redir_low[pin] & IOAPIC_REDIR_REMOTE_IRR;
	if (!(value & IOAPIC_REDIR_LEVEL))
		kept = 0; /* Remote IRR means nothing for an edge pin */
	io->redir_low[pin] = kept | (value & REDIR_LOW_WRITABLE);
	send_level_if_due(io, pin, out);
}

static uint32_t read_register(const struct ioapic *io, uint32_t reg)
{
	if (reg >= IOAPIC_REG_REDIR && reg < IOAPIC_REG_REDIR + 2 * IOAPIC_PINS) {
		unsigned index = reg - IOAPIC_REG_REDIR;
		return index % 2 ? io->redir_high[index / 2] : io->redir_low[index / 2];
	}
	switch (reg) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return io->id_reg;
	case IOAPIC_REG_VERSION:
		return IOAPIC_VERSION_VALUE;
	default:
		return 0;
	}
}

static void write_register(struct ioapic *io, uint32_t reg, uint32_t value, struct outbox *out)
{
	if (reg >= IOAPIC_REG_REDIR && reg < IOAPIC_REG_REDIR + 2 * IOAPIC_PINS)
		write_redir(io, reg - IOAPIC_REG_REDIR, value, out);
	else if (reg == IOAPIC_REG_ID)
		io->id_reg = value & ID_WRITABLE;
}

static void eoi_locked(struct ioapic *io, uint8_t vector, struct outbox *out)
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint32_t *low = &io->redir_low[pin];
		if ((*low & 0xFF) != vector || !(*low & IOAPIC_REDIR_REMOTE_IRR))
			continue;
		*low &= ~IOAPIC_REDIR_REMOTE_IRR;
		send_level_if_due(io, pin, out);
	}
}

static void unlock_and_send(struct ioapic *io, const struct outbox *out)
{
	pthread_mutex_unlock(&io->lock);
	if (!io->ops.deliver)
		return;
	for (unsigned i = 0; i < out->count; i++)
		io->ops.deliver(io->ctx, &out->msg[i]);
}

struct ioapic *ioapic_create(uint8_t id, const struct ioapic_ops *ops, void *ctx)
{
	struct ioapic *io = calloc(1, sizeof(*io));
	if (!io)
		return NULL;
	if (pthread_mutex_init(&io->lock, NULL) != 0) {
		free(io);
		return NULL;
	}
	if (ops)
		io->ops = *ops;
	io->ctx = ctx;
	io->id_reg = ((uint32_t)id << 24) & ID_WRITABLE;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		io->redir_low[pin] = IOAPIC_REDIR_MASKED;
	return io;
}

void ioapic_destroy(struct ioapic *io)
{
	if (!io)
		return;
	pthread_mutex_destroy(&io->lock);
	free(io);
}

uint32_t ioapic_mmio_read(struct ioapic *io, uint32_t offset)
{
	uint32_t value = 0;
	pthread_mutex_lock(&io->lock);
	if (offset == IOAPIC_IOREGSEL)
		value = io->regsel;
	else if (offset == IOAPIC_IOWIN)
		value = read_register(io, io->regsel);
	pthread_mutex_unlock(&io->lock);
	return value;
}

void ioapic_mmio_write(struct ioapic *io, uint32_t offset, uint32_t value)
{
	struct outbox out = {.count = 0};
	pthread_mutex_lock(&io->lock);
	if (offset == IOAPIC_IOREGSEL)
		io->regsel = value & 0xFF;
	else if (offset == IOAPIC_IOWIN)
		write_register(io, io->regsel, value, &out);
	else if (offset == IOAPIC_EOI)
		eoi_locked(io, value & 0xFF, &out);
	unlock_and_send(io, &out);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level)
{
	if (pin >= IOAPIC_PINS)
		return;
	struct outbox out = {.count = 0};
	pthread_mutex_lock(&io->lock);
	bool rising = level && !pin_asserted(io, pin);
	if (level)
		io->asserted |= 1U << pin;
	else
		io->asserted &= ~(1U << pin);
	if (io->redir_low[pin] & IOAPIC_REDIR_LEVEL)
		send_level_if_due(io, pin, &out);
	else if (rising)
		try_send(io, pin, &out);
	unlock_and_send(io, &out);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	struct outbox out = {.count = 0};
	pthread_mutex_lock(&io->lock);
	eoi_locked(io, vector, &out);
	unlock_and_send(io, &out);
}
