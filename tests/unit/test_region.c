/* The region's fault capture on real userfaultfd: missing and write-protect faults reach the
 * callback with the right page and access, and each resolution wakes the faulting thread. A
 * thread of the test's own serves the faults, as the transport's thread does in the engine. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coherence/region.h"

#define PAGES 16

struct fault_log {
	struct region *r;
	atomic_int faults, write_faults;
	atomic_int served; /* faults whose on_fault has returned */
	atomic_long last_page;
	uint8_t fill;
	bool present[PAGES]; /* what the engine would know: is there a local copy */
};

static void on_fault(void *ctx, uint64_t page, bool write)
{
	struct fault_log *log = ctx;
	atomic_fetch_add(&log->faults, 1);
	atomic_store(&log->last_page, (long)page);
	if (write)
		atomic_fetch_add(&log->write_faults, 1);
	if (log->present[page] && write) {
		region_unprotect(log->r, page);
		atomic_fetch_add(&log->served, 1);
		return;
	}
	uint8_t data[REGION_PAGE_SIZE];
	memset(data, log->fill, sizeof(data));
	region_install(log->r, page, data, write);
	log->present[page] = true;
	atomic_fetch_add(&log->served, 1);
}

static const struct region_ops ops = {.fault = on_fault};

struct fixture {
	int memfd;
	uint8_t *mem;
	struct fault_log log;
	struct region_host_time host_time;
	int stop_fd;
	pthread_t server;
};

/* What the engine has the transport's thread do: wait for fault messages and serve them. */
static void *serve_faults(void *arg)
{
	struct fixture *f = arg;
	struct pollfd fds[2] = {{.fd = region_fd(f->log.r), .events = POLLIN},
				{.fd = f->stop_fd, .events = POLLIN}};
	while (poll(fds, 2, -1) >= 0 && !fds[1].revents)
		region_serve(f->log.r);
	return NULL;
}

