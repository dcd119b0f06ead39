/* SPDX-License-Identifier: MIT */
/*
 * Small-stack mode (weft_config.small_stacks) under load, in all three
 * builds (Criterion has the rest, but no TSan): with 1 and 2 workers,
 * home and migratable, many tasks each keep a pattern in a local buffer
 * across suspensions (yields, then one gate they all await at once) and
 * check it afterwards. Two runs per runtime, a pause between them, so
 * the second takes stacks from caches and from a trimmed pool. A broken
 * canary aborts the program ("weft: stack overflow in task ...").
 */
#include <stdint.h>

#include "harness.h"

#define YIELDS 3

struct job {
	long n;
	weft_future *gate;
	atomic_long waiting; /* tasks past their yields */
	atomic_long intact;  /* tasks whose buffer survived */
};

static int holder(void *arg, void **result)
{
	struct job *job = arg;
	volatile unsigned char buf[256];
	unsigned char seed = (unsigned char)((uintptr_t)weft_current_task() >> 6);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(seed ^ i);
	int rc = 0;
	for (int k = 0; k < YIELDS && !rc; k++)
		rc = weft_sleep(0);
	atomic_fetch_add(&job->waiting, 1);
	if (!rc)
		rc = weft_await(job->gate, NULL);
	bool same = true;
	for (size_t i = 0; i < sizeof(buf); i++)
		same &= buf[i] == (unsigned char)(seed ^ i);
	if (!rc && same)
		atomic_fetch_add(&job->intact, 1);
	*result = (void *)1;
	return rc;
}

static int main_task(void *arg, void **result)
{
	struct job *job = arg;
	weft_future **tasks = calloc((size_t)job->n, sizeof(*tasks));
	if (!tasks)
		return -ENOMEM;
	job->gate = weft_future_create(NULL);
	for (long i = 0; i < job->n; i++)
		tasks[i] = weft_create_task(holder, job, NULL);
	while (atomic_load(&job->waiting) < job->n)
		weft_sleep(0);
	weft_sleep(0); /* all of them suspended on the gate at once */
	weft_future_set_result(job->gate, NULL);
	long bad = 0;
	for (long i = 0; i < job->n; i++) {
		void *v = NULL;
		if (weft_await(tasks[i], &v) || v != (void *)1)
			bad++;
		weft_future_unref(tasks[i]);
	}
	weft_future_unref(job->gate);
	free(tasks);
	*result = (void *)(intptr_t)bad;
	return 0;
}

static void round_with(unsigned workers, bool migratable, long n)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.migratable = migratable;
	cfg.small_stacks = true;
	weft_runtime *rt = NULL;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	for (int run = 0; run < 2; run++) {
		struct job job = {.n = n};
		void *bad = (void *)-1;
		int rc = weft_runtime_run(rt, main_task, &job, &bad);
		STRESS_CHECK(rc == 0, "main -> %s", weft_strerror(rc));
		STRESS_CHECK(bad == 0, "%u workers: %ld tasks failed", workers, (long)(intptr_t)bad);
		STRESS_CHECK(atomic_load(&job.intact) == n, "%u workers%s: %ld of %ld buffers intact",
			     workers, migratable ? " (migratable)" : "", atomic_load(&job.intact), n);
		/* idle workers park and trim the pool before the next run */
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
	}
	int rc = weft_runtime_destroy(rt);
	STRESS_CHECK(rc == 0, "destroy -> %s", weft_strerror(rc));
	printf("%s: %u worker(s)%s: 2 x %ld tasks ok (%.2f s)\n", stress_name, workers,
	       migratable ? ", migratable" : "", n, stress_elapsed());
}

int main(void)
{
	stress_begin("small_stacks");
	long n = stress_count(50000);
	round_with(1, false, n);
	round_with(2, false, n);
	round_with(2, true, n);
	return stress_end();
}
