/* SPDX-License-Identifier: MIT */
/*
 * The runtime (weft/runtime.h): worker counts, idle CPU, io_uring refused
 * by the kernel (a real seccomp filter), the COOP_TASKRUN ring fallback,
 * and behaviour with several workers: every waiter woken, correct results
 * with and without migration, and the home-worker rule.
 */
#include <linux/io_uring.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp_deny.h"
#include "test_util.h"

/* --- worker counts ---------------------------------------------------------- */

static weft_runtime *seen_rt;
static unsigned seen_workers;

static int report_runtime(void *arg, void **res)
{
	seen_rt = weft_current_runtime();
	seen_workers = weft_runtime_workers(seen_rt);
	/* a little work spread over the workers */
	weft_future *ts[16];
	for (long i = 0; i < 16; i++)
		ts[i] = weft_create_task(tu_return_arg, (void *)i, NULL);
	long sum = 0;
	for (int i = 0; i < 16; i++) {
		void *v = NULL;
		weft_await(ts[i], &v);
		sum += (long)v;
		weft_future_unref(ts[i]);
	}
	*res = (void *)sum;
	return 0;
}

Test(runtime, worker_counts, .timeout = TEST_TIMEOUT)
{
	/* More workers than the machine's cores is fine. */
	static const unsigned counts[] = {1, 2, 4, 8};
	for (unsigned i = 0; i < 4; i++) {
		weft_runtime *rt = tu_runtime(counts[i]);
		cr_assert_eq(weft_runtime_workers(rt), counts[i]);
		cr_assert_null(weft_current_runtime(), "the test thread is no worker");
		void *v = NULL;
		cr_assert_eq(weft_runtime_run(rt, report_runtime, NULL, &v), 0);
		cr_assert_eq(seen_rt, rt, "weft_current_runtime inside a task");
		cr_assert_eq(seen_workers, counts[i]);
		cr_assert_eq((long)v, 15 * 16 / 2);
		cr_assert_eq(weft_runtime_destroy(rt), 0);
	}
	cr_assert_eq(weft_runtime_workers(NULL), 0);
}

Test(runtime, default_workers_is_one_per_cpu, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime_cfg(NULL);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cr_assert_eq(weft_runtime_workers(rt), (unsigned)(ncpu > 0 ? ncpu : 1));
	weft_runtime_destroy(rt);

	weft_config cfg = tu_config(0);
	rt = tu_runtime_cfg(&cfg);
	cr_assert_eq(weft_runtime_workers(rt), (unsigned)(ncpu > 0 ? ncpu : 1));
	weft_runtime_destroy(rt);
}

Test(runtime, pinned_workers_run, .timeout = TEST_TIMEOUT)
{
	weft_config cfg = tu_config(3);
	cfg.pin_workers = true;
	void *v = NULL;
	cr_assert_eq(tu_run(report_runtime, NULL, &cfg, &v), 0);
	cr_assert_eq((long)v, 15 * 16 / 2);
}

/* --- an idle runtime does not spin ---------------------------------------- */

static double process_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void assert_idle_cheap(weft_runtime *rt, const char *what)
{
	/* Let start-up (and any earlier work) settle first. */
	tu_nap_ms(50);
	double c0 = process_cpu();
	tu_nap_ms(300);
	double used = process_cpu() - c0;
	cr_assert_lt(used, 0.100, "%s: %.1f ms of CPU in 300 ms idle (busy spinning?)", what,
		     used * 1e3);
	(void)rt;
}

Test(runtime, idle_uses_no_cpu, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(0);
	assert_idle_cheap(rt, "default workers");
	weft_runtime_destroy(rt);

	rt = tu_runtime(1);
	assert_idle_cheap(rt, "1 worker");
	weft_runtime_destroy(rt);

	rt = tu_runtime(8);
	assert_idle_cheap(rt, "8 workers");
	weft_runtime_destroy(rt);
}

Test(runtime, idle_after_work_uses_no_cpu, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(4);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(weft_runtime_run(rt, report_runtime, NULL, NULL), 0);
	assert_idle_cheap(rt, "4 workers after work");
	weft_runtime_destroy(rt);
}

Test(runtime, idle_with_ring_fallback_uses_no_cpu, .timeout = TEST_TIMEOUT)
{
	weft_config cfg = tu_config(2);
	cfg.ring_no_defer = true;
	weft_runtime *rt = tu_runtime_cfg(&cfg);
	cr_assert_eq(weft_runtime_run(rt, report_runtime, NULL, NULL), 0);
	assert_idle_cheap(rt, "COOP_TASKRUN fallback");
	weft_runtime_destroy(rt);
}

/* --- io_uring refused by the kernel ---------------------------------------- */

/*
 * Makes syscall `nr` fail with `err` for this thread and the threads it
 * creates from now on (the runtime's workers), as a container's seccomp
 * profile does. Criterion runs each test in its own process, so the filter
 * dies with the test.
 */
static void deny_syscall(long nr, int err)
{
	int rc = seccomp_deny(&nr, 1, err);
	if (rc == -ENOSYS)
		cr_skip_test("SKIP: no seccomp arch constant for this machine in the test");
	cr_assert_eq(rc, 0, "installing the seccomp filter: %s", strerror(-rc));
}

