/* Emulation assist (see the header for why).
 *
 * The instruction is fetched through the guest's own page tables (KVM_TRANSLATE) from guest RAM
 * and decoded by Zydis (x86_decode.c). Memory operands are translated the same way; MXCSR and the
 * xmm registers come from KVM_GET_FPU and go back with KVM_SET_FPU; general registers and RIP with
 * KVM_GET/SET_REGS. Faults the instruction would raise (#GP for a misaligned aligned access or
 * reserved MXCSR bits) are injected without advancing RIP; int3 becomes the #BP it traps to.
 *
 * A Linux kernel patches its own code while other CPUs run it (text_poke_bp puts an int3 over the
 * first byte, then the new bytes). KVM may fail on the instruction as it was and we then read it
 * as it is now, so an instruction we cannot decode is first retried; only if the same bytes fail
 * again at the same RIP on the same vCPU is the instruction refused, with the bytes. */
#include "vmm/cpu/kvm/emulate.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/log.h"

#define RFLAGS_AC      (1ull << 18)
#define EFER_LMA       (1ull << 10)
#define VECTOR_BP      3
#define VECTOR_GP      13
#define MXCSR_WRITABLE 0xffffu /* MXCSR_MASK of current CPUs (DAZ included) */
#define PAGE_SIZE      4096u
#define XMM_BYTES      16

static atomic_uint_fast64_t emulate_counts[X86_OP_COUNT];

/* Per vCPU thread: the last undecodable instruction, to tell code that changed under KVM (retry)
 * from code that fails every time (refuse). */
static _Thread_local struct {
	bool valid;
	uint64_t rip;
	unsigned len;
	uint8_t bytes[X86_MAX_INSN_LEN];
} last_unknown;

uint64_t emulate_count(enum x86_op op)
{
	return (unsigned)op < X86_OP_COUNT ? atomic_load(&emulate_counts[op]) : 0;
}

void emulate_log_counts(void)
{
	char line[512];
	size_t n = 0;
	for (unsigned op = 0; op < X86_OP_COUNT; op++) {
		uint64_t count = emulate_count(op);
		if (count && n < sizeof(line))
			n +=
			    (size_t)snprintf(line + n, sizeof(line) - n, "%s%s %llu", n ? ", " : "",
					     x86_op_name(op), (unsigned long long)count);
	}
	if (n)
		log_info("emulated instructions: %s", line);
}

enum emulate_result { EMULATED, FAULTED, FAILED };

struct emulate_ctx {
	const struct emulate_vcpu *v;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	bool fpu_loaded, fpu_dirty;
	int exception;		       /* vector to inject once the registers are written, or -1 */
	bool exception_has_error_code; /* error code 0 */
	uint8_t code[X86_MAX_INSN_LEN];
	unsigned code_len;
	struct x86_insn insn;
	char why[256]; /* why emulation failed */
};

/* Records why emulation failed; returns -1. */
static int fail(struct emulate_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct emulate_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return -1;
}

static __u64 *gpr(struct kvm_regs *r, unsigned n)
{
	__u64 *const by_encoding[16] = {&r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp,
					&r->rsi, &r->rdi, &r->r8,  &r->r9,  &r->r10, &r->r11,
					&r->r12, &r->r13, &r->r14, &r->r15};
	return by_encoding[n & 15];
}

