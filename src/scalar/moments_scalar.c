/* Portable moments kernels: the reference algorithm every ISA follows.
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
#include "../kernels.h"

/* Row pass 2: four accumulators per kind, SN_PASS2_TERMS terms each per chunk. */
#define ROW_CHUNK (4 * SN_PASS2_TERMS)

/* (x - C) * scale, C = sn_pass2_center(K, center): the difference rounded in
 * float, then scaled exactly (a power of 2). */
static inline float deviation(float v, float c, float scale)
{
    return (v - c) * scale;
}

/* Pass 2 of a row block: four accumulators per kind over whole chunks of
 * 4-element steps, then the last n % 4 elements in a partial of their own. */
static void row_sums(const float *x, size_t n, float shift, float center, float scale,
                     double *sum_dev, double *sum_sq)
{
    const size_t steps = n - n % 4;
    const float c = sn_pass2_center(shift, center);
    double dev_total = 0.0, sq_total = 0.0;
    size_t i = 0;
    while (i < steps) {
        size_t end = steps - i < ROW_CHUNK ? steps : i + ROW_CHUNK;
        float d[4] = { 0.0f, 0.0f, 0.0f, 0.0f }, q[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
        for (; i < end; i += 4)
            for (int u = 0; u < 4; u++) {
                float dev = deviation(x[i + u], c, scale);
                d[u] += dev;
                q[u] += dev * dev;
            }
        dev_total += (double)((d[0] + d[1]) + (d[2] + d[3]));
        sq_total += (double)((q[0] + q[1]) + (q[2] + q[3]));
    }
    float d = 0.0f, q = 0.0f;
    for (; i < n; i++) {
        float dev = deviation(x[i], c, scale);
        d += dev;
        q += dev * dev;
    }
    *sum_dev = dev_total + (double)d;
    *sum_sq = sq_total + (double)q;
}

/* Pass 1: the provisional center (of a prefix, or of the whole block). */
static inline float row_center(const float *x, size_t n, float shift)
{
    float acc[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
    const size_t steps = n - n % 4;
    for (size_t i = 0; i < steps; i += 4)
        for (int k = 0; k < 4; k++)
            acc[k] += x[i + k] - shift;
    for (size_t i = steps; i < n; i++)
        acc[0] += x[i] - shift;
    return (float)((double)((acc[0] + acc[1]) + (acc[2] + acc[3])) / (double)n);
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

/* The one pass (sn_moments_from_power_sums): d = x - K rounded to float, its
 * sum and sum of squares in double, four accumulators of each. */
static void row_power_sums(const float *x, size_t n, float shift, double *sum1, double *sum2)
{
    double s1[4] = { 0.0, 0.0, 0.0, 0.0 }, s2[4] = { 0.0, 0.0, 0.0, 0.0 };
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int u = 0; u < 4; u++) {
            double d = (double)(x[i + u] - shift);
            s1[u] += d;
            s2[u] += d * d;
        }
    for (; i < n; i++) {
        double d = (double)(x[i] - shift);
        s1[0] += d;
        s2[0] += d * d;
    }
    *sum1 = (s1[0] + s1[1]) + (s1[2] + s1[3]);
    *sum2 = (s2[0] + s2[1]) + (s2[2] + s2[3]);
}

/* Pass 2 for the recipe in kernels.h. */
static inline void row_deviation_sums(const float *x, size_t n, float shift, float center,
                                      double *sum_dev, double *sum_sq)
{
    row_sums(x, n, shift, center, 1.0f, sum_dev, sum_sq);
}

SN_DEFINE_ROW_MOMENTS(scalar)
SN_DEFINE_ROWS_NORM(scalar)

/* Pass 2 of one column, in float partials of SN_PASS2_TERMS rows. */
static void column_sums(const float *x, ptrdiff_t stride, size_t rows, float shift,
                        float center, float scale, double *sum_dev, double *sum_sq)
{
    const float c = sn_pass2_center(shift, center);
    double dev_total = 0.0, sq_total = 0.0;
    size_t i = 0;
    while (i < rows) {
        size_t end = rows - i < SN_PASS2_TERMS ? rows : i + SN_PASS2_TERMS;
        float d = 0.0f, q = 0.0f;
        for (; i < end; i++) {
            float dev = deviation(x[(ptrdiff_t)i * stride], c, scale);
            d += dev;
            q += dev * dev;
        }
        dev_total += (double)d;
        sq_total += (double)q;
    }
    *sum_dev = dev_total;
    *sum_sq = sq_total;
}

void sn_col_moments_f32_scalar(const float *x, ptrdiff_t stride, size_t rows, size_t width,
                               const float *shift, sn_moments *out)
{
    float center[SN_COL_BLOCK_WIDTH];
    for (size_t j = 0; j < width; j++) {
        float sum = 0.0f;
        for (size_t i = 0; i < rows; i++)
            sum += x[(ptrdiff_t)i * stride + j] - shift[j];
        center[j] = (float)((double)sum / (double)rows);
    }
    for (size_t j = 0; j < width; j++) {
        double sum_dev, sum_sq;
        column_sums(x + j, stride, rows, shift[j], center[j], 1.0f, &sum_dev, &sum_sq);
        if (sum_sq * SN_PASS2_RESCALE < (double)rows) {
            column_sums(x + j, stride, rows, shift[j], center[j], SN_PASS2_RESCALE, &sum_dev,
                        &sum_sq);
            sum_dev /= SN_PASS2_RESCALE;
            sum_sq /= (double)SN_PASS2_RESCALE * SN_PASS2_RESCALE;
        }
        out[j] = sn_moments_from_sums((double)rows, shift[j], center[j], sum_dev, sum_sq);
    }
}

void sn_col_deviation_sums_f32_scalar(const float *x, ptrdiff_t stride, size_t rows,
                                      size_t width, const float *shift, const float *center,
                                      double *sum_dev, double *sum_sq)
{
    for (size_t i = 0; i < rows; i += SN_COL_STREAM_ROWS) {
        const float *block = x + (ptrdiff_t)i * stride;
        size_t count = rows - i < SN_COL_STREAM_ROWS ? rows - i : SN_COL_STREAM_ROWS;
        for (size_t j = 0; j < width; j++) {
            const float c = sn_pass2_center(shift[j], center[j]);
            float d = 0.0f, q = 0.0f;
            for (size_t r = 0; r < count; r++) {
                float dev = deviation(block[(ptrdiff_t)r * stride + (ptrdiff_t)j], c, 1.0f);
                d += dev;
                q += dev * dev;
            }
            sum_dev[j] += (double)d;
            sum_sq[j] += (double)q;
        }
    }
}
