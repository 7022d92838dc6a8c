/* Machine assembly and lifetime.
 *
 * Create: guest RAM (memfd) -> the CPU backend's accelerator over it (vmm/cpu/accel.h) -> with
 * several nodes, the cluster and the coherence engine -> interrupt controllers and device models
 * on the I/O bus -> local vCPUs -> on the boot node, ACPI tables and the kernel (or test guest)
 * loaded into RAM and the BSP's registers set per the boot protocol.
 * Run: vCPU threads run the guest; the calling thread serves the console input and waits for the
 * stop event (guest exit, power-off, fault, signal), then stops and joins every vCPU. */
#include "vmm/machine.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "coherence/cluster.h"
#include "coherence/engine.h"
#include "devices/apic_bus.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/uart8250.h"
#include "firmware/acpi.h"
#include "firmware/reset_vector.h"
#include "firmware/boot.h"
#include "firmware/multiboot.h"
#include "vmm/accel.h"
#include "vmm/config_mode.h"
#include "vmm/launcher.h"
#include "vmm/log.h"
#include "vmm/node_cluster.h"
#include "vmm/node_link.h"
#include "vmm/node_profile.h"
#include "vmm/node_stats.h"
#include "vmm/prom_file.h"
#include "vmm/vcpu.h"

#define UART_COM1_PORT 0x3f8
#define UART_COM1_IRQ  4
#define IOAPIC_ID      0
#define TESTGUEST_FILE "testguest.elf"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t machine_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Several nodes: every node's guest clock counts from node 0's epoch. */
void machine_set_clock_epoch(struct machine *m, uint64_t epoch_ns)
{
	char err[128];
	if (m->accel->ops->set_clock_epoch(m->accel, epoch_ns, err, sizeof(err)) < 0)
		log_error("guest clock left unaligned with node 0's: %s", err);
}

/* How far this node's guest clock (kvmclock, or the interpreter's TSC) is from the cluster's,
 * for --verbose; tests/integration/testguest_2node.sh reads the line. */
static void machine_log_clock(struct machine *m)
{
	int64_t off;
	if (m->accel->ops->clock_offset_ns(m->accel, &off))
		log_debug("guest clock (%s): %+.1f us from the cluster clock", m->accel->ops->name,
			  (double)off / 1000.0);
}

void machine_stop(struct machine *m, int status, const char *fmt, ...)
{
	bool expected = false;
	if (!atomic_compare_exchange_strong(&m->stopping, &expected, true))
		return;
	m->exit_status = status;
	if (status != 0 || log_verbose()) {
		char reason[512];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(reason, sizeof(reason), fmt, ap);
		va_end(ap);
		log_error("%s", reason);
	}
	if (m->link)
		node_link_broadcast_stop(m->link, status, atomic_load(&m->lost_node));
	uint64_t one = 1;
	if (write(m->stop_fd, &one, sizeof(one)) < 0)
		log_error("stop event: %s", strerror(errno));
	for (unsigned i = 0; i < m->vcpu_count; i++)
		vcpu_kick(&m->vcpus[i]);
}

bool machine_serves_own_misses(const struct machine *m)
{
	return m->cfg->node_count > 1 && m->cfg->mode == CLUSTER_MODE_MEMORY &&
	       m->cfg->nodes[m->node].cache_bytes > 0;
}

bool machine_stopping(const struct machine *m)
{
	return atomic_load(&m->stopping);
}

/* --- Halt accounting (see the header) -------------------------------------------------------- */

void machine_vcpu_halted_for_good(struct machine *m, struct vcpu *v)
{
	if (v->halted_for_good)
		return;
	pthread_mutex_lock(&m->halt_lock);
	v->halted_for_good = true;
	bool all = ++m->halted_for_good == m->vcpu_count;
	pthread_mutex_unlock(&m->halt_lock);
	if (all && m->link)
		node_link_report_halted(m->link); /* other nodes may still wake them */
	else if (all)
		machine_stop(m, VMM_EXIT_GUEST_RESET,
			     "every vCPU halted with interrupts disabled or waits for a SIPI: the "
			     "guest cannot resume");
}

void machine_vcpu_resumed(struct machine *m, struct vcpu *v)
{
	if (!v->halted_for_good)
		return;
	pthread_mutex_lock(&m->halt_lock);
	v->halted_for_good = false;
	m->halted_for_good--;
	pthread_mutex_unlock(&m->halt_lock);
}

