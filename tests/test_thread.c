/* SPDX-License-Identifier: MIT */
/*
 * Thread bridges (weft/thread.h): run_coroutine_threadsafe and
 * call_soon_threadsafe from foreign threads, to_thread on the blocking
 * pool (growth, queueing, keep-alive, cancellation, context), the paused
 * clock with calls in flight, and shutdown (refusals, the pool's drain).
 *
 * asyncio's names are in comments where a test mirrors one of its tests
 * (Lib/test/test_asyncio: test_tasks.RunCoroutineThreadsafeTests,
 * test_threads.ToThreadTests, test_events).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "bridge/bridge.h" /* weft__blocking_stats: the pool's thread counts */
#include "test_util.h"
#include "proc_threads.h"

#define TIMEOUT (20 * WEFT_TEST_SLOW)
#define LONG (10.0 * WEFT_TEST_SLOW) /* seconds a helper waits before giving up */

/* --- helpers ---------------------------------------------------------------- */

/* A gate that blocking functions wait on (polling: they run on pool or
 * foreign threads, never on a worker). */
static atomic_int gate;
static atomic_int started, finished;

static void gate_wait(void)
{
	double end = tu_now() + LONG;
	while (!atomic_load(&gate) && tu_now() < end)
		tu_nap_ms(1);
}

/* to_thread body: counts itself in, waits for the gate, returns arg. */
static int blocker(void *arg, void **res)
{
	atomic_fetch_add(&started, 1);
	gate_wait();
	atomic_fetch_add(&finished, 1);
	*res = arg;
	return 0;
}

static void *open_gate_later(void *arg)
{
	tu_nap_ms((long)(intptr_t)arg);
	atomic_store(&gate, 1);
	return NULL;
}

static weft_config pool_config(unsigned workers, unsigned max, double keepalive)
{
	weft_config cfg = tu_config(workers);
	cfg.blocking_threads_max = max;
	cfg.blocking_keepalive = keepalive;
	return cfg;
}

/* --- run_coroutine_threadsafe ------------------------------------------------ */

/* asyncio: test_run_coroutine_threadsafe */
Test(thread, run_coroutine_threadsafe_result_reaches_foreign_thread, .timeout = TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *f = weft_run_coroutine_threadsafe(rt, tu_return_arg, (void *)42);
	cr_assert(weft_is_task(f));
	void *v = NULL;
	cr_assert_eq(weft_future_wait(f, WEFT_FOREVER, &v), 0);
	cr_assert_eq((intptr_t)v, 42);
	cr_assert(weft_future_done(f));
	weft_future_unref(f);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}

static int sleep_then_return(void *arg, void **res)
{
	atomic_store(&started, 1);
	while (!atomic_load(&gate))
		if (weft_sleep(0.001))
			return -ECANCELED;
	*res = arg;
	return 0;
}

/* asyncio: test_run_coroutine_threadsafe_with_timeout (there the caller
 * cancels afterwards; here the task is shown to keep running) */
