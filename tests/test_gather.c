/* SPDX-License-Identifier: MIT */
/*
 * weft_gather and weft_shield (weft/gather.h), mirroring CPython's
 * Lib/test/test_asyncio/test_tasks.py (FutureGatherTests, the gather
 * tests of BaseTaskTests, and the test_shield_* tests), named above each
 * test. Exact-order tests run on ONE worker, where the order of events is
 * asyncio's.
 */
#include <stdint.h>

#include "test_util.h"

#define V(n) ((void *)(uintptr_t)(n))

/* What the tasks saw, asserted after weft_run returned. */
static int r[16];
static bool b[16];
static void *v[16];
static weft_outcome outs[16];
static char msg[64];
static struct tu_log lg;

static void reset(void)
{
	memset(r, 0x7f, sizeof(r));
	memset(b, 0, sizeof(b));
	memset(v, 0, sizeof(v));
	memset(outs, 0x7f, sizeof(outs));
	msg[0] = '\0';
	tu_log_reset(&lg);
}

static void copy_msg(const weft_future *f)
{
	const char *m = weft_future_message(f);
	snprintf(msg, sizeof(msg), "%s", m ? m : "(null)");
}

static void make(weft_future **f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		f[i] = weft_future_create(NULL);
}

static void drop(weft_future **f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		weft_future_unref(f[i]);
}

static int sleep_then_return_arg(void *arg, void **res)
{
	int rc = weft_sleep(0.01);
	if (rc)
		return rc;
	*res = arg;
	return 0;
}

/* --- gather -------------------------------------------------------------- */

/* FutureGatherTests.test_result_exception_success: results in argument
 * order whatever the completion order; done one round after the last. */
static int order_main(void *arg, void **res)
{
	weft_future *f[3];
	make(f, 3);
	weft_future *g = weft_gather(f, 3, 0);
	weft_future_set_result(f[2], V(3));
	weft_future_set_result(f[0], V(1));
	weft_sleep(0);
	b[0] = weft_future_done(g);
	weft_future_set_result(f[1], V(2));
	b[1] = weft_future_done(g); /* callbacks are scheduled, not run */
	weft_sleep(0);
	b[2] = weft_future_done(g);
	weft_outcome *o = NULL;
	r[0] = weft_await(g, (void **)&o);
	for (int i = 0; i < 3; i++)
		outs[i] = o[i];
	weft_future_unref(g);
	drop(f, 3);
	return 0;
}

Test(gather, results_in_argument_order, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, order_main, NULL, NULL), 0);
	cr_assert_not(b[0]);
	cr_assert_not(b[1], "the gather completes one loop round after its last input");
	cr_assert(b[2]);
	cr_assert_eq(r[0], 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(outs[i].rc, 0);
		cr_assert_eq(outs[i].value, V(i + 1));
	}
}

/* FutureGatherTests.test_one_exception: the first failure fails the
 * gather at once, with its message; the others are not cancelled. */
static int one_exc_main(void *arg, void **res)
{
	weft_future *f[5];
	make(f, 5);
	weft_future *g = weft_gather(f, 5, 0);
	weft_future_set_result(f[0], V(1));
	weft_future_set_exception(f[1], -EIO, "boom");
	weft_future_set_exception(f[3], -EPIPE, NULL); /* later: loses */
	r[0] = weft_await(g, NULL);
	copy_msg(g);
	b[0] = weft_future_done(f[2]) || weft_future_done(f[4]);
	weft_future_set_result(f[2], V(3)); /* completing the rest is harmless */
	weft_future_set_result(f[4], V(5));
	weft_sleep(0);
	r[1] = weft_future_exception(g);
	weft_future_unref(g);
	drop(f, 5);
	return 0;
}

Test(gather, first_failure_fails_it_at_once, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, one_exc_main, NULL, NULL), 0);
	cr_assert_eq(r[0], -EIO);
	cr_assert_str_eq(msg, "boom");
	cr_assert_not(b[0], "the other inputs are neither cancelled nor done");
	cr_assert_eq(r[1], -EIO);
}

