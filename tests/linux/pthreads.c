/*
 * A Linux guest test program: pthread mutexes, condition variables and barriers among a fixed
 * number of threads (not one per CPU, so the output does not depend on the machine). Built with
 * `gcc -static` on the host (tests/linux/CMakeLists.txt), it runs natively and in the guest, and
 * the two outputs must be equal (tests/integration/linux_3node.sh). Every result is a number the
 * program also computes serially, so a lost update or wake-up shows as a mismatch and exit 1.
 * usage: pthreads [ROUNDS]   (default 2000; each phase scales with it)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS	    4
#define QUEUE_SLOTS 8
#define CELLS	    256

/* Phase 1: every thread adds to one counter under a mutex. */
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t counter;

/* Phase 2: a bounded queue, two producers and two consumers, with condition variables. */
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t queue_not_full = PTHREAD_COND_INITIALIZER;
static uint64_t queue[QUEUE_SLOTS];
static unsigned queue_head, queue_count;
static uint64_t consumed_sum, consumed_items;

/* Phase 3: a stencil over CELLS cells, each thread owning a slice, a barrier between steps. */
static pthread_barrier_t step_barrier;
static uint64_t cells[2][CELLS];

static long rounds;

static void add_to_counter(void)
{
	for (long i = 0; i < rounds; i++) {
		pthread_mutex_lock(&counter_lock);
		counter += (uint64_t)i;
		pthread_mutex_unlock(&counter_lock);
	}
}

static void produce(uint64_t first)
{
	for (long i = 0; i < rounds; i++) {
		pthread_mutex_lock(&queue_lock);
		while (queue_count == QUEUE_SLOTS)
			pthread_cond_wait(&queue_not_full, &queue_lock);
		queue[(queue_head + queue_count) % QUEUE_SLOTS] = first + (uint64_t)i;
		queue_count++;
		pthread_cond_signal(&queue_not_empty);
		pthread_mutex_unlock(&queue_lock);
	}
}

/* Each consumer takes exactly as many items as one producer makes. */
static void consume(void)
{
	uint64_t sum = 0;
	for (long i = 0; i < rounds; i++) {
		pthread_mutex_lock(&queue_lock);
		while (queue_count == 0)
			pthread_cond_wait(&queue_not_empty, &queue_lock);
		sum += queue[queue_head];
		queue_head = (queue_head + 1) % QUEUE_SLOTS;
		queue_count--;
		pthread_cond_signal(&queue_not_full);
		pthread_mutex_unlock(&queue_lock);
	}
	pthread_mutex_lock(&queue_lock);
	consumed_sum += sum;
	consumed_items += (uint64_t)rounds;
	pthread_mutex_unlock(&queue_lock);
}

static uint64_t stencil_cell(const uint64_t *from, int i)
{
	return from[(i + CELLS - 1) % CELLS] * 3 + from[i] * 5 + from[(i + 1) % CELLS] * 7 + 1;
}

static void stencil(int slice, long steps)
{
	int first = slice * (CELLS / THREADS), last = first + CELLS / THREADS;
	for (long s = 0; s < steps; s++) {
		const uint64_t *from = cells[s % 2];
		uint64_t *to = cells[(s + 1) % 2];
		for (int i = first; i < last; i++)
			to[i] = stencil_cell(from, i);
		pthread_barrier_wait(&step_barrier);
	}
}

static long stencil_steps(void)
{
	return rounds / 20 + 1;
}

static void *thread_main(void *arg)
{
	int index = (int)(intptr_t)arg;
	add_to_counter();
	pthread_barrier_wait(&step_barrier);
	if (index < 2)
		produce((uint64_t)index * 1000000);
	else
		consume();
	pthread_barrier_wait(&step_barrier);
	stencil(index, stencil_steps());
	return NULL;
}

static uint64_t stencil_serial_checksum(void)
{
	uint64_t a[CELLS], b[CELLS], *from = a, *to = b, *swap, sum = 0;
	for (int i = 0; i < CELLS; i++)
		a[i] = (uint64_t)i;
	for (long s = 0; s < stencil_steps(); s++) {
		for (int i = 0; i < CELLS; i++)
			to[i] = stencil_cell(from, i);
		swap = from, from = to, to = swap;
	}
	for (int i = 0; i < CELLS; i++)
		sum = sum * 31 + from[i];
	return sum;
}

static int report(const char *what, uint64_t got, uint64_t want)
{
	printf("pthreads: %s %llu %s\n", what, (unsigned long long)got,
	       got == want ? "ok" : "WRONG");
	if (got != want)
		printf("pthreads: %s expected %llu\n", what, (unsigned long long)want);
	return got == want;
}

int main(int argc, char **argv)
{
	pthread_t threads[THREADS];
	rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
	if (rounds < 1 || rounds > 100000000) {
		fprintf(stderr, "usage: pthreads [ROUNDS 1..100000000]\n");
		return 2;
	}
	for (int i = 0; i < CELLS; i++)
		cells[0][i] = (uint64_t)i;
	pthread_barrier_init(&step_barrier, NULL, THREADS);
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&threads[i], NULL, thread_main, (void *)(intptr_t)i)) {
			fprintf(stderr, "pthreads: pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);

	uint64_t n = (uint64_t)rounds, stencil_sum = 0;
	const uint64_t *last = cells[stencil_steps() % 2];
	for (int i = 0; i < CELLS; i++)
		stencil_sum = stencil_sum * 31 + last[i];
	int ok = report("mutex counter", counter, THREADS * (n * (n - 1) / 2));
	ok &= report("condvar items", consumed_items, 2 * n);
	ok &= report("condvar sum", consumed_sum, 2 * (n * (n - 1) / 2) + 1000000 * n);
	ok &= report("barrier checksum", stencil_sum, stencil_serial_checksum());
	printf("pthreads: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
