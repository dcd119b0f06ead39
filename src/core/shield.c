/* SPDX-License-Identifier: MIT */
/*
 * asyncio.shield: an outer plain future tied to the inner one by two done
 * callbacks, exactly as tasks.py builds it. Cancelling the outer is a
 * plain future's cancel; the inner never hears of it.
 *
 * References: the inner's callback holds the outer (it completes it), the
 * outer's callback holds the inner (it unregisters the first callback if
 * the outer ends first). Whoever removes a registered callback drops the
 * reference that callback held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <weft/future.h>
#include <weft/gather.h>

#include "core/debug.h"
#include "core/future.h"
#include "core/stub.h"

/* _inner_done_callback: pass the inner outcome on, unless outer ended. */
static void inner_done(weft_future *inner, void *arg)
{
	weft_future *outer = arg;
	if (!weft__future_is_done(outer)) {
		void *value = NULL;
		int rc = weft_future_result(inner, &value);
		const char *m = weft_future_message(inner);
		/* -EALREADY if outer was cancelled meanwhile: dropped */
		weft__future_complete(outer, rc, rc == 0 ? value : NULL, m ? strdup(m) : NULL);
	}
	weft_future_unref(outer);
}

/* _outer_done_callback: the outer ended first (it was cancelled). */
static void outer_done(weft_future *outer, void *arg)
{
	weft_future *inner = arg;
	if (!weft__future_is_done(inner))
		for (size_t k = weft_future_remove_done_callback(inner, inner_done, outer); k; k--)
			weft_future_unref(outer);
	weft_future_unref(inner);
}

WEFT_API weft_future *weft_shield(weft_future *inner)
{
	if (!inner) /* a NULL stub: the calling worker's runtime, if any */
		return weft__future_failed(NULL, weft__misuse(-EINVAL, "NULL future"));
	if (weft__future_is_done(inner))
		return weft_future_ref(inner);
	weft_future *outer = malloc(sizeof(*outer));
	if (!outer)
		return weft__future_failed(inner->rt, -ENOMEM);
	weft__future_init(outer, WEFT__FUT_PLAIN, inner->rt);
	/* The caller's reference and inner_done's; outer_done's holds inner. */
	atomic_store_explicit(&outer->refs, 2, memory_order_relaxed);
	weft_future_ref(inner);
	int rc = weft_future_add_done_callback(outer, outer_done, inner);
	if (rc) { /* -ENOMEM, or -ESHUTDOWN: the runtime is gone */
		weft_future_unref(inner);
		weft__stub_unref(outer->rt);
		free(outer);
		return weft__future_failed(inner->rt, rc);
	}
	if ((rc = weft_future_add_done_callback(inner, inner_done, outer))) {
		/* the shield fails, and outer_done lets go of inner */
		weft__future_complete(outer, rc, NULL, NULL);
		weft_future_unref(outer);
	}
	return outer;
}
