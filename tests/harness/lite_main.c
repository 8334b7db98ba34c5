/*
 * Runner of the lite harness: every registered test, in order, in this
 * process. Output follows Criterion's: failures as "[----] file:line:
 * Assertion Failed" plus the message, "[FAIL] suite::name", then the
 * synthesis line and a plain "P passed, F failed" line. Exit status 1 when
 * any test failed.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include "criterion_lite.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct lite_test {
    const char *suite, *name;
    sn_lite_test_fn fn;
} lite_test;

static lite_test *tests;
static size_t test_count, test_capacity;

static jmp_buf test_exit;
static int current_failed, current_skipped;
static char skip_reason[1024];

void sn_lite_register(const char *suite, const char *name, sn_lite_test_fn fn)
{
    if (test_count == test_capacity) {
        size_t capacity = test_capacity ? 2 * test_capacity : 64;
        lite_test *grown = realloc(tests, capacity * sizeof *grown);
        if (!grown) {
            fputs("criterion_lite: out of memory registering tests\n", stderr);
            exit(2);
        }
        tests = grown;
        test_capacity = capacity;
    }
    tests[test_count++] = (lite_test){ suite, name, fn };
}

static void print_message(const char *format, va_list args)
{
    char text[4096];
    vsnprintf(text, sizeof text, format, args);
    /* One "[----]   " prefix per line of the message, as Criterion does. */
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        fprintf(stderr, "[----]   %s\n", line);
    }
}

void sn_lite_failed(const char *file, int line, int fatal, const char *expr, const char *format,
                    ...)
{
    fprintf(stderr, "[----] %s:%d: Assertion Failed\n", file, line);
    if (format[0]) {
        va_list args;
        va_start(args, format);
        print_message(format, args);
        va_end(args);
    } else {
        fprintf(stderr, "[----]   The expression %s is false.\n", expr);
    }
    current_failed = 1;
    if (fatal)
        longjmp(test_exit, 1);
}

void sn_lite_skip(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(skip_reason, sizeof skip_reason, format, args);
    va_end(args);
    current_skipped = 1;
    longjmp(test_exit, 1);
}

void sn_lite_log(const char *tag, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs(tag, stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* setjmp in a frame of its own, so that no local of the loop in main can be
 * clobbered by the longjmp of a failed assertion. */
static void run_test(sn_lite_test_fn fn)
{
    current_failed = 0;
    current_skipped = 0;
    if (setjmp(test_exit) == 0)
        fn();
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    size_t passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < test_count; i++) {
        double start = now();
        run_test(tests[i].fn);
        double seconds = now() - start;
        if (current_skipped) {
            skipped++;
            fprintf(stderr, "[SKIP] %s::%s: %s\n", tests[i].suite, tests[i].name, skip_reason);
        } else if (current_failed) {
            failed++;
            fprintf(stderr, "[FAIL] %s::%s: (%.2fs)\n", tests[i].suite, tests[i].name, seconds);
        } else {
            passed++;
            fprintf(stderr, "[PASS] %s::%s: (%.2fs)\n", tests[i].suite, tests[i].name, seconds);
        }
    }
    fprintf(stderr, "[====] Synthesis: Tested: %zu | Passing: %zu | Failing: %zu | Crashing: 0\n",
            passed + failed, passed, failed);
    if (skipped)
        fprintf(stderr, "%zu skipped\n", skipped);
    fprintf(stderr, "%zu passed, %zu failed\n", passed, failed);
    free(tests);
    return failed ? 1 : 0;
}
