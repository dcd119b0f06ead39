/* SPDX-License-Identifier: MIT */
/*
 * Cancellation (weft_cancel on tasks, cancelling/uncancel), mirroring
 * CPython's Lib/test/test_asyncio/test_tasks.py where a test exists there
 * (named in the comment above each test). Most run with ONE worker, where
 * the order of events is asyncio's exactly, so "the task is suspended in
 * sleep(0) now" is a fact, not a race.
 */
#include "test_util.h"

/* What the tasks under test saw, asserted after weft_run returned. */
static int r1 = 1, r2 = 1, r3 = 1;
static bool b1, b2, b3;
static int n1 = -1, n2 = -1, n3 = -1;
static char msg1[64], msg2[64];
static atomic_int fn_called;

static void copy_msg(char *dst, size_t cap, const weft_future *f)
{
	const char *m = weft_future_message(f);
	snprintf(dst, cap, "%s", m ? m : "(null)");
}

/* sleep(0) twice: the first return is r1, the second r2; returns the
 * first non-zero code, so a delivered cancel ends the task cancelled. */
static int sleeper2(void *arg, void **res)
{
	atomic_fetch_add(&fn_called, 1);
	r1 = weft_sleep(0);
	r2 = weft_sleep(0);
	*res = (void *)12;
	return r1 ? r1 : r2;
}

/* --- finished and unstarted tasks -------------------------------------- */

static int return12(void *arg, void **res)
{
	atomic_fetch_add(&fn_called, 1);
	*res = (void *)12;
	return 0;
}

/* test_cancel_yield (its last line): a finished task refuses. */
Test(cancel, finished_task_refuses, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *t = weft_spawn(rt, return12, NULL, NULL);
	void *v = NULL;
	cr_assert_eq(weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, &v), 0);
	cr_assert_not(weft_cancel(t, "too late"));
	cr_assert_not(weft_task_cancelled(t));
	cr_assert_eq(weft_task_cancelling(t), 0, "a refused cancel is not counted");
	cr_assert_null(weft_future_message(t));
	cr_assert_eq(weft_future_result(t, &v), 0);
	cr_assert_eq((long)v, 12);
	weft_future_unref(t);
	weft_runtime_destroy(rt);
}

/* test_cancel_with_message_before_starting_task: the function never runs,
 * the task ends cancelled with the message. */
static int before_start_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(return12, NULL, NULL);
	b1 = weft_cancel(t, "my message");
	n1 = weft_task_cancelling(t);
	r1 = weft_await(t, NULL);
	b2 = weft_task_cancelled(t);
	copy_msg(msg1, sizeof(msg1), t);
	b3 = weft_cancel(t, NULL); /* done now: refuses */
	weft_future_unref(t);
	return 0;
}

Test(cancel, before_start_never_runs, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, before_start_main, NULL, NULL), 0);
	cr_assert(b1, "a pending task accepts");
	cr_assert_eq(n1, 1);
	cr_assert_eq(r1, -ECANCELED);
	cr_assert(b2);
	cr_assert_str_eq(msg1, "my message");
	cr_assert_not(b3);
	cr_assert_eq(atomic_load(&fn_called), 0, "the function of a task cancelled "
						 "before it started was called");
}

Test(cancel, before_start_from_foreign_thread, .timeout = TEST_TIMEOUT)
{
	/* Spawned and cancelled at once: return12 never suspends, so either
	 * the cancel came before it started (it never runs) or while it ran
	 * (it returns with the cancel pending): both end cancelled; or it came
	 * once the task was done, and was refused. */
	weft_runtime *rt = tu_runtime(1);
	weft_future *t = weft_spawn(rt, return12, NULL, NULL);
	bool accepted = weft_cancel(t, "early");
	int rc = weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, NULL);
	if (accepted) {
		cr_assert_eq(rc, -ECANCELED);
		cr_assert(weft_task_cancelled(t));
		cr_assert_str_eq(weft_future_message(t), "early");
	} else {
		cr_assert_eq(rc, 0);
		cr_assert_eq(atomic_load(&fn_called), 1);
	}
	weft_future_unref(t);
	weft_runtime_destroy(rt);
}

/* --- a task suspended in sleep(0) --------------------------------------- */

/* test_cancel_yield: the cancel is delivered at the suspension point, once. */
static int yield_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(sleeper2, NULL, NULL);
	weft_sleep(0); /* t runs and suspends in its first sleep(0) */
	b1 = weft_cancel(t, NULL);
	n1 = weft_task_cancelling(t);
	r3 = weft_await(t, NULL);
	b2 = weft_task_cancelled(t);
	b3 = weft_cancel(t, NULL);
	weft_future_unref(t);
	return 0;
}

