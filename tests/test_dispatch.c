/* Runtime dispatch through the API: the ISA under test is the one running,
 * caps with sn_set_isa, names, thread settings, version. */
#include <string.h>

#include "testutil.h"

static const sn_isa all_isas[] = { SN_ISA_SCALAR, SN_ISA_AVX2, SN_ISA_AVX512, SN_ISA_NEON };
#define ISA_COUNT (sizeof all_isas / sizeof all_isas[0])

/* A small layer norm checked against the oracle, on whatever ISA runs now. */
static void check_small_layer_norm(const char *label, int index)
{
    tu_rng rng = tu_rng_for(label);
    ptrdiff_t dims[2] = { 7, 75 };
    tu_case c = tu_case_new(label, index, 2, dims, -1, NULL, NULL);
    tu_fill_random(&rng, &c.x);
    tu_check(&c);
    tu_case_free(&c);
}

Test(dispatch, env_isa_is_the_one_running)
{
    tu_begin();
    cr_assert(sn_isa_supported(tu_isa()), "seed=%u isa=%s: the ISA under test is not supported",
              tu_seed(), tu_isa_name());
    cr_assert(sn_get_isa() == tu_isa(), "seed=%u isa=%s: sn_get_isa() reports %s", tu_seed(),
              tu_isa_name(), sn_isa_name(sn_get_isa()));
    check_small_layer_norm("dispatch.env_isa", 0);
}

Test(dispatch, supported_set_matches_architecture)
{
    tu_begin();
    cr_assert(sn_isa_supported(SN_ISA_SCALAR), "isa=%s: scalar must always be supported",
              tu_isa_name());
#if defined(__x86_64__)
    cr_assert(!sn_isa_supported(SN_ISA_NEON), "isa=%s: NEON reported on x86-64", tu_isa_name());
    cr_assert(!sn_isa_supported(SN_ISA_AVX512) || sn_isa_supported(SN_ISA_AVX2),
              "isa=%s: AVX-512 supported without AVX2", tu_isa_name());
#elif defined(__aarch64__)
    cr_assert(sn_isa_supported(SN_ISA_NEON), "isa=%s: NEON missing on AArch64", tu_isa_name());
    cr_assert(!sn_isa_supported(SN_ISA_AVX2) && !sn_isa_supported(SN_ISA_AVX512),
              "isa=%s: an x86 ISA reported on AArch64", tu_isa_name());
#endif
    cr_assert(!sn_isa_supported((sn_isa)-1) && !sn_isa_supported((sn_isa)4) &&
                  !sn_isa_supported((sn_isa)1000),
              "isa=%s: a value outside the enum is reported supported", tu_isa_name());
}

Test(dispatch, set_isa_caps_to_each_supported_isa)
{
    tu_begin();
    sn_isa initial = sn_get_isa();
    for (size_t i = 0; i < ISA_COUNT; i++) {
        sn_isa isa = all_isas[i];
        sn_status status = sn_set_isa(isa);
        if (sn_isa_supported(isa)) {
            cr_assert(status == SN_OK, "isa=%s: sn_set_isa(%s) returned %s", tu_isa_name(),
                      sn_isa_name(isa), sn_status_string(status));
            cr_assert(sn_get_isa() == isa, "isa=%s: after sn_set_isa(%s) sn_get_isa() is %s",
                      tu_isa_name(), sn_isa_name(isa), sn_isa_name(sn_get_isa()));
            check_small_layer_norm("dispatch.set_isa", (int)isa);
        } else {
            sn_isa before = sn_get_isa();
            cr_assert(status == SN_ERR_ISA_UNSUPPORTED,
                      "isa=%s: sn_set_isa(%s) on a CPU without it returned %s", tu_isa_name(),
                      sn_isa_name(isa), sn_status_string(status));
            cr_assert(sn_get_isa() == before, "isa=%s: a refused sn_set_isa(%s) changed the ISA",
                      tu_isa_name(), sn_isa_name(isa));
        }
    }
    cr_assert(sn_set_isa(SN_ISA_AUTO) == SN_OK, "isa=%s: sn_set_isa(SN_ISA_AUTO) failed",
              tu_isa_name());
    cr_assert(sn_get_isa() == initial, "isa=%s: SN_ISA_AUTO gave %s, the default was %s",
              tu_isa_name(), sn_isa_name(sn_get_isa()), sn_isa_name(initial));
}

