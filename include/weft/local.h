/* SPDX-License-Identifier: MIT */
/*
 * Task-local values: asyncio's contextvars. A new task starts with a copy
 * of its creator's values, so a child's writes never reach its parent.
 * Values are opaque pointers weft never frees.
 */
#ifndef WEFT_LOCAL_H
#define WEFT_LOCAL_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

typedef unsigned weft_local_key;

/*
 * Creates a key, process-wide, valid in every runtime. Returns 0, or
 * -EINVAL (NULL), -ENOSPC (all 65536 keys used). Any thread.
 */
WEFT_API int weft_local_key_create(weft_local_key *key);

/* The calling task's value for key; in a done callback or a call_soon /
 * call_later callback, the value of the task that scheduled it (captured
 * then, as contextvars does); in a weft_to_thread call, the value its task
 * had when it made the call; in a call_soon_threadsafe callback, the
 * caller's.
 * NULL if unset, unknown key, or elsewhere. */
WEFT_API void *weft_local_get(weft_local_key key);

/*
 * Sets the calling task's value for key (visible to tasks it creates
 * afterwards, never to its creator). In a weft_to_thread call it sets the
 * call's own copy (the task never sees it). Returns 0, or -EPERM (outside
 * a task or a to_thread call), -EINVAL (key never created), -ENOMEM.
 */
WEFT_API int weft_local_set(weft_local_key key, void *value);

WEFT_END_DECLS

#endif
