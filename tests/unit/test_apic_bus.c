/* Unit tests for the APIC bus: ICR decoding, destination rules and when messages are forwarded. */
#include <criterion/criterion.h>

#include "devices/apic_bus.h"

#define NCPU 4

struct forwarded {
	int count;
	struct apic_message last;
};

static struct apic_bus *BUS;
static struct lapic *CPU[NCPU];
static struct forwarded FWD;

static void bus_send_ipi(void *ctx, struct lapic *src, uint32_t low, uint32_t high)
{
	apic_bus_send_ipi(BUS, src, low, high);
}

static void record_forward(void *ctx, const struct apic_message *msg)
{
	FWD.count++;
	FWD.last = *msg;
}

static const struct lapic_ops cpu_ops = {.send_ipi = bus_send_ipi};

static void setup(void)
{
	FWD = (struct forwarded){0};
	BUS = apic_bus_create(record_forward, NULL);
	for (int i = 0; i < NCPU; i++) {
		CPU[i] = lapic_create((uint8_t)i, i == 0, &cpu_ops, NULL);
		lapic_mmio_write(CPU[i], LAPIC_REG_SVR, 0x1FF, 0);
		lapic_mmio_write(CPU[i], LAPIC_REG_LDR, (1U << i) << 24,
				 0); /* flat: one bit each */
		cr_assert_eq(apic_bus_add(BUS, CPU[i]), 0);
	}
}

static void teardown(void)
{
	apic_bus_destroy(BUS);
	for (int i = 0; i < NCPU; i++)
		lapic_destroy(CPU[i]);
}

static void send_icr(int from, uint32_t low, uint8_t dest)
{
	lapic_mmio_write(CPU[from], LAPIC_REG_ICR_HIGH, (uint32_t)dest << 24, 0);
	lapic_mmio_write(CPU[from], LAPIC_REG_ICR_LOW, low, 0);
}

/* Bit i set if CPU i has vector pending; consumes it. */
static unsigned receivers(int vector)
{
	unsigned mask = 0;
	for (int i = 0; i < NCPU; i++) {
		if (lapic_pending_vector(CPU[i]) == vector) {
			mask |= 1U << i;
			lapic_accept_vector(CPU[i], vector);
			lapic_mmio_write(CPU[i], LAPIC_REG_EOI, 0, 0);
		}
	}
	return mask;
}

#define ICR_LOGICAL (1U << 11)
#define ICR_ASSERT  (1U << 14)
#define ICR_LEVEL   (1U << 15)
#define SH(x)	    ((uint32_t)(x) << 18)
#define DM(x)	    ((uint32_t)(x) << 8)

TestSuite(apic_bus, .init = setup, .fini = teardown);

Test(apic_bus, duplicate_apic_id_refused)
{
	struct lapic *twin = lapic_create(2, false, NULL, NULL);
	cr_assert_eq(apic_bus_add(BUS, twin), -1);
	lapic_destroy(twin);
}

Test(apic_bus, physical_local_destination)
{
	send_icr(0, ICR_ASSERT | 0x40, 2);
	cr_assert_eq(receivers(0x40), 1U << 2);
	cr_assert_eq(FWD.count, 0, "a local physical destination stays here");
}

Test(apic_bus, physical_remote_destination_is_forwarded)
{
	send_icr(1, ICR_ASSERT | 0x41, 9);
	cr_assert_eq(receivers(0x41), 0);
	cr_assert_eq(FWD.count, 1);
	cr_assert_eq(FWD.last.vector, 0x41);
	cr_assert_eq(FWD.last.mode, LAPIC_DM_FIXED);
	cr_assert_eq(FWD.last.dest, 9);
	cr_assert_eq(FWD.last.src_apic_id, 1);
	cr_assert_not(FWD.last.logical);
	cr_assert_eq(FWD.last.shorthand, APIC_SHORTHAND_NONE);
}

Test(apic_bus, physical_broadcast)
{
	send_icr(3, 0x42, 0xFF);
	cr_assert_eq(receivers(0x42), 0xF);
	cr_assert_eq(FWD.count, 1);
}

