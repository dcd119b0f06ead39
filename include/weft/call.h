/* SPDX-License-Identifier: MIT */
/*
 * Plain callbacks run by the loop: asyncio's loop.call_soon, call_later
 * and call_at. A callback runs on the worker that scheduled it, on the
 * loop's own stack (it must not suspend: weft_await and weft_sleep return
 * -EPERM there), and sees the task-local values of the task that
 * scheduled it.
 */
#ifndef WEFT_CALL_H
#define WEFT_CALL_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

/* A scheduled callback (asyncio's Handle / TimerHandle). */
typedef struct weft_handle weft_handle;

typedef void (*weft_call_fn)(void *arg);

/*
 * Schedules fn(arg) at the end of the calling worker's ready queue (with
 * one worker: after everything ready now, in call order). If `handle` is
 * not NULL it receives a reference (weft_handle_unref) for cancelling.
 * Returns 0, or -EINVAL (NULL fn), -EPERM (not on a worker thread: use
 * call_soon_threadsafe from other threads), -ENOMEM. Never suspends.
 */
WEFT_API int weft_call_soon(weft_call_fn fn, void *arg, weft_handle **handle);

/*
 * Schedules fn(arg) to run on the calling worker once `delay` seconds have
 * passed (never earlier). Due callbacks run in deadline order, those due
 * at the same time in the order they were scheduled; a delay <= 0 is a
 * deadline already past, kept as it is (asyncio's heap): call_later(-1, a)
 * then call_later(-2, b) runs b, then a, at the next loop turn. Returns
 * 0, or -EINVAL (NULL fn; NaN delay, as asyncio 3.13's sleep rejects it:
 * nothing is scheduled), -EPERM (not on a worker thread), -ENOMEM. Never
 * suspends.
 */
WEFT_API int weft_call_later(double delay, weft_call_fn fn, void *arg, weft_handle **handle);

/* As weft_call_later, at weft_time() == `when` (NaN: -EINVAL). */
WEFT_API int weft_call_at(double when, weft_call_fn fn, void *arg, weft_handle **handle);

/*
 * Cancels a callback that has not started; returns true if this call
 * cancelled it, false if it already ran, is running, or was cancelled
 * (or h is NULL). A cancelled timer leaves its worker's heap at once when
 * cancelled on that worker, else when its deadline comes. Any thread.
 */
WEFT_API bool weft_handle_cancel(weft_handle *h);

/* True once the handle was cancelled. */
WEFT_API bool weft_handle_cancelled(const weft_handle *h);

/* The deadline of a call_later/call_at handle in weft_time() seconds, as
 * given (a past one too, to the nanosecond); 0 for call_soon's or NULL. */
WEFT_API double weft_handle_when(const weft_handle *h);

/* Drops the reference weft_call_* gave. NULL is ignored. Any thread. */
WEFT_API void weft_handle_unref(weft_handle *h);

WEFT_END_DECLS

#endif
