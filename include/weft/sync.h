/* SPDX-License-Identifier: MIT */
/*
 * Synchronisation primitives for tasks: asyncio's Lock, Event, Condition,
 * Semaphore, BoundedSemaphore and Barrier (3.11).
 *
 * Threads. Tasks using one primitive may run on any worker, of any
 * runtime; every function is thread-safe. A task that has to wait
 * suspends (it never blocks its worker's OS thread). Calls that may
 * suspend are for tasks only and return -EPERM elsewhere; calls that
 * never suspend (weft_lock_release, weft_event_set, weft_semaphore_release,
 * weft_barrier_abort, ...) work from any thread, foreign threads included.
 * A primitive belongs to no runtime: it is plain memory, created and
 * destroyed explicitly. Every function returns -EINVAL for a NULL
 * primitive (the bool and size queries return false / 0).
 *
 * Fairness. Waiters are served in the order they started waiting (FIFO).
 * A release hands the lock (or a permit, or a notification) directly to
 * the first waiter, so nobody can barge past the waiters, on any worker.
 *
 * Cancellation. A waiting task that is cancelled (weft_cancel, a timeout
 * scope, weft_wait_for on a task, runtime shutdown) leaves the wait at
 * once: the call returns -ECANCELED having taken nothing (no lock, permit,
 * notification or barrier place). A cancel that arrives after the waiter
 * was served but before it ran is delivered by the same call when it is
 * still pending as the call returns: what was handed over goes back (the
 * lock or permit to the next waiter, a notification to another waiter)
 * and the call returns -ECANCELED, as in asyncio. A cancel that arrives
 * later than that (with several workers the task may already be
 * returning) finds the call complete: the call succeeds and the cancel
 * stays pending for the task's next suspension point (weft/task.h). In no
 * case is a lock, a permit or a notification lost. A call that does not
 * suspend (taking a free lock) delivers no cancellation, as in asyncio.
 *
 * Timeouts: asyncio has no timeout parameter here; wrap the call in a
 * timeout scope (weft/timeout.h) or run it in a task under weft_wait_for:
 *
 *     weft_timeout scope;
 *     weft_timeout_enter_after(&scope, 0.5);
 *     rc = weft_timeout_exit(&scope, weft_lock_acquire(lock)); // -ETIMEDOUT
 *
 * Shutdown: weft_runtime_destroy (and the end of weft_run) cancels every
 * task of the runtime, so a task waiting on a primitive returns
 * -ECANCELED and the primitive stays consistent (a lock handed to a task
 * being cancelled is passed on). Nothing else wakes waiters: a primitive
 * shared with another runtime keeps working.
 *
 * Destroying: weft_*_destroy returns -EBUSY while a task waits on the
 * primitive (or, for a Lock, while it is locked) and destroys nothing.
 * Otherwise the memory is freed; using it afterwards is undefined, as for
 * any C handle.
 */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

/* --- Lock ---------------------------------------------------------------- */

/* asyncio.Lock: a mutual-exclusion lock for tasks, not owned by a task
 * (any task or thread may release it, as in asyncio). */
typedef struct weft_lock weft_lock;

/* A new unlocked lock in *out. Returns 0, or -EINVAL (NULL out), -ENOMEM.
 * Never suspends. Any thread. */
WEFT_API int weft_lock_create(weft_lock **out);

/* Frees the lock. Returns 0, or -EINVAL (NULL), -EBUSY (locked, or a task
 * waits on it: nothing is freed). Never suspends. Any thread. */
WEFT_API int weft_lock_destroy(weft_lock *lock);

/*
 * Lock.acquire: takes the lock, suspending while another holder has it
 * or other tasks wait for it (FIFO: no barging). Returns 0 (the caller
 * holds the lock), or -EINVAL (NULL), -EPERM (not inside a task),
 * -ECANCELED (cancelled while waiting: the lock is not held; a lock handed
 * over at that moment is passed on), -ENOMEM. Suspends unless the lock is
 * free; tasks only.
 */
WEFT_API int weft_lock_acquire(weft_lock *lock);

/*
 * Lock.release: hands the lock to the first waiting task, or unlocks it.
 * No owner check (as in asyncio). Returns 0, or -EINVAL (NULL), -EPERM
 * (not locked: asyncio's RuntimeError). Never suspends. Any thread.
 */
WEFT_API int weft_lock_release(weft_lock *lock);

/* Lock.locked: true while held. A lock released to a waiting task stays
 * locked: it is that task's now (asyncio shows it unlocked until the task
 * runs). False for NULL. Never suspends. Any thread. */
WEFT_API bool weft_lock_locked(weft_lock *lock);

/* --- Event --------------------------------------------------------------- */

