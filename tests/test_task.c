/* SPDX-License-Identifier: MIT */
/*
 * Tasks (weft/task.h, weft_run / weft_spawn of weft/runtime.h): outcomes,
 * failure messages, names, current_task, all_tasks, foreign spawns, a
 * runtime run twice, and tasks still running at weft_runtime_destroy.
 */
#include "test_util.h"

static pthread_t test_thread;

/* --- weft_run returns main's outcome ---------------------------------- */

static int value_main(void *arg, void **res)
{
	*res = arg;
	return 0;
}

static int failing_main(void *arg, void **res)
{
	*res = arg; /* ignored: a failed task has no value */
	return -EIO;
}

Test(task, run_returns_mains_result, .timeout = TEST_TIMEOUT)
{
	int x;
	void *res = NULL;
	cr_assert_eq(tu_run(value_main, &x, NULL, &res), 0);
	cr_assert_eq(res, &x);
	/* result may be NULL */
	cr_assert_eq(tu_run(value_main, &x, NULL, NULL), 0);
}

Test(task, run_returns_mains_error_code, .timeout = TEST_TIMEOUT)
{
	int x;
	void *res = (void *)1;
	cr_assert_eq(tu_run(failing_main, &x, NULL, &res), -EIO);
	cr_assert_null(res, "a failed main gives no value");
}

/* --- weft_fail's message ---------------------------------------------- */

static int fail_child(void *arg, void **res)
{
	return weft_fail(-ENOENT, "open %s: %d", (const char *)arg, 7);
}

static int fail_parent(void *arg, void **res)
{
	weft_future *c = weft_create_task(fail_child, "/etc/x", NULL);
	int rc = weft_await(c, NULL);
	*res = c; /* the test reads the message after the runtime is gone */
	return rc == -ENOENT ? 0 : -EPROTO;
}

Test(task, fail_message_reaches_future_message, .timeout = TEST_TIMEOUT)
{
	void *res = NULL;
	cr_assert_eq(tu_run_n(2, fail_parent, NULL, &res), 0);
	weft_future *c = res;
	cr_assert_eq(weft_future_result(c, NULL), -ENOENT);
	cr_assert_eq(weft_future_exception(c), -ENOENT);
	cr_assert_not(weft_future_cancelled(c));
	cr_assert_str_eq(weft_future_message(c), "open /etc/x: 7");
	weft_future_unref(c);
}

static int fail_main(void *arg, void **res)
{
	return weft_fail(-EPROTO, "main says %s", "no");
}

Test(task, fail_message_of_a_spawned_main, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *m = weft_spawn(rt, fail_main, NULL, NULL);
	cr_assert_eq(weft_future_wait(m, 5.0 * WEFT_TEST_SLOW, NULL), -EPROTO);
	cr_assert_str_eq(weft_future_message(m), "main says no");
	weft_runtime_destroy(rt);
	cr_assert_str_eq(weft_future_message(m), "main says no", "still valid after destroy");
	weft_future_unref(m);
}

static int ok_after_fail(void *arg, void **res)
{
	/* A recorded message is dropped when the task then succeeds. */
	(void)weft_fail(-EIO, "transient");
	return 0;
}

Test(task, fail_then_success_has_no_message, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *m = weft_spawn(rt, ok_after_fail, NULL, NULL);
	cr_assert_eq(weft_future_wait(m, 5.0 * WEFT_TEST_SLOW, NULL), 0);
	cr_assert_null(weft_future_message(m));
	weft_future_unref(m);
	weft_runtime_destroy(rt);
}

/* --- create_task + await ---------------------------------------------- */

static int double_it(void *arg, void **res)
{
	long *p = arg;
	weft_sleep(0);
	*p *= 2;
	*res = p;
	return 0;
}

static int create_await_main(void *arg, void **res)
{
	enum { N = 20 };
	static long vals[N];
	weft_future *ts[N];
	for (int i = 0; i < N; i++) {
		vals[i] = i;
		ts[i] = weft_create_task(double_it, &vals[i], NULL);
	}
	long sum = 0;
	for (int i = 0; i < N; i++) {
		void *v = NULL;
		if (weft_await(ts[i], &v) != 0 || v != &vals[i])
			return -EPROTO;
		sum += *(long *)v;
		weft_future_unref(ts[i]);
	}
	*res = (void *)sum;
	return 0;
}

