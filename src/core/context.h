/* SPDX-License-Identifier: MIT */
/*
 * What code running on behalf of a task sees: its runtime, its task-local
 * values, where weft_fail puts its message. On a worker that is the
 * current task (or, in a callback, the values of the task that scheduled
 * it); on a blocking-pool thread running a to_thread call, the thread's
 * context below, which src/bridge fills in. Zero on every other thread,
 * workers included: code that finds a worker never looks there.
 */
#ifndef WEFT_CORE_CONTEXT_H
#define WEFT_CORE_CONTEXT_H

#include <stdbool.h>

struct weft__core;
struct weft__locals;

/* Only its own thread touches it. */
struct weft__thread_ctx {
	struct weft__core *core;     /* the pool's runtime, for the thread's life */
	bool in_call;                /* a to_thread call is running */
	struct weft__locals *locals; /* in a call: its values (a reference the
	                              * thread owns; a weft_local_set replaces
	                              * it with a private copy) */
	char *fail_msg;              /* in a call: weft_fail's message, owned */
};

extern __thread struct weft__thread_ctx weft__thread_ctx;

/* The runtime the calling thread works for: its worker's, or a pool
 * thread's; NULL elsewhere. Any thread. */
struct weft__core *weft__core_current(void);

/* The task-local values the calling code sees (not a new reference): the
 * running task's, a running callback's, a to_thread call's; NULL
 * elsewhere. Any thread. */
struct weft__locals *weft__locals_visible(void);

#endif
