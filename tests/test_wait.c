/* SPDX-License-Identifier: MIT */
/*
 * weft_wait, weft_wait_for and the as_completed iterator (weft/wait.h),
 * mirroring CPython's Lib/test/test_asyncio/test_tasks.py (wait,
 * as_completed) and test_waitfor.py (wait_for, 3.12), named above each
 * test. Timing tests run on ONE worker with the paused clock: sleeps and
 * timeouts are exact and instant.
 */
#include <stdint.h>

#include "test_util.h"

#define V(n) ((void *)(uintptr_t)(n))

static int r[16];
static bool b[16];
static void *v[16];
static size_t nd, np;
static weft_future *dn[8], *pd[8];
static weft_future *fs[8];
static int idx[8]; /* positions in fs of what was returned */
static struct tu_log lg;

static void reset(void)
{
	memset(r, 0x7f, sizeof(r));
	memset(b, 0, sizeof(b));
	memset(v, 0, sizeof(v));
	memset(idx, 0xff, sizeof(idx));
	nd = np = 99;
	tu_log_reset(&lg);
}

static int pos(weft_future *f)
{
	for (int i = 0; i < 8; i++)
		if (fs[i] == f)
			return i;
	return -1;
}

static void record_sets(void)
{
	for (size_t i = 0; i < nd && i < 4; i++)
		idx[i] = pos(dn[i]);
	for (size_t i = 0; i < np && i < 4; i++)
		idx[4 + i] = pos(pd[i]);
}

/* A task that sleeps arg milliseconds and returns arg. */
static int sleep_ms(void *arg, void **res)
{
	int rc = weft_sleep((double)(uintptr_t)arg / 1000);
	if (rc)
		return rc;
	*res = arg;
	return 0;
}

/* Sleeps arg milliseconds, then fails with -EIO. */
static int sleep_fail(void *arg, void **res)
{
	int rc = weft_sleep((double)(uintptr_t)arg / 1000);
	return rc ? rc : -EIO;
}

static void drop(int n)
{
	for (int i = 0; i < n; i++) {
		weft_future_unref(fs[i]);
		fs[i] = NULL;
	}
}

/* --- wait ---------------------------------------------------------------- */

/* test_wait: ALL_COMPLETED waits for both. */
static int all_main(void *arg, void **res)
{
	fs[0] = weft_create_task(sleep_ms, V(100), NULL);
	fs[1] = weft_create_task(sleep_ms, V(150), NULL);
	double t0 = weft_time();
	r[0] = weft_wait(fs, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, dn, &nd, pd, &np);
	r[1] = (int)((weft_time() - t0) * 1000 + 0.5);
	record_sets();
	drop(2);
	return 0;
}

Test(wait, all_completed, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(all_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 150);
	cr_assert_eq(nd, 2);
	cr_assert_eq(np, 0);
	cr_assert_eq(idx[0], 0, "input order");
	cr_assert_eq(idx[1], 1);
}

/* test_wait_first_completed. */
static int first_main(void *arg, void **res)
{
	fs[0] = weft_create_task(sleep_ms, V(10000), NULL);
	fs[1] = weft_create_task(sleep_ms, V(100), NULL);
	r[0] = weft_wait(fs, 2, WEFT_FOREVER, WEFT_FIRST_COMPLETED, dn, &nd, pd, &np);
	record_sets();
	b[0] = weft_future_done(fs[0]);
	weft_cancel(fs[0], NULL);
	weft_await(fs[0], NULL);
	drop(2);
	return 0;
}

