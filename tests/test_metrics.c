/* SPDX-License-Identifier: MIT */
/* Runtime metrics (weft/metrics.h): the counts add up. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <weft.h>

#include "test_util.h"

#define TIMEOUT (30 * WEFT_TEST_SLOW)
#define WAITERS 100

static struct weft_metrics read_metrics(weft_runtime *rt)
{
	struct weft_metrics m;
	memset(&m, 0xff, sizeof(m));
	m.size = sizeof(m);
	int rc = weft_metrics(rt, &m);
	(void)rc;
	return m;
}

/* What main saw, asserted on the test thread afterwards. */
static struct weft_metrics during, blocked;
static atomic_int started, release_call;
static int io_rc;

static int waiter(void *arg, void **res)
{
	weft_event *ev = arg;
	atomic_fetch_add(&started, 1);
	weft_sleep(0);
	weft_sleep(0);
	return weft_event_wait(ev);
}

static int blocking_call(void *arg, void **res)
{
	while (!atomic_load(&release_call))
		usleep(1000);
	return 0;
}

static int workload(void *arg, void **res)
{
	weft_runtime *rt = weft_current_runtime();
	weft_event *ev;
	if (weft_event_create(&ev))
		return -ENOMEM;
	weft_future *t[WAITERS];
	for (int i = 0; i < WAITERS; i++)
		t[i] = weft_create_task(waiter, ev, NULL);
	while (atomic_load(&started) < WAITERS)
		weft_sleep(0.001);
	during = read_metrics(rt);

	weft_future *call = weft_to_thread(blocking_call, NULL);
	double end = weft_time() + 10 * WEFT_TEST_SLOW;
	do {
		weft_sleep(0.001);
		blocked = read_metrics(rt);
	} while (blocked.blocking_busy < 1 && weft_time() < end);
	atomic_store(&release_call, 1);
	weft_await(call, NULL);
	weft_future_unref(call);

	/* one kernel round trip at least: a write and a read on a pipe */
	int fds[2];
	if (pipe(fds))
		return -errno;
	char c = 'x';
	io_rc = weft_write(fds[1], &c, 1, WEFT_IO_CURRENT);
	if (io_rc == 1)
		io_rc = weft_read(fds[0], &c, 1, WEFT_IO_CURRENT);
	weft_close(fds[0]);
	weft_close(fds[1]);

	weft_event_set(ev);
	for (int i = 0; i < WAITERS; i++) {
		weft_await(t[i], NULL);
		weft_future_unref(t[i]);
	}
	weft_event_destroy(ev);
	return 0;
}

ParameterizedTestParameters(metrics, add_up)
{
	static unsigned workers[] = {1, 2};
	return cr_make_param_array(unsigned, workers, 2);
}

ParameterizedTest(unsigned *workers, metrics, add_up, .timeout = TIMEOUT)
{
	atomic_store(&started, 0);
	atomic_store(&release_call, 0);
	weft_runtime *rt = tu_runtime(*workers);
	struct weft_metrics before = read_metrics(rt);
	cr_assert_eq(before.workers, *workers);
	cr_assert_eq(before.tasks_spawned, 0);
	cr_assert_eq(before.tasks_alive, 0);
	cr_assert_eq(weft_runtime_run(rt, workload, NULL, NULL), 0);
	cr_assert_eq(io_rc, 1);

	/* While main ran: itself and its waiters alive, each on a stack. */
	cr_assert_eq(during.tasks_spawned, during.tasks_completed + during.tasks_alive);
	cr_assert_eq(during.tasks_alive, WAITERS + 1, "alive %llu",
		     (unsigned long long)during.tasks_alive);
	/* how many stacks exist is exact; how they split between the
	 * workers' caches and tasks lags until the workers publish */
	cr_assert_geq(during.stacks_in_use + during.stacks_cached, WAITERS + 1);
	cr_assert_eq(blocked.blocking_busy, 1);

	/* Idle afterwards: the counts settle (workers publish when they park). */
	struct weft_metrics m;
	double end = tu_now() + 10 * WEFT_TEST_SLOW;
	for (;;) {
		m = read_metrics(rt);
		if ((m.tasks_alive == 0 && m.stacks_in_use == 0 &&
		     m.tasks_polled >= m.tasks_spawned + 3 * WAITERS) ||
		    tu_now() > end)
			break;
		tu_nap_ms(1);
	}
	cr_assert_eq(m.size, sizeof(m));
	cr_assert_eq(m.tasks_spawned, WAITERS + 1);
	cr_assert_eq(m.tasks_completed, WAITERS + 1);
	cr_assert_eq(m.tasks_alive, 0);
	cr_assert_eq(m.stacks_in_use, 0);
	/* each waiter: its first run, two yields, the event */
	cr_assert_geq(m.tasks_polled, m.tasks_spawned + 3 * WAITERS, "polled %llu",
		      (unsigned long long)m.tasks_polled);
	cr_assert_geq(m.stacks_cached, WAITERS + 1);
	cr_assert_geq(m.ring_submissions, 2);
	cr_assert_geq(m.ring_completions, 2);
	cr_assert_geq(m.parks, 1);
	cr_assert_geq(m.steal_attempts, m.steals > 0 ? 1 : 0);
	cr_assert_eq(m.inject_depth, 0);
	cr_assert_eq(m.blocking_busy + m.blocking_idle >= 1, true);
	cr_assert_eq(m.blocking_queued, 0);
	if (*workers == 1)
		cr_assert_eq(m.steals + m.lifo_hits + m.steal_attempts, 0);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}

Test(metrics, a_smaller_struct_is_filled_up_to_its_size, .timeout = TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	struct weft_metrics m;
	memset(&m, 0xab, sizeof(m));
	m.size = offsetof(struct weft_metrics, tasks_polled);
	cr_assert_eq(weft_metrics(rt, &m), 0);
	cr_assert_eq(m.workers, 1);
	cr_assert_eq(m.tasks_spawned, 0);
	uint64_t untouched;
	memset(&untouched, 0xab, sizeof(untouched));
	cr_assert_eq(m.tasks_polled, untouched);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}

Test(metrics, bad_arguments_are_einval, .timeout = TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	struct weft_metrics m = {.size = 0};
	cr_assert_eq(weft_metrics(NULL, &m), -EINVAL);
	cr_assert_eq(weft_metrics(rt, NULL), -EINVAL);
	cr_assert_eq(weft_metrics(rt, &m), -EINVAL); /* size not set */
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}

/* A callback is run, not polled. */
static void cb(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

static int callbacks_main(void *arg, void **res)
{
	for (int i = 0; i < 10; i++)
		weft_call_soon(cb, arg, NULL);
	weft_sleep(0.01);
	return 0;
}

Test(metrics, callbacks_are_counted_apart_from_task_steps, .timeout = TIMEOUT)
{
	static atomic_int ran;
	weft_runtime *rt = tu_runtime(1);
	cr_assert_eq(weft_runtime_run(rt, callbacks_main, &ran, NULL), 0);
	struct weft_metrics m;
	double end = tu_now() + 10 * WEFT_TEST_SLOW;
	do {
		tu_nap_ms(1);
		m = read_metrics(rt);
	} while ((m.callbacks_run < 10 || m.tasks_alive) && tu_now() < end);
	cr_assert_eq(atomic_load(&ran), 10);
	cr_assert_geq(m.callbacks_run, 10);
	cr_assert_eq(m.tasks_spawned, 1);
	cr_assert_geq(m.tasks_polled, 2); /* main: its first run, the sleep */
	cr_assert_leq(m.tasks_polled, 3);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}
