/* SPDX-License-Identifier: MIT */
/*
 * asyncio's rules that several workers used to break now and then (issue
 * 14), each looped at least 50 times (under sanitizers too), on 2 workers
 * and on 4 with migratable tasks:
 *
 *  cancel_at_end   a task cancelled while it runs (by itself, or from
 *                  another thread while it spins) that then returns 0
 *                  ends cancelled (Task.__step's _must_cancel);
 *  on_worker       call_soon / call_later / call_at callbacks run on the
 *                  worker that scheduled them;
 *  yield_order     what was queued on a worker before a task yielded runs
 *                  before the task resumes there (a callback, new tasks in
 *                  the stealable ring, a task woken into the LIFO slot;
 *                  2 workers, the other one kept busy);
 *  past_timeout    timeout(0) and timeout(-11) around sleep(0) time out;
 *  nested_timeout  two nested scopes with one deadline both expire, the
 *                  inner passing -ECANCELED on, the outer -ETIMEDOUT.
 *
 * The last three are the scenarios of ../rules.h, which the Criterion
 * suite runs too. A hang fails meson's timeout; each phase takes
 * milliseconds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../rules.h"
#include "harness.h"

static long loops;
static bool migratable_run;

static void nap_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static long at_least_50(long full)
{
	long n = stress_count(full);
	return n < 50 ? 50 : n;
}

/* --- cancel_at_end ------------------------------------------------------ */

static atomic_int spin_state;

static int spin_then_return(void *arg, void **res)
{
	atomic_store(&spin_state, 1);
	while (atomic_load(&spin_state) != 2)
		;
	return 0;
}

static int cancel_self_then_return(void *arg, void **res)
{
	weft_cancel(weft_current_task(), NULL);
	*res = arg;
	return 0;
}

static void cancel_at_end(weft_runtime *rt)
{
	for (long i = 0; i < loops; i++) {
		atomic_store(&spin_state, 0);
		weft_future *t = weft_spawn(rt, spin_then_return, NULL, NULL);
		while (atomic_load(&spin_state) != 1)
			nap_us(10);
		STRESS_CHECK(weft_cancel(t, NULL), "run %ld: cancel of a running task refused", i);
		atomic_store(&spin_state, 2);
		int rc = weft_future_wait(t, WEFT_FOREVER, NULL);
		STRESS_CHECK(rc == -ECANCELED && weft_task_cancelled(t),
			     "run %ld: cancelled while running, returned 0: outcome %d", i, rc);
		weft_future_unref(t);

		t = weft_spawn(rt, cancel_self_then_return, (void *)1, NULL);
		rc = weft_future_wait(t, WEFT_FOREVER, NULL);
		STRESS_CHECK(rc == -ECANCELED, "run %ld: cancelled itself, returned 0: outcome %d", i,
			     rc);
		weft_future_unref(t);
	}
}

/* --- on_worker ------------------------------------------------------------ */

#define PER_LOOP 64

static long scheduled_on[PER_LOOP];
static atomic_int cb_ran, cb_elsewhere;

/* The calling thread, read afresh: pthread_self() is a const function the
 * compiler may keep across a suspension, after which a migratable task can
 * be on another thread. */
static long thread_id(void)
{
	return syscall(SYS_gettid);
}

static void where_cb(void *arg)
{
	if (thread_id() != scheduled_on[(uintptr_t)arg])
		atomic_fetch_add(&cb_elsewhere, 1);
	atomic_fetch_add(&cb_ran, 1);
}

static int on_worker_main(void *arg, void **res)
{
	for (long i = 0; i < loops; i++) {
		atomic_store(&cb_ran, 0);
		for (uintptr_t k = 0; k < PER_LOOP; k++) {
			/* a migratable task may move between calls: each
			 * callback checks the thread it was scheduled from */
			scheduled_on[k] = thread_id();
			int rc = k % 3 == 0   ? weft_call_soon(where_cb, (void *)k, NULL)
				 : k % 3 == 1 ? weft_call_later(k % 2 ? -0.001 : 0, where_cb, (void *)k,
								NULL)
					      : weft_call_at(weft_time(), where_cb, (void *)k, NULL);
			STRESS_CHECK(rc == 0, "schedule: %s", weft_strerror(rc));
			if (k % 16 == 15)
				weft_sleep(0);
		}
		while (atomic_load(&cb_ran) < PER_LOOP)
			weft_sleep(0.0001);
	}
	STRESS_CHECK(atomic_load(&cb_elsewhere) == 0, "%d callbacks ran on another worker",
		     atomic_load(&cb_elsewhere));
	return 0;
}

/* --- rules.h's scenarios -------------------------------------------------- */

static int yield_order_main(void *arg, void **res)
{
	struct rule_log log = {0};
	struct rule_yield_args a = {.workers = 2, .runs = loops, .log = &log};
	int rc = rule_yield_order(&a);
	STRESS_CHECK(a.bad == 0, "main resumed before what was queued ahead of it in %ld of %ld runs",
		     a.bad, loops);
	return rc;
}

static int past_timeout_main(void *arg, void **res)
{
	for (long i = 0; i < loops; i++)
		STRESS_CHECK(rule_past_timeout_sleep_zero(i), "run %ld: timeout(%s) around sleep(0)",
			     i, i % 2 ? "0" : "-11");
	return 0;
}

static int nested_timeout_main(void *arg, void **res)
{
	for (long i = 0; i < loops; i++)
		STRESS_CHECK(rule_nested_timeouts_same_deadline(0.0005),
			     "run %ld: nested scopes with one deadline", i);
	return 0;
}

/* --------------------------------------------------------------------------- */

static void run_in(weft_runtime *rt, const char *what, weft_task_fn fn)
{
	double t0 = stress_elapsed();
	weft_future *t = weft_spawn(rt, fn, NULL, what);
	int rc = weft_future_wait(t, WEFT_FOREVER, NULL);
	STRESS_CHECK(rc == 0, "%s: %s", what, weft_strerror(rc));
	weft_future_unref(t);
	printf("asyncio_rules: %u workers%s: %-15s %ld runs in %.2f s\n",
	       (unsigned)weft_runtime_workers(rt), migratable_run ? " (migratable)" : "", what, loops,
	       stress_elapsed() - t0);
}

static void run(unsigned workers, bool migratable)
{
	migratable_run = migratable;
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.migratable = migratable;
	weft_runtime *rt;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	double t0 = stress_elapsed();
	cancel_at_end(rt);
	printf("asyncio_rules: %u workers%s: %-15s %ld runs in %.2f s\n", workers,
	       migratable ? " (migratable)" : "", "cancel_at_end", loops, stress_elapsed() - t0);
	run_in(rt, "on_worker", on_worker_main);
	if (!migratable) /* a migratable task may resume elsewhere: the rule is "there" */
		run_in(rt, "yield_order", yield_order_main);
	run_in(rt, "past_timeout", past_timeout_main);
	run_in(rt, "nested_timeout", nested_timeout_main);
	weft_runtime_destroy(rt);
}

int main(void)
{
	stress_begin("asyncio_rules");
	loops = at_least_50(1000);
	run(2, false);
	run(4, true);
	return stress_end();
}