Test(thread, run_coroutine_threadsafe_wait_timeout_leaves_task_running, .timeout = TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *f = weft_run_coroutine_threadsafe(rt, sleep_then_return, (void *)7);
	double t0 = tu_now();
	cr_assert_eq(weft_future_wait(f, 0.05, NULL), -ETIMEDOUT);
	cr_assert_geq(tu_now() - t0, 0.05);
	cr_assert_not(weft_future_done(f));
	cr_assert(tu_wait_flag(&started, 1, LONG), "the task runs on");
	atomic_store(&gate, 1);
	void *v = NULL;
	cr_assert_eq(weft_future_wait(f, WEFT_FOREVER, &v), 0);
	cr_assert_eq((intptr_t)v, 7);
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

static int fail_with_message(void *arg, void **res)
{
	return weft_fail(-EIO, "disk %d is gone", 7);
}

/* asyncio: test_run_coroutine_threadsafe_with_exception */
Test(thread, run_coroutine_threadsafe_error_and_message_propagate, .timeout = TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_run_coroutine_threadsafe(rt, fail_with_message, NULL);
	cr_assert_eq(weft_future_wait(f, WEFT_FOREVER, NULL), -EIO);
	cr_assert_eq(weft_future_exception(f), -EIO);
	cr_assert_str_eq(weft_future_message(f), "disk 7 is gone");
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

static atomic_int sleep_rc = 1;

static int sleep_long(void *arg, void **res)
{
	atomic_store(&started, 1);
	int rc = weft_sleep(60);
	atomic_store(&sleep_rc, rc);
	return rc;
}

/* asyncio: test_run_coroutine_threadsafe_task_cancelled */
Test(thread, run_coroutine_threadsafe_cancel_from_foreign_thread, .timeout = TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *f = weft_run_coroutine_threadsafe(rt, sleep_long, NULL);
	cr_assert(tu_wait_flag(&started, 1, LONG));
	cr_assert(weft_cancel(f, "stop now"));
	cr_assert_eq(weft_future_wait(f, LONG, NULL), -ECANCELED);
	cr_assert(weft_future_cancelled(f));
	cr_assert_str_eq(weft_future_message(f), "stop now");
	cr_assert_eq(atomic_load(&sleep_rc), -ECANCELED, "the task saw the cancellation");
	cr_assert_not(weft_cancel(f, NULL), "done: cancel is refused");
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

Test(thread, run_coroutine_threadsafe_can_be_polled, .timeout = TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *f = weft_run_coroutine_threadsafe(rt, tu_return_arg, (void *)5);
	double end = tu_now() + LONG;
	while (!weft_future_done(f) && tu_now() < end)
		tu_nap_ms(1);
	void *v = NULL;
	cr_assert_eq(weft_future_result(f, &v), 0);
	cr_assert_eq((intptr_t)v, 5);
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

static _Atomic(weft_runtime *) cb_rt;
static atomic_int cb_on_worker = -1;
static atomic_int cb_runs;

static void noop(void *arg)
{
}

/* Records where it runs: weft_call_soon works only on a worker. */
static void where_cb(weft_future *f, void *arg)
{
	atomic_store(&cb_rt, weft_current_runtime());
	atomic_store(&cb_on_worker, weft_call_soon(noop, NULL, NULL) == 0);
	atomic_fetch_add(&cb_runs, 1);
}

Test(thread, run_coroutine_threadsafe_done_callback_runs_on_a_worker, .timeout = TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *f = weft_run_coroutine_threadsafe(rt, sleep_then_return, NULL);
	cr_assert_eq(weft_future_add_done_callback(f, where_cb, NULL), 0);
	atomic_store(&gate, 1);
	cr_assert(tu_wait_flag(&cb_runs, 1, LONG));
	cr_assert_eq(atomic_load(&cb_rt), rt);
	cr_assert_eq(atomic_load(&cb_on_worker), 1);
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

Test(thread, run_coroutine_threadsafe_null_is_einval, .timeout = TIMEOUT)
{
	weft_future *f = weft_run_coroutine_threadsafe(NULL, tu_return_arg, NULL);
	cr_assert(weft_future_done(f));
	cr_assert_eq(weft_future_exception(f), -EINVAL);
	weft_future_unref(f);
	weft_runtime *rt = tu_runtime(1);
	f = weft_run_coroutine_threadsafe(rt, NULL, NULL);
	cr_assert_eq(weft_future_wait(f, 0, NULL), -EINVAL);
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

/* A NaN timeout is -EINVAL (asyncio 3.13's ValueError for NaN delays),
 * checked before anything else, even on a done future. */
Test(thread, future_wait_nan_timeout_is_einval, .timeout = TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_future_create(rt);
	cr_assert_eq(weft_future_wait(f, NAN, NULL), -EINVAL);
	cr_assert_eq(weft_future_set_result(f, NULL), 0);
	cr_assert_eq(weft_future_wait(f, NAN, NULL), -EINVAL);
	cr_assert_eq(weft_future_wait(f, 0, NULL), 0);
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

static atomic_int wait_in_task_rc = 1;

static int wait_inside_task(void *arg, void **res)
{
	weft_future *f = weft_create_task(tu_return_arg, NULL, NULL);
	atomic_store(&wait_in_task_rc, weft_future_wait(f, 1.0, NULL));
	weft_await(f, NULL);
	weft_future_unref(f);
	return 0;
}

Test(thread, future_wait_inside_a_task_is_eperm, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, wait_inside_task, NULL, NULL), 0);
	cr_assert_eq(atomic_load(&wait_in_task_rc), -EPERM);
}

/* On a pool thread: submit into the runtime and block for the answer. */
static int submit_and_wait(void *arg, void **res)
{
	weft_future *f = weft_run_coroutine_threadsafe(weft_current_runtime(), tu_return_arg, arg);
	int rc = weft_future_wait(f, LONG, res);
	weft_future_unref(f);
	return rc;
}

/* Runs fn(arg) through weft_to_thread and awaits it (tasks only). */
static int await_call(weft_task_fn fn, void *arg, void **res)
{
	weft_future *f = weft_to_thread(fn, arg);
	int rc = weft_await(f, res);
	weft_future_unref(f);
	return rc;
}

static int await_submit_and_wait(void *arg, void **res)
{
	return await_call(submit_and_wait, (void *)99, res);
}

/* A pool thread is not a worker: it may block in weft_future_wait. */
Test(thread, future_wait_works_on_a_pool_thread, .timeout = TIMEOUT)
{
	void *v = NULL;
	cr_assert_eq(tu_run_n(1, await_submit_and_wait, NULL, &v), 0);
	cr_assert_eq((intptr_t)v, 99);
}

/*
 * Shutdown from the inside out: a to_thread call (a thread outside the
 * workers that lives until the pool is drained) submits in a loop; once
 * weft_runtime_destroy begins it is refused with -ESHUTDOWN, and every
 * submission that was accepted has run.
 */
static atomic_int accepted, ran, refused_rc;

static void count_run(void *arg)
{
	atomic_fetch_add(&ran, 1);
}

static int count_task(void *arg, void **res)
{
	atomic_fetch_add(&ran, 1);
	return 0;
}

static int submit_until_refused(void *arg, void **res)
{
	bool tasks = arg != NULL;
	weft_runtime *rt = weft_current_runtime();
	double end = tu_now() + LONG;
	atomic_store(&started, 1);
	while (tu_now() < end) {
		int rc;
		if (tasks) {
			weft_future *f = weft_run_coroutine_threadsafe(rt, count_task, NULL);
			rc = weft_future_done(f) ? weft_future_exception(f) : 0;
			weft_future_unref(f);
		} else {
			rc = weft_call_soon_threadsafe(rt, count_run, NULL);
		}
		if (rc == -ESHUTDOWN) {
			atomic_store(&refused_rc, rc);
			break;
		}
		atomic_fetch_add(&accepted, 1);
		tu_nap_ms(0);
	}
	return 0;
}

static int await_to_thread_arg(void *arg, void **res)
{
	return await_call(submit_until_refused, arg, res);
}

static void refused_after_shutdown(bool tasks)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *t = weft_spawn(rt, await_to_thread_arg, tasks ? (void *)1 : NULL, NULL);
	cr_assert(tu_wait_flag(&started, 1, LONG));
	tu_nap_ms(20);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	cr_assert_eq(atomic_load(&refused_rc), -ESHUTDOWN);
	cr_assert_gt(atomic_load(&accepted), 0);
	if (!tasks) /* accepted callbacks all ran; accepted tasks ran or were cancelled */
		cr_assert_eq(atomic_load(&ran), atomic_load(&accepted));
	weft_future_unref(t);
}

Test(thread, run_coroutine_threadsafe_refused_once_shutdown_began, .timeout = TIMEOUT)
{
	refused_after_shutdown(true);
}

Test(thread, call_soon_threadsafe_refused_once_shutdown_began_and_none_lost,
     .timeout = TIMEOUT)
{
	refused_after_shutdown(false);
}

/* --- call_soon_threadsafe ---------------------------------------------------- */

static void where_plain(void *arg)
{
	where_cb(NULL, arg);
}

/* asyncio: test_events test_call_soon_threadsafe */
Test(thread, call_soon_threadsafe_runs_on_a_worker, .timeout = TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	cr_assert_eq(weft_call_soon_threadsafe(rt, where_plain, NULL), 0);
	cr_assert(tu_wait_flag(&cb_runs, 1, LONG));
	cr_assert_eq(atomic_load(&cb_rt), rt);
	cr_assert_eq(atomic_load(&cb_on_worker), 1);
	weft_runtime_destroy(rt);
}

Test(thread, call_soon_threadsafe_wakes_a_parked_worker, .timeout = TIMEOUT)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		atomic_store(&cb_runs, 0);
		weft_runtime *rt = tu_runtime(workers);
		tu_nap_ms(50); /* every worker parks */
		double t0 = tu_now();
		cr_assert_eq(weft_call_soon_threadsafe(rt, where_plain, NULL), 0);
		cr_assert(tu_wait_flag(&cb_runs, 1, LONG), "workers=%u", workers);
		cr_assert_lt(tu_now() - t0, 1.0 * WEFT_TEST_SLOW, "woken, not found by chance");
		weft_runtime_destroy(rt);
	}
}

static char trace[128];
static atomic_int ntrace;

static void mark(void *arg)
{
	int i = atomic_fetch_add(&ntrace, 1);
	if (i < (int)sizeof(trace) - 1)
		trace[i] = (char)(intptr_t)arg;
}

Test(thread, call_soon_threadsafe_keeps_call_order_on_one_worker, .timeout = TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	for (char c = 'a'; c <= 'z'; c++)
		cr_assert_eq(weft_call_soon_threadsafe(rt, mark, (void *)(intptr_t)c), 0);
	cr_assert(tu_wait_flag(&ntrace, 26, LONG));
	weft_runtime_destroy(rt);
	trace[26] = '\0';
	cr_assert_str_eq(trace, "abcdefghijklmnopqrstuvwxyz");
}

static int mixed_soon(void *arg, void **res)
{
	weft_runtime *rt = weft_current_runtime();
	weft_call_soon(mark, (void *)'a', NULL);
	weft_call_soon_threadsafe(rt, mark, (void *)'b');
	weft_call_soon(mark, (void *)'c', NULL);
	weft_sleep(0);
	mark((void *)'m');
	return 0;
}

/* asyncio: test_events test_call_soon_threadsafe_same_thread */
Test(thread, call_soon_threadsafe_on_a_worker_is_call_soon, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, mixed_soon, NULL, NULL), 0);
	trace[atomic_load(&ntrace)] = '\0';
	cr_assert_str_eq(trace, "abcm");
}

