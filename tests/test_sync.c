/* SPDX-License-Identifier: MIT */
/*
 * Lock, Event, Condition, Semaphore/BoundedSemaphore and Barrier
 * (weft/sync.h), mirroring CPython's Lib/test/test_asyncio/test_locks.py:
 * the asyncio test each one follows is named above it. Exact-order tests
 * run on ONE worker with the paused clock (asyncio's order, instant
 * sleeps); a few run on several workers or from a foreign thread.
 * Tasks record; the test asserts after weft_run returned.
 */
#include <pthread.h>
#include <stdint.h>

#include "test_util.h"

#define V(n) ((void *)(uintptr_t)(n))

static int r[32];
static bool b[32];
static size_t z[32];
static struct tu_log lg;
static weft_future *t[8];

static weft_lock *lk;
static weft_event *ev;
static weft_condition *cv;
static weft_semaphore *sem;
static weft_barrier *bar;

/* The Barrier tests' counters and the indices their parties got. */
static atomic_int results1, results2, results3;
static atomic_int count;
static size_t idxs[16];
static atomic_int nidx;

static void reset(void)
{
	memset(r, 0x7f, sizeof(r));
	memset(b, 0, sizeof(b));
	memset(z, 0xff, sizeof(z));
	memset(t, 0, sizeof(t));
	tu_log_reset(&lg);
	atomic_store(&results1, 0);
	atomic_store(&results2, 0);
	atomic_store(&results3, 0);
	atomic_store(&count, 0);
	atomic_store(&nidx, 0);
	memset(idxs, 0xff, sizeof(idxs));
}

/*
 * The start of most tests: fresh records, the primitive `create` makes
 * (it must return 0), then `run` (which must return 0, e.g. tu_run_paused:
 * one worker, the paused clock). Macros, so a failure names the test's line.
 */
#define SETUP_AND_RUN(create, run)                                                                 \
	do {                                                                                       \
		reset();                                                                           \
		cr_assert_eq((create), 0);                                                         \
		cr_assert_eq((run), 0);                                                            \
	} while (0)

#define RUN_PAUSED(create, main) SETUP_AND_RUN(create, tu_run_paused((main), NULL))

/* A main that runs n copies of fn (the i-th given (void *)i), waits for
 * them all and counts the failures in r[0]: gather_main, GATHER(n, fn). */
struct gather {
	int n;
	weft_task_fn fn;
};

#define GATHER(n, fn) (&(struct gather){(n), (fn)})

static int gather_main(void *arg, void **res)
{
	const struct gather *g = arg;
	r[0] = tu_gather_n(g->n, g->fn);
	return 0;
}

/* RUN_PAUSED with gather_main running n copies of fn. */
#define RUN_GATHER(create, n, fn) SETUP_AND_RUN(create, tu_run_paused(gather_main, GATHER(n, fn)))

/* Cancels the task in arg (a weft_call_soon callback). */
static void cancel_cb(void *arg)
{
	weft_cancel(arg, NULL);
}

/* Logs name if rc (a wait's) is 0; returns rc. The *_append tasks: wait
 * on the primitive, then log their name. */
static int log_if_ok(int rc, const char *name)
{
	if (rc == 0)
		tu_log_add(&lg, name);
	return rc;
}

/* Inside a task: t[0] = a new task running fn, cancelled by a callback
 * queued behind it (so once it waits); returns its outcome. */
static int spawn_cancelled_soon(weft_task_fn fn)
{
	t[0] = tu_spawn(fn, NULL);
	weft_call_soon(cancel_cb, t[0], NULL);
	return weft_await(t[0], NULL);
}

/* ========================================================================= */
/* Lock                                                                      */
/* ========================================================================= */

static int lk_append(void *arg, void **res)
{
	return log_if_ok(weft_lock_acquire(lk), arg);
}

/* test_acquire: waiters get the lock one release at a time, in order. */
static int lock_acquire_main(void *arg, void **res)
{
	r[0] = weft_lock_acquire(lk);
	t[0] = tu_spawn(lk_append, "1");
	t[1] = tu_spawn(lk_append, "2");
	tu_yield();
	r[1] = tu_log_len(&lg);
	weft_lock_release(lk);
	tu_yield();
	r[2] = tu_log_len(&lg);
	tu_yield();
	r[3] = tu_log_len(&lg);
	t[2] = tu_spawn(lk_append, "3");
	weft_lock_release(lk);
	tu_yield();
	r[4] = tu_log_len(&lg);
	weft_lock_release(lk);
	tu_yield();
	r[5] = tu_log_len(&lg);
	for (int i = 0; i < 3; i++)
		r[6 + i] = tu_outcome(t[i]);
	tu_reap(t, 3);
	weft_lock_release(lk);
	return 0;
}

Test(lock, acquire_in_fifo_order, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(weft_lock_create(&lk), 0);
	cr_assert_not(weft_lock_locked(lk));
	cr_assert_eq(tu_run_paused(lock_acquire_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(r[2], 1);
	cr_assert_eq(r[3], 1);
	cr_assert_eq(r[4], 2);
	cr_assert_eq(r[5], 3);
	tu_assert_log(&lg, "1 2 3");
	cr_assert_eq(r[6], 0);
	cr_assert_eq(r[7], 0);
	cr_assert_eq(r[8], 0);
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* test_release_not_acquired: RuntimeError → -EPERM. */
Test(lock, release_unlocked_is_eperm)
{
	cr_assert_eq(weft_lock_create(&lk), 0);
	cr_assert_eq(weft_lock_release(lk), -EPERM);
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* test_release_no_waiters */
static int lock_release_no_waiters_main(void *arg, void **res)
{
	r[0] = weft_lock_acquire(lk);
	b[0] = weft_lock_locked(lk);
	r[1] = weft_lock_release(lk);
	b[1] = weft_lock_locked(lk);
	return 0;
}

Test(lock, release_no_waiters, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_lock_create(&lk), lock_release_no_waiters_main);
	cr_assert_eq(r[0], 0);
	cr_assert(b[0]);
	cr_assert_eq(r[1], 0);
	cr_assert_not(b[1]);
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* asyncio: "acquiring a free lock does not suspend": nothing else runs in
 * between, and a pending cancel is not delivered there. */
static int lk_other(void *arg, void **res)
{
	tu_log_add(&lg, "other");
	return 0;
}

static int lock_fast_path_main(void *arg, void **res)
{
	t[0] = tu_spawn(lk_other, NULL);
	weft_cancel(weft_current_task(), NULL);
	r[0] = weft_lock_acquire(lk);
	tu_log_add(&lg, "acquired");
	r[1] = weft_sleep(0); /* the pending cancel lands here */
	weft_lock_release(lk);
	tu_reap(t, 1);
	return 0;
}

Test(lock, free_lock_is_taken_without_suspending, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_lock_create(&lk), lock_fast_path_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], -ECANCELED);
	tu_assert_log(&lg, "acquired other");
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* test_acquire_cancel: a cancelled waiter leaves the queue; the lock is
 * still the holder's. */
static int lk_acquire(void *arg, void **res)
{
	return weft_lock_acquire(lk);
}

static int lock_acquire_cancel_main(void *arg, void **res)
{
	weft_lock_acquire(lk);
	r[0] = spawn_cancelled_soon(lk_acquire);
	b[0] = weft_future_cancelled(t[0]);
	r[1] = weft_lock_destroy(lk); /* still locked: -EBUSY */
	weft_lock_release(lk);
	tu_reap(t, 1);
	return 0;
}

Test(lock, cancelled_waiter_leaves, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_lock_create(&lk), lock_acquire_cancel_main);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert(b[0]);
	cr_assert_eq(r[1], -EBUSY);
	cr_assert_not(weft_lock_locked(lk));
	cr_assert_eq(weft_lock_destroy(lk), 0, "no waiter left behind");
}

/* test_cancel_race: A holds the lock, B and C wait; B is cancelled while
 * A releases: the lock goes to C, B ends cancelled. */
static weft_future *blocker;

static int lockit(void *arg, void **res)
{
	int rc = weft_lock_acquire(lk);
	if (rc)
		return rc;
	tu_log_add(&lg, arg);
	if (arg == (void *)"A")
		weft_await(blocker, NULL);
	weft_lock_release(lk);
	return 0;
}

static int lock_cancel_race_main(void *arg, void **res)
{
	blocker = weft_future_create(NULL);
	t[0] = weft_create_task(lockit, "A", NULL);
	tu_yield();
	b[0] = weft_lock_locked(lk);
	t[1] = weft_create_task(lockit, "B", NULL);
	tu_yield();
	t[2] = weft_create_task(lockit, "C", NULL);
	tu_yield();
	weft_future_set_result(blocker, NULL);
	weft_cancel(t[1], NULL);
	tu_yield();
	tu_yield();
	r[0] = tu_outcome(t[0]);
	r[1] = tu_outcome(t[1]);
	r[2] = weft_await(t[2], NULL);
	b[1] = weft_lock_locked(lk);
	tu_reap(t, 3);
	weft_future_unref(blocker);
	return 0;
}

Test(lock, cancel_race, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_lock_create(&lk), lock_cancel_race_main);
	cr_assert(b[0]);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert_eq(r[2], 0);
	cr_assert_not(b[1]);
	tu_assert_log(&lg, "A C");
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* test_cancel_release_race (bpo-32734): cancelling the first waiter and
 * releasing in one step hands the lock to exactly one task. */
static atomic_int lock_count;

static int lockit_count(void *arg, void **res)
{
	int rc = weft_lock_acquire(lk);
	if (rc == 0)
		atomic_fetch_add(&lock_count, 1);
	return rc;
}

static void trigger(void *arg)
{
	weft_cancel(t[0], NULL);
	weft_lock_release(lk);
}

static int lock_cancel_release_race_main(void *arg, void **res)
{
	weft_lock_acquire(lk);
	tu_spawn_n(t, 3, lockit_count);
	tu_yield();
	weft_call_soon(trigger, NULL, NULL);
	r[0] = weft_await(t[0], NULL);
	r[1] = atomic_load(&lock_count);
	r[2] = tu_outcome(t[1]);
	weft_cancel(t[2], NULL);
	tu_yield();
	r[3] = tu_outcome(t[2]);
	weft_lock_release(lk); /* t[1]'s */
	tu_reap(t, 3);
	return 0;
}

Test(lock, cancel_release_race, .timeout = TEST_TIMEOUT)
{
	atomic_store(&lock_count, 0);
	RUN_PAUSED(weft_lock_create(&lk), lock_cancel_release_race_main);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], 1, "only one lock taken");
	cr_assert_eq(r[2], 0);
	cr_assert_eq(r[3], -ECANCELED);
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* test_finished_waiter_cancelled: the first waiter is cancelled, then the
 * lock released: a task that was about to wait still gets it. */
static int lock_finished_waiter_cancelled_main(void *arg, void **res)
{
	weft_lock_acquire(lk);
	t[0] = tu_spawn(lk_acquire, NULL);
	tu_yield();
	t[1] = tu_spawn(lk_acquire, NULL);
	weft_cancel(t[0], NULL);
	weft_lock_release(lk);
	tu_yield();
	b[0] = weft_lock_locked(lk);
	r[0] = tu_outcome(t[0]);
	r[1] = weft_await(t[1], NULL);
	weft_lock_release(lk);
	tu_reap(t, 2);
	return 0;
}

Test(lock, finished_waiter_cancelled, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_lock_create(&lk), lock_finished_waiter_cancelled_main);
	cr_assert(b[0]);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* The lock is handed to B at release; B is cancelled before it runs: B
 * passes the lock on to C and returns -ECANCELED (Lock.acquire's
 * "if not self._locked: self._wake_up_first()"). The lock is never lost. */
static int lock_handed_then_cancelled_main(void *arg, void **res)
{
	weft_lock_acquire(lk);
	t[0] = weft_create_task(lockit, "B", NULL);
	t[1] = weft_create_task(lockit, "C", NULL);
	tu_yield();
	weft_lock_release(lk); /* B owns it now */
	b[0] = weft_lock_locked(lk);
	b[1] = weft_cancel(t[0], NULL); /* true: the task takes the request */
	r[0] = weft_await(t[0], NULL);
	r[1] = weft_await(t[1], NULL);
	b[2] = weft_lock_locked(lk);
	tu_reap(t, 2);
	return 0;
}

Test(lock, waiter_cancelled_after_handover_passes_it_on, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_lock_create(&lk), lock_handed_then_cancelled_main);
	cr_assert(b[0], "handed over: still locked");
	cr_assert(b[1]);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], 0);
	tu_assert_log(&lg, "C");
	cr_assert_not(b[2]);
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* Timed acquire through a timeout scope: -ETIMEDOUT, nothing taken, the
 * waiter removed; the holder's release then finds nobody waiting. */