Test(task, create_task_and_await, .timeout = TEST_TIMEOUT)
{
	for (unsigned workers = 1; workers <= 4; workers *= 2) {
		void *res = NULL;
		cr_assert_eq(tu_run_n(workers, create_await_main, NULL, &res), 0);
		cr_assert_eq((long)res, 2 * (19 * 20 / 2), "workers=%u", workers);
	}
}

static int create_task_does_not_run_it_yet(void *arg, void **res)
{
	atomic_int *ran = arg;
	atomic_store(ran, 1);
	return 0;
}

static int not_yet_main(void *arg, void **res)
{
	static atomic_int ran;
	weft_future *t = weft_create_task(create_task_does_not_run_it_yet, &ran, NULL);
	int before = atomic_load(&ran);
	bool done_before = weft_future_done(t);
	weft_await(t, NULL);
	weft_future_unref(t);
	*res = (void *)(long)(before == 0 && !done_before && atomic_load(&ran) == 1);
	return 0;
}

Test(task, created_task_starts_at_a_later_turn, .timeout = TEST_TIMEOUT)
{
	void *res = NULL;
	cr_assert_eq(tu_run_n(1, not_yet_main, NULL, &res), 0);
	cr_assert_eq((long)res, 1);
}

/* --- names ------------------------------------------------------------ */

static char main_name[64], name1[64], name2[64], renamed[64], given[64];
static const char *plain_name = "unset";
static int set_plain_rc, set_null_rc;

static int nop_task(void *arg, void **res)
{
	return 0;
}

static bool is_default_name(const char *s)
{
	if (strncmp(s, "Task-", 5) != 0 || !s[5])
		return false;
	for (const char *p = s + 5; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

static int names_main(void *arg, void **res)
{
	snprintf(main_name, sizeof(main_name), "%s", weft_task_name(weft_current_task()));
	weft_future *a = weft_create_task(nop_task, NULL, NULL);
	weft_future *b = weft_create_task(nop_task, NULL, NULL);
	char nm[] = "given-name";
	weft_future *c = weft_create_task(nop_task, NULL, nm);
	nm[0] = 'X'; /* the name was copied */
	snprintf(name1, sizeof(name1), "%s", weft_task_name(a));
	snprintf(name2, sizeof(name2), "%s", weft_task_name(b));
	snprintf(given, sizeof(given), "%s", weft_task_name(c));
	char nn[] = "renamed";
	weft_task_set_name(a, nn);
	nn[0] = 'X';
	snprintf(renamed, sizeof(renamed), "%s", weft_task_name(a));
	weft_future *plain = weft_future_create(NULL);
	plain_name = weft_task_name(plain);
	set_plain_rc = weft_task_set_name(plain, "x");
	set_null_rc = weft_task_set_name(b, NULL);
	weft_await(a, NULL);
	weft_await(b, NULL);
	weft_await(c, NULL);
	weft_future_unref(a);
	weft_future_unref(b);
	weft_future_unref(c);
	weft_future_unref(plain);
	return 0;
}

Test(task, names, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, names_main, NULL, NULL), 0);
	/* weft/runtime.h: weft_runtime_run (and so weft_run) runs fn "as a
	 * task named "main"". */
	cr_assert_str_eq(main_name, "main");
	cr_assert(is_default_name(name1), "default name: %s", name1);
	cr_assert(is_default_name(name2), "default name: %s", name2);
	cr_assert_str_neq(name1, name2);
	cr_assert_str_eq(given, "given-name");
	cr_assert_str_eq(renamed, "renamed");
	cr_assert_null(plain_name, "a plain future has no name");
	cr_assert_eq(set_plain_rc, -EINVAL);
	cr_assert_eq(set_null_rc, -EINVAL);
	cr_assert_null(weft_task_name(NULL));
	cr_assert_eq(weft_task_set_name(NULL, "x"), -EINVAL);
}

Test(task, spawn_names, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	weft_future *a = weft_spawn(rt, nop_task, NULL, NULL);
	weft_future *b = weft_spawn(rt, nop_task, NULL, "spawned");
	cr_assert(is_default_name(weft_task_name(a)), "%s", weft_task_name(a));
	cr_assert_str_eq(weft_task_name(b), "spawned");
	cr_assert_eq(weft_task_set_name(b, "other"), 0);
	cr_assert_str_eq(weft_task_name(b), "other");
	weft_future_wait(a, WEFT_FOREVER, NULL);
	weft_future_wait(b, WEFT_FOREVER, NULL);
	cr_assert_str_eq(weft_task_name(b), "other", "a finished task keeps its name");
	weft_future_unref(a);
	weft_future_unref(b);
	weft_runtime_destroy(rt);
}

