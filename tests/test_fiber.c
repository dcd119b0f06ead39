/* SPDX-License-Identifier: MIT */
/* Fibers: per-task FPU state, stack sizes, guard pages, small-stack mode
 * (src/fiber). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fenv.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft.h>

#include "core/task.h"
#include "fiber/sanitizer.h"
#include "fiber/stack.h"
#include "test_util.h"

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

/* Runs weft_run(fn, arg, cfg) in a child process (tu_run_in_child);
 * returns the child's wait status and its stderr in buf. */
static struct {
	weft_task_fn fn;
	void *arg;
	const weft_config *cfg;
} child;

static void child_run(void)
{
	int rc = weft_run(child.fn, child.arg, child.cfg, NULL);
	_exit(rc == WEFT_ENOURING ? 77 : 0);
}

static int run_in_child(weft_task_fn fn, void *arg, const weft_config *cfg, char *buf,
			size_t cap)
{
	child.fn = fn;
	child.arg = arg;
	child.cfg = cfg;
	return tu_run_in_child(child_run, buf, cap);
}

/* The child was killed by its fault. TSan reports a deadly signal and
 * exits with its exitcode (66) instead of dying by the signal. */
static bool died(int status)
{
#ifdef WEFT_TSAN_ON
	if (WIFEXITED(status) && WEXITSTATUS(status) == 66)
		return true;
#endif
	return WIFSIGNALED(status);
}

/* A runtime whose task overflows its stack, in a child process. */
static int overflow_in_child(enum weft_segv_mode mode, char *buf, size_t cap)
{
	weft_config cfg = one_worker();
	cfg.segv_handler = mode;
	return run_in_child(overflow_main, NULL, &cfg, buf, cap);
}

Test(fiber, guard_page_hit_names_the_task, .timeout = 30 * WEFT_TEST_SLOW)
{
	static char err[16384];
	int status = overflow_in_child(WEFT_SEGV_AUTO, err, sizeof(err));
	cr_assert(died(status), "the process must die, not go on corrupted");
#ifdef WEFT_SANITIZED
	/* The sanitizer owns SIGSEGV and reports the overflow itself. */
	cr_assert(strstr(err, "stack-overflow") || strstr(err, "SEGV"), "stderr: %s", err);
#else
	cr_assert_eq(WTERMSIG(status), SIGABRT, "stderr: %s", err);
	cr_assert_not_null(strstr(err, "weft: stack overflow in task deep-one"), "stderr: %s", err);
	/* and what to do about it */
	cr_assert(strstr(err, "stack_size") && strstr(err, "weft_to_thread"), "stderr: %s", err);
#endif
}

Test(fiber, guard_page_without_handler_is_a_plain_segv, .timeout = 30 * WEFT_TEST_SLOW)
{
	static char err[16384];
	int status = overflow_in_child(WEFT_SEGV_NEVER, err, sizeof(err));
	cr_assert(died(status));
	cr_assert_null(strstr(err, "weft: stack overflow"));
}

/* --- frames that jump the guard, writes into another task's guard ------ */

enum { BIG_FRAME = 200 * 1024 }; /* over three times a default stack */

/* gcc sets stack-clash protection per function; clang only per file */
#ifdef __clang__
#define CLASH_PROTECTION(on)
#else
#define CLASH_PROTECTION(on) __attribute__((optimize(on)))
#endif

/* Writes the far (low) end of a 200 KiB frame first, as code built
 * without -fstack-clash-protection may: the stack pointer leaves the
 * 64 KiB stack and its guard in one step. */
static int __attribute__((noinline)) CLASH_PROTECTION("no-stack-clash-protection")
big_frame(void *arg, void **res)
{
	volatile char *p = __builtin_alloca(BIG_FRAME);
	p[0] = 1;
	p[BIG_FRAME - 1] = 2;
	return p[0] + p[BIG_FRAME - 1] - 3;
}

/* The same frame built with -fstack-clash-protection: probed a page at a
 * time from the top, so the first fault is in its own guard. */
