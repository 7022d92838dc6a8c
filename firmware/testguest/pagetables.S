/* The guest's page tables, complete at link time so that ring 0 spends no instructions on them:
 * an identity map of 0..4 GiB in 2 MiB pages, every page user-accessible (U/S set) because all of
 * the guest's work, including reading boot_params and ACPI and driving the LAPIC, runs in ring 3.
 * The top 32 MiB (IOAPIC, LAPIC) are mapped uncacheable. Accessed and dirty bits are set from the
 * start, so no page walk ever writes to these tables: across nodes they stay read-only copies
 * everywhere, where setting those bits moved the page directory between nodes. */
#define PTE_PRESENT  0x01
#define PTE_WRITE    0x02
#define PTE_USER     0x04
#define PTE_PWT	     0x08
#define PTE_PCD	     0x10
#define PTE_ACCESSED 0x20
#define PTE_DIRTY    0x40
#define PTE_LARGE    0x80
#define TABLE_FLAGS  (PTE_PRESENT | PTE_WRITE | PTE_USER | PTE_ACCESSED)
#define LEAF_FLAGS   (TABLE_FLAGS | PTE_DIRTY | PTE_LARGE)
#define MMIO_START   0xfe000000

	.section .data.pagetables, "aw"
	.balign 4096
	.globl pml4
pml4:
	.quad pdpt + TABLE_FLAGS
	.fill 511, 8, 0

pdpt:
	.quad pd + 0x0000 + TABLE_FLAGS
	.quad pd + 0x1000 + TABLE_FLAGS
	.quad pd + 0x2000 + TABLE_FLAGS
	.quad pd + 0x3000 + TABLE_FLAGS
	.fill 508, 8, 0

pd:
	.set page, 0
	.rept 2048
	.if page >= MMIO_START
	.quad page + LEAF_FLAGS + PTE_PWT + PTE_PCD
	.else
	.quad page + LEAF_FLAGS
	.endif
	.set page, page + 0x200000
	.endr
