/* The memtest workloads, run by every thread of every node on the coherent region. Threads are
 * numbered globally (node * threads_per_node + t); roles in each litmus test are given to threads
 * on different nodes so that every access that matters crosses the network. */
#ifndef VMM_CMD_MEMTEST_WORKLOADS_H
#define VMM_CMD_MEMTEST_WORKLOADS_H

#include <stdbool.h>
#include <stdint.h>

#define MEMTEST_PAGE 4096u

struct memtest_env {
	uint8_t *region; /* the coherent region, MEMTEST_PAGES pages */
	unsigned nodes, threads_per_node;
	unsigned iters;
	uint64_t seed;
	uint64_t deadline_ns; /* every wait gives up (as a failure) past this */
	/* The stress's odd-numbered threads call it before each access of the region at byte
	 * `offset`, as the software vCPU does when it translates an address anew (engine_access);
	 * the even ones reach pages through the host's fault alone. NULL: none does. */
	void (*fetch)(void *ctx, uint64_t offset, bool write);
	void *fetch_ctx;
};

enum memtest_result {
	MEMTEST_OK,
	MEMTEST_FAILED,	       /* something forbidden was seen, or a wait timed out */
	MEMTEST_NOT_EXERCISED, /* nothing forbidden, but a reader never overlapped its writer */
};

/* Each says what the thread saw; it writes its observations into *note. `sense` is the thread's
 * barrier sense, shared by every barrier the thread passes. */
typedef enum memtest_result (*memtest_fn)(const struct memtest_env *env, unsigned thread,
					  uint64_t *sense, char *note, unsigned note_len);

struct memtest_workload {
	const char *name;
	memtest_fn run;
	unsigned min_threads; /* global threads it needs */
};

extern const struct memtest_workload memtest_workloads[];
extern const unsigned memtest_workload_count;
/* Pages the workloads use, laid out in the region; the region must have at least this many. */
#define MEMTEST_PAGES 512u

/* A sense-reversing barrier over every thread of every node, in the region itself. */
bool memtest_barrier(const struct memtest_env *env, unsigned thread, uint64_t *sense);

/* Every thread's env->seed becomes thread 0's (node 0's): the nodes may each have taken their
 * own from the clock. A barrier; false if it timed out. */
bool memtest_agree_seed(struct memtest_env *env, unsigned thread, uint64_t *sense);

#endif
