/* Unit tests for the CMOS RTC: the time in BCD and binary, 24- and 12-hour modes, a clear
 * update-in-progress bit, valid-time and no-interrupt flags, ignored time writes, kept NVRAM. */
#include <criterion/criterion.h>

#include "devices/cmos_rtc.h"

static time_t fixed_now(void)
{
	return 1796564490; /* 2026-12-06 (Sunday) 13:41:30 UTC */
}

static struct cmos_rtc R;

static void setup(void)
{
	cmos_rtc_init(&R, fixed_now);
}

static void teardown(void)
{
	cmos_rtc_destroy(&R);
}

static uint8_t rd(uint8_t index)
{
	uint8_t v = index | 0x80; /* with NMI masked, as Linux writes it */
	cmos_rtc_access(&R, 0, 0, &v, 1, true);
	cmos_rtc_access(&R, 0, 1, &v, 1, false);
	return v;
}

static void wr(uint8_t index, uint8_t value)
{
	cmos_rtc_access(&R, 0, 0, &index, 1, true);
	cmos_rtc_access(&R, 0, 1, &value, 1, true);
}

TestSuite(cmos_rtc, .init = setup, .fini = teardown);

Test(cmos_rtc, bcd_24_hour_time)
{
	cr_assert_eq(rd(0x00), 0x30, "seconds");
	cr_assert_eq(rd(0x02), 0x41, "minutes");
	cr_assert_eq(rd(0x04), 0x13, "hours");
	cr_assert_eq(rd(0x06), 0x01, "Sunday");
	cr_assert_eq(rd(0x07), 0x06, "day");
	cr_assert_eq(rd(0x08), 0x12, "month");
	cr_assert_eq(rd(0x09), 0x26, "year");
	cr_assert_eq(rd(0x32), 0x20, "century");
}

Test(cmos_rtc, binary_and_12_hour_modes)
{
	wr(0x0b, 0x04); /* binary, 12-hour */
	cr_assert_eq(rd(0x00), 30);
	cr_assert_eq(rd(0x04), 0x80 | 1, "1 PM");
	cr_assert_eq(rd(0x09), 26);
	wr(0x0b, 0x00); /* BCD, 12-hour */
	cr_assert_eq(rd(0x04), 0x81);
}

Test(cmos_rtc, status_registers)
{
	cr_assert_eq(rd(0x0a) & 0x80, 0, "never an update in progress");
	cr_assert_eq(rd(0x0b), 0x02, "BCD, 24-hour at power-on");
	cr_assert_eq(rd(0x0c), 0, "no interrupt flags");
	cr_assert_eq(rd(0x0d), 0x80, "valid RAM and time");
	wr(0x0a, 0xa6);
	cr_assert_eq(rd(0x0a), 0x26, "UIP is read-only");
}

Test(cmos_rtc, writes_keep_nvram_not_time)
{
	wr(0x00, 0x59);
	cr_assert_eq(rd(0x00), 0x30, "the clock is the host's");
	wr(0x01, 0x45); /* alarm seconds */
	wr(0x40, 0xab);
	cr_assert_eq(rd(0x01), 0x45);
	cr_assert_eq(rd(0x40), 0xab);
}

Test(cmos_rtc, hostile_accesses)
{
	uint8_t v[4] = {0};
	cr_assert_eq(cmos_rtc_access(&R, 0, 0, v, 4, false), 0);
	cr_assert_eq(v[3], 0xff, "wide access: floating bus");
	cr_assert_eq(cmos_rtc_access(&R, 0, 7, v, 1, false), 0);
	cr_assert_eq(v[0], 0xff);
	cr_assert_eq(cmos_rtc_access(&R, 0, 0, v, 1, false), 0);
	cr_assert_eq(v[0], 0xff, "the index port is write-only");
	uint8_t index = 0xff;
	cmos_rtc_access(&R, 0, 0, &index, 1, true);
	cr_assert_eq(R.index, 0x7f, "the index stays inside the 128 bytes");
}
