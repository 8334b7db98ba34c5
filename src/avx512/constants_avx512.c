/* AVX-512 finishing of a panel's lanes, eight per vector. Group constants:
 * sn_group_constants_of, the last few under a mask (a batch of four short
 * rows is one vector).
 * Masked lanes load nothing and raise no exception: an empty group or a zero
 * variance divides nothing. */
#include <immintrin.h>

#include "../kernels.h"

void sn_group_constants_avx512(size_t count, const sn_moments *m, const float *shift,
                               double epsilon, float *center, float *residual, float *rstd)
{
    /* The fields of eight sn_moments records, 3 doubles each. */
    const __m512i fields = _mm512_setr_epi64(0, 3, 6, 9, 12, 15, 18, 21);
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
    const __m512d eps = _mm512_set1_pd(epsilon);
    for (size_t i = 0; i < count; i += 8) {
        __mmask8 lanes = count - i >= 8 ? 0xff : (__mmask8)((1u << (count - i)) - 1u);
        __m512d n = _mm512_mask_i64gather_pd(zero, lanes, fields, &m[i].count, 8);
        __m512d mean = _mm512_mask_i64gather_pd(zero, lanes, fields, &m[i].mean, 8);
        __m512d m2 = _mm512_mask_i64gather_pd(zero, lanes, fields, &m[i].m2, 8);
        __mmask8 some = _mm512_mask_cmp_pd_mask(lanes, n, zero, _CMP_GT_OQ);
        __m512d var = _mm512_maskz_add_pd(some, _mm512_maskz_div_pd(some, m2, n), eps);
        __mmask8 ok = some & _mm512_cmp_pd_mask(var, zero, _CMP_NEQ_UQ);
        __m512d r = _mm512_maskz_div_pd(ok, one, _mm512_mask_sqrt_pd(one, ok, var));
        __m512d shifts = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, shift + i));
        mean = _mm512_maskz_add_pd(some, shifts, mean);
        __m256 c = _mm512_cvtpd_ps(mean);
        _mm256_mask_storeu_ps(center + i, lanes, c);
        _mm256_mask_storeu_ps(residual + i, lanes,
                              _mm512_cvtpd_ps(_mm512_sub_pd(mean, _mm512_cvtps_pd(c))));
        _mm256_mask_storeu_ps(rstd + i, lanes, _mm512_cvtpd_ps(r));
    }
}

/* Lane moments: sn_lanes_moments_of, the tail lane by lane. */
int sn_lanes_moments_avx512(size_t count, double n, const float *shift, const float *center,
                            const double *sum_dev, const double *sum_sq, sn_moments *out,
                            int *fallback)
{
    const __m512d rows = _mm512_set1_pd(n);
    const __m512d rescale = _mm512_set1_pd(SN_PASS2_RESCALE), finite = _mm512_set1_pd(1.0e300);
    int any = 0;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m512d d = _mm512_loadu_pd(sum_dev + i), s = _mm512_loadu_pd(sum_sq + i);
        __m512d q = _mm512_div_pd(d, rows);
        /* sn_center_serves, each comparison false on NaN */
        __mmask8 serves =
            _mm512_cmp_pd_mask(_mm512_mul_pd(s, rescale), rows, _CMP_GE_OQ) &
            _mm512_cmp_pd_mask(s, finite, _CMP_LE_OQ) &
            _mm512_cmp_pd_mask(_mm512_mul_pd(_mm512_add_pd(d, d), q), s, _CMP_LE_OQ);
        /* sn_moments_from_sums; its clamp of m2 at 0 never acts here, where
         * 2 sum_dev^2 / n <= sum_sq makes m2 at least sum_sq / 2 */
        __m256 k = _mm256_loadu_ps(shift + i);
        __m256 c = _mm256_add_ps(k, _mm256_loadu_ps(center + i));
        __m512d mean = _mm512_add_pd(_mm512_sub_pd(_mm512_cvtps_pd(c), _mm512_cvtps_pd(k)), q);
        __m512d m2 = _mm512_sub_pd(s, _mm512_mul_pd(d, q));
        double means[8], m2s[8];
        _mm512_storeu_pd(means, mean);
        _mm512_storeu_pd(m2s, m2);
        any |= sn_lanes_moments_store(8, serves, n, means, m2s, out + i, fallback + i);
    }
    return any | sn_lanes_moments_of(count - i, n, shift + i, center + i, sum_dev + i,
                                     sum_sq + i, out + i, fallback + i);
}
