/* SPDX-License-Identifier: MIT */
/*
 * Where runnable things go: new tasks, woken tasks, yields, callbacks.
 *
 * One worker: everything lands at the tail of its FIFO ready queue
 * (asyncio's order); other threads go through its inbox or the inject
 * queue. Several workers: new tasks and migratable ones are stealable
 * (the run queue), a started task resumes on its home worker (its ready
 * queue, or its inbox from elsewhere), a wake on the waker's own worker
 * goes into the LIFO slot, and a callback runs on the worker that
 * scheduled it (its ready queue).
 */
#include "sched/idle.h"
#include "sched/sched.h"
#include "sched/worker.h"

/*
 * A push by a thread that is not a worker of s, and the wake-up after it,
 * are counted in s->outside: once the push is taken the work may run,
 * everything may finish and weft_runtime_destroy go on, while the pusher
 * still reads the worker's park word or writes its eventfd; destroy waits
 * for the count to read 0 before it frees them (sched.c).
 */
static inline void outside_begin(struct weft__sched *s)
{
	/* relaxed: the push after it is a release, so whoever takes the work
	 * (and then destroy, through the task's end) sees the count */
	atomic_fetch_add_explicit(&s->outside, 1, memory_order_relaxed);
}

static inline void outside_end(struct weft__sched *s)
{
	/* release: the pusher's last touch of s comes before destroy's
	 * acquire load of 0 */
	atomic_fetch_sub_explicit(&s->outside, 1, memory_order_release);
}

/* Owner of w: r joins the back of w's ready queue. One worker first takes
 * in what other threads queued: asyncio appends call_soon and
 * call_soon_threadsafe (and so wakes and spawns from other threads) to one
 * deque in call order, so whatever another thread queued before this push
 * runs before r. */
static inline void push_ready(struct weft__worker *w, struct weft__runnable *r)
{
	if (w->sched->single)
		weft__worker_take_outside(w);
	weft__fifo_push(&w->ready, r);
}

/* Owner of w: stealable work into its ring, spilling half on overflow;
 * wakes a parked worker for it if `notify` or if it spilled. */
static void push_stealable(struct weft__worker *w, struct weft__runnable *r, bool notify)
{
	while (!weft__runq_push_owner(&w->runq, r)) {
		struct weft__runnable *last;
		uint32_t n;
		struct weft__runnable *first = weft__runq_take_half_owner(&w->runq, &last, &n);
		if (first)
			weft__inject_push_batch(&w->sched->inject, first, n);
		weft__metric_add(&w->m.overflows, 1);
		notify = true;
	}
	if (notify)
		weft__idle_notify_one(w->sched);
}

/* Owner of w: a task w runs goes to the back of the right queue. */
static void requeue(struct weft__worker *w, struct weft__sched_task *t, bool notify)
{
	/* Not started yet: stealable whatever its migratable flag says. */
	if (!t->started || atomic_load_explicit(&t->migratable, memory_order_relaxed))
		push_stealable(w, &t->run, notify);
	else
		weft__fifo_push(&w->ready, &t->run);
}

void weft__schedule_lifo_expired(struct weft__worker *w, struct weft__sched_task *t)
{
	/* w runs it soon itself, as tokio does after its LIFO budget: waking
	 * another worker for it made a spawn chain bounce between workers. */
	requeue(w, t, false);
}

/* Owner of w: t runs next here; the task it displaces goes to the back. */
static void put_lifo(struct weft__worker *w, struct weft__sched_task *t)
{
	struct weft__sched_task *prev = w->lifo;
	w->lifo = t;
	if (prev)
		requeue(w, prev, true);
}

void weft__worker_notify(struct weft__worker *w)
{
	/* acq_rel RMW: ordered after the caller's push of work; pairs with
	 * the owner's exchange in park() (worker.c). */
	unsigned old = atomic_fetch_or_explicit(&w->park, WEFT__NOTIFIED, memory_order_acq_rel);
	if (old != WEFT__PARKED)
		return; /* running, or a wake is already on its way */
	atomic_fetch_add_explicit(&w->m.unparks, 1, memory_order_relaxed);
	struct weft__worker *cur = weft__worker_current();
	if (cur && cur->sched == w->sched && cur != w)
		weft__io_wake_from(&cur->io, &w->io);
	else
		weft__io_wake_foreign(&w->io);
}

/* From a thread that is not a worker of s. */
static void to_outside(struct weft__sched *s, struct weft__runnable *r)
{
	outside_begin(s);
	weft__inject_push(&s->inject, r);
	if (s->single)
		weft__worker_notify(&s->workers[0]);
	else
		weft__idle_notify_one(s);
	outside_end(s);
}

