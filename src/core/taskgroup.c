/* SPDX-License-Identifier: MIT */
/*
 * asyncio.TaskGroup (taskgroups.py, 3.13).
 *
 * Members finish on any worker; their done callbacks update the group
 * under tg->lock. Exit waits, as asyncio does, on an "on completed" plain
 * future that the callback which removes the last member completes; a
 * cancel of the parent cancels that future, so exit wakes with -ECANCELED
 * and aborts the group.
 *
 * Lifetime: exit returns only once every member's callback has done its
 * work under the lock (the member count reaches 0 there), and a callback
 * touches nothing of the group after its unlock, so the group can be
 * freed right after exit. A member that failed stays on the group's error
 * list (its node and task reference) until weft_taskgroup_free.
 *
 * Lock order: tg->lock, then whatever weft_cancel takes (tasks, futures).
 * weft_cancel never takes a group lock (callbacks are never run inline),
 * so cancelling under tg->lock cannot deadlock.
 */
#include <errno.h>
#include <stdlib.h>

#include <weft/error.h>
#include <weft/future.h>
#include <weft/task.h>
#include <weft/taskgroup.h>
#include <weft/time.h>

#include "base/list.h"
#include "core/core.h"
#include "core/debug.h"
#include "core/future.h"
#include "core/stub.h"
#include "core/task.h"
#include "sched/spinlock.h"

struct member {
	struct weft__list link;     /* in the live members; under tg->lock */
	struct member *next_err;    /* the error list, once it failed */
	weft_taskgroup *tg;
	weft_future *task;          /* a reference */
	int code;                   /* its failure, once on the error list */
};

struct weft_taskgroup {
	weft__spinlock lock;
	weft_future *parent;        /* a reference; the task that entered */
	weft_runtime *rt;           /* the parent's runtime */
	/* Under lock: */
	struct weft__list members;  /* live members (asyncio's _tasks) */
	size_t nmembers;            /* live members + create_task calls in flight */
	bool exiting, aborting, exited, parent_cancel_requested;
	weft_future *on_completed;  /* a reference while exit waits on it */
	struct member *err_head, **err_tail; /* members' failures, in order */
	size_t nerrors;             /* including the body's */
	struct member body_err;     /* the body's failure (task NULL) */
	bool body_failed;
};

/* _abort: cancel every member not done. Caller holds tg->lock. */
static void abort_locked(weft_taskgroup *tg)
{
	tg->aborting = true;
	struct weft__list *l;
	weft__list_each(l, &tg->members) {
		struct member *m = weft__container_of(l, struct member, link);
		if (!weft__future_is_done(m->task))
			weft_cancel(m->task, NULL);
	}
}

/* One member (or reservation) fewer; returns the on_completed future to
 * release (a reference) when none is left. Caller holds tg->lock. */
static weft_future *member_gone_locked(weft_taskgroup *tg)
{
	if (--tg->nmembers == 0 && tg->on_completed)
		return weft_future_ref(tg->on_completed);
	return NULL;
}

static void release(weft_future *f)
{
	if (f) {
		weft__future_complete(f, 0, NULL, NULL); /* -EALREADY: cancelled */
		weft_future_unref(f);
	}
}

/* _on_task_done */
static void member_done(weft_future *task, void *arg)
{
	struct member *m = arg;
	weft_taskgroup *tg = m->tg;
	int rc = weft_future_exception(task);
	bool failed = rc < 0 && rc != -ECANCELED;
	weft__spin_lock(&tg->lock);
	weft__list_remove(&m->link);
	weft_future *wake = member_gone_locked(tg);
	if (failed) {
		m->code = rc;
		m->next_err = NULL;
		*tg->err_tail = m;
		tg->err_tail = &m->next_err;
		tg->nerrors++;
		if (!tg->aborting && !tg->parent_cancel_requested &&
		    !weft__future_is_done(tg->parent)) {
			/* Abort the group and the body; the cancel is the
			 * group's own, withdrawn at exit. */
			abort_locked(tg);
			tg->parent_cancel_requested = true;
			weft_cancel(tg->parent, NULL);
		}
	}
	weft__spin_unlock(&tg->lock);
	/* Nothing of tg is touched past the unlock: exit may free it now. */
	release(wake);
	if (!failed) {
		weft_future_unref(m->task);
		free(m);
	}
}

