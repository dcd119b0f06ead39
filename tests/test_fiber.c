/* SPDX-License-Identifier: MIT */
/* Fibers: per-task FPU state, stack sizes, guard pages (src/fiber). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft.h>

#include "fiber/sanitizer.h"

static weft_config one_worker(void)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 1;
	return cfg;
}

static int run_or_skip(weft_task_fn fn, void *arg, const weft_config *cfg, void **res)
{
	int rc = weft_run(fn, arg, cfg, res);
	if (rc == WEFT_ENOURING)
		cr_skip_test("io_uring is not available here");
	return rc;
}

/* --- MXCSR and the x87 control word belong to each fiber ------------- */

static int seen_round[2];

static int upward(void *arg, void **res)
{
	fesetround(FE_UPWARD);
	weft_sleep(0); /* the other task runs here, on the same thread */
	seen_round[0] = fegetround();
	return 0;
}

static int observer(void *arg, void **res)
{
	seen_round[1] = fegetround();
	return 0;
}

static int rounding_main(void *arg, void **res)
{
	weft_future *a = weft_create_task(upward, NULL, NULL);
	weft_future *b = weft_create_task(observer, NULL, NULL);
	weft_await(a, NULL);
	weft_await(b, NULL);
	weft_future_unref(a);
	weft_future_unref(b);
	return 0;
}

Test(fiber, rounding_mode_is_per_task, .timeout = 10 * WEFT_TEST_SLOW)
{
	weft_config cfg = one_worker();
	cr_assert_eq(run_or_skip(rounding_main, NULL, &cfg, NULL), 0);
	cr_assert_eq(seen_round[0], FE_UPWARD, "the task kept its own rounding mode");
	cr_assert_eq(seen_round[1], FE_TONEAREST, "another task did not inherit it");
	cr_assert_eq(fegetround(), FE_TONEAREST);
}

/* --- stack size ------------------------------------------------------ */

static int use_stack(void *arg, void **res)
{
	size_t n = (size_t)(uintptr_t)arg;
	volatile char *buf = __builtin_alloca(n);
	for (size_t i = 0; i < n; i += 512)
		buf[i] = (char)i;
	weft_sleep(0); /* the stack survives a switch */
	for (size_t i = 0; i < n; i += 512)
		if (buf[i] != (char)i)
			return -EIO;
	return 0;
}

Test(fiber, configured_stack_size_is_usable, .timeout = 10 * WEFT_TEST_SLOW)
{
	weft_config cfg = one_worker();
	cfg.stack_size = 2 * 1024 * 1024;
	cr_assert_eq(run_or_skip(use_stack, (void *)(uintptr_t)(1024 * 1024), &cfg, NULL), 0);
}

/* --- many suspended fibers hold many stacks --------------------------- */

static int hold(void *arg, void **res)
{
	weft_future *gate = arg;
	return weft_await(gate, NULL);
}

static int many_main(void *arg, void **res)
{
	enum { N = 5000 };
	static weft_future *tasks[N];
	weft_future *gate = weft_future_create(NULL);
	for (int i = 0; i < N; i++)
		tasks[i] = weft_create_task(hold, gate, NULL);
	weft_sleep(0); /* all of them start and suspend, each on its own stack */
	weft_future_set_result(gate, NULL);
	int bad = 0;
	for (int i = 0; i < N; i++) {
		if (weft_await(tasks[i], NULL) != 0)
			bad++;
		weft_future_unref(tasks[i]);
	}
	weft_future_unref(gate);
	*res = (void *)(intptr_t)bad;
	return 0;
}

Test(fiber, thousands_of_suspended_stacks, .timeout = 30 * WEFT_TEST_SLOW)
{
	void *bad = (void *)1;
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 2;
	cr_assert_eq(run_or_skip(many_main, NULL, &cfg, &bad), 0);
	cr_assert_eq((intptr_t)bad, 0);
}

/* --- guard pages ------------------------------------------------------ */

static int __attribute__((noinline)) recurse(volatile char *prev, int depth)
{
	volatile char frame[256];
	frame[0] = prev ? prev[0] : 1;
	if (depth > 100000000) /* never: the guard page stops it long before */
		return 0;
	return recurse(frame, depth + 1) + frame[0];
}

static int deep(void *arg, void **res)
{
	return recurse(NULL, 0);
}

static int overflow_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(deep, NULL, "deep-one");
	weft_await(t, NULL);
	weft_future_unref(t);
	return 0;
}

/* Runs a runtime whose task overflows its stack in a child process;
 * returns the child's wait status and its stderr in buf. */
static int overflow_in_child(enum weft_segv_mode mode, char *buf, size_t cap)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		weft_config cfg = one_worker();
		cfg.segv_handler = mode;
		int rc = weft_run(overflow_main, NULL, &cfg, NULL);
		_exit(rc == WEFT_ENOURING ? 77 : 0);
	}
	close(fds[1]);
	size_t len = 0;
	ssize_t n;
	while (len + 1 < cap && (n = read(fds[0], buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		cr_skip_test("io_uring is not available here");
	return status;
}

Test(fiber, guard_page_hit_names_the_task, .timeout = 30 * WEFT_TEST_SLOW)
{
	static char err[16384];
	int status = overflow_in_child(WEFT_SEGV_AUTO, err, sizeof(err));
	cr_assert(WIFSIGNALED(status), "the process must die, not go on corrupted");
#ifdef WEFT_SANITIZED
	/* The sanitizer owns SIGSEGV and reports the overflow itself. */
	cr_assert(strstr(err, "stack-overflow") || strstr(err, "SEGV"), "stderr: %s", err);
#else
	cr_assert_eq(WTERMSIG(status), SIGABRT, "stderr: %s", err);
	cr_assert_not_null(strstr(err, "weft: stack overflow in task deep-one"), "stderr: %s", err);
#endif
}

Test(fiber, guard_page_without_handler_is_a_plain_segv, .timeout = 30 * WEFT_TEST_SLOW)
{
	static char err[16384];
	int status = overflow_in_child(WEFT_SEGV_NEVER, err, sizeof(err));
	cr_assert(WIFSIGNALED(status));
	cr_assert_null(strstr(err, "weft: stack overflow"));
}
