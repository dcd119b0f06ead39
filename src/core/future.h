/* SPDX-License-Identifier: MIT */
/*
 * Inside a future. A future's waiters (awaiting tasks, done callbacks,
 * blocked foreign threads) sit in one list in registration order; when the
 * future completes the list is detached under the lock and each waiter is
 * dispatched outside it: tasks are woken, callbacks scheduled (never run
 * inline), threads signalled.
 */
#ifndef WEFT_CORE_FUTURE_H
#define WEFT_CORE_FUTURE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/future.h>

#include "core/block.h"
#include "sched/runnable.h"
#include "sched/spinlock.h"

struct weft__rtstub;
struct weft__locals;

enum weft__fut_kind {
	WEFT__FUT_PLAIN,
	WEFT__FUT_TASK,
	WEFT__FUT_STATIC, /* the immutable -ENOMEM future: refs are no-ops */
	WEFT__FUT_FREED,  /* debug mode: freed and quarantined (core/quarantine.h) */
};

/* A task's count while the runtime holds it (core/future.c, task_unref). */
#define WEFT__REF_RUNTIME (UINT32_C(1) << 31)

enum weft__fut_state {
	WEFT__PENDING = 0,
	WEFT__DONE = 1,      /* rc, value and msg are final */
	WEFT__CANCELLED = 3, /* DONE with rc -ECANCELED */
	/* A flag on DONE: a failure's outcome was read (debug mode's "never
	 * retrieved" report). A bit of `state`, which every future
	 * initialises anyway: a field of its own cost a store per spawn. */
	WEFT__RETRIEVED = 4,
	WEFT__STATE_MASK = 3,
};

enum weft__waiter_kind {
	WEFT__WAIT_TASK,     /* a task suspended in weft_await */
	WEFT__WAIT_CALLBACK, /* a done callback (struct weft__cb) */
	WEFT__WAIT_THREAD,   /* a foreign thread in weft_future_wait */
};

struct weft__waiter {
	struct weft__waiter *next; /* list link while registered */
	unsigned char kind;
};

/* Per-kind behaviour; NULL means a plain future's. */
struct weft__future_ops {
	bool (*cancel)(weft_future *f, const char *msg);
	/* What waiting on f means, for inspection ("a sleep due in 0.2 s",
	 * "an I/O operation on fd 7"); NULL: "a future". Called while a
	 * task awaiting f is held suspended (sched/hold.h), so f is alive;
	 * no lock is held. Any thread. */
	void (*describe)(const weft_future *f, char *buf, size_t cap);
};

struct weft_future {
	_Atomic uint32_t refs;
	unsigned char kind;               /* enum weft__fut_kind, fixed */
	_Atomic unsigned char state;      /* enum weft__fut_state; DONE is
	                                   * stored with release after rc/value/msg */
	weft__spinlock lock;              /* guards the waiter list, the
	                                   * completion, and a task's cancel state */
	bool cached;                      /* the future heads a block from
	                                   * weft__block_alloc (core/block.h),
	                                   * given back there, not free()d */
	int rc;                           /* valid once DONE */
	int num_cancels;                  /* tasks only, under lock: cancelling()
	                                   * (in the header's padding) */
	void *value;                      /* valid once DONE */
	char *msg;                        /* valid once DONE; owned */
	struct weft__rtstub *rt;          /* the runtime callbacks run in */
	struct weft__waiter *wait_head;   /* under lock, while pending */
	struct weft__waiter **wait_tail;
	const struct weft__future_ops *ops;
};

/* A done callback: a waiter while registered, a runnable once scheduled. */
struct weft__cb {
	struct weft__waiter w;
	struct weft__runnable run;
	weft_done_cb fn;
	void *arg;
	weft_future *fut; /* a reference, taken when scheduled */
	struct weft__locals *locals; /* the registering task's values */
};

/* Initialises the header of a future of `kind` in the runtime of `stub`
 * (a reference is taken). */
