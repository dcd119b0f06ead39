/* SPDX-License-Identifier: MIT */
/*
 * The blocking pool and weft_to_thread (asyncio.to_thread, tokio's
 * spawn_blocking).
 *
 * A call is a future with a cancel hook, queued in a FIFO under the pool's
 * mutex. Submitting takes the lock for a push and one decision: wake an
 * idle thread (claimed by count, as tokio's num_notify, so two calls never
 * count on the same idle thread), start a new one if the pool is below its
 * maximum, or leave the call queued for the next thread that frees up.
 * A thread that waits `keepalive` seconds without being claimed exits;
 * exiting threads join their predecessor, so at most one exited thread is
 * ever left unjoined, and the drain joins it.
 *
 * States of a call: QUEUED -> RUNNING (a pool thread took it) or
 * QUEUED -> CANCELLED (weft_cancel, or the drain), both under the lock;
 * RUNNING -> DONE when fn has returned. The future is completed after the
 * state leaves QUEUED; the pool's reference is dropped last.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <weft/thread.h>

#include "bridge/bridge.h"
#include "core/context.h"
#include "core/core.h"
#include "core/debug.h"
#include "core/future.h"
#include "core/local.h"
#include "core/task.h"
#include "fiber/backtrace.h"
#include "io/timer.h"

enum call_state { QUEUED, RUNNING, CANCELLED, DONE };

struct weft__blocking_call {
	weft_future fut;                 /* first: the last unref frees the call */
	struct weft__list link;          /* in the queue (under lock), or in a
	                                  * private list once taken out */
	_Atomic int state;               /* enum call_state; changes from QUEUED
	                                  * under the lock only */
	weft_task_fn fn;
	void *arg;
	struct weft__locals *locals;     /* the caller's values until the call
	                                  * starts or is dropped (then NULL) */
	struct weft__bridge *bridge;     /* valid while the call is QUEUED */
	char caller[32];                 /* the calling task's name, for a
	                                  * destroy that gives up (cut short) */
};

struct weft__pool_thread {
	pthread_t tid;  /* written by the thread itself before it exits */
	struct weft__bridge *b;
	/* Under b->lock, for a destroy that gives up (weft__bridge_report): */
	struct weft__list link;          /* in b->threads while it runs */
	pid_t os_tid;
	weft_task_fn fn;                 /* the call it runs, or NULL: a copy
	                                  * of the call's fields, as the call
	                                  * may be freed once it is done */
	char caller[32];
	uint64_t since_ns;
};

static bool call_cancel(weft_future *f, const char *msg);

/* Inspection: which function, and whether a thread runs it yet. */
static void call_describe(const weft_future *f, char *buf, size_t cap)
{
	const struct weft__blocking_call *c = (const struct weft__blocking_call *)f;
	char fn[160];
	weft__symbolize((void *)(uintptr_t)c->fn, 0, fn, sizeof(fn));
	int st = atomic_load_explicit(&((struct weft__blocking_call *)c)->state, memory_order_relaxed);
	snprintf(buf, cap, "a to_thread call of %s (%s)", fn,
		 st == QUEUED ? "queued" : st == RUNNING ? "running" : "ending");
}

static const struct weft__future_ops call_ops = {.cancel = call_cancel,
						 .describe = call_describe};

/* ---- queue (caller holds b->lock) ---- */

static struct weft__blocking_call *call_of(struct weft__list *l)
{
	return weft__container_of(l, struct weft__blocking_call, link);
}

static void queue_unlink(struct weft__bridge *b, struct weft__blocking_call *c)
{
	weft__list_remove(&c->link);
	b->nqueued--;
}

/* ---- completion ---- */

/* The call is complete (its future is done): count it out (a paused
 * clock may jump again) and drop the pool's reference. Any thread. */
static void call_retire(struct weft__bridge *b, struct weft__blocking_call *c)
{
	weft__sched_blocking_end(&b->core->sched);
	weft_future_unref(&c->fut);
}

