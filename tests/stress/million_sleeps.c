/* SPDX-License-Identifier: MIT */
/*
 * A million concurrent timed sleeps (the time issue: "1,000,000 must
 * work"): every task sleeps, none wakes early, all wake, on 2 workers.
 */
#include <stdint.h>
#include <stdlib.h>

#include "harness.h"

#define DELAY 0.2

static _Atomic long early, woke;

static int sleeper(void *arg, void **res)
{
	double t0 = weft_time();
	int rc = weft_sleep(DELAY);
	if (weft_time() - t0 < DELAY)
		atomic_fetch_add(&early, 1);
	atomic_fetch_add(&woke, 1);
	return rc;
}

static int main_task(void *arg, void **res)
{
	long n = (long)(intptr_t)arg, bad = 0;
	weft_future **t = malloc((size_t)n * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (long i = 0; i < n; i++)
		t[i] = weft_create_task(sleeper, NULL, NULL);
	for (long i = 0; i < n; i++) {
		if (weft_await(t[i], NULL) != 0)
			bad++;
		weft_future_unref(t[i]);
	}
	free(t);
	STRESS_CHECK(bad == 0, "%ld sleeps failed", bad);
	return 0;
}

int main(void)
{
	stress_begin("million_sleeps");
	long n = stress_count(1000000);
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 2;
	weft_runtime *rt;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	int rc = weft_runtime_run(rt, main_task, (void *)(intptr_t)n, NULL);
	weft_runtime_destroy(rt);
	STRESS_CHECK(rc == 0, "main: %s", weft_strerror(rc));
	STRESS_CHECK(atomic_load(&woke) == n, "%ld of %ld woke", atomic_load(&woke), n);
	STRESS_CHECK(atomic_load(&early) == 0, "%ld woke early", atomic_load(&early));
	printf("million_sleeps: %ld sleeps of %.1f s\n", n, DELAY);
	return stress_end();
}
