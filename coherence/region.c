/* userfaultfd on a memfd mapping: how the coherence engine sees and controls guest pages
 * (docs/coherence.md, "The engine's side").
 *
 * Registration covers the whole mapping in MISSING and WP modes. Dropping a page punches a hole in
 * the memfd, which unmaps it from every mapping (KVM follows through its MMU notifier), so the next
 * access is a MISSING fault. UFFDIO_COPY fills a hole and maps it, optionally write-protected;
 * UFFDIO_WRITEPROTECT flips protection on a present page. Reading for the network uses pread on
 * the memfd: it never goes through the registered mapping, so it cannot fault into ourselves.
 *
 * The region has no thread of its own: whoever serves it (the engine has the transport's progress
 * thread do it, so one thread per node does all the coherence work and no wake-up lies between a
 * fault and its request) waits for region_fd to become readable and calls region_serve, which
 * hands each fault message to the engine. Several threads touching the same page produce several
 * messages; the engine coalesces them. Resolving a page wakes all of its waiters at once.
 *
 * Each mapping, unmapping and protection change is timed into the creator's region_host_time:
 * on some hosts these are most of what a miss costs (docs/benchmarks.md, "Where a random miss's
 * time goes"), and two clock reads are small beside one of them. */
#include "coherence/region.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define REGION_FAULT_BATCH 64

struct region {
	uint8_t *host;
	int memfd;
	uint64_t size;
	int uffd;
	const struct region_ops *ops;
	void *ctx;
	struct region_host_time *host_time; /* or NULL */
};

static uint64_t region_addr(const struct region *r, uint64_t page)
{
	return (uint64_t)(uintptr_t)r->host + page * REGION_PAGE_SIZE;
}

static uint64_t region_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Counts one host operation that began at `start` (region_now_ns). */
static void region_count(const struct region *r, enum region_host_op op, uint64_t start)
{
	if (!r->host_time)
		return;
	atomic_fetch_add_explicit(&r->host_time->ops[op], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->host_time->ns[op], region_now_ns() - start,
				  memory_order_relaxed);
}

static void region_dispatch(struct region *r, const struct uffd_msg *msg)
{
	if (msg->event != UFFD_EVENT_PAGEFAULT)
		return;
	uint64_t addr = msg->arg.pagefault.address;
	uint64_t base = (uint64_t)(uintptr_t)r->host;
	if (addr < base || addr - base >= r->size)
		return;
	uint64_t flags = msg->arg.pagefault.flags;
	bool write = (flags & (UFFD_PAGEFAULT_FLAG_WRITE | UFFD_PAGEFAULT_FLAG_WP)) != 0;
	r->ops->fault(r->ctx, (addr - base) / REGION_PAGE_SIZE, write);
}

int region_fd(const struct region *r)
{
	return r->uffd;
}

unsigned region_serve(struct region *r)
{
	struct uffd_msg msgs[REGION_FAULT_BATCH];
	ssize_t n = read(r->uffd, msgs, sizeof(msgs));
	if (n <= 0)
		return 0; /* EAGAIN: nothing pending */
	for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]); i++)
		region_dispatch(r, &msgs[i]);
	return (unsigned)((size_t)n / sizeof(msgs[0]));
}

static int region_open_uffd(struct region *r, char *err, size_t errlen)
{
	r->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (r->uffd < 0) {
		snprintf(err, errlen, "userfaultfd: %s%s", strerror(errno),
			 errno == EPERM ? " (needs CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1)"
					: "");
		return -1;
	}
	struct uffdio_api api = {.api = UFFD_API,
				 .features =
				     UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM};
	if (ioctl(r->uffd, UFFDIO_API, &api) < 0) {
		snprintf(err, errlen,
			 "userfaultfd: shared-memory missing and write-protect faults "
			 "are not supported by this kernel (%s)",
			 strerror(errno));
		return -1;
	}
	struct uffdio_register reg = {
	    .range = {.start = (uint64_t)(uintptr_t)r->host, .len = r->size},
	    .mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP};
	if (ioctl(r->uffd, UFFDIO_REGISTER, &reg) < 0) {
		snprintf(err, errlen, "userfaultfd register: %s", strerror(errno));
		return -1;
	}
	return 0;
}

