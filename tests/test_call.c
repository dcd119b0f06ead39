/* SPDX-License-Identifier: MIT */
/* call_soon / call_later / call_at and handles (weft/call.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <weft.h>

#include "test_util.h"

#define TIMEOUT (20 * WEFT_TEST_SLOW)

static char trace[64];
static int ntrace;

static void mark(void *arg)
{
	trace[ntrace++] = (char)(intptr_t)arg;
}

static int other(void *arg, void **res)
{
	mark((void *)'t');
	return 0;
}

/* asyncio test_events: call_soon runs callbacks in call order, after what
 * was ready when they were scheduled. */
static int soon_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(other, NULL, NULL); /* ready first */
	weft_call_soon(mark, (void *)'a', NULL);
	weft_call_soon(mark, (void *)'b', NULL);
	weft_call_soon(mark, (void *)'c', NULL);
	weft_sleep(0);
	mark((void *)'m');
	weft_await(t, NULL);
	weft_future_unref(t);
	return 0;
}

Test(call, call_soon_runs_in_order_after_ready_tasks, .timeout = TIMEOUT)
{
	ntrace = 0;
	cr_assert_eq(tu_run_n(1, soon_main, NULL, NULL), 0);
	trace[ntrace] = 0;
	cr_assert_str_eq(trace, "tabcm");
}

static double when_delta;

static int later_main(void *arg, void **res)
{
	double now = weft_time();
	weft_handle *h;
	weft_call_at(now + 0.03, mark, (void *)'3', NULL);
	weft_call_later(0.01, mark, (void *)'1', NULL);
	weft_call_at(now + 0.02, mark, (void *)'2', &h);
	weft_call_at(now + 0.02, mark, (void *)'x', NULL); /* same deadline: after '2' */
	when_delta = weft_handle_when(h) - (now + 0.02);
	weft_handle_unref(h);
	weft_sleep(0.05);
	return 0;
}

Test(call, call_later_runs_by_deadline_then_by_order, .timeout = TIMEOUT)
{
	ntrace = 0;
	cr_assert_eq(tu_run_n(1, later_main, NULL, NULL), 0);
	trace[ntrace] = 0;
	cr_assert_str_eq(trace, "12x3");
	cr_assert(when_delta > -1e-6 && when_delta < 1e-3);
}

static bool cancel_rc[4], soon_cancelled;

static int cancel_main(void *arg, void **res)
{
	weft_handle *soon, *later, *ran;
	weft_call_soon(mark, (void *)'s', &soon);
	weft_call_later(0.01, mark, (void *)'l', &later);
	weft_call_soon(mark, (void *)'r', &ran);
	cancel_rc[0] = weft_handle_cancel(soon);
	cancel_rc[1] = weft_handle_cancel(soon); /* already cancelled */
	cancel_rc[2] = weft_handle_cancel(later);
	weft_sleep(0.02);
	cancel_rc[3] = weft_handle_cancel(ran); /* already ran */
	soon_cancelled = weft_handle_cancelled(soon);
	weft_handle_unref(soon);
	weft_handle_unref(later);
	weft_handle_unref(ran);
	return 0;
}

Test(call, cancelled_handles_never_run, .timeout = TIMEOUT)
{
	ntrace = 0;
	cr_assert_eq(tu_run_n(1, cancel_main, NULL, NULL), 0);
	trace[ntrace] = 0;
	cr_assert_str_eq(trace, "r");
	cr_assert(cancel_rc[0]);
	cr_assert_not(cancel_rc[1]);
	cr_assert(cancel_rc[2]);
	cr_assert_not(cancel_rc[3]);
	cr_assert(soon_cancelled);
}

/* Removed timers stay in the heap until due or compacted (io/timer.h):
 * neither may change what fires, nor its order. 1,000 timers, 900 of
 * them cancelled (the heap is compacted: more than half removed), some
 * deadlines shared; the rest fire by deadline, then in scheduling order. */
enum { MANY = 1000 };
static int many_fired[MANY], nmany;
static bool many_cancelled[MANY];

static void many_mark(void *arg)
{
	many_fired[nmany++] = (int)(intptr_t)arg;
}

static int many_deadline(int i)
{
	return (i * 7919) % 97; /* ms; i and i + 97k share one */
}

static int many_main(void *arg, void **res)
{
	static weft_handle *h[MANY];
	double now = weft_time();
	for (int i = 0; i < MANY; i++)
		weft_call_at(now + many_deadline(i) * 1e-3, many_mark, (void *)(intptr_t)i, &h[i]);
	for (int i = 0; i < MANY; i++) {
		if (i % 10 != 3)
			many_cancelled[i] = weft_handle_cancel(h[i]); /* false: it ran */
		if (i == MANY / 2)
			weft_sleep(0.01); /* a few fire while half are cancelled */
	}
	weft_sleep(0.2);
	for (int i = 0; i < MANY; i++)
		weft_handle_unref(h[i]);
	return 0;
}

