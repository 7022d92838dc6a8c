/* Range lookup for guest port and MMIO accesses. A handful of devices per space, so a linear scan
 * over a fixed array is both the simplest and the fastest structure. */
#include "devices/iobus.h"

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int iobus_register(struct iobus *bus, enum iobus_space space, uint64_t base, uint64_t len,
		   iobus_handler_fn handler, void *ctx, const char *name)
{
	if (len == 0 || base + len < base || bus->count[space] >= IOBUS_MAX_RANGES)
		return -1;
	for (unsigned i = 0; i < bus->count[space]; i++) {
		const struct iobus_range *r = &bus->ranges[space][i];
		if (ranges_overlap(base, len, r->base, r->len))
			return -1;
	}
	bus->ranges[space][bus->count[space]++] = (struct iobus_range){
	    .base = base, .len = len, .handler = handler, .ctx = ctx, .name = name};
	return 0;
}

const struct iobus_range *iobus_find(const struct iobus *bus, enum iobus_space space, uint64_t addr,
				     unsigned len)
{
	for (unsigned i = 0; i < bus->count[space]; i++) {
		const struct iobus_range *r = &bus->ranges[space][i];
		if (addr < r->base || addr - r->base >= r->len)
			continue;
		/* A port access is decoded by its first port (a 4-byte `out` to 0x502 is one access
		 * to that port); an MMIO access must lie wholly inside the device's window. */
		if (space == IOBUS_PIO || len <= r->len - (addr - r->base))
			return r;
	}
	return NULL;
}
