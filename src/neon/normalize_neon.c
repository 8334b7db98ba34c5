/* AArch64 Advanced SIMD normalization kernels: ((x - K) - mean) * rstd, then
 * the affine step, with scale and bias fused into one multiply-add when both
 * are given. The tails use the same operations (fmaf is one fmadd here), so an
 * element's result does not depend on where it falls in the row. */
#include <arm_neon.h>
#include <math.h>

#include "../kernels.h"

#define SN_INLINE static inline __attribute__((always_inline))

SN_INLINE float32x4_t affine4(float32x4_t t, float32x4_t s, float32x4_t b, int has_scale,
                              int has_bias)
{
    if (has_scale && has_bias)
        return vfmaq_f32(b, t, s);
    if (has_scale)
        return vmulq_f32(t, s);
    if (has_bias)
        return vaddq_f32(t, b);
    return t;
}

SN_INLINE float affine1(float t, float s, float b, int has_scale, int has_bias)
{
    if (has_scale && has_bias)
        return fmaf(t, s, b);
    if (has_scale)
        return t * s;
    if (has_bias)
        return t + b;
    return t;
}

/* One loop per combination of scale and bias (the flags are constants after
 * inlining), so the loops carry no branches. */
SN_INLINE void row_normalize(const float *x, float *y, size_t n, float shift, float mean,
                             float rstd, const float *scale, const float *bias, int has_scale,
                             int has_bias)
{
    const float32x4_t k = vdupq_n_f32(shift), m = vdupq_n_f32(mean), r = vdupq_n_f32(rstd);
    const float32x4_t zero = vdupq_n_f32(0.0f);
    size_t i = 0;
    /* Every vector is loaded before it is stored at the same index: y == x is fine. */
    for (; i + 16 <= n; i += 16) {
        float32x4_t t0 = vmulq_f32(vsubq_f32(vsubq_f32(vld1q_f32(x + i), k), m), r);
        float32x4_t t1 = vmulq_f32(vsubq_f32(vsubq_f32(vld1q_f32(x + i + 4), k), m), r);
        float32x4_t t2 = vmulq_f32(vsubq_f32(vsubq_f32(vld1q_f32(x + i + 8), k), m), r);
        float32x4_t t3 = vmulq_f32(vsubq_f32(vsubq_f32(vld1q_f32(x + i + 12), k), m), r);
        float32x4_t s0 = zero, s1 = zero, s2 = zero, s3 = zero;
        float32x4_t b0 = zero, b1 = zero, b2 = zero, b3 = zero;
        if (has_scale) {
            s0 = vld1q_f32(scale + i);
            s1 = vld1q_f32(scale + i + 4);
            s2 = vld1q_f32(scale + i + 8);
            s3 = vld1q_f32(scale + i + 12);
        }
        if (has_bias) {
            b0 = vld1q_f32(bias + i);
            b1 = vld1q_f32(bias + i + 4);
            b2 = vld1q_f32(bias + i + 8);
            b3 = vld1q_f32(bias + i + 12);
        }
        vst1q_f32(y + i, affine4(t0, s0, b0, has_scale, has_bias));
        vst1q_f32(y + i + 4, affine4(t1, s1, b1, has_scale, has_bias));
        vst1q_f32(y + i + 8, affine4(t2, s2, b2, has_scale, has_bias));
        vst1q_f32(y + i + 12, affine4(t3, s3, b3, has_scale, has_bias));
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t t = vmulq_f32(vsubq_f32(vsubq_f32(vld1q_f32(x + i), k), m), r);
        float32x4_t s = has_scale ? vld1q_f32(scale + i) : zero;
        float32x4_t b = has_bias ? vld1q_f32(bias + i) : zero;
        vst1q_f32(y + i, affine4(t, s, b, has_scale, has_bias));
    }
    for (; i < n; i++) {
        float t = ((x[i] - shift) - mean) * rstd;
        y[i] = affine1(t, has_scale ? scale[i] : 0.0f, has_bias ? bias[i] : 0.0f, has_scale,
                       has_bias);
    }
}

void sn_row_normalize_f32_neon(const float *x, float *y, size_t n, float shift, float mean,
                               float rstd, const float *scale, const float *bias)
{
    if (scale && bias)
        row_normalize(x, y, n, shift, mean, rstd, scale, bias, 1, 1);
    else if (scale)
        row_normalize(x, y, n, shift, mean, rstd, scale, bias, 1, 0);
    else if (bias)
        row_normalize(x, y, n, shift, mean, rstd, scale, bias, 0, 1);
    else
        row_normalize(x, y, n, shift, mean, rstd, scale, bias, 0, 0);
}

SN_INLINE float32x4_t col_norm4(const float *x, const float *shift, const float *mean,
                                const float *rstd, size_t j)
{
    return vmulq_f32(
        vsubq_f32(vsubq_f32(vld1q_f32(x + j), vld1q_f32(shift + j)), vld1q_f32(mean + j)),
        vld1q_f32(rstd + j));
}

/* Lanes are columns; scale and bias are per row, so they are broadcast once
 * per row. The per-column constants are reloaded from L1 each row: a 64-wide
 * panel's 48 vectors of them would not fit in the registers. */
SN_INLINE void col_normalize(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                             size_t rows, size_t width, const float *shift, const float *mean,
                             const float *rstd, const float *scale, const float *bias,
                             int has_scale, int has_bias)
{
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + (ptrdiff_t)i * x_stride;
        float *yr = y + (ptrdiff_t)i * y_stride;
        float sv = has_scale ? scale[i] : 0.0f, bv = has_bias ? bias[i] : 0.0f;
        const float32x4_t s = vdupq_n_f32(sv), b = vdupq_n_f32(bv);
        size_t j = 0;
        for (; j + 16 <= width; j += 16) {
            float32x4_t t0 = col_norm4(xr, shift, mean, rstd, j);
            float32x4_t t1 = col_norm4(xr, shift, mean, rstd, j + 4);
            float32x4_t t2 = col_norm4(xr, shift, mean, rstd, j + 8);
            float32x4_t t3 = col_norm4(xr, shift, mean, rstd, j + 12);
            vst1q_f32(yr + j, affine4(t0, s, b, has_scale, has_bias));
            vst1q_f32(yr + j + 4, affine4(t1, s, b, has_scale, has_bias));
            vst1q_f32(yr + j + 8, affine4(t2, s, b, has_scale, has_bias));
            vst1q_f32(yr + j + 12, affine4(t3, s, b, has_scale, has_bias));
        }
        for (; j + 4 <= width; j += 4)
            vst1q_f32(yr + j,
                      affine4(col_norm4(xr, shift, mean, rstd, j), s, b, has_scale, has_bias));
        for (; j < width; j++)
            yr[j] = affine1(((xr[j] - shift[j]) - mean[j]) * rstd[j], sv, bv, has_scale,
                            has_bias);
    }
}

void sn_col_normalize_f32_neon(const float *x, ptrdiff_t x_stride, float *y,
                               ptrdiff_t y_stride, size_t rows, size_t width,
                               const float *shift, const float *mean, const float *rstd,
                               const float *scale, const float *bias)
{
    if (scale && bias)
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias, 1,
                      1);
    else if (scale)
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias, 1,
                      0);
    else if (bias)
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias, 0,
                      1);
    else
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias, 0,
                      0);
}
