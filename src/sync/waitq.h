/* SPDX-License-Identifier: MIT */
/*
 * Wait queues for the synchronisation primitives and the queue.
 *
 * A task that must wait allocates a node: a plain future (asyncio's
 * "waiter" future) plus a link in one of the primitive's FIFO lists. It
 * pushes the node under the primitive's spinlock, drops the lock and
 * awaits the node with weft_await, so cancellation and wake-up come from
 * the future machinery.
 *
 * One rule makes grants and cancels exclusive: a node leaves its list only
 * under the primitive's lock, either because a waker granted it (took it
 * off the list; it completes the future afterwards, outside the lock) or
 * because a canceller removed it (the node's cancel op). So a list holds
 * live waiters only, a grant can never land on a cancelled waiter, and a
 * cancel reaching a waiter already granted is refused: weft_cancel returns
 * false and the request stays pending in the task (core/task.c), where the
 * primitive finds it when the task resumes and decides (it passes a lock
 * on, keeps a queue item...).
 *
 * Lifetime: the node is the awaiting task's (one reference); a waker takes
 * a second one while it completes the node. A canceller reaches the node
 * through the task (task_cancel holds a reference) and must lock the
 * primitive, which may be destroyed as soon as the task has left the call;
 * the node's gate closes that window: the canceller enters the gate before
 * it touches the primitive, and the task, back from its wait, closes the
 * gate and waits for any canceller still inside before it returns.
 */
#ifndef WEFT_SYNC_WAITQ_H
#define WEFT_SYNC_WAITQ_H

#include <stdatomic.h>
#include <stddef.h>

#include <weft/future.h>

#include "base/list.h"
#include "core/future.h"
#include "sched/spinlock.h"

struct weft__wlist;

struct weft__wnode {
	weft_future fut;                 /* first: weft_future_unref frees the block */
	/* Under *lock while linked: */
	struct weft__list link;          /* in its wait list */
	struct weft__wlist *list;        /* the list it waits in; NULL once it
	                                  * left it (granted or cancelled) */
	struct weft__wnode *next;        /* chains popped nodes for a grant */
	weft__spinlock *lock;            /* the primitive's lock; set at push */
	_Atomic unsigned gate;           /* cancellers inside, | WEFT__GATE_CLOSED */
	void *item;                      /* a blocked putter's item; set before push */
};

struct weft__wlist {
	struct weft__list nodes;         /* under the primitive's lock */
	size_t n;                        /* nodes linked */
};

/* An empty list (every primitive's init). */
static inline void weft__wlist_init(struct weft__wlist *l)
{
	weft__list_init(&l->nodes);
	l->n = 0;
}

/*
 * A new node for the calling task, in its runtime; NULL when out of
 * memory. The caller must be a task (a worker thread).
 */
struct weft__wnode *weft__wnode_new(void);
/* The same from the worker's block cache only (NULL when it is empty):
 * never calls malloc, so a primitive may call it under its spinlock and
 * skip a drop-allocate-retake round. */
struct weft__wnode *weft__wnode_new_cached(void);

/* Drops a node that was never pushed. */
void weft__wnode_free(struct weft__wnode *n);

/* Caller holds *lock: appends n to l. */
void weft__wlist_push(struct weft__wlist *l, weft__spinlock *lock, struct weft__wnode *n);

/*
 * Caller holds the lock: takes the first waiter off l and returns it with
 * a reference for weft__wnode_grant, or NULL if none waits.
 */
struct weft__wnode *weft__wlist_pop(struct weft__wlist *l);

/*
 * Caller holds the lock: takes every waiter off l, appends them (in
 * order) to the chain *tail points at, and returns the new tail link.
 * Each carries a reference for weft__wnode_grant_chain.
 */
struct weft__wnode **weft__wlist_pop_all(struct weft__wlist *l, struct weft__wnode **tail);

/* Not under the lock: completes a popped node (wakes its task) with rc
 * and value, and drops the popper's reference. */
void weft__wnode_grant(struct weft__wnode *n, int rc, void *value);

/* Grants each node of a chain from weft__wlist_pop_all (NULL: none). */
void weft__wnode_grant_chain(struct weft__wnode *chain, int rc, void *value);

/*
 * The calling task, after pushing n and releasing the lock: suspends until
 * n is granted or cancelled, then drops the task's reference to n.
 * Returns the grant's rc (and *value, may be NULL), or -ECANCELED when a
 * cancel removed n before any grant (n then left its list untouched by any
 * waker). When it returns, no canceller is inside the primitive.
 */
int weft__wnode_wait(struct weft__wnode *n, void **value);

static inline bool weft__wlist_empty(const struct weft__wlist *l)
{
	return weft__list_empty(&l->nodes);
}

#endif