static int lk_acquire_timed(void *arg, void **res)
{
	weft_timeout scope;
	weft_timeout_enter_after(&scope, 0.1);
	int rc = weft_lock_acquire(lk);
	return weft_timeout_exit(&scope, rc);
}

static int lock_timeout_main(void *arg, void **res)
{
	weft_lock_acquire(lk);
	double t0 = weft_time();
	t[0] = tu_spawn(lk_acquire_timed, NULL);
	r[0] = weft_await(t[0], NULL);
	r[1] = tu_elapsed_ms(t0);
	r[2] = weft_lock_release(lk);
	b[0] = weft_lock_locked(lk);
	tu_reap(t, 1);
	return 0;
}

Test(lock, timeout_scope_around_acquire, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_lock_create(&lk), lock_timeout_main);
	cr_assert_eq(r[0], -ETIMEDOUT);
	cr_assert_eq(r[1], 100);
	cr_assert_eq(r[2], 0);
	cr_assert_not(b[0], "the timed-out waiter did not take it");
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* weft_wait_for on a task blocked in acquire: the task is cancelled out of
 * the wait (test_acquire_no_hang's wait_for(sem.acquire(), ...)). */
static int lock_wait_for_main(void *arg, void **res)
{
	weft_lock_acquire(lk);
	t[0] = tu_spawn(lk_acquire, NULL);
	r[0] = weft_wait_for(t[0], 0.05, NULL);
	b[0] = weft_future_cancelled(t[0]);
	weft_lock_release(lk);
	b[1] = weft_lock_locked(lk);
	tu_reap(t, 1);
	return 0;
}

Test(lock, wait_for_cancels_the_waiter, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_lock_create(&lk), lock_wait_for_main);
	cr_assert_eq(r[0], -ETIMEDOUT);
	cr_assert(b[0]);
	cr_assert_not(b[1]);
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* Misuse: NULL → -EINVAL; a suspending call outside a task → -EPERM;
 * destroy while locked or waited for → -EBUSY. */
static int lock_busy_main(void *arg, void **res)
{
	weft_lock_acquire(lk);
	t[0] = tu_spawn(lk_acquire, NULL);
	tu_yield();
	r[0] = weft_lock_destroy(lk);
	weft_lock_release(lk);
	r[1] = weft_lock_destroy(lk); /* t[0] holds it now */
	tu_reap(t, 1);
	weft_lock_release(lk);
	return 0;
}

Test(lock, misuse)
{
	reset();
	cr_assert_eq(weft_lock_create(NULL), -EINVAL);
	cr_assert_eq(weft_lock_acquire(NULL), -EINVAL);
	cr_assert_eq(weft_lock_release(NULL), -EINVAL);
	cr_assert_eq(weft_lock_destroy(NULL), -EINVAL);
	cr_assert_not(weft_lock_locked(NULL));
	cr_assert_eq(weft_lock_create(&lk), 0);
	cr_assert_eq(weft_lock_acquire(lk), -EPERM, "outside a task");
	cr_assert_not(weft_lock_locked(lk));
	cr_assert_eq(tu_run_paused(lock_busy_main, NULL), 0);
	cr_assert_eq(r[0], -EBUSY);
	cr_assert_eq(r[1], -EBUSY);
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* A foreign thread may release (no owner check, as in asyncio): the
 * waiting task gets the lock. */
static atomic_int waiting;

static int lk_acquire_flag(void *arg, void **res)
{
	atomic_store(&waiting, 1);
	int rc = weft_lock_acquire(lk);
	if (rc == 0)
		weft_lock_release(lk);
	return rc;
}

Test(lock, foreign_thread_releases, .timeout = TEST_TIMEOUT)
{
	atomic_store(&waiting, 0);
	cr_assert_eq(weft_lock_create(&lk), 0);
	weft_runtime *rt = tu_runtime(2);
	/* a task takes the lock and finishes holding it */
	weft_future *h = weft_spawn(rt, lk_acquire, NULL, NULL);
	cr_assert_eq(weft_future_wait(h, 5, NULL), 0);
	weft_future_unref(h);
	cr_assert(weft_lock_locked(lk));
	weft_future *f = weft_spawn(rt, lk_acquire_flag, NULL, NULL);
	cr_assert(tu_wait_flag(&waiting, 1, 5));
	tu_nap_ms(20); /* let it block */
	cr_assert_not(weft_future_done(f));
	cr_assert_eq(weft_lock_release(lk), 0, "released from this thread");
	cr_assert_eq(weft_future_wait(f, 5, NULL), 0);
	weft_future_unref(f);
	cr_assert_not(weft_lock_locked(lk));
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* Mutual exclusion across workers: tasks on 4 workers increment a plain
 * counter inside the lock, yielding in the middle. */
static long shared_counter;

static int lk_incr(void *arg, void **res)
{
	for (int i = 0; i < 200; i++) {
		int rc = weft_lock_acquire(lk);
		if (rc)
			return rc;
		long v = shared_counter;
		if (i % 7 == 0)
			weft_sleep(0);
		shared_counter = v + 1;
		weft_lock_release(lk);
	}
	return 0;
}

Test(lock, mutual_exclusion_across_workers, .timeout = 2 * TEST_TIMEOUT)
{
	shared_counter = 0;
	SETUP_AND_RUN(weft_lock_create(&lk), tu_run_n(4, gather_main, GATHER(8, lk_incr), NULL));
	cr_assert_eq(r[0], 0);
	cr_assert_eq(shared_counter, 8 * 200);
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* Runtime shutdown cancels a task blocked in acquire; the lock stays
 * consistent (still the holder's, no waiter left). */
static int lock_shutdown_main(void *arg, void **res)
{
	weft_lock_acquire(lk);
	t[0] = tu_spawn(lk_acquire, NULL);
	tu_yield();
	weft_future_unref(t[0]); /* main returns; shutdown cancels t[0] */
	t[0] = NULL;
	return 0;
}

Test(lock, shutdown_cancels_waiters, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_lock_create(&lk), lock_shutdown_main);
	cr_assert(weft_lock_locked(lk));
	cr_assert_eq(weft_lock_release(lk), 0);
	cr_assert_eq(weft_lock_destroy(lk), 0);
}

/* ========================================================================= */
/* Event                                                                     */
/* ========================================================================= */

static int ev_append(void *arg, void **res)
{
	return log_if_ok(weft_event_wait(ev), arg);
}

/* test_wait: set wakes every waiter; one created before set but not yet
 * waiting runs first and finds it set. */
static int event_wait_main(void *arg, void **res)
{
	b[0] = weft_event_is_set(ev);
	t[0] = tu_spawn(ev_append, "1");
	t[1] = tu_spawn(ev_append, "2");
	tu_yield();
	r[0] = tu_log_len(&lg);
	t[2] = tu_spawn(ev_append, "3");
	weft_event_set(ev);
	tu_yield();
	for (int i = 0; i < 3; i++)
		r[1 + i] = tu_outcome(t[i]);
	tu_reap(t, 3);
	return 0;
}

Test(event, wait, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_event_create(&ev), event_wait_main);
	cr_assert_not(b[0]);
	cr_assert_eq(r[0], 0);
	tu_assert_log(&lg, "3 1 2");
	cr_assert_eq(r[1], 0);
	cr_assert_eq(r[2], 0);
	cr_assert_eq(r[3], 0);
	cr_assert_eq(weft_event_destroy(ev), 0);
}

/* test_wait_on_set: returns at once, without suspending. */
static int event_wait_on_set_main(void *arg, void **res)
{
	weft_event_set(ev);
	t[0] = tu_spawn(lk_other, NULL);
	r[0] = weft_event_wait(ev);
	tu_log_add(&lg, "waited");
	tu_reap(t, 1);
	return 0;
}

Test(event, wait_on_set, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_event_create(&ev), event_wait_on_set_main);
	cr_assert_eq(r[0], 0);
	tu_assert_log(&lg, "waited other");
	cr_assert_eq(weft_event_destroy(ev), 0);
}

/* test_wait_cancel */
static int ev_wait(void *arg, void **res)
{
	return weft_event_wait(ev);
}

static int event_wait_cancel_main(void *arg, void **res)
{
	r[0] = spawn_cancelled_soon(ev_wait);
	r[1] = weft_event_destroy(ev) == 0;
	ev = NULL;
	tu_reap(t, 1);
	return 0;
}

Test(event, wait_cancel, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_event_create(&ev), event_wait_cancel_main);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], 1, "no waiter left: destroy succeeded");
}

/* test_clear */
Test(event, clear)
{
	cr_assert_eq(weft_event_create(&ev), 0);
	cr_assert_not(weft_event_is_set(ev));
	cr_assert_eq(weft_event_set(ev), 0);
	cr_assert(weft_event_is_set(ev));
	cr_assert_eq(weft_event_clear(ev), 0);
	cr_assert_not(weft_event_is_set(ev));
	cr_assert_eq(weft_event_destroy(ev), 0);
}

