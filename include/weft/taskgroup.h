/* SPDX-License-Identifier: MIT */
/*
 * Task groups: asyncio.TaskGroup (3.11, with 3.13's fixes). C has no
 * `async with`, so the group is entered and exited explicitly by one task,
 * its parent; the code between is the body:
 *
 *     weft_taskgroup *tg;
 *     if ((rc = weft_taskgroup_enter(&tg)))
 *             return rc;
 *     weft_future *a = weft_taskgroup_create_task(tg, fetch, url1, NULL);
 *     weft_future *b = weft_taskgroup_create_task(tg, fetch, url2, NULL);
 *     rc = weft_taskgroup_exit(tg, body_rc);   // waits for a and b
 *     if (rc == WEFT_EGROUP)
 *             ... weft_taskgroup_errors(tg, codes, tasks, cap) ...
 *     weft_taskgroup_free(tg);
 *
 * The first member that fails (with any code but -ECANCELED) cancels the
 * other members and the body (the parent task, so whatever it awaits
 * returns -ECANCELED); exit then gathers the failures into WEFT_EGROUP.
 * The group withdraws (weft_task_uncancel) the cancel it made on the
 * parent, so the parent's cancelling() count stays right. A body that
 * fails (body_rc < 0, not -ECANCELED) or is cancelled from outside also
 * cancels the members.
 *
 * Thread-safety: create_task may be called from any task of the group's
 * runtime (members may add siblings) and from any thread; enter, exit and
 * free belong to the parent task.
 */
#ifndef WEFT_TASKGROUP_H
#define WEFT_TASKGROUP_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

typedef struct weft_taskgroup weft_taskgroup;

/*
 * TaskGroup.__aenter__: creates a group whose parent is the calling task
 * and stores it in *out. Returns 0, or -EINVAL (NULL out), -EPERM (not
 * inside a task), -ENOMEM. Never suspends. Tasks only.
 */
WEFT_API int weft_taskgroup_enter(weft_taskgroup **out);

/*
 * TaskGroup.create_task: as weft_create_task, into the parent's runtime,
 * and a member of the group. Returns a reference the caller owns, never
 * NULL: on failure a future already failed with -EINVAL (NULL tg or fn),
 * -EPERM (the group is shutting down: a member failed or the parent was
 * cancelled; or it has exited), -ESHUTDOWN or -ENOMEM. Never suspends.
 * Any thread.
 */
WEFT_API weft_future *weft_taskgroup_create_task(weft_taskgroup *tg, weft_task_fn fn, void *arg,
						 const char *name);

/*
 * TaskGroup.__aexit__: waits until every member is done. `body_rc` is the
 * body's outcome (>= 0: it succeeded; -ECANCELED: it was cancelled; any
 * other negative code: it failed, and that code joins the failures with
 * task NULL). If the parent is cancelled while waiting, the members are
 * cancelled and exit keeps waiting for them.
 *
 * Returns 0 (no failures, no cancel), -ECANCELED (the parent was
 * cancelled from outside the group and nothing failed), or WEFT_EGROUP
 * (one or more failures: weft_taskgroup_errors lists them). When failures
 * win over a cancel from outside that exit consumed, the cancel is
 * re-armed on the parent (uncancel + cancel, as CPython does) so its next
 * suspension point still sees it. Misuse: -EINVAL (NULL tg), -EPERM (not
 * called by the parent, or called twice). Suspends; the parent task only.
 */
WEFT_API int weft_taskgroup_exit(weft_taskgroup *tg, int body_rc);

/*
 * The group's failures (ExceptionGroup.exceptions), in the order they
 * happened, the body's last: stores up to `cap` codes in codes[] and the
 * failed tasks in tasks[] (borrowed: valid until weft_taskgroup_free; NULL
 * for the body's failure); either array may be NULL. Returns the number of
 * failures (may exceed cap), 0 for a NULL tg. Messages: weft_future_message
 * on the task. Never suspends. After exit, any thread.
 */
WEFT_API size_t weft_taskgroup_errors(const weft_taskgroup *tg, int *codes, weft_future **tasks,
				      size_t cap);

/*
 * Releases a group after its exit (and its failures list). Returns 0, or
 * -EBUSY (not exited yet: nothing is freed). NULL is ignored (0). Never
 * suspends. Any thread.
 */
WEFT_API int weft_taskgroup_free(weft_taskgroup *tg);

WEFT_END_DECLS

#endif