bool machine_halted_for_good(struct machine *m)
{
	pthread_mutex_lock(&m->halt_lock);
	bool all = m->halted_for_good == m->vcpu_count;
	pthread_mutex_unlock(&m->halt_lock);
	for (unsigned i = 0; all && i < m->vcpu_count; i++)
		all = !lapic_wakeup_pending(m->vcpus[i].lapic);
	return all;
}

static void machine_debug_exit(void *ctx, unsigned vcpu, uint8_t status)
{
	machine_stop(ctx, status, "vCPU %u: guest exited with status %u (debug port)", vcpu,
		     status);
}

static void machine_debug_mark(void *ctx, unsigned vcpu, uint32_t value)
{
	struct machine *m = ctx;
	unsigned slot = atomic_fetch_add(&m->mark_count, 1);
	if (slot < MACHINE_MAX_MARKS)
		m->marks[slot] =
		    (struct bench_mark){.value = value, .vcpu = vcpu, .ns = machine_now_ns()};
}

static const struct debug_port_ops machine_debug_ops = {
    .exit = machine_debug_exit,
    .mark = machine_debug_mark,
};

static void machine_poweroff(void *ctx)
{
	machine_stop(ctx, VMM_EXIT_OK, "guest powered off");
}

static void machine_guest_reset(void *ctx, const char *how)
{
	machine_stop(ctx, VMM_EXIT_GUEST_RESET, "the guest asked for a reset (%s)", how);
}

static void uart_output(void *ctx, uint8_t byte)
{
	struct machine *m = ctx;
	if (write(m->console_out, &byte, 1) < 0)
		return;
}

/* The UART may belong to a node without the IOAPIC: its line then goes to the IOAPIC's node. */
static void uart_set_irq(void *ctx, bool level)
{
	struct machine *m = ctx;
	if (m->ioapic)
		ioapic_set_irq(m->ioapic, UART_COM1_IRQ, level);
	else
		node_link_forward_irq(m->link, UART_COM1_IRQ, level);
}

/* A vCPU's thread read the FIFO after input was turned away: wake machine_run's poll. */
static void uart_rx_room(void *ctx)
{
	struct machine *m = ctx;
	uint64_t one = 1;
	if (write(m->rx_room_fd, &one, sizeof(one)) < 0)
		return;
}

static const struct uart8250_ops machine_uart_ops = {
    .output = uart_output,
    .set_irq = uart_set_irq,
    .rx_room = uart_rx_room,
};

static void ioapic_to_bus(void *ctx, const struct apic_message *msg)
{
	struct machine *m = ctx;
	apic_bus_route(m->apic_bus, msg);
}

static const struct ioapic_ops machine_ioapic_ops = {.deliver = ioapic_to_bus};

static int uart_access(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data, unsigned len,
		       bool is_write)
{
	struct uart8250 *uart = ctx;
	if (len != 1)
		return -1;
	if (is_write)
		uart8250_write(uart, (unsigned)offset, data[0]);
	else
		data[0] = uart8250_read(uart, (unsigned)offset);
	return 0;
}

static int ioapic_access(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data, unsigned len,
			 bool is_write)
{
	uint32_t value;
	if (len != 4)
		return -1;
	if (is_write) {
		memcpy(&value, data, 4);
		ioapic_mmio_write(ctx, (uint32_t)offset, value);
	} else {
		value = ioapic_mmio_read(ctx, (uint32_t)offset);
		memcpy(data, &value, 4);
	}
	return 0;
}

/* The node that owns a device kind, or -1 if the configuration has none. The interrupt
 * controller and the ACPI sleep register live with the boot node. */
static int machine_device_owner(const struct machine *m, enum device_kind kind)
{
	for (unsigned i = 0; i < m->cfg->device_count; i++)
		if (m->cfg->devices[i].kind == kind)
			return (int)m->cfg->devices[i].owner;
	return -1;
}

/* A device this node owns goes on the bus; one another node owns is forwarded there. */
static int machine_place(struct machine *m, int owner, enum iobus_space space, uint64_t base,
			 uint64_t len, iobus_handler_fn handler, void *ctx, const char *name)
{
	if (owner < 0)
		return 0;
	if ((unsigned)owner == m->node)
		return iobus_register(&m->bus, space, base, len, handler, ctx, name);
	return node_link_forward_range(m->link, space, base, len, (unsigned)owner, name);
}

