/* SPDX-License-Identifier: MIT */
/* For tests and stress programs: how many threads this process has now. */
#ifndef WEFT_TESTS_PROC_THREADS_H
#define WEFT_TESTS_PROC_THREADS_H

#include <dirent.h>

/* The entries of /proc/self/task, or -1 if it cannot be read. */
static inline int threads_in_process(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

#endif
