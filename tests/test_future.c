/* SPDX-License-Identifier: MIT */
/*
 * Futures (weft/future.h): results, exceptions, cancellation of a plain
 * future, done callbacks, reference counting, foreign waits, and futures
 * that outlive their runtime.
 */
#include <float.h>

#include "test_util.h"

/* Each Criterion test runs in its own process: file-level state starts
 * zeroed for every test. */
static pthread_t test_thread;
static struct tu_log log_;

/* What a done callback saw. */
struct cbrec {
	const char *name;
	weft_future *expect;     /* the future it was registered on */
	atomic_int ran;
	bool on_test_thread;     /* ran on the test's thread (must not) */
	bool not_worker;         /* ran outside a worker (must not) */
	bool in_task;            /* saw a current task (a callback is not one) */
	bool wrong_future;       /* got another future than it was added to */
	bool not_done;           /* the future was not done when it ran */
};

static void record_cb(weft_future *f, void *arg)
{
	struct cbrec *r = arg;
	if (pthread_equal(pthread_self(), test_thread))
		r->on_test_thread = true;
	if (!weft_current_runtime())
		r->not_worker = true;
	if (weft_current_task())
		r->in_task = true;
	if (f != r->expect)
		r->wrong_future = true;
	if (!weft_future_done(f))
		r->not_done = true;
	tu_log_add(&log_, r->name);
	atomic_fetch_add(&r->ran, 1);
}

static void assert_clean(struct cbrec *r)
{
	cr_assert_not(r->on_test_thread, "%s ran on the test thread", r->name);
	cr_assert_not(r->not_worker, "%s ran outside a worker", r->name);
	cr_assert_not(r->in_task, "%s saw a current task", r->name);
	cr_assert_not(r->wrong_future, "%s got the wrong future", r->name);
	cr_assert_not(r->not_done, "%s ran before its future was done", r->name);
}

/* --- results, exceptions, plain cancellation (no task needed) ---------- */

Test(future, set_result_then_result_and_done, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_future_create(rt);
	int x = 42;
	void *v = &x;

	cr_assert_not(weft_future_done(f));
	cr_assert_not(weft_future_cancelled(f));
	cr_assert_not(weft_is_task(f));
	cr_assert_eq(weft_future_result(f, &v), -EBUSY);
	cr_assert_eq(weft_future_exception(f), -EBUSY);
	cr_assert_null(weft_future_message(f));

	cr_assert_eq(weft_future_set_result(f, &x), 0);
	cr_assert(weft_future_done(f));
	cr_assert_not(weft_future_cancelled(f));
	v = NULL;
	cr_assert_eq(weft_future_result(f, &v), 0);
	cr_assert_eq(v, &x);
	cr_assert_eq(weft_future_result(f, NULL), 0, "value may be NULL");
	cr_assert_eq(weft_future_exception(f), 0);
	cr_assert_null(weft_future_message(f));

	weft_future_unref(f);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}

