/* Emulation assist (see the header for why).
 *
 * The instruction is fetched through the guest's own page tables (KVM_TRANSLATE) from guest RAM,
 * then matched against a short table of byte patterns. Each handler adjusts the registers and
 * advances RIP; int3 is re-injected as the #BP the guest expects. Anything unknown stops the
 * machine with the instruction bytes, so the next missing piece is named precisely. */
#include "vmm/emulate.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/machine.h"
#include "vmm/vcpu.h"

#define X86_MAX_INSN	       15
#define X86_RFLAGS_AC	       (1ull << 18)
#define X86_VECTOR_BP	       3
#define KVM_SUBERROR_EMULATION 1

static atomic_uint_fast64_t emulate_counts[EMULATE_OP_COUNT];

static const char *const emulate_names[EMULATE_OP_COUNT] = {
    [EMULATE_INT3] = "int3",
    [EMULATE_FWAIT] = "fwait",
    [EMULATE_CLAC] = "clac",
    [EMULATE_STAC] = "stac",
};

uint64_t emulate_count(enum emulate_op op)
{
	return op < EMULATE_OP_COUNT ? atomic_load(&emulate_counts[op]) : 0;
}

const char *emulate_op_name(enum emulate_op op)
{
	return op < EMULATE_OP_COUNT ? emulate_names[op] : "?";
}

struct emulate_ctx {
	struct vcpu *v;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint8_t insn[X86_MAX_INSN];
	unsigned insn_len; /* bytes fetched */
};

/* Copies up to `len` bytes at linear address `la`, page by page; returns bytes copied. */
static unsigned emulate_read_linear(struct emulate_ctx *c, uint64_t la, uint8_t *out, unsigned len)
{
	unsigned done = 0;
	while (done < len) {
		struct kvm_translation tr = {.linear_address = la + done};
		if (ioctl(c->v->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
			break;
		unsigned chunk = 4096 - (unsigned)((la + done) & 4095);
		if (chunk > len - done)
			chunk = len - done;
		const uint8_t *p = guest_ram_ptr(&c->v->m->ram, tr.physical_address, chunk);
		if (!p)
			break;
		memcpy(out + done, p, chunk);
		done += chunk;
	}
	return done;
}

static void emulate_inject_exception(struct emulate_ctx *c, uint8_t vector)
{
	struct kvm_vcpu_events events;
	if (ioctl(c->v->fd, KVM_GET_VCPU_EVENTS, &events) < 0)
		return;
	events.exception.injected = 1;
	events.exception.nr = vector;
	events.exception.has_error_code = 0;
	events.flags = 0;
	ioctl(c->v->fd, KVM_SET_VCPU_EVENTS, &events);
}

struct emulate_pattern {
	uint8_t bytes[4];
	unsigned len;
	enum emulate_op op;
};

static const struct emulate_pattern emulate_patterns[] = {
    {{0xcc}, 1, EMULATE_INT3},
    {{0x9b}, 1, EMULATE_FWAIT},
    {{0x0f, 0x01, 0xca}, 3, EMULATE_CLAC},
    {{0x0f, 0x01, 0xcb}, 3, EMULATE_STAC},
};

static void emulate_apply(struct emulate_ctx *c, enum emulate_op op)
{
	switch (op) {
	case EMULATE_INT3:
		emulate_inject_exception(c, X86_VECTOR_BP);
		break;
	case EMULATE_CLAC:
		c->regs.rflags &= ~X86_RFLAGS_AC;
		break;
	case EMULATE_STAC:
		c->regs.rflags |= X86_RFLAGS_AC;
		break;
	case EMULATE_FWAIT:
	case EMULATE_OP_COUNT:
		break;
	}
}

static bool emulate_match(struct emulate_ctx *c)
{
	for (size_t i = 0; i < sizeof(emulate_patterns) / sizeof(emulate_patterns[0]); i++) {
		const struct emulate_pattern *p = &emulate_patterns[i];
		if (c->insn_len < p->len || memcmp(c->insn, p->bytes, p->len) != 0)
			continue;
		c->regs.rip += p->len;
		emulate_apply(c, p->op);
		atomic_fetch_add(&emulate_counts[p->op], 1);
		return ioctl(c->v->fd, KVM_SET_REGS, &c->regs) == 0;
	}
	return false;
}

static void emulate_refuse(struct emulate_ctx *c)
{
	char bytes[3 * X86_MAX_INSN + 1] = "";
	for (unsigned i = 0; i < c->insn_len; i++)
		snprintf(bytes + 3 * i, sizeof(bytes) - 3 * i, "%02x ", c->insn[i]);
	struct kvm_run *run = c->v->run;
	machine_stop(c->v->m, VMM_EXIT_GUEST_UNSUPPORTED,
		     "vCPU %u: KVM cannot emulate the instruction at rip 0x%llx (cpl %u, "
		     "suberror %u): %s- not emulated by vsmp-vmm either",
		     c->v->index, (unsigned long long)c->regs.rip, c->sregs.cs.dpl,
		     run->internal.suberror, c->insn_len ? bytes : "(unreadable) ");
}

void emulate_internal_error(struct vcpu *v)
{
	struct emulate_ctx c = {.v = v};
	if (ioctl(v->fd, KVM_GET_REGS, &c.regs) < 0 || ioctl(v->fd, KVM_GET_SREGS, &c.sregs) < 0) {
		machine_stop(v->m, VMM_EXIT_HOST_ERROR, "vCPU %u: reading registers: %s", v->index,
			     strerror(errno));
		return;
	}
	c.insn_len = emulate_read_linear(&c, c.sregs.cs.base + c.regs.rip, c.insn, X86_MAX_INSN);
	if (v->run->internal.suberror == KVM_SUBERROR_EMULATION && emulate_match(&c))
		return;
	emulate_refuse(&c);
}
