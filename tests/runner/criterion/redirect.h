/* SPDX-License-Identifier: MIT */
/* tests/runner's stand-in for Criterion's stderr capture (tests/runner/runner.c). */
#ifndef WEFT_TEST_RUNNER_REDIRECT_H
#define WEFT_TEST_RUNNER_REDIRECT_H

#include <stdio.h>

/* From now on the test's stderr goes to a file (call it from .init). */
void cr_redirect_stderr(void);

/* What the test wrote to stderr since cr_redirect_stderr, from the start. */
FILE *cr_get_redirected_stderr(void);

#endif
