/* SPDX-License-Identifier: MIT */
/*
 * The worker loop: run tasks and callbacks, find more work, park.
 *
 * One worker turns as asyncio's _run_once: take in what other threads
 * sent, reap the ring, then run exactly what is ready at that moment.
 * Several workers turn as tokio's: LIFO slot (at most 3 in a row), then
 * the home queue and the stealable ring alternately; every 61 ticks the
 * inject queue and the ring; when empty, steal half of a random victim's
 * ring; then park.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fiber/guard.h"
#include "sched/hooks.h"
#include "sched/idle.h"
#include "sched/sched.h"
#include "sched/worker.h"

#define CHECK_INTERVAL 61 /* ticks between inject/ring checks (tokio, Go) */
#define LIFO_MAX 3        /* LIFO runs in a row (tokio PR #5712) */
#define BUDGET 128        /* awaits that do not suspend before a forced yield */
#define INJECT_BATCH 32
#define SPIN_NS 50000     /* the longest idle spin (see spin_single) */
#define YIELD_NS 4000     /* a spinner offers its CPU this often */
#define YIELD_LOST_NS 500000 /* a yield longer: a CPU-bound thread shares this CPU */
#define QUIET_MIN_NS 1000000   /* then no spin for this long, doubling ... */
#define QUIET_MAX_NS 100000000 /* ... up to this while it stays */

__thread struct weft__worker *weft__tls_worker __attribute__((tls_model("initial-exec")));
#define tls_worker weft__tls_worker

/* A task that finished: give back its stack, count it out, drop the
 * runtime's reference. */
static void task_retire(struct weft__worker *w, struct weft__sched_task *t)
{
	struct weft__sched *s = w->sched;
	if (t->fiber.stack) {
		atomic_store_explicit(&t->fiber.stack->user, NULL, memory_order_relaxed);
		weft__stack_put(&s->stacks, &w->stacks, weft__fiber_release(&t->fiber));
	}
	weft__worker_bump(&w->retired);
	if (__builtin_expect(weft__inject_closing(&s->inject), 0))
		weft__sched_retired_closing(s);
	weft__hook_task_retire(t);
}

/* Debug mode: a step (task or callback) begins; the watchdog
 * (runtime/monitor.c) sees it from now on. */
static __attribute__((noinline, cold)) uint64_t step_begin(struct weft__worker *w)
{
	uint64_t t0 = weft__now_ns();
	/* release: the watchdog's acquire load sees the step's start */
	atomic_store_explicit(&w->dbg.t0, t0, memory_order_release);
	return t0;
}

/* Debug mode's stall report after the fact (asyncio's slow-callback
 * warning): a step that kept the worker longer than cfg.slow_step. The
 * watchdog may have named it already while it ran. */
static void step_end(struct weft__worker *w, const struct weft__sched_task *t, uint64_t t0)
{
	atomic_store_explicit(&w->dbg.t0, 0, memory_order_relaxed);
	uint64_t dt = weft__now_ns() - t0;
	if (dt < w->slow_ns)
		return;
	char name[128] = "";
	if (t)
		weft__hook_task_name(t, name, sizeof(name));
	fprintf(stderr,
		"weft: %s%s ran %.1f ms without suspending: nothing else ran on its "
		"worker meanwhile (debug mode reports steps over %.0f ms); to fix: move "
		"blocking calls or long computations to weft_to_thread, and use weft's I/O "
		"calls for sockets and files\n",
		t ? "task " : "a callback", name, (double)dt / 1e6, (double)w->slow_ns / 1e6);
}

/*
 * t just switched out (suspended or finished) on a worker with checks on.
 * t is still alive: the loop holds its reference.
 * - Small-stack mode: an overwritten canary means its stack overflowed,
 *   maybe into another's.
 * - Debug mode: the step ends (step_end).
 */
