/* Unit tests for the local APIC model: registers, priorities, EOI, timer, INIT/SIPI, errors. */
#include <criterion/criterion.h>

#include "devices/lapic.h"

struct recorder {
	struct lapic *lapic;
	int kicks;
	int ipis;
	uint32_t icr_low, icr_high;
	int eois;
	uint8_t eoi_vector;
	bool self_ipi_on_send; /* send_ipi delivers back into the sender, as a self-IPI would */
};

static void rec_send_ipi(void *ctx, struct lapic *src, uint32_t low, uint32_t high)
{
	struct recorder *r = ctx;
	r->ipis++;
	r->icr_low = low;
	r->icr_high = high;
	if (r->self_ipi_on_send)
		lapic_deliver(src, LAPIC_DM_FIXED, low & 0xFF, false);
}

static void rec_kick(void *ctx)
{
	struct recorder *r = ctx;
	r->kicks++;
	lapic_pending_vector(r->lapic); /* would deadlock if called under the lapic's lock */
}

static void rec_eoi_level(void *ctx, uint8_t vector)
{
	struct recorder *r = ctx;
	r->eois++;
	r->eoi_vector = vector;
}

static const struct lapic_ops rec_ops = {rec_send_ipi, rec_kick, rec_eoi_level};
static struct recorder rec;
static struct lapic *L;

static void setup_bsp(void)
{
	rec = (struct recorder){0};
	L = lapic_create(3, true, &rec_ops, &rec);
	rec.lapic = L;
}

static void teardown(void)
{
	lapic_destroy(L);
}

static uint32_t rd(uint32_t offset)
{
	return lapic_mmio_read(L, offset, 0);
}

static void wr(uint32_t offset, uint32_t value)
{
	lapic_mmio_write(L, offset, value, 0);
}

static void enable(void)
{
	wr(LAPIC_REG_SVR, LAPIC_SVR_ENABLE | 0xFF);
}

static bool bit_set(uint32_t base, int vector)
{
	return rd(base + (vector / 32) * 0x10) & (1U << (vector % 32));
}

TestSuite(lapic, .init = setup_bsp, .fini = teardown);

Test(lapic, reset_values)
{
	cr_assert_eq(rd(LAPIC_REG_ID), 3U << 24);
	cr_assert_eq(lapic_id(L), 3);
	cr_assert_eq(rd(LAPIC_REG_VERSION), 0x00050014U);
	cr_assert_eq(rd(LAPIC_REG_TPR), 0);
	cr_assert_eq(rd(LAPIC_REG_PPR), 0);
	cr_assert_eq(rd(LAPIC_REG_LDR), 0);
	cr_assert_eq(rd(LAPIC_REG_DFR), 0xFFFFFFFFU);
	cr_assert_eq(rd(LAPIC_REG_SVR), 0xFF);
	for (uint32_t off = LAPIC_REG_LVT_TIMER; off <= LAPIC_REG_LVT_ERROR; off += 0x10)
		cr_assert_eq(rd(off), LAPIC_LVT_MASKED, "LVT at %#x", off);
	for (uint32_t off = LAPIC_REG_ISR; off < LAPIC_REG_ESR; off += 0x10)
		cr_assert_eq(rd(off), 0);
	cr_assert_eq(rd(LAPIC_REG_TIMER_INIT), 0);
	cr_assert_eq(rd(LAPIC_REG_TIMER_CUR), 0);
	cr_assert_eq(rd(LAPIC_REG_TIMER_DIV), 0);
	cr_assert_eq(lapic_timer_deadline(L), UINT64_MAX);
	cr_assert_eq(lapic_pending_vector(L), -1);
}

Test(lapic, undefined_misaligned_and_read_only_offsets)
{
	cr_assert_eq(rd(0x2F0), 0, "no CMCI LVT with max LVT 5");
	cr_assert_eq(rd(0x040), 0);
	cr_assert_eq(rd(0x1000), 0);
	wr(LAPIC_REG_TPR, 0x20);
	cr_assert_eq(rd(LAPIC_REG_TPR + 4), 0, "not a register slot");
	wr(LAPIC_REG_TPR + 4, 0x50);
	cr_assert_eq(rd(LAPIC_REG_TPR), 0x20);
	wr(LAPIC_REG_VERSION, 0);
	wr(LAPIC_REG_PPR, 0xF0);
	wr(LAPIC_REG_IRR + 0x10, 0xFFFFFFFF);
	cr_assert_eq(rd(LAPIC_REG_VERSION), 0x00050014U);
	cr_assert_eq(rd(LAPIC_REG_PPR), 0x20);
	cr_assert_eq(rd(LAPIC_REG_IRR + 0x10), 0);
}

