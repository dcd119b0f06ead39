/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <weft/local.h>

#include "core/context.h"
#include "core/local.h"
#include "core/task.h"

#define MAX_KEYS 65536u

static _Atomic unsigned keys_made;

void weft__locals_unref(struct weft__locals *l)
{
	if (l && atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) == 1)
		free(l);
}

WEFT_API int weft_local_key_create(weft_local_key *key)
{
	if (!key)
		return -EINVAL;
	unsigned n = atomic_load_explicit(&keys_made, memory_order_relaxed);
	do {
		if (n >= MAX_KEYS)
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak_explicit(&keys_made, &n, n + 1,
							memory_order_relaxed, memory_order_relaxed));
	*key = n + 1; /* 0 is never a key */
	return 0;
}

WEFT_API void *weft_local_get(weft_local_key key)
{
	struct weft__locals *l = weft__locals_visible();
	if (!l || key == 0 || key > l->n)
		return NULL;
	return l->v[key - 1];
}

WEFT_API int weft_local_set(weft_local_key key, void *value)
{
	struct weft__task *t = weft__task_current();
	/* In a to_thread call the thread's copy changes (contextvars' copied
	 * context), never the task's. */
	struct weft__locals **slot = t ? &t->locals
				       : weft__thread_ctx.in_call ? &weft__thread_ctx.locals : NULL;
	if (!slot)
		return -EPERM;
	if (key == 0 || key > atomic_load_explicit(&keys_made, memory_order_relaxed))
		return -EINVAL;
	struct weft__locals *l = *slot;
	/* acquire: a child that dropped its reference must be done reading */
	bool mine = l && atomic_load_explicit(&l->refs, memory_order_acquire) == 1;
	if (!mine || key > l->n) {
		uint32_t n = l && l->n > key ? l->n : key;
		struct weft__locals *c = malloc(sizeof(*c) + n * sizeof(void *));
		if (!c)
			return -ENOMEM;
		atomic_init(&c->refs, 1);
		c->n = n;
		uint32_t have = l ? l->n : 0;
		if (have)
			memcpy(c->v, l->v, have * sizeof(void *));
		memset(c->v + have, 0, (n - have) * sizeof(void *));
		weft__locals_unref(l);
		*slot = l = c;
	}
	l->v[key - 1] = value;
	return 0;
}
