/* SPDX-License-Identifier: MIT */
/*
 * Subprocess reaping under races (weft/subprocess.h), on 2 workers: each
 * child is waited for by two tasks at once (one of them sometimes
 * cancelled first), or killed while a waiter waits, or freed while still
 * running. Invariants: every waiter that returns 0 reads the same return
 * code, the one the child really had (3, or -SIGKILL when killed); a
 * cancelled waiter leaves the child to the others; nothing is left behind
 * (no zombie: waitpid(-1) says ECHILD; no descriptor leaked).
 */
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static long nchildren;
static atomic_long next_child;

struct waiter {
	weft_process *p;
	int rc, code;
};

static int wait_task(void *arg, void **result)
{
	struct waiter *w = arg;
	w->rc = weft_process_wait(w->p, &w->code);
	return 0;
}

static void one_child(long i)
{
	char *const argv[] = {"sh", "-c", "exit 3", NULL};
	weft_process *p;
	int rc = weft_subprocess_exec(argv, NULL, &p);
	STRESS_CHECK(rc == 0, "spawn: %d", rc);
	if (rc)
		return;
	int mode = (int)(i % 4);
	if (mode == 3) { /* freed while running: killed and reaped by free */
		weft_process_free(p);
		return;
	}
	struct waiter a = {p, 1, 0}, b = {p, 1, 0};
	weft_future *ta = weft_create_task(wait_task, &a, "waiter-a");
	weft_future *tb = weft_create_task(wait_task, &b, "waiter-b");
	if (mode == 1) { /* one waiter cancelled, before or while it waits */
		if (i % 8 == 1)
			weft_sleep(0);
		weft_cancel(ta, NULL);
	}
	if (mode == 2)
		weft_process_kill(p);
	weft_await(ta, NULL);
	weft_await(tb, NULL);
	weft_future_unref(ta);
	weft_future_unref(tb);
	int want = mode == 2 ? -SIGKILL : 3;
	/* a kill that came after the exit leaves 3 */
	STRESS_CHECK(b.rc == 0 && (b.code == want || (mode == 2 && b.code == 3)),
		     "child %ld mode %d: rc %d code %d", i, mode, b.rc, b.code);
	if (mode == 1) /* 1: cancelled before its first run, so it never ran */
		STRESS_CHECK(a.rc == 1 || a.rc == -ECANCELED || (a.rc == 0 && a.code == b.code),
			     "cancelled waiter: %d", a.rc);
	else
		STRESS_CHECK(a.rc == 0 && a.code == b.code, "waiters disagree: %d/%d vs %d/%d", a.rc,
			     a.code, b.rc, b.code);
	weft_process_free(p);
}

static int spawner(void *arg, void **result)
{
	long i;
	while ((i = atomic_fetch_add(&next_child, 1)) < nchildren)
		one_child(i);
	return 0;
}

static int main_task(void *arg, void **result)
{
	enum { SPAWNERS = 8 };
	weft_future *t[SPAWNERS];
	for (int i = 0; i < SPAWNERS; i++)
		t[i] = weft_create_task(spawner, NULL, "spawner");
	for (int i = 0; i < SPAWNERS; i++) {
		weft_await(t[i], NULL);
		weft_future_unref(t[i]);
	}
	return 0;
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

int main(void)
{
	stress_begin("subprocess_race");
	nchildren = stress_count(2000);
	int fds = count_fds();
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 2;
	weft_runtime *rt;
	stress_require_runtime(weft_runtime_create(&cfg, &rt));
	int rc = weft_runtime_run(rt, main_task, NULL, NULL);
	STRESS_CHECK(rc == 0, "run: %d", rc);
	weft_runtime_destroy(rt);
	STRESS_CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "a child was left behind");
	STRESS_CHECK(count_fds() == fds, "descriptors: %d before, %d after", fds, count_fds());
	printf("subprocess_race: %ld children\n", nchildren);
	return stress_end();
}
