/* The CPU backend interface: what the machine and its generic vCPU loop (vmm/vcpu.c) need from
 * whatever executes guest instructions. Two backends implement it: KVM (vmm/cpu/kvm/, hardware
 * virtualization where /dev/kvm exists) and the interpreter (vmm/cpu/emu/, a software x86-64 CPU).
 *
 * An accelerator is per machine (the KVM VM, or the interpreter's shared decode-cache state); a
 * cpu is one vCPU of it. The vCPU thread calls run(), which executes guest code until something
 * needs the machine: an exit. The loop handles the exit (devices, halt, policy) and calls run()
 * again, which first completes what the exit left open (the data of a port read, the result of an
 * MSR access). Port and MMIO accesses go through one dispatch, the cpu_io callbacks: KVM reports
 * them as exits and the loop calls the dispatch, the interpreter calls it in the middle of the
 * instruction. */
#ifndef VMM_CPU_CPU_H
#define VMM_CPU_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/boot.h"
#include "firmware/layout.h"

enum cpu_exit_reason {
	CPU_EXIT_NONE,	      /* kicked, interrupt window open, or an exit already dealt with */
	CPU_EXIT_IO,	      /* port I/O to dispatch (KVM only): io */
	CPU_EXIT_MMIO,	      /* MMIO to dispatch (KVM only): mmio */
	CPU_EXIT_HLT,	      /* hlt retired; interrupts_enabled() says whether it can wake */
	CPU_EXIT_MSR,	      /* an MSR the backend does not implement: msr; set msr.error */
	CPU_EXIT_SHUTDOWN,    /* triple fault */
	CPU_EXIT_UNSUPPORTED, /* the guest did what the backend cannot do: message */
	CPU_EXIT_HOST_ERROR,  /* the backend failed underneath the guest: message */
};

enum cpu_io_space { CPU_IO_PIO, CPU_IO_MMIO };

struct cpu_exit {
	enum cpu_exit_reason reason;
	struct {
		uint16_t port;
		uint8_t size; /* 1, 2 or 4 */
		bool is_write;
		uint32_t count; /* elements at data, size bytes each */
		uint8_t *data;
	} io;
	struct {
		uint64_t addr;
		uint8_t len; /* 1 to 8 */
		bool is_write;
		uint8_t *data;
	} mmio;
	struct {
		uint32_t index;
		bool is_write;
		uint64_t value; /* written, or (reads) to return */
		bool error;	/* set by the handler: raise #GP instead */
	} msr;
	char message[256];
};

/* The machine's services to a vCPU, called on the vCPU's thread: the device dispatch, and for a
 * backend that translates guest addresses itself (the interpreter), ram_fetch before it uses a
 * new translation of the RAM page at byte `ram_offset`: with several nodes it brings the page
 * here for a read or a write on this thread (coherence/engine.h, engine_access) and returns 1 if
 * the page may be written now, 0 if only read, -1 if neither (the access then faults in the host
 * and waits as a KVM vCPU's would). NULL: RAM is always usable. */
struct cpu_io {
	void (*access)(void *ctx, enum cpu_io_space space, uint64_t addr, uint8_t *data,
		       unsigned len, bool is_write);
	int (*ram_fetch)(void *ctx, uint64_t ram_offset, bool write);
	void *ctx;
};

struct cpu;

struct page_counts;

struct cpu_ops {
	void (*destroy)(struct cpu *c);
	/* The bootstrap processor's entry state (64-bit boot protocol, or 32-bit protected mode
	 * for Multiboot). */
	int (*set_boot_state)(struct cpu *c, const struct boot_cpu_state *b, char *err,
			      size_t errlen);
	/* After INIT and SIPI: real mode at vector:0000. */
	int (*start_at_sipi)(struct cpu *c, uint8_t vector, char *err, size_t errlen);
	/* Runs until an exit; the result lives in the cpu until the next call. */
	struct cpu_exit *(*run)(struct cpu *c);
	/* RFLAGS.IF as of the last exit. */
	bool (*interrupts_enabled)(struct cpu *c);
	/* Delivers `vector` now if the guest can take it (IF set, no interrupt shadow; after_halt:
	 * the vCPU leaves hlt, which is always such a boundary); else asks run() to return once it
	 * can, and returns false. */
	bool (*inject_interrupt)(struct cpu *c, uint8_t vector, bool after_halt);
	void (*inject_nmi)(struct cpu *c);
	/* Async-signal-safe: makes run() return soon (on the vCPU's thread, from the kick signal's
	 * handler; the interpreter also from any thread). */
	void (*kick)(struct cpu *c);
	/* --profile: count the instructions run per guest code page (linear RIP >> 12) into `t`,
	 * written only by the vCPU's thread. NULL if the backend cannot (KVM). */
	void (*count_code_pages)(struct cpu *c, struct page_counts *t);
	/* Whether another thread must send the kick signal for kick() to reach run() (KVM_RUN). */
	bool kick_needs_signal;
};

struct cpu {
	const struct cpu_ops *ops;
	unsigned index;
	struct cpu_exit exit;
};

struct accel;

struct accel_params {
	uint8_t *ram_host; /* guest RAM: GPA x below the hole is ram_host + x (firmware/layout.h) */
	uint64_t ram_size;
	unsigned vcpu_count; /* vCPUs of the whole guest (CPUID topology) */
};

struct accel_ops {
	const char *name;
	struct accel *(*create)(const struct accel_params *p, char *err, size_t errlen);
	void (*destroy)(struct accel *a);
	struct cpu *(*cpu_create)(struct accel *a, unsigned index, const struct cpu_io *io,
				  char *err, size_t errlen);
	/* Several nodes: the guest's clock counts from this CLOCK_REALTIME on every node. */
	int (*set_clock_epoch)(struct accel *a, uint64_t epoch_ns, char *err, size_t errlen);
	/* The guest clock's distance from the cluster's, for --verbose; false if unknown. */
	bool (*clock_offset_ns)(struct accel *a, int64_t *offset);
	/* The contents of the RAM page at `ram_offset` may have changed behind the vCPUs' backs
	 * (another node, a device): forget anything derived from them. Any thread. */
	void (*page_changed)(struct accel *a, uint64_t ram_offset);
	/* The page at `ram_offset` may no longer be accessed as ram_fetch last said (the coherence
	 * engine dropped or write-protected it): translations that rely on it go. Any thread. NULL:
	 * the backend keeps none (KVM). */
	void (*page_revoked)(struct accel *a, uint64_t ram_offset);
};

struct accel {
	const struct accel_ops *ops;
};

extern const struct accel_ops kvm_accel_ops;
extern const struct accel_ops emu_accel_ops;

#endif