static void fixture_init(struct fixture *f)
{
	*f = (struct fixture){0};
	f->memfd = memfd_create("test-region", MFD_CLOEXEC);
	cr_assert_geq(f->memfd, 0);
	cr_assert_eq(ftruncate(f->memfd, PAGES * REGION_PAGE_SIZE), 0);
	f->mem =
	    mmap(NULL, PAGES * REGION_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	cr_assert_neq(f->mem, MAP_FAILED);
	char err[256];
	f->log.fill = 0x5a;
	f->log.r = region_create(f->mem, f->memfd, PAGES * REGION_PAGE_SIZE, &ops, &f->log,
				 &f->host_time, err, sizeof(err));
	cr_assert_not_null(f->log.r, "%s", err);
	f->stop_fd = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(f->stop_fd, 0);
	cr_assert_eq(pthread_create(&f->server, NULL, serve_faults, f), 0);
}

static void fixture_fini(struct fixture *f)
{
	cr_assert_eq(eventfd_write(f->stop_fd, 1), 0);
	pthread_join(f->server, NULL);
	close(f->stop_fd);
	region_destroy(f->log.r);
	munmap(f->mem, PAGES * REGION_PAGE_SIZE);
	close(f->memfd);
}

Test(region, read_miss_installs_read_only_copy)
{
	struct fixture f;
	fixture_init(&f);
	cr_assert_eq(f.mem[3 * REGION_PAGE_SIZE + 17], 0x5a);
	cr_assert_eq(atomic_load(&f.log.faults), 1);
	cr_assert_eq(atomic_load(&f.log.last_page), 3);
	cr_assert_eq(atomic_load(&f.log.write_faults), 0);
	/* The copy is write-protected: a write faults once more, as a write. */
	f.mem[3 * REGION_PAGE_SIZE] = 1;
	cr_assert_eq(atomic_load(&f.log.write_faults), 1);
	cr_assert_eq(f.mem[3 * REGION_PAGE_SIZE], 1);
	fixture_fini(&f);
}

Test(region, write_miss_installs_writable_copy)
{
	struct fixture f;
	fixture_init(&f);
	f.mem[5 * REGION_PAGE_SIZE + 1] = 7;
	cr_assert_eq(atomic_load(&f.log.faults), 1);
	cr_assert_eq(atomic_load(&f.log.write_faults), 1);
	cr_assert_eq(f.mem[5 * REGION_PAGE_SIZE], 0x5a);
	cr_assert_eq(f.mem[5 * REGION_PAGE_SIZE + 1], 7);
	f.mem[5 * REGION_PAGE_SIZE + 2] = 8; /* already writable: no new fault */
	cr_assert_eq(atomic_load(&f.log.faults), 1);
	fixture_fini(&f);
}

Test(region, drop_makes_next_access_fault_and_read_does_not)
{
	struct fixture f;
	fixture_init(&f);
	f.mem[2 * REGION_PAGE_SIZE] = 9;
	uint8_t buf[REGION_PAGE_SIZE];
	cr_assert_eq(region_read(f.log.r, 2, buf), 0);
	cr_assert_eq(buf[0], 9);
	cr_assert_eq(region_drop(f.log.r, 2, 1), 0);
	f.log.present[2] = false;
	cr_assert_eq(region_read(f.log.r, 2, buf), 0); /* a hole reads as zeros, no fault */
	cr_assert_eq(buf[0], 0);
	int before = atomic_load(&f.log.faults);
	f.log.fill = 0x33;
	cr_assert_eq(f.mem[2 * REGION_PAGE_SIZE], 0x33);
	cr_assert_eq(atomic_load(&f.log.faults), before + 1);
	fixture_fini(&f);
}

/* Each mapping, unmapping and protection change is counted once, by kind, with its time. */
Test(region, host_operations_are_counted_by_kind)
{
	struct fixture f;
	fixture_init(&f);
	cr_assert_eq(f.mem[1 * REGION_PAGE_SIZE], 0x5a); /* a read miss: mapped read-only */
	f.mem[1 * REGION_PAGE_SIZE] = 1;		 /* made writable */
	/* The access resumes as the fault is resolved, before the serving thread has counted. */
	for (int i = 0; i < 2000000 && atomic_load(&f.log.served) < 2; i++)
		sched_yield();
	cr_assert_eq(region_protect(f.log.r, 0, 4), 0);
	cr_assert_eq(region_drop(f.log.r, 0, 4), 0);
	const struct region_host_time *h = &f.host_time;
	cr_assert_eq(atomic_load(&h->ops[REGION_HOST_MAP]), 1);
	cr_assert_eq(atomic_load(&h->ops[REGION_HOST_PROTECT]), 2);
	cr_assert_eq(atomic_load(&h->ops[REGION_HOST_UNMAP]), 1);
	for (unsigned op = 0; op < REGION_HOST_OPS; op++)
		cr_assert_gt(atomic_load(&h->ns[op]), 0, "kind %u", op);
	cr_assert_eq(region_drop(f.log.r, PAGES, 1), -1); /* refused: never reaches the host */
	cr_assert_eq(atomic_load(&h->ops[REGION_HOST_UNMAP]), 1);
	fixture_fini(&f);
}

/* A run dropped in one call: every page of it faults again, its neighbours do not. */
Test(region, drop_of_a_run_drops_each_page_of_it_and_no_other)
{
	struct fixture f;
	fixture_init(&f);
	for (unsigned p = 3; p <= 8; p++)
		f.mem[p * REGION_PAGE_SIZE] = (uint8_t)p;
	cr_assert_eq(region_drop(f.log.r, 4, 4), 0);
	for (unsigned p = 4; p < 8; p++)
		f.log.present[p] = false;
	int before = atomic_load(&f.log.faults);
	f.log.fill = 0x44;
	cr_assert_eq(f.mem[3 * REGION_PAGE_SIZE], 3);
	cr_assert_eq(f.mem[8 * REGION_PAGE_SIZE], 8);
	cr_assert_eq(atomic_load(&f.log.faults), before);
	for (unsigned p = 4; p < 8; p++)
		cr_assert_eq(f.mem[p * REGION_PAGE_SIZE], 0x44, "page %u", p);
	cr_assert_eq(atomic_load(&f.log.faults), before + 4);
	fixture_fini(&f);
}

Test(region, protect_turns_writes_into_faults)
{
	struct fixture f;
	fixture_init(&f);
	f.mem[0] = 1;
	cr_assert_eq(region_protect(f.log.r, 0, 1), 0);
	int before = atomic_load(&f.log.write_faults);
	f.mem[1] = 2;
	cr_assert_eq(atomic_load(&f.log.write_faults), before + 1);
	cr_assert_eq(f.mem[0], 1);
	cr_assert_eq(f.mem[1], 2);
	fixture_fini(&f);
}

Test(region, protecting_a_run_turns_writes_to_each_of_its_pages_into_faults)
{
	struct fixture f;
	fixture_init(&f);
	for (unsigned p = 2; p < 7; p++)
		f.mem[p * REGION_PAGE_SIZE] = (uint8_t)p;
	cr_assert_eq(region_protect(f.log.r, 2, 4), 0);
	int before = atomic_load(&f.log.write_faults);
	f.mem[6 * REGION_PAGE_SIZE + 1] = 1;
	cr_assert_eq(atomic_load(&f.log.write_faults), before, "page 6 is past the run");
	for (unsigned p = 2; p < 6; p++)
		f.mem[p * REGION_PAGE_SIZE + 1] = 1;
	cr_assert_eq(atomic_load(&f.log.write_faults), before + 4);
	for (unsigned p = 2; p < 7; p++)
		cr_assert_eq(f.mem[p * REGION_PAGE_SIZE], p);
	fixture_fini(&f);
}

Test(region, out_of_range_pages_are_refused)
{
	struct fixture f;
	fixture_init(&f);
	uint8_t buf[REGION_PAGE_SIZE] = {0};
	cr_assert_eq(region_install(f.log.r, PAGES, buf, true), -1);
	cr_assert_eq(region_drop(f.log.r, PAGES, 1), -1);
	cr_assert_eq(region_drop(f.log.r, PAGES - 2, 3), -1); /* runs past the end */
	cr_assert_eq(region_drop(f.log.r, 0, UINT64_MAX), -1);
	cr_assert_eq(region_drop(f.log.r, 0, 0), -1);
	cr_assert_eq(region_protect(f.log.r, PAGES - 1, 2), -1);
	cr_assert_eq(region_read(f.log.r, UINT64_MAX, buf), -1);
	fixture_fini(&f);
}
