/* Home maps (striped, ranges, first-touch): which node homes each page, and the dense slot of each
 * page among its home's pages, which must be unique and within the home's slot count, for any
 * stripe, range layout and node count; the configurations they refuse; directory storage sizing. */
#include "coherence/directory.h"
#include "coherence/homes.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static struct coh_homes homes_ok(uint64_t pages, uint32_t nodes, struct coh_home_config cfg)
{
	struct coh_homes homes;
	cr_assert_eq(coh_homes_init(&homes, pages, nodes, &cfg, err, sizeof(err)), 0, "%s", err);
	return homes;
}

/* Slots are dense: the homes' slot counts add up to the pages, every slot fits its home's
 * directory and no two pages share one. */
static void check_slots_dense_and_unique(const struct coh_homes *homes)
{
	uint64_t total = 0;
	for (uint32_t n = 0; n < homes->node_count; n++)
		total += coh_home_slot_count(homes, n);
	cr_assert_eq(total, homes->page_count);
	uint64_t *base = calloc(homes->node_count + 1, sizeof(uint64_t));
	for (uint32_t n = 0; n < homes->node_count; n++)
		base[n + 1] = base[n] + coh_home_slot_count(homes, n);
	bool *used = calloc(total, 1);
	cr_assert(base && used);
	for (uint64_t p = 0; p < homes->page_count; p++) {
		uint32_t home = coh_home_of(homes, p);
		uint64_t slot = coh_home_slot(homes, p);
		cr_assert_lt(home, homes->node_count);
		cr_assert_lt(slot, coh_home_slot_count(homes, home), "page %llu",
			     (unsigned long long)p);
		cr_assert_not(used[base[home] + slot], "page %llu shares a slot",
			      (unsigned long long)p);
		used[base[home] + slot] = true;
	}
	free(used);
	free(base);
}

Test(directory, striped_by_one_page_is_the_default)
{
	struct coh_homes homes =
	    homes_ok(10, 3, (struct coh_home_config){.policy = COH_HOME_STRIPED});
	cr_assert_eq(homes.stripe_pages, 1);
	for (uint64_t p = 0; p < 10; p++) {
		cr_assert_eq(coh_home_of(&homes, p), p % 3);
		cr_assert_eq(coh_home_slot(&homes, p), p / 3);
	}
	cr_assert_eq(coh_home_slot_count(&homes, 0), 4);
	cr_assert_eq(coh_home_slot_count(&homes, 1), 3);
	check_slots_dense_and_unique(&homes);
	coh_homes_free(&homes);
}

Test(directory, striped_by_several_pages)
{
	struct coh_homes homes = homes_ok(
	    30, 3, (struct coh_home_config){.policy = COH_HOME_STRIPED, .stripe_pages = 4});
	cr_assert_eq(coh_home_of(&homes, 3), 0);
	cr_assert_eq(coh_home_of(&homes, 4), 1);
	cr_assert_eq(coh_home_of(&homes, 12), 0);
	cr_assert_eq(coh_home_slot(&homes, 12), 4);
	cr_assert_eq(coh_home_of(&homes, 29), 1);
	cr_assert_eq(coh_home_slot(&homes, 29), 9);
	check_slots_dense_and_unique(&homes);
	coh_homes_free(&homes);
}

Test(directory, striped_slots_hold_for_any_shape)
{
	const uint32_t node_counts[] = {1, 2, 5, 64, 130};
	const uint64_t stripes[] = {1, 3, 512};
	for (size_t n = 0; n < 5; n++) {
		for (size_t s = 0; s < 3; s++) {
			for (uint64_t pages = 1; pages < 1200; pages += 397) {
				struct coh_home_config cfg = {.policy = COH_HOME_STRIPED,
							      .stripe_pages = stripes[s]};
				struct coh_homes homes = homes_ok(pages, node_counts[n], cfg);
				check_slots_dense_and_unique(&homes);
				coh_homes_free(&homes);
			}
		}
	}
}

Test(directory, ranges_follow_node_order_and_skip_empty_ones)
{
	const uint64_t ranges[] = {0, 2, 0, 3, 0};
	struct coh_homes homes =
	    homes_ok(5, 5,
		     (struct coh_home_config){
			 .policy = COH_HOME_RANGES, .stripe_pages = 0, .range_pages = ranges});
	const uint32_t expect_home[] = {1, 1, 3, 3, 3};
	const uint64_t expect_slot[] = {0, 1, 0, 1, 2};
	for (uint64_t p = 0; p < 5; p++) {
		cr_assert_eq(coh_home_of(&homes, p), expect_home[p], "page %llu",
			     (unsigned long long)p);
		cr_assert_eq(coh_home_slot(&homes, p), expect_slot[p]);
	}
	cr_assert_eq(coh_home_slot_count(&homes, 0), 0);
	cr_assert_eq(coh_home_slot_count(&homes, 3), 3);
	check_slots_dense_and_unique(&homes);
	coh_homes_free(&homes);
}

