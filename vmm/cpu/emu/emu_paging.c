/* Address translation of the software vCPU: a direct-mapped TLB over the guest's page tables.
 *
 * A miss walks the tables the current mode uses (4-level long mode, 3-level PAE, 2-level 32-bit
 * with 4 MiB pages, or none with paging off) reading the entries from guest RAM, setting their
 * Accessed bits (and the leaf's Dirty bit on a write) with host atomic ORs as the hardware's
 * locked updates do, so other vCPUs and the guest kernel see them. The TLB keeps the combined
 * permissions of the walk, one 4 KiB entry per linear page (large pages fill one entry per 4 KiB
 * page touched); a write through an entry whose Dirty bit is not yet set walks again to set it.
 *
 * Reserved bits in entries are not checked (the guest cannot gain anything from them: physical
 * addresses outside RAM are MMIO or read as absent). */
#include "firmware/layout.h"
#include "vmm/cpu/emu/emu_internal.h"

#define PTE_P	(1ull << 0)
#define PTE_W	(1ull << 1)
#define PTE_U	(1ull << 2)
#define PTE_A	(1ull << 5)
#define PTE_D	(1ull << 6)
#define PTE_PS	(1ull << 7)
#define PTE_G	(1ull << 8)
#define PTE_NX	(1ull << 63)
#define ADDR_52 0x000ffffffffff000ull

struct walk {
	uint64_t gpa;
	uint8_t flags;
	uint8_t page_shift;
	bool not_present;
};

void emu_tlb_flush(struct emu_cpu *c, bool keep_global)
{
	for (unsigned i = 0; i < EMU_TLB_SIZE; i++)
		if (!keep_global || !(c->tlb[i].flags & EMU_TLB_GLOBAL))
			c->tlb[i].vpn = UINT64_MAX;
}

static void tlb_drop_gpa_page(struct emu_cpu *c, uint64_t page)
{
	for (unsigned i = 0; i < EMU_TLB_SIZE; i++)
		if (c->tlb[i].host && c->tlb[i].gpa >> 12 == page)
			c->tlb[i].vpn = UINT64_MAX;
}

/* A slot is written after its number is taken, so a vCPU may read it a moment early and miss a
 * page: harmless, since the engine also unmapped or write-protected the page in the host, where
 * an access through the stale translation faults and waits as any host access would. */
void emu_tlb_revoked(struct emu_cpu *c)
{
	struct emu_accel *a = c->accel;
	uint64_t now = atomic_load_explicit(&a->revoked_count, memory_order_acquire);
	if (now - c->revoked_seen > EMU_REVOKED) {
		emu_tlb_flush(c, false);
	} else {
		for (uint64_t i = c->revoked_seen; i < now; i++)
			tlb_drop_gpa_page(c, atomic_load_explicit(&a->revoked[i % EMU_REVOKED],
								  memory_order_relaxed));
	}
	c->revoked_seen = now;
}

/* The machine's ram_fetch, for a RAM page this vCPU is about to use: brings it here and takes
 * the write permission away if the page may not be written here yet, so that the first write
 * comes back through emu_translate_miss and fetches it for writing. */
static void tlb_fetch(struct emu_cpu *c, struct emu_tlb_entry *e, enum emu_access access)
{
	if (!e->host || !c->io || !c->io->ram_fetch)
		return;
	int can = c->io->ram_fetch(c->io->ctx, (uint64_t)(e->host - c->accel->ram),
				   access == EMU_ACC_WRITE);
	if (can < 1) {
		e->perm[0] &= (uint8_t)~EMU_PERM_WRITE;
		e->perm[1] &= (uint8_t)~EMU_PERM_WRITE;
	}
}

/* INVLPG: the entry of that 4 KiB page, and every entry filled from the same large page. */
void emu_tlb_flush_page(struct emu_cpu *c, uint64_t linear)
{
	for (unsigned i = 0; i < EMU_TLB_SIZE; i++) {
		struct emu_tlb_entry *e = &c->tlb[i];
		unsigned shift = e->page_shift - 12;
		if (e->vpn != UINT64_MAX && (e->vpn >> shift) == (linear >> 12 >> shift))
			e->vpn = UINT64_MAX;
	}
}

