/* Unit tests for the software vCPU's address translation (vmm/cpu/emu/emu_paging.c, emu_mem.c):
 * 4-level page walks set Accessed on every level and Dirty on a write, and only then; every
 * kind of page fault has the architectural error code and CR2 (not present, write to read-only
 * at CPL 3 and with CR0.WP, a user access to a supervisor page, an NX fetch); 2 MiB pages;
 * global entries survive a CR3-style flush and INVLPG drops a whole large page; 32-bit paging
 * with a 4 MiB page. With a machine that fetches pages (memory mode): a fill fetches its page,
 * write permission only once the machine says the page may be written, and a revoked page is
 * fetched again. A fault unwinds to the setjmp in CATCH() as it would to the run loop. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/guest_ram.h"
#include "vmm/cpu/emu/emu_internal.h"

#define RAM_SIZE (8u << 20)
#define PML4	 0x1000u
#define PDPT	 0x2000u
#define PD	 0x3000u
#define PT	 0x4000u
#define P	 0x1ull
#define W	 0x2ull
#define U	 0x4ull
#define A	 0x20ull
#define D	 0x40ull
#define PS	 0x80ull
#define G	 0x100ull
#define NX	 (1ull << 63)

static struct emu_accel accel;
static struct emu_cpu *c;

/* Long mode, CPL 0: linear 0x200000-0x3fffff through PT (4 KiB pages), 0x400000 one 2 MiB page. */
static void setup(void)
{
	guest_ram_create(&accel, RAM_SIZE);
	c = calloc(1, sizeof(*c));
	cr_assert_not_null(c);
	c->accel = &accel;
	c->cr0 = CR0_PE | CR0_PG | CR0_WP;
	c->cr3 = PML4;
	c->cr4 = CR4_PAE | CR4_PGE;
	c->efer = EFER_LME | EFER_LMA | EFER_NXE;
	c->seg[EMU_CS].attr = SEG_ATTR_L | SEG_ATTR_P | SEG_ATTR_S | 0xb;
	emu_update_mode(c);
	emu_tlb_flush(c, false);
	put64(PML4, PDPT | P | W | U);
	put64(PDPT, PD | P | W | U);
	put64(PD + 8, PT | P | W | U);		       /* 0x200000: a page table */
	put64(PD + 16, 0x600000 | P | W | U | PS | G); /* 0x400000: 2 MiB, global */
}

static void teardown(void)
{
	free(c);
	guest_ram_destroy(&accel);
}

TestSuite(emu_paging, .init = setup, .fini = teardown);

Test(emu_paging, accessed_on_read_dirty_on_write_only)
{
	put64(PT + 8 * 5, 0x100000 | P | W | U);
	ram[0x100010] = 0x5a;
	cr_assert_eq(CATCH(cr_assert_eq(emu_read_sys(c, 0x205010, 1), 0x5a)), -1);
	cr_assert(get64(PML4) & A && get64(PDPT) & A && get64(PD + 8) & A);
	cr_assert(get64(PT + 8 * 5) & A);
	cr_assert_eq(get64(PT + 8 * 5) & D, 0, "a read set Dirty");
	cr_assert_eq(CATCH(emu_write_sys(c, 0x205010, 1, 0xa5)), -1);
	cr_assert(get64(PT + 8 * 5) & D, "a write through a cached read entry did not set Dirty");
	cr_assert_eq(ram[0x100010], 0xa5);
}

Test(emu_paging, not_present_fault)
{
	cr_assert_eq(CATCH(emu_write_sys(c, 0x207123, 4, 1)), EMU_PF);
	cr_assert_eq(c->fault_error, PF_W);
	cr_assert_eq(c->cr2, 0x207123);
}

Test(emu_paging, read_only_page)
{
	put64(PT + 8 * 6, 0x101000 | P | U);
	/* CPL 3: a write faults with P, W and U. */
	c->cpl = 3;
	cr_assert_eq(CATCH(emu_write(c, EMU_DS, 0x206008, 8, 1)), EMU_PF);
	cr_assert_eq(c->fault_error, PF_P | PF_W | PF_U);
	cr_assert_eq(get64(PT + 8 * 6) & D, 0, "a refused write set Dirty");
	/* CPL 0 with CR0.WP: faults too; without WP it writes. */
	c->cpl = 0;
	cr_assert_eq(CATCH(emu_write_sys(c, 0x206008, 8, 2)), EMU_PF);
	cr_assert_eq(c->fault_error, PF_P | PF_W);
	c->cr0 &= ~CR0_WP;
	emu_tlb_flush(c, false);
	cr_assert_eq(CATCH(emu_write_sys(c, 0x206008, 8, 3)), -1);
	cr_assert_eq(get64(0x101008), 3);
}

Test(emu_paging, user_access_to_supervisor_page)
{
	put64(PT + 8 * 7, 0x102000 | P | W);
	c->cpl = 3;
	cr_assert_eq(CATCH(emu_read(c, EMU_DS, 0x207000, 4)), EMU_PF);
	cr_assert_eq(c->fault_error, PF_P | PF_U);
	c->cpl = 0;
	cr_assert_eq(CATCH(emu_read(c, EMU_DS, 0x207000, 4)), -1);
}

