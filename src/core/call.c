/* SPDX-License-Identifier: MIT */
/* call_soon / call_later / call_at and their handles. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <weft/call.h>

#include "core/context.h"
#include "core/core.h"
#include "core/debug.h"
#include "core/local.h"
#include "io/timer.h"
#include "sched/worker.h"

enum { PENDING, RUNNING, CANCELLED };

struct weft_handle {
	struct weft__runnable run;  /* in a ready queue once due */
	struct weft__timer tm;      /* call_later/at only */
	_Atomic uint32_t refs;      /* the caller's, and the loop's while scheduled */
	_Atomic int state;          /* PENDING -> RUNNING or CANCELLED, once */
	bool timed;
	weft_call_fn fn;
	void *arg;
	struct weft__locals *locals; /* the scheduling task's values */
	struct weft__worker *owner;  /* the worker it runs on */
};

static void handle_unref(struct weft_handle *h)
{
	if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1) {
		weft__locals_unref(h->locals);
		free(h);
	}
}

WEFT_API void weft_handle_unref(weft_handle *h)
{
	if (h)
		handle_unref(h);
}

void weft__call_run(struct weft__core_worker *cw, struct weft__runnable *r)
{
	struct weft_handle *h = weft__container_of(r, struct weft_handle, run);
	int expected = PENDING;
	if (atomic_compare_exchange_strong_explicit(&h->state, &expected, RUNNING,
						    memory_order_acq_rel, memory_order_acquire)) {
		cw->cb_locals = h->locals;
		h->fn(h->arg);
		cw->cb_locals = NULL;
	}
	handle_unref(h);
}

void weft__call_discard(struct weft__runnable *r)
{
	handle_unref(weft__container_of(r, struct weft_handle, run));
}

/* Due: the callback joins the ready queue, after what is already there. */
static void on_timer(struct weft__timer *tm, bool discard)
{
	struct weft_handle *h = weft__container_of(tm, struct weft_handle, tm);
	if (discard || atomic_load_explicit(&h->state, memory_order_acquire) != PENDING) {
		handle_unref(h);
		return;
	}
	weft__schedule_callback(h->owner->sched, &h->run);
}

/* Deadlines keep their real value, past ones too, so that past
 * deadlines fire in their order (asyncio's heap) and weft_handle_when
 * reports them. Relative ones are added in nanoseconds, so that a paused
 * clock advanced by exactly `delay` finds them due (decision 17). */
enum when_kind { SOON, AFTER, AT };

static uint64_t deadline(enum when_kind kind, double t, uint64_t now)
{
	return weft__deadline_ns(kind == AFTER ? now : 0, ceil(t * 1e9));
}

static int schedule(enum when_kind kind, double t, weft_call_fn fn, void *arg, weft_handle **out)
{
	if (out)
		*out = NULL;
	if (!fn)
		return weft__misuse(-EINVAL, "NULL function");
	if (isnan(t)) /* asyncio 3.13: ValueError */
		return weft__misuse(-EINVAL, kind == AT ? "NaN deadline" : "NaN delay");
	struct weft__worker *w = weft__worker_current();
	if (!w)
		return weft__misuse(-EPERM, "not on a worker thread");
	struct weft_handle *h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->run.kind = WEFT__RUN_CALL;
	atomic_init(&h->refs, out ? 2 : 1);
	atomic_init(&h->state, PENDING);
	h->timed = kind != SOON;
	h->fn = fn;
	h->arg = arg;
	h->owner = w;
	h->locals = weft__locals_ref(weft__locals_visible());
	h->tm.state = WEFT__TIMER_IDLE;
	if (h->timed) {
		h->tm.fire = on_timer;
		h->tm.when = deadline(kind, t, weft__clock_ns(w));
		if (weft__timer_add(&w->timers, &h->tm)) {
			weft__locals_unref(h->locals);
			free(h);
			return -ENOMEM;
		}
	} else {
		weft__schedule_callback(w->sched, &h->run);
	}
	if (out)
		*out = h;
	return 0;
}

WEFT_API int weft_call_soon(weft_call_fn fn, void *arg, weft_handle **handle)
{
	return schedule(SOON, 0, fn, arg, handle);
}

WEFT_API int weft_call_later(double delay, weft_call_fn fn, void *arg, weft_handle **handle)
{
	return schedule(AFTER, delay, fn, arg, handle);
}

WEFT_API int weft_call_at(double when, weft_call_fn fn, void *arg, weft_handle **handle)
{
	return schedule(AT, when, fn, arg, handle);
}

WEFT_API bool weft_handle_cancel(weft_handle *h)
{
	if (!h)
		return false;
	int expected = PENDING;
	if (!atomic_compare_exchange_strong_explicit(&h->state, &expected, CANCELLED,
						     memory_order_acq_rel, memory_order_acquire))
		return false;
	/* On its own worker a timer leaves the heap now (only that worker
	 * touches the heap); elsewhere it is dropped when it comes due. */
	if (h->timed && weft__worker_current() == h->owner && weft__timer_queued(&h->tm))
		weft__timer_remove(&h->owner->timers, &h->tm); /* unref at its discard */
	return true;
}

WEFT_API bool weft_handle_cancelled(const weft_handle *h)
{
	return h && atomic_load_explicit(&((weft_handle *)h)->state, memory_order_acquire) ==
			    CANCELLED;
}

WEFT_API double weft_handle_when(const weft_handle *h)
{
	return h && h->timed ? (double)h->tm.when * 1e-9 : 0;
}
