/* SPDX-License-Identifier: MIT */
/*
 * asyncio.Barrier (3.11), as a state machine under a spinlock instead of
 * a Condition: FILLING (parties arrive and wait), DRAINING (released
 * parties leave; newcomers wait), RESETTING (reset parties leave;
 * newcomers wait), BROKEN (everyone gets -ENOTRECOVERABLE).
 *
 * asyncio's _count is `filling.n + inside` here: the parties waiting to be
 * released, plus those released (or broken out) that have not left yet.
 * A waiting party that is cancelled leaves the filling list under the
 * lock (sync/waitq.h), so the count never includes it and its index is
 * never handed out twice: indices are given at release, in arrival order
 * (asyncio computes them the same way since gh-155233's fix).
 *
 * As in asyncio, a released party's outcome is decided when it runs: if
 * the barrier was reset or aborted meanwhile it gets -ENOTRECOVERABLE;
 * the last party to leave a drain or reset returns it to FILLING and lets
 * the newcomers in.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <weft/sync.h>

#include "core/debug.h"
#include "core/task.h"
#include "sync/waitq.h"

enum { FILLING, DRAINING, RESETTING, BROKEN };

struct weft_barrier {
	weft__spinlock lock;
	size_t parties;
	/* Under lock: */
	int state;
	size_t inside;              /* released or broken out, not yet left */
	struct weft__wlist filling; /* parties waiting to be released */
	struct weft__wlist blocked; /* newcomers waiting for FILLING */
};

WEFT_API int weft_barrier_create(weft_barrier **out, size_t parties)
{
	if (!out)
		return weft__misuse(-EINVAL, "NULL out");
	*out = NULL;
	if (parties == 0)
		return weft__misuse(-EINVAL, "parties must be > 0");
	weft_barrier *b = malloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	atomic_init(&b->lock.held, false);
	b->parties = parties;
	b->state = FILLING;
	b->inside = 0;
	weft__wlist_init(&b->filling);
	weft__wlist_init(&b->blocked);
	*out = b;
	return 0;
}

WEFT_API int weft_barrier_destroy(weft_barrier *b)
{
	if (!b)
		return weft__misuse(-EINVAL, "NULL barrier");
	weft__spin_lock(&b->lock);
	bool busy = b->inside || !weft__wlist_empty(&b->filling) ||
		    !weft__wlist_empty(&b->blocked);
	weft__spin_unlock(&b->lock);
	if (busy)
		return weft__misuse(-EBUSY, "tasks are inside the barrier");
	free(b);
	return 0;
}

/* Caller holds the lock: a party left; the last one out of a drain or a
 * reset refills the barrier and lets the newcomers in (asyncio's _exit). */
static struct weft__wnode *leave(weft_barrier *b)
{
	struct weft__wnode *chain = NULL;
	b->inside--;
	if (b->inside == 0 && (b->state == DRAINING || b->state == RESETTING)) {
		b->state = FILLING;
		weft__wlist_pop_all(&b->blocked, &chain);
	}
	return chain;
}

