/*
 * A Linux guest test program: one large allocation, every page of it written with a pattern
 * that names the page and then read back and verified, by several threads each owning a stripe
 * of pages (so in a multi-node guest pages are first touched on every node and verified by a
 * thread that likely runs on another). Built with `gcc -static` on the host
 * (tests/linux/CMakeLists.txt); the output depends only on the size, so the guest's must equal
 * the native run's. A wrong word prints where and exits 1.
 * usage: bigalloc [MIB]   (default 64)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define THREADS	       3
#define PAGE	       4096
#define WORDS_PER_PAGE (PAGE / sizeof(uint64_t))

static uint64_t *memory;
static size_t pages;
static uint64_t bad_words[THREADS], first_bad[THREADS];

static uint64_t pattern(size_t page, size_t word)
{
	return (page * 0x9e3779b97f4a7c15ULL) ^ (word << 48) ^ 0x5a5a5a5a;
}

/* Thread T writes pages T, T+THREADS, ...; then (after a join) thread T verifies the stripe of
 * thread T+1. */
static void *write_stripe(void *arg)
{
	size_t t = (size_t)(uintptr_t)arg;
	for (size_t p = t; p < pages; p += THREADS)
		for (size_t w = 0; w < WORDS_PER_PAGE; w++)
			memory[p * WORDS_PER_PAGE + w] = pattern(p, w);
	return NULL;
}

static void *verify_stripe(void *arg)
{
	size_t t = (size_t)(uintptr_t)arg, stripe = (t + 1) % THREADS;
	for (size_t p = stripe; p < pages; p += THREADS)
		for (size_t w = 0; w < WORDS_PER_PAGE; w++)
			if (memory[p * WORDS_PER_PAGE + w] != pattern(p, w) && bad_words[t]++ == 0)
				first_bad[t] = p * WORDS_PER_PAGE + w;
	return NULL;
}

static int run_threads(void *(*fn)(void *))
{
	pthread_t threads[THREADS];
	for (size_t t = 0; t < THREADS; t++)
		if (pthread_create(&threads[t], NULL, fn, (void *)(uintptr_t)t))
			return 0;
	for (size_t t = 0; t < THREADS; t++)
		pthread_join(threads[t], NULL);
	return 1;
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 64;
	if (mib < 1 || mib > 65536) {
		fprintf(stderr, "usage: bigalloc [MIB 1..65536]\n");
		return 2;
	}
	pages = (size_t)mib * (1024 * 1024 / PAGE);
	memory =
	    mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (memory == MAP_FAILED) {
		printf("bigalloc: mmap of %ld MiB failed\n", mib);
		return 1;
	}
	if (!run_threads(write_stripe) || !run_threads(verify_stripe)) {
		printf("bigalloc: pthread_create failed\n");
		return 1;
	}
	uint64_t bad = 0;
	for (int t = 0; t < THREADS; t++) {
		if (bad_words[t])
			printf("bigalloc: word %llu (page %llu) wrong\n",
			       (unsigned long long)first_bad[t],
			       (unsigned long long)(first_bad[t] / WORDS_PER_PAGE));
		bad += bad_words[t];
	}
	printf("bigalloc: %ld MiB, %zu pages written and verified, %llu wrong words\n", mib, pages,
	       (unsigned long long)bad);
	printf("bigalloc: %s\n", bad ? "FAIL" : "PASS");
	return bad ? 1 : 0;
}
