/* SPDX-License-Identifier: MIT */
/*
 * Misuse is reported, never crashes and never blocks a worker (API.md
 * "Conventions"): -EINVAL for bad arguments, -EPERM for a call made where
 * it is not allowed, -EDEADLK for a task awaiting itself; future-returning
 * calls return a future already failed with the code.
 */
#include <limits.h>

#include "test_util.h"

#include "fiber/sanitizer.h" /* WEFT_SANITIZED */

/* Codes seen inside tasks, asserted after the run. */
static int rc_a = 1, rc_b = 1, rc_c = 1, rc_d = 1;
static bool flag_a, flag_b;

/* --- weft_await ---------------------------------------------------------------- */

static int await_null_main(void *arg, void **res)
{
	rc_a = weft_await(NULL, NULL);
	void *v = (void *)1;
	rc_b = weft_await(NULL, &v);
	flag_a = v == (void *)1; /* untouched */
	return 0;
}

Test(misuse, await_null_is_einval, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, await_null_main, NULL, NULL), 0);
	cr_assert_eq(rc_a, -EINVAL);
	cr_assert_eq(rc_b, -EINVAL);
	cr_assert(flag_a);
	cr_assert_eq(weft_await(NULL, NULL), -EINVAL, "NULL outside a task is still -EINVAL");
}

Test(misuse, await_outside_a_task_is_eperm, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *done = weft_future_create(rt);
	weft_future *pending = weft_future_create(rt);
	int x;
	weft_future_set_result(done, &x);
	void *v = (void *)1;
	cr_assert_eq(weft_await(done, &v), -EPERM, "even when the future is done");
	cr_assert_eq(v, (void *)1, "the result is not touched on misuse");
	cr_assert_eq(weft_await(pending, NULL), -EPERM);
	cr_assert_not(weft_future_done(pending), "misuse does not touch f");
	weft_future_unref(done);
	weft_future_unref(pending);
	weft_runtime_destroy(rt);
}

static int await_self_main(void *arg, void **res)
{
	weft_future *me = weft_current_task();
	void *v = (void *)1;
	rc_a = weft_await(me, &v);
	flag_a = weft_future_done(me); /* must be false: we are running */
	flag_b = v == (void *)1;
	return 0;
}

Test(misuse, await_self_is_edeadlk, .timeout = TEST_TIMEOUT)
{
	void *v = NULL;
	cr_assert_eq(tu_run_n(1, await_self_main, NULL, &v), 0);
	cr_assert_eq(rc_a, -EDEADLK);
	cr_assert_not(flag_a);
	cr_assert(flag_b);
}

/* A done callback is not a task: awaiting there is -EPERM. */
static atomic_int cb_done;
static int cb_await_rc = 1, cb_wait_rc = 1, cb_sleep_rc = 1;

static void misuse_cb(weft_future *f, void *arg)
{
	cb_await_rc = weft_await(f, NULL);
	cb_wait_rc = weft_future_wait(f, 0, NULL);
	cb_sleep_rc = weft_sleep(0);
	atomic_store(&cb_done, 1);
}

static int cb_misuse_main(void *arg, void **res)
{
	weft_future *f = weft_future_create(NULL);
	weft_future_add_done_callback(f, misuse_cb, NULL);
	weft_future_set_result(f, NULL);
	weft_sleep(0);
	weft_future_unref(f);
	return 0;
}

Test(misuse, suspending_calls_inside_a_callback_are_eperm, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, cb_misuse_main, NULL, NULL), 0);
	cr_assert_eq(atomic_load(&cb_done), 1);
	cr_assert_eq(cb_await_rc, -EPERM);
	cr_assert_eq(cb_wait_rc, -EPERM, "weft_future_wait on a worker thread");
	cr_assert_eq(cb_sleep_rc, -EPERM);
}

/* --- future-returning calls fail as futures -------------------------------------- */

static void assert_failed(weft_future *f, int code)
{
	cr_assert_not_null(f, "never NULL");
	cr_assert(weft_future_done(f));
	void *v = (void *)1;
	cr_assert_eq(weft_future_result(f, &v), code);
	cr_assert_eq(weft_future_exception(f), code);
	weft_future_unref(f);
}

