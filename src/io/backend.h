/* SPDX-License-Identifier: MIT */
/*
 * The I/O backend of one worker: where it parks, how it is woken, and where
 * its tasks' operations are submitted and reaped. Only the owning worker
 * thread submits, reaps or parks (an io_uring set up SINGLE_ISSUER binds
 * the creating thread); any thread may wake it. It knows no task, future or
 * stream: an operation is a record whose complete() runs on the owner when
 * it ends.
 *
 * Two implementations: io_uring (io/uring.c, io/pool.c) and a readiness
 * backend on epoll (io/epoll.c) for where io_uring is refused. Each
 * worker picks one at weft__io_init; every function below dispatches on
 * it with one predictable branch (io/backend.c, decision 50). Nothing
 * outside src/io names a liburing or epoll type.
 */
#ifndef WEFT_IO_BACKEND_H
#define WEFT_IO_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/runtime.h>

struct weft__io_ring; /* the io_uring backend's own state (io/ring.h) */
struct weft__io_ep;   /* the epoll backend's own state (io/epoll.c) */

/* The largest cfg.ring_entries: the completion queue is 4x the submission
 * queue, and the kernel allows at most 65536 completion entries. */
#define WEFT__IO_ENTRIES_MAX 16384u

struct weft__io {
	struct weft__io_ring *ring; /* io_uring: NULL until weft__io_init
	                             * succeeds, and with the epoll backend */
	struct weft__io_ep *ep;     /* epoll: non-NULL when this worker uses
	                             * the readiness backend */
	unsigned inflight;          /* operations submitted and not yet
	                             * completed (counted by submit) */
	unsigned queued;            /* requests (operations, cancels) queued
	                             * and not yet handed to the kernel: the
	                             * loop flushes them once per turn */
	/* Metrics (weft/metrics.h): requests handed to the kernel and
	 * completions reaped, its own wakes and cancels included. Only the
	 * owner writes them; any thread reads them. */
	_Atomic uint64_t submitted, completed;
};

/* Owner only: adds n to one of io's metrics (one writer: no RMW;
 * relaxed: a metric orders nothing). */
static inline void weft__io_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* What an operation asks of the kernel; read by weft__io_submit only, so
 * it may live on the caller's stack. */
enum weft__io_kind {
	WEFT__IO_READ,     /* fd, buf, len, off (UINT64_MAX: the current position) */
	WEFT__IO_WRITE,    /* fd, buf, len, off */
	WEFT__IO_READV,    /* fd, buf: iovec array, len: count, off */
	WEFT__IO_WRITEV,   /* fd, buf: iovec array, len: count, off */
	WEFT__IO_RECV,     /* fd, buf, len, flags (MSG_*) */
	WEFT__IO_SEND,     /* fd, buf, len, flags (MSG_*) */
	WEFT__IO_RECVMSG,  /* fd, buf: struct msghdr, flags */
	WEFT__IO_SENDMSG,  /* fd, buf: struct msghdr, flags */
	WEFT__IO_ACCEPT,   /* fd, buf: sockaddr out, out: socklen_t *, flags (SOCK_*) */
	WEFT__IO_CONNECT,  /* fd, buf: sockaddr, len: its length */
	WEFT__IO_SHUTDOWN, /* fd, len: how */
	WEFT__IO_OPENAT,   /* fd: dirfd, buf: path, flags, off: mode */
	WEFT__IO_FSYNC,    /* fd, flags (IORING_FSYNC_DATASYNC as 1) */
	WEFT__IO_STATX,    /* fd: dirfd, buf: path, flags, len: mask, out: struct statx */
	WEFT__IO_POLL,     /* fd, len: poll events */
	WEFT__IO_RECV_POOL,  /* fd, flags, len (0: a whole buffer): one
	                      * receive into a buffer of the worker's pool
	                      * (weft__io_pool_enable first) */
	WEFT__IO_READ_POOL,  /* fd, len: the same as a read(2) at the current
	                      * position (pipes) */
};
#define WEFT__IO_KIND_LAST WEFT__IO_READ_POOL