Test(lapic, writable_fields)
{
	wr(LAPIC_REG_ID, 0x07123456);
	cr_assert_eq(rd(LAPIC_REG_ID), 0x07000000U);
	cr_assert_eq(lapic_id(L), 7);
	wr(LAPIC_REG_LDR, 0x12345678);
	cr_assert_eq(rd(LAPIC_REG_LDR), 0x12000000U);
	wr(LAPIC_REG_DFR, 0);
	cr_assert_eq(rd(LAPIC_REG_DFR), 0x0FFFFFFFU);
	wr(LAPIC_REG_SVR, 0xFFFFFFFF);
	cr_assert_eq(rd(LAPIC_REG_SVR), 0x3FF);
	wr(LAPIC_REG_TIMER_DIV, 0xFF);
	cr_assert_eq(rd(LAPIC_REG_TIMER_DIV), 0xB);
	wr(LAPIC_REG_ICR_HIGH, 0xFFFFFFFF);
	cr_assert_eq(rd(LAPIC_REG_ICR_HIGH), 0xFF000000U);
	wr(LAPIC_REG_LVT_LINT0, 0xFFFFFFFF);
	cr_assert_eq(rd(LAPIC_REG_LVT_LINT0), 0x0001A7FFU,
		     "remote IRR and delivery status read-only");
}

Test(lapic, tpr_ppr_apr)
{
	enable();
	wr(LAPIC_REG_TPR, 0x35);
	cr_assert_eq(rd(LAPIC_REG_PPR), 0x35);
	lapic_deliver(L, LAPIC_DM_FIXED, 0x51, false);
	cr_assert_eq(rd(LAPIC_REG_APR), 0x50, "IRR class above TPR");
	lapic_accept_vector(L, 0x51);
	cr_assert_eq(rd(LAPIC_REG_PPR), 0x50, "ISR class above TPR, low bits 0");
	wr(LAPIC_REG_TPR, 0x72);
	cr_assert_eq(rd(LAPIC_REG_PPR), 0x72);
	cr_assert_eq(rd(LAPIC_REG_APR), 0x72);
}

Test(lapic, pending_respects_priority_class)
{
	enable();
	wr(LAPIC_REG_TPR, 0x40);
	lapic_deliver(L, LAPIC_DM_FIXED, 0x4F, false);
	cr_assert_eq(lapic_pending_vector(L), -1, "same class as TPR is blocked");
	lapic_deliver(L, LAPIC_DM_FIXED, 0x50, false);
	cr_assert_eq(lapic_pending_vector(L), 0x50);
	wr(LAPIC_REG_TPR, 0x50);
	cr_assert_eq(lapic_pending_vector(L), -1);
	wr(LAPIC_REG_TPR, 0);
	cr_assert_eq(lapic_pending_vector(L), 0x50);
}

Test(lapic, irr_isr_eoi_priority_order)
{
	enable();
	lapic_deliver(L, LAPIC_DM_FIXED, 0x30, false);
	lapic_deliver(L, LAPIC_DM_FIXED, 0x80, false);
	lapic_deliver(L, LAPIC_DM_FIXED, 0x50, false);
	cr_assert(bit_set(LAPIC_REG_IRR, 0x30) && bit_set(LAPIC_REG_IRR, 0x80));

	cr_assert_eq(lapic_pending_vector(L), 0x80);
	lapic_accept_vector(L, 0x80);
	cr_assert(bit_set(LAPIC_REG_ISR, 0x80));
	cr_assert_not(bit_set(LAPIC_REG_IRR, 0x80));
	cr_assert_eq(lapic_pending_vector(L), -1, "0x50 waits while 0x80 is in service");

	lapic_deliver(L, LAPIC_DM_FIXED, 0x90, false);
	cr_assert_eq(lapic_pending_vector(L), 0x90, "a higher class nests");
	lapic_accept_vector(L, 0x90);
	wr(LAPIC_REG_EOI, 0);
	cr_assert_not(bit_set(LAPIC_REG_ISR, 0x90), "EOI retires the highest ISR bit");
	cr_assert(bit_set(LAPIC_REG_ISR, 0x80));
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(rd(LAPIC_REG_PPR), 0);

	cr_assert_eq(lapic_pending_vector(L), 0x50);
	lapic_accept_vector(L, 0x50);
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(lapic_pending_vector(L), 0x30);
	lapic_accept_vector(L, 0x30);
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(lapic_pending_vector(L), -1);
	cr_assert_eq(rec.eois, 0, "edge vectors never reach eoi_level");
}