void weft__future_init(weft_future *f, unsigned char kind, struct weft__rtstub *stub);

struct weft__core_worker;
/* The same on a worker of the runtime, whose state the caller has read
 * (cw: weft__core_worker_current()): the stub's reference is counted
 * there without reading the thread's worker again. */
void weft__future_init_local(weft_future *f, unsigned char kind, struct weft__core_worker *cw);

/*
 * Completes f (caller holds no lock) and dispatches its waiters. `msg` is
 * owned by f afterwards (freed if f was already done). Returns 0 or
 * -EALREADY. The caller must hold a reference: f is read after its lock
 * is released, when a woken task may already have dropped its own.
 */
int weft__future_complete(weft_future *f, int rc, void *value, char *msg);

/* weft__future_complete in two steps, for a caller that must decide the
 * outcome under f->lock (a task's pending cancel): settle (f pending, lock
 * held) detaches and returns the waiters; dispatch them once unlocked. */
struct weft__waiter *weft__future_settle_locked(weft_future *f, int rc, void *value, char *msg);
void weft__future_dispatch(weft_future *f, struct weft__waiter *w);

/*
 * Registers a waiter unless f is done. Returns true if registered, false
 * if f was already done (nothing registered).
 */
bool weft__future_add_waiter(weft_future *f, struct weft__waiter *w);

/* Unregisters w if still registered; returns true if it was. */
bool weft__future_remove_waiter(weft_future *f, struct weft__waiter *w);

struct weft__core_worker;
/* Runs a scheduled callback (on the worker of cw) and releases it. */
void weft__cb_run(struct weft__core_worker *cw, struct weft__runnable *r);
/* Releases a scheduled callback that will never run (runtime gone). */
void weft__cb_discard(struct weft__runnable *r);

/* The last step of freeing a future of `kind` (read before it was
 * poisoned): its memory goes back, then the stub. Any thread. */
void weft__future_give_back(weft_future *f, unsigned char kind, bool cached,
			    struct weft__rtstub *stub);

/* Drops the runtime's reference to a task it has retired (it may free
 * the task). Any thread. */
void weft__task_unref_runtime(weft_future *f);

/* A future already failed with rc (the static one for -ENOMEM). stub NULL:
 * the calling worker's runtime, if any. */
weft_future *weft__future_failed(struct weft__rtstub *stub, int rc);

/* A new pending future for the calling task to wait on, in its worker's
 * runtime; NULL when out of memory (weft_future_create's failed future is
 * dropped). */
weft_future *weft__future_waiter(void);

/* Awaits f through a shield (weft_shield): a cancellation of the caller
 * ends its own wait (-ECANCELED) and never reaches f, which others may
 * share. `timeout` as weft_wait_for's (WEFT_FOREVER: none). Tasks only. */
int weft__await_shielded(weft_future *f, double timeout, void **result);

/* Notes that a failure's outcome was read (asyncio's __log_traceback
 * cleared). Only failures: success costs no store. */
static inline int weft__future_retrieve(const weft_future *f)
{
	int rc = f->rc;
	if (__builtin_expect(rc < 0, 0))
		atomic_fetch_or_explicit(&((weft_future *)f)->state, WEFT__RETRIEVED,
					 memory_order_relaxed);
	return rc;
}

/* The outcome of a done future: rc, and *value on success (NULL else).
 * This is a retrieval (see weft__future_retrieve). */
static inline int weft__future_outcome(const weft_future *f, void **value)
{
	if (value)
		*value = f->rc == 0 ? f->value : NULL;
	return weft__future_retrieve(f);
}

/* Wakes a foreign thread waiting in weft_future_wait (its waiter was
 * detached by completion; core/future_wait.c). */
void weft__thread_waiter_wake(struct weft__waiter *w);

static inline bool weft__future_is_done(const weft_future *f)
{
	/* acquire: pairs with the release store of DONE in complete */
	return atomic_load_explicit(&((weft_future *)f)->state, memory_order_acquire) != 0;
}

#endif
