/* What the interpreter's core files (decode cache, memory, paging, run loop, glue) share among
 * themselves; the instruction families use emu.h only. */
#ifndef VMM_CPU_EMU_EMU_INTERNAL_H
#define VMM_CPU_EMU_EMU_INTERNAL_H

#include "vmm/cpu/emu/emu.h"

/* emu_decode.c: blocks of decoded instructions. A block is a run of instructions of one page
 * that execute one after the other unless one branches: it ends after an instruction that may
 * change how the next one is fetched or whether an event is due (EMU_INSN_ENDS_BLOCK), at the
 * page's end, or after EMU_BLOCK_MAX_INSNS. */
/* Sized for Linux's boot, whose code does not fit fewer blocks: with 16384 it decoded 10.5 million
 * instructions, 2.3 million with these (docs/interpreter.md, "Fewer decodes"). */
#define EMU_BLOCKS	131072 /* per vCPU, direct-mapped on the first instruction's address */
#define EMU_BLOCK_ARENA 131072 /* instructions of all blocks; full: every block is dropped */
/* 64, not 32: the loops of Linux's RSA arithmetic (mpihelp_mul_1 and co., 34-37 instructions)
 * then fit one block, which the run loop reruns without a lookup (3 in 10 fewer blocks run). */
#define EMU_BLOCK_MAX_INSNS 64

/* 16 bytes, four to a cache line: the run loop reads one at every block boundary, and the
 * blocks of a page sit in neighbouring slots. */
struct emu_block {
	uint64_t tag;	     /* gpa << 3 | mode << 1 | 1; 0 = empty */
	uint32_t gen;	     /* the page's generation when it was decoded */
	uint32_t first : 24; /* index of its first instruction in the arena */
	uint32_t count : 8;
};
_Static_assert(EMU_BLOCK_ARENA <= 1 << 24 && EMU_BLOCK_MAX_INSNS < 1 << 8,
	       "struct emu_block's fields are too narrow");

struct emu_decode_cache {
	struct emu_block block[EMU_BLOCKS];
	uint32_t used; /* arena instructions handed out */
	struct emu_insn arena[EMU_BLOCK_ARENA];
};

int emu_decoders_init(struct emu_accel *a);
struct emu_decode_cache *emu_dcache_create(void);
void emu_dcache_destroy(struct emu_decode_cache *d);
int emu_decode_bytes(const struct emu_accel *a, unsigned mode, const uint8_t *bytes, unsigned len,
		     struct emu_insn *out);

/* What the run loop executes: `count` instructions from `insn` on, valid while *gen_now is
 * `gen` (a store to the page ends the run of a block at the next instruction boundary). */
struct emu_run_block {
	const struct emu_insn *insn;
	unsigned count;
	uint32_t gen;
	const _Atomic uint32_t *gen_now;
};
/* The block at RIP, whose first byte is at guest-physical `gpa`, host `host` (NULL if it is
 * not in RAM), with `avail` bytes left in its page, decoded now (faults, #PF on the next page
 * and #UD, are raised) into the cache. An instruction that crosses the page is decoded into
 * c->scratch every time, as a block of its own. */
struct emu_run_block emu_block_decode(struct emu_cpu *c, uint64_t gpa, const uint8_t *host,
				      unsigned avail);
/* The instruction at RIP alone, decoded now into c->scratch with the flags it writes (no
 * liveness), not cached: for the run loop where it cannot run a whole block. */
struct emu_run_block emu_block_single(struct emu_cpu *c, uint64_t gpa, const uint8_t *host,
				      unsigned avail);

static inline struct emu_block *emu_block_slot(struct emu_decode_cache *d, uint64_t gpa)
{
	return &d->block[(gpa ^ (gpa >> 12)) & (EMU_BLOCKS - 1)];
}

/* emu_block_decode's block from the cache when it is there and current: inline, as the run
 * loop looks one up at every block boundary. */
static inline struct emu_run_block emu_block_at(struct emu_cpu *c, uint64_t gpa,
						const uint8_t *host, unsigned avail)
{
	struct emu_decode_cache *d = c->dcache;
	const struct emu_block *b = emu_block_slot(d, gpa);
	if (__builtin_expect(b->tag == (gpa << 3 | (uint64_t)c->mode << 1 | 1), 1)) {
		const _Atomic uint32_t *gen_now = &c->accel->page_gen[gpa >> 12];
		uint32_t gen = atomic_load_explicit(gen_now, memory_order_acquire);
		if (__builtin_expect(b->gen == gen, 1))
			return (struct emu_run_block){&d->arena[b->first], b->count, gen, gen_now};
	}
	return emu_block_decode(c, gpa, host, avail);
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
