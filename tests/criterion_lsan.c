/* SPDX-License-Identifier: MIT */
/*
 * Linked into every Criterion executable of an ASan build (tests/meson.build).
 *
 * Criterion's runner process, the parent that starts each test in a
 * sandboxed child, now and then leaks one 48-byte timeout record: BoxFort
 * (bundled in libcriterion 2.4, src/timeout-posix.c) allocates it in
 * bxfi_push_timeout for every test with .timeout and loses it when two
 * such tests end at about the same time (seen with -j2 on 2 cores; never
 * with -j1). That is not weft's leak, and it fails the whole executable.
 *
 * An LSan suppression cannot single it out: Debian's libcriterion has no
 * symbols for those functions, and a suppression by module
 * ("leak:libcriterion.so") would also hide weft's leaks inside tests,
 * whose stacks pass through libcriterion as well. So LeakSanitizer is
 * switched off in the runner only. weft code never runs there: the tests
 * run in the children, which BoxFort starts with BXFI_MAP in their
 * environment, and leak checking stays on in every one of them.
 */
#include <stdlib.h>

int __lsan_is_turned_off(void);

int __lsan_is_turned_off(void)
{
	return getenv("BXFI_MAP") == NULL;
}