/* Caller holds b->lock: moves every queued call, oldest first, to `out`,
 * each marked CANCELLED (they will never run). */
static void queue_take_all(struct weft__bridge *b, struct weft__list *out)
{
	struct weft__list *l;
	while ((l = weft__list_pop_front(&b->queue))) {
		b->nqueued--;
		atomic_store_explicit(&call_of(l)->state, CANCELLED, memory_order_release);
		weft__list_push_back(out, l);
	}
}


/* Ends a call that never ran (cancelled, drained, or no thread to run it). */
static void call_drop(struct weft__bridge *b, struct weft__blocking_call *c, int rc, char *msg)
{
	weft__locals_unref(c->locals);
	c->locals = NULL;
	weft__future_complete(&c->fut, rc, NULL, msg);
	call_retire(b, c);
}

/* Ends the calls of `calls` (taken out of the queue) with rc, oldest first. */
static void drop_all(struct weft__bridge *b, struct weft__list *calls, int rc)
{
	struct weft__list *l;
	while ((l = weft__list_pop_front(calls)))
		call_drop(b, call_of(l), rc, NULL);
}

/* Pool thread: runs c with the caller's context, completes its future. */
static void call_run(struct weft__bridge *b, struct weft__pool_thread *me,
		     struct weft__blocking_call *c)
{
	struct weft__thread_ctx *ctx = &weft__thread_ctx;
	ctx->locals = c->locals; /* the reference moves to the thread */
	c->locals = NULL;
	ctx->fail_msg = NULL;
	ctx->in_call = true;
	void *value = NULL;
	int rc = c->fn(c->arg, &value);
	ctx->in_call = false;
	char *msg = ctx->fail_msg;
	ctx->fail_msg = NULL;
	weft__locals_unref(ctx->locals);
	ctx->locals = NULL;
	if (rc > 0)
		rc = 0; /* as a task: a positive return counts as success */
	if (rc == 0) {
		free(msg);
		msg = NULL;
	}
	atomic_store_explicit(&c->state, DONE, memory_order_relaxed);
	/* no longer running before its outcome is out: whoever got it may
	 * destroy the runtime at once, and a bounded destroy must not give
	 * up for a call that has already answered */
	pthread_mutex_lock(&b->lock);
	me->fn = NULL;
	pthread_mutex_unlock(&b->lock);
	/* -EALREADY only if someone completed the future by hand: ignored */
	weft__future_complete(&c->fut, rc, rc == 0 ? value : NULL, msg);
	call_retire(b, c);
}

/* Future.cancel on a call: accepted only while it is queued. */
static bool call_cancel(weft_future *f, const char *msg)
{
	struct weft__blocking_call *c = (struct weft__blocking_call *)f;
	/* A call that left the queue never goes back: answer without the
	 * pool, which may be gone with its runtime. acquire: pairs with the
	 * stores made under the lock. */
	if (atomic_load_explicit(&c->state, memory_order_acquire) != QUEUED)
		return false;
	struct weft__bridge *b = c->bridge;
	pthread_mutex_lock(&b->lock);
	bool queued = atomic_load_explicit(&c->state, memory_order_relaxed) == QUEUED;
	if (queued) {
		queue_unlink(b, c);
		atomic_store_explicit(&c->state, CANCELLED, memory_order_release);
	}
	pthread_mutex_unlock(&b->lock);
	if (!queued)
		return false;
	call_drop(b, c, -ECANCELED, msg ? strdup(msg) : NULL);
	return true;
}

/* ---- pool threads ---- */

/* Caller holds b->lock: the oldest queued call, now RUNNING, or NULL. */
static struct weft__blocking_call *take_call(struct weft__bridge *b)
{
	struct weft__list *l = weft__list_first(&b->queue);
	if (!l)
		return NULL;
	struct weft__blocking_call *c = call_of(l);
	queue_unlink(b, c);
	atomic_store_explicit(&c->state, RUNNING, memory_order_release);
	return c;
}