Test(emu_paging, nx_fetch)
{
	put64(PT + 8 * 8, 0x103000 | P | W | U | NX);
	cr_assert_eq(CATCH(emu_translate(c, 0x208000, EMU_ACC_EXEC, false)), EMU_PF);
	cr_assert_eq(c->fault_error, PF_P | PF_I);
	cr_assert_eq(CATCH(emu_read_sys(c, 0x208000, 1)), -1, "NX must not stop a read");
}

Test(emu_paging, large_page_global_and_invlpg)
{
	ram[0x600000 + 0x1234] = 0x77;
	cr_assert_eq(CATCH(cr_assert_eq(emu_read_sys(c, 0x401234, 1), 0x77)), -1);
	cr_assert_eq(CATCH(emu_read_sys(c, 0x5ff000, 1)), -1);
	/* The guest remaps the large page: a CR3 load keeps global entries ... */
	put64(PD + 16, 0x200000 | P | W | U | PS);
	emu_tlb_flush(c, true);
	cr_assert_eq(CATCH(cr_assert_eq(emu_read_sys(c, 0x401234, 1), 0x77)), -1);
	/* ... INVLPG of any address in it drops every 4 KiB entry cached from it. */
	emu_tlb_flush_page(c, 0x400000);
	ram[0x200000 + 0x1234] = 0x11;
	ram[0x200000 + 0x1ff000] = 0x22;
	cr_assert_eq(CATCH(cr_assert_eq(emu_read_sys(c, 0x401234, 1), 0x11)), -1);
	cr_assert_eq(CATCH(cr_assert_eq(emu_read_sys(c, 0x5ff000, 1), 0x22)), -1);
}

Test(emu_paging, split_access_faults_before_writing)
{
	put64(PT + 8 * 9, 0x104000 | P | W | U);
	/* 0x20a000 is not present: an 8-byte write across the boundary writes nothing. */
	cr_assert_eq(CATCH(emu_write_sys(c, 0x209ffc, 8, ~0ull)), EMU_PF);
	cr_assert_eq(c->cr2, 0x20a000);
	cr_assert_eq(get64(0x104ff8), 0);
}

Test(emu_paging, legacy_32bit_paging_with_4m_page)
{
	c->efer = 0;
	c->cr4 = CR4_PSE;
	c->cr3 = 0x5000;
	c->seg[EMU_CS].attr = SEG_ATTR_DB | SEG_ATTR_P | SEG_ATTR_S | 0xb;
	emu_update_mode(c);
	emu_tlb_flush(c, false);
	uint32_t pde = 0x400000 | P | W | PS;
	memcpy(ram + 0x5000 + 4 * 3, &pde, 4); /* linear 0xc00000 -> 0x400000 */
	ram[0x400000 + 0x2345] = 0x99;
	cr_assert_eq(CATCH(cr_assert_eq(emu_read_sys(c, 0xc02345, 1), 0x99)), -1);
	memcpy(&pde, ram + 0x5000 + 4 * 3, 4);
	cr_assert(pde & A);
}

/* The machine's ram_fetch: counts what it is asked, every time for the page at 0x100000, and
 * answers that the page may be written only when asked for a write. */
static unsigned fetched_for_read, fetched_for_write;

static int fetch_page(void *ctx, uint64_t ram_offset, bool write)
{
	(void)ctx;
	cr_assert_eq(ram_offset, 0x100000);
	if (write)
		fetched_for_write++;
	else
		fetched_for_read++;
	return write ? 1 : 0;
}

Test(emu_paging, fills_fetch_their_page_and_a_revoked_page_is_fetched_again)
{
	static const struct cpu_io io = {.ram_fetch = fetch_page};
	c->io = &io;
	/* Dirty already, so that the read's fill would allow writes but for the machine. */
	put64(PT + 8 * 5, 0x100000 | P | W | U | A | D);
	cr_assert_eq(CATCH(emu_read_sys(c, 0x205010, 1)), -1);
	cr_assert_eq(CATCH(emu_read_sys(c, 0x205018, 8)), -1);
	cr_assert_eq(fetched_for_read, 1, "one fetch for the fill, none for a hit");
	cr_assert_eq(CATCH(emu_write_sys(c, 0x205010, 1, 0xa5)), -1);
	cr_assert_eq(CATCH(emu_write_sys(c, 0x205020, 1, 0xa6)), -1);
	cr_assert_eq(fetched_for_write, 1,
		     "a write fetches once: the read-only fill kept no write");
	cr_assert_eq(ram[0x100010], 0xa5);
	emu_accel_ops.page_revoked(&accel.base, 0x100000);
	emu_tlb_revoked(c);
	cr_assert_eq(CATCH(emu_read_sys(c, 0x205010, 1)), -1);
	cr_assert_eq(fetched_for_read, 2, "the revoked page's translation went");
}