WEFT_API int weft_taskgroup_enter(weft_taskgroup **out)
{
	if (!out)
		return weft__misuse(-EINVAL, "NULL out");
	*out = NULL;
	struct weft__task *t = weft__task_current();
	if (!t)
		return weft__misuse(-EPERM, "called outside a task");
	weft_taskgroup *tg = calloc(1, sizeof(*tg));
	if (!tg)
		return -ENOMEM;
	atomic_init(&tg->lock.held, false);
	tg->parent = weft_future_ref(&t->fut);
	tg->rt = weft__core_runtime(t->fut.rt->core);
	tg->err_tail = &tg->err_head;
	weft__list_init(&tg->members);
	*out = tg;
	return 0;
}

static weft_future *failed(weft_taskgroup *tg, int rc)
{
	return weft__future_failed(tg ? tg->parent->rt : NULL, rc);
}

WEFT_API weft_future *weft_taskgroup_create_task(weft_taskgroup *tg, weft_task_fn fn, void *arg,
						 const char *name)
{
	if (!tg || !fn)
		return failed(tg, weft__misuse(-EINVAL, tg ? "NULL function" : "NULL task group"));
	struct member *m = malloc(sizeof(*m));
	if (!m)
		return failed(tg, -ENOMEM);
	weft__spin_lock(&tg->lock);
	if ((tg->exiting && tg->nmembers == 0) || tg->aborting) {
		bool finished = tg->exiting && tg->nmembers == 0;
		weft__spin_unlock(&tg->lock);
		free(m);
		return failed(tg, weft__misuse(-EPERM, finished ? "the task group is finished"
								: "the task group is shutting down"));
	}
	/* Reserve a place so exit cannot finish meanwhile; spawn outside
	 * the lock (it may wake a worker). */
	tg->nmembers++;
	weft__spin_unlock(&tg->lock);

	weft_future *task = weft_spawn(tg->rt, fn, arg, name);
	weft__spin_lock(&tg->lock);
	/* Not "done": on another worker the new task may already have run. */
	if (!weft_is_task(task)) { /* a failed future: -ESHUTDOWN, -ENOMEM */
		weft_future *wake = member_gone_locked(tg);
		weft__spin_unlock(&tg->lock);
		release(wake);
		free(m);
		return task;
	}
	m->tg = tg;
	m->task = weft_future_ref(task);
	weft__list_push_front(&tg->members, &m->link);
	/* Aborted while we spawned: it is cancelled as abort would have. */
	if (tg->aborting)
		weft_cancel(task, NULL);
	weft__spin_unlock(&tg->lock);
	/* After linking: the callback may run at once on another worker. */
	if (weft_future_add_done_callback(task, member_done, m)) {
		weft__spin_lock(&tg->lock);
		weft__list_remove(&m->link);
		weft_future *wake = member_gone_locked(tg);
		weft_cancel(task, NULL); /* not started yet: it never runs */
		weft__spin_unlock(&tg->lock);
		release(wake);
		weft_future_unref(m->task);
		free(m);
		weft_future_unref(task);
		return failed(tg, -ENOMEM);
	}
	return task;
}

