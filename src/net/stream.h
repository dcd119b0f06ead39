/* SPDX-License-Identifier: MIT */
/* What the server needs of a stream (src/net/stream.c). */
#ifndef WEFT_NET_STREAM_H
#define WEFT_NET_STREAM_H

#include <weft/stream.h>

/* A stream over connected socket fd, owned by the calling worker (its
 * background I/O runs there); NULL when out of memory (fd is then still
 * the caller's). The caller holds the one reference (weft_stream_free). */
weft_stream *weft__stream_new(int fd, size_t limit);

/* What a stream's descriptor is: a connected socket (both ways), or one
 * end of a pipe (reads and writes; write_eof closes the write end). */
enum weft__stream_kind { WEFT__STREAM_SOCKET, WEFT__STREAM_PIPE_READ, WEFT__STREAM_PIPE_WRITE };

/* The same over a descriptor of the given kind (a pipe's end should be
 * non-blocking). */
weft_stream *weft__stream_new_kind(int fd, size_t limit, enum weft__stream_kind kind);

/* Another reference, and its release (the last frees the stream). */
void weft__stream_hold(weft_stream *s);
void weft__stream_drop(weft_stream *s);

/* Calls fn(arg) on the owner once the stream's socket is closed (the
 * server counts its connections with it). Set before anyone closes it. */
void weft__stream_on_closed(weft_stream *s, void (*fn)(void *arg), void *arg);

#endif