static int __attribute__((noinline)) CLASH_PROTECTION("stack-clash-protection")
big_frame_probed(void *arg, void **res)
{
	volatile char *p = __builtin_alloca(BIG_FRAME);
	p[0] = 1;
	p[BIG_FRAME - 1] = 2;
	return p[0] + p[BIG_FRAME - 1] - 3;
}

static int run_named(void *arg, void **res)
{
	const char *name = arg;
	weft_task_fn fn = strcmp(name, "big-frame") == 0 ? big_frame : big_frame_probed;
	weft_future *t = weft_create_task(fn, NULL, name);
	weft_await(t, NULL);
	weft_future_unref(t);
	return 0;
}

/* A frame larger than the guard used to be a bare SIGSEGV (or silent
 * corruption of a neighbour's stack): the handler sees the interrupted
 * stack pointer outside the running task's stack and names the task. */
Test(fiber, frame_jumping_the_guard_names_the_task, .timeout = 30 * WEFT_TEST_SLOW)
{
#ifdef WEFT_SANITIZED
	cr_skip_test("SKIP: the sanitizer owns SIGSEGV (guard_page_hit_names_the_task covers it)");
#endif
	static char err[16384];
	weft_config cfg = one_worker();
	int status = run_in_child(run_named, "big-frame", &cfg, err, sizeof(err));
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x, stderr: %s",
		  status, err);
	cr_assert_not_null(strstr(err, "weft: stack overflow in task big-frame"), "stderr: %s", err);
	cr_assert_not_null(strstr(err, "-fstack-clash-protection"), "stderr: %s", err);
}

Test(fiber, probed_frame_hits_its_own_guard, .timeout = 30 * WEFT_TEST_SLOW)
{
#ifdef WEFT_SANITIZED
	cr_skip_test("SKIP: the sanitizer owns SIGSEGV");
#endif
#ifdef __clang__
	cr_skip_test("SKIP: clang cannot turn stack-clash protection on for one function");
#endif
	static char err[16384];
	weft_config cfg = one_worker();
	int status = run_in_child(run_named, "probed", &cfg, err, sizeof(err));
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x, stderr: %s",
		  status, err);
	cr_assert_not_null(strstr(err, "weft: stack overflow in task probed; to fix"), "stderr: %s", err);
}

/* The guard below a default stack is 64 KiB (it was one page): a frame up
 * to that size that writes its far end first faults in it instead of
 * landing in the stack below, another task's. */
Test(fiber, default_guard_is_64_kib, .timeout = 30 * WEFT_TEST_SLOW)
{
	struct weft__stack_pool pool;
	struct weft__stack_cache cache = {0};
	cr_assert_eq(weft__stack_pool_init(&pool, 0, false), 0);
	cr_assert_geq(pool.guard, 64 * 1024);
	struct weft__stack *a = weft__stack_get(&pool, &cache);
	struct weft__stack *b = weft__stack_get(&pool, &cache);
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	char *lo = a->lo;
	cr_assert_eq(weft__stack_guard_of(&pool, lo - 1), a);
	cr_assert_eq(weft__stack_guard_of(&pool, lo - 60 * 1024), a);
	cr_assert_eq(weft__stack_guard_of(&pool, (char *)b->lo - 64 * 1024), b);
	cr_assert_null(weft__stack_guard_of(&pool, lo), "the stack itself is no guard");
	cr_assert_null(weft__stack_guard_of(&pool, lo + pool.size - 1));
	cr_assert_null(weft__stack_guard_of(&pool, &pool), "not in any chunk");
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		((volatile char *)lo)[-60 * 1024] = 1; /* 60 KiB below the stack */
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
#ifdef WEFT_SANITIZED /* the sanitizer reports the SIGSEGV and ends the child */
	cr_assert(died(status), "status %#x", status);
#else
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "status %#x", status);
#endif
	weft__stack_put(&pool, &cache, a);
	weft__stack_put(&pool, &cache, b);
	weft__stack_cache_flush(&pool, &cache);
	weft__stack_pool_destroy(&pool);
}

static void *volatile victim_guard;

/* Publishes where its stack's guard is, then waits (suspended). */
static int guard_victim(void *arg, void **res)
{
	struct weft__task *me = (struct weft__task *)weft_current_task();
	victim_guard = me->st.fiber.stack->guard;
	return weft_await(arg, NULL);
}

