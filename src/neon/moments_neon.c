/* AArch64 Advanced SIMD moments kernels: the scalar reference algorithm
 * (moments_scalar.c) with vector lanes.
 * Rows follow the recipe of kernels.h (SN_DEFINE_ROW_MOMENTS): one pass of
 * power sums in double for short blocks; for longer ones pass 2 around the
 * center of a prefix; the full two-pass algorithm where those cannot serve.
 * Pass 1 sums x - K in float for a provisional center; pass 2 sums the
 * deviations from it and their squares in float partials of at most
 * SN_PASS2_TERMS terms, added into double once per chunk, so the squares
 * neither overflow nor lose the digits the correction in
 * sn_moments_from_sums needs. Columns: pass 2 across whole panel rows
 * (col_deviation_sums) around centers the engine takes from a unit's first
 * rows, and the two-pass block kernel (col_moments) where those cannot serve. */
#include <arm_neon.h>

#include "../kernels.h"

/* The column loops are written once for 1 and 4 vectors of columns; inlined
 * with a constant count, their loops over vectors unroll. */
#define SN_INLINE static inline __attribute__((always_inline))

/* Row pass 2: four accumulators per kind, SN_PASS2_TERMS vectors each per chunk. */
#define ROW_CHUNK (4 * 4 * SN_PASS2_TERMS)

/* (x - C) * scale, C = sn_pass2_center(K, center) (k + c, as the scalar code
 * rounds it): the difference rounded in float, then scaled exactly (a power
 * of 2; a constant 1 folds away). */
static inline float32x4_t deviation(float32x4_t v, float32x4_t kc, float32x4_t scale)
{
    return vmulq_f32(vsubq_f32(v, kc), scale);
}

static inline void add_dev(float32x4_t dev, float32x4_t *sum_dev, float32x4_t *sum_sq)
{
    *sum_dev = vaddq_f32(*sum_dev, dev);
    *sum_sq = vfmaq_f32(*sum_sq, dev, dev);
}

/* Widen 4 float partial sums and add them to a double total held as two pairs. */
static inline void widen_add(float32x4_t v, float64x2_t *total)
{
    total[0] = vaddq_f64(total[0], vcvt_f64_f32(vget_low_f32(v)));
    total[1] = vaddq_f64(total[1], vcvt_high_f64_f32(v));
}

static inline float32x4_t sum4(const float32x4_t *v)
{
    return vaddq_f32(vaddq_f32(v[0], v[1]), vaddq_f32(v[2], v[3]));
}

/* Pass 2 of a row block with deviations multiplied by `scale`: four
 * accumulators per kind over whole chunks of 16-element steps, then up to 3
 * vectors in a partial of their own, then the last n % 4 elements in double. */
SN_INLINE void row_sums(const float *x, size_t n, float shift, float center, float scale,
                        double *sum_dev, double *sum_sq)
{
    const size_t body = n - n % 4, steps = n - n % 16;
    const float32x4_t kc = vdupq_n_f32(sn_pass2_center(shift, center)), s = vdupq_n_f32(scale);
    float64x2_t dev_total[2] = { vdupq_n_f64(0.0), vdupq_n_f64(0.0) };
    float64x2_t sq_total[2] = { dev_total[0], dev_total[1] };
    size_t i = 0;
    while (i < steps) {
        size_t end = steps - i < ROW_CHUNK ? steps : i + ROW_CHUNK;
        float32x4_t d[4], q[4];
        for (int u = 0; u < 4; u++)
            d[u] = q[u] = vdupq_n_f32(0.0f);
        for (; i < end; i += 16) {
            for (int u = 0; u < 4; u++)
                add_dev(deviation(vld1q_f32(x + i + 4 * u), kc, s), d + u, q + u);
        }
        widen_add(sum4(d), dev_total);
        widen_add(sum4(q), sq_total);
    }
    /* Skipped where there are none: the partial of no elements is zeros, which
     * would add nothing to the (never -0) totals but latency to their chain. */
    if (i < body) {
        float32x4_t d = vdupq_n_f32(0.0f), q = d;
        for (; i < body; i += 4)
            add_dev(deviation(vld1q_f32(x + i), kc, s), &d, &q);
        widen_add(d, dev_total);
        widen_add(q, sq_total);
    }
    double dev_sum = vaddvq_f64(vaddq_f64(dev_total[0], dev_total[1]));
    double sq_sum = vaddvq_f64(vaddq_f64(sq_total[0], sq_total[1]));
    for (; i < n; i++) {
        float dev = (x[i] - sn_pass2_center(shift, center)) * scale;
        dev_sum += (double)dev;
        sq_sum += (double)dev * (double)dev;
    }
    *sum_dev = dev_sum;
    *sum_sq = sq_sum;
}

