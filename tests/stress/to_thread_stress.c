/* SPDX-License-Identifier: MIT */
/*
 * The blocking pool under load (weft_to_thread, weft/thread.h):
 *
 *  1. 10,000 calls through a pool of 4 threads, from 64 tasks that await
 *     them one at a time or 8 at once: each call runs exactly once, on at
 *     most 4 threads at a time, and its result reaches its task.
 *  2. Cancel races: every task awaits one call while a foreign thread
 *     cancels half of the tasks at random moments (before they run, while
 *     their call is queued, while it runs, after it returned). Per task:
 *     a call runs at most once; an await that returned -ECANCELED means
 *     the call never ran and its future is cancelled; an await that
 *     returned 0 carries the call's real result; a task cancelled after it
 *     began sees exactly one -ECANCELED (from the await, or at a later
 *     suspension point), one that was not cancelled sees none; a task
 *     cancelled before it began ends cancelled and never created its call.
 *  3. Shutdown with calls queued and running, awaited or not: every call
 *     ends exactly once (a done callback each), it ran or it was cancelled
 *     unrun, and every pool thread is gone after weft_runtime_destroy.
 *
 * Each phase runs with 2 and 4 workers; a watchdog fails a stalled phase.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "../proc_threads.h"

#define POOL 4
#define LIMIT 20.0 /* seconds */

static weft_runtime *rt;

static void nap_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static void spin_us(long us)
{
	double end = stress_elapsed() + (double)us * 1e-6;
	while (stress_elapsed() < end)
		;
}

static uint32_t mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

static void make_runtime(unsigned workers)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.blocking_threads_max = POOL;
	cfg.blocking_keepalive = 0.05; /* threads come and go during the run */
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
}

static void wait_or_die(weft_future *f, const char *what)
{
	int rc = weft_future_wait(f, 3 * LIMIT * WEFT_TEST_SLOW, NULL);
	if (rc == -ETIMEDOUT) {
		fprintf(stderr, "to_thread_stress: FAIL: %s did not finish\n", what);
		_exit(1);
	}
}

/* ---- phase 1: many calls, a small pool ---- */

#define NTASKS 64
#define BATCH 8

static long ncalls;
static _Atomic uint8_t *ran;
static _Atomic int running, most_running;
static _Atomic long bad_results;

static int call_body(void *arg, void **result)
{
	uintptr_t id = (uintptr_t)arg;
	int now = atomic_fetch_add(&running, 1) + 1;
	int most = atomic_load(&most_running);
	while (now > most && !atomic_compare_exchange_weak(&most_running, &most, now))
		;
	uint8_t before = atomic_fetch_add_explicit(&ran[id], 1, memory_order_relaxed);
	STRESS_CHECK(before == 0, "call %lu ran twice", (unsigned long)id);
	spin_us(mix((uint32_t)id) % 20);
	atomic_fetch_sub(&running, 1);
	*result = (void *)(id * 2 + 1);
	return 0;
}

static int caller(void *arg, void **result)
{
	uintptr_t me = (uintptr_t)arg;
	long per = ncalls / NTASKS, base = (long)me * per;
	if (me == NTASKS - 1)
		per = ncalls - base;
	weft_future *fs[BATCH];
	for (long j = 0; j < per;) {
		/* odd tasks keep BATCH calls in flight, even ones one */
		int n = me % 2 ? BATCH : 1;
		if (n > per - j)
			n = (int)(per - j);
		for (int k = 0; k < n; k++)
			fs[k] = weft_to_thread(call_body, (void *)(uintptr_t)(base + j + k));
		for (int k = 0; k < n; k++) {
			void *v = NULL;
			int rc = weft_await(fs[k], &v);
			uintptr_t id = (uintptr_t)(base + j + k);
			if (rc != 0 || v != (void *)(id * 2 + 1))
				atomic_fetch_add(&bad_results, 1);
			weft_future_unref(fs[k]);
		}
		j += n;
	}
	return 0;
}

static int phase1_main(void *arg, void **result)
{
	weft_future *ts[NTASKS];
	for (uintptr_t i = 0; i < NTASKS; i++)
		ts[i] = weft_create_task(caller, (void *)i, NULL);
	for (int i = 0; i < NTASKS; i++) {
		weft_await(ts[i], NULL);
		weft_future_unref(ts[i]);
	}
	return 0;
}

