/* SPDX-License-Identifier: MIT */
/*
 * Subprocesses (weft/subprocess.h): asyncio's create_subprocess_exec /
 * _shell rules for return codes, pipes, communicate, signals, reaping and
 * the child's clean start.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

/* Runs argv (or, with argv NULL, the shell command cmd) with stdout piped
 * and stderr as given, feeding `in`; the output and return code land in
 * the globals. */
static char *out_buf;
static size_t out_len;
static int ret_code, spawn_rc, comm_rc;

struct run_spec {
	char *const *argv;
	const char *cmd;
	const char *in;
	size_t in_len;
	enum weft_stdio err;
	char *const *env;
	const char *cwd;
};

static int run_main(void *arg, void **res)
{
	struct run_spec *r = arg;
	weft_subprocess_opts o;
	weft_subprocess_opts_init(&o);
	o.in = r->in ? WEFT_STDIO_PIPE : WEFT_STDIO_DEVNULL;
	o.out = WEFT_STDIO_PIPE;
	o.err = r->err;
	o.env = r->env;
	o.cwd = r->cwd;
	weft_process *p;
	free(out_buf);
	out_buf = NULL;
	out_len = 0;
	ret_code = -1000;
	spawn_rc = r->argv ? weft_subprocess_exec(r->argv, &o, &p) : weft_subprocess_shell(r->cmd, &o, &p);
	if (spawn_rc)
		return 0;
	comm_rc = weft_process_communicate(p, r->in, r->in_len, &out_buf, &out_len, NULL, NULL);
	weft_process_returncode(p, &ret_code);
	weft_process_free(p);
	return 0;
}

static void run(struct run_spec r)
{
	cr_assert_eq(tu_run_n(1, run_main, &r, NULL), 0);
}

static bool out_is(const char *want)
{
	return out_len == strlen(want) && memcmp(out_buf, want, out_len) == 0;
}

Test(subprocess, exit_status_is_the_returncode, .timeout = TEST_TIMEOUT)
{
	run((struct run_spec){.argv = (char *const[]){"true", NULL}});
	cr_assert_eq(spawn_rc, 0);
	cr_assert_eq(ret_code, 0);
	run((struct run_spec){.cmd = "exit 3"});
	cr_assert_eq(ret_code, 3);
	run((struct run_spec){.cmd = "kill -KILL $$"});
	cr_assert_eq(ret_code, -SIGKILL, "killed by a signal: its negative number");
}

Test(subprocess, a_missing_program_is_enoent_and_the_shell_says_127, .timeout = TEST_TIMEOUT)
{
	run((struct run_spec){.argv = (char *const[]){"/nonexistent/weft-prog", NULL}});
	cr_assert_eq(spawn_rc, -ENOENT);
	run((struct run_spec){.argv = (char *const[]){"weft-no-such-program", NULL}});
	cr_assert_eq(spawn_rc, -ENOENT, "searched in PATH, not found");
	run((struct run_spec){.cmd = "weft-no-such-program 2>/dev/null"});
	cr_assert_eq(spawn_rc, 0);
	cr_assert_eq(ret_code, 127);
}

Test(subprocess, communicate_10_mib_through_cat_both_ways, .timeout = 60 * WEFT_TEST_SLOW)
{
	size_t n = 10u << 20;
	char *in = malloc(n);
	cr_assert_not_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = (char)(i * 7 + i / 4096);
	/* cat writes while it still reads: more than a pipe holds both ways */
	run((struct run_spec){.argv = (char *const[]){"cat", NULL}, .in = in, .in_len = n});
	cr_assert_eq(comm_rc, 0);
	cr_assert_eq(ret_code, 0);
	cr_assert_eq(out_len, n);
	cr_assert_eq(memcmp(out_buf, in, n), 0);
	free(in);
}

Test(subprocess, a_child_that_exits_without_reading_its_input, .timeout = TEST_TIMEOUT)
{
	static char big[1 << 20];
	run((struct run_spec){.cmd = "echo early", .in = big, .in_len = sizeof(big)});
	cr_assert_eq(comm_rc, 0, "a broken pipe on stdin is not an error");
	cr_assert_eq(ret_code, 0);
	cr_assert(out_is("early\n"));
}

Test(subprocess, stderr_into_stdout_env_cwd_and_quoting, .timeout = TEST_TIMEOUT)
{
	run((struct run_spec){.cmd = "echo out; echo err >&2", .err = WEFT_STDIO_STDOUT});
	cr_assert(out_is("out\nerr\n"));
	char *const env[] = {"WEFT_SUB=bar", "PATH=/usr/bin:/bin", NULL};
	run((struct run_spec){.cmd = "echo \"$WEFT_SUB\"; pwd", .env = env, .cwd = "/"});
	cr_assert(out_is("bar\n/\n"));
	run((struct run_spec){.cmd = "printf '%s|' 'a b' \"c'd\" \\$x"});
	cr_assert(out_is("a b|c'd|$x|"));
}

