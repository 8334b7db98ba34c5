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

/* The parameter vector at p + i: loaded when it varies along the lanes
 * (per_lane), else the broadcast `same`; zero when the loop does not apply
 * it (`has`; p is then NULL and not touched). */
SN_INLINE float32x4_t param4(const float *p, size_t i, float32x4_t same, int has, int per_lane)
{
    if (!has)
        return vdupq_n_f32(0.0f);
    return per_lane ? vld1q_f32(p + i) : same;
}

/* The same for one element. */
SN_INLINE float param1(const float *p, size_t i, float same, int has, int per_lane)
{
    if (!has)
        return 0.0f;
    return per_lane ? p[i] : same;
}

/* One loop per combination of scale and bias and per parameter layout (the
 * flags are constants after inlining), so the loops carry no branches. With
 * per_lane, scale and bias are indexed like x; else one value each for the
 * whole run, broadcast once. */
SN_INLINE void row_normalize(const float *x, float *y, size_t n, float shift, float mean,
                             float rstd, const float *scale, const float *bias, int has_scale,
                             int has_bias, int per_lane)
{
    const float32x4_t k = vdupq_n_f32(shift), m = vdupq_n_f32(mean), r = vdupq_n_f32(rstd);
    const float sv = !per_lane && has_scale ? *scale : 0.0f;
    const float bv = !per_lane && has_bias ? *bias : 0.0f;
    const float32x4_t s = vdupq_n_f32(sv), b = vdupq_n_f32(bv);
    size_t i = 0;
    /* Every vector is loaded before it is stored at the same index: y == x is fine. */
    for (; i + 16 <= n; i += 16) {
        float32x4_t t0 = vmulq_f32(vsubq_f32(vsubq_f32(vld1q_f32(x + i), k), m), r);
        float32x4_t t1 = vmulq_f32(vsubq_f32(vsubq_f32(vld1q_f32(x + i + 4), k), m), r);
        float32x4_t t2 = vmulq_f32(vsubq_f32(vsubq_f32(vld1q_f32(x + i + 8), k), m), r);
        float32x4_t t3 = vmulq_f32(vsubq_f32(vsubq_f32(vld1q_f32(x + i + 12), k), m), r);
        float32x4_t s0 = param4(scale, i, s, has_scale, per_lane);
        float32x4_t s1 = param4(scale, i + 4, s, has_scale, per_lane);
        float32x4_t s2 = param4(scale, i + 8, s, has_scale, per_lane);
        float32x4_t s3 = param4(scale, i + 12, s, has_scale, per_lane);
        float32x4_t b0 = param4(bias, i, b, has_bias, per_lane);
        float32x4_t b1 = param4(bias, i + 4, b, has_bias, per_lane);
        float32x4_t b2 = param4(bias, i + 8, b, has_bias, per_lane);
        float32x4_t b3 = param4(bias, i + 12, b, has_bias, per_lane);
        vst1q_f32(y + i, affine4(t0, s0, b0, has_scale, has_bias));
        vst1q_f32(y + i + 4, affine4(t1, s1, b1, has_scale, has_bias));
        vst1q_f32(y + i + 8, affine4(t2, s2, b2, has_scale, has_bias));
        vst1q_f32(y + i + 12, affine4(t3, s3, b3, has_scale, has_bias));
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t t = vmulq_f32(vsubq_f32(vsubq_f32(vld1q_f32(x + i), k), m), r);
        vst1q_f32(y + i, affine4(t, param4(scale, i, s, has_scale, per_lane),
                                 param4(bias, i, b, has_bias, per_lane), has_scale, has_bias));
    }
    for (; i < n; i++) {
        float t = ((x[i] - shift) - mean) * rstd;
        y[i] = affine1(t, param1(scale, i, sv, has_scale, per_lane),
                       param1(bias, i, bv, has_bias, per_lane), has_scale, has_bias);
    }
}