static int machine_create_devices(struct machine *m, char *err, size_t errlen)
{
	m->apic_bus = apic_bus_create(m->link ? node_link_forward_apic : NULL, m->link);
	if (!m->apic_bus)
		goto nomem;
	if (m->node == MACHINE_IOAPIC_NODE &&
	    !(m->ioapic = ioapic_create(IOAPIC_ID, &machine_ioapic_ops, m)))
		goto nomem;
	int uart_owner = machine_device_owner(m, DEVICE_UART);
	if (uart_owner == (int)m->node && !(m->uart = uart8250_create(&machine_uart_ops, m)))
		goto nomem;
	m->debug_port = (struct debug_port){.ops = &machine_debug_ops, .ctx = m};
	m->acpi_sleep = (struct acpi_sleep){.poweroff = machine_poweroff, .ctx = m};
	m->reset_port = (struct reset_port){.reset = machine_guest_reset, .ctx = m};
	cmos_rtc_init(&m->cmos_rtc, NULL);
	if (machine_place(m, MACHINE_IOAPIC_NODE, IOBUS_MMIO, LAYOUT_IOAPIC_BASE, 0x1000,
			  ioapic_access, m->ioapic, "ioapic") < 0 ||
	    machine_place(m, uart_owner, IOBUS_PIO, UART_COM1_PORT, 8, uart_access, m->uart,
			  "uart") < 0 ||
	    machine_place(m, machine_device_owner(m, DEVICE_DEBUG_EXIT), IOBUS_PIO, DEBUG_PORT_BASE,
			  DEBUG_PORT_LEN, debug_port_access, &m->debug_port, "debug-port") < 0 ||
	    machine_place(m, MACHINE_IOAPIC_NODE, IOBUS_PIO, ACPI_SLEEP_PORT, 1, acpi_sleep_access,
			  &m->acpi_sleep, "acpi-sleep") < 0 ||
	    machine_place(m, MACHINE_IOAPIC_NODE, IOBUS_PIO, RESET_REG_PORT, 1, reset_reg_access,
			  &m->reset_port, "reset-reg") < 0 ||
	    machine_place(m, MACHINE_IOAPIC_NODE, IOBUS_PIO, KBC_COMMAND_PORT, 1, reset_kbc_access,
			  &m->reset_port, "kbc-reset") < 0 ||
	    machine_place(m, MACHINE_IOAPIC_NODE, IOBUS_PIO, CMOS_RTC_PORT, CMOS_RTC_PORTS,
			  cmos_rtc_access, &m->cmos_rtc, "cmos-rtc") < 0) {
		snprintf(err, errlen, "device I/O ranges overlap");
		return -1;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory creating devices");
	return -1;
}

static int testguest_path(char *out, size_t outlen, char *err, size_t errlen)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		snprintf(err, errlen, "cannot find my own executable: %s", strerror(errno));
		return -1;
	}
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(out, outlen, "%s/%s", exe, TESTGUEST_FILE) >= outlen) {
		snprintf(err, errlen, "test guest path too long");
		return -1;
	}
	return 0;
}

/* A node's share of RAM as guest-physical ranges for SRAT: split where it crosses the hole. */
static unsigned node_memory_ranges(const struct node_config *node, unsigned numa_node,
				   struct acpi_mem_range out[2])
{
	uint64_t start = node->memory_offset, end = start + node->memory_bytes;
	unsigned count = 0;
	if (start == end)
		return 0; /* a spare */
	if (start < LAYOUT_MMIO_HOLE_START) {
		uint64_t low_end = end < LAYOUT_MMIO_HOLE_START ? end : LAYOUT_MMIO_HOLE_START;
		out[count++] = (struct acpi_mem_range){start, low_end - start, numa_node};
		start = low_end;
	}
	if (start < end)
		out[count++] = (struct acpi_mem_range){layout_ram_offset_to_gpa(start), end - start,
						       numa_node};
	return count;
}

/* The kernel and its initrd (a Multiboot kernel's module 0) into RAM, and the BSP's registers for
 * its boot protocol. The configuration resolved both paths against its own directory. */
