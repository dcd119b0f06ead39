/* SPDX-License-Identifier: MIT */
/*
 * How long weft_subprocess_exec + weft_process_wait of /bin/true take
 * from a small parent and from one with a large resident heap (posix_spawn
 * uses vfork semantics, so the parent's page tables are not copied: the
 * two should be close). Prints the median and p99 of N runs for each.
 *
 *   spawn_latency [N] [MiB]     (defaults: 500 runs, 1024 MiB)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft.h>

static int runs = 500;
static size_t mib = 1024;

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One pass of `runs` spawns; prints its median and p99. */
static int pass(const char *label)
{
	double *t = malloc(sizeof(double) * (size_t)runs);
	if (!t)
		return -1;
	char *const argv[] = {"/bin/true", NULL};
	for (int i = 0; i < runs; i++) {
		double t0 = now_us();
		weft_process *p;
		int rc = weft_subprocess_exec(argv, NULL, &p);
		if (rc) {
			fprintf(stderr, "spawn: %s\n", weft_strerror(rc));
			free(t);
			return rc;
		}
		int ret = -1;
		weft_process_wait(p, &ret);
		weft_process_free(p);
		t[i] = now_us() - t0;
		if (ret != 0) {
			free(t);
			return -1;
		}
	}
	qsort(t, (size_t)runs, sizeof(double), cmp);
	printf("%-22s spawn+wait of /bin/true: median %.0f us, p99 %.0f us (%d runs)\n", label,
	       t[runs / 2], t[runs * 99 / 100], runs);
	free(t);
	return 0;
}

static int main_task(void *arg, void **result)
{
	int rc = pass("small parent");
	if (rc)
		return rc;
	size_t bytes = mib << 20;
	char *big = malloc(bytes);
	if (!big)
		return -1;
	memset(big, 1, bytes); /* resident, and its page tables filled */
	char label[64];
	snprintf(label, sizeof(label), "parent + %zu MiB RSS", mib);
	rc = pass(label);
	free(big);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		runs = atoi(argv[1]);
	if (argc > 2)
		mib = (size_t)atol(argv[2]);
	if (runs < 1)
		runs = 1;
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 1;
	int rc = weft_run(main_task, NULL, &cfg, NULL);
	if (rc) {
		fprintf(stderr, "spawn_latency: %s\n", weft_strerror(rc));
		return 1;
	}
	return 0;
}