/* The four scale/bias combinations for one parameter layout. */
SN_INLINE void row_affine(const float *x, float *y, size_t n, float shift, float mean,
                          float rstd, const float *scale, const float *bias, int per_lane)
{
    if (scale && bias)
        row_normalize(x, y, n, shift, mean, rstd, scale, bias, 1, 1, per_lane);
    else if (scale)
        row_normalize(x, y, n, shift, mean, rstd, scale, NULL, 1, 0, per_lane);
    else if (bias)
        row_normalize(x, y, n, shift, mean, rstd, NULL, bias, 0, 1, per_lane);
    else
        row_normalize(x, y, n, shift, mean, rstd, NULL, NULL, 0, 0, per_lane);
}

/* The two parameter layouts are separate functions, so that the per-element
 * one compiles exactly as it would alone (no extra register or stack setup). */
static __attribute__((noinline)) void row_per_lane(const float *x, float *y, size_t n,
                                                   float shift, float mean, float rstd,
                                                   const float *scale, const float *bias)
{
    row_affine(x, y, n, shift, mean, rstd, scale, bias, 1);
}

static __attribute__((noinline)) void row_broadcast(const float *x, float *y, size_t n,
                                                    float shift, float mean, float rstd,
                                                    const float *scale, const float *bias)
{
    if (n > 0) /* the broadcast reads scale[0] and bias[0] */
        row_affine(x, y, n, shift, mean, rstd, scale, bias, 0);
}

/* Nothing is ever streamed: nothing to order. */
void sn_store_fence_neon(void)
{
}

/* stream is ignored: NEON has no streaming store of a vector (STNP, a
 * non-temporal pair store, is only a hint that cores may treat as plain
 * stores), so the plain stores serve both cases. */
void sn_row_normalize_f32_neon(const float *x, float *y, size_t n, float shift, float mean,
                               float rstd, const float *scale, const float *bias,
                               ptrdiff_t param_step, int stream)
{
    (void)stream;
    if (param_step)
        row_per_lane(x, y, n, shift, mean, rstd, scale, bias);
    else
        row_broadcast(x, y, n, shift, mean, rstd, scale, bias);
}

SN_DEFINE_ROWS_NORMALIZE_BY_ROW(neon)

/* Four columns from j of one panel row: the parameters come from sr and br
 * along the lanes (per_lane) or are the broadcast s and b. */
SN_INLINE void col4(const float *xr, float *yr, size_t j, const float *shift, const float *mean,
                    const float *rstd, const float *sr, const float *br, float32x4_t s,
                    float32x4_t b, int has_scale, int has_bias, int per_lane)
{
    float32x4_t t = vmulq_f32(
        vsubq_f32(vsubq_f32(vld1q_f32(xr + j), vld1q_f32(shift + j)), vld1q_f32(mean + j)),
        vld1q_f32(rstd + j));
    vst1q_f32(yr + j, affine4(t, param4(sr, j, s, has_scale, per_lane),
                              param4(br, j, b, has_bias, per_lane), has_scale, has_bias));
}

/* Lanes are columns. Scale and bias are either per row (not per_lane), then
 * broadcast once per row, or loaded along the lanes from the row's parameter
 * pointers. The per-column constants are reloaded from L1 each row: a 64-wide
 * panel's 48 vectors of them would not fit in the registers. */
SN_INLINE void col_normalize(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                             size_t rows, size_t width, const float *shift, const float *mean,
                             const float *rstd, const float *scale, const float *bias,
                             ptrdiff_t row_step, int has_scale, int has_bias, int per_lane)
{
    /* The offsets advance by addition: no multiplies in the row loop. */
    ptrdiff_t xo = 0, yo = 0, p = 0;
    for (size_t i = 0; i < rows; i++, xo += x_stride, yo += y_stride, p += row_step) {
        const float *xr = x + xo;
        float *yr = y + yo;
        const float *sr = has_scale ? scale + p : NULL;
        const float *br = has_bias ? bias + p : NULL;
        float sv = !per_lane && has_scale ? *sr : 0.0f, bv = !per_lane && has_bias ? *br : 0.0f;
        const float32x4_t s = vdupq_n_f32(sv), b = vdupq_n_f32(bv);
        size_t j = 0;
        for (; j + 16 <= width; j += 16) {
            col4(xr, yr, j, shift, mean, rstd, sr, br, s, b, has_scale, has_bias, per_lane);
            col4(xr, yr, j + 4, shift, mean, rstd, sr, br, s, b, has_scale, has_bias, per_lane);
            col4(xr, yr, j + 8, shift, mean, rstd, sr, br, s, b, has_scale, has_bias, per_lane);
            col4(xr, yr, j + 12, shift, mean, rstd, sr, br, s, b, has_scale, has_bias, per_lane);
        }
        for (; j + 4 <= width; j += 4)
            col4(xr, yr, j, shift, mean, rstd, sr, br, s, b, has_scale, has_bias, per_lane);
        for (; j < width; j++)
            yr[j] = affine1(((xr[j] - shift[j]) - mean[j]) * rstd[j],
                            param1(sr, j, sv, has_scale, per_lane),
                            param1(br, j, bv, has_bias, per_lane), has_scale, has_bias);
    }
}