Test(call, many_cancelled_timers_keep_the_rest_in_order, .timeout = TIMEOUT)
{
	for (int paused = 0; paused < 2; paused++) {
		nmany = 0;
		cr_assert_eq(paused ? tu_run_paused(many_main, NULL) : tu_run_n(1, many_main, NULL, NULL), 0);
		/* what fired: every i % 10 == 3, and those due before their
		 * cancel (only after the 10 ms sleep: all due before it did) */
		bool seen[MANY] = {false};
		for (int k = 0; k < nmany; k++) {
			int i = many_fired[k];
			cr_assert_not(seen[i]);
			seen[i] = true;
			if (k) {
				int j = many_fired[k - 1];
				cr_assert(many_deadline(j) < many_deadline(i) ||
						  (many_deadline(j) == many_deadline(i) && j < i),
					  "%d fired after %d", i, j);
			}
		}
		for (int i = 0; i < MANY; i++) {
			if (i % 10 == 3)
				continue;
			cr_assert_eq(seen[i], !many_cancelled[i], "%d", i);
			if (i <= MANY / 2)
				cr_assert(many_cancelled[i], "%d", i);
			else if (many_deadline(i) < 10) /* 1 ms clear of the sleep's */
				cr_assert_not(many_cancelled[i], "%d", i);
		}
		for (int i = 3; i < MANY; i += 10)
			cr_assert(seen[i], "%d did not fire", i);
	}
}

static weft_local_key key;
static void *seen_value;
static int seen_sleep_rc;

static void look(void *arg)
{
	seen_value = weft_local_get(key);
	seen_sleep_rc = weft_sleep(0); /* a callback cannot suspend */
}

static int locals_main(void *arg, void **res)
{
	weft_local_set(key, (void *)0x1234);
	weft_call_soon(look, NULL, NULL);
	weft_local_set(key, (void *)0x5678); /* the callback keeps what it saw */
	weft_sleep(0);
	return 0;
}

Test(call, callbacks_see_the_scheduling_tasks_values, .timeout = TIMEOUT)
{
	cr_assert_eq(weft_local_key_create(&key), 0);
	cr_assert_eq(tu_run_n(1, locals_main, NULL, NULL), 0);
	/* contextvars: the context is captured when the callback is scheduled */
	cr_assert_eq(seen_value, (void *)0x1234);
	cr_assert_eq(seen_sleep_rc, -EPERM);
}

Test(call, misuse)
{
	weft_handle *h = (weft_handle *)1;
	cr_assert_eq(weft_call_soon(mark, NULL, &h), -EPERM);
	cr_assert_null(h);
	cr_assert_eq(weft_call_later(1, mark, NULL, NULL), -EPERM);
	cr_assert_not(weft_handle_cancel(NULL));
	weft_handle_unref(NULL);
}

static int null_fn_main(void *arg, void **res)
{
	return weft_call_soon(NULL, NULL, NULL) == -EINVAL ? 0 : -EIO;
}

Test(call, null_function_is_einval, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, null_fn_main, NULL, NULL), 0);
}

/* A far-off timer pending at shutdown is dropped, not run, not leaked. */
static int forgotten_main(void *arg, void **res)
{
	weft_call_later(3600, mark, (void *)'z', NULL);
	return 0;
}

Test(call, pending_timer_at_shutdown_is_dropped, .timeout = TIMEOUT)
{
	ntrace = 0;
	cr_assert_eq(tu_run_n(1, forgotten_main, NULL, NULL), 0);
	cr_assert_eq(ntrace, 0);
}

/* asyncio 3.13: call_later / call_at with a NaN delay or deadline raise
 * ValueError: -EINVAL, no handle, nothing scheduled; checked before "not
 * on a worker thread". */
static atomic_int nan_rcs[4] = {1, 1, 1, 1};
static atomic_bool nan_handle_set;

static int call_nan_main(void *arg, void **res)
{
	weft_handle *h = (weft_handle *)1;
	atomic_store(&nan_rcs[0], weft_call_later(NAN, mark, (void *)'n', &h));
	if (h)
		atomic_store(&nan_handle_set, true);
	h = (weft_handle *)1;
	atomic_store(&nan_rcs[1], weft_call_at(NAN, mark, (void *)'n', &h));
	if (h)
		atomic_store(&nan_handle_set, true);
	atomic_store(&nan_rcs[2], weft_call_later(-NAN, mark, (void *)'n', NULL));
	atomic_store(&nan_rcs[3], weft_call_at(weft_time() + NAN, mark, (void *)'n', NULL));
	weft_sleep(0.01);
	return 0;
}

Test(call, call_later_and_call_at_nan_are_einval, .timeout = TIMEOUT)
{
	cr_assert_eq(weft_call_later(NAN, mark, NULL, NULL), -EINVAL, "outside a worker");
	cr_assert_eq(weft_call_at(NAN, mark, NULL, NULL), -EINVAL);
	for (unsigned w = 1; w <= 2; w++) {
		ntrace = 0;
		atomic_store(&nan_handle_set, false);
		cr_assert_eq(tu_run_n(w, call_nan_main, NULL, NULL), 0);
		for (int i = 0; i < 4; i++)
			cr_assert_eq(atomic_load(&nan_rcs[i]), -EINVAL, "workers=%u, call %d", w, i);
		cr_assert_not(atomic_load(&nan_handle_set));
		cr_assert_eq(ntrace, 0, "a NaN callback ran");
	}
}

