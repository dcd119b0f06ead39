/* SPDX-License-Identifier: MIT */
/* weft: asyncio's tasks and futures in C, on work-stealing io_uring workers. */
#ifndef WEFT_H
#define WEFT_H

#include <weft/call.h>
#include <weft/common.h>
#include <weft/error.h>
#include <weft/future.h>
#include <weft/gather.h>
#include <weft/inspect.h>
#include <weft/io.h>
#include <weft/local.h>
#include <weft/metrics.h>
#include <weft/net.h>
#include <weft/queue.h>
#include <weft/runtime.h>
#include <weft/signal.h>
#include <weft/stream.h>
#include <weft/subprocess.h>
#include <weft/sync.h>
#include <weft/task.h>
#include <weft/taskgroup.h>
#include <weft/thread.h>
#include <weft/time.h>
#include <weft/timeout.h>
#include <weft/wait.h>

#endif