void weft__schedule_new(struct weft__sched *s, struct weft__sched_task *t)
{
	struct weft__worker *w = weft__worker_current();
	if (!w || w->sched != s)
		to_outside(s, &t->run);
	else if (s->single)
		push_ready(w, &t->run);
	else
		/* tokio's choice: a new task runs next on its creator's worker
		 * (cache-hot, no wake-up); the one it displaces becomes
		 * stealable and wakes a worker if nobody is searching. */
		put_lifo(w, t);
}

/* r runs on w only: w's own FIFO from w itself, else its inbox (drained
 * into that owner-only FIFO) and a wake. A thief steals from the ring,
 * never from these. cur: the calling thread's worker, or NULL. */
static void to_worker(struct weft__worker *cur, struct weft__worker *w, struct weft__runnable *r)
{
	if (cur == w) {
		push_ready(w, r);
		return;
	}
	struct weft__sched *s = w->sched;
	bool outside = !cur || cur->sched != s;
	if (outside)
		outside_begin(s);
	weft__mpsc_push(&w->inbox, r);
	weft__worker_notify(w);
	if (outside)
		outside_end(s);
}

void weft__schedule_new_on(struct weft__worker *w, struct weft__sched_task *t)
{
	to_worker(weft__worker_current(), w, &t->run);
}

void weft__schedule_callback(struct weft__sched *s, struct weft__runnable *r)
{
	/* On the calling worker, never stolen (asyncio: the loop that
	 * scheduled it), behind what that worker already queued there. */
	struct weft__worker *w = weft__worker_current();
	if (!w || w->sched != s)
		to_outside(s, r);
	else
		push_ready(w, r);
}

void weft__schedule_yield(struct weft__worker *w, struct weft__sched_task *t)
{
	if (w->sched->single) {
		push_ready(w, &t->run);
		return;
	}
	/* asyncio's sleep(0) on any number of workers: what was queued here
	 * before the yield runs (or is stolen) before t resumes here. The
	 * LIFO slot's task and the inbox go ahead of t in the ready queue,
	 * and the loop takes the ring first up to its tail as it is now
	 * (worker.c ring_first); the ring's own order and the ready queue's
	 * do the rest. */
	struct weft__sched_task *prev = w->lifo;
	if (prev) {
		w->lifo = NULL;
		requeue(w, prev, true);
	}
	weft__worker_drain_inbox(w);
	w->ring_mark = atomic_load_explicit(&w->runq.tail, memory_order_relaxed);
	w->ring_first = true;
	requeue(w, t, true);
}

void weft__schedule_wake(struct weft__sched_task *t)
{
	/* A task only suspends once it has run, so its home is set. */
	struct weft__sched *s = t->home->sched;
	struct weft__worker *w = weft__worker_current();
	bool local = w && w->sched == s;
	if (s->single) {
		/* From another thread, wakes share the inject queue with
		 * callbacks and spawns: one queue keeps asyncio's one order. */
		if (local)
			push_ready(w, &t->run);
		else
			to_outside(s, &t->run);
		return;
	}
	bool mig = atomic_load_explicit(&t->migratable, memory_order_relaxed);
	if (local && (mig || t->home == w)) {
		put_lifo(w, t);
	} else if (mig) {
		to_outside(s, &t->run);
	} else {
		/* Read home before the push: once t is in the inbox its home
		 * may run it, write home, finish it and free it. */
		struct weft__worker *home = t->home;
		if (!local)
			outside_begin(s);
		weft__mpsc_push(&home->inbox, &t->run);
		/* A running home finds the push itself: park() re-reads the
		 * inbox after its seq_cst exchange, and this seq_cst load
		 * follows the seq_cst push (Dekker), so the RMW on its line is
		 * needed only once it is parking. */
		if (atomic_load_explicit(&home->park, memory_order_seq_cst))
			weft__worker_notify(home);
		if (!local)
			outside_end(s);
	}
}

void weft__worker_post(struct weft__worker *w, struct weft__job *j)
{
	struct weft__sched *s = w->sched;
	struct weft__worker *cur = weft__worker_current();
	j->run.kind = WEFT__RUN_JOB;
	atomic_fetch_add_explicit(&w->m.jobs_posted, 1, memory_order_relaxed);
	/* counted before the push: its run (worker.c run_one) counts it out */
	weft__sched_count_new(s, cur && cur->sched == s ? cur : NULL);
	to_worker(cur, w, &j->run);
}