Test(cancel, sleep_delivers_once, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, yield_main, NULL, NULL), 0);
	cr_assert(b1);
	cr_assert_eq(n1, 1);
	cr_assert_eq(r1, -ECANCELED, "the suspended sleep(0) returns -ECANCELED");
	cr_assert_eq(r2, 0, "delivered once: the next sleep(0) is normal");
	cr_assert_eq(r3, -ECANCELED);
	cr_assert(b2);
	cr_assert_not(b3);
}

/* Python 3.11+: a second cancel() still returns True and counts, but
 * CancelledError is raised once. */
static int twice_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(sleeper2, NULL, NULL);
	weft_sleep(0);
	b1 = weft_cancel(t, "first");
	b2 = weft_cancel(t, "second");
	n1 = weft_task_cancelling(t);
	r3 = weft_await(t, NULL);
	copy_msg(msg1, sizeof(msg1), t);
	weft_future_unref(t);
	return 0;
}

Test(cancel, two_requests_one_delivery, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, twice_main, NULL, NULL), 0);
	cr_assert(b1);
	cr_assert(b2);
	cr_assert_eq(n1, 2);
	cr_assert_eq(r1, -ECANCELED);
	cr_assert_eq(r2, 0);
	cr_assert_eq(r3, -ECANCELED);
	cr_assert_str_eq(msg1, "second", "the last request's message");
}

/* test_cancel_current_task: a task cancels itself; its next suspension
 * point delivers. */
static int self_cancel(void *arg, void **res)
{
	b1 = weft_cancel(weft_current_task(), "self");
	n1 = weft_task_cancelling(weft_current_task());
	r1 = weft_sleep(0);
	r2 = weft_sleep(0);
	return r1;
}

Test(cancel, current_task_cancels_itself, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *t = weft_spawn(rt, self_cancel, NULL, NULL);
	cr_assert_eq(weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, NULL), -ECANCELED);
	cr_assert(b1);
	cr_assert_eq(n1, 1);
	cr_assert_eq(r1, -ECANCELED);
	cr_assert_eq(r2, 0);
	cr_assert(weft_task_cancelled(t));
	cr_assert_str_eq(weft_future_message(t), "self");
	cr_assert_not(weft_cancel(t, NULL));
	weft_future_unref(t);
	weft_runtime_destroy(rt);
}

/* asyncio's __step: a cancel requested while the task runs goes to the
 * future it awaits next, which accepts it. */
static weft_future *inner;

static int self_cancel_then_await(void *arg, void **res)
{
	inner = weft_future_create(NULL);
	weft_cancel(weft_current_task(), "self");
	r1 = weft_await(inner, NULL);
	b1 = weft_future_cancelled(inner);
	copy_msg(msg1, sizeof(msg1), inner);
	r2 = weft_sleep(0);
	weft_future_unref(inner);
	return r1;
}

Test(cancel, pending_cancel_goes_to_the_next_awaited_future, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, self_cancel_then_await, NULL, NULL), -ECANCELED);
	cr_assert_eq(r1, -ECANCELED);
	cr_assert(b1, "the awaited future was cancelled");
	cr_assert_str_eq(msg1, "self");
	cr_assert_eq(r2, 0, "nothing left pending");
}

/* --- a task awaiting a future -------------------------------------------- */

static int await_inner(void *arg, void **res)
{
	r1 = weft_await(arg, NULL);
	*res = (void *)12;
	return r1;
}

/* test_cancel_inner_future: the cancel passes to the awaited future at
 * once; the task then sees -ECANCELED from its await. */
static int inner_future_main(void *arg, void **res)
{
	weft_future *f = weft_future_create(NULL);
	weft_future *t = weft_create_task(await_inner, f, NULL);
	weft_sleep(0); /* t now awaits f */
	b1 = weft_cancel(t, "stop");
	b2 = weft_future_cancelled(f); /* at once, as in asyncio */
	copy_msg(msg1, sizeof(msg1), f);
	r2 = weft_await(t, NULL);
	b3 = weft_task_cancelled(t);
	copy_msg(msg2, sizeof(msg2), t);
	weft_future_unref(t);
	weft_future_unref(f);
	return 0;
}