static int guard_vandal(void *arg, void **res)
{
	((volatile char *)victim_guard)[100] = 1;
	return 0;
}

static int vandal_main(void *arg, void **res)
{
	weft_future *gate = weft_future_create(NULL);
	weft_future *v = weft_create_task(guard_victim, gate, "victim");
	weft_sleep(0); /* the victim runs and suspends */
	weft_future *w = weft_create_task(guard_vandal, NULL, "vandal");
	weft_await(w, NULL);
	weft_future_set_result(gate, NULL);
	weft_await(v, NULL);
	weft_future_unref(v);
	weft_future_unref(w);
	weft_future_unref(gate);
	return 0;
}

/* Only the running task's guard used to be recognised: a write into a
 * suspended task's guard was a bare SIGSEGV. Both are named now. */
Test(fiber, write_into_another_tasks_guard_names_both, .timeout = 30 * WEFT_TEST_SLOW)
{
#ifdef WEFT_SANITIZED
	cr_skip_test("SKIP: the sanitizer owns SIGSEGV");
#endif
	static char err[16384];
	for (unsigned workers = 1; workers <= 2; workers++) {
		weft_config cfg = one_worker();
		cfg.workers = workers;
		int status = run_in_child(vandal_main, NULL, &cfg, err, sizeof(err));
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
			  "status %#x, stderr: %s", status, err);
		cr_assert_not_null(strstr(err, "weft: stack overflow in task vandal (a write at 0x"),
				   "stderr: %s", err);
		cr_assert_not_null(strstr(err, "hit the guard of task victim's stack)"),
				   "stderr: %s", err);
	}
}

/* --- small-stack mode ------------------------------------------------- */

#ifdef WEFT_SANITIZED
#define SMALL_SCALE 4 /* the pool makes small stacks 4x bigger */
#else
#define SMALL_SCALE 1
#endif

static weft_config small_config(unsigned workers, bool migratable)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = workers;
	cfg.migratable = migratable;
	cfg.small_stacks = true;
	return cfg;
}

struct small_run {
	long n;               /* tasks */
	weft_future *gate;    /* every task ends up awaiting it */
	atomic_long waiting;  /* tasks past their yield */
	atomic_long intact;   /* tasks whose locals survived their suspensions */
};

/* Fills a local buffer, suspends twice (a yield, then the gate) and checks
 * that nothing else wrote on its stack meanwhile. */
static int small_task(void *arg, void **res)
{
	struct small_run *r = arg;
	volatile unsigned char buf[512];
	unsigned char seed = (unsigned char)((uintptr_t)weft_current_task() >> 6);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(seed + i);
	int rc = weft_sleep(0);
	atomic_fetch_add(&r->waiting, 1);
	if (!rc)
		rc = weft_await(r->gate, NULL);
	bool same = true;
	for (size_t i = 0; i < sizeof(buf); i++)
		same &= buf[i] == (unsigned char)(seed + i);
	if (!rc && same)
		atomic_fetch_add(&r->intact, 1);
	*res = (void *)1;
	return rc;
}

static int small_main(void *arg, void **res)
{
	struct small_run *r = arg;
	r->gate = weft_future_create(NULL);
	weft_future **tasks = calloc((size_t)r->n, sizeof(*tasks));
	if (!tasks)
		return -ENOMEM;
	for (long i = 0; i < r->n; i++)
		tasks[i] = weft_create_task(small_task, r, NULL);
	while (atomic_load(&r->waiting) < r->n)
		weft_sleep(0);
	weft_sleep(0); /* the last ones reach the gate: all suspended at once */
	weft_future_set_result(r->gate, NULL);
	long bad = 0;
	for (long i = 0; i < r->n; i++) {
		void *v = NULL;
		if (weft_await(tasks[i], &v) || v != (void *)1)
			bad++;
		weft_future_unref(tasks[i]);
	}
	free(tasks);
	weft_future_unref(r->gate);
	*res = (void *)(intptr_t)bad;
	return 0;
}

