/* SPDX-License-Identifier: MIT */
/*
 * no_io_uring PROGRAM [ARGS...]: runs PROGRAM where io_uring is refused,
 * as Docker's default seccomp profile refuses it: io_uring_setup,
 * io_uring_enter and io_uring_register fail with EPERM for PROGRAM and
 * everything it starts. WEFT_BACKEND is removed from the environment, so
 * weft's auto selection is what runs (the epoll fallback). Before it
 * execs, it checks that the filter works (a raw io_uring_setup fails with
 * EPERM), so a test run through it proves "io_uring refused" on every CI
 * run instead of assuming it. A BPF program and prctl: no libseccomp.
 * Exits 77 (meson's skip) where it has no audit arch constant, 1 when
 * the filter cannot be installed.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_AARCH64
#endif

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: no_io_uring PROGRAM [ARGS...]\n");
		return 2;
	}
#ifdef AUDIT_ARCH_HERE
	/* another architecture's syscall numbers pass untouched */
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_HERE, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(filter) / sizeof(filter[0])),
		.filter = filter,
	};
	/* no_new_privs: what lets an unprivileged process install a filter */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		fprintf(stderr, "no_io_uring: cannot install the seccomp filter: %s\n", strerror(errno));
		return 1;
	}
	long rc = syscall(__NR_io_uring_setup, 4, NULL);
	if (rc != -1 || errno != EPERM) {
		fprintf(stderr, "no_io_uring: the filter does not refuse io_uring_setup (%ld, %s)\n",
			rc, strerror(errno));
		return 1;
	}
	unsetenv("WEFT_BACKEND");
	fprintf(stderr, "no_io_uring: io_uring_setup refused (EPERM); running %s\n", argv[1]);
	execv(argv[1], argv + 1);
	fprintf(stderr, "no_io_uring: cannot run %s: %s\n", argv[1], strerror(errno));
	return 1;
#else
	fprintf(stderr, "no_io_uring: SKIP: no audit arch constant for this machine\n");
	return 77;
#endif
}