/* A completion flag given to complete() (the kernel's own value). */
enum {
	WEFT__IO_F_BUFFER = 1u << 0, /* carries a pool buffer: weft__io_pool_buf */
};

struct weft__io_req {
	unsigned char kind; /* enum weft__io_kind */
	int fd;
	int flags;
	uint32_t len;
	void *buf;
	void *out;
	uint64_t off;
};

/* An operation record: complete() runs on the owning worker when its
 * completion is reaped, with the syscall's result (or -errno); it may
 * submit again (the same record included). The record must stay valid
 * until then. */
struct weft__io_op {
	void (*complete)(struct weft__io_op *op, int res, unsigned flags);
	uint32_t gen; /* bumped by each submit: a cancel names (op, gen), so it
	               * never hits a later use of the record */
	bool keep;    /* its complete() usually submits again on the same
	               * descriptor, on the owner, and only the owner closes
	               * that descriptor (a stream's): the epoll backend keeps
	               * its registration across completions */
	void *be;     /* the epoll backend's record of the operation in
	               * flight (checked against gen); unused by io_uring */
};

/*
 * Owner only: queues the operation req for op (op->gen is bumped: the
 * caller keeps it to cancel). Handed to the kernel at the loop's next
 * flush or park, never lost: a full submission queue is flushed first.
 * The epoll backend instead tries the syscall at once without blocking
 * (MSG_DONTWAIT, RWF_NOWAIT) and else waits for readiness; complete()
 * still runs only when the loop reaps. Returns 0, -EINVAL for a kind this
 * backend does not know, the pool's -errno for a pool receive when the
 * pool is not enabled, or -EOPNOTSUPP (epoll only) for an operation that
 * cannot be done without blocking the worker (openat, statx, fsync, and
 * reads and writes of descriptors epoll cannot wait on, such as regular
 * files): nothing is queued, and the caller runs it with
 * weft__io_run_blocking on a thread that may block.
 */
int weft__io_submit(struct weft__io *io, struct weft__io_op *op, const struct weft__io_req *req);

/*
 * Owner only: asks the kernel to end op's operation of generation gen if
 * it is still in flight. Its completion still comes, with -ECANCELED or
 * whatever it ended with first. On epoll an operation still waiting for
 * readiness has issued no syscall yet: it is removed and ends -ECANCELED,
 * never half done.
 */
void weft__io_cancel(struct weft__io *io, struct weft__io_op *op, uint32_t gen);

/*
 * Any thread that may block (a blocking-pool thread): does req's syscall
 * the ordinary blocking way and returns its result or -errno (what
 * weft__io_submit refused with -EOPNOTSUPP).
 */
int64_t weft__io_run_blocking(const struct weft__io_req *req);

/* Is this the readiness (epoll) backend? Sockets weft makes for it are
 * non-blocking (SOCK_NONBLOCK), so connect and accept never block. */
static inline bool weft__io_readiness(const struct weft__io *io)
{
	return io->ep != NULL;
}

/*
 * Any thread: fd is about to be closed by weft; the epoll backend removes
 * it from its epoll set (EPOLL_CTL_DEL: a dup'd descriptor would keep the
 * registration alive). Nothing of weft's may still wait on fd. A no-op on
 * io_uring.
 */
void weft__io_forget(const struct weft__io *io, int fd);

/*
 * Any thread: weft has just made fd (a socket, an accepted connection, a
 * pipe), a new file under a number an epoll worker may have registered
 * for an earlier one: the epoll backend will register it again before it
 * trusts a registration (decision 57). Cheap (one relaxed increment of
 * the number's word); does nothing for fd < 0.
 */
void weft__io_fd_new(int fd);

