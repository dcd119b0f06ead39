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

extern atomic_bool weft__debug_on;

/* Turns debug reports on process-wide (a runtime with cfg.debug). */
void weft__debug_enable(void);

/* Prints "weft: fn: what [-ECODE]" on stderr, with what to do for the
 * misuse whose fix is the same everywhere (core/error.c lists them);
 * returns code. Call it through the macros, which check debug mode. */
int weft__misuse_report(int code, const char *fn, const char *what);
int weft__misuse_reportf(int code, const char *fn, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

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