/* For the tests of a refusal after io_uring_setup succeeded: where the
 * setup itself is refused (a container, tests/no_io_uring), they skip. */
static void need_io_uring_setup(void)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	long fd = syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0)
		cr_skip_test("SKIP: io_uring_setup is refused here: %s", strerror(errno));
	close((int)fd);
}

static void deny_io_uring_setup(int err)
{
	deny_syscall(__NR_io_uring_setup, err);
	/* The filter works: the raw syscall now fails as asked. */
	long rc = syscall(__NR_io_uring_setup, 4, NULL);
	cr_assert_eq(rc, -1);
	cr_assert_eq(errno, err);
}

/* What these tests check is io_uring's own set-up, or what auto makes of
 * it: the environment must not pick a backend for them (tools/test.sh
 * runs the suite a second time with WEFT_BACKEND=epoll). */
static void backend_from_config_only(void)
{
	unsetenv("WEFT_BACKEND");
}

static int ran_on_epoll(void *arg, void **res)
{
	*res = (void *)(intptr_t)weft_runtime_backend(weft_current_runtime());
	return 0;
}

/* Auto falls back to the epoll backend: the runtime starts, runs tasks,
 * says which backend it uses, and debug mode says why once. */
static void check_auto_falls_back(const char *why)
{
	static const unsigned counts[] = {1, 3};
	for (int i = 0; i < 2; i++) {
		weft_config cfg = tu_config(counts[i]);
		void *got = NULL;
		cr_assert_eq(weft_run(ran_on_epoll, NULL, &cfg, &got), 0);
		cr_assert_eq((intptr_t)got, WEFT_BACKEND_EPOLL);
	}
	cr_assert_eq(weft_run(tu_return_arg, NULL, NULL, NULL), 0, "defaults fall back too");
	weft_config cfg = tu_config(2);
	cfg.debug = true;
	weft_runtime *rt = NULL;
	char text[1024];
	cr_assert_eq(tu_create_capturing_stderr(&cfg, &rt, text, sizeof(text)), 0);
	cr_assert_eq(weft_runtime_backend(rt), WEFT_BACKEND_EPOLL);
	weft_runtime_destroy(rt);
	cr_assert_not_null(strstr(text, "using the epoll backend"), "no notice: %s", text);
	cr_assert_not_null(strstr(text, why), "the notice lacks the reason: %s", text);
}

static void check_enouring(int err)
{
	backend_from_config_only();
	deny_io_uring_setup(err);
	static const unsigned counts[] = {1, 3};
	for (int i = 0; i < 2; i++) {
		weft_config cfg = tu_config(counts[i]);
		cfg.backend = WEFT_BACKEND_IO_URING;
		weft_runtime *rt = (weft_runtime *)&cfg; /* must be overwritten */
		cr_assert_eq(weft_runtime_create(&cfg, &rt), WEFT_ENOURING);
		cr_assert_null(rt, "*out is not set on failure");
	}
	/* The fallback ring modes are refused as well. */
	weft_config cfg = tu_config(2);
	cfg.backend = WEFT_BACKEND_IO_URING;
	cfg.ring_no_defer = true;
	weft_runtime *rt = NULL;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), WEFT_ENOURING);
	/* asyncio.run's equivalent reports the creation error. */
	cr_assert_eq(weft_run(tu_return_arg, NULL, &cfg, NULL), WEFT_ENOURING);
	/* With debug, the kernel's reason is printed. */
	cfg = tu_config(1);
	cfg.backend = WEFT_BACKEND_IO_URING;
	cfg.debug = true;
	char text[1024];
	cr_assert_eq(tu_create_capturing_stderr(&cfg, &rt, text, sizeof(text)), WEFT_ENOURING);
	cr_assert_not_null(strstr(text, strerror(err)), "debug output lacks the reason: %s",
			   text);
	check_auto_falls_back(strerror(err));
}

Test(runtime, no_io_uring_enosys, .timeout = TEST_TIMEOUT)
{
	check_enouring(ENOSYS); /* a kernel built without io_uring */
}

Test(runtime, no_io_uring_eperm, .timeout = TEST_TIMEOUT)
{
	check_enouring(EPERM); /* kernel.io_uring_disabled, a container's profile */
}

/* Other set-up failures are reported as themselves (IO.md: EMFILE is
 * -EMFILE, not "io_uring unavailable"): they say what to fix, and auto
 * does not fall back on them. */
Test(runtime, io_uring_setup_other_errors_are_the_real_code, .timeout = TEST_TIMEOUT)
{
	backend_from_config_only();
	deny_io_uring_setup(EMFILE);
	weft_config cfg = tu_config(1);
	weft_runtime *rt = NULL;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EMFILE);
	cr_assert_null(rt);
	cr_assert_eq(weft_run(tu_return_arg, NULL, NULL, NULL), -EMFILE);
}

