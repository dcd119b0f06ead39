/* SPDX-License-Identifier: MIT */
/* Tasks: creation, await, cancellation (asyncio's Task), names. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/task.h>
#include <weft/time.h>

#include "core/context.h"
#include "core/core.h"
#include "core/debug.h"
#include "core/local.h"
#include "core/stub.h"
#include "core/task_slab.h"
#include "core/task.h"
#include "sched/hooks.h"
#include "sched/worker.h"

static bool task_cancel(weft_future *f, const char *msg);

static void task_describe(const weft_future *f, char *buf, size_t cap)
{
	char name[64];
	weft__task_name_raw((const struct weft__task *)f, name, sizeof(name));
	snprintf(buf, cap, "task %s", name);
}

static const struct weft__future_ops task_ops = {.cancel = task_cancel,
						 .describe = task_describe};

static uint64_t next_id(struct weft__core *c, struct weft__core_worker *cw)
{
	/* Workers take ids in blocks so spawning does not share a counter. */
	enum { BLOCK = 1024 };
	if (!cw)
		return atomic_fetch_add_explicit(&c->next_id, 1, memory_order_relaxed) + 1;
	if (cw->id_next == cw->id_end) {
		cw->id_next = atomic_fetch_add_explicit(&c->next_id, BLOCK, memory_order_relaxed) + 1;
		cw->id_end = cw->id_next + BLOCK;
	}
	return cw->id_next++;
}

/* cw: the calling worker's state if it belongs to c, else NULL; on: the
 * worker to run it on only, or NULL (anywhere: stealable). Never inlined,
 * and its callers tail-call it: its return address is then the public
 * function's caller, the task's creation site for debug reports (a
 * branch on c->debug; passing the address as an argument cost ~1% of a
 * spawn). */
static __attribute__((noinline)) weft_future *spawn(struct weft__core *c, weft_task_fn fn, void *arg, const char *name,
			  struct weft__core_worker *cw, struct weft__worker *on)
{
	/* Tasks may still create tasks while shutdown runs (asyncio lets
	 * cleanup code do so); outside work is refused by the caller's guard. */
	if (cw && atomic_load_explicit(&c->sched.stop, memory_order_acquire))
		return weft__future_failed(c->stub, -ESHUTDOWN);
	struct weft__task *t = weft__task_alloc(c, cw);
	if (!t)
		return weft__future_failed(c->stub, -ENOMEM);
	if (cw)
		weft__future_init_local(&t->fut, WEFT__FUT_TASK, cw);
	else
		weft__future_init(&t->fut, WEFT__FUT_TASK, c->stub);
	t->fut.ops = &task_ops;
	t->st.run.kind = WEFT__RUN_TASK;
	t->await_node.kind = WEFT__WAIT_TASK;
	memset(&t->st.fiber, 0, sizeof(t->st.fiber));
	t->fn = fn;
	t->arg = arg;
	t->id = next_id(c, cw);
	t->st.home = NULL;
	atomic_init(&t->st.migratable, c->migratable);
	atomic_init(&t->st.must_cancel, false);
	t->st.started = false;
	t->fut.num_cancels = 0;
	atomic_init(&t->rare, NULL);
	if (__builtin_expect(name || c->debug, 0)) {
		/* nobody sees t yet: set up before it is published */
		struct weft__task_rare *r = weft__task_rare_get(t);
		if (!r || (name && !(r->name = strdup(name)))) {
			free(r);
			weft__task_dealloc(t, c->stub);
			weft__stub_unref(c->stub);
			return weft__future_failed(c->stub, -ENOMEM);
		}
		r->site = c->debug ? __builtin_return_address(0) : NULL;
	}
	t->fut_waiter = NULL;
	t->timeouts = NULL;
	t->locals = cw ? weft__locals_ref(weft__locals_visible()) : NULL;
	struct weft__worker *w = cw ? weft__worker_current() : NULL;
	weft__sched_count_new(&c->sched, w);
	/* Published last (release): weft_all_tasks takes references only on
	 * tasks whose count is not 0 (core/task_slab.c). */
	atomic_store_explicit(&t->fut.refs, 1 | WEFT__REF_RUNTIME, memory_order_release); /* caller + runtime */
	if (on)
		weft__schedule_new_on(on, &t->st);
	else
		weft__schedule_new(&c->sched, &t->st);
	return &t->fut;
}

