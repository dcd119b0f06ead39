/* SPDX-License-Identifier: MIT */
/*
 * The benchmark harness every workload of bench/ uses (BENCH.md "Rules"):
 *
 *  - a monotonic clock around the workload itself, never process start-up
 *    or runtime creation: the workload brackets what it measures with
 *    bench_iter_start()/bench_iter_stop() (or the harness times the whole
 *    iteration call when it does not);
 *  - repetition inside a run until at least `min_seconds` (0.5 s) of work
 *    has been measured; the figure is total operations / total seconds;
 *  - peak RSS from getrusage(RUSAGE_SELF).ru_maxrss (KiB);
 *  - a self-check: a run whose check fails is reported with ok=false and
 *    no rate;
 *  - output: one human line on stdout and one JSON line per (workload,
 *    variant, run), appended to the --json file.
 *
 * Each run executes in a forked child (unless --no-fork), so its peak RSS
 * is its own, a crash or a hang (timeout) becomes an ok=false line instead
 * of taking the whole suite down, and runtimes never outlive their run.
 */
#ifndef WEFT_BENCH_HARNESS_H
#define WEFT_BENCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#define BENCH_MIN_SECONDS 0.5

/* What one iteration of a workload reports to the harness. */
struct bench_iter {
	double ops;     /* operations done in this iteration (the figure's unit) */
	bool ok;        /* the iteration's self-check passed */
	char why[160];  /* on !ok: what the check found */
	/* Timing, set by bench_iter_start/stop; the harness reads them. */
	double t0, t1;
	bool timed;
};

/* Monotonic seconds (CLOCK_MONOTONIC). Any thread. */
double bench_now(void);

/* Brackets the measured part of an iteration; call both or neither.
 * Callable from any thread (e.g. a weft task). */
void bench_iter_start(struct bench_iter *it);
void bench_iter_stop(struct bench_iter *it);

/* Sets the iteration's measured seconds directly, for a workload that
 * measures several separate phases (instead of bench_iter_start/stop). */
void bench_iter_set_seconds(struct bench_iter *it, double seconds);

/* Marks the iteration failed with a message (printf-style). */
void bench_iter_fail(struct bench_iter *it, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * What a workload may add to its run's record, from its report() hook
 * (called once after the last iteration of a run whose checks passed,
 * before teardown):
 *  - a figure that replaces ops/seconds as the run's "rate" (fib_parallel's
 *    parallel/serial ratio, timers' wall seconds, idle_memory's bytes per
 *    task);
 *  - named metrics, written as extra JSON keys ("p99_us": 812.5) and shown
 *    on the human line.
 */
#define BENCH_MAX_METRICS 8

struct bench_report {
	bool has_figure;
	double figure;
	int nmetrics;
	struct bench_metric {
		char key[24];
		double value;
	} m[BENCH_MAX_METRICS];
};

void bench_report_figure(struct bench_report *r, double figure);
void bench_report_metric(struct bench_report *r, const char *key, double value);

/*
 * A workload variant. setup() runs once per run in the child, before any
 * timing (create the runtime here); iter() runs one iteration; teardown()
 * runs once at the end (destroy the runtime). setup/teardown may be NULL.
 * setup returns 0, or a negative error code (the run is then ok=false with
 * the message it wrote into `why`, cap bytes); teardown runs after a failed
 * setup too, so it must accept a half-done one.
 */
struct bench_variant {
	const char *workload; /* "spawn_many" */
	const char *variant;  /* "workers=2" */
	const char *unit;     /* "tasks/s" */
	bool lower_is_better; /* the figure is a time or a size ("better":"lower") */
	unsigned workers;     /* for the JSON line; 0 when not meaningful */
	double per_iter;      /* operations one iteration does (for the log) */
	void *ctx;
	int (*setup)(void *ctx, char *why, size_t cap);
	void (*iter)(void *ctx, struct bench_iter *it);
	void (*teardown)(void *ctx);
	void (*report)(void *ctx, struct bench_report *r); /* may be NULL */
};

struct bench_opts {
	int runs;           /* runs of each variant (default 1) */
	int run_base;       /* the first run's number in the output (default 1) */
	const char *json;   /* append JSON lines here; NULL: none */
	double min_seconds; /* measured work per run (default 0.5) */
	double timeout;     /* a run's wall-clock limit in s (0: none) */
	bool fork;          /* run each run in a child process (default) */
	bool quick;         /* reduced counts (recorded in the JSON) */
	bool json_stdout;   /* also print the JSON lines on stdout */
};

void bench_opts_init(struct bench_opts *o);

/*
 * Parses the harness's own options at argv[*i] (--runs, --run-base, --json,
 * --min-time, --timeout, --no-fork, --quick, --json-stdout). Returns 1 if
 * it consumed one (advancing *i past its value), 0 if the option is not
 * the harness's, -1 on a bad value (a message is printed).
 */
int bench_parse_opt(struct bench_opts *o, int argc, char **argv, int *i);

/* The options' help text, for the program's usage message. */
extern const char bench_opts_help[];

/* Runs o->runs runs of v, printing and recording each. Returns the number
 * of runs that failed (crash, timeout, self-check). */
int bench_run(const struct bench_opts *o, const struct bench_variant *v);

/* Prints a variant that cannot run yet ("n/a: needs weft_queue"); no JSON
 * line is written: there is no measurement to record. */
void bench_not_available(const char *workload, const char *variant, const char *why);

#endif
