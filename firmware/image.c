/* Kernel images, as both loaders read them (see the header). */
#include "firmware/image.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "firmware/boot.h"

int image_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

ssize_t image_read_up_to(int fd, uint8_t *buf, size_t max)
{
	size_t done = 0;

	while (done < max) {
		ssize_t got = read(fd, buf + done, max - done);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

/* An empty file maps to this: mmap refuses a length of 0. */
static const uint8_t empty_file[1];

static int map_open_file(int fd, const char *path, const uint8_t **data, size_t *len, char *err,
			 size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return image_fail(err, errlen, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return image_fail(err, errlen, "%s: not a regular file", path);
	if ((uint64_t)st.st_size > BOOT_MAX_FILE_SIZE)
		return image_fail(err, errlen, "%s: %lld bytes is over the %llu MiB limit", path,
				  (long long)st.st_size, BOOT_MAX_FILE_SIZE >> 20);
	*len = (size_t)st.st_size;
	if (*len == 0) {
		*data = empty_file;
		return 0;
	}
	void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED)
		return image_fail(err, errlen, "%s: mmap: %s", path, strerror(errno));
	*data = p;
	return 0;
}

int image_map_file(const char *path, const uint8_t **data, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return image_fail(err, errlen, "%s: %s", path, strerror(errno));
	rc = map_open_file(fd, path, data, len, err, errlen);
	close(fd);
	return rc;
}

void image_unmap_file(const uint8_t *data, size_t len)
{
	if (data && len)
		munmap((void *)data, len);
}

/* Program header i as a segment; false if it is not a non-empty PT_LOAD. */
static bool phdr_segment(const uint8_t *ph, bool is64, struct elf_segment *s)
{
	if (is64) {
		Elf64_Phdr p;
		memcpy(&p, ph, sizeof(p));
		*s = (struct elf_segment){p.p_paddr, p.p_vaddr, p.p_offset, p.p_filesz, p.p_memsz};
		return p.p_type == PT_LOAD && p.p_memsz != 0;
	}
	Elf32_Phdr p;
	memcpy(&p, ph, sizeof(p));
	*s = (struct elf_segment){p.p_paddr, p.p_vaddr, p.p_offset, p.p_filesz, p.p_memsz};
	return p.p_type == PT_LOAD && p.p_memsz != 0;
}

int elf_segments(const uint8_t *image, size_t len, bool is64, uint64_t phoff, unsigned phnum,
		 unsigned phentsize, struct elf_segment *out, unsigned *count, const char *name,
		 char *err, size_t errlen)
{
	size_t entsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);

	if (phentsize != entsize || phnum == 0 || phnum > ELF_MAX_SEGMENTS)
		return image_fail(err, errlen,
				  "%s: unsupported program header table (%u entries of %u bytes)",
				  name, phnum, phentsize);
	if (phoff > len || (uint64_t)phnum * entsize > len - phoff)
		return image_fail(err, errlen, "%s: program headers lie beyond the end of the file",
				  name);
	*count = 0;
	for (unsigned i = 0; i < phnum; i++) {
		struct elf_segment s;

		if (!phdr_segment(image + phoff + i * entsize, is64, &s))
			continue;
		if (s.filesz > s.memsz)
			return image_fail(err, errlen,
					  "%s: segment %u has more file bytes than memory bytes",
					  name, i);
		if (s.offset > len || s.filesz > len - s.offset)
			return image_fail(
			    err, errlen, "%s: segment %u lies beyond the end of the file", name, i);
		out[(*count)++] = s;
	}
	if (*count == 0)
		return image_fail(err, errlen, "%s: no loadable segments", name);
	return 0;
}

int elf_entry_gpa(uint64_t e_entry, const struct elf_segment *s, unsigned n, uint64_t *gpa)
{
	for (unsigned i = 0; i < n; i++) {
		if (e_entry - s[i].vaddr < s[i].memsz) {
			*gpa = s[i].paddr + (e_entry - s[i].vaddr);
			return 0;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (e_entry - s[i].paddr < s[i].memsz) {
			*gpa = e_entry;
			return 0;
		}
	}
	return -1;
}

void image_copy_to_guest(const struct guest_ram *ram, uint64_t gpa, const uint8_t *src, size_t len,
			 size_t zero_len)
{
	uint8_t *dst = guest_ram_ptr(ram, gpa, len + zero_len);
	uintptr_t first = (uintptr_t)dst & ~(uintptr_t)4095;
	uintptr_t end = ((uintptr_t)dst + len + zero_len + 4095) & ~(uintptr_t)4095;

	/* Only a hint: without it (an older host kernel) the copy faults the pages in itself. */
	madvise((void *)first, end - first, MADV_POPULATE_WRITE);
	memcpy(dst, src, len);
	memset(dst + len, 0, zero_len);
}

void elf_copy_segments(const struct guest_ram *ram, const uint8_t *image,
		       const struct elf_segment *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		image_copy_to_guest(ram, s[i].paddr, image + s[i].offset, s[i].filesz,
				    s[i].memsz - s[i].filesz);
}