/* Pass 1: the provisional center (of a prefix, or of the whole block). */
static inline float row_center(const float *x, size_t n, float shift)
{
    const float32x4_t k = vdupq_n_f32(shift);
    /* Four accumulators hide the latency of the dependent adds. */
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = vaddq_f32(a0, vsubq_f32(vld1q_f32(x + i), k));
        a1 = vaddq_f32(a1, vsubq_f32(vld1q_f32(x + i + 4), k));
        a2 = vaddq_f32(a2, vsubq_f32(vld1q_f32(x + i + 8), k));
        a3 = vaddq_f32(a3, vsubq_f32(vld1q_f32(x + i + 12), k));
    }
    for (; i + 4 <= n; i += 4)
        a0 = vaddq_f32(a0, vsubq_f32(vld1q_f32(x + i), k));
    float tail = 0.0f;
    for (; i < n; i++)
        tail += x[i] - shift;
    float sum = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3))) + tail;
    return (float)((double)sum / (double)n);
}

/* Two-pass fallback, pass 2 (again with scaled deviations when the squares
 * underflowed) and the corrected moments. */
static inline sn_moments row_finish(const float *x, size_t n, float shift, float center)
{
    double sum_dev, sum_sq;
    row_sums(x, n, shift, center, 1.0f, &sum_dev, &sum_sq);
    if (sum_sq * SN_PASS2_RESCALE < (double)n) {
        row_sums(x, n, shift, center, SN_PASS2_RESCALE, &sum_dev, &sum_sq);
        sum_dev /= SN_PASS2_RESCALE;
        sum_sq /= (double)SN_PASS2_RESCALE * SN_PASS2_RESCALE;
    }
    return sn_moments_from_sums((double)n, shift, center, sum_dev, sum_sq);
}

/* d = x - K in float, widened: its 4 lanes added to s1[0..1] and their
 * squares to s2[0..1] (exact products, double accumulation). */
static inline void add_power(float32x4_t d, float64x2_t *s1, float64x2_t *s2)
{
    float64x2_t lo = vcvt_f64_f32(vget_low_f32(d)), hi = vcvt_high_f64_f32(d);
    s1[0] = vaddq_f64(s1[0], lo);
    s1[1] = vaddq_f64(s1[1], hi);
    s2[0] = vfmaq_f64(s2[0], lo, lo);
    s2[1] = vfmaq_f64(s2[1], hi, hi);
}

/* The one pass over memory (sn_moments_from_power_sums): four vectors (a
 * 64-byte line) a step, alternating between two sets of accumulators; the
 * last n % 4 elements in double directly. */
static inline void row_power_sums(const float *x, size_t n, float shift, double *sum1,
                                  double *sum2)
{
    const float32x4_t k = vdupq_n_f32(shift);
    float64x2_t s1[4], s2[4];
    for (int u = 0; u < 4; u++)
        s1[u] = s2[u] = vdupq_n_f64(0.0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int v = 0; v < 4; v++)
            add_power(vsubq_f32(vld1q_f32(x + i + 4 * v), k), s1 + 2 * (v % 2), s2 + 2 * (v % 2));
    }
    for (; i + 4 <= n; i += 4)
        add_power(vsubq_f32(vld1q_f32(x + i), k), s1, s2);
    double t1 = 0.0, t2 = 0.0;
    for (; i < n; i++) {
        double d = (double)(x[i] - shift);
        t1 += d;
        t2 += d * d;
    }
    *sum1 = vaddvq_f64(vaddq_f64(vaddq_f64(s1[0], s1[1]), vaddq_f64(s1[2], s1[3]))) + t1;
    *sum2 = vaddvq_f64(vaddq_f64(vaddq_f64(s2[0], s2[1]), vaddq_f64(s2[2], s2[3]))) + t2;
}

