/* SPDX-License-Identifier: MIT */
/*
 * Definitions every weft header shares: the export macro, the opaque types
 * and the task function shape.
 */
#ifndef WEFT_COMMON_H
#define WEFT_COMMON_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include <weft/version.h>

/* Every header's declarations have C linkage for C++ users. */
#ifdef __cplusplus
#define WEFT_BEGIN_DECLS extern "C" {
#define WEFT_END_DECLS }
#else
#define WEFT_BEGIN_DECLS
#define WEFT_END_DECLS
#endif

/* The library is built with -fvisibility=hidden; only WEFT_API symbols are
 * exported from libweft.so. */
#define WEFT_API __attribute__((visibility("default")))

#ifdef __GNUC__
#define WEFT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define WEFT_PRINTF(f, a)
#endif

/* A timeout that never expires (asyncio's None). */
#define WEFT_FOREVER INFINITY

typedef struct weft_runtime weft_runtime;

/* A future; a task is a future too, so every weft_future * may be a task. */
typedef struct weft_future weft_future;

/*
 * What a task runs. Return 0 and set *result (weft never frees it: its
 * meaning belongs to the author), or return a negative error code: the
 * task's "exception". weft_fail() attaches a message to it.
 */
typedef int (*weft_task_fn)(void *arg, void **result);

/* One input's outcome: rc is 0 with value, or the error code. */
typedef struct weft_outcome {
	int rc;
	void *value;
} weft_outcome;

#endif
