/* SPDX-License-Identifier: MIT */
/*
 * The load generator of the network workloads (BENCH.md tcp_echo,
 * connect_rate, idle_connections; IO.md "Measuring the network workloads
 * honestly"): one program for every echo server under test, plain C on
 * epoll, one thread pinned to one CPU, not built on weft.
 *
 *   echo_loadgen tcp_echo         --port P [--conns C] [--size S] [--seconds T]
 *   echo_loadgen connect_rate     --port P [--conns C] [--seconds T]
 *   echo_loadgen idle_connections --port P [--conns N]
 *   echo_loadgen probe            --port P [--timeout S]   (does it echo? exit 0/1)
 *   echo_loadgen free-port        (prints a port free on 127.0.0.1 now)
 *
 * tcp_echo: C connections, each sends a message of S bytes and waits for
 * the whole echo before sending the next (closed loop); a warm-up, then a
 * measured window of T seconds. Every echoed byte is compared with what
 * was sent (each message is a pattern of its connection and its number),
 * so a server that corrupts, drops, duplicates or reorders bytes, or closes
 * early, fails the run loudly.
 * connect_rate: C clients in a loop: connect, send 64 B, read the echo,
 * close; connections/s and the latency of the whole cycle.
 * idle_connections: N connections opened (at most --inflight connects at
 * a time) and left idle; then each echoes once. The figure is the
 * server's RSS per connection (VmRSS of --server-pid, once the server holds
 * them all, minus VmRSS before), beside the seconds to open them.
 *
 * With --server-pid PID the generator reads the server's CPU time (utime +
 * stime of /proc/PID/stat) at the very start and end of the measured
 * window, and its peak RSS (VmHWM) at the end: the deciding figure is the
 * server's CPU seconds per million messages (IO.md). Its own CPU time
 * (getrusage) over the same window is reported as a fraction of the wall
 * time ("gen_cpu"); above 0.9 the run is marked generator-bound: the
 * generator, not the server, may be the limit.
 *
 * Output: a human line on stdout and a JSON line with bench/harness.c's
 * keys (workload, runtime, variant, n, seconds, rate, unit, rss_kb,
 * better, metrics, run, ok, machine, ...) appended to --json.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"

#ifndef LOADGEN_BUILD
#define LOADGEN_BUILD "unknown"
#endif

/* ---- options ------------------------------------------------------------- */

static struct {
	const char *mode;
	const char *host;
	int port;
	int conns; /* 0: the mode's default */
	size_t size;
	double seconds;
	double warmup; /* < 0: the default */
	double stall;  /* no progress for this long fails the run */
	double timeout; /* probe */
	int cpu;        /* -2: the default (last CPU allowed), -1: no pinning */
	int inflight;   /* idle_connections: connects in flight */
	long server_pid;
	const char *runtime;
	const char *variant;
	const char *build;
	const char *json;
	bool json_stdout;
	bool quick;
	int run;
	int workers;
} opt = {
	.host = "127.0.0.1",
	.size = 64,
	.seconds = 10,
	.warmup = -1,
	.stall = 5,
	.timeout = 10,
	.cpu = -2,
	.inflight = 64,
	.runtime = "unknown",
	.variant = "-",
	.build = "",
	.run = 1,
};

static struct sockaddr_in server_addr;

/* ---- time ---------------------------------------------------------------- */

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_self_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

/* ---- the outcome ---------------------------------------------------------- */

#define MAX_METRICS 16

static struct {
	bool failed;
	char why[512];
	double n, seconds, rate;
	bool has_rate;
	long rss_kb; /* the server's peak (VmHWM), -1 unknown */
	int nm;
	struct {
		const char *key;
		double value;
	} m[MAX_METRICS];
	const char *extra_json; /* e.g. "\"generator_bound\":true" */
	char extra[256];
} res = {.rss_kb = -1};

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	if (res.failed)
		return; /* keep the first reason */
	res.failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res.why, sizeof(res.why), fmt, ap);
	va_end(ap);
	fprintf(stderr, "echo_loadgen: %s %s %s: FAILED: %s\n", opt.mode, opt.runtime, opt.variant,
		res.why);
}

static void metric(const char *key, double value)
{
	if (res.nm < MAX_METRICS) {
		res.m[res.nm].key = key;
		res.m[res.nm].value = value;
		res.nm++;
	}
}

/* ---- the server's figures (/proc/PID) ---------------------------------------- */

/* utime + stime of the whole process, seconds; < 0 if unknown. */
static double server_cpu_s(void)
{
	if (opt.server_pid <= 0)
		return -1;
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", opt.server_pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t k = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (k <= 0)
		return -1;
	buf[k] = '\0';
	/* after the command name, which may hold spaces and parentheses */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	/* fields 3.. follow: state(3) ... utime(14) stime(15) */
	unsigned long long ut = 0, st = 0;
	int field = 2;
	char *save = NULL;
	for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		field++;
		if (field == 14)
			ut = strtoull(tok, NULL, 10);
		else if (field == 15) {
			st = strtoull(tok, NULL, 10);
			break;
		}
	}
	if (field != 15)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Key:   123 kB" line of /proc/PID/status, KiB; -1 if unknown. */
