/* Unit tests for the reset requests: the reset value at the FADT reset register and 0xFE at the
 * keyboard controller's command port reset, once per write; any other value, and reads, do not. */
#include <criterion/criterion.h>

#include "devices/reset_port.h"

static unsigned resets;
static const char *last_how;

static void count_reset(void *ctx, const char *how)
{
	(void)ctx;
	resets++;
	last_how = how;
}

static struct reset_port dev = {.reset = count_reset};

static void setup(void)
{
	resets = 0;
	last_how = NULL;
}

TestSuite(reset_port, .init = setup);

static void write_byte(iobus_handler_fn handler, uint8_t value)
{
	cr_assert_eq(handler(&dev, 0, 0, &value, 1, true), 0);
}

Test(reset_port, reset_value_resets)
{
	write_byte(reset_reg_access, RESET_REG_VALUE);
	cr_assert_eq(resets, 1);
	cr_assert_str_eq(last_how, "the ACPI reset register");
}

Test(reset_port, kbc_pulse_reset_resets)
{
	write_byte(reset_kbc_access, 0xFE);
	cr_assert_eq(resets, 1);
	cr_assert_str_eq(last_how, "the keyboard controller's pulse-reset command");
}

Test(reset_port, other_values_are_ignored)
{
	for (unsigned v = 0; v < 256; v++) {
		if (v != RESET_REG_VALUE)
			write_byte(reset_reg_access, (uint8_t)v);
		if (v != KBC_PULSE_RESET)
			write_byte(reset_kbc_access, (uint8_t)v);
	}
	cr_assert_eq(resets, 0);
}

Test(reset_port, reads_are_zero_and_do_not_reset)
{
	uint8_t data[4] = {0xAA, 0xAA, 0xAA, 0xAA};

	cr_assert_eq(reset_kbc_access(&dev, 0, 0, data, 4, false), 0);
	cr_assert_eq(reset_reg_access(&dev, 0, 0, data, 1, false), 0);
	cr_assert_eq(data[0] | data[1] | data[2] | data[3], 0, "status: no byte waiting");
	cr_assert_eq(resets, 0);
}