WEFT_API weft_future *weft_spawn(weft_runtime *rt, weft_task_fn fn, void *arg, const char *name)
{
	struct weft__core *c = rt ? weft__core_of(rt) : NULL;
	if (!rt || !fn)
		return weft__future_failed(c ? c->stub : NULL,
					   weft__misuse(-EINVAL, rt ? "NULL function" : "NULL runtime"));
	struct weft__core_worker *cw = weft__core_worker_current();
	if (cw && cw->core == c)
		return spawn(c, fn, arg, name, cw, NULL);
	/* From outside, a submission racing weft_runtime_destroy's start is
	 * either refused or waited for (sched/inject.h), never lost. */
	if (!weft__inject_enter(&c->sched.inject))
		return weft__future_failed(c->stub, -ESHUTDOWN);
	weft_future *f = spawn(c, fn, arg, name, NULL, NULL);
	weft__inject_exit(&c->sched.inject);
	return f;
}

WEFT_API weft_future *weft_create_task(weft_task_fn fn, void *arg, const char *name)
{
	struct weft__core_worker *cw = weft__core_worker_current();
	if (!cw || !weft__task_current())
		return weft__future_failed(cw ? cw->core->stub : NULL,
					   weft__misuse(-EPERM, "called outside a task"));
	if (!fn)
		return weft__future_failed(cw->core->stub, weft__misuse(-EINVAL, "NULL function"));
	return spawn(cw->core, fn, arg, name, cw, NULL);
}

weft_future *weft__create_task_on(unsigned index, weft_task_fn fn, void *arg, const char *name)
{
	struct weft__core_worker *cw = weft__core_worker_current();
	if (!cw || !weft__task_current())
		return weft__future_failed(NULL, weft__misuse(-EPERM, "called outside a task"));
	struct weft__sched *s = &cw->core->sched;
	if (!fn || index >= s->nworkers)
		return weft__future_failed(cw->core->stub, -EINVAL);
	return spawn(cw->core, fn, arg, name, cw, &s->workers[index]);
}

struct weft__task_rare *weft__task_rare_get(struct weft__task *t)
{
	struct weft__task_rare *r = weft__task_rare(t);
	if (r)
		return r;
	struct weft__task_rare *fresh = calloc(1, sizeof(*fresh));
	if (!fresh)
		return NULL;
	/* release: its zeroed fields are seen by whoever loads it (acquire);
	 * a task cancelled from two threads at once installs one of them */
	if (atomic_compare_exchange_strong_explicit(&t->rare, &r, fresh, memory_order_acq_rel,
						    memory_order_acquire))
		return fresh;
	free(fresh);
	return r;
}

void weft__task_free(struct weft__task *t)
{
	struct weft__task_rare *r = weft__task_rare(t);
	if (__builtin_expect(r != NULL, 0)) {
		free(r->name);
		free(r->cancel_msg);
		free(r->fail_msg);
		free(r);
	}
	if (t->locals)
		weft__locals_unref(t->locals);
}

void weft__task_finish(struct weft__task *t, int rc, void *value)
{
	/* A timeout scope must be exited before the task returns. */
	if (t->timeouts)
		weft__timeout_abort_open(t);
	if (rc > 0)
		rc = 0; /* the contract is 0 or negative; a positive return succeeds */
	char *msg = NULL;
	struct weft__task_rare *rare = weft__task_rare(t);
	if (rc < 0 && rare) {
		msg = rare->fail_msg;
		rare->fail_msg = NULL;
	}
	/* Decided and published under one lock hold: a cancel that
	 * task_cancel accepted (returned true) is never lost. */
	weft__spin_lock(&t->fut.lock);
	/* asyncio's __step: a function that returns while a cancel is still
	 * pending (_must_cancel) ends cancelled; an error code is kept, as an
	 * exception is (set_exception). */
	if (rc == 0 && atomic_load_explicit(&t->st.must_cancel, memory_order_relaxed))
		rc = -ECANCELED;
	atomic_store_explicit(&t->st.must_cancel, false, memory_order_relaxed);
	char *spare = NULL;
	/* rare read again under the lock: a cancel may have installed it
	 * meanwhile (before it took the lock) */
	if (rc == -ECANCELED && (rare = weft__task_rare(t)) && rare->cancel_msg) {
		spare = msg;
		msg = rare->cancel_msg;
		rare->cancel_msg = NULL;
	}
	struct weft__waiter *w = weft__future_settle_locked(&t->fut, rc, rc == 0 ? value : NULL, msg);
	weft__spin_unlock(&t->fut.lock);
	if (spare)
		free(spare);
	weft__future_dispatch(&t->fut, w);
}

