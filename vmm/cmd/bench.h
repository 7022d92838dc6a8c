/* `vsmp-vmm bench ...`: benchmarks that print each result beside its floor measured in the same
 * run, as a ratio, and end with one JSON line for scripts. */
#ifndef VMM_CMD_BENCH_H
#define VMM_CMD_BENCH_H

#include <stddef.h>

int bench_main(int argc, char **argv);

/* Makes a private directory $TMPDIR/vsmp-NAME.XXXXXX (/tmp without TMPDIR) into dir, for a
 * benchmark's configuration and key; logs and returns -1 if it cannot. */
int bench_make_temp_dir(const char *name, char *dir, size_t len);

#endif
