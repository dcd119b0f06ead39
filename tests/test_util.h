/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the Criterion behaviour suites (test_future.c,
 * test_task.c, ...). Everything is static inline so each test file only
 * pays for what it uses.
 *
 * The one rule: cr_assert only on the test's own thread. Task functions
 * and done callbacks run on worker threads; they record what they saw (in
 * plain variables written before the runtime hands the outcome back, or in
 * atomics) and the test asserts once weft_run / weft_future_wait returned.
 */
#ifndef WEFT_TEST_UTIL_H
#define WEFT_TEST_UTIL_H

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft.h>

#ifndef WEFT_TEST_SLOW
#define WEFT_TEST_SLOW 1
#endif

/* Timeout of a test that waits on a runtime. */
#define TEST_TIMEOUT (10 * WEFT_TEST_SLOW)

/*
 * A ParameterizedTestParameters' return: the whole static array `cases`.
 * Each parameter reaches the test's own process as a copy of its bytes, so
 * it must be plain data: a pointer in it (a string literal, a function)
 * does not point at the same thing there. Keep names in char arrays.
 */
#define TU_PARAMS(type, cases) cr_make_param_array(type, cases, sizeof(cases) / sizeof((cases)[0]))

static inline weft_config tu_config(unsigned workers)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	return cfg;
}

/* weft_run, skipping the test loudly when the kernel refuses io_uring. */
static inline int tu_run(weft_task_fn fn, void *arg, const weft_config *cfg, void **res)
{
	int rc = weft_run(fn, arg, cfg, res);
	if (rc == WEFT_ENOURING)
		cr_skip_test("SKIP: io_uring is not available here (%s)", weft_strerror(rc));
	return rc;
}

/* weft_run with `workers` workers. */
static inline int tu_run_n(unsigned workers, weft_task_fn fn, void *arg, void **res)
{
	weft_config cfg = tu_config(workers);
	return tu_run(fn, arg, &cfg, res);
}

/* One worker on a paused clock: asyncio's exact order, instant sleeps. */
static inline int tu_run_paused(weft_task_fn fn, void *arg)
{
	weft_config cfg = tu_config(1);
	cfg.paused_clock = true;
	return tu_run(fn, arg, &cfg, NULL);
}

/* Inside a task: a plain yield (asyncio.sleep(0)). */
static inline void tu_yield(void)
{
	weft_sleep(0);
}

/* Inside a task: a new unnamed task. */
static inline weft_future *tu_spawn(weft_task_fn fn, void *arg)
{
	return weft_create_task(fn, arg, NULL);
}

/* Inside a task: t[i] = a new task running fn((void *)i), for i < n. */
static inline void tu_spawn_n(weft_future **t, int n, weft_task_fn fn)
{
	for (int i = 0; i < n; i++)
		t[i] = tu_spawn(fn, (void *)(uintptr_t)i);
}

/* Inside a task: awaits and releases t[0..n) (NULL entries skipped);
 * returns how many ended with a non-zero rc (failed or cancelled). */
static inline int tu_reap_failed(weft_future **t, int n)
{
	int failed = 0;
	for (int i = 0; i < n; i++) {
		if (t[i]) {
			if (weft_await(t[i], NULL))
				failed++;
			weft_future_unref(t[i]);
			t[i] = NULL;
		}
	}
	return failed;
}

/* Inside a task: awaits and releases t[0..n) (NULL entries skipped). */
static inline void tu_reap(weft_future **t, int n)
{
	(void)tu_reap_failed(t, n);
}

/* Inside a task: runs n copies of fn (the i-th given (void *)i), waits
 * for them all; returns how many failed (all n if n > TU_GATHER_MAX). */
#define TU_GATHER_MAX 16

static inline int tu_gather_n(int n, weft_task_fn fn)
{
	weft_future *t[TU_GATHER_MAX];
	if (n > TU_GATHER_MAX)
		return n;
	tu_spawn_n(t, n, fn);
	return tu_reap_failed(t, n);
}

/* Inside a task: cancels t, waits for its end and drops the handle. */
static inline void tu_cancel_reap(weft_future *t)
{
	weft_cancel(t, NULL);
	weft_await(t, NULL);
	weft_future_unref(t);
}

/* The outcome of a finished task (its rc), or 99 if still pending. */
static inline int tu_outcome(weft_future *f)
{
	return weft_future_done(f) ? weft_future_exception(f) : 99;
}

/* weft_runtime_create, skipping loudly without io_uring, asserting otherwise. */
static inline weft_runtime *tu_runtime_cfg(const weft_config *cfg)
{
	weft_runtime *rt = NULL;
	int rc = weft_runtime_create(cfg, &rt);
	if (rc == WEFT_ENOURING)
		cr_skip_test("SKIP: io_uring is not available here (%s)", weft_strerror(rc));
	cr_assert_eq(rc, 0, "weft_runtime_create: %s", weft_strerror(rc));
	cr_assert_not_null(rt);
	return rt;
}

