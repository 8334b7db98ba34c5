/*
 * A Criterion-compatible subset that runs every test in-process, in
 * registration order (see ../harness.h for the subset). Used where Criterion's
 * re-exec does not work: under qemu-user for the aarch64 cross build.
 *
 * A failed cr_assert or a cr_skip_test leaves the test through longjmp, so
 * they must be called on the test's own thread (never inside an OpenMP region).
 */
#ifndef SN_CRITERION_LITE_H
#define SN_CRITERION_LITE_H

typedef void (*sn_lite_test_fn)(void);

void sn_lite_register(const char *suite, const char *name, sn_lite_test_fn fn);
/* fatal != 0 ends the test (cr_assert); otherwise it continues (cr_expect). */
void sn_lite_failed(const char *file, int line, int fatal, const char *expr, const char *format,
                    ...) __attribute__((format(printf, 5, 6)));
void sn_lite_skip(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));
void sn_lite_log(const char *tag, const char *format, ...) __attribute__((format(printf, 2, 3)));

#define SN_LITE_CAT_(a, b) a##b
#define SN_LITE_CAT(a, b) SN_LITE_CAT_(a, b)

#define Test(suite, name)                                                                  \
    static void SN_LITE_CAT(sn_lite_test_, SN_LITE_CAT(suite, SN_LITE_CAT(_, name)))(void); \
    __attribute__((constructor)) static void SN_LITE_CAT(                                  \
        sn_lite_register_, SN_LITE_CAT(suite, SN_LITE_CAT(_, name)))(void)                 \
    {                                                                                      \
        sn_lite_register(#suite, #name,                                                    \
                         SN_LITE_CAT(sn_lite_test_, SN_LITE_CAT(suite, SN_LITE_CAT(_, name)))); \
    }                                                                                      \
    static void SN_LITE_CAT(sn_lite_test_, SN_LITE_CAT(suite, SN_LITE_CAT(_, name)))(void)

/* The message is optional, as in Criterion; when given it must be a string literal. */
#define cr_assert(cond, ...)                                                   \
    do {                                                                       \
        if (!(cond))                                                           \
            sn_lite_failed(__FILE__, __LINE__, 1, #cond, "" __VA_ARGS__);      \
    } while (0)
#define cr_expect(cond, ...)                                                   \
    do {                                                                       \
        if (!(cond))                                                           \
            sn_lite_failed(__FILE__, __LINE__, 0, #cond, "" __VA_ARGS__);      \
    } while (0)
#define cr_skip_test(...) sn_lite_skip(__VA_ARGS__)
#define cr_log_info(...) sn_lite_log("[----] ", __VA_ARGS__)
#define cr_log_warn(...) sn_lite_log("[WARN] ", __VA_ARGS__)

#endif
