/* SPDX-License-Identifier: MIT */
/*
 * An HTTP/1.1 "Hello, World!" server (the http_hello benchmark's server)
 * on weft's streams: asyncio's start_server shape, one task per
 * connection. Streams, not raw operations: a request split across reads
 * at any byte and pipelined requests are the stream's readuntil, which
 * keeps what follows a request buffered for the next one, and responses
 * to a pipelined batch go out in one send.
 *
 *   http_hello PORT [WORKERS] [--header-timeout SECONDS]
 *       listens on 127.0.0.1:PORT (0: any free port); prints "listening
 *       on PORT"; stops cleanly on SIGINT or SIGTERM.
 *
 * Keep-alive per HTTP/1.1 (Connection: close ends it; HTTP/1.0 keeps the
 * connection only with Connection: keep-alive). A request whose header
 * does not end within 8 KiB gets 431 and the connection is closed (the
 * stream never buffers more than twice that); a malformed request 400; a
 * chunked body 501; a Content-Length body is read and dropped (at most
 * 1 MiB, else 413). A client that does not send a whole header within the
 * header timeout (10 s by default) gets 408 and is closed: a timeout scope
 * around the read, asyncio-style.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <weft.h>

enum {
	HEADER_MAX = 8192,     /* the stream's limit: a longer header is 431 */
	BODY_MAX = 1 << 20,    /* a longer Content-Length is 413 */
};

static double header_timeout = 10.0;

static const char hello[] = "Hello, World!";

/* What one request asks of the response. */
struct request {
	bool http10;
	bool keep_alive;
	long content_length;
	bool chunked;
};

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", c);
}

/* Does the comma-separated header value v (n bytes) hold token t? */
static bool has_token(const char *v, size_t n, const char *t)
{
	size_t tl = strlen(t);
	for (size_t i = 0; i < n;) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t j = i;
		while (j < n && v[j] != ',')
			j++;
		size_t e = j;
		while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - i == tl && strncasecmp(v + i, t, tl) == 0)
			return true;
		i = j;
	}
	return false;
}

/* Parses the header block h (n bytes, ending in CRLF CRLF). 0, or the
 * status to answer with before closing (400). */
static int parse(const char *h, size_t n, struct request *r)
{
	*r = (struct request){.keep_alive = true};
	const char *end = h + n;
	const char *eol = memchr(h, '\r', n);
	if (!eol || eol + 1 >= end || eol[1] != '\n')
		return 400;
	/* request line: method SP target SP HTTP/1.x */
	const char *p = h;
	while (p < eol && is_tchar(*p))
		p++;
	if (p == h || p >= eol || *p != ' ')
		return 400;
	const char *target = ++p;
	while (p < eol && *p != ' ' && (unsigned char)*p > ' ')
		p++;
	if (p == target || p >= eol || *p != ' ')
		return 400;
	p++;
	if (eol - p != 8 || memcmp(p, "HTTP/1.", 7) || (p[7] != '0' && p[7] != '1'))
		return 400;
	r->http10 = p[7] == '0';
	r->keep_alive = !r->http10;
	/* header fields */
	for (p = eol + 2; p < end;) {
		eol = memchr(p, '\r', (size_t)(end - p));
		if (!eol || eol + 1 >= end || eol[1] != '\n')
			return 400;
		if (eol == p)
			break; /* the empty line */
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p)
			return 400;
		for (const char *q = p; q < colon; q++)
			if (!is_tchar(*q))
				return 400; /* no space before the colon (RFC 9112) */
		const char *v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		size_t name_len = (size_t)(colon - p), vlen = (size_t)(eol - v);
		if (name_len == 10 && strncasecmp(p, "connection", 10) == 0) {
			if (has_token(v, vlen, "close"))
				r->keep_alive = false;
			else if (has_token(v, vlen, "keep-alive"))
				r->keep_alive = true;
		} else if (name_len == 14 && strncasecmp(p, "content-length", 14) == 0) {
			long len = 0;
			if (!vlen)
				return 400;
			for (const char *q = v; q < v + vlen; q++) {
				if (*q < '0' || *q > '9')
					return 400;
				if (len <= BODY_MAX)
					len = len * 10 + (*q - '0');
			}
			if (r->content_length && r->content_length != len)
				return 400; /* two different lengths */
			r->content_length = len;
		} else if (name_len == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
			r->chunked = true;
		}
		p = eol + 2;
	}
	return 0;
}