/* asyncio appends call_soon and call_soon_threadsafe to one ready deque,
 * in the order of the calls: a callback queued from another thread before
 * the loop's own call_soon runs first. One worker keeps that order: the
 * task spins (no suspension) until the other thread's call returned, then
 * calls call_soon; a callback scheduled by the first callback comes after
 * both (one round later). Looped: the other thread's timing varies. */
static atomic_int foreign_queued;

static void mark_and_chain(void *arg)
{
	mark(arg);
	weft_call_soon(mark, (void *)'z', NULL);
}

static void *foreign_call(void *arg)
{
	weft_call_soon_threadsafe(arg, mark_and_chain, (void *)'f');
	weft_call_soon_threadsafe(arg, mark, (void *)'g');
	atomic_store(&foreign_queued, 1);
	return NULL;
}

static int threadsafe_before_soon(void *arg, void **res)
{
	pthread_t th;
	atomic_store(&foreign_queued, 0);
	if (pthread_create(&th, NULL, foreign_call, weft_current_runtime()))
		return -EAGAIN;
	while (!atomic_load(&foreign_queued))
		;
	weft_call_soon(mark, (void *)'l', NULL);
	weft_sleep(0);
	mark((void *)'m');
	weft_sleep(0);
	pthread_join(th, NULL); /* it has returned: a short block */
	return 0;
}

Test(thread, call_soon_threadsafe_keeps_call_order_with_call_soon, .timeout = TIMEOUT)
{
	for (int i = 0; i < 20; i++) {
		atomic_store(&ntrace, 0);
		cr_assert_eq(tu_run_n(1, threadsafe_before_soon, NULL, NULL), 0);
		trace[atomic_load(&ntrace)] = '\0';
		cr_assert_str_eq(trace, "fglmz", "run %d: %s", i, trace);
	}
}

Test(thread, call_soon_threadsafe_null_is_einval, .timeout = TIMEOUT)
{
	cr_assert_eq(weft_call_soon_threadsafe(NULL, noop, NULL), -EINVAL);
	weft_runtime *rt = tu_runtime(1);
	cr_assert_eq(weft_call_soon_threadsafe(rt, NULL, NULL), -EINVAL);
	weft_runtime_destroy(rt);
}

static weft_local_key key;
static _Atomic(void *) seen_local;

static void read_local(void *arg)
{
	atomic_store(&seen_local, weft_local_get(key));
	atomic_fetch_add(&cb_runs, 1);
}

static int local_then_threadsafe(void *arg, void **res)
{
	weft_local_set(key, (void *)0xabc);
	weft_call_soon_threadsafe(weft_current_runtime(), read_local, NULL);
	weft_local_set(key, (void *)0xdef); /* later writes are not seen */
	weft_sleep(0.01);
	return 0;
}

Test(thread, call_soon_threadsafe_sees_the_calling_tasks_locals, .timeout = TIMEOUT)
{
	cr_assert_eq(weft_local_key_create(&key), 0);
	cr_assert_eq(tu_run_n(2, local_then_threadsafe, NULL, NULL), 0);
	cr_assert_eq(atomic_load(&cb_runs), 1);
	cr_assert_eq(atomic_load(&seen_local), (void *)0xabc);
}

static int threadsafe_from_pool(void *arg, void **res)
{
	return weft_call_soon_threadsafe(weft_current_runtime(), read_local, NULL);
}

static int local_then_to_thread(void *arg, void **res)
{
	weft_local_set(key, (void *)0x123);
	weft_future *f = weft_to_thread(threadsafe_from_pool, NULL);
	int rc = weft_await(f, NULL);
	weft_future_unref(f);
	for (int i = 0; i < 1000 && !atomic_load(&cb_runs); i++)
		weft_sleep(0.001);
	return rc;
}

Test(thread, call_soon_threadsafe_from_to_thread_sees_the_tasks_locals, .timeout = TIMEOUT)
{
	cr_assert_eq(weft_local_key_create(&key), 0);
	cr_assert_eq(tu_run_n(2, local_then_to_thread, NULL, NULL), 0);
	cr_assert_eq(atomic_load(&cb_runs), 1);
	cr_assert_eq(atomic_load(&seen_local), (void *)0x123);
}

/* --- to_thread: where and how it runs ----------------------------------------- */

static _Atomic(weft_runtime *) call_rt;
static atomic_int call_soon_rc = 1, call_task_null = -1;
static _Atomic pthread_t call_thread, task_thread;

static int where_am_i(void *arg, void **res)
{
	atomic_store(&call_rt, weft_current_runtime());
	atomic_store(&call_soon_rc, weft_call_soon(noop, NULL, NULL));
	atomic_store(&call_task_null, weft_current_task() == NULL);
	atomic_store(&call_thread, pthread_self());
	*res = (void *)((intptr_t)arg * 2);
	return 0;
}

static _Atomic(weft_runtime *) task_rt;

static int to_thread_where(void *arg, void **res)
{
	atomic_store(&task_rt, weft_current_runtime());
	atomic_store(&task_thread, pthread_self());
	return await_call(where_am_i, (void *)21, res);
}

