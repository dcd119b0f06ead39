/* SPDX-License-Identifier: MIT */
/* Building the first frame of a new context (the layout weft__ctx_switch pops). */
#include <stdint.h>
#include <string.h>

#include "fiber/switch.h"

#if defined(__x86_64__)
void weft__ctx_start(void);

void weft__ctx_make(struct weft__ctx *ctx, void *lo, size_t size, void (*entry)(void *), void *arg)
{
	uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
	/* After the switch pops 64 bytes and `ret`s into weft__ctx_start, rsp
	 * must be 16-aligned so its `call` gives entry the ABI's alignment. */
	uint64_t *sp = (uint64_t *)(top - WEFT__CTX_INIT_FRAME);
	memset(sp, 0, WEFT__CTX_INIT_FRAME);
	sp[0] = 0x1F80 | ((uint64_t)0x037F << 32); /* default MXCSR, x87 CW */
	sp[1] = 0;                                 /* r15 */
	sp[2] = 0;                                 /* r14 */
	sp[3] = (uint64_t)(uintptr_t)entry;        /* r13 */
	sp[4] = (uint64_t)(uintptr_t)arg;          /* r12 */
	sp[5] = 0;                                 /* rbx */
	sp[6] = 0;                                 /* rbp */
	sp[7] = (uint64_t)(uintptr_t)weft__ctx_start;
	ctx->sp = sp;
}
#endif