Test(cancel, inner_future, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, inner_future_main, NULL, NULL), 0);
	cr_assert(b1);
	cr_assert(b2, "the awaited future was not cancelled by Task.cancel");
	cr_assert_str_eq(msg1, "stop", "the message passes to the future");
	cr_assert_eq(r1, -ECANCELED);
	cr_assert_eq(r2, -ECANCELED);
	cr_assert(b3);
	cr_assert_str_eq(msg2, "stop");
}

/* test_cancel_both_task_and_inner_future */
static int both_main(void *arg, void **res)
{
	weft_future *f = weft_future_create(NULL);
	weft_future *t = weft_create_task(await_inner, f, NULL);
	weft_sleep(0);
	weft_cancel(f, NULL);
	b1 = weft_cancel(t, NULL); /* t is not done yet: accepted */
	r2 = weft_await(t, NULL);
	b2 = weft_task_cancelled(t);
	b3 = weft_future_cancelled(f);
	weft_future_unref(t);
	weft_future_unref(f);
	return 0;
}

Test(cancel, both_task_and_inner_future, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, both_main, NULL, NULL), 0);
	cr_assert(b1);
	cr_assert_eq(r1, -ECANCELED);
	cr_assert_eq(r2, -ECANCELED);
	cr_assert(b2);
	cr_assert(b3);
}

/* test_cancel_task_catching: the task catches the cancellation of its
 * inner future and returns 42: it is not cancelled. */
static weft_future *fut1, *fut2, *fut3;

static int catching(void *arg, void **res)
{
	weft_await(fut1, NULL);
	r1 = weft_await(fut2, NULL);
	if (r1 == -ECANCELED) {
		*res = (void *)42;
		return 0;
	}
	return r1;
}

static int catching_main(void *arg, void **res)
{
	fut1 = weft_future_create(NULL);
	fut2 = weft_future_create(NULL);
	weft_future *t = weft_create_task(catching, NULL, NULL);
	weft_sleep(0); /* t awaits fut1 */
	weft_future_set_result(fut1, NULL);
	weft_sleep(0); /* t awaits fut2 */
	b1 = weft_cancel(t, NULL);
	b2 = weft_future_cancelled(fut2);
	void *v = NULL;
	r2 = weft_await(t, &v);
	n1 = (int)(long)v;
	b3 = weft_task_cancelled(t);
	weft_future_unref(t);
	weft_future_unref(fut1);
	weft_future_unref(fut2);
	return 0;
}

Test(cancel, task_catching, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, catching_main, NULL, NULL), 0);
	cr_assert(b1);
	cr_assert(b2);
	cr_assert_eq(r1, -ECANCELED);
	cr_assert_eq(r2, 0);
	cr_assert_eq(n1, 42);
	cr_assert_not(b3);
}

/* test_cancel_task_ignoring: the task ignores the cancellation, awaits a
 * third future and returns its result: not cancelled. */
static int ignoring(void *arg, void **res)
{
	weft_await(fut1, NULL);
	r1 = weft_await(fut2, NULL); /* -ECANCELED: ignored */
	return weft_await(fut3, res);
}

static int ignoring_main(void *arg, void **res)
{
	fut1 = weft_future_create(NULL);
	fut2 = weft_future_create(NULL);
	fut3 = weft_future_create(NULL);
	weft_future *t = weft_create_task(ignoring, NULL, NULL);
	weft_sleep(0);
	weft_future_set_result(fut1, NULL);
	weft_sleep(0);
	b1 = weft_cancel(t, NULL);
	b2 = weft_future_cancelled(fut2);
	weft_sleep(0); /* t now awaits fut3 */
	weft_future_set_result(fut3, (void *)42);
	void *v = NULL;
	r2 = weft_await(t, &v);
	n1 = (int)(long)v;
	b3 = weft_task_cancelled(t) || weft_future_cancelled(fut3);
	weft_future_unref(t);
	weft_future_unref(fut1);
	weft_future_unref(fut2);
	weft_future_unref(fut3);
	return 0;
}

Test(cancel, task_ignoring, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, ignoring_main, NULL, NULL), 0);
	cr_assert(b1);
	cr_assert(b2);
	cr_assert_eq(r1, -ECANCELED);
	cr_assert_eq(r2, 0);
	cr_assert_eq(n1, 42);
	cr_assert_not(b3);
}

/* A task that ignores a cancellation delivered at sleep(0) and returns
 * normally is not cancelled (weft/task.h: "one that returns anything else
 * is not cancelled, whatever was requested"). */