/* FutureGatherTests.test_return_exceptions: failures are outcomes. */
static int ret_exc_main(void *arg, void **res)
{
	weft_future *f[4];
	make(f, 4);
	weft_future *g = weft_gather(f, 4, WEFT_RETURN_EXCEPTIONS);
	weft_future_set_exception(f[3], -EPIPE, NULL);
	weft_future_set_result(f[0], V(1));
	weft_future_set_exception(f[1], -EIO, NULL);
	weft_future_set_result(f[2], V(3));
	weft_outcome *o = NULL;
	r[0] = weft_await(g, (void **)&o);
	for (int i = 0; i < 4; i++)
		outs[i] = o[i];
	weft_future_unref(g);
	drop(f, 4);
	return 0;
}

Test(gather, return_exceptions_gives_outcomes, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, ret_exc_main, NULL, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(outs[0].rc, 0);
	cr_assert_eq(outs[0].value, V(1));
	cr_assert_eq(outs[1].rc, -EIO);
	cr_assert_null(outs[1].value);
	cr_assert_eq(outs[2].rc, 0);
	cr_assert_eq(outs[2].value, V(3));
	cr_assert_eq(outs[3].rc, -EPIPE);
}

/* FutureGatherTests.test_one_cancellation: a cancelled input fails the
 * gather with -ECANCELED (weft: the gather ends cancelled); the others run
 * on. */
static int one_cancel_main(void *arg, void **res)
{
	weft_future *f[3];
	make(f, 3);
	weft_future *g = weft_gather(f, 3, 0);
	weft_future_set_result(f[0], V(1));
	weft_cancel(f[1], "child");
	r[0] = weft_await(g, NULL);
	b[0] = weft_future_cancelled(g);
	copy_msg(g);
	b[1] = weft_future_done(f[2]);
	/* A gather and a pending input hold each other (gather.h): complete
	 * the input so both are freed. */
	weft_future_set_result(f[2], NULL);
	weft_sleep(0);
	weft_future_unref(g);
	drop(f, 3);
	return 0;
}

Test(gather, cancelled_input_fails_it, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, one_cancel_main, NULL, NULL), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert(b[0]);
	cr_assert_str_eq(msg, "child");
	cr_assert_not(b[1]);
}

/* FutureGatherTests.test_result_exception_one_cancellation: with
 * return_exceptions a cancelled input is a -ECANCELED outcome. */
static int ret_cancel_main(void *arg, void **res)
{
	weft_future *f[3];
	make(f, 3);
	weft_future *g = weft_gather(f, 3, WEFT_RETURN_EXCEPTIONS);
	weft_future_set_result(f[0], V(1));
	weft_cancel(f[1], NULL);
	weft_future_set_exception(f[2], -EIO, NULL);
	weft_outcome *o = NULL;
	r[0] = weft_await(g, (void **)&o);
	for (int i = 0; i < 3; i++)
		outs[i] = o[i];
	weft_future_unref(g);
	drop(f, 3);
	return 0;
}

Test(gather, return_exceptions_counts_cancelled_as_outcome, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, ret_cancel_main, NULL, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(outs[0].rc, 0);
	cr_assert_eq(outs[1].rc, -ECANCELED);
	cr_assert_eq(outs[2].rc, -EIO);
}

/* FutureGatherTests.test_constructor_empty_sequence: done at once, with
 * an empty result; awaiting it does not suspend. */
static int empty_main(void *arg, void **res)
{
	weft_future *g = weft_gather(NULL, 0, 0);
	b[0] = weft_future_done(g);
	r[0] = weft_await(g, &v[0]);
	weft_future_unref(g);
	return 0;
}

Test(gather, empty_is_done_at_once, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, empty_main, NULL, NULL), 0);
	cr_assert(b[0]);
	cr_assert_eq(r[0], 0);
	cr_assert_not_null(v[0], "an empty result, not NULL");
}

/* test_tasks.py test_cancellation_broadcast (the gather part) and
 * test_cancel_gather_2: cancelling the gather cancels every input not
 * done; it ends -ECANCELED with the message once they are done. */
