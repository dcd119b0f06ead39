/* SPDX-License-Identifier: MIT */
/*
 * Streams and servers: asyncio's StreamReader/StreamWriter pair as one
 * handle, open_connection, start_server.
 *
 * asyncio.open_connection(host, port)  -> weft_open_connection(host, port, &s)
 * asyncio.start_server(cb, host, port) -> weft_start_server(cb, arg, host, port, &srv)
 * reader.read / readexactly / readuntil / readline / at_eof
 *                                      -> weft_stream_read / ... / weft_stream_at_eof
 * writer.write / drain / write_eof / close / wait_closed / get_extra_info
 *                                      -> weft_stream_write / ... / weft_stream_peername
 *
 * Reads wait on the stream's buffer, not on a kernel operation: the
 * stream receives in the background, on the worker it was made on, into
 * a buffer, and a read takes from it. So a cancelled read (weft_cancel, a
 * timeout scope) returns -ECANCELED at once and bytes that arrive stay
 * buffered for the next read. Receiving pauses while 2 x limit bytes are
 * buffered and resumes at limit (limit: 64 KiB by default). One task may
 * wait to read at a time: a second one gets -EPERM (asyncio's
 * RuntimeError).
 *
 * Writes copy into the stream's buffer and never suspend; one send at a
 * time goes out in the background, the remainder of a short send before
 * any later byte. weft_stream_drain suspends while more than the high-water
 * mark (64 KiB) is buffered, until it is at or below the low-water mark
 * (16 KiB). The peer's EOF never closes the writer.
 *
 * Reading and waiting calls (read*, drain, wait_closed, open_connection)
 * are for tasks only (-EPERM elsewhere) and may suspend; write, write_eof,
 * close, abort and the queries never suspend and may be called from any
 * task of the stream's runtime. A stream is used by one task at a time for
 * reading; writes from several tasks are each copied whole, in call order.
 */
#ifndef WEFT_STREAM_H
#define WEFT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <weft/common.h>

WEFT_BEGIN_DECLS

typedef struct weft_stream weft_stream;
typedef struct weft_server weft_server;

/* The reader's default limit (asyncio's 2^16). */
#define WEFT_STREAM_LIMIT 65536

/*
 * A TCP connection to host:port (weft/net.h's weft_tcp_connect) as a
 * stream; *out is the caller's (weft_stream_free). limit: 0 for the
 * default. Returns 0 or what connecting returned (-ECONNREFUSED,
 * WEFT_ENAME, -ECANCELED, ...). Suspends; tasks only.
 */
WEFT_API int weft_open_connection(const char *host, uint16_t port, size_t limit, weft_stream **out);
/* The same over a Unix stream socket. */
WEFT_API int weft_open_unix_connection(const char *path, size_t limit, weft_stream **out);
/* A stream over a connected socket the caller made; the stream owns fd
 * from now on (it closes it). 0, -EINVAL, -ENOMEM. Tasks only; never
 * suspends. */
WEFT_API int weft_stream_from_fd(int fd, size_t limit, weft_stream **out);

/*
 * read(n): up to n bytes (at least 1 unless at EOF), waiting only when
 * nothing is buffered; 0 at EOF. -ECANCELED (bytes stay buffered), -EPERM
 * (another task waits to read), or the connection's error
 * (-ECONNRESET, ...) once everything buffered before it was read.
 */
WEFT_API ssize_t weft_stream_read(weft_stream *s, void *buf, size_t n);

/*
 * read() to EOF into buf (at most cap bytes: a C caller must bound
 * memory): 0 with *got bytes once EOF is reached; -EOVERFLOW when more
 * than cap bytes arrive before EOF (nothing is taken: the data stays
 * buffered).
 */
WEFT_API int weft_stream_read_to_eof(weft_stream *s, void *buf, size_t cap, size_t *got);

/*
 * readexactly(n): exactly n bytes into buf, 0 then. EOF first: -EPIPE
 * (asyncio's IncompleteReadError) with the partial bytes in buf and their
 * count in *got, the buffer cleared.
 */
WEFT_API int weft_stream_readexactly(weft_stream *s, void *buf, size_t n, size_t *got);

/*
 * readuntil(separators): the data up to and including the separator whose
 * match ends earliest (3.13: several separators), into buf, its length in
 * *got; 0 then. Separators are non-empty C strings. A complete separator
 * already buffered is found before EOF is reported.
 * - not found within limit bytes: -EOVERFLOW (LimitOverrunError), the data
 *   stays buffered, *got = how much was scanned;
 * - found, but starting beyond limit: -EOVERFLOW, buffer untouched, *got =
 *   where it starts;
 * - found, but longer than cap: -ENOSPC, buffer untouched, *got = the
 *   length needed;
 * - EOF first: -EPIPE with the partial bytes in buf (up to cap) and their
 *   count in *got, the buffer cleared.
 */
WEFT_API int weft_stream_readuntil(weft_stream *s, const char *const *seps, size_t nseps, void *buf,
				   size_t cap, size_t *got);

/*
 * readline: readuntil("\n"), except that EOF returns the partial line
 * (0, *got bytes, possibly 0 at EOF), and on an overrun the data is
 * discarded (through the newline if one is buffered, else all of it) and
 * -EOVERFLOW returned, as asyncio's readline does.
 */
WEFT_API int weft_stream_readline(weft_stream *s, void *buf, size_t cap, size_t *got);

