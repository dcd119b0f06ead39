/* SPDX-License-Identifier: MIT */
/*
 * The runtime: N workers (OS threads), each an event loop on its own
 * io_uring ring, running tasks as fibers (see docs/architecture.md).
 *
 * asyncio.run(main())       -> weft_run(main, arg, &cfg, &result)
 * asyncio.Runner            -> weft_runtime_create / run / destroy
 */
#ifndef WEFT_RUNTIME_H
#define WEFT_RUNTIME_H

#include <weft/common.h>

WEFT_BEGIN_DECLS

/* How the stack-overflow SIGSEGV handler is installed. It reports a task
 * that ran past its stack (into its 64 KiB guard, or with its stack
 * pointer outside its stack: a frame larger than the guard) and a write
 * into any task stack's guard, naming the tasks, then aborts. A large
 * frame that writes only mapped memory beyond every guard is beyond it:
 * build task code with -fstack-clash-protection (README.md). */
enum weft_segv_mode {
	WEFT_SEGV_AUTO = 0, /* only if the process has no SIGSEGV handler yet */
	WEFT_SEGV_ALWAYS,   /* install, chaining to the previous handler */
	WEFT_SEGV_NEVER,    /* never install: a guard hit is a plain SIGSEGV */
};

/* Which I/O backend the workers use (weft_config.backend). */
enum weft_backend {
	WEFT_BACKEND_AUTO = 0,  /* io_uring; epoll where io_uring is refused
	                         * (io_uring_setup fails with ENOSYS or EPERM:
	                         * a container's seccomp profile, sysctl
	                         * kernel.io_uring_disabled; io_uring_enter
	                         * refused) or its ring's memory is refused
	                         * (ENOMEM); debug mode says so on stderr */
	WEFT_BACKEND_IO_URING,  /* io_uring only: its failure is the error */
	WEFT_BACKEND_EPOLL,     /* the readiness backend (epoll), always */
};

/*
 * Fill with weft_config_init() first, then change what you need. `size`
 * lets the struct grow without breaking the ABI: fields past it read as
 * defaults. Passing NULL where a config is taken means all defaults.
 */
