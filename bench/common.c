/* SPDX-License-Identifier: MIT */
/* What the harness and the load generator share (common.h): no weft here. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

void bench_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void bench_cpu_model(char *buf, size_t cap)
{
	snprintf(buf, cap, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return;
	char line[512];
	static const char *keys[] = {"model name", "Model", "Hardware", "cpu model", NULL};
	int best = 99;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		for (int k = 0; keys[k] && k < best; k++) {
			if (!strncmp(line, keys[k], strlen(keys[k]))) {
				char *v = colon + 1;
				while (*v == ' ' || *v == '\t')
					v++;
				snprintf(buf, cap, "%s", v);
				size_t l = strlen(buf);
				while (l && isspace((unsigned char)buf[l - 1]))
					buf[--l] = '\0';
				best = k;
				break;
			}
		}
	}
	fclose(f);
}

int bench_cpus_allowed(void)
{
	cpu_set_t set;
	return sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : -1;
}

void bench_machine_json(FILE *f, int cpus_allowed)
{
	static char cpu[256];
	static struct utsname u;
	static int cached;
	if (!cached) {
		bench_cpu_model(cpu, sizeof(cpu));
		if (uname(&u))
			strcpy(u.release, "unknown");
		cached = 1;
	}
	fprintf(f, "{\"cores\":%ld,\"cpus_allowed\":%d,\"kernel\":", sysconf(_SC_NPROCESSORS_ONLN),
		cpus_allowed);
	bench_json_string(f, u.release);
	fputs(",\"arch\":", f);
	bench_json_string(f, u.machine);
	fputs(",\"cpu\":", f);
	bench_json_string(f, cpu);
	fputc('}', f);
}

void bench_utc_now(char *buf, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void bench_si(char *buf, size_t cap, double v)
{
	static const char *prefix[] = {"", " k", " M", " G"};
	int p = 0;
	while (v >= 1000 && p < 3) {
		v /= 1000;
		p++;
	}
	snprintf(buf, cap, "%.*f%s", v < 1 && p == 0 ? 3 : v < 10 ? 2 : v < 100 ? 1 : 0, v,
		 prefix[p]);
}

int bench_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t k = write(fd, p, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

int bench_append_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int rc = bench_write_all(fd, buf, len);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}
