/* SPDX-License-Identifier: MIT */
/*
 * Timeout scopes (asyncio.timeout / timeout_at, timeouts.py of 3.12+).
 *
 * The scope lives in the caller's memory, maybe on the task's stack; its
 * timer callback must never touch it after exit. So the callback's state
 * is a small shared object (struct tmo_timer): the callback and the task
 * meet under its lock. The callback cancels the task only while the timer
 * is ARMED; exit and reschedule move it to DISARMED under the same lock,
 * so once they return, the callback can no longer touch the task or the
 * scope. The object is reference-counted: one reference for the scope,
 * one for the callback while it may still run.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <weft/call.h>
#include <weft/task.h>
#include <weft/time.h>
#include <weft/timeout.h>

#include "core/core.h"
#include "core/debug.h"
#include "core/task.h"
#include "sched/spinlock.h"
#include "sched/worker.h"

/* weft_timeout.state_ */
enum { ST_EXITED = 0, ST_ENTERED, ST_EXPIRING, ST_EXPIRED };

/* tmo_timer.state */
enum { T_ARMED, T_FIRED, T_DISARMED };

struct tmo_timer {
	weft__spinlock lock;
	_Atomic uint32_t refs;
	_Atomic int state;     /* written under lock; read anywhere (expired()) */
	weft_future *task;     /* used only while ARMED, under lock */
	uint64_t when_ns;      /* the deadline on the timer clock (fixed) */
};

static void timer_unref(struct tmo_timer *tm)
{
	/* acq_rel: the last owner sees the other's writes before freeing */
	if (atomic_fetch_sub_explicit(&tm->refs, 1, memory_order_acq_rel) == 1)
		free(tm);
}

/* Timeout._on_timeout: the scope cancels its task, once. */
static void expire(struct tmo_timer *tm)
{
	weft__spin_lock(&tm->lock);
	if (atomic_load_explicit(&tm->state, memory_order_relaxed) == T_ARMED) {
		/* FIRED first: a body woken by this cancel on another worker
		 * already sees weft_timeout_expired(). Under the lock: exit
		 * cannot disarm (and end the scope) until the cancel is
		 * counted, so its uncancel always matches this cancel.
		 * weft_cancel never takes a timer lock. */
		atomic_store_explicit(&tm->state, T_FIRED, memory_order_release);
		weft_cancel(tm->task, NULL);
	}
	weft__spin_unlock(&tm->lock);
}

/* The deadline came. Runs on the worker that armed it, wherever the task
 * is now. */
static void on_timeout(void *arg)
{
	struct tmo_timer *tm = arg;
	expire(tm);
	timer_unref(tm);
}

/*
 * Several workers: the task resumes from a suspension, maybe before the
 * expiry callbacks of its scopes ran (a wake into the LIFO slot passes
 * callbacks already queued; a migratable task's timers sit on another
 * worker; a busy worker fires its timers every 61 ticks). Every open
 * scope whose deadline has passed fires now, before the task runs on, so
 * that rule holds on any number of workers. One worker needs none of
 * this: its queue order is asyncio's, which the expiry keeps exactly.
 */
void weft__timeout_resumed(struct weft__task *t)
{
	struct weft__worker *w = weft__worker_current();
	if (w->sched->single)
		return;
	uint64_t now = weft__clock_ns(w);
	for (struct weft_timeout *s = t->timeouts; s; s = s->outer_) {
		struct tmo_timer *tm = s->timer_;
		if (s->state_ == ST_ENTERED && tm && tm->when_ns <= now)
			expire(tm);
	}
}

/* Arms scope's deadline `when` for its task; no timer for WEFT_FOREVER. */
static int arm(weft_timeout *scope, double when)
{
	scope->when_ = when;
	scope->timer_ = NULL;
	scope->handle_ = NULL;
	if (isinf(when) && when > 0)
		return 0;
	struct tmo_timer *tm = malloc(sizeof(*tm));
	if (!tm)
		return -ENOMEM;
	atomic_init(&tm->lock.held, false);
	atomic_init(&tm->refs, 2); /* the scope's and the callback's */
	atomic_init(&tm->state, T_ARMED);
	tm->task = scope->task_;
	tm->when_ns = weft__deadline_ns(0, ceil(when * 1e9)); /* as call_at's */
	weft_handle *h = NULL;
	/* asyncio: call_soon when the deadline has passed, else call_at */
	int rc = when <= weft_time() ? weft_call_soon(on_timeout, tm, &h)
				     : weft_call_at(when, on_timeout, tm, &h);
	if (rc) {
		free(tm);
		return rc;
	}
	scope->timer_ = tm;
	scope->handle_ = h;
	return 0;
}