typedef struct weft_config {
	size_t size;             /* set by weft_config_init: sizeof(weft_config) */
	unsigned workers;        /* 0: one per online CPU */
	size_t stack_size;       /* usable bytes per fiber stack; 0: 64 KiB
	                          * (4x under sanitizers); rounded up to pages,
	                          * at most 1 GiB, with a 64 KiB guard below
	                          * (but see small_stacks) */
	bool migratable;         /* every task may resume on any worker after a
	                          * suspension (default: on its home worker) */
	bool debug;              /* say on stderr what went wrong on misuse
	                          * (and what to do, where that is always
	                          * the same; a refused config field is
	                          * named), report a task step or callback
	                          * that keeps its worker over 100 ms (asyncio's
	                          * slow-callback warning; slow_step below),
	                          * a task or future that failed and whose
	                          * outcome nobody read by its last unref
	                          * (asyncio's "never retrieved"; a
	                          * cancellation is not a failure), each task
	                          * still pending that runtime shutdown
	                          * cancels, and name once per task function
	                          * one that returned -EPERM with no
	                          * weft_fail message (a POSIX-style -1?) */
	unsigned ring_entries;   /* io_uring SQ size per worker (the CQ is 4x);
	                          * 0: 256; at most 16384 */
	bool ring_no_defer;      /* skip SINGLE_ISSUER|DEFER_TASKRUN, use the
	                          * COOP_TASKRUN fallback (tests cover both) */
	bool pin_workers;        /* pin worker i to online CPU i mod ncpu */
	enum weft_segv_mode segv_handler;
	bool paused_clock;       /* tests: time inside the runtime moves only by
	                          * weft_clock_advance, or jumps to the next
	                          * timer when every task is idle (tokio's
	                          * start_paused); needs workers == 1 */
	/* The blocking pool that runs weft_to_thread calls (weft/thread.h). */
	unsigned blocking_threads_max; /* most pool threads at once; 0: 512
	                                * (tokio's default; asyncio's executor
	                                * has min(32, cpus + 4)); at most 65536 */
	double blocking_keepalive;     /* seconds an idle pool thread waits for
	                                * a call before it exits; 0: 10 (tokio's);
	                                * WEFT_FOREVER: never; negative or NaN
	                                * is -EINVAL */
	bool small_stacks;       /* small-stack mode, for memory-bound servers
	                          * with many idle tasks: each stack is exactly
	                          * stack_size bytes (0: 2 KiB; else a multiple
	                          * of 16 from 1 KiB to the page size, or
	                          * -EINVAL; 4x under sanitizers), packed with
	                          * no guard page. WEAKER than the guard: a
	                          * canary (32 bytes at the stack's low end) is
	                          * checked only when a task switches out
	                          * (suspends or finishes), and a mismatch
	                          * aborts with "weft: stack overflow in task
	                          * <name>" after the fact: the overflow may
	                          * already have corrupted another task's
	                          * stack, and one that skips the canary (a
	                          * large frame written in part) goes unseen.
	                          * Only for tasks that do little between
	                          * suspensions: await, sleep and spawn take
	                          * ~0.5-1.5 KiB; printf and the like need a
	                          * few KiB (use weft_to_thread), and so does
	                          * the dynamic linker's lazy binding of a
	                          * first call: link with -Wl,-z,now
	                          * (libweft itself is), or run with
	                          * LD_BIND_NOW=1 to cover every library */
	bool ring_no_buffers;    /* receive without the ring's provided
	                          * buffers: streams and weft_recv_pooled use
	                          * buffers of their own, as when the kernel
	                          * refuses a buffer ring (tests cover both) */
	size_t reserve_tasks;    /* for servers that want no allocation on
	                          * their hot path: weft_runtime_create maps
	                          * and touches the memory of this many tasks
	                          * and stacks (a stack's top page; a small
	                          * stack whole) and keeps it resident for
	                          * the runtime's life, so the first that many
	                          * tasks alive at once make no syscall and
	                          * fault no page for it (a task that goes
	                          * deeper than a page still faults the rest
	                          * of its stack in). Costs ~4.4 KB of memory
	                          * per task with default stacks. 0: none; at
	                          * most 16,777,216 (-EINVAL); -ENOMEM at
	                          * create if it cannot be mapped. ASan builds
	                          * allocate each task on its own, whatever
	                          * this says */
	enum weft_backend backend; /* WEFT_BACKEND_AUTO (the default), or one
	                          * forced; with AUTO the environment variable
	                          * WEFT_BACKEND (auto, io_uring or epoll)
	                          * picks. The epoll backend keeps the API and
	                          * its semantics; where it differs (no
	                          * provided buffers, non-blocking sockets,
	                          * file operations on the blocking pool) is
	                          * in docs/asyncio.md and weft/io.h */
	double slow_step;        /* debug mode: a task step or callback that
	                          * keeps its worker longer than this many
	                          * seconds is reported while it runs (the
	                          * watchdog, with its backtrace) and when it
	                          * ends; 0: 0.1 (asyncio's
	                          * slow_callback_duration); negative or NaN is
	                          * -EINVAL */
	int dump_signal;         /* a signal number (SIGQUIT, as Go does; or
	                          * SIGUSR1...) on which weft_dump(rt, stderr)
	                          * runs, from a thread of weft's own: the
	                          * handler is installed while the runtime
	                          * lives and the previous one restored after;
	                          * 0: none (the default) */
	bool no_spin;            /* idle workers park at once instead of
	                          * spinning up to 50 µs for work first
	                          * (docs/decisions.md 24): for machines where
	                          * other processes want every CPU. With false,
	                          * the environment variable WEFT_SPIN=0 (or
	                          * off) does the same; WEFT_SPIN=1 (or on)
	                          * and unset keep the default; any other
	                          * value is -EINVAL */
} weft_config;

/* Fills `cfg` with the defaults (blocking_threads_max 512,
 * blocking_keepalive 10; 0 in the other fields). Any thread. */
WEFT_API void weft_config_init(weft_config *cfg);

/*
 * Creates a runtime and starts its workers (they park until there is work).
 * Returns 0 and sets *out, or: -EINVAL (NULL out, bad config: size smaller
 * than the first field, workers > 1024, segv_handler not a weft_segv_mode,
 * paused_clock without workers == 1, blocking_threads_max > 65536,
 * blocking_keepalive negative or NaN, stack_size above 1 GiB, small_stacks
 * with a stack_size that is not 0 or a multiple of 16 from 1024 to the
 * page size, ring_entries above 16384, reserve_tasks above 16,777,216,
 * backend not a weft_backend or WEFT_BACKEND (with backend AUTO) not one
 * of auto, io_uring, epoll, WEFT_SPIN (with no_spin false) not one of 0,
 * off, 1, on, slow_step negative or NaN, dump_signal not a
 * signal a handler may take (or SIGURG, the watchdog's); in
 * debug mode, cfg.debug included,
 * the field is named, and a zeroed config is told to use weft_config_init),
 * -ENOMEM (out of memory, or of memory for cfg.reserve_tasks, or of
 * locked memory for the rings: raise
 * RLIMIT_MEMLOCK or lower ring_entries; or no alternate signal stack for
 * a worker's overflow reports), -EMFILE / -ENFILE (out of
 * descriptors for a ring or its eventfd: raise RLIMIT_NOFILE), -EINVAL
 * (the kernel refused every ring mode: older than weft needs), -EAGAIN (a
 * worker thread could not be started),
 * WEFT_ENOURING (backend WEFT_BACKEND_IO_URING, and this kernel or its
 * policy refuses io_uring: io_uring_setup failed with ENOSYS or EPERM, or
 * a filter lets it through but refuses io_uring_enter; AUTO uses epoll
 * then), the epoll backend's own failures (-EMFILE, -ENFILE, -ENOMEM from
 * epoll_create1 or eventfd). Debug mode prints the failing call and
 * what to change. Never suspends. Any thread except a worker of a
 * runtime (-EPERM: a nested runtime would block it).
 */