/* --- current_task, is_task, fn_of -------------------------------------- */

static weft_future *seen_current;
static weft_future *child_seen_current;
static weft_future *child_handle;
static bool seen_is_task;

static int report_current(void *arg, void **res)
{
	child_seen_current = weft_current_task();
	return 0;
}

static int current_main(void *arg, void **res)
{
	seen_current = weft_current_task();
	seen_is_task = weft_is_task(seen_current);
	child_handle = weft_create_task(report_current, NULL, NULL);
	weft_await(child_handle, NULL);
	return 0;
}

Test(task, current_task_inside_and_outside, .timeout = TEST_TIMEOUT)
{
	cr_assert_null(weft_current_task(), "no task on the test thread");
	weft_runtime *rt = tu_runtime(2);
	weft_future *m = weft_spawn(rt, current_main, NULL, NULL);
	cr_assert_eq(weft_future_wait(m, 5.0 * WEFT_TEST_SLOW, NULL), 0);
	cr_assert_eq(seen_current, m, "weft_current_task is the task's own handle");
	cr_assert(seen_is_task);
	cr_assert_eq(child_seen_current, child_handle);
	cr_assert_null(weft_current_task());
	weft_future_unref(child_handle);
	weft_future_unref(m);
	weft_runtime_destroy(rt);
}

Test(task, is_task_and_fn_of, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *t = weft_spawn(rt, report_current, NULL, NULL);
	weft_future *f = weft_future_create(rt);
	cr_assert(weft_is_task(t));
	cr_assert_not(weft_is_task(f));
	cr_assert_eq(weft_task_fn_of(t), report_current);
	cr_assert_null(weft_task_fn_of(f));
	cr_assert_null(weft_task_fn_of(NULL));
	weft_future_wait(t, WEFT_FOREVER, NULL);
	cr_assert_eq(weft_task_fn_of(t), report_current, "still known once done");
	weft_future_unref(t);
	weft_future_unref(f);
	weft_runtime_destroy(rt);
}

/* test_task_set_methods: "Task does not support set_result()" /
 * "set_exception()" is a RuntimeError, -EPERM, whether the task is
 * pending or done, from inside a task or from another thread; the task
 * is untouched. */
static atomic_int set_own_result_rc = 1, set_own_exception_rc = 1;

static int await_gate(void *arg, void **res)
{
	set_own_result_rc = weft_future_set_result(weft_current_task(), NULL);
	set_own_exception_rc = weft_future_set_exception(weft_current_task(), -EIO, NULL);
	*res = (void *)7;
	return weft_await(arg, NULL);
}

Test(task, task_does_not_support_set_result_or_set_exception, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *gate = weft_future_create(rt);
	weft_future *t = weft_spawn(rt, await_gate, gate, NULL);
	while (set_own_exception_rc == 1)
		tu_nap_ms(1);
	cr_assert_eq(set_own_result_rc, -EPERM);
	cr_assert_eq(set_own_exception_rc, -EPERM);
	cr_assert_eq(weft_future_set_result(t, NULL), -EPERM, "pending, from another thread");
	cr_assert_eq(weft_future_set_exception(t, -EIO, "x"), -EPERM);
	cr_assert_eq(weft_future_set_exception(t, 0, NULL), -EPERM, "checked before the code");
	cr_assert_not(weft_future_done(t));
	cr_assert_eq(weft_future_set_result(gate, NULL), 0);
	void *v = NULL;
	cr_assert_eq(weft_future_wait(t, WEFT_FOREVER, &v), 0);
	cr_assert_eq(v, (void *)7);
	cr_assert_eq(weft_future_set_result(t, NULL), -EPERM, "done");
	cr_assert_eq(weft_future_set_exception(t, -EIO, NULL), -EPERM);
	cr_assert_eq(weft_future_result(t, &v), 0, "the outcome is unchanged");
	weft_future_unref(t);
	weft_future_unref(gate);
	weft_runtime_destroy(rt);
}

/* --- all_tasks -------------------------------------------------------- */

static long all_count_start, all_count_cap2, all_count_after, all_refs_ok;

static int wait_on_arg(void *arg, void **res)
{
	return weft_await(arg, NULL);
}

