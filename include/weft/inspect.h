/* SPDX-License-Identifier: MIT */
/*
 * Seeing inside a running program: a task's native backtrace (asyncio's
 * Task.get_stack / print_stack) and a dump of every task (Go's goroutine
 * dump on SIGQUIT).
 *
 * A suspended task has a real C stack; weft unwinds it from the context
 * it saved when it switched out, with DWARF call-frame information
 * (libunwind), so code built without frame pointers unwinds too, and
 * names each frame with its function and, where debug information exists
 * (-g) and libdw is installed, its file and line. Built without libunwind,
 * these calls return -ENOSYS (weft_dump lists tasks without frames).
 *
 * How a stack is read safely while the runtime runs: each worker is sent a
 * job that holds its loop still until the reading is done (the calling
 * worker, inside a task or a callback, holds itself). A held worker runs
 * no task, so none of the tasks it could resume moves while its stack is
 * read; nothing is resumed early, nothing is moved, and no hot path pays
 * for it. A worker that does not reach the job within WEFT_INSPECT_HOLD
 * seconds is busy in a task step that does not suspend; then no task's
 * stack can be read safely (that worker may run, start or steal any of
 * them), so tasks are listed without backtraces, and in debug mode the
 * dump shows what that worker runs with the backtrace the stall
 * watchdog's signal takes there. Work on the held
 * workers pauses for as long as the reading takes (about a microsecond
 * per frame).
 */
#ifndef WEFT_INSPECT_H
#define WEFT_INSPECT_H

#include <stdio.h>

#include <weft/common.h>

WEFT_BEGIN_DECLS

/* How long an inspection waits for a worker to stop (seconds). */
#define WEFT_INSPECT_HOLD 0.25

/*
 * asyncio's Task.get_stack: fills frames with the return addresses of
 * task `t`'s native stack, innermost first (the first is inside the weft
 * call it is suspended in, as Go's dumps show runtime.gopark), at most
 * cap of them. The calling task's own stack works too (from the caller of
 * weft_task_stack on). Returns how many were written: 0 for a task that
 * has not started (it has no stack yet) or is done; or -EINVAL (t NULL or
 * not a task, frames NULL with cap > 0, cap < 0), -EBUSY (t is running on
 * another worker, or could be resumed by a worker that did not stop in
 * time: no consistent stack can be read), -ENOSYS (weft was built without
 * libunwind). Never suspends; blocks the calling thread (a worker too)
 * until the workers are held, at most WEFT_INSPECT_HOLD seconds. Any
 * thread, while t's runtime is alive.
 */
WEFT_API int weft_task_stack(weft_future *t, void **frames, int cap);

/*
 * asyncio's Task.print_stack: writes "Stack for task NAME (STATE):" and
 * one line per frame ("  #0 function+0x1c (file.c:42)") on `out`, where
 * STATE says what the task does: running, ready, waiting on what (a
 * future, a sleep with its deadline, a task, a lock/event/queue..., an
 * I/O operation on fd N, a to_thread call), done, or not started.
 * Returns 0, or -EINVAL (t NULL or not a task, out NULL), -EBUSY and
 * -ENOSYS as weft_task_stack (then the line says why no frames follow).
 * Never suspends; blocks as weft_task_stack. Any thread, while t's runtime
 * is alive; stdio needs a stack of a few KiB (not small-stack tasks).
 */
WEFT_API int weft_task_print_stack(weft_future *t, FILE *out);

/*
 * Writes every task of `rt` not yet done on `out` (Go's goroutine dump):
 * its id and name, its state (running on worker N, ready, waiting on
 * what, as weft_task_print_stack says), its home worker, in debug mode
 * where it was created, and its backtrace; tasks whose stack is the same
 * as one already printed refer to it instead of repeating it. The workers
 * are held only while the stacks are read, not while they are printed.
 * Returns the number of tasks listed, or -EINVAL (NULL rt or out),
 * -ENOMEM. Never suspends; blocks the calling thread (a worker too) while
 * the stacks are read, at most WEFT_INSPECT_HOLD seconds waiting for the
 * workers to stop. Any thread, while rt is alive (weft_config.dump_signal
 * makes SIGQUIT call it on stderr).
 */
WEFT_API long weft_dump(weft_runtime *rt, FILE *out);

WEFT_END_DECLS

#endif
