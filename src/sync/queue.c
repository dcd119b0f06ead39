/* SPDX-License-Identifier: MIT */
/*
 * asyncio.Queue / LifoQueue / PriorityQueue with join and 3.13's shutdown.
 *
 * Hand-over instead of asyncio's "wake and retry": under the queue's
 * spinlock an item put while getters wait is given to the first getter
 * (its node's future is completed with the item, outside the lock), and a
 * get that frees a slot of a full queue moves the first blocked putter's
 * item in. So getters wait only while the buffer is empty, putters only
 * while it is full, the buffer never holds an item a waiter was promised,
 * and the non-blocking calls cannot barge past waiters. A cancel that
 * reaches a waiter before the hand-over removes it (sync/waitq.h); after
 * it, the hand-over stands (weft/queue.h says why).
 *
 * Storage: FIFO is a ring, LIFO a stack (the same array, head 0),
 * PRIORITY a binary min-heap of (item, insertion number), so equal
 * priorities come out in insertion order. An unbounded queue grows by
 * doubling; the allocation happens outside the lock.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <weft/queue.h>

#include "core/debug.h"
#include "core/task.h"
#include "sync/waitq.h"

struct qent {
	void *item;
	uint64_t seq;
};

struct weft_queue {
	weft__spinlock lock;
	unsigned char kind;          /* enum weft_queue_kind, fixed */
	size_t maxsize;              /* 0: unbounded; fixed */
	weft_queue_cmp cmp;          /* PRIORITY; fixed */
	void *cmp_arg;
	/* Under lock: */
	bool shutdown;
	size_t n, cap, head;         /* items, slots, FIFO ring start */
	void **ring;                 /* FIFO / LIFO: cap slots */
	struct qent *heap;           /* PRIORITY: cap slots */
	uint64_t seq;                /* PRIORITY: next insertion number */
	size_t unfinished;           /* put and not yet task_done */
	weft_queue_drop_fn drop;
	void *drop_arg;
	struct weft__wlist getters, putters, joiners;
};

enum { INITIAL_CAP = 16 };

WEFT_API int weft_queue_create(weft_queue **out, enum weft_queue_kind kind, size_t maxsize,
			       weft_queue_cmp cmp, void *cmp_arg)
{
	if (!out)
		return weft__misuse(-EINVAL, "NULL out");
	*out = NULL;
	if (kind != WEFT_QUEUE_FIFO && kind != WEFT_QUEUE_LIFO && kind != WEFT_QUEUE_PRIORITY)
		return weft__misuse(-EINVAL, "unknown queue kind");
	if ((kind == WEFT_QUEUE_PRIORITY) != (cmp != NULL))
		return weft__misuse(-EINVAL, "a comparator goes with WEFT_QUEUE_PRIORITY only");
	weft_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	atomic_init(&q->lock.held, false);
	weft__wlist_init(&q->getters);
	weft__wlist_init(&q->putters);
	weft__wlist_init(&q->joiners);
	q->kind = (unsigned char)kind;
	q->maxsize = maxsize;
	q->cmp = cmp;
	q->cmp_arg = cmp_arg;
	size_t cap = maxsize && maxsize < INITIAL_CAP ? maxsize : INITIAL_CAP;
	if (kind == WEFT_QUEUE_PRIORITY)
		q->heap = malloc(cap * sizeof(*q->heap));
	else
		q->ring = malloc(cap * sizeof(*q->ring));
	if (!q->heap && !q->ring) {
		free(q);
		return -ENOMEM;
	}
	q->cap = cap;
	*out = q;
	return 0;
}

/* --- Storage (caller holds the lock) ------------------------------------- */

static bool full(const weft_queue *q)
{
	return q->maxsize && q->n >= q->maxsize;
}

static bool before(const weft_queue *q, const struct qent *a, const struct qent *b)
{
	int c = q->cmp(a->item, b->item, q->cmp_arg);
	return c < 0 || (c == 0 && a->seq < b->seq);
}