static int all_tasks_main(void *arg, void **res)
{
	weft_future *gate = weft_future_create(NULL);
	weft_future *ts[3];
	for (int i = 0; i < 3; i++)
		ts[i] = weft_create_task(wait_on_arg, gate, NULL);
	all_count_start = weft_all_tasks(NULL, NULL, 0); /* main + 3 */
	weft_sleep(0);                                   /* they now wait */
	weft_future *out[2] = {NULL, NULL};
	all_count_cap2 = weft_all_tasks(NULL, out, 2);
	all_refs_ok = 1;
	for (int i = 0; i < 2; i++) {
		if (!out[i] || !weft_is_task(out[i]) || weft_future_done(out[i]))
			all_refs_ok = 0;
		weft_future_unref(out[i]);
	}
	weft_future_set_result(gate, NULL);
	for (int i = 0; i < 3; i++) {
		weft_await(ts[i], NULL);
		weft_future_unref(ts[i]);
	}
	all_count_after = weft_all_tasks(NULL, NULL, 0); /* main only */
	weft_future_unref(gate);
	return 0;
}

Test(task, all_tasks_counts_pending_tasks, .timeout = TEST_TIMEOUT)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		cr_assert_eq(tu_run_n(workers, all_tasks_main, NULL, NULL), 0);
		cr_assert_eq(all_count_start, 4, "workers=%u", workers);
		cr_assert_eq(all_count_cap2, 4, "the count may exceed cap");
		cr_assert(all_refs_ok);
		cr_assert_eq(all_count_after, 1);
	}
}

Test(task, all_tasks_from_a_foreign_thread, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	cr_assert_eq(weft_all_tasks(rt, NULL, 0), 0, "an idle runtime has no tasks");
	cr_assert_eq(weft_all_tasks(NULL, NULL, 0), -EINVAL, "no current runtime here");
	cr_assert_eq(weft_all_tasks(rt, NULL, 3), -EINVAL);
	weft_future *gate = weft_future_create(rt);
	weft_future *t = weft_spawn(rt, wait_on_arg, gate, NULL);
	weft_future *out[4] = {NULL};
	cr_assert_eq(weft_all_tasks(rt, out, 4), 1);
	cr_assert_eq(out[0], t);
	weft_future_unref(out[0]);
	weft_future_set_result(gate, NULL);
	cr_assert_eq(weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, NULL), 0);
	cr_assert_eq(weft_all_tasks(rt, NULL, 0), 0);
	weft_future_unref(t);
	weft_future_unref(gate);
	weft_runtime_destroy(rt);
}

/* --- an unref too many never frees a running task ----------------------- */

static atomic_int victim_done;

static int victim(void *arg, void **res)
{
	weft_await(arg, NULL); /* the test's gate */
	atomic_store(&victim_done, 1);
	*res = (void *)77;
	return 0;
}

/* The handle's count and the runtime's reference were one number: two
 * unrefs of one handle freed the task while it waited (ASan: use after
 * free when it resumed; a plain build lost it from weft_all_tasks and
 * reused its memory). The runtime's reference cannot be dropped from
 * outside: the extra unrefs are ignored (debug mode aborts on them:
 * test_misuse.c). */
Test(task, an_extra_unref_cannot_free_a_running_task, .timeout = TEST_TIMEOUT)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		atomic_store(&victim_done, 0);
		weft_runtime *rt = tu_runtime(workers);
		weft_future *gate = weft_future_create(rt);
		weft_future *t = weft_spawn(rt, victim, gate, "victim");
		weft_future_unref(t); /* the handle */
		weft_future_unref(t); /* one too many */
		cr_assert_eq(weft_all_tasks(rt, NULL, 0), 1, "the task is still alive");
		weft_future_unref(t);
		cr_assert_eq(weft_all_tasks(rt, NULL, 0), 1, "the task is still alive");
		cr_assert_eq(weft_future_set_result(gate, NULL), 0);
		cr_assert(tu_wait_flag(&victim_done, 1, 5.0 * WEFT_TEST_SLOW), "it runs to its end");
		cr_assert_eq(weft_runtime_destroy(rt), 0);
		weft_future_unref(gate);
	}
}

/* --- spawn from foreign threads ---------------------------------------- */

static int add_one(void *arg, void **res)
{
	weft_sleep(0);
	*res = (void *)((long)arg + 1);
	return 0;
}

Test(task, spawn_from_foreign_thread, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	enum { N = 50 };
	weft_future *ts[N];
	for (long i = 0; i < N; i++)
		ts[i] = weft_spawn(rt, add_one, (void *)i, NULL);
	for (long i = 0; i < N; i++) {
		void *v = NULL;
		cr_assert_eq(weft_future_wait(ts[i], 5.0 * WEFT_TEST_SLOW, &v), 0);
		cr_assert_eq((long)v, i + 1);
		weft_future_unref(ts[i]);
	}
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}

