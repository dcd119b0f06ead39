/* SPDX-License-Identifier: MIT */
/*
 * Task groups (weft/taskgroup.h), mirroring CPython's
 * Lib/test/test_asyncio/test_taskgroups.py (3.13), named above each test.
 * Exact-order tests run on ONE worker with the paused clock.
 */
#include <stdint.h>

#include "test_util.h"

#define V(n) ((void *)(uintptr_t)(n))

static int r[16];
static bool b[16];
static void *v[16];
static int n[8];
static int codes[8];
static weft_future *etasks[8];
static size_t nerr;
static char msg[64];
static struct tu_log lg;

static void reset(void)
{
	memset(r, 0x7f, sizeof(r));
	memset(b, 0, sizeof(b));
	memset(v, 0, sizeof(v));
	memset(n, 0x7f, sizeof(n));
	memset(codes, 0, sizeof(codes));
	memset(etasks, 0, sizeof(etasks));
	nerr = 99;
	msg[0] = '\0';
	tu_log_reset(&lg);
}

static int cancelling(void)
{
	return weft_task_cancelling(weft_current_task());
}

/* Sleeps arg ms and returns arg; logs a cancel. */
static int sleep_ms(void *arg, void **res)
{
	int rc = weft_sleep((double)(uintptr_t)arg / 1000);
	if (rc) {
		tu_log_add(&lg, "cancelled");
		return rc;
	}
	*res = arg;
	return 0;
}

/* Sleeps arg ms, then fails with -EIO and a message. */
static int fail_after_ms(void *arg, void **res)
{
	int rc = weft_sleep((double)(uintptr_t)arg / 1000);
	return rc ? rc : weft_fail(-EIO, "failed after %d ms", (int)(uintptr_t)arg);
}

static int fail_pipe_after_ms(void *arg, void **res)
{
	int rc = weft_sleep((double)(uintptr_t)arg / 1000);
	return rc ? rc : -EPIPE;
}

static void list_errors(weft_taskgroup *tg)
{
	nerr = weft_taskgroup_errors(tg, codes, etasks, 8);
	for (size_t i = 0; i < nerr && i < 8; i++)
		if (etasks[i] && weft_future_message(etasks[i])) {
			snprintf(msg, sizeof(msg), "%s", weft_future_message(etasks[i]));
			break;
		}
}

/* test_taskgroup_01: members run, exit waits for them all. */
static int basic_main(void *arg, void **res)
{
	weft_taskgroup *tg;
	r[0] = weft_taskgroup_enter(&tg);
	weft_future *a = weft_taskgroup_create_task(tg, sleep_ms, V(10), NULL);
	weft_future *c = weft_taskgroup_create_task(tg, sleep_ms, V(20), "named");
	r[1] = weft_taskgroup_exit(tg, 0);
	b[0] = weft_future_done(a) && weft_future_done(c);
	r[2] = weft_future_result(a, &v[0]);
	r[3] = weft_future_result(c, &v[1]);
	b[1] = strcmp(weft_task_name(c), "named") == 0;
	r[4] = (int)weft_taskgroup_errors(tg, NULL, NULL, 0);
	r[5] = weft_taskgroup_free(tg);
	weft_future_unref(a);
	weft_future_unref(c);
	return 0;
}

Test(taskgroup, waits_for_members, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(basic_main, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 0);
	cr_assert(b[0]);
	cr_assert_eq(r[2], 0);
	cr_assert_eq(v[0], V(10));
	cr_assert_eq(r[3], 0);
	cr_assert_eq(v[1], V(20));
	cr_assert(b[1]);
	cr_assert_eq(r[4], 0);
	cr_assert_eq(r[5], 0);
}

/* test_taskgroup_03: a member adds a sibling while exit waits. */
static weft_taskgroup *sib_tg;

static int spawner(void *arg, void **res)
{
	weft_sleep(0.01);
	weft_future *t = weft_taskgroup_create_task(sib_tg, sleep_ms, V(30), NULL);
	b[0] = !weft_future_done(t);
	weft_future_unref(t);
	tu_log_add(&lg, "spawned");
	return 0;
}

