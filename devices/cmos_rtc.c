/* MC146818 registers as Linux uses them. Reading a time register (seconds 0x00, minutes 0x02,
 * hours 0x04, weekday 0x06, day 0x07, month 0x08, year 0x09, century 0x32) converts now() in
 * the data mode register B asks for (BCD or binary, 24- or 12-hour); the "update in progress"
 * bit (register A bit 7) is never set, since a read takes the time at once; register C has no
 * interrupt flags (the alarm and periodic interrupts are not offered: no IRQ 8) and register D
 * says the time is valid. Writes to the time registers are ignored, as the clock is the host's;
 * everything else (alarm registers, A and B, NVRAM) keeps what the guest writes. */
#include "devices/cmos_rtc.h"

#include <string.h>

#define REG_SECONDS 0x00
#define REG_MINUTES 0x02
#define REG_HOURS   0x04
#define REG_WEEKDAY 0x06
#define REG_DAY	    0x07
#define REG_MONTH   0x08
#define REG_YEAR    0x09
#define REG_A	    0x0a
#define REG_B	    0x0b
#define REG_C	    0x0c
#define REG_D	    0x0d
#define REG_CENTURY 0x32

#define A_UIP	   0x80
#define A_DEFAULT  0x26 /* 32.768 kHz time base, 1024 Hz rate */
#define B_24H	   0x02
#define B_BINARY   0x04
#define D_VALID	   0x80
#define HOUR_PM	   0x80
#define INDEX_MASK 0x7f /* bit 7 of the index port masks NMI: ignored */

static time_t host_now(void)
{
	return time(NULL);
}

void cmos_rtc_init(struct cmos_rtc *rtc, time_t (*now)(void))
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->now = now ? now : host_now;
	rtc->ram[REG_A] = A_DEFAULT;
	rtc->ram[REG_B] = B_24H;
}

void cmos_rtc_destroy(struct cmos_rtc *rtc)
{
	pthread_mutex_destroy(&rtc->lock);
}

static uint8_t encode(const struct cmos_rtc *rtc, unsigned value)
{
	if (rtc->ram[REG_B] & B_BINARY)
		return (uint8_t)value;
	return (uint8_t)((value / 10) << 4 | value % 10);
}

static uint8_t encode_hours(const struct cmos_rtc *rtc, unsigned hours)
{
	if (rtc->ram[REG_B] & B_24H)
		return encode(rtc, hours);
	unsigned twelve = hours % 12 ? hours % 12 : 12;
	return (uint8_t)(encode(rtc, twelve) | (hours >= 12 ? HOUR_PM : 0));
}

static bool is_time_register(unsigned index)
{
	return index == REG_SECONDS || index == REG_MINUTES || index == REG_HOURS ||
	       (index >= REG_WEEKDAY && index <= REG_YEAR) || index == REG_CENTURY;
}

static uint8_t read_time(const struct cmos_rtc *rtc, unsigned index)
{
	time_t now = rtc->now();
	struct tm tm;
	gmtime_r(&now, &tm);
	switch (index) {
	case REG_SECONDS:
		return encode(rtc, (unsigned)tm.tm_sec);
	case REG_MINUTES:
		return encode(rtc, (unsigned)tm.tm_min);
	case REG_HOURS:
		return encode_hours(rtc, (unsigned)tm.tm_hour);
	case REG_WEEKDAY:
		return encode(rtc, (unsigned)tm.tm_wday + 1);
	case REG_DAY:
		return encode(rtc, (unsigned)tm.tm_mday);
	case REG_MONTH:
		return encode(rtc, (unsigned)tm.tm_mon + 1);
	case REG_YEAR:
		return encode(rtc, (unsigned)(tm.tm_year % 100));
	default: /* REG_CENTURY */
		return encode(rtc, (unsigned)(19 + tm.tm_year / 100));
	}
}

static uint8_t read_register(const struct cmos_rtc *rtc, unsigned index)
{
	if (is_time_register(index))
		return read_time(rtc, index);
	if (index == REG_A)
		return rtc->ram[REG_A] & ~A_UIP;
	if (index == REG_C)
		return 0;
	if (index == REG_D)
		return D_VALID;
	return rtc->ram[index];
}

static void write_register(struct cmos_rtc *rtc, unsigned index, uint8_t value)
{
	if (is_time_register(index) || index == REG_C || index == REG_D)
		return;
	rtc->ram[index] = value;
}

int cmos_rtc_access(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data, unsigned len,
		    bool is_write)
{
	struct cmos_rtc *rtc = ctx;
	if (len != 1 || offset >= CMOS_RTC_PORTS) {
		if (!is_write)
			memset(data, 0xff, len);
		return 0;
	}
	pthread_mutex_lock(&rtc->lock);
	if (offset == 0) {
		if (is_write)
			rtc->index = data[0] & INDEX_MASK;
		else
			data[0] = 0xff; /* the index port is write-only */
	} else if (is_write) {
		write_register(rtc, rtc->index, data[0]);
	} else {
		data[0] = read_register(rtc, rtc->index);
	}
	pthread_mutex_unlock(&rtc->lock);
	return 0;
}
