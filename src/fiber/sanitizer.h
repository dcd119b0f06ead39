/* SPDX-License-Identifier: MIT */
/*
 * Telling ASan, TSan and Valgrind about fiber switches. Everything here
 * compiles to nothing in a plain build.
 */
#ifndef WEFT_FIBER_SANITIZER_H
#define WEFT_FIBER_SANITIZER_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN_ON 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN_ON 1
#endif
#endif

#if defined(WEFT_ASAN) || defined(WEFT_TSAN_ON)
#define WEFT_SANITIZED 1
#endif

#ifdef WEFT_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
				     size_t *size_old);
#define weft__asan_start(save, lo, size) __sanitizer_start_switch_fiber((save), (lo), (size))
#define weft__asan_finish(save) __sanitizer_finish_switch_fiber((save), NULL, NULL)
#else
#define weft__asan_start(save, lo, size) ((void)(save), (void)(lo), (void)(size))
#define weft__asan_finish(save) ((void)(save))
#endif

#ifdef WEFT_TSAN_ON
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
void __tsan_func_exit(void);
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define weft__tsan_current() __tsan_get_current_fiber()
#define weft__tsan_create() __tsan_create_fiber(0)
#define weft__tsan_destroy(f) __tsan_destroy_fiber(f)
/* flags 0: the switch synchronises, as two fibers of one worker really are
 * ordered by that thread. */
#define weft__tsan_switch(f) __tsan_switch_to_fiber((f), 0)
#define weft__tsan_func_exit() __tsan_func_exit()
#else
#define weft__tsan_current() NULL
#define weft__tsan_create() NULL
#define weft__tsan_destroy(f) ((void)(f))
#define weft__tsan_switch(f) ((void)(f))
#define weft__tsan_func_exit() ((void)0)
#endif

#endif
