/* SPDX-License-Identifier: MIT */
/*
 * The monitor thread: debug mode's stall watchdog and the dump signal
 * (see monitor.h).
 *
 * Signals. A library must not take a process's handlers for granted
 * (DESIGN.md's SIGSEGV rule): SIGURG's handler is installed only while a
 * debug-mode runtime lives, passes every SIGURG it did not ask for to the
 * handler that was there before, and that one is restored when the last
 * such runtime goes; the dump signal's handler is installed because the
 * config asked for it, and restored the same way. Both handlers are
 * async-signal-safe: the dump's writes to an eventfd, the watchdog's
 * unwinds with libunwind into the worker's own buffer.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <weft/inspect.h>

#include "fiber/backtrace.h"
#include "fiber/sanitizer.h"
#include "runtime/monitor.h"
#include "runtime/runtime.h"
#include "sched/hooks.h"
#include "sched/worker.h"

#define SAMPLE_SIGNAL WEFT__SAMPLE_SIGNAL
#define SAMPLE_WAIT_NS (200 * 1000 * 1000ull)
#define MAX_DUMPERS 16

struct weft__monitor {
	weft_runtime *rt;
	pthread_t thread;
	int efd;               /* wakes the thread: a dump, or stop */
	atomic_bool stop;
	bool watchdog;         /* debug mode */
	int dump_signal;       /* 0: none */
	uint64_t slow_ns;
	int period_ms;
	uint64_t *reported;    /* per worker: the step start already named */
};

/* ---- the handlers (process-wide state under sig_lock) ---- */

static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned sample_users;           /* under sig_lock */
static struct sigaction sample_prev;    /* under sig_lock; read by the handler */
static unsigned dump_users[NSIG];       /* under sig_lock */
static struct sigaction dump_prev[NSIG];
/* The monitors a dump signal wakes: signal and eventfd, 0 / -1 when free. */
static struct {
	_Atomic int sig;
	_Atomic int efd;
} dumpers[MAX_DUMPERS];
/* Handlers running now: an eventfd is closed only once none may still
 * write to it (seq_cst pairs with the unregistering thread's). */
static atomic_int in_handler;

bool weft__monitor_signal_ok(int sig)
{
	return sig > 0 && sig < NSIG && sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV &&
	       sig != SIGBUS && sig != SIGFPE && sig != SIGILL && sig != SIGPIPE &&
	       sig != SAMPLE_SIGNAL;
}

static void chain(const struct sigaction *prev, int sig, siginfo_t *si, void *uc)
{
	if (prev->sa_flags & SA_SIGINFO) {
		if (prev->sa_sigaction)
			prev->sa_sigaction(sig, si, uc);
	} else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
		prev->sa_handler(sig);
	}
	/* SIG_DFL of SIGURG is to ignore it; SIG_IGN likewise */
}

/* On a worker the watchdog asked: where its running step is, now. */
static void on_sample(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	atomic_fetch_add_explicit(&in_handler, 1, memory_order_seq_cst);
	struct weft__worker *w = weft__tls_worker;
	if (w && w->debug && atomic_exchange_explicit(&w->dbg.sample_req, 0, memory_order_acquire)) {
		w->dbg.sample_t0 = atomic_load_explicit(&w->dbg.t0, memory_order_relaxed);
		/* the interrupted task runs here: it cannot be freed under us */
		if (w->current)
			weft__hook_task_name(w->current, w->dbg.sample_name, sizeof(w->dbg.sample_name));
		else
			memcpy(w->dbg.sample_name, "", 1);
#ifdef WEFT_TSAN_ON
		/* TSan runs a handler late, when the thread next enters one of
		 * its interceptors, with a copy of the signal's context whose
		 * stack has moved on since: unwind from here instead (through
		 * TSan's frames to the interceptor's caller) */
		int n = weft__backtrace_here(w->dbg.sample_pcs, 48, 0);
#else
		int n = weft__backtrace_signal(uc, w->dbg.sample_pcs, 48);
#endif
		/* release: the sample is written before the watchdog reads it */
		atomic_store_explicit(&w->dbg.sample_n, n < 0 ? 0 : n, memory_order_release);
	} else {
		chain(&sample_prev, sig, si, uc);
	}
	atomic_fetch_sub_explicit(&in_handler, 1, memory_order_seq_cst);
	errno = saved;
}

