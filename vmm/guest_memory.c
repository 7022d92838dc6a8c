/* memfd-backed guest RAM. Pages are allocated lazily by the kernel on first touch, so a big guest
 * costs nothing until used; but a guest larger than what the host can ever give would die later
 * on a SIGBUS, so that is refused up front. */
#include "vmm/guest_memory.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t host_available_bytes(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return UINT64_MAX;
	char line[256];
	unsigned long long kib = 0, swap_kib = 0;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "MemAvailable: %llu kB", &kib);
		sscanf(line, "SwapFree: %llu kB", &swap_kib);
	}
	fclose(f);
	return kib ? (kib + swap_kib) * 1024ULL : UINT64_MAX;
}

int guest_memory_create(struct guest_memory *mem, uint64_t size, char *err, size_t errlen)
{
	*mem = (struct guest_memory){.fd = -1};
	uint64_t available = host_available_bytes();
	if (size > available) {
		snprintf(err, errlen,
			 "guest memory of %llu MiB is more than this host can give (%llu MiB "
			 "available)",
			 (unsigned long long)(size >> 20), (unsigned long long)(available >> 20));
		return -1;
	}
	mem->fd = memfd_create("vsmp-guest-ram", MFD_CLOEXEC);
	if (mem->fd < 0) {
		snprintf(err, errlen, "memfd_create: %s", strerror(errno));
		return -1;
	}
	if (ftruncate(mem->fd, (off_t)size) < 0) {
		snprintf(err, errlen, "guest memory of %llu MiB: %s",
			 (unsigned long long)(size >> 20), strerror(errno));
		goto fail;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, mem->fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "mmap guest memory: %s", strerror(errno));
		goto fail;
	}
	mem->host = p;
	mem->size = size;
	return 0;
fail:
	close(mem->fd);
	mem->fd = -1;
	return -1;
}

void guest_memory_destroy(struct guest_memory *mem)
{
	if (mem->host)
		munmap(mem->host, mem->size);
	if (mem->fd >= 0)
		close(mem->fd);
	*mem = (struct guest_memory){.fd = -1};
}