WEFT_API int weft_taskgroup_exit(weft_taskgroup *tg, int body_rc)
{
	if (!tg)
		return weft__misuse(-EINVAL, "NULL task group");
	struct weft__task *t = weft__task_current();
	if (!t || &t->fut != tg->parent)
		return weft__misuse(-EPERM, "only the task that entered the group may exit it");
	weft__spin_lock(&tg->lock);
	if (tg->exiting) {
		weft__spin_unlock(&tg->lock);
		return weft__misuse(-EPERM, "the task group was already exited");
	}
	tg->exiting = true;
	bool propagate_cancel = body_rc == -ECANCELED;
	/* The parent is being cancelled, or the body failed. */
	if (body_rc < 0 && !tg->aborting)
		abort_locked(tg);
	weft__spin_unlock(&tg->lock);

	/* A loop: on_completed may be cancelled several times if the parent
	 * is cancelled repeatedly. */
	weft_future *w = NULL;
	for (;;) {
		weft__spin_lock(&tg->lock);
		if (tg->nmembers == 0) {
			weft__spin_unlock(&tg->lock);
			break;
		}
		if (!w) {
			weft__spin_unlock(&tg->lock);
			w = weft__future_waiter();
			if (!w) {
				/* No memory for a waiter: poll instead. */
				if (weft_sleep(0.001) == -ECANCELED) {
					weft__spin_lock(&tg->lock);
					if (!tg->aborting) {
						propagate_cancel = true;
						abort_locked(tg);
					}
					weft__spin_unlock(&tg->lock);
				}
			}
			continue;
		}
		tg->on_completed = weft_future_ref(w);
		weft__spin_unlock(&tg->lock);
		int rc = weft_await(w, NULL);
		weft__spin_lock(&tg->lock);
		weft_future *mine = tg->on_completed;
		tg->on_completed = NULL;
		if (rc == -ECANCELED && !tg->aborting) {
			/* The parent was cancelled while members still run. */
			propagate_cancel = true;
			abort_locked(tg);
		}
		weft__spin_unlock(&tg->lock);
		weft_future_unref(mine);
		weft_future_unref(w);
		w = NULL;
	}
	weft_future_unref(w); /* made, then not needed: the members finished */

	weft__spin_lock(&tg->lock);
	bool ours = tg->parent_cancel_requested;
	size_t member_errors = tg->nerrors;
	weft__spin_unlock(&tg->lock);
	/* The group's own cancel of the parent is withdrawn; if none is left,
	 * the cancel exit saw was ours, not one from outside. */
	if (ours && weft_task_uncancel(tg->parent) == 0)
		propagate_cancel = false;

	int result = 0;
	if (propagate_cancel && member_errors == 0) {
		result = -ECANCELED;
	} else {
		if (body_rc < 0 && body_rc != -ECANCELED) {
			weft__spin_lock(&tg->lock);
			tg->body_failed = true;
			tg->body_err.code = body_rc;
			tg->body_err.task = NULL;
			tg->nerrors++;
			weft__spin_unlock(&tg->lock);
		}
		if (tg->nerrors) {
			/* A cancel from outside consumed here loses to the
			 * failures: re-arm it so the parent still sees it. */
			if (weft_task_cancelling(tg->parent) > 0) {
				weft_task_uncancel(tg->parent);
				weft_cancel(tg->parent, NULL);
			}
			result = WEFT_EGROUP;
		}
	}
	weft__spin_lock(&tg->lock);
	tg->exited = true;
	weft__spin_unlock(&tg->lock);
	return result;
}

WEFT_API size_t weft_taskgroup_errors(const weft_taskgroup *ctg, int *codes, weft_future **tasks,
				      size_t cap)
{
	weft_taskgroup *tg = (weft_taskgroup *)ctg;
	if (!tg)
		return 0;
	weft__spin_lock(&tg->lock);
	size_t i = 0;
	for (struct member *m = tg->err_head; m; m = m->next_err, i++) {
		if (i < cap && codes)
			codes[i] = m->code;
		if (i < cap && tasks)
			tasks[i] = m->task;
	}
	if (tg->body_failed) {
		if (i < cap && codes)
			codes[i] = tg->body_err.code;
		if (i < cap && tasks)
			tasks[i] = NULL;
		i++;
	}
	weft__spin_unlock(&tg->lock);
	return i;
}

WEFT_API int weft_taskgroup_free(weft_taskgroup *tg)
{
	if (!tg)
		return 0;
	weft__spin_lock(&tg->lock);
	bool exited = tg->exited;
	weft__spin_unlock(&tg->lock);
	if (!exited)
		return weft__misuse(-EBUSY, "the task group has not exited");
	struct member *m = tg->err_head;
	while (m) {
		struct member *next = m->next_err;
		weft_future_unref(m->task);
		free(m);
		m = next;
	}
	weft_future_unref(tg->parent);
	free(tg);
	return 0;
}
