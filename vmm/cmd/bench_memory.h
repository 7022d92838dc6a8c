/* `vsmp-vmm bench memory`: memory expansion mode's costs at the coherence engine, on three node
 * processes of this host, each beside the same over all-local memory and beside the floor (the
 * transport's 4 KiB round trip) measured in the same run. */
#ifndef VMM_CMD_BENCH_MEMORY_H
#define VMM_CMD_BENCH_MEMORY_H

int bench_memory_main(int argc, char **argv);

#endif