/* The four scale/bias combinations for one parameter layout. */
SN_INLINE void col_affine(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                          size_t rows, size_t width, const float *shift, const float *mean,
                          const float *rstd, const float *scale, const float *bias,
                          ptrdiff_t row_step, int per_lane)
{
    if (scale && bias)
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias,
                      row_step, 1, 1, per_lane);
    else if (scale)
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, NULL,
                      row_step, 1, 0, per_lane);
    else if (bias)
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, NULL, bias,
                      row_step, 0, 1, per_lane);
    else
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, NULL, NULL,
                      row_step, 0, 0, per_lane);
}

/* As for the rows: one function per parameter layout. */
static __attribute__((noinline)) void col_per_lane(const float *x, ptrdiff_t x_stride, float *y,
                                                   ptrdiff_t y_stride, size_t rows,
                                                   size_t width, const float *shift,
                                                   const float *mean, const float *rstd,
                                                   const float *scale, const float *bias,
                                                   ptrdiff_t row_step)
{
    col_affine(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias, row_step,
               1);
}

static __attribute__((noinline)) void col_broadcast(const float *x, ptrdiff_t x_stride,
                                                    float *y, ptrdiff_t y_stride, size_t rows,
                                                    size_t width, const float *shift,
                                                    const float *mean, const float *rstd,
                                                    const float *scale, const float *bias,
                                                    ptrdiff_t row_step)
{
    if (width > 0) /* no parameter is read for an empty panel */
        col_affine(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias,
                   row_step, 0);
}

void sn_col_normalize_f32_neon(const float *x, ptrdiff_t x_stride, float *y,
                               ptrdiff_t y_stride, size_t rows, size_t width,
                               const float *shift, const float *mean, const float *rstd,
                               const float *scale, const float *bias, ptrdiff_t param_row_step,
                               ptrdiff_t param_col_step, int stream)
{
    (void)stream; /* as in row_normalize */
    if (param_col_step)
        col_per_lane(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias,
                     param_row_step);
    else
        col_broadcast(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias,
                      param_row_step);
}

void sn_col_scale_shift_f32_neon(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                                 size_t rows, size_t width, const float *center, const float *a,
                                 const float *b, int stream, const float *ahead)
{
    (void)stream; /* as in row_normalize */
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + (ptrdiff_t)i * x_stride;
        float *yr = y + (ptrdiff_t)i * y_stride;
        const float *ar = ahead ? ahead + (ptrdiff_t)i * x_stride : NULL;
        size_t j = 0;
        for (; j + 4 <= width; j += 4) {
            if (ar && j % 16 == 0) /* a line of the row ahead, into L2 */
                __builtin_prefetch(ar + j, 0, 2);
            vst1q_f32(yr + j, vfmaq_f32(vld1q_f32(b + j),
                                        vsubq_f32(vld1q_f32(xr + j), vld1q_f32(center + j)),
                                        vld1q_f32(a + j)));
        }
        if (ar && j < width)
            __builtin_prefetch(ar + j, 0, 2);
        for (; j < width; j++)
            yr[j] = fmaf(xr[j] - center[j], a[j], b[j]);
    }
}