static int cancel_gather_main(void *arg, void **res)
{
	weft_future *t[3];
	t[0] = weft_create_task(tu_return_arg, V(1), NULL);
	t[1] = weft_create_task(sleep_then_return_arg, V(2), NULL);
	t[2] = weft_create_task(sleep_then_return_arg, V(3), NULL);
	weft_future *g = weft_gather(t, 3, 0);
	weft_sleep(0); /* t0 finishes, t1 and t2 sleep */
	weft_sleep(0);
	b[0] = weft_cancel(g, "stop");
	b[1] = weft_future_done(g); /* waits for its inputs */
	r[0] = weft_await(g, NULL);
	b[2] = weft_future_cancelled(g);
	copy_msg(g);
	r[1] = weft_future_result(t[0], NULL);
	r[2] = weft_future_result(t[1], NULL);
	r[3] = weft_future_result(t[2], NULL);
	b[3] = weft_cancel(g, NULL); /* done: refuses */
	weft_future_unref(g);
	drop(t, 3);
	return 0;
}

Test(gather, cancel_cancels_inputs_not_done, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, cancel_gather_main, NULL, NULL), 0);
	cr_assert(b[0]);
	cr_assert_not(b[1]);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert(b[2]);
	cr_assert_str_eq(msg, "stop");
	cr_assert_eq(r[1], 0, "a done input is left alone");
	cr_assert_eq(r[2], -ECANCELED);
	cr_assert_eq(r[3], -ECANCELED);
	cr_assert_not(b[3]);
}

/* _GatheringFuture: an input that refuses the cancel and succeeds still
 * leaves the gather cancelled (its _cancel_requested), even with
 * return_exceptions (test_tasks.py test_cancel_gather_2's rule). */
static int refuser(void *arg, void **res)
{
	int rc = weft_sleep(0.01); /* the cancel is delivered here */
	tu_log_add(&lg, rc == -ECANCELED ? "refuser-cancelled" : "refuser-slept");
	*res = V(7);
	return 0; /* refuses: succeeds anyway */
}

static int refused_main(void *arg, void **res)
{
	weft_future *t[2];
	t[0] = weft_create_task(refuser, NULL, NULL);
	t[1] = weft_create_task(sleep_then_return_arg, V(2), NULL);
	weft_future *g = weft_gather(t, 2, WEFT_RETURN_EXCEPTIONS);
	weft_sleep(0);
	b[0] = weft_cancel(g, NULL);
	r[0] = weft_await(g, NULL);
	r[1] = weft_future_result(t[0], &v[0]);
	r[2] = weft_future_result(t[1], NULL);
	weft_future_unref(g);
	drop(t, 2);
	return 0;
}

Test(gather, cancelled_gather_ends_cancelled_even_if_inputs_refuse, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, refused_main, NULL, NULL), 0);
	cr_assert(b[0]);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(v[0], V(7));
	cr_assert_eq(r[2], -ECANCELED);
	tu_assert_log(&lg, "refuser-cancelled");
}

/* test_tasks.py test_cancel_gather_1: once every input is done, the
 * gather refuses a cancel even before its callbacks ran, and succeeds. */
static int refuse_done_main(void *arg, void **res)
{
	weft_future *f[2];
	make(f, 2);
	weft_future *g = weft_gather(f, 2, 0);
	weft_future_set_result(f[0], V(1));
	weft_future_set_result(f[1], V(2));
	b[0] = weft_future_done(g);
	b[1] = weft_cancel(g, NULL);
	r[0] = weft_await(g, NULL);
	weft_future_unref(g);
	drop(f, 2);
	return 0;
}

Test(gather, cancel_refused_once_inputs_are_done, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, refuse_done_main, NULL, NULL), 0);
	cr_assert_not(b[0]);
	cr_assert_not(b[1]);
	cr_assert_eq(r[0], 0);
}

/* test_tasks.py test_cancellation_broadcast: cancelling the task that
 * awaits a gather cancels the gather's inputs. */
static weft_future *bc_t[2];