Test(misuse, create_task_outside_a_task_is_eperm_future)
{
	assert_failed(weft_create_task(tu_return_arg, NULL, NULL), -EPERM);
	assert_failed(weft_create_task(NULL, NULL, NULL), -EPERM);
}

static weft_future *null_fn_future;

static int create_null_fn_main(void *arg, void **res)
{
	null_fn_future = weft_create_task(NULL, NULL, "nothing");
	return 0;
}

Test(misuse, create_task_null_fn_is_einval_future, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, create_null_fn_main, NULL, NULL), 0);
	assert_failed(null_fn_future, -EINVAL);
}

Test(misuse, spawn_bad_arguments_are_einval_futures, .timeout = TEST_TIMEOUT)
{
	assert_failed(weft_spawn(NULL, tu_return_arg, NULL, NULL), -EINVAL);
	assert_failed(weft_spawn(NULL, NULL, NULL, NULL), -EINVAL);
	weft_runtime *rt = tu_runtime(1);
	weft_future *f = weft_spawn(rt, NULL, NULL, "x");
	cr_assert_not(weft_is_task(f) && !weft_future_done(f));
	assert_failed(f, -EINVAL);
	weft_runtime_destroy(rt);
}

/* A failed future is still a future: awaiting it in a task gives its code. */
static int await_failed_main(void *arg, void **res)
{
	weft_future *f = weft_create_task(NULL, NULL, NULL);
	rc_a = weft_await(f, NULL);
	weft_future_unref(f);
	return 0;
}

Test(misuse, awaiting_a_failed_future_gives_its_code, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, await_failed_main, NULL, NULL), 0);
	cr_assert_eq(rc_a, -EINVAL);
}

/* --- suspending outside a task ----------------------------------------------------- */

Test(misuse, sleep_outside_a_task_is_eperm)
{
	cr_assert_eq(weft_sleep(0), -EPERM);
	cr_assert_eq(weft_sleep(0.01), -EPERM);
	cr_assert_eq(weft_sleep(-1), -EPERM);
}

/* seconds <= 0 yields (weft/time.h); NaN is test_time's
 * sleep_nan_is_einval. Timed sleeps belong to the timer tests. */
static int nonpositive_sleep_main(void *arg, void **res)
{
	rc_c = weft_sleep(-5);
	rc_d = weft_sleep(-INFINITY);
	return 0;
}

Test(misuse, sleep_nonpositive_yields, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, nonpositive_sleep_main, NULL, NULL), 0);
	cr_assert_eq(rc_c, 0);
	cr_assert_eq(rc_d, 0);
}

/* --- blocking calls on a worker thread ----------------------------------------------- */

static weft_runtime *outer_rt;

static int blocking_main(void *arg, void **res)
{
	weft_future *f = weft_future_create(NULL);
	weft_future_set_result(f, NULL);
	rc_a = weft_future_wait(f, 0, NULL); /* even on a done future */
	rc_b = weft_run(tu_return_arg, NULL, NULL, NULL);
	rc_c = weft_runtime_run(weft_current_runtime(), tu_return_arg, NULL, NULL);
	rc_d = weft_runtime_destroy(weft_current_runtime());
	weft_runtime *nested = (weft_runtime *)1;
	int rc = weft_runtime_create(NULL, &nested);
	flag_a = rc == -EPERM;
	flag_b = nested == NULL;
	outer_rt = weft_current_runtime();
	weft_future_unref(f);
	return 0;
}

Test(misuse, blocking_calls_inside_a_task_are_eperm, .timeout = TEST_TIMEOUT)
{
	for (unsigned w = 1; w <= 2; w++) {
		cr_assert_eq(tu_run_n(w, blocking_main, NULL, NULL), 0);
		cr_assert_eq(rc_a, -EPERM, "weft_future_wait inside a task");
		cr_assert_eq(rc_b, -EPERM, "nested weft_run");
		cr_assert_eq(rc_c, -EPERM, "weft_runtime_run on a worker");
		cr_assert_eq(rc_d, -EPERM, "weft_runtime_destroy from inside");
		cr_assert(flag_a, "weft_runtime_create on a worker");
		cr_assert(flag_b);
	}
}

Test(misuse, cancel_null_is_false)
{
	cr_assert_not(weft_cancel(NULL, NULL));
	cr_assert_not(weft_cancel(NULL, "msg"));
}

