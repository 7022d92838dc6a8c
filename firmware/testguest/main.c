/* The test guest's ring-3 life on every CPU. The BSP reads its command line and the ACPI CPU
 * list, starts the APs and then, like every AP, runs the selected workloads in lockstep: barrier,
 * run on all CPUs, barrier, report on the BSP. After the last one the BSP prints
 * "TESTGUEST PASS vcpus=N" and exits through the debug port with status 0; any failure anywhere
 * prints "TESTGUEST FAIL ..." and exits with 1. */
#include <stdint.h>

#include "firmware/testguest/bench.h"
#include "firmware/testguest/bench_cpu.h"
#include "firmware/testguest/bench_guest.h"
#include "firmware/testguest/bootinfo.h"
#include "firmware/testguest/console.h"
#include "firmware/testguest/lapic.h"
#include "firmware/testguest/acpi.h"
#include "firmware/testguest/misbehave.h"
#include "firmware/testguest/options.h"
#include "firmware/testguest/ring0.h"
#include "firmware/testguest/smp.h"
#include "firmware/testguest/workloads.h"

#define WORKLOAD_COUNT (sizeof(workloads) / sizeof(workloads[0]))

static const struct workload workloads[] = {
    {"compute", compute_run, compute_report},
    {"atomic", atomic_run, atomic_report},
    {"spinlock", spinlock_run, spinlock_report},
    {"barrier", barrier_run, barrier_report},
    {"ipi", ipi_run, ipi_report},
    {"timer", timer_run, timer_report},
    {"litmus", litmus_run, litmus_report},
    {"nmi", nmi_run, nmi_report},
    {"ioapic", ioapic_run, ioapic_report},
    {"memory", memory_run, memory_report}, /* the last: only run when named */
};

uint64_t workload_rsdp;

/* Written by the BSP before it starts any AP. */
static struct options options;
static struct boot_info boot;

__attribute__((noreturn)) static void run_workloads(unsigned cpu)
{
	for (unsigned i = 0; i < WORKLOAD_COUNT; i++) {
		if (!(options.workload_mask & (1u << i)))
			continue;
		smp_barrier();
		workloads[i].run(cpu);
		smp_barrier();
		if (cpu == 0)
			workloads[i].report();
	}
	smp_barrier();
	if (cpu != 0)
		smp_park();
	say("PASS vcpus=%u", ncpus);
	guest_exit(0);
}

static void read_options(void)
{
	const char *names[WORKLOAD_COUNT];
	for (unsigned i = 0; i < WORKLOAD_COUNT; i++)
		names[i] = workloads[i].name;
	char err[160];
	uint32_t all_but_memory = (1u << (WORKLOAD_COUNT - 1)) - 1;
	if (options_parse(boot.cmdline, names, WORKLOAD_COUNT, all_but_memory, &options, err,
			  sizeof(err)) < 0)
		fail("command line: %s", err);
}

/* The machine as the guest sees it: one line per NUMA node of the SRAT. */
static void say_numa_nodes(uint64_t rsdp)
{
	struct acpi_numa_node nodes[MAX_CPUS];
	char err[160];
	int count = acpi_numa_nodes(rsdp, nodes, MAX_CPUS, err, sizeof(err));
	if (count < 0) {
		say("numa none (%s)", err);
		return;
	}
	for (int i = 0; i < count; i++)
		say("numa node=%u cpus=%u mem_mib=%lu", nodes[i].domain, nodes[i].cpus,
		    nodes[i].memory_bytes >> 20);
}

__attribute__((noreturn)) static void bsp_main(void)
{
	boot_info_read(boot_params_addr, &boot);
	read_options();
	if (options.bench == BENCH_PIO)
		bench_pio(options.iters);
	if (options.bench == BENCH_CPU)
		bench_cpu(options.iters, boot.ram_bytes);
	if (options.fault != FAULT_NONE && options.fault != FAULT_HALT)
		misbehave(options.fault);
	lapic_enable();
	workload_rsdp = boot.rsdp;
	workload_ram_bytes = boot.ram_bytes;
	workload_mem_mib = options.mem_mib;
	smp_discover(boot.rsdp);
	say("start vcpus=%u bsp_apic_id=%u ram_mib=%lu", ncpus, cpus[0].apic_id,
	    boot.ram_bytes >> 20);
	say_numa_nodes(boot.rsdp);
	if (options.bench == BENCH_IPI) {
		if (ncpus < 2)
			fail("tg.bench=ipi needs at least 2 vCPUs");
		smp_start(2);
		bench_ipi(0, options.iters);
	}
	if (bench_guest_mode(options.bench)) {
		bench_guest_place(boot.rsdp);
		smp_start(ncpus);
		bench_guest_run(0, options.bench, options.iters);
	}
	smp_start(ncpus);
	if (options.fault == FAULT_HALT)
		misbehave_halt(0);
	run_workloads(0);
}

/* Entered from enter_user (entry.S) on each CPU once its ring-0 set-up is done. */
__attribute__((noreturn)) void user_main(unsigned cpu)
{
	if (cpu == 0)
		bsp_main();
	smp_ap_online(cpu);
	if (options.fault == FAULT_HALT)
		misbehave_halt(cpu);
	if (options.bench == BENCH_IPI)
		bench_ipi(cpu, options.iters);
	if (bench_guest_mode(options.bench))
		bench_guest_run(cpu, options.bench, options.iters);
	run_workloads(cpu);
}
