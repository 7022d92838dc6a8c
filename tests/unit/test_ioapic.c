/* Unit tests for the I/O APIC model: registers, redirection entries, edge/level, Remote IRR. */
#include <criterion/criterion.h>

#include "devices/ioapic.h"

#define MAX_SENT 16

struct sink {
	struct ioapic *io;
	struct apic_message sent[MAX_SENT];
	int count;
	int eois_on_deliver; /* EOI from inside deliver this many times, as a fast LAPIC would */
};

static void sink_deliver(void *ctx, const struct apic_message *msg)
{
	struct sink *s = ctx;
	if (s->count < MAX_SENT)
		s->sent[s->count] = *msg;
	s->count++;
	if (s->eois_on_deliver > 0) {
		s->eois_on_deliver--;
		ioapic_eoi(s->io, msg->vector);
	}
}

static const struct ioapic_ops sink_ops = {sink_deliver};
static struct sink S;
static struct ioapic *IO;

static void setup(void)
{
	S = (struct sink){0};
	IO = ioapic_create(2, &sink_ops, &S);
	S.io = IO;
}

static void teardown(void)
{
	ioapic_destroy(IO);
}

static uint32_t reg_read(uint32_t reg)
{
	ioapic_mmio_write(IO, IOAPIC_IOREGSEL, reg);
	return ioapic_mmio_read(IO, IOAPIC_IOWIN);
}

static void reg_write(uint32_t reg, uint32_t value)
{
	ioapic_mmio_write(IO, IOAPIC_IOREGSEL, reg);
	ioapic_mmio_write(IO, IOAPIC_IOWIN, value);
}

static void program(unsigned pin, uint32_t low, uint8_t dest)
{
	reg_write(IOAPIC_REG_REDIR + 2 * pin + 1, (uint32_t)dest << 24);
	reg_write(IOAPIC_REG_REDIR + 2 * pin, low);
}

static uint32_t redir_low(unsigned pin)
{
	return reg_read(IOAPIC_REG_REDIR + 2 * pin);
}

TestSuite(ioapic, .init = setup, .fini = teardown);

Test(ioapic, identification_registers)
{
	cr_assert_eq(reg_read(IOAPIC_REG_ID), 2U << 24);
	cr_assert_eq(reg_read(IOAPIC_REG_VERSION), 0x00170020U);
	cr_assert_eq(reg_read(IOAPIC_REG_ARB), 2U << 24);
	reg_write(IOAPIC_REG_ID, 0xFFFFFFFF);
	cr_assert_eq(reg_read(IOAPIC_REG_ID), 0x0F000000U);
	reg_write(IOAPIC_REG_VERSION, 0);
	cr_assert_eq(reg_read(IOAPIC_REG_VERSION), 0x00170020U);
	cr_assert_eq(reg_read(0x03), 0);
	cr_assert_eq(reg_read(0x40), 0, "past the last redirection entry");
	ioapic_mmio_write(IO, IOAPIC_IOREGSEL, 0x1234);
	cr_assert_eq(ioapic_mmio_read(IO, IOAPIC_IOREGSEL), 0x34);
	cr_assert_eq(ioapic_mmio_read(IO, 0x20), 0);
}

Test(ioapic, redirection_entries_reset_masked_and_writable_bits)
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		cr_assert_eq(redir_low(pin), IOAPIC_REDIR_MASKED);
		cr_assert_eq(reg_read(IOAPIC_REG_REDIR + 2 * pin + 1), 0);
	}
	program(5, 0xFFFFFFFF, 0xAB);
	cr_assert_eq(redir_low(5), 0x0001AFFFU, "delivery status and Remote IRR are read-only");
	reg_write(IOAPIC_REG_REDIR + 11, 0xFFFFFFFF);
	cr_assert_eq(reg_read(IOAPIC_REG_REDIR + 11), 0xFF000000U);
}

Test(ioapic, edge_pin_delivers_on_rising_edge)
{
	program(4, 0x0800 | (LAPIC_DM_LOWEST << 8) | 0x34, 0x03); /* logical, lowest priority */
	ioapic_set_irq(IO, 4, true);
	cr_assert_eq(S.count, 1);
	cr_assert_eq(S.sent[0].vector, 0x34);
	cr_assert_eq(S.sent[0].mode, LAPIC_DM_LOWEST);
	cr_assert(S.sent[0].logical);
	cr_assert_not(S.sent[0].level);
	cr_assert_eq(S.sent[0].dest, 0x03);
	cr_assert_eq(S.sent[0].shorthand, APIC_SHORTHAND_NONE);

	ioapic_set_irq(IO, 4, true);
	cr_assert_eq(S.count, 1, "no edge while held high");
	ioapic_set_irq(IO, 4, false);
	cr_assert_eq(S.count, 1);
	ioapic_set_irq(IO, 4, true);
	cr_assert_eq(S.count, 2);
	cr_assert_eq(redir_low(4) & IOAPIC_REDIR_REMOTE_IRR, 0);
}