static long server_status_kb(const char *key)
{
	if (opt.server_pid <= 0)
		return -1;
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%ld/status", opt.server_pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long v = -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* Open file descriptors of the server; -1 if unknown. */
static long server_fds(void)
{
	if (opt.server_pid <= 0)
		return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/fd", opt.server_pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	long n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---- the latency histogram (ns; 64 sub-buckets per octave, ~1.6 %) ------------ */

#define H_LINEAR 128
#define H_SUB 64
#define H_BUCKETS (H_LINEAR + (64 - 7) * H_SUB)

static uint64_t hist[H_BUCKETS];
static uint64_t hist_total, hist_max;

static inline unsigned hist_index(uint64_t v)
{
	if (v < H_LINEAR)
		return (unsigned)v;
	int msb = 63 - __builtin_clzll(v);
	int shift = msb - 6;
	return H_LINEAR + (unsigned)(msb - 7) * H_SUB + (unsigned)((v >> shift) - H_SUB);
}

static uint64_t hist_value(unsigned idx) /* the bucket's midpoint */
{
	if (idx < H_LINEAR)
		return idx;
	unsigned o = (idx - H_LINEAR) / H_SUB, s = (idx - H_LINEAR) % H_SUB;
	int shift = (int)o + 1;
	return ((uint64_t)(H_SUB + s) << shift) + ((1ull << shift) >> 1);
}

static inline void hist_add(uint64_t v)
{
	hist[hist_index(v)]++;
	hist_total++;
	if (v > hist_max)
		hist_max = v;
}

static double hist_pct_us(double p)
{
	if (!hist_total)
		return NAN;
	uint64_t target = (uint64_t)ceil(p * (double)hist_total);
	if (target < 1)
		target = 1;
	uint64_t cum = 0;
	for (unsigned i = 0; i < H_BUCKETS; i++) {
		cum += hist[i];
		if (cum >= target) {
			uint64_t v = hist_value(i);
			return (double)(v > hist_max ? hist_max : v) / 1e3;
		}
	}
	return (double)hist_max / 1e3;
}

static void hist_reset(void)
{
	memset(hist, 0, sizeof(hist));
	hist_total = hist_max = 0;
}

/* ---- the byte pattern ------------------------------------------------------- */

static inline uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Message `msg` of connection `id`: no two messages of a run are alike, so
 * a reordered, stale or foreign echo does not compare equal. */
static void fill(uint8_t *buf, size_t len, uint32_t id, uint64_t msg)
{
	uint64_t x = mix64(((uint64_t)id << 40) ^ msg ^ 0x5745465400000000ull);
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w = x + (uint64_t)i * 0x9e3779b97f4a7c15ull;
		w ^= w >> 29;
		memcpy(buf + i, &w, 8);
	}
	for (; i < len; i++)
		buf[i] = (uint8_t)(x >> (8 * (i & 7))) ^ (uint8_t)i;
}

/* Compares an echoed chunk with what was sent at that offset; on a
 * mismatch fails the run naming the first bad byte. */
static bool verify(const uint8_t *got, const uint8_t *sent, size_t len, uint32_t id, uint64_t msg,
		   size_t off)
{
	if (memcmp(got, sent, len) == 0)
		return true;
	size_t i = 0;
	while (i < len && got[i] == sent[i])
		i++;
	fail("corrupted echo: connection %u, message %" PRIu64 ", byte %zu of %zu: sent 0x%02x, "
	     "got 0x%02x",
	     id, msg, off + i, opt.size, sent[i], got[i]);
	return false;
}

/* ---- sockets ------------------------------------------------------------------ */

static void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A connected, non-blocking socket, or -1 (errno set) within timeout_ms. */
static int connect_timeout(int timeout_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&server_addr, sizeof(server_addr)) == 0)
		goto ok;
	if (errno != EINPROGRESS)
		goto bad;
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		errno = ETIMEDOUT;
		goto bad;
	}
	int err = 0;
	socklen_t el = sizeof(err);
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		goto bad;
	if (err) {
		errno = err;
		goto bad;
	}
ok:
	set_nodelay(fd);
	return fd;
bad:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

static void raise_nofile(rlim_t need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur >= need)
		return;
	rlim_t want = need;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
		want = rl.rlim_max;
	rl.rlim_cur = want;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static rlim_t nofile_limit(void)
{
	struct rlimit rl;
	return getrlimit(RLIMIT_NOFILE, &rl) ? 1024 : rl.rlim_cur;
}

/* ---- tcp_echo --------------------------------------------------------------------- */

struct econn {
	int fd;
	uint32_t id;
	bool want_out; /* a partial write waits for EPOLLOUT */
	bool active;   /* a message is in flight */
	uint64_t msg;  /* number of the message in flight */
	size_t sent, got;
	uint64_t t_send;
	uint8_t *out; /* the message in flight, as sent */
};

static int ep = -1;
static uint8_t *scratch;

/* Writes what is left of c's message; false on a failure (run failed). */
static bool econn_write(struct econn *c)
{
	while (c->sent < opt.size) {
		ssize_t k = send(c->fd, c->out + c->sent, opt.size - c->sent, MSG_NOSIGNAL);
		if (k > 0) {
			c->sent += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->want_out) {
				struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = c->id};
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				c->want_out = true;
			}
			return true;
		}
		fail("connection %u, message %" PRIu64 ": send: %s (the server closed it?)", c->id,
		     c->msg, strerror(errno));
		return false;
	}
	if (c->want_out) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = c->id};
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->want_out = false;
	}
	return true;
}

static bool econn_send_next(struct econn *c)
{
	fill(c->out, opt.size, c->id, c->msg);
	c->sent = c->got = 0;
	c->active = true;
	c->t_send = now_ns();
	return econn_write(c);
}

/* Reads what has arrived; returns 1 when the message is complete, 0 when
 * more is to come, -1 on a failure. */
