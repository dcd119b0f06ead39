/* SPDX-License-Identifier: MIT */
/*
 * Workers and the runtime that owns them. A worker is one OS thread, one
 * event loop, one io_uring ring. Fields say who may touch them.
 */
#ifndef WEFT_SCHED_WORKER_H
#define WEFT_SCHED_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <weft/runtime.h>

#include "core/task.h"
#include "core/task_slab.h"
#include "fiber/fiber.h"
#include "fiber/stack.h"
#include "io/ring.h"
#include "io/timer.h"
#include "sched/idle.h"
#include "sched/inject.h"
#include "sched/mpsc.h"
#include "sched/runq.h"
#include "sched/spinlock.h"

/* The park word (weft__worker.park). */
enum {
	WEFT__PARKED = 1u,   /* the owner is parked or about to be */
	WEFT__NOTIFIED = 2u, /* a wake was sent or the owner must not sleep */
};

/* What the loop does with a task that just switched out. */
typedef void (*weft__after_fn)(struct weft__worker *w, struct weft__task *t, void *arg);

/* Debug mode reports a task step longer than this (asyncio's
 * loop.slow_callback_duration, 0.1 s). */
#define WEFT__SLOW_STEP_NS 100000000u

struct weft__worker {
	weft_runtime *rt;
	unsigned index;
	bool small_stacks;                /* cfg.small_stacks: check canaries */
	bool debug;                       /* debug mode: report slow task steps */
	pthread_t thread;

	/* Owner only. */
	struct weft__fiber loop;          /* the loop's own context */
	struct weft__task *current;       /* the task running now */
	struct weft__locals *cb_locals;   /* the values a running callback sees */
	weft__after_fn after;             /* set by the task before it switches out */
	void *after_arg;
	struct weft__fifo ready;          /* one worker: asyncio's FIFO ready queue;
	                                   * several: resumed home tasks */
	struct weft__task *lifo;          /* several workers: next to run */
	unsigned lifo_streak;
	unsigned tick;
	unsigned budget;                  /* co-operative budget of `current` */
	uint32_t rng;
	uint64_t id_next, id_end;         /* this worker's block of task ids */
	int64_t stub_refs;                /* net stub references (see weft__rtstub) */
	bool searching;
	struct weft__ring ring;
	struct weft__timer_heap timers;
	struct weft__stack_cache stacks;
	struct weft__task_slab *slab;     /* tasks are carved from it */
	weft_future *futures;             /* cache of future blocks (core/future.c) */
	unsigned nfutures;
	unsigned slab_used;
	void *altstack;

	/* Shared. */
	struct weft__runq runq;           /* stealable: new and migratable tasks */
	struct weft__mpsc inbox;          /* wakes of home tasks from elsewhere */
	_Atomic unsigned park;            /* WEFT__PARKED | WEFT__NOTIFIED */
	bool is_sleeper;                  /* under rt->idle.lock */
	_Atomic uint64_t spawned;         /* tasks it created; only it writes */
	_Atomic uint64_t retired;         /* tasks it retired; only it writes */
} __attribute__((aligned(64)));

/*
 * A runtime's handle that futures keep; outlives the runtime. Counting a
 * reference per future on one shared word made every spawn and every
 * future bounce a cache line between workers, so references taken and
 * dropped on the runtime's own workers are counted in the worker
 * (weft__worker.stub_refs, plain integers that may go negative), and
 * `refs` holds the others plus WEFT__STUB_BIAS while the runtime lives.
 * weft_runtime_destroy folds the workers' counts in and removes the bias;
 * from then on `refs` is exact and whoever brings it to 0 frees the stub.
 */
#define WEFT__STUB_BIAS ((int64_t)1 << 62)
struct weft__rtstub {
	_Atomic int64_t refs;
	atomic_bool dead;
	weft_runtime *rt;               /* valid while !dead */
	struct weft__mpsc empty_slabs;  /* task slabs to reclaim (core/task_slab.c) */
};

