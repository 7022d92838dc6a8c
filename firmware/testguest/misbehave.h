/* Deliberate misbehaviour (tg.fault=...): the guest does something the VMM does not support, so
 * the tests can check that the VMM stops it cleanly with the right exit status and message. */
#ifndef TESTGUEST_MISBEHAVE_H
#define TESTGUEST_MISBEHAVE_H

#include "firmware/testguest/options.h"

/* Every mode but FAULT_HALT, which each CPU enters with misbehave_halt() once all are up. */
__attribute__((noreturn)) void misbehave(enum fault_mode mode);
__attribute__((noreturn)) void misbehave_halt(unsigned cpu);

#endif
