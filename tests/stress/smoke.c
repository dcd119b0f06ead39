/* SPDX-License-Identifier: MIT */
/*
 * Smoke stress: with 1, 2 and 4 workers (home-worker and migratable
 * tasks), a main task creates many tasks that each yield a few times with
 * weft_sleep(0) and return a value; main awaits them all and checks the
 * sum. Exercises spawning, stealing, yields, cross-worker wakes of the
 * awaiting main task, and shutdown, in all three builds.
 */
#include <stdint.h>

#include "harness.h"

#define YIELDS 3

static atomic_long ran; /* tasks whose function returned */

static int leaf(void *arg, void **result)
{
	intptr_t i = (intptr_t)arg;
	for (int k = 0; k < YIELDS; k++) {
		int rc = weft_sleep(0);
		STRESS_CHECK(rc == 0, "weft_sleep(0) -> %s", weft_strerror(rc));
	}
	STRESS_CHECK(weft_current_task() != NULL, "no current task in a task");
	atomic_fetch_add_explicit(&ran, 1, memory_order_relaxed);
	*result = (void *)(i * 2 + 1);
	return 0;
}

struct job {
	long ntasks;
	weft_future **tasks;
};

static int main_task(void *arg, void **result)
{
	struct job *job = arg;
	for (long i = 0; i < job->ntasks; i++) {
		job->tasks[i] = weft_create_task(leaf, (void *)(intptr_t)i, "leaf");
		/* Yield now and then so workers steal while tasks are created. */
		if (i % 997 == 0)
			weft_sleep(0);
	}
	long long sum = 0;
	long failed = 0;
	for (long i = 0; i < job->ntasks; i++) {
		void *r = NULL;
		int rc = weft_await(job->tasks[i], &r);
		if (rc == 0)
			sum += (long long)(intptr_t)r;
		else if (failed++ < 5)
			STRESS_CHECK(rc == 0, "task %ld -> %s", i, weft_strerror(rc));
		weft_future_unref(job->tasks[i]);
	}
	*result = (void *)(intptr_t)(sum == (long long)job->ntasks * job->ntasks && !failed);
	return 0;
}

static void round_with(unsigned workers, bool migratable, long ntasks)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.migratable = migratable;
	weft_runtime *rt = NULL;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));

	struct job job = { .ntasks = ntasks, .tasks = calloc((size_t)ntasks, sizeof(weft_future *)) };
	STRESS_CHECK(job.tasks != NULL, "out of memory");
	if (!job.tasks)
		exit(1);
	atomic_store(&ran, 0);
	void *ok = NULL;
	int rc = weft_runtime_run(rt, main_task, &job, &ok);
	STRESS_CHECK(rc == 0, "%u workers: main -> %s", workers, weft_strerror(rc));
	/* sum of (2i + 1) for i < n is n^2 */
	STRESS_CHECK(ok == (void *)1, "%u workers%s: wrong sum", workers,
		     migratable ? " (migratable)" : "");
	rc = weft_runtime_destroy(rt);
	STRESS_CHECK(rc == 0, "destroy -> %s", weft_strerror(rc));
	STRESS_CHECK(atomic_load(&ran) == ntasks, "%u workers: %ld of %ld tasks ran", workers,
		     atomic_load(&ran), ntasks);
	free(job.tasks);
	printf("%s: %u worker(s)%s: %ld tasks x %d yields ok (%.2f s)\n", stress_name, workers,
	       migratable ? ", migratable" : "", ntasks, YIELDS, stress_elapsed());
}

int main(void)
{
	stress_begin("smoke");
	long n = stress_count(10000);
	static const unsigned workers[] = { 1, 2, 4 };
	for (size_t i = 0; i < sizeof(workers) / sizeof(workers[0]); i++) {
		round_with(workers[i], false, n);
		if (workers[i] > 1)
			round_with(workers[i], true, n);
	}
	return stress_end();
}