Test(misuse, null_runtime_arguments)
{
	cr_assert_eq(weft_runtime_run(NULL, tu_return_arg, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_runtime_destroy(NULL), -EINVAL);
	cr_assert_eq(weft_runtime_create(NULL, NULL), -EINVAL);
	cr_assert_eq(weft_run(NULL, NULL, NULL, NULL), -EINVAL);
	cr_assert_null(weft_current_runtime());
	cr_assert_null(weft_current_task());
}

Test(misuse, runtime_run_null_fn_is_einval, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	cr_assert_eq(weft_runtime_run(rt, NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}

/* --- the config struct ------------------------------------------------------------------ */

Test(misuse, config_size_zero_is_einval)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.size = 0;
	weft_runtime *rt = (weft_runtime *)1;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	cr_assert_null(rt);
	cr_assert_eq(weft_run(tu_return_arg, NULL, &cfg, NULL), -EINVAL);
	/* Smaller than the first field after size: still too small. */
	cfg.size = offsetof(weft_config, workers);
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
}

Test(misuse, config_bad_values_are_einval)
{
	weft_config cfg = tu_config(1025);
	weft_runtime *rt = NULL;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL, "workers > 1024");
	cfg = tu_config(1);
	cfg.segv_handler = (enum weft_segv_mode)99;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
}

/* weft_runtime_create's result for cfg; a runtime it made is destroyed,
 * and a refusal must leave *out NULL. */
static int create_rc(const weft_config *cfg)
{
	weft_runtime *rt = (weft_runtime *)cfg; /* not NULL before the call */
	int rc = weft_runtime_create(cfg, &rt);
	if (rc == 0)
		weft_runtime_destroy(rt);
	else
		cr_assert_null(rt);
	return rc;
}

/* A stack_size near SIZE_MAX used to wrap to 0 in page rounding, and the
 * first task died of SIGFPE; above 1 GiB is refused. */
Test(misuse, config_huge_stack_size_is_einval, .timeout = TEST_TIMEOUT)
{
	const size_t bad[] = {SIZE_MAX, SIZE_MAX - 4095, SIZE_MAX / 2, ((size_t)1 << 30) + 1};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		weft_config cfg = tu_config(1);
		cfg.stack_size = bad[i];
		cr_assert_eq(create_rc(&cfg), -EINVAL, "stack_size %zu", bad[i]);
	}
	/* 1 GiB is accepted: stacks are reserved, only touched pages cost. */
	weft_config cfg = tu_config(1);
	cfg.stack_size = (size_t)1 << 30;
	weft_runtime *rt = tu_runtime_cfg(&cfg);
#ifndef WEFT_SANITIZED /* ASan would clear a 1 GiB stack's shadow */
	void *v = NULL;
	cr_assert_eq(weft_runtime_run(rt, tu_return_arg, (void *)7, &v), 0);
	cr_assert_eq((long)v, 7);
#endif
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}

/* ring_entries went to io_uring_setup unchecked (and 4 x UINT_MAX wraps). */
Test(misuse, config_ring_entries_too_big_is_einval, .timeout = TEST_TIMEOUT)
{
	const unsigned bad[] = {16385, 1u << 20, UINT_MAX};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		weft_config cfg = tu_config(1);
		cfg.ring_entries = bad[i];
		cr_assert_eq(create_rc(&cfg), -EINVAL, "ring_entries %u", bad[i]);
	}
	weft_config cfg = tu_config(1);
	cfg.ring_entries = 16384; /* the largest: a CQ of 65536, the kernel's limit */
	void *v = NULL;
	cr_assert_eq(tu_run(tu_return_arg, (void *)3, &cfg, &v), 0);
	cr_assert_eq((long)v, 3);
}

Test(misuse, config_reserve_tasks_too_big_is_einval, .timeout = TEST_TIMEOUT)
{
	const size_t bad[] = {((size_t)1 << 24) + 1, (size_t)1 << 40, SIZE_MAX};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		weft_config cfg = tu_config(1);
		cfg.reserve_tasks = bad[i];
		cr_assert_eq(create_rc(&cfg), -EINVAL, "reserve_tasks %zu", bad[i]);
	}
}

/* In debug mode a refused config names the field (the caller's cfg.debug,
 * before the runtime's debug mode is on). */
