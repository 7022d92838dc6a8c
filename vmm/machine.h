/* A machine: the part of the guest this VMM process runs. It owns guest RAM, the CPU backend's
 * accelerator (vmm/cpu/cpu.h), the local vCPUs and the device models, builds the firmware tables,
 * and is the one owner of two decisions: when the guest has stopped and with which exit status
 * (machine_stop), and which local vCPUs only another vCPU or a device can wake (the halt
 * accounting below). */
#ifndef VMM_MACHINE_H
#define VMM_MACHINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/acpi_sleep.h"
#include "devices/reset_port.h"
#include "devices/cmos_rtc.h"
#include "devices/debug_port.h"
#include "devices/iobus.h"
#include "firmware/layout.h"
#include "vmm/config.h"
#include "vmm/guest_memory.h"

/* vsmp-vmm's exit statuses (a guest's debug-exit value passes through as it is). */
enum vmm_status {
	VMM_EXIT_OK = 0,
	VMM_EXIT_BAD_INPUT = 2,		/* usage, configuration, kernel file, host resources */
	VMM_EXIT_GUEST_UNSUPPORTED = 3, /* the guest did something the VMM does not support */
	VMM_EXIT_GUEST_RESET = 4,   /* triple fault, reset request, or every vCPU halted for good */
	VMM_EXIT_HOST_ERROR = 5,    /* a KVM or host call failed underneath a running guest */
	VMM_EXIT_NODE_LOST = 6,	    /* another node of the guest was lost */
	VMM_EXIT_INTERRUPTED = 130, /* SIGINT / SIGTERM */
};

#define MACHINE_MAX_MARKS 64

/* The node with the IOAPIC and the ACPI sleep register (the boot node). */
#define MACHINE_IOAPIC_NODE 0

struct bench_mark {
	uint32_t value;
	unsigned vcpu;
	uint64_t ns; /* CLOCK_MONOTONIC */
};

struct accel;
struct vcpu;
struct lapic;
struct ioapic;
struct apic_bus;
struct uart8250;
struct cluster;
struct engine;
struct page_counts;
struct node_link;

/* What the command line asks of a run; NULL: the defaults (all zero). */
struct machine_options {
	unsigned stats_interval_s; /* --stats: print the coherence counters this often; 0: never */
	bool profile;		   /* --profile: at exit, the hot code pages and fault pages */
	/* --stats-prometheus: the directory of this node's Prometheus file (vmm/prom_file.h),
	 * written at the start, every stats_interval_s and at exit; NULL: none. */
	const char *prometheus_dir;
};

struct machine {
	const struct cluster_config *cfg;
	unsigned node;
	struct accel *accel;
	struct guest_memory mem;
	struct guest_ram ram;
	struct iobus bus;
	struct apic_bus *apic_bus;
	struct ioapic *ioapic;
	struct uart8250 *uart;
	struct debug_port debug_port;
	struct acpi_sleep acpi_sleep;
	struct reset_port reset_port;
	struct cmos_rtc cmos_rtc; /* the boot node's */
	struct vcpu *vcpus;
	unsigned vcpu_count;
	/* Several nodes: the cluster, the engine keeping guest RAM coherent, the VMM's messages. */
	struct cluster *cluster;
	/* Losses are reported on the cluster's thread, which runs before the engine exists. */
	struct engine *_Atomic engine_for_losses;
	struct engine *engine;
	struct node_link *link;
	int console_out; /* fd the UART writes to */
	struct machine_options opts;
	struct page_counts **rip_pages; /* --profile on the interpreter: one table per vCPU */
	/* Console input the UART's FIFO had no room for, offered again when rx_room_fd (an
	 * eventfd the UART's rx_room makes readable) says the guest has read some. */
	uint8_t console_in[64];
	size_t console_in_len, console_in_sent;
	int rx_room_fd;

	atomic_bool stopping; /* machine_stop's; others read machine_stopping() */
	int exit_status;
	atomic_int lost_node; /* the node whose loss stops the guest, or -1 */
	int stop_fd;	      /* eventfd: becomes readable once the machine stops */
	pthread_mutex_t halt_lock;
	unsigned halted_for_good; /* the halt accounting's: vCPUs only another can wake */

	struct bench_mark marks[MACHINE_MAX_MARKS];
	atomic_uint mark_count;
	uint64_t start_ns;
};

int machine_create(struct machine *m, const struct cluster_config *cfg, unsigned node,
		   const struct machine_options *opts, char *err, size_t errlen);
/* Starts the vCPUs, serves the console until the guest stops, returns the exit status. */
int machine_run(struct machine *m);
void machine_destroy(struct machine *m);

/* Any thread: the first call decides the exit status; the reason is logged unless status is 0. */
void machine_stop(struct machine *m, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Any thread: whether machine_stop was called. */
bool machine_stopping(const struct machine *m);
/* Whether the software vCPUs of this node serve their misses on their own threads
 * (cpu_io.ram_fetch): on memory mode's compute node, whose misses are mostly lent pages that
 * come from a node that does nothing else. Not in system mode, where a 3-node Linux boot gained
 * nothing from it and used more CPU (docs/benchmarks.md, "Misses served on the vCPU's thread"). */
bool machine_serves_own_misses(const struct machine *m);
uint64_t machine_now_ns(void);
/* Several nodes: the guest's clock reads the nanoseconds since epoch_ns (CLOCK_REALTIME), on
 * every node. */
void machine_set_clock_epoch(struct machine *m, uint64_t epoch_ns);

/* Halt accounting. A vCPU in hlt with interrupts disabled, or an AP waiting for its SIPI, can be
 * woken only by another vCPU or a device: it is halted for good. When every local vCPU is, the
 * guest cannot resume: a single node stops it (status 4); across nodes another node may still
 * wake them, so this node reports to the coordinator, which decides (node_link.h, halt_wave.h).
 * v's own thread calls the first two. */
void machine_vcpu_halted_for_good(struct machine *m, struct vcpu *v);
/* v runs again: it left hlt, or took an INIT or its SIPI. */
void machine_vcpu_resumed(struct machine *m, struct vcpu *v);
/* Any thread: every local vCPU halted for good, with nothing pending that would wake one (a
 * node without vCPUs is halted). */
bool machine_halted_for_good(struct machine *m);

#endif
