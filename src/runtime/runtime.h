/* SPDX-License-Identifier: MIT */
/*
 * The runtime itself, the top floor: what weft_runtime is, made of every
 * layer's share. Only src/runtime includes this; the layers below reach
 * their share of a weft_runtime through core (core/core.h).
 */
#ifndef WEFT_RUNTIME_RUNTIME_H
#define WEFT_RUNTIME_RUNTIME_H

#include <stddef.h>

#include <weft/runtime.h>

#include "core/core.h"

struct weft_runtime {
	struct weft__core core; /* first: core and the scheduler convert by a
	                         * cast (weft__core_of) */
	weft_config cfg;        /* the checked copy every layer was set up from */
	struct weft__monitor *monitor; /* the watchdog / dump-signal thread, or
	                                * NULL (runtime/monitor.h) */
};

_Static_assert(offsetof(struct weft_runtime, core) == 0, "weft__core_of is a cast");

#endif
