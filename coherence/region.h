/* A coherent region's local end: memory (a memfd-backed shared mapping) whose accesses the engine
 * intercepts with userfaultfd. A missing page, or a write to a write-protected one, suspends the
 * touching thread - a vCPU inside KVM_RUN or any VMM thread alike - and reports the fault; the
 * engine resolves it by installing the page, which wakes every thread waiting on it. */
#ifndef COHERENCE_REGION_H
#define COHERENCE_REGION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REGION_PAGE_SIZE 4096u

struct region;

/* What the host's page tables cost: operations and the nanoseconds spent in them, for mapping a
 * page (region_install), unmapping pages (region_drop) and changing their protection. Owned by
 * whoever creates the region, so that it outlives it; updated by every thread that calls them. */
enum region_host_op { REGION_HOST_MAP, REGION_HOST_UNMAP, REGION_HOST_PROTECT, REGION_HOST_OPS };
struct region_host_time {
	atomic_uint_fast64_t ops[REGION_HOST_OPS], ns[REGION_HOST_OPS];
};

struct region_ops {
	/* Runs in region_serve. The engine must later install or wake the page. */
	void (*fault)(void *ctx, uint64_t page, bool write);
};

/* host_time: where the region counts its page-table operations (may be NULL). */
struct region *region_create(uint8_t *host, int memfd, uint64_t size, const struct region_ops *ops,
			     void *ctx, struct region_host_time *host_time, char *err,
			     size_t errlen);
/* Threads still waiting in a fault are woken (their access retries). Nobody may be in
 * region_serve. */
void region_destroy(struct region *r);
/* Readable when fault messages are pending. */
int region_fd(const struct region *r);
/* Hands pending fault messages (up to a batch; call again for more) to ops->fault without
 * waiting; returns how many. */
unsigned region_serve(struct region *r);

/* Maps `data` into a missing page, writable or read-only; wakes its waiters. */
int region_install(struct region *r, uint64_t page, const void *data, bool writable);
/* Makes a present read-only page writable; wakes its waiters. */
int region_unprotect(struct region *r, uint64_t page);
/* Makes the present pages of `count` pages from `first` read-only (one unmapping's worth of TLB
 * work, as region_drop): the next write to any of them faults. */
int region_protect(struct region *r, uint64_t first, uint64_t count);
/* Drops the local copies of `count` pages from `first` (one hole, one unmapping): the next access
 * to any of them faults as missing. */
int region_drop(struct region *r, uint64_t first, uint64_t count);
/* Copies the local bytes of a page without touching the mapping (no fault, even if missing). */
int region_read(struct region *r, uint64_t page, void *buf);
/* Stores bytes into a page without touching the mapping (for a page nobody here accesses: a
 * mirror's copy of another node's memory). */
int region_write(struct region *r, uint64_t page, const void *data);
/* Wakes threads waiting on a page whose fault turned out to be already satisfied. */
int region_wake(struct region *r, uint64_t page);
uint64_t region_page_count(const struct region *r);

#endif
