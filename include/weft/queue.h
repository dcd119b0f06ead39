/* SPDX-License-Identifier: MIT */
/*
 * asyncio.Queue, LifoQueue and PriorityQueue as one weft_queue with a
 * kind, with join/task_done and 3.13's shutdown. Items are `void *`:
 * weft never looks inside them nor frees them (see weft_queue_set_drop).
 *
 * Threads. Tasks using one queue may run on any worker, of any runtime;
 * every function is thread-safe. put and get suspend (tasks only, -EPERM
 * elsewhere); everything else never suspends and works from any thread,
 * foreign threads included (a foreign producer can put_nowait, a foreign
 * consumer get_nowait). A queue belongs to no runtime. NULL queue →
 * -EINVAL (the queries return 0 / false).
 *
 * Order and hand-over. Blocked getters and putters are served in the
 * order they started waiting (FIFO). An item put while getters wait goes
 * straight to the first of them (it never sits in the queue, so
 * get_nowait cannot take it from under them); when a get frees a slot of
 * a full queue, the first blocked putter's item moves in at once (so
 * put_nowait cannot take the slot from under it). Each item is delivered
 * exactly once, whatever the number of workers.
 *
 * Cancellation. A blocked get or put that is cancelled returns
 * -ECANCELED and has done nothing: a cancelled getter never takes an item,
 * a cancelled putter never inserts one. Once an item has been handed to a
 * waiting getter (or a putter's item has moved in), the hand-over stands:
 * a cancel arriving after it cannot undo it (the item may already be
 * consumed, or its old place taken), so the call returns 0 with the item
 * and the cancel stays pending for the task's next suspension point, or
 * ends the task cancelled if its function returns 0 first (weft/task.h:
 * a function that hands the item on through its result must suspend
 * once, or free it itself; asyncio instead leaves the item in the queue
 * for the next getter, which C cannot do without losing the pointer's
 * ownership guarantee: a 0 return always means "the item is yours",
 * -ECANCELED "it never was"). Timeouts: wrap the call in a timeout scope
 * (weft/timeout.h); an expiry that races a hand-over lets the call return
 * 0 and the scope's exit then returns that 0 too.
 *
 * Shutdown. weft_runtime_destroy (and the end of weft_run) cancels every
 * task, so a task blocked in put/get/join returns -ECANCELED (a put
 * inserted nothing, a get took nothing); the queue stays consistent.
 */
#ifndef WEFT_QUEUE_H
#define WEFT_QUEUE_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

typedef struct weft_queue weft_queue;

/* Which end get takes from. */
enum weft_queue_kind {
	WEFT_QUEUE_FIFO = 0,     /* asyncio.Queue: first in, first out */
	WEFT_QUEUE_LIFO = 1,     /* asyncio.LifoQueue: last in, first out */
	WEFT_QUEUE_PRIORITY = 2, /* asyncio.PriorityQueue: smallest first */
};

/*
 * A PRIORITY queue's order: < 0 when item a comes out before b, 0 when
 * they have equal priority (they then come out in insertion order), > 0
 * otherwise. Called with the queue's spinlock held, on whatever thread
 * calls put or get: it must be quick and must not call weft.
 */
typedef int (*weft_queue_cmp)(const void *a, const void *b, void *arg);

/* Receives an item the queue discards (weft_queue_set_drop). */
typedef void (*weft_queue_drop_fn)(void *item, void *arg);

/*
 * A new queue in *out: `kind`, holding at most `maxsize` items (0:
 * unbounded), ordered by cmp(a, b, cmp_arg) for WEFT_QUEUE_PRIORITY (cmp
 * must be NULL for the other kinds). Returns 0, or -EINVAL (NULL out,
 * unknown kind, PRIORITY without cmp, cmp with another kind), -ENOMEM.
 * Never suspends. Any thread.
 */
WEFT_API int weft_queue_create(weft_queue **out, enum weft_queue_kind kind, size_t maxsize,
			       weft_queue_cmp cmp, void *cmp_arg);

/*
 * Frees the queue. Items still in it are passed to the drop function (if
 * one is set; otherwise they are simply forgotten). Returns 0, or -EINVAL,
 * -EBUSY (a task is blocked in put, get or join: nothing is freed). Never
 * suspends. Any thread.
 */
