/* SPDX-License-Identifier: MIT */
/*
 * A RESP2 key-value server (the resp_kv benchmark's server) on weft's
 * streams: PING, ECHO, GET, SET [EX s | PX ms], DEL, EXISTS, INCR, MGET,
 * EXPIRE, TTL, FLUSHALL, with pipelining (replies to a pipelined batch
 * leave in one send). Keys and values are byte strings.
 *
 *   kv_server PORT [WORKERS]
 *       listens on 127.0.0.1:PORT (0: any free port); prints "listening
 *       on PORT"; stops cleanly on SIGINT or SIGTERM.
 *
 * The table is shared by every worker: 256 shards, each a chained hash
 * table under its own mutex (held for a few copies, never across a
 * suspension); see docs/decisions.md. Expiry needs no timer per key: a key
 * past its deadline is dropped when touched, and one sweeper task walks a
 * shard every 10 ms, so a key nobody reads is gone within ~2.6 s.
 *
 * Malformed RESP gets "-ERR Protocol error: ..." and the connection is
 * closed; a bulk string longer than 512 MiB or an array of more than
 * 1,048,576 elements is refused before anything is allocated for it.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <weft.h>

enum {
	SHARDS = 256,
	BULK_MAX = 512 << 20,
	ARGS_MAX = 1 << 20,
	LINE_MAX_ = 64, /* "*<count>\r\n" and "$<len>\r\n" lines */
};

/* ---- the table ---- */

struct entry {
	struct entry *next;
	uint64_t hash;
	int64_t expire_ms; /* 0: none */
	size_t klen, vlen;
	char *val;
	char key[]; /* klen bytes */
};

struct shard {
	pthread_mutex_t lock;
	struct entry **buckets;
	size_t nbuckets, count;
};

static struct shard shards[SHARDS];

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t hash_of(const char *k, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
	return h;
}

static struct shard *shard_of(uint64_t h)
{
	return &shards[h >> 56];
}

static void entry_free(struct entry *e)
{
	free(e->val);
	free(e);
}

/* Caller holds the shard's lock: the live entry for key, or NULL (an
 * expired one is unlinked and freed on the way). *link: where it hangs. */
static struct entry *find(struct shard *s, uint64_t h, const char *k, size_t n, int64_t now)
{
	if (!s->nbuckets)
		return NULL;
	for (struct entry **p = &s->buckets[h & (s->nbuckets - 1)]; *p; p = &(*p)->next) {
		struct entry *e = *p;
		if (e->hash != h || e->klen != n || memcmp(e->key, k, n))
			continue;
		if (e->expire_ms && e->expire_ms <= now) {
			*p = e->next;
			s->count--;
			entry_free(e);
			return NULL;
		}
		return e;
	}
	return NULL;
}

