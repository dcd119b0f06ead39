/* SPDX-License-Identifier: MIT */
/* Sockets (weft/net.h): making, binding, resolving, connecting. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <weft/error.h>
#include <weft/future.h>
#include <weft/io.h>
#include <weft/net.h>
#include <weft/thread.h>

#include "core/debug.h"
#include "core/future.h"
#include "core/task.h"
#include "net/op.h"
#include "net/socket.h"
#include "sched/worker.h"

/* ---- name resolution ---- */

/*
 * A lookup shared by the task and its pool call, freed by whichever drops
 * the last reference: the call runs detached (the task awaits a shield of
 * it), so a cancelled task leaves at once and the call cleans up after
 * itself.
 */
struct lookup {
	_Atomic int refs;
	char *host;
	char port[8];
	struct addrinfo hints;
	struct addrinfo *res;
	int rc; /* getaddrinfo's */
};

static void lookup_unref(struct lookup *l)
{
	if (atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (l->res)
		freeaddrinfo(l->res);
	free(l->host);
	free(l);
}

static int lookup_call(void *arg, void **result)
{
	struct lookup *l = arg;
	l->rc = getaddrinfo(l->host, l->port, &l->hints, &l->res);
	return 0;
}

static void lookup_done(weft_future *call, void *arg)
{
	lookup_unref(arg);
}

static int gai_code(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return errno ? -errno : -EIO;
	case EAI_AGAIN:
		return -EAGAIN;
	default:
		return WEFT_ENAME;
	}
}

/*
 * The addresses of host:port for a socket of `socktype` (passive: to bind;
 * host NULL then means every address). *out is freed with freeaddrinfo.
 * Numeric hosts are parsed here; names go to the blocking pool.
 */
static int resolve(const char *host, uint16_t port, int socktype, bool passive,
		   struct addrinfo **out)
{
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype,
				 .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
	if (host && !*host)
		host = NULL;
	struct addrinfo numeric = hints;
	numeric.ai_flags |= AI_NUMERICHOST;
	int rc = getaddrinfo(host, portstr, &numeric, out);
	if (rc != EAI_NONAME || !host)
		return gai_code(rc);
	struct lookup *l = calloc(1, sizeof(*l));
	if (!l || !(l->host = strdup(host))) {
		free(l);
		return -ENOMEM;
	}
	atomic_init(&l->refs, 2); /* the task's and the call's */
	memcpy(l->port, portstr, sizeof(portstr));
	l->hints = hints;
	weft_future *call = weft_to_thread(lookup_call, l);
	if (weft_future_add_done_callback(call, lookup_done, l)) {
		/* no callback: the call's reference is ours to drop, after it */
		weft_await(call, NULL);
		lookup_unref(l);
	}
	rc = weft__await_shielded(call, WEFT_FOREVER, NULL); /* a cancel leaves at once */
	weft_future_unref(call);
	if (rc == 0) {
		rc = gai_code(l->rc);
		*out = l->res;
		l->res = NULL; /* the caller's now */
	}
	lookup_unref(l);
	return rc;
}

/* ---- sockets ---- */

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) ? -errno : 0;
}

/* A socket of ai's family and type, bound to it (listen) or connected.
 * On the epoll backend it is non-blocking: connect and accept have no
 * per-call MSG_DONTWAIT (weft/net.h says so). */
static int make_socket(const struct addrinfo *ai, int type_flags)
{
	struct weft__worker *w = weft__worker_current();
	if (w && weft__io_readiness(&w->io))
		type_flags |= SOCK_NONBLOCK;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | type_flags,
			ai->ai_protocol);
	if (fd < 0)
		return -errno;
	weft__io_fd_new(fd); /* a new file: no epoll worker trusts an old registration */
	return fd;
}

