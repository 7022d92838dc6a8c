/* Guest memory accesses of the software vCPU: segment base -> linear address -> (TLB) ->
 * guest-physical -> guest RAM or the machine's MMIO dispatch. The TLB hits of emu_read/emu_write
 * are inline in emu.h; this is the rest.
 *
 * An access inside one page is one host access (emu_host_load/emu_host_store). An access that
 * crosses a page boundary is split at the boundary, after both pages translated (so a fault on
 * the second page leaves the first untouched). A store to a page holding decoded instructions drops
 * them (emu_code_page_written). Segment limits are not checked: the boot paths and 64-bit code do
 * not rely on them. */
#include <string.h>

#include "firmware/layout.h"
#include "vmm/cpu/emu/emu_internal.h"

uint8_t *emu_ram_host(const struct emu_accel *a, uint64_t gpa, uint64_t len)
{
	uint64_t off = gpa;
	if (gpa >= LAYOUT_MMIO_HOLE_START) {
		if (gpa < LAYOUT_MMIO_HOLE_END)
			return NULL;
		off = gpa - (LAYOUT_MMIO_HOLE_END - LAYOUT_MMIO_HOLE_START);
	}
	if (off >= a->ram_size || len > a->ram_size - off)
		return NULL;
	return a->ram + off;
}

static bool canonical(uint64_t a)
{
	return (uint64_t)(((int64_t)a << 16) >> 16) == a;
}

static inline uint64_t linear_of(struct emu_cpu *c, unsigned seg, uint64_t offset, unsigned size)
{
	if (c->mode == EMU_MODE_64) {
		uint64_t lin = offset;
		if (seg == EMU_FS || seg == EMU_GS)
			lin += c->seg[seg].base;
		if (!canonical(lin) || !canonical(lin + size - 1))
			emu_raise(c, seg == EMU_SS ? EMU_STACK_FAULT : EMU_GP, 0);
		return lin;
	}
	uint64_t base = seg < EMU_SEG_COUNT ? c->seg[seg].base : 0;
	return (base + offset) & 0xffffffffull;
}

uint64_t emu_linear(struct emu_cpu *c, unsigned seg, uint64_t offset, unsigned size)
{
	return linear_of(c, seg, offset, size);
}

static bool user_access(const struct emu_cpu *c)
{
	return c->cpl == 3;
}

static void note_store(struct emu_cpu *c, uint64_t gpa)
{
	struct emu_accel *a = c->accel;
	uint64_t page = gpa >> 12;
	if (page < a->pages && atomic_load_explicit(&a->code_page[page], memory_order_relaxed))
		emu_code_page_written(a, page);
}

static void mmio(struct emu_cpu *c, uint64_t gpa, void *data, unsigned size, bool is_write)
{
	c->io->access(c->io->ctx, CPU_IO_MMIO, gpa, data, size, is_write);
}

/* One access within one page, of at most 8 bytes. */
static uint64_t page_read(struct emu_cpu *c, uint64_t lin, unsigned size, bool user)
{
	const struct emu_tlb_entry *e = emu_translate(c, lin, EMU_ACC_READ, user);
	unsigned off = lin & 0xfff;
	if (e->host)
		return emu_host_load(e->host + off, size);
	uint64_t v = 0;
	mmio(c, e->gpa + off, &v, size, false);
	return v;
}

static void page_write(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v, bool user)
{
	const struct emu_tlb_entry *e = emu_translate(c, lin, EMU_ACC_WRITE, user);
	unsigned off = lin & 0xfff;
	if (e->host) {
		note_store(c, e->gpa);
		emu_host_store(e->host + off, size, v);
		return;
	}
	mmio(c, e->gpa + off, &v, size, true);
}

static uint64_t linear_read(struct emu_cpu *c, uint64_t lin, unsigned size, bool user)
{
	unsigned first = 4096 - (lin & 0xfff);
	if (size <= first)
		return page_read(c, lin, size, user);
	emu_translate(c, lin + first, EMU_ACC_READ, user); /* fault before reading anything */
	uint64_t lo = page_read(c, lin, first, user);
	uint64_t hi = page_read(c, lin + first, size - first, user);
	return lo | hi << (first * 8);
}

