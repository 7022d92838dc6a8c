/* The page -> home maps (homes.h). STRIPED and RANGES are arithmetic; FIRST_TOUCH keeps one word
 * per page of what this node learned, written by the protocol under the page's lock. */
#include "coherence/homes.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int init_ranges(struct coh_homes *homes, const uint64_t *range_pages, char *err,
		       size_t errlen)
{
	if (!range_pages) {
		snprintf(err, errlen, "ranges home policy without ranges");
		return -1;
	}
	homes->range_start = calloc((size_t)homes->node_count + 1, sizeof(uint64_t));
	if (!homes->range_start) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	uint64_t total = 0;
	for (uint32_t n = 0; n < homes->node_count; n++) {
		if (range_pages[n] > homes->page_count - total) {
			snprintf(err, errlen, "home ranges exceed the %llu pages at node %u",
				 (unsigned long long)homes->page_count, n);
			goto fail;
		}
		total += range_pages[n];
		homes->range_start[n + 1] = total;
	}
	if (total != homes->page_count) {
		snprintf(err, errlen, "home ranges cover %llu of %llu pages",
			 (unsigned long long)total, (unsigned long long)homes->page_count);
		goto fail;
	}
	return 0;
fail:
	free(homes->range_start);
	homes->range_start = NULL;
	return -1;
}

static int init_mirrors(struct coh_homes *homes, const uint32_t *mirrors, char *err, size_t errlen)
{
	if (!mirrors)
		return 0;
	homes->range_home = calloc(homes->node_count, sizeof(uint32_t));
	homes->range_mirror = calloc(homes->node_count, sizeof(uint32_t));
	if (!homes->range_home || !homes->range_mirror) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (uint32_t n = 0; n < homes->node_count; n++) {
		if (mirrors[n] != COH_NO_MIRROR &&
		    (mirrors[n] >= homes->node_count || mirrors[n] == n)) {
			snprintf(err, errlen, "node %u's range cannot be mirrored by node %u", n,
				 mirrors[n]);
			return -1;
		}
		homes->range_home[n] = n;
		homes->range_mirror[n] = mirrors[n];
	}
	return 0;
}

static int init_learned(struct coh_homes *homes, char *err, size_t errlen)
{
	homes->learned = malloc(homes->page_count * sizeof(*homes->learned));
	if (!homes->learned) {
		snprintf(err, errlen, "out of memory for the homes of %llu pages",
			 (unsigned long long)homes->page_count);
		return -1;
	}
	for (uint64_t p = 0; p < homes->page_count; p++)
		homes->learned[p] = COH_HOME_UNKNOWN;
	return 0;
}

int coh_homes_init(struct coh_homes *homes, uint64_t page_count, uint32_t node_count,
		   const struct coh_home_config *cfg, char *err, size_t errlen)
{
	memset(homes, 0, sizeof(*homes));
	if (node_count == 0 || page_count == 0) {
		snprintf(err, errlen, "coherence needs at least one node and one page");
		return -1;
	}
	if (node_count >= COH_MAX_NODES) {
		snprintf(err, errlen, "%u nodes: at most %u", node_count, COH_MAX_NODES - 1);
		return -1;
	}
	homes->policy = cfg->policy;
	homes->page_count = page_count;
	homes->node_count = node_count;
	homes->stripe_pages = cfg->stripe_pages ? cfg->stripe_pages : COH_DEFAULT_STRIPE_PAGES;
	switch (cfg->policy) {
	case COH_HOME_STRIPED:
		return 0;
	case COH_HOME_RANGES:
		if (init_ranges(homes, cfg->range_pages, err, errlen) < 0)
			return -1;
		if (init_mirrors(homes, cfg->mirrors, err, errlen) == 0)
			return 0;
		coh_homes_free(homes);
		return -1;
	case COH_HOME_FIRST_TOUCH:
		return init_learned(homes, err, errlen);
	}
	snprintf(err, errlen, "unknown home policy %d", (int)cfg->policy);
	return -1;
}

void coh_homes_free(struct coh_homes *homes)
{
	free(homes->range_start);
	free(homes->learned);
	free(homes->range_home);
	free(homes->range_mirror);
	homes->range_start = NULL;
	homes->learned = NULL;
	homes->range_home = homes->range_mirror = NULL;
}

/* The node whose range holds page: the last n with range_start[n] <= page and a non-empty range. */
uint32_t coh_home_range_of(const struct coh_homes *homes, uint64_t page)
{
	uint32_t lo = 0, hi = homes->node_count;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (homes->range_start[mid] <= page)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

uint32_t coh_home_registrar(const struct coh_homes *homes, uint64_t page)
{
	return (uint32_t)((page / homes->stripe_pages) % homes->node_count);
}

void coh_home_range(const struct coh_homes *homes, uint32_t range, uint64_t *first, uint64_t *end)
{
	*first = homes->range_start[range];
	*end = homes->range_start[range + 1];
}

uint32_t coh_home_mirror(const struct coh_homes *homes, uint64_t page)
{
	return homes->range_mirror ? homes->range_mirror[coh_home_range_of(homes, page)]
				   : COH_NO_MIRROR;
}

void coh_home_set_range(struct coh_homes *homes, uint32_t range, uint32_t home, uint32_t mirror)
{
	homes->range_home[range] = home;
	homes->range_mirror[range] = mirror;
}

uint32_t coh_home_of(const struct coh_homes *homes, uint64_t page)
{
	if (homes->policy == COH_HOME_RANGES) {
		uint32_t range = coh_home_range_of(homes, page);
		return homes->range_home ? homes->range_home[range] : range;
	}
	if (homes->policy == COH_HOME_FIRST_TOUCH)
		return homes->learned[page];
	return coh_home_registrar(homes, page);
}

void coh_home_learn(struct coh_homes *homes, uint64_t page, uint32_t home)
{
	homes->learned[page] = home;
}

uint64_t coh_home_slot(const struct coh_homes *homes, uint64_t page)
{
	if (homes->policy == COH_HOME_FIRST_TOUCH || homes->range_home)
		return page;
	if (homes->policy == COH_HOME_RANGES)
		return page - homes->range_start[coh_home_range_of(homes, page)];
	uint64_t stripe = page / homes->stripe_pages;
	return stripe / homes->node_count * homes->stripe_pages + page % homes->stripe_pages;
}

uint64_t coh_home_slot_count(const struct coh_homes *homes, uint32_t node)
{
	if (homes->policy == COH_HOME_FIRST_TOUCH || homes->range_home)
		return homes->page_count;
	if (homes->policy == COH_HOME_RANGES)
		return homes->range_start[node + 1] - homes->range_start[node];
	uint64_t stripes = (homes->page_count + homes->stripe_pages - 1) / homes->stripe_pages;
	if (node >= stripes)
		return 0;
	uint64_t slots = ((stripes - 1 - node) / homes->node_count + 1) * homes->stripe_pages;
	bool has_last_stripe = (stripes - 1) % homes->node_count == node;
	return has_last_stripe ? slots - (stripes * homes->stripe_pages - homes->page_count)
			       : slots;
}
