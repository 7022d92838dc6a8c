/* Exit handlers. Unknown I/O follows the guest's `unknown_io` policy: "stop" ends the machine with
 * VMM_EXIT_GUEST_UNSUPPORTED and says what was touched; "ignore" reads all-ones and drops writes,
 * as an empty bus does on real hardware (Linux probes legacy ports that we do not model). */
#include "vmm/vcpu_exit.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "firmware/layout.h"
#include "vmm/emulate.h"
#include "vmm/lapic.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/node_link.h"
#include "vmm/vcpu.h"

static void vcpu_unknown_io(struct vcpu *v, const char *space, uint64_t addr, uint8_t *data,
			    unsigned len, bool is_write)
{
	const struct cluster_config *cfg = v->m->cfg;
	if (cfg->guest.unknown_io == UNKNOWN_IO_STOP) {
		machine_stop(v->m, VMM_EXIT_GUEST_UNSUPPORTED,
			     "vCPU %u: guest %s unhandled %s 0x%llx (%u bytes): stopped "
			     "(unknown_io = \"stop\")",
			     v->index, is_write ? "wrote" : "read", space, (unsigned long long)addr,
			     len);
		return;
	}
	log_debug("vCPU %u: ignored %s %s 0x%llx", v->index, is_write ? "write" : "read", space,
		  (unsigned long long)addr);
	if (!is_write)
		memset(data, 0xff, len);
}

static void vcpu_bus_access(struct vcpu *v, enum iobus_space space, uint64_t addr, uint8_t *data,
			    unsigned len, bool is_write)
{
	const struct iobus_range *r = iobus_find(&v->m->bus, space, addr, len);
	if (r && r->handler(r->ctx, v->index, addr - r->base, data, len, is_write) == 0)
		return;
	vcpu_unknown_io(v, space == IOBUS_PIO ? "port" : "MMIO address", addr, data, len, is_write);
}

static void vcpu_exit_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned size = run->io.size;
	uint64_t span = (uint64_t)size * run->io.count;
	if ((size != 1 && size != 2 && size != 4) ||
	    run->io.data_offset + span > v->m->kvm.run_size) {
		machine_stop(v->m, VMM_EXIT_HOST_ERROR, "vCPU %u: malformed I/O exit", v->index);
		return;
	}
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	for (uint32_t i = 0; i < run->io.count && !atomic_load(&v->m->stopping); i++)
		vcpu_bus_access(v, IOBUS_PIO, run->io.port, data + (uint64_t)i * size, size,
				run->io.direction == KVM_EXIT_IO_OUT);
}

static void vcpu_exit_lapic(struct vcpu *v, uint32_t offset, uint8_t *data, unsigned len,
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
}

static void vcpu_exit_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint64_t addr = run->mmio.phys_addr;
	unsigned len = run->mmio.len;
	if (len == 0 || len > sizeof(run->mmio.data)) {
		machine_stop(v->m, VMM_EXIT_HOST_ERROR, "vCPU %u: malformed MMIO exit", v->index);
		return;
	}
	if (addr >= LAYOUT_LAPIC_BASE && addr + len <= LAYOUT_LAPIC_BASE + 0x1000) {
		vcpu_exit_lapic(v, (uint32_t)(addr - LAYOUT_LAPIC_BASE), run->mmio.data, len,
				run->mmio.is_write);
		return;
	}
	vcpu_bus_access(v, IOBUS_MMIO, addr, run->mmio.data, len, run->mmio.is_write);
}

/* MSR accesses KVM does not implement or would answer with #GP come here (exit reasons
 * UNKNOWN and INVAL): "stop" ends the guest, "ignore" lets KVM inject the #GP. */
static void vcpu_exit_msr(struct vcpu *v, bool is_write)
{
	struct kvm_run *run = v->run;
	if (v->m->cfg->guest.unknown_io == UNKNOWN_IO_STOP) {
		machine_stop(v->m, VMM_EXIT_GUEST_UNSUPPORTED,
			     "vCPU %u: guest %s unknown MSR 0x%x: stopped (unknown_io = \"stop\")",
			     v->index, is_write ? "wrote" : "read", run->msr.index);
		return;
	}
	log_debug("vCPU %u: #GP for unknown MSR 0x%x", v->index, run->msr.index);
	run->msr.error = 1;
}

void vcpu_exit_halted_for_good(struct vcpu *v)
{
	if (v->halted_for_good)
		return;
	struct machine *m = v->m;
	pthread_mutex_lock(&m->lock);
	v->halted_for_good = true;
	bool all = ++m->halted_for_good == m->vcpu_count;
	pthread_mutex_unlock(&m->lock);
	if (all && m->link)
		node_link_report_halted(m->link); /* other nodes may still wake them */
	else if (all)
		machine_stop(m, VMM_EXIT_GUEST_RESET,
			     "every vCPU halted with interrupts disabled or waits for a SIPI: the "
			     "guest cannot resume");
}

static void vcpu_exit_halt(struct vcpu *v)
{
	v->state = VCPU_HALTED;
	if (!v->run->if_flag)
		vcpu_exit_halted_for_good(v);
}

void vcpu_exit_halt_ended(struct vcpu *v)
{
	if (!v->halted_for_good)
		return;
	pthread_mutex_lock(&v->m->lock);
	v->halted_for_good = false;
	v->m->halted_for_good--;
	pthread_mutex_unlock(&v->m->lock);
}

void vcpu_exit_handle(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_exit_io(v);
		break;
	case KVM_EXIT_MMIO:
		vcpu_exit_mmio(v);
		break;
	case KVM_EXIT_HLT:
		vcpu_exit_halt(v);
		break;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		vcpu_exit_msr(v, run->exit_reason == KVM_EXIT_X86_WRMSR);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		emulate_internal_error(v);
		break;
	case KVM_EXIT_SHUTDOWN:
		machine_stop(v->m, VMM_EXIT_GUEST_RESET, "vCPU %u: triple fault: guest reset",
			     v->index);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		machine_stop(v->m, VMM_EXIT_GUEST_RESET, "vCPU %u: system event %u", v->index,
			     run->system_event.type);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		machine_stop(v->m, VMM_EXIT_HOST_ERROR,
			     "vCPU %u: KVM could not enter the guest (reason 0x%llx)", v->index,
			     (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	default:
		machine_stop(v->m, VMM_EXIT_GUEST_UNSUPPORTED, "vCPU %u: unhandled KVM exit %u",
			     v->index, run->exit_reason);
		break;
	}
}