Test(lapic, accept_ignores_vectors_not_requested)
{
	enable();
	lapic_accept_vector(L, 0x40);
	lapic_accept_vector(L, -1);
	lapic_accept_vector(L, 256);
	cr_assert_not(bit_set(LAPIC_REG_ISR, 0x40));
	cr_assert_eq(rd(LAPIC_REG_PPR), 0);
}

Test(lapic, level_eoi_calls_back)
{
	enable();
	lapic_deliver(L, LAPIC_DM_FIXED, 0x61, true);
	cr_assert(bit_set(LAPIC_REG_TMR, 0x61));
	lapic_accept_vector(L, 0x61);
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(rec.eois, 1);
	cr_assert_eq(rec.eoi_vector, 0x61);

	lapic_deliver(L, LAPIC_DM_FIXED, 0x61, false);
	cr_assert_not(bit_set(LAPIC_REG_TMR, 0x61), "edge acceptance clears TMR");
	lapic_accept_vector(L, 0x61);
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(rec.eois, 1);
}

Test(lapic, eoi_with_empty_isr_does_nothing)
{
	enable();
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(rec.eois, 0);
}

Test(lapic, kick_only_for_new_work)
{
	enable();
	lapic_deliver(L, LAPIC_DM_FIXED, 0x41, false);
	cr_assert_eq(rec.kicks, 1);
	lapic_deliver(L, LAPIC_DM_FIXED, 0x41, false);
	cr_assert_eq(rec.kicks, 1, "already requested");
	cr_assert_not(lapic_wakeup_pending(L));
	lapic_deliver(L, LAPIC_DM_NMI, 0, false);
	cr_assert_eq(rec.kicks, 2);
	cr_assert(lapic_wakeup_pending(L), "seen by a halted vCPU's wake-up check");
	cr_assert(lapic_wakeup_pending(L), "looking does not take it");
	cr_assert(lapic_take_nmi(L));
	cr_assert_not(lapic_wakeup_pending(L));
	cr_assert_not(lapic_take_nmi(L));
	lapic_deliver(L, LAPIC_DM_SMI, 0, false);
	lapic_deliver(L, LAPIC_DM_EXTINT, 0x41, false);
	cr_assert_eq(rec.kicks, 2, "SMI and ExtINT have no receiver here");
}

/* A backend that handles LAPIC MMIO inside run() (the interpreter) only looks for vectors when
 * kicked: an EOI or a TPR write that uncovers one must kick, one that uncovers none must not. */
Test(lapic, kick_when_eoi_or_tpr_uncovers_a_vector)
{
	enable();
	lapic_deliver(L, LAPIC_DM_FIXED, 0xEC, false);
	lapic_accept_vector(L, 0xEC);
	lapic_deliver(L, LAPIC_DM_FIXED, 0x21, false);
	cr_assert_eq(rec.kicks, 2);
	cr_assert_eq(lapic_pending_vector(L), -1, "0x21 waits behind 0xEC in service");
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(rec.kicks, 3, "the EOI uncovers 0x21");
	lapic_accept_vector(L, 0x21);
	wr(LAPIC_REG_EOI, 0);
	cr_assert_eq(rec.kicks, 3, "nothing left to deliver");

	wr(LAPIC_REG_TPR, 0x50);
	lapic_deliver(L, LAPIC_DM_FIXED, 0x41, false);
	cr_assert_eq(rec.kicks, 4);
	wr(LAPIC_REG_TPR, 0x40);
	cr_assert_eq(rec.kicks, 4, "0x41 still masked by the TPR");
	wr(LAPIC_REG_TPR, 0x10);
	cr_assert_eq(rec.kicks, 5, "lowering the TPR uncovers 0x41");
}

