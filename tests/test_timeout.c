/* SPDX-License-Identifier: MIT */
/*
 * Timeout scopes (weft/timeout.h), mirroring CPython's
 * Lib/test/test_asyncio/test_timeouts.py (named above each test). Most
 * run on ONE worker with the paused clock, so "the deadline passes while
 * the body sleeps" is exact and instant.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rules.h" /* the scenarios the stress suite loops too */
#include "test_util.h"

static int r[16];
static bool b[16];
static int n[16];
static double d[4];

static void reset(void)
{
	memset(r, 0x7f, sizeof(r));
	memset(b, 0, sizeof(b));
	memset(n, 0x7f, sizeof(n));
	memset(d, 0, sizeof(d));
}

static int cancelling(void)
{
	return weft_task_cancelling(weft_current_task());
}

/* test_timeout_basic: the deadline cancels the body; exit turns its
 * -ECANCELED into -ETIMEDOUT and withdraws the cancel. */
static int basic_main(void *arg, void **res)
{
	weft_timeout cm;
	double t0 = weft_time();
	r[0] = weft_timeout_enter_after(&cm, 0.01);
	d[0] = weft_timeout_when(&cm) - t0;
	r[1] = weft_sleep(10);
	b[0] = weft_timeout_expired(&cm);
	r[2] = weft_timeout_exit(&cm, r[1]);
	b[1] = weft_timeout_expired(&cm);
	n[0] = cancelling();
	r[3] = weft_sleep(0); /* nothing left pending */
	d[1] = weft_time() - t0;
	return 0;
}

Test(timeout, expiry_gives_etimedout, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(basic_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_float_eq(d[0], 0.01, 1e-6);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert(b[0]);
	cr_assert_eq(r[2], -ETIMEDOUT);
	cr_assert(b[1]);
	cr_assert_eq(n[0], 0);
	cr_assert_eq(r[3], 0);
	/* The paused clock moved exactly 10 ms; as double seconds of a large
	 * nanosecond count the difference may round to just below 0.01. */
	cr_assert(d[1] >= 0.01 - 1e-9 && d[1] < 1, "took %.12f", d[1]);
}

/* test_timeout_at_basic: an absolute deadline. */
static int at_main(void *arg, void **res)
{
	weft_timeout cm;
	double when = weft_time() + 0.02;
	r[0] = weft_timeout_enter(&cm, when);
	b[0] = weft_timeout_when(&cm) == when;
	r[1] = weft_timeout_exit(&cm, weft_sleep(10));
	return 0;
}

Test(timeout, timeout_at_basic, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(at_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert(b[0]);
	cr_assert_eq(r[1], -ETIMEDOUT);
}

/* test_timeout_not_called: a body that finishes in time. */
static int not_called_main(void *arg, void **res)
{
	weft_timeout cm;
	weft_timeout_enter_after(&cm, 10);
	r[0] = weft_sleep(0.01);
	r[1] = weft_timeout_exit(&cm, 5);
	b[0] = weft_timeout_expired(&cm);
	r[2] = weft_sleep(10.5); /* the timer is gone: nothing fires */
	n[0] = cancelling();
	return 0;
}

Test(timeout, not_expired, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(not_called_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 5, "body_rc passes through");
	cr_assert_not(b[0]);
	cr_assert_eq(r[2], 0);
	cr_assert_eq(n[0], 0);
}

/* test_timeout_disabled / test_timeout_at_disabled: WEFT_FOREVER. */
static int disabled_main(void *arg, void **res)
{
	weft_timeout cm, cm2;
	weft_timeout_enter(&cm, WEFT_FOREVER);
	weft_timeout_enter_after(&cm2, WEFT_FOREVER);
	r[0] = weft_sleep(0.01);
	b[0] = isinf(weft_timeout_when(&cm)) && isinf(weft_timeout_when(&cm2));
	r[1] = weft_timeout_exit(&cm2, r[0]);
	r[2] = weft_timeout_exit(&cm, r[1]);
	b[1] = weft_timeout_expired(&cm);
	return 0;
}

Test(timeout, forever_never_expires, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(disabled_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert(b[0]);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(r[2], 0);
	cr_assert_not(b[1]);
}

/* test_timeout_zero and test_timeout_in_the_past_sleep_zero: a deadline
 * already past expires at the next loop turn, so even sleep(0) sees it. */
static int zero_main(void *arg, void **res)
{
	weft_timeout cm;
	weft_timeout_enter_after(&cm, 0);
	r[0] = weft_timeout_exit(&cm, weft_sleep(10));
	weft_timeout_enter(&cm, weft_time() - 11);
	r[1] = weft_sleep(0);
	r[2] = weft_timeout_exit(&cm, r[1]);
	return 0;
}

Test(timeout, zero_and_past_deadlines, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(zero_main, NULL), 0);
	cr_assert_eq(r[0], -ETIMEDOUT);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert_eq(r[2], -ETIMEDOUT);
}

/* test_foreign_exception_passed / test_foreign_exception_on_timeout: a
 * body that fails with its own code keeps it, expired or not. */
static int foreign_exc_main(void *arg, void **res)
{
	weft_timeout cm;
	weft_timeout_enter_after(&cm, 0.01);
	r[0] = weft_timeout_exit(&cm, -EIO);
	weft_timeout_enter_after(&cm, 0.01);
	weft_sleep(10); /* -ECANCELED: cleanup fails otherwise */
	r[1] = weft_timeout_exit(&cm, -EPIPE);
	b[0] = weft_timeout_expired(&cm);
	n[0] = cancelling();
	return 0;
}

Test(timeout, body_failure_passes_through, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(foreign_exc_main, NULL), 0);
	cr_assert_eq(r[0], -EIO);
	cr_assert_eq(r[1], -EPIPE);
	cr_assert(b[0]);
	cr_assert_eq(n[0], 0);
}

/* test_foreign_cancel_doesnt_timeout_if_not_expired: a cancel from
 * outside stays a cancel. */
static int body_in_scope(void *arg, void **res)
{
	weft_timeout cm;
	weft_timeout_enter_after(&cm, 10);
	r[0] = weft_sleep(1);
	r[1] = weft_timeout_exit(&cm, r[0]);
	b[0] = weft_timeout_expired(&cm);
	return r[1];
}

static int foreign_cancel_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(body_in_scope, NULL, NULL);
	weft_sleep(0);
	weft_cancel(t, NULL);
	r[2] = weft_await(t, NULL);
	weft_future_unref(t);
	return 0;
}

