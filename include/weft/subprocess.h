/* SPDX-License-Identifier: MIT */
/*
 * Subprocesses: asyncio's create_subprocess_exec / create_subprocess_shell
 * and its Process object.
 *
 * asyncio.create_subprocess_exec(*argv, stdin=PIPE, ...)
 *                                   -> weft_subprocess_exec(argv, &opts, &p)
 * asyncio.create_subprocess_shell(cmd, ...) -> weft_subprocess_shell(cmd, &opts, &p)
 * proc.stdin / stdout / stderr      -> weft_process_stdin / _stdout / _stderr (streams)
 * proc.wait() / returncode          -> weft_process_wait / weft_process_returncode
 * proc.communicate(input)           -> weft_process_communicate
 * proc.send_signal / terminate / kill -> weft_process_send_signal / _terminate / _kill
 *
 * The child is started with posix_spawn: it keeps only the descriptors it
 * was given (0, 1, 2), with an empty signal mask and every signal at its
 * default action. weft reaps it through a pidfd on the ring: no SIGCHLD
 * handler, no thread per child. Return codes follow asyncio: the exit
 * status (0-255), the negative signal number when a signal killed it, 255
 * when the application reaped the child itself.
 *
 * An application that reaps children itself (waitpid(-1)) races with
 * weft for them: a child it took is reported as 255; one it takes in the
 * microseconds between the spawn and weft's pidfd_open, with its pid
 * reused in between, would leave weft watching the wrong process (glibc
 * 2.39's pidfd_spawn closes that window; Debian 12 has 2.36).
 *
 * Freeing a process whose child still runs kills it (SIGKILL) and reaps it,
 * as asyncio's transport close does; a task cancelled while it waits in
 * weft_process_wait leaves the child running (asyncio's rule). Nothing
 * outlives weft_process_free: free every process, also after the runtime
 * is destroyed.
 */
#ifndef WEFT_SUBPROCESS_H
#define WEFT_SUBPROCESS_H

#include <stddef.h>
#include <sys/types.h>

#include <weft/common.h>
#include <weft/stream.h>

WEFT_BEGIN_DECLS

typedef struct weft_process weft_process;

/* What one of the child's standard descriptors is. */
enum weft_stdio {
	WEFT_STDIO_INHERIT = 0, /* the parent's own descriptor */
	WEFT_STDIO_PIPE,        /* a pipe whose other end is a weft_stream */
	WEFT_STDIO_DEVNULL,     /* /dev/null */
	WEFT_STDIO_STDOUT,      /* stderr only: wherever stdout goes */
};

typedef struct weft_subprocess_opts {
	size_t size;           /* set by weft_subprocess_opts_init */
	enum weft_stdio in, out, err;
	const char *cwd;       /* the child's working directory; NULL: ours */
	char *const *env;      /* the child's environment; NULL: ours */
	size_t limit;          /* the pipes' stream limit; 0: WEFT_STREAM_LIMIT */
} weft_subprocess_opts;

/* Fills `o` with the defaults (every descriptor inherited). Any thread. */
WEFT_API void weft_subprocess_opts_init(weft_subprocess_opts *o);

/*
 * Starts argv[0] (searched in PATH when it has no '/') with arguments argv
 * (NULL-terminated) and options o (NULL: the defaults). Returns 0 and sets
 * *out (the caller's: weft_process_free), or: -ENOENT / -EACCES / ... (the
 * program could not be executed: no child is left behind), -EINVAL (NULL
 * or empty argv, NULL out, a bad option: WEFT_STDIO_STDOUT for in or out),
 * -EMFILE, -ENOMEM, -ECANCELED (the task was cancelled meanwhile: a child
 * already started is killed and reaped), -EPERM outside a task. Suspends:
 * posix_spawn (a vfork: its thread waits until the child has exec'd) runs
 * on the blocking pool, so the worker runs other tasks meanwhile. Tasks
 * only (the pipes' streams run on the calling task's worker).
 */
WEFT_API int weft_subprocess_exec(char *const argv[], const weft_subprocess_opts *o,
				  weft_process **out);

/* The same for `/bin/sh -c cmd` (a missing program is then the shell's
 * return code 127, as a shell reports it). */
WEFT_API int weft_subprocess_shell(const char *cmd, const weft_subprocess_opts *o,
				   weft_process **out);

/* The child's process id. Any thread. */
WEFT_API pid_t weft_process_pid(const weft_process *p);

/* The stream of the child's stdin (write to it), stdout or stderr (read
 * from them) when that descriptor is WEFT_STDIO_PIPE; NULL otherwise. The
 * process owns them (weft_process_free closes them). */
WEFT_API weft_stream *weft_process_stdin(weft_process *p);
WEFT_API weft_stream *weft_process_stdout(weft_process *p);
WEFT_API weft_stream *weft_process_stderr(weft_process *p);

/*
 * wait: suspends until the child has ended, reaps it and sets *returncode
 * (may be NULL). Returns 0, -ECANCELED (the child keeps running), -EPERM
 * outside a task, -EINVAL for NULL p, or waitid's own error. Several
 * tasks may wait at once.
 */
WEFT_API int weft_process_wait(weft_process *p, int *returncode);

/* returncode: 0 and *returncode once the child has been reaped; -EAGAIN
 * while it has not (asyncio's None). Never suspends. Any thread. */
WEFT_API int weft_process_returncode(const weft_process *p, int *returncode);

/*
 * send_signal: sends sig to the child (through its pidfd: never to a
 * recycled pid). 0, -ESRCH once it has been reaped, -EINVAL for a bad
 * signal. terminate sends SIGTERM, kill SIGKILL. Never suspend; any thread.
 */
WEFT_API int weft_process_send_signal(weft_process *p, int sig);
WEFT_API int weft_process_terminate(weft_process *p);
WEFT_API int weft_process_kill(weft_process *p);

/*
 * communicate: writes input (len bytes; none if input is NULL) to the
 * child's stdin and closes it, reads stdout and stderr to their EOF at the
 * same time (so a child that writes more than a pipe holds while it still
 * reads never deadlocks), then waits for the child. *out / *err (either
 * may be NULL: that output is read and dropped) receive malloc'd buffers
 * the caller frees (NULL when nothing was read), their lengths in
 * *outlen / *errlen. A child that exits without reading all its input is
 * not an error (no SIGPIPE either). Returns 0, -ENOMEM, -ECANCELED,
 * -EPERM outside a task, -EINVAL for NULL p or a NULL length beside a
 * non-NULL buffer pointer. Suspends.
 */
WEFT_API int weft_process_communicate(weft_process *p, const void *input, size_t len,
				      char **out, size_t *outlen, char **err, size_t *errlen);

/*
 * Frees p: a child still running is killed (SIGKILL) and reaped, the pipes'
 * streams are closed. Never suspends for long (the reap after SIGKILL
 * blocks the calling thread briefly). Any thread; NULL is a no-op.
 */
WEFT_API void weft_process_free(weft_process *p);

WEFT_END_DECLS

#endif