/* Each set-up failure is its own code, and debug mode says what to change. */
static void check_setup_error(int want, const char *say, enum weft_backend backend)
{
	backend_from_config_only();
	weft_config cfg = tu_config(2);
	cfg.backend = backend;
	cfg.debug = true;
	weft_runtime *rt = (weft_runtime *)&cfg;
	char text[2048];
	int rc = tu_create_capturing_stderr(&cfg, &rt, text, sizeof(text));
	if (rc == 0)
		weft_runtime_destroy(rt);
	cr_assert_eq(rc, want, "got %d (%s), want %d; stderr: %s", rc, weft_strerror(rc), want,
		     text);
	cr_assert_null(rt);
	cr_assert_not_null(strstr(text, say), "debug output lacks \"%s\": %s", say, text);
}

/* An unprivileged user's RLIMIT_MEMLOCK (48 KiB and below) refuses the
 * ring's memory: the fix is the limit, not "io_uring is disabled". */
Test(runtime, io_uring_setup_enomem_says_raise_memlock, .timeout = TEST_TIMEOUT)
{
	deny_io_uring_setup(ENOMEM);
	check_setup_error(-ENOMEM, "raise RLIMIT_MEMLOCK", WEFT_BACKEND_IO_URING);
	/* auto: the ring's memory refused, the epoll backend serves */
	check_auto_falls_back("raise RLIMIT_MEMLOCK");
}

/* ring_entries is checked at creation, so an EINVAL left over means the
 * kernel refused every ring mode: -EINVAL, not "io_uring unavailable". */
Test(runtime, io_uring_setup_einval_is_einval, .timeout = TEST_TIMEOUT)
{
	deny_io_uring_setup(EINVAL);
	check_setup_error(-EINVAL, "older than weft needs", WEFT_BACKEND_AUTO);
}

/* The eventfd a worker is woken through: out of descriptors is -EMFILE
 * (it was reported as -ENOMEM). */
Test(runtime, eventfd_emfile_is_emfile, .timeout = TEST_TIMEOUT)
{
	deny_syscall(__NR_eventfd2, EMFILE);
	check_setup_error(-EMFILE, "raise RLIMIT_NOFILE", WEFT_BACKEND_AUTO);
}

/* The same with a real descriptor limit: room for the first ring and
 * nothing else. */
Test(runtime, rlimit_nofile_is_emfile, .timeout = TEST_TIMEOUT)
{
	int lowest = dup(0); /* the lowest free descriptor */
	cr_assert_geq(lowest, 0);
	close(lowest);
	struct rlimit rl;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	for (int room = 0; room < 2; room++) {
		/* room 0: io_uring_setup gets none; 1: the ring fits, its
		 * eventfd does not */
		struct rlimit low = {.rlim_cur = (rlim_t)(lowest + room), .rlim_max = rl.rlim_max};
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
		weft_config cfg = tu_config(1);
		weft_runtime *rt = NULL;
		int rc = weft_runtime_create(&cfg, &rt);
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
		if (rc == 0)
			weft_runtime_destroy(rt);
		cr_assert_eq(rc, -EMFILE, "room for %d: got %s", room, weft_strerror(rc));
	}
	/* and every descriptor it opened was closed again */
	int after = dup(0);
	close(after);
	cr_assert_eq(after, lowest);
}

/* A filter that lets io_uring_setup through but refuses io_uring_enter
 * left every worker unable to sleep: 0.35 s of CPU per idle second, and
 * no task could run. It is found at start. */
Test(runtime, io_uring_enter_refused_is_found_at_start, .timeout = TEST_TIMEOUT)
{
	need_io_uring_setup();
	deny_syscall(__NR_io_uring_enter, EPERM);
	check_setup_error(WEFT_ENOURING, "io_uring_enter", WEFT_BACKEND_IO_URING);
	check_auto_falls_back("io_uring_enter");
}

/* cfg.backend and WEFT_BACKEND: a bad value is -EINVAL, named in debug
 * mode; the environment picks only when the config leaves it to auto. */
Test(runtime, backend_choice, .timeout = TEST_TIMEOUT)
{
	backend_from_config_only();
	weft_config cfg = tu_config(1);
	cfg.backend = (enum weft_backend)7;
	cfg.debug = true;
	weft_runtime *rt = NULL;
	char text[1024];
	cr_assert_eq(tu_create_capturing_stderr(&cfg, &rt, text, sizeof(text)), -EINVAL);
	cr_assert_not_null(strstr(text, "weft_config.backend"), "%s", text);
	cr_assert_eq(weft_runtime_backend(NULL), -EINVAL);
	setenv("WEFT_BACKEND", "kqueue", 1);
	cfg = tu_config(1);
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	setenv("WEFT_BACKEND", "epoll", 1);
	rt = tu_runtime_cfg(&cfg);
	cr_assert_eq(weft_runtime_backend(rt), WEFT_BACKEND_EPOLL);
	weft_runtime_destroy(rt);
	cfg.backend = WEFT_BACKEND_IO_URING; /* the config wins */
	rt = tu_runtime_cfg(&cfg);
	cr_assert_eq(weft_runtime_backend(rt), WEFT_BACKEND_IO_URING);
	weft_runtime_destroy(rt);
	unsetenv("WEFT_BACKEND");
	cfg = tu_config(2);
	cfg.backend = WEFT_BACKEND_EPOLL;
	rt = tu_runtime_cfg(&cfg);
	cr_assert_eq(weft_runtime_backend(rt), WEFT_BACKEND_EPOLL);
	weft_runtime_destroy(rt);
}

