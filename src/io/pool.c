/* SPDX-License-Identifier: MIT */
/*
 * The worker's provided-buffer ring (io/backend.h). One buffer group
 * (id 0) per ring; only the owner adds buffers, so the ring's tail needs
 * no atomic beyond the release store that publishes it. The ring has
 * room for WEFT__IO_POOL_MAX entries from the start (16 B each, pinned by
 * the kernel); buffers join it as the load asks for them.
 */
#include <errno.h>
#include <sys/mman.h>

#include "io/impl.h"
#include "io/ring.h"

_Static_assert((WEFT__IO_POOL_MAX & (WEFT__IO_POOL_MAX - 1)) == 0 && WEFT__IO_POOL_MAX <= 32768 &&
		       WEFT__IO_POOL_MAX % WEFT__IO_POOL_FIRST == 0,
	       "a buffer ring's size is a power of two, below 2^15");
_Static_assert(WEFT__IO_F_BUFFER == IORING_CQE_F_BUFFER, "the completion flag is the kernel's");

enum { BGID = 0 };

static size_t ring_bytes(void)
{
	return WEFT__IO_POOL_MAX * sizeof(struct io_uring_buf);
}

int weft__uring_pool_enable(struct weft__io *io)
{
	struct weft__io_ring *r = io->ring;
	struct weft__io_pool *p = &r->pool;
	if (p->state)
		return p->state > 0 ? 0 : p->state;
	/* The ring must be page-aligned (the kernel pins it); the buffers
	 * are a separate mapping, untouched until the kernel writes them. */
	void *br = mmap(NULL, ring_bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *mem = mmap(NULL, (size_t)WEFT__IO_POOL_MAX * WEFT__IO_POOL_SIZE,
			 PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED || mem == MAP_FAILED) {
		p->state = -ENOMEM;
		goto fail;
	}
	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)br,
		.ring_entries = WEFT__IO_POOL_MAX,
		.bgid = BGID,
	};
	/* fails on kernels before 5.19 (-EINVAL) or over RLIMIT_MEMLOCK */
	int rc = io_uring_register_buf_ring(&r->ring, &reg, 0);
	if (rc) {
		p->state = rc < 0 ? rc : -EINVAL;
		goto fail;
	}
	p->br = br;
	p->mem = mem;
	io_uring_buf_ring_init(p->br);
	p->state = 1;
	weft__io_pool_grow(io);
	return 0;
fail:
	if (br != MAP_FAILED)
		munmap(br, ring_bytes());
	if (mem != MAP_FAILED)
		munmap(mem, (size_t)WEFT__IO_POOL_MAX * WEFT__IO_POOL_SIZE);
	return p->state;
}

void weft__io_pool_grow(struct weft__io *io)
{
	struct weft__io_pool *p = &io->ring->pool;
	if (p->state <= 0 || p->made == WEFT__IO_POOL_MAX)
		return;
	int mask = io_uring_buf_ring_mask(WEFT__IO_POOL_MAX);
	for (unsigned i = 0; i < WEFT__IO_POOL_FIRST; i++) {
		unsigned bid = p->made + i;
		io_uring_buf_ring_add(p->br, p->mem + (size_t)bid * WEFT__IO_POOL_SIZE,
				      WEFT__IO_POOL_SIZE, (unsigned short)bid, mask, (int)i);
	}
	io_uring_buf_ring_advance(p->br, WEFT__IO_POOL_FIRST);
	p->made += WEFT__IO_POOL_FIRST;
}

void *weft__io_pool_buf(struct weft__io *io, unsigned flags, unsigned *bid)
{
	struct weft__io_pool *p = &io->ring->pool;
	if (!(flags & IORING_CQE_F_BUFFER) || p->state <= 0)
		return NULL;
	unsigned b = flags >> IORING_CQE_BUFFER_SHIFT;
	*bid = b;
	return p->mem + (size_t)b * WEFT__IO_POOL_SIZE;
}

void weft__io_pool_put(struct weft__io *io, unsigned bid)
{
	struct weft__io_pool *p = &io->ring->pool;
	io_uring_buf_ring_add(p->br, p->mem + (size_t)bid * WEFT__IO_POOL_SIZE, WEFT__IO_POOL_SIZE,
			      (unsigned short)bid, io_uring_buf_ring_mask(WEFT__IO_POOL_MAX), 0);
	io_uring_buf_ring_advance(p->br, 1);
}

void weft__io_pool_give_back(const struct weft__io *io, unsigned bid)
{
	struct weft__io_pool *p = &io->ring->pool;
	/* release: the owner's acquire exchange sees the holder done with it */
	atomic_fetch_or_explicit(&p->returned[bid / 64], (uint64_t)1 << (bid % 64),
				 memory_order_release);
	atomic_store_explicit(&p->any_returned, true, memory_order_release);
}

void weft__io_pool_drain(struct weft__io *io)
{
	struct weft__io_pool *p = &io->ring->pool;
	if (!atomic_load_explicit(&p->any_returned, memory_order_relaxed))
		return;
	atomic_store_explicit(&p->any_returned, false, memory_order_relaxed);
	int mask = io_uring_buf_ring_mask(WEFT__IO_POOL_MAX);
	int n = 0;
	for (unsigned w = 0; w < WEFT__IO_POOL_MAX / 64; w++) {
		uint64_t bits = atomic_exchange_explicit(&p->returned[w], 0, memory_order_acquire);
		while (bits) {
			unsigned bid = w * 64 + (unsigned)__builtin_ctzll(bits);
			bits &= bits - 1;
			io_uring_buf_ring_add(p->br, p->mem + (size_t)bid * WEFT__IO_POOL_SIZE,
					      WEFT__IO_POOL_SIZE, (unsigned short)bid, mask, n++);
		}
	}
	if (n)
		io_uring_buf_ring_advance(p->br, n);
}

void weft__io_pool_exit(struct weft__io_pool *p)
{
	if (p->state <= 0)
		return;
	munmap(p->br, ring_bytes());
	munmap(p->mem, (size_t)WEFT__IO_POOL_MAX * WEFT__IO_POOL_SIZE);
	p->state = 0;
}
