/* Advanced SIMD finishing of a panel's lanes, two per vector. Group
 * constants: sn_group_constants_of; lanes that take no part (an empty group,
 * a zero variance) divide 1 by 1, so that they raise no exception, and are
 * then cleared. */
#include <arm_neon.h>

#include "../kernels.h"

void sn_group_constants_neon(size_t count, const sn_moments *m, const float *shift,
                             double epsilon, float *center, float *residual, float *rstd)
{
    const float64x2_t zero = vdupq_n_f64(0.0), one = vdupq_n_f64(1.0);
    const float64x2_t eps = vdupq_n_f64(epsilon);
    size_t i = 0;
    for (; i + 2 <= count; i += 2) {
        /* count, mean and m2 of two sn_moments records (3 doubles each). */
        float64x2x3_t f = vld3q_f64(&m[i].count);
        uint64x2_t some = vcgtq_f64(f.val[0], zero);
        float64x2_t var = vaddq_f64(vdivq_f64(f.val[2], vbslq_f64(some, f.val[0], one)), eps);
        var = vreinterpretq_f64_u64(vandq_u64(some, vreinterpretq_u64_f64(var)));
        /* var != 0, NaN included. */
        uint64x2_t zero_var = vceqq_f64(var, zero);
        uint64x2_t ok = vbicq_u64(some, zero_var);
        float64x2_t r = vdivq_f64(one, vsqrtq_f64(vbslq_f64(ok, var, one)));
        r = vreinterpretq_f64_u64(vandq_u64(ok, vreinterpretq_u64_f64(r)));
        float64x2_t mean = vaddq_f64(vcvt_f64_f32(vld1_f32(shift + i)), f.val[1]);
        mean = vreinterpretq_f64_u64(vandq_u64(some, vreinterpretq_u64_f64(mean)));
        float32x2_t c = vcvt_f32_f64(mean);
        vst1_f32(center + i, c);
        vst1_f32(residual + i, vcvt_f32_f64(vsubq_f64(mean, vcvt_f64_f32(c))));
        vst1_f32(rstd + i, vcvt_f32_f64(r));
    }
    for (; i < count; i++)
        sn_group_constants_of(&m[i], shift[i], epsilon, center + i, residual + i, rstd + i);
}

/* Lane moments: sn_lanes_moments_of, the tail lane by lane. */
int sn_lanes_moments_neon(size_t count, double n, const float *shift, const float *center,
                          const double *sum_dev, const double *sum_sq, sn_moments *out,
                          int *fallback)
{
    const float64x2_t rows = vdupq_n_f64(n);
    const float64x2_t rescale = vdupq_n_f64(SN_PASS2_RESCALE), finite = vdupq_n_f64(1.0e300);
    int any = 0;
    size_t i = 0;
    for (; i + 2 <= count; i += 2) {
        float64x2_t d = vld1q_f64(sum_dev + i), s = vld1q_f64(sum_sq + i);
        float64x2_t q = vdivq_f64(d, rows);
        /* sn_center_serves, each comparison false on NaN */
        uint64x2_t ok = vandq_u64(vandq_u64(vcgeq_f64(vmulq_f64(s, rescale), rows),
                                            vcleq_f64(s, finite)),
                                  vcleq_f64(vmulq_f64(vaddq_f64(d, d), q), s));
        /* sn_moments_from_sums; its clamp of m2 at 0 never acts here, where
         * 2 sum_dev^2 / n <= sum_sq makes m2 at least sum_sq / 2 */
        float32x2_t k = vld1_f32(shift + i);
        float32x2_t c = vadd_f32(k, vld1_f32(center + i));
        float64x2_t mean = vaddq_f64(vsubq_f64(vcvt_f64_f32(c), vcvt_f64_f32(k)), q);
        float64x2_t m2 = vsubq_f64(s, vmulq_f64(d, q));
        double means[2], m2s[2];
        vst1q_f64(means, mean);
        vst1q_f64(m2s, m2);
        unsigned serves = (vgetq_lane_u64(ok, 0) ? 1u : 0u) | (vgetq_lane_u64(ok, 1) ? 2u : 0u);
        any |= sn_lanes_moments_store(2, serves, n, means, m2s, out + i, fallback + i);
    }
    return any | sn_lanes_moments_of(count - i, n, shift + i, center + i, sum_dev + i,
                                     sum_sq + i, out + i, fallback + i);
}