static int broadcast_parent(void *arg, void **res)
{
	weft_future *g = weft_gather(bc_t, 2, 0);
	int rc = weft_await(g, NULL);
	weft_future_unref(g);
	return rc;
}

static int broadcast_main(void *arg, void **res)
{
	bc_t[0] = weft_create_task(sleep_then_return_arg, V(1), NULL);
	bc_t[1] = weft_create_task(sleep_then_return_arg, V(2), NULL);
	weft_future *p = weft_create_task(broadcast_parent, NULL, NULL);
	weft_sleep(0);
	b[0] = weft_cancel(p, NULL);
	r[0] = weft_await(p, NULL);
	r[1] = weft_future_result(bc_t[0], NULL);
	r[2] = weft_future_result(bc_t[1], NULL);
	weft_future_unref(p);
	drop(bc_t, 2);
	return 0;
}

Test(gather, cancelling_the_awaiting_task_cancels_inputs, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, broadcast_main, NULL, NULL), 0);
	cr_assert(b[0]);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], -ECANCELED);
	cr_assert_eq(r[2], -ECANCELED);
}

/* asyncio dedups repeated inputs; weft keeps one outcome per position. */
static int dup_main(void *arg, void **res)
{
	weft_future *f = weft_future_create(NULL);
	weft_future *in[3] = {f, f, f};
	weft_future *g = weft_gather(in, 3, 0);
	weft_future_set_result(f, V(9));
	weft_outcome *o = NULL;
	r[0] = weft_await(g, (void **)&o);
	for (int i = 0; i < 3; i++)
		outs[i] = o[i];
	weft_future_unref(g);
	weft_future_unref(f);
	return 0;
}

Test(gather, repeated_input_gets_an_outcome_per_position, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, dup_main, NULL, NULL), 0);
	cr_assert_eq(r[0], 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(outs[i].value, V(9));
}

/* The caller may drop its references at once: the gather keeps its own. */
static int dropped_main(void *arg, void **res)
{
	weft_future *t[2];
	t[0] = weft_create_task(sleep_then_return_arg, V(1), NULL);
	t[1] = weft_create_task(tu_return_arg, V(2), NULL);
	weft_future *g = weft_gather(t, 2, 0);
	drop(t, 2);
	weft_outcome *o = NULL;
	r[0] = weft_await(g, (void **)&o);
	outs[0] = o[0];
	outs[1] = o[1];
	weft_future_unref(g);
	return 0;
}

Test(gather, keeps_its_inputs_alive, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, dropped_main, NULL, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(outs[0].value, V(1));
	cr_assert_eq(outs[1].value, V(2));
}

/* Misuse: a failed future, never NULL (API.md ownership rule). */
static int misuse_main(void *arg, void **res)
{
	weft_future *f = weft_future_create(NULL);
	weft_future *in[2] = {f, NULL};
	weft_future *g1 = weft_gather(in, 2, 0);
	weft_future *g2 = weft_gather(NULL, 2, 0);
	weft_future *g3 = weft_gather(in, 1, 0x100);
	weft_future *s = weft_shield(NULL);
	r[0] = weft_future_exception(g1);
	r[1] = weft_future_exception(g2);
	r[2] = weft_future_exception(g3);
	r[3] = weft_future_exception(s);
	weft_future_unref(g1);
	weft_future_unref(g2);
	weft_future_unref(g3);
	weft_future_unref(s);
	weft_future_unref(f);
	return 0;
}

Test(gather, misuse_gives_failed_futures, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, misuse_main, NULL, NULL), 0);
	cr_assert_eq(r[0], -EINVAL);
	cr_assert_eq(r[1], -EINVAL);
	cr_assert_eq(r[2], -EINVAL);
	cr_assert_eq(r[3], -EINVAL);
}