/* --- several workers ------------------------------------------------------- */

/* Recursive fan-out: sum(n) = n + sum of two children's sums, through
 * tasks (a few thousand of them). */
static int tree(void *arg, void **res)
{
	long depth = (long)arg;
	if (depth == 0) {
		weft_sleep(0);
		*res = (void *)1;
		return 0;
	}
	weft_future *a = weft_create_task(tree, (void *)(depth - 1), NULL);
	weft_future *b = weft_create_task(tree, (void *)(depth - 1), NULL);
	void *va = NULL, *vb = NULL;
	int ra = weft_await(a, &va);
	int rb = weft_await(b, &vb);
	weft_future_unref(a);
	weft_future_unref(b);
	if (ra || rb)
		return ra ? ra : rb;
	*res = (void *)((long)va + (long)vb + 1);
	return 0;
}

static void check_tree(weft_config *cfg, const char *what)
{
	enum { DEPTH = 10 };
	void *v = NULL;
	cr_assert_eq(tu_run(tree, (void *)(long)DEPTH, cfg, &v), 0, "%s", what);
	cr_assert_eq((long)v, (1L << (DEPTH + 1)) - 1, "%s", what);
}

Test(runtime, results_correct_with_several_workers, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 1; w <= 4; w *= 2) {
		weft_config cfg = tu_config(w);
		check_tree(&cfg, "home mode");
	}
}

Test(runtime, results_correct_migratable, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 1; w <= 4; w *= 2) {
		weft_config cfg = tu_config(w);
		cfg.migratable = true;
		check_tree(&cfg, "migratable mode");
	}
}

Test(runtime, ring_fallback_works, .timeout = TEST_TIMEOUT)
{
	/* COOP_TASKRUN instead of SINGLE_ISSUER|DEFER_TASKRUN: cross-worker
	 * wakes (MSG_RING) and foreign wakes (eventfd) still work. */
	for (unsigned w = 1; w <= 4; w *= 2) {
		weft_config cfg = tu_config(w);
		cfg.ring_no_defer = true;
		check_tree(&cfg, "ring_no_defer");
		weft_runtime *rt = tu_runtime_cfg(&cfg);
		for (int i = 0; i < 3; i++) {
			tu_nap_ms(5); /* let the workers park */
			void *v = NULL;
			cr_assert_eq(weft_runtime_run(rt, report_runtime, NULL, &v), 0);
			cr_assert_eq((long)v, 15 * 16 / 2);
		}
		weft_runtime_destroy(rt);
	}
}

Test(runtime, small_ring_works, .timeout = TEST_TIMEOUT)
{
	weft_config cfg = tu_config(4);
	cfg.ring_entries = 4;
	check_tree(&cfg, "ring_entries=4");
}

/* Every waiter of one future is woken. */
enum { NWAITERS = 100 };
static atomic_int waiters_ready, waiters_ok;

static int gate_waiter(void *arg, void **res)
{
	atomic_fetch_add(&waiters_ready, 1);
	void *v = NULL;
	int rc = weft_await(arg, &v);
	if (rc == 0 && (long)v == 77)
		atomic_fetch_add(&waiters_ok, 1);
	return rc;
}

static int gate_setter(void *arg, void **res)
{
	/* Wait (yielding) until every waiter has run, then open the gate. */
	while (atomic_load(&waiters_ready) < NWAITERS)
		weft_sleep(0);
	return weft_future_set_result(arg, (void *)77);
}

static int gate_main(void *arg, void **res)
{
	weft_future *gate = weft_future_create(NULL);
	weft_future *ts[NWAITERS];
	for (int i = 0; i < NWAITERS; i++)
		ts[i] = weft_create_task(gate_waiter, gate, NULL);
	weft_future *s = weft_create_task(gate_setter, gate, NULL);
	int bad = 0;
	for (int i = 0; i < NWAITERS; i++) {
		if (weft_await(ts[i], NULL))
			bad++;
		weft_future_unref(ts[i]);
	}
	if (weft_await(s, NULL))
		bad++;
	weft_future_unref(s);
	weft_future_unref(gate);
	return bad ? -EPROTO : 0;
}

Test(runtime, all_waiters_woken, .timeout = TEST_TIMEOUT)
{
	static const unsigned counts[] = {1, 2, 4};
	for (int m = 0; m < 2; m++) {
		for (int i = 0; i < 3; i++) {
			atomic_store(&waiters_ready, 0);
			atomic_store(&waiters_ok, 0);
			weft_config cfg = tu_config(counts[i]);
			cfg.migratable = m;
			cr_assert_eq(tu_run(gate_main, NULL, &cfg, NULL), 0);
			cr_assert_eq(atomic_load(&waiters_ok), NWAITERS, "workers=%u migratable=%d",
				     counts[i], m);
		}
	}
}