static __attribute__((noinline, cold)) void
switched_out_checks(struct weft__worker *w, struct weft__sched_task *t, uint64_t t0)
{
	char name[128];
	if (w->small_stacks && !weft__stack_canary_ok(t->fiber.stack)) {
		weft__hook_task_name(t, name, sizeof(name));
		weft__stack_overflow_abort(name);
	}
	if (w->debug)
		step_end(w, t, t0);
}

/* A callback, timed in debug mode as task steps are. */
static __attribute__((noinline, cold)) void run_callback_debug(struct weft__worker *w,
							       struct weft__runnable *r)
{
	uint64_t t0 = step_begin(w);
	weft__hook_run_callback(w, r);
	step_end(w, NULL, t0);
}

/*
 * run_task and run_one are inlined into the loops, and the idle paths
 * (park, spinning) kept out of line: a switch pairs the loop's call with
 * the task's return and back, so each call level between the loop and
 * the switch costs mispredicted returns on every switch. One such level
 * more made yield_many ~50% slower on one worker.
 */
/* A task that will never run ends with rc, its function never called. */
static __attribute__((noinline, cold)) void end_unstarted(struct weft__worker *w,
							  struct weft__sched_task *t, int rc)
{
	weft__hook_task_end(t, rc);
	task_retire(w, t);
}

static inline __attribute__((always_inline)) void run_task(struct weft__worker *w,
							   struct weft__sched_task *t)
{
	if (!t->started) {
		if (atomic_load_explicit(&t->must_cancel, memory_order_relaxed) &&
		    weft__hook_task_cancelled(t)) {
			end_unstarted(w, t, -ECANCELED);
			return;
		}
		struct weft__stack *st = weft__stack_get(&w->sched->stacks, &w->stacks);
		if (!st) {
			end_unstarted(w, t, -ENOMEM);
			return;
		}
		/* relaxed: only the overflow handler reads it, racily */
		atomic_store_explicit(&st->user, t, memory_order_relaxed);
		weft__fiber_prepare(&t->fiber, st, st->lo, w->sched->stacks.size,
				    weft__hook_task_main, t);
		t->started = true;
	}
	if (t->home != w)
		t->home = w;
	w->current = t;
	w->budget = BUDGET;
	uint64_t t0 = 0;
	if (__builtin_expect(w->debug, 0))
		t0 = step_begin(w);
	weft__fiber_switch(&w->loop, &t->fiber, false);
	if (__builtin_expect(w->small_stacks | w->debug, 0))
		switched_out_checks(w, t, t0);
	w->current = NULL;
	weft__after_fn after = w->after;
	w->after = NULL;
	if (after)
		after(w, t, w->after_arg);
	else
		task_retire(w, t);
}

static inline __attribute__((always_inline)) void run_one(struct weft__worker *w, struct weft__runnable *r)
{
	if (r->kind == WEFT__RUN_TASK) {
		run_task(w, weft__container_of(r, struct weft__sched_task, run));
	} else if (r->kind == WEFT__RUN_JOB) {
		struct weft__job *j = weft__container_of(r, struct weft__job, run);
		j->fn(w, j);
		/* straight into the atomic (jobs are off the hot paths): the
		 * task counts subtract it and must not lag */
		weft__metric_add(&w->m.jobs, 1);
		weft__worker_bump(&w->retired); /* counted in by weft__worker_post */
	} else {
		w->hot.callbacks++;
		if (__builtin_expect(w->debug, 0))
			run_callback_debug(w, r);
		else
			weft__hook_run_callback(w, r);
	}
}

/*
 * Starts loading the lines around a runnable that a run of it touches
 * first: for a task, the object embedding its struct weft__sched_task
 * (core's task: the header line before it, the cold line after it,
 * decision 16). Addresses only, no load: a wrong guess costs a prefetch.
 */
static inline void prefetch_around(const struct weft__runnable *r)
{
	__builtin_prefetch((const char *)r - 64);
	__builtin_prefetch((const char *)r + 64);
}

/*
 * Pops from a FIFO and starts loading what the next pops need: the entry
 * after next, and the next task's object and stack top. With many tasks
 * these are cold, and a switch stalls on them. (Four lines of the stack
 * top instead of one made yield_many 3 % slower and helped nothing.)
 */
