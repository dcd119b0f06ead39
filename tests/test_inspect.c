/* SPDX-License-Identifier: MIT */
/* Task backtraces and dumps (weft/inspect.h). This file is built with
 * debug information (-g, as every test): frames are named from it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft.h>

#include "test_util.h"

#define TIMEOUT (30 * WEFT_TEST_SLOW)

/* Three calls deep, none a tail call (the work after each call keeps its
 * frame), then suspended on an event. */
static __attribute__((noinline)) int deep_level3(weft_event *ev)
{
	int rc = weft_event_wait(ev);
	__asm__ volatile("" ::: "memory");
	return rc + 3;
}

static __attribute__((noinline)) int deep_level2(weft_event *ev)
{
	int rc = deep_level3(ev);
	__asm__ volatile("" ::: "memory");
	return rc + 2;
}

static __attribute__((noinline)) int deep_level1(weft_event *ev)
{
	int rc = deep_level2(ev);
	__asm__ volatile("" ::: "memory");
	return rc + 1;
}

static int deep_task(void *arg, void **res)
{
	int rc = deep_level1(arg);
	return rc == 6 ? 0 : -EPROTO;
}

static char printed[16384];
static int stack_rc, print_rc, own_rc, unstarted_rc, done_rc;
static char own_names[4096];

static void capture(weft_future *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	print_rc = weft_task_print_stack(t, f);
	fclose(f);
	snprintf(printed, sizeof(printed), "%s", buf ? buf : "");
	free(buf);
}

static int never_run(void *arg, void **res)
{
	return 0;
}

static int deep_main(void *arg, void **res)
{
	weft_event *ev;
	if (weft_event_create(&ev))
		return -ENOMEM;
	weft_future *t = weft_create_task(deep_task, ev, "deep");
	weft_sleep(0.01); /* it runs and suspends */
	void *frames[64];
	stack_rc = weft_task_stack(t, frames, 64);
	capture(t);
	weft_future *later = weft_create_task(never_run, NULL, NULL);
	unstarted_rc = weft_task_stack(later, frames, 64); /* not started yet */
	weft_event_set(ev);
	int rc = weft_await(t, NULL);
	done_rc = weft_task_stack(t, frames, 64);
	weft_await(later, NULL);
	weft_future_unref(later);
	weft_future_unref(t);
	weft_event_destroy(ev);
	return rc;
}

Test(inspect, a_suspended_task_shows_the_functions_it_is_suspended_in, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(2, deep_main, NULL, NULL), 0);
	if (stack_rc == -ENOSYS)
		cr_skip_test("SKIP: weft was built without libunwind");
	cr_assert_geq(stack_rc, 4, "%d frames", stack_rc);
	cr_assert_eq(print_rc, 0);
	cr_assert(strstr(printed, "Stack for task deep (waiting on a lock, event"), "%s", printed);
	const char *l3 = strstr(printed, "deep_level3");
	const char *l2 = strstr(printed, "deep_level2");
	const char *l1 = strstr(printed, "deep_level1");
	cr_assert(l3 && l2 && l1, "%s", printed);
	cr_assert(l3 < l2 && l2 < l1, "innermost first:\n%s", printed);
	cr_assert(strstr(printed, "deep_task"), "%s", printed);
#if !defined(__clang__)
	/* gcc's DWARF; clang 14's (DWARF 5, no .debug_aranges) is not found
	 * by elfutils 0.188's dwfl_module_getsrc, so names come alone */
	cr_assert(strstr(printed, "test_inspect.c:"), "file:line from the debug info:\n%s",
		  printed);
#endif
	cr_assert_eq(unstarted_rc, 0);
	cr_assert_eq(done_rc, 0);
}

static __attribute__((noinline)) int own_inner(void)
{
	void *frames[32];
	int n = weft_task_stack(weft_current_task(), frames, 32);
	__asm__ volatile("" ::: "memory");
	own_rc = n;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	weft_task_print_stack(weft_current_task(), f);
	fclose(f);
	snprintf(own_names, sizeof(own_names), "%s", buf ? buf : "");
	free(buf);
	return n;
}

static int own_main(void *arg, void **res)
{
	int n = own_inner();
	__asm__ volatile("" ::: "memory");
	return n >= 0 || n == -ENOSYS ? 0 : n;
}

