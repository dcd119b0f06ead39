/* SPDX-License-Identifier: MIT */
/* An operation done as a plain syscall (io/syscall.c). */
#ifndef WEFT_IO_SYSCALL_H
#define WEFT_IO_SYSCALL_H

#include <stdbool.h>
#include <stdint.h>

#include "io/backend.h"

/*
 * Does req's syscall on the calling thread: with `nowait`, one that never
 * blocks (MSG_DONTWAIT, RWF_NOWAIT, a zero poll timeout) and may return
 * -EAGAIN; accept and connect are never made non-blocking here (the
 * caller knows whether the descriptor is). Returns the result or -errno;
 * -EINVAL for the pool kinds.
 */
int64_t weft__io_syscall(const struct weft__io_req *req, bool nowait);

#endif
