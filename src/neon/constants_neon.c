/* Advanced SIMD group constants: sn_group_constants_of for two groups per
 * vector. Lanes that take no part (an empty group, a zero variance) divide 1
 * by 1, so that they raise no exception, and are then cleared. */
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