Test(runtime, all_waiters_woken_by_foreign_thread, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 2; w <= 4; w *= 2) {
		atomic_store(&waiters_ready, 0);
		atomic_store(&waiters_ok, 0);
		weft_runtime *rt = tu_runtime(w);
		weft_future *gate = weft_future_create(rt);
		weft_future *ts[NWAITERS];
		for (int i = 0; i < NWAITERS; i++)
			ts[i] = weft_spawn(rt, gate_waiter, gate, NULL);
		cr_assert(tu_wait_flag(&waiters_ready, NWAITERS, 5.0 * WEFT_TEST_SLOW));
		cr_assert_eq(weft_future_set_result(gate, (void *)77), 0);
		for (int i = 0; i < NWAITERS; i++) {
			cr_assert_eq(weft_future_wait(ts[i], 5.0 * WEFT_TEST_SLOW, NULL), 0);
			weft_future_unref(ts[i]);
		}
		cr_assert_eq(atomic_load(&waiters_ok), NWAITERS);
		weft_future_unref(gate);
		weft_runtime_destroy(rt);
	}
}

/* --- the home-worker rule ---------------------------------------------------- */

/* A non-migratable task resumes on the OS thread it started on, after
 * sleep(0)s and after awaits of futures completed on other workers. */
enum { NHOME = 24, ROUNDS = 20 };
static atomic_int moved, home_rounds, helpers_elsewhere;
static int set_from_helper(void *arg, void **res)
{
	void **pair = arg;
	weft_sleep(0);
	if (!pthread_equal(pthread_self(), *(pthread_t *)pair[1]))
		atomic_fetch_add(&helpers_elsewhere, 1);
	weft_future_set_result(pair[0], (void *)1);
	return 0;
}

static int homebody(void *arg, void **res)
{
	if (arg) {
		/* Takes effect at the next wake-up; the sleep(0) makes the
		 * thread it resumes on its home from then on. */
		weft_task_set_migratable(weft_current_task(), false);
		weft_sleep(0);
	}
	pthread_t start = pthread_self();
	for (int r = 0; r < ROUNDS; r++) {
		weft_sleep(0);
		if (!pthread_equal(pthread_self(), start))
			atomic_fetch_add(&moved, 1);
		weft_future *f = weft_future_create(NULL);
		void *pair[2] = {f, &start};
		weft_future *h = weft_create_task(set_from_helper, pair, NULL);
		weft_await(f, NULL);
		if (!pthread_equal(pthread_self(), start))
			atomic_fetch_add(&moved, 1);
		weft_await(h, NULL);
		if (!pthread_equal(pthread_self(), start))
			atomic_fetch_add(&moved, 1);
		weft_future_unref(h);
		weft_future_unref(f);
		atomic_fetch_add(&home_rounds, 1);
	}
	return 0;
}

static int home_main(void *arg, void **res)
{
	weft_future *ts[NHOME];
	for (int i = 0; i < NHOME; i++)
		ts[i] = weft_create_task(homebody, arg, NULL);
	for (int i = 0; i < NHOME; i++) {
		weft_await(ts[i], NULL);
		weft_future_unref(ts[i]);
	}
	return 0;
}

Test(runtime, non_migratable_tasks_stay_on_their_thread, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 2; w <= 4; w *= 2) {
		atomic_store(&moved, 0);
		atomic_store(&home_rounds, 0);
		cr_assert_eq(tu_run_n(w, home_main, NULL, NULL), 0);
		cr_assert_eq(atomic_load(&home_rounds), NHOME * ROUNDS);
		cr_assert_eq(atomic_load(&moved), 0,
			     "workers=%u: a non-migratable task resumed on another thread %d times", w,
			     atomic_load(&moved));
		cr_log_info("workers=%u: %d of %d helpers completed a future from another thread",
			    w, atomic_load(&helpers_elsewhere), NHOME * ROUNDS);
		atomic_store(&helpers_elsewhere, 0);
	}
}

Test(runtime, per_task_non_migratable_in_migratable_runtime, .timeout = TEST_TIMEOUT)
{
	/* weft_task_set_migratable(t, false) before t first runs: t keeps to
	 * its home worker even though the runtime's default is migratable. */
	weft_config cfg = tu_config(4);
	cfg.migratable = true;
	cr_assert_eq(tu_run(home_main, (void *)1, &cfg, NULL), 0);
	cr_assert_eq(atomic_load(&home_rounds), NHOME * ROUNDS);
	cr_assert_eq(atomic_load(&moved), 0, "moved %d times", atomic_load(&moved));
}

/* Per-task migratable in a home-mode runtime: still correct results. */
static int migratable_child(void *arg, void **res)
{
	long n = (long)arg;
	for (int i = 0; i < 10; i++)
		weft_sleep(0);
	*res = (void *)(n * n);
	return 0;
}

