/*
 * Local APIC (xAPIC) emulated in user space, one per vCPU.
 *
 * The model owns the register page at 0xFEE00000: the vCPU thread reads and writes it through
 * MMIO exits, any thread delivers interrupts into it, and the vCPU thread's injection loop pulls
 * what became pending (vector, NMI, INIT, SIPI). Every entry point is thread-safe.
 *
 * Lock order: each lapic has one mutex, taken only inside these functions and never held while
 * calling an ops callback or another lapic. Callbacks may therefore call back into any lapic
 * (send_ipi usually ends in lapic_deliver on another instance, or on this one for a self-IPI).
 */
#ifndef DEVICES_LAPIC_H
#define DEVICES_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "firmware/layout.h" /* LAPIC_TIMER_HZ */

#define LAPIC_MMIO_BASE 0xFEE00000ULL
#define LAPIC_MMIO_SIZE 0x1000U

/* Register offsets in the MMIO page (Intel SDM vol. 3, table "Local APIC Register Address Map"). */
#define LAPIC_REG_ID	      0x020
#define LAPIC_REG_VERSION     0x030
#define LAPIC_REG_TPR	      0x080
#define LAPIC_REG_APR	      0x090
#define LAPIC_REG_PPR	      0x0A0
#define LAPIC_REG_EOI	      0x0B0
#define LAPIC_REG_LDR	      0x0D0
#define LAPIC_REG_DFR	      0x0E0
#define LAPIC_REG_SVR	      0x0F0
#define LAPIC_REG_ISR	      0x100 /* 8 registers, 0x10 apart */
#define LAPIC_REG_TMR	      0x180
#define LAPIC_REG_IRR	      0x200
#define LAPIC_REG_ESR	      0x280
#define LAPIC_REG_ICR_LOW     0x300
#define LAPIC_REG_ICR_HIGH    0x310
#define LAPIC_REG_LVT_TIMER   0x320
#define LAPIC_REG_LVT_THERMAL 0x330
#define LAPIC_REG_LVT_PERF    0x340
#define LAPIC_REG_LVT_LINT0   0x350
#define LAPIC_REG_LVT_LINT1   0x360
#define LAPIC_REG_LVT_ERROR   0x370
#define LAPIC_REG_TIMER_INIT  0x380
#define LAPIC_REG_TIMER_CUR   0x390
#define LAPIC_REG_TIMER_DIV   0x3E0

#define LAPIC_VERSION_VALUE 0x00050014U /* version 0x14, max LVT entry 5 (no CMCI) */

#define LAPIC_SVR_ENABLE       (1U << 8)
#define LAPIC_LVT_MASKED       (1U << 16)
#define LAPIC_LVT_PERIODIC     (1U << 17)
#define LAPIC_ESR_SEND_ILLEGAL (1U << 5)
#define LAPIC_ESR_RECV_ILLEGAL (1U << 6)

enum lapic_delivery {
	LAPIC_DM_FIXED = 0,
	LAPIC_DM_LOWEST = 1,
	LAPIC_DM_SMI = 2,
	LAPIC_DM_NMI = 4,
	LAPIC_DM_INIT = 5,
	LAPIC_DM_STARTUP = 6,
	LAPIC_DM_EXTINT = 7
};

struct lapic;

struct lapic_ops {
	/* The guest wrote ICR low: send this IPI (usually apic_bus_send_ipi). */
	void (*send_ipi)(void *ctx, struct lapic *src, uint32_t icr_low, uint32_t icr_high);
	/* Something new became pending for this vCPU: wake its thread (out of run()). */
	void (*kick)(void *ctx);
	/* EOI of a level-triggered vector (for the IOAPIC). */
	void (*eoi_level)(void *ctx, uint8_t vector);
};

/* An AP (bsp == false) starts waiting for INIT, then SIPI. Any op may be NULL. NULL on ENOMEM. */
struct lapic *lapic_create(uint8_t apic_id, bool bsp, const struct lapic_ops *ops, void *ctx);
void lapic_destroy(struct lapic *l);

/* Current contents of the ID register (the guest may rewrite it). */
uint8_t lapic_id(const struct lapic *l);
uint8_t lapic_tpr(struct lapic *l);

/* MMIO at a 16-byte aligned offset in the page; anything else reads 0 / is ignored. */
uint32_t lapic_mmio_read(struct lapic *l, uint32_t offset, uint64_t now_ns);
void lapic_mmio_write(struct lapic *l, uint32_t offset, uint32_t value, uint64_t now_ns);

/* Accept an interrupt message (any thread). level = level-triggered (sets TMR). SMI and ExtINT
 * are dropped: there is no SMM and no 8259 behind this LAPIC. */
void lapic_deliver(struct lapic *l, enum lapic_delivery mode, uint8_t vector, bool level);
/* Does logical destination mda select this LAPIC (flat or cluster model per DFR/LDR)? */
bool lapic_match_logical(struct lapic *l, uint8_t mda);

/* For the vCPU thread's injection loop. */
int lapic_pending_vector(struct lapic *l); /* highest IRR vector above PPR's class, or -1 */
void lapic_accept_vector(struct lapic *l, int vector); /* the vCPU took it: IRR -> ISR */
/* An NMI, INIT or SIPI waits to be taken: what ends a hlt even with interrupts disabled. */
bool lapic_wakeup_pending(struct lapic *l);
bool lapic_take_nmi(struct lapic *l);
bool lapic_take_init(struct lapic *l); /* INIT received since the last call */
int lapic_take_sipi(struct lapic *l);  /* SIPI vector accepted while waiting for SIPI, or -1 */

void lapic_timer_update(struct lapic *l, uint64_t now_ns); /* raise the timer vector if expired */
uint64_t lapic_timer_deadline(struct lapic *l); /* ns of the next interrupt, or UINT64_MAX */

#endif
