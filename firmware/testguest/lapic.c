/* LAPIC register access (Intel SDM vol. 3, ch. 11). An IPI is two writes: the destination into
 * ICR high, then the command into ICR low, which sends it. */
#include <stdint.h>

#include "firmware/testguest/lapic.h"
#include "firmware/testguest/layout.h"
#include "firmware/testguest/x86.h"

#define REG_ID	       0x020
#define REG_TPR	       0x080
#define REG_SVR	       0x0f0
#define REG_ICR_LOW    0x300
#define REG_ICR_HIGH   0x310
#define REG_LVT_TIMER  0x320
#define REG_TIMER_INIT 0x380
#define REG_TIMER_DIV  0x3e0

#define SVR_ENABLE	   0x100
#define ICR_FIXED	   0x000
#define ICR_NMI		   0x400
#define ICR_INIT	   0x500
#define ICR_STARTUP	   0x600
#define ICR_ASSERT	   0x4000
#define LVT_MASKED	   0x10000
#define LVT_TIMER_PERIODIC 0x20000
#define TIMER_DIVIDE_BY_1  0xb

static uint32_t read_reg(uint32_t reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}

static void write_reg(uint32_t reg, uint32_t value)
{
	mmio_write32(LAPIC_BASE + reg, value);
}

uint32_t lapic_id(void)
{
	return read_reg(REG_ID) >> 24;
}

void lapic_enable(void)
{
	write_reg(REG_TPR, 0);
	write_reg(REG_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

static void send(uint32_t apic_id, uint32_t command)
{
	write_reg(REG_ICR_HIGH, apic_id << 24);
	write_reg(REG_ICR_LOW, command);
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
	send(apic_id, ICR_FIXED | ICR_ASSERT | vector);
}

void lapic_send_nmi(uint32_t apic_id)
{
	send(apic_id, ICR_NMI | ICR_ASSERT);
}

void lapic_send_init(uint32_t apic_id)
{
	send(apic_id, ICR_INIT | ICR_ASSERT);
}

void lapic_send_startup(uint32_t apic_id, uint32_t trampoline_addr)
{
	send(apic_id, ICR_STARTUP | ICR_ASSERT | trampoline_addr >> 12);
}

void lapic_timer_periodic(uint32_t count)
{
	write_reg(REG_TIMER_DIV, TIMER_DIVIDE_BY_1);
	write_reg(REG_LVT_TIMER, LVT_TIMER_PERIODIC | VEC_TIMER);
	write_reg(REG_TIMER_INIT, count);
}

void lapic_timer_stop(void)
{
	write_reg(REG_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	write_reg(REG_TIMER_INIT, 0);
}
