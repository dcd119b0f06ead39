/* SPDX-License-Identifier: MIT */
/*
 * Subprocesses (weft/subprocess.h): posix_spawn, pipes as streams, and
 * reaping through a pidfd the worker's ring polls (the pidfd turns
 * readable when the child ends; waitid(P_PIDFD) then reaps it), so there
 * is no SIGCHLD handler and no thread per child.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/future.h>
#include <weft/io.h>
#include <weft/subprocess.h>
#include <weft/thread.h>
#include <weft/task.h>

#include "core/debug.h"
#include "core/future.h"
#include "core/task.h"
#include "net/op.h"
#include "net/stream.h"

#ifndef P_PIDFD
#define P_PIDFD 3 /* glibc 2.36 knows the kernel's idtype only from linux/wait.h */
#endif

extern char **environ;

struct weft_process {
	pid_t pid;
	int pidfd;
	weft_stream *in, *out, *err;
	pthread_mutex_t reap_lock; /* one waitid at a time: the first reaps */
	atomic_bool reaped;        /* returncode is set (release) */
	int returncode;
};

WEFT_API void weft_subprocess_opts_init(weft_subprocess_opts *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
}

/* ---- reaping ---- */

/* Reaps the child if it has ended (`block`: waits for it). 0, or waitid's
 * -errno other than ECHILD (which means the application reaped it: 255,
 * as asyncio reports). Any thread. */
static int try_reap(weft_process *p, bool block)
{
	int rc = 0;
	pthread_mutex_lock(&p->reap_lock);
	if (!atomic_load_explicit(&p->reaped, memory_order_relaxed)) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		int r;
		do
			r = waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | (block ? 0 : WNOHANG));
		while (r < 0 && errno == EINTR);
		bool done = false;
		if (r == 0 && si.si_pid != 0) {
			p->returncode = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
			done = true;
		} else if (r < 0 && errno == ECHILD) {
			p->returncode = 255;
			done = true;
		} else if (r < 0) {
			rc = -errno;
		}
		if (done)
			atomic_store_explicit(&p->reaped, true, memory_order_release);
	}
	pthread_mutex_unlock(&p->reap_lock);
	return rc;
}

WEFT_API int weft_process_returncode(const weft_process *p, int *returncode)
{
	if (!p)
		return weft__misuse(-EINVAL, "NULL process");
	if (!atomic_load_explicit(&p->reaped, memory_order_acquire))
		return -EAGAIN;
	if (returncode)
		*returncode = p->returncode;
	return 0;
}

WEFT_API int weft_process_wait(weft_process *p, int *returncode)
{
	if (!p)
		return weft__misuse(-EINVAL, "NULL process");
	if (!weft__task_current())
		return weft__misuse(-EPERM, "called outside a task: wait for a child from a task");
	while (!atomic_load_explicit(&p->reaped, memory_order_acquire)) {
		int r = weft_wait_fd(p->pidfd, POLLIN, WEFT_FOREVER);
		if (r < 0)
			return r; /* -ECANCELED: the child keeps running */
		if ((r = try_reap(p, false)))
			return r;
	}
	return weft_process_returncode(p, returncode);
}

WEFT_API pid_t weft_process_pid(const weft_process *p)
{
	return p ? p->pid : -1;
}

WEFT_API weft_stream *weft_process_stdin(weft_process *p)
{
	return p ? p->in : NULL;
}

WEFT_API weft_stream *weft_process_stdout(weft_process *p)
{
	return p ? p->out : NULL;
}

WEFT_API weft_stream *weft_process_stderr(weft_process *p)
{
	return p ? p->err : NULL;
}

WEFT_API int weft_process_send_signal(weft_process *p, int sig)
{
	if (!p || sig < 0 || sig >= NSIG)
		return weft__misuse(-EINVAL, "NULL process or a bad signal number");
	if (atomic_load_explicit(&p->reaped, memory_order_acquire))
		return -ESRCH;
	/* through the pidfd: a pid reused after the reap is never hit */
	if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0))
		return -errno;
	return 0;
}

WEFT_API int weft_process_terminate(weft_process *p)
{
	return weft_process_send_signal(p, SIGTERM);
}

WEFT_API int weft_process_kill(weft_process *p)
{
	return weft_process_send_signal(p, SIGKILL);
}

