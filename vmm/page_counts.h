/* A bounded count per 4 KiB page (a guest code page's instructions, a guest-physical page's
 * faults) for --profile: a fixed open-addressed table with one writer and no locks; once it is
 * full, or a key's probe run is, counts go to an "other" bucket so memory stays bounded. */
#ifndef VSMP_PAGE_COUNTS_H
#define VSMP_PAGE_COUNTS_H

#include <stddef.h>
#include <stdint.h>

#define PAGE_COUNTS_SLOTS 4096 /* a power of two */

struct page_count {
	uint64_t page; /* address >> 12 */
	uint64_t count;
};

struct page_counts {
	struct page_count slot[PAGE_COUNTS_SLOTS]; /* count 0: free */
	uint64_t other;				   /* counts of pages that found no slot */
};

/* Zeroed (every slot free); NULL if out of memory. */
struct page_counts *page_counts_create(void);
void page_counts_destroy(struct page_counts *t);
void page_counts_add(struct page_counts *t, uint64_t page, uint64_t n);
/* Adds every count of `src` to `dst` (several vCPUs' tables into one). */
void page_counts_merge(struct page_counts *dst, const struct page_counts *src);
/* Every count, the "other" bucket included. */
uint64_t page_counts_total(const struct page_counts *t);
/* The `max` pages with the highest counts, highest first; how many were written. */
size_t page_counts_top(const struct page_counts *t, struct page_count *out, size_t max);

#endif