Test(subprocess, the_child_starts_clean, .timeout = TEST_TIMEOUT)
{
	/* a descriptor without O_CLOEXEC stays out; weft's blocked SIGPIPE
	 * does not reach the child's mask */
	int leaked = fcntl(1, F_DUPFD, 100);
	cr_assert_geq(leaked, 100);
	run((struct run_spec){.argv = (char *const[]){"ls", "/proc/self/fd", NULL}});
	close(leaked);
	cr_assert(out_is("0\n1\n2\n3\n"), "only 0-2 (and ls's own 3); got %.*s", (int)out_len, out_buf);
	/* no shell between: a shell may reset the mask itself; an ignored
	 * signal of ours is not ignored in the child */
	signal(SIGUSR1, SIG_IGN);
	run((struct run_spec){.argv = (char *const[]){"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status", NULL}});
	signal(SIGUSR1, SIG_DFL);
	unsigned long long blk = 1, ign = 1;
	cr_assert_eq(sscanf(out_buf, "SigBlk: %llx SigIgn: %llx", &blk, &ign), 2);
	cr_assert_eq(blk, 0, "an empty signal mask (weft's threads block SIGPIPE)");
	/* signals 1-31 at their default (glibc keeps its own 32 and 33) */
	cr_assert_eq(ign & 0x7fffffffull, 0, "no ignored standard signal: %llx", ign);
}

/* --- signals, wait, cancellation ------------------------------------------ */

static int sig_ret, stubborn_rc, stubborn_ret, after_rc;

static int signals_main(void *arg, void **res)
{
	weft_process *p;
	weft_subprocess_opts o;
	weft_subprocess_opts_init(&o);
	char *const sleeper[] = {"sleep", "10", NULL};
	if (weft_subprocess_exec(sleeper, &o, &p))
		return -1;
	weft_process_terminate(p);
	weft_process_wait(p, &sig_ret);
	after_rc = weft_process_send_signal(p, SIGTERM);
	weft_process_free(p);

	/* a child that ignores SIGTERM: still there 0.2 s later, then killed */
	o.out = WEFT_STDIO_PIPE;
	if (weft_subprocess_shell("trap '' TERM; echo ready; while :; do sleep 0.05; done", &o, &p))
		return -2;
	char line[16];
	size_t got;
	weft_stream_readline(weft_process_stdout(p), line, sizeof(line), &got);
	weft_process_terminate(p);
	weft_sleep(0.2);
	stubborn_rc = weft_process_returncode(p, NULL);
	weft_process_kill(p);
	weft_process_wait(p, &stubborn_ret);
	weft_process_free(p);
	return 0;
}

Test(subprocess, terminate_kill_and_a_child_that_ignores_sigterm, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, signals_main, NULL, NULL), 0);
	cr_assert_eq(sig_ret, -SIGTERM);
	cr_assert_eq(after_rc, -ESRCH, "no signal after the reap");
	cr_assert_eq(stubborn_rc, -EAGAIN, "still running");
	cr_assert_eq(stubborn_ret, -SIGKILL);
}

static int cw_rc, cw_alive_rc;
static pid_t cw_pid;

static int cancel_waiter(void *arg, void **res)
{
	cw_rc = weft_process_wait(arg, NULL);
	return 0;
}

static int cancel_wait_main(void *arg, void **res)
{
	weft_process *p;
	char *const sleeper[] = {"sleep", "10", NULL};
	if (weft_subprocess_exec(sleeper, NULL, &p))
		return -1;
	cw_pid = weft_process_pid(p);
	weft_future *t = tu_spawn(cancel_waiter, p);
	tu_yield();
	tu_cancel_reap(t);
	cw_alive_rc = weft_process_returncode(p, NULL);
	weft_process_free(p); /* kills and reaps it */
	return 0;
}

Test(subprocess, a_cancelled_wait_leaves_the_child_and_free_kills_it, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, cancel_wait_main, NULL, NULL), 0);
	cr_assert_eq(cw_rc, -ECANCELED);
	cr_assert_eq(cw_alive_rc, -EAGAIN, "asyncio: cancelling wait() does not kill the child");
	cr_assert_eq(kill(cw_pid, 0), -1, "reaped: no zombie left");
	cr_assert_eq(errno, ESRCH);
}

static int self_ret;

static int self_reap_main(void *arg, void **res)
{
	weft_process *p;
	char *const t[] = {"true", NULL};
	if (weft_subprocess_exec(t, NULL, &p))
		return -1;
	waitpid(weft_process_pid(p), NULL, 0); /* the application reaps it */
	weft_process_wait(p, &self_ret);
	weft_process_free(p);
	return 0;
}

Test(subprocess, reaped_by_the_application_is_255, .timeout = TEST_TIMEOUT)
{
	cr_assert_eq(tu_run_n(1, self_reap_main, NULL, NULL), 0);
	cr_assert_eq(self_ret, 255);
}