static bool grow(struct shard *s)
{
	size_t nb = s->nbuckets ? s->nbuckets * 2 : 16;
	struct entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return false;
	for (size_t i = 0; i < s->nbuckets; i++) {
		for (struct entry *e = s->buckets[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = nb;
	return true;
}

/* Caller holds the lock: a new entry for key (not present). */
static struct entry *insert(struct shard *s, uint64_t h, const char *k, size_t n)
{
	if (s->count >= s->nbuckets && !grow(s))
		return NULL;
	struct entry *e = calloc(1, sizeof(*e) + n);
	if (!e)
		return NULL;
	e->hash = h;
	e->klen = n;
	memcpy(e->key, k, n);
	e->next = s->buckets[h & (s->nbuckets - 1)];
	s->buckets[h & (s->nbuckets - 1)] = e;
	s->count++;
	return e;
}

static bool remove_key(struct shard *s, uint64_t h, const char *k, size_t n, int64_t now)
{
	if (!find(s, h, k, n, now))
		return false;
	for (struct entry **p = &s->buckets[h & (s->nbuckets - 1)];; p = &(*p)->next) {
		struct entry *e = *p;
		if (e->hash == h && e->klen == n && !memcmp(e->key, k, n)) {
			*p = e->next;
			s->count--;
			entry_free(e);
			return true;
		}
	}
}

static void shard_clear(struct shard *s)
{
	for (size_t i = 0; i < s->nbuckets; i++) {
		for (struct entry *e = s->buckets[i], *next; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	free(s->buckets);
	s->buckets = NULL;
	s->nbuckets = s->count = 0;
}

/* Drops the expired entries of one shard. */
static void sweep(struct shard *s, int64_t now)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nbuckets; i++) {
		for (struct entry **p = &s->buckets[i]; *p;) {
			struct entry *e = *p;
			if (e->expire_ms && e->expire_ms <= now) {
				*p = e->next;
				s->count--;
				entry_free(e);
			} else {
				p = &e->next;
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
}

static int sweeper(void *arg, void **result)
{
	for (unsigned i = 0;; i = (i + 1) % SHARDS) {
		if (weft_sleep(0.01) == -ECANCELED)
			return 0;
		sweep(&shards[i], now_ms());
	}
}

/* ---- replies ---- */

static void reply(weft_stream *s, const char *text)
{
	weft_stream_write(s, text, strlen(text));
}

static void reply_int(weft_stream *s, long long v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), ":%lld\r\n", v);
	weft_stream_write(s, b, (size_t)n);
}

static void reply_bulk(weft_stream *s, const char *v, size_t n)
{
	char b[32];
	int k = snprintf(b, sizeof(b), "$%zu\r\n", n);
	weft_stream_write(s, b, (size_t)k);
	weft_stream_write(s, v, n);
	weft_stream_write(s, "\r\n", 2);
}

/* GET's reply, taken under the lock (the value may change right after). */
static void reply_value(weft_stream *s, const char *k, size_t n)
{
	uint64_t h = hash_of(k, n);
	struct shard *sh = shard_of(h);
	pthread_mutex_lock(&sh->lock);
	struct entry *e = find(sh, h, k, n, now_ms());
	if (e)
		reply_bulk(s, e->val, e->vlen); /* write copies: no suspension */
	else
		reply(s, "$-1\r\n");
	pthread_mutex_unlock(&sh->lock);
}

/* ---- commands ---- */

struct arg {
	char *p;
	size_t n;
};

static bool is(const struct arg *a, const char *name)
{
	return a->n == strlen(name) && strncasecmp(a->p, name, a->n) == 0;
}

/* A decimal integer argument (Redis's string2ll rules, roughly). */
static bool to_ll(const struct arg *a, long long *out)
{
	if (!a->n || a->n > 20)
		return false;
	char b[24];
	memcpy(b, a->p, a->n);
	b[a->n] = 0;
	char *end;
	errno = 0;
	long long v = strtoll(b, &end, 10);
	if (errno || *end || end == b || (b[0] == '+') || (b[0] == '0' && a->n > 1))
		return false;
	*out = v;
	return true;
}

static const char wrong_args[] = "-ERR wrong number of arguments\r\n";

static void cmd_set(weft_stream *s, struct arg *a, int argc)
{
	int64_t expire = 0, now = now_ms();
	for (int i = 3; i < argc; i++) {
		long long v;
		bool ex = is(&a[i], "EX"), px = is(&a[i], "PX");
		if ((!ex && !px) || i + 1 >= argc) {
			reply(s, "-ERR syntax error\r\n");
			return;
		}
		if (!to_ll(&a[++i], &v) || v <= 0 || v > INT64_MAX / 1000 / 2) {
			reply(s, "-ERR invalid expire time in 'set' command\r\n");
			return;
		}
		expire = now + (ex ? v * 1000 : v);
	}
	char *val = malloc(a[2].n ? a[2].n : 1);
	if (!val) {
		reply(s, "-ERR out of memory\r\n");
		return;
	}
	memcpy(val, a[2].p, a[2].n);
	uint64_t h = hash_of(a[1].p, a[1].n);
	struct shard *sh = shard_of(h);
	pthread_mutex_lock(&sh->lock);
	struct entry *e = find(sh, h, a[1].p, a[1].n, now);
	if (!e)
		e = insert(sh, h, a[1].p, a[1].n);
	if (e) {
		free(e->val);
		e->val = val;
		e->vlen = a[2].n;
		e->expire_ms = expire;
	}
	pthread_mutex_unlock(&sh->lock);
	if (!e)
		free(val);
	reply(s, e ? "+OK\r\n" : "-ERR out of memory\r\n");
}

static void cmd_incr(weft_stream *s, struct arg *k)
{
	uint64_t h = hash_of(k->p, k->n);
	struct shard *sh = shard_of(h);
	const char *err = NULL;
	long long v = 0;
	pthread_mutex_lock(&sh->lock);
	struct entry *e = find(sh, h, k->p, k->n, now_ms());
	if (e) {
		struct arg cur = {e->val, e->vlen};
		if (!to_ll(&cur, &v))
			err = "-ERR value is not an integer or out of range\r\n";
		else if (v == LLONG_MAX)
			err = "-ERR increment or decrement would overflow\r\n";
	} else {
		e = insert(sh, h, k->p, k->n);
		if (!e)
			err = "-ERR out of memory\r\n";
	}
	char buf[24];
	int n = 0;
	if (!err) {
		v++;
		n = snprintf(buf, sizeof(buf), "%lld", v);
		char *nv = realloc(e->val, (size_t)n);
		if (nv) {
			memcpy(nv, buf, (size_t)n);
			e->val = nv;
			e->vlen = (size_t)n;
		} else {
			err = "-ERR out of memory\r\n";
		}
	}
	pthread_mutex_unlock(&sh->lock);
	if (err)
		reply(s, err);
	else
		reply_int(s, v);
}

/* EXPIRE key seconds (1 if set) and TTL key (-2 missing, -1 no expiry). */
static void cmd_expire_ttl(weft_stream *s, struct arg *a, bool set)
{
	long long secs = 0;
	if (set && !to_ll(&a[2], &secs)) {
		reply(s, "-ERR value is not an integer or out of range\r\n");
		return;
	}
	uint64_t h = hash_of(a[1].p, a[1].n);
	struct shard *sh = shard_of(h);
	int64_t now = now_ms();
	long long r;
	pthread_mutex_lock(&sh->lock);
	struct entry *e = find(sh, h, a[1].p, a[1].n, now);
	if (!set)
		r = !e ? -2 : !e->expire_ms ? -1 : (e->expire_ms - now + 999) / 1000;
	else if (!e)
		r = 0;
	else if (secs <= 0) /* a deadline already past deletes the key */
		r = remove_key(sh, h, a[1].p, a[1].n, now);
	else {
		e->expire_ms = now + (secs > INT64_MAX / 2000 ? INT64_MAX / 2 : secs * 1000);
		r = 1;
	}
	pthread_mutex_unlock(&sh->lock);
	reply_int(s, r);
}

static void execute(weft_stream *s, struct arg *a, int argc)
{
	struct arg *c = &a[0];
	if (is(c, "PING") && argc <= 2) {
		if (argc == 2)
			reply_bulk(s, a[1].p, a[1].n);
		else
			reply(s, "+PONG\r\n");
	} else if (is(c, "ECHO")) {
		if (argc != 2)
			reply(s, wrong_args);
		else
			reply_bulk(s, a[1].p, a[1].n);
	} else if (is(c, "GET")) {
		if (argc != 2)
			reply(s, wrong_args);
		else
			reply_value(s, a[1].p, a[1].n);
	} else if (is(c, "SET")) {
		if (argc < 3)
			reply(s, wrong_args);
		else
			cmd_set(s, a, argc);
	} else if (is(c, "DEL") || is(c, "EXISTS")) {
		bool del = is(c, "DEL");
		if (argc < 2) {
			reply(s, wrong_args);
			return;
		}
		long long n = 0;
		int64_t now = now_ms();
		for (int i = 1; i < argc; i++) {
			uint64_t h = hash_of(a[i].p, a[i].n);
			struct shard *sh = shard_of(h);
			pthread_mutex_lock(&sh->lock);
			n += del ? remove_key(sh, h, a[i].p, a[i].n, now)
				 : find(sh, h, a[i].p, a[i].n, now) != NULL;
			pthread_mutex_unlock(&sh->lock);
		}
		reply_int(s, n);
	} else if (is(c, "INCR")) {
		if (argc != 2)
			reply(s, wrong_args);
		else
			cmd_incr(s, &a[1]);
	} else if (is(c, "MGET")) {
		if (argc < 2) {
			reply(s, wrong_args);
			return;
		}
		char b[32];
		int k = snprintf(b, sizeof(b), "*%d\r\n", argc - 1);
		weft_stream_write(s, b, (size_t)k);
		for (int i = 1; i < argc; i++)
			reply_value(s, a[i].p, a[i].n);
	} else if (is(c, "EXPIRE") || is(c, "TTL")) {
		bool set = is(c, "EXPIRE");
		if (argc != (set ? 3 : 2))
			reply(s, wrong_args);
		else
			cmd_expire_ttl(s, a, set);
	} else if (is(c, "FLUSHALL") && argc <= 2) {
		for (int i = 0; i < SHARDS; i++) {
			pthread_mutex_lock(&shards[i].lock);
			shard_clear(&shards[i]);
			pthread_mutex_unlock(&shards[i].lock);
		}
		reply(s, "+OK\r\n");
	} else if (is(c, "COMMAND") || is(c, "CONFIG")) {
		reply(s, "*0\r\n"); /* redis-cli and redis-benchmark ask at start */
	} else {
		char b[96];
		int n = snprintf(b, sizeof(b), "-ERR unknown command '%.*s'\r\n",
				 (int)(c->n < 32 ? c->n : 32), c->p);
		for (int i = 1; i < n - 2; i++)
			if (b[i] == '\r' || b[i] == '\n')
				b[i] = ' ';
		weft_stream_write(s, b, (size_t)n);
	}
}

/* ---- the protocol ---- */

/* Reads "<prefix><number>\r\n"; the number, or -1 (EOF or an error:
 * *err set to the protocol error to report, or NULL to just close). */
static long long read_header(weft_stream *s, char prefix, long long max, const char **err)
{
	static const char *const crlf[] = {"\r\n"};
	char line[LINE_MAX_];
	size_t got;
	*err = NULL;
	int rc = weft_stream_readuntil(s, crlf, 1, line, sizeof(line), &got);
	if (rc == -EOVERFLOW || rc == -ENOSPC) {
		*err = "-ERR Protocol error: too big header line\r\n";
		return -1;
	}
	if (rc)
		return -1;
	struct arg num = {line + 1, got - 3};
	long long v;
	if (got < 3 || line[0] != prefix) {
		*err = prefix == '*' ? "-ERR Protocol error: expected '*', inline commands are not served\r\n"
				     : "-ERR Protocol error: expected '$'\r\n";
		return -1;
	}
	if (!to_ll(&num, &v) || v < 0 || v > max) {
		*err = prefix == '*' ? "-ERR Protocol error: invalid multibulk length\r\n"
				     : "-ERR Protocol error: invalid bulk length\r\n";
		return -1;
	}
	return v;
}

static int connection(weft_stream *s, void *arg)
{
	struct arg *a = NULL;
	int cap = 0;
	for (;;) {
		const char *err;
		long long argc = read_header(s, '*', ARGS_MAX, &err);
		if (argc < 0) {
			if (err)
				reply(s, err);
			break;
		}
		if (argc == 0)
			continue; /* an empty array is skipped, as Redis does */
		if (argc > cap) {
			struct arg *b = realloc(a, sizeof(*a) * (size_t)argc);
			if (!b)
				break;
			a = b;
			cap = (int)argc;
		}
		int n = 0;
		bool ok = true;
		for (; n < argc; n++) {
			long long len = read_header(s, '$', BULK_MAX, &err);
			char *p = len >= 0 ? malloc((size_t)len + 2) : NULL;
			size_t got;
			if (!p || weft_stream_readexactly(s, p, (size_t)len + 2, &got) ||
			    p[len] != '\r' || p[len + 1] != '\n') {
				if (p && !err && got == (size_t)len + 2)
					err = "-ERR Protocol error: bulk string not ended by CRLF\r\n";
				free(p);
				ok = false;
				break;
			}
			a[n] = (struct arg){p, (size_t)len};
		}
		if (ok)
			execute(s, a, n);
		for (int i = 0; i < n; i++)
			free(a[i].p);
		if (!ok) {
			if (err)
				reply(s, err);
			break;
		}
		if (weft_stream_drain(s))
			break;
	}
	free(a);
	return 0;
}

static int on_signal(void *arg, void **result)
{
	int signo = (int)(intptr_t)arg;
	int rc = weft_signal_wait(signo);
	return rc == signo ? 0 : rc;
}

static int main_task(void *arg, void **result)
{
	uint16_t port = (uint16_t)(uintptr_t)arg;
	weft_server *srv;
	int rc = weft_start_server(connection, NULL, "127.0.0.1", port, NULL, &srv);
	if (rc) {
		fprintf(stderr, "kv_server: listen: %s\n", weft_strerror(rc));
		return rc;
	}
	weft_server_sockname(srv, NULL, 0, &port);
	printf("listening on %u\n", (unsigned)port);
	fflush(stdout);
	weft_future *sw = weft_create_task(sweeper, NULL, "sweeper");
	weft_future *sig[2] = {
		weft_create_task(on_signal, (void *)(intptr_t)SIGINT, "sigint"),
		weft_create_task(on_signal, (void *)(intptr_t)SIGTERM, "sigterm"),
	};
	weft_future *done[2], *pending[2];
	size_t ndone = 0, npending = 0;
	weft_wait(sig, 2, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done, &ndone, pending, &npending);
	weft_future *all[3] = {sig[0], sig[1], sw};
	for (int i = 0; i < 3; i++) {
		weft_cancel(all[i], NULL);
		weft_await(all[i], NULL);
		weft_future_unref(all[i]);
	}
	weft_server_close(srv);
	weft_server_free(srv);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: kv_server PORT [WORKERS]\n");
		return 2;
	}
	for (int i = 0; i < SHARDS; i++)
		pthread_mutex_init(&shards[i].lock, NULL);
	weft_config cfg;
	weft_config_init(&cfg);
	if (argc > 2)
		cfg.workers = (unsigned)atoi(argv[2]);
	int rc = weft_run(main_task, (void *)(uintptr_t)atoi(argv[1]), &cfg, NULL);
	for (int i = 0; i < SHARDS; i++)
		shard_clear(&shards[i]);
	if (rc < 0) {
		fprintf(stderr, "kv_server: %s\n", weft_strerror(rc));
		return 1;
	}
	return 0;
}