static int per_task_migratable_main(void *arg, void **res)
{
	enum { N = 64 };
	weft_future *ts[N];
	for (long i = 0; i < N; i++) {
		ts[i] = weft_create_task(migratable_child, (void *)i, NULL);
		if (weft_task_set_migratable(ts[i], i % 2 == 0) != 0)
			return -EPROTO;
	}
	long sum = 0;
	for (int i = 0; i < N; i++) {
		void *v = NULL;
		if (weft_await(ts[i], &v))
			return -EPROTO;
		sum += (long)v;
		weft_future_unref(ts[i]);
	}
	*res = (void *)sum;
	return 0;
}

Test(runtime, per_task_migratable_results_correct, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 2; w <= 4; w *= 2) {
		void *v = NULL;
		cr_assert_eq(tu_run_n(w, per_task_migratable_main, NULL, &v), 0);
		cr_assert_eq((long)v, 63L * 64 * 127 / 6, "workers=%u", w);
	}
	cr_assert_eq(weft_task_set_migratable(NULL, true), -EINVAL);
}

/* --- shutdown ---------------------------------------------------------------- */

static atomic_int cb_count;

static void counting_cb(weft_future *f, void *arg)
{
	atomic_fetch_add(&cb_count, 1);
}

Test(runtime, destroy_runs_callbacks_already_scheduled, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 1; w <= 2; w++) {
		atomic_store(&cb_count, 0);
		weft_runtime *rt = tu_runtime(w);
		weft_future *f = weft_future_create(rt);
		weft_future_set_result(f, NULL);
		for (int i = 0; i < 200; i++)
			cr_assert_eq(weft_future_add_done_callback(f, counting_cb, NULL), 0);
		cr_assert_eq(weft_runtime_destroy(rt), 0);
		cr_assert_eq(atomic_load(&cb_count), 200, "workers=%u", w);
		weft_future_unref(f);
	}
}

/*
 * Shutdown with 2 workers: a worker that parks while work is still live
 * elsewhere must be woken when that work ends, or it sleeps for good and
 * destroy never joins it. Staged with internal hooks: once stop is set, a
 * callback on worker 0 posts a job to worker 0 (live again) and holds
 * worker 0 until worker 1, released by its own callback, has parked; then
 * the job runs and worker 0 finds nothing left. A hang fails the test.
 */
#include "core/core.h"
#include "core/task.h"

static struct weft__sched *wake_sched;
static atomic_int wake_posted, wake_holding;
static struct weft__job wake_job;

static void wake_job_fn(struct weft__worker *w, struct weft__job *j)
{
}

static void hold_worker0(void *arg)
{
	atomic_fetch_add(&wake_holding, 1);
	while (!atomic_load(&wake_sched->stop))
		;
	weft__worker_post(&wake_sched->workers[0], &wake_job);
	atomic_store(&wake_posted, 1);
	while (!(atomic_load(&wake_sched->workers[1].park) & WEFT__PARKED))
		;
	tu_nap_ms(20); /* asleep in the ring by now */
}

static void hold_worker1(void *arg)
{
	atomic_fetch_add(&wake_holding, 1);
	while (!atomic_load(&wake_posted))
		;
}

static int schedule_hold(void *arg, void **res)
{
	return weft_call_soon(arg ? hold_worker1 : hold_worker0, NULL, NULL);
}

static int start_holders(void *arg, void **res)
{
	for (unsigned i = 0; i < 2; i++)
		weft_future_unref(weft__create_task_on(i, schedule_hold, (void *)(uintptr_t)i, NULL));
	return 0;
}

Test(runtime, the_last_worker_out_wakes_a_parked_one, .timeout = TEST_TIMEOUT)
{
	for (int run = 0; run < 3; run++) {
		atomic_store(&wake_posted, 0);
		atomic_store(&wake_holding, 0);
		wake_job.fn = wake_job_fn;
		weft_runtime *rt = tu_runtime(2);
		wake_sched = &weft__core_of(rt)->sched;
		weft_future *t = weft_spawn(rt, start_holders, NULL, NULL);
		cr_assert_eq(weft_future_wait(t, WEFT_FOREVER, NULL), 0);
		weft_future_unref(t);
		while (atomic_load(&wake_holding) < 2) /* both tasks are done */
			tu_nap_ms(1);
		cr_assert_eq(weft_runtime_destroy(rt), 0);
	}
}

/* A task that creates more tasks while being cancelled at shutdown: they
 * are cancelled too and destroy still returns. */
static int respawner(void *arg, void **res)
{
	for (;;) {
		int rc = weft_sleep(0);
		if (rc) {
			/* cleanup code may still create tasks (asyncio allows it) */
			if ((long)arg < 3)
				weft_future_unref(weft_create_task(respawner,
								   (void *)((long)arg + 1), NULL));
			return rc;
		}
	}
}

Test(runtime, destroy_cancels_tasks_created_during_shutdown, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *t = weft_spawn(rt, respawner, NULL, NULL);
	tu_nap_ms(10);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	cr_assert(weft_future_cancelled(t));
	weft_future_unref(t);
}

/* A task of runtime A awaits a plain future of runtime B; B is destroyed
 * (the future can no longer be completed: -ESHUTDOWN), then A is. A's
 * destroy must still cancel that task and return (weft/runtime.h:
 * "every remaining task is cancelled and awaited ... Returns 0"). */
