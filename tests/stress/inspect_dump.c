/* SPDX-License-Identifier: MIT */
/*
 * weft_dump while the runtime runs: 10,000 tasks suspended three calls
 * deep in an event wait on 2 workers, beside tasks that keep yielding,
 * sleeping and spawning; a foreign thread and a task dump again and again.
 * Checks: every dump lists every waiter, no waiter is resumed before the
 * event is set, nothing crashes (and TSan sees no race: the stacks are
 * read only while the workers are held).
 *
 *   stress_inspect_dump [waiters]   (default 10,000; a quarter under
 *                                    sanitizers)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define DUMPS 4

static atomic_bool released;
static atomic_int early, running_done;
static atomic_bool stop_busy;

static __attribute__((noinline)) int level3(weft_event *ev)
{
	int rc = weft_event_wait(ev);
	__asm__ volatile("" ::: "memory");
	return rc;
}

static __attribute__((noinline)) int level2(weft_event *ev)
{
	int rc = level3(ev);
	__asm__ volatile("" ::: "memory");
	return rc;
}

static __attribute__((noinline)) int level1(weft_event *ev)
{
	int rc = level2(ev);
	__asm__ volatile("" ::: "memory");
	return rc;
}

static int waiter(void *arg, void **res)
{
	int rc = level1(arg);
	if (!atomic_load(&released))
		atomic_fetch_add(&early, 1);
	return rc;
}

static int child(void *arg, void **res)
{
	return weft_sleep(0.0005);
}

/* Work that keeps the workers busy while they are dumped. */
static int busy(void *arg, void **res)
{
	while (!atomic_load(&stop_busy)) {
		weft_future *c = weft_create_task(child, NULL, NULL);
		weft_sleep(0);
		weft_await(c, NULL);
		weft_future_unref(c);
	}
	atomic_fetch_add(&running_done, 1);
	return 0;
}

/* Counts the task header lines of a dump. */
static long tasks_in(const char *buf)
{
	long n = 0;
	for (const char *p = buf; (p = strstr(p, "\ntask ")); p++)
		n++;
	return n;
}

static long dump_count(weft_runtime *rt, long *listed, int *level3_seen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	*listed = weft_dump(rt, f);
	fclose(f);
	long n = tasks_in(buf);
	*level3_seen = strstr(buf, "level3") != NULL;
	free(buf);
	return n;
}

static int dumper_task(void *arg, void **res)
{
	weft_runtime *rt = weft_current_runtime();
	long listed;
	int seen;
	long n = dump_count(rt, &listed, &seen);
	*(long *)arg = n == listed ? n : -1;
	return 0;
}

int main(int argc, char **argv)
{
	stress_begin("inspect_dump");
	long nwait = argc > 1 ? atol(argv[1]) : stress_count(10000);
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 2;
	weft_runtime *rt;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	weft_event *ev;
	STRESS_CHECK(weft_event_create(&ev) == 0, "event");
	weft_future **w = calloc((size_t)nwait, sizeof(*w));
	for (long i = 0; i < nwait; i++)
		w[i] = weft_spawn(rt, waiter, ev, NULL);
	weft_future *b[2] = {weft_spawn(rt, busy, NULL, "busy-0"), weft_spawn(rt, busy, NULL, "busy-1")};
	/* until every waiter has run into its wait */
	struct weft_metrics m = {.size = sizeof(m)};
	for (int i = 0; i < 100000; i++) {
		weft_metrics(rt, &m);
		if (m.tasks_polled >= (uint64_t)nwait)
			break;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}

	int with_frames = 0;
	for (int d = 0; d < DUMPS; d++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		long listed;
		int seen;
		long n = dump_count(rt, &listed, &seen);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		with_frames += seen;
		STRESS_CHECK(listed == n, "weft_dump said %ld, printed %ld", listed, n);
		STRESS_CHECK(n >= nwait, "dump %d listed %ld tasks of %ld waiting", d, n, nwait);
		printf("inspect_dump: dump %d: %ld tasks in %.3f s\n", d, n,
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
	}
	long from_task = 0;
	weft_future *d = weft_spawn(rt, dumper_task, &from_task, "dumper");
	STRESS_CHECK(weft_future_wait(d, 60 * WEFT_TEST_SLOW, NULL) == 0, "the dumping task");
	weft_future_unref(d);
	STRESS_CHECK(from_task >= nwait, "a dump from a task listed %ld", from_task);
	/* a worker busier than the hold's patience can leave a dump without
	 * frames; most must have them */
	STRESS_CHECK(with_frames >= DUMPS / 2, "only %d of %d dumps had backtraces", with_frames,
		     DUMPS);

	atomic_store(&released, true);
	STRESS_CHECK(weft_event_set(ev) == 0, "set");
	for (long i = 0; i < nwait; i++) {
		STRESS_CHECK(weft_future_wait(w[i], 60 * WEFT_TEST_SLOW, NULL) == 0, "waiter %ld", i);
		weft_future_unref(w[i]);
	}
	atomic_store(&stop_busy, true);
	for (int i = 0; i < 2; i++) {
		STRESS_CHECK(weft_future_wait(b[i], 60 * WEFT_TEST_SLOW, NULL) == 0, "busy %d", i);
		weft_future_unref(b[i]);
	}
	STRESS_CHECK(atomic_load(&early) == 0, "%d waiters resumed before the event was set",
		     atomic_load(&early));
	STRESS_CHECK(weft_runtime_destroy(rt) == 0, "destroy");
	weft_event_destroy(ev);
	free(w);
	return stress_end();
}
