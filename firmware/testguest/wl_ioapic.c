/* ioapic: proves the IOAPIC routes a device interrupt to the vCPU its redirection entry names,
 * on whatever node that vCPU runs (the IOAPIC and the UART live on the boot node). The device is
 * COM1 at ISA IRQ 4, found through the MADT: enabling its "transmitter empty" interrupt (IER bit
 * 1) raises its line at once, and device_isr clears IER, lowering the line, before the EOI.
 *
 * CPUs take turns (the IOAPIC's select-then-access registers allow one user at a time): each
 * routes the pin to its own APIC ID and raises the line DEVICE_ROUNDS times with the entry
 * edge-triggered, then DEVICE_ROUNDS times level-triggered, waiting for each interrupt. After a
 * level interrupt the entry's Remote IRR must clear, which for a CPU on another node means that
 * its EOI reached the IOAPIC's node. Every CPU's count must come out exact. */
#include <stdint.h>

#include "firmware/testguest/acpi.h"
#include "firmware/testguest/console.h"
#include "firmware/testguest/ioapic.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/sync.h"
#include "firmware/testguest/workloads.h"
#include "firmware/testguest/x86.h"

#define UART_IRQ      4
#define UART_IER_THRI 0x02
#define DEVICE_ROUNDS 3u
#define DEVICE_IRQS   (2 * DEVICE_ROUNDS) /* per CPU: edge rounds, then level rounds */

static volatile uint32_t turn; /* the CPU now using the IOAPIC */
static struct acpi_isa_route route;
static uint64_t base[MAX_CPUS];

static uint64_t device_irqs(unsigned cpu)
{
	return cpu_blocks[cpu].device_irqs;
}

static void find_route(void)
{
	char err[160];
	if (acpi_isa_irq_route(workload_rsdp, UART_IRQ, &route, err, sizeof(err)) < 0)
		fail("ioapic: %s", err);
	unsigned pins = ioapic_pins(route.ioapic_addr);
	if (route.pin >= pins)
		fail("ioapic: IRQ %u is GSI %u, pin %u of an IOAPIC with %u pins", UART_IRQ,
		     route.gsi, route.pin, pins);
}

static void mask_pin(void)
{
	ioapic_route(route.ioapic_addr, route.pin, IOAPIC_MASKED | VEC_DEVICE, 0);
}

/* One interrupt through the pin to this CPU, the entry triggered as `trigger` says; `count` is
 * how many this CPU must have handled once it arrived. */
static void interrupt_self(unsigned cpu, uint32_t trigger, uint64_t count)
{
	const char *mode = trigger & IOAPIC_LEVEL ? "level" : "edge";
	uint32_t low = VEC_DEVICE | trigger | (route.active_low ? IOAPIC_ACTIVE_LOW : 0);
	ioapic_route(route.ioapic_addr, route.pin, low, (uint8_t)cpus[cpu].apic_id);
	outb(PORT_COM1_IER, UART_IER_THRI);
	WAIT_UNTIL(device_irqs(cpu) >= count,
		   "ioapic: cpu %u (APIC ID %u) never got %s interrupt %lu from pin %u", cpu,
		   cpus[cpu].apic_id, mode, count - base[cpu], route.pin);
	if (trigger & IOAPIC_LEVEL)
		WAIT_UNTIL(!(ioapic_entry_low(route.ioapic_addr, route.pin) & IOAPIC_REMOTE_IRR),
			   "ioapic: pin %u kept Remote IRR after cpu %u's EOI", route.pin, cpu);
	mask_pin();
}

void ioapic_run(unsigned cpu)
{
	base[cpu] = device_irqs(cpu);
	WAIT_UNTIL(turn == cpu, "ioapic: cpu %u waited for its turn, cpu %u's never ended", cpu,
		   turn);
	if (cpu == 0)
		find_route();
	uint64_t count = base[cpu];
	for (unsigned round = 0; round < DEVICE_ROUNDS; round++)
		interrupt_self(cpu, 0, ++count);
	for (unsigned round = 0; round < DEVICE_ROUNDS; round++)
		interrupt_self(cpu, IOAPIC_LEVEL, ++count);
	turn = cpu + 1;
}

void ioapic_report(void)
{
	for (unsigned cpu = 0; cpu < ncpus; cpu++) {
		uint64_t got = device_irqs(cpu) - base[cpu];
		if (got != DEVICE_IRQS)
			fail("ioapic: cpu %u handled %lu device interrupts, expected %u", cpu, got,
			     DEVICE_IRQS);
	}
	say("ioapic ok vcpus=%u isa_irq=%u gsi=%u pin=%u madt=%s,%s per_cpu=%u edge+%u level",
	    ncpus, UART_IRQ, route.gsi, route.pin, route.level ? "level" : "edge",
	    route.active_low ? "active-low" : "active-high", DEVICE_ROUNDS, DEVICE_ROUNDS);
}
