/* SPDX-License-Identifier: MIT */
/*
 * asyncio.gather: a future (asyncio's _GatheringFuture) completed by done
 * callbacks on its inputs.
 *
 * Memory: one block holds the future header, the state, the outcomes
 * (the result the gather hands out) and one slot per input, so the plain
 * free() of weft_future_unref releases all of it. Each input's pending
 * callback holds a reference to the gather; each slot holds a reference to
 * its input until the input's callback has run. So the gather outlives
 * every callback, and the last one leaves nothing behind.
 *
 * Threads: inputs complete anywhere, callbacks run on any worker and a
 * cancel may come from any thread, so the state is under g->lock. A cancel
 * cancels inputs outside the lock (an input may be a task awaiting this
 * very gather); while one is in progress (`cancelling`), the last callback
 * leaves the final completion to it, so the gather cannot succeed between
 * an input accepting the cancel and the gather noting that it was
 * cancelled (asyncio gets this for free on one thread).
 */
#include <stdio.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <weft/future.h>
#include <weft/gather.h>

#include "core/core.h"
#include "core/debug.h"
#include "core/future.h"
#include "sched/spinlock.h"

struct gather;

struct gslot {
	struct gather *g;
	weft_future *child; /* a reference until its callback ran; under g->lock */
};

struct gather {
	weft_future fut; /* first: weft_future_unref frees the whole block */
	weft__spinlock lock;
	/* Under lock: */
	size_t n, nfinished;
	unsigned flags;
	unsigned cancelling;   /* cancels in progress */
	bool cancel_requested; /* a cancel was accepted by some input */
	bool final_pending;    /* all finished during a cancel: it completes */
	char *cancel_msg;      /* the accepted cancel's message, until used */
	weft_outcome *out;     /* n outcomes, filled as inputs finish */
	struct gslot *slots;   /* n slots */
};

static bool gather_cancel(weft_future *f, const char *msg);

static void gather_describe(const weft_future *f, char *buf, size_t cap)
{
	snprintf(buf, cap, "a gather of %zu futures", ((const struct gather *)f)->n);
}

static const struct weft__future_ops gather_ops = {.cancel = gather_cancel,
						   .describe = gather_describe};

static char *dup_msg(const char *m)
{
	return m ? strdup(m) : NULL;
}

/* Completes g once every input finished (not under g->lock). */
static void finish(struct gather *g)
{
	weft__spin_lock(&g->lock);
	bool cancelled = g->cancel_requested;
	char *msg = g->cancel_msg;
	g->cancel_msg = NULL;
	weft__spin_unlock(&g->lock);
	if (cancelled)
		weft__future_complete(&g->fut, -ECANCELED, NULL, msg);
	else {
		free(msg);
		weft__future_complete(&g->fut, 0, g->out, NULL);
	}
}

/* Drops a cancel message left once g is done (not under g->lock). */
static void drop_cancel_msg(struct gather *g)
{
	weft__spin_lock(&g->lock);
	char *msg = g->cancel_msg;
	g->cancel_msg = NULL;
	weft__spin_unlock(&g->lock);
	free(msg);
}

/* Records input s's outcome and completes g when that decides it. */
static void record(struct gslot *s, int rc, void *value, const char *msg)
{
	struct gather *g = s->g;
	enum { NONE, FAIL, FINAL } action = NONE;

	weft__spin_lock(&g->lock);
	weft_future *child = s->child;
	s->child = NULL;
	size_t i = (size_t)(s - g->slots);
	g->out[i].rc = rc;
	g->out[i].value = rc == 0 ? value : NULL;
	g->nfinished++;
	if (!weft__future_is_done(&g->fut)) {
		if (!(g->flags & WEFT_RETURN_EXCEPTIONS) && rc < 0)
			action = FAIL;
		else if (g->nfinished == g->n) {
			if (g->cancelling)
				g->final_pending = true;
			else
				action = FINAL;
		}
	}
	/* The last input, with no cancel left to finish g: nothing will
	 * take a cancel message any more (g may have been completed by the
	 * user, or failed early). */
	bool last = g->nfinished == g->n && !g->final_pending;
	weft__spin_unlock(&g->lock);

	if (action == FAIL) {
		/* the first failure wins; a later one finds g done */
		weft__future_complete(&g->fut, rc, NULL, dup_msg(msg));
		drop_cancel_msg(g);
	} else if (action == FINAL) {
		finish(g);
	}
	if (last)
		drop_cancel_msg(g);
	weft_future_unref(child);
	weft_future_unref(&g->fut); /* the reference this input held */
}

