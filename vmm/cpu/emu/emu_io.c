/* Port I/O of the software vCPU: the permission check, then the machine's device dispatch
 * (c->io), called in the middle of the instruction.
 *
 * In protected mode a port is open to code with CPL <= IOPL; otherwise (and always in
 * virtual-8086 mode) the TSS's I/O permission bitmap decides: one bit per port, 0 allows, every
 * port of the access must be allowed. The bitmap starts at the 16-bit offset at TSS+0x66 (32- and
 * 64-bit TSS alike); the CPU always reads the two bytes holding the access's bits, and a bitmap
 * byte beyond the TSS's limit denies. Denied: #GP(0). Real mode has no protection. */
#include "vmm/cpu/emu/emu_system.h"

#define TSS_IOMAP_BASE 0x66
#define TSS_MIN_LIMIT  0x67

static bool bitmap_allows(struct emu_cpu *c, uint16_t port, unsigned size)
{
	unsigned type = SEG_ATTR_TYPE(c->tr.attr);
	if ((type != SYS_TSS_AVAIL && type != SYS_TSS_BUSY) || c->tr.limit < TSS_MIN_LIMIT)
		return false; /* no TSS, or a 16-bit one: no bitmap */
	uint64_t byte = emu_read_sys(c, c->tr.base + TSS_IOMAP_BASE, 2) + port / 8u;
	if (byte + 1 > c->tr.limit)
		return false;
	uint32_t bits = (uint32_t)emu_read_sys(c, c->tr.base + byte, 2);
	uint32_t want = ((1u << size) - 1) << (port & 7);
	return (bits & want) == 0;
}

static void io_permission(struct emu_cpu *c, uint16_t port, unsigned size)
{
	if (!(c->cr0 & CR0_PE))
		return;
	unsigned iopl = (unsigned)(c->rflags >> 12) & 3;
	if (!(c->rflags & RFLAGS_VM) && c->cpl <= iopl)
		return;
	if (!bitmap_allows(c, port, size))
		emu_raise_gp0(c);
}

uint32_t emu_port_in(struct emu_cpu *c, uint16_t port, unsigned size)
{
	io_permission(c, port, size);
	uint8_t data[4] = {0};
	c->io->access(c->io->ctx, CPU_IO_PIO, port, data, size, false);
	uint32_t v = 0;
	for (unsigned k = 0; k < size; k++)
		v |= (uint32_t)data[k] << (8 * k);
	return v;
}

void emu_port_out(struct emu_cpu *c, uint16_t port, unsigned size, uint32_t value)
{
	io_permission(c, port, size);
	uint8_t data[4];
	for (unsigned k = 0; k < 4; k++)
		data[k] = (uint8_t)(value >> (8 * k));
	c->io->access(c->io->ctx, CPU_IO_PIO, port, data, size, true);
}