WEFT_API void weft_process_free(weft_process *p)
{
	if (!p)
		return;
	/* asyncio's transport close: a child still running is killed */
	if (!atomic_load_explicit(&p->reaped, memory_order_acquire)) {
		syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
		try_reap(p, true);
	}
	weft_stream_free(p->in);
	weft_stream_free(p->out);
	weft_stream_free(p->err);
	if (p->pidfd >= 0) {
		weft__fd_forget(p->pidfd); /* polled by weft_process_wait */
		close(p->pidfd);
	}
	pthread_mutex_destroy(&p->reap_lock);
	free(p);
}

/* ---- spawning ---- */

/* The two ends of what one of the child's descriptors becomes. */
struct stdio_end {
	int child;  /* dup'd onto 0, 1 or 2 in the child; -1: inherited */
	int parent; /* the pipe's other end (non-blocking); -1: none */
};

static void end_close(struct stdio_end *e)
{
	if (e->child >= 0)
		close(e->child);
	if (e->parent >= 0)
		close(e->parent);
	e->child = e->parent = -1;
}

/* Sets up e for mode; `child_reads`: the child reads from it (stdin). */
static int end_open(struct stdio_end *e, enum weft_stdio mode, bool child_reads)
{
	e->child = e->parent = -1;
	if (mode == WEFT_STDIO_DEVNULL) {
		e->child = open("/dev/null", O_RDWR | O_CLOEXEC);
		return e->child < 0 ? -errno : 0;
	}
	if (mode != WEFT_STDIO_PIPE)
		return 0;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	e->child = child_reads ? fds[0] : fds[1];
	e->parent = child_reads ? fds[1] : fds[0];
	/* only the parent's end: the child gets the blocking pipe it expects */
	int fl = fcntl(e->parent, F_GETFL);
	if (fl < 0 || fcntl(e->parent, F_SETFL, fl | O_NONBLOCK)) {
		int rc = -errno;
		end_close(e);
		return rc;
	}
	return 0;
}

/* What the blocking pool does for a spawn (see run_spawn). */
struct spawn_call {
	const char *file;
	char *const *argv;
	bool search;
	const posix_spawn_file_actions_t *fa;
	const posix_spawnattr_t *attr;
	char *const *env;
	pid_t pid;
	int pidfd; /* -1 with rc 0: the child was reaped before pidfd_open */
	int rc;
};

