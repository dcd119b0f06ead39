/* SPDX-License-Identifier: MIT */
/*
 * tests/runner checked against itself (meson test build/runner-selftest,
 * through selftest.sh): a runner that let a failure, a crash or a timeout
 * pass would make the TSan step's behaviour tests prove nothing. Each test
 * below has a known outcome; selftest.sh compares the summary line.
 */
#include <signal.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>

Test(self, passes)
{
	cr_assert_eq(1 + 1, 2);
	cr_assert_str_eq("a", "a");
	cr_assert_float_eq(0.1 + 0.2, 0.3, 1e-9);
}

Test(self, fails)
{
	int x = 2;
	cr_assert_eq(x, 3, "x is %d", x);
}

Test(self, fails_on_strings)
{
	cr_assert_str_eq("a", "b");
}

/* SIGKILL: a sanitizer turns a SIGSEGV into a report and an exit status */
Test(self, crashes)
{
	kill(getpid(), SIGKILL);
}

Test(self, skips)
{
	cr_skip_test("on purpose");
}

Test(self, times_out, .timeout = 0.2)
{
	sleep(5);
}

static void redirect(void)
{
	cr_redirect_stderr();
}

Test(self, reads_its_stderr, .init = redirect)
{
	fprintf(stderr, "hello");
	char buf[16] = {0};
	size_t n = fread(buf, 1, sizeof(buf) - 1, cr_get_redirected_stderr());
	cr_assert_eq(n, 5);
	cr_assert_str_eq(buf, "hello");
}

struct param {
	int v;
};

ParameterizedTestParameters(self, param)
{
	static struct param cases[] = {{1}, {2}, {3}};
	return cr_make_param_array(struct param, cases, 3);
}

/* the second of three fails */
ParameterizedTest(struct param *p, self, param)
{
	cr_assert_neq(p->v, 2);
}
