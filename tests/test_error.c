/* SPDX-License-Identifier: MIT */
/* weft_strerror and weft_fail (weft/error.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include <weft.h>

Test(error, names_errno_codes)
{
	cr_assert_str_eq(weft_strerror(-ECANCELED), strerrordesc_np(ECANCELED));
	cr_assert_str_eq(weft_strerror(-ETIMEDOUT), strerrordesc_np(ETIMEDOUT));
	cr_assert_str_eq(weft_strerror(0), "success");
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