static inline struct weft__runnable *pop_prefetch(struct weft__fifo *q)
{
	struct weft__runnable *r = weft__fifo_pop(q);
	struct weft__runnable *next = r->next;
	if (next) {
		__builtin_prefetch(next->next);
		if (next->kind == WEFT__RUN_TASK) {
			struct weft__sched_task *t =
				weft__container_of(next, struct weft__sched_task, run);
			prefetch_around(next);
			__builtin_prefetch(t->fiber.ctx.sp);
		}
	}
	return r;
}

/* Fires the timers that are due; what they wake joins the ready queue. */
void weft__fire_timers(struct weft__worker *w)
{
	if (!w->timers.n)
		return;
	uint64_t now = weft__clock_ns(w);
	struct weft__timer *tm;
	while ((tm = weft__timer_pop_due(&w->timers, now)))
		tm->fire(tm, false);
}

static void discard_timers(struct weft__worker *w)
{
	weft__timer_heap_discard(&w->timers);
}

/* Hands queued requests to the kernel and reaps what is there, only when
 * there is something to do: a turn that queued nothing and has nothing to
 * reap makes no syscall. */
static inline bool io_due(const struct weft__worker *w)
{
	return w->io.queued || (w->io.inflight && weft__io_ready(&w->io));
}

/* The same for a worker spinning idle: the epoll backend looks at the
 * kernel each time (io_uring's check is a few loads either way). */
static inline bool io_due_idle(const struct weft__worker *w)
{
	return w->io.queued || (w->io.inflight && weft__io_ready_idle(&w->io));
}


static bool should_exit(struct weft__sched *s)
{
	return atomic_load_explicit(&s->stop, memory_order_acquire) && weft__sched_live(s) == 0 &&
	       weft__inject_empty(&s->inject);
}

/* Work that is ours or shared, visible without stealing. */
static bool work_visible(struct weft__worker *w)
{
	return !weft__mpsc_empty(&w->inbox) || !weft__inject_empty(&w->sched->inject) ||
	       w->ready.len || w->lifo || weft__runq_len(&w->runq);
}

static bool stealable_anywhere(struct weft__sched *s)
{
	if (!weft__inject_empty(&s->inject))
		return true;
	for (unsigned i = 0; i < s->nworkers; i++)
		if (weft__runq_len(&s->workers[i].runq))
			return true;
	return false;
}

/*
 * Sleeps in the backend until woken. The dance: publish PARKED with an
 * RMW, then re-check every source; a waker pushes first and then does its
 * own RMW on the same word (weft__worker_notify), so one of the two sees
 * the other. Idle time is also when memory goes back (weft__trim_idle).
 */
static __attribute__((noinline)) void park(struct weft__worker *w)
{
	struct weft__sched *s = w->sched;
	weft__hook_reclaim(s);
	uint64_t next = weft__timer_next(&w->timers), now = weft__now_ns();
	uint64_t timer_in = UINT64_MAX;
	if (next != WEFT__NO_DEADLINE && !s->paused)
		timer_in = next > now ? next - now : 0;
	uint64_t trim_in = weft__trim_idle(s, now, timer_in);
	/* Every parker re-checks, not only the last searcher: a searcher that
	 * just found work wakes someone only if all others are parked, so a
	 * worker still on its way to park (refused as a second searcher) would
	 * sleep next to stealable work nobody else will take (tokio's Idle
	 * has the same window). Dekker on the idle word: see sched/idle.h. */
	if (!s->single) {
		weft__idle_to_parked(s, w);
		if (stealable_anywhere(s))
			weft__idle_notify_one(s);
	}
	/* seq_cst: an inbox pusher may only load the word (sched/schedule.c) */
	unsigned old = atomic_exchange_explicit(&w->park, WEFT__PARKED, memory_order_seq_cst);
	if (!(old & WEFT__NOTIFIED) && !work_visible(w) && !should_exit(s)) {
		/* the trimming above took time: the timer's wait is re-read */
		uint64_t timeout = UINT64_MAX;
		if (next != WEFT__NO_DEADLINE && !s->paused) {
			now = weft__now_ns();
			timeout = next > now ? next - now : 0;
		}
		if (trim_in < timeout)
			timeout = trim_in; /* come back to trim */
		if (timeout) {
			weft__metric_add(&w->m.parks, 1);
			weft__worker_publish(w); /* a parked worker's counts are exact */
			uint64_t t0 = weft__now_ns();
			weft__io_park(&w->io, timeout);
			/* woken soon after: a spin would have caught it */
			if (weft__now_ns() - t0 < SPIN_NS)
				w->spin_ns = SPIN_NS;
		}
	}
	atomic_store_explicit(&w->park, 0, memory_order_release);
	if (!s->single)
		weft__idle_from_parked(s, w);
}

