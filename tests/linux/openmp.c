/*
 * A Linux guest test program: OpenMP (libgomp, one thread per CPU by default) parallel loops
 * with a reduction, a critical section and an ordered dynamic schedule. Built with `gcc -static
 * -fopenmp` on the host (tests/linux/CMakeLists.txt); what it prints does not depend on the
 * number of threads, so the guest's output must equal the native run's. Each result is checked
 * against a serial computation: a mismatch prints WRONG and exits 1.
 * usage: openmp [N]   (default 200000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define BUCKETS 16

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static int report(const char *what, uint64_t got, uint64_t want)
{
	printf("openmp: %s %llu %s\n", what, (unsigned long long)got, got == want ? "ok" : "WRONG");
	return got == want;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	if (n < 1 || n > 1000000000) {
		fprintf(stderr, "usage: openmp [N 1..1000000000]\n");
		return 2;
	}
	uint64_t sum = 0, histogram[BUCKETS] = {0}, serial_sum = 0, serial_histogram = 0;
	uint64_t chain = 0, serial_chain = 0;

#pragma omp parallel for reduction(+ : sum) schedule(static)
	for (long i = 0; i < n; i++)
		sum += mix((uint64_t)i) >> 16;

#pragma omp parallel for schedule(dynamic, 64)
	for (long i = 0; i < n; i++) {
		uint64_t bucket = mix((uint64_t)i) % BUCKETS;
#pragma omp critical
		histogram[bucket]++;
	}

#pragma omp parallel for ordered schedule(dynamic, 1)
	for (long i = 0; i < n / 100; i++) {
		uint64_t v = mix((uint64_t)i);
#pragma omp ordered
		chain = chain * 1000003 + v;
	}

	uint64_t counts[BUCKETS] = {0}, histogram_sum = 0;
	for (long i = 0; i < n; i++) {
		serial_sum += mix((uint64_t)i) >> 16;
		counts[mix((uint64_t)i) % BUCKETS]++;
	}
	for (long i = 0; i < n / 100; i++)
		serial_chain = serial_chain * 1000003 + mix((uint64_t)i);
	for (int b = 0; b < BUCKETS; b++) {
		histogram_sum = histogram_sum * 131 + histogram[b];
		serial_histogram = serial_histogram * 131 + counts[b];
	}
	int ok = report("reduction", sum, serial_sum);
	ok &= report("critical histogram", histogram_sum, serial_histogram);
	ok &= report("ordered chain", chain, serial_chain);
	printf("openmp: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
