/* SPDX-License-Identifier: MIT */
/*
 * Submissions from foreign threads (weft/thread.h), none lost:
 *
 *  1. 8 foreign threads x 100,000 submissions each, alternating
 *     weft_call_soon_threadsafe and weft_run_coroutine_threadsafe, pausing
 *     now and then so workers park and must be woken. Every submission
 *     runs exactly once; the tasks' results reach the threads that wait
 *     for some of them.
 *  2. Many short-lived threads (1,000) submitting at once: the same
 *     exactly-once check, with thousands of pushes meeting on the inject
 *     queue.
 *  3. Shutdown racing submitters: 8 threads submit in a loop until they
 *     are refused with -ESHUTDOWN while weft_runtime_destroy runs. A
 *     to_thread call holds the drain until every submitter has stopped,
 *     so none of them calls into a freed runtime. Every accepted callback
 *     ran; every accepted task finished (a done callback each: it ran, or
 *     was cancelled before running, or both: cancelled while it ran, it
 *     ends cancelled); every refusal is -ESHUTDOWN; no submitter hangs.
 *
 * Each phase runs with 2 and 4 workers; a watchdog fails a phase that
 * stops making progress.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NTHREADS 8
#define WAIT_EVERY 64 /* a thread waits for one task in WAIT_EVERY */
#define PAUSE_EVERY 4096
#define LIMIT 20.0 /* seconds without progress before failing */

static weft_runtime *rt;
static _Atomic uint8_t *ran; /* per submission id */
static _Atomic long done_count;

static void nap_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static void mark(uintptr_t id)
{
	uint8_t before = atomic_fetch_add_explicit(&ran[id], 1, memory_order_relaxed);
	STRESS_CHECK(before == 0, "submission %lu ran twice", (unsigned long)id);
	atomic_fetch_add_explicit(&done_count, 1, memory_order_release);
}

static void cb_mark(void *arg)
{
	mark((uintptr_t)arg);
}

static int task_mark(void *arg, void **result)
{
	mark((uintptr_t)arg);
	*result = (void *)((uintptr_t)arg * 3 + 1);
	return 0;
}

/* Waits until done_count reaches `total`, failing if it stalls. */
static void wait_all(const char *what, long total)
{
	long before = -1;
	double last = stress_elapsed();
	while (atomic_load_explicit(&done_count, memory_order_acquire) < total) {
		long now = atomic_load(&done_count);
		if (now != before) {
			before = now;
			last = stress_elapsed();
		} else if (stress_elapsed() - last > LIMIT * WEFT_TEST_SLOW) {
			fprintf(stderr, "threadsafe_stress: FAIL: %s: stuck at %ld of %ld\n", what,
				now, total);
			_exit(1);
		}
		nap_us(1000);
	}
}

static void check_exactly_once(const char *what, long total)
{
	long bad = 0;
	for (long i = 0; i < total; i++)
		bad += atomic_load_explicit(&ran[i], memory_order_relaxed) != 1;
	STRESS_CHECK(bad == 0, "%s: %ld submissions did not run exactly once", what, bad);
}

static void make_runtime(unsigned workers, unsigned pool_max)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.blocking_threads_max = pool_max;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
}

/* Submits ids [base, base + n): even ids as callbacks, odd ones as tasks. */
static void submit_range(long base, long n, bool pause)
{
	weft_future *keep[PAUSE_EVERY / WAIT_EVERY + 1];
	uintptr_t keep_id[PAUSE_EVERY / WAIT_EVERY + 1];
	for (long j = 0; j < n;) {
		unsigned nkeep = 0;
		for (long c = 0; c < PAUSE_EVERY && j < n; c++, j++) {
			uintptr_t id = (uintptr_t)(base + j);
			if (id % 2 == 0) {
				int rc = weft_call_soon_threadsafe(rt, cb_mark, (void *)id);
				STRESS_CHECK(rc == 0, "call_soon_threadsafe: %s", weft_strerror(rc));
				continue;
			}
			weft_future *f = weft_run_coroutine_threadsafe(rt, task_mark, (void *)id);
			if (j % WAIT_EVERY == 1 && nkeep < PAUSE_EVERY / WAIT_EVERY + 1) {
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
				fprintf(stderr, "threadsafe_stress: FAIL: task %lu not done after %.0f s\n",
					(unsigned long)keep_id[k], LIMIT * WEFT_TEST_SLOW);
				_exit(1);
			}
			STRESS_CHECK(rc == 0 && v == (void *)(keep_id[k] * 3 + 1),
				     "task %lu: rc %d, value %p", (unsigned long)keep_id[k], rc, v);
			weft_future_unref(keep[k]);
		}
		if (pause)
			nap_us(200); /* long enough for idle workers to park */
	}
}

