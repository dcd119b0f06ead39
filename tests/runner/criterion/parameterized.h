/* SPDX-License-Identifier: MIT */
/* tests/runner's stand-in: parameterized tests live in criterion.h. */
#include <criterion/criterion.h>