static int shrug(void *arg, void **res)
{
	r1 = weft_sleep(0);
	r2 = weft_sleep(0);
	*res = (void *)7;
	return 0;
}

static int shrug_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(shrug, NULL, NULL);
	weft_sleep(0);
	b1 = weft_cancel(t, NULL);
	void *v = NULL;
	r3 = weft_await(t, &v);
	n1 = (int)(long)v;
	b2 = weft_task_cancelled(t);
	n2 = weft_task_cancelling(t);
	weft_future_unref(t);
	return 0;
}

Test(cancel, ignoring_task_is_not_cancelled, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, shrug_main, NULL, NULL), 0);
	cr_assert(b1);
	cr_assert_eq(r1, -ECANCELED);
	cr_assert_eq(r2, 0);
	cr_assert_eq(r3, 0);
	cr_assert_eq(n1, 7);
	cr_assert_not(b2);
	cr_assert_eq(n2, 1, "cancelling() still counts the request");
}

/* A task whose function returns -ECANCELED ends cancelled, requested or not. */
static int returns_ecanceled(void *arg, void **res)
{
	return -ECANCELED;
}

Test(cancel, returning_ecanceled_ends_cancelled, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *t = weft_spawn(rt, returns_ecanceled, NULL, NULL);
	cr_assert_eq(weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, NULL), -ECANCELED);
	cr_assert(weft_task_cancelled(t));
	cr_assert(weft_future_cancelled(t));
	cr_assert_eq(weft_task_cancelling(t), 0);
	weft_future_unref(t);
	weft_runtime_destroy(rt);
}

/* --- a task awaiting a task ------------------------------------------------ */

/* The awaited thing is a task that catches the cancellation and returns a
 * value: the cancel passed to it was accepted, so the awaiting task gets
 * that value (as wait_for relies on) and nothing stays pending for it. */
static int inner_catches(void *arg, void **res)
{
	r1 = weft_sleep(0); /* -ECANCELED, passed on from the outer task */
	*res = (void *)99;
	return 0;
}

static int outer_awaits(void *arg, void **res)
{
	weft_future *in = weft_create_task(inner_catches, NULL, "inner");
	*(weft_future **)arg = weft_future_ref(in); /* main's own reference */
	void *v = NULL;
	r2 = weft_await(in, &v);
	n1 = (int)(long)v;
	r3 = weft_sleep(0); /* nothing pending: 0 */
	weft_future_unref(in);
	return r2;
}

static int task_chain_main(void *arg, void **res)
{
	weft_future *in = NULL;
	weft_future *out = weft_create_task(outer_awaits, &in, "outer");
	weft_sleep(0); /* outer runs: creates inner, awaits it */
	weft_sleep(0); /* inner runs: suspends in sleep(0) */
	b1 = weft_cancel(out, NULL);
	n2 = weft_task_cancelling(out);
	n3 = weft_task_cancelling(in);
	int rc = weft_await(out, NULL);
	b2 = weft_task_cancelled(out);
	b3 = weft_task_cancelled(in);
	weft_future_unref(in);
	weft_future_unref(out);
	return rc;
}

Test(cancel, awaited_task_catching_gives_its_value, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, task_chain_main, NULL, NULL), 0);
	cr_assert(b1);
	cr_assert_eq(n2, 1);
	cr_assert_eq(n3, 1, "the cancel passed to the awaited task");
	cr_assert_eq(r1, -ECANCELED);
	cr_assert_eq(r2, 0);
	cr_assert_eq(n1, 99);
	cr_assert_eq(r3, 0, "the outer task had nothing left pending");
	cr_assert_not(b2);
	cr_assert_not(b3);
}

/* Three levels: outer awaits mid awaits a future; cancelling outer
 * cancels all three. */
static weft_future *leaf;

static int mid_task(void *arg, void **res)
{
	return weft_await(leaf, NULL);
}

static int top_task(void *arg, void **res)
{
	weft_future *m = weft_create_task(mid_task, NULL, "mid");
	*(weft_future **)arg = weft_future_ref(m);
	int rc = weft_await(m, NULL);
	weft_future_unref(m);
	return rc;
}

static int three_main(void *arg, void **res)
{
	leaf = weft_future_create(NULL);
	weft_future *m = NULL;
	weft_future *t = weft_create_task(top_task, &m, "top");
	weft_sleep(0);
	weft_sleep(0);
	b1 = weft_cancel(t, "all the way down");
	b2 = weft_future_cancelled(leaf);
	r1 = weft_await(t, NULL);
	b3 = weft_task_cancelled(t) && weft_task_cancelled(m);
	copy_msg(msg1, sizeof(msg1), leaf);
	weft_future_unref(m);
	weft_future_unref(t);
	weft_future_unref(leaf);
	return 0;
}