/* Many tasks on four workers: every outcome lands in its place. */
#define MANY 200
static int many_main(void *arg, void **res)
{
	static weft_future *t[MANY];
	for (int i = 0; i < MANY; i++)
		t[i] = weft_create_task(i % 3 ? tu_return_arg : sleep_then_return_arg, V(i), NULL);
	weft_future *g = weft_gather(t, MANY, 0);
	weft_outcome *o = NULL;
	r[0] = weft_await(g, (void **)&o);
	int bad = 0;
	for (int i = 0; i < MANY; i++)
		if (o[i].rc != 0 || o[i].value != V(i))
			bad++;
	r[1] = bad;
	weft_future_unref(g);
	drop(t, MANY);
	return 0;
}

Test(gather, many_tasks_on_four_workers, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(4, many_main, NULL, NULL), 0);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(r[1], 0);
}

/* Outside a runtime a gather of futures of a runtime still works. */
Test(gather, from_a_foreign_thread, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *f[2] = {weft_spawn(rt, tu_return_arg, V(1), NULL),
			     weft_spawn(rt, sleep_then_return_arg, V(2), NULL)};
	weft_future *g = weft_gather(f, 2, 0);
	weft_outcome *o = NULL;
	cr_assert_eq(weft_future_wait(g, 5.0 * WEFT_TEST_SLOW, (void **)&o), 0);
	cr_assert_eq(o[0].value, V(1));
	cr_assert_eq(o[1].value, V(2));
	weft_future_unref(g);
	drop(f, 2);
	weft_runtime_destroy(rt);
}

/* --- shield -------------------------------------------------------------- */

/* test_tasks.py test_shield_result / test_shield_exception. */
static int shield_result_main(void *arg, void **res)
{
	weft_future *in[2];
	make(in, 2);
	weft_future *s0 = weft_shield(in[0]);
	weft_future *s1 = weft_shield(in[1]);
	b[0] = s0 != in[0];
	weft_future_set_result(in[0], V(42));
	weft_future_set_exception(in[1], -EIO, "bad");
	r[0] = weft_await(s0, &v[0]);
	r[1] = weft_await(s1, NULL);
	copy_msg(s1);
	weft_future_unref(s0);
	weft_future_unref(s1);
	drop(in, 2);
	return 0;
}

Test(shield, passes_result_and_failure, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, shield_result_main, NULL, NULL), 0);
	cr_assert(b[0]);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(v[0], V(42));
	cr_assert_eq(r[1], -EIO);
	cr_assert_str_eq(msg, "bad");
}

/* test_tasks.py test_shield_cancel_inner: the inner ends cancelled, so
 * does the shield. */
static int shield_inner_main(void *arg, void **res)
{
	weft_future *in = weft_future_create(NULL);
	weft_future *s = weft_shield(in);
	weft_cancel(in, NULL);
	r[0] = weft_await(s, NULL);
	b[0] = weft_future_cancelled(s);
	weft_future_unref(s);
	weft_future_unref(in);
	return 0;
}

Test(shield, cancelled_inner_cancels_it, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, shield_inner_main, NULL, NULL), 0);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert(b[0]);
}

/* test_tasks.py test_shield_cancel_outer: cancelling the shield leaves the
 * inner alone; completing the inner later does not touch the shield. */
static int shield_outer_main(void *arg, void **res)
{
	weft_future *in = weft_future_create(NULL);
	weft_future *s = weft_shield(in);
	b[0] = weft_cancel(s, NULL);
	b[1] = weft_future_cancelled(s);
	b[2] = weft_future_done(in);
	weft_sleep(0); /* the shield's own callback unregisters */
	r[0] = weft_future_set_result(in, V(1));
	weft_sleep(0);
	b[3] = weft_future_cancelled(s);
	weft_future_unref(s);
	weft_future_unref(in);
	return 0;
}

Test(shield, cancelling_it_leaves_the_inner_alone, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, shield_outer_main, NULL, NULL), 0);
	cr_assert(b[0]);
	cr_assert(b[1]);
	cr_assert_not(b[2]);
	cr_assert_eq(r[0], 0);
	cr_assert(b[3]);
}

/* test_tasks.py test_shield_shortcut: a done inner is returned itself. */
static int shortcut_main(void *arg, void **res)
{
	weft_future *in = weft_future_create(NULL);
	weft_future_set_result(in, V(5));
	weft_future *s = weft_shield(in);
	b[0] = s == in;
	weft_future_unref(s);
	weft_future_unref(in);
	return 0;
}

