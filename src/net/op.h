/* SPDX-License-Identifier: MIT */
/*
 * A task waiting for one I/O operation on its worker's ring, and the
 * per-descriptor registry weft_close uses (src/net/op.c). Everything that
 * suspends on a kernel operation goes through weft__op_run.
 */
#ifndef WEFT_NET_OP_H
#define WEFT_NET_OP_H

#include <stdint.h>

#include "io/backend.h"

/*
 * Runs req on the calling task's worker and waits for it (io.h's rules:
 * cancellation asks the kernel to stop and waits for the real end; a
 * pending cancel is delivered before anything is submitted; an operation
 * ended by weft_close returns -EBADF). req->fd is registered for
 * weft_close unless `untracked`. Returns the operation's result (>= 0) or
 * -errno; -EPERM outside a task. Suspends.
 */
int64_t weft__op_run(const struct weft__io_req *req, bool untracked);

/* The same, and the completion's flags in *cflags (a pool buffer it
 * carries: weft__io_pool_buf). A pool receive only after
 * weft__io_pool_enable succeeded on the calling task's worker. */
int64_t weft__op_run_flags(const struct weft__io_req *req, bool untracked, unsigned *cflags);

/*
 * fd is about to be closed by weft: removed from the epoll set of every
 * worker of the calling worker's runtime (a no-op on io_uring, and off a
 * worker: the kernel drops a registration with the file's last close).
 * Nothing of weft's may still wait on fd.
 */
void weft__fd_forget(int fd);

#endif