Test(timeout, outside_cancel_is_not_a_timeout, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(foreign_cancel_main, NULL), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert_not(b[0]);
	cr_assert_eq(r[2], -ECANCELED);
}

/* 3.12's __aexit__: expiry and an outside cancel together. The scope
 * uncancels its own, sees cancelling() above its enter count, and lets
 * the -ECANCELED through; the outside cancel stays counted. Both cancels
 * come from handles due in the same round (the same call_at deadline,
 * the scope's first), before the body runs, so one -ECANCELED delivers
 * both.
 * async def body():
 *     async with asyncio.timeout_at(when): await asyncio.sleep(10)  # r0, r1
 *     ...cancelling() (n0); await asyncio.sleep(0)  # r2
 * async def main():
 *     when = loop.time() + 0.01; b = create_task(body())
 *     await asyncio.sleep(0); loop.call_at(when, lambda: b.cancel('outside'))
 * → r0 CancelledError, r1 CancelledError, n0 1, r2 returns (CPython 3.11) */
static weft_future *both_body;
static double both_when;

static void cancel_outside(void *arg)
{
	weft_cancel(both_body, "outside");
}

static int both_body_fn(void *arg, void **res)
{
	weft_timeout cm;
	weft_timeout_enter(&cm, both_when);
	r[0] = weft_sleep(10);
	r[1] = weft_timeout_exit(&cm, r[0]);
	n[0] = cancelling();
	r[2] = weft_sleep(0);
	return 0;
}

static int both_main(void *arg, void **res)
{
	both_when = weft_time() + 0.01;
	both_body = weft_create_task(both_body_fn, NULL, NULL);
	weft_sleep(0);
	int rc = weft_call_at(both_when, cancel_outside, NULL, NULL);
	weft_await(both_body, NULL);
	weft_future_unref(both_body);
	return rc;
}

Test(timeout, expiry_with_an_outside_cancel_stays_a_cancel, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(both_main, NULL), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert_eq(n[0], 1);
	cr_assert_eq(r[2], 0, "one -ECANCELED delivered both cancels (asyncio's __step)");
}

/* test_nested_timeouts_concurrent: the outer expires; the inner passes
 * the cancel on, the outer converts it. */
