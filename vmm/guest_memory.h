/* Guest RAM: one memfd-backed shared mapping per VMM process. memfd, not anonymous memory, so the
 * coherence engine can drop a page with FALLOC_FL_PUNCH_HOLE and read one without copying. */
#ifndef VMM_GUEST_MEMORY_H
#define VMM_GUEST_MEMORY_H

#include <stddef.h>
#include <stdint.h>

struct guest_memory {
	int fd;
	uint8_t *host;
	uint64_t size;
};

/* Refuses sizes the host cannot back (more than its available memory) with a message. */
int guest_memory_create(struct guest_memory *mem, uint64_t size, char *err, size_t errlen);
void guest_memory_destroy(struct guest_memory *mem);

#endif
