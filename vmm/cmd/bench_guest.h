/* `vsmp-vmm bench guest [--nodes N]`: the test guest's ring-3 kernels (compute, STREAM triad,
 * shared-counter contention, TSC skew) on 1 node x N vCPUs and on N nodes x 1 vCPU, each
 * multi-node result printed as a ratio to the single-node one, then one JSON line. */
#ifndef VMM_CMD_BENCH_GUEST_H
#define VMM_CMD_BENCH_GUEST_H

/* argv[0] is "guest". Returns a process exit status. */
int bench_guest_main(int argc, char **argv);

#endif