Test(cancel, chain_of_awaits, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, three_main, NULL, NULL), 0);
	cr_assert(b1);
	cr_assert(b2, "the leaf future was cancelled at once");
	cr_assert_eq(r1, -ECANCELED);
	cr_assert(b3);
	cr_assert_str_eq(msg1, "all the way down");
}

/* --- cancelling() and uncancel() (3.13) ------------------------------------- */

/* test_uncancel_basic / test_uncancel_structured_blocks: cancelling()
 * counts requests, uncancel() withdraws one and returns the count left. */
static int counting_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(sleeper2, NULL, NULL);
	weft_sleep(0);
	weft_cancel(t, NULL);
	weft_cancel(t, NULL);
	weft_cancel(t, NULL);
	n1 = weft_task_cancelling(t);
	n2 = weft_task_uncancel(t);
	n3 = weft_task_cancelling(t);
	/* Two requests remain: the cancellation is still delivered. */
	r3 = weft_await(t, NULL);
	weft_future_unref(t);
	return 0;
}

Test(cancel, cancelling_counts_and_uncancel_decrements, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, counting_main, NULL, NULL), 0);
	cr_assert_eq(n1, 3);
	cr_assert_eq(n2, 2);
	cr_assert_eq(n3, 2);
	cr_assert_eq(r1, -ECANCELED);
	cr_assert_eq(r3, -ECANCELED);
}

/* uncancel() reaching 0 withdraws a cancellation not yet delivered (3.13). */
static int withdraw_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(sleeper2, NULL, NULL);
	weft_sleep(0); /* t is in its first sleep(0) */
	weft_cancel(t, NULL);
	weft_cancel(t, NULL);
	n1 = weft_task_uncancel(t);
	n2 = weft_task_uncancel(t);
	n3 = weft_task_uncancel(t); /* already 0: stays 0 */
	void *v = NULL;
	r3 = weft_await(t, &v);
	b1 = weft_task_cancelled(t);
	weft_future_unref(t);
	return 0;
}

Test(cancel, uncancel_to_zero_withdraws_pending_cancel, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, withdraw_main, NULL, NULL), 0);
	cr_assert_eq(n1, 1);
	cr_assert_eq(n2, 0);
	cr_assert_eq(n3, 0);
	cr_assert_eq(r1, 0, "the withdrawn cancel was delivered anyway");
	cr_assert_eq(r2, 0);
	cr_assert_eq(r3, 0);
	cr_assert_not(b1);
}

/* Withdrawn before the task ever started: its function runs normally. */
static int withdraw_before_start_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(return12, NULL, NULL);
	weft_cancel(t, NULL);
	n1 = weft_task_uncancel(t);
	void *v = NULL;
	r1 = weft_await(t, &v);
	n2 = (int)(long)v;
	weft_future_unref(t);
	return 0;
}

Test(cancel, uncancel_before_start_lets_it_run, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, withdraw_before_start_main, NULL, NULL), 0);
	cr_assert_eq(n1, 0);
	cr_assert_eq(r1, 0);
	cr_assert_eq(n2, 12);
	cr_assert_eq(atomic_load(&fn_called), 1);
}

/* test_uncancel_resets_must_cancel: the task's future is done (it is
 * scheduled to resume), so the cancel cannot pass to it and stays pending;
 * uncancel() withdraws it.
 *
 * weft differs from asyncio in where a pending cancel lands here: asyncio
 * throws CancelledError into the coroutine at `await fut` itself; weft's
 * contract (API.md "Cancelling a task that is awaiting") gives the await
 * fut's real outcome and keeps the cancel pending for the NEXT suspension
 * point. So the task does a sleep(0) after the await to observe it. */
static int resets_must_cancel(void *arg, void **res)
{
	r1 = weft_await(arg, NULL);
	r2 = weft_sleep(0);
	*res = (void *)42;
	return 0;
}