static void small_round(unsigned workers, bool migratable, long n)
{
	struct small_run r = {.n = n};
	weft_config cfg = small_config(workers, migratable);
	void *bad = (void *)-1;
	cr_assert_eq(run_or_skip(small_main, &r, &cfg, &bad), 0);
	cr_assert_eq((intptr_t)bad, 0);
	cr_assert_eq(atomic_load(&r.intact), n, "%ld of %ld tasks kept their locals",
		     atomic_load(&r.intact), n);
}

Test(fiber, small_stacks_one_worker, .timeout = 30 * WEFT_TEST_SLOW)
{
	small_round(1, false, 1000);
}

Test(fiber, small_stacks_two_workers, .timeout = 30 * WEFT_TEST_SLOW)
{
	small_round(2, false, 1000);
}

Test(fiber, small_stacks_migratable, .timeout = 30 * WEFT_TEST_SLOW)
{
	small_round(2, true, 1000);
}

Test(fiber, small_stacks_hold_many_suspended, .timeout = 60 * WEFT_TEST_SLOW)
{
	/* Under sanitizers each small stack is 4x and costs shadow memory. */
	small_round(2, true, WEFT_TEST_SLOW > 1 ? 20000 : 100000);
}

/* Writes a local array bigger than its small stack, a few hundred bytes
 * into the stack below it (free: this is the runtime's second task), then
 * suspends (arg) or finishes: either switch-out finds the canary broken. */
static int small_overflow(void *arg, void **res)
{
	volatile char buf[SMALL_SCALE * 2048 + 256];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)i;
	if (arg)
		weft_sleep(0);
	*res = (void *)(intptr_t)buf[sizeof(buf) / 2];
	return 0;
}

static int small_overflow_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(small_overflow, arg, "small-one");
	weft_await(t, NULL);
	weft_future_unref(t);
	return 0;
}

static void small_overflow_aborts(bool suspend)
{
	static char err[16384];
	weft_config cfg = small_config(1, false);
	cfg.stack_size = 2048;
	int status = run_in_child(small_overflow_main, suspend ? (void *)1 : NULL, &cfg, err,
				  sizeof(err));
	cr_assert(WIFSIGNALED(status), "the process must die, not go on corrupted: %s", err);
	cr_assert_eq(WTERMSIG(status), SIGABRT, "stderr: %s", err);
	cr_assert_not_null(strstr(err, "weft: stack overflow in task small-one"), "stderr: %s", err);
	cr_assert(strstr(err, "stack_size") && strstr(err, "weft_to_thread"), "stderr: %s", err);
}

Test(fiber, small_stack_overflow_aborts_at_suspend, .timeout = 30 * WEFT_TEST_SLOW)
{
	small_overflow_aborts(true);
}

Test(fiber, small_stack_overflow_aborts_at_finish, .timeout = 30 * WEFT_TEST_SLOW)
{
	small_overflow_aborts(false);
}

static int nothing(void *arg, void **res)
{
	return weft_sleep(0);
}

Test(fiber, small_stacks_config_is_checked, .timeout = 30 * WEFT_TEST_SLOW)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const size_t bad[] = {16, 512, 1008, 1000, 1048, page + 16, 2 * page, 1 << 20};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		weft_config cfg = small_config(1, false);
		cfg.stack_size = bad[i];
		weft_runtime *rt = (weft_runtime *)&cfg;
		cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL, "stack_size %zu", bad[i]);
		cr_assert_null(rt);
	}
	const size_t good[] = {0, 1024, 1040, 1536, 2048, page};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		weft_config cfg = small_config(1, false);
		cfg.stack_size = good[i];
		cr_assert_eq(run_or_skip(nothing, NULL, &cfg, NULL), 0, "stack_size %zu", good[i]);
	}
	/* A caller built before the field: it reads as off, so the size is
	 * a plain (page-rounded) one. */
	weft_config old = small_config(1, false);
	old.size = offsetof(weft_config, small_stacks);
	old.stack_size = 1000;
	cr_assert_eq(run_or_skip(nothing, NULL, &old, NULL), 0);
}

static int by_address(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)(*(struct weft__stack *const *)a)->lo;
	uintptr_t y = (uintptr_t)(*(struct weft__stack *const *)b)->lo;
	return x < y ? -1 : x > y;
}

