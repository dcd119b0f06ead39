/* SPDX-License-Identifier: MIT */
/*
 * Native backtraces of fibers: of a suspended one from its saved context,
 * of the calling thread, and of the code a signal interrupted. Unwinding
 * is DWARF CFI through libunwind (libweft is built without frame
 * pointers, decision 54); names and file:line come from libdw when the
 * process can load it (libdw.so.1, opened at first use), else from the
 * ELF symbol tables (libunwind) or the dynamic ones (dladdr).
 *
 * Built without libunwind (meson found none), the unwinding functions
 * return -ENOSYS.
 */
#ifndef WEFT_FIBER_BACKTRACE_H
#define WEFT_FIBER_BACKTRACE_H

#include <stddef.h>

#include "fiber/switch.h"

/*
 * The return addresses of the fiber suspended in ctx, innermost first
 * (its first frame is the caller of the context switch), at most cap.
 * Returns how many, or -ENOSYS. The fiber must stay suspended throughout
 * (the caller holds it from resuming); its stack memory is only read.
 * Any thread.
 */
int weft__backtrace_ctx(const struct weft__ctx *ctx, void **pcs, int cap);

/* The calling thread's return addresses, innermost first, skipping the
 * first `skip` frames (this function's caller is frame 0). Returns how
 * many, or -ENOSYS. */
int weft__backtrace_here(void **pcs, int cap, int skip);

/*
 * From a signal handler: the frames of the code the signal interrupted,
 * from its ucontext_t *uc; the first is the interrupted instruction.
 * Async-signal-safe as libunwind's local unwinding is (no malloc, no
 * locks of its own held across a signal). Returns how many, or -ENOSYS.
 */
int weft__backtrace_signal(void *uc, void **pcs, int cap);

/*
 * Writes what pc is into buf: "function+0xoff (file.c:12)" with debug
 * info, "function+0xoff in libfoo.so" without, else "libfoo.so+0xoff".
 * `ret`: pc is a return address (the call is the instruction before it;
 * every frame but an interrupted one's first). Not async-signal-safe
 * (it may allocate and take locks). Any thread.
 */
void weft__symbolize(void *pc, int ret, char *buf, size_t cap);

#endif