static int sibling_main(void *arg, void **res)
{
	weft_taskgroup_enter(&sib_tg);
	weft_future *t = weft_taskgroup_create_task(sib_tg, spawner, NULL, NULL);
	double t0 = weft_time();
	r[0] = weft_taskgroup_exit(sib_tg, 0);
	r[1] = (int)((weft_time() - t0) * 1000 + 0.5);
	tu_log_add(&lg, "exited");
	weft_taskgroup_free(sib_tg);
	weft_future_unref(t);
	return 0;
}

Test(taskgroup, members_may_add_siblings_during_exit, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(sibling_main, NULL), 0);
	cr_assert(b[0]);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 40, "waited for the sibling too");
	tu_assert_log(&lg, "spawned exited");
}

/* test_taskgroup_04 and test_taskgroup_14: failures cancel the other
 * members and the body; exit lists every failure; the group's cancel of
 * the parent is withdrawn. */
static int failing_main(void *arg, void **res)
{
	weft_taskgroup *tg;
	weft_taskgroup_enter(&tg);
	weft_future *a = weft_taskgroup_create_task(tg, sleep_ms, V(10000), NULL);
	weft_future *f1 = weft_taskgroup_create_task(tg, fail_after_ms, V(10), NULL);
	weft_future *f2 = weft_taskgroup_create_task(tg, fail_pipe_after_ms, V(10), NULL);
	r[0] = weft_sleep(10); /* the body: cancelled by the group */
	n[0] = cancelling();
	r[1] = weft_taskgroup_exit(tg, r[0]);
	n[1] = cancelling();
	list_errors(tg);
	b[0] = etasks[0] == f1 && etasks[1] == f2;
	b[1] = weft_future_cancelled(a);
	r[2] = weft_sleep(0);
	weft_taskgroup_free(tg);
	weft_future_unref(a);
	weft_future_unref(f1);
	weft_future_unref(f2);
	return 0;
}

Test(taskgroup, failure_cancels_siblings_and_body, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(failing_main, NULL), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(n[0], 1, "the group cancelled the body");
	cr_assert_eq(r[1], WEFT_EGROUP);
	cr_assert_eq(n[1], 0, "and withdrew it");
	cr_assert_eq(nerr, 2);
	cr_assert_eq(codes[0], -EIO);
	cr_assert_eq(codes[1], -EPIPE);
	cr_assert(b[0]);
	cr_assert_str_eq(msg, "failed after 10 ms");
	cr_assert(b[1]);
	tu_assert_log(&lg, "cancelled");
	cr_assert_eq(r[2], 0);
}

/* test_taskgroup_05-ish: a failure while exit already waits. */
static int fail_in_exit_main(void *arg, void **res)
{
	weft_taskgroup *tg;
	weft_taskgroup_enter(&tg);
	weft_future *a = weft_taskgroup_create_task(tg, sleep_ms, V(10000), NULL);
	weft_future *f = weft_taskgroup_create_task(tg, fail_after_ms, V(10), NULL);
	r[0] = weft_taskgroup_exit(tg, 0);
	n[0] = cancelling();
	list_errors(tg);
	r[1] = weft_sleep(0);
	weft_taskgroup_free(tg);
	weft_future_unref(a);
	weft_future_unref(f);
	return 0;
}

Test(taskgroup, failure_while_exit_waits, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(fail_in_exit_main, NULL), 0);
	cr_assert_eq(r[0], WEFT_EGROUP);
	cr_assert_eq(n[0], 0);
	cr_assert_eq(nerr, 1);
	cr_assert_eq(codes[0], -EIO);
	cr_assert_eq(r[1], 0);
	tu_assert_log(&lg, "cancelled");
}

/* test_taskgroup_06 / test_taskgroup_07: the parent cancelled from
 * outside cancels the members; exit returns -ECANCELED and the count
 * stays (it is not the group's to withdraw). */
static int parent_body(void *arg, void **res)
{
	weft_taskgroup *tg;
	weft_taskgroup_enter(&tg);
	weft_future *a = weft_taskgroup_create_task(tg, sleep_ms, V(10000), NULL);
	weft_future *c = weft_taskgroup_create_task(tg, sleep_ms, V(10000), NULL);
	int rc = (uintptr_t)arg ? weft_sleep(10) : 0; /* in the body, or in exit */
	r[0] = weft_taskgroup_exit(tg, rc);
	n[0] = cancelling();
	b[0] = weft_future_cancelled(a) && weft_future_cancelled(c);
	weft_taskgroup_free(tg);
	weft_future_unref(a);
	weft_future_unref(c);
	return r[0];
}

