/* SPDX-License-Identifier: MIT */
/*
 * main() for weft's behaviour tests built without Criterion (under
 * ThreadSanitizer: tests/runner/criterion/criterion.h says why). Runs each
 * registered test, and each parameter of a parameterized one, in a child
 * process of its own (a crash, a seccomp filter or an rlimit stays there;
 * this process never starts a thread, so every fork is from a
 * single-threaded parent, as TSan wants), kills it at its timeout, and
 * prints Criterion's summary line.
 *
 *   test_NAME [--filter GLOB] [--verbose] [-jN (ignored)] [--list]
 *
 * GLOB matches "suite/name" (fnmatch). Exit status 0 when nothing failed.
 */
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#ifndef WEFT_TEST_SLOW
#define WEFT_TEST_SLOW 1
#endif

enum { EXIT_SKIP = 77 };

static struct tr_test *registered;
static size_t nregistered;

/* In the child: the test's name, and where reports go (its stderr may be
 * redirected into a file by the test). */
static const char *cur_suite, *cur_name;
static int report_fd = STDERR_FILENO;
static FILE *redirected;

void tr_register(struct tr_test *t)
{
	t->next = registered;
	registered = t;
	nregistered++;
}

static void vreport(const char *tag, const char *fmt, va_list ap)
{
	char msg[4096];
	int n = snprintf(msg, sizeof(msg), "[%s] %s::%s: ", tag, cur_suite, cur_name);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	size_t len = strnlen(msg, sizeof(msg) - 2);
	msg[len++] = '\n';
	(void)!write(report_fd, msg, len);
}

static void report(const char *tag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(tag, fmt, ap);
	va_end(ap);
}

static _Noreturn void fail_with(const char *where, const char *fmt, va_list ap)
{
	char msg[3072];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fflush(NULL);
	report("----", "%s%s%s", where, msg[0] ? ": " : "", msg);
	_exit(1); /* the test ends here, as Criterion's longjmp ends it */
}

void tr_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
	char where[1024];
	snprintf(where, sizeof(where), "%s:%d: Assertion failed: %s", file, line, expr);
	va_list ap;
	va_start(ap, fmt);
	fail_with(where, fmt, ap);
}

void tr_fail_str(const char *file, int line, const char *expr, const char *a, const char *b,
		 const char *fmt, ...)
{
	char where[3072];
	snprintf(where, sizeof(where), "%s:%d: Assertion failed: %s (\"%s\" vs \"%s\")", file,
		 line, expr, a, b);
	va_list ap;
	va_start(ap, fmt);
	fail_with(where, fmt, ap);
}

void tr_skip(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fflush(NULL);
	vreport("SKIP", fmt, ap);
	va_end(ap);
	_exit(EXIT_SKIP);
}

void tr_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("INFO", fmt, ap);
	va_end(ap);
}

void cr_redirect_stderr(void)
{
	fflush(stderr);
	redirected = tmpfile();
	if (!redirected)
		tr_fail(__FILE__, __LINE__, "tmpfile()", "%s", strerror(errno));
	dup2(fileno(redirected), STDERR_FILENO);
}

FILE *cr_get_redirected_stderr(void)
{
	fflush(stderr);
	if (redirected)
		rewind(redirected); /* the offset is shared with fd 2 */
	return redirected;
}

