/* SPDX-License-Identifier: MIT */
/* weft_time and timed weft_sleep (weft/time.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <weft.h>

#include "test_util.h"

#define TIMEOUT (20 * WEFT_TEST_SLOW)

Test(time, clock_is_monotonic_seconds)
{
	double a = weft_time(), b = weft_time();
	cr_assert(a > 0 && b >= a);
}

/* --- a sleep never returns early ------------------------------------- */

static double slept[3];
static int sleep_rc[3];

static int sleep_for(void *arg, void **res)
{
	intptr_t i = (intptr_t)arg;
	static const double d[3] = {0.03, 0.01, 0.02};
	double t0 = weft_time();
	sleep_rc[i] = weft_sleep(d[i]);
	slept[i] = weft_time() - t0;
	return 0;
}

static _Atomic int order[3], order_n;

static int sleep_and_log(void *arg, void **res)
{
	sleep_for(arg, res);
	order[atomic_fetch_add(&order_n, 1)] = (int)(intptr_t)arg;
	return 0;
}

static int three_sleepers(void *arg, void **res)
{
	weft_future *t[3];
	for (intptr_t i = 0; i < 3; i++)
		t[i] = weft_create_task(sleep_and_log, (void *)i, NULL);
	for (int i = 0; i < 3; i++) {
		weft_await(t[i], NULL);
		weft_future_unref(t[i]);
	}
	return 0;
}

Test(time, sleeps_last_at_least_their_duration_and_wake_in_deadline_order, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, three_sleepers, NULL, NULL), 0);
	static const double d[3] = {0.03, 0.01, 0.02};
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(sleep_rc[i], 0);
		cr_assert_geq(slept[i], d[i], "sleep %d returned early: %f < %f", i, slept[i], d[i]);
	}
	cr_assert_eq(order[0], 1);
	cr_assert_eq(order[1], 2);
	cr_assert_eq(order[2], 0);
}

Test(time, sleeps_work_on_several_workers, .timeout = TIMEOUT)
{
	atomic_store(&order_n, 0);
	cr_assert_eq(tu_run_n(4, three_sleepers, NULL, NULL), 0);
	static const double d[3] = {0.03, 0.01, 0.02};
	for (int i = 0; i < 3; i++)
		cr_assert_geq(slept[i], d[i]);
}

/* --- cancelling a sleeping task wakes it at once ---------------------- */

static int cancelled_rc;
static double cancelled_after;

static int long_sleep(void *arg, void **res)
{
	double t0 = weft_time();
	cancelled_rc = weft_sleep(3600);
	cancelled_after = weft_time() - t0;
	return cancelled_rc;
}

static int cancel_sleeper(void *arg, void **res)
{
	weft_future *t = weft_create_task(long_sleep, NULL, NULL);
	weft_sleep(0.01);
	weft_cancel(t, "enough");
	int rc = weft_await(t, NULL);
	weft_future_unref(t);
	return rc == -ECANCELED ? 0 : -EIO;
}

Test(time, cancelled_sleep_returns_ecanceled_promptly, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, cancel_sleeper, NULL, NULL), 0);
	cr_assert_eq(cancelled_rc, -ECANCELED);
	cr_assert_lt(cancelled_after, 60.0);
}

/* A sleeping task on one worker cancelled from a foreign thread. */
static weft_future *foreign_target;

static void *cancel_from_thread(void *arg)
{
	weft_cancel(foreign_target, NULL);
	return NULL;
}

static int foreign_cancel_main(void *arg, void **res)
{
	foreign_target = weft_create_task(long_sleep, NULL, NULL);
	weft_sleep(0.01);
	pthread_t th;
	pthread_create(&th, NULL, cancel_from_thread, NULL);
	int rc = weft_await(foreign_target, NULL);
	pthread_join(th, NULL);
	weft_future_unref(foreign_target);
	return rc == -ECANCELED ? 0 : -EIO;
}

