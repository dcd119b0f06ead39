/* SPDX-License-Identifier: MIT */
/*
 * Timeout scopes: asyncio.timeout() / asyncio.timeout_at() (3.11, with
 * 3.12's exit rule). C has no `async with`, so a scope is entered and
 * exited explicitly, in LIFO order, by the task that entered it:
 *
 *     weft_timeout scope;
 *     int rc = weft_timeout_enter_after(&scope, 0.5);
 *     if (rc)
 *             return rc;
 *     rc = do_work();                       // may suspend many times
 *     rc = weft_timeout_exit(&scope, rc);   // -ETIMEDOUT if it expired
 *
 * When the deadline passes, the scope cancels its task (weft_cancel, as
 * Task.cancel: the suspension point the body is in, or its next one,
 * returns -ECANCELED once). The body is expected to give up and return
 * that -ECANCELED as its body_rc; exit then turns it into -ETIMEDOUT.
 *
 * Exit rule (3.12): if this scope expired, exit withdraws its cancel
 * (weft_task_uncancel, once) and returns -ETIMEDOUT only if body_rc is
 * -ECANCELED and the task's cancelling() count is now no higher than it
 * was at enter (no cancel came from outside meanwhile); otherwise it
 * returns body_rc. A cancel the scope made but the body never received
 * (the body finished first) is withdrawn with it and never fires later,
 * unless another request (an outer scope, an outside weft_cancel) is still
 * counted. Nested scopes each convert only their own expiry.
 *
 * The timer runs on the worker that entered (or rescheduled) the scope;
 * if the task migrates, the timer still only calls weft_cancel on it,
 * which is thread-safe.
 *
 * A task whose function returns while a scope is still open aborts the
 * process with "weft: task <name> returned inside an open timeout scope"
 * (a programming error, like a lock never released).
 */
#ifndef WEFT_TIMEOUT_H
#define WEFT_TIMEOUT_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

/*
 * A timeout scope. The caller owns the memory (it may live on the task's
 * stack) and must keep it in place from enter to exit. The fields are
 * private: use the functions below. A scope may be entered again after
 * its exit.
 */
typedef struct weft_timeout {
	double when_;                   /* deadline (weft_time), or WEFT_FOREVER */
	weft_future *task_;             /* the task that entered it */
	struct weft_timeout *outer_;    /* the task's next outer open scope */
	void *timer_;                   /* the armed timer, or NULL */
	void *handle_;                  /* its weft_handle, or NULL */
	int cancelling_;                /* the task's cancelling() at enter */
	int state_;                     /* entered, expiring, expired, exited */
} weft_timeout;

/*
 * asyncio.timeout_at(when): opens a scope on the calling task that expires
 * at weft_time() == `when` (WEFT_FOREVER: never, until rescheduled; a time
 * already past: expires at the next loop turn). Returns 0, or -EINVAL
 * (NULL scope, NaN when), -EPERM (not inside a task; the scope is already
 * open), -ENOMEM. Never suspends. Tasks only.
 */
WEFT_API int weft_timeout_enter(weft_timeout *scope, double when);

/*
 * asyncio.timeout(delay): weft_timeout_enter at weft_time() + delay
 * (WEFT_FOREVER: never). Same errors.
 */
WEFT_API int weft_timeout_enter_after(weft_timeout *scope, double delay);

/*
 * Closes the scope (see the exit rule above) and returns the body's final
 * code: body_rc, or -ETIMEDOUT. The timer is cancelled. Misuse is
 * reported without closing anything: -EINVAL (NULL scope), -EPERM (not
 * inside a task, not the innermost open scope of the calling task: exit
 * out of LIFO order, or a scope never entered or already exited). Never
 * suspends. Tasks only (the task that entered it).
 */
WEFT_API int weft_timeout_exit(weft_timeout *scope, int body_rc);

/*
 * Timeout.reschedule(when): moves the deadline (absolute weft_time();
 * WEFT_FOREVER: none; a time already past: expires at the next loop turn).
 * Returns 0, or -EINVAL (NULL scope, NaN when), -EPERM (not an open scope
 * of the calling task, or the scope has already expired: asyncio's
 * "Cannot change state of expiring Timeout"), -ENOMEM (no deadline is
 * armed then). Never suspends. Tasks only (the task that entered it).
 */
WEFT_API int weft_timeout_reschedule(weft_timeout *scope, double when);

/*
 * Timeout.expired(): true once the deadline passed and the scope cancelled
 * its task (also after exit). False for NULL. Never suspends. The scope's
 * task while it is open; after exit, any thread.
 */
WEFT_API bool weft_timeout_expired(const weft_timeout *scope);

/* Timeout.when(): the current deadline, WEFT_FOREVER for none (also for
 * NULL). Never suspends. As weft_timeout_expired. */
WEFT_API double weft_timeout_when(const weft_timeout *scope);

WEFT_END_DECLS

#endif
