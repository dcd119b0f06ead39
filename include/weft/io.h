/* SPDX-License-Identifier: MIT */
/*
 * Raw operations: the POSIX calls, run on the ring of the worker the
 * calling task runs on, suspending only that task (asyncio's
 * loop.sock_recv / sock_sendall / sock_accept / sock_connect shape, and
 * file I/O). Each takes plain (pointer, length) like its syscall: a task
 * suspends with its whole stack, so the caller's buffer stays valid until
 * the operation ends. Each returns what the syscall would (bytes, a
 * descriptor, 0) or -errno; a short read or write is a result, never an
 * error. Descriptors need not be non-blocking.
 *
 * Common rules for every call here:
 * - Inside a task only; anywhere else: -EPERM (nothing is done). They may
 *   suspend the calling task, never its worker.
 * - Cancellation (weft_cancel of the task, a timeout scope, weft_wait_for,
 *   runtime shutdown): the operation is asked to stop (io_uring's
 *   ASYNC_CANCEL) and the task waits for its real end, because until then
 *   the kernel may still write into the caller's buffer. If it ends
 *   -ECANCELED, that is the delivery of the cancellation. If it completed
 *   first (bytes received, a connection accepted, connect done, an error),
 *   that outcome is returned and the cancellation stays pending for the
 *   task's next suspension point: nothing read from a socket is ever lost.
 *   A cancellation already pending when the call starts is delivered at
 *   once (-ECANCELED) and nothing is submitted.
 * - weft_close from another task ends the operations in flight on the
 *   descriptor with -EBADF (not -ECANCELED: a task group reads it as a
 *   failure, not as a cancellation).
 * - Sends never raise SIGPIPE (MSG_NOSIGNAL is added): a closed peer is
 *   -EPIPE.
 * - On the epoll backend (weft_config.backend, weft/runtime.h) the same
 *   calls and results, done differently: an operation is tried at once
 *   without blocking (MSG_DONTWAIT, RWF_NOWAIT; weft never sets
 *   O_NONBLOCK on your descriptor) and otherwise waits for readiness. A
 *   cancel of an operation still waiting removes it before any syscall:
 *   it ends -ECANCELED and never half-completes (io_uring may return a
 *   result that raced the cancel). What epoll cannot wait for runs on
 *   the blocking pool (weft/thread.h), with to_thread's cancellation: a
 *   call not started is dropped (-ECANCELED), a started one is waited
 *   for and weft_close waits for it too: weft_openat, weft_fsync,
 *   weft_statx, reads and writes of regular files (unless the page cache
 *   serves them at once) and of descriptors that refuse RWF_NOWAIT (a
 *   terminal: a read there waits for input and a cancel cannot stop it),
 *   and weft_connect on a blocking socket. weft_accept on a listener you
 *   left blocking accepts only after readiness; another thread accepting
 *   from it at the same moment can then block the worker: make shared
 *   listeners non-blocking. weft_recv_pooled always uses heap buffers.
 *   A socket closed with plain close() whose number then names a file
 *   weft did not make (your socket(), accept4 or dup2) may see its first
 *   wait end up to ~1 ms late (weft_close, and files weft makes, never).
 */
#ifndef WEFT_IO_H
#define WEFT_IO_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <weft/common.h>

WEFT_BEGIN_DECLS

struct statx;

/* The offset that means "the descriptor's current position". */
#define WEFT_IO_CURRENT ((int64_t)-1)

/* read(2)/pread(2): up to len bytes at offset (WEFT_IO_CURRENT: the current
 * position, which advances); 0 at end of file. */
WEFT_API ssize_t weft_read(int fd, void *buf, size_t len, int64_t offset);
/* write(2)/pwrite(2). */
WEFT_API ssize_t weft_write(int fd, const void *buf, size_t len, int64_t offset);
/* readv(2)/preadv(2); iovcnt at most IOV_MAX. */
WEFT_API ssize_t weft_readv(int fd, const struct iovec *iov, int iovcnt, int64_t offset);
/* writev(2)/pwritev(2). */
WEFT_API ssize_t weft_writev(int fd, const struct iovec *iov, int iovcnt, int64_t offset);