/* test_clear_with_waiters: a waiter woken by set stays woken through a
 * clear, and is woken once. */
static int event_clear_with_waiters_main(void *arg, void **res)
{
	t[0] = tu_spawn(ev_append, "1");
	tu_yield();
	r[0] = tu_log_len(&lg);
	weft_event_set(ev);
	weft_event_clear(ev);
	b[0] = weft_event_is_set(ev);
	weft_event_set(ev);
	weft_event_set(ev);
	tu_yield();
	r[1] = tu_log_len(&lg);
	r[2] = tu_outcome(t[0]);
	tu_reap(t, 1);
	return 0;
}

Test(event, clear_with_waiters, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_event_create(&ev), event_clear_with_waiters_main);
	cr_assert_eq(r[0], 0);
	cr_assert_not(b[0]);
	cr_assert_eq(r[1], 1);
	cr_assert_eq(r[2], 0);
	cr_assert_eq(weft_event_destroy(ev), 0);
}

/* A waiter woken by set and cancelled before it ran returns -ECANCELED
 * (asyncio's CancelledError at the await). */
static int event_set_then_cancel_main(void *arg, void **res)
{
	t[0] = tu_spawn(ev_wait, NULL);
	tu_yield();
	weft_event_set(ev);
	b[0] = weft_cancel(t[0], NULL);
	r[0] = weft_await(t[0], NULL);
	tu_reap(t, 1);
	return 0;
}

Test(event, woken_then_cancelled, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_event_create(&ev), event_set_then_cancel_main);
	cr_assert(b[0]);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(weft_event_destroy(ev), 0);
}

/* Event.set from a foreign thread wakes tasks on several workers. */
static atomic_int nwaiting;

static int ev_wait_count(void *arg, void **res)
{
	atomic_fetch_add(&nwaiting, 1);
	return weft_event_wait(ev);
}

Test(event, set_from_foreign_thread, .timeout = TEST_TIMEOUT)
{
	atomic_store(&nwaiting, 0);
	cr_assert_eq(weft_event_create(&ev), 0);
	weft_runtime *rt = tu_runtime(2);
	weft_future *fs[6];
	for (int i = 0; i < 6; i++)
		fs[i] = weft_spawn(rt, ev_wait_count, NULL, NULL);
	cr_assert(tu_wait_flag(&nwaiting, 6, 5));
	tu_nap_ms(20);
	cr_assert_eq(weft_event_destroy(ev), -EBUSY);
	cr_assert_eq(weft_event_set(ev), 0);
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(weft_future_wait(fs[i], 5, NULL), 0);
		weft_future_unref(fs[i]);
	}
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	cr_assert_eq(weft_event_destroy(ev), 0);
}

Test(event, misuse)
{
	cr_assert_eq(weft_event_create(NULL), -EINVAL);
	cr_assert_eq(weft_event_set(NULL), -EINVAL);
	cr_assert_eq(weft_event_clear(NULL), -EINVAL);
	cr_assert_eq(weft_event_wait(NULL), -EINVAL);
	cr_assert_eq(weft_event_destroy(NULL), -EINVAL);
	cr_assert_not(weft_event_is_set(NULL));
	cr_assert_eq(weft_event_create(&ev), 0);
	cr_assert_eq(weft_event_wait(ev), -EPERM, "outside a task");
	weft_event_set(ev);
	cr_assert_eq(weft_event_wait(ev), -EPERM, "even when set");
	cr_assert_eq(weft_event_destroy(ev), 0);
}

/* ========================================================================= */
/* Condition                                                                 */
/* ========================================================================= */

/* acquire; wait; on success log name; release if asked to. */
static int cv_wait_log(const char *name, bool release)
{
	int rc = weft_condition_acquire(cv);
	if (rc)
		return rc;
	rc = log_if_ok(weft_condition_wait(cv), name);
	if (release)
		weft_condition_release(cv);
	return rc;
}

/* acquire; wait; on success log arg (and keep the lock, as test_wait's
 * coroutines do). */
static int cv_wait_keep(void *arg, void **res)
{
	return cv_wait_log(arg, false);
}

/* wait, log, release (test_notify's coroutines). */
static int cv_wait_release(void *arg, void **res)
{
	return cv_wait_log(arg, true);
}

/* Inside a task: acquire, notify n waiters (all of them if n < 0), release. */
static void cv_notify_locked(int n)
{
	weft_condition_acquire(cv);
	if (n < 0)
		weft_condition_notify_all(cv);
	else
		weft_condition_notify(cv, (size_t)n);
	weft_condition_release(cv);
}

/* test_wait */
static int condition_wait_main(void *arg, void **res)
{
	t[0] = tu_spawn(cv_wait_keep, "1");
	t[1] = tu_spawn(cv_wait_keep, "2");
	t[2] = tu_spawn(cv_wait_keep, "3");
	tu_yield();
	r[0] = tu_log_len(&lg);
	b[0] = weft_condition_locked(cv);
	r[1] = weft_condition_acquire(cv);
	weft_condition_notify(cv, 1);
	tu_yield();
	r[2] = tu_log_len(&lg);
	b[1] = weft_condition_locked(cv);
	weft_condition_release(cv);
	tu_yield();
	r[3] = tu_log_len(&lg);
	b[2] = weft_condition_locked(cv);
	weft_condition_notify(cv, 2);
	tu_yield();
	r[4] = tu_log_len(&lg);
	b[3] = weft_condition_locked(cv);
	weft_condition_release(cv);
	tu_yield();
	r[5] = tu_log_len(&lg);
	b[4] = weft_condition_locked(cv);
	weft_condition_release(cv);
	tu_yield();
	r[6] = tu_log_len(&lg);
	b[5] = weft_condition_locked(cv);
	for (int i = 0; i < 3; i++)
		r[7 + i] = tu_outcome(t[i]);
	weft_condition_release(cv);
	tu_reap(t, 3);
	return 0;
}

Test(condition, wait, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_condition_create(&cv, NULL), condition_wait_main);
	cr_assert_eq(r[0], 0);
	cr_assert_not(b[0]);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(r[2], 0);
	cr_assert(b[1]);
	cr_assert_eq(r[3], 1);
	cr_assert(b[2]);
	cr_assert_eq(r[4], 1);
	cr_assert(b[3]);
	cr_assert_eq(r[5], 2);
	cr_assert(b[4]);
	cr_assert_eq(r[6], 3);
	cr_assert(b[5]);
	tu_assert_log(&lg, "1 2 3");
	cr_assert_eq(r[7], 0);
	cr_assert_eq(r[8], 0);
	cr_assert_eq(r[9], 0);
	cr_assert_eq(weft_condition_destroy(cv), 0);
}

/* test_wait_cancel: cancelled, the lock is held again, no waiter left. */
static int cv_wait(void *arg, void **res)
{
	return weft_condition_wait(cv);
}

static int condition_wait_cancel_main(void *arg, void **res)
{
	weft_condition_acquire(cv);
	r[0] = spawn_cancelled_soon(cv_wait);
	b[0] = weft_condition_locked(cv);
	weft_condition_release(cv);
	tu_reap(t, 1);
	return 0;
}

Test(condition, wait_cancel, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_condition_create(&cv, NULL), condition_wait_cancel_main);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert(b[0], "re-acquired");
	cr_assert_eq(weft_condition_destroy(cv), 0, "no waiter left");
}

static void release_cb(void *arg)
{
	weft_condition_release(arg);
}

/* test_wait_cancel_contested: notified, then the waiter is cancelled
 * while the notifier still holds the lock; either way it ends with the
 * lock held. */
static int condition_wait_cancel_contested_main(void *arg, void **res)
{
	weft_condition_acquire(cv);
	t[0] = tu_spawn(cv_wait, NULL);
	tu_yield();
	b[0] = weft_condition_locked(cv);
	weft_condition_acquire(cv);
	b[1] = weft_condition_locked(cv);
	weft_condition_notify(cv, 1);
	weft_call_soon(cancel_cb, t[0], NULL);
	weft_call_soon(release_cb, cv, NULL);
	r[0] = weft_await(t[0], NULL);
	b[2] = weft_condition_locked(cv);
	weft_condition_release(cv);
	tu_reap(t, 1);
	return 0;
}

Test(condition, wait_cancel_contested, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_condition_create(&cv, NULL), condition_wait_cancel_contested_main);
	cr_assert_not(b[0]);
	cr_assert(b[1]);
	cr_assert(r[0] == 0 || r[0] == -ECANCELED);
	cr_assert(b[2]);
	cr_assert_eq(weft_condition_destroy(cv), 0);
}

/* test_wait_cancel_after_notify (bpo-32841): notified, then cancelled
 * while re-acquiring: the task ends cancelled, holding then releasing. */
static int cv_wait_in_with(void *arg, void **res)
{
	int rc = weft_condition_acquire(cv);
	if (rc)
		return rc;
	b[10] = true; /* reached */
	rc = weft_condition_wait(cv);
	b[11] = weft_condition_locked(cv);
	weft_condition_release(cv);
	return rc;
}

static int condition_wait_cancel_after_notify_main(void *arg, void **res)
{
	t[0] = tu_spawn(cv_wait_in_with, NULL);
	tu_yield();
	weft_condition_acquire(cv);
	weft_condition_notify(cv, 1);
	tu_yield();              /* the waiter gets to its re-acquire */
	weft_cancel(t[0], NULL);
	tu_yield();              /* the cancel reaches the re-acquire */
	weft_condition_release(cv);
	tu_yield();
	b[0] = weft_future_cancelled(t[0]);
	r[0] = weft_await(t[0], NULL);
	tu_reap(t, 1);
	return 0;
}

Test(condition, wait_cancel_after_notify, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_condition_create(&cv, NULL), condition_wait_cancel_after_notify_main);
	cr_assert(b[0]);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert(b[10], "waited");
	cr_assert(b[11], "held the lock when wait returned");
	cr_assert_not(weft_condition_locked(cv));
	cr_assert_eq(weft_condition_destroy(cv), 0);
}

/* test_wait_unacquired: RuntimeError → -EPERM, nothing released. */
static int condition_wait_unacquired_main(void *arg, void **res)
{
	r[0] = weft_condition_wait(cv);
	return 0;
}

Test(condition, wait_unacquired, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_condition_create(&cv, NULL), condition_wait_unacquired_main);
	cr_assert_eq(r[0], -EPERM);
	cr_assert_eq(weft_condition_destroy(cv), 0);
}

/* test_wait_for */
static bool presult;

static bool pred_presult(void *arg)
{
	return presult;
}

static int cv_wait_for(void *arg, void **res)
{
	weft_condition_acquire(cv);
	int rc = weft_condition_wait_for(cv, pred_presult, NULL);
	if (rc == 0) {
		tu_log_add(&lg, "1");
		weft_condition_release(cv);
	}
	return rc;
}