/* gather's _done_callback, one registration per input position. */
static void child_done(weft_future *f, void *arg)
{
	void *value = NULL;
	int rc = weft_future_result(f, &value);
	record(arg, rc, value, weft_future_message(f));
}

/* _GatheringFuture.cancel: cancel every input; true if any accepted. */
static bool gather_cancel(weft_future *f, const char *msg)
{
	struct gather *g = (struct gather *)f;
	if (weft__future_is_done(f))
		return false;
	weft__spin_lock(&g->lock);
	g->cancelling++;
	weft__spin_unlock(&g->lock);

	bool ret = false;
	enum { CHUNK = 32 };
	weft_future *batch[CHUNK];
	size_t i = 0;
	while (i < g->n) {
		size_t k = 0;
		weft__spin_lock(&g->lock);
		for (; i < g->n && k < CHUNK; i++)
			if (g->slots[i].child)
				batch[k++] = weft_future_ref(g->slots[i].child);
		weft__spin_unlock(&g->lock);
		for (size_t j = 0; j < k; j++) {
			if (weft_cancel(batch[j], msg))
				ret = true;
			weft_future_unref(batch[j]);
		}
	}

	char *copy = ret ? dup_msg(msg) : NULL;
	weft__spin_lock(&g->lock);
	if (ret) {
		g->cancel_requested = true;
		if (!weft__future_is_done(&g->fut)) {
			char *old = g->cancel_msg;
			g->cancel_msg = copy;
			copy = old;
		}
	}
	bool fin = --g->cancelling == 0 && g->final_pending;
	if (fin)
		g->final_pending = false;
	weft__spin_unlock(&g->lock);
	free(copy);
	if (fin)
		finish(g);
	return ret;
}

static struct weft__rtstub *pick_stub(weft_future *const *futs, size_t n)
{
	struct weft__core_worker *cw = weft__core_worker_current();
	if (cw)
		return cw->core->stub;
	for (size_t i = 0; i < n; i++)
		if (futs[i]->rt)
			return futs[i]->rt;
	return NULL;
}

WEFT_API weft_future *weft_gather(weft_future *const *futs, size_t n, unsigned flags)
{
	/* a NULL stub: the calling worker's runtime, if any */
	if ((n && !futs) || (flags & ~(unsigned)WEFT_RETURN_EXCEPTIONS))
		return weft__future_failed(NULL, weft__misuse(-EINVAL, "bad arguments"));
	for (size_t i = 0; i < n; i++)
		if (!futs[i])
			return weft__future_failed(NULL, weft__misuse(-EINVAL, "NULL future"));
	struct weft__rtstub *stub = pick_stub(futs, n);
	if (!stub)
		return weft__future_failed(NULL, weft__misuse(-EINVAL, "no runtime"));
	if (n >= UINT32_MAX / 2) /* one gather reference per input */
		return weft__future_failed(stub, -ENOMEM);

	struct gather *g = malloc(sizeof(*g) + n * (sizeof(weft_outcome) + sizeof(struct gslot)));
	if (!g)
		return weft__future_failed(stub, -ENOMEM);
	weft__future_init(&g->fut, WEFT__FUT_PLAIN, stub);
	g->fut.ops = &gather_ops;
	atomic_init(&g->lock.held, false);
	g->n = n;
	g->nfinished = 0;
	g->flags = flags;
	g->cancelling = 0;
	g->cancel_requested = false;
	g->final_pending = false;
	g->cancel_msg = NULL;
	g->out = (weft_outcome *)(g + 1);
	g->slots = (struct gslot *)(g->out + n);
	if (n == 0) {
		weft__future_complete(&g->fut, 0, g->out, NULL);
		return &g->fut;
	}
	/* The caller's reference, plus one per callback; all are set up
	 * before the first is registered, so a callback never sees a
	 * half-built gather. */
	atomic_store_explicit(&g->fut.refs, 1 + (uint32_t)n, memory_order_relaxed);
	for (size_t i = 0; i < n; i++) {
		g->out[i].rc = -EBUSY;
		g->out[i].value = NULL;
		g->slots[i].g = g;
		g->slots[i].child = weft_future_ref(futs[i]);
	}
	for (size_t i = 0; i < n; i++) {
		weft_future *c = futs[i];
		/* A done input's callback is scheduled at once (one round
		 * later, as asyncio). An input that cannot take a callback
		 * (the static -ENOMEM future, a dead runtime) is done: take
		 * its outcome now. */
		if (weft_future_add_done_callback(c, child_done, &g->slots[i])) {
			if (weft__future_is_done(c))
				child_done(c, &g->slots[i]);
			else /* no memory for the callback: this input fails */
				record(&g->slots[i], -ENOMEM, NULL, NULL);
		}
	}
	return &g->fut;
}