/* The I/O backend a runtime made with cfg uses (WEFT_BACKEND_IO_URING or
 * WEFT_BACKEND_EPOLL: auto, WEFT_BACKEND and io_uring's availability
 * decide). */
static inline int tu_backend(const weft_config *cfg)
{
	weft_runtime *rt = tu_runtime_cfg(cfg);
	int b = weft_runtime_backend(rt);
	weft_runtime_destroy(rt);
	return b;
}

/* weft_runtime_create with stderr captured into out (NUL-terminated);
 * returns its code. */
static inline int tu_create_capturing_stderr(const weft_config *cfg, weft_runtime **rt, char *out,
					     size_t cap)
{
	fflush(stderr);
	int saved = dup(2);
	FILE *tmp = tmpfile();
	cr_assert_not_null(tmp);
	dup2(fileno(tmp), 2);
	int rc = weft_runtime_create(cfg, rt);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	size_t n = fread(out, 1, cap - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return rc;
}

/*
 * Runs fn() in a child process (for what must kill it: an abort, a
 * signal) with its stderr in buf; returns the child's wait status. A
 * child that exits 77 (io_uring missing) skips the test.
 */
static inline int tu_run_in_child(void (*fn)(void), char *buf, size_t cap)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* never outlive the test, even when fn() hangs */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(TEST_TIMEOUT);
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		fn();
		_exit(0);
	}
	close(fds[1]);
	size_t len = 0;
	ssize_t n;
	while (len + 1 < cap && (n = read(fds[0], buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fds[0]);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		cr_skip_test("SKIP: io_uring is not available here");
	return status;
}

static inline weft_runtime *tu_runtime(unsigned workers)
{
	weft_config cfg = tu_config(workers);
	return tu_runtime_cfg(&cfg);
}

static inline double tu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Inside a task: whole milliseconds of weft_time since t0, rounded. */
static inline int tu_elapsed_ms(double t0)
{
	return (int)((weft_time() - t0) * 1000 + 0.5);
}

static inline void tu_nap_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* weft_dump(rt) into a string the caller frees; its return in *n. */
static inline char *tu_dump(weft_runtime *rt, long *n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	*n = weft_dump(rt, f);
	fclose(f);
	return buf;
}

/* What the test wrote on stderr so far (a test with .init =
 * cr_redirect_stderr); a static buffer. Test thread. */
static inline char *tu_redirected_stderr(void)
{
	static char buf[8192];
	fflush(stderr);
	size_t n = fread(buf, 1, sizeof(buf) - 1, cr_get_redirected_stderr());
	buf[n] = '\0';
	return buf;
}

/* Foreign thread: polls until *flag >= want or `secs` pass; true if reached. */
static inline bool tu_wait_flag(atomic_int *flag, int want, double secs)
{
	double end = tu_now() + secs;
	while (atomic_load(flag) < want) {
		if (tu_now() > end)
			return false;
		tu_nap_ms(1);
	}
	return true;
}

/*
 * An event log: tasks and callbacks append names, the test compares the
 * whole sequence as one string ("A1 B1 C1"), so a failure shows both.
 */
#define TU_LOG_MAX 128

struct tu_log {
	atomic_int n;    /* slots taken */
	atomic_int done; /* entries written: a reader that sees done == k
	                  * sees all k (each add's increment follows its write) */
	const char *ev[TU_LOG_MAX];
};

static inline void tu_log_add(struct tu_log *l, const char *ev)
{
	int i = atomic_fetch_add(&l->n, 1);
	if (i < TU_LOG_MAX)
		l->ev[i] = ev;
	atomic_fetch_add(&l->done, 1);
}

/* Entries written so far. */
static inline int tu_log_len(struct tu_log *l)
{
	return atomic_load(&l->done);
}

/* Empties the log (no add may be running). */
static inline void tu_log_reset(struct tu_log *l)
{
	atomic_store(&l->n, 0);
	atomic_store(&l->done, 0);
}

/* Joins the log with spaces into buf (static per call site is fine). */
static inline const char *tu_log_str(struct tu_log *l, char *buf, size_t cap)
{
	size_t off = 0;
	int n = atomic_load(&l->done);
	buf[0] = '\0';
	for (int i = 0; i < n && i < TU_LOG_MAX; i++) {
		int k = snprintf(buf + off, cap - off, "%s%s", i ? " " : "", l->ev[i]);
		if (k < 0 || (size_t)k >= cap - off)
			break;
		off += (size_t)k;
	}
	return buf;
}

#define tu_assert_log(l, expected)                                                                 \
	do {                                                                                       \
		char tu_buf_[2048];                                                                \
		cr_assert_str_eq(tu_log_str((l), tu_buf_, sizeof(tu_buf_)), (expected));           \
	} while (0)

/* A task function that returns its arg as its result. */
static inline int tu_return_arg(void *arg, void **res)
{
	*res = arg;
	return 0;
}

#endif