static int condition_wait_for_main(void *arg, void **res)
{
	presult = false;
	t[0] = tu_spawn(cv_wait_for, NULL);
	tu_yield();
	r[0] = tu_log_len(&lg);
	cv_notify_locked(1);
	tu_yield();
	r[1] = tu_log_len(&lg);
	presult = true;
	cv_notify_locked(1);
	tu_yield();
	r[2] = tu_log_len(&lg);
	r[3] = tu_outcome(t[0]);
	tu_reap(t, 1);
	return 0;
}

Test(condition, wait_for, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_condition_create(&cv, NULL), condition_wait_for_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(r[2], 1);
	cr_assert_eq(r[3], 0);
	cr_assert_eq(weft_condition_destroy(cv), 0);
}

/* test_wait_for_unacquired: a predicate already true needs no lock; a
 * false one is -EPERM. */
static bool pred_true(void *arg)
{
	return true;
}

static bool pred_false(void *arg)
{
	return false;
}

static int condition_wait_for_unacquired_main(void *arg, void **res)
{
	r[0] = weft_condition_wait_for(cv, pred_true, NULL);
	r[1] = weft_condition_wait_for(cv, pred_false, NULL);
	r[2] = weft_condition_wait_for(cv, NULL, NULL);
	return 0;
}

Test(condition, wait_for_unacquired, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_condition_create(&cv, NULL), condition_wait_for_unacquired_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], -EPERM);
	cr_assert_eq(r[2], -EINVAL);
	cr_assert_eq(weft_condition_destroy(cv), 0);
}

/* test_notify */
static int condition_notify_main(void *arg, void **res)
{
	t[0] = tu_spawn(cv_wait_release, "1");
	t[1] = tu_spawn(cv_wait_release, "2");
	t[2] = tu_spawn(cv_wait_release, "3");
	tu_yield();
	r[0] = tu_log_len(&lg);
	cv_notify_locked(1);
	tu_yield();
	r[1] = tu_log_len(&lg);
	weft_condition_acquire(cv);
	weft_condition_notify(cv, 1);
	weft_condition_notify(cv, 2048);
	weft_condition_release(cv);
	tu_yield();
	r[2] = tu_log_len(&lg);
	for (int i = 0; i < 3; i++)
		r[3 + i] = tu_outcome(t[i]);
	tu_reap(t, 3);
	return 0;
}

Test(condition, notify, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_condition_create(&cv, NULL), condition_notify_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 1);
	cr_assert_eq(r[2], 3);
	tu_assert_log(&lg, "1 2 3");
	cr_assert_eq(r[3] | r[4] | r[5], 0);
	cr_assert_eq(weft_condition_destroy(cv), 0);
}

/* test_notify_all */
static int condition_notify_all_main(void *arg, void **res)
{
	t[0] = tu_spawn(cv_wait_release, "1");
	t[1] = tu_spawn(cv_wait_release, "2");
	tu_yield();
	r[0] = tu_log_len(&lg);
	cv_notify_locked(-1);
	tu_yield();
	r[1] = tu_log_len(&lg);
	tu_reap(t, 2);
	return 0;
}

Test(condition, notify_all, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_condition_create(&cv, NULL), condition_notify_all_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 2);
	tu_assert_log(&lg, "1 2");
	cr_assert_eq(weft_condition_destroy(cv), 0);
}

/* test_notify_unacquired, test_notify_all_unacquired */
Test(condition, notify_unacquired)
{
	cr_assert_eq(weft_condition_create(&cv, NULL), 0);
	cr_assert_eq(weft_condition_notify(cv, 1), -EPERM);
	cr_assert_eq(weft_condition_notify_all(cv), -EPERM);
	cr_assert_eq(weft_condition_destroy(cv), 0);
}

/* test_explicit_lock: a condition over a given lock shares its state. */
static weft_lock *lk2;

static int condition_explicit_lock_main(void *arg, void **res)
{
	b[0] = weft_lock_locked(lk2) || weft_condition_locked(cv);
	weft_condition_acquire(cv);
	b[1] = weft_lock_locked(lk2) && weft_condition_locked(cv);
	weft_condition_release(cv);
	b[2] = weft_lock_locked(lk2) || weft_condition_locked(cv);
	weft_lock_acquire(lk2);
	b[3] = weft_lock_locked(lk2) && weft_condition_locked(cv);
	weft_lock_release(lk2);
	b[4] = weft_lock_locked(lk2) || weft_condition_locked(cv);
	return 0;
}

Test(condition, explicit_lock, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(weft_lock_create(&lk2), 0);
	cr_assert_eq(weft_condition_create(&cv, lk2), 0);
	cr_assert_eq(weft_condition_lock(cv), lk2);
	cr_assert_eq(tu_run_paused(condition_explicit_lock_main, NULL), 0);
	cr_assert_not(b[0]);
	cr_assert(b[1]);
	cr_assert_not(b[2]);
	cr_assert(b[3]);
	cr_assert_not(b[4]);
	cr_assert_eq(weft_condition_destroy(cv), 0);
	cr_assert_eq(weft_lock_destroy(lk2), 0, "a given lock is the caller's");
}

/* test_timeout_in_block: wait under a timeout → -ETIMEDOUT, lock held. */
static int condition_timeout_main(void *arg, void **res)
{
	weft_condition_acquire(cv);
	weft_timeout scope;
	weft_timeout_enter_after(&scope, 0.5);
	r[0] = weft_timeout_exit(&scope, weft_condition_wait(cv));
	b[0] = weft_condition_locked(cv);
	weft_condition_release(cv);
	return 0;
}

Test(condition, timeout_in_block, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_condition_create(&cv, NULL), condition_timeout_main);
	cr_assert_eq(r[0], -ETIMEDOUT);
	cr_assert(b[0]);
	cr_assert_eq(weft_condition_destroy(cv), 0);
}

/* test_cancelled_error_wakeup: cancelled while waiting for the wake-up;
 * test_cancelled_error_re_aquire: cancelled while re-acquiring. Either
 * way -ECANCELED, with the cancel's message on the task. */
static bool wake;

static bool pred_wake(void *arg)
{
	return wake;
}

static int cv_func(void *arg, void **res)
{
	weft_condition_acquire(cv);
	int rc = weft_condition_wait_for(cv, pred_wake, NULL);
	b[10] = weft_condition_locked(cv);
	weft_condition_release(cv);
	return rc;
}

/* arg != NULL: notified first, so the cancel lands in the re-acquire. */
static int condition_cancelled_error_main(void *arg, void **res)
{
	bool reacquire = arg != NULL;
	wake = false;
	t[0] = tu_spawn(cv_func, NULL);
	tu_yield();
	if (reacquire) {
		weft_condition_acquire(cv);
		wake = true;
		weft_condition_notify(cv, 1);
		tu_yield();
	}
	weft_cancel(t[0], "foo");
	if (reacquire)
		weft_condition_release(cv);
	r[0] = weft_await(t[0], NULL);
	b[0] = weft_future_message(t[0]) && !strcmp(weft_future_message(t[0]), "foo");
	tu_reap(t, 1);
	return 0;
}

struct cancelled_error_case {
	char name[40]; /* the CPython test */
	bool reacquire;
};

ParameterizedTestParameters(condition, cancelled_error)
{
	static struct cancelled_error_case cases[] = {
		{"test_cancelled_error_wakeup", false},
		{"test_cancelled_error_re_aquire", true},
	};
	return TU_PARAMS(struct cancelled_error_case, cases);
}

ParameterizedTest(struct cancelled_error_case *c, condition, cancelled_error,
		  .timeout = TEST_TIMEOUT)
{
	SETUP_AND_RUN(weft_condition_create(&cv, NULL),
		      tu_run_paused(condition_cancelled_error_main, V(c->reacquire)));
	cr_assert_eq(r[0], -ECANCELED, "%s", c->name);
	cr_assert(b[0], "%s: the message is kept", c->name);
	cr_assert(b[10], "%s", c->name);
	cr_assert_eq(weft_condition_destroy(cv), 0, "%s", c->name);
}

/* test_cancelled_wakeup / test_cancelled_wakeup_relock: a consumer
 * notified and cancelled at the "same" time passes the notification on,
 * so the other consumer takes the item: no lost wake-up. */
static int state;

static bool state_nonzero(void *arg)
{
	return state != 0;
}

static bool state_zero(void *arg)
{
	return state == 0;
}

static int consumer(void *arg, void **res)
{
	int rc = weft_condition_acquire(cv);
	if (rc)
		return rc;
	for (;;) {
		rc = weft_condition_wait_for(cv, state_nonzero, NULL);
		if (rc)
			break;
		if (state < 0)
			break;
		state--;
	}
	weft_condition_release(cv);
	return rc;
}

/* arg != NULL: the relock variant. */
static int condition_cancelled_wakeup_main(void *arg, void **res)
{
	bool relock = arg != NULL;
	state = 0;
	t[0] = tu_spawn(consumer, NULL);
	t[1] = tu_spawn(consumer, NULL);
	tu_yield();
	weft_condition_acquire(cv);
	state++;
	weft_condition_notify(cv, 1);
	if (relock)
		tu_yield(); /* the target settles on re-acquiring the lock */
	weft_cancel(t[0], NULL);
	weft_timeout scope;
	weft_timeout_enter_after(&scope, 0.01);
	weft_timeout_exit(&scope, weft_condition_wait_for(cv, state_zero, NULL));
	r[0] = state;
	state = -1;
	weft_condition_notify_all(cv);
	weft_condition_release(cv);
	r[1] = weft_await(t[0], NULL);
	r[2] = weft_await(t[1], NULL);
	tu_reap(t, 2);
	return 0;
}

struct wakeup_case {
	char name[40]; /* the CPython test */
	bool relock;
};

ParameterizedTestParameters(condition, cancelled_wakeup)
{
	static struct wakeup_case cases[] = {
		{"test_cancelled_wakeup", false},
		{"test_cancelled_wakeup_relock", true},
	};
	return TU_PARAMS(struct wakeup_case, cases);
}

ParameterizedTest(struct wakeup_case *c, condition, cancelled_wakeup, .timeout = TEST_TIMEOUT)
{
	SETUP_AND_RUN(weft_condition_create(&cv, NULL),
		      tu_run_paused(condition_cancelled_wakeup_main, V(c->relock)));
	cr_assert_eq(r[0], 0, "%s: the notification was passed on", c->name);
	cr_assert_eq(r[1], -ECANCELED, "%s", c->name);
	cr_assert_eq(r[2], 0, "%s", c->name);
	cr_assert_eq(weft_condition_destroy(cv), 0, "%s", c->name);
}