/*
 * Before parking, an idle worker keeps looking for a moment, as Go's
 * spinning Ms do: a wake through the ring costs tens of microseconds (more
 * on a VM), and short gaps between bursts of work (fork-join, request and
 * reply, a foreign thread's next submission) are common. Only with more
 * than one CPU and at most one worker per CPU (sched->spin, sched/sched.c).
 *
 * The spin adapts (w->spin_ns): a spin that found nothing halves the next
 * one, and a park that was woken within SPIN_NS (a spin would have
 * caught it) restores it; where gaps are long, a worker stops burning a
 * CPU that others (a client on the same machine, the other workers) need.
 */
/*
 * Every YIELD_NS of a spin (*yield_at) a spinner offers its CPU. A thread
 * that wants it and then blocks soon (a client on the same machine) runs
 * at once and gives it back. One that keeps it for a time slice (a
 * CPU-bound thread) means the spin would wait behind its slices, where a
 * parked worker is woken at once: false (the spin ends, the caller
 * parks), and no spin for a while (doubling while the yields keep losing
 * the CPU; each try costs one slice).
 */
static bool spin_yield(struct weft__worker *w, uint64_t *now, uint64_t *yield_at)
{
	if (*now < *yield_at)
		return true;
	sched_yield();
	uint64_t after = weft__now_ns();
	bool lost = after - *now > YIELD_LOST_NS;
	*now = after;
	*yield_at = after + YIELD_NS;
	if (!lost) {
		w->spin_backoff_ns = QUIET_MIN_NS;
		return true;
	}
	w->spin_quiet_until = after + w->spin_backoff_ns;
	if (w->spin_backoff_ns < QUIET_MAX_NS)
		w->spin_backoff_ns *= 2;
	return false;
}

static void spin_failed(struct weft__worker *w)
{
	w->spin_ns /= 2;
	if (w->spin_ns < 1000)
		w->spin_ns = 0;
}

/* One worker: true once work is visible, a completion may be waiting or a
 * timer is due (the loop then takes them in asyncio's order); false when
 * the spin ran out and the worker should park. */
static __attribute__((noinline)) bool spin_single_once(struct weft__worker *w)
{
	struct weft__sched *s = w->sched;
	if (!s->spin || !w->spin_ns)
		return false;
	uint64_t now = weft__now_ns(), end = now + w->spin_ns, yield_at = now + YIELD_NS;
	if (now < w->spin_quiet_until)
		return false;
	uint64_t next = weft__timer_next(&w->timers);
	do {
		for (int i = 0; i < 8; i++)
			weft__cpu_relax();
		if (!spin_yield(w, &now, &yield_at))
			return false; /* park() re-checks every source */
		if (work_visible(w))
			return true;
		if (io_due_idle(w)) {
			weft__io_poll(&w->io);
			if (w->ready.len)
				return true;
		}
		now = weft__now_ns();
		if (next != WEFT__NO_DEADLINE && next <= now)
			return true;
	} while (now < end && !should_exit(s));
	spin_failed(w);
	return false;
}

static bool spin_single(struct weft__worker *w)
{
	bool found = spin_single_once(w);
	if (found)
		weft__metric_add(&w->m.spins_found, 1);
	return found;
}