/* A spawn cancelled while it waits for the pool: -ECANCELED, and the
 * child it starts once the pool takes it is killed and reaped. The pool
 * has one thread, held by a gated call, so the spawn is still queued
 * when the cancel comes (a free pool thread could finish the spawn
 * before the task ever suspends: nothing left to cancel). */
static int sc_rc = 1;
static atomic_int sc_gate;

static int gated_call(void *arg, void **res)
{
	while (!atomic_load(&sc_gate))
		usleep(1000);
	return 0;
}

static int spawn_cancelled(void *arg, void **res)
{
	weft_process *p = NULL;
	char *const sleeper[] = {"sleep", "10", NULL};
	sc_rc = weft_subprocess_exec(sleeper, NULL, &p);
	weft_process_free(p);
	return 0;
}

static int spawn_cancel_main(void *arg, void **res)
{
	weft_future *gate = weft_to_thread(gated_call, NULL);
	weft_future *t = tu_spawn(spawn_cancelled, NULL);
	tu_yield(); /* t's spawn is queued behind the gated call */
	weft_cancel(t, NULL);
	atomic_store(&sc_gate, 1);
	weft_await(t, NULL);
	weft_future_unref(t);
	weft_await(gate, NULL);
	weft_future_unref(gate);
	return 0;
}

Test(subprocess, a_cancelled_spawn_leaves_no_child, .timeout = TEST_TIMEOUT)
{
	weft_config cfg;
	weft_config_init(&cfg);
	cfg.workers = 1;
	cfg.blocking_threads_max = 1;
	cr_assert_eq(tu_run(spawn_cancel_main, NULL, &cfg, NULL), 0);
	cr_assert_eq(sc_rc, -ECANCELED, "sc_rc %d", sc_rc);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "no child left");
	cr_assert_eq(errno, ECHILD);
}

/* --- many at once ------------------------------------------------------- */

enum { CHILDREN = 1000, SPAWNERS = 16 };
static atomic_int many_ok;

static int spawner(void *arg, void **res)
{
	char *const t[] = {"true", NULL};
	for (int i = 0; i < CHILDREN / SPAWNERS + 1; i++) {
		if (atomic_fetch_add(&many_ok, 0) >= CHILDREN)
			break;
		weft_process *p;
		int rc = weft_subprocess_exec(t, NULL, &p);
		if (rc)
			return rc;
		int ret = -1;
		if (weft_process_wait(p, &ret) == 0 && ret == 0)
			atomic_fetch_add(&many_ok, 1);
		weft_process_free(p);
	}
	return 0;
}

static int many_main(void *arg, void **res)
{
	weft_future *t[SPAWNERS];
	tu_spawn_n(t, SPAWNERS, spawner);
	return tu_reap_failed(t, SPAWNERS);
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

Test(subprocess, a_thousand_children_across_two_workers_all_reaped, .timeout = 120 * WEFT_TEST_SLOW)
{
	int before = count_fds();
	atomic_store(&many_ok, 0);
	cr_assert_eq(tu_run_n(2, many_main, NULL, NULL), 0);
	cr_assert_geq(atomic_load(&many_ok), CHILDREN);
	cr_assert_eq(count_fds(), before, "no descriptor leaked");
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "no child left to reap");
	cr_assert_eq(errno, ECHILD);
}

/* --- misuse --------------------------------------------------------------- */

static int mu_null_argv, mu_bad_in, mu_stdin_read;

static int misuse_main(void *arg, void **res)
{
	weft_process *p;
	mu_null_argv = weft_subprocess_exec((char *const[]){NULL}, NULL, &p);
	weft_subprocess_opts o;
	weft_subprocess_opts_init(&o);
	o.in = WEFT_STDIO_STDOUT;
	char *const t[] = {"true", NULL};
	mu_bad_in = weft_subprocess_exec(t, &o, &p);
	o.in = WEFT_STDIO_PIPE;
	if (weft_subprocess_exec(t, &o, &p))
		return -1;
	char c;
	mu_stdin_read = (int)weft_stream_read(weft_process_stdin(p), &c, 1);
	weft_process_wait(p, NULL);
	weft_process_free(p);
	return 0;
}

Test(subprocess, misuse)
{
	weft_process *p;
	char *const t[] = {"true", NULL};
	cr_assert_eq(weft_subprocess_exec(t, NULL, &p), -EPERM, "outside a task");
	cr_assert_eq(weft_process_wait(NULL, NULL), -EINVAL);
	weft_process_free(NULL);
	cr_assert_eq(tu_run_n(1, misuse_main, NULL, NULL), 0);
	cr_assert_eq(mu_null_argv, -EINVAL);
	cr_assert_eq(mu_bad_in, -EINVAL);
	cr_assert_eq(mu_stdin_read, -EBADF, "the stdin stream is write-only");
}