struct weft_runtime {
	weft_config cfg;
	unsigned nworkers;
	bool single;                     /* one worker: asyncio's exact order */
	bool spin;                       /* idle workers spin before parking
	                                  * (sched/worker.c) */
	bool paused;                     /* cfg.paused_clock (then single) */
	uint64_t paused_ns;              /* the paused clock; its worker only */
	struct weft__worker *workers;
	struct weft__rtstub *stub;
	struct weft__inject inject;
	_Atomic uint64_t outside_spawned; /* tasks spawned from foreign threads */
	struct weft__slab_registry slabs; /* every task's slab (core/task_slab.h) */
	struct weft__idle idle;
	struct weft__stack_pool stacks;
	atomic_bool closing;             /* shutdown began: refuse foreign work */
	atomic_bool stop;                /* workers exit once nothing is left */
	_Atomic long live;               /* tasks not yet finished */
	_Atomic uint64_t trim_since;     /* when the stack pool went above what
	                                  * it keeps resident (0: it is not) */
	_Atomic uint64_t next_id;
	pthread_mutex_t lock;            /* start-up reports, shutdown waits */
	pthread_cond_t cond;
	unsigned started;                /* under lock */
	int start_rc;                    /* under lock */
	char start_why[160];             /* under lock */
	bool waiting_idle;               /* under lock: destroy waits for live == 0 */
	struct weft__bridge *bridge;     /* thread bridges: the shutdown guard and
	                                  * the blocking pool (bridge/bridge.h) */
};

/*
 * The worker running on this thread, or NULL. Never cached across a
 * suspension: a migratable task may resume on another thread, and GCC and
 * Clang keep thread-local addresses across calls. So the read is an asm
 * volatile the compiler can neither merge nor hoist (initial-exec TLS: two
 * instructions, no call). Only the loop code in worker.c, which never runs
 * on a task's fiber, touches the variable directly.
 */
extern __thread struct weft__worker *weft__tls_worker __attribute__((tls_model("initial-exec")));

static inline struct weft__worker *weft__worker_current(void)
{
#if defined(__x86_64__)
	struct weft__worker *w;
	__asm__ volatile("movq weft__tls_worker@gottpoff(%%rip), %0\n\t"
			 "movq %%fs:(%0), %0"
			 : "=r"(w));
	return w;
#else
#error "weft: weft__worker_current needs a port for this architecture"
#endif
}

/* Worker thread entry. */
void *weft__worker_main(void *arg);

/* Called by a task on its own fiber: switch to the loop, which then calls
 * after(w, t, arg). Returns when the task is resumed (maybe elsewhere).
 * Inline, as the loop's dispatch is (worker.c): every call level between
 * the code that switches and the switch itself costs a mispredicted
 * return per switch, since a switch pairs one side's call with the other
 * side's return. */
static inline __attribute__((always_inline)) void
weft__task_switch_out(struct weft__task *t, weft__after_fn after, void *arg, bool done)
{
	struct weft__worker *w = weft__worker_current();
	w->after = after;
	w->after_arg = arg;
	weft__fiber_switch(&t->fiber, &w->loop, done);
}

/* Scheduling (sched/schedule.c). Any thread unless stated. */
void weft__schedule_new(weft_runtime *rt, struct weft__task *t);
void weft__schedule_callback(weft_runtime *rt, struct weft__runnable *r);
/* Owner only: puts a task that yielded at the back of its queue. */
void weft__schedule_yield(struct weft__worker *w, struct weft__task *t);
/* Owner only: the LIFO-slot task that exceeded its streak goes to the back
 * of w's queues without waking another worker. */
void weft__schedule_lifo_expired(struct weft__worker *w, struct weft__task *t);
/* Makes w look for work: wakes it if it is parked. Any thread. */
void weft__worker_notify(struct weft__worker *w);

/* The clock timers use on worker w: real, or w's runtime's paused one. */
static inline uint64_t weft__clock_ns(const struct weft__worker *w)
{
	return w && w->rt->paused ? w->rt->paused_ns : weft__now_ns();
}

/* Fires w's due timers (owner only). */
void weft__fire_timers(struct weft__worker *w);

/* The stack-overflow handler's question (fiber/guard.h). */
bool weft__worker_guard_lookup(const void *addr, char *buf, size_t cap);

/* call_soon/call_later runnables (core/call.c). */
void weft__call_run(struct weft__worker *w, struct weft__runnable *r);
void weft__call_discard(struct weft__runnable *r);

/* Counting live tasks (core/tasklist.c). w: the calling worker if it
 * belongs to rt, else NULL. */
void weft__task_count_spawned(struct weft__worker *w, weft_runtime *rt);
void weft__task_count_retired(struct weft__worker *w);
/* Never lower than the truth; exact when nothing is spawning. */
long weft__live_tasks(weft_runtime *rt);

#endif
