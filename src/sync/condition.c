/* SPDX-License-Identifier: MIT */
/*
 * asyncio.Condition over a weft_lock.
 *
 * wait() queues its node before it releases the lock, so a notify (which
 * needs the lock) cannot slip between the release and the queueing. It
 * then re-acquires the lock whatever happened, through further cancels,
 * as asyncio does. A waiter that was notified but returns -ECANCELED
 * (cancelled before it ran, or while re-acquiring) passes one
 * notification on, so a notify racing a cancel is never lost (asyncio's
 * bpo-32841 / gh-112202 fixes). `users` counts the tasks inside wait, for
 * destroy's -EBUSY: they touch the lock until they return.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <weft/sync.h>
#include <weft/time.h>

#include "core/debug.h"
#include "core/task.h"
#include "sync/waitq.h"

struct weft_condition {
	weft_lock *lock;
	bool own_lock;              /* created with it: destroyed with it */
	weft__spinlock sl;          /* guards what follows */
	struct weft__wlist waiters; /* under sl */
	size_t users;               /* under sl: tasks inside wait */
};

WEFT_API int weft_condition_create(weft_condition **out, weft_lock *lock)
{
	if (!out)
		return weft__misuse(-EINVAL, "NULL out");
	*out = NULL;
	weft_condition *c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->own_lock = !lock;
	if (!lock) {
		int rc = weft_lock_create(&lock);
		if (rc) {
			free(c);
			return rc;
		}
	}
	c->lock = lock;
	atomic_init(&c->sl.held, false);
	weft__wlist_init(&c->waiters);
	c->users = 0;
	*out = c;
	return 0;
}

WEFT_API int weft_condition_destroy(weft_condition *c)
{
	if (!c)
		return weft__misuse(-EINVAL, "NULL condition");
	weft__spin_lock(&c->sl);
	bool busy = c->users || !weft__wlist_empty(&c->waiters);
	weft__spin_unlock(&c->sl);
	if (busy)
		return weft__misuse(-EBUSY, "tasks wait on the condition");
	if (c->own_lock) {
		int rc = weft_lock_destroy(c->lock);
		if (rc)
			return rc;
	}
	free(c);
	return 0;
}

WEFT_API weft_lock *weft_condition_lock(weft_condition *c)
{
	return c ? c->lock : NULL;
}

WEFT_API int weft_condition_acquire(weft_condition *c)
{
	if (!c)
		return weft__misuse(-EINVAL, "NULL condition");
	return weft_lock_acquire(c->lock);
}

WEFT_API int weft_condition_release(weft_condition *c)
{
	if (!c)
		return weft__misuse(-EINVAL, "NULL condition");
	return weft_lock_release(c->lock);
}

WEFT_API bool weft_condition_locked(weft_condition *c)
{
	return c && weft_lock_locked(c->lock);
}

/* Wakes up to n waiters (the lock's state is the caller's business). */
static void notify(weft_condition *c, size_t n)
{
	struct weft__wnode *chain = NULL, **tail = &chain;
	weft__spin_lock(&c->sl);
	for (; n; n--) {
		struct weft__wnode *w = weft__wlist_pop(&c->waiters);
		if (!w)
			break;
		*tail = w;
		tail = &w->next;
	}
	*tail = NULL;
	weft__spin_unlock(&c->sl);
	weft__wnode_grant_chain(chain, 0, NULL);
}

WEFT_API int weft_condition_wait(weft_condition *c)
{
	if (!c)
		return weft__misuse(-EINVAL, "NULL condition");
	struct weft__task *t = weft__task_current();
	if (!t)
		return weft__misuse(-EPERM, "called outside a task");
	if (!weft_lock_locked(c->lock))
		return weft__misuse(-EPERM, "cannot wait on an un-acquired lock");
	struct weft__wnode *n = weft__wnode_new();
	if (!n)
		return -ENOMEM;
	weft__spin_lock(&c->sl);
	weft__wlist_push(&c->waiters, &c->sl, n);
	c->users++;
	weft__spin_unlock(&c->sl);
	weft_lock_release(c->lock);

	int rc = weft__wnode_wait(n, NULL);
	bool notified = rc == 0;
	if (notified && weft__task_take_cancel(t))
		rc = -ECANCELED; /* notified, then cancelled before it ran */

	/* Must re-acquire the lock even if cancelled (asyncio's finally). */
	for (;;) {
		int r = weft_lock_acquire(c->lock);
		if (r == 0)
			break;
		if (r == -ECANCELED)
			rc = -ECANCELED;
		else if (weft_sleep(0) == -ECANCELED) /* -ENOMEM: retry later */
			rc = -ECANCELED;
	}
	if (rc == -ECANCELED && notified)
		notify(c, 1); /* the notification this task consumed */

	weft__spin_lock(&c->sl);
	c->users--;
	weft__spin_unlock(&c->sl);
	return rc;
}

WEFT_API int weft_condition_wait_for(weft_condition *c, weft_predicate pred, void *arg)
{
	if (!c || !pred)
		return weft__misuse(-EINVAL, "NULL argument");
	while (!pred(arg)) {
		int rc = weft_condition_wait(c);
		if (rc)
			return rc;
	}
	return 0;
}

WEFT_API int weft_condition_notify(weft_condition *c, size_t n)
{
	if (!c)
		return weft__misuse(-EINVAL, "NULL condition");
	if (!weft_lock_locked(c->lock))
		return weft__misuse(-EPERM, "cannot notify on an un-acquired lock");
	notify(c, n);
	return 0;
}

WEFT_API int weft_condition_notify_all(weft_condition *c)
{
	return weft_condition_notify(c, SIZE_MAX);
}