/*
 * The worker's pool of provided buffers (io_uring's IOU_PBUF_RING, with
 * the worker as its one producer): a receive that selects a buffer holds
 * none while it waits, so an idle connection costs no buffer. It starts
 * with WEFT__IO_POOL_FIRST buffers of WEFT__IO_POOL_SIZE bytes and grows
 * by as many each time a receive finds none, up to WEFT__IO_POOL_MAX;
 * the memory is reserved on first use and touched only as the kernel
 * fills buffers.
 */
enum { WEFT__IO_POOL_SIZE = 4096, WEFT__IO_POOL_FIRST = 32, WEFT__IO_POOL_MAX = 1024 };

/* Owner only: makes the pool (first call) and says whether it is there:
 * 0, or the -errno its set-up failed with (then the callers receive into
 * buffers of their own; the set-up is not tried again). The epoll backend
 * has no pool: -EOPNOTSUPP. */
int weft__io_pool_enable(struct weft__io *io);

/* Owner only: the pool buffer a completion with WEFT__IO_F_BUFFER in
 * `flags` carries, its index in *bid; NULL when it carries none. The
 * buffer is the caller's until weft__io_pool_put. */
void *weft__io_pool_buf(struct weft__io *io, unsigned flags, unsigned *bid);

/* Owner only: after a pool receive ended -ENOBUFS, adds buffers (up to
 * WEFT__IO_POOL_MAX): the next bursts of that size find one. */
void weft__io_pool_grow(struct weft__io *io);

/* Owner only: gives buffer bid back to the ring. */
void weft__io_pool_put(struct weft__io *io, unsigned bid);

/* Any thread, while the owner runs: gives buffer bid back; the owner puts
 * it on the ring before its next pool receive. */
void weft__io_pool_give_back(const struct weft__io *io, unsigned bid);

/* Owner only: are completions, or deferred kernel work that makes them,
 * waiting to be reaped? A few loads, no syscall. (epoll: results already
 * known, or, for a busy worker, one look at the kernel every 61 calls;
 * every call with one worker.) */
bool weft__io_ready(const struct weft__io *io);

/* Owner only, for a worker that is idle and spinning: weft__io_ready, but
 * epoll says yes whenever an operation waits for readiness (the worker
 * has nothing better to do than look at the kernel). */
bool weft__io_ready_idle(const struct weft__io *io);

/*
 * Sets the backend up on the calling (worker) thread, as cfg->backend
 * says (WEFT_BACKEND was folded in by weft_runtime_create): io_uring with
 * SINGLE_ISSUER | DEFER_TASKRUN, else COOP_TASKRUN, else plain
 * (cfg->ring_no_defer forces the fallback; cfg->ring_entries sizes it);
 * epoll; or auto: io_uring, and epoll when io_uring is refused (ENOSYS,
 * EPERM, or io_uring_enter refused) or its ring cannot be had (ENOMEM),
 * leaving io_uring's failure in why (for debug mode's notice). Returns
 * 0, or the -errno (WEFT_ENOURING for a refused io_uring) with the
 * reason written to why.
 */
int weft__io_init(struct weft__io *io, const weft_config *cfg, char *why, size_t cap);

/* Closes it (after the owner has stopped; a no-op if init failed). */
void weft__io_exit(struct weft__io *io);

/* Wakes the owner of `to` from the owner of `from` (a worker of the same
 * runtime: MSG_RING, falling back to the eventfd). */
void weft__io_wake_from(struct weft__io *from, const struct weft__io *to);

/* Wakes the owner of `to` from any thread (its eventfd). */
void weft__io_wake_foreign(const struct weft__io *to);

/* Owner only: blocks until a completion arrives (a wake, an operation) or
 * timeout_ns pass (UINT64_MAX: no timeout), then reaps what is there. */
void weft__io_park(struct weft__io *io, uint64_t timeout_ns);

/* Owner only: submits what is queued and reaps the completions already
 * there, without blocking. */
void weft__io_poll(struct weft__io *io);

#endif