static void on_dump(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	atomic_fetch_add_explicit(&in_handler, 1, memory_order_seq_cst);
	for (int i = 0; i < MAX_DUMPERS; i++) {
		if (atomic_load_explicit(&dumpers[i].sig, memory_order_seq_cst) != sig)
			continue;
		int fd = atomic_load_explicit(&dumpers[i].efd, memory_order_seq_cst);
		uint64_t one = 1;
		if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
			/* the counter is saturated: a dump is coming anyway */
		}
	}
	atomic_fetch_sub_explicit(&in_handler, 1, memory_order_seq_cst);
	errno = saved;
}

static int install(int sig, void (*fn)(int, siginfo_t *, void *), struct sigaction *prev)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	/* SA_ONSTACK: a worker's alternate stack (fiber/guard.c) has room for
	 * the unwinder, a small task stack may not; SA_RESTART: a task's own
	 * blocking system call goes on as if nothing happened */
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, prev) ? -errno : 0;
}

/* Waits until no handler may still hold an eventfd unregistered before. */
static void handlers_quiesce(void)
{
	while (atomic_load_explicit(&in_handler, memory_order_seq_cst))
		sched_yield();
}

/* ---- the watchdog ---- */

static void watch(struct weft__monitor *m)
{
	struct weft__sched *s = &m->rt->core.sched;
	uint64_t now = weft__now_ns();
	for (unsigned i = 0; i < s->nworkers; i++) {
		struct weft__worker *w = &s->workers[i];
		/* acquire: pairs with step_begin's release (worker.c) */
		uint64_t t0 = atomic_load_explicit(&w->dbg.t0, memory_order_acquire);
		if (!t0 || now - t0 < m->slow_ns || m->reported[i] == t0)
			continue;
		m->reported[i] = t0; /* once per step */
		void *pcs[48];
		char name[64];
		uint64_t st0 = 0;
		int n = weft__worker_sample(w, SAMPLE_WAIT_NS, pcs, 48, name, sizeof(name), &st0);
		bool ours = n >= 0 && st0 == t0;
		/* no sample of it, and the step is over: its end's report names it */
		if (!ours && atomic_load_explicit(&w->dbg.t0, memory_order_acquire) != t0)
			continue;
		char what[96];
		if (ours && name[0])
			snprintf(what, sizeof(what), "task %s", name);
		else
			snprintf(what, sizeof(what), ours ? "a callback" : "a task or callback");
		flockfile(stderr);
		fprintf(stderr,
			"weft: watchdog: %s has kept worker %u for %.0f ms without suspending, and "
			"still runs (debug mode names steps over %.0f ms while they run)%s\n",
			what, i, (double)(weft__now_ns() - t0) / 1e6, (double)m->slow_ns / 1e6,
			ours ? "; it is at:" : "; no backtrace (the worker did not answer in time)");
		for (int k = 0; ours && k < n; k++) {
			char sym[512];
			/* the first frame is the interrupted instruction itself */
			weft__symbolize(pcs[k], k > 0, sym, sizeof(sym));
			fprintf(stderr, "  #%d %s\n", k, sym);
		}
		fprintf(stderr, "weft: watchdog: to fix: move blocking calls or long computations "
				"to weft_to_thread, and use weft's I/O calls for sockets and files\n");
		funlockfile(stderr);
	}
}

static void *monitor_main(void *arg)
{
	struct weft__monitor *m = arg;
	/* no handler runs here: they are the workers' and the dump's */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct pollfd p = {.fd = m->efd, .events = POLLIN};
		int r = poll(&p, 1, m->watchdog ? m->period_ms : -1);
		if (atomic_load_explicit(&m->stop, memory_order_acquire))
			break;
		if (r > 0) {
			uint64_t v;
			if (read(m->efd, &v, sizeof(v)) == sizeof(v))
				weft_dump(m->rt, stderr);
		}
		if (m->watchdog)
			watch(m);
	}
	return NULL;
}

