/* SPDX-License-Identifier: MIT */
/*
 * A worker: one OS thread, one event loop, one I/O backend. Fields say who
 * may touch them. The scheduler that owns the workers is sched/sched.h.
 */
#ifndef WEFT_SCHED_WORKER_H
#define WEFT_SCHED_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fiber/fiber.h"
#include "fiber/guard.h"
#include "fiber/stack.h"
#include "fiber/switch.h"
#include "io/backend.h"
#include "io/timer.h"
#include "sched/mpsc.h"
#include "sched/runq.h"
#include "sched/sched.h"
#include "sched/task.h"

/* The park word (weft__worker.park). */
enum {
	WEFT__PARKED = 1u,   /* the owner is parked or about to be */
	WEFT__NOTIFIED = 2u, /* a wake was sent or the owner must not sleep */
};


struct weft__worker {
	struct weft__sched *sched;
	unsigned index;
	bool small_stacks;                /* cfg.small_stacks: check canaries */
	bool debug;                       /* debug mode: report slow task steps */
	uint64_t slow_ns;                 /* debug mode: cfg.slow_step */
	pthread_t thread;

	/* Owner only. */
	struct weft__fiber loop;          /* the loop's own context */
	struct weft__sched_task *current; /* the task running now */
	weft__after_fn after;             /* set by the task before it switches out */
	void *after_arg;
	struct weft__fifo ready;          /* one worker: asyncio's FIFO ready queue;
	                                   * several: resumed home tasks, callbacks
	                                   * and jobs (never stolen) */
	struct weft__sched_task *lifo;    /* several workers: next to run */
	unsigned lifo_streak;
	bool ring_first;                  /* several: take the ring before the
	                                   * ready queue until its head passes */
	uint32_t ring_mark;               /* ... this (weft__schedule_yield) */
	unsigned tick;
	unsigned budget;                  /* co-operative budget of `current` */
	uint32_t rng;
	uint32_t spin_ns;                 /* the next idle spin's length */
	uint32_t spin_backoff_ns;         /* no spin for this long after a
	                                   * yield that lost the CPU ... */
	uint64_t spin_quiet_until;        /* ... until this (worker.c) */
	bool searching;
	struct weft__io io;
	struct weft__timer_heap timers;
	struct weft__stack_cache stacks;
	void *altstack;                   /* WEFT__ALTSTACK_BYTES */
	const char *thread_lo, *thread_hi; /* the thread's own stack (the
	                                   * loop's), for the overflow handler */

	/* Shared. */
	struct weft__runq runq;           /* stealable: new and migratable tasks */
	struct weft__mpsc inbox;          /* wakes of home tasks from elsewhere */
	_Atomic unsigned park;            /* WEFT__PARKED | WEFT__NOTIFIED */
	bool is_sleeper;                  /* under sched->idle.lock */
	_Atomic uint64_t spawned;         /* tasks it created; only it writes */
	_Atomic uint64_t retired;         /* tasks it retired; only it writes */

	/* Metrics (weft/metrics.h), never read by the loop. Counted on hot
	 * paths in plain owner-only fields (one add each) and published
	 * relaxed by weft__worker_publish (every 61 ticks or turns, at park,
	 * at exit); counted on cold paths straight into the atomics. */
	struct {
		uint64_t runs;            /* runnables run (tasks, callbacks, jobs) */
		uint64_t callbacks;       /* of which callbacks */
		uint64_t lifo_hits;       /* runs taken from the LIFO slot */
		unsigned turns;           /* one worker: turns since the last publish */
	} hot;
	struct weft__worker_metrics {
		_Atomic uint64_t runs, callbacks, lifo_hits; /* published hot.* */
		_Atomic uint64_t jobs;        /* jobs run (counted directly) */
		_Atomic uint64_t timers, stacks_cached;          /* published gauges */
		_Atomic uint64_t steals, steal_attempts, overflows, parks, spins_found;
		_Atomic uint64_t unparks;     /* RMW: counted by the waker */
		_Atomic uint64_t jobs_posted; /* RMW: counted by the poster (jobs
		                               * are counted in `spawned` too) */
	} m __attribute__((aligned(64)));

	/* Debug mode only: what the watchdog (runtime/monitor.c) reads of
	 * the step running now, and the sample its signal takes. */
	struct weft__worker_debug {
		_Atomic uint64_t t0;      /* start of the running step (task or
		                           * callback), 0 between steps; release
		                           * pairs with the watchdog's acquire */
		pthread_mutex_t sample_lock; /* one sampler at a time */
		_Atomic int sample_req;   /* a sampler asks (weft__worker_sample) */
		_Atomic int sample_n;     /* frames in sample_pcs, -1: none yet
		                           * (release: the sample is written) */
		uint64_t sample_t0;       /* the step the sample is of */
		char sample_name[64];     /* its task's name, or "a callback" */
		void *sample_pcs[48];
	} dbg __attribute__((aligned(64)));
} __attribute__((aligned(64)));

/* Adds n to a metric only its worker writes (relaxed: a metric orders
 * nothing; no RMW needed with one writer). */
static inline void weft__metric_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* Owner only: publishes the hot counters and gauges for readers on other
 * threads (cold: a few stores). */
void weft__worker_publish(struct weft__worker *w);

/* The signal that samples a worker's running step (debug mode): SIGURG,
 * whose default action is to ignore it (Go preempts with it too). Its
 * handler is the runtime monitor's (runtime/monitor.c). */
#define WEFT__SAMPLE_SIGNAL SIGURG