Test(misuse, config_debug_names_the_bad_field, .timeout = TEST_TIMEOUT)
{
	static const struct {
		const char *field;
		size_t stack_size;
		unsigned ring_entries, workers;
		bool paused;
		double keepalive;
	} cases[] = {
		{"weft_config.stack_size", SIZE_MAX, 0, 1, false, 10},
		{"weft_config.ring_entries", 0, UINT_MAX, 1, false, 10},
		{"weft_config.workers", 0, 0, 5000, false, 10},
		{"weft_config.paused_clock", 0, 0, 2, true, 10},
		{"weft_config.blocking_keepalive", 0, 0, 1, false, -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		weft_config cfg = tu_config(cases[i].workers);
		cfg.debug = true;
		cfg.stack_size = cases[i].stack_size;
		cfg.ring_entries = cases[i].ring_entries;
		cfg.paused_clock = cases[i].paused;
		cfg.blocking_keepalive = cases[i].keepalive;
		weft_runtime *rt = NULL;
		char text[1024];
		cr_assert_eq(tu_create_capturing_stderr(&cfg, &rt, text, sizeof(text)), -EINVAL);
		cr_assert_not_null(strstr(text, cases[i].field), "%s: stderr was: %s",
				   cases[i].field, text);
	}
}

Test(misuse, config_init_fills_defaults)
{
	weft_config cfg;
	memset(&cfg, 0xa5, sizeof(cfg));
	weft_config_init(&cfg);
	cr_assert_eq(cfg.size, sizeof(weft_config));
	cr_assert_eq(cfg.workers, 0);
	cr_assert_eq(cfg.stack_size, 0);
	cr_assert_not(cfg.migratable);
	cr_assert_not(cfg.debug);
	cr_assert_eq(cfg.ring_entries, 0);
	cr_assert_not(cfg.ring_no_defer);
	cr_assert_not(cfg.pin_workers);
	cr_assert_eq(cfg.segv_handler, WEFT_SEGV_AUTO);
	weft_config_init(NULL); /* harmless */
}

/* A caller compiled against an older, smaller weft_config (only size and
 * workers): fields past its size read as defaults. The bytes past it are
 * filled with garbage that would fail creation if read (ring_entries
 * 0xffffffff, segv_handler out of range). */
Test(misuse, config_from_older_smaller_abi_works, .timeout = TEST_TIMEOUT)
{
	union {
		weft_config cfg;
		unsigned char bytes[sizeof(weft_config)];
	} u;
	memset(u.bytes, 0xff, sizeof(u.bytes));
	u.cfg.size = offsetof(weft_config, workers) + sizeof(u.cfg.workers);
	u.cfg.workers = 3;
	weft_runtime *rt = tu_runtime_cfg(&u.cfg);
	cr_assert_eq(weft_runtime_workers(rt), 3);
	void *v = NULL;
	cr_assert_eq(weft_runtime_run(rt, tu_return_arg, (void *)5, &v), 0);
	cr_assert_eq((long)v, 5);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	cr_assert_eq(u.cfg.workers, 3, "the caller's struct is not written");
}

Test(misuse, config_from_newer_bigger_abi_is_accepted, .timeout = TEST_TIMEOUT)
{
	/* A caller built against a later weft with more fields passes a bigger
	 * size; this weft reads what it knows. */
	union {
		weft_config cfg;
		unsigned char bytes[sizeof(weft_config) + 64];
	} u;
	memset(u.bytes, 0, sizeof(u.bytes));
	weft_config_init(&u.cfg);
	u.cfg.size = sizeof(u.bytes);
	u.cfg.workers = 2;
	weft_runtime *rt = NULL;
	int rc = weft_runtime_create(&u.cfg, &rt);
	if (rc == WEFT_ENOURING)
		cr_skip_test("SKIP: io_uring is not available here");
	cr_assert_eq(rc, 0);
	cr_assert_eq(weft_runtime_workers(rt), 2);
	weft_runtime_destroy(rt);
}

/* --- a runtime that is shutting down refuses new work -------------------------------------- */

static atomic_int stubborn_cancelled, stubborn_release;

static int stubborn(void *arg, void **res)
{
	/* Sees the shutdown's cancel, then keeps the runtime busy until the
	 * test has checked that new work is refused. */
	for (;;) {
		if (weft_sleep(0) == -ECANCELED)
			atomic_store(&stubborn_cancelled, 1);
		if (atomic_load(&stubborn_release))
			return -ECANCELED;
	}
}

static void *destroy_thread(void *arg)
{
	weft_runtime_destroy(arg);
	return NULL;
}

Test(misuse, shutting_down_runtime_refuses_work, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *t = weft_spawn(rt, stubborn, NULL, NULL);
	tu_nap_ms(5);
	pthread_t th;
	pthread_create(&th, NULL, destroy_thread, rt);
	cr_assert(tu_wait_flag(&stubborn_cancelled, 1, 5.0 * WEFT_TEST_SLOW));
	/* rt is still allocated: destroy is blocked on the stubborn task. */
	weft_future *late = weft_spawn(rt, tu_return_arg, NULL, NULL);
	int late_rc = weft_future_result(late, NULL);
	int run_rc = weft_runtime_run(rt, tu_return_arg, NULL, NULL);
	atomic_store(&stubborn_release, 1);
	pthread_join(th, NULL);
	cr_assert_eq(late_rc, -ESHUTDOWN);
	cr_assert_eq(run_rc, -ESHUTDOWN);
	weft_future_unref(late);
	cr_assert(weft_future_cancelled(t));
	weft_future_unref(t);
}

/* --- debug mode: an unref too many aborts, naming the future and the caller - */

static weft_runtime *debug_runtime(void)
{
	weft_config cfg = tu_config(1);
	cfg.debug = true;
	weft_runtime *rt = NULL;
	int rc = weft_runtime_create(&cfg, &rt);
	if (rc == WEFT_ENOURING)
		_exit(77);
	if (rc)
		_exit(3);
	return rt;
}

static void stale_unref_of_a_future(void)
{
	weft_runtime *rt = debug_runtime();
	weft_future *f = weft_future_create(rt);
	weft_future_unref(f); /* the last reference: freed */
	/* Its block would be the next one handed out: another owner's. */
	weft_future *other = weft_future_create(rt);
	weft_future_unref(f); /* stale */
	weft_future_unref(other);
	weft_runtime_destroy(rt);
}

static void stale_unref_of_a_task(void)
{
	weft_runtime *rt = debug_runtime();
	weft_future *t = weft_spawn(rt, tu_return_arg, NULL, "finished-one");
	weft_future_wait(t, WEFT_FOREVER, NULL);
	weft_runtime_destroy(rt); /* the runtime's reference is gone too */
	weft_future_unref(t);     /* the last reference: freed */
	weft_future_ref(t);       /* stale */
}

static int wait_forever(void *arg, void **res)
{
	return weft_await(arg, NULL);
}

static void extra_unref_of_a_running_task(void)
{
	weft_runtime *rt = debug_runtime();
	weft_future *gate = weft_future_create(rt);
	weft_future *t = weft_spawn(rt, wait_forever, gate, "still-running");
	weft_future_unref(t);
	weft_future_unref(t); /* only the runtime's reference is left */
	weft_runtime_destroy(rt);
}

static void check_aborts(void (*fn)(void), const char *what, const char *fn_name)
{
	static char err[8192];
	int status = tu_run_in_child(fn, err, sizeof(err));
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		  "%s: the child must abort (status %#x); stderr: %s", what, status, err);
	cr_assert_not_null(strstr(err, what), "stderr lacks \"%s\": %s", what, err);
	cr_assert_not_null(strstr(err, fn_name), "stderr lacks \"%s\": %s", fn_name, err);
	/* the caller is code of this program: test_misuse+0x... */
	cr_assert_not_null(strstr(err, "called from test_misuse+0x"), "no caller: %s", err);
}