static int listen_on(const struct addrinfo *ai, int backlog, bool dual, bool reuseport)
{
	int fd = make_socket(ai, 0);
	if (fd < 0)
		return fd;
	int rc = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (!rc && reuseport)
		rc = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (!rc && ai->ai_family == AF_INET6)
		rc = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? 0 : 1);
	if (!rc && bind(fd, ai->ai_addr, ai->ai_addrlen))
		rc = -errno;
	if (!rc && ai->ai_socktype == SOCK_STREAM && listen(fd, backlog > 0 ? backlog : SOMAXCONN))
		rc = -errno;
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

static int in_task(void)
{
	return weft__task_current() ? 0 : weft__misuse(-EPERM, "called outside a task");
}

WEFT_API int weft_tcp_listen(const char *host, uint16_t port, int backlog)
{
	return weft__tcp_listen(host, port, backlog, false);
}

int weft__tcp_listen(const char *host, uint16_t port, int backlog, bool reuseport)
{
	int rc = in_task();
	if (rc)
		return rc;
	if (!host || !*host) {
		/* every address: one dual-stack IPv6 socket where there is
		 * IPv6, else IPv4 */
		struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port),
					  .sin6_addr = IN6ADDR_ANY_INIT};
		struct addrinfo ai6 = {.ai_family = AF_INET6, .ai_socktype = SOCK_STREAM,
				       .ai_addr = (struct sockaddr *)&a6, .ai_addrlen = sizeof(a6)};
		rc = listen_on(&ai6, backlog, true, reuseport);
		if (rc != -EAFNOSUPPORT && rc != -EADDRNOTAVAIL)
			return rc;
		struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port),
					 .sin_addr = {htonl(INADDR_ANY)}};
		struct addrinfo ai4 = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
				       .ai_addr = (struct sockaddr *)&a4, .ai_addrlen = sizeof(a4)};
		return listen_on(&ai4, backlog, false, reuseport);
	}
	struct addrinfo *res;
	if ((rc = resolve(host, port, SOCK_STREAM, true, &res)))
		return rc;
	rc = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		if ((rc = listen_on(ai, backlog, false, reuseport)) >= 0)
			break;
	freeaddrinfo(res);
	return rc;
}

/* Connects a new socket to each address in turn; the first that connects
 * wins, else the last error. */
static int connect_any(const struct addrinfo *res)
{
	int rc = -EADDRNOTAVAIL;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = make_socket(ai, 0);
		if (fd < 0) {
			rc = fd;
			continue;
		}
		rc = weft_connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (rc == 0) {
			if (ai->ai_socktype == SOCK_STREAM && ai->ai_family != AF_UNIX)
				set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
			return fd;
		}
		weft__fd_forget(fd);
		close(fd); /* its only operation has ended */
		if (rc == -ECANCELED)
			break; /* the delivery: no further address */
	}
	return rc;
}

WEFT_API int weft_tcp_connect(const char *host, uint16_t port)
{
	int rc = in_task();
	if (rc)
		return rc;
	if (!host || !*host)
		return weft__misuse(-EINVAL, "no host to connect to");
	struct addrinfo *res;
	if ((rc = resolve(host, port, SOCK_STREAM, false, &res)))
		return rc;
	rc = connect_any(res);
	freeaddrinfo(res);
	return rc;
}

