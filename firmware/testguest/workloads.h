/* The workloads. Each `run` is called on every started CPU at once, between two barriers; each
 * `report` then runs on the BSP alone, checks what the CPUs left behind and prints one line
 * ("TESTGUEST <name> ok ...") or fails. `run` may fail at once, from any CPU. */
#ifndef TESTGUEST_WORKLOADS_H
#define TESTGUEST_WORKLOADS_H

#include <stdint.h>

/* The ACPI RSDP, for workloads that read the tables; set by the BSP before it starts the APs. */
extern uint64_t workload_rsdp;
/* For the memory workload: the RAM the e820 map reports, and tg.mem_mib. */
extern uint64_t workload_ram_bytes;
extern uint32_t workload_mem_mib;

struct workload {
	const char *name;
	void (*run)(unsigned cpu);
	void (*report)(void);
};

void compute_run(unsigned cpu);
void compute_report(void);
void atomic_run(unsigned cpu);
void atomic_report(void);
void spinlock_run(unsigned cpu);
void spinlock_report(void);
void barrier_run(unsigned cpu);
void barrier_report(void);
void ipi_run(unsigned cpu);
void ipi_report(void);
void timer_run(unsigned cpu);
void timer_report(void);
void litmus_run(unsigned cpu);
void litmus_report(void);
void nmi_run(unsigned cpu);
void nmi_report(void);
void ioapic_run(unsigned cpu);
void ioapic_report(void);
void memory_run(unsigned cpu);
void memory_report(void);

#endif