Test(lapic, init_is_a_wakeup_until_taken)
{
	enable();
	cr_assert_not(lapic_wakeup_pending(L));
	lapic_deliver(L, LAPIC_DM_INIT, 0, false);
	cr_assert(lapic_wakeup_pending(L), "INIT ends even a hlt with interrupts disabled");
	cr_assert(lapic_take_init(L));
	cr_assert_not(lapic_wakeup_pending(L));
}

Test(lapic, svr_disable_masks_lvts_and_drops_fixed)
{
	wr(LAPIC_REG_LVT_TIMER, 0x40);
	cr_assert_eq(rd(LAPIC_REG_LVT_TIMER), LAPIC_LVT_MASKED | 0x40, "mask kept while disabled");
	lapic_deliver(L, LAPIC_DM_FIXED, 0x40, false);
	cr_assert_eq(lapic_pending_vector(L), -1);
	cr_assert_eq(rec.kicks, 0);

	enable();
	wr(LAPIC_REG_LVT_TIMER, 0x40);
	cr_assert_eq(rd(LAPIC_REG_LVT_TIMER), 0x40);
	wr(LAPIC_REG_SVR, 0xFF);
	cr_assert_eq(rd(LAPIC_REG_LVT_TIMER), LAPIC_LVT_MASKED | 0x40);
	lapic_deliver(L, LAPIC_DM_NMI, 0, false);
	cr_assert(lapic_take_nmi(L), "NMI is still accepted while disabled");
}

Test(lapic, illegal_vector_sets_esr)
{
	enable();
	lapic_deliver(L, LAPIC_DM_FIXED, 5, false);
	cr_assert_not(bit_set(LAPIC_REG_IRR, 5));
	cr_assert_eq(rec.kicks, 0);
	cr_assert_eq(rd(LAPIC_REG_ESR), 0, "errors show after the next ESR write");
	wr(LAPIC_REG_ESR, 0);
	cr_assert_eq(rd(LAPIC_REG_ESR), LAPIC_ESR_RECV_ILLEGAL);
	wr(LAPIC_REG_ESR, 0);
	cr_assert_eq(rd(LAPIC_REG_ESR), 0);

	wr(LAPIC_REG_ICR_LOW, 0x0000000F); /* fixed, vector 15 */
	cr_assert_eq(rec.ipis, 0);
	wr(LAPIC_REG_ESR, 0);
	cr_assert_eq(rd(LAPIC_REG_ESR), LAPIC_ESR_SEND_ILLEGAL);
}

Test(lapic, error_lvt_raises_its_vector)
{
	enable();
	wr(LAPIC_REG_LVT_ERROR, 0xFE);
	lapic_deliver(L, LAPIC_DM_FIXED, 1, false);
	cr_assert_eq(lapic_pending_vector(L), 0xFE);
	cr_assert_eq(rec.kicks, 1);
}

Test(lapic, icr_write_sends_ipi_outside_lock)
{
	enable();
	rec.self_ipi_on_send = true;
	wr(LAPIC_REG_ICR_HIGH, 0x05000000);
	wr(LAPIC_REG_ICR_LOW, 0x00004F42 | (1U << 12)); /* vector 0x42, bit 12 is read-only */
	cr_assert_eq(rec.ipis, 1);
	cr_assert_eq(rec.icr_low, 0x00004F42U);
	cr_assert_eq(rec.icr_high, 0x05000000U);
	cr_assert_eq(rd(LAPIC_REG_ICR_LOW), 0x00004F42U, "delivery status reads 0");
	cr_assert_eq(lapic_pending_vector(L), 0x42);
	cr_assert_eq(rec.kicks, 1);
}

Test(lapic, logical_destination_models)
{
	wr(LAPIC_REG_LDR, 0x24000000);
	cr_assert(lapic_match_logical(L, 0x04), "flat: any common bit");
	cr_assert(lapic_match_logical(L, 0x21));
	cr_assert_not(lapic_match_logical(L, 0x41));
	cr_assert(lapic_match_logical(L, 0xFF), "broadcast");

	wr(LAPIC_REG_DFR, 0x0FFFFFFF); /* cluster: cluster 2, member bit 4 */
	cr_assert(lapic_match_logical(L, 0x24));
	cr_assert(lapic_match_logical(L, 0x2C));
	cr_assert_not(lapic_match_logical(L, 0x34), "other cluster");
	cr_assert_not(lapic_match_logical(L, 0x21), "other member");
	cr_assert(lapic_match_logical(L, 0xFF));
}