/* Adds item; there is room (n < cap). */
static void store(weft_queue *q, void *item)
{
	switch (q->kind) {
	case WEFT_QUEUE_FIFO:
		q->ring[(q->head + q->n) % q->cap] = item;
		break;
	case WEFT_QUEUE_LIFO:
		q->ring[q->n] = item;
		break;
	default: {
		struct qent e = {item, q->seq++};
		size_t i = q->n;
		while (i > 0) {
			size_t parent = (i - 1) / 2;
			if (!before(q, &e, &q->heap[parent]))
				break;
			q->heap[i] = q->heap[parent];
			i = parent;
		}
		q->heap[i] = e;
		break;
	}
	}
	q->n++;
}

/* Removes the next item; n > 0. */
static void *take(weft_queue *q)
{
	void *item;
	q->n--;
	switch (q->kind) {
	case WEFT_QUEUE_FIFO:
		item = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
		break;
	case WEFT_QUEUE_LIFO:
		item = q->ring[q->n];
		break;
	default: {
		item = q->heap[0].item;
		struct qent last = q->heap[q->n];
		size_t i = 0;
		for (;;) {
			size_t c = 2 * i + 1;
			if (c >= q->n)
				break;
			if (c + 1 < q->n && before(q, &q->heap[c + 1], &q->heap[c]))
				c++;
			if (!before(q, &q->heap[c], &last))
				break;
			q->heap[i] = q->heap[c];
			i = c;
		}
		q->heap[i] = last;
		break;
	}
	}
	return item;
}

/*
 * n == cap: doubles the storage (up to maxsize). Drops the lock to
 * allocate and takes it again, so the caller must check everything anew.
 * Returns 0 or -ENOMEM (lock held either way).
 */
static int grow(weft_queue *q)
{
	size_t cap = q->cap * 2;
	if (q->maxsize && cap > q->maxsize)
		cap = q->maxsize;
	size_t esz = q->heap ? sizeof(struct qent) : sizeof(void *);
	weft__spin_unlock(&q->lock);
	void *mem = cap > SIZE_MAX / esz ? NULL : malloc(cap * esz);
	weft__spin_lock(&q->lock);
	if (!mem)
		return -ENOMEM;
	void *old = mem;
	if (q->cap < cap && !q->shutdown) {
		/* Still needed: move the items over (a FIFO ring unwraps). */
		if (q->heap) {
			memcpy(mem, q->heap, q->n * esz);
			old = q->heap;
			q->heap = mem;
		} else {
			void **ring = mem;
			for (size_t i = 0; i < q->n; i++)
				ring[i] = q->ring[q->kind == WEFT_QUEUE_FIFO ? (q->head + i) % q->cap : i];
			old = q->ring;
			q->ring = ring;
			q->head = 0;
		}
		q->cap = cap;
	}
	weft__spin_unlock(&q->lock);
	free(old);
	weft__spin_lock(&q->lock);
	return 0;
}

/*
 * Passes items [0, k) of the storage, FIFO starting at head, to drop.
 * Runs outside the lock: only after the queue was shut down and emptied
 * (nothing writes the storage any more) or when it is being destroyed.
 */
static void drop_items(weft_queue *q, size_t head, size_t k, weft_queue_drop_fn drop, void *arg)
{
	if (!drop)
		return;
	for (size_t i = 0; i < k; i++) {
		if (q->heap)
			drop(q->heap[i].item, arg);
		else if (q->kind == WEFT_QUEUE_FIFO)
			drop(q->ring[(head + i) % q->cap], arg);
		else
			drop(q->ring[k - 1 - i], arg); /* LIFO: the order get would use */
	}
}

/*
 * Caller holds the lock and would block: -EAGAIN unless it may wait; else
 * makes sure *n is a waiter node, from the worker's cache under the lock
 * when it has one (no round trip), else by malloc outside the lock: then
 * it returns 1 (or -ENOMEM) with the lock taken again, and a caller going
 * on must check everything anew. The lock is held on every return.
 */
static int need_node(weft_queue *q, struct weft__wnode **n, bool wait)
{
	if (!wait)
		return -EAGAIN;
	if (*n || (*n = weft__wnode_new_cached()))
		return 0;
	weft__spin_unlock(&q->lock);
	*n = weft__wnode_new();
	weft__spin_lock(&q->lock);
	return *n ? 1 : -ENOMEM;
}

/* --- put ----------------------------------------------------------------- */

