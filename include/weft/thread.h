/* SPDX-License-Identifier: MIT */
/*
 * Thread bridges: into a runtime from any OS thread, and out of it to a
 * pool of threads for blocking work.
 *
 * asyncio.run_coroutine_threadsafe(coro, loop) -> weft_run_coroutine_threadsafe(rt, fn, arg)
 * loop.call_soon_threadsafe(cb, arg)          -> weft_call_soon_threadsafe(rt, cb, arg)
 * asyncio.to_thread(func, arg)                 -> weft_to_thread(fn, arg)
 *
 * Into the runtime. A submission from a thread that is not a worker of
 * `rt` goes through the runtime's inject queue (a push under a short lock,
 * nothing more) and wakes a parked worker. Once weft_runtime_destroy has
 * begun, such submissions are refused with -ESHUTDOWN; a submission that
 * was accepted is never lost: shutdown waits for it to be queued and runs
 * it (a task is then cancelled like every other remaining task). A
 * destroyed runtime is freed memory: no call may start after
 * weft_runtime_destroy has returned.
 *
 * Out of the runtime: the blocking pool. Each runtime owns a pool of OS
 * threads for weft_to_thread calls. It starts empty and grows by one
 * thread whenever a call arrives and no thread is idle, up to
 * weft_config.blocking_threads_max (default 512, tokio's figure); beyond
 * that, calls wait in a FIFO queue. A thread with nothing to do for
 * weft_config.blocking_keepalive seconds (default 10, tokio's) exits.
 * Shutdown drains the pool after every task is done: calls still queued
 * end cancelled, calls running are waited for, every thread is joined.
 *
 * A pool thread is not a worker: it may block (weft_future_wait works
 * there), weft_current_runtime() returns the pool's runtime, and while it
 * runs a call it sees the calling task's task-local values (weft/local.h)
 * and records weft_fail messages on the call's future. Suspending
 * functions (weft_await, weft_sleep, ...) return -EPERM there, as on any
 * thread outside a task.
 */
#ifndef WEFT_THREAD_H
#define WEFT_THREAD_H

#include <weft/call.h>
#include <weft/common.h>

WEFT_BEGIN_DECLS

/*
 * asyncio.run_coroutine_threadsafe: runs fn(arg) as a new task in `rt`
 * and returns it (the same as weft_spawn(rt, fn, arg, NULL)). The caller
 * owns the reference (weft_future_unref). A foreign thread may wait for it
 * with weft_future_wait (with a timeout: -ETIMEDOUT leaves the task
 * running), poll it (weft_future_done / result), cancel it (weft_cancel:
 * the task is cancelled inside the runtime, as Task.cancel) and add done
 * callbacks (they run on a worker of rt, never on the calling thread). The
 * task's error code and weft_fail message come back through the future.
 * Never NULL: fails as a future already failed with -EINVAL (NULL rt or
 * fn), -ESHUTDOWN (rt is shutting down: weft_runtime_destroy has begun;
 * from rt's own workers, only once its workers are stopping) or -ENOMEM.
 * Never suspends. Any thread.
 */
WEFT_API weft_future *weft_run_coroutine_threadsafe(weft_runtime *rt, weft_task_fn fn, void *arg);

/*
 * loop.call_soon_threadsafe: schedules fn(arg) to run on a worker of `rt`,
 * on the loop's stack (it must not suspend, as a weft_call_soon callback).
 * From a foreign thread it goes through the inject queue and wakes a
 * parked worker; with one worker it keeps asyncio's order exactly: one
 * ready queue in the order of the calls, so it runs after what was queued
 * before it and before whatever the worker queues after it (its own
 * call_soon included); with several, callbacks may run in parallel on
 * different workers. Called on a worker of `rt` it behaves as
 * weft_call_soon. The callback sees the task-local values the caller sees
 * (its task's, or a to_thread call's on a pool thread; none on a plain
 * foreign thread). Returns 0, or -EINVAL (NULL rt or fn), -ESHUTDOWN (as
 * weft_run_coroutine_threadsafe), -ENOMEM. A call that returned 0 always
 * runs. Never suspends. Any thread.
 *
 * Unlike asyncio, no handle is returned: a callback that may become
 * unwanted checks a flag of its own.
 */
WEFT_API int weft_call_soon_threadsafe(weft_runtime *rt, weft_call_fn fn, void *arg);

/*
 * asyncio.to_thread: runs fn(arg, &result) on a thread of the calling
 * task's runtime's blocking pool (never on a worker) and returns a future
 * of its outcome: 0 with the result fn stored, or the negative code fn
 * returned, with the message fn gave weft_fail (a positive return counts
 * as success; -ECANCELED makes the future cancelled). Await it with
 * weft_await: the task suspends while its worker runs other tasks. fn sees
 * the task-local values the task had when it called weft_to_thread (a
 * weft_local_set inside fn changes fn's own copy only), and
 * weft_current_runtime() is the task's runtime.
 *
 * Cancelling: a call that has not started yet is dropped (fn never runs)
 * and the future ends cancelled, so an awaiting task that is cancelled
 * gets -ECANCELED. A started call cannot be stopped: weft_cancel on its
 * future returns false, and a cancelled task awaiting it keeps waiting
 * (fn may be using the task's stack through arg), receives fn's real
 * outcome, and gets -ECANCELED at its next suspension point. asyncio
 * instead abandons the running thread and raises CancelledError at once
 * (docs/asyncio.md). A task that calls weft_to_thread while such a
 * cancellation is pending gets it there: the call never starts and the
 * future comes back already cancelled (awaiting it returns -ECANCELED),
 * so a loop of to_thread calls always ends when its task is cancelled.
 *
 * Do not complete the future yourself (weft_future_set_result): an awaiting
 * task would resume while fn may still use its arguments.
 *
 * Shutdown waits for a started call: a call blocked in a system call
 * (accept, read) keeps weft_runtime_destroy waiting until it returns.
 * Make such calls return (close or shut down their descriptor first), or
 * bound the wait with weft_runtime_destroy_timeout (weft/runtime.h).
 *
 * Returns a reference the caller owns, never NULL: on failure a future
 * already failed with -EPERM (not called inside a task), -EINVAL (NULL fn),
 * -ESHUTDOWN (the runtime's pool has been drained: shutdown is past the
 * point where every task was done), -EAGAIN (the pool has no thread and
 * none could be started) or -ENOMEM. Never suspends (the await does).
 * Tasks only.
 */
WEFT_API weft_future *weft_to_thread(weft_task_fn fn, void *arg);

WEFT_END_DECLS

#endif
