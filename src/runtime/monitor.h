/* SPDX-License-Identifier: MIT */
/*
 * A runtime's monitor thread, started only when something needs it:
 * - debug mode's stall watchdog: every few milliseconds it looks at each
 *   worker's running step (sched/worker.h, dbg.t0); one that has kept its
 *   worker longer than cfg.slow_step is named while it still runs, with
 *   the backtrace a signal (SIGURG, as Go's preemption uses) takes on that
 *   worker: glommio's and Seastar's stall detectors do the same. Today's
 *   after-the-fact report still comes when the step ends.
 * - cfg.dump_signal: the signal's handler only wakes this thread, which
 *   runs weft_dump(rt, stderr) (a handler cannot: stdio, locks).
 */
#ifndef WEFT_RUNTIME_MONITOR_H
#define WEFT_RUNTIME_MONITOR_H

#include <stdbool.h>

#include <weft/runtime.h>

struct weft__monitor;

/* May cfg.dump_signal be sig? */
bool weft__monitor_signal_ok(int sig);

/* Starts rt's monitor if its config asks for one (debug mode, a dump
 * signal); 0 or -ENOMEM / -EAGAIN. The workers run already. */
int weft__monitor_start(weft_runtime *rt, struct weft__monitor **out);

/* Stops and joins it (NULL: none); its signal handlers are restored
 * when no runtime needs them any more. */
void weft__monitor_stop(struct weft__monitor *m);

#endif
