/* Exit handlers. Unknown I/O follows the guest's `unknown_io` policy: "stop" ends the machine with
 * VMM_EXIT_GUEST_UNSUPPORTED and says what was touched; "ignore" reads all-ones and drops writes,
 * as an empty bus does on real hardware (Linux probes legacy ports that we do not model), and
 * answers an unknown MSR with #GP. */
#include "vmm/vcpu_exit.h"

#include <string.h>

#include "devices/iobus.h"
#include "devices/lapic.h"
#include "firmware/layout.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/vcpu.h"

static void vcpu_unknown_io(struct vcpu *v, enum cpu_io_space space, uint64_t addr, uint8_t *data,
			    unsigned len, bool is_write)
{
	const char *what = space == CPU_IO_PIO ? "port" : "MMIO address";
	if (v->m->cfg->guest.unknown_io == UNKNOWN_IO_STOP) {
		machine_stop(v->m, VMM_EXIT_GUEST_UNSUPPORTED,
			     "vCPU %u: guest %s unhandled %s 0x%llx (%u bytes): stopped "
			     "(unknown_io = \"stop\")",
			     v->index, is_write ? "wrote" : "read", what, (unsigned long long)addr,
			     len);
		return;
	}
	log_debug("vCPU %u: ignored %s %s 0x%llx", v->index, is_write ? "write" : "read", what,
		  (unsigned long long)addr);
	if (!is_write)
		memset(data, 0xff, len);
}

static bool is_lapic(uint64_t addr, unsigned len)
{
	return addr >= LAYOUT_LAPIC_BASE && addr - LAYOUT_LAPIC_BASE < LAPIC_MMIO_SIZE &&
	       len <= LAPIC_MMIO_SIZE - (addr - LAYOUT_LAPIC_BASE);
}

/* Any access may move the timer's deadline (a write programs it, an access catches a periodic
 * timer up): the host timer follows at once, as run() may go on for long (the interpreter). */
static void vcpu_lapic_access(struct vcpu *v, uint32_t offset, uint8_t *data, unsigned len,
			      bool is_write)
{
	uint32_t value = 0;
	if (len != 4 || (offset & 3)) {
		/* The SDM leaves other widths undefined; treat them as a read of zeros. */
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write) {
		memcpy(&value, data, 4);
		lapic_mmio_write(v->lapic, offset, value, machine_now_ns());
	} else {
		value = lapic_mmio_read(v->lapic, offset, machine_now_ns());
		memcpy(data, &value, 4);
	}
	vcpu_arm_timer(v);
}

/* Each vCPU has its own LAPIC at the same address, so it comes before the bus. */
void vcpu_io_access(void *ctx, enum cpu_io_space space, uint64_t addr, uint8_t *data, unsigned len,
		    bool is_write)
{
	struct vcpu *v = ctx;
	if (space == CPU_IO_MMIO && is_lapic(addr, len)) {
		vcpu_lapic_access(v, (uint32_t)(addr - LAYOUT_LAPIC_BASE), data, len, is_write);
		return;
	}
	enum iobus_space bus = space == CPU_IO_MMIO ? IOBUS_MMIO : IOBUS_PIO;
	const struct iobus_range *r = iobus_find(&v->m->bus, bus, addr, len);
	if (r && r->handler(r->ctx, v->index, addr - r->base, data, len, is_write) == 0)
		return;
	vcpu_unknown_io(v, space, addr, data, len, is_write);
}

/* A string instruction: one access per element, until one of them stops the machine. */
static void vcpu_exit_io(struct vcpu *v, const struct cpu_exit *exit)
{
	for (uint32_t i = 0; i < exit->io.count && !machine_stopping(v->m); i++)
		vcpu_io_access(v, CPU_IO_PIO, exit->io.port,
			       exit->io.data + (uint64_t)i * exit->io.size, exit->io.size,
			       exit->io.is_write);
}

/* Either way the access raises #GP if the guest ever gets past it: it never reads a value we made
 * up. */
static void vcpu_exit_msr(struct vcpu *v, struct cpu_exit *exit)
{
	exit->msr.error = true;
	if (v->m->cfg->guest.unknown_io == UNKNOWN_IO_STOP) {
		machine_stop(v->m, VMM_EXIT_GUEST_UNSUPPORTED,
			     "vCPU %u: guest %s unknown MSR 0x%x: stopped (unknown_io = \"stop\")",
			     v->index, exit->msr.is_write ? "wrote" : "read", exit->msr.index);
		return;
	}
	log_debug("vCPU %u: #GP for unknown MSR 0x%x", v->index, exit->msr.index);
}

static void vcpu_exit_halt(struct vcpu *v)
{
	v->state = VCPU_HALTED;
	if (!v->cpu->ops->interrupts_enabled(v->cpu))
		machine_vcpu_halted_for_good(v->m, v);
}

void vcpu_exit_handle(struct vcpu *v, struct cpu_exit *exit)
{
	switch (exit->reason) {
	case CPU_EXIT_NONE:
		break;
	case CPU_EXIT_IO:
		vcpu_exit_io(v, exit);
		break;
	case CPU_EXIT_MMIO:
		vcpu_io_access(v, CPU_IO_MMIO, exit->mmio.addr, exit->mmio.data, exit->mmio.len,
			       exit->mmio.is_write);
		break;
	case CPU_EXIT_HLT:
		vcpu_exit_halt(v);
		break;
	case CPU_EXIT_MSR:
		vcpu_exit_msr(v, exit);
		break;
	case CPU_EXIT_SHUTDOWN:
		machine_stop(v->m, VMM_EXIT_GUEST_RESET, "vCPU %u: %s: guest reset", v->index,
			     exit->message[0] ? exit->message : "triple fault");
		break;
	case CPU_EXIT_UNSUPPORTED:
		machine_stop(v->m, VMM_EXIT_GUEST_UNSUPPORTED, "vCPU %u: %s", v->index,
			     exit->message);
		break;
	case CPU_EXIT_HOST_ERROR:
		machine_stop(v->m, VMM_EXIT_HOST_ERROR, "vCPU %u: %s", v->index, exit->message);
		break;
	}
}