/* ---- start, stop ---- */

static void unregister(struct weft__monitor *m)
{
	pthread_mutex_lock(&sig_lock);
	if (m->dump_signal) {
		for (int i = 0; i < MAX_DUMPERS; i++) {
			if (atomic_load(&dumpers[i].efd) == m->efd) {
				atomic_store(&dumpers[i].sig, 0);
				atomic_store(&dumpers[i].efd, -1);
			}
		}
		if (--dump_users[m->dump_signal] == 0)
			sigaction(m->dump_signal, &dump_prev[m->dump_signal], NULL);
	}
	if (m->watchdog && --sample_users == 0)
		sigaction(SAMPLE_SIGNAL, &sample_prev, NULL);
	pthread_mutex_unlock(&sig_lock);
	handlers_quiesce();
}

static void monitor_free(struct weft__monitor *m)
{
	if (m->efd >= 0)
		close(m->efd);
	free(m->reported);
	free(m);
}

int weft__monitor_start(weft_runtime *rt, struct weft__monitor **out)
{
	*out = NULL;
	const weft_config *cfg = &rt->cfg;
	if (!cfg->debug && !cfg->dump_signal)
		return 0;
	struct weft__monitor *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->rt = rt;
	m->watchdog = cfg->debug;
	m->dump_signal = cfg->dump_signal;
	m->slow_ns = (uint64_t)(cfg->slow_step * 1e9);
	/* a quarter of the threshold, within 2-25 ms: a stall is named soon
	 * after it passes it, and an idle runtime costs ~40 wakes a second */
	double q = cfg->slow_step * 1000 / 4;
	m->period_ms = q < 2 ? 2 : q > 25 ? 25 : (int)q;
	m->reported = calloc(rt->core.sched.nworkers, sizeof(*m->reported));
	m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!m->reported || m->efd < 0) {
		int rc = m->efd < 0 ? -errno : -ENOMEM;
		monitor_free(m);
		return rc;
	}
	pthread_mutex_lock(&sig_lock);
	int rc = 0;
	if (m->watchdog && sample_users++ == 0 && (rc = install(SAMPLE_SIGNAL, on_sample, &sample_prev)))
		sample_users--;
	if (!rc && m->dump_signal) {
		int slot = -1;
		for (int i = 0; i < MAX_DUMPERS && slot < 0; i++)
			if (atomic_load(&dumpers[i].sig) == 0)
				slot = i;
		if (slot < 0) {
			rc = -EAGAIN; /* more dumping runtimes than MAX_DUMPERS */
		} else if (dump_users[m->dump_signal]++ == 0 &&
			   (rc = install(m->dump_signal, on_dump, &dump_prev[m->dump_signal]))) {
			dump_users[m->dump_signal]--;
		} else {
			atomic_store(&dumpers[slot].efd, m->efd);
			atomic_store(&dumpers[slot].sig, m->dump_signal);
		}
		if (rc && m->watchdog && --sample_users == 0)
			sigaction(SAMPLE_SIGNAL, &sample_prev, NULL);
	}
	pthread_mutex_unlock(&sig_lock);
	if (rc) {
		monitor_free(m);
		return rc;
	}
	if ((rc = -pthread_create(&m->thread, NULL, monitor_main, m))) {
		unregister(m);
		monitor_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void weft__monitor_stop(struct weft__monitor *m)
{
	if (!m)
		return;
	atomic_store_explicit(&m->stop, true, memory_order_release);
	uint64_t one = 1;
	if (write(m->efd, &one, sizeof(one)) < 0) {
		/* saturated: the thread is being woken anyway */
	}
	pthread_join(m->thread, NULL);
	unregister(m);
	monitor_free(m);
}