struct spawner {
	weft_runtime *rt;
	long base;
	long sum;
	int bad;
};

static void *spawner_thread(void *arg)
{
	struct spawner *s = arg;
	enum { N = 50 };
	weft_future *ts[N];
	for (long i = 0; i < N; i++)
		ts[i] = weft_spawn(s->rt, add_one, (void *)(s->base + i), NULL);
	for (long i = 0; i < N; i++) {
		void *v = NULL;
		if (weft_future_wait(ts[i], 5.0 * WEFT_TEST_SLOW, &v) != 0)
			s->bad++;
		else
			s->sum += (long)v;
		weft_future_unref(ts[i]);
	}
	return NULL;
}

Test(task, spawn_from_several_foreign_threads, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	struct spawner sp[3];
	pthread_t th[3];
	for (int i = 0; i < 3; i++) {
		sp[i] = (struct spawner){.rt = rt, .base = 1000 * i};
		pthread_create(&th[i], NULL, spawner_thread, &sp[i]);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(sp[i].bad, 0);
		/* sum of base+i+1 for i in 0..49 */
		cr_assert_eq(sp[i].sum, 50 * sp[i].base + 50 * 51 / 2);
	}
	weft_runtime_destroy(rt);
}

/* A task of runtime A spawns into runtime B and awaits that task. */
static int cross_runtime_main(void *arg, void **res)
{
	weft_runtime *b = arg;
	weft_future *t = weft_spawn(b, add_one, (void *)41, NULL);
	void *v = NULL;
	int rc = weft_await(t, &v);
	weft_future_unref(t);
	*res = v;
	return rc;
}

Test(task, spawn_into_another_runtime_from_a_worker, .timeout = TEST_TIMEOUT)
{
	weft_runtime *a = tu_runtime(1);
	weft_runtime *b = tu_runtime(2);
	weft_future *m = weft_spawn(a, cross_runtime_main, b, NULL);
	void *v = NULL;
	cr_assert_eq(weft_future_wait(m, 5.0 * WEFT_TEST_SLOW, &v), 0);
	cr_assert_eq((long)v, 42);
	weft_future_unref(m);
	weft_runtime_destroy(a);
	weft_runtime_destroy(b);
}

/* --- weft_runtime_run, twice ------------------------------------------ */

static int run_main(void *arg, void **res)
{
	weft_future *t = weft_create_task(add_one, arg, NULL);
	int rc = weft_await(t, res);
	weft_future_unref(t);
	return rc;
}

Test(task, runtime_run_twice, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(2);
	void *v = NULL;
	cr_assert_eq(weft_runtime_run(rt, run_main, (void *)1, &v), 0);
	cr_assert_eq((long)v, 2);
	v = NULL;
	cr_assert_eq(weft_runtime_run(rt, run_main, (void *)10, &v), 0);
	cr_assert_eq((long)v, 11);
	cr_assert_eq(weft_runtime_run(rt, failing_main, NULL, NULL), -EIO);
	cr_assert_eq(weft_runtime_destroy(rt), 0);
}

/* Other tasks keep running after run returns (asyncio.Runner.run). */
static int leave_a_task(void *arg, void **res)
{
	weft_future *t = weft_create_task(wait_on_arg, arg, "left-behind");
	*res = t; /* handed to the test */
	return 0;
}

Test(task, runtime_run_leaves_other_tasks_running, .timeout = TEST_TIMEOUT)
{
	weft_runtime *rt = tu_runtime(1);
	weft_future *gate = weft_future_create(rt);
	void *v = NULL;
	cr_assert_eq(weft_runtime_run(rt, leave_a_task, gate, &v), 0);
	weft_future *t = v;
	cr_assert_not(weft_future_done(t));
	cr_assert_eq(weft_all_tasks(rt, NULL, 0), 1);
	weft_future_set_result(gate, NULL);
	cr_assert_eq(weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, NULL), 0);
	weft_future_unref(t);
	weft_future_unref(gate);
	weft_runtime_destroy(rt);
}

/* --- tasks still running at destroy are cancelled ----------------------- */

static atomic_int started;
static atomic_int spinner_sleep_rc = 1, waiter_await_rc = 1;