Test(time, sleep_cancelled_from_another_thread_wakes, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(2, foreign_cancel_main, NULL, NULL), 0);
	cr_assert_eq(cancelled_rc, -ECANCELED);
}

/* Shutdown cancels sleeping tasks; the runtime does not wait an hour. */
static int leave_sleeper(void *arg, void **res)
{
	weft_future *t = weft_create_task(long_sleep, NULL, NULL);
	weft_sleep(0.005);
	weft_future_unref(t);
	return 0;
}

Test(time, shutdown_cancels_sleeping_tasks, .timeout = TIMEOUT)
{
	double t0 = weft_time();
	cr_assert_eq(tu_run_n(1, leave_sleeper, NULL, NULL), 0);
	cr_assert_lt(weft_time() - t0, 60.0);
	cr_assert_eq(cancelled_rc, -ECANCELED);
}

/* Many concurrent sleeps (of 10, 20 and 30 ms: sleep_for's, without its
 * records, which tasks on two workers would write at once). */
static int sleep_briefly(void *arg, void **res)
{
	return weft_sleep(0.01 * (double)(1 + (intptr_t)arg));
}

static int many_sleeps(void *arg, void **res)
{
	enum { N = 20000 };
	static weft_future *t[N];
	for (int i = 0; i < N; i++)
		t[i] = weft_create_task(sleep_briefly, (void *)(intptr_t)(i % 3), NULL);
	int bad = 0;
	for (int i = 0; i < N; i++) {
		if (weft_await(t[i], NULL) != 0)
			bad++;
		weft_future_unref(t[i]);
	}
	return bad ? -EIO : 0;
}

Test(time, twenty_thousand_concurrent_sleeps, .timeout = 60 * WEFT_TEST_SLOW)
{
	cr_assert_eq(tu_run_n(2, many_sleeps, NULL, NULL), 0);
}

/* --- the paused clock (tokio's start_paused) --------------------------- */

Test(time, paused_clock_needs_exactly_one_worker)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.paused_clock = true;
	weft_runtime *rt;
	cfg.workers = 2;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	cfg.workers = 0; /* "online CPUs" is not "one" */
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
}

static double woke_at[2];

static int sleep_n(void *arg, void **res)
{
	intptr_t i = (intptr_t)arg;
	double t0 = weft_time();
	weft_sleep(i == 0 ? 5.0 : 3.0);
	woke_at[i] = weft_time() - t0;
	order[atomic_fetch_add(&order_n, 1)] = (int)i;
	return 0;
}

static int paused_sleeps_main(void *arg, void **res)
{
	weft_future *a = weft_create_task(sleep_n, (void *)0, NULL);
	weft_future *b = weft_create_task(sleep_n, (void *)1, NULL);
	weft_await(a, NULL);
	weft_await(b, NULL);
	weft_future_unref(a);
	weft_future_unref(b);
	return 0;
}

Test(time, paused_clock_jumps_to_each_deadline_exactly, .timeout = TIMEOUT)
{
	atomic_store(&order_n, 0);
	double wall0 = weft_time();
	cr_assert_eq(tu_run_paused(paused_sleeps_main, NULL), 0);
	cr_assert_lt(weft_time() - wall0, 2.0, "hours of virtual time took real time");
	cr_assert_eq(order[0], 1);
	cr_assert_eq(order[1], 0);
	cr_assert_float_eq(woke_at[0], 5.0, 1e-6);
	cr_assert_float_eq(woke_at[1], 3.0, 1e-6);
}

static int advance_rc[3];
static char advance_trace[8];
static int advance_n;

static void tick(void *arg)
{
	advance_trace[advance_n++] = (char)(intptr_t)arg;
}