/* asyncio.Event: a flag tasks can wait for. */
typedef struct weft_event weft_event;

/* A new event (not set) in *out. Returns 0, -EINVAL (NULL out), -ENOMEM.
 * Never suspends. Any thread. */
WEFT_API int weft_event_create(weft_event **out);

/* Frees the event. Returns 0, -EINVAL, -EBUSY (a task waits on it).
 * Never suspends. Any thread. */
WEFT_API int weft_event_destroy(weft_event *ev);

/* Event.set: sets the flag and wakes every waiting task. Returns 0 or
 * -EINVAL. Never suspends. Any thread. */
WEFT_API int weft_event_set(weft_event *ev);

/* Event.clear: resets the flag; tasks already woken stay woken. Returns 0
 * or -EINVAL. Never suspends. Any thread. */
WEFT_API int weft_event_clear(weft_event *ev);

/* Event.is_set. False for NULL. Never suspends. Any thread. */
WEFT_API bool weft_event_is_set(weft_event *ev);

/*
 * Event.wait: returns 0 at once if the flag is set, else suspends until
 * weft_event_set. Returns 0, or -EINVAL, -EPERM (not inside a task),
 * -ECANCELED, -ENOMEM. Suspends unless set; tasks only.
 */
WEFT_API int weft_event_wait(weft_event *ev);

/* --- Condition ----------------------------------------------------------- */

/* asyncio.Condition: a condition variable over a weft_lock. */
typedef struct weft_condition weft_condition;

/*
 * A new condition in *out over `lock` (shared: the caller keeps owning it
 * and must destroy it after the condition), or over a lock of its own
 * when `lock` is NULL. Returns 0, -EINVAL (NULL out), -ENOMEM. Never
 * suspends. Any thread.
 */
WEFT_API int weft_condition_create(weft_condition **out, weft_lock *lock);

/* Frees the condition (and its own lock). Returns 0, -EINVAL, -EBUSY (a
 * task is inside weft_condition_wait, or its own lock is locked or waited
 * for). Never suspends. Any thread. */
WEFT_API int weft_condition_destroy(weft_condition *cond);

/* The condition's lock (borrowed), NULL for NULL. Any thread. */
WEFT_API weft_lock *weft_condition_lock(weft_condition *cond);

/* Condition.acquire / release / locked: weft_lock_acquire (suspends; tasks
 * only), weft_lock_release (any thread) and weft_lock_locked on its lock,
 * with the same codes (-EINVAL for a NULL condition). */
WEFT_API int weft_condition_acquire(weft_condition *cond);
WEFT_API int weft_condition_release(weft_condition *cond);
WEFT_API bool weft_condition_locked(weft_condition *cond);

/*
 * Condition.wait: releases the lock, suspends until notified, then
 * re-acquires the lock before returning, in every case, cancellation
 * included (like asyncio, it keeps re-acquiring through further cancels).
 * Returns 0 (notified, lock held), or -EINVAL, -EPERM (not inside a task,
 * or the lock is not locked: checked first, nothing released), -ECANCELED
 * (cancelled while waiting or re-acquiring; the lock is held again; a
 * notification this task had received is passed to another waiter, so
 * none is lost), -ENOMEM (nothing released). Suspends; tasks only.
 */
WEFT_API int weft_condition_wait(weft_condition *cond);

/* A predicate for weft_condition_wait_for: true when the wait is over. */
typedef bool (*weft_predicate)(void *arg);

/*
 * Condition.wait_for: while !pred(arg), weft_condition_wait. pred is
 * called with the lock held (except the first call, which like asyncio
 * happens without checking it: a predicate already true returns 0
 * without the lock). Returns 0 once pred is true, or an error of
 * weft_condition_wait (then the lock is held, except for -EPERM /
 * -EINVAL), -EINVAL for a NULL pred. Suspends while pred is false; tasks
 * only.
 */
WEFT_API int weft_condition_wait_for(weft_condition *cond, weft_predicate pred, void *arg);

/*
 * Condition.notify(n): wakes up to n waiting tasks, first come first
 * served (each re-acquires the lock in turn). The lock must be locked.
 * Returns 0, or -EINVAL, -EPERM (lock not locked). Never suspends. Any
 * thread (holding the lock in the asyncio sense).
 */
WEFT_API int weft_condition_notify(weft_condition *cond, size_t n);

/* Condition.notify_all: weft_condition_notify for every waiter. */
WEFT_API int weft_condition_notify_all(weft_condition *cond);

/* --- Semaphore and BoundedSemaphore -------------------------------------- */

/* asyncio.Semaphore / asyncio.BoundedSemaphore: a counter of permits. */
typedef struct weft_semaphore weft_semaphore;

