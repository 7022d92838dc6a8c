/* Output and exit: lines on COM1, each prefixed "TESTGUEST " and printed whole under a lock, and
 * the VMM's exit port. Usable from ring 3 (IOPL=3) and from ring 0. */
#ifndef TESTGUEST_CONSOLE_H
#define TESTGUEST_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* A printf subset: %s %c %d %u %x with an optional l (long), and %%. Always NUL-terminates;
 * returns the length written. */
size_t format(char *buf, size_t cap, const char *fmt, va_list args);
size_t snformat(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void guest_exit(uint8_t status);

#endif
