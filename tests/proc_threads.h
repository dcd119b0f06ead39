/* SPDX-License-Identifier: MIT */
/* For tests and stress programs: how many threads this process has now. */
#ifndef WEFT_TESTS_PROC_THREADS_H
#define WEFT_TESTS_PROC_THREADS_H

#include <dirent.h>
#include <pthread.h>

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

static inline void *proc_threads_noop(void *arg)
{
	return arg;
}

/* threads_in_process() for a baseline to compare with later: a thread is
 * made and joined first, since ThreadSanitizer starts one of its own with
 * the process's first pthread_create. */
static inline int threads_baseline(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, proc_threads_noop, NULL) == 0)
		pthread_join(t, NULL);
	return threads_in_process();
}

#endif