Test(ioapic, masked_pins_deliver_nothing)
{
	ioapic_set_irq(IO, 1, true);
	cr_assert_eq(S.count, 0, "masked at reset");
	program(2, IOAPIC_REDIR_MASKED | 0x40, 0);
	ioapic_set_irq(IO, 2, true);
	program(2, 0x40, 0);
	cr_assert_eq(S.count, 0, "an edge on a masked pin is lost");
	program(3, IOAPIC_REDIR_MASKED | IOAPIC_REDIR_LEVEL | 0x41, 0);
	ioapic_set_irq(IO, 3, true);
	cr_assert_eq(S.count, 0);
	ioapic_set_irq(IO, 24, true);
	ioapic_set_irq(IO, 1000, true);
	cr_assert_eq(S.count, 0);
}

Test(ioapic, unmasking_asserted_level_pin_delivers)
{
	program(9, IOAPIC_REDIR_MASKED | IOAPIC_REDIR_LEVEL | 0x51, 1);
	ioapic_set_irq(IO, 9, true);
	cr_assert_eq(S.count, 0);
	program(9, IOAPIC_REDIR_LEVEL | 0x51, 1);
	cr_assert_eq(S.count, 1);
	cr_assert(S.sent[0].level);
	cr_assert_eq(S.sent[0].dest, 1);
	cr_assert(redir_low(9) & IOAPIC_REDIR_REMOTE_IRR);
}

Test(ioapic, level_pin_remote_irr_and_eoi_redelivery)
{
	program(10, IOAPIC_REDIR_LEVEL | 0x60, 0);
	ioapic_set_irq(IO, 10, true);
	cr_assert_eq(S.count, 1);
	cr_assert(redir_low(10) & IOAPIC_REDIR_REMOTE_IRR);
	ioapic_set_irq(IO, 10, true);
	cr_assert_eq(S.count, 1, "Remote IRR holds off a second message");

	ioapic_eoi(IO, 0x61);
	cr_assert(redir_low(10) & IOAPIC_REDIR_REMOTE_IRR, "other vector");
	ioapic_eoi(IO, 0x60);
	cr_assert_eq(S.count, 2, "still asserted at EOI: delivered again");
	cr_assert(redir_low(10) & IOAPIC_REDIR_REMOTE_IRR);

	ioapic_set_irq(IO, 10, false);
	ioapic_eoi(IO, 0x60);
	cr_assert_eq(S.count, 2);
	cr_assert_eq(redir_low(10) & IOAPIC_REDIR_REMOTE_IRR, 0);
	ioapic_set_irq(IO, 10, true);
	cr_assert_eq(S.count, 3);
}

Test(ioapic, eoi_register_and_shared_vector)
{
	program(11, IOAPIC_REDIR_LEVEL | 0x70, 0);
	program(12, IOAPIC_REDIR_LEVEL | 0x70, 0);
	ioapic_set_irq(IO, 11, true);
	ioapic_set_irq(IO, 12, true);
	cr_assert_eq(S.count, 2);
	ioapic_set_irq(IO, 11, false);
	ioapic_mmio_write(IO, IOAPIC_EOI, 0x70);
	cr_assert_eq(S.count, 3, "only pin 12 is still asserted");
	cr_assert_eq(redir_low(11) & IOAPIC_REDIR_REMOTE_IRR, 0);
	cr_assert(redir_low(12) & IOAPIC_REDIR_REMOTE_IRR);
}

/* The EOI of a vCPU on another node arrives late: the guest may have routed the pin elsewhere by
 * then. Remote IRR survives the rewrite, and the late EOI sends to the new destination. */
Test(ioapic, late_eoi_after_rerouting_sends_to_the_new_destination)
{
	program(9, IOAPIC_REDIR_LEVEL | 0x62, 1);
	ioapic_set_irq(IO, 9, true);
	cr_assert_eq(S.count, 1);
	cr_assert_eq(S.sent[0].dest, 1);
	cr_assert(S.sent[0].level);
	program(9, IOAPIC_REDIR_LEVEL | 0x62, 2);
	cr_assert(redir_low(9) & IOAPIC_REDIR_REMOTE_IRR, "kept across the rewrite");
	cr_assert_eq(S.count, 1, "nothing sent while Remote IRR is set");
	ioapic_eoi(IO, 0x62);
	cr_assert_eq(S.count, 2);
	cr_assert_eq(S.sent[1].dest, 2);
}

Test(ioapic, switching_to_edge_clears_remote_irr)
{
	program(13, IOAPIC_REDIR_LEVEL | 0x72, 0);
	ioapic_set_irq(IO, 13, true);
	program(13, 0x72, 0);
	cr_assert_eq(redir_low(13) & IOAPIC_REDIR_REMOTE_IRR, 0);
	cr_assert_eq(S.count, 1, "reprogramming an edge pin sends nothing by itself");
}

Test(ioapic, deliver_runs_outside_the_lock)
{
	S.eois_on_deliver = 2;
	program(14, IOAPIC_REDIR_LEVEL | 0x80, 0);
	ioapic_set_irq(IO, 14, true);
	cr_assert_eq(S.count, 3, "each nested EOI re-delivered the still-asserted line");
	cr_assert(redir_low(14) & IOAPIC_REDIR_REMOTE_IRR);
}
