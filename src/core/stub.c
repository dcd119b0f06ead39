/* SPDX-License-Identifier: MIT */
/* The runtime stub's reference count (core/stub.h). */
#include <stdlib.h>

#include "core/core.h"
#include "core/stub.h"

struct weft__rtstub *weft__stub_new(struct weft__core *c)
{
	struct weft__rtstub *stub = calloc(1, sizeof(*stub));
	if (!stub)
		return NULL;
	atomic_init(&stub->refs, WEFT__STUB_BIAS);
	atomic_init(&stub->dead, false);
	atomic_init(&stub->empty_slabs.head, NULL);
	stub->chunks = NULL;
	stub->core = c;
	return stub;
}

void weft__stub_free(struct weft__rtstub *stub)
{
	weft__slab_reclaim_stub(stub);
	free(stub);
}

void weft__stub_release(struct weft__core *c)
{
	struct weft__rtstub *stub = c->stub;
	atomic_store_explicit(&stub->dead, true, memory_order_release);
	int64_t local = 0;
	for (unsigned i = 0; i < c->sched.nworkers; i++)
		local += c->workers[i].stub_refs;
	int64_t delta = local - WEFT__STUB_BIAS;
	if (atomic_fetch_add_explicit(&stub->refs, delta, memory_order_acq_rel) + delta == 0)
		weft__stub_free(stub);
}
