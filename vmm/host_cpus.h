/* Which of this host's CPUs a node runs on when several nodes share the host (the local
 * launcher, the benchmarks). On this kind of host a page handed between two nodes costs a wake-up
 * on another CPU, and nodes left to the scheduler chase each other across the CPUs; pinned, the
 * same 3-node Linux boot ran in 0.7x the time (docs/benchmarks.md, "Nodes on their own CPUs"). */
#ifndef VMM_HOST_CPUS_H
#define VMM_HOST_CPUS_H

#include <stdbool.h>

/* The CPUs this process may use, counted at the first call (before anything pinned it). */
unsigned host_cpus_count(void);

/* Node `node` of `nodes` sharing `cpus` CPUs: the first of its CPUs (an index into the allowed
 * ones) and how many, or false when nothing is gained by pinning (one node, or one CPU). With
 * at least as many CPUs as nodes each node gets its own, the first nodes one more when they do
 * not divide evenly; with fewer, node 0 (the BSP's: it runs the guest's boot alone, and owns
 * the devices) gets the first CPU to itself and the other nodes take turns on the rest. */
bool host_cpus_share(unsigned node, unsigned nodes, unsigned cpus, unsigned *first,
		     unsigned *count);

/* Pins the calling thread, and what it starts afterwards, to `count` allowed CPUs from the
 * `first`th on (wrapping around); says why on stderr when it cannot. */
void host_cpus_pin(unsigned first, unsigned count);

#endif
