/* SPDX-License-Identifier: MIT */
/*
 * Backtraces of fibers (see backtrace.h). Unwinding: libunwind's local
 * unwinder, started from a register set we fill in ourselves (a suspended
 * fiber's saved frame, or a signal's ucontext). Symbols: libdw through
 * dlopen, so file:line costs no build or link dependency and is there
 * wherever elfutils is installed; without it, libunwind's reading of the
 * ELF symbol tables, and last dladdr.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "fiber/backtrace.h"

#ifdef WEFT_HAVE_LIBUNWIND
#define UNW_LOCAL_ONLY
#include <libunwind.h>

/* The first code of every fiber (switch_*.S): its frame is the last. */
void weft__ctx_start(void);

/* Walks the cursor: each frame's pc into pcs, at most cap, the first
 * `skip` left out. It stops at a fiber's first frame without asking
 * libunwind to step past it: at a chain's end libunwind falls back to
 * heuristics that probe memory with syscalls (mincore, a pipe write, a
 * sigprocmask pair per frame after): 3x the cost of a whole stack. */
static int walk(unw_cursor_t *cur, void **pcs, int cap, int skip)
{
	int n = 0;
	uintptr_t start = (uintptr_t)weft__ctx_start;
	do {
		unw_word_t ip = 0;
		if (unw_get_reg(cur, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		if (skip > 0)
			skip--;
		else
			pcs[n++] = (void *)(uintptr_t)ip;
		if (ip > start && ip - start < WEFT__CTX_START_LEN)
			break;
	} while (n < cap && unw_step(cur) > 0);
	return n;
}

/* libunwind's global cache takes a lock with every signal blocked (two
 * sigprocmask calls per frame: 60 us per task in a dump); per-thread
 * caches take none, and stay usable in a signal handler. */
static pthread_once_t policy_once = PTHREAD_ONCE_INIT;

static void policy_set(void)
{
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

int weft__backtrace_ctx(const struct weft__ctx *ctx, void **pcs, int cap)
{
	pthread_once(&policy_once, policy_set);
	struct weft__ctx_regs r;
	weft__ctx_saved(ctx, &r);
	unw_context_t uc;
	memset(&uc, 0, sizeof(uc));
	greg_t *g = uc.uc_mcontext.gregs;
	g[REG_RIP] = (greg_t)r.pc;
	g[REG_RSP] = (greg_t)r.sp;
	g[REG_RBP] = (greg_t)r.fp;
	g[REG_RBX] = (greg_t)r.rbx;
	g[REG_R12] = (greg_t)r.r12;
	g[REG_R13] = (greg_t)r.r13;
	g[REG_R14] = (greg_t)r.r14;
	g[REG_R15] = (greg_t)r.r15;
	unw_cursor_t cur;
	/* not a signal frame: the pc is a return address, looked up at pc-1 */
	if (unw_init_local(&cur, &uc) < 0)
		return 0;
	return walk(&cur, pcs, cap, 0);
}

int weft__backtrace_here(void **pcs, int cap, int skip)
{
	pthread_once(&policy_once, policy_set);
	unw_context_t uc;
	unw_cursor_t cur;
	if (unw_getcontext(&uc) < 0 || unw_init_local(&cur, &uc) < 0)
		return 0;
	return walk(&cur, pcs, cap, skip + 1);
}

int weft__backtrace_signal(void *uc, void **pcs, int cap)
{
	unw_cursor_t cur;
	/* the pc is the interrupted instruction itself, not a return address */
	if (unw_init_local2(&cur, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) < 0)
		return 0;
	return walk(&cur, pcs, cap, 0);
}

/* The name of the function holding pc from the ELF symbol tables, which
 * hold static functions too (dladdr sees only exported ones). */
static int unw_name(void *pc, char *name, size_t cap, uintptr_t *off)
{
	unw_context_t uc;
	memset(&uc, 0, sizeof(uc));
	uc.uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)pc;
	uc.uc_mcontext.gregs[REG_RSP] = (greg_t)(uintptr_t)&uc;
	unw_cursor_t cur;
	unw_word_t o = 0;
	/* a signal frame: libunwind takes pc as it is */
	if (unw_init_local2(&cur, &uc, UNW_INIT_SIGNAL_FRAME) < 0 ||
	    unw_get_proc_name(&cur, name, cap, &o) < 0)
		return -1;
	*off = o;
	return 0;
}
#else
int weft__backtrace_ctx(const struct weft__ctx *ctx, void **pcs, int cap)
{
	return -ENOSYS;
}

int weft__backtrace_here(void **pcs, int cap, int skip)
{
	return -ENOSYS;
}

int weft__backtrace_signal(void *uc, void **pcs, int cap)
{
	return -ENOSYS;
}

static int unw_name(void *pc, char *name, size_t cap, uintptr_t *off)
{
	return -1;
}
#endif

/*
 * libdw's Dwfl, by dlopen. Only the types and calls used here, as
 * libdw.h and libdwfl.h declare them (elfutils' ABI, stable since 0.1xx).
 */
typedef struct Dwfl Dwfl;
typedef struct Dwfl_Module Dwfl_Module;
typedef struct Dwfl_Line Dwfl_Line;
typedef struct {
	void *find_elf;
	void *find_debuginfo;
	void *section_address;
	char **debuginfo_path;
} dwfl_callbacks;

static struct {
	pthread_mutex_t lock;
	bool tried;
	Dwfl *dwfl; /* NULL: libdw is not there, or did not start */
	Dwfl *(*begin)(const dwfl_callbacks *);
	int (*proc_report)(Dwfl *, pid_t);
	int (*report_end)(Dwfl *, void *, void *);
	void (*report_begin)(Dwfl *);
	Dwfl_Module *(*addrmodule)(Dwfl *, uint64_t);
	const char *(*addrinfo)(Dwfl_Module *, uint64_t, uint64_t *, Elf64_Sym *, uint32_t *,
				void **, uint64_t *);
	Dwfl_Line *(*getsrc)(Dwfl_Module *, uint64_t);
	const char *(*lineinfo)(Dwfl_Line *, uint64_t *, int *, int *, uint64_t *, uint64_t *);
	const char *(*module_info)(Dwfl_Module *, void ***, uint64_t *, uint64_t *, uint64_t *,
				   uint64_t *, const char **, const char **);
	dwfl_callbacks cb;
	char *path;
} dw = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Caller holds dw.lock: reads /proc/self/maps (again). */
static bool dw_report(void)
{
	dw.report_begin(dw.dwfl);
	int rc = dw.proc_report(dw.dwfl, getpid());
	dw.report_end(dw.dwfl, NULL, NULL);
	return rc == 0;
}

/* Caller holds dw.lock. */
static void dw_open(void)
{
	dw.tried = true;
	void *h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return;
#define SYM(field, name) (*(void **)&dw.field = dlsym(h, name))
	if (!SYM(begin, "dwfl_begin") || !SYM(proc_report, "dwfl_linux_proc_report") ||
	    !SYM(report_end, "dwfl_report_end") || !SYM(report_begin, "dwfl_report_begin") ||
	    !SYM(addrmodule, "dwfl_addrmodule") || !SYM(addrinfo, "dwfl_module_addrinfo") ||
	    !SYM(getsrc, "dwfl_module_getsrc") || !SYM(lineinfo, "dwfl_lineinfo") ||
	    !SYM(module_info, "dwfl_module_info") ||
	    !(dw.cb.find_elf = dlsym(h, "dwfl_linux_proc_find_elf")) ||
	    !(dw.cb.find_debuginfo = dlsym(h, "dwfl_standard_find_debuginfo")))
		return;
#undef SYM
	dw.cb.debuginfo_path = &dw.path;
	dw.dwfl = dw.begin(&dw.cb);
	if (dw.dwfl && !dw_report())
		dw.dwfl = NULL; /* (leaked: a failed start is not retried) */
}

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* With libdw: "fn+0xoff (file:line)" or "fn+0xoff in module". */
static bool dw_symbolize(uintptr_t pc, uintptr_t at, char *buf, size_t cap)
{
	pthread_mutex_lock(&dw.lock);
	if (!dw.tried)
		dw_open();
	bool ok = false;
	if (dw.dwfl) {
		Dwfl_Module *m = dw.addrmodule(dw.dwfl, at);
		if (!m && dw_report()) /* a library loaded since */
			m = dw.addrmodule(dw.dwfl, at);
		if (m) {
			uint64_t off = 0;
			Elf64_Sym sym;
			const char *name = dw.addrinfo(m, at, &off, &sym, NULL, NULL, NULL);
			Dwfl_Line *line = dw.getsrc(m, at);
			int lineno = 0;
			const char *file = line ? dw.lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
			const char *mod = dw.module_info(m, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
			if (name) {
				off += pc - at;
				if (file)
					snprintf(buf, cap, "%s+0x%llx (%s:%d)", name,
						 (unsigned long long)off, file, lineno);
				else
					snprintf(buf, cap, "%s+0x%llx in %s", name,
						 (unsigned long long)off, mod ? base(mod) : "?");
				ok = true;
			}
		}
	}
	pthread_mutex_unlock(&dw.lock);
	return ok;
}

void weft__symbolize(void *pc, int ret, char *buf, size_t cap)
{
	uintptr_t p = (uintptr_t)pc;
	/* a return address: the call is the instruction before it (the last
	 * call of a function may return past its end) */
	uintptr_t at = ret && p ? p - 1 : p;
	if (dw_symbolize(p, at, buf, cap))
		return;
	Dl_info di;
	bool have_dl = dladdr((void *)at, &di) && di.dli_fname;
	char name[256];
	uintptr_t off;
	if (unw_name((void *)at, name, sizeof(name), &off) == 0) {
		snprintf(buf, cap, "%s+0x%llx in %s", name, (unsigned long long)(off + (p - at)),
			 have_dl ? base(di.dli_fname) : "?");
	} else if (have_dl && di.dli_sname && di.dli_saddr) {
		snprintf(buf, cap, "%s+0x%llx in %s", di.dli_sname,
			 (unsigned long long)(p - (uintptr_t)di.dli_saddr), base(di.dli_fname));
	} else if (have_dl) {
		snprintf(buf, cap, "%s+0x%llx", base(di.dli_fname),
			 (unsigned long long)(p - (uintptr_t)di.dli_fbase));
	} else {
		snprintf(buf, cap, "%p", pc);
	}
}
