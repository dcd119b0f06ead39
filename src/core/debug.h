/* SPDX-License-Identifier: MIT */
/*
 * Debug mode (weft_config.debug, or WEFT_DEBUG=1 in the environment): misuse
 * is reported on stderr as well as returned, so "why did I get -EPERM"
 * has an answer in the log.
 */
#ifndef WEFT_CORE_DEBUG_H
#define WEFT_CORE_DEBUG_H

#include <stdatomic.h>
#include <stdbool.h>

#include <weft/common.h>

extern atomic_bool weft__debug_on;

/* Turns debug reports on process-wide (a runtime with cfg.debug). */
void weft__debug_enable(void);

/* Prints "weft: fn: what [-ECODE]" on stderr, with what to do for the
 * misuse whose fix is the same everywhere (core/error.c lists them);
 * returns code. Call it through the macros, which check debug mode. */
int weft__misuse_report(int code, const char *fn, const char *what);
int weft__misuse_reportf(int code, const char *fn, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Debug mode's "never retrieved" report (asyncio's "Task exception was
 * never retrieved"), called by a future's free path with what
 * weft__future_describe said of it: a failure (not a cancellation) whose
 * outcome nobody read is reported on stderr with its code, message, name
 * and, for a task, its creation site. The free path runs on task stacks,
 * small ones too, where stdio does not fit: there the report is queued
 * (a malloc) and printed by weft__debug_flush; elsewhere it is printed at
 * once. Any thread.
 */
void weft__unretrieved_check(weft_future *f, const char *what);

/* Prints the queued reports. Never on a task's stack: the loop (core's
 * reclaim hook), runtime destroy. */
void weft__debug_flush(void);
extern atomic_bool weft__debug_queued;

#define weft__misuse(code, what)                                                                   \
	(atomic_load_explicit(&weft__debug_on, memory_order_relaxed)                               \
		 ? weft__misuse_report((code), __func__, (what))                                   \
		 : (code))

/* As weft__misuse, for a public function `fn` reporting from a helper,
 * with a formatted description (a config field and its value). */
#define weft__misusef(code, fn, ...)                                                               \
	(atomic_load_explicit(&weft__debug_on, memory_order_relaxed)                               \
		 ? weft__misuse_reportf((code), (fn), __VA_ARGS__)                                 \
		 : (code))

#endif