static int econn_read(struct econn *c)
{
	for (;;) {
		size_t want = opt.size - c->got;
		if (!c->active)
			want = opt.size; /* nothing is expected: anything is extra */
		ssize_t k = recv(c->fd, scratch, want, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (k < 0) {
			fail("connection %u, message %" PRIu64 ": recv: %s (got %zu of %zu bytes)",
			     c->id, c->msg, strerror(errno), c->got, opt.size);
			return -1;
		}
		if (k == 0) {
			fail("the server closed connection %u early: after %" PRIu64
			     " messages, %zu of %zu bytes of the next echoed",
			     c->id, c->msg, c->got, opt.size);
			return -1;
		}
		if (!c->active) {
			fail("connection %u: %zd bytes came back that were never sent (after message "
			     "%" PRIu64 ")",
			     c->id, k, c->msg);
			return -1;
		}
		if (c->got + (size_t)k > c->sent) {
			fail("connection %u, message %" PRIu64 ": %zu bytes echoed, only %zu sent",
			     c->id, c->msg, c->got + (size_t)k, c->sent);
			return -1;
		}
		if (!verify(scratch, c->out + c->got, (size_t)k, c->id, c->msg, c->got))
			return -1;
		c->got += (size_t)k;
		if (c->got == opt.size)
			return 1;
	}
}

static int open_conns(struct econn *cs, int n)
{
	for (int i = 0; i < n; i++) {
		cs[i].fd = connect_timeout(5000);
		if (cs[i].fd < 0) {
			fail("connect %d of %d to %s:%d: %s", i + 1, n, opt.host, opt.port,
			     strerror(errno));
			for (int j = 0; j < i; j++)
				close(cs[j].fd);
			return -1;
		}
		cs[i].id = (uint32_t)i;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev)) {
			fail("epoll_ctl: %s", strerror(errno));
			for (int j = 0; j <= i; j++)
				close(cs[j].fd);
			return -1;
		}
	}
	return 0;
}

static void mark_generator_bound(double gen_cpu)
{
	if (gen_cpu > 0.9)
		snprintf(res.extra, sizeof(res.extra), "\"generator_bound\":true");
	else
		snprintf(res.extra, sizeof(res.extra), "\"generator_bound\":false");
	res.extra_json = res.extra;
}

/* ---- the measured window (tcp_echo, connect_rate) ------------------------------------ */

/* A warm-up, then opt.seconds measured: when the window is to open and
 * close, and the clock, our CPU time and the server's at its two ends. */
struct window {
	int phase;                  /* 0 warm-up, 1 measuring, 2 draining */
	uint64_t open_at, close_at; /* now_ns() */
	uint64_t t0, t1;            /* when it opened and closed */
	double g0, g1, s0, s1;      /* our CPU seconds; the server's (-1 unknown) */
};

static void window_plan(struct window *w, uint64_t t_start)
{
	double warm = opt.warmup >= 0 ? opt.warmup : fmin(1.0, opt.seconds / 10);
	*w = (struct window){.s0 = -1, .s1 = -1};
	w->open_at = t_start + (uint64_t)(warm * 1e9);
	w->close_at = w->open_at + (uint64_t)(opt.seconds * 1e9);
}

/* The window opens: the server's CPU first, then ours; the latency
 * histogram starts empty. */
static void window_open(struct window *w)
{
	w->s0 = server_cpu_s();
	w->g0 = cpu_self_s();
	w->t0 = now_ns();
	hist_reset();
}

/* It closes: the clock first, then our CPU, then the server's. */
static void window_close(struct window *w)
{
	w->t1 = now_ns();
	w->g1 = cpu_self_s();
	w->s1 = server_cpu_s();
}

/* Opens or closes the window when time t has come to it; true when it
 * has just opened (the caller's counts start again). */
static bool window_tick(struct window *w, uint64_t t)
{
	bool opened = false;
	if (w->phase == 0 && t >= w->open_at) {
		window_open(w);
		w->phase = 1;
		opened = true;
	}
	if (w->phase == 1 && t >= w->close_at) {
		window_close(w);
		w->phase = 2;
	}
	return opened;
}

/* The run's outcome from its window: `count` cycles (each a `what`:
 * "message", "connection") completed in it, their latencies in the
 * histogram (p99.9 too if `p999`), the server's CPU time and peak RSS.
 * The caller adds its mode's own metrics after these (the JSON line keeps
 * their order). False if the run failed: before, or with nothing done. */
static bool window_result(const struct window *w, uint64_t count, const char *what, bool p999)
{
	long hwm = server_status_kb("VmHWM");
	if (res.failed)
		return false;
	double secs = (double)(w->t1 - w->t0) * 1e-9;
	res.n = (double)count;
	res.seconds = secs;
	res.rate = secs > 0 ? (double)count / secs : 0;
	res.has_rate = true;
	res.rss_kb = hwm;
	if (count == 0) {
		fail("no %s completed in the %.2f s window", what, secs);
		return false;
	}
	double gen = secs > 0 ? (w->g1 - w->g0) / secs : NAN;
	metric("p50_us", hist_pct_us(0.50));
	metric("p99_us", hist_pct_us(0.99));
	if (p999)
		metric("p999_us", hist_pct_us(0.999));
	metric("max_us", (double)hist_max / 1e3);
	metric("gen_cpu", gen);
	if (w->s0 >= 0 && w->s1 >= 0) {
		metric("server_cpu_s", w->s1 - w->s0);
		metric("server_cpu", (w->s1 - w->s0) / secs);
		metric("server_cpu_s_per_m", (w->s1 - w->s0) / (double)count * 1e6);
	} else {
		metric("server_cpu_s_per_m", NAN);
	}
	mark_generator_bound(gen);
	return true;
}

