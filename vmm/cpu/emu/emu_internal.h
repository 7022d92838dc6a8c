/* What the interpreter's core files (decode cache, memory, paging, run loop, glue) share among
 * themselves; the instruction families use emu.h only. */
#ifndef VMM_CPU_EMU_EMU_INTERNAL_H
#define VMM_CPU_EMU_EMU_INTERNAL_H

#include "vmm/cpu/emu/emu.h"

/* emu_decode.c */
#define EMU_DCACHE_ENTRIES 8192 /* per vCPU, direct-mapped */

struct emu_dcache_entry {
	uint64_t tag; /* gpa << 3 | mode << 1 | 1; 0 = empty */
	uint32_t gen;
	struct emu_insn insn;
};

struct emu_decode_cache {
	struct emu_dcache_entry e[EMU_DCACHE_ENTRIES];
};

int emu_decoders_init(struct emu_accel *a);
struct emu_decode_cache *emu_dcache_create(void);
void emu_dcache_destroy(struct emu_decode_cache *d);
int emu_decode_bytes(const struct emu_accel *a, unsigned mode, const uint8_t *bytes, unsigned len,
		     struct emu_insn *out);
const struct emu_insn *emu_fetch_decode(struct emu_cpu *c, uint64_t gpa, const uint8_t *host,
					unsigned avail, struct emu_insn *scratch);

/* The cached instruction at gpa for the current mode, if it is still valid. */
static inline const struct emu_insn *emu_dcache_hit(struct emu_cpu *c, uint64_t gpa)
{
	const struct emu_dcache_entry *e =
	    &c->dcache->e[(gpa ^ (gpa >> 13)) & (EMU_DCACHE_ENTRIES - 1)];
	if (e->tag != (gpa << 3 | (uint64_t)c->mode << 1 | 1))
		return NULL;
	uint32_t gen = atomic_load_explicit(&c->accel->page_gen[gpa >> 12], memory_order_acquire);
	return e->gen == gen ? &e->insn : NULL;
}
void emu_code_page_written(struct emu_accel *a, uint64_t page);

/* emu_paging.c: the TLB entry for `linear` accessed as `access`, walking the guest's page
 * tables on a miss (A/D bits set atomically), or #PF. */
enum emu_access { EMU_ACC_READ, EMU_ACC_WRITE, EMU_ACC_EXEC };
const struct emu_tlb_entry *emu_translate_miss(struct emu_cpu *c, uint64_t linear,
					       enum emu_access access, bool user);

/* The TLB's answer without a walk: the hot path of every access. */
static inline const struct emu_tlb_entry *emu_translate(struct emu_cpu *c, uint64_t linear,
							enum emu_access access, bool user)
{
	const struct emu_tlb_entry *e = &c->tlb[(linear >> 12) & (EMU_TLB_SIZE - 1)];
	if (__builtin_expect(e->vpn == linear >> 12 && (e->perm[user] & (1u << access)), 1))
		return e;
	return emu_translate_miss(c, linear, access, user);
}

/* emu_mem.c */
uint8_t *emu_ram_host(const struct emu_accel *a, uint64_t gpa, uint64_t len);
void emu_fetch_bytes(struct emu_cpu *c, uint64_t linear, uint8_t *out, unsigned len);

/* emu_run.c */
struct cpu_exit *emu_run(struct emu_cpu *c);

#endif
