/* SPDX-License-Identifier: MIT */
/*
 * The porting layer for context switches: the only file that knows which
 * architecture's switch_<arch>.S is built (meson picks the same one).
 */
#ifndef WEFT_FIBER_SWITCH_H
#define WEFT_FIBER_SWITCH_H

#include <stddef.h>

/* A suspended context: everything else lives on its own stack. */
struct weft__ctx {
	void *sp;
};

#if defined(__x86_64__)
/* Saved by the switch: rbx rbp r12-r15, MXCSR and the x87 control word. */
#define WEFT__CTX_INIT_FRAME 80
#else
#error "weft: no context switch for this architecture yet (x86-64 only)"
#endif

/*
 * Saves the callee-saved state of the running context in *from and resumes
 * *to. Returns when something switches back to *from.
 */
void weft__ctx_switch(struct weft__ctx *from, struct weft__ctx *to);

/*
 * Prepares *ctx so that switching to it runs entry(arg) on the stack
 * [lo, lo + size). entry must never return (it switches away for good).
 */
void weft__ctx_make(struct weft__ctx *ctx, void *lo, size_t size, void (*entry)(void *), void *arg);

#endif