/* A Unix address for path; -ENAMETOOLONG when it does not fit. */
static int unix_addr(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
	if (!path)
		return weft__misuse(-EINVAL, "NULL path");
	size_t n = strlen(path);
	if (n >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

/* In a task: the address info of the Unix socket at path (into *sun). */
static int unix_ai(const char *path, struct sockaddr_un *sun, struct addrinfo *ai)
{
	socklen_t len = 0;
	int rc = in_task();
	if (rc || (rc = unix_addr(path, sun, &len)))
		return rc;
	*ai = (struct addrinfo){.ai_family = AF_UNIX, .ai_socktype = SOCK_STREAM,
				.ai_addr = (struct sockaddr *)sun, .ai_addrlen = len};
	return 0;
}

WEFT_API int weft_unix_listen(const char *path, int backlog)
{
	struct sockaddr_un sun;
	struct addrinfo ai;
	int rc = unix_ai(path, &sun, &ai);
	return rc ? rc : listen_on(&ai, backlog, false, false);
}

WEFT_API int weft_unix_connect(const char *path)
{
	struct sockaddr_un sun;
	struct addrinfo ai;
	int rc = unix_ai(path, &sun, &ai);
	return rc ? rc : connect_any(&ai);
}

WEFT_API int weft_udp_open(const char *local_host, uint16_t local_port, const char *remote_host,
			   uint16_t remote_port)
{
	int rc = in_task();
	if (rc)
		return rc;
	struct addrinfo *remote = NULL, *local = NULL;
	if (remote_host && (rc = resolve(remote_host, remote_port, SOCK_DGRAM, false, &remote)))
		return rc;
	bool bind_it = (local_host && *local_host) || local_port;
	if (bind_it && (rc = resolve(local_host, local_port, SOCK_DGRAM, true, &local))) {
		if (remote)
			freeaddrinfo(remote);
		return rc;
	}
	/* the family: the remote's if any, else the local one's, else IPv4 */
	const struct addrinfo *pick = remote ? remote : local;
	struct addrinfo v4 = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
	int fd = make_socket(pick ? pick : &v4, 0);
	rc = fd;
	if (fd >= 0 && local) {
		const struct addrinfo *ai = local;
		while (ai && ai->ai_family != (pick ? pick->ai_family : AF_INET))
			ai = ai->ai_next;
		if (!ai || bind(fd, ai->ai_addr, ai->ai_addrlen))
			rc = ai ? -errno : -EAFNOSUPPORT;
	}
	if (rc >= 0 && remote && connect(fd, remote->ai_addr, remote->ai_addrlen))
		rc = -errno; /* a datagram connect does not block */
	if (rc < 0 && fd >= 0)
		close(fd);
	if (remote)
		freeaddrinfo(remote);
	if (local)
		freeaddrinfo(local);
	return rc < 0 ? rc : fd;
}

WEFT_API ssize_t weft_sendto(int fd, const void *buf, size_t len, const struct sockaddr *to,
			     socklen_t tolen)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr m = {.msg_name = (void *)to, .msg_namelen = to ? tolen : 0, .msg_iov = &iov,
			   .msg_iovlen = 1};
	return weft_sendmsg(fd, &m, 0);
}

WEFT_API ssize_t weft_recvfrom(int fd, void *buf, size_t len, struct sockaddr *from,
			       socklen_t *fromlen)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr m = {.msg_name = from, .msg_namelen = from && fromlen ? *fromlen : 0,
			   .msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n = weft_recvmsg(fd, &m, 0);
	if (n >= 0 && fromlen)
		*fromlen = m.msg_namelen;
	return n;
}

static int name_of(int fd, bool peer, char *host, size_t hostlen, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if ((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	const void *addr = NULL;
	uint16_t p = 0;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
		addr = &a->sin_addr;
		p = ntohs(a->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
		addr = &a->sin6_addr;
		p = ntohs(a->sin6_port);
	}
	if (port)
		*port = p;
	if (!host)
		return 0;
	if (addr)
		return inet_ntop(ss.ss_family, addr, host, (socklen_t)hostlen) ? 0 : -ENOSPC;
	if (ss.ss_family == AF_UNIX) {
		const struct sockaddr_un *u = (const struct sockaddr_un *)&ss;
		size_t n = len > offsetof(struct sockaddr_un, sun_path)
				   ? strnlen(u->sun_path, len - offsetof(struct sockaddr_un, sun_path))
				   : 0;
		if (n >= hostlen)
			return -ENOSPC;
		memcpy(host, u->sun_path, n);
		host[n] = '\0';
		return 0;
	}
	return -EAFNOSUPPORT;
}

WEFT_API int weft_sockname(int fd, char *host, size_t hostlen, uint16_t *port)
{
	return name_of(fd, false, host, hostlen, port);
}

WEFT_API int weft_peername(int fd, char *host, size_t hostlen, uint16_t *port)
{
	return name_of(fd, true, host, hostlen, port);
}