static int spinner(void *arg, void **res)
{
	atomic_fetch_add(&started, 1);
	for (;;) {
		int rc = weft_sleep(0);
		if (rc) {
			atomic_store(&spinner_sleep_rc, rc);
			return rc;
		}
	}
}

static int forever_waiter(void *arg, void **res)
{
	weft_future *never = weft_future_create(NULL);
	atomic_fetch_add(&started, 1);
	int rc = weft_await(never, NULL);
	atomic_store(&waiter_await_rc, rc);
	weft_future_unref(never);
	return rc;
}

Test(task, destroy_cancels_running_tasks, .timeout = TEST_TIMEOUT)
{
	for (unsigned workers = 1; workers <= 2; workers++) {
		atomic_store(&started, 0);
		atomic_store(&spinner_sleep_rc, 1);
		atomic_store(&waiter_await_rc, 1);
		weft_runtime *rt = tu_runtime(workers);
		weft_future *a = weft_spawn(rt, spinner, NULL, NULL);
		weft_future *b = weft_spawn(rt, forever_waiter, NULL, NULL);
		cr_assert(tu_wait_flag(&started, 2, 5.0 * WEFT_TEST_SLOW), "tasks never started");
		cr_assert_eq(weft_runtime_destroy(rt), 0);
		cr_assert_eq(atomic_load(&spinner_sleep_rc), -ECANCELED);
		cr_assert_eq(atomic_load(&waiter_await_rc), -ECANCELED);
		cr_assert(weft_future_cancelled(a));
		cr_assert(weft_future_cancelled(b));
		weft_future_unref(a);
		weft_future_unref(b);
	}
}

static int spawn_and_leave(void *arg, void **res)
{
	/* main returns while its child still waits (or has not started). */
	*res = weft_create_task(forever_waiter, NULL, NULL);
	return 0;
}

Test(task, run_cancels_leftover_tasks_at_exit, .timeout = TEST_TIMEOUT)
{
	/* asyncio.run: tasks left when main returns are cancelled and awaited. */
	void *v = NULL;
	cr_assert_eq(tu_run_n(1, spawn_and_leave, NULL, &v), 0);
	weft_future *t = v;
	cr_assert(weft_future_done(t));
	cr_assert(weft_future_cancelled(t));
	weft_future_unref(t);
}

/* --- a task is a future ----------------------------------------------- */

static atomic_int task_cb_ran;
static weft_future *task_cb_arg;

static void task_done_cb(weft_future *f, void *arg)
{
	task_cb_arg = f;
	atomic_store(&task_cb_ran, weft_future_done(f) ? 1 : 2);
}

Test(task, done_callback_on_a_task, .timeout = TEST_TIMEOUT)
{
	test_thread = pthread_self();
	weft_runtime *rt = tu_runtime(2);
	weft_future *gate = weft_future_create(rt);
	weft_future *t = weft_spawn(rt, wait_on_arg, gate, NULL);
	cr_assert_eq(weft_future_add_done_callback(t, task_done_cb, NULL), 0);
	weft_future_set_result(gate, NULL);
	cr_assert(tu_wait_flag(&task_cb_ran, 1, 5.0 * WEFT_TEST_SLOW));
	cr_assert_eq(atomic_load(&task_cb_ran), 1);
	cr_assert_eq(task_cb_arg, t);
	weft_future_unref(t);
	weft_future_unref(gate);
	weft_runtime_destroy(rt);
}

/* --- destroy wakes foreign threads waiting on its tasks ------------------- */

struct waiter_arg {
	weft_future *t;
	int rc;
};

static void *foreign_waiter(void *arg)
{
	struct waiter_arg *wa = arg;
	wa->rc = weft_future_wait(wa->t, WEFT_FOREVER, NULL);
	return NULL;
}

Test(task, destroy_wakes_foreign_waiters, .timeout = TEST_TIMEOUT)
{
	atomic_store(&started, 0);
	weft_runtime *rt = tu_runtime(2);
	struct waiter_arg wa = {.t = weft_spawn(rt, forever_waiter, NULL, NULL), .rc = 1};
	cr_assert(tu_wait_flag(&started, 1, 5.0 * WEFT_TEST_SLOW));
	pthread_t th;
	pthread_create(&th, NULL, foreign_waiter, &wa);
	tu_nap_ms(20); /* let it block */
	cr_assert_eq(weft_runtime_destroy(rt), 0);
	pthread_join(th, NULL);
	cr_assert_eq(wa.rc, -ECANCELED);
	weft_future_unref(wa.t);
}