/* A page-table entry of `size` bytes at guest-physical gpa, as a host pointer. */
static void *pte_ptr(struct emu_cpu *c, uint64_t gpa, unsigned size)
{
	void *p = emu_ram_host(c->accel, gpa, size);
	if (!p)
		emu_exit(c, CPU_EXIT_UNSUPPORTED, "vCPU %u: page table outside RAM at 0x%llx",
			 c->cpu.index, (unsigned long long)gpa);
	return p;
}

/* Reads an entry and sets `bits` in it if they are not all set yet. */
static uint64_t pte_update(struct emu_cpu *c, uint64_t gpa, unsigned size, uint64_t bits)
{
	if (size == 8) {
		uint64_t *p = pte_ptr(c, gpa, 8);
		uint64_t v = __atomic_load_n(p, __ATOMIC_RELAXED);
		if ((v & PTE_P) && (v & bits) != bits)
			v = __atomic_or_fetch(p, bits, __ATOMIC_SEQ_CST);
		return v;
	}
	uint32_t *p = pte_ptr(c, gpa, 4);
	uint32_t v = __atomic_load_n(p, __ATOMIC_RELAXED);
	if ((v & PTE_P) && (v & bits) != bits)
		v = __atomic_or_fetch(p, (uint32_t)bits, __ATOMIC_SEQ_CST);
	return v;
}

/* Walks `levels` levels from table `table`, indexing with `shift`s; size-byte entries. */
static void walk_tables(struct emu_cpu *c, uint64_t linear, uint64_t table, int levels,
			unsigned entry_size, bool write, struct walk *w)
{
	bool nxe = c->efer & EFER_NXE;
	bool w_ok = true, u_ok = true, nx = false;
	unsigned index_bits = entry_size == 8 ? 9 : 10;
	uint64_t addr_mask = entry_size == 8 ? ADDR_52 : 0xfffff000ull;
	for (int level = levels - 1; level >= 0; level--) {
		unsigned shift = 12 + index_bits * (unsigned)level;
		uint64_t index = (linear >> shift) & ((1u << index_bits) - 1);
		uint64_t gpa = table + index * entry_size;
		bool leaf_possible = entry_size == 8 ? level <= 2 : (c->cr4 & CR4_PSE) != 0;
		uint64_t v = pte_update(c, gpa, entry_size, PTE_A);
		if (!(v & PTE_P)) {
			w->not_present = true;
			return;
		}
		w_ok &= (v & PTE_W) != 0;
		u_ok &= (v & PTE_U) != 0;
		nx |= nxe && entry_size == 8 && (v & PTE_NX);
		bool leaf = level == 0 || (leaf_possible && (v & PTE_PS));
		if (!leaf) {
			table = v & addr_mask;
			continue;
		}
		if (write)
			v = pte_update(c, gpa, entry_size, PTE_A | PTE_D);
		uint64_t page_mask = (1ull << shift) - 1;
		uint64_t base = v & addr_mask & ~page_mask;
		if (entry_size == 4 && shift == 22)
			base = v & 0xffc00000ull; /* PSE-36 high bits are not supported */
		w->gpa = base + (linear & page_mask & ~0xfffull);
		w->page_shift = (uint8_t)shift;
		w->flags = (uint8_t)((w_ok ? EMU_TLB_WRITE : 0) | (u_ok ? EMU_TLB_USER : 0) |
				     (nx ? EMU_TLB_NX : 0) | ((v & PTE_D) ? EMU_TLB_DIRTY : 0) |
				     ((v & PTE_G) && (c->cr4 & CR4_PGE) ? EMU_TLB_GLOBAL : 0));
		return;
	}
}