static void respond_error(weft_stream *s, int status)
{
	const char *reason = status == 400   ? "Bad Request"
			     : status == 408 ? "Request Timeout"
			     : status == 413 ? "Content Too Large"
			     : status == 431 ? "Request Header Fields Too Large"
					     : "Not Implemented";
	char b[160];
	int n = snprintf(b, sizeof(b),
			 "HTTP/1.1 %d %s\r\nServer: weft\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			 status, reason);
	weft_stream_write(s, b, (size_t)n);
}

static void respond_hello(weft_stream *s, const struct request *r)
{
	static const char keep[] = "HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\n"
				   "Content-Length: 13\r\n\r\nHello, World!";
	static const char keep10[] = "HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\n"
				     "Content-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, World!";
	static const char close_[] = "HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\n"
				     "Content-Length: 13\r\nConnection: close\r\n\r\nHello, World!";
	_Static_assert(sizeof(hello) - 1 == 13, "Content-Length matches the body");
	if (!r->keep_alive)
		weft_stream_write(s, close_, sizeof(close_) - 1);
	else if (r->http10)
		weft_stream_write(s, keep10, sizeof(keep10) - 1);
	else
		weft_stream_write(s, keep, sizeof(keep) - 1);
}

/* Reads and drops a body of n bytes. 0 or the stream's error. */
static int skip_body(weft_stream *s, long n)
{
	char b[4096];
	while (n > 0) {
		size_t want = n < (long)sizeof(b) ? (size_t)n : sizeof(b);
		size_t got;
		int rc = weft_stream_readexactly(s, b, want, &got);
		if (rc)
			return rc;
		n -= (long)want;
	}
	return 0;
}

/* Reads one header block into h; its length, or the status to close with
 * (408, 431), or 0 when the client left. */
static long read_header(weft_stream *s, char *h, size_t cap)
{
	static const char *const sep[] = {"\r\n\r\n"};
	weft_timeout scope;
	if (weft_timeout_enter_after(&scope, header_timeout))
		return 0; /* no memory for the scope's timer: close */
	size_t got = 0;
	int rc = weft_stream_readuntil(s, sep, 1, h, cap, &got);
	rc = weft_timeout_exit(&scope, rc);
	if (rc == 0)
		return (long)got;
	if (rc == -ETIMEDOUT)
		return -408;
	if (rc == -EOVERFLOW || rc == -ENOSPC)
		return -431;
	return 0; /* EOF (-EPIPE), a reset, or shutdown's -ECANCELED */
}

/* A connection's task under weft_start_server (the server closes it). */
static int connection(weft_stream *s, void *arg)
{
	char h[HEADER_MAX + 4];
	for (;;) {
		long n = read_header(s, h, sizeof(h));
		if (n <= 0) {
			if (n < 0)
				respond_error(s, (int)-n);
			break;
		}
		/* empty lines before a request line are allowed (RFC 9112 2.2) */
		size_t off = 0;
		while (off + 1 < (size_t)n && h[off] == '\r' && h[off + 1] == '\n')
			off += 2;
		if (off + 4 > (size_t)n) /* only empty lines so far */
			continue;
		struct request r;
		int status = parse(h + off, (size_t)n - off, &r);
		if (!status && r.chunked)
			status = 501;
		if (!status && r.content_length > BODY_MAX)
			status = 413;
		if (status) {
			respond_error(s, status);
			break;
		}
		if (r.content_length && skip_body(s, r.content_length))
			break;
		respond_hello(s, &r);
		if (!r.keep_alive)
			break;
		if (weft_stream_drain(s))
			break;
	}
	return 0;
}

/* Ends at the first delivery of its signal. */
static int on_signal(void *arg, void **result)
{
	int signo = (int)(intptr_t)arg;
	int rc = weft_signal_wait(signo);
	return rc == signo ? 0 : rc;
}

static int main_task(void *arg, void **result)
{
	uint16_t port = (uint16_t)(uintptr_t)arg;
	weft_server_config cfg;
	weft_server_config_init(&cfg);
	cfg.limit = HEADER_MAX;
	weft_server *srv;
	int rc = weft_start_server(connection, NULL, "127.0.0.1", port, &cfg, &srv);
	if (rc) {
		fprintf(stderr, "http_hello: listen: %s\n", weft_strerror(rc));
		return rc;
	}
	weft_server_sockname(srv, NULL, 0, &port);
	printf("listening on %u\n", (unsigned)port);
	fflush(stdout);
	weft_future *sig[2] = {
		weft_create_task(on_signal, (void *)(intptr_t)SIGINT, "sigint"),
		weft_create_task(on_signal, (void *)(intptr_t)SIGTERM, "sigterm"),
	};
	weft_future *done[2], *pending[2];
	size_t ndone = 0, npending = 0;
	weft_wait(sig, 2, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done, &ndone, pending, &npending);
	for (int i = 0; i < 2; i++) {
		weft_cancel(sig[i], NULL);
		weft_await(sig[i], NULL);
		weft_future_unref(sig[i]);
	}
	weft_server_close(srv);
	weft_server_free(srv); /* returning ends weft_run: connections are cancelled */
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: http_hello PORT [WORKERS] [--header-timeout SECONDS]\n");
		return 2;
	}
	weft_config cfg;
	weft_config_init(&cfg);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--header-timeout") && i + 1 < argc)
			header_timeout = atof(argv[++i]);
		else
			cfg.workers = (unsigned)atoi(argv[i]);
	}
	int rc = weft_run(main_task, (void *)(uintptr_t)atoi(argv[1]), &cfg, NULL);
	if (rc < 0) {
		fprintf(stderr, "http_hello: %s\n", weft_strerror(rc));
		return 1;
	}
	return 0;
}