/* asyncio: test_threads test_to_thread */
Test(thread, to_thread_runs_on_a_pool_thread_and_returns_its_result, .timeout = TIMEOUT)
{
	void *v = NULL;
	cr_assert_eq(tu_run_n(2, to_thread_where, NULL, &v), 0);
	cr_assert_eq((intptr_t)v, 42);
	cr_assert_eq(atomic_load(&call_soon_rc), -EPERM, "not on a worker");
	cr_assert_eq(atomic_load(&call_task_null), 1, "not in a task");
	cr_assert_not(pthread_equal(atomic_load(&call_thread), atomic_load(&task_thread)));
}

Test(thread, to_thread_sees_the_tasks_runtime, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, to_thread_where, NULL, NULL), 0);
	cr_assert_not_null(atomic_load(&task_rt));
	cr_assert_eq(atomic_load(&call_rt), atomic_load(&task_rt));
	cr_assert_null(weft_current_runtime(), "the test thread is not a pool thread");
}

static atomic_int ticks;

static int ticker(void *arg, void **res)
{
	for (int i = 0; i < 3; i++) {
		weft_sleep(0.001);
		atomic_fetch_add(&ticks, 1);
	}
	atomic_store(&gate, 1); /* only a running worker can open it */
	return 0;
}

static int block_while_ticking(void *arg, void **res)
{
	weft_future *f = weft_to_thread(blocker, (void *)3);
	weft_future *t = weft_create_task(ticker, NULL, NULL);
	int rc = weft_await(f, res);
	weft_await(t, NULL);
	weft_future_unref(f);
	weft_future_unref(t);
	return rc;
}

/* With one worker: the task awaiting a blocked call suspends, and the
 * worker runs another task, which is what unblocks the call. */
Test(thread, to_thread_does_not_block_the_worker, .timeout = TIMEOUT)
{
	void *v = NULL;
	cr_assert_eq(tu_run_n(1, block_while_ticking, NULL, &v), 0);
	cr_assert_eq((intptr_t)v, 3);
	cr_assert_eq(atomic_load(&ticks), 3);
}

static int fail_in_thread(void *arg, void **res)
{
	return weft_fail(-ENOENT, "no %s here", "file");
}

static const char *to_thread_msg;

static int await_failure(void *arg, void **res)
{
	weft_future *f = weft_to_thread(fail_in_thread, NULL);
	int rc = weft_await(f, NULL);
	to_thread_msg = weft_future_message(f) ? strdup(weft_future_message(f)) : NULL;
	weft_future_unref(f);
	return rc;
}

/* asyncio: test_threads test_to_thread_exception (named differently there) */
Test(thread, to_thread_error_and_message_propagate, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, await_failure, NULL, NULL), -ENOENT);
	cr_assert_str_eq(to_thread_msg, "no file here");
	free((void *)to_thread_msg);
}

static int positive(void *arg, void **res)
{
	*res = (void *)1;
	return 5;
}

static int await_positive(void *arg, void **res)
{
	return await_call(positive, NULL, res);
}

Test(thread, to_thread_positive_return_is_success, .timeout = TIMEOUT)
{
	void *v = NULL;
	cr_assert_eq(tu_run_n(1, await_positive, NULL, &v), 0);
	cr_assert_eq((intptr_t)v, 1);
}

static atomic_int from_cb_rc = 1, from_pool_rc = 1;

static void to_thread_in_callback(void *arg)
{
	weft_future *f = weft_to_thread(tu_return_arg, NULL);
	atomic_store(&from_cb_rc, weft_future_exception(f));
	weft_future_unref(f);
}

static int to_thread_in_pool(void *arg, void **res)
{
	weft_future *f = weft_to_thread(tu_return_arg, NULL);
	atomic_store(&from_pool_rc, weft_future_exception(f));
	weft_future_unref(f);
	return 0;
}

static int outside_task_main(void *arg, void **res)
{
	weft_call_soon(to_thread_in_callback, NULL, NULL);
	weft_future *f = weft_to_thread(to_thread_in_pool, NULL);
	weft_await(f, NULL);
	weft_future_unref(f);
	weft_sleep(0);
	return 0;
}

Test(thread, to_thread_outside_a_task_is_eperm, .timeout = TIMEOUT)
{
	weft_future *f = weft_to_thread(tu_return_arg, NULL); /* the test thread */
	cr_assert(weft_future_done(f));
	cr_assert_eq(weft_future_exception(f), -EPERM);
	weft_future_unref(f);
	cr_assert_eq(tu_run_n(1, outside_task_main, NULL, NULL), 0);
	cr_assert_eq(atomic_load(&from_cb_rc), -EPERM, "in a callback");
	cr_assert_eq(atomic_load(&from_pool_rc), -EPERM, "on a pool thread");
}

static atomic_int null_fn_rc = 1;

static int to_thread_null(void *arg, void **res)
{
	weft_future *f = weft_to_thread(NULL, NULL);
	atomic_store(&null_fn_rc, weft_await(f, NULL));
	weft_future_unref(f);
	return 0;
}

Test(thread, to_thread_null_function_is_einval, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, to_thread_null, NULL, NULL), 0);
	cr_assert_eq(atomic_load(&null_fn_rc), -EINVAL);
}

static _Atomic(void *) in_call_before, in_call_after, task_after;
static atomic_int set_in_call_rc = 1;

static int read_and_write_local(void *arg, void **res)
{
	atomic_store(&in_call_before, weft_local_get(key));
	atomic_store(&set_in_call_rc, weft_local_set(key, (void *)0x2222));
	atomic_store(&in_call_after, weft_local_get(key));
	return 0;
}

static int locals_main(void *arg, void **res)
{
	weft_local_set(key, (void *)0x1111);
	weft_future *f = weft_to_thread(read_and_write_local, NULL);
	int rc = weft_await(f, NULL);
	weft_future_unref(f);
	atomic_store(&task_after, weft_local_get(key));
	return rc;
}

/* asyncio: test_threads test_to_thread_contextvars */
Test(thread, to_thread_sees_the_tasks_locals, .timeout = TIMEOUT)
{
	cr_assert_eq(weft_local_key_create(&key), 0);
	cr_assert_eq(tu_run_n(2, locals_main, NULL, NULL), 0);
	cr_assert_eq(atomic_load(&in_call_before), (void *)0x1111);
}

Test(thread, to_thread_local_set_changes_the_calls_copy_only, .timeout = TIMEOUT)
{
	cr_assert_eq(weft_local_key_create(&key), 0);
	cr_assert_eq(tu_run_n(2, locals_main, NULL, NULL), 0);
	cr_assert_eq(atomic_load(&set_in_call_rc), 0);
	cr_assert_eq(atomic_load(&in_call_after), (void *)0x2222);
	cr_assert_eq(atomic_load(&task_after), (void *)0x1111);
}