static void run_tcp_echo(void)
{
	int n = opt.conns ? opt.conns : 50;
	raise_nofile((rlim_t)n + 64);
	struct econn *cs = calloc((size_t)n, sizeof(*cs));
	uint8_t *outs = malloc((size_t)n * opt.size);
	scratch = malloc(opt.size);
	if (!cs || !outs || !scratch) {
		fail("out of memory");
		return;
	}
	for (int i = 0; i < n; i++)
		cs[i].out = outs + (size_t)i * opt.size;
	if (open_conns(cs, n))
		return;

	uint64_t t_start = now_ns();
	struct window w;
	window_plan(&w, t_start);
	uint64_t stall_ns = (uint64_t)(opt.stall * 1e9);
	uint64_t count = 0, bytes = 0;
	int active = 0;
	uint64_t last_progress = t_start;

	for (int i = 0; i < n && !res.failed; i++) {
		if (econn_send_next(&cs[i]))
			active++;
	}
	struct epoll_event evs[512];
	while (!res.failed) {
		int k = epoll_wait(ep, evs, 512, 100);
		if (k < 0 && errno != EINTR) {
			fail("epoll_wait: %s", strerror(errno));
			break;
		}
		uint64_t t = now_ns();
		if (window_tick(&w, t))
			count = bytes = 0;
		for (int e = 0; e < k && !res.failed; e++) {
			struct econn *c = &cs[evs[e].data.u32];
			if ((evs[e].events & EPOLLOUT) && c->active && !econn_write(c))
				break;
			if (!(evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				continue;
			int r = econn_read(c);
			if (r < 0)
				break;
			if (r == 0)
				continue;
			uint64_t done = now_ns();
			last_progress = done;
			c->active = false;
			c->msg++;
			active--;
			if (w.phase == 1) {
				hist_add(done - c->t_send);
				count++;
				bytes += opt.size;
			}
			if (w.phase < 2) {
				if (econn_send_next(c))
					active++;
			}
		}
		if (res.failed)
			break;
		if (w.phase == 2 && active == 0)
			break;
		if (t > last_progress && t - last_progress > stall_ns) {
			int waiting = 0;
			for (int i = 0; i < n; i++)
				waiting += cs[i].active;
			fail("no echo for %.1f s (%d of %d connections waiting; %" PRIu64
			     " messages done in the window)",
			     opt.stall, waiting, n, count);
			break;
		}
	}
	/* Nothing more may come back: a server that echoes extra bytes (or
	 * duplicates a message) fails here at the latest. */
	if (!res.failed) {
		struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
		for (int i = 0; pf && i < n; i++)
			pf[i] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
		if (pf && poll(pf, (nfds_t)n, 20) > 0) {
			for (int i = 0; i < n && !res.failed; i++)
				if (pf[i].revents)
					econn_read(&cs[i]);
		}
		free(pf);
	}
	for (int i = 0; i < n; i++)
		close(cs[i].fd);
	if (!window_result(&w, count, "message", true))
		return;
	metric("mbytes_per_s", (double)bytes * 2 / res.seconds / 1e6);
	metric("conns", n);
	metric("size", (double)opt.size);
}

/* ---- connect_rate -------------------------------------------------------------------- */

struct cclient {
	int fd;
	uint32_t gen; /* tells a stale event from the current connection's */
	bool connecting;
	size_t sent, got;
	uint64_t cycle, t0;
	uint8_t out[64];
};

#define CR_SIZE 64

static bool cr_start(struct cclient *c, uint32_t idx)
{
	c->gen++;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail("socket: %s", strerror(errno));
		return false;
	}
	set_nodelay(c->fd);
	c->sent = c->got = 0;
	c->t0 = now_ns();
	fill(c->out, CR_SIZE, idx, c->cycle);
	/* Registered after connect(): a socket not yet connecting polls as
	 * EPOLLHUP|EPOLLOUT. Edge-triggered: the connect's completion (or
	 * its failure) and the echo's arrival are one edge each. */
	c->connecting = true;
	if (connect(c->fd, (struct sockaddr *)&server_addr, sizeof(server_addr)) != 0 &&
	    errno != EINPROGRESS) {
		int e = errno;
		fail("connect (client %u, cycle %" PRIu64 "): %s%s", idx, c->cycle, strerror(e),
		     e == EADDRNOTAVAIL ? " (out of local ports: net.ipv4.tcp_tw_reuse?)" : "");
		return false;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP,
				 .data.u64 = (uint64_t)c->gen << 32 | idx};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev)) {
		fail("epoll_ctl: %s", strerror(errno));
		return false;
	}
	return true;
}

/* Progress on client c; returns 1 when its cycle is complete, 0 if not
 * yet, -1 on a failure. */
