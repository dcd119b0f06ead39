/* SPDX-License-Identifier: MIT */
/*
 * A million tasks spawned and awaited across all workers (2, then 4): a
 * main task creates them in batches, awaits each, and sums their results.
 * A quarter of them yield once (a started task resumes on its home
 * worker). Every task runs exactly once, the sum is exact, and the work
 * spreads to more than one worker.
 */
#include <stdint.h>
#include <unistd.h>

#include "harness.h"
#include "sched/worker.h"

#define BATCH 10000
#define MAX_WORKERS 8

static long ntasks;
static _Atomic uint8_t *ran;
static _Atomic long ran_on[MAX_WORKERS];
static _Atomic long yields_failed;

static unsigned worker_index(void)
{
	struct weft__worker *w = weft__worker_current();
	return w ? w->index : MAX_WORKERS;
}

static int leaf(void *arg, void **result)
{
	uintptr_t i = (uintptr_t)arg;
	uint8_t before = atomic_fetch_add_explicit(&ran[i], 1, memory_order_relaxed);
	STRESS_CHECK(before == 0, "task %lu ran twice", (unsigned long)i);
	unsigned w = worker_index();
	if (w < MAX_WORKERS)
		atomic_fetch_add_explicit(&ran_on[w], 1, memory_order_relaxed);
	if (i % 4 == 0 && weft_sleep(0) != 0)
		atomic_fetch_add_explicit(&yields_failed, 1, memory_order_relaxed);
	*result = (void *)(3 * i + 1);
	return 0;
}

static int main_task(void *arg, void **result)
{
	weft_future **batch = malloc(sizeof(*batch) * BATCH);
	if (!batch)
		return -ENOMEM;
	unsigned long long sum = 0;
	long failed = 0;
	for (long base = 0; base < ntasks; base += BATCH) {
		long n = ntasks - base < BATCH ? ntasks - base : BATCH;
		for (long j = 0; j < n; j++)
			batch[j] = weft_create_task(leaf, (void *)(uintptr_t)(base + j), NULL);
		for (long j = 0; j < n; j++) {
			void *v = NULL;
			int rc = weft_await(batch[j], &v);
			if (rc) {
				if (failed++ < 5)
					STRESS_CHECK(rc == 0, "task %ld: %s", base + j, weft_strerror(rc));
			} else {
				STRESS_CHECK((uintptr_t)v == 3 * (uintptr_t)(base + j) + 1,
					     "task %ld returned %p", base + j, v);
				sum += (uintptr_t)v;
			}
			weft_future_unref(batch[j]);
		}
	}
	free(batch);
	*result = (void *)(uintptr_t)failed;
	unsigned long long n = (unsigned long long)ntasks;
	unsigned long long want = 3 * (n * (n - 1) / 2) + n;
	STRESS_CHECK(sum == want, "sum %llu, expected %llu", sum, want);
	return 0;
}

static void run(unsigned workers)
{
	double t0 = stress_elapsed();
	memset((void *)ran, 0, (size_t)ntasks);
	for (unsigned i = 0; i < MAX_WORKERS; i++)
		atomic_store(&ran_on[i], 0);
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	weft_runtime *rt;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	weft_future *main = weft_spawn(rt, main_task, NULL, "main");
	void *failed = NULL;
	int rc = weft_future_wait(main, 240.0 * WEFT_TEST_SLOW, &failed);
	if (rc == -ETIMEDOUT) {
		long done = 0;
		for (long i = 0; i < ntasks; i++)
			done += atomic_load_explicit(&ran[i], memory_order_relaxed) != 0;
		fprintf(stderr, "spawn_million: FAIL: %u workers: hung after %ld of %ld tasks ran\n",
			workers, done, ntasks);
		_exit(1);
	}
	STRESS_CHECK(rc == 0, "main: %s", weft_strerror(rc));
	STRESS_CHECK(failed == NULL, "%ld tasks failed", (long)(uintptr_t)failed);
	weft_future_unref(main);
	weft_runtime_destroy(rt);

	long missing = 0, busy = 0;
	for (long i = 0; i < ntasks; i++)
		missing += atomic_load_explicit(&ran[i], memory_order_relaxed) != 1;
	STRESS_CHECK(missing == 0, "%ld tasks did not run exactly once", missing);
	STRESS_CHECK(yields_failed == 0, "%ld yields failed", (long)yields_failed);
	char dist[128] = "";
	size_t off = 0;
	for (unsigned i = 0; i < workers && i < MAX_WORKERS; i++) {
		long k = atomic_load(&ran_on[i]);
		busy += k > 0;
		off += (size_t)snprintf(dist + off, sizeof(dist) - off, "%s%ld", i ? " " : "", k);
	}
	/* Spreading is a property of the plain build: under ASan the spawning
	 * worker is slow enough that another can rightly steal every leaf. */
	if (WEFT_TEST_SLOW == 1)
		STRESS_CHECK(busy >= 2, "%u workers: only %ld ran tasks (%s)", workers, busy, dist);
	printf("spawn_million: %u workers: %ld tasks in %.2f s (per worker: %s)\n", workers, ntasks,
	       stress_elapsed() - t0, dist);
}

int main(void)
{
	stress_begin("spawn_million");
	ntasks = stress_count(1000000);
	ran = calloc((size_t)ntasks, 1);
	if (!ran)
		return 1;
	run(2);
	run(4);
	free((void *)ran);
	return stress_end();
}