static weft_future *foreign_rt_fut;
static atomic_int xwait_started;

static int await_other_runtime(void *arg, void **res)
{
	atomic_store(&xwait_started, 1);
	return weft_await(foreign_rt_fut, NULL);
}

Test(runtime, destroy_with_task_awaiting_dead_runtimes_future, .timeout = TEST_TIMEOUT)
{
	weft_runtime *a = tu_runtime(1);
	weft_runtime *b = tu_runtime(1);
	foreign_rt_fut = weft_future_create(b);
	weft_future *t = weft_spawn(a, await_other_runtime, NULL, NULL);
	cr_assert(tu_wait_flag(&xwait_started, 1, 5.0 * WEFT_TEST_SLOW));
	cr_assert_eq(weft_runtime_destroy(b), 0);
	cr_assert_eq(weft_runtime_destroy(a), 0);
	cr_assert(weft_future_done(t));
	weft_future_unref(t);
	weft_future_unref(foreign_rt_fut);
}

/* A busy single worker must give back the memory of finished tasks as it
 * goes, not only when it idles (a regression: it once grew by ~258 bytes
 * per spawned task until the worker parked). Under TSan it also checks
 * that a stack's TSan fiber survives ~1M tasks reusing it (each task's
 * unreturned entry frame once overflowed its shadow stack: fiber.h). */
#include <sys/resource.h>

static int leaf_task(void *arg, void **res)
{
	return 0;
}

static long rss_growth_kb;

static int churn_main(void *arg, void **res)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long before = ru.ru_maxrss;
	for (int i = 0; i < 1000000; i++) {
		weft_future_unref(weft_create_task(leaf_task, NULL, NULL));
		if (i % 1000 == 999)
			weft_sleep(0); /* they run; this task stays ready: no idle turn */
	}
	weft_sleep(0);
	getrusage(RUSAGE_SELF, &ru);
	rss_growth_kb = ru.ru_maxrss - before;
	return 0;
}

Test(runtime, busy_worker_frees_finished_tasks_as_it_goes, .timeout = 60 * WEFT_TEST_SLOW)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 1;
	int rc = weft_run(churn_main, NULL, &cfg, NULL);
	if (rc == WEFT_ENOURING)
		cr_skip_test("io_uring is not available here");
	cr_assert_eq(rc, 0);
	/* A million tasks of ~256 bytes kept would be ~250 MiB. Plain build
	 * only: ASan's quarantine keeps freed memory resident on purpose. */
	if (WEFT_TEST_SLOW == 1)
		cr_assert_lt(rss_growth_kb, 64 * 1024, "peak RSS grew by %ld KiB", rss_growth_kb);
}

/* --- task memory -------------------------------------------------------------- */

/* Tasks alive at once, all waiting on one gate, then released: more of
 * them than cfg.reserve_tasks, so the reserved memory and memory mapped
 * afterwards are both used, twice (the second burst reuses the first's). */
#define RESERVE_N 300
#define BURST_N 500

static atomic_int burst_ok;
static weft_future *burst_tasks[BURST_N]; /* not on a 2 KiB small stack */

static int burst_main(void *arg, void **res)
{
	(void)arg;
	for (int round = 0; round < 2; round++) {
		weft_future *gate = weft_future_create(NULL);
		weft_future **ts = burst_tasks;
		for (long i = 0; i < BURST_N; i++)
			ts[i] = weft_create_task(gate_waiter, gate, NULL);
		while (atomic_load(&waiters_ready) < (round + 1) * BURST_N)
			weft_sleep(0); /* all alive at once, at the gate */
		weft_future_set_result(gate, (void *)77);
		for (int i = 0; i < BURST_N; i++) {
			if (weft_await(ts[i], NULL) == 0)
				atomic_fetch_add(&burst_ok, 1);
			weft_future_unref(ts[i]);
		}
		weft_future_unref(gate);
	}
	*res = NULL;
	return 0;
}

Test(runtime, reserved_task_memory_runs_tasks, .timeout = TEST_TIMEOUT)
{
	for (int small = 0; small <= 1; small++) {
		for (unsigned w = 1; w <= 2; w++) {
			atomic_store(&burst_ok, 0);
			atomic_store(&waiters_ready, 0);
			atomic_store(&waiters_ok, 0);
			weft_config cfg = tu_config(w);
			cfg.reserve_tasks = RESERVE_N;
			cfg.small_stacks = small;
			cr_assert_eq(tu_run(burst_main, NULL, &cfg, NULL), 0);
			cr_assert_eq(atomic_load(&burst_ok), 2 * BURST_N, "small=%d workers=%u", small, w);
			cr_assert_eq(atomic_load(&waiters_ok), 2 * BURST_N);
		}
	}
}

/* Tasks spawned from a thread outside the runtime share slabs: each is
 * still a task of its own, listed once by weft_all_tasks, and each ends. */
static long foreign_listed;

static int count_tasks(void *arg, void **res)
{
	(void)arg;
	foreign_listed = weft_all_tasks(NULL, NULL, 0);
	*res = NULL;
	return 0;
}