static struct timespec deadline_after(double seconds)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double whole = floor(seconds);
	ts.tv_sec += (time_t)whole;
	ts.tv_nsec += (long)((seconds - whole) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Caller holds b->lock. Waits to be claimed for a call; returns false
 * when the thread should exit instead (keep-alive over, or closed). */
static bool wait_for_work(struct weft__bridge *b)
{
	b->nidle++;
	bool forever = b->keepalive > 1e9; /* ~31 years, or WEFT_FOREVER */
	struct timespec until = forever ? (struct timespec){0} : deadline_after(b->keepalive);
	for (;;) {
		int rc = forever ? pthread_cond_wait(&b->work, &b->lock)
				 : pthread_cond_timedwait(&b->work, &b->lock, &until);
		if (b->nnotify) {
			/* A submitter counted us out of nidle and in here. */
			b->nnotify--;
			return true;
		}
		if (b->closed || rc == ETIMEDOUT) {
			b->nidle--;
			/* Never leave a queued call without a thread. */
			return !b->closed && !weft__list_empty(&b->queue);
		}
	}
}

static void *pool_main(void *p)
{
	struct weft__pool_thread *me = p;
	struct weft__bridge *b = me->b;
	me->os_tid = gettid();
	me->fn = NULL;
	weft__thread_ctx.core = b->core;
	sigset_t pipe; /* weft's threads never take SIGPIPE (IO.md) */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	pthread_setname_np(pthread_self(), "weft-blocking");
	if (b->reset_affinity)
		pthread_setaffinity_np(pthread_self(), sizeof(b->affinity), &b->affinity);
	pthread_mutex_lock(&b->lock);
	weft__list_push_back(&b->threads, &me->link);
	for (;;) {
		struct weft__blocking_call *c;
		while ((c = take_call(b))) {
			me->fn = c->fn;
			memcpy(me->caller, c->caller, sizeof(me->caller));
			me->since_ns = weft__now_ns();
			pthread_mutex_unlock(&b->lock);
			call_run(b, me, c);
			pthread_mutex_lock(&b->lock);
		}
		if (b->closed || !wait_for_work(b))
			break;
	}
	weft__list_remove(&me->link);
	b->nthreads--;
	me->tid = pthread_self();
	struct weft__pool_thread *prev = b->dead;
	b->dead = me;
	if (b->nthreads == 0)
		pthread_cond_broadcast(&b->gone);
	pthread_mutex_unlock(&b->lock);
	/* Nothing of the runtime is touched from here on: the drain may be
	 * freeing it. The predecessor has left the lock too; join it. */
	if (prev) {
		pthread_join(prev->tid, NULL);
		free(prev);
	}
	weft__thread_ctx.core = NULL;
	return NULL;
}

/*
 * Starts one pool thread (counted in nthreads by the caller). On failure
 * the count is taken back, and if no thread is left, the queued calls
 * fail with -EAGAIN: nothing would ever run them.
 */
static void start_thread(struct weft__bridge *b)
{
	struct weft__pool_thread *t = malloc(sizeof(*t));
	pthread_t tid;
	if (t) {
		t->b = b;
		if (pthread_create(&tid, NULL, pool_main, t) == 0)
			return; /* tid is not used: the thread may be gone already */
		free(t);
	}
	struct weft__list orphans;
	weft__list_init(&orphans);
	pthread_mutex_lock(&b->lock);
	b->nthreads--;
	if (b->nthreads == 0) {
		queue_take_all(b, &orphans);
		if (b->closed)
			pthread_cond_broadcast(&b->gone);
	}
	pthread_mutex_unlock(&b->lock);
	drop_all(b, &orphans, -EAGAIN);
}

/* ---- to_thread ---- */

WEFT_API weft_future *weft_to_thread(weft_task_fn fn, void *arg)
{
	struct weft__task *t = weft__task_current();
	if (!t) /* a NULL stub: the calling worker's runtime, if any */
		return weft__future_failed(NULL, weft__misuse(-EPERM, "called outside a task"));
	struct weft__core *core = weft__core_current();
	if (!fn)
		return weft__future_failed(core->stub, weft__misuse(-EINVAL, "NULL function"));
	/* A cancellation pending (one a started call or an I/O wait refused)
	 * is delivered here: the call never starts and its future comes back
	 * cancelled. Passing it on to the new call instead could be refused
	 * again if a pool thread took the call first, and a task looping over
	 * to_thread calls would never see it. */
	if (weft__task_take_cancel(t))
		return weft__future_failed(core->stub, -ECANCELED);
	struct weft__bridge *b = core->bridge;
	struct weft__blocking_call *c = malloc(sizeof(*c));
	if (!c)
		return weft__future_failed(core->stub, -ENOMEM);
	weft__future_init(&c->fut, WEFT__FUT_PLAIN, core->stub);
	c->fut.ops = &call_ops;
	atomic_store_explicit(&c->fut.refs, 2, memory_order_relaxed); /* caller + pool */
	atomic_init(&c->state, QUEUED);
	c->fn = fn;
	c->arg = arg;
	c->locals = weft__locals_ref(t->locals);
	c->bridge = b;
	weft__task_name_raw(t, c->caller, sizeof(c->caller));

	bool start = false;
	pthread_mutex_lock(&b->lock);
	if (b->closed) {
		pthread_mutex_unlock(&b->lock);
		atomic_store_explicit(&c->state, DONE, memory_order_relaxed);
		weft__locals_unref(c->locals);
		c->locals = NULL;
		weft__future_complete(&c->fut, -ESHUTDOWN, NULL, NULL);
		weft_future_unref(&c->fut); /* the pool's */
		return &c->fut;
	}
	weft__list_push_back(&b->queue, &c->link);
	b->nqueued++;
	/* Counted before any thread can take it: call_retire pairs. */
	weft__sched_blocking_begin(&core->sched);
	if (b->nidle > 0) {
		b->nidle--;
		b->nnotify++;
		pthread_cond_signal(&b->work);
	} else if (b->nthreads < b->max) {
		b->nthreads++;
		if (b->nthreads > b->peak)
			b->peak = b->nthreads;
		start = true;
	}
	pthread_mutex_unlock(&b->lock);
	if (start)
		start_thread(b); /* outside the lock: thread creation is slow */
	return &c->fut;
}

/* ---- life cycle ---- */

int weft__bridge_init(struct weft__core *core, const weft_config *cfg)
{
	struct weft__bridge *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	weft__list_init(&b->queue);
	weft__list_init(&b->threads);
	b->core = core;
	b->max = cfg->blocking_threads_max ? cfg->blocking_threads_max : WEFT__BLOCKING_MAX_DEFAULT;
	b->keepalive = cfg->blocking_keepalive > 0 ? cfg->blocking_keepalive
						   : WEFT__BLOCKING_KEEPALIVE_DEFAULT;
	/* Pool threads are started on workers and would inherit a pinned
	 * worker's single CPU: they take back the creator's set. */
	b->reset_affinity = cfg->pin_workers &&
			    pthread_getaffinity_np(pthread_self(), sizeof(b->affinity),
						   &b->affinity) == 0;
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca)) {
		free(b);
		return -ENOMEM;
	}
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int rc = pthread_mutex_init(&b->lock, NULL);
	if (!rc && (rc = pthread_cond_init(&b->work, &ca)))
		pthread_mutex_destroy(&b->lock);
	if (!rc && (rc = pthread_cond_init(&b->gone, &ca))) {
		pthread_cond_destroy(&b->work);
		pthread_mutex_destroy(&b->lock);
	}
	pthread_condattr_destroy(&ca);
	if (rc) {
		free(b);
		return -ENOMEM;
	}
	core->bridge = b;
	return 0;
}

