/* Reset requests. A write of RESET_REG_VALUE to the reset register, or of the pulse-reset command
 * to the keyboard controller's command port, calls the owner's reset callback, which ends the
 * run; any other value is ignored, as a real controller ignores commands it does not know. There
 * is no keyboard controller otherwise: its status reads as zero, so a guest waiting for its
 * input buffer to drain does not wait. */
#include "devices/reset_port.h"

#include <string.h>

static int reset_on_value(struct reset_port *dev, uint8_t *data, unsigned len, bool is_write,
			  uint8_t value, const char *how)
{
	if (!is_write) {
		memset(data, 0, len);
		return 0;
	}
	if (data[0] == value)
		dev->reset(dev->ctx, how);
	return 0;
}

int reset_reg_access(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data, unsigned len,
		     bool is_write)
{
	return reset_on_value(ctx, data, len, is_write, RESET_REG_VALUE, "the ACPI reset register");
}

int reset_kbc_access(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data, unsigned len,
		     bool is_write)
{
	return reset_on_value(ctx, data, len, is_write, KBC_PULSE_RESET,
			      "the keyboard controller's pulse-reset command");
}