/*
 * Debug mode, with the monitor's handler installed: where worker w's
 * running step is now. Signals w and waits at most wait_ns for its
 * handler. Returns how many frames it copied into pcs (the first is the
 * interrupted instruction, the rest return addresses), with the step's
 * start in *t0 (0: between steps) and its task's name in name ("" for a
 * callback); -1 when w did not answer in time. Any thread but w's;
 * samplers of one worker take turns.
 */
int weft__worker_sample(struct weft__worker *w, uint64_t wait_ns, void **pcs, int cap, char *name,
			size_t ncap, uint64_t *t0);

/* Counts one more in a counter of w's that only w's thread writes (no
 * RMW needed; release pairs with weft__sched_live's acquire loads). */
static inline void weft__worker_bump(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_release);
}

/* Owner only: what other threads sent to w's inbox joins the back of its
 * ready queue, oldest first. */
static inline void weft__worker_drain_inbox(struct weft__worker *w)
{
	if (weft__mpsc_empty(&w->inbox))
		return;
	struct weft__runnable *last;
	size_t n;
	struct weft__runnable *first = weft__mpsc_take_all(&w->inbox, &last, &n);
	weft__fifo_append(&w->ready, first, last, n);
}

/* One worker, owner only: the whole inject queue joins the back of w's
 * ready queue (worker.c). */
void weft__worker_take_inject(struct weft__worker *w);

/* One worker, owner only: what other threads queued (inbox, then the
 * inject queue) joins the back of w's ready queue. */
static inline void weft__worker_take_outside(struct weft__worker *w)
{
	weft__worker_drain_inbox(w);
	if (!weft__inject_empty(&w->sched->inject))
		weft__worker_take_inject(w);
}

/* Sets up worker `index` of s (no thread yet). */
void weft__worker_init(struct weft__worker *w, struct weft__sched *s, unsigned index);
/* Closes what the worker's thread left open (after it has been joined). */
void weft__worker_exit(struct weft__worker *w);

/*
 * The worker running on this thread, or NULL. Never cached across a
 * suspension (decision 19): read afresh through the porting layer's
 * thread-local load. Only the loop code in worker.c, which never runs on
 * a task's fiber, touches the variable directly.
 */
extern __thread struct weft__worker *weft__tls_worker __attribute__((tls_model("initial-exec")));

static inline struct weft__worker *weft__worker_current(void)
{
	return WEFT__TLS_LOAD(struct weft__worker *, weft__tls_worker);
}

/* Worker thread entry. */
void *weft__worker_main(void *arg);

/* Called by a task on its own fiber: switch to the loop, which then calls
 * after(w, t, arg) (no `after` and done: the task finished). Returns when
 * the task is resumed (maybe elsewhere). Inline, as the loop's dispatch is
 * (worker.c): every call level between the code that switches and the
 * switch itself costs a mispredicted return per switch, since a switch
 * pairs one side's call with the other side's return. */
static inline __attribute__((always_inline)) void
weft__task_switch_out(struct weft__sched_task *t, weft__after_fn after, void *arg, bool done)
{
	struct weft__worker *w = weft__worker_current();
	w->after = after;
	w->after_arg = arg;
	weft__fiber_switch(&t->fiber, &w->loop, done);
}

/* Scheduling (sched/schedule.c). Any thread unless stated. */
void weft__schedule_new(struct weft__sched *s, struct weft__sched_task *t);
/* A new task that runs on worker w only: never stolen, and (unless
 * migratable) w stays its home. */
void weft__schedule_new_on(struct weft__worker *w, struct weft__sched_task *t);
void weft__schedule_callback(struct weft__sched *s, struct weft__runnable *r);
/* Owner only: puts a task that yielded at the back of its queue; with
 * several workers, behind everything queued on w before the yield
 * (its LIFO slot, inbox and ring included). */
void weft__schedule_yield(struct weft__worker *w, struct weft__sched_task *t);
/* Owner only: the LIFO-slot task that exceeded its streak goes to the back
 * of w's queues without waking another worker. */
void weft__schedule_lifo_expired(struct weft__worker *w, struct weft__sched_task *t);
/* Makes a suspended task runnable again, routed by its home/migratable
 * rule (decision 6). The caller is its only waker for this suspension. */
void weft__schedule_wake(struct weft__sched_task *t);
/* Makes w look for work: wakes it if it is parked. */
void weft__worker_notify(struct weft__worker *w);

/* Runs j->fn(w, j) on worker w, soon, in its loop (never inline, even on
 * w). The job counts as live work until it has run, so w does not stop
 * before it (a job posted to a stopped runtime is a caller's bug). */
void weft__worker_post(struct weft__worker *w, struct weft__job *j);

/* The clock timers use on worker w: real, or w's scheduler's paused one. */
static inline uint64_t weft__clock_ns(const struct weft__worker *w)
{
	return w && w->sched->paused ? w->sched->paused_ns : weft__now_ns();
}

/* Fires w's due timers (owner only). */
void weft__fire_timers(struct weft__worker *w);

/* The stack-overflow handler's question (fiber/guard.h). */
bool weft__worker_guard_lookup(const void *addr, const void *sp, struct weft__guard_report *r);

/* Idle-time return of memory (sched/trim.c): trims the stack pool and the
 * layer above's spares, paced; returns when to come back (ns from now),
 * or UINT64_MAX for never. timer_in: ns until w's next timer. */
uint64_t weft__trim_idle(struct weft__sched *s, uint64_t now, uint64_t timer_in);

#endif
