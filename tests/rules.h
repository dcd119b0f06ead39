/* SPDX-License-Identifier: MIT */
/*
 * asyncio's rules that several workers used to break (issue 14), as
 * scenarios shared by the Criterion suite (test_order.c, test_timeout.c)
 * and the stress program (stress/asyncio_rules.c). Each runs inside a
 * task and reports whether the rule held; the callers loop them and
 * assert on their own thread (decision 11). Plain C: no Criterion here.
 */
#ifndef WEFT_TEST_RULES_H
#define WEFT_TEST_RULES_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <weft.h>

#include "core/task.h" /* weft__create_task_on: pin a task to a worker */

/* --- timeouts ------------------------------------------------------------- */

/* test_timeout_in_the_past_sleep_zero / test_timeout_zero's shape:
 * timeout(0) (odd i) or timeout(-11) (even i) around sleep(0). The body
 * gets -ECANCELED, exit -ETIMEDOUT, the scope is expired and nothing stays
 * counted. */
static inline bool rule_past_timeout_sleep_zero(long i)
{
	weft_timeout cm;
	if (weft_timeout_enter_after(&cm, i % 2 ? 0 : -11))
		return false;
	int body = weft_sleep(0);
	int rc = weft_timeout_exit(&cm, body);
	return body == -ECANCELED && rc == -ETIMEDOUT && weft_timeout_expired(&cm) &&
	       weft_task_cancelling(weft_current_task()) == 0;
}

/* test_nested_timeouts: two scopes with one deadline `ahead` seconds away
 * around a long sleep both expire; only the outer converts (the inner sees
 * the outer's cancel still counted and passes -ECANCELED on). */
static inline bool rule_nested_timeouts_same_deadline(double ahead)
{
	weft_timeout outer, inner;
	double when = weft_time() + ahead;
	if (weft_timeout_enter(&outer, when))
		return false;
	if (weft_timeout_enter(&inner, when)) {
		weft_timeout_exit(&outer, 0);
		return false;
	}
	/* long, so that only a stall of a minute (not a loaded machine's or
	 * TSan's second) lets the sleep end before the scopes expire: with
	 * several workers a task resuming from a due sleep then gets its
	 * result, the expiry only pending (core/timeout.c) */
	int body = weft_sleep(60);
	int r_inner = weft_timeout_exit(&inner, body);
	int r_outer = weft_timeout_exit(&outer, r_inner);
	return body == -ECANCELED && r_inner == -ECANCELED && r_outer == -ETIMEDOUT &&
	       weft_timeout_expired(&inner) && weft_timeout_expired(&outer) &&
	       weft_task_cancelling(weft_current_task()) == 0;
}

/* --- a yield goes behind what its worker had queued ------------------------ */

/*
 * asyncio's sleep(0) puts the task's next step at the back of the one
 * ready queue:
 *     loop.call_soon(log, 'cb')
 *     cs = [create_task(log_task(n)) for n in ('c1', 'c2', 'c3')]
 *     ev.set()                 # wakes b, waiting on ev
 *     await asyncio.sleep(0); log('main')
 * → cb c1 c2 c3 b main
 * With several workers the rule is that what was queued on the task's
 * worker before it yielded runs before it resumes there. The body runs on
 * worker 0 while a task pinned to worker 1 spins, so nothing is stolen and
 * "before" is a fact: new tasks sit in the stealable ring, b in the LIFO
 * slot, the callback in the ready queue.
 */
struct rule_log {
	atomic_int n;
	const char *ev[8];
};

static struct rule_log *rule_yield_log;
static weft_event *rule_yield_ev;
static atomic_int rule_blocker_state; /* 1: spinning, 2: released */

static inline void rule_log_add(const char *what)
{
	int i = atomic_fetch_add(&rule_yield_log->n, 1);
	if (i < 8)
		rule_yield_log->ev[i] = what;
}

static inline void rule_log_call(void *arg)
{
	rule_log_add(arg);
}

static inline int rule_log_task(void *arg, void **res)
{
	rule_log_add(arg);
	return 0;
}

static inline int rule_wait_ev_then_log(void *arg, void **res)
{
	weft_event_wait(rule_yield_ev);
	rule_log_add("b");
	return 0;
}

static inline int rule_spin_until_released(void *arg, void **res)
{
	atomic_store(&rule_blocker_state, 1);
	while (atomic_load(&rule_blocker_state) != 2)
		;
	return 0;
}

static inline int rule_yield_body(void *arg, void **res)
{
	weft_future *b = weft__create_task_on(0, rule_wait_ev_then_log, NULL, NULL);
	weft_sleep(0); /* b waits on ev */
	weft_call_soon(rule_log_call, "cb", NULL);
	weft_future *c[3];
	static const char *const names[3] = {"c1", "c2", "c3"};
	for (int i = 0; i < 3; i++)
		c[i] = weft_create_task(rule_log_task, (void *)names[i], NULL);
	weft_event_set(rule_yield_ev);
	weft_sleep(0);
	rule_log_add("main");
	weft_await(b, NULL);
	weft_future_unref(b);
	for (int i = 0; i < 3; i++) {
		weft_await(c[i], NULL);
		weft_future_unref(c[i]);
	}
	weft_event_clear(rule_yield_ev);
	return 0;
}

struct rule_yield_args {
	unsigned workers;
	long runs;
	struct rule_log *log; /* the last run's events */
	long bad;             /* runs where main did not come last */
};

/* On worker 0 (where the body runs): keeps worker 1 busy meanwhile. */
static inline int rule_yield_driver(void *arg, void **res)
{
	struct rule_yield_args *a = arg;
	int rc = weft_event_create(&rule_yield_ev);
	if (rc)
		return rc;
	rule_yield_log = a->log;
	weft_future *blocker = NULL;
	atomic_store(&rule_blocker_state, 0);
	if (a->workers > 1) {
		blocker = weft__create_task_on(1, rule_spin_until_released, NULL, NULL);
		while (atomic_load(&rule_blocker_state) != 1)
			weft_sleep(0.0001);
	}
	for (long i = 0; i < a->runs && rc == 0; i++) {
		atomic_store(&a->log->n, 0);
		weft_future *body = weft__create_task_on(0, rule_yield_body, NULL, NULL);
		rc = weft_await(body, NULL);
		weft_future_unref(body);
		int n = atomic_load(&a->log->n);
		if (n != 6 || strcmp(a->log->ev[5], "main") != 0)
			a->bad++;
	}
	atomic_store(&rule_blocker_state, 2);
	if (blocker) {
		weft_await(blocker, NULL);
		weft_future_unref(blocker);
	}
	weft_event_destroy(rule_yield_ev);
	return rc;
}

/* In a task of a runtime with a->workers workers: runs the scenario
 * a->runs times on worker 0, counting in a->bad the runs where main
 * resumed before what was queued ahead of it. */
static inline int rule_yield_order(struct rule_yield_args *a)
{
	weft_future *d = weft__create_task_on(0, rule_yield_driver, a, NULL);
	int rc = weft_await(d, NULL);
	weft_future_unref(d);
	return rc;
}

#endif