static int machine_load_kernel(struct machine *m, uint64_t rsdp, struct boot_cpu_state *cpu,
			       char *err, size_t errlen)
{
	const struct guest_config *guest = &m->cfg->guest;
	const char *initrd = guest->initrd[0] ? guest->initrd : NULL;
	struct e820_entry e820[16];
	unsigned e820_count = layout_e820(m->mem.size, e820, 16);
	if (guest->kind == GUEST_MULTIBOOT) {
		/* Multiboot passes no RSDP: the OS scans 0xE0000-0xFFFFF for it, where it is. */
		const struct multiboot_params_in in = {.kernel_path = guest->kernel,
						       .initrd_path = initrd,
						       .cmdline = guest->cmdline,
						       .e820 = e820,
						       .e820_count = e820_count};
		return multiboot_load(&m->ram, &in, cpu, err, errlen);
	}
	char kernel[PATH_MAX];
	const char *kernel_path = guest->kernel;
	if (guest->kind == GUEST_TESTGUEST) {
		if (testguest_path(kernel, sizeof(kernel), err, errlen) < 0)
			return -1;
		kernel_path = kernel;
	}
	const struct boot_params_in in = {.kernel_path = kernel_path,
					  .initrd_path = initrd,
					  .cmdline = guest->cmdline,
					  .acpi_rsdp_gpa = rsdp,
					  .e820 = e820,
					  .e820_count = e820_count};
	return boot_load(&m->ram, &in, cpu, err, errlen);
}

static int machine_load_firmware(struct machine *m, char *err, size_t errlen)
{
	const struct cluster_config *cfg = m->cfg;
	struct acpi_cpu *cpus = calloc(cfg->total_vcpus, sizeof(*cpus));
	struct acpi_mem_range *mem = calloc(cfg->node_count * 2, sizeof(*mem));
	int rc = -1;
	if (!cpus || !mem) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* The flat view puts everything in NUMA node 0. */
	bool numa = cfg->memory_view == MEMORY_VIEW_NUMA;
	unsigned mem_count = 0;
	for (unsigned n = 0; n < cfg->node_count; n++) {
		const struct node_config *node = &cfg->nodes[n];
		unsigned numa_node = numa ? n : 0;
		for (unsigned i = 0; i < node->vcpus; i++)
			cpus[node->first_vcpu + i] =
			    (struct acpi_cpu){node->first_vcpu + i, numa_node};
		mem_count += node_memory_ranges(node, numa_node, mem + mem_count);
	}
	struct acpi_machine am = {.cpus = cpus,
				  .cpu_count = cfg->total_vcpus,
				  .mem = mem,
				  .mem_count = mem_count,
				  .numa_nodes =
				      numa ? cfg->node_count - (config_spare_node(cfg) >= 0) : 1,
				  .ioapic_id = IOAPIC_ID,
				  .sleep_port = ACPI_SLEEP_PORT,
				  .reset_port = RESET_REG_PORT,
				  .reset_value = RESET_REG_VALUE};
	uint64_t rsdp;
	if (acpi_build(&m->ram, LAYOUT_ACPI_BASE, LAYOUT_RESET_VECTOR - LAYOUT_ACPI_BASE, &am,
		       &rsdp, err, errlen) < 0 ||
	    reset_vector_write(&m->ram, RESET_REG_PORT, RESET_REG_VALUE, err, errlen) < 0)
		goto out;

	struct boot_cpu_state cpu;
	if (machine_load_kernel(m, rsdp, &cpu, err, errlen) < 0)
		goto out;
	struct cpu *bsp = m->vcpus[0].cpu;
	rc = bsp->ops->set_boot_state(bsp, &cpu, err, errlen);
out:
	free(cpus);
	free(mem);
	return rc;
}

static int machine_create_vcpus(struct machine *m, char *err, size_t errlen)
{
	const struct node_config *node = &m->cfg->nodes[m->node];
	m->vcpus = calloc(node->vcpus ? node->vcpus : 1, sizeof(*m->vcpus));
	if (!m->vcpus) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < node->vcpus; i++) {
		unsigned index = node->first_vcpu + i;
		m->vcpu_count++;
		if (vcpu_init(&m->vcpus[i], m, index, index == 0, err, errlen) < 0)
			return -1;
	}
	return node_profile_start(m, err, errlen);
}

