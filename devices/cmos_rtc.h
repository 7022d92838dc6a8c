/* The PC's CMOS real-time clock (MC146818) at ports 0x70 (index) and 0x71 (data), showing the
 * host's wall-clock time: what Linux's rtc_cmos driver probes at boot. Without it the ports read
 * all-ones, the "update in progress" bit never clears and the driver spins in udelay() polling
 * it, seconds of interpreted ring 0 in one non-preemptible stretch (a soft lockup on a loaded
 * host). Thread-safe (any vCPU's thread). */
#ifndef DEVICES_CMOS_RTC_H
#define DEVICES_CMOS_RTC_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "devices/iobus.h"

#define CMOS_RTC_PORT  0x70
#define CMOS_RTC_PORTS 2

struct cmos_rtc {
	pthread_mutex_t lock;
	time_t (*now)(void); /* seconds since 1970, UTC */
	uint8_t index;
	uint8_t ram[128]; /* registers and NVRAM as last written */
};

/* now == NULL: the host's time(). */
void cmos_rtc_init(struct cmos_rtc *rtc, time_t (*now)(void));
void cmos_rtc_destroy(struct cmos_rtc *rtc);

/* The I/O bus handler for CMOS_RTC_PORT..+1; ctx is the struct cmos_rtc. */
int cmos_rtc_access(void *ctx, unsigned vcpu, uint64_t offset, uint8_t *data, unsigned len,
		    bool is_write);

#endif
