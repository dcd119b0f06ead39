/* SPDX-License-Identifier: MIT */
/*
 * An unref too many, found. A future block given back at its last unref
 * is soon reused, and a stale handle's unref then silently drops a
 * reference of the block's next owner; a count check alone cannot see it.
 * So in debug mode a freed future is poisoned (kind WEFT__FUT_FREED, its
 * other bytes 0xdb) and held here; the oldest is given back only once
 * WEFT__QUARANTINE_MAX newer ones wait behind it. A stale ref or unref
 * meanwhile finds the poison and aborts, naming the future and its caller.
 * Beyond that window (a block given back and reused) nothing can tell.
 */
#ifndef WEFT_CORE_QUARANTINE_H
#define WEFT_CORE_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/future.h"

#define WEFT__QUARANTINE_MAX 4096

struct weft__rtstub;

/* Where code address pc is, for reports: symbol+offset in file, or
 * file+offset (for addr2line); uses stdio. Any thread, off small stacks. */
void weft__where(void *pc, char *buf, size_t cap);

/* What f is, for reports: task "name", or future (a task's name is read
 * racily, as the overflow handler does). */
void weft__future_describe(weft_future *f, char *buf, size_t cap);

/*
 * f's last reference is gone and what it owns is released; instead of
 * giving its memory back (weft__future_give_back), poisons and keeps it,
 * giving back the oldest kept beyond WEFT__QUARANTINE_MAX. freed_by: the
 * code that dropped the last reference; what: weft__future_describe's
 * text, taken before f's name was freed. Debug mode only. Any thread.
 */
void weft__quarantine_put(weft_future *f, struct weft__rtstub *stub, void *freed_by,
			  const char *what);

/* A call `fn` from `caller` on a future whose kind is not a live one (the
 * poison of a freed future, or memory that is no future): reports it with
 * what is known of the future and aborts. Any thread. */
_Noreturn void weft__future_stale(const weft_future *f, const char *fn, void *caller);

/* weft_future_unref on a task whose only reference left is the runtime's
 * (it runs, or waits to): reports the caller and aborts in debug mode;
 * otherwise returns and the unref is ignored. Any thread. */
void weft__future_extra_unref(weft_future *f, void *caller);

#endif