static int cr_step(struct cclient *c, uint32_t idx, uint32_t events)
{
	if (c->connecting) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return 0;
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			fail("connect (client %u, cycle %" PRIu64 "): %s", idx, c->cycle, strerror(err));
			return -1;
		}
		c->connecting = false;
	}
	while (c->sent < CR_SIZE) {
		ssize_t k = send(c->fd, c->out + c->sent, CR_SIZE - c->sent, MSG_NOSIGNAL);
		if (k > 0) {
			c->sent += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0; /* EPOLLOUT will come (edge-triggered) */
		fail("client %u, cycle %" PRIu64 ": send: %s", idx, c->cycle, strerror(errno));
		return -1;
	}
	uint8_t in[CR_SIZE];
	for (;;) {
		ssize_t k = recv(c->fd, in, CR_SIZE - c->got, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (k < 0) {
			fail("client %u, cycle %" PRIu64 ": recv: %s", idx, c->cycle, strerror(errno));
			return -1;
		}
		if (k == 0) {
			fail("the server closed client %u's connection (cycle %" PRIu64
			     ") after %zu of %d echoed bytes",
			     idx, c->cycle, c->got, CR_SIZE);
			return -1;
		}
		if (c->got + (size_t)k > c->sent) {
			fail("client %u: %zu bytes echoed, only %zu sent", idx, c->got + (size_t)k,
			     c->sent);
			return -1;
		}
		if (!verify(in, c->out + c->got, (size_t)k, idx, c->cycle, c->got))
			return -1;
		c->got += (size_t)k;
		if (c->got == CR_SIZE)
			return 1;
	}
}

static void run_connect_rate(void)
{
	int n = opt.conns ? opt.conns : 50;
	raise_nofile((rlim_t)n * 2 + 64);
	struct cclient *cs = calloc((size_t)n, sizeof(*cs));
	if (!cs) {
		fail("out of memory");
		return;
	}
	for (int i = 0; i < n; i++)
		cs[i].fd = -1;
	uint64_t t_start = now_ns();
	struct window w;
	window_plan(&w, t_start);
	uint64_t stall_ns = (uint64_t)(opt.stall * 1e9);
	int active = 0;
	uint64_t count = 0, last_progress = t_start;

	for (int i = 0; i < n && !res.failed; i++) {
		if (!cr_start(&cs[i], (uint32_t)i))
			break;
		active++;
	}
	struct epoll_event evs[512];
	while (!res.failed) {
		int k = epoll_wait(ep, evs, 512, 100);
		if (k < 0 && errno != EINTR) {
			fail("epoll_wait: %s", strerror(errno));
			break;
		}
		uint64_t t = now_ns();
		if (window_tick(&w, t))
			count = 0;
		for (int e = 0; e < k && !res.failed; e++) {
			uint32_t idx = (uint32_t)evs[e].data.u64;
			uint32_t gen = (uint32_t)(evs[e].data.u64 >> 32);
			struct cclient *c = &cs[idx];
			if (c->fd < 0 || gen != c->gen)
				continue; /* an event of a connection already closed */
			int r = cr_step(c, idx, evs[e].events);
			if (r < 0)
				break;
			if (r == 0)
				continue;
			uint64_t done = now_ns();
			last_progress = done;
			close(c->fd);
			c->fd = -1;
			c->cycle++;
			active--;
			if (w.phase == 1) {
				hist_add(done - c->t0);
				count++;
			}
			if (w.phase < 2) {
				if (!cr_start(c, idx))
					break;
				active++;
			}
		}
		if (res.failed)
			break;
		if (w.phase == 2 && active == 0)
			break;
		if (t > last_progress && t - last_progress > stall_ns) {
			fail("no connection completed for %.1f s (%d clients waiting)", opt.stall,
			     active);
			break;
		}
	}
	for (int i = 0; i < n; i++)
		if (cs[i].fd >= 0)
			close(cs[i].fd);
	if (!window_result(&w, count, "connection", false))
		return;
	metric("conns", n);
}

/* ---- idle_connections ---------------------------------------------------------------- */

static void sleep_s(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - floor(s)) * 1e9)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void run_idle_connections(void)
{
	int n = opt.conns ? opt.conns : 10000;
	raise_nofile((rlim_t)n + 64);
	if (nofile_limit() < (rlim_t)n + 16) {
		fail("RLIMIT_NOFILE is %llu, %d connections need more (the hard limit is too low)",
		     (unsigned long long)nofile_limit(), n);
		return;
	}
	if (opt.server_pid <= 0) {
		fail("idle_connections needs --server-pid (its figure is the server's RSS)");
		return;
	}
	int *fds = malloc((size_t)n * sizeof(*fds));
	bool *pending = calloc((size_t)n, 1);
	size_t *got = calloc((size_t)n, sizeof(*got));
	if (!fds || !pending || !got) {
		fail("out of memory");
		return;
	}
	for (int i = 0; i < n; i++)
		fds[i] = -1;
	long rss0 = server_status_kb("VmRSS");
	long fd0 = server_fds();
	uint64_t stall_ns = (uint64_t)(opt.stall * 1e9);

	/* Open them, at most opt.inflight connects at a time, and at most
	 * opt.inflight more than the server has accepted (its descriptors):
	 * a handshake completes before the accept, so a burst would overflow
	 * a short listen backlog (asyncio's is 100) and measure the kernel's
	 * 1 s SYN retransmission instead of the server. A server whose
	 * sockets do not show in /proc/PID/fd (io_uring direct descriptors)
	 * is paced by the connects alone once its count stays still for 1 s. */
	uint64_t t0 = now_ns(), last_progress = t0;
	int launched = 0, opened = 0, inflight = 0;
	bool pace = fd0 >= 0;
	long accepted = 0;
	uint64_t accepted_t = t0;
	struct epoll_event evs[512];
	while (opened < n && !res.failed) {
		bool held_back = false;
		while (inflight < opt.inflight && launched < n) {
			if (pace && launched - accepted >= opt.inflight) {
				long f = server_fds();
				uint64_t t = now_ns();
				if (f >= 0 && f - fd0 > accepted) {
					accepted = f - fd0;
					accepted_t = t;
				} else if (t - accepted_t > 1000000000u) {
					pace = false; /* the descriptors do not tell */
				}
				if (pace && launched - accepted >= opt.inflight) {
					held_back = true;
					break;
				}
			}
			int i = launched;
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd < 0) {
				fail("socket %d of %d: %s", i + 1, n, strerror(errno));
				break;
			}
			fds[i] = fd;
			launched++;
			if (connect(fd, (struct sockaddr *)&server_addr, sizeof(server_addr)) == 0) {
				opened++;
				continue;
			}
			if (errno != EINPROGRESS) {
				fail("connect %d of %d: %s", i + 1, n, strerror(errno));
				break;
			}
			struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			pending[i] = true;
			inflight++;
		}
		if (res.failed || opened == n)
			break;
		int k = epoll_wait(ep, evs, 512, held_back ? 1 : 100);
		if (k < 0 && errno != EINTR) {
			fail("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int e = 0; e < k; e++) {
			int i = (int)evs[e].data.u32;
			if (!pending[i])
				continue;
			int err = 0;
			socklen_t el = sizeof(err);
			getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &el);
			if (err) {
				fail("connect %d of %d: %s", i + 1, n, strerror(err));
				break;
			}
			epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
			pending[i] = false;
			inflight--;
			opened++;
			last_progress = now_ns();
		}
		if (held_back)
			last_progress = now_ns(); /* waiting on the server's accepts */
		if (now_ns() - last_progress > stall_ns && !res.failed)
			fail("no connect completed for %.1f s (%d of %d open)", opt.stall, opened, n);
	}
	double open_s = (double)(now_ns() - t0) * 1e-9;

	/* Wait until the server holds them all: its descriptors, or (a server
	 * whose sockets are not in /proc/PID/fd, e.g. io_uring direct
	 * descriptors) its RSS steady for 0.3 s. */
	const char *held = "fds";
	double wait_s = 0;
	if (!res.failed) {
		uint64_t w0 = now_ns();
		long last_rss = -1;
		int steady = 0;
		for (;;) {
			long f = server_fds();
			if (fd0 >= 0 && f >= fd0 + n)
				break;
			double el = (double)(now_ns() - w0) * 1e-9;
			if (el > 2) {
				/* the descriptors do not tell: the RSS must */
				held = "rss-steady";
				long r = server_status_kb("VmRSS");
				steady = r == last_rss ? steady + 1 : 0;
				last_rss = r;
				if (steady >= 3)
					break;
			}
			if (el > 15) {
				held = "timeout";
				break;
			}
			sleep_s(el > 2 ? 0.1 : 0.02);
		}
		wait_s = (double)(now_ns() - w0) * 1e-9;
		sleep_s(0.1);
	}
	long rss1 = server_status_kb("VmRSS");

	/* Then each echoes once. */
	double echo_s = 0;
	long rss2 = -1;
	if (!res.failed) {
		uint8_t out[64], in[64];
		uint64_t e0 = now_ns();
		last_progress = e0;
		for (int i = 0; i < n && !res.failed; i++) {
			struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev)) {
				fail("epoll_ctl: %s", strerror(errno));
				break;
			}
			fill(out, sizeof(out), (uint32_t)i, 0);
			if (send(fds[i], out, sizeof(out), MSG_NOSIGNAL) != (ssize_t)sizeof(out))
				fail("connection %d: send: %s (the server closed it?)", i,
				     strerror(errno));
		}
		int done = 0;
		while (done < n && !res.failed) {
			int k = epoll_wait(ep, evs, 512, 100);
			if (k < 0 && errno != EINTR) {
				fail("epoll_wait: %s", strerror(errno));
				break;
			}
			for (int e = 0; e < k && !res.failed; e++) {
				int i = (int)evs[e].data.u32;
				ssize_t r = recv(fds[i], in, sizeof(in) - got[i], 0);
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (r <= 0) {
					fail("connection %d: %s after %zu of 64 echoed bytes", i,
					     r == 0 ? "the server closed it" : strerror(errno), got[i]);
					break;
				}
				fill(out, sizeof(out), (uint32_t)i, 0);
				if (!verify(in, out + got[i], (size_t)r, (uint32_t)i, 0, got[i]))
					break;
				got[i] += (size_t)r;
				if (got[i] == sizeof(in)) {
					epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
					done++;
					last_progress = now_ns();
				}
			}
			if (!res.failed && now_ns() - last_progress > stall_ns)
				fail("no echo for %.1f s (%d of %d echoed)", opt.stall, done, n);
		}
		echo_s = (double)(now_ns() - e0) * 1e-9;
		rss2 = server_status_kb("VmRSS");
	}
	long hwm = server_status_kb("VmHWM");
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (res.failed)
		return;
	if (rss0 < 0 || rss1 < 0) {
		fail("cannot read the server's VmRSS (/proc/%ld/status)", opt.server_pid);
		return;
	}
	res.n = n;
	res.seconds = open_s;
	res.rate = (double)(rss1 - rss0) * 1024 / n;
	res.has_rate = true;
	res.rss_kb = hwm;
	metric("open_s", open_s);
	metric("conns_per_s", n / open_s);
	metric("held_wait_s", wait_s);
	metric("echo_all_s", echo_s);
	metric("rss_before_kb", (double)rss0);
	metric("rss_open_kb", (double)rss1);
	if (rss2 >= 0)
		metric("echoed_b_per_conn", (double)(rss2 - rss0) * 1024 / n);
	metric("conns", n);
	snprintf(res.extra, sizeof(res.extra), "\"held_by\":\"%s\",\"paced_by_accepts\":%s", held,
		 pace ? "true" : "false");
	res.extra_json = res.extra;
}