Test(inspect, the_running_task_reads_its_own_stack, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, own_main, NULL, NULL), 0);
	if (own_rc == -ENOSYS)
		cr_skip_test("SKIP: weft was built without libunwind");
	cr_assert_geq(own_rc, 2);
	cr_assert(strstr(own_names, "(running (the caller)"), "%s", own_names);
	cr_assert(strstr(own_names, "own_inner"), "%s", own_names);
	cr_assert(strstr(own_names, "own_main"), "%s", own_names);
}

static int bad_main(void *arg, void **res)
{
	void *frames[4];
	weft_future *f = weft_future_create(NULL);
	int a = weft_task_stack(NULL, frames, 4);
	int b = weft_task_stack(f, frames, 4);
	int c = weft_task_stack(weft_current_task(), NULL, 4);
	int d = weft_task_stack(weft_current_task(), frames, -1);
	int e = weft_task_print_stack(weft_current_task(), NULL);
	weft_future_unref(f);
	return a == -EINVAL && b == -EINVAL && c == -EINVAL && d == -EINVAL && e == -EINVAL
		       ? 0
		       : -EPROTO;
}

Test(inspect, bad_arguments_are_einval, .timeout = TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, bad_main, NULL, NULL), 0);
	cr_assert_eq(weft_dump(NULL, stderr), -EINVAL);
}

/* A dump from a foreign thread while tasks wait and others run. */
#define WAITERS 1000
static atomic_int early;
static atomic_bool released;

static int dump_waiter(void *arg, void **res)
{
	int rc = deep_level1(arg) - 6;
	if (!atomic_load(&released))
		atomic_fetch_add(&early, 1);
	return rc;
}

static int spinner(void *arg, void **res)
{
	while (!atomic_load(&released))
		weft_sleep(0);
	return 0;
}

Test(inspect, a_dump_lists_every_task_with_its_wait_and_stack, .timeout = TIMEOUT)
{
	atomic_store(&early, 0);
	atomic_store(&released, false);
	weft_config cfg = tu_config(2);
	cfg.debug = true;
	weft_runtime *rt = tu_runtime_cfg(&cfg);
	weft_event *ev;
	cr_assert_eq(weft_event_create(&ev), 0);
	weft_future *t[WAITERS], *s[2];
	for (int i = 0; i < WAITERS; i++)
		t[i] = weft_spawn(rt, dump_waiter, ev, i == 0 ? "first-waiter" : NULL);
	s[0] = weft_spawn(rt, spinner, NULL, "spinner-a");
	s[1] = weft_spawn(rt, spinner, NULL, "spinner-b");
	/* until every waiter is suspended in the event */
	struct weft_metrics m = {.size = sizeof(m)};
	double end = tu_now() + 10 * WEFT_TEST_SLOW;
	do {
		tu_nap_ms(1);
		weft_metrics(rt, &m);
	} while (m.tasks_polled < WAITERS + 2 && tu_now() < end);
	tu_nap_ms(20);

	long n;
	char *buf = tu_dump(rt, &n);
	atomic_store(&released, true);
	cr_assert_eq(weft_event_set(ev), 0);
	for (int i = 0; i < WAITERS; i++) {
		cr_assert_eq(weft_future_wait(t[i], 10 * WEFT_TEST_SLOW, NULL), 0);
		weft_future_unref(t[i]);
	}
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(weft_future_wait(s[i], 10 * WEFT_TEST_SLOW, NULL), 0);
		weft_future_unref(s[i]);
	}
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	weft_event_destroy(ev);

	cr_assert_eq(n, WAITERS + 2, "%ld tasks", n);
	cr_assert_eq(atomic_load(&early), 0);
	cr_assert(strstr(buf, "weft: dump of runtime"), "%.2000s", buf);
	cr_assert(strstr(buf, "\"first-waiter\" [waiting on a lock, event"), "%.2000s", buf);
	cr_assert(strstr(buf, "\"spinner-a\" ["), "%.2000s", buf);
	cr_assert(strstr(buf, "created at "), "debug mode names creation sites:\n%.2000s", buf);
	if (!strstr(buf, "without libunwind")) {
		cr_assert(strstr(buf, "deep_level3"), "%.3000s", buf);
		cr_assert(strstr(buf, "(the same stack as task "), "%.3000s", buf);
	}
	free(buf);
}
