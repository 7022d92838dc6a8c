/* What both kernel loaders (firmware/boot.c: Linux, firmware/multiboot.c: Multiboot) need from a
 * kernel image: mapping a kernel or initrd file (bounded by BOOT_MAX_FILE_SIZE), the PT_LOAD
 * segments of an ELF executable of either class as one list checked against the file, the entry
 * point as a guest-physical address, and the segments copied into guest RAM with their bss
 * zeroed. Where a kernel may lie in guest memory is each loader's own rule. */
#ifndef FIRMWARE_IMAGE_H
#define FIRMWARE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "firmware/layout.h"

#define ELF_MAX_SEGMENTS 64 /* also the most program headers an image may have */

struct elf_segment {
	uint64_t paddr, vaddr, offset, filesz, memsz;
};

/* Formats the message into err; returns -1, for `return image_fail(...)`. */
int image_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Up to max bytes; fewer only at the end of the file. -1 with errno on a read error. */
ssize_t image_read_up_to(int fd, uint8_t *buf, size_t max);
/* A whole regular file of at most BOOT_MAX_FILE_SIZE bytes at *data, mapped read-only with its
 * pages populated; image_unmap_file releases it. Mapped rather than read: read() into fresh heap
 * took a page fault and a copy per 4 KiB, 0.6-0.7 s for Debian's 66 MB vmlinux on this host
 * (a paravirtualized guest, where faults are dear), against 15 ms for the populated mapping. The
 * file must not shrink while it is mapped (SIGBUS): it is the operator's kernel, not the
 * guest's. */
int image_map_file(const char *path, const uint8_t **data, size_t *len, char *err, size_t errlen);
void image_unmap_file(const uint8_t *data, size_t len);

/* The non-empty PT_LOAD segments of the program header table at phoff (phnum entries of
 * phentsize bytes, Elf64_Phdr if is64 else Elf32_Phdr), each checked against the file. */
int elf_segments(const uint8_t *image, size_t len, bool is64, uint64_t phoff, unsigned phnum,
		 unsigned phentsize, struct elf_segment *out, unsigned *count, const char *name,
		 char *err, size_t errlen);
/* e_entry is a virtual address by definition, but kernels often give a physical one: an address
 * inside a segment's virtual range is translated through it, otherwise it must be a loaded
 * physical address. -1 if it is neither. */
int elf_entry_gpa(uint64_t e_entry, const struct elf_segment *s, unsigned n, uint64_t *gpa);
/* Copies len bytes from src to guest-physical gpa and zeroes the zero_len bytes after them, which
 * the caller has checked are RAM (len + zero_len > 0). The pages are populated first with one
 * madvise(MADV_POPULATE_WRITE): a copy that faults them in one by one took about twice as long
 * on this host (32 MiB: 0.43-0.47 s against 0.23-0.34 s), where the kernel's 30 MB and its
 * 17 MB bss are the bulk of the time before the first guest instruction. */
void image_copy_to_guest(const struct guest_ram *ram, uint64_t gpa, const uint8_t *src, size_t len,
			 size_t zero_len);
/* Copies the segments to their physical addresses, which the caller has checked are RAM. */
void elf_copy_segments(const struct guest_ram *ram, const uint8_t *image,
		       const struct elf_segment *s, unsigned n);

#endif