WEFT_API int weft_runtime_create(const weft_config *cfg, weft_runtime **out);

/*
 * Runs fn(arg) as a task named "main" in `rt` and blocks the calling thread
 * until it is done; returns its outcome (0 with *result, or its error code).
 * Other tasks keep running afterwards (asyncio.Runner.run). Errors: -EINVAL
 * (NULL rt or fn), -EPERM (called on a worker thread), -ESHUTDOWN (rt is
 * shutting down), -ENOMEM. Blocks the OS thread; foreign threads only.
 */
WEFT_API int weft_runtime_run(weft_runtime *rt, weft_task_fn fn, void *arg, void **result);

/*
 * Shuts `rt` down as asyncio.run does at its end: new outside work is
 * refused with -ESHUTDOWN; every remaining task is cancelled and awaited
 * (again, for tasks created meanwhile) until none is left; the blocking
 * pool is drained (to_thread calls still queued end cancelled, running ones
 * are waited for, its threads are joined); callbacks already scheduled run;
 * the workers stop; everything is released. Futures still
 * referenced stay readable; completing them then fails with -ESHUTDOWN.
 * Returns 0, or -EINVAL (NULL), -EPERM (called on a worker thread of any
 * runtime, or on a blocking-pool thread of rt: the drain would wait for
 * its own caller).
 * It waits without limit: a to_thread call blocked in a system call
 * (accept, read on a pipe or terminal) keeps it waiting until the call
 * returns, since the call may be using its task's memory; unblock it (close
 * or shut down its descriptor), or use weft_runtime_destroy_timeout.
 * Blocks the OS thread; foreign threads only. `rt` is freed memory after.
 */
WEFT_API int weft_runtime_destroy(weft_runtime *rt);

/*
 * weft_runtime_destroy with a deadline, `timeout` seconds from now
 * (WEFT_FOREVER: none; 0: whatever is done at once). If tasks are still
 * alive or to_thread calls still running when it passes, it prints on
 * stderr (debug mode or not, as asyncio's executor shutdown warns) which:
 * each running call with its task's name, its function's address, for how
 * long and on which thread, then the tasks still alive; and returns
 * -ETIMEDOUT. `rt` then stays allocated and shutting down: new outside work
 * is refused with -ESHUTDOWN, its tasks are cancelled, its workers and
 * running calls go on. Call weft_runtime_destroy_timeout (or
 * weft_runtime_destroy) on it again later, which goes on where this one
 * stopped, or exit the process. Other errors as weft_runtime_destroy, and
 * -EINVAL for a negative or NaN timeout. Blocks the OS thread; foreign
 * threads only, one at a time per runtime. `rt` is freed memory after 0.
 */
WEFT_API int weft_runtime_destroy_timeout(weft_runtime *rt, double timeout);

/*
 * asyncio.run: creates a runtime with `cfg` (NULL: defaults), runs
 * fn(arg) as the main task, then shuts the runtime down (remaining tasks
 * are cancelled and awaited). Returns main's outcome, or a creation error
 * of weft_runtime_create, or -EPERM when called on a worker thread (a
 * nested weft_run). Blocks the OS thread.
 */
WEFT_API int weft_run(weft_task_fn fn, void *arg, const weft_config *cfg, void **result);

/*
 * Creates a task running fn(arg) in `rt` from any thread (a worker of rt,
 * of another runtime, or a foreign thread). `name` is copied; NULL gives
 * "Task-N". Returns a reference the caller owns (weft_future_unref), never
 * NULL: on failure the future has already failed with -EINVAL (NULL rt or
 * fn), -ESHUTDOWN (rt is shutting down) or -ENOMEM. Never suspends.
 */
WEFT_API weft_future *weft_spawn(weft_runtime *rt, weft_task_fn fn, void *arg, const char *name);

/* The runtime of the calling worker thread or blocking-pool thread
 * (weft/thread.h), or NULL on other threads. */
WEFT_API weft_runtime *weft_current_runtime(void);

/* How many workers `rt` runs (0 for NULL). Any thread. */
WEFT_API unsigned weft_runtime_workers(const weft_runtime *rt);

/* The I/O backend `rt`'s workers use: WEFT_BACKEND_IO_URING or
 * WEFT_BACKEND_EPOLL (never AUTO: what it chose), or -EINVAL for NULL.
 * With AUTO, workers that fell back while others got a ring (ENOMEM for
 * some rings only) make it WEFT_BACKEND_EPOLL. Any thread. */
WEFT_API int weft_runtime_backend(const weft_runtime *rt);

WEFT_END_DECLS

#endif
