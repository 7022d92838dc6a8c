/* The memory-mode cache: which pages homed on other nodes are resident on this node, and which to
 * give up when there are more than the budget. Pure bookkeeping: the engine tells it what the
 * protocol installs and drops, asks it for victims, and evicts them through the protocol.
 * Replacement is CLOCK (second chance), docs/coherence.md, "The cache". Not thread-safe: its
 * user serializes the calls. */
#ifndef COHERENCE_PAGE_CACHE_H
#define COHERENCE_PAGE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct page_cache;

/* page_count pages, at most budget_pages resident (budget_pages >= 1). */
struct page_cache *page_cache_create(uint64_t page_count, uint64_t budget_pages);
void page_cache_destroy(struct page_cache *c);

/* A page became resident (its data arrived), or a resident page was asked for again (a fault on
 * it, such as a write to a read-only copy): either way it was just used. */
void page_cache_use(struct page_cache *c, uint64_t page);
/* The page is no longer resident (dropped by an eviction or an invalidation). */
void page_cache_remove(struct page_cache *c, uint64_t page);
/* The page was chosen and its write-back started: it stays resident until the home acknowledges
 * it, but no longer counts against the budget, so that it is not chosen again. */
void page_cache_leaving(struct page_cache *c, uint64_t page);

bool page_cache_resident(const struct page_cache *c, uint64_t page);
uint64_t page_cache_resident_count(const struct page_cache *c);
/* Resident pages that are not leaving, beyond the budget. */
uint64_t page_cache_excess(const struct page_cache *c);

/* The next victim by CLOCK: from the clock hand on, the first resident page that is not leaving
 * and not used since the hand last passed it; the hand clears the use bits it passes and stops
 * just after the victim, so a victim the caller cannot evict now (the protocol is busy with it)
 * is passed over by the next call. false when every resident page is leaving. */
bool page_cache_victim(struct page_cache *c, uint64_t *page);
/* Takes `page` as the victim if it is the one the clock would choose next without passing any
 * other page: the hand is on it, and it is resident, not leaving and unused. Lets an eviction go
 * on along a run of consecutive pages exactly as far as the policy itself would. */
bool page_cache_victim_at(struct page_cache *c, uint64_t page);

#endif
