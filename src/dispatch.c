/*
 * Runtime dispatch: detect once (pthread_once), cap by SIMDNORM_ISA and by the
 * API, hand out one read-only kernel table. Compiled with baseline flags only.
 */
#if defined(__AVX__) || defined(__AVX2__) || defined(__AVX512F__)
#error "dispatch.c must be compiled with baseline flags only"
#endif

#include "dispatch.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu.h"
#include "simdnorm.h"

static const sn_kernels *kernel_table(sn_isa isa)
{
    switch (isa) {
#if defined(__x86_64__)
    case SN_ISA_AVX2: return &sn_kernels_avx2;
    case SN_ISA_AVX512: return &sn_kernels_avx512;
#endif
#if defined(__aarch64__)
    case SN_ISA_NEON: return &sn_kernels_neon;
#endif
    default: return &sn_kernels_scalar;
    }
}

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static unsigned supported_mask;   /* written once under detect_once */
static sn_isa default_isa;        /* best supported, capped by SIMDNORM_ISA */
static atomic_int api_isa = SN_ISA_AUTO;
static atomic_int api_threads = 0;

static int supported(sn_isa isa)
{
    return isa >= SN_ISA_SCALAR && isa <= SN_ISA_NEON && (supported_mask >> isa) & 1u;
}

/* The ISA SIMDNORM_ISA=name selects: the named one if supported, else the best
 * supported one below it (avx512 -> avx2 -> scalar; neon -> scalar elsewhere).
 * An unrecognized name leaves the default alone. */
static sn_isa apply_env_cap(sn_isa best)
{
    const char *env = getenv("SIMDNORM_ISA");
    sn_isa cap;
    if (!env || !*env || sn_isa_from_name(env, &cap) != SN_OK)
        return best;
    if (cap == SN_ISA_NEON)
        return supported(SN_ISA_NEON) ? SN_ISA_NEON : SN_ISA_SCALAR;
    for (int isa = cap; isa > SN_ISA_SCALAR; isa--)
        if (supported((sn_isa)isa))
            return (sn_isa)isa;
    return SN_ISA_SCALAR;
}

static void detect(void)
{
    supported_mask = sn_cpu_isa_mask();
    sn_isa best = SN_ISA_SCALAR;
    static const sn_isa preference[] = { SN_ISA_AVX512, SN_ISA_AVX2, SN_ISA_NEON };
    for (size_t i = 0; i < sizeof preference / sizeof preference[0]; i++)
        if (supported(preference[i])) {
            best = preference[i];
            break;
        }
    default_isa = apply_env_cap(best);
}

static void ensure_detected(void)
{
    pthread_once(&detect_once, detect);
}

int sn_isa_supported(sn_isa isa)
{
    ensure_detected();
    return supported(isa);
}

sn_isa sn_get_isa(void)
{
    ensure_detected();
    int isa = atomic_load_explicit(&api_isa, memory_order_acquire);
    return isa == SN_ISA_AUTO ? default_isa : (sn_isa)isa;
}

sn_status sn_set_isa(sn_isa isa)
{
    ensure_detected();
    if (isa != SN_ISA_AUTO && (isa < SN_ISA_SCALAR || isa > SN_ISA_NEON))
        return SN_ERR_ISA_UNKNOWN;
    if (isa != SN_ISA_AUTO && !supported(isa))
        return SN_ERR_ISA_UNSUPPORTED;
    atomic_store_explicit(&api_isa, isa, memory_order_release);
    return SN_OK;
}

const sn_kernels *sn_active_kernels(void)
{
    return kernel_table(sn_get_isa());
}

static const char *const isa_names[] = { "scalar", "avx2", "avx512", "neon" };

const char *sn_isa_name(sn_isa isa)
{
    if (isa < SN_ISA_SCALAR || isa > SN_ISA_NEON)
        return "unknown";
    return isa_names[isa];
}

sn_status sn_isa_from_name(const char *name, sn_isa *isa)
{
    if (!name || !isa)
        return SN_ERR_NULL_POINTER;
    for (int i = SN_ISA_SCALAR; i <= SN_ISA_NEON; i++) {
        const char *a = name, *b = isa_names[i];
        while (*a && *b && tolower((unsigned char)*a) == *b) {
            a++;
            b++;
        }
        if (!*a && !*b) {
            *isa = (sn_isa)i;
            return SN_OK;
        }
    }
    return SN_ERR_ISA_UNKNOWN;
}

sn_status sn_set_num_threads(int n)
{
    if (n < 0)
        return SN_ERR_THREADS;
    atomic_store_explicit(&api_threads, n, memory_order_relaxed);
    return SN_OK;
}

int sn_get_num_threads(void)
{
    int n = atomic_load_explicit(&api_threads, memory_order_relaxed);
    if (n > 0)
        return n;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Below this many elements per thread a fork/join costs more than it saves
 * (a libgomp fork/join is ~1-2 us; a thread streams ~64 KB in that time). */
#define SN_ELEMENTS_PER_THREAD 16384.0

int sn_threads_for(double work)
{
    int threads = sn_get_num_threads();
    double useful = work / SN_ELEMENTS_PER_THREAD;
    if (useful < (double)threads)
        threads = useful < 1.0 ? 1 : (int)useful;
    return threads;
}