/* ---- phase 1: 8 threads x 100,000 ---- */

static long per_thread;

static void *bulk_submitter(void *arg)
{
	long me = (long)(uintptr_t)arg;
	submit_range(me * per_thread, per_thread, true);
	return NULL;
}

static void phase_bulk(unsigned workers)
{
	double t0 = stress_elapsed();
	long total = per_thread * NTHREADS;
	memset((void *)ran, 0, (size_t)total);
	atomic_store(&done_count, 0);
	make_runtime(workers, 0);
	pthread_t th[NTHREADS];
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, bulk_submitter, (void *)(uintptr_t)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	wait_all("bulk", total);
	weft_runtime_destroy(rt);
	check_exactly_once("bulk", total);
	printf("threadsafe_stress: %u workers: %d threads x %ld submissions in %.2f s\n", workers,
	       NTHREADS, per_thread, stress_elapsed() - t0);
}

/* ---- phase 2: many short-lived threads ---- */

#define PER_SMALL 100

static void *small_submitter(void *arg)
{
	long me = (long)(uintptr_t)arg;
	submit_range(me * PER_SMALL, PER_SMALL, false);
	return NULL;
}

static void phase_many(unsigned workers, long nthreads)
{
	double t0 = stress_elapsed();
	long total = nthreads * PER_SMALL;
	memset((void *)ran, 0, (size_t)total);
	atomic_store(&done_count, 0);
	make_runtime(workers, 0);
	pthread_t *th = calloc((size_t)nthreads, sizeof(*th));
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	long made = 0;
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&th[made], &attr, small_submitter, (void *)(uintptr_t)i) == 0)
			made++;
		else
			small_submitter((void *)(uintptr_t)i); /* thread limit: do it here */
	pthread_attr_destroy(&attr);
	for (long i = 0; i < made; i++)
		pthread_join(th[i], NULL);
	free(th);
	wait_all("many", total);
	weft_runtime_destroy(rt);
	check_exactly_once("many", total);
	printf("threadsafe_stress: %u workers: %ld threads x %d submissions (%ld at once) in %.2f s\n",
	       workers, nthreads, PER_SMALL, made, stress_elapsed() - t0);
}

/* ---- phase 3: shutdown racing submitters ---- */

static _Atomic long acc_calls, acc_tasks, ran_calls, ran_tasks, task_endings, task_cancelled;
static _Atomic long refusals, bad_refusals;
static _Atomic int submitters_left, submitters_started;

static void cb_count(void *arg)
{
	atomic_fetch_add_explicit(&ran_calls, 1, memory_order_relaxed);
}

static int task_count(void *arg, void **result)
{
	atomic_fetch_add_explicit(&ran_tasks, 1, memory_order_relaxed);
	return 0;
}

static void task_ended(weft_future *f, void *arg)
{
	if (weft_future_cancelled(f))
		atomic_fetch_add_explicit(&task_cancelled, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&task_endings, 1, memory_order_relaxed);
}

static void *racing_submitter(void *arg)
{
	atomic_fetch_add(&submitters_started, 1);
	double end = stress_elapsed() + LIMIT * WEFT_TEST_SLOW;
	for (unsigned long i = 0;; i++) {
		if (stress_elapsed() > end) {
			STRESS_CHECK(0, "a submitter was never refused");
			break;
		}
		int rc;
		if (i % 2) {
			rc = weft_call_soon_threadsafe(rt, cb_count, NULL);
			if (rc == 0)
				atomic_fetch_add_explicit(&acc_calls, 1, memory_order_relaxed);
		} else {
			weft_future *f = weft_run_coroutine_threadsafe(rt, task_count, NULL);
			rc = weft_future_done(f) && weft_future_exception(f) == -ESHUTDOWN ? -ESHUTDOWN
											  : 0;
			if (rc == 0) {
				atomic_fetch_add_explicit(&acc_tasks, 1, memory_order_relaxed);
				int cbrc = weft_future_add_done_callback(f, task_ended, NULL);
				STRESS_CHECK(cbrc == 0, "add_done_callback: %s", weft_strerror(cbrc));
			}
			weft_future_unref(f);
		}
		if (rc) {
			atomic_fetch_add(&refusals, 1);
			if (rc != -ESHUTDOWN)
				atomic_fetch_add(&bad_refusals, 1);
			break;
		}
		if (i % 256 == 0)
			sched_yield();
	}
	atomic_fetch_sub_explicit(&submitters_left, 1, memory_order_release);
	return NULL;
}