/*
 * Caller holds the lock; not shut down, not full. Stores item or hands it
 * to the first getter (*g, to grant after unlocking). 0 or -ENOMEM. May
 * drop and retake the lock to grow (then returns 1: check again).
 */
static int put_locked(weft_queue *q, void *item, struct weft__wnode **g)
{
	*g = weft__wlist_pop(&q->getters);
	if (!*g) {
		if (q->n == q->cap) {
			int rc = grow(q);
			return rc ? rc : 1;
		}
		store(q, item);
	}
	q->unfinished++;
	return 0;
}

static int put(weft_queue *q, void *item, bool wait)
{
	struct weft__wnode *g = NULL, *n = NULL;
	int rc;
	weft__spin_lock(&q->lock);
	for (;;) {
		if (q->shutdown) {
			rc = -ESHUTDOWN;
			break;
		}
		if (!full(q)) {
			rc = put_locked(q, item, &g);
			if (rc == 1)
				continue;
			break;
		}
		if ((rc = need_node(q, &n, wait)) < 0)
			break;
		if (rc)
			continue;
		n->item = item;
		weft__wlist_push(&q->putters, &q->lock, n);
		weft__spin_unlock(&q->lock);
		/* 0: moved in by a get; -ESHUTDOWN; -ECANCELED: never inserted */
		return weft__wnode_wait(n, NULL);
	}
	weft__spin_unlock(&q->lock);
	weft__wnode_free(n);
	if (g)
		weft__wnode_grant(g, 0, item);
	return rc;
}

WEFT_API int weft_queue_put(weft_queue *q, void *item)
{
	if (!q)
		return weft__misuse(-EINVAL, "NULL queue");
	if (!weft__task_current())
		return weft__misuse(-EPERM, "called outside a task");
	return put(q, item, true);
}

WEFT_API int weft_queue_put_nowait(weft_queue *q, void *item)
{
	if (!q)
		return weft__misuse(-EINVAL, "NULL queue");
	return put(q, item, false);
}

/* --- get ----------------------------------------------------------------- */

static int get(weft_queue *q, void **item, bool wait)
{
	struct weft__wnode *p = NULL, *n = NULL;
	void *v = NULL;
	int rc;
	weft__spin_lock(&q->lock);
	for (;;) {
		if (q->n) {
			v = take(q);
			/* The slot it frees goes to the first blocked putter. */
			if ((p = weft__wlist_pop(&q->putters))) {
				store(q, p->item);
				q->unfinished++;
			}
			rc = 0;
			break;
		}
		if (q->shutdown) {
			rc = -ESHUTDOWN;
			break;
		}
		if ((rc = need_node(q, &n, wait)) < 0)
			break;
		if (rc)
			continue;
		weft__wlist_push(&q->getters, &q->lock, n);
		weft__spin_unlock(&q->lock);
		/* 0 with the item handed over; -ESHUTDOWN; -ECANCELED: none taken */
		rc = weft__wnode_wait(n, &v);
		if (rc == 0 && item)
			*item = v;
		return rc;
	}
	weft__spin_unlock(&q->lock);
	weft__wnode_free(n);
	if (p)
		weft__wnode_grant(p, 0, NULL);
	if (rc == 0 && item)
		*item = v;
	return rc;
}

WEFT_API int weft_queue_get(weft_queue *q, void **item)
{
	if (!q)
		return weft__misuse(-EINVAL, "NULL queue");
	if (!weft__task_current())
		return weft__misuse(-EPERM, "called outside a task");
	return get(q, item, true);
}

WEFT_API int weft_queue_get_nowait(weft_queue *q, void **item)
{
	if (!q)
		return weft__misuse(-EINVAL, "NULL queue");
	return get(q, item, false);
}

/* --- join, task_done ------------------------------------------------------ */

WEFT_API int weft_queue_task_done(weft_queue *q)
{
	if (!q)
		return weft__misuse(-EINVAL, "NULL queue");
	struct weft__wnode *chain = NULL;
	weft__spin_lock(&q->lock);
	if (q->unfinished == 0) {
		weft__spin_unlock(&q->lock);
		return weft__misuse(-EOVERFLOW, "task_done() called too many times");
	}
	if (--q->unfinished == 0)
		weft__wlist_pop_all(&q->joiners, &chain);
	weft__spin_unlock(&q->lock);
	weft__wnode_grant_chain(chain, 0, NULL);
	return 0;
}

