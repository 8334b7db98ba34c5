/*
 * The one header every test file includes for its test framework.
 *
 * Natively the suites run under Criterion. Criterion re-executes itself,
 * which fails under qemu-user, so the cross build (and -DSN_TEST_LITE=ON)
 * compiles the same sources against a small in-process harness that
 * implements only the subset used here:
 *   Test(suite, name) { ... }
 *   cr_assert(cond, fmt, ...), cr_expect(cond, fmt, ...)
 *   cr_skip_test(fmt, ...), cr_log_info(fmt, ...), cr_log_warn(fmt, ...)
 * Nothing else of Criterion may be used in the tests.
 */
#ifndef SN_TEST_HARNESS_H
#define SN_TEST_HARNESS_H

#ifdef SN_TEST_LITE
#include "harness/criterion_lite.h"
#else
#include <criterion/criterion.h>
#include <criterion/logging.h>
#endif

#endif