static inline void row_deviation_sums(const float *x, size_t n, float shift, float center,
                                      double *sum_dev, double *sum_sq)
{
    row_sums(x, n, shift, center, 1.0f, sum_dev, sum_sq);
}

SN_DEFINE_ROW_MOMENTS(neon)
SN_DEFINE_ROWS_NORM(neon)

/* Provisional centers of four columns: the float sum over rows, divided in
 * double and rounded once to float, as the scalar kernel does. */
static inline float32x4_t column_center(float32x4_t sum, float64x2_t rows)
{
    float64x2_t lo = vdivq_f64(vcvt_f64_f32(vget_low_f32(sum)), rows);
    float64x2_t hi = vdivq_f64(vcvt_high_f64_f32(sum), rows);
    return vcvt_high_f32_f64(vcvt_f32_f64(lo), hi);
}

/* Pass 2 of nv vectors of columns, column j's deviations multiplied by
 * scale[j]: one accumulator per kind and vector, SN_PASS2_TERMS rows per chunk. */
SN_INLINE void column_sums(const float *x, ptrdiff_t stride, size_t rows, int nv,
                           const float32x4_t *k, const float32x4_t *c, const float *scale,
                           double *sum_dev, double *sum_sq)
{
    float32x4_t s[4], kc[4];
    float64x2_t dev_total[8], sq_total[8];
    for (int v = 0; v < nv; v++) {
        s[v] = vld1q_f32(scale + 4 * v);
        kc[v] = vaddq_f32(k[v], c[v]);
        dev_total[2 * v] = dev_total[2 * v + 1] = vdupq_n_f64(0.0);
        sq_total[2 * v] = sq_total[2 * v + 1] = vdupq_n_f64(0.0);
    }
    size_t i = 0;
    while (i < rows) {
        size_t end = rows - i < SN_PASS2_TERMS ? rows : i + SN_PASS2_TERMS;
        float32x4_t d[4], q[4];
        for (int v = 0; v < nv; v++)
            d[v] = q[v] = vdupq_n_f32(0.0f);
        for (; i < end; i++) {
            const float *r = x + (ptrdiff_t)i * stride;
            for (int v = 0; v < nv; v++)
                add_dev(deviation(vld1q_f32(r + 4 * v), kc[v], s[v]), d + v, q + v);
        }
        for (int v = 0; v < nv; v++) {
            widen_add(d[v], dev_total + 2 * v);
            widen_add(q[v], sq_total + 2 * v);
        }
    }
    for (int v = 0; v < 2 * nv; v++) {
        vst1q_f64(sum_dev + 2 * v, dev_total[v]);
        vst1q_f64(sum_sq + 2 * v, sq_total[v]);
    }
}

/* Moments of 4 * nv adjacent columns (nv = 1 or 4). Lanes are columns, so
 * every column sums its rows in row order, like the scalar kernel; four
 * vectors give independent add chains. */