WEFT_API int weft_queue_join(weft_queue *q)
{
	if (!q)
		return weft__misuse(-EINVAL, "NULL queue");
	struct weft__task *t = weft__task_current();
	if (!t)
		return weft__misuse(-EPERM, "called outside a task");
	struct weft__wnode *n = NULL;
	int rc = 0;
	weft__spin_lock(&q->lock);
	while (q->unfinished) {
		if ((rc = need_node(q, &n, true)) < 0)
			break;
		if (rc)
			continue;
		weft__wlist_push(&q->joiners, &q->lock, n);
		weft__spin_unlock(&q->lock);
		rc = weft__wnode_wait(n, NULL);
		if (rc == 0 && weft__task_take_cancel(t))
			return -ECANCELED; /* released, then cancelled before it ran */
		return rc;
	}
	weft__spin_unlock(&q->lock);
	weft__wnode_free(n);
	/* 1 from need_node means "check again", and nothing was left */
	return rc < 0 ? rc : 0;
}

/* --- shutdown, destroy ---------------------------------------------------- */

WEFT_API int weft_queue_shutdown(weft_queue *q, bool immediate)
{
	if (!q)
		return weft__misuse(-EINVAL, "NULL queue");
	struct weft__wnode *refused = NULL, *joined = NULL;
	size_t head = 0, k = 0;
	weft__spin_lock(&q->lock);
	q->shutdown = true;
	if (immediate) {
		/* Empty it; the items stay in the storage, which nothing writes
		 * after a shutdown, for the drop function below. */
		head = q->head;
		k = q->n;
		q->n = 0;
		q->head = 0;
		q->unfinished -= k < q->unfinished ? k : q->unfinished;
		if (q->unfinished == 0)
			weft__wlist_pop_all(&q->joiners, &joined);
	}
	/* Getters wait only on an empty queue: all of them get -ESHUTDOWN. */
	struct weft__wnode **tail = weft__wlist_pop_all(&q->getters, &refused);
	weft__wlist_pop_all(&q->putters, tail);
	weft_queue_drop_fn drop = q->drop;
	void *drop_arg = q->drop_arg;
	weft__spin_unlock(&q->lock);
	weft__wnode_grant_chain(refused, -ESHUTDOWN, NULL);
	weft__wnode_grant_chain(joined, 0, NULL);
	drop_items(q, head, k, drop, drop_arg);
	return 0;
}

WEFT_API int weft_queue_destroy(weft_queue *q)
{
	if (!q)
		return weft__misuse(-EINVAL, "NULL queue");
	weft__spin_lock(&q->lock);
	bool busy = !weft__wlist_empty(&q->getters) || !weft__wlist_empty(&q->putters) ||
		    !weft__wlist_empty(&q->joiners);
	weft__spin_unlock(&q->lock);
	if (busy)
		return weft__misuse(-EBUSY, "tasks are blocked on the queue");
	drop_items(q, q->head, q->n, q->drop, q->drop_arg);
	free(q->ring);
	free(q->heap);
	free(q);
	return 0;
}

WEFT_API int weft_queue_set_drop(weft_queue *q, weft_queue_drop_fn drop, void *arg)
{
	if (!q)
		return weft__misuse(-EINVAL, "NULL queue");
	weft__spin_lock(&q->lock);
	q->drop = drop;
	q->drop_arg = arg;
	weft__spin_unlock(&q->lock);
	return 0;
}

/* --- queries -------------------------------------------------------------- */

WEFT_API size_t weft_queue_qsize(weft_queue *q)
{
	if (!q)
		return 0;
	weft__spin_lock(&q->lock);
	size_t n = q->n;
	weft__spin_unlock(&q->lock);
	return n;
}

WEFT_API bool weft_queue_empty(weft_queue *q)
{
	return weft_queue_qsize(q) == 0;
}

WEFT_API bool weft_queue_full(weft_queue *q)
{
	if (!q)
		return false;
	weft__spin_lock(&q->lock);
	bool f = full(q);
	weft__spin_unlock(&q->lock);
	return f;
}

WEFT_API size_t weft_queue_maxsize(weft_queue *q)
{
	return q ? q->maxsize : 0;
}