/* at_eof: EOF was received and everything buffered has been read. */
WEFT_API bool weft_stream_at_eof(weft_stream *s);

/*
 * write: copies len bytes to the send buffer; never suspends. Returns 0,
 * -EPIPE (write_eof was called, or the stream is closing), the
 * connection's error once a send failed, or -ENOMEM.
 */
WEFT_API int weft_stream_write(weft_stream *s, const void *buf, size_t len);

/*
 * drain: if more than the high-water mark is buffered, suspends until at
 * most the low-water mark is; returns 0, the connection's error
 * (-ECONNRESET, -EPIPE, ...), -ECANCELED.
 */
WEFT_API int weft_stream_drain(weft_stream *s);

/* write_eof: shuts the write side down once the buffer has flushed (0);
 * -EPIPE if the stream is closing. Never suspends. */
WEFT_API int weft_stream_write_eof(weft_stream *s);

/* close: stops reading, flushes what is buffered in the background, then
 * closes the socket. Never suspends; idempotent. */
WEFT_API void weft_stream_close(weft_stream *s);
/* abort: closes at once, dropping unsent data. Never suspends. */
WEFT_API void weft_stream_abort(weft_stream *s);
/* is_closing: close or abort was called (or the server closed it). */
WEFT_API bool weft_stream_is_closing(weft_stream *s);
/* wait_closed: suspends until the socket is closed (after close or
 * abort); 0 or -ECANCELED. */
WEFT_API int weft_stream_wait_closed(weft_stream *s);

/* Releases the caller's handle; closes the stream first if nobody did
 * (the flush goes on in the background). Never suspends. Not for a server
 * connection's stream (the server owns it). */
WEFT_API void weft_stream_free(weft_stream *s);

/* The socket (for setsockopt and the like; do not read, write or close
 * it), and get_extra_info('peername'/'sockname') as weft/net.h gives them. */
WEFT_API int weft_stream_fd(weft_stream *s);
WEFT_API int weft_stream_peername(weft_stream *s, char *host, size_t hostlen, uint16_t *port);
WEFT_API int weft_stream_sockname(weft_stream *s, char *host, size_t hostlen, uint16_t *port);

/*
 * A connection's task: runs fn(stream, arg) for each accepted connection.
 * The server owns the stream: it closes it however the task ends
 * (returned, failed, cancelled, or cancelled before it first ran).
 */
typedef int (*weft_client_fn)(weft_stream *s, void *arg);

/* How a server is set up (weft_server_config_init fills the defaults). */
typedef struct weft_server_config {
	size_t size;    /* sizeof(weft_server_config): set by _init */
	size_t limit;   /* each connection stream's reader limit (0: 64 KiB) */
	int backlog;    /* the listen backlog (<= 0: SOMAXCONN) */
	/* TCP: a listener (SO_REUSEPORT) and an acceptor per worker, each
	 * starting its connections' tasks on its own worker only, so a
	 * connection never crosses workers (the kernel spreads connections
	 * over the listeners). Default: one listener and acceptor, whose new
	 * connection tasks idle workers steal. docs/decisions.md has the
	 * measurements behind the default. */
	bool reuseport;
} weft_server_config;

/* Fills *cfg with the defaults. Any thread; never suspends. */
WEFT_API void weft_server_config_init(weft_server_config *cfg);

/*
 * start_server: listens on host:port (weft_tcp_listen's rules; port 0
 * picks one: weft_server_sockname) and serves connections, each in a task
 * of its own, on every worker. cfg NULL: the defaults. Accept errors that
 * belong to one connection skip it; running out of descriptors (EMFILE,
 * ENFILE) backs off 5 ms, doubling to 1 s, and retries at once when one
 * of the server's connections closes. *out is the caller's
 * (weft_server_free). 0 or -errno (-EINVAL: an uninitialised cfg).
 * Suspends (a name lookup); tasks only.
 */
WEFT_API int weft_start_server(weft_client_fn fn, void *arg, const char *host, uint16_t port,
			       const weft_server_config *cfg, weft_server **out);
/* The same on a Unix stream socket at path (cfg.reuseport is ignored). */
WEFT_API int weft_start_unix_server(weft_client_fn fn, void *arg, const char *path,
				    const weft_server_config *cfg, weft_server **out);

/* serve_forever: suspends until the server is closed (0), or -ECANCELED
 * (the server is then closed). */
WEFT_API int weft_server_serve_forever(weft_server *srv);
/* close: stops listening; connections go on. Never suspends. */
WEFT_API void weft_server_close(weft_server *srv);
/* close_clients / abort_clients (3.13): close or abort every connection's
 * stream. Never suspend. */
WEFT_API void weft_server_close_clients(weft_server *srv);
WEFT_API void weft_server_abort_clients(weft_server *srv);
/* wait_closed: suspends until the server is closed and no connection is
 * left (3.12.1); 0 or -ECANCELED. */
WEFT_API int weft_server_wait_closed(weft_server *srv);
/* Connections alive now. */
WEFT_API size_t weft_server_connections(weft_server *srv);
/* The listening address. */
WEFT_API int weft_server_sockname(weft_server *srv, char *host, size_t hostlen, uint16_t *port);
/* Releases the caller's handle; closes the server first if nobody did
 * (connections go on). Never suspends. */
WEFT_API void weft_server_free(weft_server *srv);

WEFT_END_DECLS

#endif