/* seq_cst: pairs with weft__sched_blocking_end's decrement (sched.c). */
static bool blocking_busy(struct weft__sched *s)
{
	return atomic_load_explicit(&s->blocking, memory_order_seq_cst) != 0;
}

void weft__worker_take_inject(struct weft__worker *w)
{
	struct weft__runnable *last;
	size_t n;
	struct weft__runnable *first = weft__inject_pop_batch(&w->sched->inject, SIZE_MAX, &last, &n);
	weft__fifo_append(&w->ready, first, last, n);
}

static void loop_single(struct weft__worker *w)
{
	struct weft__sched *s = w->sched;
	for (;;) {
		weft__worker_take_outside(w);
		if (io_due(w))
			weft__io_poll(&w->io);
		weft__fire_timers(w);
		weft__hook_reclaim(s); /* a busy worker must not hoard emptied slabs */
		size_t n = w->ready.len;
		if (n == 0) {
			if (should_exit(s))
				return;
			if (s->paused && weft__timer_count(&w->timers) && weft__sched_live(s) && !blocking_busy(s)) {
				/* Every task is idle: a paused clock jumps to the
				 * next deadline (after one last look at the ring).
				 * With no task left nothing waits for time; with a
				 * to_thread call in flight a task may be woken by
				 * it: park (its end wakes this worker). */
				weft__io_poll(&w->io);
				uint64_t next = weft__timer_next(&w->timers);
				/* never backwards: a past deadline keeps its value */
				if (!w->ready.len && !work_visible(w) && next > s->paused_ns)
					s->paused_ns = next;
				continue;
			}
			if (!spin_single(w))
				park(w);
			continue;
		}
		w->hot.runs += n;
		if (__builtin_expect(++w->hot.turns == CHECK_INTERVAL, 0))
			weft__worker_publish(w);
		/* Exactly what is ready now; what it makes ready waits a turn. */
		while (n--)
			run_one(w, pop_prefetch(&w->ready));
	}
}

/* Takes a batch from the inject queue: one to run, the rest stealable. */
static struct weft__runnable *pull_inject(struct weft__worker *w)
{
	struct weft__runnable *last;
	size_t n;
	struct weft__runnable *r = weft__inject_pop_batch(&w->sched->inject, INJECT_BATCH, &last, &n);
	if (!r)
		return NULL;
	struct weft__runnable *rest = r->next;
	while (rest) {
		struct weft__runnable *next = rest->next;
		if (!weft__runq_push_owner(&w->runq, rest)) {
			/* full: the rest goes back where it came from */
			size_t k = 0;
			for (struct weft__runnable *p = rest; p; p = p->next)
				k++;
			weft__inject_push_batch(&w->sched->inject, rest, k);
			weft__metric_add(&w->m.overflows, 1);
			break;
		}
		rest = next;
	}
	if (n > 1)
		weft__idle_notify_one(w->sched);
	return r;
}

/* A task yielded while the ring held work queued before it (sched/
 * schedule.c): the ring comes first until that work is gone (run here or
 * stolen). */
static inline bool ring_first(struct weft__worker *w)
{
	if (__builtin_expect(!w->ring_first, 1))
		return false;
	uint32_t head = atomic_load_explicit(&w->runq.head, memory_order_relaxed);
	if ((int32_t)(w->ring_mark - head) > 0)
		return true;
	w->ring_first = false;
	return false;
}

