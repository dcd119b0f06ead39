/* SPDX-License-Identifier: MIT */
/*
 * Servers (weft/stream.h). By default one acceptor task per server; each
 * connection runs in a task of its own (new tasks are stealable, so
 * connections spread over the workers). With cfg.reuseport, a listener
 * (SO_REUSEPORT) and an acceptor per worker, each starting its
 * connections' tasks on its own worker only, so a connection never
 * crosses workers. A connection's stream is made on the worker where its
 * task first runs, so its background I/O stays there. The server owns
 * every connection's stream and closes it from the task's done callback,
 * which runs however the task ended, even if it never ran.
 *
 * References (srv->refs): the handle's, one per acceptor, one per
 * connection not yet gone.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft/future.h>
#include <weft/io.h>
#include <weft/net.h>
#include <weft/stream.h>
#include <weft/task.h>
#include <weft/time.h>
#include <weft/wait.h>

#include "base/list.h"
#include "core/context.h"
#include "core/core.h"
#include "core/debug.h"
#include "core/future.h"
#include "core/task.h"
#include "net/op.h"
#include "net/socket.h"
#include "net/stream.h"
#include "sched/spinlock.h"

struct conn {
	struct weft__list link;  /* in srv->conns, under srv->lock */
	weft_server *srv;
	int fd;
	weft_stream *stream;     /* made by the task's first run (under lock) */
	bool started;
};

/* One listener and the task accepting on it. */
struct acceptor {
	weft_server *srv;
	int listener;
	int worker;            /* start connections there only; -1: anywhere */
	weft_future *task;     /* a reference, until the server is freed */
};

struct weft_server {
	weft__spinlock lock;
	_Atomic uint32_t refs;
	struct acceptor *acc;
	unsigned nacc;
	weft_client_fn fn;
	void *arg;
	size_t limit;
	/* Under lock: */
	bool closed;
	struct weft__list conns;
	size_t nconns;
	weft_future *closed_fut;   /* serve_forever waits for close */
	weft_future *idle_fut;     /* wait_closed: closed and no connection */
	weft_future *fd_freed;     /* the acceptor's back-off waits on it */
};