Test(dispatch, set_isa_rejects_unknown_values)
{
    tu_begin();
    const int bad[] = { -2, -100, 4, 5, 1000 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sn_status status = sn_set_isa((sn_isa)bad[i]);
        cr_assert(status == SN_ERR_ISA_UNKNOWN, "isa=%s: sn_set_isa(%d) returned %s",
                  tu_isa_name(), bad[i], sn_status_string(status));
        cr_assert(sn_get_isa() == tu_isa(), "isa=%s: a refused sn_set_isa(%d) changed the ISA",
                  tu_isa_name(), bad[i]);
    }
}

Test(dispatch, isa_names_round_trip)
{
    tu_begin();
    static const char *const names[] = { "scalar", "avx2", "avx512", "neon" };
    static const char *const other_case[] = { "SCALAR", "Avx2", "AVX512", "NeOn" };
    for (size_t i = 0; i < ISA_COUNT; i++) {
        cr_assert(strcmp(sn_isa_name(all_isas[i]), names[i]) == 0,
                  "isa=%s: sn_isa_name(%d) is \"%s\"", tu_isa_name(), (int)all_isas[i],
                  sn_isa_name(all_isas[i]));
        sn_isa parsed = (sn_isa)-7;
        cr_assert(sn_isa_from_name(names[i], &parsed) == SN_OK && parsed == all_isas[i],
                  "isa=%s: \"%s\" does not parse back", tu_isa_name(), names[i]);
        parsed = (sn_isa)-7;
        cr_assert(sn_isa_from_name(other_case[i], &parsed) == SN_OK && parsed == all_isas[i],
                  "isa=%s: \"%s\" (case-insensitive) does not parse", tu_isa_name(),
                  other_case[i]);
    }
    cr_assert(strcmp(sn_isa_name((sn_isa)99), "unknown") == 0 &&
                  strcmp(sn_isa_name(SN_ISA_AUTO), "unknown") == 0,
              "isa=%s: names of values outside the enum", tu_isa_name());
}

Test(dispatch, isa_from_name_rejects_other_text)
{
    tu_begin();
    static const char *const bad[] = { "", "avx", "avx5", "avx5120", "scalar ", " neon", "sse4",
                                       "auto", "avx-512" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sn_isa parsed = (sn_isa)-7;
        sn_status status = sn_isa_from_name(bad[i], &parsed);
        cr_assert(status == SN_ERR_ISA_UNKNOWN, "isa=%s: sn_isa_from_name(\"%s\") returned %s",
                  tu_isa_name(), bad[i], sn_status_string(status));
        cr_assert(parsed == (sn_isa)-7, "isa=%s: a refused name \"%s\" wrote the output",
                  tu_isa_name(), bad[i]);
    }
    sn_isa parsed;
    cr_assert(sn_isa_from_name(NULL, &parsed) == SN_ERR_NULL_POINTER &&
                  sn_isa_from_name("scalar", NULL) == SN_ERR_NULL_POINTER,
              "isa=%s: NULL arguments of sn_isa_from_name", tu_isa_name());
}

Test(dispatch, thread_count_setting)
{
    tu_begin();
    int automatic = sn_get_num_threads();
    cr_assert(automatic >= 1, "isa=%s: sn_get_num_threads() is %d by default", tu_isa_name(),
              automatic);
    const int counts[] = { 1, 2, 3, 8, 64 };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        cr_assert(sn_set_num_threads(counts[i]) == SN_OK && sn_get_num_threads() == counts[i],
                  "isa=%s: sn_set_num_threads(%d) then sn_get_num_threads() = %d",
                  tu_isa_name(), counts[i], sn_get_num_threads());
    }
    cr_assert(sn_set_num_threads(0) == SN_OK && sn_get_num_threads() == automatic,
              "isa=%s: sn_set_num_threads(0) gives %d, OpenMP's default was %d", tu_isa_name(),
              sn_get_num_threads(), automatic);
}

Test(dispatch, version)
{
    tu_begin();
    cr_assert(sn_version() == SN_VERSION, "isa=%s: sn_version() %d, header %d", tu_isa_name(),
              sn_version(), SN_VERSION);
    cr_assert(strcmp(sn_version_string(), SN_VERSION_STRING) == 0,
              "isa=%s: sn_version_string() \"%s\", header \"%s\"", tu_isa_name(),
              sn_version_string(), SN_VERSION_STRING);
}
