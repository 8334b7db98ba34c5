/* CPUID + XGETBV on x86-64; AArch64 always has NEON (Advanced SIMD is
 * mandatory there). Called once, from dispatch.c's pthread_once. */
#if defined(__AVX__) || defined(__AVX2__) || defined(__AVX512F__)
#error "cpu.c must be compiled with baseline flags only: it runs before any ISA check"
#endif

#include "cpu.h"

#include "simdnorm.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long read_xcr0(void)
{
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

unsigned sn_cpu_isa_mask(void)
{
    unsigned mask = 1u << SN_ISA_SCALAR;
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return mask;
    int osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
    if (!osxsave || !avx)
        return mask;
    unsigned long long xcr0 = read_xcr0();
    int os_ymm = (xcr0 & 0x6) == 0x6;          /* XMM and YMM state */
    int os_zmm = (xcr0 & 0xe6) == 0xe6;        /* plus opmask, ZMM_Hi256, Hi16_ZMM */
    if (__get_cpuid_max(0, 0) < 7)
        return mask;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    int avx2 = (ebx >> 5) & 1;
    int avx512f = (ebx >> 16) & 1, avx512dq = (ebx >> 17) & 1;
    int avx512bw = (ebx >> 30) & 1, avx512vl = (ebx >> 31) & 1;
    if (os_ymm && avx2 && fma) {
        mask |= 1u << SN_ISA_AVX2;
        if (os_zmm && avx512f && avx512dq && avx512bw && avx512vl)
            mask |= 1u << SN_ISA_AVX512;
    }
    return mask;
}

#elif defined(__aarch64__)

unsigned sn_cpu_isa_mask(void)
{
    return (1u << SN_ISA_SCALAR) | (1u << SN_ISA_NEON);
}

#else

unsigned sn_cpu_isa_mask(void)
{
    return 1u << SN_ISA_SCALAR;
}

#endif