static void linear_write(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v, bool user)
{
	unsigned first = 4096 - (lin & 0xfff);
	if (size <= first) {
		page_write(c, lin, size, v, user);
		return;
	}
	emu_translate(c, lin, EMU_ACC_WRITE, user);
	emu_translate(c, lin + first, EMU_ACC_WRITE, user);
	page_write(c, lin, first, v, user);
	page_write(c, lin + first, size - first, v >> (first * 8), user);
}

/* Whatever emu_read/emu_write (emu.h) do not do inline. */
uint64_t emu_read_slow(struct emu_cpu *c, unsigned seg, uint64_t offset, unsigned size)
{
	return linear_read(c, linear_of(c, seg, offset, size), size, user_access(c));
}

void emu_write_slow(struct emu_cpu *c, unsigned seg, uint64_t offset, unsigned size, uint64_t value)
{
	linear_write(c, linear_of(c, seg, offset, size), size, value, user_access(c));
}

/* System structures are at 64-bit linear addresses whenever long mode is active, also in
 * compatibility mode. */
uint64_t emu_read_sys(struct emu_cpu *c, uint64_t linear, unsigned size)
{
	if (!(c->efer & EFER_LMA))
		linear &= 0xffffffffull;
	return linear_read(c, linear, size, false);
}

void emu_write_sys(struct emu_cpu *c, uint64_t linear, unsigned size, uint64_t value)
{
	if (!(c->efer & EFER_LMA))
		linear &= 0xffffffffull;
	linear_write(c, linear, size, value, false);
}

/* Byte ranges: translate every page first, then copy chunk by chunk. */
static void bytes_access(struct emu_cpu *c, uint64_t lin, uint8_t *buf, unsigned size,
			 bool is_write, bool user)
{
	enum emu_access acc = is_write ? EMU_ACC_WRITE : EMU_ACC_READ;
	for (uint64_t p = lin & ~0xfffull; p < lin + size; p += 4096)
		emu_translate(c, p < lin ? lin : p, acc, user);
	while (size) {
		unsigned off = lin & 0xfff, chunk = 4096 - off;
		if (chunk > size)
			chunk = size;
		const struct emu_tlb_entry *e = emu_translate(c, lin, acc, user);
		if (e->host && is_write) {
			note_store(c, e->gpa);
			memcpy(e->host + off, buf, chunk);
		} else if (e->host) {
			memcpy(buf, e->host + off, chunk);
		} else {
			for (unsigned i = 0; i < chunk; i += 8)
				mmio(c, e->gpa + off + i, buf + i, chunk - i < 8 ? chunk - i : 8,
				     is_write);
		}
		lin += chunk;
		buf += chunk;
		size -= chunk;
	}
}

void emu_read_bytes(struct emu_cpu *c, unsigned seg, uint64_t offset, void *out, unsigned size)
{
	bytes_access(c, emu_linear(c, seg, offset, size), out, size, false, user_access(c));
}

void emu_write_bytes(struct emu_cpu *c, unsigned seg, uint64_t offset, const void *in,
		     unsigned size)
{
	bytes_access(c, emu_linear(c, seg, offset, size), (uint8_t *)in, size, true,
		     user_access(c));
}

void emu_fetch_bytes(struct emu_cpu *c, uint64_t linear, uint8_t *out, unsigned len)
{
	const struct emu_tlb_entry *e = emu_translate(c, linear, EMU_ACC_EXEC, user_access(c));
	if (!e->host)
		emu_exit(c, CPU_EXIT_UNSUPPORTED, "vCPU %u: executing outside RAM at 0x%llx",
			 c->cpu.index, (unsigned long long)e->gpa);
	memcpy(out, e->host + (linear & 0xfff), len);
}

void *emu_lock_ptr(struct emu_cpu *c, unsigned seg, uint64_t offset, unsigned size)
{
	uint64_t lin = emu_linear(c, seg, offset, size);
	if ((lin & (size - 1)) || (lin & 0xfff) + size > 4096) {
		emu_translate(c, lin, EMU_ACC_WRITE, user_access(c));
		return NULL;
	}
	const struct emu_tlb_entry *e = emu_translate(c, lin, EMU_ACC_WRITE, user_access(c));
	if (!e->host)
		return NULL;
	note_store(c, e->gpa);
	return e->host + (lin & 0xfff);
}
