/* COM1 output and the exit port. A line is formatted into a buffer first and then written to the
 * UART under a lock so that lines from different CPUs never interleave; the lock is taken with a
 * bound, since a CPU that faults while holding it must still be able to report. Each character
 * costs two exits (LSR read, THR write), so the guest prints little. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/testguest/console.h"
#include "firmware/testguest/layout.h"
#include "firmware/testguest/sync.h"
#include "firmware/testguest/x86.h"

#define UART_THR	0
#define UART_LSR	5
#define UART_LSR_THRE	0x20
#define UART_MAX_POLLS	1000
#define LINE_MAX	200
#define PRINT_LOCK_WAIT 2 /* seconds */

static struct spinlock print_lock;

static void uart_put(char c)
{
	for (int i = 0; i < UART_MAX_POLLS && !(inb(PORT_COM1 + UART_LSR) & UART_LSR_THRE); i++)
		cpu_relax();
	outb(PORT_COM1 + UART_THR, (uint8_t)c);
}

struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len++] = c;
}

static void put_unsigned(struct out *o, uint64_t value, unsigned base)
{
	char digits[20];
	int n = 0;
	do {
		digits[n++] = "0123456789abcdef"[value % base];
		value /= base;
	} while (value);
	while (n)
		put(o, digits[--n]);
}

size_t format(char *buf, size_t cap, const char *fmt, va_list args)
{
	struct out o = {buf, cap, 0};
	const char *p = fmt;
	while (*p) {
		char c = *p++;
		if (c != '%') {
			put(&o, c);
			continue;
		}
		bool is_long = *p == 'l';
		if (is_long)
			p++;
		char conversion = *p;
		if (conversion)
			p++;
		switch (conversion) {
		case 's':
			for (const char *s = va_arg(args, const char *); *s; s++)
				put(&o, *s);
			break;
		case 'c':
			put(&o, (char)va_arg(args, int));
			break;
		case 'd': {
			int64_t v = is_long ? va_arg(args, int64_t) : va_arg(args, int);
			if (v < 0)
				put(&o, '-');
			put_unsigned(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = is_long ? va_arg(args, uint64_t) : va_arg(args, unsigned);
			put_unsigned(&o, v, conversion == 'u' ? 10 : 16);
			break;
		}
		case '%':
			put(&o, '%');
			break;
		default: /* an unknown conversion, or a format that ends in '%' */
			put(&o, '?');
		}
	}
	if (o.cap)
		buf[o.len] = 0;
	return o.len;
}

size_t snformat(char *buf, size_t cap, const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	size_t len = format(buf, cap, fmt, args);
	va_end(args);
	return len;
}

static void print_line(const char *prefix, const char *fmt, va_list args)
{
	char line[LINE_MAX];
	size_t len = 0;
	for (const char *p = prefix; *p && len < sizeof(line) - 1; p++)
		line[len++] = *p;
	len += format(line + len, sizeof(line) - len, fmt, args);

	bool locked = spin_lock_within(&print_lock, PRINT_LOCK_WAIT);
	for (size_t i = 0; i < len; i++)
		uart_put(line[i]);
	uart_put('\n');
	if (locked)
		spin_unlock(&print_lock);
}

void say(const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	print_line("TESTGUEST ", fmt, args);
	va_end(args);
}

void fail(const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	print_line("TESTGUEST FAIL ", fmt, args);
	va_end(args);
	guest_exit(1);
}

void guest_exit(uint8_t status)
{
	outb(PORT_EXIT, status);
	for (;;) /* the VMM ends the VM on that write; nothing is left to do if it does not */
		cpu_relax();
}
