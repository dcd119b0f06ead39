/* SPDX-License-Identifier: MIT */
/* Debug mode's reports: "never retrieved" failures, tasks cancelled by
 * shutdown. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <string.h>

#include <weft.h>

#include "test_util.h"

#define TIMEOUT (20 * WEFT_TEST_SLOW)

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static int fails(void *arg, void **res)
{
	return weft_fail(-EIO, "disk on fire");
}

static int cancelled_self(void *arg, void **res)
{
	return -ECANCELED;
}

/* Spawns a task that fails; `read` says whether its outcome is read. */
static int drop_main(void *arg, void **res)
{
	bool read = arg != NULL;
	weft_future *t = weft_create_task(fails, NULL, "doomed");
	if (read) {
		int rc = weft_await(t, NULL);
		if (rc != -EIO)
			return -EPROTO;
	} else {
		weft_sleep(0.01); /* done, and never read */
	}
	weft_future_unref(t);
	weft_future *c = weft_create_task(cancelled_self, NULL, "cancelled");
	weft_sleep(0.01);
	weft_future_unref(c); /* a cancellation is no failure: never reported */
	weft_future *f = weft_future_create(NULL);
	weft_future_set_exception(f, -ENOSPC, "full");
	if (read)
		weft_future_exception(f);
	weft_future_unref(f);
	return 0;
}

static int run_debug(unsigned workers, weft_task_fn fn, void *arg)
{
	weft_config cfg = tu_config(workers);
	cfg.debug = true;
	return tu_run(fn, arg, &cfg, NULL);
}

Test(debug, a_failure_never_retrieved_is_reported_once, .init = cr_redirect_stderr,
     .timeout = TIMEOUT)
{
	cr_assert_eq(run_debug(1, drop_main, NULL), 0);
	char *err = tu_redirected_stderr();
	cr_assert_eq(count(err, "never retrieved"), 2, "%s", err);
	cr_assert_eq(count(err, "task \"doomed\" failed with -5"), 1, "%s", err);
	cr_assert(strstr(err, "\"disk on fire\""), "%s", err);
	cr_assert(strstr(err, "created at "), "%s", err);
	cr_assert_eq(count(err, "future failed with -28"), 1, "%s", err);
	cr_assert(strstr(err, "\"full\""), "%s", err);
	cr_assert_null(strstr(err, "cancelled\""), "%s", err);
}

Test(debug, a_retrieved_failure_is_never_reported, .init = cr_redirect_stderr,
     .timeout = TIMEOUT)
{
	cr_assert_eq(run_debug(2, drop_main, (void *)1), 0);
	char *err = tu_redirected_stderr();
	cr_assert_null(strstr(err, "never retrieved"), "%s", err);
}

Test(debug, nothing_is_reported_without_debug_mode, .init = cr_redirect_stderr,
     .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, drop_main, NULL, NULL), 0);
	cr_assert_str_eq(tu_redirected_stderr(), "");
}

/* The handle is dropped while the task runs: the runtime's reference is
 * the last, dropped when the task is retired. */
static int drop_early_main(void *arg, void **res)
{
	weft_future_unref(weft_create_task(fails, NULL, "orphan"));
	weft_sleep(0.01);
	return 0;
}

Test(debug, a_task_dropped_before_it_failed_is_reported_at_its_end,
     .init = cr_redirect_stderr, .timeout = TIMEOUT)
{
	cr_assert_eq(run_debug(2, drop_early_main, NULL), 0);
	char *err = tu_redirected_stderr();
	cr_assert_eq(count(err, "task \"orphan\" failed with -5"), 1, "%s", err);
}

static int forever(void *arg, void **res)
{
	return weft_sleep(3600);
}

static int leave_pending_main(void *arg, void **res)
{
	weft_future_unref(weft_create_task(forever, NULL, "sleeper"));
	weft_sleep(0.01);
	return 0;
}

Test(debug, shutdown_reports_the_tasks_it_cancels, .init = cr_redirect_stderr,
     .timeout = TIMEOUT)
{
	cr_assert_eq(run_debug(1, leave_pending_main, NULL), 0);
	char *err = tu_redirected_stderr();
	cr_assert_eq(count(err, "runtime shutdown cancels task sleeper, still pending"), 1, "%s",
		     err);
	cr_assert_null(strstr(err, "never retrieved"), "%s", err);
}