/* ---- timer ---- */

static void timer_setup(uint32_t lvt, uint32_t divide, uint32_t count, uint64_t now)
{
	enable();
	lapic_mmio_write(L, LAPIC_REG_LVT_TIMER, lvt, now);
	lapic_mmio_write(L, LAPIC_REG_TIMER_DIV, divide, now);
	lapic_mmio_write(L, LAPIC_REG_TIMER_INIT, count, now);
}

static uint32_t current_count(uint64_t now)
{
	return lapic_mmio_read(L, LAPIC_REG_TIMER_CUR, now);
}

Test(lapic, timer_one_shot)
{
	timer_setup(0x40, 0x3, 1000, 1000); /* divide by 16: 160 ns per count */
	cr_assert_eq(lapic_timer_deadline(L), 1000 + 160000);
	cr_assert_eq(current_count(1000), 1000);
	cr_assert_eq(current_count(1000 + 160 * 250), 750);
	cr_assert_eq(current_count(1000 + 160000 - 1), 1);
	lapic_timer_update(L, 1000 + 160000 - 1);
	cr_assert_eq(lapic_pending_vector(L), -1);

	lapic_timer_update(L, 1000 + 160000);
	cr_assert_eq(lapic_pending_vector(L), 0x40);
	cr_assert_eq(rec.kicks, 1);
	cr_assert_eq(current_count(1000 + 200000), 0, "one-shot stays at 0");
	cr_assert_eq(lapic_timer_deadline(L), UINT64_MAX);
	cr_assert_eq(lapic_mmio_read(L, LAPIC_REG_TIMER_INIT, 0), 1000);
}

Test(lapic, timer_expiry_seen_by_mmio_access)
{
	timer_setup(0x40, 0xB, 10, 0); /* divide by 1: 100 ns */
	cr_assert_eq(current_count(500), 0);
	cr_assert_eq(lapic_pending_vector(L), 0x40);
}

Test(lapic, timer_periodic_reloads)
{
	timer_setup(LAPIC_LVT_PERIODIC | 0x41, 0xB, 100, 0); /* 10 ns per count, 1 us period */
	cr_assert_eq(lapic_timer_deadline(L), 1000);
	lapic_timer_update(L, 1000);
	cr_assert_eq(lapic_pending_vector(L), 0x41);
	cr_assert_eq(lapic_timer_deadline(L), 2000);
	cr_assert_eq(current_count(1500), 50, "reloaded from the initial count");

	lapic_accept_vector(L, 0x41);
	wr(LAPIC_REG_EOI, 0);
	lapic_timer_update(L, 5500); /* several periods late: one interrupt, next on the grid */
	cr_assert_eq(lapic_pending_vector(L), 0x41);
	cr_assert_eq(lapic_timer_deadline(L), 6000);
	cr_assert_eq(current_count(5500), 50);
	cr_assert_eq(rec.kicks, 2);
}

Test(lapic, timer_divider_encodings)
{
	static const struct {
		uint32_t dcr;
		uint64_t divisor;
	} table[] = {{0x0, 2},	{0x1, 4},  {0x2, 8},   {0x3, 16},
		     {0x8, 32}, {0x9, 64}, {0xA, 128}, {0xB, 1}};
	for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		timer_setup(0x40, table[i].dcr, 7, 100);
		uint64_t ns = 7 * table[i].divisor * (1000000000ULL / LAPIC_TIMER_HZ);
		cr_assert_eq(lapic_timer_deadline(L), 100 + ns, "dcr %#x", table[i].dcr);
	}
}

Test(lapic, timer_divider_change_keeps_count)
{
	timer_setup(0x40, 0x0, 1000, 0); /* divide by 2: 20 ns */
	cr_assert_eq(current_count(5000), 750);
	lapic_mmio_write(L, LAPIC_REG_TIMER_DIV, 0xB, 5000);
	cr_assert_eq(current_count(5000), 750);
	cr_assert_eq(lapic_timer_deadline(L), 5000 + 750 * 10);
}