Test(misuse, debug_stale_unref_of_a_freed_future_aborts, .timeout = TEST_TIMEOUT)
{
	check_aborts(stale_unref_of_a_future, "the future was freed already", "weft_future_unref");
}

Test(misuse, debug_stale_ref_of_a_freed_task_aborts, .timeout = TEST_TIMEOUT)
{
	check_aborts(stale_unref_of_a_task, "the task \"finished-one\" was freed already",
		     "weft_future_ref");
}

Test(misuse, debug_extra_unref_of_a_running_task_aborts, .timeout = TEST_TIMEOUT)
{
	check_aborts(extra_unref_of_a_running_task,
		     "an unref too many on task \"still-running\"", "weft_future_unref");
}

/* --- debug mode's stall detector ------------------------------------------ */

/* asyncio's debug mode logs a callback or task step that took longer than
 * loop.slow_callback_duration (0.1 s); weft's reports such a task step. */
static int hog_step(void *arg, void **res)
{
	double t0 = tu_now();
	while (tu_now() - t0 < 0.15)
		; /* keeps its worker without suspending */
	return 0;
}

static int run_named_hog(void *arg, void **res)
{
	weft_future *t = weft_create_task(hog_step, NULL, "hog");
	int rc = weft_await(t, NULL);
	weft_future_unref(t);
	return rc;
}