static struct weft__runnable *next_local(struct weft__worker *w)
{
	unsigned tick = ++w->tick;
	if (io_due(w))
		weft__io_poll(&w->io); /* completions wake into the LIFO slot */
	if (tick % CHECK_INTERVAL == 0) {
		weft__worker_publish(w);
		weft__hook_reclaim(w->sched);
		weft__fire_timers(w);
		struct weft__runnable *r = pull_inject(w);
		if (r)
			return r;
	}
	weft__worker_drain_inbox(w);
	if (w->lifo) {
		struct weft__sched_task *t = w->lifo;
		w->lifo = NULL;
		if (w->lifo_streak < LIFO_MAX) {
			w->lifo_streak++;
			w->hot.lifo_hits++;
			return &t->run;
		}
		/* Give the queues their turn: t goes to the back. */
		weft__schedule_lifo_expired(w, t);
	}
	w->lifo_streak = 0;
	struct weft__runnable *r;
	if ((tick & 1) && !ring_first(w)) {
		r = weft__fifo_pop(&w->ready);
		if (!r)
			r = weft__runq_pop_owner(&w->runq);
	} else {
		r = weft__runq_pop_owner(&w->runq);
		if (!r)
			r = weft__fifo_pop(&w->ready);
	}
	/* The next turn's likely pick, unless the LIFO slot takes it: the
	 * queue it tries first (ring on even ticks), else the other. */
	struct weft__runnable *ring = weft__runq_peek_owner(&w->runq);
	struct weft__runnable *next = (tick & 1) ? (ring ? ring : w->ready.head)
						 : (w->ready.head ? w->ready.head : ring);
	if (next) {
		__builtin_prefetch(next);
		prefetch_around(next);
		/* and its stack top, as pop_prefetch does on one worker; only
		 * from the ready queue, which no thief touches (a task in the
		 * ring may be running elsewhere, its sp being written) */
		if (next == w->ready.head && next->kind == WEFT__RUN_TASK) {
			struct weft__sched_task *t =
				weft__container_of(next, struct weft__sched_task, run);
			if (t->started)
				__builtin_prefetch(t->fiber.ctx.sp);
		}
	}
	return r;
}

static uint32_t next_rand(struct weft__worker *w)
{
	/* xorshift32: victim choice only */
	uint32_t x = w->rng;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return w->rng = x;
}

static struct weft__runnable *find_work(struct weft__worker *w)
{
	struct weft__sched *s = w->sched;
	weft__worker_drain_inbox(w);
	weft__fire_timers(w);
	struct weft__runnable *r = weft__fifo_pop(&w->ready);
	if (r)
		return r;
	if (w->lifo) {
		r = &w->lifo->run;
		w->lifo = NULL;
		return r;
	}
	if (io_due(w)) {
		weft__io_poll(&w->io);
		if ((r = next_local(w)))
			return r;
	}
	if ((r = pull_inject(w)))
		return r;
	if (!weft__idle_start_search(s, w))
		return NULL;
	unsigned n = s->nworkers, start = next_rand(w) % n;
	for (unsigned i = 0; i < n; i++) {
		struct weft__worker *v = &s->workers[(start + i) % n];
		if (v == w)
			continue;
		weft__metric_add(&w->m.steal_attempts, 1);
		uint32_t before = weft__runq_len(&w->runq);
		if ((r = weft__runq_steal_half(&v->runq, &w->runq))) {
			/* the one returned and those moved into our ring */
			weft__metric_add(&w->m.steals, 1 + weft__runq_len(&w->runq) - before);
			return r;
		}
	}
	return pull_inject(w);
}


static __attribute__((noinline)) struct weft__runnable *spin_for_work(struct weft__worker *w)
{
	struct weft__sched *s = w->sched;
	if (!s->spin || !w->searching || !w->spin_ns)
		return NULL;
	uint64_t now = weft__now_ns(), end = now + w->spin_ns, yield_at = now + YIELD_NS;
	if (now < w->spin_quiet_until)
		return NULL;
	do {
		for (int i = 0; i < 8; i++)
			weft__cpu_relax();
		if (!spin_yield(w, &now, &yield_at))
			return NULL; /* park() re-checks every source */
		if (io_due_idle(w))
			weft__io_poll(&w->io);
		/* next_local fires due timers every CHECK_INTERVAL ticks */
		struct weft__runnable *r = next_local(w);
		if (r || (r = find_work(w))) {
			weft__metric_add(&w->m.spins_found, 1);
			return r;
		}
	} while (!should_exit(s) && (now = weft__now_ns()) < end);
	spin_failed(w);
	return NULL;
}