WEFT_API int weft_queue_destroy(weft_queue *q);

/*
 * Sets the function that receives each item the queue discards: those an
 * immediate shutdown removes and those left at destroy. It is called
 * outside the queue's lock, on the thread that discards them. NULL: none.
 * Returns 0 or -EINVAL. Never suspends. Any thread.
 */
WEFT_API int weft_queue_set_drop(weft_queue *q, weft_queue_drop_fn drop, void *arg);

/*
 * Queue.put: adds item, suspending while the queue is full. Returns 0
 * (the item is in, or was handed to a waiting getter), or -EINVAL (NULL
 * q), -EPERM (not inside a task), -ESHUTDOWN (the queue is shut down, or
 * was while this put waited: not inserted), -ECANCELED (cancelled while
 * waiting: not inserted), -ENOMEM (not inserted). Suspends while full;
 * tasks only.
 */
WEFT_API int weft_queue_put(weft_queue *q, void *item);

/*
 * Queue.put_nowait: adds item without waiting. Returns 0, or -EINVAL,
 * -EAGAIN (full: asyncio's QueueFull), -ESHUTDOWN, -ENOMEM (growing an
 * unbounded queue failed). Never suspends. Any thread.
 */
WEFT_API int weft_queue_put_nowait(weft_queue *q, void *item);

/*
 * Queue.get: removes and returns the next item in *item (may be NULL),
 * suspending while the queue is empty. Returns 0, or -EINVAL, -EPERM (not
 * inside a task), -ESHUTDOWN (shut down and empty: a graceful shutdown
 * lets getters drain what is left first), -ECANCELED (cancelled while
 * waiting: no item taken), -ENOMEM. Suspends while empty; tasks only.
 */
WEFT_API int weft_queue_get(weft_queue *q, void **item);

/*
 * Queue.get_nowait: removes and returns the next item without waiting.
 * Returns 0, or -EINVAL, -EAGAIN (empty: asyncio's QueueEmpty),
 * -ESHUTDOWN (empty and shut down). Never suspends. Any thread.
 */
WEFT_API int weft_queue_get_nowait(weft_queue *q, void **item);

/*
 * Queue.task_done: one item taken earlier is processed. When every item
 * ever put is, join() returns. Returns 0, or -EINVAL, -EOVERFLOW (called
 * more times than items were put: asyncio's ValueError). Never suspends.
 * Any thread.
 */
WEFT_API int weft_queue_task_done(weft_queue *q);

/*
 * Queue.join: suspends until every item put has been marked done
 * (task_done, or dropped by an immediate shutdown); returns at once if
 * none is outstanding. Returns 0, or -EINVAL, -EPERM (not inside a task),
 * -ECANCELED, -ENOMEM. Suspends while items are unfinished; tasks only.
 */
WEFT_API int weft_queue_join(weft_queue *q);

/*
 * Queue.shutdown (3.13): afterwards every put and put_nowait, and every
 * put blocked now, returns -ESHUTDOWN. Graceful (immediate false): getters
 * still take the items left, and get -ESHUTDOWN once it is empty (blocked
 * getters, which only wait on an empty queue, get it now). Immediate: the
 * items left are removed (and passed to the drop function), each counted
 * as done (which can release join), and every blocked getter gets
 * -ESHUTDOWN. Calling it again is allowed (an immediate call after a
 * graceful one still empties the queue). Returns 0 or -EINVAL. Never
 * suspends. Any thread.
 */
WEFT_API int weft_queue_shutdown(weft_queue *q, bool immediate);

/* Queue.qsize: the items in the queue now (not counting those handed to
 * getters). 0 for NULL. Never suspends. Any thread. */
WEFT_API size_t weft_queue_qsize(weft_queue *q);

/* Queue.empty: qsize() == 0. True for NULL. Any thread. */
WEFT_API bool weft_queue_empty(weft_queue *q);

/* Queue.full: maxsize > 0 and qsize() >= maxsize. False for NULL. Any
 * thread. */
WEFT_API bool weft_queue_full(weft_queue *q);

/* Queue.maxsize (0: unbounded). 0 for NULL. Any thread. */
WEFT_API size_t weft_queue_maxsize(weft_queue *q);

WEFT_END_DECLS

#endif