static void redirect_stderr(void)
{
	cr_redirect_stderr();
}

/* What the test wrote to the redirected stderr so far, into buf. */
static const char *stderr_text(char *buf, size_t cap)
{
	fflush(stderr);
	size_t n = fread(buf, 1, cap - 1, cr_get_redirected_stderr());
	buf[n] = '\0';
	return buf;
}

/* Runs fn on `workers` workers in debug mode (it must succeed); buf gets
 * what was reported on stderr. */
static void run_debug(unsigned workers, weft_task_fn fn, char *buf, size_t cap)
{
	weft_config cfg = tu_config(workers);
	cfg.debug = true;
	cr_assert_eq(tu_run(fn, NULL, &cfg, NULL), 0);
	stderr_text(buf, cap);
}

Test(misuse, debug_mode_reports_a_task_step_that_stalls_its_worker, .init = redirect_stderr,
     .timeout = TEST_TIMEOUT)
{
	weft_config cfg = tu_config(1);
	cfg.debug = true;
	cr_assert_eq(tu_run(run_named_hog, NULL, &cfg, NULL), 0);
	char *buf = tu_redirected_stderr();
	cr_assert(strstr(buf, "weft: task hog ran ") && strstr(buf, "without suspending"),
		  "stderr was: %s", buf);
}

/* --- debug mode's messages name the fix ------------------------------------ */

/* cfg.debug on a config that is refused still turns debug mode on, and the
 * refused field is named with what it may be. */
Test(misuse, debug_mode_names_the_refused_config_field, .init = redirect_stderr)
{
	weft_runtime *rt = NULL;
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.debug = true;
	cfg.workers = 5000;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	weft_config_init(&cfg);
	cfg.paused_clock = true;
	cfg.workers = 2;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	weft_config_init(&cfg);
	cfg.blocking_keepalive = NAN;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	weft_config_init(&cfg);
	cfg.small_stacks = true;
	cfg.stack_size = 1000;
	cr_assert_eq(weft_run(tu_return_arg, NULL, &cfg, NULL), -EINVAL);
	char *err = tu_redirected_stderr();
	cr_assert(strstr(err, "weft: weft_runtime_create: weft_config.workers is 5000: at most 1024"),
		  "stderr: %s", err);
	cr_assert(strstr(err, "weft_config.paused_clock needs weft_config.workers = 1 (it is 2)"),
		  "stderr: %s", err);
	cr_assert(strstr(err, "weft_config.blocking_keepalive is nan"), "stderr: %s", err);
	cr_assert(strstr(err, "weft_config.stack_size is 1000"), "stderr: %s", err);
	cr_assert(strstr(err, "[-EINVAL]"), "the code is named: %s", err);
}

/* `weft_config cfg = {0}` says to call weft_config_init (debug mode from
 * an earlier config here, WEFT_DEBUG=1 alike). */
Test(misuse, debug_mode_says_to_call_config_init_for_a_zeroed_config, .init = redirect_stderr)
{
	weft_config dbg;
	weft_config_init(&dbg);
	dbg.debug = true;
	dbg.workers = 5000; /* refused, but debug mode is on from here */
	weft_runtime *rt = NULL;
	cr_assert_eq(weft_runtime_create(&dbg, &rt), -EINVAL);
	weft_config cfg = {0};
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	cr_assert_eq(weft_run(tu_return_arg, NULL, &cfg, NULL), -EINVAL);
	char *err = tu_redirected_stderr();
	cr_assert(strstr(err, "weft_config.size is 0") && strstr(err, "weft_config_init(&cfg)"),
		  "stderr: %s", err);
}