/* Copies len bytes to or from linear address la, page by page. */
static int access_linear(struct emulate_ctx *c, uint64_t la, uint8_t *bytes, unsigned len,
			 bool write)
{
	for (unsigned done = 0; done < len;) {
		uint64_t addr = la + done;
		struct kvm_translation tr = {.linear_address = addr};
		if (ioctl(c->v->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
			return fail(c, "linear address 0x%llx is not mapped",
				    (unsigned long long)addr);
		if (write && !tr.writeable)
			return fail(c, "linear address 0x%llx is read-only",
				    (unsigned long long)addr);
		unsigned chunk = PAGE_SIZE - (unsigned)(addr & (PAGE_SIZE - 1));
		if (chunk > len - done)
			chunk = len - done;
		uint8_t *host = guest_ram_ptr(c->v->ram, tr.physical_address, chunk);
		if (!host)
			return fail(c, "physical address 0x%llx is not RAM",
				    (unsigned long long)tr.physical_address);
		if (write)
			memcpy(host, bytes + done, chunk);
		else
			memcpy(bytes + done, host, chunk);
		done += chunk;
	}
	return 0;
}

static int read_linear(struct emulate_ctx *c, uint64_t la, void *out, unsigned len)
{
	return access_linear(c, la, out, len, false);
}

static int write_linear(struct emulate_ctx *c, uint64_t la, const void *in, unsigned len)
{
	uint8_t bytes[XMM_BYTES];
	if (len > sizeof(bytes))
		return fail(c, "a %u-byte store is too wide", len);
	memcpy(bytes, in, len);
	return access_linear(c, la, bytes, len, true);
}

static unsigned fetch_code(struct emulate_ctx *c)
{
	uint64_t rip = c->sregs.cs.base + c->regs.rip;
	unsigned len = X86_MAX_INSN_LEN;
	/* The instruction may end before a page that is not mapped: fetch what is there. */
	while (len && read_linear(c, rip, c->code, len) < 0) {
		unsigned to_page_end = PAGE_SIZE - (unsigned)(rip & (PAGE_SIZE - 1));
		len = len > to_page_end ? to_page_end : 0;
	}
	return len;
}

static uint64_t mem_address(struct emulate_ctx *c)
{
	uint64_t regs[16];
	for (unsigned i = 0; i < 16; i++)
		regs[i] = *gpr(&c->regs, i);
	uint64_t seg_base = c->insn.mem.seg == X86_SEG_FS   ? c->sregs.fs.base
			    : c->insn.mem.seg == X86_SEG_GS ? c->sregs.gs.base
							    : 0;
	return x86_mem_address(&c->insn, regs, c->regs.rip + c->insn.len, seg_base);
}

static int load_fpu(struct emulate_ctx *c)
{
	if (c->fpu_loaded)
		return 0;
	if (ioctl(c->v->fd, KVM_GET_FPU, &c->fpu) < 0)
		return fail(c, "KVM_GET_FPU: %s", strerror(errno));
	c->fpu_loaded = true;
	return 0;
}

static enum emulate_result general_protection(struct emulate_ctx *c)
{
	c->exception = VECTOR_GP;
	c->exception_has_error_code = true;
	return FAULTED;
}

/* Reads the ModRM.rm operand (len bytes) as an xmm register, or memory. */
static enum emulate_result read_rm_xmm(struct emulate_ctx *c, uint8_t *out, unsigned len)
{
	if (!c->insn.rm_is_mem) {
		memcpy(out, c->fpu.xmm[c->insn.rm], len);
		return EMULATED;
	}
	uint64_t la = mem_address(c);
	if (c->insn.aligned && (la & (XMM_BYTES - 1)))
		return general_protection(c);
	return read_linear(c, la, out, len) < 0 ? FAILED : EMULATED;
}

/* Writes the ModRM.rm operand: len bytes of memory, or a whole xmm register zero-extended. */
static enum emulate_result write_rm_xmm(struct emulate_ctx *c, const uint8_t *in, unsigned len)
{
	if (!c->insn.rm_is_mem) {
		memset(c->fpu.xmm[c->insn.rm], 0, XMM_BYTES);
		memcpy(c->fpu.xmm[c->insn.rm], in, len);
		c->fpu_dirty = true;
		return EMULATED;
	}
	uint64_t la = mem_address(c);
	if (c->insn.aligned && (la & (XMM_BYTES - 1)))
		return general_protection(c);
	return write_linear(c, la, in, len) < 0 ? FAILED : EMULATED;
}

static void set_xmm(struct emulate_ctx *c, const uint8_t *in, unsigned len)
{
	memset(c->fpu.xmm[c->insn.reg], 0, XMM_BYTES);
	memcpy(c->fpu.xmm[c->insn.reg], in, len);
	c->fpu_dirty = true;
}

static enum emulate_result emulate_mxcsr(struct emulate_ctx *c, bool load)
{
	uint32_t value;
	uint64_t la = mem_address(c);
	if (!load)
		return write_linear(c, la, &c->fpu.mxcsr, 4) < 0 ? FAILED : EMULATED;
	if (read_linear(c, la, &value, 4) < 0)
		return FAILED;
	if (value & ~MXCSR_WRITABLE)
		return general_protection(c);
	c->fpu.mxcsr = value;
	c->fpu_dirty = true;
	return EMULATED;
}

static enum emulate_result emulate_movd_to_xmm(struct emulate_ctx *c)
{
	unsigned len = c->insn.rex_w ? 8 : 4;
	uint64_t value = 0;
	if (!c->insn.rm_is_mem)
		value = *gpr(&c->regs, c->insn.rm);
	else if (read_linear(c, mem_address(c), &value, len) < 0)
		return FAILED;
	set_xmm(c, (const uint8_t *)&value, len);
	return EMULATED;
}

static enum emulate_result emulate_movd_from_xmm(struct emulate_ctx *c)
{
	unsigned len = c->insn.rex_w ? 8 : 4;
	uint64_t value = 0;
	memcpy(&value, c->fpu.xmm[c->insn.reg], len);
	if (!c->insn.rm_is_mem) {
		*gpr(&c->regs, c->insn.rm) = value; /* a 32-bit destination zero-extends */
		return EMULATED;
	}
	return write_linear(c, mem_address(c), &value, len) < 0 ? FAILED : EMULATED;
}

static enum emulate_result emulate_xor128(struct emulate_ctx *c)
{
	uint8_t src[XMM_BYTES];
	enum emulate_result r = read_rm_xmm(c, src, XMM_BYTES);
	if (r != EMULATED)
		return r;
	for (unsigned i = 0; i < XMM_BYTES; i++)
		c->fpu.xmm[c->insn.reg][i] ^= src[i];
	c->fpu_dirty = true;
	return EMULATED;
}

static enum emulate_result emulate_sse(struct emulate_ctx *c)
{
	uint8_t buf[XMM_BYTES];
	enum emulate_result r;
	if (load_fpu(c) < 0)
		return FAILED;
	switch (c->insn.op) {
	case X86_OP_LDMXCSR:
	case X86_OP_STMXCSR:
		return emulate_mxcsr(c, c->insn.op == X86_OP_LDMXCSR);
	case X86_OP_MOVD_TO_XMM:
		return emulate_movd_to_xmm(c);
	case X86_OP_MOVD_FROM_XMM:
		return emulate_movd_from_xmm(c);
	case X86_OP_MOVQ_LOAD:
	case X86_OP_MOV128_LOAD: {
		unsigned len = c->insn.op == X86_OP_MOVQ_LOAD ? 8 : XMM_BYTES;
		if ((r = read_rm_xmm(c, buf, len)) == EMULATED)
			set_xmm(c, buf, len);
		return r;
	}
	case X86_OP_MOVQ_STORE:
		return write_rm_xmm(c, c->fpu.xmm[c->insn.reg], 8);
	case X86_OP_MOV128_STORE:
		memcpy(buf, c->fpu.xmm[c->insn.reg], XMM_BYTES);
		return write_rm_xmm(c, buf, XMM_BYTES);
	case X86_OP_XOR128:
		return emulate_xor128(c);
	default:
		fail(c, "%s is not an SSE instruction", x86_op_name(c->insn.op));
		return FAILED;
	}
}

static enum emulate_result emulate_insn(struct emulate_ctx *c)
{
	switch (c->insn.op) {
	case X86_OP_INT3:
		c->exception = VECTOR_BP; /* a trap: RIP moves past the int3 */
		return EMULATED;
	case X86_OP_FWAIT: /* no x87 exception is ever pending: the kernel does not use x87 */
		return EMULATED;
	case X86_OP_CLAC:
		c->regs.rflags &= ~RFLAGS_AC;
		return EMULATED;
	case X86_OP_STAC:
		c->regs.rflags |= RFLAGS_AC;
		return EMULATED;
	default:
		return emulate_sse(c);
	}
}

/* Writes the state back: registers and RIP for an emulated instruction, then the exception.
 * KVM_SET_REGS drops a pending exception, so it goes first. */
static int commit(struct emulate_ctx *c, enum emulate_result r)
{
	if (r == EMULATED) {
		struct kvm_regs regs = c->regs;
		regs.rip += c->insn.len;
		if (c->fpu_dirty && ioctl(c->v->fd, KVM_SET_FPU, &c->fpu) < 0)
			return fail(c, "KVM_SET_FPU: %s", strerror(errno));
		if (ioctl(c->v->fd, KVM_SET_REGS, &regs) < 0)
			return fail(c, "KVM_SET_REGS: %s", strerror(errno));
	}
	if (c->exception < 0)
		return 0;
	struct kvm_vcpu_events events;
	if (ioctl(c->v->fd, KVM_GET_VCPU_EVENTS, &events) < 0)
		return fail(c, "KVM_GET_VCPU_EVENTS: %s", strerror(errno));
	events.exception.injected = 1;
	events.exception.nr = (uint8_t)c->exception;
	events.exception.has_error_code = c->exception_has_error_code;
	events.exception.error_code = 0;
	events.flags = 0;
	if (ioctl(c->v->fd, KVM_SET_VCPU_EVENTS, &events) < 0)
		return fail(c, "KVM_SET_VCPU_EVENTS: %s", strerror(errno));
	return 0;
}

/* The exit the machine sees instead of this one; a message too long for it is cut short. */
static void end_exit(struct cpu_exit *exit, enum cpu_exit_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void end_exit(struct cpu_exit *exit, enum cpu_exit_reason reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(exit->message, sizeof(exit->message), fmt, ap);
	va_end(ap);
	exit->reason = reason;
}

static void format_bytes(char *out, size_t outlen, const uint8_t *bytes, unsigned len)
{
	size_t n = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < len && n < outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%s%02x", i ? " " : "", bytes[i]);
	if (!len)
		snprintf(out, outlen, "(unreadable)");
}

/* True if KVM reports the bytes it failed on and they differ from guest memory now. */
static bool code_changed_under_kvm(const struct emulate_ctx *c)
{
	const struct kvm_run *run = c->v->run;
	if (run->emulation_failure.ndata < 3 ||
	    !(run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
		return false;
	unsigned len = run->emulation_failure.insn_size;
	if (len > c->code_len)
		len = c->code_len;
	return len > 0 && memcmp(run->emulation_failure.insn_bytes, c->code, len) != 0;
}

/* KVM's view of the bytes is shown only when it adds something (ours are unreadable or differ):
 * the exit message is short, and the decoder's reason, with the disassembly, comes last. */
static void refuse(struct emulate_ctx *c, struct cpu_exit *exit)
{
	char bytes[3 * X86_MAX_INSN_LEN + 16], kvm_bytes[3 * X86_MAX_INSN_LEN + 32] = "";
	const struct kvm_run *run = c->v->run;
	format_bytes(bytes, sizeof(bytes), c->code, c->code_len);
	if (run->emulation_failure.ndata >= 3 &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
	    (!c->code_len || code_changed_under_kvm(c))) {
		unsigned len = run->emulation_failure.insn_size;
		char seen[3 * X86_MAX_INSN_LEN + 16];
		format_bytes(seen, sizeof(seen), run->emulation_failure.insn_bytes,
			     len < X86_MAX_INSN_LEN ? len : X86_MAX_INSN_LEN);
		snprintf(kvm_bytes, sizeof(kvm_bytes), " (KVM saw %s)", seen);
	}
	emulate_log_counts();
	end_exit(exit, CPU_EXIT_UNSUPPORTED,
		 "KVM cannot emulate the instruction at rip 0x%llx (cpl %u): %s%s; not emulated by "
		 "vsmp-vmm either: %s",
		 (unsigned long long)c->regs.rip, c->sregs.cs.dpl, bytes, kvm_bytes, c->why);
}

/* True if the instruction may have just changed: KVM saw other bytes, or these bytes are failing
 * at this RIP on this vCPU for the first time in a row. */
static bool worth_retrying(const struct emulate_ctx *c)
{
	if (code_changed_under_kvm(c)) {
		last_unknown.valid = false;
		return true;
	}
	bool repeated = last_unknown.valid && last_unknown.rip == c->regs.rip &&
			last_unknown.len == c->code_len &&
			memcmp(last_unknown.bytes, c->code, c->code_len) == 0;
	last_unknown.valid = true;
	last_unknown.rip = c->regs.rip;
	last_unknown.len = c->code_len;
	memcpy(last_unknown.bytes, c->code, c->code_len);
	return !repeated;
}

void emulate_internal_error(const struct emulate_vcpu *v, struct cpu_exit *exit)
{
	struct emulate_ctx c = {.v = v, .exception = -1};
	exit->reason = CPU_EXIT_NONE;
	if (ioctl(v->fd, KVM_GET_REGS, &c.regs) < 0 || ioctl(v->fd, KVM_GET_SREGS, &c.sregs) < 0) {
		end_exit(exit, CPU_EXIT_HOST_ERROR, "reading registers: %s", strerror(errno));
		return;
	}
	if (v->run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION) {
		end_exit(exit, CPU_EXIT_UNSUPPORTED,
			 "KVM internal error, suberror %u, at rip 0x%llx",
			 v->run->internal.suberror, (unsigned long long)c.regs.rip);
		return;
	}
	c.code_len = fetch_code(&c);
	if (!(c.sregs.efer & EFER_LMA) || !c.sregs.cs.l) {
		fail(&c, "the vCPU is not in 64-bit mode");
		refuse(&c, exit);
		return;
	}
	if (x86_decode(c.code, c.code_len, &c.insn, c.why, sizeof(c.why)) < 0) {
		if (worth_retrying(&c))
			log_debug("vCPU %u: retrying the instruction at rip 0x%llx: %s", v->index,
				  (unsigned long long)c.regs.rip, c.why);
		else
			refuse(&c, exit);
		return;
	}
	last_unknown.valid = false;
	enum emulate_result r = emulate_insn(&c);
	if (r == FAILED || commit(&c, r) < 0) {
		refuse(&c, exit);
		return;
	}
	if (atomic_fetch_add(&emulate_counts[c.insn.op], 1) == 0)
		log_info("vCPU %u: emulating %s (first at rip 0x%llx)", v->index,
			 x86_op_name(c.insn.op), (unsigned long long)c.regs.rip);
}
