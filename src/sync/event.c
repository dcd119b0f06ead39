/* SPDX-License-Identifier: MIT */
/*
 * asyncio.Event. set() takes every waiter off the list under the lock and
 * wakes them outside it; a waiter woken and then cancelled before it ran
 * returns -ECANCELED (asyncio raises CancelledError there too), there is
 * nothing to give back.
 */
#include <errno.h>
#include <stdlib.h>

#include <weft/sync.h>

#include "core/debug.h"
#include "core/task.h"
#include "sync/waitq.h"

struct weft_event {
	weft__spinlock lock;
	atomic_bool value;          /* written under lock */
	struct weft__wlist waiters; /* under lock */
};

WEFT_API int weft_event_create(weft_event **out)
{
	if (!out)
		return weft__misuse(-EINVAL, "NULL out");
	*out = NULL;
	weft_event *ev = malloc(sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	atomic_init(&ev->lock.held, false);
	atomic_init(&ev->value, false);
	weft__wlist_init(&ev->waiters);
	*out = ev;
	return 0;
}

WEFT_API int weft_event_destroy(weft_event *ev)
{
	if (!ev)
		return weft__misuse(-EINVAL, "NULL event");
	weft__spin_lock(&ev->lock);
	bool busy = !weft__wlist_empty(&ev->waiters);
	weft__spin_unlock(&ev->lock);
	if (busy)
		return weft__misuse(-EBUSY, "tasks wait on the event");
	free(ev);
	return 0;
}

WEFT_API int weft_event_set(weft_event *ev)
{
	if (!ev)
		return weft__misuse(-EINVAL, "NULL event");
	struct weft__wnode *chain = NULL;
	weft__spin_lock(&ev->lock);
	if (!atomic_load_explicit(&ev->value, memory_order_relaxed)) {
		atomic_store_explicit(&ev->value, true, memory_order_release);
		weft__wlist_pop_all(&ev->waiters, &chain);
	}
	weft__spin_unlock(&ev->lock);
	weft__wnode_grant_chain(chain, 0, NULL);
	return 0;
}

WEFT_API int weft_event_clear(weft_event *ev)
{
	if (!ev)
		return weft__misuse(-EINVAL, "NULL event");
	weft__spin_lock(&ev->lock);
	atomic_store_explicit(&ev->value, false, memory_order_release);
	weft__spin_unlock(&ev->lock);
	return 0;
}

WEFT_API bool weft_event_is_set(weft_event *ev)
{
	/* acquire: pairs with set's release store, so a reader that sees the
	 * flag sees what the setter wrote before setting it */
	return ev && atomic_load_explicit(&ev->value, memory_order_acquire);
}

WEFT_API int weft_event_wait(weft_event *ev)
{
	if (!ev)
		return weft__misuse(-EINVAL, "NULL event");
	struct weft__task *t = weft__task_current();
	if (!t)
		return weft__misuse(-EPERM, "called outside a task");
	if (atomic_load_explicit(&ev->value, memory_order_acquire))
		return 0;
	struct weft__wnode *n = weft__wnode_new();
	if (!n)
		return -ENOMEM;
	weft__spin_lock(&ev->lock);
	if (atomic_load_explicit(&ev->value, memory_order_relaxed)) {
		weft__spin_unlock(&ev->lock);
		weft__wnode_free(n);
		return 0;
	}
	weft__wlist_push(&ev->waiters, &ev->lock, n);
	weft__spin_unlock(&ev->lock);
	int rc = weft__wnode_wait(n, NULL);
	if (rc == 0 && weft__task_take_cancel(t))
		return -ECANCELED; /* set, then cancelled before it ran */
	return rc;
}