WEFT_API int weft_barrier_wait(weft_barrier *b, size_t *index)
{
	if (!b)
		return weft__misuse(-EINVAL, "NULL barrier");
	struct weft__task *t = weft__task_current();
	if (!t)
		return weft__misuse(-EPERM, "called outside a task");
	struct weft__wnode *n = NULL;
	int rc;
	weft__spin_lock(&b->lock);
	for (;;) {
		if (b->state == BROKEN) {
			weft__spin_unlock(&b->lock);
			weft__wnode_free(n);
			return -ENOTRECOVERABLE;
		}
		bool last = b->state == FILLING && b->filling.n + 1 == b->parties;
		if (!last && !n) {
			/* Allocated outside the lock, then everything is checked again. */
			weft__spin_unlock(&b->lock);
			if (!(n = weft__wnode_new()))
				return -ENOMEM;
			weft__spin_lock(&b->lock);
			continue;
		}
		if (b->state != FILLING) {
			/* Block while the barrier drains or resets. */
			weft__wlist_push(&b->blocked, &b->lock, n);
			weft__spin_unlock(&b->lock);
			rc = weft__wnode_wait(n, NULL);
			n = NULL;
			if (rc == -ECANCELED)
				return rc;
			if (weft__task_take_cancel(t))
				return -ECANCELED;
			if (rc)
				return rc;
			weft__spin_lock(&b->lock);
			continue;
		}
		if (last)
			break;
		weft__wlist_push(&b->filling, &b->lock, n);
		weft__spin_unlock(&b->lock);

		/* Wait to be released (or broken out). */
		void *v = NULL;
		rc = weft__wnode_wait(n, &v);
		if (rc == -ECANCELED)
			return rc; /* left the filling list, not counted */
		bool cancelled = weft__task_take_cancel(t);
		weft__spin_lock(&b->lock);
		if (rc == 0 && (b->state == RESETTING || b->state == BROKEN))
			rc = -ENOTRECOVERABLE;
		struct weft__wnode *chain = leave(b);
		weft__spin_unlock(&b->lock);
		weft__wnode_grant_chain(chain, 0, NULL);
		if (cancelled)
			return -ECANCELED;
		if (rc == 0 && index)
			*index = (size_t)(uintptr_t)v;
		return rc;
	}

	/* The last party: release the others, in arrival order. */
	b->state = DRAINING;
	struct weft__wnode *released = NULL, **tail = &released;
	size_t i = 0;
	struct weft__wnode *w;
	while ((w = weft__wlist_pop(&b->filling))) {
		w->item = (void *)(uintptr_t)i++;
		*tail = w;
		tail = &w->next;
	}
	*tail = NULL;
	b->inside += i + 1;
	struct weft__wnode *chain = leave(b); /* this party leaves at once */
	weft__spin_unlock(&b->lock);
	weft__wnode_free(n);
	while (released) {
		struct weft__wnode *next = released->next;
		weft__wnode_grant(released, 0, released->item);
		released = next;
	}
	weft__wnode_grant_chain(chain, 0, NULL);
	if (index)
		*index = i;
	return 0;
}

WEFT_API int weft_barrier_reset(weft_barrier *b)
{
	if (!b)
		return weft__misuse(-EINVAL, "NULL barrier");
	struct weft__wnode *broken = NULL, *let_in = NULL;
	weft__spin_lock(&b->lock);
	if (b->inside || !weft__wlist_empty(&b->filling)) {
		/* The waiting parties break out; newcomers wait until every
		 * party inside has left. */
		b->state = RESETTING;
		b->inside += b->filling.n;
		weft__wlist_pop_all(&b->filling, &broken);
	} else {
		b->state = FILLING;
		weft__wlist_pop_all(&b->blocked, &let_in);
	}
	weft__spin_unlock(&b->lock);
	weft__wnode_grant_chain(broken, -ENOTRECOVERABLE, NULL);
	weft__wnode_grant_chain(let_in, 0, NULL);
	return 0;
}

WEFT_API int weft_barrier_abort(weft_barrier *b)
{
	if (!b)
		return weft__misuse(-EINVAL, "NULL barrier");
	struct weft__wnode *broken = NULL;
	weft__spin_lock(&b->lock);
	b->state = BROKEN;
	b->inside += b->filling.n;
	struct weft__wnode **tail = weft__wlist_pop_all(&b->filling, &broken);
	weft__wlist_pop_all(&b->blocked, tail); /* they find it broken */
	weft__spin_unlock(&b->lock);
	/* Blocked newcomers were never inside: their wait sees the code and
	 * returns it without leaving. */
	weft__wnode_grant_chain(broken, -ENOTRECOVERABLE, NULL);
	return 0;
}

WEFT_API size_t weft_barrier_parties(weft_barrier *b)
{
	return b ? b->parties : 0;
}

WEFT_API size_t weft_barrier_n_waiting(weft_barrier *b)
{
	if (!b)
		return 0;
	weft__spin_lock(&b->lock);
	size_t n = b->filling.n;
	weft__spin_unlock(&b->lock);
	return n;
}

WEFT_API bool weft_barrier_broken(weft_barrier *b)
{
	if (!b)
		return false;
	weft__spin_lock(&b->lock);
	bool broken = b->state == BROKEN;
	weft__spin_unlock(&b->lock);
	return broken;
}