SN_INLINE void col_moments(const float *x, ptrdiff_t stride, size_t rows, int nv,
                           const float *shift, sn_moments *out)
{
    const float64x2_t count = vdupq_n_f64((double)rows);
    float32x4_t k[4], c[4], sum[4];
    for (int v = 0; v < nv; v++) {
        k[v] = vld1q_f32(shift + 4 * v);
        sum[v] = vdupq_n_f32(0.0f);
    }
    for (size_t i = 0; i < rows; i++) {
        const float *r = x + (ptrdiff_t)i * stride;
        for (int v = 0; v < nv; v++)
            sum[v] = vaddq_f32(sum[v], vsubq_f32(vld1q_f32(r + 4 * v), k[v]));
    }
    for (int v = 0; v < nv; v++)
        c[v] = column_center(sum[v], count);

    float scale[16];
    double dev_total[16], sq_total[16];
    for (int j = 0; j < 4 * nv; j++)
        scale[j] = 1.0f;
    column_sums(x, stride, rows, nv, k, c, scale, dev_total, sq_total);
    /* Columns whose squares underflowed go again with scaled deviations; the
     * others keep scale 1 and get the same sums again. */
    int rescale = 0;
    for (int j = 0; j < 4 * nv; j++) {
        int tiny = sq_total[j] * SN_PASS2_RESCALE < (double)rows;
        scale[j] = tiny ? SN_PASS2_RESCALE : 1.0f;
        rescale |= tiny;
    }
    if (rescale) {
        column_sums(x, stride, rows, nv, k, c, scale, dev_total, sq_total);
        for (int j = 0; j < 4 * nv; j++) {
            dev_total[j] /= scale[j];
            sq_total[j] /= (double)scale[j] * scale[j];
        }
    }

    float center[16];
    for (int v = 0; v < nv; v++)
        vst1q_f32(center + 4 * v, c[v]);
    for (int j = 0; j < 4 * nv; j++)
        out[j] = sn_moments_from_sums((double)rows, shift[j], center[j], dev_total[j],
                                      sq_total[j]);
}

void sn_col_moments_f32_neon(const float *x, ptrdiff_t stride, size_t rows, size_t width,
                             const float *shift, sn_moments *out)
{
    size_t j = 0;
    for (; j + 16 <= width; j += 16)
        col_moments(x + j, stride, rows, 4, shift + j, out + j);
    for (; j + 4 <= width; j += 4)
        col_moments(x + j, stride, rows, 1, shift + j, out + j);
    /* The last width % 4 columns: the reference kernel itself. */
    if (j < width)
        sn_col_moments_f32_scalar(x + j, stride, rows, width - j, shift + j, out + j);
}

void sn_col_deviation_sums_f32_neon(const float *x, ptrdiff_t stride, size_t rows, size_t width,
                                    const float *shift, const float *center, double *sum_dev,
                                    double *sum_sq)
{
    const size_t body = width - width % 4;
    const float32x4_t one = vdupq_n_f32(1.0f);
    for (size_t i = 0; i < rows; i += SN_COL_STREAM_ROWS) {
        const float *block = x + (ptrdiff_t)i * stride;
        size_t count = rows - i < SN_COL_STREAM_ROWS ? rows - i : SN_COL_STREAM_ROWS;
        for (size_t j = 0; j < body; j += 4) {
            const float32x4_t kc = vaddq_f32(vld1q_f32(shift + j), vld1q_f32(center + j));
            float32x4_t d = vdupq_n_f32(0.0f), q = d;
            for (size_t r = 0; r < count; r++)
                add_dev(deviation(vld1q_f32(block + (ptrdiff_t)r * stride + j), kc, one), &d, &q);
            vst1q_f64(sum_dev + j, vaddq_f64(vld1q_f64(sum_dev + j), vcvt_f64_f32(vget_low_f32(d))));
            vst1q_f64(sum_dev + j + 2, vaddq_f64(vld1q_f64(sum_dev + j + 2), vcvt_high_f64_f32(d)));
            vst1q_f64(sum_sq + j, vaddq_f64(vld1q_f64(sum_sq + j), vcvt_f64_f32(vget_low_f32(q))));
            vst1q_f64(sum_sq + j + 2, vaddq_f64(vld1q_f64(sum_sq + j + 2), vcvt_high_f64_f32(q)));
        }
    }
    /* The last width % 4 columns: the reference kernel (the same blocks of rows). */
    if (body < width)
        sn_col_deviation_sums_f32_scalar(x + body, stride, rows, width - body, shift + body,
                                         center + body, sum_dev + body, sum_sq + body);
}
