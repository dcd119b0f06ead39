/* SPDX-License-Identifier: MIT */
/*
 * The porting layer: the context switch, the CPU's spin-wait hint and the
 * thread-local read that survives a suspension. The only header that knows
 * which architecture's switch_<arch>.S is built (meson picks the same one);
 * a port touches this folder and nothing else.
 */
#ifndef WEFT_FIBER_SWITCH_H
#define WEFT_FIBER_SWITCH_H

#include <stddef.h>
#include <stdint.h>

/* A suspended context: everything else lives on its own stack. */
struct weft__ctx {
	void *sp;
};

#if defined(__x86_64__)
/* Saved by the switch: rbx rbp r12-r15, MXCSR and the x87 control word. */
#define WEFT__CTX_INIT_FRAME 80
/* weft__ctx_start's length: a return address within it is a fiber's
 * outermost frame. */
#define WEFT__CTX_START_LEN 16
/* The stack pointer a signal interrupted, from its ucontext_t * (the
 * includer includes <ucontext.h>). */
#define WEFT__UCTX_SP(uc)                                                                          \
	((const void *)(uintptr_t)((const ucontext_t *)(uc))->uc_mcontext.gregs[REG_RSP])
#else
#error "weft: no context switch for this architecture yet (x86-64 only)"
#endif

/* What a suspended context saved, for unwinders (fiber/backtrace.c):
 * where it resumes (a return address), its stack pointer once resumed,
 * and the callee-saved registers. */
struct weft__ctx_regs {
	uintptr_t pc, sp, fp, rbx, r12, r13, r14, r15;
};

#if defined(__x86_64__)
/* The frame weft__ctx_switch leaves (switch_x86_64.S): control words,
 * r15 r14 r13 r12 rbx rbp, then the return address. */
static inline void weft__ctx_saved(const struct weft__ctx *ctx, struct weft__ctx_regs *r)
{
	const uint64_t *sp = ctx->sp;
	r->r15 = sp[1];
	r->r14 = sp[2];
	r->r13 = sp[3];
	r->r12 = sp[4];
	r->rbx = sp[5];
	r->fp = sp[6];
	r->pc = sp[7];
	r->sp = (uintptr_t)(sp + 8);
}
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

/* The spin-wait hint (x86 PAUSE): every busy-wait loop calls it. */
static inline void weft__cpu_relax(void)
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#endif
}

/*
 * Reads the initial-exec thread-local pointer `var` afresh. GCC and Clang
 * keep thread-local addresses across calls, and a migratable task may
 * resume on another thread, so a plain read after a suspension could see
 * the previous thread's value. An asm volatile can be neither merged nor
 * hoisted, and costs two instructions, no call.
 */
#if defined(__x86_64__)
#define WEFT__TLS_LOAD(type, var)                                                                  \
	__extension__({                                                                            \
		type v_;                                                                           \
		__asm__ volatile("movq " #var "@gottpoff(%%rip), %0\n\t"                           \
				 "movq %%fs:(%0), %0"                                              \
				 : "=r"(v_));                                                      \
		v_;                                                                                \
	})
#endif

#endif
