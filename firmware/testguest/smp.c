/* CPU discovery and start-up. APs are started one at a time: the BSP names the next one in
 * ap_boot_cpu (read by entry.S to pick that AP's stacks), sends INIT and a SIPI to its APIC ID
 * and waits until the AP reports from ring 3 before naming the next. Slower than a broadcast, but
 * a CPU that never starts is named in the failure. */
#include <stdbool.h>
#include <stdint.h>

#include "firmware/testguest/acpi.h"
#include "firmware/testguest/console.h"
#include "firmware/testguest/lapic.h"
#include "firmware/testguest/layout.h"
#include "firmware/testguest/lib.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/sync.h"

struct cpu_info cpus[MAX_CPUS];
unsigned ncpus;
volatile uint32_t ap_boot_cpu;

static struct barrier all_cpus;

extern const uint8_t trampoline_start[], trampoline_end[];

void smp_discover(uint64_t rsdp)
{
	uint8_t ids[MAX_CPUS];
	char err[160];
	int count = acpi_enabled_apic_ids(rsdp, ids, MAX_CPUS, err, sizeof(err));
	if (count < 0)
		fail("acpi: %s", err);
	uint32_t bsp = lapic_id();
	bool listed = false;
	for (int i = 0; i < count; i++)
		listed |= ids[i] == bsp;
	if (!listed)
		fail("acpi: the BSP's APIC ID %u is not in the MADT", bsp);
	ncpus = 1;
	cpus[0].apic_id = bsp;
	for (int i = 0; i < count; i++)
		if (ids[i] != bsp)
			cpus[ncpus++].apic_id = ids[i];
}

static void copy_trampoline(void)
{
	size_t size = (size_t)(trampoline_end - trampoline_start);
	if (size > 4096)
		fail("trampoline is %lu bytes, more than its page", (uint64_t)size);
	/* Through a volatile pointer: a constant address is not an object the compiler knows. */
	uint8_t *volatile dst = (uint8_t *)(uintptr_t)TRAMPOLINE_ADDR;
	memcpy(dst, trampoline_start, size);
}

void smp_start(unsigned count)
{
	barrier_init(&all_cpus, count);
	if (count < 2)
		return;
	copy_trampoline();
	for (unsigned cpu = 1; cpu < count; cpu++) {
		ap_boot_cpu = cpu;
		lapic_send_init(cpus[cpu].apic_id);
		lapic_send_startup(cpus[cpu].apic_id, TRAMPOLINE_ADDR);
		WAIT_UNTIL(cpus[cpu].online, "cpu %u (APIC ID %u) did not start", cpu,
			   cpus[cpu].apic_id);
	}
}

void smp_ap_online(unsigned cpu)
{
	lapic_enable();
	uint32_t id = lapic_id();
	if (id != cpus[cpu].apic_id)
		fail("cpu %u started with APIC ID %u, expected %u", cpu, id, cpus[cpu].apic_id);
	cpus[cpu].online = 1;
}

void smp_barrier(void)
{
	barrier_wait(&all_cpus, "all-cpus");
}

unsigned smp_partner(unsigned cpu)
{
	return ncpus - 1 - cpu;
}

void smp_park(void)
{
	for (;;)
		cpu_relax();
}

void ipi_ping_pong(unsigned cpu, unsigned partner, unsigned rounds, uint64_t base)
{
	int first = cpu <= partner;
	for (unsigned k = 1; k <= rounds; k++) {
		if (first)
			lapic_send_ipi(cpus[partner].apic_id, VEC_IPI);
		WAIT_UNTIL(ipis_received(cpu) >= base + k,
			   "ipi: cpu %u waited for IPI %u of %u from cpu %u", cpu, k, rounds,
			   partner);
		if (!first)
			lapic_send_ipi(cpus[partner].apic_id, VEC_IPI);
	}
}

/* Ring 0 only: halts (cli; check; sti; hlt, so an IPI between the check and the halt still wakes
 * it) until this CPU has taken `want` IPIs. The caller runs a periodic LAPIC timer so that a lost
 * IPI ends in a FAIL, not a hang. */
static void halt_until_ipis(unsigned cpu, uint64_t want)
{
	uint64_t deadline = deadline_after(WAIT_SECONDS);
	for (;;) {
		__asm__ volatile("cli" ::: "memory");
		if (ipis_received(cpu) >= want)
			break;
		if (deadline_passed(deadline))
			fail("ipi: cpu %u halted waiting for IPI %lu", cpu, want);
		__asm__ volatile("sti; hlt" ::: "memory");
	}
	__asm__ volatile("sti" ::: "memory");
}

void ipi_ping_pong_halted(unsigned cpu, unsigned partner, unsigned rounds, uint64_t base)
{
	int first = cpu <= partner;
	for (unsigned k = 1; k <= rounds; k++) {
		if (first)
			lapic_send_ipi(cpus[partner].apic_id, VEC_IPI);
		halt_until_ipis(cpu, base + k);
		if (!first)
			lapic_send_ipi(cpus[partner].apic_id, VEC_IPI);
	}
}
