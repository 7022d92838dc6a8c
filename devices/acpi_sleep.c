/* Sleep control/status register pair at one port. A write with SLP_EN (bit 5) and SLP_TYP
 * (bits 4:2) equal to 5, the value our DSDT's \_S5 package names, is a power-off request; other
 * sleep states are not offered, so they are ignored. The status register reads as zero. */
#include "devices/acpi_sleep.h"

#include <string.h>

#define SLP_EN	   (1u << 5)
#define SLP_TYP(v) (((v) >> 2) & 7u)
#define SLP_TYP_S5 5u

int acpi_sleep_access(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data, unsigned len,
		      bool is_write)
{
	struct acpi_sleep *dev = ctx;
	if (!is_write) {
		memset(data, 0, len);
		return 0;
	}
	if ((data[0] & SLP_EN) && SLP_TYP(data[0]) == SLP_TYP_S5)
		dev->poweroff(dev->ctx);
	return 0;
}
