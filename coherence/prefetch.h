/* Memory mode's read-ahead: detects a sequential run of misses on lent pages and says which pages
 * to fetch ahead of it, and holds the fetched pages aside (staged, not mapped) until a thread
 * touches one, so that the engine can tell pages used from pages fetched for nothing. A staged
 * page is a read-only copy, or (fetched ahead of a run of writes) a writable one.
 * Not thread-safe: its user serializes the calls. docs/coherence.md, "Prefetch". */
#ifndef COHERENCE_PREFETCH_H
#define COHERENCE_PREFETCH_H

#include <stdbool.h>
#include <stdint.h>

#define PREFETCH_TRIGGER 2  /* misses at p-2, p-1 and p make a run */
#define PREFETCH_WINDOW	 16 /* pages fetched ahead of the run */
#define PREFETCH_SLOTS	 64 /* pages in flight or staged at once */

struct prefetch;

struct prefetch *prefetch_create(void);
void prefetch_destroy(struct prefetch *p);

/* A thread missed `page` (or touched a staged one, which continues a run as well). When the
 * misses form a run and fewer than half a window of pages are asked for ahead of it,
 * [*first, *end) are the pages to fetch ahead now (never those already asked for in this run)
 * and the result is true. */
bool prefetch_on_miss(struct prefetch *p, uint64_t page, uint64_t *first, uint64_t *end);

/* The engine asks for `page` ahead: false when no slot is free (then it does not ask). */
bool prefetch_expect(struct prefetch *p, uint64_t page);
/* `page` was asked for ahead and has not arrived: a thread now waits for it, so it is used and
 * will be mapped on arrival like any page. Returns whether it was expected. */
bool prefetch_claim(struct prefetch *p, uint64_t page);
/* The data of an expected page arrived: kept aside, writable or not. false if the page was not
 * expected. */
bool prefetch_stage(struct prefetch *p, uint64_t page, const uint8_t *data, bool writable);
/* The staged bytes of `page` and whether they are writable, or NULL. Valid until
 * prefetch_release. */
const uint8_t *prefetch_staged(struct prefetch *p, uint64_t page, bool *writable);
/* A staged page became read-only (the protocol downgraded it). */
void prefetch_protect(struct prefetch *p, uint64_t page);
/* Forgets `page`'s slot (expected or staged). Returns whether it had one. */
bool prefetch_release(struct prefetch *p, uint64_t page);

#endif
