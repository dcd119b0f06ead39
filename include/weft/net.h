/* SPDX-License-Identifier: MIT */
/*
 * Sockets: TCP over IPv4 and IPv6, Unix stream sockets, UDP. The calls
 * make the socket and set it up as asyncio's loop.create_server /
 * create_connection / create_datagram_endpoint do; the descriptors they
 * return are plain sockets for the raw operations of weft/io.h (close them
 * with weft_close).
 *
 * Hosts: NULL or "" means every local address (listen) or is refused
 * (connect: -EINVAL); a numeric IPv4 or IPv6 address is used as is; a
 * name is resolved with getaddrinfo on the blocking pool, as a detached
 * call: a cancellation or a timeout scope returns at once (-ECANCELED)
 * while the lookup finishes on its own. An unknown name is WEFT_ENAME.
 *
 * Every call here is for tasks only (-EPERM elsewhere) and may suspend
 * the calling task; descriptors are made SOCK_CLOEXEC, and on the epoll
 * backend (weft/runtime.h) SOCK_NONBLOCK too (connect and accept have no
 * per-call non-blocking flag): a blocking syscall of yours on them then
 * returns EAGAIN instead of waiting.
 */
#ifndef WEFT_NET_H
#define WEFT_NET_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <weft/common.h>

WEFT_BEGIN_DECLS

/*
 * A listening TCP socket on host:port (port 0: one the kernel picks;
 * weft_sockname tells which), SO_REUSEADDR set, backlog <= 0 meaning
 * SOMAXCONN. With no host it listens on every IPv6 and IPv4 address
 * where the system allows a dual-stack socket, else every IPv4 one. A
 * name listens on its first address that binds. Returns the descriptor
 * or -errno (-EADDRINUSE, ...), WEFT_ENAME, -ECANCELED.
 */
WEFT_API int weft_tcp_listen(const char *host, uint16_t port, int backlog);

/*
 * A TCP connection to host:port, TCP_NODELAY set (asyncio's default since
 * 3.7). Each resolved address is tried in turn until one connects; the
 * last error is returned if none does (-ECONNREFUSED, ...). A connect
 * timeout is an ordinary timeout scope around the call.
 */
WEFT_API int weft_tcp_connect(const char *host, uint16_t port);

/* A listening Unix stream socket at path (an existing socket file there is
 * not removed: -EADDRINUSE). */
WEFT_API int weft_unix_listen(const char *path, int backlog);
/* A connection to the Unix stream socket at path. */
WEFT_API int weft_unix_connect(const char *path);

/*
 * A UDP socket (asyncio's datagram endpoint): bound to local_host:local_port
 * when local_host or local_port is given, and connected to
 * remote_host:remote_port when remote_host is not NULL (then weft_send and
 * weft_recv work on it; weft_sendto/recvfrom always do).
 */
WEFT_API int weft_udp_open(const char *local_host, uint16_t local_port, const char *remote_host,
			   uint16_t remote_port);

/* sendto(2) / recvfrom(2) on a datagram socket (from, fromlen may be
 * NULL). */
WEFT_API ssize_t weft_sendto(int fd, const void *buf, size_t len, const struct sockaddr *to,
			     socklen_t tolen);
WEFT_API ssize_t weft_recvfrom(int fd, void *buf, size_t len, struct sockaddr *from,
			       socklen_t *fromlen);

/*
 * The local (sockname) or remote (peername) address of a socket as a
 * numeric host string and a port (asyncio's get_extra_info('sockname'));
 * a Unix socket gives its path and port 0. host may be NULL. Returns 0 or
 * -errno (-ENOSPC: hostlen too small). Never suspends; any thread.
 */
WEFT_API int weft_sockname(int fd, char *host, size_t hostlen, uint16_t *port);
WEFT_API int weft_peername(int fd, char *host, size_t hostlen, uint16_t *port);

WEFT_END_DECLS

#endif