/* With replicas, a lending node's loss costs nothing but a copy: the engine carries on. */
static void machine_peer_lost(void *ctx, unsigned node, const char *why)
{
	struct machine *m = ctx;
	char left[256];
	struct engine *engine = atomic_load(&m->engine_for_losses);
	if (node_stop_signal_pending()) {
		machine_stop(m, VMM_EXIT_INTERRUPTED, "interrupted by a signal");
		return;
	}
	if (engine && !m->cfg->nodes[node].vcpus &&
	    engine_node_lost(engine, node, left, sizeof(left))) {
		log_error("node %s lost (%s): the guest goes on from the copies of its memory on "
			  "other nodes",
			  m->cfg->nodes[node].name, why);
		return;
	}
	atomic_store(&m->lost_node, (int)node);
	machine_stop(m, VMM_EXIT_NODE_LOST, "node %s lost (%s): stopping the guest",
		     m->cfg->nodes[node].name, why);
}

static void machine_engine_fatal(void *ctx, const char *why)
{
	machine_stop(ctx, VMM_EXIT_HOST_ERROR, "%s", why);
}

/* The engine put another node's bytes into a page, or dropped ours: the backend forgets what its
 * vCPUs derived from the old ones. */
static void machine_page_changed(void *ctx, uint64_t page_offset)
{
	struct machine *m = ctx;
	m->accel->ops->page_changed(m->accel, page_offset);
}

static void machine_page_revoked(void *ctx, uint64_t page_offset)
{
	struct machine *m = ctx;
	if (m->accel->ops->page_revoked)
		m->accel->ops->page_revoked(m->accel, page_offset);
}

static void machine_node_message(void *ctx, unsigned src, uint16_t type, const void *payload,
				 size_t len)
{
	struct machine *m = ctx;
	node_link_receive(m->link, src, type, payload, len);
}

/* --stats-prometheus: s, or the counters now if s is NULL, as this node's Prometheus file. */
static int machine_write_prometheus(struct machine *m, const struct node_stats *s, char *err,
				    size_t errlen)
{
	if (!m->opts.prometheus_dir)
		return 0;
	struct node_stats now;
	if (!s) {
		node_stats_read(m->engine, m->cfg->nodes[m->node].cache_bytes, &now);
		s = &now;
	}
	return prom_file_write(m->opts.prometheus_dir, m->cfg->name, m->cfg->nodes[m->node].name, s,
			       err, errlen);
}

/* Several nodes: join the cluster and put guest RAM under the coherence engine. By default each
 * node's share of RAM is homed at that node, the NUMA node SRAT gives it ([cluster] homes). */
static int machine_join(struct machine *m, char *err, size_t errlen)
{
	static const struct cluster_ops ops = {.peer_lost = machine_peer_lost};
	static const enum coh_home_policy coh_policy_of[] = {
	    [HOMES_NUMA] = COH_HOME_RANGES,
	    [HOMES_STRIPED] = COH_HOME_STRIPED,
	    [HOMES_FIRST_TOUCH] = COH_HOME_FIRST_TOUCH,
	};
	const struct cluster_config *cfg = m->cfg;
	bool bad_input;
	m->cluster = node_cluster_join(cfg, m->node, 30, &ops, m, &bad_input, err, errlen);
	m->link = node_link_create(m);
	uint64_t *range_pages = calloc(cfg->node_count, sizeof(*range_pages));
	if (!m->cluster || !m->link || !range_pages) {
		free(range_pages);
		return -1;
	}
	for (unsigned i = 0; i < cfg->node_count; i++)
		range_pages[i] = cfg->nodes[i].memory_bytes / 4096;
	uint32_t mirrors[cfg->node_count];
	bool replicated = config_mirrors(cfg, mirrors);
	int spare = config_spare_node(cfg);
	struct engine_params params = {
	    .host = m->mem.host,
	    .memfd = m->mem.fd,
	    .size = m->mem.size,
	    .cluster = m->cluster,
	    .homes = {.policy = coh_policy_of[cfg->homes],
		      .range_pages = range_pages,
		      .mirrors = replicated ? mirrors : NULL},
	    .spare = spare >= 0 ? (uint32_t)spare : COH_NO_MIRROR,
	    .cache_pages = cfg->nodes[m->node].cache_bytes / 4096,
	    .profile_faults = m->opts.profile,
	    .loss_tolerant = replicated,
	    .fatal = machine_engine_fatal,
	    .user_message = machine_node_message,
	    .page_changed = machine_page_changed,
	    .page_revoked = machine_serves_own_misses(m) ? machine_page_revoked : NULL,
	    .ctx = m};
	m->engine = engine_create(&params, err, errlen);
	free(range_pages);
	/* The file is created now, so that a directory that refuses it stops the node at once. */
	if (!m->engine || machine_write_prometheus(m, NULL, err, errlen) < 0)
		return -1;
	atomic_store(&m->engine_for_losses, m->engine);
	node_link_set_engine(m->link, m->engine);
	for (unsigned i = 0; i < cfg->node_count && log_verbose(); i++)
		if (i != m->node)
			log_info("transport to %s: %s", cfg->nodes[i].name,
				 engine_peer_path(m->engine, i));
	if (m->node == MACHINE_IOAPIC_NODE) {
		uint64_t epoch = clock_ns(CLOCK_REALTIME);
		machine_set_clock_epoch(m, epoch);
		node_link_send_clock_epoch(m->link, epoch);
	}
	return 0;
}

