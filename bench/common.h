/* SPDX-License-Identifier: MIT */
/*
 * What weft_bench's harness (bench/harness.c) and the load generator
 * (bench/loadgen/echo_loadgen.c) both write: the JSON line's pieces (its
 * string escaping, the "machine" object, the time stamp), the human line's
 * figures, and the append to the --json file.
 *
 * Plain C and libc only: the load generator links it and must stay
 * independent of weft (IO.md), so nothing here may include a weft header.
 */
#ifndef WEFT_BENCH_COMMON_H
#define WEFT_BENCH_COMMON_H

#include <stddef.h>
#include <stdio.h>

/* Writes s as a JSON string, quotes included; NULL writes "". */
void bench_json_string(FILE *f, const char *s);

/* The CPU model from /proc/cpuinfo: x86's "model name", else aarch64's
 * fields ("Model", "Hardware", "cpu model"), else "unknown". */
void bench_cpu_model(char *buf, size_t cap);

/* CPUs this process may run on (its affinity mask), -1 if unknown. */
int bench_cpus_allowed(void);

/* The JSON line's "machine" object: {"cores":..,"cpus_allowed":..,
 * "kernel":..,"arch":..,"cpu":..}. The CPU model and uname are read once
 * per process. */
void bench_machine_json(FILE *f, int cpus_allowed);

/* The UTC time now, "2025-01-31T12:00:00Z" (cap >= 21). */
void bench_utc_now(char *buf, size_t cap);

/* "2.93 M" for 2.93e6 (a figure, then a unit: "2.93 M tasks/s"). */
void bench_si(char *buf, size_t cap, double v);

/* Writes all of buf to fd, retrying on EINTR; 0, or -1 (errno set). */
int bench_write_all(int fd, const void *buf, size_t len);

/* Appends buf to the file at path (created 0644 if missing); 0, or -1
 * with errno set. */
int bench_append_file(const char *path, const char *buf, size_t len);

#endif
