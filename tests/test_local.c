/* SPDX-License-Identifier: MIT */
/*
 * Task-local values (weft/local.h), asyncio's contextvars: a task starts
 * with a copy of its creator's values, so writes never cross between a
 * parent and a child in either direction.
 */
#include "test_util.h"

static weft_local_key k1, k2, k3;
static int va, vb, vc, vd;

static void make_keys(void)
{
	cr_assert_eq(weft_local_key_create(&k1), 0);
	cr_assert_eq(weft_local_key_create(&k2), 0);
	cr_assert_eq(weft_local_key_create(&k3), 0);
	cr_assert_neq(k1, k2);
	cr_assert_neq(k2, k3);
	cr_assert_neq(k1, k3);
}

/* --- keys, get and set -------------------------------------------------------- */

static void *got_unset, *got_a, *got_b, *got_k2;
static int set_rc = 1, set_rc2 = 1;

static int get_set_main(void *arg, void **res)
{
	got_unset = weft_local_get(k1);
	set_rc = weft_local_set(k1, &va);
	got_a = weft_local_get(k1);
	set_rc2 = weft_local_set(k1, &vb); /* overwrite */
	got_b = weft_local_get(k1);
	got_k2 = weft_local_get(k2); /* another key: still unset */
	return 0;
}

Test(local, key_create_get_set, .timeout = TEST_TIMEOUT)
{
	make_keys();
	cr_assert_eq(tu_run_n(1, get_set_main, NULL, NULL), 0);
	cr_assert_null(got_unset);
	cr_assert_eq(set_rc, 0);
	cr_assert_eq(got_a, &va);
	cr_assert_eq(set_rc2, 0);
	cr_assert_eq(got_b, &vb);
	cr_assert_null(got_k2);
}

Test(local, key_create_null_is_einval)
{
	cr_assert_eq(weft_local_key_create(NULL), -EINVAL);
}

Test(local, outside_a_task)
{
	make_keys();
	cr_assert_null(weft_local_get(k1));
	cr_assert_eq(weft_local_set(k1, &va), -EPERM);
	cr_assert_null(weft_local_get(k1));
}

static int bad_key_rc0 = 1, bad_key_rc1 = 1;
static void *bad_key_get = (void *)1;

static int bad_key_main(void *arg, void **res)
{
	weft_local_key never = k3 + 1000; /* never created */
	bad_key_rc0 = weft_local_set(never, &va);
	bad_key_rc1 = weft_local_set(0, &va); /* 0 is never a key */
	bad_key_get = weft_local_get(never);
	return 0;
}

Test(local, invalid_key_is_einval, .timeout = TEST_TIMEOUT)
{
	make_keys();
	cr_assert_eq(tu_run_n(1, bad_key_main, NULL, NULL), 0);
	cr_assert_eq(bad_key_rc0, -EINVAL);
	cr_assert_eq(bad_key_rc1, -EINVAL);
	cr_assert_null(bad_key_get);
}

/* --- inheritance ---------------------------------------------------------------- */

static void *child_saw1, *child_saw2, *child_saw3, *child_after_parent_write;
static void *parent_after_child_write, *parent_k2_after_child;
static void *grandchild_saw;

static int grandchild(void *arg, void **res)
{
	grandchild_saw = weft_local_get(k1);
	return 0;
}

static int child(void *arg, void **res)
{
	weft_future *gate = arg;
	child_saw1 = weft_local_get(k1);
	child_saw2 = weft_local_get(k2);
	weft_local_set(k1, &vc); /* must not reach the parent */
	weft_local_set(k3, &vc);
	weft_future *g = weft_create_task(grandchild, NULL, NULL);
	weft_await(g, NULL);
	weft_future_unref(g);
	weft_await(gate, NULL); /* the parent writes meanwhile */
	child_after_parent_write = weft_local_get(k2);
	child_saw3 = weft_local_get(k1);
	return 0;
}

static int inherit_main(void *arg, void **res)
{
	weft_future *gate = weft_future_create(NULL);
	weft_local_set(k1, &va);
	weft_local_set(k2, &vb);
	weft_future *c = weft_create_task(child, gate, NULL);
	weft_sleep(0); /* the child runs and writes */
	weft_sleep(0);
	weft_sleep(0);
	parent_after_child_write = weft_local_get(k1);
	parent_k2_after_child = weft_local_get(k3);
	weft_local_set(k2, &vd); /* must not reach the already-created child */
	weft_future_set_result(gate, NULL);
	weft_await(c, NULL);
	weft_future_unref(c);
	weft_future_unref(gate);
	return 0;
}

Test(local, child_inherits_and_writes_stay_apart, .timeout = TEST_TIMEOUT)
{
	make_keys();
	for (unsigned w = 1; w <= 2; w++) {
		cr_assert_eq(tu_run_n(w, inherit_main, NULL, NULL), 0);
		cr_assert_eq(child_saw1, &va, "the child inherits the creator's values");
		cr_assert_eq(child_saw2, &vb);
		cr_assert_eq(grandchild_saw, &vc, "a grandchild inherits the child's");
		cr_assert_eq(parent_after_child_write, &va, "a child's write leaked to its parent");
		cr_assert_null(parent_k2_after_child, "a child's new key leaked to its parent");
		cr_assert_eq(child_after_parent_write, &vb,
			     "a parent's later write reached an already-created child");
		cr_assert_eq(child_saw3, &vc, "the child keeps its own write");
	}
}

