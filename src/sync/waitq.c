/* SPDX-License-Identifier: MIT */
/* Wait queues of the synchronisation primitives (see sync/waitq.h). */
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/future.h"
#include "sync/waitq.h"

#define WEFT__GATE_CLOSED 0x80000000u

static bool wnode_cancel(weft_future *f, const char *msg);

/* Inspection: a node does not know which primitive it waits in (a list
 * is shared by every kind); this names them all. */
static void wnode_describe(const weft_future *f, char *buf, size_t cap)
{
	snprintf(buf, cap, "a lock, event, condition, semaphore, barrier or queue");
}

static const struct weft__future_ops wnode_ops = {.cancel = wnode_cancel,
						  .describe = wnode_describe};

static struct weft__wnode *wnode_new(bool cached_only)
{
	struct weft__core_worker *cw = weft__core_worker_current();
	if (!cw)
		return NULL;
	_Static_assert(sizeof(struct weft__wnode) <= WEFT__BLOCK_SIZE, "a node fits a block");
	struct weft__wnode *n = weft__block_pop(cw);
	if (!n && (cached_only || !(n = malloc(WEFT__BLOCK_SIZE))))
		return NULL;
	weft__future_init_local(&n->fut, WEFT__FUT_PLAIN, cw);
	n->fut.cached = true; /* the last unref gives the whole node back */
	n->fut.ops = &wnode_ops;
	weft__list_init(&n->link);
	n->next = NULL;
	n->list = NULL;
	n->lock = NULL;
	atomic_init(&n->gate, 0);
	n->item = NULL;
	return n;
}

struct weft__wnode *weft__wnode_new(void)
{
	return wnode_new(false);
}

struct weft__wnode *weft__wnode_new_cached(void)
{
	return wnode_new(true);
}

void weft__wnode_free(struct weft__wnode *n)
{
	if (n)
		weft_future_unref(&n->fut);
}

static void unlink_node(struct weft__wlist *l, struct weft__wnode *n)
{
	weft__list_remove(&n->link);
	n->list = NULL;
	l->n--;
}

void weft__wlist_push(struct weft__wlist *l, weft__spinlock *lock, struct weft__wnode *n)
{
	n->lock = lock;
	n->list = l;
	weft__list_push_back(&l->nodes, &n->link);
	l->n++;
}

struct weft__wnode *weft__wlist_pop(struct weft__wlist *l)
{
	struct weft__list *first = weft__list_first(&l->nodes);
	if (!first)
		return NULL;
	struct weft__wnode *n = weft__container_of(first, struct weft__wnode, link);
	unlink_node(l, n);
	/* The granter's own reference: weft__future_complete reads the
	 * future after it has woken the task, which may then drop its own. */
	weft_future_ref(&n->fut);
	return n;
}

struct weft__wnode **weft__wlist_pop_all(struct weft__wlist *l, struct weft__wnode **tail)
{
	struct weft__wnode *n;
	while ((n = weft__wlist_pop(l))) {
		*tail = n;
		tail = &n->next;
	}
	*tail = NULL;
	return tail;
}

void weft__wnode_grant(struct weft__wnode *n, int rc, void *value)
{
	weft__future_complete(&n->fut, rc, value, NULL);
	weft_future_unref(&n->fut);
}

void weft__wnode_grant_chain(struct weft__wnode *chain, int rc, void *value)
{
	while (chain) {
		/* read first: the grant may free the node */
		struct weft__wnode *next = chain->next;
		weft__wnode_grant(chain, rc, value);
		chain = next;
	}
}

/*
 * The node's Future.cancel: removes a waiter still in its list (accepted),
 * refuses one already granted. Runs on any thread, holding a reference to
 * the node (task_cancel's, or the awaiting task's own in wait_on).
 */
static bool wnode_cancel(weft_future *f, const char *msg)
{
	struct weft__wnode *n = (struct weft__wnode *)f;
	/* acq_rel: pairs with close_gate's RMW. If the task has closed the
	 * gate it has left the call, and the primitive may be gone: it was
	 * granted (or cancelled), so refuse without touching the primitive. */
	if (atomic_fetch_add_explicit(&n->gate, 1, memory_order_acq_rel) & WEFT__GATE_CLOSED) {
		/* Out again at once: a task still in close_gate counts us
		 * (a bounced canceller that stayed counted hung it forever). */
		atomic_fetch_sub_explicit(&n->gate, 1, memory_order_release);
		return false;
	}
	weft__spin_lock(n->lock);
	struct weft__wlist *l = n->list;
	if (l)
		unlink_node(l, n);
	weft__spin_unlock(n->lock);
	/* release: the task's acquire in close_gate sees that we are out */
	atomic_fetch_sub_explicit(&n->gate, 1, memory_order_release);
	if (!l)
		return false;
	weft__future_complete(f, -ECANCELED, NULL, msg ? strdup(msg) : NULL);
	return true;
}

/* Closes n's gate and waits for the cancellers inside the primitive (a
 * window of a few instructions under its lock). */
static void close_gate(struct weft__wnode *n)
{
	/* acq_rel: pairs with wnode_cancel's fetch_add. An add, not an or:
	 * the bit is set once, and x86 has no fetch_or that returns the old
	 * value without a cmpxchg loop. */
	unsigned g = atomic_fetch_add_explicit(&n->gate, WEFT__GATE_CLOSED, memory_order_acq_rel);
	while (g & ~WEFT__GATE_CLOSED) {
		weft__cpu_relax();
		/* acquire: pairs with wnode_cancel's release fetch_sub */
		g = atomic_load_explicit(&n->gate, memory_order_acquire);
	}
}

int weft__wnode_wait(struct weft__wnode *n, void **value)
{
	void *v = NULL;
	int rc = weft_await(&n->fut, &v);
	close_gate(n);
	weft_future_unref(&n->fut);
	if (value)
		*value = v;
	return rc;
}
