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

/* Reports misuse of `fn` when debug mode is on; returns code. */
int weft__misuse_report(int code, const char *fn, const char *what);

#define weft__misuse(code, what)                                                                   \
	(atomic_load_explicit(&weft__debug_on, memory_order_relaxed)                               \
		 ? weft__misuse_report((code), __func__, (what))                                   \
		 : (code))

#endif