static int many_calls(void *arg, void **res)
{
	enum { N = 100 };
	weft_future *fs[N];
	for (intptr_t i = 0; i < N; i++)
		fs[i] = weft_to_thread(tu_return_arg, (void *)i);
	intptr_t sum = 0;
	for (int i = 0; i < N; i++) {
		void *v = NULL;
		if (weft_await(fs[i], &v) == 0)
			sum += (intptr_t)v;
		weft_future_unref(fs[i]);
	}
	*res = (void *)sum;
	return 0;
}

/* asyncio: test_threads test_to_thread_concurrent */
Test(thread, to_thread_many_concurrent_calls_over_worker_counts, .timeout = TIMEOUT)
{
	static const unsigned counts[] = {1, 2, 4};
	for (unsigned i = 0; i < 3; i++) {
		weft_config cfg = pool_config(counts[i], 8, 0);
		void *v = NULL;
		cr_assert_eq(tu_run(many_calls, NULL, &cfg, &v), 0);
		cr_assert_eq((intptr_t)v, 99 * 100 / 2, "workers=%u", counts[i]);
	}
}

static void where_done_cb(weft_future *f, void *arg)
{
	where_cb(f, arg);
}

static int to_thread_with_callback(void *arg, void **res)
{
	weft_future *f = weft_to_thread(tu_return_arg, NULL);
	weft_future_add_done_callback(f, where_done_cb, NULL);
	weft_await(f, NULL);
	weft_future_unref(f);
	for (int i = 0; i < 1000 && !atomic_load(&cb_runs); i++)
		weft_sleep(0.001);
	return 0;
}

Test(thread, to_thread_done_callback_runs_on_a_worker, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(2, to_thread_with_callback, NULL, NULL), 0);
	cr_assert_eq(atomic_load(&cb_runs), 1);
	cr_assert_eq(atomic_load(&cb_on_worker), 1);
}

/* --- the pool: growth, queueing, keep-alive ----------------------------------- */

static struct weft__blocking_stats stats_full, stats_after;
static atomic_int started_when_full;

static int fill_the_pool(void *arg, void **res)
{
	weft_runtime *rt = weft_current_runtime();
	enum { N = 6 };
	weft_future *fs[N];
	for (intptr_t i = 0; i < N; i++)
		fs[i] = weft_to_thread(blocker, (void *)i);
	while (atomic_load(&started) < 3)
		weft_sleep(0.001);
	weft_sleep(0.05); /* a fourth thread would have started by now */
	atomic_store(&started_when_full, atomic_load(&started));
	weft__blocking_stats(rt, &stats_full);
	atomic_store(&gate, 1);
	intptr_t sum = 0;
	for (int i = 0; i < N; i++) {
		void *v = NULL;
		weft_await(fs[i], &v);
		sum += (intptr_t)v;
		weft_future_unref(fs[i]);
	}
	weft__blocking_stats(rt, &stats_after);
	*res = (void *)sum;
	return 0;
}

Test(thread, pool_grows_to_its_maximum_and_queues_the_rest, .timeout = TIMEOUT)
{
	weft_config cfg = pool_config(2, 3, 0);
	void *v = NULL;
	cr_assert_eq(tu_run(fill_the_pool, NULL, &cfg, &v), 0);
	cr_assert_eq((intptr_t)v, 0 + 1 + 2 + 3 + 4 + 5);
	cr_assert_eq(atomic_load(&started_when_full), 3);
	cr_assert_eq(stats_full.threads, 3);
	cr_assert_eq(stats_full.queued, 3);
	cr_assert_eq(stats_full.inflight, 6);
	cr_assert_eq(stats_after.peak, 3);
	cr_assert_eq(atomic_load(&finished), 6);
}

static int sequential_calls(void *arg, void **res)
{
	for (intptr_t i = 0; i < 20; i++) {
		weft_future *f = weft_to_thread(tu_return_arg, (void *)i);
		weft_await(f, NULL);
		weft_future_unref(f);
		struct weft__blocking_stats st; /* wait until the thread is idle again */
		for (int k = 0; k < 2000; k++) {
			weft__blocking_stats(weft_current_runtime(), &st);
			if (st.idle == st.threads)
				break;
			weft_sleep(0.0005);
		}
	}
	weft__blocking_stats(weft_current_runtime(), &stats_after);
	return 0;
}

Test(thread, pool_reuses_an_idle_thread, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, sequential_calls, NULL, NULL), 0);
	cr_assert_eq(stats_after.peak, 1, "one call at a time needs one thread");
}

static struct weft__blocking_stats stats_busy, stats_idle, stats_again;

static int keepalive_main(void *arg, void **res)
{
	weft_runtime *rt = weft_current_runtime();
	weft_future *fs[3];
	for (int i = 0; i < 3; i++)
		fs[i] = weft_to_thread(blocker, NULL);
	while (atomic_load(&started) < 3)
		weft_sleep(0.001);
	weft__blocking_stats(rt, &stats_busy);
	atomic_store(&gate, 1);
	for (int i = 0; i < 3; i++) {
		weft_await(fs[i], NULL);
		weft_future_unref(fs[i]);
	}
	for (int i = 0; i < 2000; i++) { /* up to 2 s (keep-alive is 50 ms) */
		weft__blocking_stats(rt, &stats_idle);
		if (stats_idle.threads == 0)
			break;
		weft_sleep(0.001);
	}
	weft_future *f = weft_to_thread(tu_return_arg, (void *)8);
	void *v = NULL;
	int rc = weft_await(f, &v);
	weft_future_unref(f);
	weft__blocking_stats(rt, &stats_again);
	*res = v;
	return rc;
}

Test(thread, idle_pool_threads_exit_after_the_keepalive, .timeout = TIMEOUT)
{
	weft_config cfg = pool_config(1, 0, 0.05);
	void *v = NULL;
	cr_assert_eq(tu_run(keepalive_main, NULL, &cfg, &v), 0);
	cr_assert_eq(stats_busy.threads, 3);
	cr_assert_eq(stats_idle.threads, 0, "idle threads exited");
	cr_assert_eq((intptr_t)v, 8, "a new thread starts for the next call");
	cr_assert_geq(stats_again.threads, 1);
}

Test(thread, config_defaults_and_checks)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cr_assert_eq(cfg.blocking_threads_max, 512);
	cr_assert_float_eq(cfg.blocking_keepalive, 10.0, 1e-9);
	weft_runtime *rt = NULL;
	cfg.blocking_keepalive = -1;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	cfg.blocking_keepalive = NAN;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	cfg.blocking_keepalive = 1;
	cfg.blocking_threads_max = 65537;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	cr_assert_null(rt);
}