static int outside_main(void *arg, void **res)
{
	weft_future *p = weft_create_task(parent_body, arg, NULL);
	weft_sleep(0.01);
	weft_cancel(p, NULL);
	r[1] = weft_await(p, NULL);
	weft_future_unref(p);
	return 0;
}

static int run_outside(uintptr_t in_body)
{
	return tu_run_paused(outside_main, V(in_body));
}

Test(taskgroup, outside_cancel_in_body, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(run_outside(1), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(n[0], 1);
	cr_assert(b[0]);
	cr_assert_eq(r[1], -ECANCELED);
	tu_assert_log(&lg, "cancelled cancelled");
}

Test(taskgroup, outside_cancel_in_exit, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(run_outside(0), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(n[0], 1);
	cr_assert(b[0]);
	cr_assert_eq(r[1], -ECANCELED);
}

/* test_taskgroup_15 / test_taskgroup_21: a body failure cancels the
 * members and joins the failures, last, with task NULL. */
static int body_fail_main(void *arg, void **res)
{
	weft_taskgroup *tg;
	weft_taskgroup_enter(&tg);
	weft_future *a = weft_taskgroup_create_task(tg, sleep_ms, V(10000), NULL);
	weft_future *f = weft_taskgroup_create_task(tg, fail_after_ms, V(0), NULL);
	weft_sleep(0.01); /* f has failed: the body is cancelled... */
	r[0] = weft_taskgroup_exit(tg, -ENOENT); /* ...but fails its own way */
	list_errors(tg);
	n[0] = cancelling();
	weft_taskgroup_free(tg);
	weft_future_unref(a);
	weft_future_unref(f);

	weft_taskgroup_enter(&tg);
	a = weft_taskgroup_create_task(tg, sleep_ms, V(10000), NULL);
	r[1] = weft_taskgroup_exit(tg, -EBADF);
	r[2] = (int)weft_taskgroup_errors(tg, &codes[4], &etasks[4], 1);
	b[0] = weft_future_cancelled(a);
	weft_taskgroup_free(tg);
	weft_future_unref(a);
	return 0;
}

Test(taskgroup, body_failure_joins_the_group, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(body_fail_main, NULL), 0);
	cr_assert_eq(r[0], WEFT_EGROUP);
	cr_assert_eq(nerr, 2);
	cr_assert_eq(codes[0], -EIO);
	cr_assert_not_null(etasks[0]);
	cr_assert_eq(codes[1], -ENOENT);
	cr_assert_null(etasks[1]);
	cr_assert_eq(n[0], 0);
	cr_assert_eq(r[1], WEFT_EGROUP);
	cr_assert_eq(r[2], 1);
	cr_assert_eq(codes[4], -EBADF);
	cr_assert_null(etasks[4]);
	cr_assert(b[0], "the body's failure cancelled the member");
}

/* test_taskgroup_23 ("is finished") and the "is shutting down" check of
 * create_task. */
static int refuse_main(void *arg, void **res)
{
	weft_taskgroup *tg;
	weft_taskgroup_enter(&tg);
	weft_future *f = weft_taskgroup_create_task(tg, fail_after_ms, V(0), NULL);
	weft_sleep(0.01); /* f failed: shutting down */
	weft_future *late = weft_taskgroup_create_task(tg, sleep_ms, V(1), NULL);
	r[0] = weft_future_exception(late);
	r[1] = weft_taskgroup_exit(tg, -ECANCELED);
	weft_future *after = weft_taskgroup_create_task(tg, sleep_ms, V(1), NULL);
	r[2] = weft_future_exception(after);
	weft_taskgroup_free(tg);
	weft_future_unref(f);
	weft_future_unref(late);
	weft_future_unref(after);

	weft_taskgroup_enter(&tg);
	r[3] = weft_taskgroup_exit(tg, 0);
	after = weft_taskgroup_create_task(tg, sleep_ms, V(1), NULL);
	r[4] = weft_future_exception(after);
	weft_future_unref(after);
	weft_taskgroup_free(tg);
	return 0;
}

Test(taskgroup, create_task_refused_when_shutting_down_or_finished, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(refuse_main, NULL), 0);
	cr_assert_eq(r[0], -EPERM);
	cr_assert_eq(r[1], WEFT_EGROUP);
	cr_assert_eq(r[2], -EPERM);
	cr_assert_eq(r[3], 0);
	cr_assert_eq(r[4], -EPERM);
}