int machine_create(struct machine *m, const struct cluster_config *cfg, unsigned node,
		   const struct machine_options *opts, char *err, size_t errlen)
{
	*m = (struct machine){
	    .cfg = cfg, .node = node, .console_out = STDOUT_FILENO, .lost_node = -1};
	if (opts)
		m->opts = *opts;
	m->mem.fd = -1;
	m->start_ns = machine_now_ns();
	pthread_mutex_init(&m->halt_lock, NULL);
	m->stop_fd = eventfd(0, EFD_CLOEXEC);
	m->rx_room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->stop_fd < 0 || m->rx_room_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	if (m->opts.prometheus_dir && cfg->node_count == 1) {
		snprintf(err, errlen,
			 "--stats-prometheus: one node alone keeps no coherence counters");
		return -1;
	}
	if (guest_memory_create(&m->mem, cfg->total_memory, err, errlen) < 0)
		return -1;
	m->ram = (struct guest_ram){.host = m->mem.host, .size = m->mem.size};
	/* Before joining, which waits for the other nodes: a host that cannot run vCPUs says so
	 * at once. */
	const struct accel_params params = {
	    .ram_host = m->mem.host, .ram_size = m->mem.size, .vcpu_count = cfg->total_vcpus};
	m->accel = accel_open(cfg->guest.accel, &params, err, errlen);
	if (!m->accel || (cfg->node_count > 1 && machine_join(m, err, errlen) < 0) ||
	    machine_create_devices(m, err, errlen) < 0 || machine_create_vcpus(m, err, errlen) < 0)
		return -1;
	if (node == 0 && machine_load_firmware(m, err, errlen) < 0)
		return -1;
	return 0;
}

/* Offers the held console input to the UART; true once all of it is in. */
static bool machine_console_offer(struct machine *m)
{
	m->console_in_sent += uart8250_input(m->uart, m->console_in + m->console_in_sent,
					     m->console_in_len - m->console_in_sent);
	return m->console_in_sent == m->console_in_len;
}

/* stdin is read only while nothing is held back, so the terminal (or a pipe) holds the rest
 * and no byte is dropped however fast it comes; in->fd is -1 meanwhile. */
static void machine_console_input(struct machine *m, struct pollfd *in, struct pollfd *room)
{
	ssize_t n = read(STDIN_FILENO, m->console_in, sizeof(m->console_in));
	if (n <= 0) {
		in->fd = -1; /* EOF, error or a closed stdin: the guest gets no more input */
		return;
	}
	m->console_in_len = (size_t)n;
	m->console_in_sent = 0;
	if (!machine_console_offer(m)) {
		in->fd = -1;
		room->fd = m->rx_room_fd;
	}
}