/* Takes a pending cancellation for delivery; true if there was one. */
static bool take_cancel(struct weft__task *t)
{
	if (!atomic_load_explicit(&t->st.must_cancel, memory_order_relaxed))
		return false;
	weft__spin_lock(&t->fut.lock);
	bool c = atomic_load_explicit(&t->st.must_cancel, memory_order_relaxed);
	atomic_store_explicit(&t->st.must_cancel, false, memory_order_relaxed);
	weft__spin_unlock(&t->fut.lock);
	return c;
}

bool weft__task_take_cancel(struct weft__task *t)
{
	return take_cancel(t);
}

/*
 * Debug mode: a function that returned -1 POSIX-style ends -EPERM
 * ("Operation not permitted"), which misleads; but weft's own misuse is
 * -EPERM too, so it may be meant. Said once per task function; one with a
 * weft_fail message is taken to mean it.
 */
static __attribute__((noinline, cold)) void report_eperm(struct weft__task *t)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static weft_task_fn *seen; /* process lifetime */
	static size_t nseen, cap;
	bool first = true;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nseen && first; i++)
		first = seen[i] != t->fn;
	if (first && nseen == cap) {
		weft_task_fn *v = realloc(seen, (cap ? 2 * cap : 16) * sizeof(*v));
		if (v) {
			seen = v;
			cap = cap ? 2 * cap : 16;
		}
	}
	if (first && nseen < cap)
		seen[nseen++] = t->fn;
	pthread_mutex_unlock(&lock);
	if (!first)
		return;
	char name[64];
	weft__task_name_raw(t, name, sizeof(name));
	fprintf(stderr, "weft: task %s returned -EPERM (-1?); weft expects a negative errno code\n",
		name);
}

/* ---- what the scheduler asks (sched/hooks.h) ---- */

void weft__hook_task_main(void *arg)
{
	weft__fiber_started();
	struct weft__task *t = weft__task_from(arg);
	void *value = NULL;
	int rc = t->fn(t->arg, &value);
	if (__builtin_expect(rc == -EPERM, 0) && !(weft__task_rare(t) && weft__task_rare(t)->fail_msg) &&
	    atomic_load_explicit(&weft__debug_on, memory_order_relaxed))
		report_eperm(t);
	weft__task_finish(t, rc, value);
	weft__fiber_exiting();
	weft__task_switch_out(&t->st, NULL, NULL, true);
	__builtin_unreachable();
}

bool weft__hook_task_cancelled(struct weft__sched_task *st)
{
	return take_cancel(weft__task_from(st));
}

void weft__hook_task_end(struct weft__sched_task *st, int rc)
{
	weft__task_finish(weft__task_from(st), rc, NULL);
}

void weft__hook_task_retire(struct weft__sched_task *st)
{
	weft__task_unref_runtime(&weft__task_from(st)->fut);
}

void weft__hook_task_name(const struct weft__sched_task *st, char *buf, size_t cap)
{
	weft__task_name_raw(weft__task_from(st), buf, cap);
}

void weft__task_name_raw(const struct weft__task *t, char *buf, size_t cap)
{
	size_t i = 0;
	struct weft__task_rare *r = weft__task_rare(t);
	const char *n = r ? r->name : NULL;
	if (!n) {
		const char *p = "Task-";
		while (*p && i + 1 < cap)
			buf[i++] = *p++;
		char digits[24];
		int k = 0;
		uint64_t v = t->id;
		do
			digits[k++] = (char)('0' + v % 10);
		while ((v /= 10) && k < 24);
		while (k && i + 1 < cap)
			buf[i++] = digits[--k];
	} else {
		while (n[i] && i + 1 < cap) {
			buf[i] = n[i];
			i++;
		}
	}
	buf[i] = '\0';
}

/* ---- suspending ---- */

static void after_await(struct weft__worker *w, struct weft__sched_task *st, void *arg)
{
	weft_future *f = arg;
	struct weft__task *t = weft__task_from(st);
	/* Registered only now that the task is switched out, so a waker on
	 * another worker can never resume a fiber that is still running. */
	if (!weft__future_add_waiter(f, &t->await_node))
		weft__task_wake(t);
}

