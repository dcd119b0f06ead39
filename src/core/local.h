/* SPDX-License-Identifier: MIT */
/*
 * Task-local values: an immutable-once-shared, reference-counted array. A
 * new task shares its creator's array (no copy at spawn); the first write
 * to a shared array copies it (copy on write), so a child's writes never
 * reach its parent and vice versa.
 */
#ifndef WEFT_CORE_LOCAL_H
#define WEFT_CORE_LOCAL_H

#include <stdatomic.h>
#include <stdint.h>

struct weft__locals {
	_Atomic uint32_t refs;
	uint32_t n;
	void *v[];
};

static inline struct weft__locals *weft__locals_ref(struct weft__locals *l)
{
	if (l)
		atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
	return l;
}

void weft__locals_unref(struct weft__locals *l);

#endif