/* The copy is taken at creation, not when the child first runs. */
static void *late_child_saw;

static int late_child(void *arg, void **res)
{
	late_child_saw = weft_local_get(k1);
	return 0;
}

static int copy_at_creation_main(void *arg, void **res)
{
	weft_local_set(k1, &va);
	weft_future *c = weft_create_task(late_child, NULL, NULL);
	weft_local_set(k1, &vb); /* before the child ever ran */
	weft_await(c, NULL);
	weft_future_unref(c);
	return 0;
}

Test(local, copy_is_taken_at_creation, .timeout = TEST_TIMEOUT)
{
	make_keys();
	cr_assert_eq(tu_run_n(1, copy_at_creation_main, NULL, NULL), 0);
	cr_assert_eq(late_child_saw, &va);
}

/* Siblings each start from the parent's copy and do not see each other. */
static void *sib_saw[2];

static int sibling(void *arg, void **res)
{
	long i = (long)arg;
	weft_local_set(k1, i ? &vc : &vd);
	weft_sleep(0);
	weft_sleep(0);
	sib_saw[i] = weft_local_get(k1);
	return 0;
}

static int siblings_main(void *arg, void **res)
{
	weft_local_set(k1, &va);
	weft_future *a = weft_create_task(sibling, (void *)0, NULL);
	weft_future *b = weft_create_task(sibling, (void *)1, NULL);
	weft_await(a, NULL);
	weft_await(b, NULL);
	weft_future_unref(a);
	weft_future_unref(b);
	*res = weft_local_get(k1);
	return 0;
}

Test(local, siblings_are_independent, .timeout = TEST_TIMEOUT)
{
	make_keys();
	for (unsigned w = 1; w <= 2; w++) {
		void *v = NULL;
		cr_assert_eq(tu_run_n(w, siblings_main, NULL, &v), 0);
		cr_assert_eq(sib_saw[0], &vd);
		cr_assert_eq(sib_saw[1], &vc);
		cr_assert_eq(v, &va);
	}
}

/* A task spawned from a foreign thread starts with no values. */
static void *spawned_saw = (void *)1;

static int spawned(void *arg, void **res)
{
	spawned_saw = weft_local_get(k1);
	return 0;
}

Test(local, spawned_from_outside_starts_empty, .timeout = TEST_TIMEOUT)
{
	make_keys();
	weft_runtime *rt = tu_runtime(1);
	weft_future *t = weft_spawn(rt, spawned, NULL, NULL);
	cr_assert_eq(weft_future_wait(t, 5.0 * WEFT_TEST_SLOW, NULL), 0);
	cr_assert_null(spawned_saw);
	weft_future_unref(t);
	weft_runtime_destroy(rt);
}

/* Values survive suspensions, also on a migratable task that may change
 * threads (they belong to the task, not the thread). */
static atomic_int lost;

static int keeper(void *arg, void **res)
{
	weft_local_set(k1, arg);
	for (int i = 0; i < 50; i++) {
		weft_sleep(0);
		if (weft_local_get(k1) != arg)
			atomic_fetch_add(&lost, 1);
	}
	return 0;
}

static int keepers_main(void *arg, void **res)
{
	static int slots[32];
	weft_future *ts[32];
	for (int i = 0; i < 32; i++)
		ts[i] = weft_create_task(keeper, &slots[i], NULL);
	for (int i = 0; i < 32; i++) {
		weft_await(ts[i], NULL);
		weft_future_unref(ts[i]);
	}
	return 0;
}

Test(local, values_follow_the_task_across_suspensions, .timeout = TEST_TIMEOUT)
{
	make_keys();
	weft_config cfg = tu_config(4);
	cfg.migratable = true;
	cr_assert_eq(tu_run(keepers_main, NULL, &cfg, NULL), 0);
	cr_assert_eq(atomic_load(&lost), 0);
}

/* --- a task created in a callback --------------------------------------------- */

/* asyncio copies the current context when a callback creates a task: the
 * callback's (the one its scheduler had), not an empty one. */
static void *from_cb_child_saw = (void *)1;
static weft_future *from_cb_task;

static int from_cb_child(void *arg, void **res)
{
	from_cb_child_saw = weft_local_get(k1);
	return 0;
}

static void from_cb_callback(void *arg)
{
	from_cb_task = weft_spawn(weft_current_runtime(), from_cb_child, NULL, NULL);
}

static int from_cb_main(void *arg, void **res)
{
	weft_local_set(k1, &va);
	weft_call_soon(from_cb_callback, NULL, NULL);
	weft_local_set(k1, &vb); /* after scheduling: the callback keeps &va */
	while (!from_cb_task)
		weft_sleep(0);
	weft_await(from_cb_task, NULL);
	weft_future_unref(from_cb_task);
	return 0;
}

Test(local, task_created_in_a_callback_sees_its_values, .timeout = TEST_TIMEOUT)
{
	make_keys();
	cr_assert_eq(tu_run_n(1, from_cb_main, NULL, NULL), 0);
	cr_assert_eq(from_cb_child_saw, &va);
}