/* taskgroups.py _aexit's last step (3.13): a cancel from outside, consumed
 * by exit, loses to the failures; it is re-armed so the parent's next
 * suspension point still sees it, and cancelling() stays 1. */
static int fail_when_cancelled(void *arg, void **res)
{
	int rc = weft_sleep(10);
	return rc == -ECANCELED ? -EIO : 0;
}

static int rearm_parent(void *arg, void **res)
{
	weft_taskgroup *tg;
	weft_taskgroup_enter(&tg);
	weft_future *f = weft_taskgroup_create_task(tg, fail_when_cancelled, NULL, NULL);
	r[0] = weft_taskgroup_exit(tg, 0); /* the outside cancel lands here */
	list_errors(tg);
	n[0] = cancelling();
	r[1] = weft_sleep(0);
	r[2] = weft_sleep(0);
	weft_taskgroup_free(tg);
	weft_future_unref(f);
	return 0;
}

static int rearm_main(void *arg, void **res)
{
	weft_future *p = weft_create_task(rearm_parent, NULL, NULL);
	weft_sleep(0.01);
	weft_cancel(p, NULL);
	weft_await(p, NULL);
	weft_future_unref(p);
	return 0;
}

Test(taskgroup, outside_cancel_rearmed_when_failures_win, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(rearm_main, NULL), 0);
	cr_assert_eq(r[0], WEFT_EGROUP);
	cr_assert_eq(nerr, 1);
	cr_assert_eq(codes[0], -EIO);
	cr_assert_eq(n[0], 1);
	cr_assert_eq(r[1], -ECANCELED, "the cancel was re-armed");
	cr_assert_eq(r[2], 0, "and delivered once");
}

/* test_taskgroup_11/12-ish: nested groups on one parent; the inner's
 * failure and its cancel of the parent stay inside the inner group. */
static int nested_main(void *arg, void **res)
{
	weft_taskgroup *outer, *inner;
	weft_taskgroup_enter(&outer);
	weft_future *a = weft_taskgroup_create_task(outer, sleep_ms, V(30), NULL);
	weft_taskgroup_enter(&inner);
	weft_future *f = weft_taskgroup_create_task(inner, fail_after_ms, V(10), NULL);
	weft_future *c = weft_taskgroup_create_task(inner, sleep_ms, V(10000), NULL);
	r[0] = weft_sleep(10);
	r[1] = weft_taskgroup_exit(inner, r[0]);
	n[0] = cancelling();
	r[2] = weft_taskgroup_exit(outer, 0); /* the inner failure was handled */
	b[0] = weft_future_result(a, &v[0]) == 0 && v[0] == V(30);
	b[1] = weft_future_cancelled(c);
	weft_taskgroup_free(inner);
	weft_taskgroup_free(outer);
	weft_future_unref(a);
	weft_future_unref(c);
	weft_future_unref(f);
	return 0;
}

Test(taskgroup, nested_groups, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(nested_main, NULL), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], WEFT_EGROUP);
	cr_assert_eq(n[0], 0);
	cr_assert_eq(r[2], 0);
	cr_assert(b[0], "the outer member was left alone");
	cr_assert(b[1]);
}

/* test_timeouts.py test_timeout_taskgroup: a timeout scope around a
 * group; expiry cancels the members and exit converts it. */
static int tmo_main(void *arg, void **res)
{
	weft_timeout cm;
	weft_timeout_enter_after(&cm, 0.01);
	weft_taskgroup *tg;
	weft_taskgroup_enter(&tg);
	weft_future *a = weft_taskgroup_create_task(tg, sleep_ms, V(10000), NULL);
	r[0] = weft_taskgroup_exit(tg, 0);
	r[1] = weft_timeout_exit(&cm, r[0]);
	b[0] = weft_future_cancelled(a);
	n[0] = cancelling();
	weft_taskgroup_free(tg);
	weft_future_unref(a);
	return 0;
}