/* ---- probe and free-port ------------------------------------------------------------- */

/* Does the server answer: connect, 64 B, the same 64 B back. */
static int run_probe(void)
{
	uint64_t deadline = now_ns() + (uint64_t)(opt.timeout * 1e9);
	char last[200] = "no attempt";
	while (now_ns() < deadline) {
		int fd = connect_timeout(500);
		if (fd < 0) {
			snprintf(last, sizeof(last), "connect: %s", strerror(errno));
			sleep_s(0.02);
			continue;
		}
		uint8_t out[64], in[64];
		fill(out, sizeof(out), 0xfffff, 1);
		size_t got = 0;
		bool ok = send(fd, out, sizeof(out), MSG_NOSIGNAL) == (ssize_t)sizeof(out);
		while (ok && got < sizeof(in)) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (poll(&p, 1, 2000) <= 0) {
				snprintf(last, sizeof(last), "no echo within 2 s");
				ok = false;
				break;
			}
			ssize_t k = recv(fd, in + got, sizeof(in) - got, 0);
			if (k <= 0) {
				snprintf(last, sizeof(last), "recv: %s",
					 k == 0 ? "closed" : strerror(errno));
				ok = false;
				break;
			}
			got += (size_t)k;
		}
		close(fd);
		if (ok && memcmp(in, out, sizeof(in)) == 0)
			return 0;
		if (ok) {
			fprintf(stderr, "echo_loadgen: probe: %s:%d answers with other bytes than it "
					"was sent\n",
				opt.host, opt.port);
			return 1;
		}
		sleep_s(0.05);
	}
	fprintf(stderr, "echo_loadgen: probe: %s:%d does not echo within %.1f s (%s)\n", opt.host,
		opt.port, opt.timeout, last);
	return 1;
}

