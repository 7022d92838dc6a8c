/* --profile: where this node's guest time went, printed on stderr at exit. */
#ifndef VSMP_NODE_PROFILE_H
#define VSMP_NODE_PROFILE_H

#include <stddef.h>

struct machine;

/* Gives each interpreter vCPU its table of instructions per code page; says so once if the
 * backend cannot count (KVM). -1: out of memory. */
int node_profile_start(struct machine *m, char *err, size_t errlen);
/* Once the vCPUs are joined and the engine closed (nothing counts any more): the top code
 * pages over all of this node's vCPUs, and the pages that faulted most here. */
void node_profile_print(struct machine *m);
/* Frees the vCPUs' tables. */
void node_profile_destroy(struct machine *m);

#endif