/* recv(2): at most len bytes, single-shot into buf; 0 when the peer shut
 * down its side. */
WEFT_API ssize_t weft_recv(int fd, void *buf, size_t len, int flags);

/* A buffer lent by weft_recv_pooled: `len` bytes at `data`, the caller's
 * to read (and write) until weft_iobuf_release. The other fields are
 * weft's. */
typedef struct weft_iobuf {
	void *data;
	size_t len;
	void *owner_;  /* the worker whose pool lent it; NULL: a heap buffer */
	unsigned id_;
} weft_iobuf;

/* The most one weft_recv_pooled receives. */
#define WEFT_IOBUF_SIZE 4096

/*
 * recv(2) into a buffer weft picks when data arrives, from its worker's
 * pool of provided buffers (io_uring's buffer rings): a task waiting here
 * holds no buffer, so idle connections cost none. On success (> 0) *out
 * lends at most WEFT_IOBUF_SIZE received bytes; give them back with
 * weft_iobuf_release. 0 (the peer shut down) and errors lend nothing
 * (out->data NULL). A worker's pool starts at 32 buffers and grows by 32
 * whenever a receive finds none, up to 1,024 (4 MiB); a receive that
 * finds none, and every receive where the pool is unavailable (the
 * kernel refused a buffer ring, cfg.ring_no_buffers), gets its bytes in a
 * heap buffer instead: never an error of its own. Cancellation, close and the
 * other rules as for every call here; -EINVAL for a NULL out. Suspends.
 */
WEFT_API ssize_t weft_recv_pooled(int fd, weft_iobuf *out, int flags);

/*
 * Gives a buffer from weft_recv_pooled back (a no-op when out->data is
 * NULL; out->data is NULL afterwards). Never suspends. Any thread, while
 * the runtime that lent it runs (a buffer is given back to the worker that
 * lent it; from another thread it is put back before that worker's next
 * pooled receive). Every lent buffer must be released before
 * weft_runtime_destroy returns.
 */
WEFT_API void weft_iobuf_release(weft_iobuf *buf);
/* send(2) with MSG_NOSIGNAL; may send less than len (a short send). */
WEFT_API ssize_t weft_send(int fd, const void *buf, size_t len, int flags);
/* recvmsg(2). */
WEFT_API ssize_t weft_recvmsg(int fd, struct msghdr *msg, int flags);
/* sendmsg(2) with MSG_NOSIGNAL. */
WEFT_API ssize_t weft_sendmsg(int fd, const struct msghdr *msg, int flags);

/* accept4(2): a new connected descriptor (flags: SOCK_CLOEXEC is always
 * added; SOCK_NONBLOCK as asked). addr/addrlen may be NULL. */
WEFT_API int weft_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
/* connect(2) on a socket the caller made; 0 when connected. */
WEFT_API int weft_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
/* shutdown(2). */
WEFT_API int weft_shutdown(int fd, int how);

/*
 * close(2), after the operations weft has in flight on fd (from any task,
 * on any worker) have ended: each is cancelled and ends -EBADF in its
 * task. Always closes, even when it also delivers a pending cancellation
 * (then -ECANCELED, with fd closed). -EBADF if another weft_close of fd is
 * under way; otherwise close(2)'s result. Only descriptors whose
 * operations went through weft need it; close(2) is fine for others.
 */
WEFT_API int weft_close(int fd);

/* openat(2) (O_CLOEXEC is always added): a new descriptor. */
WEFT_API int weft_openat(int dirfd, const char *path, int flags, mode_t mode);
/* fsync(2), or fdatasync(2) when datasync. */
WEFT_API int weft_fsync(int fd, bool datasync);
/* statx(2) into *out. */
WEFT_API int weft_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out);

/*
 * Waits until fd is ready for `events` (POLLIN, POLLOUT, ... of poll(2)),
 * for code that makes its own non-blocking syscalls (asyncio's
 * add_reader/add_writer shape). Returns the ready events (> 0),
 * -ETIMEDOUT after `timeout` seconds (WEFT_FOREVER: none; <= 0: a check
 * only, never suspending longer than a turn), or -errno.
 */
WEFT_API int weft_wait_fd(int fd, unsigned events, double timeout);

WEFT_END_DECLS

#endif