Test(taskgroup, inside_a_timeout, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_paused(tmo_main, NULL), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], -ETIMEDOUT);
	cr_assert(b[0]);
	cr_assert_eq(n[0], 0);
}

/* test_taskgroup_without_parent_task, and weft's misuse rules. */
static weft_taskgroup *mis_tg;

static int other_exits(void *arg, void **res)
{
	r[1] = weft_taskgroup_exit(mis_tg, 0);
	return 0;
}

static int misuse_main(void *arg, void **res)
{
	r[0] = weft_taskgroup_enter(NULL);
	weft_taskgroup_enter(&mis_tg);
	weft_future *t = weft_create_task(other_exits, NULL, NULL);
	weft_await(t, NULL);
	weft_future_unref(t);
	r[2] = weft_taskgroup_free(mis_tg);
	weft_future *x = weft_taskgroup_create_task(mis_tg, NULL, NULL, NULL);
	r[3] = weft_future_exception(x);
	weft_future_unref(x);
	x = weft_taskgroup_create_task(NULL, sleep_ms, NULL, NULL);
	r[4] = weft_future_exception(x);
	weft_future_unref(x);
	r[5] = weft_taskgroup_exit(mis_tg, 0);
	r[6] = weft_taskgroup_exit(mis_tg, 0);
	r[7] = weft_taskgroup_exit(NULL, 0);
	r[8] = weft_taskgroup_free(mis_tg);
	r[9] = weft_taskgroup_free(NULL);
	return 0;
}

Test(taskgroup, misuse, .timeout = TEST_TIMEOUT)
{
	reset();
	weft_taskgroup *tg = (weft_taskgroup *)1;
	cr_assert_eq(weft_taskgroup_enter(&tg), -EPERM, "no parent task");
	cr_assert_null(tg);
	cr_assert_eq(tu_run_paused(misuse_main, NULL), 0);
	cr_assert_eq(r[0], -EINVAL);
	cr_assert_eq(r[1], -EPERM, "only the parent exits");
	cr_assert_eq(r[2], -EBUSY, "not exited yet");
	cr_assert_eq(r[3], -EINVAL);
	cr_assert_eq(r[4], -EINVAL);
	cr_assert_eq(r[5], 0);
	cr_assert_eq(r[6], -EPERM, "twice");
	cr_assert_eq(r[7], -EINVAL);
	cr_assert_eq(r[8], 0);
	cr_assert_eq(r[9], 0);
}

/* Several workers: one failure among many members; every other member is
 * cancelled or finished; exactly one error; the parent's count is right. */
#define MANY 100
static int many_main(void *arg, void **res)
{
	static weft_future *t[MANY];
	weft_taskgroup *tg;
	weft_taskgroup_enter(&tg);
	for (int i = 0; i < MANY; i++)
		t[i] = i == MANY / 2 ? weft_taskgroup_create_task(tg, fail_after_ms, V(5), NULL)
				     : weft_taskgroup_create_task(tg, sleep_ms, V(i % 3 ? 10000 : 1),
								  NULL);
	r[0] = weft_taskgroup_exit(tg, 0);
	r[1] = (int)weft_taskgroup_errors(tg, codes, NULL, 8);
	r[2] = 0;
	for (int i = 0; i < MANY; i++) {
		if (!weft_future_done(t[i]))
			r[2]++;
		else if (i % 3 && i != MANY / 2 && !weft_future_cancelled(t[i]))
			r[2]++;
		weft_future_unref(t[i]);
	}
	n[0] = cancelling();
	weft_taskgroup_free(tg);
	return 0;
}

Test(taskgroup, many_members_on_four_workers, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(4, many_main, NULL, NULL), 0);
	cr_assert_eq(r[0], WEFT_EGROUP);
	cr_assert_eq(r[1], 1);
	cr_assert_eq(codes[0], -EIO);
	cr_assert_eq(r[2], 0);
	cr_assert_eq(n[0], 0);
}
