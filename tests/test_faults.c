/* SPDX-License-Identifier: MIT */
/*
 * Fault injection (STYLE.md, after neco's fail counters): this program
 * defines the malloc family and mmap/munmap itself, counts what is live,
 * and once armed fails the Nth call. weft is linked in statically and
 * glibc routes its own allocations to a replacement malloc, so every
 * allocation and mapping a runtime creation makes passes here: a creation
 * that fails at any step must return an error and leave nothing behind.
 *
 * Sanitizers bring their own malloc; these tests skip there.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test_util.h"

#include "fiber/sanitizer.h" /* WEFT_SANITIZED */

#ifndef WEFT_SANITIZED

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);
void *__libc_memalign(size_t align, size_t n);

static atomic_long live_allocs; /* allocations minus frees, ever */
static atomic_long live_maps;   /* mmaps minus munmaps, ever */
static atomic_bool armed;       /* fail the fail_in-th call from now on */
static atomic_long fail_in;
static atomic_bool fired;
static atomic_bool alloc_kind;  /* armed for allocations (else for mmaps) */
/* Only mmaps matching these fail when set (0: any). */
static size_t map_len_only;

static bool fail_now(bool alloc)
{
	if (!atomic_load_explicit(&armed, memory_order_relaxed) || atomic_load(&alloc_kind) != alloc)
		return false;
	if (atomic_fetch_sub(&fail_in, 1) != 1)
		return false;
	atomic_store(&fired, true);
	return true;
}

static void *counted(void *p)
{
	if (p)
		atomic_fetch_add_explicit(&live_allocs, 1, memory_order_relaxed);
	return p;
}

void *malloc(size_t n)
{
	if (fail_now(true)) {
		errno = ENOMEM;
		return NULL;
	}
	return counted(__libc_malloc(n));
}

void *calloc(size_t n, size_t size)
{
	if (fail_now(true)) {
		errno = ENOMEM;
		return NULL;
	}
	return counted(__libc_calloc(n, size));
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	if (fail_now(true)) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(p, n);
}

void free(void *p)
{
	if (p)
		atomic_fetch_sub_explicit(&live_allocs, 1, memory_order_relaxed);
	__libc_free(p);
}

void *memalign(size_t align, size_t n)
{
	if (fail_now(true)) {
		errno = ENOMEM;
		return NULL;
	}
	return counted(__libc_memalign(align, n));
}

void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p = memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *valloc(size_t n)
{
	return memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

void *pvalloc(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return memalign(page, (n + page - 1) & ~(page - 1));
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if ((!map_len_only || len == map_len_only) && fail_now(false)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	long p = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if (p == -1)
		return MAP_FAILED;
	atomic_fetch_add_explicit(&live_maps, 1, memory_order_relaxed);
	return (void *)p;
}

int munmap(void *addr, size_t len)
{
	int rc = (int)syscall(SYS_munmap, addr, len);
	if (rc == 0)
		atomic_fetch_sub_explicit(&live_maps, 1, memory_order_relaxed);
	return rc;
}

static void arm(bool alloc, long n)
{
	atomic_store(&fired, false);
	atomic_store(&alloc_kind, alloc);
	atomic_store(&fail_in, n);
	atomic_store(&armed, true);
}

static bool disarm(void)
{
	atomic_store(&armed, false);
	return atomic_load(&fired);
}

/* Creation with the n-th allocation (or mapping) failing, for every n
 * until one creation no longer reaches the fault: each ends in 0 or an
 * error code, and once it failed (or was destroyed) every allocation and
 * mapping is gone. */
static void fail_each(bool alloc, unsigned workers)
{
	weft_config cfg = tu_config(workers);
	weft_runtime *rt = NULL;
	/* Warm-up: what glibc keeps for good after a first thread. */
	int rc = weft_runtime_create(&cfg, &rt);
	if (rc == WEFT_ENOURING)
		cr_skip_test("SKIP: io_uring is not available here");
	cr_assert_eq(rc, 0);
	weft_runtime_destroy(rt);
	long allocs0 = atomic_load(&live_allocs), maps0 = atomic_load(&live_maps);
	int failures = 0;
	for (long n = 1;; n++) {
		arm(alloc, n);
		rt = NULL;
		rc = weft_runtime_create(&cfg, &rt);
		bool hit = disarm();
		if (rc == 0) {
			cr_assert_not_null(rt);
			weft_runtime_destroy(rt);
		} else {
			cr_assert_lt(rc, 0, "%s %ld: %d", alloc ? "allocation" : "mmap", n, rc);
			cr_assert_null(rt);
			failures++;
		}
		cr_assert_eq(atomic_load(&live_allocs), allocs0,
			     "%s %ld failed (create: %s): %ld allocations left behind",
			     alloc ? "allocation" : "mmap", n, rc ? weft_strerror(rc) : "ok",
			     atomic_load(&live_allocs) - allocs0);
		cr_assert_eq(atomic_load(&live_maps), maps0,
			     "%s %ld failed (create: %s): %ld mappings left behind",
			     alloc ? "allocation" : "mmap", n, rc ? weft_strerror(rc) : "ok",
			     atomic_load(&live_maps) - maps0);
		if (!hit)
			break;
		cr_assert_lt(n, 10000, "creation never stops allocating?");
	}
	cr_assert_gt(failures, 0, "no injected fault made creation fail");
}

/* Creation used to leave the scheduler's and core's state behind when a
 * later step failed ("released by the process on this rare path"). */
Test(faults, runtime_create_fails_cleanly_at_each_allocation, .timeout = 60)
{
	fail_each(true, 1);
	fail_each(true, 3);
}

Test(faults, runtime_create_fails_cleanly_at_each_mmap, .timeout = 60)
{
	fail_each(false, 1);
	fail_each(false, 3);
}

/* A worker without its alternate signal stack cannot report an overflow
 * (the handler would run on the overflowed stack): the start fails
 * instead of going on without it. */
Test(faults, altstack_failure_fails_the_start, .timeout = 60)
{
	map_len_only = 64 * 1024; /* guard.c's ALTSTACK_SIZE: nothing else maps that */
	for (unsigned workers = 1; workers <= 3; workers += 2) {
		weft_config cfg = tu_config(workers);
		cfg.debug = true;
		weft_runtime *rt = NULL;
		char text[2048];
		arm(false, (long)workers); /* the last worker's */
		int rc = tu_create_capturing_stderr(&cfg, &rt, text, sizeof(text));
		bool hit = disarm();
		if (rc == WEFT_ENOURING)
			cr_skip_test("SKIP: io_uring is not available here");
		if (rc == 0)
			weft_runtime_destroy(rt);
		cr_assert(hit, "no 64 KiB mapping was made: is the alternate stack's size still that?");
		cr_assert_eq(rc, -ENOMEM, "%u workers: got %s", workers, weft_strerror(rc));
		cr_assert_null(rt);
		cr_assert_not_null(strstr(text, "alternate signal stack"), "stderr: %s", text);
	}
	map_len_only = 0;
}

#else

Test(faults, runtime_create_fails_cleanly_at_each_allocation)
{
	cr_skip_test("SKIP: sanitizers own malloc here (the plain build runs this)");
}

Test(faults, runtime_create_fails_cleanly_at_each_mmap)
{
	cr_skip_test("SKIP: sanitizers own malloc here (the plain build runs this)");
}

Test(faults, altstack_failure_fails_the_start)
{
	cr_skip_test("SKIP: sanitizers own malloc here (the plain build runs this)");
}

#endif
