/* Diagnostics: every message goes to stderr prefixed with "vsmp-vmm: " (and the node name once one
 * is known), so that the guest's console on stdout stays clean. */
#ifndef VMM_LOG_H
#define VMM_LOG_H

#include <stdbool.h>

void log_set_node(const char *node);
void log_set_verbose(bool verbose);
bool log_verbose(void);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
