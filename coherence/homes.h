/* Which node is each page's home, the node whose memory backs the page and whose directory entry
 * serves it. Three policies: STRIPED and RANGES fix every home up front; FIRST_TOUCH makes the
 * first node to touch a page its home, decided by the page's registrar (the node STRIPED would
 * pick) and learned by the others on demand, so struct coh_homes also keeps what this node has
 * learned. Learned homes never change, which is what makes caching them safe. */
#ifndef COHERENCE_HOMES_H
#define COHERENCE_HOMES_H

#include <stddef.h>
#include <stdint.h>

/* STRIPED: page p's home is (p / stripe_pages) % node_count. RANGES: node n homes range_pages[n]
 * consecutive pages after those of nodes 0..n-1 (the guest's NUMA layout). FIRST_TOUCH: the first
 * node to fault on a page, as recorded by its registrar, which is the node STRIPED would pick. */
enum coh_home_policy { COH_HOME_STRIPED, COH_HOME_RANGES, COH_HOME_FIRST_TOUCH };

#define COH_DEFAULT_STRIPE_PAGES 1u

/* What coh_home_of() answers under FIRST_TOUCH for a home this node has not learned yet. */
#define COH_HOME_UNKNOWN UINT32_MAX	  /* nobody has told this node */
#define COH_HOME_ASKED	 (UINT32_MAX - 1) /* this node asked the registrar and awaits the answer */
#define COH_MAX_NODES	 COH_HOME_ASKED
/* A range without a second copy. */
#define COH_NO_MIRROR UINT32_MAX

struct coh_home_config {
	enum coh_home_policy policy;
	uint64_t stripe_pages;	     /* STRIPED and FIRST_TOUCH; 0 means COH_DEFAULT_STRIPE_PAGES */
	const uint64_t *range_pages; /* RANGES: node_count entries summing to page_count */
	/* RANGES, memory mode's replicas: node n's range is also kept by mirrors[n] (COH_NO_MIRROR:
	 * by nobody else). NULL: no replicas, and every range stays with its node. */
	const uint32_t *mirrors;
};

struct coh_homes {
	enum coh_home_policy policy;
	uint64_t page_count;
	uint32_t node_count;
	uint64_t stripe_pages;
	uint64_t *range_start; /* RANGES: node_count + 1 ascending offsets */
	/* RANGES with replicas: who serves range r now (r until it is lost) and who keeps its
	 * second copy; NULL without replicas. Changed only by coh_home_set_range. */
	uint32_t *range_home, *range_mirror;
	uint32_t *learned; /* FIRST_TOUCH: per page, the home or COH_HOME_UNKNOWN / _ASKED */
};

int coh_homes_init(struct coh_homes *homes, uint64_t page_count, uint32_t node_count,
		   const struct coh_home_config *cfg, char *err, size_t errlen);
void coh_homes_free(struct coh_homes *homes);
/* The page's home; under FIRST_TOUCH what this node learned so far. Callers serialize per page. */
uint32_t coh_home_of(const struct coh_homes *homes, uint64_t page);
/* FIRST_TOUCH: record what this node learned (a home, or COH_HOME_ASKED). */
void coh_home_learn(struct coh_homes *homes, uint64_t page, uint32_t home);
/* The node that decides the page's home under FIRST_TOUCH (its STRIPED home). */
uint32_t coh_home_registrar(const struct coh_homes *homes, uint64_t page);
/* RANGES: the range (its first node's number) that holds page, and where range r lies. */
uint32_t coh_home_range_of(const struct coh_homes *homes, uint64_t page);
void coh_home_range(const struct coh_homes *homes, uint32_t range, uint64_t *first, uint64_t *end);
/* RANGES with replicas: the node keeping the second copy of page (COH_NO_MIRROR: none). */
uint32_t coh_home_mirror(const struct coh_homes *homes, uint64_t page);
/* RANGES with replicas: range r is served by home and mirrored by mirror from now on. */
void coh_home_set_range(struct coh_homes *homes, uint32_t range, uint32_t home, uint32_t mirror);
/* Dense index of `page` among the directory entries of a node, and how many a node keeps. Under
 * FIRST_TOUCH any node may home any page, so each keeps one per page; so does every node under
 * RANGES with replicas, since a mirror may have to serve the range it keeps. */
uint64_t coh_home_slot(const struct coh_homes *homes, uint64_t page);
uint64_t coh_home_slot_count(const struct coh_homes *homes, uint32_t node);

#endif
