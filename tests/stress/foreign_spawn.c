/* SPDX-License-Identifier: MIT */
/*
 * Foreign threads spawning into a busy runtime: 8 OS threads call
 * weft_spawn while every worker is kept busy by tasks that yield in a loop
 * (so the inject queue is only looked at every few ticks, and no worker
 * parks). Each thread waits for some of its tasks with weft_future_wait
 * (checking their results) and drops the others at once. Every spawned
 * task runs exactly once; a spawn that never runs is caught by the
 * watchdog.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NTHREADS 8
#define WAIT_EVERY 8   /* a thread waits for one spawn in WAIT_EVERY */
#define CHUNK 512      /* spawns between two rounds of waiting */
#define LIMIT 20.0     /* seconds without progress before failing */

static weft_runtime *rt;
static long per_thread;
static _Atomic uint8_t *ran;
static _Atomic long leaves_done;
static atomic_bool stop;
static _Atomic long spins;
static _Atomic long waited, wait_errors;

static int leaf(void *arg, void **result)
{
	uintptr_t i = (uintptr_t)arg;
	uint8_t before = atomic_fetch_add_explicit(&ran[i], 1, memory_order_relaxed);
	STRESS_CHECK(before == 0, "task %lu ran twice", (unsigned long)i);
	if (i % 5 == 0)
		weft_sleep(0);
	*result = (void *)(2 * i + 1);
	atomic_fetch_add_explicit(&leaves_done, 1, memory_order_release);
	return 0;
}

/* Keeps a worker busy: yields until told to stop. */
static int spinner(void *arg, void **result)
{
	long n = 0;
	while (!atomic_load_explicit(&stop, memory_order_acquire)) {
		volatile unsigned x = 0;
		for (unsigned k = 0; k < 200; k++)
			x += k;
		weft_sleep(0);
		n++;
	}
	atomic_fetch_add_explicit(&spins, n, memory_order_relaxed);
	return 0;
}

static void *spawner(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	weft_future *keep[CHUNK / WAIT_EVERY + 1];
	uintptr_t keep_id[CHUNK / WAIT_EVERY + 1];
	long base = (long)me * per_thread;
	for (long j = 0; j < per_thread;) {
		unsigned nkeep = 0;
		for (long c = 0; c < CHUNK && j < per_thread; c++, j++) {
			uintptr_t id = (uintptr_t)(base + j);
			weft_future *f = weft_spawn(rt, leaf, (void *)id, NULL);
			if (j % WAIT_EVERY == 0) {
				keep[nkeep] = f;
				keep_id[nkeep++] = id;
			} else {
				weft_future_unref(f);
			}
		}
		for (unsigned k = 0; k < nkeep; k++) {
			void *v = NULL;
			int rc = weft_future_wait(keep[k], LIMIT * WEFT_TEST_SLOW, &v);
			if (rc == -ETIMEDOUT) {
				fprintf(stderr,
					"foreign_spawn: FAIL: thread %u: task %lu not done after %.0f s "
					"(%ld of %ld tasks done)\n",
					me, (unsigned long)keep_id[k], LIMIT * WEFT_TEST_SLOW,
					(long)atomic_load(&leaves_done), per_thread * NTHREADS);
				_exit(1);
			}
			if (rc != 0 || v != (void *)(2 * keep_id[k] + 1)) {
				if (atomic_fetch_add(&wait_errors, 1) < 5)
					STRESS_CHECK(0, "task %lu: rc %d, value %p",
						     (unsigned long)keep_id[k], rc, v);
			}
			atomic_fetch_add_explicit(&waited, 1, memory_order_relaxed);
			weft_future_unref(keep[k]);
		}
	}
	return NULL;
}

static void run(unsigned workers, long n)
{
	double t0 = stress_elapsed();
	per_thread = n;
	long total = n * NTHREADS;
	memset((void *)ran, 0, (size_t)total);
	atomic_store(&leaves_done, 0);
	atomic_store(&stop, false);
	atomic_store(&spins, 0);
	atomic_store(&waited, 0);
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	unsigned nspin = 2 * workers;
	weft_future *spinners[16];
	for (unsigned i = 0; i < nspin; i++)
		spinners[i] = weft_spawn(rt, spinner, NULL, NULL);
	pthread_t th[NTHREADS];
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, spawner, (void *)(uintptr_t)i);
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	/* The tasks nobody waited for must all run too. */
	long before = -1;
	double last = stress_elapsed();
	while (atomic_load_explicit(&leaves_done, memory_order_acquire) < total) {
		long now = atomic_load(&leaves_done);
		if (now != before) {
			before = now;
			last = stress_elapsed();
		} else if (stress_elapsed() - last > LIMIT * WEFT_TEST_SLOW) {
			fprintf(stderr, "foreign_spawn: FAIL: %u workers: stuck at %ld of %ld tasks\n",
				workers, now, total);
			_exit(1);
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	atomic_store_explicit(&stop, true, memory_order_release);
	for (unsigned i = 0; i < nspin; i++) {
		int rc = weft_future_wait(spinners[i], LIMIT * WEFT_TEST_SLOW, NULL);
		STRESS_CHECK(rc == 0, "spinner %u: %s", i, weft_strerror(rc));
		weft_future_unref(spinners[i]);
	}
	weft_runtime_destroy(rt);
	long bad = 0;
	for (long i = 0; i < total; i++)
		bad += atomic_load_explicit(&ran[i], memory_order_relaxed) != 1;
	STRESS_CHECK(bad == 0, "%ld tasks did not run exactly once", bad);
	STRESS_CHECK(atomic_load(&spins) > 0, "the spinners never yielded");
	printf("foreign_spawn: %u workers: %d threads spawned %ld tasks (waited for %ld) while %u "
	       "tasks yielded %ld times, in %.2f s\n",
	       workers, NTHREADS, total, (long)waited, nspin, (long)spins, stress_elapsed() - t0);
}

int main(void)
{
	stress_begin("foreign_spawn");
	long n = stress_count(125000);
	ran = calloc((size_t)(n * NTHREADS), 1);
	if (!ran)
		return 1;
	run(2, n);
	run(4, n);
	free((void *)ran);
	return stress_end();
}
