/* SPDX-License-Identifier: MIT */
/*
 * Futures: one-shot results, thread-safe (completed on one worker, awaited
 * on another, or waited for by a foreign thread). A task is a future.
 *
 * Ownership: every function returning a weft_future * returns a reference
 * the caller owns; release it with weft_future_unref. Awaiting or waiting
 * never consumes the caller's reference.
 */
#ifndef WEFT_FUTURE_H
#define WEFT_FUTURE_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

typedef void (*weft_done_cb)(weft_future *f, void *arg);

/*
 * A new pending future belonging to `rt` (its done callbacks run there);
 * NULL means the calling worker's runtime. Never NULL: fails as a future
 * already failed with -EINVAL (rt NULL outside a worker) or -ENOMEM.
 * Never suspends. Any thread.
 */
WEFT_API weft_future *weft_future_create(weft_runtime *rt);

/* Takes another reference; returns f. NULL is ignored. In debug mode a
 * future already freed aborts (see weft_future_unref). Never suspends.
 * Any thread. */
WEFT_API weft_future *weft_future_ref(weft_future *f);

/*
 * Drops a reference; the last one frees f. NULL is ignored. A task that is
 * still running is not stopped: the runtime holds its own reference until
 * the task finishes, so dropping the caller's detaches it (it runs to its
 * end, its outcome unread; weft_cancel stops it). An unref too many is
 * caught where it can be: the runtime's own reference to a task that has
 * not finished is never dropped (the extra unref is ignored; in debug
 * mode it aborts, naming the task and the caller), and in debug mode
 * freed futures are poisoned and kept (the last 4096), so a stale
 * weft_future_ref or weft_future_unref aborts naming the future, its
 * caller and where it was freed. Never suspends. Any thread.
 */
WEFT_API void weft_future_unref(weft_future *f);

/*
 * Completes f with `value`. Done callbacks and waiting tasks are scheduled,
 * never run inside this call. Returns 0, or -EINVAL (NULL), -EPERM (f is a
 * task, done or not: only its function completes it; asyncio's
 * RuntimeError), -EALREADY (already done, checked after those),
 * -ESHUTDOWN (f's runtime has been destroyed). Never suspends. Any thread
 * that holds a reference to f for the whole call: a waiter may drop the
 * last other one as soon as it sees f done.
 */
WEFT_API int weft_future_set_result(weft_future *f, void *value);

/*
 * Fails f with `code` (negative) and an optional message (copied; NULL for
 * none). -ECANCELED makes f cancelled, as weft_cancel would. Returns 0, or
 * -EINVAL (NULL, code >= 0), -EPERM (f is a task, checked before the
 * code), -EALREADY, -ESHUTDOWN, -ENOMEM (the message could not be copied;
 * f is still failed, without it). Never suspends. Any thread.
 */
WEFT_API int weft_future_set_exception(weft_future *f, int code, const char *msg);

/* True when f has a result, an error, or was cancelled. False for NULL. */
WEFT_API bool weft_future_done(const weft_future *f);

/* True when f ended cancelled (-ECANCELED). False for NULL. */
WEFT_API bool weft_future_cancelled(const weft_future *f);

/*
 * f's outcome without waiting: 0 with *value (value may be NULL), f's error
 * code (-ECANCELED when cancelled), -EBUSY while f is pending, -EINVAL for
 * NULL f. Never suspends. Any thread.
 */
WEFT_API int weft_future_result(const weft_future *f, void **value);

/* f's error: 0 if it succeeded, its code if it failed or was cancelled,
 * -EBUSY while pending, -EINVAL for NULL. Any thread. */
WEFT_API int weft_future_exception(const weft_future *f);

/*
 * The message of f's failure (weft_fail, set_exception) or of its
 * cancellation (weft_cancel's msg), or NULL. Valid while f is referenced.
 */
WEFT_API const char *weft_future_message(const weft_future *f);

/*
 * Requests cancellation (Future.cancel / Task.cancel). A plain future ends
 * cancelled at once; so does one whose runtime was destroyed (its waiters
 * elsewhere must not hang; its callbacks are dropped). A task: see
 * weft/task.h. `msg` is copied (NULL: none). Returns false when f is NULL,
 * done, or refuses cancellation. Never suspends. Any thread.
 */
WEFT_API bool weft_cancel(weft_future *f, const char *msg);

/*
 * Schedules cb(f, arg) to run on a worker of f's runtime once f is done, in
 * registration order, never inside the call that completes f; on a done f
 * it is scheduled at once. It runs on the worker that completed f (or,
 * for a done f, the calling one) when that is a worker of f's runtime,
 * else on any of its workers. Returns 0, or -EINVAL (NULL f or cb),
 * -ESHUTDOWN (f's runtime was destroyed), -ENOMEM. Never suspends. Any
 * thread.
 */
WEFT_API int weft_future_add_done_callback(weft_future *f, weft_done_cb cb, void *arg);

/*
 * Removes every registration of (cb, arg) not yet scheduled; returns how
 * many were removed (0 for NULL arguments). Any thread.
 */
WEFT_API size_t weft_future_remove_done_callback(weft_future *f, weft_done_cb cb, void *arg);

/*
 * `await f`: suspends the calling task until f is done and returns f's
 * outcome: 0 with *result (result may be NULL), or f's error code
 * (-ECANCELED if f ended cancelled). Misuse is reported first, without
 * touching f: -EINVAL (NULL f), -EPERM (not inside a task), -EDEADLK (f is
 * the calling task). If f is already done it returns at once without
 * suspending (and delivers no cancellation). If the calling task is
 * cancelled while waiting, the cancel passes to f and the task keeps
 * waiting for f's real outcome (see weft/task.h). Suspends; tasks only.
 */
WEFT_API int weft_await(weft_future *f, void **result);

/*
 * Blocks the calling OS thread until f is done or `timeout` seconds
 * (real time; WEFT_FOREVER: none; <= 0: do not wait) pass; returns f's
 * outcome as weft_await does, or -ETIMEDOUT (f is left running), -EINVAL
 * (NULL f, NaN timeout; checked first), -EPERM (called on a worker
 * thread: it would block the loop). It spins for a few microseconds
 * before sleeping on a futex (a submit-and-wait round trip often ends by
 * then). Foreign threads only.
 */
WEFT_API int weft_future_wait(weft_future *f, double timeout, void **result);

WEFT_END_DECLS

#endif