static int must_cancel_main(void *arg, void **res)
{
	bool withdraw = arg != NULL;
	weft_future *f = weft_future_create(NULL);
	weft_future *t = weft_create_task(resets_must_cancel, f, NULL);
	weft_sleep(0); /* t awaits f */
	weft_future_set_result(f, NULL); /* t is now runnable */
	b1 = weft_cancel(t, NULL);
	n1 = weft_task_cancelling(t);
	if (withdraw)
		n2 = weft_task_uncancel(t);
	void *v = NULL;
	r3 = weft_await(t, &v);
	n3 = (int)(long)v;
	b2 = weft_task_cancelled(t);
	weft_future_unref(t);
	weft_future_unref(f);
	return 0;
}

Test(cancel, uncancel_resets_must_cancel, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, must_cancel_main, (void *)1, NULL), 0);
	cr_assert(b1);
	cr_assert_eq(n1, 1);
	cr_assert_eq(n2, 0);
	cr_assert_eq(r1, 0, "the await gets f's real outcome");
	cr_assert_eq(r2, 0, "the withdrawn cancel was delivered");
	cr_assert_eq(r3, 0);
	cr_assert_eq(n3, 42);
	cr_assert_not(b2);
}

Test(cancel, refused_cancel_stays_pending_for_next_suspension, .timeout = TEST_TIMEOUT)
{
	/* The same without uncancel: delivered once, at the next sleep(0). */
	cr_assert_eq(tu_run_n(1, must_cancel_main, NULL, NULL), 0);
	cr_assert(b1);
	cr_assert_eq(r1, 0, "the await gets f's real outcome");
	cr_assert_eq(r2, -ECANCELED, "the pending cancel lands on the next suspension");
	cr_assert_eq(r3, 0, "the task ignored it and returned normally");
	cr_assert_eq(n3, 42);
	cr_assert_not(b2);
}

Test(cancel, cancelling_and_uncancel_on_non_tasks)
{
	cr_assert_eq(weft_task_cancelling(NULL), 0);
	cr_assert_eq(weft_task_uncancel(NULL), -EINVAL);
	weft_future *f = weft_future_create(NULL); /* failed -EINVAL: still a plain future */
	cr_assert_eq(weft_task_cancelling(f), 0);
	cr_assert_eq(weft_task_uncancel(f), -EINVAL);
	cr_assert_not(weft_task_cancelled(NULL));
	weft_future_unref(f);
}

/* --- cancel messages -------------------------------------------------------- */

static int msg_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(sleeper2, NULL, NULL);
	weft_sleep(0);
	char m[] = "the message";
	weft_cancel(t, m);
	m[0] = 'X'; /* copied */
	r3 = weft_await(t, NULL);
	copy_msg(msg1, sizeof(msg1), t);
	weft_future_unref(t);
	return 0;
}

Test(cancel, message_propagates, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, msg_main, NULL, NULL), 0);
	cr_assert_eq(r3, -ECANCELED);
	cr_assert_str_eq(msg1, "the message");
}

static int cancel_with_message_main(void *arg, void **res)
{
	/* A task whose function returns -ECANCELED after a cancel with no
	 * message has no message. */
	weft_future *t = weft_create_task(sleeper2, NULL, NULL);
	weft_sleep(0);
	weft_cancel(t, NULL);
	r3 = weft_await(t, NULL);
	b1 = weft_future_message(t) == NULL;
	weft_future_unref(t);
	return 0;
}

Test(cancel, no_message_without_one, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, cancel_with_message_main, NULL, NULL), 0);
	cr_assert_eq(r3, -ECANCELED);
	cr_assert(b1);
}

/* --- from a foreign thread --------------------------------------------------- */

static atomic_int spin_started;

static int spin_until_cancelled(void *arg, void **res)
{
	atomic_store(&spin_started, 1);
	for (long i = 0;; i++) {
		int rc = weft_sleep(0);
		if (rc)
			return rc;
	}
}

static int wait_forever(void *arg, void **res)
{
	atomic_store(&spin_started, 1);
	return weft_await(arg, NULL);
}

Test(cancel, from_foreign_thread, .timeout = TEST_TIMEOUT)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		atomic_store(&spin_started, 0);
		weft_runtime *rt = tu_runtime(workers);
		weft_future *t = weft_spawn(rt, spin_until_cancelled, NULL, NULL);
		cr_assert(tu_wait_flag(&spin_started, 1, 5.0 * WEFT_TEST_SLOW));
		cr_assert(weft_cancel(t, "from outside"));
		cr_assert_eq(weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, NULL), -ECANCELED);
		cr_assert(weft_task_cancelled(t));
		cr_assert_str_eq(weft_future_message(t), "from outside");
		cr_assert_eq(weft_task_cancelling(t), 1);
		cr_assert_not(weft_cancel(t, NULL));
		weft_future_unref(t);
		cr_assert_eq(weft_runtime_destroy(rt), 0);
	}
}

