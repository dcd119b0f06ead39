/* SPDX-License-Identifier: MIT */
/* weft_strerror and weft_fail (weft/error.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <weft.h>

/* asyncio's exceptions map to errno codes (API.md): weft_strerror says
 * weft's meaning, not glibc's network wording, with the name for grep. */
Test(error, names_asyncio_codes_in_weft_words)
{
	cr_assert_str_eq(weft_strerror(-ECANCELED), "cancelled (ECANCELED)");
	cr_assert_str_eq(weft_strerror(-ETIMEDOUT), "timed out (ETIMEDOUT)");
	cr_assert_str_eq(weft_strerror(-ESHUTDOWN), "shut down (ESHUTDOWN)");
	const int codes[] = {EBUSY, EALREADY, EINVAL, EAGAIN, EPIPE, EOVERFLOW,
			     ENOTRECOVERABLE, EPERM, EDEADLK};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *s = weft_strerror(-codes[i]);
		cr_assert_not_null(strstr(s, strerrorname_np(codes[i])), "%s", s);
		cr_assert_str_neq(s, strerrordesc_np(codes[i]));
		cr_assert_str_eq(weft_strerror(codes[i]), s, "a positive errno reads the same");
	}
	cr_assert_str_eq(weft_strerror(0), "success");
}

Test(error, names_other_errno_codes_with_their_name)
{
	cr_assert_str_eq(weft_strerror(-ECONNREFUSED), "Connection refused (ECONNREFUSED)");
	cr_assert_str_eq(weft_strerror(-EBADF), "Bad file descriptor (EBADF)");
	cr_assert_str_eq(weft_strerror(ENOMEM), "Cannot allocate memory (ENOMEM)");
}

/* -INT_MIN overflows: UBSan (the asan build) fails this if it is negated. */
Test(error, extremes_are_unknown_not_undefined)
{
	cr_assert_str_eq(weft_strerror(INT_MIN), "unknown error");
	cr_assert_str_eq(weft_strerror(INT_MAX), "unknown error");
	cr_assert_str_eq(weft_strerror(-INT_MAX), "unknown error");
	cr_assert_str_eq(weft_strerror(-255), "unknown error"); /* inside the table, no errno */
}

Test(error, names_weft_codes)
{
	cr_assert(WEFT_EGROUP < -4095);
	cr_assert(WEFT_ENOURING < -4095);
	cr_assert_not_null(strstr(weft_strerror(WEFT_EGROUP), "task group"));
	cr_assert_not_null(strstr(weft_strerror(WEFT_ENOURING), "io_uring"));
}

Test(error, unknown_code_is_never_null)
{
	cr_assert_not_null(weft_strerror(-99999));
	cr_assert_not_null(weft_strerror(-123456));
}

Test(error, fail_outside_task_returns_code)
{
	cr_assert_eq(weft_fail(-EIO, "x %d", 1), -EIO);
	cr_assert_eq(weft_fail(0, "nothing"), 0);
}
