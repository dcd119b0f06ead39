/* SPDX-License-Identifier: MIT */
/* The benchmark harness: timing, repetition, RSS, self-check, output. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <weft/version.h>

#include "common.h"
#include "harness.h"

#ifndef WEFT_BENCH_BUILD
#define WEFT_BENCH_BUILD "unknown"
#endif

#define STR_(x) #x
#define STR(x) STR_(x)
#define WEFT_VERSION_STRING                                                                        \
	STR(WEFT_VERSION_MAJOR) "." STR(WEFT_VERSION_MINOR) "." STR(WEFT_VERSION_PATCH)

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_iter_start(struct bench_iter *it)
{
	it->t0 = bench_now();
}

void bench_iter_stop(struct bench_iter *it)
{
	it->t1 = bench_now();
	it->timed = true;
}

void bench_iter_set_seconds(struct bench_iter *it, double seconds)
{
	it->t0 = 0;
	it->t1 = seconds;
	it->timed = true;
}

void bench_report_figure(struct bench_report *r, double figure)
{
	r->figure = figure;
	r->has_figure = true;
}

void bench_report_metric(struct bench_report *r, const char *key, double value)
{
	if (r->nmetrics >= BENCH_MAX_METRICS)
		return;
	struct bench_metric *m = &r->m[r->nmetrics++];
	snprintf(m->key, sizeof(m->key), "%s", key);
	m->value = value;
}

void bench_iter_fail(struct bench_iter *it, const char *fmt, ...)
{
	if (!it->ok)
		return; /* keep the first reason */
	it->ok = false;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(it->why, sizeof(it->why), fmt, ap);
	va_end(ap);
}

void bench_opts_init(struct bench_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->runs = 1;
	o->run_base = 1;
	o->min_seconds = BENCH_MIN_SECONDS;
	o->timeout = 300;
	o->fork = true;
}

const char bench_opts_help[] =
	"  --runs N         runs of each variant (default 1; tools/bench.sh interleaves)\n"
	"  --run-base N     number of the first run in the output (default 1)\n"
	"  --json FILE      append one JSON line per (workload, variant, run) to FILE\n"
	"  --json-stdout    also print the JSON lines on stdout\n"
	"  --min-time S     measure at least S seconds of work per run (default 0.5)\n"
	"  --timeout S      a run taking longer is killed and reported failed\n"
	"                   (default 300; 0: no limit)\n"
	"  --no-fork        run in this process (for debuggers and profilers;\n"
	"                   rss_kb is then the process's peak so far)\n"
	"  --quick          reduced counts (a smoke run; not a figure to quote)\n";

static int parse_double(const char *opt, const char *s, double *out)
{
	char *end;
	errno = 0;
	double d = s ? strtod(s, &end) : NAN;
	if (!s || errno || *end || !(d >= 0)) {
		fprintf(stderr, "weft_bench: %s needs a number >= 0\n", opt);
		return -1;
	}
	*out = d;
	return 0;
}