Test(wait, first_completed, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(first_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(nd, 1);
	cr_assert_eq(np, 1);
	cr_assert_eq(idx[0], 1);
	cr_assert_eq(idx[4], 0);
	cr_assert_not(b[0], "the pending one is not cancelled");
}

/* test_wait_first_exception and test_wait_first_exception_in_wait. */
static int first_exc_main(void *arg, void **res)
{
	fs[0] = weft_create_task(sleep_ms, V(10000), NULL);
	fs[1] = weft_create_task(sleep_fail, V(10), NULL);
	r[0] = weft_wait(fs, 2, WEFT_FOREVER, WEFT_FIRST_EXCEPTION, dn, &nd, pd, &np);
	record_sets();
	r[1] = weft_future_exception(fs[1]);
	weft_cancel(fs[0], NULL);
	weft_await(fs[0], NULL);
	drop(2);
	return 0;
}

Test(wait, first_exception, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(first_exc_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(nd, 1);
	cr_assert_eq(np, 1);
	cr_assert_eq(idx[0], 1);
	cr_assert_eq(r[1], -EIO);
}

/* tasks.py _on_completion: a cancelled future is no exception for
 * FIRST_EXCEPTION; without failures it waits for all. */
static int first_exc_cancel_main(void *arg, void **res)
{
	fs[0] = weft_create_task(sleep_ms, V(100), NULL);
	fs[1] = weft_future_create(NULL);
	weft_cancel(fs[1], NULL);
	r[0] = weft_wait(fs, 2, WEFT_FOREVER, WEFT_FIRST_EXCEPTION, dn, &nd, pd, &np);
	record_sets();
	drop(2);
	return 0;
}

Test(wait, cancelled_is_not_an_exception, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(first_exc_cancel_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(nd, 2, "it waited for the task too");
	cr_assert_eq(np, 0);
}

/* test_wait_with_exception: ALL_COMPLETED is not cut short by a failure. */
static int all_exc_main(void *arg, void **res)
{
	fs[0] = weft_create_task(sleep_ms, V(150), NULL);
	fs[1] = weft_create_task(sleep_fail, V(100), NULL);
	r[0] = weft_wait(fs, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, dn, &nd, pd, &np);
	drop(2);
	return 0;
}

Test(wait, all_completed_with_a_failure, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(all_exc_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(nd, 2);
	cr_assert_eq(np, 0);
}

/* test_wait_with_timeout: a timeout is no error; pending ones go on. */
static int timeout_main(void *arg, void **res)
{
	fs[0] = weft_create_task(sleep_ms, V(100), NULL);
	fs[1] = weft_create_task(sleep_ms, V(150), NULL);
	double t0 = weft_time();
	r[0] = weft_wait(fs, 2, 0.11, WEFT_ALL_COMPLETED, dn, &nd, pd, &np);
	r[1] = (int)((weft_time() - t0) * 1000 + 0.5);
	record_sets();
	b[0] = weft_future_cancelled(fs[1]);
	r[2] = weft_await(fs[1], NULL);
	drop(2);
	return 0;
}

Test(wait, timeout_returns_pending, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(timeout_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 110);
	cr_assert_eq(nd, 1);
	cr_assert_eq(np, 1);
	cr_assert_eq(idx[0], 0);
	cr_assert_eq(idx[4], 1);
	cr_assert_not(b[0]);
	cr_assert_eq(r[2], 0);
}

/* asyncio.wait(timeout=0): still reports what is already done, and (as
 * asyncio) suspends once even if everything is done. */
static int zero_other(void *arg, void **res)
{
	tu_log_add(&lg, "other");
	return 0;
}

static int zero_main(void *arg, void **res)
{
	fs[0] = weft_future_create(NULL);
	fs[1] = weft_future_create(NULL);
	weft_future_set_result(fs[0], V(1));
	weft_future *o = weft_create_task(zero_other, NULL, NULL);
	r[0] = weft_wait(fs, 2, 0, WEFT_ALL_COMPLETED, dn, &nd, pd, &np);
	tu_log_add(&lg, "waited");
	record_sets();
	weft_future_set_result(fs[1], V(2));
	r[1] = weft_wait(fs, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL, &nd, NULL, &np);
	weft_await(o, NULL);
	weft_future_unref(o);
	drop(2);
	return 0;
}

Test(wait, zero_timeout_reports_done_ones, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(zero_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(idx[0], 0);
	cr_assert_eq(idx[4], 1);
	tu_assert_log(&lg, "other waited");
	cr_assert_eq(r[1], 0);
	cr_assert_eq(nd, 2);
	cr_assert_eq(np, 0);
}

/* asyncio.wait's finally: the waiting task cancelled gets -ECANCELED,
 * the futures are not cancelled. */
static int waiter_task(void *arg, void **res)
{
	size_t a, c;
	r[0] = weft_wait(fs, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, dn, &a, pd, &c);
	nd = a;
	np = c;
	return r[0];
}

static int wait_cancel_main(void *arg, void **res)
{
	fs[0] = weft_create_task(sleep_ms, V(100), NULL);
	fs[1] = weft_future_create(NULL);
	weft_future *w = weft_create_task(waiter_task, NULL, NULL);
	weft_sleep(0.01);
	weft_cancel(w, NULL);
	r[1] = weft_await(w, NULL);
	b[0] = weft_future_done(fs[0]) || weft_future_done(fs[1]);
	weft_future_set_result(fs[1], NULL);
	r[2] = weft_await(fs[0], NULL);
	weft_future_unref(w);
	drop(2);
	return 0;
}

Test(wait, cancelled_waiter_leaves_futures_alone, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(wait_cancel_main, NULL), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(nd, 0);
	cr_assert_eq(np, 0);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert_not(b[0]);
	cr_assert_eq(r[2], 0);
}

/* test_wait_errors: empty input, bad return_when; and outside a task. */
static int wait_misuse_main(void *arg, void **res)
{
	fs[0] = weft_future_create(NULL);
	weft_future *nul[1] = {NULL};
	r[0] = weft_wait(fs, 0, 1, WEFT_ALL_COMPLETED, dn, &nd, pd, &np);
	r[1] = weft_wait(fs, 1, 1, 0, dn, &nd, pd, &np);
	r[2] = weft_wait(nul, 1, 1, WEFT_ALL_COMPLETED, dn, &nd, pd, &np);
	r[3] = weft_wait(NULL, 1, 1, WEFT_ALL_COMPLETED, dn, &nd, pd, &np);
	r[4] = weft_wait(fs, 1, NAN, WEFT_ALL_COMPLETED, dn, &nd, pd, &np);
	drop(1);
	return 0;
}

Test(wait, misuse, .timeout = TEST_TIMEOUT)
{
	reset();
	weft_future *f = weft_future_create(NULL); /* -EINVAL future: fine */
	cr_assert_eq(weft_wait(&f, 1, 1, WEFT_ALL_COMPLETED, dn, &nd, pd, &np), -EPERM);
	cr_assert_eq(nd, 0);
	weft_future_unref(f);
	cr_assert_eq(tu_run_paused(wait_misuse_main, NULL), 0);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(r[i], -EINVAL, "case %d", i);
}

/* Several workers: futures completed on other workers release the wait. */
static int wait_many_main(void *arg, void **res)
{
	static weft_future *t[64];
	for (int i = 0; i < 64; i++)
		t[i] = weft_create_task(sleep_ms, V(i % 5), NULL);
	static weft_future *d2[64];
	size_t a = 0, c = 0;
	r[0] = weft_wait(t, 64, WEFT_FOREVER, WEFT_ALL_COMPLETED, d2, &a, NULL, &c);
	r[1] = (int)a;
	r[2] = (int)c;
	for (int i = 0; i < 64; i++)
		weft_future_unref(t[i]);
	return 0;
}

Test(wait, many_on_four_workers, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(4, wait_many_main, NULL, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 64);
	cr_assert_eq(r[2], 0);
}

/* --- wait_for ------------------------------------------------------------ */

/* test_waitfor.py test_wait_for_blocking: a done future, any timeout. */
static int wf_done_main(void *arg, void **res)
{
	fs[0] = weft_future_create(NULL);
	weft_future_set_result(fs[0], V(7));
	r[0] = weft_wait_for(fs[0], WEFT_FOREVER, &v[0]);
	r[1] = weft_wait_for(fs[0], 0, &v[1]);
	r[2] = weft_wait_for(fs[0], -1, &v[2]);
	drop(1);
	return 0;
}

Test(wait_for, done_future, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(wf_done_main, NULL), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(r[i], 0);
		cr_assert_eq(v[i], V(7));
	}
}

/* test_waitfor.py test_wait_for: the timeout cancels the task, and
 * wait_for returns only once it is done. */
static int wf_timeout_main(void *arg, void **res)
{
	fs[0] = weft_create_task(sleep_ms, V(200), NULL);
	double t0 = weft_time();
	r[0] = weft_wait_for(fs[0], 0.1, &v[0]);
	r[1] = (int)((weft_time() - t0) * 1000 + 0.5);
	b[0] = weft_future_done(fs[0]);
	b[1] = weft_future_cancelled(fs[0]);
	r[2] = weft_task_cancelling(weft_current_task());
	r[3] = weft_sleep(0);
	drop(1);
	return 0;
}

Test(wait_for, timeout_cancels_and_waits, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(wf_timeout_main, NULL), 0);
	cr_assert_eq(r[0], -ETIMEDOUT);
	cr_assert_eq(r[1], 100);
	cr_assert(b[0], "wait_for returns once the inner is really done");
	cr_assert(b[1]);
	cr_assert_eq(r[2], 0);
	cr_assert_eq(r[3], 0);
}

/* test_waitfor.py test_wait_for_race_condition: done in time. */
static void set_ok(void *arg)
{
	weft_future_set_result(arg, V(1));
}

static int wf_race_main(void *arg, void **res)
{
	fs[0] = weft_future_create(NULL);
	weft_call_later(0.1, set_ok, fs[0], NULL);
	r[0] = weft_wait_for(fs[0], 0.2, &v[0]);
	r[1] = weft_wait_for(fs[0], WEFT_FOREVER, &v[1]);
	drop(1);
	return 0;
}

Test(wait_for, done_in_time, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(wf_race_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(v[0], V(1));
	cr_assert_eq(r[1], 0);
}

/* test_wait_for_timeout_less_then_0_or_0 and ..._coroutine_do_not_started:
 * a pending future with timeout <= 0 is cancelled at once; a task that
 * never started never runs. */
static atomic_int started;

static int count_start(void *arg, void **res)
{
	atomic_fetch_add(&started, 1);
	return weft_sleep(1);
}

static int wf_zero_main(void *arg, void **res)
{
	fs[0] = weft_future_create(NULL);
	r[0] = weft_wait_for(fs[0], 0, NULL);
	b[0] = weft_future_cancelled(fs[0]);
	fs[1] = weft_create_task(count_start, NULL, NULL);
	r[1] = weft_wait_for(fs[1], -1, NULL);
	b[1] = weft_future_cancelled(fs[1]);
	drop(2);
	return 0;
}

Test(wait_for, zero_timeout_cancels_pending, .timeout = TEST_TIMEOUT)
{
	reset();
	atomic_store(&started, 0);
	cr_assert_eq(tu_run_paused(wf_zero_main, NULL), 0);
	cr_assert_eq(r[0], -ETIMEDOUT);
	cr_assert(b[0]);
	cr_assert_eq(r[1], -ETIMEDOUT);
	cr_assert(b[1]);
	cr_assert_eq(atomic_load(&started), 0);
}

/* test_wait_for_waits_for_task_cancellation: an inner that takes its time
 * to clean up after the cancel is waited for. */
static int slow_cleanup(void *arg, void **res)
{
	int rc = weft_sleep(10);
	if (rc == -ECANCELED) {
		weft_sleep(0.05); /* cleanup that still awaits */
		tu_log_add(&lg, "cleaned");
	}
	return rc;
}

static int wf_cleanup_main(void *arg, void **res)
{
	fs[0] = weft_create_task(slow_cleanup, NULL, NULL);
	double t0 = weft_time();
	r[0] = weft_wait_for(fs[0], 0.1, NULL);
	tu_log_add(&lg, "returned");
	r[1] = (int)((weft_time() - t0) * 1000 + 0.5);
	fs[1] = weft_create_task(slow_cleanup, NULL, NULL);
	weft_sleep(0);
	r[2] = weft_wait_for(fs[1], 0, NULL); /* ..._w_timeout_0 */
	tu_log_add(&lg, "returned");
	drop(2);
	return 0;
}

Test(wait_for, waits_for_the_inner_cleanup, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(wf_cleanup_main, NULL), 0);
	cr_assert_eq(r[0], -ETIMEDOUT);
	cr_assert_eq(r[1], 150);
	cr_assert_eq(r[2], -ETIMEDOUT);
	tu_assert_log(&lg, "cleaned returned cleaned returned");
}

/* test_wait_for_reraises_exception_during_cancellation, and 3.12's rule:
 * an inner that refuses the cancel and returns a value gives that value. */
static int fail_on_cancel(void *arg, void **res)
{
	int rc = weft_sleep(10);
	return rc == -ECANCELED ? -EIO : rc;
}

static int refuse_cancel(void *arg, void **res)
{
	weft_sleep(10);
	*res = V(42);
	return 0;
}

static int wf_refuse_main(void *arg, void **res)
{
	fs[0] = weft_create_task(fail_on_cancel, NULL, NULL);
	r[0] = weft_wait_for(fs[0], 0.1, NULL);
	fs[1] = weft_create_task(refuse_cancel, NULL, NULL);
	r[1] = weft_wait_for(fs[1], 0.1, &v[1]);
	r[2] = weft_task_cancelling(weft_current_task());
	fs[2] = weft_create_task(refuse_cancel, NULL, NULL);
	weft_sleep(0);
	r[3] = weft_wait_for(fs[2], 0, &v[3]);
	r[4] = weft_sleep(0);
	drop(3);
	return 0;
}

Test(wait_for, inner_outcome_during_cancellation_wins, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(wf_refuse_main, NULL), 0);
	cr_assert_eq(r[0], -EIO);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(v[1], V(42));
	cr_assert_eq(r[2], 0);
	cr_assert_eq(r[3], 0);
	cr_assert_eq(v[3], V(42));
	cr_assert_eq(r[4], 0, "no cancel left behind");
}

/* test_waitfor.py test_cancel_wait_for / test_cancel_blocking_wait_for:
 * cancelling the outer task cancels the inner; -ECANCELED, not a
 * timeout. */
static int wf_outer(void *arg, void **res)
{
	return weft_wait_for(fs[0], *(double *)arg, NULL);
}

static int wf_outer_cancel_main(void *arg, void **res)
{
	static const double timeouts[2] = {1, WEFT_FOREVER};
	for (int i = 0; i < 2; i++) {
		fs[0] = weft_create_task(sleep_ms, V(10000), NULL);
		weft_future *o = weft_create_task(wf_outer, (void *)&timeouts[i], NULL);
		weft_sleep(0.01);
		weft_cancel(o, NULL);
		r[i] = weft_await(o, NULL);
		b[i] = weft_future_cancelled(fs[0]);
		weft_future_unref(o);
		drop(1);
	}
	return 0;
}

Test(wait_for, outer_cancel_cancels_inner, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(wf_outer_cancel_main, NULL), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert(b[0]);
	cr_assert_eq(r[1], -ECANCELED, "WEFT_FOREVER");
	cr_assert(b[1]);
}

/* test_wait_for_timeout_less_then_0_or_0 + outer cancel: during the
 * immediate cancel-and-wait, a cancel of the caller ends the wait at once
 * (tasks.py _cancel_and_wait). */
static int stubborn(void *arg, void **res)
{
	weft_sleep(10);
	weft_sleep(0.05); /* refuses for a while */
	return 0;
}

static int wf_zero_outer(void *arg, void **res)
{
	r[0] = weft_wait_for(fs[0], 0, NULL);
	return r[0];
}

static int wf_zero_outer_main(void *arg, void **res)
{
	fs[0] = weft_create_task(stubborn, NULL, NULL);
	weft_sleep(0);
	weft_future *o = weft_create_task(wf_zero_outer, NULL, NULL);
	weft_sleep(0.01);
	b[0] = weft_future_done(fs[0]);
	weft_cancel(o, NULL);
	r[1] = weft_await(o, NULL);
	b[1] = weft_future_done(fs[0]);
	r[2] = weft_await(fs[0], NULL);
	weft_future_unref(o);
	drop(1);
	return 0;
}

Test(wait_for, zero_timeout_outer_cancel, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(wf_zero_outer_main, NULL), 0);
	cr_assert_not(b[0]);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert_not(b[1], "the inner still cleans up");
	cr_assert_eq(r[2], 0);
}

/* Misuse, checked first without touching the future. */
static int wf_misuse_main(void *arg, void **res)
{
	fs[0] = weft_future_create(NULL);
	r[0] = weft_wait_for(NULL, 1, NULL);
	r[1] = weft_wait_for(fs[0], NAN, NULL);
	r[2] = weft_wait_for(weft_current_task(), 1, NULL);
	b[0] = weft_future_done(fs[0]);
	drop(1);
	return 0;
}

Test(wait_for, misuse, .timeout = TEST_TIMEOUT)
{
	reset();
	weft_future *f = weft_future_create(NULL);
	cr_assert_eq(weft_wait_for(f, 1, NULL), -EPERM);
	weft_future_unref(f);
	cr_assert_eq(tu_run_paused(wf_misuse_main, NULL), 0);
	cr_assert_eq(r[0], -EINVAL);
	cr_assert_eq(r[1], -EINVAL);
	cr_assert_eq(r[2], -EDEADLK);
	cr_assert_not(b[0]);
}

/* --- as_completed -------------------------------------------------------- */

/* test_as_completed (3.13: the original futures, by completion order). */
static int ac_main(void *arg, void **res)
{
	fs[0] = weft_create_task(sleep_ms, V(100), NULL);
	fs[1] = weft_create_task(sleep_ms, V(150), NULL);
	fs[2] = weft_create_task(sleep_ms, V(50), NULL);
	weft_as_completed *it;
	r[0] = weft_as_completed_start(fs, 3, WEFT_FOREVER, &it);
	weft_future *f;
	int k = 0;
	while ((r[1] = weft_as_completed_next(it, &f)) == 0)
		idx[k++] = pos(f);
	r[2] = weft_as_completed_next(it, &f); /* still the end */
	weft_as_completed_free(it);
	drop(3);
	return 0;
}

Test(as_completed, yields_originals_in_completion_order, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(ac_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 1);
	cr_assert_eq(r[2], 1);
	cr_assert_eq(idx[0], 2);
	cr_assert_eq(idx[1], 0);
	cr_assert_eq(idx[2], 1);
}

/* test_as_completed_with_timeout: what finished in time, then one
 * -ETIMEDOUT per future left, then the end; those keep running. */
static int ac_timeout_main(void *arg, void **res)
{
	fs[0] = weft_create_task(sleep_ms, V(100), NULL);
	fs[1] = weft_create_task(sleep_ms, V(150), NULL);
	fs[2] = weft_create_task(sleep_ms, V(200), NULL);
	weft_as_completed *it;
	weft_as_completed_start(fs, 3, 0.12, &it);
	weft_future *f = NULL;
	r[0] = weft_as_completed_next(it, &f);
	idx[0] = pos(f);
	r[1] = weft_as_completed_next(it, &f);
	r[2] = weft_as_completed_next(it, &f);
	r[3] = weft_as_completed_next(it, &f);
	b[0] = weft_future_done(fs[1]) || weft_future_done(fs[2]);
	weft_as_completed_free(it);
	r[4] = weft_await(fs[2], NULL);
	drop(3);
	return 0;
}

Test(as_completed, timeout, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(ac_timeout_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(idx[0], 0);
	cr_assert_eq(r[1], -ETIMEDOUT);
	cr_assert_eq(r[2], -ETIMEDOUT);
	cr_assert_eq(r[3], 1);
	cr_assert_not(b[0], "the rest keep running");
	cr_assert_eq(r[4], 0);
}

/* test_as_completed_with_unused_timeout, and timeout 0: futures already
 * done come out before the timeout. */
static int ac_zero_main(void *arg, void **res)
{
	fs[0] = weft_future_create(NULL);
	fs[1] = weft_future_create(NULL);
	weft_future_set_result(fs[1], V(1));
	weft_as_completed *it;
	weft_as_completed_start(fs, 2, 0, &it);
	weft_future *f = NULL;
	r[0] = weft_as_completed_next(it, &f);
	idx[0] = pos(f);
	r[1] = weft_as_completed_next(it, &f);
	r[2] = weft_as_completed_next(it, &f);
	weft_as_completed_free(it);
	weft_as_completed_start(fs, 2, 0.01, &it);
	r[3] = weft_as_completed_next(it, &f);
	weft_future_set_result(fs[0], V(0));
	r[4] = weft_as_completed_next(it, &f);
	r[5] = weft_as_completed_next(it, &f);
	r[6] = weft_sleep(0.02); /* the timer was not left behind armed */
	weft_as_completed_free(it);
	drop(2);
	return 0;
}

Test(as_completed, done_ones_come_before_the_timeout, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(ac_zero_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(idx[0], 1);
	cr_assert_eq(r[1], -ETIMEDOUT);
	cr_assert_eq(r[2], 1);
	cr_assert_eq(r[3], 0);
	cr_assert_eq(r[4], 0);
	cr_assert_eq(r[5], 1);
	cr_assert_eq(r[6], 0);
}

/* as_completed([]) yields nothing; a cancelled next consumes nothing. */
static int ac_next_task(void *arg, void **res)
{
	weft_future *f = NULL;
	r[2] = weft_as_completed_next(arg, &f);
	return r[2];
}

static int ac_misc_main(void *arg, void **res)
{
	weft_as_completed *it;
	r[0] = weft_as_completed_start(NULL, 0, WEFT_FOREVER, &it);
	weft_future *f = NULL;
	r[1] = weft_as_completed_next(it, &f);
	weft_as_completed_free(it);

	fs[0] = weft_future_create(NULL);
	weft_as_completed_start(fs, 1, WEFT_FOREVER, &it);
	weft_future *t = weft_create_task(ac_next_task, it, NULL);
	weft_sleep(0);
	r[3] = weft_as_completed_next(it, &f); /* t is in next */
	weft_cancel(t, NULL);
	weft_await(t, NULL);
	weft_future_set_result(fs[0], NULL);
	r[4] = weft_as_completed_next(it, &f);
	b[0] = f == fs[0];
	r[5] = weft_as_completed_next(it, &f);
	weft_as_completed_free(it);
	weft_future_unref(t);
	r[6] = weft_as_completed_start(NULL, 1, 1, &it);
	r[7] = weft_as_completed_start(fs, 1, NAN, &it);
	r[8] = weft_as_completed_start(fs, 1, 1, NULL);
	drop(1);
	return 0;
}

Test(as_completed, empty_cancel_and_misuse, .timeout = TEST_TIMEOUT)
{
	reset();
	weft_as_completed *it;
	cr_assert_eq(weft_as_completed_start(NULL, 0, 1, &it), -EPERM);
	cr_assert_eq(tu_run_paused(ac_misc_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 1);
	cr_assert_eq(r[2], -ECANCELED);
	cr_assert_eq(r[3], -EBUSY);
	cr_assert_eq(r[4], 0);
	cr_assert(b[0]);
	cr_assert_eq(r[5], 1);
	cr_assert_eq(r[6], -EINVAL);
	cr_assert_eq(r[7], -EINVAL);
	cr_assert_eq(r[8], -EINVAL);
}

/* Freed early (asyncio: the iterator dropped): the callbacks and timer
 * are withdrawn, nothing leaks, nothing fires. */
static int ac_free_main(void *arg, void **res)
{
	fs[0] = weft_create_task(sleep_ms, V(10), NULL);
	fs[1] = weft_future_create(NULL);
	weft_as_completed *it;
	weft_as_completed_start(fs, 2, 0.05, &it);
	weft_as_completed_free(it);
	r[0] = weft_await(fs[0], NULL);
	r[1] = weft_sleep(0.1);
	weft_future_set_result(fs[1], NULL);
	weft_sleep(0);
	drop(2);
	return 0;
}

Test(as_completed, freed_early, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(ac_free_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 0);
}

/* Several workers: every future comes out exactly once. */
static int ac_many_main(void *arg, void **res)
{
	static weft_future *t[64];
	static int seen[64];
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 64; i++)
		t[i] = weft_create_task(sleep_ms, V(i % 7), NULL);
	weft_as_completed *it;
	weft_as_completed_start(t, 64, 5.0 * WEFT_TEST_SLOW, &it);
	weft_future *f;
	int rc, k = 0;
	while ((rc = weft_as_completed_next(it, &f)) == 0) {
		for (int i = 0; i < 64; i++)
			if (t[i] == f)
				seen[i]++;
		k++;
	}
	r[0] = rc;
	r[1] = k;
	r[2] = 0;
	for (int i = 0; i < 64; i++)
		if (seen[i] != 1)
			r[2]++;
	weft_as_completed_free(it);
	for (int i = 0; i < 64; i++)
		weft_future_unref(t[i]);
	return 0;
}

Test(as_completed, many_on_four_workers, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(4, ac_many_main, NULL, NULL), 0);
	cr_assert_eq(r[0], 1);
	cr_assert_eq(r[1], 64);
	cr_assert_eq(r[2], 0);
}