/* A new semaphore with `value` permits in *out. Returns 0, -EINVAL (NULL
 * out, value < 0: asyncio's ValueError), -ENOMEM. Never suspends. Any
 * thread. */
WEFT_API int weft_semaphore_create(weft_semaphore **out, long value);

/* asyncio.BoundedSemaphore(value): like weft_semaphore_create, but a
 * release that would raise the count above `value` fails (-EOVERFLOW). */
WEFT_API int weft_semaphore_create_bounded(weft_semaphore **out, long value);

/* Frees the semaphore. Returns 0, -EINVAL, -EBUSY (a task waits on it).
 * Never suspends. Any thread. */
WEFT_API int weft_semaphore_destroy(weft_semaphore *sem);

/*
 * Semaphore.acquire: takes a permit, suspending while none is free or
 * other tasks wait (FIFO). Returns 0, or -EINVAL, -EPERM (not inside a
 * task), -ECANCELED (no permit taken: a permit handed over at that moment
 * goes to the next waiter), -ENOMEM. Suspends unless a permit is free;
 * tasks only.
 */
WEFT_API int weft_semaphore_acquire(weft_semaphore *sem);

/*
 * Semaphore.release: gives the permit to the first waiting task, or adds
 * it to the count. Returns 0, or -EINVAL, -EOVERFLOW (bounded: the count
 * is already at its initial value, asyncio's ValueError; unbounded: the
 * count is at LONG_MAX). Never suspends. Any thread.
 */
WEFT_API int weft_semaphore_release(weft_semaphore *sem);

/* Semaphore.locked: true when acquire would suspend (no permit free).
 * False for NULL. Never suspends. Any thread. */
WEFT_API bool weft_semaphore_locked(weft_semaphore *sem);

/* The number of free permits (asyncio's _value). 0 for NULL. Any thread. */
WEFT_API long weft_semaphore_value(weft_semaphore *sem);

/* --- Barrier (3.11) ------------------------------------------------------ */

/* asyncio.Barrier: `parties` tasks wait until all have arrived. */
typedef struct weft_barrier weft_barrier;

/* A new barrier for `parties` tasks in *out. Returns 0, -EINVAL (NULL
 * out, parties == 0: asyncio's ValueError), -ENOMEM. Never suspends. Any
 * thread. */
WEFT_API int weft_barrier_create(weft_barrier **out, size_t parties);

/* Frees the barrier. Returns 0, -EINVAL, -EBUSY (a task is inside
 * weft_barrier_wait). Never suspends. Any thread. */
WEFT_API int weft_barrier_destroy(weft_barrier *b);

/*
 * Barrier.wait: suspends until `parties` tasks are waiting, then all pass
 * and each gets its index in *index (may be NULL): 0 .. parties-1, unique
 * per passage, in arrival order (the last to arrive gets parties-1 and
 * passes without suspending). While the passed tasks are still leaving
 * (draining) or a reset is in progress, newcomers wait for the next round.
 *
 * Returns 0, or -EINVAL (NULL b), -EPERM (not inside a task),
 * -ENOTRECOVERABLE (asyncio's BrokenBarrierError: the barrier is broken
 * by weft_barrier_abort, or was reset or aborted while this task waited,
 * including after it was released but before it ran, as in asyncio),
 * -ECANCELED (cancelled: a waiting task leaves, the others keep waiting
 * and the barrier is not broken; a cancel reaching a released task
 * before it ran returns -ECANCELED too, the others pass anyway), -ENOMEM.
 * Suspends (except for the last party); tasks only.
 */
WEFT_API int weft_barrier_wait(weft_barrier *b, size_t *index);

/*
 * Barrier.reset: returns the barrier to its empty state; tasks waiting in
 * it get -ENOTRECOVERABLE. A broken barrier becomes usable again. Returns
 * 0 or -EINVAL. Never suspends (asyncio's is a coroutine only to take the
 * lock). Any thread.
 */
WEFT_API int weft_barrier_reset(weft_barrier *b);

/* Barrier.abort: breaks the barrier: waiting tasks and every later wait
 * get -ENOTRECOVERABLE until weft_barrier_reset. Returns 0 or -EINVAL.
 * Never suspends. Any thread. */
WEFT_API int weft_barrier_abort(weft_barrier *b);

/* Barrier.parties. 0 for NULL. Any thread. */
WEFT_API size_t weft_barrier_parties(weft_barrier *b);

/* Barrier.n_waiting: tasks waiting for the barrier to fill (0 while it
 * drains, resets or is broken). 0 for NULL. Any thread. */
WEFT_API size_t weft_barrier_n_waiting(weft_barrier *b);

/* Barrier.broken. False for NULL. Any thread. */
WEFT_API bool weft_barrier_broken(weft_barrier *b);

WEFT_END_DECLS

#endif