static void loop_multi(struct weft__worker *w)
{
	struct weft__sched *s = w->sched;
	for (;;) {
		struct weft__runnable *r = next_local(w);
		if (!r)
			r = find_work(w);
		if (!r)
			r = spin_for_work(w);
		if (r) {
			/* tokio wakes another searcher whenever the last one
			 * finds work (work is spreading); here only if some is
			 * left to steal. Work of its own (its ring's or timers'
			 * completions, its inbox) found by a spinning searcher
			 * woke the other worker for nothing: on tcp_echo with 2
			 * workers, a wake, a 50 us spin and a park per burst. */
			if (weft__idle_found_work(s, w) && stealable_anywhere(s))
				weft__idle_notify_one(s);
			w->hot.runs++;
			run_one(w, r);
			continue;
		}
		if (should_exit(s)) {
			/* Another worker may have parked while work was still
			 * live here (a job a callback posted after stop): it
			 * waits for a wake to see that nothing is left. */
			weft__sched_wake_all(s);
			return;
		}
		park(w);
	}
}

static void report_start(struct weft__sched *s, int rc, const char *why)
{
	pthread_mutex_lock(&s->lock);
	if (rc && !s->start_rc) {
		s->start_rc = rc;
		snprintf(s->start_why, sizeof(s->start_why), "%s", why);
	} else if (!rc && !s->start_rc && why[0] && !s->start_why[0]) {
		/* started on epoll: why io_uring was not used */
		snprintf(s->start_why, sizeof(s->start_why), "%s", why);
	}
	s->started++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void loop_fiber_init(struct weft__worker *w, struct weft__fiber *f)
{
	void *lo = NULL;
	size_t size = 0;
	pthread_attr_t attr;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		if (pthread_attr_getstack(&attr, &lo, &size)) {
			lo = NULL;
			size = 0;
		}
		pthread_attr_destroy(&attr);
	}
	w->thread_lo = lo;
	w->thread_hi = (const char *)lo + size;
	weft__fiber_init_thread(f, lo, size);
}

void weft__worker_init(struct weft__worker *w, struct weft__sched *s, unsigned index)
{
	memset(w, 0, sizeof(*w));
	w->sched = s;
	w->index = index;
	w->small_stacks = s->cfg->small_stacks;
	w->debug = s->cfg->debug;
	w->slow_ns = (uint64_t)(s->cfg->slow_step * 1e9);
	atomic_init(&w->dbg.sample_n, -1);
	pthread_mutex_init(&w->dbg.sample_lock, NULL);
	w->rng = 0x9e3779b9u * (index + 1);
	w->spin_ns = SPIN_NS;
	w->spin_backoff_ns = QUIET_MIN_NS;
	weft__runq_init(&w->runq);
	atomic_init(&w->inbox.head, NULL);
	atomic_init(&w->park, 0);
	atomic_init(&w->spawned, 0);
	atomic_init(&w->retired, 0);
}

void weft__worker_publish(struct weft__worker *w)
{
	w->hot.turns = 0;
	atomic_store_explicit(&w->m.runs, w->hot.runs, memory_order_relaxed);
	atomic_store_explicit(&w->m.callbacks, w->hot.callbacks, memory_order_relaxed);
	atomic_store_explicit(&w->m.lifo_hits, w->hot.lifo_hits, memory_order_relaxed);
	atomic_store_explicit(&w->m.timers, weft__timer_count(&w->timers), memory_order_relaxed);
	atomic_store_explicit(&w->m.stacks_cached, w->stacks.n, memory_order_relaxed);
}