static void phase_many(unsigned workers)
{
	double t0 = stress_elapsed();
	memset((void *)ran, 0, (size_t)ncalls);
	atomic_store(&running, 0);
	atomic_store(&most_running, 0);
	atomic_store(&bad_results, 0);
	make_runtime(workers);
	weft_future *m = weft_spawn(rt, phase1_main, NULL, "main");
	wait_or_die(m, "phase 1");
	weft_future_unref(m);
	weft_runtime_destroy(rt);
	long bad = 0;
	for (long i = 0; i < ncalls; i++)
		bad += atomic_load_explicit(&ran[i], memory_order_relaxed) != 1;
	STRESS_CHECK(bad == 0, "%ld calls did not run exactly once", bad);
	STRESS_CHECK(atomic_load(&bad_results) == 0, "%ld wrong results",
		     (long)atomic_load(&bad_results));
	int most = atomic_load(&most_running);
	STRESS_CHECK(most <= POOL, "%d calls ran at once with a pool of %d", most, POOL);
	printf("to_thread_stress: %u workers: %ld calls, pool of %d (at most %d at once), %.2f s\n",
	       workers, ncalls, POOL, most, stress_elapsed() - t0);
}

/* ---- phase 2: cancel races ---- */

struct slot {
	weft_future *task;
	weft_future *call;       /* the task's call (set by the task) */
	_Atomic int began;       /* the task's function started */
	_Atomic int decided;     /* the canceller is done with this task */
	int chosen;              /* the canceller cancels it */
	int cancel_ok;           /* what weft_cancel returned */
	int await_rc;            /* written by the task */
	void *await_value;
	int delivered;           /* -ECANCELED seen by the task */
	_Atomic int call_ran;
};

static struct slot *slots;
static long nslots;
static _Atomic long races_done;

static int race_call(void *arg, void **result)
{
	struct slot *s = arg;
	uintptr_t i = (uintptr_t)(s - slots);
	int before = atomic_fetch_add(&s->call_ran, 1);
	STRESS_CHECK(before == 0, "call %lu ran twice", (unsigned long)i);
	uint32_t r = mix((uint32_t)i * 7u);
	if (r % 16 == 0)
		nap_us(100); /* a real blocking wait now and then */
	else
		spin_us(r % 40);
	*result = (void *)(i + 1000);
	return 0;
}

static int race_task(void *arg, void **result)
{
	struct slot *s = arg;
	atomic_store(&s->began, 1);
	s->call = weft_to_thread(race_call, s);
	void *v = NULL;
	s->await_rc = weft_await(s->call, &v);
	s->await_value = v;
	int delivered = s->await_rc == -ECANCELED;
	/* Wait for the canceller's verdict; a pending cancel shows up at one
	 * of these suspension points, then one more after the verdict. */
	while (!atomic_load_explicit(&s->decided, memory_order_acquire))
		delivered += weft_sleep(0.0002) == -ECANCELED;
	delivered += weft_sleep(0) == -ECANCELED;
	s->delivered = delivered;
	atomic_fetch_add_explicit(&races_done, 1, memory_order_release);
	return 0;
}

#define ROUND 256 /* tasks spawned together, then cancelled in a shuffled order */

