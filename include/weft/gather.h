/* SPDX-License-Identifier: MIT */
/*
 * Futures made of futures: asyncio.gather and asyncio.shield.
 *
 * Both return a future the caller owns (weft_future_unref) and never NULL:
 * when they cannot start they return a future already failed with the
 * code. Passing a future to them never consumes the caller's reference:
 * they take their own, kept until the input is done.
 *
 * Their completion is driven by done callbacks on the inputs, so, as in
 * asyncio, a gather or shield completes one loop round after the input
 * that completes it (its callback is scheduled, never run inline).
 */
#ifndef WEFT_GATHER_H
#define WEFT_GATHER_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

/* weft_gather flags. */
enum {
	/* return_exceptions=True: failures (and cancellations, as
	 * -ECANCELED) are outcomes in the result instead of failing the
	 * gather. */
	WEFT_RETURN_EXCEPTIONS = 1u << 0,
};

/*
 * asyncio.gather(*futs, return_exceptions=flags & WEFT_RETURN_EXCEPTIONS).
 *
 * A future that succeeds, once every input is done, with a pointer to a
 * `weft_outcome[n]` (inputs in argument order: rc 0 with the value, or the
 * input's error code, -ECANCELED for a cancelled input). The array belongs
 * to the gather future and stays valid while it is referenced:
 *
 *     weft_outcome *out;
 *     int rc = weft_await(g, (void **)&out);
 *
 * Without WEFT_RETURN_EXCEPTIONS the first input that fails (or ends
 * cancelled) fails the gather at once with its code and message; the other
 * inputs keep running and are not cancelled.
 *
 * Cancelling the gather (weft_cancel, or cancelling a task that awaits it)
 * cancels every input not yet done and returns true if any accepted; the
 * gather then ends -ECANCELED once the inputs are done (or at once, without
 * WEFT_RETURN_EXCEPTIONS, when the first input ends cancelled), even if
 * some input refused and succeeded (asyncio's _GatheringFuture).
 *
 * n == 0 gives a gather already done with an empty result (a non-NULL
 * pointer to zero outcomes). An input may appear several times; each
 * position gets its own outcome.
 *
 * A gather holds references to its inputs until each is done, and each
 * input's callback holds the gather: a gather over a plain future that is
 * never completed is never freed (cancel the gather to let go).
 *
 * Fails (as an already-failed future): -EINVAL (futs NULL with n > 0, a
 * NULL input, unknown flags, or no input belongs to a runtime and the
 * caller is not on a worker), -ENOMEM. Never suspends. Any thread; the
 * gather belongs to the calling worker's runtime, else to its first
 * input's.
 */
WEFT_API weft_future *weft_gather(weft_future *const *futs, size_t n, unsigned flags);

/*
 * asyncio.shield(fut): a future that completes with fut's outcome (value,
 * error code and message). Cancelling the shield (for instance, cancelling
 * the task that awaits it) cancels only the shield: fut runs on and its
 * outcome is dropped by the shield. If fut itself ends cancelled, the
 * shield ends cancelled.
 *
 * If fut is already done, returns a new reference to fut itself (as
 * asyncio returns the inner future). Fails (as an already-failed future):
 * -EINVAL (NULL fut), -ENOMEM. Never suspends. Any thread.
 */
WEFT_API weft_future *weft_shield(weft_future *fut);

WEFT_END_DECLS

#endif
