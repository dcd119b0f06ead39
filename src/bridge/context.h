/* SPDX-License-Identifier: MIT */
/*
 * What a blocking-pool thread shows the API while it runs a to_thread
 * call (bridge/pool.c): its runtime (weft_current_runtime), the calling
 * task's task-local values (weft_local_get/set, core/local.c) and where
 * weft_fail puts its message (core/error.c). Zero on every other thread,
 * workers included: code that finds a worker never looks here.
 */
#ifndef WEFT_BRIDGE_CONTEXT_H
#define WEFT_BRIDGE_CONTEXT_H

#include <stdbool.h>

#include <weft/common.h>

struct weft__locals;

/* Only its own thread touches it. */
struct weft__thread_ctx {
	weft_runtime *rt;            /* the pool's runtime, for the thread's life */
	bool in_call;                /* a to_thread call is running */
	struct weft__locals *locals; /* in a call: its values (a reference the
	                              * thread owns; a weft_local_set replaces
	                              * it with a private copy) */
	char *fail_msg;              /* in a call: weft_fail's message, owned */
};

extern __thread struct weft__thread_ctx weft__thread_ctx;

#endif