static void after_yield(struct weft__worker *w, struct weft__sched_task *st, void *arg)
{
	weft__schedule_yield(w, st);
}

/* Suspends t until f is done; passes a pending cancellation on to f. */
static void wait_on(struct weft__task *t, weft_future *f)
{
	weft__spin_lock(&t->fut.lock);
	/* No reference of its own: the awaiting caller holds one until
	 * weft_await returns, and task_cancel takes one under this lock. */
	t->fut_waiter = f;
	bool cancel_now = atomic_load_explicit(&t->st.must_cancel, memory_order_relaxed);
	char *msg = NULL;
	if (cancel_now) {
		atomic_store_explicit(&t->st.must_cancel, false, memory_order_relaxed);
		struct weft__task_rare *r = weft__task_rare(t);
		msg = r && r->cancel_msg ? strdup(r->cancel_msg) : NULL;
	}
	weft__spin_unlock(&t->fut.lock);
	/* asyncio's __step: a cancel requested while running goes to the
	 * future the task now awaits; if it refuses, the request stays. */
	if (__builtin_expect(cancel_now, 0)) {
		if (!weft_cancel(f, msg)) {
			weft__spin_lock(&t->fut.lock);
			atomic_store_explicit(&t->st.must_cancel, true, memory_order_relaxed);
			weft__spin_unlock(&t->fut.lock);
		}
		free(msg);
	}
	weft__task_switch_out(&t->st, after_await, f, false);
	weft__spin_lock(&t->fut.lock);
	t->fut_waiter = NULL;
	weft__spin_unlock(&t->fut.lock);
	weft__task_resumed(t);
}

WEFT_API int weft_await(weft_future *f, void **result)
{
	if (!f)
		return weft__misuse(-EINVAL, "NULL future");
	struct weft__worker *w = weft__worker_current();
	struct weft__task *t = w && w->current ? weft__task_from(w->current) : NULL;
	if (!t)
		return weft__misuse(-EPERM, "called outside a task");
	if (&t->fut == f)
		return weft__misuse(-EDEADLK, "a task cannot await itself");
	if (!weft__future_is_done(f)) {
		wait_on(t, f);
		int rc = weft_future_result(f, result);
		/* A cancellation requested after f had already ended cancelled
		 * is delivered by this -ECANCELED: once, as asyncio's __step
		 * raises one CancelledError. */
		if (rc == -ECANCELED)
			take_cancel(t);
		return rc;
	}
	if (!w->sched->single && --w->budget == 0) {
		/* Invisible yield: it never delivers a cancellation. */
		weft__task_switch_out(&t->st, after_yield, NULL, false);
		weft__task_resumed(t);
	}
	return weft_future_result(f, result);
}

WEFT_API int weft_sleep(double seconds)
{
	if (isnan(seconds)) /* asyncio 3.13: ValueError */
		return weft__misuse(-EINVAL, "NaN delay");
	struct weft__task *t = weft__task_current();
	if (!t)
		return weft__misuse(-EPERM, "called outside a task");
	if (seconds > 0)
		return weft__sleep_timed(seconds);
	weft__task_switch_out(&t->st, after_yield, NULL, false);
	weft__task_resumed(t);
	return take_cancel(t) ? -ECANCELED : 0;
}

