/* SPDX-License-Identifier: MIT */
/* call_soon / call_later / call_at and handles (weft/call.h). */
#include <criterion/criterion.h>
#include <errno.h>
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