/* Caller holds b->lock: how many pool threads are running a call. */
static unsigned running_calls(struct weft__bridge *b)
{
	unsigned n = 0;
	struct weft__list *l;
	weft__list_each(l, &b->threads)
		n += weft__container_of(l, struct weft__pool_thread, link)->fn != NULL;
	return n;
}

int weft__bridge_drain(struct weft__core *core, uint64_t deadline_ns)
{
	struct weft__bridge *b = core->bridge;
	if (!b)
		return 0;
	struct weft__list queued;
	weft__list_init(&queued);
	pthread_mutex_lock(&b->lock);
	b->closed = true;
	queue_take_all(b, &queued);
	pthread_cond_broadcast(&b->work); /* idle threads exit */
	pthread_mutex_unlock(&b->lock);
	/* Oldest first, as they were queued. Their done callbacks still run:
	 * the workers have not stopped. */
	drop_all(b, &queued, -ECANCELED);
	/* b->gone's clock is CLOCK_MONOTONIC, as weft__now_ns */
	struct timespec until = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
				 .tv_nsec = (long)(deadline_ns % 1000000000u)};
	pthread_mutex_lock(&b->lock);
	while (b->nthreads > 0) {
		if (!deadline_ns) {
			pthread_cond_wait(&b->gone, &b->lock);
		} else if (pthread_cond_timedwait(&b->gone, &b->lock, &until) == ETIMEDOUT) {
			/* Threads without a call are on their way out: only a
			 * running call is worth giving up for. Closed and
			 * empty, the pool takes no new one, and a later drain
			 * goes on from here. */
			if (running_calls(b)) {
				pthread_mutex_unlock(&b->lock);
				return -ETIMEDOUT;
			}
			deadline_ns = 0;
		}
	}
	struct weft__pool_thread *last = b->dead;
	b->dead = NULL;
	pthread_mutex_unlock(&b->lock);
	if (last) {
		pthread_join(last->tid, NULL);
		free(last);
	}
	return 0;
}

