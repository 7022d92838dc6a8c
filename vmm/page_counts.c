/* The --profile page table (page_counts.h): linear probing from a multiplicative hash of the
 * page, at most PROBE_LIMIT slots, so that a full table costs a bounded look per add and the
 * rest lands in "other". Adding is the hot part (once per interpreter block); ranking runs once
 * at exit and keeps a small sorted array. */
#include "vmm/page_counts.h"

#include <stdlib.h>

#define PROBE_LIMIT 16

struct page_counts *page_counts_create(void)
{
	return calloc(1, sizeof(struct page_counts));
}

void page_counts_destroy(struct page_counts *t)
{
	free(t);
}

static size_t slot_of(uint64_t page)
{
	return (size_t)((page * 0x9e3779b97f4a7c15ull) >> 52) & (PAGE_COUNTS_SLOTS - 1);
}

void page_counts_add(struct page_counts *t, uint64_t page, uint64_t n)
{
	if (n == 0)
		return;
	size_t s = slot_of(page);
	for (unsigned probe = 0; probe < PROBE_LIMIT; probe++) {
		struct page_count *p = &t->slot[(s + probe) & (PAGE_COUNTS_SLOTS - 1)];
		if (p->count == 0)
			p->page = page;
		if (p->page == page) {
			p->count += n;
			return;
		}
	}
	t->other += n;
}

void page_counts_merge(struct page_counts *dst, const struct page_counts *src)
{
	for (size_t k = 0; k < PAGE_COUNTS_SLOTS; k++)
		if (src->slot[k].count)
			page_counts_add(dst, src->slot[k].page, src->slot[k].count);
	dst->other += src->other;
}

uint64_t page_counts_total(const struct page_counts *t)
{
	uint64_t total = t->other;
	for (size_t k = 0; k < PAGE_COUNTS_SLOTS; k++)
		total += t->slot[k].count;
	return total;
}

size_t page_counts_top(const struct page_counts *t, struct page_count *out, size_t max)
{
	size_t n = 0;
	if (max == 0)
		return 0;
	for (size_t k = 0; k < PAGE_COUNTS_SLOTS; k++) {
		struct page_count c = t->slot[k];
		if (c.count == 0 || (n == max && out[n - 1].count >= c.count))
			continue;
		size_t at = n < max ? n++ : n - 1;
		for (; at > 0 && out[at - 1].count < c.count; at--)
			out[at] = out[at - 1];
		out[at] = c;
	}
	return n;
}