static int run_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &al)) {
		perror("echo_loadgen: free-port");
		return 1;
	}
	printf("%d\n", ntohs(a.sin_port));
	close(fd);
	return 0;
}

/* ---- output (bench/harness.c's JSON conventions; the shared pieces: ../common.c) ------- */

static const char *unit_of(const char *mode)
{
	if (!strcmp(mode, "tcp_echo"))
		return "messages/s";
	if (!strcmp(mode, "connect_rate"))
		return "connections/s";
	return "B/conn";
}

static int gen_cpu_pinned = -1; /* the CPU we run on, -1 unpinned */
static int cpus_allowed_before = -1;

static void emit(void)
{
	bool lower = !strcmp(opt.mode, "idle_connections");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return;
	char when[32];
	bench_utc_now(when, sizeof(when));
	fputs("{\"workload\":", f);
	bench_json_string(f, opt.mode);
	fputs(",\"runtime\":", f);
	bench_json_string(f, opt.runtime);
	fputs(",\"variant\":", f);
	bench_json_string(f, opt.variant);
	fprintf(f, ",\"n\":%.0f,\"seconds\":%.6f,", res.n, res.seconds);
	if (!res.failed && res.has_rate)
		fprintf(f, "\"rate\":%.6g", res.rate);
	else
		fputs("\"rate\":null", f);
	fputs(",\"unit\":", f);
	bench_json_string(f, unit_of(opt.mode));
	if (res.rss_kb > 0)
		fprintf(f, ",\"rss_kb\":%ld", res.rss_kb);
	else
		fputs(",\"rss_kb\":null", f);
	fprintf(f, ",\"better\":\"%s\"", lower ? "lower" : "higher");
	for (int i = 0; !res.failed && i < res.nm; i++) {
		fputc(',', f);
		bench_json_string(f, res.m[i].key);
		if (isfinite(res.m[i].value))
			fprintf(f, ":%.6g", res.m[i].value);
		else
			fputs(":null", f);
	}
	if (!res.failed && res.extra_json)
		fprintf(f, ",%s", res.extra_json);
	fprintf(f, ",\"run\":%d,\"ok\":%s,\"machine\":", opt.run, res.failed ? "false" : "true");
	bench_machine_json(f, cpus_allowed_before);
	fprintf(f, ",\"workers\":%d,\"quick\":%s,\"server_pid\":%ld,\"gen_cpu_pinned\":%d", opt.workers,
		opt.quick ? "true" : "false", opt.server_pid, gen_cpu_pinned);
	fprintf(f, ",\"target_seconds\":%g,\"build\":", opt.seconds);
	bench_json_string(f, opt.build);
	fputs(",\"generator\":", f);
	bench_json_string(f, "echo_loadgen (C, epoll, 1 thread) " LOADGEN_BUILD);
	fputs(",\"time\":", f);
	bench_json_string(f, when);
	fputs(",\"error\":", f);
	if (res.failed)
		bench_json_string(f, res.why);
	else
		fputs("null", f);
	fputs("}\n", f);
	fclose(f);
	if (opt.json_stdout)
		fputs(buf, stdout);
	if (opt.json && bench_append_file(opt.json, buf, len))
		fprintf(stderr, "echo_loadgen: cannot append to %s: %s\n", opt.json, strerror(errno));
	free(buf);
}

static double metric_of(const char *key)
{
	for (int i = 0; i < res.nm; i++)
		if (!strcmp(res.m[i].key, key))
			return res.m[i].value;
	return NAN;
}

static void human_line(void)
{
	printf("%-12s %-8s %-18s run %-2d ", opt.mode, opt.runtime, opt.variant, opt.run);
	if (res.failed) {
		printf("FAILED: %s\n", res.why);
		return;
	}
	char rate[32];
	bench_si(rate, sizeof(rate), res.rate);
	if (!strcmp(opt.mode, "idle_connections")) {
		printf("%8s %-14s (%.0f conns opened in %.3f s, server RSS %.1f -> %.1f MiB, "
		       "after one echo each %.0f B/conn, held by %s)\n",
		       rate, "B/conn", res.n, res.seconds, metric_of("rss_before_kb") / 1024,
		       metric_of("rss_open_kb") / 1024, metric_of("echoed_b_per_conn"),
		       strstr(res.extra, "fds") ? "fds" : res.extra);
		return;
	}
	double gen = metric_of("gen_cpu");
	printf("%8s %-14s (%.0f in %.3f s, p50 %.1f us, p99 %.1f us, server %.3g CPU-s/M "
	       "(%.0f%% of a CPU), generator CPU %.0f%%%s)\n",
	       rate, unit_of(opt.mode), res.n, res.seconds, metric_of("p50_us"),
	       metric_of("p99_us"), metric_of("server_cpu_s_per_m"), metric_of("server_cpu") * 100,
	       gen * 100, gen > 0.9 ? ", GENERATOR-BOUND" : "");
}

