/* `vsmp-vmm bench ...`: benchmarks that print each result beside its floor measured in the same
 * run, as a ratio, and end with one JSON line for scripts. */
#ifndef VMM_BENCH_H
#define VMM_BENCH_H

int bench_main(int argc, char **argv);

#endif