/* test_call_later_negative_delays: past deadlines keep their real values
 * in the heap, so call_later(-1, a) then call_later(-2, b) runs b, then a;
 * call_at in the past likewise, by deadline, after call_soon's. */
static int negative_delays_main(void *arg, void **res)
{
	double now = weft_time();
	weft_call_later(-1, mark, (void *)'a', NULL);
	weft_call_later(-2, mark, (void *)'b', NULL);
	weft_call_at(now - 1.5, mark, (void *)'c', NULL);
	weft_call_at(-INFINITY, mark, (void *)'d', NULL);
	weft_call_soon(mark, (void *)'s', NULL);
	weft_sleep(0.001);
	return 0;
}

Test(call, call_later_negative_delays, .timeout = TIMEOUT)
{
	for (unsigned w = 1; w <= 2; w++) {
		ntrace = 0;
		cr_assert_eq(tu_run_n(w, negative_delays_main, NULL, NULL), 0);
		trace[ntrace] = 0;
		cr_assert_str_eq(trace, "sdbca", "workers=%u", w);
	}
}

/* TimerHandle.when(): the deadline as given, also in the past. A relative
 * one is counted from the call's own clock read, somewhere between the
 * reads before and after it (a slow machine, or TSan, puts ms between). */
static double past_when[3], past_lo[3], past_hi[3];

static int past_when_main(void *arg, void **res)
{
	weft_handle *h[3];
	double t0 = weft_time();
	weft_call_later(-1, mark, NULL, &h[0]);
	double t1 = weft_time();
	weft_call_at(t1 - 5, mark, NULL, &h[1]);
	double t2 = weft_time();
	weft_call_later(0, mark, NULL, &h[2]);
	double t3 = weft_time();
	past_lo[0] = t0 - 1;
	past_hi[0] = t1 - 1;
	past_lo[1] = past_hi[1] = t1 - 5;
	past_lo[2] = t2;
	past_hi[2] = t3;
	for (int i = 0; i < 3; i++) {
		past_when[i] = weft_handle_when(h[i]);
		weft_handle_cancel(h[i]);
		weft_handle_unref(h[i]);
	}
	return 0;
}

Test(call, handle_when_is_the_real_deadline_in_the_past_too, .timeout = TIMEOUT)
{
	ntrace = 0;
	cr_assert_eq(tu_run_n(1, past_when_main, NULL, NULL), 0);
	for (int i = 0; i < 3; i++)
		cr_assert(past_when[i] >= past_lo[i] - 1e-6 && past_when[i] <= past_hi[i] + 1e-6,
			  "handle %d: when %f, expected %f to %f", i, past_when[i], past_lo[i],
			  past_hi[i]);
	cr_assert_eq(ntrace, 0);
}

/* loop.call_soon / call_later / call_at run on the loop that scheduled
 * them: with several workers, on the calling worker (weft/call.h), never
 * stolen by another. The task is non-migratable, so its thread is its
 * worker's; each callback compares its own thread with it. */
#define ON_WORKER_N 2000

static pthread_t on_worker_thread;
static atomic_int on_worker_ran, on_worker_elsewhere;

static void on_worker_cb(void *arg)
{
	if (!pthread_equal(pthread_self(), on_worker_thread))
		atomic_fetch_add(&on_worker_elsewhere, 1);
	atomic_fetch_add(&on_worker_ran, 1);
}

static int on_worker_main(void *arg, void **res)
{
	on_worker_thread = pthread_self();
	for (int i = 0; i < ON_WORKER_N; i++) {
		int rc = i % 4 == 3   ? weft_call_later(i % 8 == 7 ? -0.001 : 0, on_worker_cb, NULL, NULL)
			 : i % 4 == 2 ? weft_call_at(weft_time(), on_worker_cb, NULL, NULL)
				      : weft_call_soon(on_worker_cb, NULL, NULL);
		if (rc)
			return rc;
		if (i % 64 == 63) /* time for the other worker to wake and look */
			weft_sleep(0.0002);
	}
	while (atomic_load(&on_worker_ran) < ON_WORKER_N)
		weft_sleep(0.0005);
	return 0;
}

Test(call, callbacks_run_on_the_calling_worker, .timeout = TIMEOUT)
{
	for (unsigned w = 1; w <= 2; w++) {
		atomic_store(&on_worker_ran, 0);
		atomic_store(&on_worker_elsewhere, 0);
		cr_assert_eq(tu_run_n(w, on_worker_main, NULL, NULL), 0);
		cr_assert_eq(atomic_load(&on_worker_ran), ON_WORKER_N);
		cr_assert_eq(atomic_load(&on_worker_elsewhere), 0,
			     "workers=%u: %d of %d callbacks ran on another worker", w,
			     atomic_load(&on_worker_elsewhere), ON_WORKER_N);
	}
}
