/* SPDX-License-Identifier: MIT */
/*
 * A seccomp filter that makes some syscalls fail with an errno, as a
 * container's profile does (Docker's default refuses io_uring): a BPF
 * program installed with prctl, no libseccomp. Shared by test_runtime.c
 * (one refused syscall per test) and no_io_uring.c (the launcher).
 */
#ifndef WEFT_TEST_SECCOMP_DENY_H
#define WEFT_TEST_SECCOMP_DENY_H

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>

#if defined(__x86_64__)
#define SECCOMP_DENY_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_DENY_ARCH AUDIT_ARCH_AARCH64
#endif

enum { SECCOMP_DENY_MAX = 8 };

/*
 * Makes the n (at most SECCOMP_DENY_MAX) syscalls nrs fail with err for
 * the calling thread, the threads it creates from now on and the programs
 * it execs. 0, -ENOSYS where this file knows no audit arch constant (the
 * caller skips), or the -errno of prctl.
 */
static inline int seccomp_deny(const long *nrs, unsigned n, int err)
{
#ifdef SECCOMP_DENY_ARCH
	struct sock_filter f[5 + SECCOMP_DENY_MAX];
	unsigned k = 0;
	if (n > SECCOMP_DENY_MAX)
		return -EINVAL;
	/* another architecture's syscall numbers pass untouched */
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_DENY_ARCH, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	/* the i-th match jumps to the ERRNO return, past the ALLOW */
	for (unsigned i = 0; i < n; i++)
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i],
						      (unsigned char)(n - i), 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
					      SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA));
	struct sock_fprog prog = {.len = (unsigned short)k, .filter = f};
	/* no_new_privs: what lets an unprivileged process install a filter */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return -errno;
	return 0;
#else
	(void)nrs;
	(void)n;
	(void)err;
	return -ENOSYS;
#endif
}

#endif