static int nested_outer_main(void *arg, void **res)
{
	weft_timeout outer, inner;
	weft_timeout_enter_after(&outer, 0.01);
	weft_timeout_enter_after(&inner, 10);
	r[0] = weft_sleep(1);
	r[1] = weft_timeout_exit(&inner, r[0]);
	r[2] = weft_timeout_exit(&outer, r[1]);
	b[0] = weft_timeout_expired(&inner);
	b[1] = weft_timeout_expired(&outer);
	n[0] = cancelling();
	return 0;
}

Test(timeout, nested_outer_expires, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(nested_outer_main, NULL), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert_eq(r[2], -ETIMEDOUT);
	cr_assert_not(b[0]);
	cr_assert(b[1]);
	cr_assert_eq(n[0], 0);
}

/* The inner expires first: it converts; the outer sees a plain failure. */
static int nested_inner_main(void *arg, void **res)
{
	weft_timeout outer, inner;
	weft_timeout_enter_after(&outer, 10);
	weft_timeout_enter_after(&inner, 0.01);
	r[0] = weft_sleep(1);
	r[1] = weft_timeout_exit(&inner, r[0]);
	r[2] = weft_sleep(0.01); /* the outer is still armed, still fine */
	r[3] = weft_timeout_exit(&outer, r[1]);
	b[0] = weft_timeout_expired(&inner);
	b[1] = weft_timeout_expired(&outer);
	return 0;
}

Test(timeout, nested_inner_expires, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(nested_inner_main, NULL), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], -ETIMEDOUT);
	cr_assert_eq(r[2], 0);
	cr_assert_eq(r[3], -ETIMEDOUT);
	cr_assert(b[0]);
	cr_assert_not(b[1]);
}

/* test_nested_timeouts_loop_busy: both expire at once; only the outer
 * converts (the inner sees the outer's cancel still counted). */
static int nested_both_main(void *arg, void **res)
{
	weft_timeout outer, inner;
	double when = weft_time() + 0.01;
	weft_timeout_enter(&outer, when);
	weft_timeout_enter(&inner, when);
	r[0] = weft_sleep(1);
	n[0] = cancelling();
	r[1] = weft_timeout_exit(&inner, r[0]);
	r[2] = weft_timeout_exit(&outer, r[1]);
	b[0] = weft_timeout_expired(&inner);
	b[1] = weft_timeout_expired(&outer);
	n[1] = cancelling();
	r[3] = weft_sleep(0);
	return 0;
}

Test(timeout, nested_both_expire, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(nested_both_main, NULL), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(n[0], 2);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert_eq(r[2], -ETIMEDOUT);
	cr_assert(b[0]);
	cr_assert(b[1]);
	cr_assert_eq(n[1], 0);
	cr_assert_eq(r[3], 0, "the second cancel was withdrawn");
}

/* test_reschedule: a scope entered without a deadline gets one; and a
 * deadline can be lifted. */
static int reschedule_main(void *arg, void **res)
{
	weft_timeout cm;
	weft_timeout_enter(&cm, WEFT_FOREVER);
	double when = weft_time() + 0.01;
	r[0] = weft_timeout_reschedule(&cm, when);
	b[0] = weft_timeout_when(&cm) == when;
	r[1] = weft_sleep(10);
	r[2] = weft_timeout_reschedule(&cm, WEFT_FOREVER); /* expiring now */
	r[3] = weft_timeout_exit(&cm, r[1]);
	r[4] = weft_timeout_reschedule(&cm, WEFT_FOREVER); /* exited */

	weft_timeout_enter_after(&cm, 0.01);
	r[5] = weft_timeout_reschedule(&cm, WEFT_FOREVER);
	r[6] = weft_sleep(0.05);
	r[7] = weft_timeout_reschedule(&cm, weft_time() + 0.01); /* again */
	r[8] = weft_timeout_exit(&cm, weft_sleep(1));
	return 0;
}

Test(timeout, reschedule, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(reschedule_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert(b[0]);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert_eq(r[2], -EPERM, "cannot change an expiring timeout");
	cr_assert_eq(r[3], -ETIMEDOUT);
	cr_assert_eq(r[4], -EPERM);
	cr_assert_eq(r[5], 0);
	cr_assert_eq(r[6], 0, "the deadline was lifted");
	cr_assert_eq(r[7], 0);
	cr_assert_eq(r[8], -ETIMEDOUT);
}

/* test_timeout_after_cancellation: a task that already consumed a cancel
 * (cancelling() == 1) still gets -ETIMEDOUT from a later scope. */
static int after_cancel_main(void *arg, void **res)
{
	weft_cancel(weft_current_task(), NULL);
	r[0] = weft_sleep(1);
	weft_timeout cm;
	weft_timeout_enter_after(&cm, 0);
	r[1] = weft_timeout_exit(&cm, weft_sleep(1));
	n[0] = cancelling();
	return 0;
}

Test(timeout, after_a_consumed_cancel, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(after_cancel_main, NULL), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], -ETIMEDOUT);
	cr_assert_eq(n[0], 1);
}