Test(runtime, foreign_spawns_are_each_a_task, .timeout = TEST_TIMEOUT)
{
	enum { N = 100 }; /* several slabs of 16, the last one partly used */
	atomic_store(&waiters_ready, 0);
	atomic_store(&waiters_ok, 0);
	weft_runtime *rt = tu_runtime(2);
	weft_future *gate = weft_future_create(rt);
	weft_future *ts[N];
	for (int i = 0; i < N; i++)
		ts[i] = weft_spawn(rt, gate_waiter, gate, NULL);
	cr_assert(tu_wait_flag(&waiters_ready, N, 5.0 * WEFT_TEST_SLOW));
	cr_assert_eq(weft_runtime_run(rt, count_tasks, NULL, NULL), 0);
	cr_assert_eq(foreign_listed, N + 1, "the waiters and the counting task");
	cr_assert_eq(weft_future_set_result(gate, (void *)77), 0);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(weft_future_wait(ts[i], 5.0 * WEFT_TEST_SLOW, NULL), 0);
		weft_future_unref(ts[i]);
	}
	cr_assert_eq(atomic_load(&waiters_ok), N);
	weft_future_unref(gate);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}

/*
 * cfg.no_spin and WEFT_SPIN=0: idle workers park at once (decision 24's
 * spin is off), and no spin ever finds work; a bad WEFT_SPIN is -EINVAL.
 * Where the default would spin (2 CPUs or more, 2 workers, not under
 * Valgrind), the flag is checked to be on without the option, so the
 * option is what turned it off.
 */
#include <valgrind/valgrind.h>

static int spin_round_trip(void *arg, void **res)
{
	*res = arg;
	return 0;
}

static void check_no_spin(weft_runtime *rt, bool want_spin)
{
	cr_assert_eq(weft__core_of(rt)->sched.spin, want_spin);
	/* foreign submissions a few µs apart: a spinning worker takes them */
	for (int i = 0; i < 2000; i++) {
		void *r = NULL;
		weft_future *f = weft_run_coroutine_threadsafe(rt, spin_round_trip, (void *)1);
		cr_assert_not_null(f);
		cr_assert_eq(weft_future_wait(f, WEFT_FOREVER, &r), 0);
		weft_future_unref(f);
	}
	struct weft_metrics m;
	memset(&m, 0, sizeof(m));
	m.size = sizeof(m);
	cr_assert_eq(weft_metrics(rt, &m), 0);
	if (!want_spin)
		cr_assert_eq(m.spins_found_work, 0, "%llu spins found work",
			     (unsigned long long)m.spins_found_work);
	cr_log_info("spin %d: %llu spins found work, %llu parks", want_spin,
		    (unsigned long long)m.spins_found_work, (unsigned long long)m.parks);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}

Test(runtime, no_spin_parks_at_once, .timeout = TEST_TIMEOUT)
{
	unsetenv("WEFT_SPIN");
	bool spins = sysconf(_SC_NPROCESSORS_ONLN) >= 2 && !RUNNING_ON_VALGRIND;
	weft_config cfg = tu_config(2);
	check_no_spin(tu_runtime_cfg(&cfg), spins);
	cfg.no_spin = true;
	check_no_spin(tu_runtime_cfg(&cfg), false);
	cfg = tu_config(2);
	setenv("WEFT_SPIN", "0", 1);
	check_no_spin(tu_runtime_cfg(&cfg), false);
	setenv("WEFT_SPIN", "on", 1);
	check_no_spin(tu_runtime_cfg(&cfg), spins);
	setenv("WEFT_SPIN", "sometimes", 1);
	weft_runtime *rt = NULL;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	cr_assert_null(rt);
	unsetenv("WEFT_SPIN");
}

/*
 * A spinning searcher that finds work of its own (here its own timer)
 * wakes no other worker: the last searcher wakes one only for work left
 * to steal (decision 24). One task sleeps 20 µs 300 times on 2 workers;
 * the other worker has nothing to do throughout, so it is woken for
 * nothing, and before the rule it was woken about once per sleep. Where
 * no worker spins (one CPU, Valgrind) the count is 0 either way.
 */
static int short_sleeps(void *arg, void **res)
{
	(void)arg;
	(void)res;
	for (int i = 0; i < 300; i++)
		if (weft_sleep(20e-6))
			return -EIO;
	return 0;
}

Test(runtime, own_work_found_while_spinning_wakes_no_other_worker, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	cr_assert_eq(weft_runtime_run(rt, short_sleeps, NULL, NULL), 0);
	struct weft_metrics m;
	memset(&m, 0, sizeof(m));
	m.size = sizeof(m);
	cr_assert_eq(weft_metrics(rt, &m), 0);
	cr_log_info("%llu unparks, %llu parks, %llu spins found work", (unsigned long long)m.unparks,
		    (unsigned long long)m.parks, (unsigned long long)m.spins_found_work);
	cr_assert_leq(m.unparks, 30, "%llu wakes of an idle worker", (unsigned long long)m.unparks);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}
