/* SPDX-License-Identifier: MIT */
/*
 * Tasks: a C function running on its own fiber, and a future of its
 * outcome. A task may suspend anywhere down its call stack.
 *
 * Cancellation (asyncio's Task.cancel): weft_cancel(task, msg) returns
 * false on a finished task. Otherwise it counts a request (cancelling())
 * and, if the task awaits a future, passes the cancel to that future: if it
 * accepts, the task keeps waiting until the future is really done and then
 * receives its real outcome. If nothing accepted it, the task sees
 * -ECANCELED at its current or next suspension point, once. A task
 * cancelled before it first runs ends cancelled without its function being
 * called. A task whose function returns -ECANCELED ends cancelled. One
 * whose function returns 0 (or a positive value) while a cancel is still
 * pending (requested and not yet delivered at a suspension point) ends
 * cancelled too, its result dropped (asyncio's Task.__step); one that
 * returns another negative code keeps it.
 *
 * Where a task resumes: on the worker it last ran on (its home), unless it
 * is migratable; after any suspension a migratable task may be on another
 * OS thread, so it must not keep thread-local addresses (errno included)
 * across a suspension.
 */
#ifndef WEFT_TASK_H
#define WEFT_TASK_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

/*
 * asyncio.create_task: a task running fn(arg) in the calling task's
 * runtime; it starts at a later loop turn. `name` is copied (NULL:
 * "Task-N"). The task inherits a copy of the caller's task-local values.
 * Returns a reference the caller owns, never NULL: on failure a future
 * already failed with -EINVAL (NULL fn), -EPERM (not inside a task),
 * -ESHUTDOWN or -ENOMEM. Unreffing it at once detaches the task: it runs
 * on (fire and forget). Never suspends. Tasks only.
 */
WEFT_API weft_future *weft_create_task(weft_task_fn fn, void *arg, const char *name);

/* The calling task (borrowed: no reference taken), or NULL outside one. */
WEFT_API weft_future *weft_current_task(void);

/* True when f is a task (not a plain future). */
WEFT_API bool weft_is_task(const weft_future *f);

/*
 * The tasks of `rt` (NULL: the calling worker's runtime) not yet done.
 * Stores up to `cap` references (the caller owns them) in `out` and returns
 * the number of such tasks, which may exceed cap; -EINVAL if rt is NULL
 * outside a worker, or out is NULL with cap > 0. Any thread.
 */
WEFT_API long weft_all_tasks(weft_runtime *rt, weft_future **out, size_t cap);

/*
 * The task's name, "Task-N" unless set. The string stays valid until the
 * next weft_task_set_name on it or its release. NULL for NULL or a plain
 * future. Any thread.
 */
WEFT_API const char *weft_task_name(weft_future *task);

/* Renames a task (copied). Returns 0, -EINVAL (NULL, not a task), -ENOMEM. */
WEFT_API int weft_task_set_name(weft_future *task, const char *name);

/* The function the task runs (asyncio's get_coro); NULL if not a task. */
WEFT_API weft_task_fn weft_task_fn_of(const weft_future *task);

/* True when the task ended cancelled (same as weft_future_cancelled). */
WEFT_API bool weft_task_cancelled(const weft_future *task);

/* The number of cancel requests not withdrawn by uncancel (Task.cancelling).
 * 0 for NULL or a plain future. Any thread. */
WEFT_API int weft_task_cancelling(weft_future *task);

/*
 * Task.uncancel (3.13): withdraws one cancel request and returns the count
 * left; when it reaches 0 a cancellation not yet delivered is withdrawn too.
 * -EINVAL for NULL or a plain future. Any thread.
 */
WEFT_API int weft_task_uncancel(weft_future *task);

/*
 * Lets the task resume on any worker after a suspension (true), or only on
 * its home worker (false, the default unless the runtime's config says
 * migratable). Returns 0 or -EINVAL. Any thread; takes effect at the
 * task's next wake-up.
 */
WEFT_API int weft_task_set_migratable(weft_future *task, bool migratable);

WEFT_END_DECLS

#endif
