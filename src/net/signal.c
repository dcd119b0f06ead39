/* SPDX-License-Identifier: MIT */
/*
 * weft_signal_wait. The handler counts the delivery and writes to the
 * eventfd of every task waiting for that signal; a waiter registers its
 * own eventfd first, then looks at the count, then polls: a delivery
 * before the registration is in the count, one after it is in the
 * eventfd, so none is missed, and one waiter draining its eventfd never
 * takes another's wake-up. Everything the handler touches is an atomic
 * read or an async-signal-safe write(2).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <weft/io.h>
#include <weft/signal.h>

#include "core/debug.h"
#include "core/task.h"
#include "net/op.h"

enum { WAITER_SLOTS = 256 };

static _Atomic unsigned long pending[NSIG]; /* deliveries not yet taken */
static atomic_bool installed[NSIG];
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
/* A waiter's slot: (signo << 32) | eventfd, or 0 when free. */
static _Atomic uint64_t waiters[WAITER_SLOTS];

static void on_signal(int signo)
{
	int saved = errno;
	atomic_fetch_add_explicit(&pending[signo], 1, memory_order_seq_cst);
	for (unsigned i = 0; i < WAITER_SLOTS; i++) {
		uint64_t s = atomic_load_explicit(&waiters[i], memory_order_seq_cst);
		if (s && (int)(s >> 32) == signo) {
			uint64_t one = 1;
			ssize_t n = write((int)(uint32_t)s, &one, sizeof(one));
			(void)n;
		}
	}
	errno = saved;
}

static bool catchable(int signo)
{
	switch (signo) {
	case SIGKILL:
	case SIGSTOP:
	case SIGSEGV:
	case SIGBUS:
	case SIGILL:
	case SIGFPE:
	case SIGABRT:
		return false;
	default:
		return signo > 0 && signo < NSIG;
	}
}

static int install(int signo)
{
	if (atomic_load_explicit(&installed[signo], memory_order_acquire))
		return 0;
	int rc = 0;
	pthread_mutex_lock(&install_lock);
	if (!atomic_load_explicit(&installed[signo], memory_order_relaxed)) {
		struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
		sigemptyset(&sa.sa_mask);
		if (sigaction(signo, &sa, NULL))
			rc = -errno;
		else
			atomic_store_explicit(&installed[signo], true, memory_order_release);
	}
	pthread_mutex_unlock(&install_lock);
	return rc;
}

/* Takes one counted delivery of signo, if there is one. */
static bool take(int signo)
{
	unsigned long n = atomic_load_explicit(&pending[signo], memory_order_seq_cst);
	while (n)
		if (atomic_compare_exchange_weak_explicit(&pending[signo], &n, n - 1,
							  memory_order_seq_cst, memory_order_seq_cst))
			return true;
	return false;
}

WEFT_API int weft_signal_wait(int signo)
{
	if (!catchable(signo))
		return weft__misuse(-EINVAL, "a signal weft does not wait for");
	if (!weft__task_current())
		return weft__misuse(-EPERM, "called outside a task");
	int rc = install(signo);
	if (rc)
		return rc;
	if (take(signo))
		return signo;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return -errno;
	uint64_t me = ((uint64_t)(unsigned)signo << 32) | (uint32_t)efd;
	unsigned slot = WAITER_SLOTS;
	for (unsigned i = 0; i < WAITER_SLOTS && slot == WAITER_SLOTS; i++) {
		uint64_t free_slot = 0;
		if (atomic_compare_exchange_strong_explicit(&waiters[i], &free_slot, me,
							    memory_order_seq_cst,
							    memory_order_relaxed))
			slot = i;
	}
	if (slot == WAITER_SLOTS) {
		close(efd);
		return weft__misuse(-ENOMEM, "too many tasks wait for signals");
	}
	/* registered (seq_cst) before looking at the count (seq_cst): the
	 * handler's count and write pair with these */
	for (;;) {
		if (take(signo)) {
			rc = signo;
			break;
		}
		rc = weft_wait_fd(efd, POLLIN, WEFT_FOREVER);
		if (rc < 0)
			break;
		uint64_t v;
		ssize_t n = read(efd, &v, sizeof(v)); /* drain; a wake is a hint */
		(void)n;
	}
	atomic_store_explicit(&waiters[slot], 0, memory_order_seq_cst);
	weft__fd_forget(efd);
	close(efd); /* its only operation, the poll, has ended */
	return rc;
}