/* ---- main ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: echo_loadgen MODE [options]\n"
	      "  MODE: tcp_echo | connect_rate | idle_connections | probe | free-port\n"
	      "  --port P          the server's port (on --host, default 127.0.0.1)\n"
	      "  --conns C         connections (tcp_echo, connect_rate: 50; idle_connections:\n"
	      "                    10000)\n"
	      "  --size S          tcp_echo's message size in bytes (default 64)\n"
	      "  --seconds T       measured window (default 10)\n"
	      "  --warmup W        before the window (default min(1, T/10))\n"
	      "  --stall S         no progress for S seconds fails the run (default 5)\n"
	      "  --timeout S       probe: give up after S seconds (default 10)\n"
	      "  --cpu N           pin the generator to CPU N (default: the last CPU it may\n"
	      "                    run on; -1: not pinned)\n"
	      "  --inflight K      idle_connections: connects in flight (default 64)\n"
	      "  --server-pid PID  read the server's CPU time and RSS from /proc/PID\n"
	      "  --runtime NAME --variant V --run N --workers N --build STR --quick\n"
	      "                    labels for the output\n"
	      "  --json FILE       append the JSON line to FILE\n"
	      "  --json-stdout     also print it on stdout\n",
	      f);
}

static int highest_allowed_cpu(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	cpus_allowed_before = CPU_COUNT(&set);
	for (int c = CPU_SETSIZE - 1; c >= 0; c--)
		if (CPU_ISSET(c, &set))
			return c;
	return -1;
}

static bool num(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double d = s ? strtod(s, &end) : NAN;
	if (!s || errno || *end || !(d >= lo && d <= hi))
		return false;
	*out = d;
	return true;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	opt.mode = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		double d;
		bool flag = true;
		if (!strcmp(a, "--json-stdout"))
			opt.json_stdout = true;
		else if (!strcmp(a, "--quick"))
			opt.quick = true;
		else
			flag = false;
		if (flag)
			continue;
		if (!v) {
			fprintf(stderr, "echo_loadgen: %s needs a value\n", a);
			return 2;
		}
		i++;
#define NUM(lo, hi)                                                                                \
	if (!num(v, lo, hi, &d)) {                                                                 \
		fprintf(stderr, "echo_loadgen: bad value for %s: %s\n", a, v);                     \
		return 2;                                                                          \
	}
		if (!strcmp(a, "--host"))
			opt.host = v;
		else if (!strcmp(a, "--port")) {
			NUM(1, 65535);
			opt.port = (int)d;
		} else if (!strcmp(a, "--conns")) {
			NUM(1, 1000000);
			opt.conns = (int)d;
		} else if (!strcmp(a, "--size")) {
			NUM(1, 1 << 20);
			opt.size = (size_t)d;
		} else if (!strcmp(a, "--seconds")) {
			NUM(0.01, 86400);
			opt.seconds = d;
		} else if (!strcmp(a, "--warmup")) {
			NUM(0, 3600);
			opt.warmup = d;
		} else if (!strcmp(a, "--stall")) {
			NUM(0.1, 3600);
			opt.stall = d;
		} else if (!strcmp(a, "--timeout")) {
			NUM(0.1, 3600);
			opt.timeout = d;
		} else if (!strcmp(a, "--cpu")) {
			NUM(-1, CPU_SETSIZE - 1);
			opt.cpu = (int)d;
		} else if (!strcmp(a, "--inflight")) {
			NUM(1, 100000);
			opt.inflight = (int)d;
		} else if (!strcmp(a, "--server-pid")) {
			NUM(1, 1e9);
			opt.server_pid = (long)d;
		} else if (!strcmp(a, "--run")) {
			NUM(0, 1e6);
			opt.run = (int)d;
		} else if (!strcmp(a, "--workers")) {
			NUM(0, 1e6);
			opt.workers = (int)d;
		} else if (!strcmp(a, "--runtime"))
			opt.runtime = v;
		else if (!strcmp(a, "--variant"))
			opt.variant = v;
		else if (!strcmp(a, "--build"))
			opt.build = v;
		else if (!strcmp(a, "--json"))
			opt.json = v;
		else {
			fprintf(stderr, "echo_loadgen: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
#undef NUM
	}
	if (!strcmp(opt.mode, "free-port"))
		return run_free_port();
	bool known = !strcmp(opt.mode, "tcp_echo") || !strcmp(opt.mode, "connect_rate") ||
		     !strcmp(opt.mode, "idle_connections") || !strcmp(opt.mode, "probe");
	if (!known) {
		fprintf(stderr, "echo_loadgen: unknown mode %s\n", opt.mode);
		usage(stderr);
		return 2;
	}
	if (!opt.port) {
		fprintf(stderr, "echo_loadgen: --port is needed\n");
		return 2;
	}
	server_addr.sin_family = AF_INET;
	server_addr.sin_port = htons((uint16_t)opt.port);
	if (inet_pton(AF_INET, opt.host, &server_addr.sin_addr) != 1) {
		fprintf(stderr, "echo_loadgen: --host needs an IPv4 address: %s\n", opt.host);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(opt.mode, "probe"))
		return run_probe();

	int top = highest_allowed_cpu();
	int cpu = opt.cpu == -2 ? top : opt.cpu;
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			fprintf(stderr, "echo_loadgen: cannot pin to CPU %d: %s (not pinned)\n", cpu,
				strerror(errno));
		else
			gen_cpu_pinned = cpu;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		fail("epoll_create1: %s", strerror(errno));
	} else if (!strcmp(opt.mode, "tcp_echo")) {
		run_tcp_echo();
	} else if (!strcmp(opt.mode, "connect_rate")) {
		run_connect_rate();
	} else {
		run_idle_connections();
	}
	human_line();
	fflush(stdout);
	emit();
	return res.failed ? 1 : 0;
}
