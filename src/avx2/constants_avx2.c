/* AVX2 finishing of a panel's lanes, four per vector. Group constants:
 * sn_group_constants_of; lanes that take no part (an empty group, a zero
 * variance) divide 1 by 1, so that they raise no exception, and are then
 * cleared. */
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

/* Lane moments: sn_lanes_moments_of, the tail lane by lane. */
int sn_lanes_moments_avx2(size_t count, double n, const float *shift, const float *center,
                          const double *sum_dev, const double *sum_sq, sn_moments *out,
                          int *fallback)
{
    const __m256d rows = _mm256_set1_pd(n);
    const __m256d rescale = _mm256_set1_pd(SN_PASS2_RESCALE), finite = _mm256_set1_pd(1.0e300);
    int any = 0;
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        __m256d d = _mm256_loadu_pd(sum_dev + i), s = _mm256_loadu_pd(sum_sq + i);
        __m256d q = _mm256_div_pd(d, rows);
        /* sn_center_serves, each comparison false on NaN */
        __m256d ok = _mm256_and_pd(
            _mm256_and_pd(_mm256_cmp_pd(_mm256_mul_pd(s, rescale), rows, _CMP_GE_OQ),
                          _mm256_cmp_pd(s, finite, _CMP_LE_OQ)),
            _mm256_cmp_pd(_mm256_mul_pd(_mm256_add_pd(d, d), q), s, _CMP_LE_OQ));
        int serves = _mm256_movemask_pd(ok);
        /* sn_moments_from_sums; its clamp of m2 at 0 never acts here, where
         * 2 sum_dev^2 / n <= sum_sq makes m2 at least sum_sq / 2 */
        __m128 k = _mm_loadu_ps(shift + i);
        __m128 c = _mm_add_ps(k, _mm_loadu_ps(center + i));
        __m256d mean = _mm256_add_pd(_mm256_sub_pd(_mm256_cvtps_pd(c), _mm256_cvtps_pd(k)), q);
        __m256d m2 = _mm256_sub_pd(s, _mm256_mul_pd(d, q));
        double means[4], m2s[4];
        _mm256_storeu_pd(means, mean);
        _mm256_storeu_pd(m2s, m2);
        any |= sn_lanes_moments_store(4, (unsigned)serves, n, means, m2s, out + i, fallback + i);
    }
    return any | sn_lanes_moments_of(count - i, n, shift + i, center + i, sum_dev + i,
                                     sum_sq + i, out + i, fallback + i);
}