Test(lapic, timer_restart_and_stop)
{
	timer_setup(0x40, 0xB, 100, 0);
	lapic_mmio_write(L, LAPIC_REG_TIMER_INIT, 300, 500);
	cr_assert_eq(lapic_timer_deadline(L), 500 + 3000, "a new initial count restarts");
	lapic_mmio_write(L, LAPIC_REG_TIMER_INIT, 0, 600);
	cr_assert_eq(lapic_timer_deadline(L), UINT64_MAX);
	cr_assert_eq(current_count(700), 0);
	lapic_timer_update(L, 100000);
	cr_assert_eq(lapic_pending_vector(L), -1);
}

Test(lapic, timer_masked_counts_silently)
{
	timer_setup(LAPIC_LVT_MASKED | LAPIC_LVT_PERIODIC | 0x40, 0xB, 100, 0);
	cr_assert_eq(current_count(250), 75, "a masked timer still counts");
	cr_assert_eq(lapic_timer_deadline(L), UINT64_MAX);
	lapic_timer_update(L, 1000);
	cr_assert_eq(lapic_pending_vector(L), -1);

	lapic_mmio_write(L, LAPIC_REG_LVT_TIMER, LAPIC_LVT_PERIODIC | 0x40, 3500);
	cr_assert_eq(lapic_pending_vector(L), -1, "expiries while masked are lost");
	cr_assert_eq(lapic_timer_deadline(L), 4000);
	cr_assert_eq(rec.kicks, 0);
}

Test(lapic, timer_tsc_deadline_mode_is_inert)
{
	timer_setup(0x40, 0xB, 100, 0);
	lapic_mmio_write(L, LAPIC_REG_LVT_TIMER, (2U << 17) | 0x40, 10);
	cr_assert_eq(lapic_timer_deadline(L), UINT64_MAX);
	lapic_mmio_write(L, LAPIC_REG_TIMER_INIT, 50, 20);
	lapic_timer_update(L, 100000);
	cr_assert_eq(lapic_pending_vector(L), -1);
}

/* ---- start-up ---- */

Test(lapic, ap_init_sipi_state_machine)
{
	struct recorder r = {0};
	struct lapic *ap = lapic_create(1, false, &rec_ops, &r);
	r.lapic = ap;
	lapic_deliver(ap, LAPIC_DM_STARTUP, 0x10, false);
	cr_assert_eq(lapic_take_sipi(ap), -1, "SIPI before INIT is ignored");
	cr_assert_eq(r.kicks, 0);

	lapic_mmio_write(ap, LAPIC_REG_SVR, 0x1FF, 0);
	lapic_mmio_write(ap, LAPIC_REG_ID, 0x09000000, 0);
	lapic_deliver(ap, LAPIC_DM_INIT, 0, false);
	cr_assert_eq(r.kicks, 1);
	cr_assert(lapic_take_init(ap));
	cr_assert_not(lapic_take_init(ap));
	cr_assert_eq(lapic_mmio_read(ap, LAPIC_REG_SVR, 0), 0xFF, "INIT resets the registers");
	cr_assert_eq(lapic_id(ap), 9, "except the ID");

	lapic_deliver(ap, LAPIC_DM_STARTUP, 0x9A, false);
	lapic_deliver(ap, LAPIC_DM_STARTUP, 0x9B, false);
	cr_assert_eq(r.kicks, 2, "only the first SIPI counts");
	cr_assert_eq(lapic_take_sipi(ap), 0x9A);
	cr_assert_eq(lapic_take_sipi(ap), -1);

	lapic_deliver(ap, LAPIC_DM_INIT, 0, false);
	lapic_deliver(ap, LAPIC_DM_STARTUP, 0x20, false);
	cr_assert(lapic_take_init(ap));
	cr_assert_eq(lapic_take_sipi(ap), 0x20, "a running AP can be restarted");
	lapic_destroy(ap);
}

Test(lapic, bsp_ignores_sipi)
{
	lapic_deliver(L, LAPIC_DM_STARTUP, 0x10, false);
	cr_assert_eq(lapic_take_sipi(L), -1);
	lapic_deliver(L, LAPIC_DM_INIT, 0, false);
	cr_assert(lapic_take_init(L));
	lapic_deliver(L, LAPIC_DM_STARTUP, 0x10, false);
	cr_assert_eq(lapic_take_sipi(L), -1);
}
