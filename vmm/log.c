/* Diagnostics on stderr. One write(2) per message so that lines from several vCPU threads and
 * several node processes sharing a terminal do not interleave mid-line. */
#include "vmm/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char log_node[40];
static bool log_is_verbose;

void log_set_node(const char *node)
{
	snprintf(log_node, sizeof(log_node), "%s", node ? node : "");
}

void log_set_verbose(bool verbose)
{
	log_is_verbose = verbose;
}

bool log_verbose(void)
{
	return log_is_verbose;
}

static void log_emit(const char *level, const char *fmt, va_list ap)
{
	char line[1024];
	int n = log_node[0] ? snprintf(line, sizeof(line), "vsmp-vmm[%s]: %s", log_node, level)
			    : snprintf(line, sizeof(line), "vsmp-vmm: %s", level);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit("", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit("", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	if (!log_is_verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_emit("debug: ", fmt, ap);
	va_end(ap);
}