int weft__worker_sample(struct weft__worker *w, uint64_t wait_ns, void **pcs, int cap, char *name,
			size_t ncap, uint64_t *t0)
{
	pthread_mutex_lock(&w->dbg.sample_lock);
	atomic_store_explicit(&w->dbg.sample_n, -1, memory_order_relaxed);
	/* release: pairs with the handler's acquire exchange */
	atomic_store_explicit(&w->dbg.sample_req, 1, memory_order_release);
	int n = -1;
	if (pthread_kill(w->thread, WEFT__SAMPLE_SIGNAL) == 0) {
		uint64_t until = weft__now_ns() + wait_ns;
		while ((n = atomic_load_explicit(&w->dbg.sample_n, memory_order_acquire)) < 0 &&
		       weft__now_ns() < until) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	/* a later answer is ignored: the handler sees no request */
	atomic_store_explicit(&w->dbg.sample_req, 0, memory_order_relaxed);
	if (n >= 0) {
		if (n > cap)
			n = cap;
		memcpy(pcs, w->dbg.sample_pcs, (size_t)n * sizeof(*pcs));
		snprintf(name, ncap, "%s", w->dbg.sample_name);
		*t0 = w->dbg.sample_t0;
	}
	pthread_mutex_unlock(&w->dbg.sample_lock);
	return n;
}

void weft__worker_exit(struct weft__worker *w)
{
	weft__io_exit(&w->io);
}

void *weft__worker_main(void *arg)
{
	struct weft__worker *w = arg;
	struct weft__sched *s = w->sched;
	tls_worker = w;
	/* a send to a closed peer is -EPIPE, never a signal (IO.md) */
	sigset_t pipe;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	char why[160] = "";
	int rc = weft__io_init(&w->io, s->cfg, why, sizeof(why));
	if (rc == 0 && (rc = weft__guard_thread_init(&w->altstack)))
		snprintf(why, sizeof(why), "the alternate signal stack for overflow reports: %s",
			 strerror(-rc));
	if (rc == 0) {
		loop_fiber_init(w, &w->loop);
		weft__hook_worker_start(w);
		if (s->cfg->pin_workers) {
			long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(w->index % (unsigned)(ncpu > 0 ? ncpu : 1), &set);
			pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		}
	}
	report_start(s, rc, why);
	if (rc == 0) {
		if (s->single)
			loop_single(w);
		else
			loop_multi(w);
		discard_timers(w);
		weft__stack_cache_flush(&s->stacks, &w->stacks);
		weft__worker_publish(w);
		weft__hook_worker_stop(w);
		weft__guard_thread_exit(w->altstack);
	}
	tls_worker = NULL;
	return NULL;
}

static bool within(const void *p, const void *lo, const void *hi)
{
	return (const char *)p >= (const char *)lo && (const char *)p < (const char *)hi;
}

/* Async-signal-safe (no locks, no stdio): is a fault at addr, with the
 * stack pointer at sp, an overflow of the task running here, or a write
 * into some stack's guard? */
bool weft__worker_guard_lookup(const void *addr, const void *sp, struct weft__guard_report *r)
{
	struct weft__worker *w = tls_worker;
	if (!w)
		return false;
	struct weft__stack_pool *pool = &w->sched->stacks;
	struct weft__sched_task *t = w->current;
	struct weft__stack *own = t ? t->fiber.stack : NULL;
	r->task[0] = r->victim[0] = '\0';
	r->lo = r->hi = NULL;
	r->sp_outside = false;
	if (own) {
		weft__hook_task_name(t, r->task, sizeof(r->task));
		r->lo = own->lo;
		r->hi = (const char *)own->lo + pool->size;
		/* A fault while the loop still (or already) runs on the
		 * thread's stack, or in a handler on the alternate stack, is
		 * not the task's. */
		r->sp_outside = !within(sp, r->lo, r->hi) && !within(sp, w->thread_lo, w->thread_hi) &&
				!within(sp, w->altstack, (char *)w->altstack + WEFT__ALTSTACK_BYTES);
	}
	struct weft__stack *hit = weft__stack_guard_of(pool, addr);
	r->guard_hit = hit != NULL;
	r->own_guard = hit && hit == own;
	if (hit && !r->own_guard) {
		void *u = atomic_load_explicit(&hit->user, memory_order_relaxed);
		if (u)
			weft__hook_task_name(u, r->victim, sizeof(r->victim));
	}
	return r->guard_hit || r->sp_outside;
}