static void server_unref(weft_server *srv)
{
	if (atomic_fetch_sub_explicit(&srv->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (unsigned i = 0; i < srv->nacc; i++)
		weft_future_unref(srv->acc[i].task);
	free(srv->acc);
	weft_future_unref(srv->closed_fut);
	weft_future_unref(srv->idle_fut);
	weft_future_unref(srv->fd_freed);
	free(srv);
}

/* Completes f (outside the lock); a no-op for NULL or done futures. */
static void release(weft_future *f)
{
	if (f) {
		weft__future_complete(f, 0, NULL, NULL);
		weft_future_unref(f);
	}
}

/* Caller holds the lock: the futures to complete once closed and idle. */
static weft_future *idle_check_locked(weft_server *srv)
{
	return srv->closed && !srv->nconns ? weft_future_ref(srv->idle_fut) : NULL;
}

/* A descriptor of ours was closed: an acceptor backing off retries now. */
static void fd_freed(void *arg)
{
	weft_server *srv = arg;
	weft__spin_lock(&srv->lock);
	weft_future *f = srv->fd_freed;
	srv->fd_freed = NULL;
	weft__spin_unlock(&srv->lock);
	release(f);
	server_unref(srv); /* the stream's hold on the server */
}

static int conn_main(void *arg, void **result)
{
	struct conn *c = arg;
	weft_server *srv = c->srv;
	weft_stream *s = weft__stream_new(c->fd, srv->limit);
	if (!s)
		return -ENOMEM; /* conn_done closes the descriptor */
	atomic_fetch_add_explicit(&srv->refs, 1, memory_order_relaxed);
	weft__stream_on_closed(s, fd_freed, srv);
	weft__spin_lock(&srv->lock);
	c->stream = s;
	c->started = true;
	weft__spin_unlock(&srv->lock);
	return srv->fn(s, srv->arg);
}

/* Done callback of a connection's task: however it ended. */
static void conn_done(weft_future *task, void *arg)
{
	struct conn *c = arg;
	weft_server *srv = c->srv;
	weft__spin_lock(&srv->lock);
	weft__list_remove(&c->link);
	srv->nconns--;
	weft_stream *s = c->stream;
	weft_future *idle = idle_check_locked(srv);
	weft__spin_unlock(&srv->lock);
	if (s) {
		weft_stream_free(s); /* closes it (a flush may go on) */
	} else {
		close(c->fd); /* it never ran: no operation was ever in flight */
		weft_future *f;
		weft__spin_lock(&srv->lock);
		f = srv->fd_freed;
		srv->fd_freed = NULL;
		weft__spin_unlock(&srv->lock);
		release(f);
	}
	release(idle);
	free(c);
	server_unref(srv);
}

/* Starts a connection's task for fd (on worker `worker` only, or
 * anywhere when it is -1); closes fd if it cannot. */
static void serve(weft_server *srv, int fd, int worker)
{
	/* TCP_NODELAY, as asyncio sets on every TCP transport (a Unix socket
	 * refuses it, harmlessly) */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->srv = srv;
	c->fd = fd;
	weft__spin_lock(&srv->lock);
	weft__list_push_back(&srv->conns, &c->link);
	srv->nconns++;
	weft__spin_unlock(&srv->lock);
	atomic_fetch_add_explicit(&srv->refs, 1, memory_order_relaxed);
	weft_future *t = worker < 0 ? weft_create_task(conn_main, c, NULL)
				    : weft__create_task_on((unsigned)worker, conn_main, c, NULL);
	if (weft_future_add_done_callback(t, conn_done, c)) {
		/* no task (or no callback): undo by hand */
		weft_await(t, NULL);
		conn_done(t, c);
	}
	weft_future_unref(t);
}

/* Waits up to `delay` for one of the server's descriptors to close. */
static int back_off(weft_server *srv, double delay)
{
	weft__spin_lock(&srv->lock);
	if (!srv->fd_freed)
		srv->fd_freed = weft__future_waiter();
	weft_future *f = srv->fd_freed ? weft_future_ref(srv->fd_freed) : NULL;
	weft__spin_unlock(&srv->lock);
	if (!f)
		return weft_sleep(delay);
	int rc = weft__await_shielded(f, delay, NULL);
	weft_future_unref(f);
	return rc == -ETIMEDOUT ? 0 : rc;
}

static int acceptor_main(void *arg, void **result)
{
	struct acceptor *a = arg;
	weft_server *srv = a->srv;
	double delay = 0.005;
	for (;;) {
		int fd = weft_accept(a->listener, NULL, NULL, 0);
		if (fd >= 0) {
			delay = 0.005;
			serve(srv, fd, a->worker);
			continue;
		}
		if (fd == -ECANCELED || fd == -EBADF || fd == -EINVAL)
			return 0; /* cancelled, or the listener was closed */
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
			/* Go's net/http: 5 ms, doubling to 1 s; a descriptor of
			 * ours closing ends the wait at once */
			if (back_off(srv, delay) == -ECANCELED)
				return 0;
			delay = delay * 2 < 1.0 ? delay * 2 : 1.0;
		}
		/* anything else belongs to one connection (ECONNABORTED, EPERM
		 * from a firewall...): skip it */
	}
}

static void acceptor_done(weft_future *task, void *arg)
{
	struct acceptor *a = arg;
	weft_server *srv = a->srv;
	weft_server_close(srv);
	/* its accept has ended: nothing of weft's is in flight on it */
	weft__fd_forget(a->listener);
	close(a->listener);
	server_unref(srv);
}

WEFT_API void weft_server_config_init(weft_server_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
}

/* Copies what the caller's (maybe older, smaller) struct has. */
static int config_copy(weft_server_config *out, const weft_server_config *in)
{
	weft_server_config_init(out);
	if (!in)
		return 0;
	if (in->size < offsetof(weft_server_config, limit) + sizeof(in->limit))
		return weft__misuse(-EINVAL, "weft_server_config not initialised");
	memcpy(out, in, in->size < sizeof(*out) ? in->size : sizeof(*out));
	out->size = sizeof(*out);
	return 0;
}

/* The arguments of a start_server call, and its config copied in *cfg. */
static int start_checks(weft_client_fn fn, weft_server **out, const weft_server_config *config,
			weft_server_config *cfg)
{
	if (!fn || !out)
		return weft__misuse(-EINVAL, "NULL function or out");
	*out = NULL;
	if (!weft__task_current())
		return weft__misuse(-EPERM, "called outside a task");
	return config_copy(cfg, config);
}

/* A server on the n listeners in fds (each closed here on failure). */
static int start(weft_client_fn fn, void *arg, const int *fds, unsigned n, bool per_worker,
		 const weft_server_config *cfg, weft_server **out)
{
	weft_server *srv = calloc(1, sizeof(*srv));
	if (srv) {
		srv->acc = calloc(n, sizeof(*srv->acc));
		srv->closed_fut = weft__future_waiter();
		srv->idle_fut = weft__future_waiter();
	}
	if (!srv || !srv->acc || !srv->closed_fut || !srv->idle_fut) {
		if (srv) {
			free(srv->acc);
			weft_future_unref(srv->closed_fut);
			weft_future_unref(srv->idle_fut);
		}
		free(srv);
		for (unsigned i = 0; i < n; i++)
			close(fds[i]);
		return -ENOMEM;
	}
	atomic_init(&srv->lock.held, false);
	atomic_init(&srv->refs, 1 + n); /* the handle, each acceptor */
	srv->nacc = n;
	srv->fn = fn;
	srv->arg = arg;
	srv->limit = cfg->limit;
	weft__list_init(&srv->conns);
	for (unsigned i = 0; i < n; i++)
		srv->acc[i] = (struct acceptor){.srv = srv, .listener = fds[i],
						.worker = per_worker ? (int)i : -1};
	for (unsigned i = 0; i < n; i++) {
		struct acceptor *a = &srv->acc[i];
		weft_future *t = per_worker ? weft__create_task_on(i, acceptor_main, a, "acceptor")
					    : weft_create_task(acceptor_main, a, "acceptor");
		a->task = weft_future_ref(t);
		if (weft_future_add_done_callback(t, acceptor_done, a)) {
			weft_cancel(t, NULL);
			weft_await(t, NULL);
			acceptor_done(t, a);
		}
		weft_future_unref(t);
	}
	*out = srv;
	return 0;
}

WEFT_API int weft_start_server(weft_client_fn fn, void *arg, const char *host, uint16_t port,
			       const weft_server_config *config, weft_server **out)
{
	weft_server_config cfg;
	int rc = start_checks(fn, out, config, &cfg);
	if (rc)
		return rc;
	unsigned n = cfg.reuseport ? weft__core_current()->sched.nworkers : 1;
	int *fds = calloc(n, sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	/* the first listener picks the port (0: the kernel's); the others
	 * join it */
	unsigned made = 0;
	for (; made < n; made++) {
		fds[made] = weft__tcp_listen(host, port, cfg.backlog, cfg.reuseport);
		if (fds[made] < 0)
			break;
		if (made == 0 && weft_sockname(fds[0], NULL, 0, &port))
			break;
	}
	if (made < n) {
		rc = fds[made] < 0 ? fds[made] : -EADDRNOTAVAIL;
		for (unsigned i = 0; i < made; i++)
			close(fds[i]);
		free(fds);
		return rc;
	}
	rc = start(fn, arg, fds, n, cfg.reuseport, &cfg, out);
	free(fds);
	return rc;
}

WEFT_API int weft_start_unix_server(weft_client_fn fn, void *arg, const char *path,
				    const weft_server_config *config, weft_server **out)
{
	weft_server_config cfg;
	int rc = start_checks(fn, out, config, &cfg);
	if (rc)
		return rc;
	int fd = weft_unix_listen(path, cfg.backlog);
	return fd < 0 ? fd : start(fn, arg, &fd, 1, false, &cfg, out);
}

WEFT_API void weft_server_close(weft_server *srv)
{
	if (!srv)
		return;
	weft__spin_lock(&srv->lock);
	bool first = !srv->closed;
	srv->closed = true;
	weft_future *idle = first ? idle_check_locked(srv) : NULL;
	weft__spin_unlock(&srv->lock);
	if (!first)
		return;
	/* Stop listening now (asyncio closes the listening socket here): a
	 * listening socket shut down refuses new connections and ends the
	 * accept in flight. The descriptor is closed by the acceptor's done
	 * callback, once no operation is in flight on it. */
	for (unsigned i = 0; i < srv->nacc; i++) {
		shutdown(srv->acc[i].listener, SHUT_RDWR);
		if (srv->acc[i].task)
			weft_cancel(srv->acc[i].task, NULL);
	}
	release(weft_future_ref(srv->closed_fut));
	release(idle);
}

static void each_client(weft_server *srv, void (*fn)(weft_stream *s))
{
	/* Held under the lock, closed outside it: a close on its owner runs
	 * the stream's state machine at once, which may reap a completion
	 * that calls back into this server. */
	weft_stream **v = NULL;
	size_t n = 0;
	for (size_t cap = 16;; cap *= 2) {
		weft_stream **nv = realloc(v, cap * sizeof(*v));
		if (!nv)
			break;
		v = nv;
		weft__spin_lock(&srv->lock);
		if (srv->nconns <= cap) {
			struct weft__list *l;
			weft__list_each(l, &srv->conns) {
				struct conn *c = weft__container_of(l, struct conn, link);
				if (c->stream) {
					weft__stream_hold(c->stream);
					v[n++] = c->stream;
				}
			}
			weft__spin_unlock(&srv->lock);
			break;
		}
		weft__spin_unlock(&srv->lock);
	}
	for (size_t i = 0; i < n; i++) {
		fn(v[i]);
		weft__stream_drop(v[i]);
	}
	free(v);
}

WEFT_API void weft_server_close_clients(weft_server *srv)
{
	if (srv)
		each_client(srv, weft_stream_close);
}

WEFT_API void weft_server_abort_clients(weft_server *srv)
{
	if (srv)
		each_client(srv, weft_stream_abort);
}

/* Awaits a future the server shares (a cancel ends only this wait). */
static int await_shared(weft_future *f)
{
	if (!weft__task_current())
		return weft__misuse(-EPERM, "called outside a task");
	return weft__await_shielded(f, WEFT_FOREVER, NULL);
}

WEFT_API int weft_server_serve_forever(weft_server *srv)
{
	if (!srv)
		return weft__misuse(-EINVAL, "NULL server");
	int rc = await_shared(srv->closed_fut);
	if (rc == -ECANCELED)
		weft_server_close(srv);
	return rc;
}

WEFT_API int weft_server_wait_closed(weft_server *srv)
{
	if (!srv)
		return weft__misuse(-EINVAL, "NULL server");
	return await_shared(srv->idle_fut);
}

WEFT_API size_t weft_server_connections(weft_server *srv)
{
	if (!srv)
		return 0;
	weft__spin_lock(&srv->lock);
	size_t n = srv->nconns;
	weft__spin_unlock(&srv->lock);
	return n;
}

WEFT_API int weft_server_sockname(weft_server *srv, char *host, size_t hostlen, uint16_t *port)
{
	return srv ? weft_sockname(srv->acc[0].listener, host, hostlen, port) : -EINVAL;
}

WEFT_API void weft_server_free(weft_server *srv)
{
	if (!srv)
		return;
	weft_server_close(srv);
	server_unref(srv);
}