/* 3.13's uncancel: the scope fires while the body's awaited future is
 * already done (the body is woken but has not run yet), so the cancel is
 * never delivered; exit withdraws it and it never fires later. */
static void complete_it(void *arg)
{
	weft_future_set_result(arg, (void *)7);
}

static int withdrawn_main(void *arg, void **res)
{
	weft_future *f = weft_future_create(NULL);
	double when = weft_time() + 0.01;
	weft_call_at(when, complete_it, f, NULL); /* same deadline, first */
	weft_timeout cm;
	weft_timeout_enter(&cm, when);
	void *v = NULL;
	r[0] = weft_await(f, &v);
	b[0] = v == (void *)7;
	n[0] = cancelling();
	r[1] = weft_timeout_exit(&cm, r[0]);
	b[1] = weft_timeout_expired(&cm);
	n[1] = cancelling();
	r[2] = weft_sleep(0);
	r[3] = weft_sleep(0.01);
	weft_future_unref(f);
	return 0;
}

Test(timeout, undelivered_cancel_is_withdrawn, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(withdrawn_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert(b[0]);
	cr_assert_eq(n[0], 1, "the scope did cancel");
	cr_assert_eq(r[1], 0, "the body finished: its outcome is kept");
	cr_assert(b[1]);
	cr_assert_eq(n[1], 0);
	cr_assert_eq(r[2], 0, "never delivered later");
	cr_assert_eq(r[3], 0);
}

/* test_timeout_already_entered, test_timeout_without_task, and weft's
 * own rules: LIFO exits, NaN deadlines. */
static int misuse_main(void *arg, void **res)
{
	weft_timeout a, b2, never;
	r[0] = weft_timeout_enter(NULL, 1);
	r[1] = weft_timeout_enter(&a, NAN);
	r[2] = weft_timeout_enter(&a, WEFT_FOREVER);
	r[3] = weft_timeout_enter(&a, WEFT_FOREVER); /* already entered */
	r[4] = weft_timeout_enter_after(&b2, 10);
	r[5] = weft_timeout_exit(&a, 0); /* not the innermost */
	memset(&never, 0, sizeof(never));
	r[6] = weft_timeout_exit(&never, 0);
	r[7] = weft_timeout_exit(&b2, 0);
	r[8] = weft_timeout_exit(&a, 3);
	r[9] = weft_timeout_exit(&a, 0); /* twice */
	r[10] = weft_timeout_reschedule(&a, NAN);
	r[11] = weft_timeout_exit(NULL, 0);
	return 0;
}

Test(timeout, misuse, .timeout = TEST_TIMEOUT)
{
	reset();
	weft_timeout cm;
	cr_assert_eq(weft_timeout_enter(&cm, 1), -EPERM, "outside a task");
	cr_assert_eq(weft_timeout_exit(&cm, 0), -EPERM);
	cr_assert_not(weft_timeout_expired(NULL));
	cr_assert_eq(tu_run_paused(misuse_main, NULL), 0);
	cr_assert_eq(r[0], -EINVAL);
	cr_assert_eq(r[1], -EINVAL);
	cr_assert_eq(r[2], 0);
	cr_assert_eq(r[3], -EPERM);
	cr_assert_eq(r[4], 0);
	cr_assert_eq(r[5], -EPERM, "exit out of LIFO order");
	cr_assert_eq(r[6], -EPERM);
	cr_assert_eq(r[7], 0);
	cr_assert_eq(r[8], 3);
	cr_assert_eq(r[9], -EPERM);
	cr_assert_eq(r[10], -EINVAL);
	cr_assert_eq(r[11], -EINVAL);
}

/* weft's rule: a task that returns inside an open scope aborts, naming
 * itself. Runs in a child process. */
static int leaky(void *arg, void **res)
{
	weft_timeout cm;
	weft_timeout_enter_after(&cm, 10);
	return 0;
}

static int leaky_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(leaky, NULL, "leaky-one");
	weft_await(t, NULL);
	weft_future_unref(t);
	return 0;
}