/* --- cancellation ---------------------------------------------------------- */

static atomic_int second_ran;
static atomic_int queued_cancel_ok = -1, queued_await_rc = 1, queued_cancelled = -1;

static int mark_second(void *arg, void **res)
{
	atomic_store(&second_ran, 1);
	return 0;
}

static int cancel_queued_future(void *arg, void **res)
{
	weft_future *a = weft_to_thread(blocker, NULL); /* takes the only thread */
	weft_future *b = weft_to_thread(mark_second, NULL);
	while (!atomic_load(&started))
		weft_sleep(0.001);
	atomic_store(&queued_cancel_ok, weft_cancel(b, "not needed"));
	atomic_store(&queued_await_rc, weft_await(b, NULL));
	atomic_store(&queued_cancelled, weft_future_cancelled(b));
	atomic_store(&gate, 1);
	weft_await(a, NULL);
	weft_future_unref(a);
	weft_future_unref(b);
	return 0;
}

Test(thread, cancel_of_a_queued_call_drops_it, .timeout = TIMEOUT)
{
	weft_config cfg = pool_config(1, 1, 0);
	cr_assert_eq(tu_run(cancel_queued_future, NULL, &cfg, NULL), 0);
	cr_assert_eq(atomic_load(&queued_cancel_ok), 1, "a queued call accepts the cancel");
	cr_assert_eq(atomic_load(&queued_await_rc), -ECANCELED);
	cr_assert_eq(atomic_load(&queued_cancelled), 1);
	cr_assert_eq(atomic_load(&second_ran), 0, "its function never runs");
}

static weft_future *queued_call;

static int await_queued(void *arg, void **res)
{
	queued_call = weft_to_thread(mark_second, NULL);
	atomic_store(&started, 2); /* after blocker's +1 */
	int rc = weft_await(queued_call, NULL);
	atomic_store(&queued_await_rc, rc);
	return rc;
}

static int cancel_task_awaiting_queued(void *arg, void **res)
{
	weft_future *a = weft_to_thread(blocker, NULL);
	while (!atomic_load(&started))
		weft_sleep(0.001);
	weft_future *t = weft_create_task(await_queued, NULL, NULL);
	while (atomic_load(&started) < 2)
		weft_sleep(0.001);
	weft_sleep(0.01); /* t is suspended in its await */
	weft_cancel(t, NULL);
	int rc = weft_await(t, NULL);
	atomic_store(&queued_cancelled, weft_future_cancelled(queued_call));
	atomic_store(&gate, 1);
	weft_await(a, NULL);
	weft_future_unref(a);
	weft_future_unref(t);
	weft_future_unref(queued_call);
	*res = (void *)(intptr_t)rc;
	return 0;
}

Test(thread, cancelling_a_task_awaiting_a_queued_call_drops_the_call, .timeout = TIMEOUT)
{
	weft_config cfg = pool_config(2, 1, 0);
	void *v = NULL;
	cr_assert_eq(tu_run(cancel_task_awaiting_queued, NULL, &cfg, &v), 0);
	cr_assert_eq((intptr_t)v, -ECANCELED, "the task ends cancelled");
	cr_assert_eq(atomic_load(&queued_await_rc), -ECANCELED, "its await returned -ECANCELED");
	cr_assert_eq(atomic_load(&queued_cancelled), 1, "the call's future is cancelled");
	cr_assert_eq(atomic_load(&second_ran), 0, "the function never ran");
}

static atomic_int running_cancel_ok = -1, running_rc = 1;
static _Atomic(void *) running_value;

static int cancel_running_future(void *arg, void **res)
{
	weft_future *a = weft_to_thread(blocker, (void *)77);
	while (!atomic_load(&started))
		weft_sleep(0.001);
	atomic_store(&running_cancel_ok, weft_cancel(a, NULL));
	atomic_store(&gate, 1);
	void *v = NULL;
	atomic_store(&running_rc, weft_await(a, &v));
	atomic_store(&running_value, v);
	weft_future_unref(a);
	return 0;
}

Test(thread, cancel_of_a_started_call_is_refused, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, cancel_running_future, NULL, NULL), 0);
	cr_assert_eq(atomic_load(&running_cancel_ok), 0, "weft_cancel returns false");
	cr_assert_eq(atomic_load(&running_rc), 0);
	cr_assert_eq(atomic_load(&running_value), (void *)77);
}

static atomic_int await_rc = 1, next_rc = 1, later_rc = 1;
static _Atomic(void *) await_value;

static int await_running_call(void *arg, void **res)
{
	weft_future *f = weft_to_thread(blocker, (void *)55);
	void *v = NULL;
	atomic_store(&await_rc, weft_await(f, &v));
	atomic_store(&await_value, v);
	weft_future_unref(f);
	atomic_store(&next_rc, weft_sleep(0));  /* the next suspension point */
	atomic_store(&later_rc, weft_sleep(0)); /* delivered once */
	return 0;
}

/* Runs arg (a struct victim) as a task, cancels it once its to_thread
 * call has started, lets the call finish, and awaits the task. */
struct victim {
	weft_task_fn fn;
};

static int cancel_once_call_started(void *arg, void **res)
{
	const struct victim *v = arg;
	weft_future *t = weft_create_task(v->fn, NULL, NULL);
	while (!atomic_load(&started))
		weft_sleep(0.001);
	weft_sleep(0.01);
	weft_cancel(t, NULL);
	atomic_store(&gate, 1);
	int rc = weft_await(t, NULL);
	weft_future_unref(t);
	return rc;
}

/* API.md: a refused cancel leaves the task waiting for the real outcome;
 * the cancellation comes at the next suspension point, once. asyncio
 * raises CancelledError at once and abandons the thread instead. */
Test(thread, cancelled_task_gets_the_started_calls_outcome_then_ecanceled, .timeout = TIMEOUT)
{
	static const struct victim v = {await_running_call};
	cr_assert_eq(tu_run_n(2, cancel_once_call_started, (void *)&v, NULL), 0);
	cr_assert_eq(atomic_load(&await_rc), 0);
	cr_assert_eq(atomic_load(&await_value), (void *)55);
	cr_assert_eq(atomic_load(&next_rc), -ECANCELED);
	cr_assert_eq(atomic_load(&later_rc), 0);
	cr_assert_eq(atomic_load(&finished), 1);
}

static atomic_int pending_call_cancelled = -1, pending_await_rc = 1, pending_after_rc = 1;

