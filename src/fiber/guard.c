/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "fiber/guard.h"
#include "fiber/switch.h"

#define ALTSTACK_SIZE WEFT__ALTSTACK_BYTES

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction previous;
static weft__guard_lookup_fn lookup_fn;
static bool installed;

static void say(const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(STDERR_FILENO, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* async-signal-safe: plain writes of constant text */
#define FIX_TEXT                                                                                  \
	"; to fix: raise weft_config.stack_size, or move the deep or large-frame work (big "      \
	"local arrays, deep recursion, stdio with small_stacks) to weft_to_thread, whose "        \
	"threads have full-size stacks"

void weft__stack_overflow_abort(const char *name)
{
	say("weft: stack overflow in task ");
	say(name);
	say(FIX_TEXT);
	say("\n");
	/* abort() unblocks SIGABRT and restores its default if needed. */
	abort();
}

static void say_hex(const void *p)
{
	char buf[2 + 16 + 1];
	uintptr_t v = (uintptr_t)p;
	int n = 0;
	char digits[16];
	do
		digits[n++] = "0123456789abcdef"[v & 15];
	while ((v >>= 4) && n < 16);
	buf[0] = '0';
	buf[1] = 'x';
	for (int i = 0; i < n; i++)
		buf[2 + i] = digits[n - 1 - i];
	buf[2 + n] = '\0';
	say(buf);
}

/* Async-signal-safe: write(2) only. */
static _Noreturn void report(const struct weft__guard_report *r, const void *addr, const void *sp)
{
	if (r->task[0]) {
		say("weft: stack overflow in task ");
		say(r->task);
	} else {
		say("weft: a write into a task stack's guard, outside any task");
	}
	if (r->guard_hit && !r->own_guard) {
		say(r->task[0] ? " (a write at " : " (at ");
		say_hex(addr);
		say(" hit the guard of ");
		if (r->victim[0]) {
			say("task ");
			say(r->victim);
			say("'s stack");
		} else {
			say("a free stack");
		}
		say(")");
	}
	if (r->sp_outside && !r->own_guard) {
		say(" (its stack pointer ");
		say_hex(sp);
		say(" is outside its stack ");
		say_hex(r->lo);
		say("-");
		say_hex(r->hi);
		say(": a frame larger than the guard jumped it; build task code with "
		    "-fstack-clash-protection)");
	}
	if (r->task[0])
		say(FIX_TEXT);
	say("\n");
	abort();
}

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
	struct weft__guard_report r;
	const void *sp = WEFT__UCTX_SP(uctx);
	if (lookup_fn && lookup_fn(info->si_addr, sp, &r))
		report(&r, info->si_addr, sp);
	/* Not ours: hand it to whoever was there before. */
	if (previous.sa_flags & SA_SIGINFO) {
		previous.sa_sigaction(sig, info, uctx);
	} else if (previous.sa_handler == SIG_IGN) {
		/* ignoring a fault would loop forever: die as the default would */
		signal(SIGSEGV, SIG_DFL);
	} else if (previous.sa_handler == SIG_DFL) {
		/* restore and return: the faulting instruction re-runs and the
		 * default action (a core dump) happens at the right place */
		signal(SIGSEGV, SIG_DFL);
	} else {
		previous.sa_handler(sig);
	}
}

bool weft__guard_install(weft__guard_lookup_fn lookup, bool force)
{
	pthread_mutex_lock(&install_lock);
	if (!installed) {
		struct sigaction cur;
		sigaction(SIGSEGV, NULL, &cur);
		bool free_slot = !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL;
		if (free_slot || force) {
			struct sigaction sa;
			memset(&sa, 0, sizeof(sa));
			sa.sa_sigaction = on_segv;
			sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
			sigemptyset(&sa.sa_mask);
			lookup_fn = lookup;
			if (sigaction(SIGSEGV, &sa, &previous) == 0)
				installed = true;
		}
	}
	bool ok = installed;
	pthread_mutex_unlock(&install_lock);
	return ok;
}

int weft__guard_thread_init(void **out)
{
	*out = NULL;
	void *mem = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	stack_t ss = {.ss_sp = mem, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
	if (sigaltstack(&ss, NULL)) {
		int rc = -errno;
		munmap(mem, ALTSTACK_SIZE);
		return rc;
	}
	*out = mem;
	return 0;
}

void weft__guard_thread_exit(void *altstack)
{
	if (!altstack)
		return;
	stack_t ss = {.ss_flags = SS_DISABLE};
	sigaltstack(&ss, NULL);
	munmap(altstack, ALTSTACK_SIZE);
}
