/* SPDX-License-Identifier: MIT */
/*
 * asyncio.Lock, Semaphore and BoundedSemaphore, on one counter of permits
 * (sync/permits.h).
 *
 * A waiter served at release time owns its permit before it runs. If a
 * cancel reaches it in between, the cancel is refused (the node is no
 * longer in the list) and stays pending in the task; the acquire finds it
 * when the task resumes, gives the permit back (to the next waiter) and
 * returns -ECANCELED: asyncio's "a cancelled waiter passes the lock on".
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include <weft/sync.h>

#include "core/debug.h"
#include "core/task.h"
#include "sync/permits.h"

void weft__permits_init(struct weft__permits *p, long value, long bound, int over_rc)
{
	atomic_init(&p->lock.held, false);
	atomic_init(&p->value, value);
	p->bound = bound;
	p->over_rc = over_rc;
	weft__wlist_init(&p->waiters);
}

/* Caller holds p->lock: takes a free permit if there is one. */
static bool take_free(struct weft__permits *p)
{
	long v = atomic_load_explicit(&p->value, memory_order_relaxed);
	if (v <= 0)
		return false;
	atomic_store_explicit(&p->value, v - 1, memory_order_relaxed);
	return true;
}

int weft__permits_acquire(struct weft__permits *p)
{
	struct weft__task *t = weft__task_current();
	if (!t)
		return weft__misuse(-EPERM, "called outside a task");
	weft__spin_lock(&p->lock);
	bool got = take_free(p);
	weft__spin_unlock(&p->lock);
	if (got)
		return 0;

	/* Allocated outside the lock, then the count is checked again. */
	struct weft__wnode *n = weft__wnode_new();
	if (!n)
		return -ENOMEM;
	weft__spin_lock(&p->lock);
	if (take_free(p)) {
		weft__spin_unlock(&p->lock);
		weft__wnode_free(n);
		return 0;
	}
	weft__wlist_push(&p->waiters, &p->lock, n);
	weft__spin_unlock(&p->lock);

	int rc = weft__wnode_wait(n, NULL);
	if (rc == 0 && weft__task_take_cancel(t)) {
		/* Served, then cancelled before it ran: pass the permit on. */
		weft__permits_release(p);
		return -ECANCELED;
	}
	return rc;
}

int weft__permits_release(struct weft__permits *p)
{
	weft__spin_lock(&p->lock);
	long v = atomic_load_explicit(&p->value, memory_order_relaxed);
	if (v >= p->bound) {
		weft__spin_unlock(&p->lock);
		return p->over_rc;
	}
	struct weft__wnode *n = weft__wlist_pop(&p->waiters);
	if (!n)
		atomic_store_explicit(&p->value, v + 1, memory_order_relaxed);
	weft__spin_unlock(&p->lock);
	if (n)
		weft__wnode_grant(n, 0, NULL);
	return 0;
}

long weft__permits_value(struct weft__permits *p)
{
	/* relaxed: a snapshot; callers synchronise through other means */
	return atomic_load_explicit(&p->value, memory_order_relaxed);
}

bool weft__permits_idle(struct weft__permits *p)
{
	weft__spin_lock(&p->lock);
	bool idle = weft__wlist_empty(&p->waiters);
	weft__spin_unlock(&p->lock);
	return idle;
}

/* --- Lock ---------------------------------------------------------------- */

struct weft_lock {
	struct weft__permits p; /* one permit */
};

WEFT_API int weft_lock_create(weft_lock **out)
{
	if (!out)
		return weft__misuse(-EINVAL, "NULL out");
	*out = NULL;
	weft_lock *l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	weft__permits_init(&l->p, 1, 1, -EPERM);
	*out = l;
	return 0;
}

WEFT_API int weft_lock_destroy(weft_lock *l)
{
	if (!l)
		return weft__misuse(-EINVAL, "NULL lock");
	weft__spin_lock(&l->p.lock);
	bool busy = !weft__wlist_empty(&l->p.waiters) ||
		    atomic_load_explicit(&l->p.value, memory_order_relaxed) == 0;
	weft__spin_unlock(&l->p.lock);
	if (busy)
		return weft__misuse(-EBUSY, "the lock is locked or waited for");
	free(l);
	return 0;
}

WEFT_API int weft_lock_acquire(weft_lock *l)
{
	if (!l)
		return weft__misuse(-EINVAL, "NULL lock");
	return weft__permits_acquire(&l->p);
}

WEFT_API int weft_lock_release(weft_lock *l)
{
	if (!l)
		return weft__misuse(-EINVAL, "NULL lock");
	int rc = weft__permits_release(&l->p);
	return rc ? weft__misuse(rc, "the lock is not acquired") : 0;
}

WEFT_API bool weft_lock_locked(weft_lock *l)
{
	return l && weft__permits_value(&l->p) == 0;
}

/* --- Semaphore ----------------------------------------------------------- */

struct weft_semaphore {
	struct weft__permits p;
};

static int sem_create(weft_semaphore **out, long value, long bound)
{
	if (!out)
		return weft__misuse(-EINVAL, "NULL out");
	*out = NULL;
	if (value < 0)
		return weft__misuse(-EINVAL, "negative initial value");
	weft_semaphore *s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	weft__permits_init(&s->p, value, bound, -EOVERFLOW);
	*out = s;
	return 0;
}

WEFT_API int weft_semaphore_create(weft_semaphore **out, long value)
{
	return sem_create(out, value, LONG_MAX);
}

WEFT_API int weft_semaphore_create_bounded(weft_semaphore **out, long value)
{
	return sem_create(out, value, value);
}

WEFT_API int weft_semaphore_destroy(weft_semaphore *s)
{
	if (!s)
		return weft__misuse(-EINVAL, "NULL semaphore");
	if (!weft__permits_idle(&s->p))
		return weft__misuse(-EBUSY, "tasks wait on the semaphore");
	free(s);
	return 0;
}

WEFT_API int weft_semaphore_acquire(weft_semaphore *s)
{
	if (!s)
		return weft__misuse(-EINVAL, "NULL semaphore");
	return weft__permits_acquire(&s->p);
}

WEFT_API int weft_semaphore_release(weft_semaphore *s)
{
	if (!s)
		return weft__misuse(-EINVAL, "NULL semaphore");
	int rc = weft__permits_release(&s->p);
	return rc ? weft__misuse(rc, "BoundedSemaphore released too many times") : 0;
}

WEFT_API bool weft_semaphore_locked(weft_semaphore *s)
{
	return s && weft__permits_value(&s->p) <= 0;
}

WEFT_API long weft_semaphore_value(weft_semaphore *s)
{
	return s ? weft__permits_value(&s->p) : 0;
}