static int call_again_with_cancel_pending(void *arg, void **res)
{
	weft_future *f = weft_to_thread(blocker, NULL);
	weft_await(f, NULL); /* cancelled meanwhile: refused, outcome delivered */
	weft_future_unref(f);
	weft_future *g = weft_to_thread(mark_second, NULL);
	atomic_store(&pending_call_cancelled, weft_future_cancelled(g));
	atomic_store(&pending_await_rc, weft_await(g, NULL));
	weft_future_unref(g);
	atomic_store(&pending_after_rc, weft_sleep(0));
	return 0;
}

/* The pending cancellation is delivered by the next to_thread call, which
 * never starts: a loop of calls always ends when its task is cancelled. */
Test(thread, to_thread_with_a_cancel_pending_returns_a_cancelled_call, .timeout = TIMEOUT)
{
	static const struct victim v = {call_again_with_cancel_pending};
	cr_assert_eq(tu_run_n(2, cancel_once_call_started, (void *)&v, NULL), 0);
	cr_assert_eq(atomic_load(&pending_call_cancelled), 1);
	cr_assert_eq(atomic_load(&pending_await_rc), -ECANCELED);
	cr_assert_eq(atomic_load(&pending_after_rc), 0, "delivered once");
	cr_assert_eq(atomic_load(&second_ran), 0, "the call never started");
}

/* --- the paused clock --------------------------------------------------------- */

static int sleep_a_hundred(void *arg, void **res)
{
	return weft_sleep(100);
}

static int real_nap(void *arg, void **res)
{
	tu_nap_ms(50);
	return 0;
}

static double virtual_elapsed = -1;

static int paused_main(void *arg, void **res)
{
	weft_future *s = weft_create_task(sleep_a_hundred, NULL, NULL);
	weft_sleep(0); /* s is asleep: a timer is due in 100 s */
	double t0 = weft_time();
	weft_future *f = weft_to_thread(real_nap, NULL);
	weft_await(f, NULL);
	virtual_elapsed = weft_time() - t0;
	weft_future_unref(f);
	int rc = weft_await(s, NULL); /* now the clock may jump */
	weft_future_unref(s);
	return rc;
}

Test(thread, paused_clock_does_not_jump_while_a_call_is_in_flight, .timeout = TIMEOUT)
{
	weft_config cfg = tu_config(1);
	cfg.paused_clock = true;
	double wall0 = tu_now();
	cr_assert_eq(tu_run(paused_main, NULL, &cfg, NULL), 0);
	cr_assert_float_eq(virtual_elapsed, 0.0, 1e-9, "the clock jumped by %f s", virtual_elapsed);
	cr_assert_lt(tu_now() - wall0, 5.0 * WEFT_TEST_SLOW, "the 100 s sleep was virtual");
}

static int orphan_nap(void *arg, void **res)
{
	weft_future_unref(weft_to_thread(real_nap, NULL)); /* nobody awaits it */
	weft_future *s = weft_create_task(sleep_a_hundred, NULL, NULL);
	int rc = weft_await(s, NULL);
	weft_future_unref(s);
	return rc;
}

/* A call nobody awaits still holds the clock; its end lets it go. */
Test(thread, paused_clock_resumes_when_an_unawaited_call_ends, .timeout = TIMEOUT)
{
	weft_config cfg = tu_config(1);
	cfg.paused_clock = true;
	cr_assert_eq(tu_run(orphan_nap, NULL, &cfg, NULL), 0);
}

/* --- shutdown ------------------------------------------------------------------ */

static weft_future *orphan_running, *orphan_queued;

static int leave_calls_behind(void *arg, void **res)
{
	orphan_running = weft_to_thread(blocker, (void *)66);
	orphan_queued = weft_to_thread(mark_second, NULL); /* max 1: queued */
	return 0;
}

Test(thread, shutdown_waits_for_running_calls_and_cancels_queued_ones, .timeout = TIMEOUT)
{
	int before = threads_baseline();
	weft_config cfg = pool_config(2, 1, 0);
	weft_runtime *rt = tu_runtime_cfg(&cfg);
	cr_assert_eq(weft_runtime_run(rt, leave_calls_behind, NULL, NULL), 0);
	cr_assert(tu_wait_flag(&started, 1, LONG));
	pthread_t opener;
	pthread_create(&opener, NULL, open_gate_later, (void *)100);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	pthread_join(opener, NULL);
	cr_assert_eq(atomic_load(&finished), 1, "the running call finished");
	void *v = NULL;
	cr_assert_eq(weft_future_result(orphan_running, &v), 0);
	cr_assert_eq((intptr_t)v, 66);
	cr_assert(weft_future_cancelled(orphan_queued), "the queued call was cancelled");
	cr_assert_eq(atomic_load(&second_ran), 0);
	cr_assert_eq(threads_in_process(), before, "workers and pool threads are gone");
	weft_future_unref(orphan_running);
	weft_future_unref(orphan_queued);
}

static int task_awaiting_call(void *arg, void **res)
{
	weft_future *f = weft_to_thread(blocker, (void *)44);
	void *v = NULL;
	atomic_store(&await_rc, weft_await(f, &v));
	atomic_store(&await_value, v);
	weft_future_unref(f);
	atomic_store(&next_rc, weft_sleep(0));
	return 0;
}

Test(thread, shutdown_lets_a_task_finish_awaiting_its_started_call, .timeout = TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *t = weft_spawn(rt, task_awaiting_call, NULL, NULL);
	cr_assert(tu_wait_flag(&started, 1, LONG));
	pthread_t opener;
	pthread_create(&opener, NULL, open_gate_later, (void *)100);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	pthread_join(opener, NULL);
	cr_assert_eq(atomic_load(&await_rc), 0, "the task received the call's outcome");
	cr_assert_eq(atomic_load(&await_value), (void *)44);
	cr_assert_eq(atomic_load(&next_rc), -ECANCELED, "then the cancellation");
	cr_assert(weft_future_done(t));
	weft_future_unref(t);
}

/* After the drain a task created by a callback (tasks may create tasks
 * until the workers stop) finds the pool closed. */
static weft_runtime *drain_rt;
static atomic_int late_rc = 1;

static int late_to_thread(void *arg, void **res)
{
	weft_future *f = weft_to_thread(tu_return_arg, NULL);
	atomic_store(&late_rc, weft_await(f, NULL));
	weft_future_unref(f);
	return 0;
}

static void spawn_late(weft_future *f, void *arg)
{
	weft_future_unref(weft_spawn(drain_rt, late_to_thread, NULL, NULL));
}

