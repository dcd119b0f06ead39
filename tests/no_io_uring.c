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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp_deny.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: no_io_uring PROGRAM [ARGS...]\n");
		return 2;
	}
	static const long refused[] = {__NR_io_uring_setup, __NR_io_uring_enter,
				       __NR_io_uring_register};
	int rc = seccomp_deny(refused, 3, EPERM);
	if (rc == -ENOSYS) {
		fprintf(stderr, "no_io_uring: SKIP: no audit arch constant for this machine\n");
		return 77;
	}
	if (rc) {
		fprintf(stderr, "no_io_uring: cannot install the seccomp filter: %s\n", strerror(-rc));
		return 1;
	}
	long r = syscall(__NR_io_uring_setup, 4, NULL);
	if (r != -1 || errno != EPERM) {
		fprintf(stderr, "no_io_uring: the filter does not refuse io_uring_setup (%ld, %s)\n",
			r, strerror(errno));
		return 1;
	}
	unsetenv("WEFT_BACKEND");
	fprintf(stderr, "no_io_uring: io_uring_setup refused (EPERM); running %s\n", argv[1]);
	execv(argv[1], argv + 1);
	fprintf(stderr, "no_io_uring: cannot run %s: %s\n", argv[1], strerror(errno));
	return 1;
}
