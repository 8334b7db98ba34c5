/* AVX2 group constants: sn_group_constants_of for four groups per vector.
 * Lanes that take no part (an empty group, a zero variance) divide 1 by 1,
 * so that they raise no exception, and are then cleared. */
#include <immintrin.h>

#include "../kernels.h"

void sn_group_constants_avx2(size_t count, const sn_moments *m, const float *shift,
                             double epsilon, float *center, float *residual, float *rstd)
{
    /* The fields of four sn_moments records, 3 doubles each. */
    const __m256i fields = _mm256_setr_epi64x(0, 3, 6, 9);
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
    const __m256d eps = _mm256_set1_pd(epsilon);
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        __m256d n = _mm256_i64gather_pd(&m[i].count, fields, 8);
        __m256d mean = _mm256_i64gather_pd(&m[i].mean, fields, 8);
        __m256d m2 = _mm256_i64gather_pd(&m[i].m2, fields, 8);
        __m256d some = _mm256_cmp_pd(n, zero, _CMP_GT_OQ);
        __m256d var = _mm256_and_pd(
            some, _mm256_add_pd(_mm256_div_pd(m2, _mm256_blendv_pd(one, n, some)), eps));
        __m256d ok = _mm256_and_pd(some, _mm256_cmp_pd(var, zero, _CMP_NEQ_UQ));
        __m256d r = _mm256_and_pd(
            ok, _mm256_div_pd(one, _mm256_sqrt_pd(_mm256_blendv_pd(one, var, ok))));
        mean = _mm256_and_pd(some, _mm256_add_pd(_mm256_cvtps_pd(_mm_loadu_ps(shift + i)), mean));
        __m128 c = _mm256_cvtpd_ps(mean);
        _mm_storeu_ps(center + i, c);
        _mm_storeu_ps(residual + i, _mm256_cvtpd_ps(_mm256_sub_pd(mean, _mm256_cvtps_pd(c))));
        _mm_storeu_ps(rstd + i, _mm256_cvtpd_ps(r));
    }
    for (; i < count; i++)
        sn_group_constants_of(&m[i], shift[i], epsilon, center + i, residual + i, rstd + i);
}