static void *canceller(void *arg)
{
	unsigned order[ROUND];
	for (long base = 0; base < nslots; base += ROUND) {
		long n = nslots - base < ROUND ? nslots - base : ROUND;
		for (long i = 0; i < n; i++) {
			slots[base + i].task = weft_spawn(rt, race_task, &slots[base + i], NULL);
			order[i] = (unsigned)i;
		}
		for (long i = n - 1; i > 0; i--) { /* shuffle */
			long j = mix((uint32_t)(base + i)) % (uint32_t)(i + 1);
			unsigned t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (long k = 0; k < n; k++) {
			struct slot *s = &slots[base + order[k]];
			uint32_t r = mix((uint32_t)(base + k) + 12345u);
			spin_us(r % 8);
			s->chosen = r % 2 == 0;
			if (s->chosen)
				s->cancel_ok = weft_cancel(s->task, "race");
			atomic_store_explicit(&s->decided, 1, memory_order_release);
		}
		/* the next round starts once this one is done */
		for (long i = 0; i < n; i++)
			wait_or_die(slots[base + i].task, "a racing task");
	}
	return NULL;
}

static void phase_races(unsigned workers)
{
	double t0 = stress_elapsed();
	memset(slots, 0, sizeof(*slots) * (size_t)nslots);
	atomic_store(&races_done, 0);
	make_runtime(workers);
	pthread_t th;
	pthread_create(&th, NULL, canceller, NULL);
	pthread_join(th, NULL);
	weft_runtime_destroy(rt);
	long early = 0, dropped = 0, refused = 0, untouched = 0;
	for (long i = 0; i < nslots; i++) {
		struct slot *s = &slots[i];
		int began = atomic_load(&s->began), cr = atomic_load(&s->call_ran);
		if (s->chosen)
			STRESS_CHECK(s->cancel_ok, "task %ld: cancel refused while pending", i);
		if (!began) {
			early++;
			STRESS_CHECK(s->chosen && weft_future_cancelled(s->task),
				     "task %ld never began but was not cancelled", i);
			continue;
		}
		STRESS_CHECK(!weft_future_cancelled(s->task), "task %ld began and ended cancelled", i);
		STRESS_CHECK(cr <= 1, "task %ld: call ran %d times", i, cr);
		if (s->await_rc == -ECANCELED) {
			dropped++;
			STRESS_CHECK(cr == 0, "task %ld: await -ECANCELED but its call ran", i);
			STRESS_CHECK(weft_future_cancelled(s->call), "task %ld: call not cancelled", i);
		} else {
			STRESS_CHECK(s->await_rc == 0 && s->await_value == (void *)(i + 1000) && cr == 1,
				     "task %ld: await rc %d value %p, call ran %d", i, s->await_rc,
				     s->await_value, cr);
			if (s->chosen)
				refused++;
			else
				untouched++;
		}
		STRESS_CHECK(s->delivered == (s->chosen ? 1 : 0),
			     "task %ld: %s, %d cancellations delivered", i,
			     s->chosen ? "cancelled" : "not cancelled", s->delivered);
		weft_future_unref(s->call);
	}
	for (long i = 0; i < nslots; i++)
		weft_future_unref(slots[i].task);
	printf("to_thread_stress: %u workers: %ld cancel races: %ld before the task ran, %ld calls "
	       "dropped unrun, %ld cancels after the call started, %ld not cancelled, %.2f s\n",
	       workers, nslots, early, dropped, refused, untouched, stress_elapsed() - t0);
}

/* ---- phase 3: shutdown with calls queued and running ---- */

static _Atomic long submitted, ended, ended_cancelled, bodies_ran;
static _Atomic int shut_started;

static int slow_body(void *arg, void **result)
{
	atomic_fetch_add(&bodies_ran, 1);
	atomic_store(&shut_started, 1);
	nap_us(500 + (long)(mix((uint32_t)(uintptr_t)arg) % 1500));
	return 0;
}

static void call_ended(weft_future *f, void *arg)
{
	if (weft_future_cancelled(f))
		atomic_fetch_add(&ended_cancelled, 1);
	atomic_fetch_add(&ended, 1);
}

static int shut_task(void *arg, void **result)
{
	uintptr_t me = (uintptr_t)arg;
	for (uintptr_t k = 0;; k++) {
		weft_future *f = weft_to_thread(slow_body, (void *)(me * 1000 + k));
		if (weft_future_done(f) && weft_future_exception(f) == -ESHUTDOWN) {
			weft_future_unref(f);
			return 0;
		}
		atomic_fetch_add(&submitted, 1);
		weft_future_add_done_callback(f, call_ended, NULL);
		int rc = 0;
		if (me % 2) /* odd tasks await; even ones leave calls behind */
			rc = weft_await(f, NULL);
		else
			rc = weft_sleep(0.0005);
		weft_future_unref(f);
		if (rc == -ECANCELED)
			return rc;
	}
}

static void phase_shutdown(unsigned workers)
{
	double t0 = stress_elapsed();
	atomic_store(&submitted, 0);
	atomic_store(&ended, 0);
	atomic_store(&ended_cancelled, 0);
	atomic_store(&bodies_ran, 0);
	atomic_store(&shut_started, 0);
	int threads_before = threads_baseline();
	make_runtime(workers);
	weft_future *ts[16];
	for (uintptr_t i = 0; i < 16; i++)
		ts[i] = weft_spawn(rt, shut_task, (void *)i, NULL);
	while (!atomic_load(&shut_started))
		nap_us(100);
	nap_us(20000);
	int rc = weft_runtime_destroy(rt);
	STRESS_CHECK(rc == 0, "destroy: %s", weft_strerror(rc));
	for (int i = 0; i < 16; i++) {
		STRESS_CHECK(weft_future_done(ts[i]), "task %d not done after destroy", i);
		weft_future_unref(ts[i]);
	}
	long sub = atomic_load(&submitted), end = atomic_load(&ended);
	long canc = atomic_load(&ended_cancelled), ranb = atomic_load(&bodies_ran);
	STRESS_CHECK(sub == end, "%ld calls submitted, %ld ended", sub, end);
	STRESS_CHECK(ranb + canc == sub, "%ld calls: %ld ran, %ld cancelled unrun", sub, ranb, canc);
	int threads_after = threads_in_process();
	STRESS_CHECK(threads_after == threads_before, "%d threads before, %d after destroy",
		     threads_before, threads_after);
	printf("to_thread_stress: %u workers: shutdown with %ld calls (%ld cancelled unrun), %.2f s\n",
	       workers, sub, canc, stress_elapsed() - t0);
}

int main(void)
{
	stress_begin("to_thread_stress");
	ncalls = stress_count(10000);
	if (ncalls < NTASKS)
		ncalls = NTASKS;
	nslots = stress_count(10000);
	ran = calloc((size_t)ncalls, 1);
	slots = calloc((size_t)nslots, sizeof(*slots));
	if (!ran || !slots)
		return 1;
	static const unsigned counts[] = {2, 4};
	for (unsigned i = 0; i < 2; i++) {
		phase_many(counts[i]);
		phase_races(counts[i]);
		phase_shutdown(counts[i]);
	}
	free((void *)ran);
	free(slots);
	return stress_end();
}