unsigned weft__bridge_report(struct weft__core *core, FILE *out)
{
	struct weft__bridge *b = core->bridge;
	if (!b)
		return 0;
	unsigned n = 0;
	uint64_t now = weft__now_ns();
	pthread_mutex_lock(&b->lock);
	struct weft__list *l;
	weft__list_each(l, &b->threads) {
		struct weft__pool_thread *t = weft__container_of(l, struct weft__pool_thread, link);
		if (!t->fn)
			continue;
		n++;
		/* a function pointer printed as data: the address is what a
		 * debugger's "info symbol" takes */
		void *fn;
		memcpy(&fn, &t->fn, sizeof(fn));
		fprintf(out,
			"weft:   a to_thread call of task %s is still running: fn %p, for %.1f s, "
			"on thread %d (weft-blocking)\n",
			t->caller, fn, (double)(now - t->since_ns) / 1e9, (int)t->os_tid);
	}
	pthread_mutex_unlock(&b->lock);
	return n;
}

void weft__bridge_destroy(struct weft__core *core)
{
	struct weft__bridge *b = core->bridge;
	if (!b)
		return;
	weft__bridge_drain(core, 0); /* a no-op unless creation failed half way */
	pthread_cond_destroy(&b->gone);
	pthread_cond_destroy(&b->work);
	pthread_mutex_destroy(&b->lock);
	free(b);
	core->bridge = NULL;
}

void weft__blocking_stats(weft_runtime *rt, struct weft__blocking_stats *out)
{
	struct weft__bridge *b = weft__core_of(rt)->bridge;
	pthread_mutex_lock(&b->lock);
	out->threads = b->nthreads;
	out->idle = b->nidle;
	out->peak = b->peak;
	out->queued = b->nqueued;
	pthread_mutex_unlock(&b->lock);
	out->inflight = weft__sched_blocking_count(&b->core->sched);
}

bool weft__blocking_on_pool_of(struct weft__core *core)
{
	return core && weft__thread_ctx.core == core;
}