static int spawn_call_run(void *arg, void **result)
{
	struct spawn_call *c = arg;
	/* glibc reports a failed exec (a missing program) as posix_spawn's
	 * own error, and leaves no child behind */
	c->rc = c->search ? -posix_spawnp(&c->pid, c->file, c->fa, c->attr, c->argv, c->env)
			  : -posix_spawn(&c->pid, c->file, c->fa, c->attr, c->argv, c->env);
	if (c->rc)
		return 0;
	/* posix_spawn gives no pidfd (glibc 2.39's pidfd_spawn would): one is
	 * opened at once. An application that reaps every child itself
	 * (waitpid(-1)) may take this one first: ESRCH, and then it is
	 * reaped elsewhere (255), never a pid to signal (it may be reused). */
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (c->pidfd >= 0) {
		fcntl(c->pidfd, F_SETFD, FD_CLOEXEC);
	} else if (errno != ESRCH) {
		c->rc = -errno; /* EMFILE, ENOMEM: the child is still ours */
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	return 0;
}

/*
 * Runs the spawn on the blocking pool: posix_spawn is a vfork, so the
 * calling thread waits until the child has exec'd (100 us, and ms on a
 * loaded VM), time a worker spends on other tasks instead. A cancel of
 * the caller waits for the spawn to end (a child must not be left
 * unknown) and sets *cancelled; without a pool thread the spawn runs here.
 */
static int run_spawn(struct spawn_call *c, bool *cancelled)
{
	weft_future *f = weft_to_thread(spawn_call_run, c);
	if (weft_future_done(f) && weft_future_exception(f) != 0) {
		weft_future_unref(f); /* no pool thread: spawn here */
		spawn_call_run(c, NULL);
		return c->rc;
	}
	/* -ECANCELED from the shielded wait is the cancel's delivery, even
	 * when the spawn has ended meanwhile: the spawn is undone */
	while (!weft_future_done(f)) {
		if (weft__await_shielded(f, WEFT_FOREVER, NULL) == -ECANCELED)
			*cancelled = true;
	}
	bool dropped = weft_future_cancelled(f); /* never ran: shutdown's drain */
	weft_future_unref(f);
	if (dropped)
		return -ECANCELED;
	/* a cancel that came after the spawn ended but before this task ran
	 * again is delivered here too, as asyncio's __step throws it into
	 * the await whose future is already done */
	if (!*cancelled && weft__task_take_cancel(weft__task_current()))
		*cancelled = true;
	return c->rc;
}

static int spawn(const char *file, char *const argv[], bool search, const weft_subprocess_opts *opt,
		 weft_process **out)
{
	if (!out)
		return weft__misuse(-EINVAL, "NULL out");
	*out = NULL;
	if (!argv || !argv[0])
		return weft__misuse(-EINVAL, "NULL or empty argv");
	if (!weft__task_current())
		return weft__misuse(-EPERM, "called outside a task: start children from a task");
	weft_subprocess_opts o;
	weft_subprocess_opts_init(&o);
	if (opt) {
		if (opt->size < sizeof(size_t))
			return weft__misuse(-EINVAL, "opts not set up: call weft_subprocess_opts_init first");
		memcpy(&o, opt, opt->size < sizeof(o) ? opt->size : sizeof(o));
	}
	if (o.in == WEFT_STDIO_STDOUT || o.out == WEFT_STDIO_STDOUT || o.in > WEFT_STDIO_STDOUT ||
	    o.out > WEFT_STDIO_STDOUT || o.err > WEFT_STDIO_STDOUT)
		return weft__misuse(-EINVAL, "bad stdio mode (WEFT_STDIO_STDOUT is for err only)");

	weft_process *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pidfd = -1;
	pthread_mutex_init(&p->reap_lock, NULL);
	struct stdio_end ends[3] = {{-1, -1}, {-1, -1}, {-1, -1}};
	const enum weft_stdio modes[3] = {o.in, o.out, o.err};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	bool fa_made = false, attr_made = false;
	int rc = 0;
	for (int i = 0; i < 3 && !rc; i++)
		rc = end_open(&ends[i], modes[i], i == 0);
	if (rc)
		goto fail;
	if ((rc = -posix_spawn_file_actions_init(&fa)))
		goto fail;
	fa_made = true;
	for (int i = 0; i < 3 && !rc; i++) {
		if (ends[i].child >= 0)
			rc = -posix_spawn_file_actions_adddup2(&fa, ends[i].child, i);
		else if (i == 2 && o.err == WEFT_STDIO_STDOUT)
			rc = -posix_spawn_file_actions_adddup2(&fa, 1, 2);
	}
	/* the child keeps 0-2 only: not even a descriptor another thread
	 * opened without O_CLOEXEC */
	if (!rc)
		rc = -posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (!rc && o.cwd)
		rc = -posix_spawn_file_actions_addchdir_np(&fa, o.cwd);
	if (rc)
		goto fail;
	if ((rc = -posix_spawnattr_init(&attr)))
		goto fail;
	attr_made = true;
	/* weft's threads block signals (SIGPIPE...) and the application may
	 * handle some: the child starts clean */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	rc = -posix_spawnattr_setsigmask(&attr, &none);
	if (!rc)
		rc = -posix_spawnattr_setsigdefault(&attr, &all);
	if (!rc)
		rc = -posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (rc)
		goto fail;
	struct spawn_call call = {
		.file = file, .argv = argv, .search = search, .fa = &fa, .attr = &attr,
		.env = o.env ? o.env : environ, .pidfd = -1,
	};
	bool cancelled = false;
	rc = run_spawn(&call, &cancelled);
	p->pid = call.pid;
	p->pidfd = call.pidfd;
	if (rc)
		goto fail;
	if (p->pidfd < 0) { /* reaped elsewhere already (spawn_call's ESRCH) */
		p->returncode = 255;
		atomic_store_explicit(&p->reaped, true, memory_order_release);
	}
	if (cancelled) { /* the spawn is undone, and the cancel delivered */
		rc = -ECANCELED;
		goto fail_spawned;
	}
	for (int i = 0; i < 3; i++) {
		if (ends[i].child >= 0)
			close(ends[i].child);
		ends[i].child = -1;
	}
	static const enum weft__stream_kind kinds[3] = {
		WEFT__STREAM_PIPE_WRITE, WEFT__STREAM_PIPE_READ, WEFT__STREAM_PIPE_READ};
	weft_stream **streams[3] = {&p->in, &p->out, &p->err};
	for (int i = 0; i < 3; i++) {
		if (ends[i].parent < 0)
			continue;
		*streams[i] = weft__stream_new_kind(ends[i].parent, o.limit, kinds[i]);
		if (!*streams[i]) {
			rc = -ENOMEM;
			goto fail_spawned;
		}
		ends[i].parent = -1; /* the stream's now */
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	*out = p;
	return 0;
fail_spawned:
	for (int i = 0; i < 3; i++)
		end_close(&ends[i]);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	weft_process_free(p); /* kills and reaps the child */
	return rc;
fail:
	for (int i = 0; i < 3; i++)
		end_close(&ends[i]);
	if (fa_made)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_made)
		posix_spawnattr_destroy(&attr);
	if (p->pidfd >= 0) {
		weft__fd_forget(p->pidfd); /* polled by weft_process_wait */
		close(p->pidfd);
	}
	pthread_mutex_destroy(&p->reap_lock);
	free(p);
	return rc;
}

WEFT_API int weft_subprocess_exec(char *const argv[], const weft_subprocess_opts *o,
				  weft_process **out)
{
	return spawn(argv ? argv[0] : NULL, argv, true, o, out);
}

WEFT_API int weft_subprocess_shell(const char *cmd, const weft_subprocess_opts *o,
				   weft_process **out)
{
	if (!cmd)
		return weft__misuse(-EINVAL, "NULL command");
	char *const argv[] = {"sh", "-c", (char *)cmd, NULL};
	return spawn("/bin/sh", argv, false, o, out);
}

/* ---- communicate ---- */

struct drain_out {
	weft_stream *s;
	char *buf;
	size_t len, cap;
};

/* Reads one output to its EOF into a growing buffer. */
static int read_all(void *arg, void **result)
{
	struct drain_out *d = arg;
	for (;;) {
		if (d->cap - d->len < 16384) {
			size_t cap = d->cap ? d->cap * 2 : 65536;
			char *b = realloc(d->buf, cap);
			if (!b)
				return -ENOMEM;
			d->buf = b;
			d->cap = cap;
		}
		ssize_t n = weft_stream_read(d->s, d->buf + d->len, d->cap - d->len);
		if (n == 0)
			return 0;
		if (n < 0)
			return (int)n;
		d->len += (size_t)n;
	}
}

struct feed_in {
	weft_stream *s;
	const void *data;
	size_t len;
};

/* Writes the input and closes stdin; a child gone early is no error
 * (asyncio's _feed_stdin ignores BrokenPipeError and ConnectionResetError). */
static int feed(void *arg, void **result)
{
	struct feed_in *f = arg;
	int rc = f->len ? weft_stream_write(f->s, f->data, f->len) : 0;
	if (!rc)
		rc = weft_stream_drain(f->s);
	weft_stream_close(f->s);
	if (rc == -ECANCELED || rc == -ENOMEM)
		return rc;
	return 0;
}

WEFT_API int weft_process_communicate(weft_process *p, const void *input, size_t len,
				      char **out, size_t *outlen, char **err, size_t *errlen)
{
	if (!p || (out && !outlen) || (err && !errlen) || (!input && len))
		return weft__misuse(-EINVAL, "NULL process, a NULL length, or NULL input with a length");
	if (!weft__task_current())
		return weft__misuse(-EPERM, "called outside a task");
	if (out)
		*out = NULL, *outlen = 0;
	if (err)
		*err = NULL, *errlen = 0;
	struct feed_in fin = {p->in, input, len};
	struct drain_out dout = {p->out, NULL, 0, 0}, derr = {p->err, NULL, 0, 0};
	weft_future *t[3] = {NULL, NULL, NULL};
	if (p->in)
		t[0] = weft_create_task(feed, &fin, "communicate-stdin");
	if (p->out)
		t[1] = weft_create_task(read_all, &dout, "communicate-stdout");
	if (p->err)
		t[2] = weft_create_task(read_all, &derr, "communicate-stderr");
	int rc = 0;
	for (int i = 0; i < 3; i++) {
		if (!t[i])
			continue;
		if (!weft_is_task(t[i])) { /* could not be made */
			rc = rc ? rc : -ENOMEM;
			continue;
		}
		int r = weft_await(t[i], NULL);
		if (r == -ECANCELED && !weft_future_done(t[i])) {
			/* this task was cancelled: its helpers go too */
			rc = -ECANCELED;
			for (int j = 0; j < 3; j++)
				if (t[j] && weft_is_task(t[j]))
					weft_cancel(t[j], NULL);
			i--; /* wait for this one's end as well */
			continue;
		}
		if (r && !rc)
			rc = r;
	}
	for (int i = 0; i < 3; i++)
		weft_future_unref(t[i]);
	if (!rc)
		rc = weft_process_wait(p, NULL);
	if (rc) {
		free(dout.buf);
		free(derr.buf);
		return rc;
	}
	if (out)
		*out = dout.buf, *outlen = dout.len;
	else
		free(dout.buf);
	if (err)
		*err = derr.buf, *errlen = derr.len;
	else
		free(derr.buf);
	return 0;
}