Test(directory, ranges_for_130_nodes)
{
	uint64_t ranges[130];
	uint64_t pages = 0;
	for (uint32_t n = 0; n < 130; n++)
		pages += ranges[n] = n % 7;
	struct coh_homes homes =
	    homes_ok(pages, 130,
		     (struct coh_home_config){
			 .policy = COH_HOME_RANGES, .stripe_pages = 0, .range_pages = ranges});
	cr_assert_eq(coh_home_of(&homes, pages - 1), 129);
	cr_assert_eq(coh_home_of(&homes, pages - 4), 128, "node 126 lends nothing");
	check_slots_dense_and_unique(&homes);
	coh_homes_free(&homes);
}

Test(directory, first_touch_starts_unknown_and_keeps_what_it_learns)
{
	struct coh_homes homes = homes_ok(
	    10, 3, (struct coh_home_config){.policy = COH_HOME_FIRST_TOUCH, .stripe_pages = 2});
	for (uint64_t p = 0; p < 10; p++) {
		cr_assert_eq(coh_home_of(&homes, p), COH_HOME_UNKNOWN);
		cr_assert_eq(coh_home_registrar(&homes, p), (p / 2) % 3, "registrars are striped");
		cr_assert_eq(coh_home_slot(&homes, p), p, "any node may home any page");
	}
	for (uint32_t n = 0; n < 3; n++)
		cr_assert_eq(coh_home_slot_count(&homes, n), 10);
	coh_home_learn(&homes, 7, COH_HOME_ASKED);
	cr_assert_eq(coh_home_of(&homes, 7), COH_HOME_ASKED);
	coh_home_learn(&homes, 7, 2);
	cr_assert_eq(coh_home_of(&homes, 7), 2);
	cr_assert_eq(coh_home_of(&homes, 6), COH_HOME_UNKNOWN);
	coh_homes_free(&homes);
}

static void expect_homes_error(uint64_t pages, uint32_t nodes, struct coh_home_config cfg,
			       const char *expected)
{
	struct coh_homes homes;
	cr_assert_eq(coh_homes_init(&homes, pages, nodes, &cfg, err, sizeof(err)), -1);
	cr_assert(strstr(err, expected), "expected \"%s\" in \"%s\"", expected, err);
	cr_assert_null(homes.range_start);
}

Test(directory, refused_configurations)
{
	const uint64_t too_many[] = {3, 3};
	const uint64_t too_few[] = {1, 1};
	const uint64_t overflow[] = {UINT64_MAX, 2};
	expect_homes_error(4, 0, (struct coh_home_config){.policy = COH_HOME_STRIPED},
			   "at least one node");
	expect_homes_error(0, 2, (struct coh_home_config){.policy = COH_HOME_STRIPED}, "one page");
	expect_homes_error(4, 2, (struct coh_home_config){.policy = COH_HOME_RANGES},
			   "without ranges");
	expect_homes_error(4, 2,
			   (struct coh_home_config){.policy = COH_HOME_RANGES,
						    .stripe_pages = 0,
						    .range_pages = too_many},
			   "exceed the 4 pages at node 1");
	expect_homes_error(4, 2,
			   (struct coh_home_config){.policy = COH_HOME_RANGES,
						    .stripe_pages = 0,
						    .range_pages = too_few},
			   "cover 2 of 4 pages");
	expect_homes_error(4, 2,
			   (struct coh_home_config){.policy = COH_HOME_RANGES,
						    .stripe_pages = 0,
						    .range_pages = overflow},
			   "exceed");
	expect_homes_error(4, 2, (struct coh_home_config){.policy = (enum coh_home_policy)7},
			   "unknown home policy 7");
}

Test(directory, storage_is_sized_for_the_cluster)
{
	struct coh_directory dir;
	cr_assert_eq(dir_init(&dir, 10, 130, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(dir.words, 3);
	for (uint64_t slot = 0; slot < 10; slot++) {
		cr_assert_eq(dir.entries[slot].state, DIR_UNOWNED);
		cr_assert_eq(dir_sharer_count(&dir, slot), 0);
		cr_assert_not(dir_is_sharer(&dir, slot, 129));
	}
	dir_free(&dir);
	cr_assert_eq(dir_init(&dir, 0, 4, err, sizeof(err)), 0, "a node homing no page");
	cr_assert_null(dir.entries);
	dir_free(&dir);
}