Test(apic_bus, logical_flat)
{
	send_icr(0, ICR_LOGICAL | 0x43, 0x05);
	cr_assert_eq(receivers(0x43), (1U << 0) | (1U << 2));
	cr_assert_eq(FWD.count, 1, "logical destinations may have members elsewhere");
	cr_assert(FWD.last.logical);
	cr_assert_eq(FWD.last.dest, 0x05);
}

Test(apic_bus, logical_cluster)
{
	static const uint32_t ldr[NCPU] = {0x11, 0x12, 0x21, 0x22};
	for (int i = 0; i < NCPU; i++) {
		lapic_mmio_write(CPU[i], LAPIC_REG_DFR, 0x0FFFFFFF, 0);
		lapic_mmio_write(CPU[i], LAPIC_REG_LDR, ldr[i] << 24, 0);
	}
	send_icr(0, ICR_LOGICAL | 0x44, 0x13);
	cr_assert_eq(receivers(0x44), 0x3, "cluster 1, members 1 and 2");
	send_icr(0, ICR_LOGICAL | 0x44, 0x22);
	cr_assert_eq(receivers(0x44), 1U << 3);
	send_icr(0, ICR_LOGICAL | 0x44, 0x32);
	cr_assert_eq(receivers(0x44), 0);
	cr_assert_eq(FWD.count, 3);
}

Test(apic_bus, shorthand_self)
{
	send_icr(2, SH(APIC_SHORTHAND_SELF) | 0x45, 0);
	cr_assert_eq(receivers(0x45), 1U << 2);
	cr_assert_eq(FWD.count, 0, "self never leaves the node");
}

Test(apic_bus, shorthand_all_including_self)
{
	send_icr(1, SH(APIC_SHORTHAND_ALL) | 0x46, 0x02); /* destination field ignored */
	cr_assert_eq(receivers(0x46), 0xF);
	cr_assert_eq(FWD.count, 1);
	cr_assert_eq(FWD.last.shorthand, APIC_SHORTHAND_ALL);
}

Test(apic_bus, shorthand_all_excluding_self)
{
	send_icr(1, SH(APIC_SHORTHAND_OTHERS) | 0x47, 0);
	cr_assert_eq(receivers(0x47), 0xF & ~(1U << 1));
	cr_assert_eq(FWD.count, 1);
	cr_assert_eq(FWD.last.src_apic_id, 1);
}

Test(apic_bus, lowest_priority_picks_one)
{
	static const uint32_t tpr[NCPU] = {0x20, 0x10, 0x30, 0x10};
	for (int i = 0; i < NCPU; i++)
		lapic_mmio_write(CPU[i], LAPIC_REG_TPR, tpr[i], 0);
	send_icr(0, ICR_LOGICAL | DM(LAPIC_DM_LOWEST) | 0x48, 0x0F);
	cr_assert_eq(receivers(0x48), 1U << 1, "lowest TPR, first of equals");
	cr_assert_eq(FWD.count, 0, "delivered once, here");

	send_icr(0, ICR_LOGICAL | DM(LAPIC_DM_LOWEST) | 0x48, 0x30);
	cr_assert_eq(receivers(0x48), 0);
	cr_assert_eq(FWD.count, 1, "no local match: another node must take it");
}

Test(apic_bus, init_sipi_and_nmi)
{
	send_icr(0, ICR_ASSERT | ICR_LEVEL | DM(LAPIC_DM_INIT), 3);
	cr_assert(lapic_take_init(CPU[3]));
	send_icr(0, ICR_LEVEL | DM(LAPIC_DM_INIT), 3); /* de-assert */
	cr_assert_not(lapic_take_init(CPU[3]));
	send_icr(0, ICR_ASSERT | DM(LAPIC_DM_STARTUP) | 0x9F, 3);
	cr_assert_eq(lapic_take_sipi(CPU[3]), 0x9F);
	send_icr(0, ICR_ASSERT | DM(LAPIC_DM_NMI), 2);
	cr_assert(lapic_take_nmi(CPU[2]));
	cr_assert_not(lapic_take_nmi(CPU[1]));
	cr_assert_eq(FWD.count, 0);
}

