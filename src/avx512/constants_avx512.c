/* AVX-512 group constants: sn_group_constants_of for eight groups per vector,
 * the last few under a mask (a batch of four short rows is one vector).
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