/* The pool itself: small stacks are packed (exactly `size` apart inside
 * a chunk), leave the pool with a good canary (also after their chunk
 * was released), and go back to the kernel a chunk at a time. */
Test(fiber, small_stack_pool_packs_and_trims, .timeout = 30 * WEFT_TEST_SLOW)
{
	enum { N = 2000 };
	static struct weft__stack *st[N], *sorted[N];
	struct weft__stack_pool pool;
	struct weft__stack_cache cache = {0};
	cr_assert_eq(weft__stack_pool_init(&pool, 1024, true), 0);
	cr_assert_eq(pool.size, 1024 * SMALL_SCALE);
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			st[i] = weft__stack_get(&pool, &cache);
			cr_assert_not_null(st[i]);
			cr_assert(weft__stack_canary_ok(st[i]), "round %d, stack %d", round, i);
			cr_assert_eq((uintptr_t)st[i]->lo % 16, 0);
			/* a task using every byte above the canary */
			memset((char *)st[i]->lo + WEFT__CANARY_BYTES, 0x5a,
			       pool.size - WEFT__CANARY_BYTES);
		}
		/* no stack overlaps another's canary */
		for (int i = 0; i < N; i++)
			cr_assert(weft__stack_canary_ok(st[i]), "round %d, stack %d", round, i);
		memcpy(sorted, st, sizeof(st));
		qsort(sorted, N, sizeof(sorted[0]), by_address);
		int packed = 0;
		for (int i = 1; i < N; i++) {
			uintptr_t gap = (uintptr_t)sorted[i]->lo - (uintptr_t)sorted[i - 1]->lo;
			cr_assert_geq(gap, pool.size);
			packed += gap == pool.size;
		}
		cr_assert_geq(packed, N * 15 / 16 - 1, "%d of %d stacks packed", packed, N);

		for (int i = 0; i < N; i++)
			weft__stack_put(&pool, &cache, st[i]);
		weft__stack_cache_flush(&pool, &cache);
		cr_assert_eq(weft__stack_trim(&pool, SIZE_MAX), 0);
		int resident = 0;
		for (int i = 0; i < N; i++) {
			unsigned char v = 0;
			cr_assert_eq(mincore((void *)((uintptr_t)st[i]->lo & ~(page - 1)), page, &v), 0);
			resident += v & 1;
		}
		/* only the pool's few hundred kept resident, and their chunks */
		cr_assert_lt(resident, N / 4, "%d of %d stacks resident after the trim", resident, N);
	}
	weft__stack_pool_destroy(&pool);
}

/* A destroyed pool leaves no ASan poison behind. Its frames' redzones
 * stay in ASan's shadow after the munmap, and whatever the kernel maps
 * there next (another runtime's ring, a buffer) was reported as a stack
 * buffer underflow when written: stress/small_stacks, 2 runtimes in a
 * row, about 1 run in 10. ASan builds only. */
#ifdef WEFT_ASAN
void __asan_poison_memory_region(const volatile void *addr, size_t size);
#endif

Test(fiber, destroyed_pool_leaves_no_asan_poison, .timeout = 30 * WEFT_TEST_SLOW)
{
#ifndef WEFT_ASAN
	cr_skip_test("ASan builds only");
#else
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	for (int small = 0; small <= 1; small++) {
		struct weft__stack_pool pool;
		struct weft__stack_cache cache = {0};
		cr_assert_eq(weft__stack_pool_init(&pool, small ? 1024 : 0, small), 0);
		struct weft__stack *st = weft__stack_get(&pool, &cache);
		cr_assert_not_null(st);
		/* what a fiber's frames leave in the shadow */
		char *at = (char *)(((uintptr_t)st->lo + page) & ~(page - 1));
		__asan_poison_memory_region(at, 64);
		weft__stack_put(&pool, &cache, st);
		weft__stack_cache_flush(&pool, &cache);
		weft__stack_pool_destroy(&pool);
		void *p = mmap(at, page, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED)
			cr_skip_test("the address was taken again: %s", strerror(errno));
		cr_assert_eq(p, (void *)at);
		memset(p, 0x5a, page); /* ASan aborts here if the poison stayed */
		munmap(p, page);
	}
#endif
}