Test(misuse, without_debug_mode_misuse_is_silent, .init = redirect_stderr)
{
	if (getenv("WEFT_DEBUG"))
		cr_skip_test("WEFT_DEBUG is set");
	weft_config cfg = {0};
	weft_runtime *rt = NULL;
	cr_assert_eq(weft_runtime_create(&cfg, &rt), -EINVAL);
	cr_assert_eq(weft_sleep(0), -EPERM);
	cr_assert_str_eq(tu_redirected_stderr(), "");
}

/* A call made outside a task says where to make it instead. */
Test(misuse, debug_mode_says_where_to_call_a_task_only_function, .init = redirect_stderr)
{
	weft_config dbg;
	weft_config_init(&dbg);
	dbg.debug = true;
	dbg.workers = 5000;
	weft_runtime *rt = NULL;
	cr_assert_eq(weft_runtime_create(&dbg, &rt), -EINVAL);
	cr_assert_eq(weft_sleep(0), -EPERM);
	weft_future *f = weft_to_thread(tu_return_arg, NULL);
	cr_assert_eq(weft_future_result(f, NULL), -EPERM);
	weft_future_unref(f);
	char *err = tu_redirected_stderr();
	cr_assert(strstr(err, "weft: weft_sleep: called outside a task [-EPERM]; to fix: call it "
			      "from a task: the function given to weft_run"),
		  "stderr: %s", err);
	cr_assert(strstr(err, "weft: weft_to_thread: called outside a task [-EPERM]; to fix:"),
		  "stderr: %s", err);
}

/* --- debug mode: a POSIX-style -1 ------------------------------------------ */

/* A task function that returns -1 POSIX-style ends -EPERM ("Operation not
 * permitted"), which misleads; weft itself uses -EPERM for misuse, so it
 * may be meant. Debug mode says so once per task function, unless the
 * function gave weft_fail a message. */
static int posix_minus_one(void *arg, void **res)
{
	return -1;
}

static int posix_minus_one_too(void *arg, void **res)
{
	weft_sleep(0);
	return -1;
}

static int eperm_with_message(void *arg, void **res)
{
	return weft_fail(-EPERM, "not allowed here");
}

static int run_minus_ones(void *arg, void **res)
{
	weft_future *t[21];
	for (int i = 0; i < 10; i++) {
		t[2 * i] = weft_create_task(posix_minus_one, NULL, "minus-one");
		t[2 * i + 1] = weft_create_task(eperm_with_message, NULL, "with-message");
	}
	t[20] = weft_create_task(posix_minus_one_too, NULL, "minus-one-too");
	int bad = 0;
	for (int i = 0; i < 21; i++) {
		if (weft_await(t[i], NULL) != -EPERM)
			bad++;
		weft_future_unref(t[i]);
	}
	return bad ? -EIO : 0;
}

static int count_in(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

Test(misuse, debug_mode_reports_a_task_returning_eperm_once_per_function, .init = redirect_stderr,
     .timeout = TEST_TIMEOUT)
{
	char buf[8192];
	run_debug(2, run_minus_ones, buf, sizeof(buf));
	const char *what = "returned -EPERM (-1?); weft expects a negative errno code";
	cr_assert_eq(count_in(buf, what), 2, "stderr was: %s", buf);
	cr_assert(strstr(buf, "weft: task minus-one returned -EPERM"), "stderr was: %s", buf);
	cr_assert(strstr(buf, "weft: task minus-one-too returned -EPERM"), "stderr was: %s", buf);
	cr_assert_null(strstr(buf, "with-message"), "stderr was: %s", buf);
}

Test(misuse, no_eperm_report_without_debug_mode, .init = redirect_stderr, .timeout = TEST_TIMEOUT)
{
	const char *env = getenv("WEFT_DEBUG");
	if (env && *env && strcmp(env, "0") != 0)
		cr_skip_test("WEFT_DEBUG is set: debug mode is on");
	cr_assert_eq(tu_run_n(2, run_minus_ones, NULL, NULL), 0);
	char buf[4096];
	stderr_text(buf, sizeof(buf));
	cr_assert_null(strstr(buf, "-EPERM (-1?)"), "stderr was: %s", buf);
}