Test(cancel, awaiting_task_from_foreign_thread, .timeout = TEST_TIMEOUT)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		atomic_store(&spin_started, 0);
		weft_runtime *rt = tu_runtime(workers);
		weft_future *f = weft_future_create(rt);
		weft_future *t = weft_spawn(rt, wait_forever, f, NULL);
		cr_assert(tu_wait_flag(&spin_started, 1, 5.0 * WEFT_TEST_SLOW));
		/* The task may not have registered on f yet; either way the
		 * cancel must end both. */
		cr_assert(weft_cancel(t, "bye"));
		cr_assert_eq(weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, NULL), -ECANCELED);
		cr_assert(weft_future_cancelled(f));
		cr_assert_str_eq(weft_future_message(f), "bye");
		cr_assert(weft_task_cancelled(t));
		weft_future_unref(t);
		weft_future_unref(f);
		cr_assert_eq(weft_runtime_destroy(rt), 0);
	}
}

/* Many tasks cancelled from a foreign thread while they await futures and
 * yield, on several workers: each ends cancelled, none hangs. */
static int mixed_waiter(void *arg, void **res)
{
	long i = (long)arg;
	if (i % 2) {
		for (;;) {
			int rc = weft_sleep(0);
			if (rc)
				return rc;
		}
	}
	weft_future *f = weft_future_create(NULL);
	int rc = weft_await(f, NULL);
	weft_future_unref(f);
	return rc;
}

Test(cancel, many_from_foreign_thread, .timeout = TEST_TIMEOUT)
{
	enum { N = 64 };
	weft_runtime *rt = tu_runtime(4);
	weft_future *ts[N];
	for (long i = 0; i < N; i++)
		ts[i] = weft_spawn(rt, mixed_waiter, (void *)i, NULL);
	tu_nap_ms(5);
	for (int i = 0; i < N; i++)
		cr_assert(weft_cancel(ts[i], NULL));
	for (int i = 0; i < N; i++) {
		cr_assert_eq(weft_future_wait(ts[i], 5.0 * WEFT_TEST_SLOW, NULL), -ECANCELED,
			     "task %d", i);
		weft_future_unref(ts[i]);
	}
	weft_runtime_destroy(rt);
}

/* --- fast paths never deliver ------------------------------------------------ */

/* Awaiting a done future does not suspend, so it does not deliver a
 * pending cancel (API.md: "fast paths that finish at once neither suspend
 * nor deliver, as in asyncio"); the next real suspension does. With
 * several workers the co-operative budget forces invisible yields after
 * 128 such awaits: those do not deliver either. */
static atomic_int fast_bad;

static int fast_path(void *arg, void **res)
{
	weft_future *done = weft_future_create(NULL);
	weft_future_set_result(done, NULL);
	weft_cancel(weft_current_task(), NULL);
	for (int i = 0; i < 1000; i++)
		if (weft_await(done, NULL) != 0)
			atomic_fetch_add(&fast_bad, 1);
	weft_future_unref(done);
	r1 = weft_sleep(0);
	r2 = weft_sleep(0);
	return 0;
}

Test(cancel, fast_path_and_budget_yields_never_deliver, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 1; w <= 2; w++) {
		r1 = r2 = 1;
		atomic_store(&fast_bad, 0);
		cr_assert_eq(tu_run_n(w, fast_path, NULL, NULL), 0);
		cr_assert_eq(atomic_load(&fast_bad), 0, "workers=%u: an await of a done future "
							"delivered the cancel", w);
		cr_assert_eq(r1, -ECANCELED, "workers=%u", w);
		cr_assert_eq(r2, 0);
	}
}

/* test_cancel_both_task_and_inner_future, continued: the task catches the
 * CancelledError of `await fut` and suspends again. asyncio raises ONE
 * CancelledError (the must_cancel throw replaces the future's); weft's
 * await returns -ECANCELED (the future's outcome), and that must count as
 * the delivery (API.md: "delivered at most once"; the I/O rule: "if the
 * operation ends -ECANCELED, that result is the delivery and nothing
 * stays pending"), so the next sleep(0) returns 0. */
static int catch_both(void *arg, void **res)
{
	r1 = weft_await(arg, NULL);
	r2 = weft_sleep(0);
	return 0;
}

