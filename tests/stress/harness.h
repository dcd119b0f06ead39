/* SPDX-License-Identifier: MIT */
/*
 * The stress programs' harness: plain C (Criterion cannot start under
 * TSan here), one header. A program calls stress_begin(), runs bounded
 * work, checks with STRESS_CHECK, and returns stress_end().
 *
 *   exit 0: passed; 1: a check failed; 77: skipped (no io_uring).
 */
#ifndef WEFT_STRESS_HARNESS_H
#define WEFT_STRESS_HARNESS_H

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft.h>

#ifndef WEFT_TEST_SLOW
#define WEFT_TEST_SLOW 1
#endif

static const char *stress_name = "stress";
static atomic_int stress_failures;
static struct timespec stress_t0;

/* A count scaled down under sanitizers (WEFT_TEST_SLOW > 1: a quarter)
 * and by the environment (WEFT_STRESS_SCALE=0.1 runs a tenth). */
static inline long stress_count(long full)
{
	double scale = WEFT_TEST_SLOW > 1 ? 0.25 : 1.0;
	const char *env = getenv("WEFT_STRESS_SCALE");
	if (env && atof(env) > 0)
		scale *= atof(env);
	long n = (long)((double)full * scale);
	return n > 0 ? n : 1;
}

static inline double stress_elapsed(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - stress_t0.tv_sec) + (double)(t.tv_nsec - stress_t0.tv_nsec) * 1e-9;
}

static inline void stress_begin(const char *name)
{
	stress_name = name;
	clock_gettime(CLOCK_MONOTONIC, &stress_t0);
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Call with a runtime-creation result: a missing io_uring skips loudly. */
static inline void stress_require_runtime(int create_rc)
{
	if (create_rc == WEFT_ENOURING) {
		fprintf(stderr, "%s: SKIP: io_uring is not available here (%s)\n", stress_name,
			weft_strerror(create_rc));
		exit(77);
	}
	if (create_rc) {
		fprintf(stderr, "%s: FAIL: runtime creation: %s\n", stress_name,
			weft_strerror(create_rc));
		exit(1);
	}
}

/* Thread-safe; records a failure and keeps going (workers must not exit). */
#define STRESS_CHECK(cond, ...)                                                                    \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			atomic_fetch_add(&stress_failures, 1);                                     \
			fprintf(stderr, "%s: FAIL %s:%d: %s: ", stress_name, __FILE__, __LINE__,   \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

static inline int stress_end(void)
{
	int f = atomic_load(&stress_failures);
	printf("%s: %s in %.2f s\n", stress_name, f ? "FAILED" : "passed", stress_elapsed());
	return f ? 1 : 0;
}

#endif