struct region *region_create(uint8_t *host, int memfd, uint64_t size, const struct region_ops *ops,
			     void *ctx, struct region_host_time *host_time, char *err,
			     size_t errlen)
{
	if (size == 0 || size % REGION_PAGE_SIZE || (uintptr_t)host % REGION_PAGE_SIZE) {
		snprintf(err, errlen, "region: size and address must be page-aligned");
		return NULL;
	}
	struct region *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*r = (struct region){.host = host,
			     .memfd = memfd,
			     .size = size,
			     .uffd = -1,
			     .ops = ops,
			     .ctx = ctx,
			     .host_time = host_time};
	if (region_open_uffd(r, err, errlen) < 0) {
		region_destroy(r);
		return NULL;
	}
	return r;
}

void region_destroy(struct region *r)
{
	if (!r)
		return;
	if (r->uffd >= 0)
		close(r->uffd); /* unregisters: waiting threads retry their access */
	free(r);
}

static bool region_page_valid(const struct region *r, uint64_t page)
{
	return page < r->size / REGION_PAGE_SIZE;
}

int region_install(struct region *r, uint64_t page, const void *data, bool writable)
{
	if (!region_page_valid(r, page))
		return -1;
	struct uffdio_copy copy = {.dst = region_addr(r, page),
				   .src = (uint64_t)(uintptr_t)data,
				   .len = REGION_PAGE_SIZE,
				   .mode = writable ? 0 : UFFDIO_COPY_MODE_WP};
	uint64_t start = region_now_ns();
	int rc = ioctl(r->uffd, UFFDIO_COPY, &copy);
	int copy_errno = errno;
	region_count(r, REGION_HOST_MAP, start);
	if (rc == 0)
		return 0;
	return copy_errno == EEXIST ? region_wake(r, page) : -1;
}

static bool region_run_valid(const struct region *r, uint64_t first, uint64_t count)
{
	return count && region_page_valid(r, first) && count <= region_page_count(r) - first;
}

static int region_write_protect(struct region *r, uint64_t first, uint64_t count, bool protect)
{
	if (!region_run_valid(r, first, count))
		return -1;
	struct uffdio_writeprotect wp = {
	    .range = {.start = region_addr(r, first), .len = count * REGION_PAGE_SIZE},
	    .mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0};
	uint64_t start = region_now_ns();
	int rc = ioctl(r->uffd, UFFDIO_WRITEPROTECT, &wp);
	region_count(r, REGION_HOST_PROTECT, start);
	return rc;
}

int region_unprotect(struct region *r, uint64_t page)
{
	return region_write_protect(r, page, 1, false);
}

int region_protect(struct region *r, uint64_t first, uint64_t count)
{
	return region_write_protect(r, first, count, true);
}

int region_drop(struct region *r, uint64_t first, uint64_t count)
{
	if (!region_run_valid(r, first, count))
		return -1;
	uint64_t start = region_now_ns();
	int rc = fallocate(r->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			   (off_t)(first * REGION_PAGE_SIZE), (off_t)(count * REGION_PAGE_SIZE));
	region_count(r, REGION_HOST_UNMAP, start);
	return rc;
}

int region_read(struct region *r, uint64_t page, void *buf)
{
	if (!region_page_valid(r, page))
		return -1;
	ssize_t n = pread(r->memfd, buf, REGION_PAGE_SIZE, (off_t)(page * REGION_PAGE_SIZE));
	return n == REGION_PAGE_SIZE ? 0 : -1;
}

int region_write(struct region *r, uint64_t page, const void *data)
{
	if (!region_page_valid(r, page))
		return -1;
	ssize_t n = pwrite(r->memfd, data, REGION_PAGE_SIZE, (off_t)(page * REGION_PAGE_SIZE));
	return n == REGION_PAGE_SIZE ? 0 : -1;
}

int region_wake(struct region *r, uint64_t page)
{
	if (!region_page_valid(r, page))
		return -1;
	struct uffdio_range range = {.start = region_addr(r, page), .len = REGION_PAGE_SIZE};
	return ioctl(r->uffd, UFFDIO_WAKE, &range);
}

uint64_t region_page_count(const struct region *r)
{
	return r->size / REGION_PAGE_SIZE;
}
