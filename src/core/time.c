/* SPDX-License-Identifier: MIT */
/* weft_time and timed sleeps (asyncio.sleep: a future completed by a timer). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/time.h>

#include "core/core.h"
#include "core/debug.h"
#include "core/future.h"
#include "core/task.h"
#include "io/timer.h"
#include "sched/worker.h"

WEFT_API double weft_time(void)
{
	return (double)weft__clock_ns(weft__worker_current()) * 1e-9;
}

WEFT_API int weft_clock_advance(double seconds)
{
	struct weft__worker *w = weft__worker_current();
	if (!w || !w->sched->paused)
		return weft__misuse(-EPERM, "not on a runtime with a paused clock");
	if (!(seconds >= 0))
		return weft__misuse(-EINVAL, "negative or NaN duration");
	double ns = ceil(seconds * 1e9);
	uint64_t room = UINT64_MAX - 1 - w->sched->paused_ns;
	w->sched->paused_ns += ns >= (double)room ? room : (uint64_t)ns;
	weft__fire_timers(w);
	return 0;
}

uint64_t weft__deadline_ns(uint64_t base, double ns)
{
	if (ns >= 0)
		return ns >= (double)(UINT64_MAX - 1 - base) ? UINT64_MAX - 1 : base + (uint64_t)ns;
	return -ns >= (double)base ? 0 : base - (uint64_t)-ns;
}

/*
 * A sleep is one block: the future the task awaits, with the timer that
 * completes it. The future's count covers both holders (the task and the
 * worker's heap, then the ready queue), and its last unref gives the
 * block back (weft__block_alloc).
 *
 * As asyncio's sleep is a call_later handle that completes the future:
 * on one worker a due timer puts the handle (`due`) in the ready queue
 * behind what is there, it completes the future when the loop reaches
 * it, and the task resumes in the turn after, behind what that turn's
 * callbacks scheduled before it.
 */
struct sleeper {
	weft_future fut; /* first: the block is freed through it */
	struct weft__timer tm;
	struct weft__runnable due;  /* kind WEFT__RUN_SLEEP, once due */
	struct weft__worker *owner; /* whose heap holds tm */
};

/* Inspection: when the sleep ends. */
static void sleeper_describe(const weft_future *f, char *buf, size_t cap)
{
	const struct sleeper *sl = (const struct sleeper *)f;
	uint64_t now = weft__clock_ns(sl->owner), when = sl->tm.when;
	snprintf(buf, cap, "a sleep due in %.3f s", when > now ? (double)(when - now) * 1e-9 : 0.0);
}

static const struct weft__future_ops sleeper_ops = {.describe = sleeper_describe};

/* Ends the sleep and drops the heap's reference. */
static void sleeper_complete(struct sleeper *sl)
{
	weft__future_complete(&sl->fut, 0, NULL, NULL); /* -EALREADY if cancelled */
	weft_future_unref(&sl->fut);
}

static void sleeper_fire(struct weft__timer *tm, bool discard)
{
	struct sleeper *sl = weft__container_of(tm, struct sleeper, tm);
	if (discard) {
		weft_future_unref(&sl->fut);
	} else if (!sl->owner->sched->single) {
		/* several workers keep no turns between them (docs/asyncio.md):
		 * the task is woken at once, where another worker can take it */
		sleeper_complete(sl);
	} else {
		/* the heap's reference goes with the handle; on the owner */
		sl->due.kind = WEFT__RUN_SLEEP;
		weft__schedule_callback(sl->owner->sched, &sl->due);
	}
}

void weft__sleep_due_run(struct weft__runnable *r)
{
	sleeper_complete(weft__container_of(r, struct sleeper, due));
}

void weft__sleep_due_discard(struct weft__runnable *r)
{
	weft_future_unref(&weft__container_of(r, struct sleeper, due)->fut);
}

int weft__sleep_timed(double seconds)
{
	struct weft__worker *w = weft__worker_current();
	_Static_assert(sizeof(struct sleeper) <= WEFT__BLOCK_SIZE, "a sleep fits a block");
	struct sleeper *sl = weft__block_alloc();
	if (!sl)
		return -ENOMEM;
	weft_future *fut = &sl->fut;
	weft__future_init(fut, WEFT__FUT_PLAIN, weft__core_of_sched(w->sched)->stub);
	fut->cached = true; /* the last unref gives the whole block back */
	fut->ops = &sleeper_ops;
	atomic_store_explicit(&fut->refs, 2, memory_order_relaxed); /* task + heap */
	sl->owner = w;
	sl->tm.fire = sleeper_fire;
	sl->tm.state = WEFT__TIMER_IDLE;
	sl->tm.when = weft__deadline_ns(weft__clock_ns(w), ceil(seconds * 1e9)); /* never early */
	if (weft__timer_add(&w->timers, &sl->tm)) {
		atomic_store_explicit(&fut->refs, 1, memory_order_relaxed);
		weft_future_unref(fut);
		return -ENOMEM;
	}
	int rc = weft_await(fut, NULL);
	/* Cancelled before the deadline: take the timer out now if we are on
	 * its worker (the heap drops its reference later, io/timer.h); a
	 * migrated task leaves it to fire into a done future. */
	if (weft__worker_current() == sl->owner && weft__timer_queued(&sl->tm))
		weft__timer_remove(&sl->owner->timers, &sl->tm);
	weft_future_unref(fut);
	/* A cancel that came after the deadline but before the task ran again
	 * (a scope expiring with it, found on resume) is delivered here, as
	 * asyncio's __step throws it into this await: a sleep has no outcome
	 * to lose by it. */
	if (rc == 0 && weft__task_take_cancel(weft__task_current()))
		rc = -ECANCELED;
	return rc;
}
