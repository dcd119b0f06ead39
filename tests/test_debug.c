/* SPDX-License-Identifier: MIT */
/* Debug mode's reports: "never retrieved" failures, tasks cancelled by
 * shutdown. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* ---- the watchdog and the dump signal: stderr into a file this test
 * reads while the runtime runs ---- */

static int cap_fd = -1, saved_fd = -1;

static void capture_begin(void)
{
	fflush(stderr);
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	cap_fd = dup(fileno(f));
	fclose(f);
	saved_fd = dup(2);
	dup2(cap_fd, 2);
}

/* What was written so far (a static buffer). Any thread. */
static const char *captured(void)
{
	static char buf[65536];
	ssize_t n = pread(cap_fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void capture_end(void)
{
	fflush(stderr);
	dup2(saved_fd, 2);
	close(saved_fd);
}

static atomic_int named_while_running;

static __attribute__((noinline)) void spin_until_named(void)
{
	/* Spins without suspending until the watchdog's report names it
	 * (or 30 s pass). The nanosleep is a blocking call on the worker, the
	 * kind the watchdog exists for; it also lets TSan run the signal's
	 * handler, which it does only inside its interceptors. */
	double end = tu_now() + 30 * WEFT_TEST_SLOW;
	while (tu_now() < end) {
		if (strstr(captured(), "watchdog: task stuck-one has kept worker")) {
			atomic_store(&named_while_running, 1);
			break;
		}
		struct timespec ts = {0, 200000};
		nanosleep(&ts, NULL);
	}
	__asm__ volatile("" ::: "memory");
}

static int stuck(void *arg, void **res)
{
	spin_until_named();
	return 0;
}

static int stuck_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(stuck, NULL, "stuck-one");
	int rc = weft_await(t, NULL);
	weft_future_unref(t);
	return rc;
}

Test(debug, the_watchdog_names_a_stuck_task_while_it_runs, .timeout = 60 * WEFT_TEST_SLOW)
{
	atomic_store(&named_while_running, 0);
	capture_begin();
	weft_config cfg = tu_config(2);
	cfg.debug = true;
	cfg.slow_step = 0.1;
	int rc = tu_run(stuck_main, NULL, &cfg, NULL);
	const char *err = captured();
	capture_end();
	cr_assert_eq(rc, 0);
	cr_assert_eq(atomic_load(&named_while_running), 1, "%s", err);
	cr_assert_eq(count(err, "watchdog: task stuck-one has kept worker"), 1, "once:\n%s", err);
	/* its backtrace at that moment */
	cr_assert(strstr(err, "spin_until_named"), "%s", err);
	/* and the report after the fact, when the step ended */
	cr_assert(strstr(err, "weft: task stuck-one ran "), "%s", err);
}

static int raise_main(void *arg, void **res)
{
	raise(SIGUSR1);
	double end = weft_time() + 30 * WEFT_TEST_SLOW;
	/* until the monitor thread has dumped (this task waits in a sleep) */
	while (!strstr(captured(), "task 1 \"main\" [") && weft_time() < end)
		weft_sleep(0.005);
	return 0;
}

Test(debug, a_dump_signal_dumps_every_task, .timeout = 60 * WEFT_TEST_SLOW)
{
	struct sigaction before, after;
	sigaction(SIGUSR1, NULL, &before);
	capture_begin();
	weft_config cfg = tu_config(1);
	cfg.dump_signal = SIGUSR1;
	int rc = tu_run(raise_main, NULL, &cfg, NULL);
	const char *err = captured();
	capture_end();
	cr_assert_eq(rc, 0);
	cr_assert(strstr(err, "weft: dump of runtime"), "%s", err);
	cr_assert(strstr(err, "task 1 \"main\" [waiting on a sleep due in"), "%s", err);
	sigaction(SIGUSR1, NULL, &after);
	cr_assert(after.sa_handler == before.sa_handler, "the handler before is back");
}

Test(debug, bad_dump_signals_and_slow_steps_are_einval, .timeout = TIMEOUT)
{
	weft_runtime *rt;
	weft_config cfg = tu_config(1);
	cfg.dump_signal = SIGKILL;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	cfg.dump_signal = SIGURG;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	cfg.dump_signal = 0;
	cfg.slow_step = -1;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
}

/* A dump while a worker is stuck in a step: that worker cannot be held,
 * so the dump samples it with the watchdog's signal. */
static atomic_int stuck_started, stuck_release;

static __attribute__((noinline)) void stuck_in_place(void)
{
	atomic_store(&stuck_started, 1);
	double end = tu_now() + 30 * WEFT_TEST_SLOW;
	while (!atomic_load(&stuck_release) && tu_now() < end) {
		struct timespec ts = {0, 200000};
		nanosleep(&ts, NULL); /* blocking, on purpose */
	}
	__asm__ volatile("" ::: "memory");
}

static int stuck_two(void *arg, void **res)
{
	stuck_in_place();
	return 0;
}

Test(debug, a_dump_samples_a_worker_stuck_in_a_step, .timeout = 60 * WEFT_TEST_SLOW)
{
	atomic_store(&stuck_started, 0);
	atomic_store(&stuck_release, 0);
	weft_config cfg = tu_config(2);
	cfg.debug = true;
	cfg.slow_step = 60; /* the watchdog stays quiet: the dump samples */
	weft_runtime *rt = tu_runtime_cfg(&cfg);
	weft_future *t = weft_spawn(rt, stuck_two, NULL, "stuck-two");
	double end = tu_now() + 10 * WEFT_TEST_SLOW;
	while (!atomic_load(&stuck_started) && tu_now() < end)
		tu_nap_ms(1);
	long n;
	char *buf = tu_dump(rt, &n);
	atomic_store(&stuck_release, 1);
	cr_assert_eq(weft_future_wait(t, 30 * WEFT_TEST_SLOW, NULL), 0);
	weft_future_unref(t);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	cr_assert_geq(n, 1);
	cr_assert(strstr(buf, "did not stop"), "%s", buf);
	cr_assert(strstr(buf, "runs task stuck-two for"), "%s", buf);
	cr_assert(strstr(buf, "stuck_in_place"), "%s", buf);
	free(buf);
}