static int both_caught_main(void *arg, void **res)
{
	weft_future *f = weft_future_create(NULL);
	weft_future *t = weft_create_task(catch_both, f, NULL);
	weft_sleep(0);
	weft_cancel(f, NULL);
	b1 = weft_cancel(t, NULL); /* f is done: refused, stays pending */
	weft_await(t, NULL);
	weft_future_unref(t);
	weft_future_unref(f);
	return 0;
}

Test(cancel, both_cancelled_delivers_once, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, both_caught_main, NULL, NULL), 0);
	cr_assert(b1);
	cr_assert_eq(r1, -ECANCELED);
	cr_assert_eq(r2, 0, "the cancellation was delivered a second time");
}

/* --- a cancel still pending when the task returns ---------------------- */

/* test_cancel_at_end: the coroutine ends right after its task was
 * cancelled (asyncio's Task.__step: _must_cancel set when the coroutine
 * returns) and the task ends cancelled, not with the value. */
static int cancel_then_return(void *arg, void **res)
{
	b1 = weft_cancel(weft_current_task(), "at end");
	*res = (void *)12;
	return 0;
}

Test(cancel, cancel_at_end, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 1; w <= 2; w++) {
		weft_runtime *rt = tu_runtime(w);
		weft_future *t = weft_spawn(rt, cancel_then_return, NULL, NULL);
		void *v = NULL;
		cr_assert_eq(weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, &v), -ECANCELED,
			     "workers=%u", w);
		cr_assert(b1);
		cr_assert_null(v);
		cr_assert(weft_task_cancelled(t), "workers=%u", w);
		cr_assert_str_eq(weft_future_message(t), "at end");
		cr_assert_not(weft_cancel(t, NULL));
		weft_future_unref(t);
		weft_runtime_destroy(rt);
	}
}

/* The same when the cancel comes from elsewhere while the task runs and
 * it never suspends again: here from the test's thread, while the task
 * spins (1 worker: the worker is inside the task; 2: likewise, whichever
 * runs it). */
static atomic_int spin_state;

static int spin_then_return(void *arg, void **res)
{
	atomic_store(&spin_state, 1);
	while (atomic_load(&spin_state) != 2)
		;
	*res = (void *)12;
	return 0;
}

Test(cancel, cancel_at_end_from_another_thread, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 1; w <= 2; w++) {
		atomic_store(&spin_state, 0);
		weft_runtime *rt = tu_runtime(w);
		weft_future *t = weft_spawn(rt, spin_then_return, NULL, NULL);
		while (atomic_load(&spin_state) != 1)
			tu_nap_ms(1);
		cr_assert(weft_cancel(t, "from outside"), "workers=%u", w);
		atomic_store(&spin_state, 2);
		cr_assert_eq(weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, NULL), -ECANCELED,
			     "workers=%u", w);
		cr_assert(weft_task_cancelled(t));
		cr_assert_str_eq(weft_future_message(t), "from outside");
		weft_future_unref(t);
		weft_runtime_destroy(rt);
	}
}

/* test_cancel_task_catching's shape: a cancel received at a suspension
 * point is spent; a task that returns normally afterwards succeeds. */
static int catch_then_return(void *arg, void **res)
{
	weft_cancel(weft_current_task(), NULL);
	r1 = weft_sleep(0);
	*res = (void *)42;
	return 0;
}

Test(cancel, cancel_caught_at_a_suspension_point_then_return_succeeds, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 1; w <= 2; w++) {
		r1 = 1;
		void *v = NULL;
		cr_assert_eq(tu_run_n(w, catch_then_return, NULL, &v), 0, "workers=%u", w);
		cr_assert_eq(r1, -ECANCELED);
		cr_assert_eq(v, (void *)42);
	}
}

/* __step's exception branch: a coroutine that raises while a cancel is
 * pending ends with its exception (set_exception), not cancelled. */
static int cancel_then_fail(void *arg, void **res)
{
	weft_cancel(weft_current_task(), NULL);
	return weft_fail(-EIO, "own failure");
}

Test(cancel, error_return_with_a_pending_cancel_keeps_its_code, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 1; w <= 2; w++) {
		weft_runtime *rt = tu_runtime(w);
		weft_future *t = weft_spawn(rt, cancel_then_fail, NULL, NULL);
		cr_assert_eq(weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, NULL), -EIO, "workers=%u", w);
		cr_assert_not(weft_task_cancelled(t));
		cr_assert_str_eq(weft_future_message(t), "own failure");
		weft_future_unref(t);
		weft_runtime_destroy(rt);
	}
}