/* Task.cancel. See weft/task.h. */
static bool task_cancel(weft_future *f, const char *msg)
{
	struct weft__task *t = (struct weft__task *)f;
	char *copy = msg ? strdup(msg) : NULL;
	/* where the message is kept (lost, as a failed copy is, without it) */
	struct weft__task_rare *rare = copy ? weft__task_rare_get(t) : weft__task_rare(t);
	weft__spin_lock(&f->lock);
	if (weft__future_is_done(f)) {
		weft__spin_unlock(&f->lock);
		free(copy);
		return false;
	}
	f->num_cancels++;
	char *old = NULL;
	if (rare) {
		old = rare->cancel_msg;
		rare->cancel_msg = copy;
	} else {
		old = copy;
	}
	free(old);
	for (;;) {
		weft_future *waiter = t->fut_waiter;
		if (!waiter) {
			atomic_store_explicit(&t->st.must_cancel, true, memory_order_relaxed);
			weft__spin_unlock(&f->lock);
			return true;
		}
		weft_future_ref(waiter);
		weft__spin_unlock(&f->lock);
		bool accepted = weft_cancel(waiter, msg);
		weft__spin_lock(&f->lock);
		if (!accepted && t->fut_waiter != waiter && weft_future_cancelled(waiter)) {
			/* A refusing wait (an I/O operation) that then ended
			 * -ECANCELED, and the task already took that result: it
			 * was the delivery. Pending again, it would be a second
			 * one, at the next suspension (seen with two workers: the
			 * receive after a cancelled one ended -ECANCELED too). */
			weft__spin_unlock(&f->lock);
			weft_future_unref(waiter);
			return true;
		}
		if (accepted || t->fut_waiter == waiter || !t->fut_waiter) {
			/* Refused (or the task moved on without waiting): the
			 * request waits for the next suspension point. */
			if (!accepted)
				atomic_store_explicit(&t->st.must_cancel, true, memory_order_relaxed);
			weft__spin_unlock(&f->lock);
			weft_future_unref(waiter);
			return true;
		}
		/* It now awaits something else: cancel that instead. */
		weft__spin_unlock(&f->lock);
		weft_future_unref(waiter);
		weft__spin_lock(&f->lock);
	}
}

WEFT_API weft_future *weft_current_task(void)
{
	struct weft__task *t = weft__task_current();
	return t ? &t->fut : NULL;
}

WEFT_API bool weft_is_task(const weft_future *f)
{
	return f && f->kind == WEFT__FUT_TASK;
}

/* Caller holds t->fut.lock; rare is t's rare part (NULL: none could be
 * had, out of memory). */
static const char *name_locked(struct weft__task *t, struct weft__task_rare *rare)
{
	if (!rare)
		return "Task"; /* out of memory: no room for its number */
	if (rare->name)
		return rare->name;
	if (!rare->default_name[0])
		snprintf(rare->default_name, sizeof(rare->default_name), "Task-%" PRIu64, t->id);
	return rare->default_name;
}

WEFT_API const char *weft_task_name(weft_future *f)
{
	struct weft__task *t = weft__task_of(f);
	if (!t)
		return NULL;
	/* the returned name lives as long as the task: it needs a home */
	struct weft__task_rare *rare = weft__task_rare_get(t);
	weft__spin_lock(&f->lock);
	const char *n = name_locked(t, rare);
	weft__spin_unlock(&f->lock);
	return n;
}

WEFT_API int weft_task_set_name(weft_future *f, const char *name)
{
	struct weft__task *t = weft__task_of(f);
	if (!t || !name)
		return -EINVAL;
	char *copy = strdup(name);
	struct weft__task_rare *rare = copy ? weft__task_rare_get(t) : NULL;
	if (!rare) {
		free(copy);
		return -ENOMEM;
	}
	weft__spin_lock(&f->lock);
	char *old = rare->name;
	rare->name = copy;
	weft__spin_unlock(&f->lock);
	free(old);
	return 0;
}

WEFT_API weft_task_fn weft_task_fn_of(const weft_future *f)
{
	return f && f->kind == WEFT__FUT_TASK ? ((const struct weft__task *)f)->fn : NULL;
}

WEFT_API bool weft_task_cancelled(const weft_future *f)
{
	return weft_future_cancelled(f);
}

WEFT_API int weft_task_cancelling(weft_future *f)
{
	struct weft__task *t = weft__task_of(f);
	if (!t)
		return 0;
	weft__spin_lock(&f->lock);
	int n = f->num_cancels;
	weft__spin_unlock(&f->lock);
	return n;
}

WEFT_API int weft_task_uncancel(weft_future *f)
{
	struct weft__task *t = weft__task_of(f);
	if (!t)
		return -EINVAL;
	weft__spin_lock(&f->lock);
	if (f->num_cancels > 0 && --f->num_cancels == 0)
		atomic_store_explicit(&t->st.must_cancel, false, memory_order_relaxed);
	int n = f->num_cancels;
	weft__spin_unlock(&f->lock);
	return n;
}

WEFT_API int weft_task_set_migratable(weft_future *f, bool migratable)
{
	struct weft__task *t = weft__task_of(f);
	if (!t)
		return -EINVAL;
	atomic_store_explicit(&t->st.migratable, migratable, memory_order_relaxed);
	return 0;
}