static void walk(struct emu_cpu *c, uint64_t linear, bool write, struct walk *w)
{
	*w = (struct walk){0};
	if (!(c->cr0 & CR0_PG)) {
		w->gpa = linear & ~0xfffull & 0xffffffffull;
		w->page_shift = 12;
		w->flags = EMU_TLB_WRITE | EMU_TLB_USER | EMU_TLB_DIRTY;
		return;
	}
	if (c->efer & EFER_LMA) {
		walk_tables(c, linear, c->cr3 & ADDR_52, 4, 8, write, w);
	} else if (c->cr4 & CR4_PAE) {
		/* The four PDPTEs, read at walk time rather than cached at the CR3 load. */
		uint64_t pdpte_gpa = (c->cr3 & 0xffffffe0ull) + ((linear >> 30) & 3) * 8;
		uint64_t pdpte = *(uint64_t *)pte_ptr(c, pdpte_gpa, 8);
		if (!(pdpte & PTE_P)) {
			w->not_present = true;
			return;
		}
		walk_tables(c, linear, pdpte & ADDR_52, 2, 8, write, w);
	} else {
		walk_tables(c, linear & 0xffffffffull, c->cr3 & 0xfffff000ull, 2, 4, write, w);
	}
}

/* What the entry allows a supervisor or user access now; a write also needs Dirty set. */
static uint8_t tlb_perm(const struct emu_cpu *c, uint8_t flags, bool user)
{
	if (user && !(flags & EMU_TLB_USER))
		return 0;
	uint8_t perm = EMU_PERM_READ;
	if (((flags & EMU_TLB_WRITE) || (!user && !(c->cr0 & CR0_WP))) && (flags & EMU_TLB_DIRTY))
		perm |= EMU_PERM_WRITE;
	if (!(flags & EMU_TLB_NX))
		perm |= EMU_PERM_EXEC;
	return perm;
}

static void tlb_set_flags(const struct emu_cpu *c, struct emu_tlb_entry *e, uint8_t flags)
{
	e->flags = flags;
	e->perm[0] = tlb_perm(c, flags, false);
	e->perm[1] = tlb_perm(c, flags, true);
}

_Noreturn static void page_fault(struct emu_cpu *c, uint64_t linear, uint32_t code)
{
	c->cr2 = linear;
	emu_raise(c, EMU_PF, code);
}

const struct emu_tlb_entry *emu_translate_miss(struct emu_cpu *c, uint64_t linear,
					       enum emu_access access, bool user)
{
	uint64_t vpn = linear >> 12;
	struct emu_tlb_entry *e = &c->tlb[vpn & (EMU_TLB_SIZE - 1)];
	/* Walk for a read first: a write that the permissions refuse must not set Dirty. */
	struct walk w;
	uint32_t code = (access == EMU_ACC_WRITE ? PF_W : 0) | (user ? PF_U : 0) |
			(access == EMU_ACC_EXEC && (c->efer & EFER_NXE) ? PF_I : 0);
	walk(c, linear, false, &w);
	if (w.not_present)
		page_fault(c, linear, code);
	*e = (struct emu_tlb_entry){.vpn = vpn,
				    .gpa = w.gpa,
				    .host = emu_ram_host(c->accel, w.gpa, 4096),
				    .page_shift = w.page_shift};
	/* Permission as if Dirty were set: a refused write faults before anything changes. */
	tlb_set_flags(c, e, w.flags | EMU_TLB_DIRTY);
	if (!(e->perm[user] & (1u << access))) {
		e->vpn = UINT64_MAX;
		page_fault(c, linear, code | PF_P);
	}
	tlb_set_flags(c, e, w.flags);
	if (access == EMU_ACC_WRITE && !(w.flags & EMU_TLB_DIRTY)) {
		walk(c, linear, true, &w);
		if (w.not_present) {
			e->vpn = UINT64_MAX;
			page_fault(c, linear, code);
		}
		e->gpa = w.gpa;
		e->host = emu_ram_host(c->accel, w.gpa, 4096);
		tlb_set_flags(c, e, w.flags);
	}
	tlb_fetch(c, e, access);
	return e;
}