Test(apic_bus, invalid_combinations_dropped)
{
	send_icr(0, SH(APIC_SHORTHAND_SELF) | DM(LAPIC_DM_NMI), 0);
	cr_assert_not(lapic_take_nmi(CPU[0]));
	send_icr(0, SH(APIC_SHORTHAND_ALL) | DM(LAPIC_DM_INIT) | ICR_ASSERT, 0);
	cr_assert_not(lapic_take_init(CPU[1]));
	send_icr(0, DM(3) | 0x49, 1);
	cr_assert_eq(receivers(0x49), 0);
	cr_assert_eq(FWD.count, 0);
}

Test(apic_bus, decode_icr_fields)
{
	struct apic_message m;
	cr_assert(apic_bus_decode_icr(
	    ICR_LEVEL | ICR_ASSERT | ICR_LOGICAL | DM(LAPIC_DM_LOWEST) | 0x77, 0xA5000000, 7, &m));
	cr_assert_eq(m.vector, 0x77);
	cr_assert_eq(m.mode, LAPIC_DM_LOWEST);
	cr_assert(m.level);
	cr_assert(m.logical);
	cr_assert_eq(m.dest, 0xA5);
	cr_assert_eq(m.src_apic_id, 7);
	cr_assert(apic_bus_decode_icr(ICR_LEVEL | ICR_ASSERT | DM(LAPIC_DM_NMI), 0, 7, &m));
	cr_assert_not(m.level, "only fixed and lowest priority can be level-triggered");
	cr_assert_not(apic_bus_decode_icr(ICR_LEVEL | DM(LAPIC_DM_INIT), 0, 7, &m));
}

Test(apic_bus, level_ipi_sets_tmr)
{
	send_icr(0, ICR_LEVEL | ICR_ASSERT | 0x50, 1);
	cr_assert(lapic_mmio_read(CPU[1], LAPIC_REG_TMR + 0x20, 0) & (1U << 0x10));
}

Test(apic_bus, remote_message_delivered_locally_only)
{
	struct apic_message m = {.mode = LAPIC_DM_FIXED,
				 .vector = 0x51,
				 .shorthand = APIC_SHORTHAND_OTHERS,
				 .src_apic_id = 9};
	cr_assert_eq(apic_bus_deliver(BUS, &m), 4);
	cr_assert_eq(receivers(0x51), 0xF, "the sender lives elsewhere");
	cr_assert_eq(FWD.count, 0);
}

/* A forwarded lowest-priority message: one local LAPIC at most, and the count tells the node
 * whether to pass it on round the ring. */
Test(apic_bus, remote_lowest_priority_reports_whether_taken)
{
	struct apic_message m = {
	    .mode = LAPIC_DM_LOWEST, .vector = 0x53, .dest = 2, .src_apic_id = 9};
	cr_assert_eq(apic_bus_deliver(BUS, &m), 1);
	cr_assert_eq(receivers(0x53), 1u << 2);
	m.dest = 9;
	m.vector = 0x54;
	cr_assert_eq(apic_bus_deliver(BUS, &m), 0, "APIC ID 9 lives elsewhere");
	cr_assert_eq(receivers(0x54), 0);
	cr_assert_eq(FWD.count, 0, "delivery alone never forwards");
}

Test(apic_bus, route_without_forwarder)
{
	struct apic_bus *solo = apic_bus_create(NULL, NULL);
	cr_assert_eq(apic_bus_add(solo, CPU[0]), 0);
	struct apic_message m = {.mode = LAPIC_DM_FIXED, .vector = 0x52, .dest = 9};
	apic_bus_route(solo, &m);
	cr_assert_eq(receivers(0x52), 0);
	m.dest = 0;
	apic_bus_route(solo, &m);
	cr_assert_eq(receivers(0x52), 1);
	apic_bus_destroy(solo);
}
