/* IOAPIC register access (82093AA datasheet): the redirection entry of pin n is registers
 * 0x10 + 2n (low dword) and 0x11 + 2n (high dword, destination in bits 31:24). An entry is
 * written high dword first, so the low dword's write, which may unmask it, comes last. */
#include <stdint.h>

#include "firmware/testguest/ioapic.h"
#include "firmware/testguest/x86.h"

#define IOREGSEL	   0x00
#define IOWIN		   0x10
#define REG_VERSION	   0x01
#define REG_REDIR	   0x10
#define VERSION_MAX_PIN(v) (((v) >> 16) & 0xff)

static uint32_t read_register(uint64_t base, uint32_t reg)
{
	mmio_write32(base + IOREGSEL, reg);
	return mmio_read32(base + IOWIN);
}

static void write_register(uint64_t base, uint32_t reg, uint32_t value)
{
	mmio_write32(base + IOREGSEL, reg);
	mmio_write32(base + IOWIN, value);
}

unsigned ioapic_pins(uint64_t base)
{
	return VERSION_MAX_PIN(read_register(base, REG_VERSION)) + 1;
}

void ioapic_route(uint64_t base, unsigned pin, uint32_t low, uint8_t apic_id)
{
	write_register(base, REG_REDIR + 2 * pin + 1, (uint32_t)apic_id << 24);
	write_register(base, REG_REDIR + 2 * pin, low);
}

uint32_t ioapic_entry_low(uint64_t base, unsigned pin)
{
	return read_register(base, REG_REDIR + 2 * pin);
}