/* Stops the timer; true if it had fired (the scope cancelled its task). */
static bool disarm(weft_timeout *scope)
{
	struct tmo_timer *tm = scope->timer_;
	if (!tm)
		return false;
	weft__spin_lock(&tm->lock);
	bool fired = atomic_load_explicit(&tm->state, memory_order_relaxed) == T_FIRED;
	if (!fired)
		atomic_store_explicit(&tm->state, T_DISARMED, memory_order_relaxed);
	weft__spin_unlock(&tm->lock);
	weft_handle *h = scope->handle_;
	/* true: the callback will never run, so its reference is ours to drop;
	 * false: it ran or is running and drops it itself */
	if (weft_handle_cancel(h))
		timer_unref(tm);
	weft_handle_unref(h);
	timer_unref(tm);
	scope->timer_ = NULL;
	scope->handle_ = NULL;
	if (fired)
		scope->state_ = ST_EXPIRING;
	return fired;
}

static bool is_open_in(struct weft__task *t, const weft_timeout *scope)
{
	for (struct weft_timeout *s = t->timeouts; s; s = s->outer_)
		if (s == scope)
			return true;
	return false;
}

WEFT_API int weft_timeout_enter(weft_timeout *scope, double when)
{
	if (!scope)
		return weft__misuse(-EINVAL, "NULL scope");
	if (isnan(when))
		return weft__misuse(-EINVAL, "NaN deadline");
	struct weft__task *t = weft__task_current();
	if (!t)
		return weft__misuse(-EPERM, "called outside a task");
	if (is_open_in(t, scope))
		return weft__misuse(-EPERM, "the timeout scope is already entered");
	scope->task_ = &t->fut;
	scope->cancelling_ = weft_task_cancelling(&t->fut);
	scope->state_ = ST_ENTERED;
	int rc = arm(scope, when);
	if (rc) {
		scope->state_ = ST_EXITED;
		return rc;
	}
	scope->outer_ = t->timeouts;
	t->timeouts = scope;
	return 0;
}

WEFT_API int weft_timeout_enter_after(weft_timeout *scope, double delay)
{
	if (isnan(delay))
		return weft__misuse(-EINVAL, "NaN delay");
	return weft_timeout_enter(scope, weft_time() + delay);
}

WEFT_API int weft_timeout_exit(weft_timeout *scope, int body_rc)
{
	if (!scope)
		return weft__misuse(-EINVAL, "NULL scope");
	struct weft__task *t = weft__task_current();
	if (!t)
		return weft__misuse(-EPERM, "called outside a task");
	if (t->timeouts != scope)
		return weft__misuse(-EPERM, is_open_in(t, scope)
						    ? "timeout scopes must be exited innermost first"
						    : "the timeout scope is not open in this task");
	bool expired = disarm(scope) || scope->state_ == ST_EXPIRING;
	t->timeouts = scope->outer_;
	scope->outer_ = NULL;
	if (!expired) {
		scope->state_ = ST_EXITED;
		return body_rc;
	}
	scope->state_ = ST_EXPIRED;
	/* 3.12: convert only if no cancel came from outside meanwhile. At 0
	 * uncancel also withdraws our cancel if the body never received it. */
	int left = weft_task_uncancel(&t->fut);
	if (left <= scope->cancelling_ && body_rc == -ECANCELED)
		return -ETIMEDOUT;
	return body_rc;
}

WEFT_API int weft_timeout_reschedule(weft_timeout *scope, double when)
{
	if (!scope)
		return weft__misuse(-EINVAL, "NULL scope");
	if (isnan(when))
		return weft__misuse(-EINVAL, "NaN deadline");
	struct weft__task *t = weft__task_current();
	if (!t || !is_open_in(t, scope))
		return weft__misuse(-EPERM, "the timeout scope is not open in this task");
	if (scope->state_ != ST_ENTERED || disarm(scope))
		return weft__misuse(-EPERM, "cannot reschedule an expiring timeout");
	return arm(scope, when);
}

WEFT_API bool weft_timeout_expired(const weft_timeout *scope)
{
	if (!scope)
		return false;
	if (scope->state_ == ST_EXPIRING || scope->state_ == ST_EXPIRED)
		return true;
	const struct tmo_timer *tm = scope->timer_;
	/* acquire: pairs with the release store of FIRED in on_timeout */
	return scope->state_ == ST_ENTERED && tm &&
	       atomic_load_explicit(&((struct tmo_timer *)tm)->state, memory_order_acquire) ==
		       T_FIRED;
}

WEFT_API double weft_timeout_when(const weft_timeout *scope)
{
	return scope ? scope->when_ : WEFT_FOREVER;
}

void weft__timeout_abort_open(struct weft__task *t)
{
	char name[64], line[256];
	weft__task_name_raw(t, name, sizeof(name));
	int n = snprintf(line, sizeof(line),
			 "weft: task %s returned inside an open timeout scope; to fix: "
			 "call weft_timeout_exit for each scope it entered before it returns\n",
			 name);
	if (n > 0)
		(void)!write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	abort();
}