Test(timeout, returning_inside_an_open_scope_aborts, .timeout = 30 * WEFT_TEST_SLOW)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		weft_config cfg = tu_config(1);
		int rc = weft_run(leaky_main, NULL, &cfg, NULL);
		_exit(rc == WEFT_ENOURING ? 77 : 0);
	}
	close(fds[1]);
	static char err[16384];
	size_t len = 0;
	ssize_t k;
	while (len + 1 < sizeof(err) && (k = read(fds[0], err + len, sizeof(err) - 1 - len)) > 0)
		len += (size_t)k;
	err[len] = '\0';
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		cr_skip_test("io_uring is not available here");
	cr_assert(WIFSIGNALED(status), "stderr: %s", err);
	cr_assert_eq(WTERMSIG(status), SIGABRT);
	cr_assert_not_null(
		strstr(err, "weft: task leaky-one returned inside an open timeout scope"),
		"stderr: %s", err);
	cr_assert_not_null(strstr(err, "weft_timeout_exit"), "the fix is named: %s", err);
}

/* Several workers, migratable tasks: the timer fires on the worker that
 * armed it wherever the task is; every scope converts its own expiry. */
#define NTASKS 64
static atomic_int timed_out, other;

static int mig_body(void *arg, void **res)
{
	weft_timeout cm;
	weft_timeout_enter_after(&cm, 0.01);
	int rc = 0;
	for (int i = 0; i < 100 && !rc; i++)
		rc = weft_sleep(0.001);
	rc = weft_timeout_exit(&cm, rc);
	if (rc == -ETIMEDOUT && cancelling() == 0 && weft_sleep(0) == 0)
		atomic_fetch_add(&timed_out, 1);
	else
		atomic_fetch_add(&other, 1);
	return 0;
}

static int mig_main(void *arg, void **res)
{
	weft_future *t[NTASKS];
	for (int i = 0; i < NTASKS; i++)
		t[i] = weft_create_task(mig_body, NULL, NULL);
	for (int i = 0; i < NTASKS; i++) {
		weft_await(t[i], NULL);
		weft_future_unref(t[i]);
	}
	return 0;
}

Test(timeout, migratable_tasks_on_four_workers, .timeout = TEST_TIMEOUT)
{
	atomic_store(&timed_out, 0);
	atomic_store(&other, 0);
	weft_config cfg = tu_config(4);
	cfg.migratable = true;
	cr_assert_eq(tu_run(mig_main, NULL, &cfg, NULL), 0);
	cr_assert_eq(atomic_load(&timed_out), NTASKS);
	cr_assert_eq(atomic_load(&other), 0);
}

/* --- expiry on several workers ------------------------------------------ */

/* Runs a scenario of rules.h n times in a task on `workers` workers;
 * returns how many runs broke its rule. */
struct rule_loop {
	bool (*once)(long i);
	long n;
	atomic_long bad;
};

static int rule_loop_main(void *arg, void **res)
{
	struct rule_loop *l = arg;
	for (long i = 0; i < l->n; i++)
		if (!l->once(i))
			atomic_fetch_add(&l->bad, 1);
	return 0;
}

static long rule_failures(unsigned workers, bool (*once)(long i), long runs)
{
	struct rule_loop l = {.once = once, .n = runs};
	cr_assert_eq(tu_run_n(workers, rule_loop_main, &l, NULL), 0);
	return atomic_load(&l.bad);
}

/* test_timeout_in_the_past_sleep_zero and test_timeout_zero's shape
 * (rules.h): a deadline already past (or now) cancels the task at its next
 * suspension point, a plain yield. With 2 workers the task used to come
 * back from the yield before the expiry ran (1 time in 2): looped. */
Test(timeout, timeout_in_the_past_sleep_zero, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 1; w <= 2; w++) {
		long bad = rule_failures(w, rule_past_timeout_sleep_zero, 1000);
		cr_assert_eq(bad, 0, "workers=%u: %ld of 1000 did not time out", w, bad);
	}
}

/* test_nested_timeouts (rules.h): two scopes with one deadline both
 * expire, only the outer converts. With 2 workers the outer's cancel woke
 * the task ahead of the inner's expiry, which then never fired. Real
 * clock; looped. */
static bool nested_once(long i)
{
	return rule_nested_timeouts_same_deadline(0.001);
}

Test(timeout, nested_timeouts_same_deadline_both_expire, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 1; w <= 2; w++) {
		long bad = rule_failures(w, nested_once, 30);
		cr_assert_eq(bad, 0, "workers=%u: %ld of 30 wrong", w, bad);
	}
}