/* Misuse and -EBUSY while a task waits. */
static int condition_busy_main(void *arg, void **res)
{
	t[0] = tu_spawn(cv_wait_release, "x");
	tu_yield();
	r[0] = weft_condition_destroy(cv);
	cv_notify_locked(-1);
	tu_reap(t, 1);
	return 0;
}

Test(condition, misuse)
{
	reset();
	cr_assert_eq(weft_condition_create(NULL, NULL), -EINVAL);
	cr_assert_eq(weft_condition_wait(NULL), -EINVAL);
	cr_assert_eq(weft_condition_notify(NULL, 1), -EINVAL);
	cr_assert_eq(weft_condition_notify_all(NULL), -EINVAL);
	cr_assert_eq(weft_condition_acquire(NULL), -EINVAL);
	cr_assert_eq(weft_condition_release(NULL), -EINVAL);
	cr_assert_eq(weft_condition_destroy(NULL), -EINVAL);
	cr_assert_null(weft_condition_lock(NULL));
	cr_assert_not(weft_condition_locked(NULL));
	cr_assert_eq(weft_condition_create(&cv, NULL), 0);
	cr_assert_eq(weft_condition_wait(cv), -EPERM, "outside a task");
	cr_assert_eq(tu_run_paused(condition_busy_main, NULL), 0);
	cr_assert_eq(r[0], -EBUSY);
	cr_assert_eq(weft_condition_destroy(cv), 0);
}

/* A producer/consumer pair on several workers: every notification is
 * consumed exactly once. */
static int items_ready, items_taken;

static bool have_item(void *arg)
{
	return items_ready > 0;
}

static int cv_consumer(void *arg, void **res)
{
	for (int i = 0; i < 300; i++) {
		weft_condition_acquire(cv);
		int rc = weft_condition_wait_for(cv, have_item, NULL);
		if (rc == 0) {
			items_ready--;
			items_taken++;
		}
		weft_condition_release(cv);
		if (rc)
			return rc;
	}
	return 0;
}

static int cv_producer(void *arg, void **res)
{
	for (int i = 0; i < 300; i++) {
		weft_condition_acquire(cv);
		items_ready++;
		weft_condition_notify(cv, 1);
		weft_condition_release(cv);
		if (i % 3 == 0)
			weft_sleep(0);
	}
	return 0;
}

static int condition_workers_main(void *arg, void **res)
{
	weft_future *fs[6];
	for (int i = 0; i < 3; i++) {
		fs[i] = tu_spawn(cv_consumer, NULL);
		fs[3 + i] = tu_spawn(cv_producer, NULL);
	}
	r[0] = tu_reap_failed(fs, 6);
	return 0;
}

Test(condition, producers_and_consumers_across_workers, .timeout = 2 * TEST_TIMEOUT)
{
	items_ready = items_taken = 0;
	SETUP_AND_RUN(weft_condition_create(&cv, NULL),
		      tu_run_n(4, condition_workers_main, NULL, NULL));
	cr_assert_eq(r[0], 0);
	cr_assert_eq(items_taken, 900);
	cr_assert_eq(items_ready, 0);
	cr_assert_eq(weft_condition_destroy(cv), 0);
}

/* ========================================================================= */
/* Semaphore and BoundedSemaphore                                            */
/* ========================================================================= */

/* test_initial_value_zero */
Test(semaphore, initial_value_zero)
{
	cr_assert_eq(weft_semaphore_create(&sem, 0), 0);
	cr_assert(weft_semaphore_locked(sem));
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

/* test_semaphore / test_semaphore_value */
Test(semaphore, value)
{
	cr_assert_eq(weft_semaphore_create(&sem, -1), -EINVAL);
	cr_assert_eq(weft_semaphore_create_bounded(&sem, -1), -EINVAL);
	cr_assert_eq(weft_semaphore_create(&sem, 1), 0);
	cr_assert_not(weft_semaphore_locked(sem));
	cr_assert_eq(weft_semaphore_value(sem), 1);
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

static int sem_append(void *arg, void **res)
{
	return log_if_ok(weft_semaphore_acquire(sem), arg);
}

/* test_acquire: permits go to waiters in order; a task created before
 * the releases but arriving after them waits. */
static int semaphore_acquire_main(void *arg, void **res)
{
	r[0] = weft_semaphore_acquire(sem);
	r[1] = weft_semaphore_acquire(sem);
	b[0] = weft_semaphore_locked(sem);
	t[0] = tu_spawn(sem_append, "1");
	t[1] = tu_spawn(sem_append, "2");
	t[2] = tu_spawn(sem_append, "3");
	tu_yield();
	r[2] = tu_log_len(&lg);
	b[1] = weft_semaphore_locked(sem);
	r[3] = (int)weft_semaphore_value(sem);
	t[3] = tu_spawn(sem_append, "4");
	weft_semaphore_release(sem);
	weft_semaphore_release(sem);
	r[4] = (int)weft_semaphore_value(sem);
	tu_yield();
	r[5] = (int)weft_semaphore_value(sem);
	r[6] = tu_log_len(&lg);
	b[2] = weft_semaphore_locked(sem);
	r[7] = tu_outcome(t[3]);
	weft_semaphore_release(sem);
	tu_reap(t, 4);
	return 0;
}

Test(semaphore, acquire, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_semaphore_create(&sem, 3), semaphore_acquire_main);
	cr_assert_eq(r[0] | r[1], 0);
	cr_assert_not(b[0]);
	cr_assert_eq(r[2], 1);
	cr_assert(b[1]);
	cr_assert_eq(r[3], 0);
	cr_assert_eq(r[4], 0, "both permits handed to waiters");
	cr_assert_eq(r[5], 0);
	cr_assert_eq(r[6], 3);
	cr_assert(b[2]);
	cr_assert_eq(r[7], 99, "the fourth still waits");
	tu_assert_log(&lg, "1 2 3 4");
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

/* test_acquire_cancel */
static int sem_acquire(void *arg, void **res)
{
	return weft_semaphore_acquire(sem);
}

static int semaphore_acquire_cancel_main(void *arg, void **res)
{
	weft_semaphore_acquire(sem);
	r[0] = spawn_cancelled_soon(sem_acquire);
	r[1] = weft_semaphore_destroy(sem);
	tu_reap(t, 1);
	return 0;
}

Test(semaphore, acquire_cancel, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_semaphore_create(&sem, 1), semaphore_acquire_cancel_main);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], 0, "no waiter left");
}

/* test_acquire_cancel_before_awoken */
static int semaphore_cancel_before_awoken_main(void *arg, void **res)
{
	tu_spawn_n(t, 4, sem_acquire);
	tu_yield();
	weft_cancel(t[0], NULL);
	weft_cancel(t[1], NULL);
	weft_semaphore_release(sem);
	tu_yield();
	tu_yield();
	b[0] = weft_future_done(t[2]);
	b[1] = weft_future_done(t[3]);
	r[0] = tu_outcome(t[0]);
	r[1] = tu_outcome(t[1]);
	weft_cancel(t[2], NULL);
	weft_cancel(t[3], NULL);
	tu_yield();
	tu_reap(t, 4);
	return 0;
}

Test(semaphore, acquire_cancel_before_awoken, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_semaphore_create(&sem, 0), semaphore_cancel_before_awoken_main);
	cr_assert(b[0]);
	cr_assert_not(b[1]);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

/* test_acquire_hang: a cancelled first waiter does not keep the permit
 * from the second. */
static int semaphore_acquire_hang_main(void *arg, void **res)
{
	t[0] = tu_spawn(sem_acquire, NULL);
	t[1] = tu_spawn(sem_acquire, NULL);
	tu_yield();
	weft_cancel(t[0], NULL);
	weft_semaphore_release(sem);
	tu_yield();
	tu_yield();
	b[0] = weft_semaphore_locked(sem);
	b[1] = weft_future_done(t[1]);
	tu_reap(t, 2);
	return 0;
}

Test(semaphore, acquire_hang, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_semaphore_create(&sem, 0), semaphore_acquire_hang_main);
	cr_assert(b[0]);
	cr_assert(b[1]);
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

/* test_acquire_no_hang: a waiter handed a permit and cancelled before it
 * ran gives the permit back, so a later acquire does not hang. */
static int sem_c1(void *arg, void **res)
{
	weft_semaphore_acquire(sem);
	weft_sleep(0);
	weft_semaphore_release(sem);
	weft_cancel(t[1], NULL);
	return 0;
}

static int sem_c2(void *arg, void **res)
{
	int rc = weft_semaphore_acquire(sem);
	if (rc == 0)
		b[10] = true; /* must not happen */
	return rc;
}

static int semaphore_acquire_no_hang_main(void *arg, void **res)
{
	t[0] = tu_spawn(sem_c1, NULL);
	t[1] = tu_spawn(sem_c2, NULL);
	r[0] = weft_await(t[0], NULL);
	r[1] = weft_await(t[1], NULL);
	r[2] = (int)weft_semaphore_value(sem);
	weft_future *a = tu_spawn(sem_acquire, NULL);
	r[3] = weft_wait_for(a, 1.0, NULL);
	weft_future_unref(a);
	tu_reap(t, 2);
	return 0;
}