static int advance_main(void *arg, void **res)
{
	double t0 = weft_time();
	weft_call_later(10, tick, (void *)'a', NULL);
	weft_call_later(20, tick, (void *)'b', NULL);
	advance_rc[0] = weft_clock_advance(10);
	advance_trace[advance_n++] = '|';
	weft_sleep(0); /* the timer that came due runs in the next turn */
	advance_rc[1] = weft_clock_advance(-1);
	advance_rc[2] = (int)((weft_time() - t0) * 1000 + 0.5);
	return 0;
}

Test(time, clock_advance_fires_due_timers, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_paused(advance_main, NULL), 0);
	advance_trace[advance_n] = 0;
	/* 'b' (due at +20) never fires: once no task is left nothing waits
	 * for time, and shutdown discards it */
	cr_assert_str_eq(advance_trace, "|a");
	cr_assert_eq(advance_rc[0], 0);
	cr_assert_eq(advance_rc[1], -EINVAL);
	cr_assert_eq(advance_rc[2], 10000);
	cr_assert_eq(weft_clock_advance(1), -EPERM);
}

/* asyncio: a cancel() after the sleep's timer came due, but before the
 * task ran again, raises CancelledError at that sleep (the timer handle
 * runs after what was already ready; __step throws the cancel into the
 * await), not at the task's next suspension. */
static int late_rc[2];

static int sleep_twice(void *arg, void **res)
{
	late_rc[0] = weft_sleep(5.0);
	late_rc[1] = weft_sleep(0);
	return 0;
}

static int cancel_it(void *arg, void **res)
{
	weft_cancel(arg, NULL);
	return 0;
}

static int late_cancel_main(void *arg, void **res)
{
	weft_future *a = weft_create_task(sleep_twice, NULL, NULL);
	weft_sleep(0); /* a is in its sleep */
	weft_future *b = weft_create_task(cancel_it, a, NULL);
	weft_clock_advance(5); /* a's sleep ends: a is ready after b */
	weft_await(a, NULL);
	weft_await(b, NULL);
	weft_future_unref(a);
	weft_future_unref(b);
	return 0;
}

Test(time, cancel_after_the_deadline_before_resuming_ends_the_sleep_cancelled,
     .timeout = TIMEOUT)
{
	late_rc[0] = late_rc[1] = 1;
	cr_assert_eq(tu_run_paused(late_cancel_main, NULL), 0);
	cr_assert_eq(late_rc[0], -ECANCELED, "rc %d then %d", late_rc[0], late_rc[1]);
	cr_assert_eq(late_rc[1], 0, "delivered once");
}

/* test_sleep_when_delay_is_nan (asyncio 3.13): sleep(nan) raises
 * ValueError ("Invalid delay: NaN"): -EINVAL at once, without suspending
 * (1 worker: a task created just before has not run yet), checked before
 * "outside a task". */
static atomic_int nan_rc = 1, nan_other_ran, nan_other_ran_before;

static int note_ran(void *arg, void **res)
{
	atomic_store(&nan_other_ran, 1);
	return 0;
}

static int sleep_nan_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(note_ran, NULL, NULL);
	atomic_store(&nan_rc, weft_sleep(NAN));
	atomic_store(&nan_other_ran_before, atomic_load(&nan_other_ran));
	weft_await(t, NULL);
	weft_future_unref(t);
	return 0;
}

Test(time, sleep_nan_is_einval, .timeout = TIMEOUT)
{
	cr_assert_eq(weft_sleep(NAN), -EINVAL, "outside a task");
	for (unsigned w = 1; w <= 2; w++) {
		atomic_store(&nan_rc, 1);
		atomic_store(&nan_other_ran, 0);
		cr_assert_eq(tu_run_n(w, sleep_nan_main, NULL, NULL), 0);
		cr_assert_eq(atomic_load(&nan_rc), -EINVAL, "workers=%u", w);
		if (w == 1)
			cr_assert_eq(atomic_load(&nan_other_ran_before), 0, "sleep(NAN) suspended");
	}
}