static int leave_queued_with_callback(void *arg, void **res)
{
	orphan_running = weft_to_thread(blocker, NULL);
	orphan_queued = weft_to_thread(mark_second, NULL);
	weft_future_add_done_callback(orphan_queued, spawn_late, NULL);
	return 0;
}

Test(thread, to_thread_refused_once_the_pool_is_drained, .timeout = TIMEOUT)
{
	weft_config cfg = pool_config(1, 1, 0);
	drain_rt = tu_runtime_cfg(&cfg);
	cr_assert_eq(weft_runtime_run(drain_rt, leave_queued_with_callback, NULL, NULL), 0);
	cr_assert(tu_wait_flag(&started, 1, LONG));
	pthread_t opener;
	pthread_create(&opener, NULL, open_gate_later, (void *)100);
	cr_assert_eq(weft_runtime_destroy(drain_rt), 0);
	pthread_join(opener, NULL);
	/* the drain cancelled the queued call; its callback ran on a worker
	 * (still running) and created a task, whose call was refused */
	cr_assert(weft_future_cancelled(orphan_queued));
	cr_assert_eq(atomic_load(&late_rc), -ESHUTDOWN);
	weft_future_unref(orphan_running);
	weft_future_unref(orphan_queued);
}

static atomic_int destroy_rc = 1;

static int destroy_own_runtime(void *arg, void **res)
{
	atomic_store(&destroy_rc, weft_runtime_destroy(weft_current_runtime()));
	return 0;
}

static int await_destroy_attempt(void *arg, void **res)
{
	return await_call(destroy_own_runtime, NULL, NULL);
}

Test(thread, destroy_from_a_pool_thread_is_eperm, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, await_destroy_attempt, NULL, NULL), 0);
	cr_assert_eq(atomic_load(&destroy_rc), -EPERM);
}

/* --- a bounded destroy -------------------------------------------------------- */

/* A task awaiting a call that does not return: destroy gives up at its
 * deadline, names the call and the task, leaves the runtime shutting down
 * and allocated; the next destroy goes on and succeeds once it returns. */
Test(thread, destroy_timeout_gives_up_on_a_blocked_call_and_goes_on_later,
     .init = cr_redirect_stderr, .timeout = TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *t = weft_spawn(rt, task_awaiting_call, NULL, "waiter");
	cr_assert(tu_wait_flag(&started, 1, LONG));
	double t0 = tu_now();
	cr_assert_eq(weft_runtime_destroy_timeout(rt, 0.2), -ETIMEDOUT);
	double took = tu_now() - t0;
	cr_assert(took >= 0.19 && took < LONG, "took %.3f s", took);
	weft_future *late = weft_spawn(rt, tu_return_arg, NULL, NULL);
	cr_assert_eq(weft_future_result(late, NULL), -ESHUTDOWN, "it is shutting down");
	weft_future_unref(late);
	cr_assert_not(weft_future_done(t));
	cr_assert_eq(weft_runtime_destroy_timeout(rt, 0), -ETIMEDOUT, "still blocked");
	char *err = tu_redirected_stderr();
	cr_assert(strstr(err, "weft: weft_runtime_destroy_timeout: gave up after 0.2 s [-ETIMEDOUT]"),
		  "stderr: %s", err);
	cr_assert(strstr(err, "a to_thread call of task waiter is still running"), "stderr: %s", err);
	cr_assert(strstr(err, "task waiter is still alive (cancelled, not done yet)"), "stderr: %s",
		  err);
	atomic_store(&gate, 1);
	cr_assert_eq(weft_runtime_destroy_timeout(rt, LONG), 0);
	cr_assert_eq(atomic_load(&await_rc), 0, "the task received the call's outcome");
	cr_assert_eq(atomic_load(&next_rc), -ECANCELED, "then the cancellation");
	weft_future_unref(t);
}

/* A call nobody awaits: every task is done, the drain is what gives up. */
Test(thread, destroy_timeout_gives_up_on_an_unawaited_call, .init = cr_redirect_stderr,
     .timeout = TIMEOUT)
{
	weft_config cfg = pool_config(1, 1, 0);
	weft_runtime *rt = tu_runtime_cfg(&cfg);
	cr_assert_eq(weft_runtime_run(rt, leave_calls_behind, NULL, NULL), 0);
	cr_assert(tu_wait_flag(&started, 1, LONG));
	cr_assert_eq(weft_runtime_destroy_timeout(rt, 0.05), -ETIMEDOUT);
	cr_assert(weft_future_cancelled(orphan_queued), "the queued call was dropped");
	char *err = tu_redirected_stderr();
	cr_assert(strstr(err, "a to_thread call of task main is still running"), "stderr: %s", err);
	cr_assert_null(strstr(err, "still alive"), "no task is left: %s", err);
	atomic_store(&gate, 1);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	void *v = NULL;
	cr_assert_eq(weft_future_result(orphan_running, &v), 0);
	cr_assert_eq((intptr_t)v, 66);
	weft_future_unref(orphan_running);
	weft_future_unref(orphan_queued);
}

/* Idle pool threads are no reason to give up: they are on their way out. */
static int one_quick_call(void *arg, void **res)
{
	return await_call(tu_return_arg, NULL, NULL);
}

Test(thread, destroy_timeout_zero_with_only_idle_threads_succeeds, .timeout = TIMEOUT)
{
	int before = threads_baseline();
	weft_config cfg = pool_config(1, 4, 30);
	weft_runtime *rt = tu_runtime_cfg(&cfg);
	cr_assert_eq(weft_runtime_run(rt, one_quick_call, NULL, NULL), 0);
	struct weft__blocking_stats st;
	weft__blocking_stats(rt, &st);
	cr_assert_eq(st.threads, 1, "an idle pool thread waits for its keep-alive");
	/* main's future completes before main is retired: 0 s gives no time
	 * for that, so wait until no task is left */
	double end = tu_now() + LONG;
	while (weft_all_tasks(rt, NULL, 0) > 0 && tu_now() < end)
		tu_nap_ms(1);
	cr_assert_eq(weft_runtime_destroy_timeout(rt, 0), 0);
	cr_assert_eq(threads_in_process(), before, "workers and pool threads are gone");
}

Test(thread, destroy_timeout_bad_arguments)
{
	cr_assert_eq(weft_runtime_destroy_timeout(NULL, 1), -EINVAL);
	weft_runtime *rt = tu_runtime(1);
	cr_assert_eq(weft_runtime_destroy_timeout(rt, NAN), -EINVAL);
	cr_assert_eq(weft_runtime_destroy_timeout(rt, -1), -EINVAL);
	cr_assert_eq(weft_runtime_destroy_timeout(rt, WEFT_FOREVER), 0);
}