static void machine_console_room(struct machine *m, struct pollfd *in, struct pollfd *room)
{
	uint64_t count;
	if (read(m->rx_room_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	if (machine_console_offer(m)) {
		room->fd = -1;
		in->fd = STDIN_FILENO;
	}
}

static void machine_start_vcpus(struct machine *m)
{
	char err[256];
	for (unsigned i = 0; i < m->vcpu_count; i++) {
		if (vcpu_start(&m->vcpus[i], err, sizeof(err)) < 0) {
			machine_stop(m, VMM_EXIT_HOST_ERROR, "%s", err);
			return;
		}
	}
}

/* --stats N: a timer that fires every N seconds; -1 without it or without an engine. */
static int machine_stats_timer(struct machine *m)
{
	if (!m->opts.stats_interval_s || !m->engine)
		return -1;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec every = {.it_interval = {.tv_sec = m->opts.stats_interval_s},
				   .it_value = {.tv_sec = m->opts.stats_interval_s}};
	if (fd >= 0 && timerfd_settime(fd, 0, &every, NULL) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* One reading of the counters, on stderr (print) and in the Prometheus file; timer_fd, when it
 * is the stats timer, is read to rearm its poll. */
static void machine_report_stats(struct machine *m, int timer_fd, bool print, const char *when)
{
	uint64_t expirations;
	struct node_stats s;
	char err[512];
	if (timer_fd >= 0 && read(timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	node_stats_read(m->engine, m->cfg->nodes[m->node].cache_bytes, &s);
	if (print)
		node_stats_print(&s, when);
	if (machine_write_prometheus(m, &s, err, sizeof(err)) < 0)
		log_error("--stats-prometheus: %s", err);
}

int machine_run(struct machine *m)
{
	sigset_t stop_signals;
	node_stop_signals(&stop_signals);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	int sig_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC);

	struct termios saved;
	bool raw = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (raw) {
		struct termios t = saved;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
	}
	/* Node 0 holds its vCPUs (the BSP) until every node has created its devices and vCPUs, so
	 * no INIT, SIPI or IPI reaches a node that could not take it yet. */
	int ready_fd = m->link ? node_link_ready(m->link) : -1;
	if (ready_fd < 0)
		machine_start_vcpus(m);
	int stats_fd = machine_stats_timer(m);
	struct pollfd fds[6] = {{.fd = m->stop_fd, .events = POLLIN},
				{.fd = sig_fd, .events = POLLIN},
				{.fd = m->uart ? STDIN_FILENO : -1, .events = POLLIN},
				{.fd = ready_fd, .events = POLLIN},
				{.fd = -1, .events = POLLIN},
				{.fd = stats_fd, .events = POLLIN}};
	while (!atomic_load(&m->stopping)) {
		if (poll(fds, 6, -1) < 0 && errno != EINTR)
			break;
		if (fds[5].revents & POLLIN)
			machine_report_stats(m, stats_fd, true, "stats");
		if (fds[1].revents & POLLIN)
			machine_stop(m, VMM_EXIT_INTERRUPTED, "interrupted by a signal");
		if (fds[2].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			machine_console_input(m, &fds[2], &fds[4]);
		if (fds[4].revents & POLLIN)
			machine_console_room(m, &fds[2], &fds[4]);
		if (fds[3].revents & POLLIN) {
			fds[3].fd = -1;
			machine_start_vcpus(m);
		}
	}
	/* A vCPU waiting in a page fault for a node that is gone cannot be kicked out of run() (the
	 * fault is KVM's or the interpreter's own access): taking the engine (and its userfaultfd)
	 * away first releases it. */
	if (m->engine)
		machine_report_stats(
		    m, -1, log_verbose() || stats_fd >= 0 || m->cfg->mode == CLUSTER_MODE_MEMORY,
		    "final");
	if (stats_fd >= 0)
		close(stats_fd);
	if (log_verbose())
		machine_log_clock(m);
	engine_close(m->engine); /* the vCPU threads may still send until they are joined */
	for (unsigned i = 0; i < m->vcpu_count; i++)
		vcpu_join(&m->vcpus[i]);
	node_profile_print(m);
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (sig_fd >= 0)
		close(sig_fd);
	return m->exit_status;
}

void machine_destroy(struct machine *m)
{
	for (unsigned i = 0; i < m->vcpu_count; i++)
		vcpu_destroy(&m->vcpus[i]);
	node_profile_destroy(m); /* after the vCPUs that counted into it */
	free(m->vcpus);
	if (m->uart)
		uart8250_destroy(m->uart);
	cmos_rtc_destroy(&m->cmos_rtc);
	if (m->ioapic)
		ioapic_destroy(m->ioapic);
	if (m->apic_bus)
		apic_bus_destroy(m->apic_bus);
	/* The cluster's thread reports losses into the engine: it ends first (after the transport,
	 * which engine_close takes down). */
	engine_close(m->engine);
	if (m->cluster)
		cluster_leave(m->cluster);
	engine_destroy(m->engine);
	node_link_destroy(m->link);
	accel_close(m->accel);
	guest_memory_destroy(&m->mem);
	if (m->stop_fd >= 0)
		close(m->stop_fd);
	if (m->rx_room_fd >= 0)
		close(m->rx_room_fd);
	pthread_mutex_destroy(&m->halt_lock);
}