Test(semaphore, cancelled_waiter_does_not_consume_a_permit, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_semaphore_create(&sem, 1), semaphore_acquire_no_hang_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert_not(b[10]);
	cr_assert_eq(r[2], 1, "the permit came back");
	cr_assert_eq(r[3], 0);
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

/* test_release_not_acquired: BoundedSemaphore over-release → -EOVERFLOW;
 * an unbounded one just counts up. */
struct over_release_case {
	char name[24];
	bool bounded;
	int rc;     /* of the release */
	long value; /* after it */
};

ParameterizedTestParameters(semaphore, over_release)
{
	static struct over_release_case cases[] = {
		{"BoundedSemaphore", true, -EOVERFLOW, 1},
		{"Semaphore", false, 0, 2},
	};
	return TU_PARAMS(struct over_release_case, cases);
}

ParameterizedTest(struct over_release_case *c, semaphore, over_release)
{
	int rc = c->bounded ? weft_semaphore_create_bounded(&sem, 1)
			    : weft_semaphore_create(&sem, 1);
	cr_assert_eq(rc, 0, "%s", c->name);
	cr_assert_eq(weft_semaphore_release(sem), c->rc, "%s", c->name);
	cr_assert_eq(weft_semaphore_value(sem), c->value, "%s", c->name);
	cr_assert_eq(weft_semaphore_destroy(sem), 0, "%s", c->name);
}

/* Bounded: a release handed to a waiter is not an over-release. */
static int semaphore_bounded_main(void *arg, void **res)
{
	weft_semaphore_acquire(sem);
	t[0] = tu_spawn(sem_acquire, NULL);
	tu_yield();
	r[0] = weft_semaphore_release(sem); /* to t[0] */
	r[1] = weft_await(t[0], NULL);
	r[2] = weft_semaphore_release(sem); /* t[0]'s */
	r[3] = weft_semaphore_release(sem); /* one too many */
	tu_reap(t, 1);
	return 0;
}

Test(semaphore, bounded_release_to_a_waiter, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_semaphore_create_bounded(&sem, 1), semaphore_bounded_main);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(r[2], 0);
	cr_assert_eq(r[3], -EOVERFLOW);
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

/* test_release_no_waiters */
static int semaphore_release_no_waiters_main(void *arg, void **res)
{
	weft_semaphore_acquire(sem);
	b[0] = weft_semaphore_locked(sem);
	weft_semaphore_release(sem);
	b[1] = weft_semaphore_locked(sem);
	return 0;
}

Test(semaphore, release_no_waiters, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_semaphore_create(&sem, 1), semaphore_release_no_waiters_main);
	cr_assert(b[0]);
	cr_assert_not(b[1]);
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

/* test_acquire_fifo_order */
static int sem_fifo_coro(void *arg, void **res)
{
	static char names[8][16];
	int k = (int)(uintptr_t)arg;
	snprintf(names[2 * k], 16, "c%d_1", k + 1);
	snprintf(names[2 * k + 1], 16, "c%d_2", k + 1);
	for (int round = 0; round < 2; round++) {
		int rc = weft_semaphore_acquire(sem);
		if (rc)
			return rc;
		tu_log_add(&lg, names[2 * k + round]);
		weft_sleep(0.01);
		weft_semaphore_release(sem);
	}
	return 0;
}

static int semaphore_fifo_order_main(void *arg, void **res)
{
	tu_spawn_n(t, 3, sem_fifo_coro);
	tu_reap(t, 3);
	return 0;
}

Test(semaphore, acquire_fifo_order, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_semaphore_create(&sem, 1), semaphore_fifo_order_main);
	tu_assert_log(&lg, "c1_1 c2_1 c3_1 c1_2 c2_2 c3_2");
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

/* test_acquire_fifo_order_2. Deviation: asyncio gives [1, 2, 3, 4]
 * because a waiter woken but not yet run still holds its place in the
 * queue, so c2's second acquire waits behind c3 although a permit is
 * free. weft hands each permit over at release: c3 already owns its
 * permit, nobody waits, and c2 takes the free one at once ([1, 2, 4, 3]).
 * Permits are still granted in request order. */
static int sem_fifo2_c1(void *arg, void **res)
{
	weft_semaphore_acquire(sem);
	tu_log_add(&lg, "1");
	return 0;
}

static int sem_fifo2_c2(void *arg, void **res)
{
	weft_semaphore_acquire(sem);
	tu_log_add(&lg, "2");
	weft_semaphore_release(sem);
	weft_semaphore_acquire(sem);
	tu_log_add(&lg, "4");
	return 0;
}

static int sem_fifo2_c3(void *arg, void **res)
{
	weft_semaphore_acquire(sem);
	tu_log_add(&lg, "3");
	return 0;
}

static int semaphore_fifo_order_2_main(void *arg, void **res)
{
	t[0] = tu_spawn(sem_fifo2_c1, NULL);
	t[1] = tu_spawn(sem_fifo2_c2, NULL);
	t[2] = tu_spawn(sem_fifo2_c3, NULL);
	tu_yield();
	weft_semaphore_release(sem);
	weft_semaphore_release(sem);
	tu_reap(t, 3);
	return 0;
}

Test(semaphore, acquire_fifo_order_2, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_semaphore_create(&sem, 1), semaphore_fifo_order_2_main);
	tu_assert_log(&lg, "1 2 4 3");
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

/* test_acquire_fifo_order_3: cancelled waiters are skipped. */
static int semaphore_fifo_order_3_main(void *arg, void **res)
{
	t[0] = tu_spawn(sem_append, "1");
	t[1] = tu_spawn(sem_append, "2");
	t[2] = tu_spawn(sem_append, "3");
	tu_yield();
	weft_cancel(t[0], NULL);
	tu_yield();
	weft_semaphore_release(sem);
	weft_semaphore_release(sem);
	tu_reap(t, 3);
	return 0;
}

Test(semaphore, acquire_fifo_order_3, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_semaphore_create(&sem, 0), semaphore_fifo_order_3_main);
	tu_assert_log(&lg, "2 3");
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

/* test_acquire_fifo_order_4, with the deviation of fifo_order_2: c2's
 * three releases give one permit to the waiting c1 and leave two free, so
 * the semaphore is not locked and c2 and c3 acquire without waiting. */
static int sem_fifo4_c4(void *arg, void **res)
{
	tu_log_add(&lg, "4");
	return 0;
}

static int sem_fifo4_c1(void *arg, void **res)
{
	r[10] = (int)weft_semaphore_value(sem);
	weft_semaphore_acquire(sem);
	r[11] = (int)weft_semaphore_value(sem);
	t[3] = tu_spawn(sem_fifo4_c4, NULL);
	tu_log_add(&lg, "1");
	return 0;
}

static int sem_fifo4_c2(void *arg, void **res)
{
	weft_semaphore_release(sem);
	weft_semaphore_release(sem);
	weft_semaphore_release(sem);
	r[12] = (int)weft_semaphore_value(sem);
	b[12] = weft_semaphore_locked(sem);
	weft_semaphore_acquire(sem);
	tu_log_add(&lg, "2");
	return 0;
}

static int sem_fifo4_c3(void *arg, void **res)
{
	weft_semaphore_acquire(sem);
	b[13] = weft_semaphore_locked(sem);
	tu_log_add(&lg, "3");
	return 0;
}

static int semaphore_fifo_order_4_main(void *arg, void **res)
{
	t[0] = tu_spawn(sem_fifo4_c1, NULL);
	t[1] = tu_spawn(sem_fifo4_c2, NULL);
	t[2] = tu_spawn(sem_fifo4_c3, NULL);
	tu_yield();
	tu_yield();
	tu_reap(t, 4);
	return 0;
}

Test(semaphore, acquire_fifo_order_4, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_semaphore_create(&sem, 0), semaphore_fifo_order_4_main);
	cr_assert_eq(r[10], 0);
	cr_assert_eq(r[12], 2);
	cr_assert_not(b[12], "weft: two permits are free");
	cr_assert(b[13]);
	cr_assert_eq(r[11], 0);
	tu_assert_log(&lg, "2 3 1 4");
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

Test(semaphore, misuse)
{
	cr_assert_eq(weft_semaphore_create(NULL, 1), -EINVAL);
	cr_assert_eq(weft_semaphore_acquire(NULL), -EINVAL);
	cr_assert_eq(weft_semaphore_release(NULL), -EINVAL);
	cr_assert_eq(weft_semaphore_destroy(NULL), -EINVAL);
	cr_assert_not(weft_semaphore_locked(NULL));
	cr_assert_eq(weft_semaphore_value(NULL), 0);
	cr_assert_eq(weft_semaphore_create(&sem, 1), 0);
	cr_assert_eq(weft_semaphore_acquire(sem), -EPERM, "outside a task");
	cr_assert_eq(weft_semaphore_value(sem), 1);
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

/* At most `value` holders at once, across workers. */
static atomic_int holders, max_holders;

static int sem_hold(void *arg, void **res)
{
	for (int i = 0; i < 100; i++) {
		int rc = weft_semaphore_acquire(sem);
		if (rc)
			return rc;
		int h = atomic_fetch_add(&holders, 1) + 1;
		int m = atomic_load(&max_holders);
		while (h > m && !atomic_compare_exchange_weak(&max_holders, &m, h))
			;
		weft_sleep(0);
		atomic_fetch_sub(&holders, 1);
		weft_semaphore_release(sem);
	}
	return 0;
}

Test(semaphore, bounds_holders_across_workers, .timeout = 2 * TEST_TIMEOUT)
{
	atomic_store(&holders, 0);
	atomic_store(&max_holders, 0);
	SETUP_AND_RUN(weft_semaphore_create_bounded(&sem, 3),
		      tu_run_n(4, gather_main, GATHER(8, sem_hold), NULL));
	cr_assert_eq(r[0], 0);
	cr_assert_leq(atomic_load(&max_holders), 3);
	cr_assert_eq(weft_semaphore_value(sem), 3);
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
}

/* ========================================================================= */
/* Barrier                                                                   */
/* ========================================================================= */

#define N 5

static weft_barrier *bar2;

static void record_index(size_t i)
{
	int k = atomic_fetch_add(&nidx, 1);
	if (k < 16)
		idxs[k] = i;
}

/* Asserts idxs[0..n) is a permutation of 0..n-1. */
static void assert_indices(int n)
{
	cr_assert_eq(atomic_load(&nidx), n);
	bool seen[16] = {0};
	for (int i = 0; i < n; i++) {
		cr_assert_lt(idxs[i], (size_t)n, "index %zu", idxs[i]);
		cr_assert_not(seen[idxs[i]], "index %zu given twice", idxs[i]);
		seen[idxs[i]] = true;
	}
}

static int bar_wait(void *arg, void **res)
{
	size_t i;
	int rc = weft_barrier_wait(bar, &i);
	if (rc == 0)
		record_index(i);
	return rc;
}

/* test_barrier_parties */
Test(barrier, parties)
{
	cr_assert_eq(weft_barrier_create(&bar, 0), -EINVAL);
	cr_assert_eq(weft_barrier_create(NULL, 3), -EINVAL);
	cr_assert_eq(weft_barrier_create(&bar, N), 0);
	cr_assert_eq(weft_barrier_parties(bar), N);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_not(weft_barrier_broken(bar));
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_context_manager: each party gets a distinct index. */
Test(barrier, indices_are_distinct, .timeout = TEST_TIMEOUT)
{
	RUN_GATHER(weft_barrier_create(&bar, 3), 3, bar_wait);
	cr_assert_eq(r[0], 0);
	assert_indices(3);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_not(weft_barrier_broken(bar));
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* Indices follow arrival order; the last to arrive passes at once. */
static int barrier_arrival_order_main(void *arg, void **res)
{
	for (int i = 0; i < 3; i++) {
		t[i] = tu_spawn(bar_wait, NULL);
		tu_yield();
	}
	tu_reap(t, 3);
	return 0;
}

Test(barrier, indices_in_arrival_order, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_barrier_create(&bar, 3), barrier_arrival_order_main);
	cr_assert_eq(atomic_load(&nidx), 3);
	cr_assert_eq(idxs[0], 2, "the last passes first");
	cr_assert_eq(idxs[1], 0);
	cr_assert_eq(idxs[2], 1);
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_filling_one_task / test_filling_one_task_twice */
static int barrier_one_task_main(void *arg, void **res)
{
	size_t i = 99, k = 99;
	r[1] = weft_barrier_wait(bar, &i);
	r[2] = weft_barrier_wait(bar, &k);
	z[0] = i;
	z[1] = k;
	z[2] = weft_barrier_n_waiting(bar);
	return 0;
}

Test(barrier, filling_one_task_twice, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_barrier_create(&bar, 1), barrier_one_task_main);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(r[2], 0);
	cr_assert_eq(z[0], 0);
	cr_assert_eq(z[1], 0);
	cr_assert_eq(z[2], 0);
	cr_assert_not(weft_barrier_broken(bar));
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_filling_task_by_task */
static int barrier_task_by_task_main(void *arg, void **res)
{
	t[0] = tu_spawn(bar_wait, NULL);
	tu_yield();
	z[0] = weft_barrier_n_waiting(bar);
	t[1] = tu_spawn(bar_wait, NULL);
	tu_yield();
	z[1] = weft_barrier_n_waiting(bar);
	t[2] = tu_spawn(bar_wait, NULL);
	tu_yield();
	tu_reap(t, 3);
	z[2] = weft_barrier_n_waiting(bar);
	return 0;
}

Test(barrier, filling_task_by_task, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_barrier_create(&bar, 3), barrier_task_by_task_main);
	cr_assert_eq(z[0], 1);
	cr_assert_eq(z[1], 2);
	cr_assert_eq(z[2], 0);
	cr_assert_not(weft_barrier_broken(bar));
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_filling_tasks_wait_twice / test_filling_tasks_check_return_value */
static int bar_twice(void *arg, void **res)
{
	size_t i;
	int rc = weft_barrier_wait(bar, NULL);
	if (rc)
		return rc;
	atomic_fetch_add(&results1, 1);
	rc = weft_barrier_wait(bar, &i);
	if (rc)
		return rc;
	atomic_fetch_add(&results2, 1);
	record_index(i);
	return 0;
}

Test(barrier, filling_tasks_wait_twice, .timeout = TEST_TIMEOUT)
{
	RUN_GATHER(weft_barrier_create(&bar, N), N, bar_twice);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(atomic_load(&results1), N);
	cr_assert_eq(atomic_load(&results2), N);
	assert_indices(N);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_blocking_tasks_while_draining: tasks arriving while the barrier
 * drains wait for the next round. */
static atomic_int rewait_n;

static int bar_rewait(void *arg, void **res)
{
	int rc = weft_barrier_wait(bar, NULL);
	if (rc)
		return rc;
	if (atomic_fetch_sub(&rewait_n, 1) > 0)
		return weft_barrier_wait(bar, NULL);
	rc = weft_barrier_wait(bar2, NULL);
	if (rc)
		return rc;
	return weft_barrier_wait(bar, NULL);
}

Test(barrier, blocking_tasks_while_draining, .timeout = TEST_TIMEOUT)
{
	atomic_store(&rewait_n, 2);
	cr_assert_eq(weft_barrier_create(&bar2, N - 2), 0);
	RUN_GATHER(weft_barrier_create(&bar, N), N, bar_rewait);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(weft_barrier_destroy(bar), 0);
	cr_assert_eq(weft_barrier_destroy(bar2), 0);
}

/* test_filling_tasks_cancel_one: a cancelled party leaves; the barrier is
 * not broken and fills with the others. */
static int bar_coro(void *arg, void **res)
{
	size_t i;
	int rc = weft_barrier_wait(bar, &i);
	if (rc)
		return rc;
	atomic_fetch_add(&results1, 1);
	record_index(i);
	return 0;
}

static int barrier_cancel_one_main(void *arg, void **res)
{
	t[0] = tu_spawn(bar_coro, NULL);
	tu_yield();
	z[0] = weft_barrier_n_waiting(bar);
	t[1] = tu_spawn(bar_coro, NULL);
	tu_yield();
	z[1] = weft_barrier_n_waiting(bar);
	weft_cancel(t[0], NULL);
	z[2] = weft_barrier_n_waiting(bar); /* it left at once */
	r[1] = weft_await(t[0], NULL);
	b[0] = weft_future_cancelled(t[0]);
	t[2] = tu_spawn(bar_coro, NULL);
	tu_yield();
	z[3] = weft_barrier_n_waiting(bar);
	t[3] = tu_spawn(bar_coro, NULL);
	tu_reap(t, 4);
	z[4] = weft_barrier_n_waiting(bar);
	return 0;
}

Test(barrier, filling_tasks_cancel_one, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_barrier_create(&bar, 3), barrier_cancel_one_main);
	cr_assert_eq(z[0], 1);
	cr_assert_eq(z[1], 2);
	cr_assert_eq(z[2], 1);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert(b[0]);
	cr_assert_eq(z[3], 2);
	cr_assert_eq(z[4], 0);
	cr_assert_eq(atomic_load(&results1), 3);
	/* test_filling_tasks_cancel_one_index_not_reused (gh-155233) */
	assert_indices(3);
	cr_assert_not(weft_barrier_broken(bar));
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* A party released and then cancelled before it ran returns -ECANCELED;
 * the others pass and the barrier is not broken. */
static int barrier_released_then_cancelled_main(void *arg, void **res)
{
	t[0] = tu_spawn(bar_coro, NULL);
	t[1] = tu_spawn(bar_coro, NULL);
	tu_yield();
	size_t i;
	r[1] = weft_barrier_wait(bar, &i); /* releases t[0], t[1] */
	b[0] = weft_cancel(t[0], NULL);
	r[2] = weft_await(t[0], NULL);
	r[3] = weft_await(t[1], NULL);
	tu_reap(t, 2);
	b[1] = weft_barrier_broken(bar);
	return 0;
}

Test(barrier, released_then_cancelled, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_barrier_create(&bar, 3), barrier_released_then_cancelled_main);
	cr_assert_eq(r[1], 0);
	cr_assert(b[0]);
	cr_assert_eq(r[2], -ECANCELED);
	cr_assert_eq(r[3], 0);
	cr_assert_not(b[1]);
	cr_assert_eq(weft_barrier_destroy(bar), 0, "everyone left");
}

/* test_reset_barrier */
static int barrier_reset_main(void *arg, void **res)
{
	r[1] = weft_barrier_reset(bar);
	return 0;
}

Test(barrier, reset_barrier, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_barrier_create(&bar, 1), barrier_reset_main);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_not(weft_barrier_broken(bar));
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_reset_barrier_while_tasks_waiting: waiting parties get
 * -ENOTRECOVERABLE; the barrier is usable afterwards. */
static int bar_expect_broken(void *arg, void **res)
{
	int rc = weft_barrier_wait(bar, NULL);
	if (rc == -ENOTRECOVERABLE)
		atomic_fetch_add(&results1, 1);
	return 0;
}

static int bar_resetter(void *arg, void **res)
{
	return weft_barrier_reset(bar);
}

static int barrier_reset_while_waiting_main(void *arg, void **res)
{
	tu_spawn_n(t, N - 1, bar_expect_broken);
	tu_yield();
	weft_future *rs = tu_spawn(bar_resetter, NULL);
	tu_reap(t, N - 1);
	weft_await(rs, NULL);
	weft_future_unref(rs);
	/* usable again: one full round */
	r[0] = tu_gather_n(N, bar_wait);
	return 0;
}

Test(barrier, reset_while_tasks_waiting, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_barrier_create(&bar, N), barrier_reset_while_waiting_main);
	cr_assert_eq(atomic_load(&results1), N - 1);
	cr_assert_eq(r[0], 0);
	assert_indices(N);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_not(weft_barrier_broken(bar));
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_reset_barrier_when_tasks_half_draining: a reset by a released
 * party breaks the released parties that have not run yet (asyncio
 * decides a released party's outcome when it runs). asyncio's test
 * compares against barrier._count; here the third task to pass resets. */
static int bar_half_draining(void *arg, void **res)
{
	int rc = weft_barrier_wait(bar, NULL);
	if (rc == -ENOTRECOVERABLE)
		atomic_fetch_add(&results1, 1);
	else if (rc == 0 && atomic_fetch_add(&count, 1) + 1 == N - N / 2)
		weft_barrier_reset(bar);
	return 0;
}

Test(barrier, reset_when_tasks_half_draining, .timeout = TEST_TIMEOUT)
{
	RUN_GATHER(weft_barrier_create(&bar, N), N, bar_half_draining);
	cr_assert_eq(atomic_load(&results1), N / 2);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_not(weft_barrier_broken(bar));
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_reset_barrier_when_tasks_half_draining_half_blocking */
static int bar_half_blocking(void *arg, void **res)
{
	int rc = weft_barrier_wait(bar, NULL);
	if (rc == -ENOTRECOVERABLE) {
		atomic_fetch_add(&results1, 1);
		return weft_barrier_wait(bar, NULL);
	}
	if (atomic_fetch_add(&count, 1) + 1 > N / 2) {
		weft_barrier_reset(bar);
		return weft_barrier_wait(bar, NULL);
	}
	rc = weft_barrier_wait(bar, NULL);
	if (rc == -ENOTRECOVERABLE)
		atomic_fetch_add(&results2, 1);
	return 0;
}

Test(barrier, reset_when_tasks_half_draining_half_blocking, .timeout = TEST_TIMEOUT)
{
	RUN_GATHER(weft_barrier_create(&bar, N), N, bar_half_blocking);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(atomic_load(&results1), N / 2);
	cr_assert_eq(atomic_load(&results2), 0);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_not(weft_barrier_broken(bar));
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_reset_barrier_while_tasks_waiting_and_waiting_again */
static int bar_coro1(void *arg, void **res)
{
	int rc = weft_barrier_wait(bar, NULL);
	if (rc == -ENOTRECOVERABLE)
		atomic_fetch_add(&results1, 1);
	rc = weft_barrier_wait(bar, NULL);
	if (rc == 0)
		atomic_fetch_add(&results2, 1);
	return rc;
}

static int bar_coro2(void *arg, void **res)
{
	int rc = weft_barrier_wait(bar, NULL);
	if (rc == 0)
		atomic_fetch_add(&results2, 1);
	return rc;
}

static int barrier_reset_waiting_again_main(void *arg, void **res)
{
	tu_spawn_n(t, N - 1, bar_coro1);
	weft_future *rs = tu_spawn(bar_resetter, NULL);
	tu_yield();
	weft_future *c2 = tu_spawn(bar_coro2, NULL);
	tu_reap(t, N - 1);
	r[1] = weft_await(c2, NULL);
	weft_await(rs, NULL);
	weft_future_unref(rs);
	weft_future_unref(c2);
	return 0;
}

Test(barrier, reset_while_tasks_waiting_and_waiting_again, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_barrier_create(&bar, N), barrier_reset_waiting_again_main);
	cr_assert_not(weft_barrier_broken(bar));
	cr_assert_eq(atomic_load(&results1), N - 1);
	cr_assert_eq(atomic_load(&results2), N);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_reset_barrier_while_tasks_draining */
static int bar_draining_reset(void *arg, void **res)
{
	int rc = weft_barrier_wait(bar, NULL);
	if (rc)
		return rc;
	if (atomic_fetch_add(&count, 1) + 1 == N) {
		weft_barrier_reset(bar);
		weft_barrier_wait(bar, NULL);
	} else {
		rc = weft_barrier_wait(bar, NULL);
		atomic_fetch_add(rc == 0 ? &results1 : &results2, 1);
	}
	rc = weft_barrier_wait(bar, NULL);
	if (rc == 0)
		atomic_fetch_add(&results3, 1);
	return rc;
}

Test(barrier, reset_while_tasks_draining, .timeout = TEST_TIMEOUT)
{
	RUN_GATHER(weft_barrier_create(&bar, N), N, bar_draining_reset);
	cr_assert_not(weft_barrier_broken(bar));
	cr_assert_eq(atomic_load(&results1), N - 1);
	cr_assert_eq(atomic_load(&results2), 0);
	cr_assert_eq(atomic_load(&results3), N);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_abort_barrier: broken; waits fail until a reset. */
static int barrier_abort_main(void *arg, void **res)
{
	r[1] = weft_barrier_abort(bar);
	r[2] = weft_barrier_wait(bar, NULL);
	b[0] = weft_barrier_broken(bar);
	weft_barrier_reset(bar);
	b[1] = weft_barrier_broken(bar);
	r[3] = weft_barrier_wait(bar, NULL);
	return 0;
}

Test(barrier, abort_barrier, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_barrier_create(&bar, 1), barrier_abort_main);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(r[2], -ENOTRECOVERABLE);
	cr_assert(b[0]);
	cr_assert_not(b[1], "reset repairs it");
	cr_assert_eq(r[3], 0);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_abort_barrier_when_tasks_half_draining_half_blocking */
static int bar_abort_half(void *arg, void **res)
{
	int rc = weft_barrier_wait(bar, NULL);
	if (rc == -ENOTRECOVERABLE) {
		atomic_fetch_add(&results1, 1);
		return 0;
	}
	if (atomic_fetch_add(&count, 1) + 1 > N / 2) {
		weft_barrier_abort(bar);
		return 0;
	}
	rc = weft_barrier_wait(bar, NULL);
	if (rc == -ENOTRECOVERABLE)
		atomic_fetch_add(&results2, 1);
	return 0;
}

Test(barrier, abort_when_tasks_half_draining_half_blocking, .timeout = TEST_TIMEOUT)
{
	RUN_GATHER(weft_barrier_create(&bar, N), N, bar_abort_half);
	cr_assert(weft_barrier_broken(bar));
	cr_assert_eq(atomic_load(&results1), N / 2);
	cr_assert_eq(atomic_load(&results2), N - N / 2 - 1);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_abort_barrier_when_exception */
static int bar_abort_exc(void *arg, void **res)
{
	size_t i;
	int rc = weft_barrier_wait(bar, &i);
	if (rc == 0 && i == N / 2) {
		weft_barrier_abort(bar); /* the "exception" */
		return 0;
	}
	if (rc == 0)
		rc = weft_barrier_wait(bar, NULL);
	atomic_fetch_add(rc == 0 ? &results1 : &results2, 1);
	return 0;
}

Test(barrier, abort_when_exception, .timeout = TEST_TIMEOUT)
{
	RUN_GATHER(weft_barrier_create(&bar, N), N, bar_abort_exc);
	cr_assert(weft_barrier_broken(bar));
	cr_assert_eq(atomic_load(&results1), 0);
	cr_assert_eq(atomic_load(&results2), N - 1);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* test_abort_barrier_when_exception_then_resetting */
static int bar_abort_then_reset(void *arg, void **res)
{
	size_t i;
	int rc = weft_barrier_wait(bar, &i);
	if (rc == 0 && i == N / 2) {
		weft_barrier_abort(bar);
	} else {
		if (rc == 0)
			rc = weft_barrier_wait(bar, NULL);
		atomic_fetch_add(rc == 0 ? &results1 : &results2, 1);
	}
	/* synchronise, reset, synchronise again, then pass bar once more */
	rc = weft_barrier_wait(bar2, &i);
	if (rc)
		return rc;
	if (i == N / 2)
		weft_barrier_reset(bar);
	if ((rc = weft_barrier_wait(bar2, NULL)))
		return rc;
	if ((rc = weft_barrier_wait(bar, NULL)))
		return rc;
	atomic_fetch_add(&results3, 1);
	return 0;
}

Test(barrier, abort_when_exception_then_resetting, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(weft_barrier_create(&bar2, N), 0);
	RUN_GATHER(weft_barrier_create(&bar, N), N, bar_abort_then_reset);
	cr_assert_eq(r[0], 0);
	cr_assert_not(weft_barrier_broken(bar));
	cr_assert_eq(atomic_load(&results1), 0);
	cr_assert_eq(atomic_load(&results2), N - 1);
	cr_assert_eq(atomic_load(&results3), N);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_eq(weft_barrier_destroy(bar), 0);
	cr_assert_eq(weft_barrier_destroy(bar2), 0);
}

/* A timeout scope around wait: the party leaves; the barrier is not
 * broken (asyncio's Barrier has no timeout; threading's would break). */
static int bar_timed(void *arg, void **res)
{
	weft_timeout scope;
	weft_timeout_enter_after(&scope, 0.1);
	return weft_timeout_exit(&scope, weft_barrier_wait(bar, NULL));
}

static int barrier_timeout_main(void *arg, void **res)
{
	t[0] = tu_spawn(bar_timed, NULL);
	r[1] = weft_await(t[0], NULL);
	z[0] = weft_barrier_n_waiting(bar);
	b[0] = weft_barrier_broken(bar);
	tu_reap(t, 1);
	return 0;
}

Test(barrier, timeout_leaves_it_intact, .timeout = TEST_TIMEOUT)
{
	RUN_PAUSED(weft_barrier_create(&bar, 2), barrier_timeout_main);
	cr_assert_eq(r[1], -ETIMEDOUT);
	cr_assert_eq(z[0], 0);
	cr_assert_not(b[0]);
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* Misuse, and -EBUSY while a party waits. */
static int barrier_busy_main(void *arg, void **res)
{
	t[0] = tu_spawn(bar_expect_broken, NULL);
	tu_yield();
	r[1] = weft_barrier_destroy(bar);
	weft_barrier_abort(bar);
	tu_reap(t, 1);
	return 0;
}

Test(barrier, misuse)
{
	reset();
	cr_assert_eq(weft_barrier_wait(NULL, NULL), -EINVAL);
	cr_assert_eq(weft_barrier_reset(NULL), -EINVAL);
	cr_assert_eq(weft_barrier_abort(NULL), -EINVAL);
	cr_assert_eq(weft_barrier_destroy(NULL), -EINVAL);
	cr_assert_eq(weft_barrier_parties(NULL), 0);
	cr_assert_eq(weft_barrier_n_waiting(NULL), 0);
	cr_assert_not(weft_barrier_broken(NULL));
	cr_assert_eq(weft_barrier_create(&bar, 2), 0);
	cr_assert_eq(weft_barrier_wait(bar, NULL), -EPERM, "outside a task");
	cr_assert_eq(tu_run_paused(barrier_busy_main, NULL), 0);
	cr_assert_eq(r[1], -EBUSY);
	cr_assert_eq(atomic_load(&results1), 1);
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* Rounds across workers: every party of every round gets a distinct
 * index, and the rounds never mix. */
#define ROUNDS 200

static atomic_int round_hits[ROUNDS][4];

static int bar_rounds(void *arg, void **res)
{
	for (int k = 0; k < ROUNDS; k++) {
		size_t i;
		int rc = weft_barrier_wait(bar, &i);
		if (rc)
			return rc;
		if (i < 4)
			atomic_fetch_add(&round_hits[k][i], 1);
	}
	return 0;
}

Test(barrier, rounds_across_workers, .timeout = 2 * TEST_TIMEOUT)
{
	memset(round_hits, 0, sizeof(round_hits));
	SETUP_AND_RUN(weft_barrier_create(&bar, 4),
		      tu_run_n(4, gather_main, GATHER(4, bar_rounds), NULL));
	cr_assert_eq(r[0], 0);
	for (int k = 0; k < ROUNDS; k++)
		for (int i = 0; i < 4; i++)
			cr_assert_eq(atomic_load(&round_hits[k][i]), 1, "round %d index %d", k, i);
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}

/* ========================================================================= */
/* Runtime shutdown                                                          */
/* ========================================================================= */

/* weft_run's end cancels every task: tasks blocked on each primitive
 * return -ECANCELED and leave it consistent and destroyable; the
 * condition's waiter re-acquired (then released) its lock. */
static int sd_event(void *arg, void **res)
{
	r[20] = weft_event_wait(ev);
	return r[20];
}

static int sd_condition(void *arg, void **res)
{
	weft_condition_acquire(cv);
	r[21] = weft_condition_wait(cv);
	b[21] = weft_condition_locked(cv);
	weft_condition_release(cv);
	return r[21];
}

static int sd_semaphore(void *arg, void **res)
{
	r[22] = weft_semaphore_acquire(sem);
	return r[22];
}

static int sd_barrier(void *arg, void **res)
{
	r[23] = weft_barrier_wait(bar, NULL);
	return r[23];
}

static int shutdown_all_main(void *arg, void **res)
{
	weft_task_fn fns[] = {sd_event, sd_condition, sd_semaphore, sd_barrier};
	for (int i = 0; i < 4; i++)
		weft_future_unref(tu_spawn(fns[i], NULL));
	tu_yield();
	return 0; /* the runtime's shutdown cancels them */
}

Test(shutdown, cancels_tasks_waiting_on_every_primitive, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(weft_event_create(&ev), 0);
	cr_assert_eq(weft_condition_create(&cv, NULL), 0);
	cr_assert_eq(weft_semaphore_create(&sem, 0), 0);
	cr_assert_eq(weft_barrier_create(&bar, 2), 0);
	cr_assert_eq(tu_run_paused(shutdown_all_main, NULL), 0);
	cr_assert_eq(r[20], -ECANCELED);
	cr_assert_eq(r[21], -ECANCELED);
	cr_assert(b[21], "the condition's lock was re-acquired");
	cr_assert_eq(r[22], -ECANCELED);
	cr_assert_eq(r[23], -ECANCELED);
	cr_assert_eq(weft_event_destroy(ev), 0);
	cr_assert_eq(weft_condition_destroy(cv), 0);
	cr_assert_eq(weft_semaphore_destroy(sem), 0);
	cr_assert_eq(weft_barrier_n_waiting(bar), 0);
	cr_assert_not(weft_barrier_broken(bar));
	cr_assert_eq(weft_barrier_destroy(bar), 0);
}