/* On a pool thread: keeps the drain (and so the runtime's memory) alive
 * until every submitter has stopped. */
static int hold_until_submitters_stop(void *arg, void **result)
{
	double end = stress_elapsed() + 2 * LIMIT * WEFT_TEST_SLOW;
	while (atomic_load_explicit(&submitters_left, memory_order_acquire) > 0 &&
	       stress_elapsed() < end)
		nap_us(500);
	return 0;
}

static int holder_task(void *arg, void **result)
{
	weft_future *f = weft_to_thread(hold_until_submitters_stop, NULL);
	int rc = weft_await(f, NULL);
	weft_future_unref(f);
	return rc;
}

static void phase_shutdown(unsigned workers)
{
	double t0 = stress_elapsed();
	atomic_store(&acc_calls, 0);
	atomic_store(&acc_tasks, 0);
	atomic_store(&ran_calls, 0);
	atomic_store(&ran_tasks, 0);
	atomic_store(&task_endings, 0);
	atomic_store(&task_cancelled, 0);
	atomic_store(&refusals, 0);
	atomic_store(&bad_refusals, 0);
	atomic_store(&submitters_started, 0);
	atomic_store(&submitters_left, NTHREADS);
	make_runtime(workers, 0);
	weft_future *holder = weft_spawn(rt, holder_task, NULL, "holder");
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, racing_submitter, NULL);
	while (atomic_load(&submitters_started) < NTHREADS)
		nap_us(100);
	nap_us(20000); /* let them get going */
	int rc = weft_runtime_destroy(rt);
	STRESS_CHECK(rc == 0, "destroy: %s", weft_strerror(rc));
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	STRESS_CHECK(weft_future_done(holder), "the holder task finished");
	weft_future_unref(holder);
	long ac = atomic_load(&acc_calls), rc_ = atomic_load(&ran_calls);
	long at = atomic_load(&acc_tasks), te = atomic_load(&task_endings);
	long rt_ = atomic_load(&ran_tasks), tc = atomic_load(&task_cancelled);
	STRESS_CHECK(atomic_load(&refusals) == NTHREADS, "%ld of %d submitters refused",
		     (long)atomic_load(&refusals), NTHREADS);
	STRESS_CHECK(atomic_load(&bad_refusals) == 0, "%ld refusals were not -ESHUTDOWN",
		     (long)atomic_load(&bad_refusals));
	STRESS_CHECK(ac == rc_, "accepted %ld callbacks, %ld ran", ac, rc_);
	STRESS_CHECK(at == te, "accepted %ld tasks, %ld finished", at, te);
	/* Each ran, or was cancelled before it could, or both: shutdown's
	 * cancel reached it while it ran, and it returned 0 with the cancel
	 * pending (asyncio's rule: it ends cancelled). */
	STRESS_CHECK(rt_ <= at && at - rt_ <= tc, "accepted %ld tasks: %ld ran, %ld cancelled", at,
		     rt_, tc);
	printf("threadsafe_stress: %u workers: shutdown raced %ld callbacks and %ld tasks (%ld "
	       "cancelled before running, %ld while running) in %.2f s\n",
	       workers, ac, at, at - rt_, rt_ + tc - at, stress_elapsed() - t0);
}

int main(void)
{
	stress_begin("threadsafe_stress");
	per_thread = stress_count(100000);
	long nmany = stress_count(1000);
	long cap = per_thread * NTHREADS > nmany * PER_SMALL ? per_thread * NTHREADS
							     : nmany * PER_SMALL;
	ran = calloc((size_t)cap, 1);
	if (!ran)
		return 1;
	static const unsigned counts[] = {2, 4};
	for (unsigned i = 0; i < 2; i++) {
		phase_bulk(counts[i]);
		phase_many(counts[i], nmany);
		phase_shutdown(counts[i]);
	}
	free((void *)ran);
	return stress_end();
}