static int parse_int(const char *opt, const char *s, int min, int *out)
{
	char *end;
	errno = 0;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || errno || *end || v < min || v > 1000000) {
		fprintf(stderr, "weft_bench: %s needs an integer >= %d\n", opt, min);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int bench_parse_opt(struct bench_opts *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	if (!strcmp(a, "--runs")) {
		if (parse_int(a, val, 1, &o->runs))
			return -1;
	} else if (!strcmp(a, "--run-base")) {
		if (parse_int(a, val, 0, &o->run_base))
			return -1;
	} else if (!strcmp(a, "--json")) {
		if (!val) {
			fprintf(stderr, "weft_bench: --json needs a file name\n");
			return -1;
		}
		o->json = val;
	} else if (!strcmp(a, "--min-time")) {
		if (parse_double(a, val, &o->min_seconds))
			return -1;
	} else if (!strcmp(a, "--timeout")) {
		if (parse_double(a, val, &o->timeout))
			return -1;
	} else if (!strcmp(a, "--no-fork")) {
		o->fork = false;
		return 1;
	} else if (!strcmp(a, "--quick")) {
		o->quick = true;
		return 1;
	} else if (!strcmp(a, "--json-stdout")) {
		o->json_stdout = true;
		return 1;
	} else {
		return 0;
	}
	(*i)++; /* the option's value */
	return 1;
}

/* ---- one run ------------------------------------------------------------ */

/* What a run's child sends back through the pipe. */
struct outcome {
	double ops;
	double seconds;
	long iterations;
	long rss_kb;
	int ok;
	char why[200];
	struct bench_report report;
};

/* The run's figure: the workload's own, else operations per second. */
static double figure_of(const struct outcome *r)
{
	if (r->report.has_figure)
		return r->report.figure;
	return r->seconds > 0 ? r->ops / r->seconds : 0;
}

static long peak_rss_kb(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		return -1;
	return ru.ru_maxrss; /* KiB on Linux */
}

/* Runs iterations until min_seconds of measured work (at least one). */
static void measure(const struct bench_opts *o, const struct bench_variant *v, struct outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->ok = 1;
	if (v->setup) {
		int rc = v->setup(v->ctx, out->why, sizeof(out->why));
		if (rc) {
			out->ok = 0;
			if (!out->why[0])
				snprintf(out->why, sizeof(out->why), "setup failed (%d)", rc);
			if (v->teardown)
				v->teardown(v->ctx); /* releases what setup got */
			out->rss_kb = peak_rss_kb();
			return;
		}
	}
	do {
		struct bench_iter it;
		memset(&it, 0, sizeof(it));
		it.ok = true;
		double t0 = bench_now();
		v->iter(v->ctx, &it);
		double t1 = bench_now();
		if (!it.ok) {
			out->ok = 0;
			snprintf(out->why, sizeof(out->why), "iteration %ld: %s",
				 out->iterations + 1, it.why[0] ? it.why : "self-check failed");
			break;
		}
		out->seconds += it.timed ? it.t1 - it.t0 : t1 - t0;
		out->ops += it.ops;
		out->iterations++;
	} while (out->seconds < o->min_seconds);
	if (out->ok && v->report)
		v->report(v->ctx, &out->report);
	if (v->teardown)
		v->teardown(v->ctx);
	out->rss_kb = peak_rss_kb();
}

/* Runs one run in a child process; a crash or timeout is a failed run. */
static void measure_forked(const struct bench_opts *o, const struct bench_variant *v,
			   struct outcome *out)
{
	memset(out, 0, sizeof(*out));
	int fds[2];
	if (pipe2(fds, O_CLOEXEC)) {
		snprintf(out->why, sizeof(out->why), "pipe: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(out->why, sizeof(out->why), "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		struct outcome res;
		measure(o, v, &res);
		int rc = bench_write_all(fds[1], &res, sizeof(res));
		fflush(NULL);
		_exit(rc ? 1 : 0);
	}
	close(fds[1]);
	size_t got = 0;
	double deadline = o->timeout > 0 ? bench_now() + o->timeout : INFINITY;
	bool timed_out = false;
	for (;;) {
		int wait_ms = -1;
		if (isfinite(deadline)) {
			double left = deadline - bench_now();
			if (left <= 0) {
				timed_out = true;
				break;
			}
			wait_ms = (int)ceil(left * 1000);
		}
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int pr = poll(&pfd, 1, wait_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue; /* the deadline check above decides */
		ssize_t k = read(fds[0], (char *)out + got, sizeof(*out) - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break; /* EOF: the child is gone */
		got += (size_t)k;
		if (got == sizeof(*out))
			break;
	}
	close(fds[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got == sizeof(*out) && !timed_out)
		return; /* the child's own verdict */
	memset(out, 0, sizeof(*out));
	if (timed_out)
		snprintf(out->why, sizeof(out->why), "timed out after %g s (killed)", o->timeout);
	else if (WIFSIGNALED(status))
		snprintf(out->why, sizeof(out->why), "crashed: %s", strsignal(WTERMSIG(status)));
	else
		snprintf(out->why, sizeof(out->why), "exited %d without a result",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* ---- output ------------------------------------------------------------- */

static char *json_line(const struct bench_opts *o, const struct bench_variant *v,
		       const struct outcome *r, int run)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	char when[32];
	bench_utc_now(when, sizeof(when));
	fputs("{\"workload\":", f);
	bench_json_string(f, v->workload);
	fputs(",\"runtime\":\"weft\",\"variant\":", f);
	bench_json_string(f, v->variant);
	fprintf(f, ",\"n\":%.0f,\"seconds\":%.6f,", r->ops, r->seconds);
	if (r->ok && r->report.has_figure)
		fprintf(f, "\"rate\":%.6g", r->report.figure);
	else if (r->ok && r->seconds > 0)
		fprintf(f, "\"rate\":%.1f", r->ops / r->seconds);
	else
		fputs("\"rate\":null", f); /* no rate claim for a failed run */
	fputs(",\"unit\":", f);
	bench_json_string(f, v->unit);
	if (r->rss_kb > 0)
		fprintf(f, ",\"rss_kb\":%ld", r->rss_kb);
	else
		fputs(",\"rss_kb\":null", f); /* the run died before measuring it */
	fprintf(f, ",\"better\":\"%s\"", v->lower_is_better ? "lower" : "higher");
	for (int i = 0; r->ok && i < r->report.nmetrics; i++) {
		fputc(',', f);
		bench_json_string(f, r->report.m[i].key);
		if (isfinite(r->report.m[i].value))
			fprintf(f, ":%.6g", r->report.m[i].value);
		else
			fputs(":null", f);
	}
	fprintf(f, ",\"run\":%d,\"ok\":%s,\"machine\":", run, r->ok ? "true" : "false");
	bench_machine_json(f, bench_cpus_allowed());
	fprintf(f, ",\"workers\":%u,\"iterations\":%ld,\"per_iter\":%.0f,\"min_seconds\":%g",
		v->workers, r->iterations, v->per_iter, o->min_seconds);
	fprintf(f, ",\"quick\":%s,\"forked\":%s,\"build\":", o->quick ? "true" : "false",
		o->fork ? "true" : "false");
	bench_json_string(f, WEFT_BENCH_BUILD);
	fputs(",\"weft_version\":\"" WEFT_VERSION_STRING "\",\"time\":", f);
	bench_json_string(f, when);
	fputs(",\"error\":", f);
	if (r->ok)
		fputs("null", f);
	else
		bench_json_string(f, r->why);
	fputs("}\n", f);
	fclose(f);
	return buf;
}

static void emit_json(const struct bench_opts *o, const char *line)
{
	if (o->json_stdout)
		fputs(line, stdout);
	if (!o->json)
		return;
	if (bench_append_file(o->json, line, strlen(line)))
		fprintf(stderr, "weft_bench: cannot append to %s: %s\n", o->json, strerror(errno));
}

static void human_line(const struct bench_variant *v, const struct outcome *r, int run)
{
	printf("%-12s %-8s %-18s run %-2d ", v->workload, "weft", v->variant, run);
	if (!r->ok) {
		printf("FAILED: %s\n", r->why);
		return;
	}
	char rate[32];
	bench_si(rate, sizeof(rate), figure_of(r));
	printf("%8s %-14s (%.0f in %.3f s, %ld iter, rss %.1f MiB", rate, v->unit, r->ops,
	       r->seconds, r->iterations, (double)r->rss_kb / 1024.0);
	for (int i = 0; i < r->report.nmetrics; i++)
		printf(", %s %.4g", r->report.m[i].key, r->report.m[i].value);
	printf(")\n");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int bench_run(const struct bench_opts *o, const struct bench_variant *v)
{
	int failed = 0, nok = 0;
	double *rates = calloc((size_t)o->runs, sizeof(*rates));
	for (int i = 0; i < o->runs; i++) {
		int run = o->run_base + i;
		struct outcome r;
		if (o->fork)
			measure_forked(o, v, &r);
		else
			measure(o, v, &r);
		human_line(v, &r, run);
		fflush(stdout);
		char *line = json_line(o, v, &r, run);
		if (line) {
			emit_json(o, line);
			free(line);
		}
		if (!r.ok)
			failed++;
		else if (rates && (r.seconds > 0 || r.report.has_figure))
			rates[nok++] = figure_of(&r);
	}
	if (nok > 1) {
		qsort(rates, (size_t)nok, sizeof(*rates), cmp_double);
		double med = nok % 2 ? rates[nok / 2] : (rates[nok / 2 - 1] + rates[nok / 2]) / 2;
		char m[32], lo[32], hi[32];
		bench_si(m, sizeof(m), med);
		bench_si(lo, sizeof(lo), rates[0]);
		bench_si(hi, sizeof(hi), rates[nok - 1]);
		printf("%-12s %-8s %-18s median of %d: %s %s (min %s, max %s)\n", v->workload,
		       "weft", v->variant, nok, m, v->unit, lo, hi);
	}
	free(rates);
	return failed;
}

void bench_not_available(const char *workload, const char *variant, const char *why)
{
	printf("%-12s %-8s %-18s n/a: %s\n", workload, "weft", variant, why);
}