Test(future, set_result_twice_is_ealready, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_future_create(rt);
	int a, b;
	cr_assert_eq(weft_future_set_result(f, &a), 0);
	cr_assert_eq(weft_future_set_result(f, &b), -EALREADY);
	cr_assert_eq(weft_future_set_exception(f, -EIO, "late"), -EALREADY);
	void *v = NULL;
	cr_assert_eq(weft_future_result(f, &v), 0);
	cr_assert_eq(v, &a, "the first result stays");
	cr_assert_null(weft_future_message(f));
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

Test(future, set_exception_code_and_message, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_future_create(rt);
	char msg[] = "disk on fire";

	cr_assert_eq(weft_future_set_exception(f, -EIO, msg), 0);
	msg[0] = 'X'; /* the message was copied */
	cr_assert(weft_future_done(f));
	cr_assert_not(weft_future_cancelled(f));
	void *v = (void *)1;
	cr_assert_eq(weft_future_result(f, &v), -EIO);
	cr_assert_null(v, "a failed future's value reads as NULL");
	cr_assert_eq(weft_future_exception(f), -EIO);
	cr_assert_str_eq(weft_future_message(f), "disk on fire");
	cr_assert_eq(weft_future_set_result(f, NULL), -EALREADY);
	cr_assert_eq(weft_future_set_exception(f, -EPIPE, NULL), -EALREADY);
	cr_assert_str_eq(weft_future_message(f), "disk on fire");
	weft_future_unref(f);

	/* No message. */
	f = weft_future_create(rt);
	cr_assert_eq(weft_future_set_exception(f, -ENOENT, NULL), 0);
	cr_assert_eq(weft_future_exception(f), -ENOENT);
	cr_assert_null(weft_future_message(f));
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

Test(future, set_exception_rejects_non_negative_code, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_future_create(rt);
	cr_assert_eq(weft_future_set_exception(f, 0, "zero"), -EINVAL);
	cr_assert_eq(weft_future_set_exception(f, 5, "positive"), -EINVAL);
	cr_assert_not(weft_future_done(f), "a rejected call leaves f pending");
	cr_assert_eq(weft_future_set_exception(NULL, -EIO, NULL), -EINVAL);
	cr_assert_eq(weft_future_set_result(NULL, NULL), -EINVAL);
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

Test(future, set_exception_ecanceled_makes_it_cancelled, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_future_create(rt);
	cr_assert_eq(weft_future_set_exception(f, -ECANCELED, "as if cancelled"), 0);
	cr_assert(weft_future_cancelled(f));
	cr_assert_eq(weft_future_result(f, NULL), -ECANCELED);
	cr_assert_str_eq(weft_future_message(f), "as if cancelled");
	cr_assert_not(weft_cancel(f, NULL));
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

Test(future, cancel_plain_future, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_future_create(rt);
	char msg[] = "no longer needed";
	cr_assert(weft_cancel(f, msg), "a pending future accepts");
	msg[0] = 'X';
	cr_assert(weft_future_done(f));
	cr_assert(weft_future_cancelled(f));
	cr_assert_eq(weft_future_result(f, NULL), -ECANCELED);
	cr_assert_eq(weft_future_exception(f), -ECANCELED);
	cr_assert_str_eq(weft_future_message(f), "no longer needed");
	cr_assert_not(weft_cancel(f, "again"), "a done future refuses");
	cr_assert_str_eq(weft_future_message(f), "no longer needed");
	cr_assert_eq(weft_future_set_result(f, NULL), -EALREADY);
	weft_future_unref(f);

	/* A finished future cannot be cancelled. */
	f = weft_future_create(rt);
	weft_future_set_result(f, NULL);
	cr_assert_not(weft_cancel(f, NULL));
	cr_assert_not(weft_future_cancelled(f));
	weft_future_unref(f);

	/* Without a message. */
	f = weft_future_create(rt);
	cr_assert(weft_cancel(f, NULL));
	cr_assert_null(weft_future_message(f));
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

Test(future, null_arguments)
{
	cr_assert_not(weft_future_done(NULL));
	cr_assert_not(weft_future_cancelled(NULL));
	cr_assert_eq(weft_future_result(NULL, NULL), -EINVAL);
	cr_assert_eq(weft_future_exception(NULL), -EINVAL);
	cr_assert_null(weft_future_message(NULL));
	cr_assert_null(weft_future_ref(NULL));
	weft_future_unref(NULL);
	cr_assert_not(weft_cancel(NULL, "x"));
	cr_assert_eq(weft_future_add_done_callback(NULL, record_cb, NULL), -EINVAL);
	cr_assert_eq(weft_future_remove_done_callback(NULL, record_cb, NULL), 0);
	cr_assert_eq(weft_future_wait(NULL, 0, NULL), -EINVAL);
	cr_assert_not(weft_is_task(NULL));
}

Test(future, create_without_runtime_outside_worker_is_einval)
{
	/* rt NULL means "the calling worker's runtime": there is none here. */
	weft_future *f = weft_future_create(NULL);
	cr_assert_not_null(f);
	cr_assert(weft_future_done(f));
	cr_assert_eq(weft_future_result(f, NULL), -EINVAL);
	weft_future_unref(f);
}

Test(future, add_done_callback_null_cb_is_einval, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_future_create(rt);
	cr_assert_eq(weft_future_add_done_callback(f, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_future_remove_done_callback(f, NULL, NULL), 0);
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

/* --- reference counting ---------------------------------------------- */

Test(future, ref_and_unref, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_future_create(rt);
	cr_assert_eq(weft_future_ref(f), f, "ref returns its argument");
	cr_assert_eq(weft_future_ref(f), f);
	weft_future_unref(f);
	weft_future_unref(f);
	/* One reference left: still a live future. */
	int x;
	cr_assert_eq(weft_future_set_result(f, &x), 0);
	void *v = NULL;
	cr_assert_eq(weft_future_result(f, &v), 0);
	cr_assert_eq(v, &x);
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

static atomic_int dropped_ran;

static void count_cb(weft_future *f, void *arg)
{
	atomic_fetch_add(&dropped_ran, 1);
}

Test(future, dropping_last_reference_while_pending_never_runs_callbacks,
     .timeout = TEST_TIMEOUT)
{
	/* The callback's registration dies with the future (no leak under
	 * ASan, never called). */
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_future_create(rt);
	cr_assert_eq(weft_future_add_done_callback(f, count_cb, NULL), 0);
	weft_future_unref(f);
	weft_runtime_destroy(rt);
	cr_assert_eq(atomic_load(&dropped_ran), 0);
}

/* --- a future outlives its runtime ----------------------------------- */

Test(future, outlives_runtime, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *done = weft_future_create(rt);
	weft_future *failed = weft_future_create(rt);
	weft_future *pending = weft_future_create(rt);
	weft_future *task = weft_spawn(rt, tu_return_arg, (void *)&log_, "survivor");
	int x;
	cr_assert_eq(weft_future_set_result(done, &x), 0);
	cr_assert_eq(weft_future_set_exception(failed, -EIO, "boom"), 0);
	cr_assert_eq(weft_future_wait(task, 5.0 * WEFT_TEST_SLOW, NULL), 0);

	cr_assert_eq(weft_runtime_destroy(rt), 0);

	/* Still readable. */
	void *v = NULL;
	cr_assert_eq(weft_future_result(done, &v), 0);
	cr_assert_eq(v, &x);
	cr_assert_eq(weft_future_result(failed, NULL), -EIO);
	cr_assert_str_eq(weft_future_message(failed), "boom");
	cr_assert_not(weft_future_done(pending));
	cr_assert_eq(weft_future_result(pending, NULL), -EBUSY);
	v = NULL;
	cr_assert_eq(weft_future_result(task, &v), 0);
	cr_assert_eq(v, &log_);
	cr_assert_str_eq(weft_task_name(task), "survivor");

	/* Completing or adding callbacks now fails with -ESHUTDOWN. */
	cr_assert_eq(weft_future_set_result(pending, &x), -ESHUTDOWN);
	cr_assert_eq(weft_future_set_exception(pending, -EIO, "late"), -ESHUTDOWN);
	cr_assert_eq(weft_future_add_done_callback(pending, count_cb, NULL), -ESHUTDOWN);
	cr_assert_eq(weft_future_add_done_callback(done, count_cb, NULL), -ESHUTDOWN);
	cr_assert_not(weft_future_done(pending), "a refused completion leaves it pending");
	/* A done future still refuses cancellation. */
	cr_assert_not(weft_cancel(done, NULL));
	/* Foreign waits still read the outcome. */
	cr_assert_eq(weft_future_wait(failed, 0, NULL), -EIO);
	cr_assert_eq(weft_future_wait(pending, 0, NULL), -ETIMEDOUT);
	/* But it can still be cancelled: waiters in other runtimes must not
	 * hang on a future nobody can complete any more. */
	cr_assert(weft_cancel(pending, "gone"));
	cr_assert(weft_future_cancelled(pending));

	weft_future_ref(done);
	weft_future_unref(done);
	weft_future_unref(done);
	weft_future_unref(failed);
	weft_future_unref(pending);
	weft_future_unref(task);
	cr_assert_eq(atomic_load(&dropped_ran), 0);
}

/* --- done callbacks, inside a task (one worker: deterministic) -------- */

static struct cbrec cb1 = {.name = "cb1"}, cb2 = {.name = "cb2"}, cb3 = {.name = "cb3"};
static int ran_at_set;       /* log length right after set_result returned */
static int ran_after_yield;  /* ... after one sleep(0) */

static int callbacks_main(void *arg, void **res)
{
	weft_future *f = weft_future_create(NULL);
	cb1.expect = cb2.expect = cb3.expect = f;
	weft_future_add_done_callback(f, record_cb, &cb1);
	weft_future_add_done_callback(f, record_cb, &cb2);
	weft_future_add_done_callback(f, record_cb, &cb3);
	weft_future_set_result(f, NULL);
	ran_at_set = tu_log_len(&log_); /* nothing ran inside set_result */
	weft_sleep(0);                  /* the callbacks were queued before us */
	ran_after_yield = tu_log_len(&log_);
	weft_future_unref(f);
	return 0;
}

Test(future, done_callbacks_run_later_in_order_on_a_worker, .timeout = TEST_TIMEOUT)
{
	test_thread = pthread_self();
	cr_assert_eq(tu_run_n(1, callbacks_main, NULL, NULL), 0);
	cr_assert_eq(ran_at_set, 0, "a callback ran inside set_result");
	cr_assert_eq(ran_after_yield, 3);
	tu_assert_log(&log_, "cb1 cb2 cb3");
	assert_clean(&cb1);
	assert_clean(&cb2);
	assert_clean(&cb3);
}

static int set_exception_cb_main(void *arg, void **res)
{
	weft_future *f = weft_future_create(NULL);
	cb1.expect = f;
	weft_future_add_done_callback(f, record_cb, &cb1);
	weft_future_set_exception(f, -EIO, "x");
	ran_at_set = tu_log_len(&log_);
	weft_sleep(0);
	ran_after_yield = tu_log_len(&log_);
	weft_future_unref(f);
	return 0;
}

Test(future, done_callbacks_never_run_inside_set_exception, .timeout = TEST_TIMEOUT)
{
	test_thread = pthread_self();
	cr_assert_eq(tu_run_n(1, set_exception_cb_main, NULL, NULL), 0);
	cr_assert_eq(ran_at_set, 0);
	cr_assert_eq(ran_after_yield, 1);
	assert_clean(&cb1);
}

static int cancel_cb_main(void *arg, void **res)
{
	weft_future *f = weft_future_create(NULL);
	cb1.expect = f;
	weft_future_add_done_callback(f, record_cb, &cb1);
	weft_cancel(f, NULL);
	ran_at_set = tu_log_len(&log_);
	weft_sleep(0);
	ran_after_yield = tu_log_len(&log_);
	weft_future_unref(f);
	return 0;
}

Test(future, done_callbacks_never_run_inside_cancel, .timeout = TEST_TIMEOUT)
{
	test_thread = pthread_self();
	cr_assert_eq(tu_run_n(1, cancel_cb_main, NULL, NULL), 0);
	cr_assert_eq(ran_at_set, 0);
	cr_assert_eq(ran_after_yield, 1);
	assert_clean(&cb1);
}

static int add_to_done_main(void *arg, void **res)
{
	weft_future *f = weft_future_create(NULL);
	weft_future_set_result(f, NULL);
	cb1.expect = f;
	*res = (void *)(long)weft_future_add_done_callback(f, record_cb, &cb1);
	ran_at_set = tu_log_len(&log_); /* scheduled, not run */
	weft_sleep(0);
	ran_after_yield = tu_log_len(&log_);
	weft_future_unref(f);
	return 0;
}

Test(future, callback_added_to_done_future_is_scheduled, .timeout = TEST_TIMEOUT)
{
	test_thread = pthread_self();
	void *rc = (void *)-1L;
	cr_assert_eq(tu_run_n(1, add_to_done_main, NULL, &rc), 0);
	cr_assert_eq((long)rc, 0);
	cr_assert_eq(ran_at_set, 0, "the callback ran inside add_done_callback");
	cr_assert_eq(ran_after_yield, 1);
	assert_clean(&cb1);
}

static size_t removed_first, removed_again, removed_after_done;
static struct cbrec rm_a = {.name = "a"}, rm_b = {.name = "b"}, rm_c = {.name = "c"},
		    rm_late = {.name = "late"};

static void other_cb(weft_future *f, void *arg)
{
	record_cb(f, arg);
}

static int remove_main(void *arg, void **res)
{
	weft_future *f = weft_future_create(NULL);
	rm_a.expect = rm_b.expect = rm_c.expect = rm_late.expect = f;
	weft_future_add_done_callback(f, record_cb, &rm_a);
	weft_future_add_done_callback(f, record_cb, &rm_b);
	weft_future_add_done_callback(f, record_cb, &rm_a);
	weft_future_add_done_callback(f, other_cb, &rm_a); /* another fn: stays */
	weft_future_add_done_callback(f, record_cb, &rm_c);
	weft_future_add_done_callback(f, record_cb, &rm_a);
	removed_first = weft_future_remove_done_callback(f, record_cb, &rm_a);
	removed_again = weft_future_remove_done_callback(f, record_cb, &rm_a);
	weft_future_add_done_callback(f, record_cb, &rm_late);
	weft_future_set_result(f, NULL);
	/* Already scheduled: no longer removable. */
	removed_after_done = weft_future_remove_done_callback(f, record_cb, &rm_b);
	weft_sleep(0);
	weft_sleep(0);
	weft_future_unref(f);
	return 0;
}

Test(future, remove_done_callback_counts_and_removed_never_run, .timeout = TEST_TIMEOUT)
{
	test_thread = pthread_self();
	cr_assert_eq(tu_run_n(1, remove_main, NULL, NULL), 0);
	cr_assert_eq(removed_first, 3);
	cr_assert_eq(removed_again, 0);
	cr_assert_eq(removed_after_done, 0);
	/* other_cb(&rm_a) logs "a" once; record_cb(&rm_a) never ran. */
	tu_assert_log(&log_, "b a c late");
	cr_assert_eq(atomic_load(&rm_a.ran), 1);
	cr_assert_eq(atomic_load(&rm_b.ran), 1);
}

/* --- done callbacks of futures completed by a foreign thread ---------- */

Test(future, foreign_completion_runs_callbacks_on_a_worker, .timeout = TEST_TIMEOUT)
{
	test_thread = pthread_self();
	weft_runtime *rt = tu_runtime(2);
	weft_future *f = weft_future_create(rt);
	cb1.expect = cb2.expect = f;
	cr_assert_eq(weft_future_add_done_callback(f, record_cb, &cb1), 0);
	cr_assert_eq(weft_future_add_done_callback(f, record_cb, &cb2), 0);
	cr_assert_eq(weft_future_set_result(f, NULL), 0);
	cr_assert(tu_wait_flag(&cb2.ran, 1, 5.0 * WEFT_TEST_SLOW), "callbacks never ran");
	cr_assert(tu_wait_flag(&cb1.ran, 1, 5.0 * WEFT_TEST_SLOW));
	assert_clean(&cb1);
	assert_clean(&cb2);

	/* Added to a done future from a foreign thread: still on a worker. */
	cb3.expect = f;
	cr_assert_eq(weft_future_add_done_callback(f, record_cb, &cb3), 0);
	cr_assert(tu_wait_flag(&cb3.ran, 1, 5.0 * WEFT_TEST_SLOW));
	assert_clean(&cb3);
	weft_future_unref(f);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}

Test(future, foreign_completion_one_worker_keeps_registration_order, .timeout = TEST_TIMEOUT)
{
	test_thread = pthread_self();
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_future_create(rt);
	cb1.expect = cb2.expect = cb3.expect = f;
	weft_future_add_done_callback(f, record_cb, &cb1);
	weft_future_add_done_callback(f, record_cb, &cb2);
	weft_future_add_done_callback(f, record_cb, &cb3);
	cr_assert_eq(weft_future_set_result(f, NULL), 0);
	cr_assert(tu_wait_flag(&cb3.ran, 1, 5.0 * WEFT_TEST_SLOW));
	cr_assert(tu_wait_flag(&cb2.ran, 1, 5.0 * WEFT_TEST_SLOW));
	cr_assert(tu_wait_flag(&cb1.ran, 1, 5.0 * WEFT_TEST_SLOW));
	tu_assert_log(&log_, "cb1 cb2 cb3");
	assert_clean(&cb1);
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

/* --- await and foreign waits ----------------------------------------- */

static int await_value_seen, await_fail_seen, await_cancel_seen;
static void *await_value;
static char await_msg[64];

static int setter_task(void *arg, void **res)
{
	weft_future **fs = arg;
	static int v = 7;
	weft_sleep(0);
	weft_future_set_result(fs[0], &v);
	weft_future_set_exception(fs[1], -EPIPE, "broken");
	weft_cancel(fs[2], "never mind");
	return 0;
}

static int await_main(void *arg, void **res)
{
	weft_future *fs[3] = {weft_future_create(NULL), weft_future_create(NULL),
			      weft_future_create(NULL)};
	weft_future *t = weft_create_task(setter_task, fs, NULL);
	await_value_seen = weft_await(fs[0], &await_value);
	await_fail_seen = weft_await(fs[1], NULL);
	snprintf(await_msg, sizeof(await_msg), "%s",
		 weft_future_message(fs[1]) ? weft_future_message(fs[1]) : "(null)");
	await_cancel_seen = weft_await(fs[2], NULL);
	weft_await(t, NULL);
	for (int i = 0; i < 3; i++)
		weft_future_unref(fs[i]);
	weft_future_unref(t);
	return 0;
}

Test(future, await_returns_the_outcome, .timeout = TEST_TIMEOUT)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		await_value = NULL;
		cr_assert_eq(tu_run_n(workers, await_main, NULL, NULL), 0);
		cr_assert_eq(await_value_seen, 0);
		cr_assert_not_null(await_value);
		cr_assert_eq(*(int *)await_value, 7);
		cr_assert_eq(await_fail_seen, -EPIPE);
		cr_assert_str_eq(await_msg, "broken");
		cr_assert_eq(await_cancel_seen, -ECANCELED);
	}
}

static int wait_target(void *arg, void **res)
{
	weft_future *f = arg;
	weft_sleep(0);
	static int v = 99;
	weft_future_set_result(f, &v);
	return 0;
}

Test(future, foreign_wait, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *f = weft_future_create(rt);
	void *v = (void *)1;
	/* A timeout <= 0 has already expired: a pending future times out... */
	cr_assert_eq(weft_future_wait(f, 0, &v), -ETIMEDOUT);
	cr_assert_eq(weft_future_wait(f, -1, &v), -ETIMEDOUT);
	double t0 = tu_now();
	cr_assert_eq(weft_future_wait(f, 0.05, &v), -ETIMEDOUT);
	cr_assert_geq(tu_now() - t0, 0.04, "the timed wait returned early");
	cr_assert_not(weft_future_done(f), "a timed-out wait leaves f running");

	/* ...completed by a task while the test thread waits. */
	weft_future *t = weft_spawn(rt, wait_target, f, NULL);
	v = NULL;
	cr_assert_eq(weft_future_wait(f, WEFT_FOREVER, &v), 0);
	cr_assert_eq(*(int *)v, 99);
	/* ...and a done future delivers even with timeout 0. */
	v = NULL;
	cr_assert_eq(weft_future_wait(f, 0, &v), 0);
	cr_assert_eq(*(int *)v, 99);
	cr_assert_eq(weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, NULL), 0);
	weft_future_unref(t);
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

static void *set_later_thread(void *arg)
{
	tu_nap_ms(30);
	weft_future_set_exception(arg, -EXDEV, "from another thread");
	return NULL;
}

Test(future, foreign_wait_on_foreign_completion, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_future_create(rt);
	pthread_t th;
	pthread_create(&th, NULL, set_later_thread, f);
	cr_assert_eq(weft_future_wait(f, 5.0 * WEFT_TEST_SLOW, NULL), -EXDEV);
	pthread_join(th, NULL);
	cr_assert_str_eq(weft_future_message(f), "from another thread");
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

static void *set_after_500ms_thread(void *arg)
{
	tu_nap_ms(500);
	static int v = 42;
	weft_future_set_result(arg, &v);
	return NULL;
}

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A finite timeout beyond time_t (above ~9.2e18 s) made every futex call
 * fail at once: the waiter spun a whole CPU until the future completed. */
Test(future, foreign_wait_huge_finite_timeout_sleeps, .timeout = TEST_TIMEOUT)
{
	static const double timeouts[] = {1e19, 1e300, DBL_MAX};
	weft_runtime *rt = tu_runtime(1);
	for (int i = 0; i < 3; i++) {
		weft_future *f = weft_future_create(rt);
		pthread_t th;
		pthread_create(&th, NULL, set_after_500ms_thread, f);
		double c0 = thread_cpu();
		void *v = NULL;
		int rc = weft_future_wait(f, timeouts[i], &v);
		double used = thread_cpu() - c0;
		pthread_join(th, NULL);
		cr_assert_eq(rc, 0, "timeout %g", timeouts[i]);
		cr_assert_eq(*(int *)v, 42);
		/* asleep, not spinning: a few ms at most (TSan wakes it every
		 * 10 ms); spinning costs most of the 500 ms */
		cr_assert_lt(used, 0.05, "timeout %g: %.0f ms of CPU in a 500 ms wait", timeouts[i],
			     used * 1e3);
		weft_future_unref(f);
	}
	weft_runtime_destroy(rt);
}

/* --- callbacks run in the future's own runtime -------------------------- */

static atomic_int xrt_ran;
static weft_runtime *xrt_seen;

static void xrt_cb(weft_future *f, void *arg)
{
	xrt_seen = weft_current_runtime();
	atomic_store(&xrt_ran, 1);
}

static int complete_arg(void *arg, void **res)
{
	return weft_future_set_result(arg, NULL);
}

Test(future, callbacks_run_in_the_futures_runtime, .timeout = TEST_TIMEOUT)
{
	/* A future of runtime A completed by a task of runtime B: its
	 * callback runs on a worker of A. */
	weft_runtime *a = tu_runtime(1);
	weft_runtime *b = tu_runtime(2);
	weft_future *f = weft_future_create(a);
	cr_assert_eq(weft_future_add_done_callback(f, xrt_cb, NULL), 0);
	weft_future *t = weft_spawn(b, complete_arg, f, NULL);
	cr_assert_eq(weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, NULL), 0);
	cr_assert(tu_wait_flag(&xrt_ran, 1, 5.0 * WEFT_TEST_SLOW));
	cr_assert_eq(xrt_seen, a);
	weft_future_unref(t);
	weft_future_unref(f);
	weft_runtime_destroy(b);
	weft_runtime_destroy(a);
}

/* A failed future returned inside a task (bad argument) is still a done
 * future that nests: a callback added to it runs (API.md: failed futures
 * keep "nesting safe"; a future created inside a task belongs to the
 * current runtime). */
static int nested_failed_rc = 1;
static atomic_int nested_failed_ran;

static void nested_cb(weft_future *f, void *arg)
{
	atomic_store(&nested_failed_ran, 1);
}

static int failed_nesting_main(void *arg, void **res)
{
	weft_future *f = weft_spawn(NULL, tu_return_arg, NULL, NULL);
	nested_failed_rc = weft_future_add_done_callback(f, nested_cb, NULL);
	weft_sleep(0);
	weft_sleep(0);
	weft_future_unref(f);
	return 0;
}

Test(future, callback_on_failed_future_from_a_task_runs, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, failed_nesting_main, NULL, NULL), 0);
	cr_assert_eq(nested_failed_rc, 0);
	cr_assert_eq(atomic_load(&nested_failed_ran), 1);
}