Test(shield, done_inner_is_returned_itself, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, shortcut_main, NULL, NULL), 0);
	cr_assert(b[0]);
}

/* test_tasks.py test_shield_effect: cancelling the task that awaits a
 * shield cancels only the shield; the inner task finishes its work. */
static int inner_work(void *arg, void **res)
{
	int rc = weft_sleep(0.01);
	tu_log_add(&lg, rc ? "inner-cancelled" : "inner-done");
	*res = V(11);
	return rc;
}

static weft_future *eff_inner;

static int shielded_waiter(void *arg, void **res)
{
	weft_future *s = weft_shield(eff_inner);
	int rc = weft_await(s, NULL);
	tu_log_add(&lg, rc == -ECANCELED ? "outer-cancelled" : "outer-done");
	weft_future_unref(s);
	return rc;
}

static int effect_main(void *arg, void **res)
{
	eff_inner = weft_create_task(inner_work, NULL, NULL);
	weft_future *w = weft_create_task(shielded_waiter, NULL, NULL);
	weft_sleep(0);
	b[0] = weft_cancel(w, NULL);
	r[0] = weft_await(w, NULL);
	r[1] = weft_await(eff_inner, &v[0]);
	weft_future_unref(w);
	weft_future_unref(eff_inner);
	return 0;
}

Test(shield, cancelled_awaiter_leaves_inner_running, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, effect_main, NULL, NULL), 0);
	cr_assert(b[0]);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_eq(r[1], 0);
	cr_assert_eq(v[0], V(11));
	tu_assert_log(&lg, "outer-cancelled inner-done");
}

/* test_tasks.py test_gather_shield: cancelling a gather of shields cancels
 * the shields only. */
static int gather_shield_main(void *arg, void **res)
{
	weft_future *in[2];
	make(in, 2);
	weft_future *s[2] = {weft_shield(in[0]), weft_shield(in[1])};
	weft_future *g = weft_gather(s, 2, 0);
	b[0] = weft_cancel(g, NULL);
	r[0] = weft_await(g, NULL);
	b[1] = weft_future_done(in[0]) || weft_future_done(in[1]);
	b[2] = weft_future_cancelled(s[0]) && weft_future_cancelled(s[1]);
	weft_future_set_result(in[0], V(1));
	weft_future_set_result(in[1], V(2));
	weft_sleep(0);
	weft_future_unref(g);
	drop(s, 2);
	drop(in, 2);
	return 0;
}

Test(shield, gather_of_shields, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, gather_shield_main, NULL, NULL), 0);
	cr_assert(b[0]);
	cr_assert_eq(r[0], -ECANCELED);
	cr_assert_not(b[1]);
	cr_assert(b[2]);
}

/* test_tasks.py test_shield_gather: a shield over a gather; cancelling
 * the shield leaves the gather and its inputs running. */
static int shield_gather_main(void *arg, void **res)
{
	weft_future *in[2];
	make(in, 2);
	weft_future *g = weft_gather(in, 2, 0);
	weft_future *s = weft_shield(g);
	b[0] = weft_cancel(s, NULL);
	weft_future_set_result(in[0], V(1));
	weft_future_set_result(in[1], V(2));
	weft_outcome *o = NULL;
	r[0] = weft_await(g, (void **)&o);
	outs[0] = o[0];
	outs[1] = o[1];
	r[1] = weft_await(s, NULL);
	weft_future_unref(s);
	weft_future_unref(g);
	drop(in, 2);
	return 0;
}

Test(shield, shield_of_a_gather, .timeout = TEST_TIMEOUT)
{
	reset();
	cr_assert_eq(tu_run_n(1, shield_gather_main, NULL, NULL), 0);
	cr_assert(b[0]);
	cr_assert_eq(r[0], 0);
	cr_assert_eq(outs[0].value, V(1));
	cr_assert_eq(outs[1].value, V(2));
	cr_assert_eq(r[1], -ECANCELED);
}