static int by_name(const void *a, const void *b)
{
	const struct tr_test *x = *(struct tr_test *const *)a, *y = *(struct tr_test *const *)b;
	int c = strcmp(x->suite, y->suite);
	return c ? c : strcmp(x->name, y->name);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum outcome { PASSED, FAILED, CRASHED, SKIPPED };

/* Runs one test (param: NULL, or its parameter) in a child process. */
static enum outcome run_one(const struct tr_test *t, void *param, bool verbose, char *label)
{
	double timeout = t->opts.timeout > 0 ? t->opts.timeout : 60.0 * WEFT_TEST_SLOW;
	double t0 = now();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "[FAIL] %s: fork: %s\n", label, strerror(errno));
		return FAILED;
	}
	if (pid == 0) {
		setpgid(0, 0); /* the timeout kills the test's own children too */
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* and so does the runner's end */
		cur_suite = t->suite;
		cur_name = strchr(label, ':') + 2;
		report_fd = dup(STDERR_FILENO);
		if (t->opts.init)
			t->opts.init();
		if (param)
			t->pfn(param);
		else
			t->fn();
		if (t->opts.fini)
			t->opts.fini();
		fflush(NULL);
		_exit(0);
	}
	setpgid(pid, pid);
	int status = 0;
	bool timed_out = false;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			status = 0x7f00; /* unknown: counted as a crash */
			break;
		}
		if (now() - t0 > timeout) {
			timed_out = true;
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		struct timespec nap = {0, 2 * 1000 * 1000};
		nanosleep(&nap, NULL);
	}
	double dt = now() - t0;
	if (timed_out) {
		fprintf(stderr, "[FAIL] %s: Timed out. (%.2fs)\n", label, dt);
		return FAILED;
	}
	if (WIFEXITED(status)) {
		int code = WEXITSTATUS(status);
		if (code == 0) {
			if (verbose)
				fprintf(stderr, "[PASS] %s: (%.2fs)\n", label, dt);
			return PASSED;
		}
		if (code == EXIT_SKIP)
			return SKIPPED; /* the child said why */
		fprintf(stderr, "[FAIL] %s: exit status %d (%.2fs)\n", label, code, dt);
		return FAILED;
	}
	fprintf(stderr, "[FAIL] %s: CRASH! signal %d (%.2fs)\n", label,
		WIFSIGNALED(status) ? WTERMSIG(status) : -1, dt);
	return CRASHED;
}

int main(int argc, char **argv)
{
	const char *filter = NULL;
	bool verbose = false, list = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--filter") && i + 1 < argc)
			filter = argv[++i];
		else if (!strncmp(argv[i], "--filter=", 9))
			filter = argv[i] + 9;
		else if (!strcmp(argv[i], "--verbose"))
			verbose = true;
		else if (!strcmp(argv[i], "--list"))
			list = true;
		else if (strncmp(argv[i], "-j", 2) != 0) {
			fprintf(stderr, "usage: %s [--filter GLOB] [--verbose] [--list]\n", argv[0]);
			return 2;
		}
	}
	struct tr_test **v = calloc(nregistered ? nregistered : 1, sizeof(*v));
	if (!v)
		return 1;
	size_t n = 0;
	for (struct tr_test *t = registered; t; t = t->next)
		v[n++] = t;
	qsort(v, n, sizeof(*v), by_name);
	unsigned counts[4] = {0};
	for (size_t i = 0; i < n; i++) {
		const struct tr_test *t = v[i];
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", t->suite, t->name);
		if (filter && fnmatch(filter, path, 0) != 0)
			continue;
		struct criterion_test_params p = {0, NULL, 1};
		if (t->params)
			p = t->params();
		for (size_t k = 0; k < p.length; k++) {
			char label[300];
			if (t->params)
				snprintf(label, sizeof(label), "%s::%s[%zu]", t->suite, t->name, k);
			else
				snprintf(label, sizeof(label), "%s::%s", t->suite, t->name);
			if (list) {
				printf("%s\n", label);
				continue;
			}
			void *param = t->params ? (char *)p.params + k * p.size : NULL;
			counts[run_one(t, param, verbose, label)]++;
		}
	}
	free(v);
	if (list)
		return 0;
	unsigned ran = counts[PASSED] + counts[FAILED] + counts[CRASHED];
	fprintf(stderr,
		"[====] Synthesis: Tested: %u | Passing: %u | Failing: %u | Crashing: %u | "
		"Skipped: %u\n",
		ran, counts[PASSED], counts[FAILED] + counts[CRASHED], counts[CRASHED],
		counts[SKIPPED]);
	return counts[FAILED] || counts[CRASHED] ? 1 : 0;
}
