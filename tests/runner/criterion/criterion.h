/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for the part of Criterion's API that weft's behaviour tests
 * use, so the same test files build into programs that run under
 * ThreadSanitizer (Criterion's own runner aborts at start under clang's
 * TSan: BoxFort's "inheritable arena" sits where TSan's shadow does).
 * tests/meson.build puts this directory first on the include path when
 * Criterion is not used; tests/runner/runner.c is the main() that runs
 * each registered test in a child process, as Criterion does.
 *
 * Same semantics where the tests depend on them: a failing assertion ends
 * its test at once (the child exits), cr_skip_test skips it, .init runs
 * first, .timeout bounds it, each parameter of a parameterized test is a
 * test of its own. Assertions only on the test's own thread (as with
 * Criterion: tests/test_util.h says why).
 */
#ifndef WEFT_TEST_RUNNER_CRITERION_H
#define WEFT_TEST_RUNNER_CRITERION_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An assertion without a message passes "" as its format. */
#pragma GCC diagnostic ignored "-Wformat-zero-length"

struct criterion_test_params {
	size_t size;   /* bytes per parameter */
	void *params;  /* the array */
	size_t length; /* parameters */
};

struct tr_opts {
	void (*init)(void);
	void (*fini)(void);
	double timeout; /* seconds; 0: the runner's default */
};

struct tr_test {
	const char *suite, *name;
	void (*fn)(void);                              /* a plain test */
	void (*pfn)(void *param);                      /* a parameterized one */
	struct criterion_test_params (*params)(void);  /* ... and its parameters */
	struct tr_opts opts;
	struct tr_test *next;
};

void tr_register(struct tr_test *t);
_Noreturn void tr_fail(const char *file, int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
_Noreturn void tr_fail_str(const char *file, int line, const char *expr, const char *a,
			   const char *b, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
_Noreturn void tr_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tr_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TR_REGISTER_(id)                                                                           \
	__attribute__((constructor)) static void id##_register(void)                               \
	{                                                                                          \
		tr_register(&id##_test);                                                           \
	}

#define Test(suite, name, ...)                                                                     \
	static void suite##_##name##_fn(void);                                                     \
	static struct tr_test suite##_##name##_test = {                                           \
		#suite, #name, suite##_##name##_fn, NULL, NULL, {__VA_ARGS__}, NULL};             \
	TR_REGISTER_(suite##_##name)                                                               \
	static void suite##_##name##_fn(void)

#define cr_make_param_array(Type, Array, Len, ...)                                                 \
	((struct criterion_test_params){sizeof(Type), (void *)(Array), (Len)})

#define ParameterizedTestParameters(suite, name)                                                   \
	static struct criterion_test_params suite##_##name##_params(void)

/* Param is the parameter's declaration ("struct x *c"). */
#define ParameterizedTest(Param, suite, name, ...)                                                 \
	static void suite##_##name##_pfn(Param);                                                   \
	static void suite##_##name##_pwrap(void *p)                                                \
	{                                                                                          \
		suite##_##name##_pfn(p);                                                           \
	}                                                                                          \
	static struct tr_test suite##_##name##_test = {#suite,                                    \
						       #name,                                     \
						       NULL,                                      \
						       suite##_##name##_pwrap,                    \
						       suite##_##name##_params,                   \
						       {__VA_ARGS__},                             \
						       NULL};                                     \
	TR_REGISTER_(suite##_##name)                                                               \
	static void suite##_##name##_pfn(Param)

/* The message arguments are evaluated only when the check fails. */
#define TR_CHECK_(cond, expr, ...)                                                                 \
	do {                                                                                       \
		if (!(cond))                                                                       \
			tr_fail(__FILE__, __LINE__, expr, "" __VA_ARGS__);                         \
	} while (0)

#define cr_assert(e, ...) TR_CHECK_((e), #e, __VA_ARGS__)
#define cr_assert_not(e, ...) TR_CHECK_(!(e), "!(" #e ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) TR_CHECK_((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) TR_CHECK_((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) TR_CHECK_((a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) TR_CHECK_((a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) TR_CHECK_((a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) TR_CHECK_((a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...) TR_CHECK_((p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) TR_CHECK_((p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_float_eq(a, b, eps, ...)                                                         \
	TR_CHECK_(fabs((double)(a) - (double)(b)) <= (double)(eps), #a " == " #b " +- " #eps,     \
		  __VA_ARGS__)

#define TR_CHECK_STR_(a, b, want_equal, expr, ...)                                                 \
	do {                                                                                       \
		const char *tr_a_ = (a), *tr_b_ = (b);                                             \
		if ((strcmp(tr_a_, tr_b_) == 0) != (want_equal))                                   \
			tr_fail_str(__FILE__, __LINE__, expr, tr_a_, tr_b_, "" __VA_ARGS__);       \
	} while (0)

#define cr_assert_str_eq(a, b, ...) TR_CHECK_STR_(a, b, true, #a " == " #b, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...) TR_CHECK_STR_(a, b, false, #a " != " #b, __VA_ARGS__)

#define cr_skip_test(...) tr_skip("" __VA_ARGS__)
#define cr_log_info(...) tr_log("" __VA_ARGS__)

#endif
