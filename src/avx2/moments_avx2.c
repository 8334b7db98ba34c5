/* AVX2 moments kernels: the scalar algorithm (moments_scalar.c) on 8 lanes.
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
#include <immintrin.h>

#include "../kernels.h"

/* Pass 2 runs twice at most and is inlined, as in moments_avx512.c (where a
 * call costs the vzeroupper on return). */
#define SN_INLINE static inline __attribute__((always_inline))

/* Row pass 2: four accumulators per kind, SN_PASS2_TERMS vectors each per chunk. */
#define ROW_CHUNK (4 * 8 * SN_PASS2_TERMS)

/* All-ones in the first `count` lanes (count <= 8), for maskload and blends. */
static inline __m256i lane_mask(size_t count)
{
    const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), index);
}

static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline double hsum_pd(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

/* (x - C) * scale, C = sn_pass2_center(K, center) (k + c, as the scalar code
 * rounds it): the difference rounded in float, then scaled exactly (a power
 * of 2; a constant 1 folds away). */
static inline __m256 deviation(__m256 v, __m256 kc, __m256 scale)
{
    return _mm256_mul_ps(_mm256_sub_ps(v, kc), scale);
}

static inline void add_dev(__m256 dev, __m256 *sum_dev, __m256 *sum_sq)
{
    *sum_dev = _mm256_add_ps(*sum_dev, dev);
    *sum_sq = _mm256_fmadd_ps(dev, dev, *sum_sq);
}

/* 1.0 in every lane, hidden from the compiler, which would otherwise fold
 * a multiply-add by it back into an add (add_dev_fma). */
static inline __m256 opaque_one(void)
{
    __m256 one = _mm256_set1_ps(1.0f);
    __asm__("" : "+v"(one));
    return one;
}

/* add_dev with the sum taken on the multiply-add pipes: dev * 1 + sum rounds
 * once, exactly as dev + sum does. `one` is opaque_one(). */
static inline void add_dev_fma(__m256 dev, __m256 one, __m256 *sum_dev, __m256 *sum_sq)
{
    *sum_dev = _mm256_fmadd_ps(dev, one, *sum_dev);
    *sum_sq = _mm256_fmadd_ps(dev, dev, *sum_sq);
}

/* Widen 8 float partial sums and add them to a double total. */
static inline __m256d widen_add(__m256 v, __m256d total)
{
    total = _mm256_add_pd(total, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    return _mm256_add_pd(total, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

static inline __m256 sum4(const __m256 *v)
{
    return _mm256_add_ps(_mm256_add_ps(v[0], v[1]), _mm256_add_ps(v[2], v[3]));
}

/* Pass 2 of a row block with deviations multiplied by `scale`: four
 * accumulators per kind over whole chunks of 32-element steps, then the last
 * n % 32 elements (up to 3 vectors and the masked tail) in a partial of their own. */
SN_INLINE void row_sums(const float *x, size_t n, __m256 k, __m256 c, float scale,
                        double *sum_dev, double *sum_sq)
{
    const __m256i tail = lane_mask(n % 8);
    const size_t body = n - n % 8, steps = n - n % 32;
    const __m256 s = _mm256_set1_ps(scale), kc = _mm256_add_ps(k, c);
    const __m256 one = opaque_one();
    __m256d dev_total = _mm256_setzero_pd(), sq_total = _mm256_setzero_pd();
    size_t i = 0;
    while (i < steps) {
        size_t end = steps - i < ROW_CHUNK ? steps : i + ROW_CHUNK;
        __m256 d[4], q[4];
        for (int u = 0; u < 4; u++)
            d[u] = q[u] = _mm256_setzero_ps();
        for (; i < end; i += 32)
            for (int u = 0; u < 4; u += 2) {
                add_dev(deviation(_mm256_loadu_ps(x + i + 8 * u), kc, s), d + u, q + u);
                add_dev_fma(deviation(_mm256_loadu_ps(x + i + 8 * u + 8), kc, s), one, d + u + 1,
                            q + u + 1);
            }
        dev_total = widen_add(sum4(d), dev_total);
        sq_total = widen_add(sum4(q), sq_total);
    }
    /* Skipped where there are none: the partial of no elements is zeros, which
     * would add nothing to the (never -0) totals but latency to their chain. */
    if (i < n) {
        __m256 d = _mm256_setzero_ps(), q = _mm256_setzero_ps();
        for (; i < body; i += 8)
            add_dev(deviation(_mm256_loadu_ps(x + i), kc, s), &d, &q);
        if (body < n) {
            /* Masked-off lanes must add 0, not ((0 - K) - center) * scale. */
            __m256 dev = deviation(_mm256_maskload_ps(x + body, tail), kc, s);
            add_dev(_mm256_and_ps(dev, _mm256_castsi256_ps(tail)), &d, &q);
        }
        dev_total = widen_add(d, dev_total);
        sq_total = widen_add(q, sq_total);
    }
    *sum_dev = hsum_pd(dev_total);
    *sum_sq = hsum_pd(sq_total);
}

/* Pass 1: the provisional center (of a prefix, or of the whole block). */
SN_INLINE float row_center(const float *x, size_t n, float shift)
{
    const __m256 k = _mm256_set1_ps(shift);
    const __m256i tail = lane_mask(n % 8);
    const size_t body = n - n % 8;

    /* Four accumulators hide the latency of the adds. */
    __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                      _mm256_setzero_ps() };
    const __m256 one = opaque_one();
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int u = 0; u < 4; u += 2) {
            acc[u] = _mm256_add_ps(acc[u], _mm256_sub_ps(_mm256_loadu_ps(x + i + 8 * u), k));
            acc[u + 1] = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8 * u + 8), k),
                                         one, acc[u + 1]);
        }
    for (; i < body; i += 8)
        acc[0] = _mm256_add_ps(acc[0], _mm256_sub_ps(_mm256_loadu_ps(x + i), k));
    if (body < n) {
        /* Masked-off lanes load 0, and 0 - K must not be counted. */
        __m256 last = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + body, tail), k),
                                    _mm256_castsi256_ps(tail));
        acc[1] = _mm256_add_ps(acc[1], last);
    }
    float sum = hsum_ps(sum4(acc));
    return (float)((double)sum / (double)n);
}

/* Two-pass fallback, pass 2 (again with scaled deviations when the squares
 * underflowed) and the corrected moments. */
SN_INLINE sn_moments row_finish(const float *x, size_t n, float shift, float center)
{
    const __m256 k = _mm256_set1_ps(shift), c = _mm256_set1_ps(center);
    double sum_dev, sum_sq;
    row_sums(x, n, k, c, 1.0f, &sum_dev, &sum_sq);
    if (sum_sq * SN_PASS2_RESCALE < (double)n) {
        row_sums(x, n, k, c, SN_PASS2_RESCALE, &sum_dev, &sum_sq);
        sum_dev /= SN_PASS2_RESCALE;
        sum_sq /= (double)SN_PASS2_RESCALE * SN_PASS2_RESCALE;
    }
    return sn_moments_from_sums((double)n, shift, center, sum_dev, sum_sq);
}

/* d = x - K in float, widened: its 8 lanes added to s1[0..1] and their
 * squares to s2[0..1] (exact products, double accumulation). */
static inline void add_power(__m256 d, __m256d *s1, __m256d *s2)
{
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(d));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
    s1[0] = _mm256_add_pd(s1[0], lo);
    s1[1] = _mm256_add_pd(s1[1], hi);
    s2[0] = _mm256_fmadd_pd(lo, lo, s2[0]);
    s2[1] = _mm256_fmadd_pd(hi, hi, s2[1]);
}

/* The one pass over memory (sn_moments_from_power_sums): two vectors (a cache
 * line) a step, each with its own accumulators. */
SN_INLINE void row_power_sums(const float *x, size_t n, float shift, double *sum1,
                              double *sum2)
{
    const __m256 k = _mm256_set1_ps(shift);
    const __m256i tail = lane_mask(n % 8);
    const size_t body = n - n % 8;
    __m256d s1[4], s2[4];
    for (int u = 0; u < 4; u++)
        s1[u] = s2[u] = _mm256_setzero_pd();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        add_power(_mm256_sub_ps(_mm256_loadu_ps(x + i), k), s1, s2);
        add_power(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), k), s1 + 2, s2 + 2);
    }
    for (; i < body; i += 8)
        add_power(_mm256_sub_ps(_mm256_loadu_ps(x + i), k), s1, s2);
    if (body < n) {
        /* Masked-off lanes load 0, and 0 - K must not be counted. */
        __m256 last = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + body, tail), k),
                                    _mm256_castsi256_ps(tail));
        add_power(last, s1 + 2, s2 + 2);
    }
    *sum1 = hsum_pd(_mm256_add_pd(_mm256_add_pd(s1[0], s1[1]), _mm256_add_pd(s1[2], s1[3])));
    *sum2 = hsum_pd(_mm256_add_pd(_mm256_add_pd(s2[0], s2[1]), _mm256_add_pd(s2[2], s2[3])));
}

SN_INLINE void row_deviation_sums(const float *x, size_t n, float shift, float center,
                                  double *sum_dev, double *sum_sq)
{
    row_sums(x, n, _mm256_set1_ps(shift), _mm256_set1_ps(center), 1.0f, sum_dev, sum_sq);
}

SN_DEFINE_ROW_MOMENTS(avx2)
SN_DEFINE_ROWS_NORM(avx2)

/* Pass 2 of 8 columns, column j's deviations multiplied by scale[j]: row
 * pairs go to two accumulators per kind, SN_PASS2_TERMS pairs per chunk. */
SN_INLINE void column_sums(const float *x, ptrdiff_t stride, size_t rows, __m256i mask,
                           __m256 k, __m256 c, __m256 s, double *sum_dev, double *sum_sq)
{
    const __m256 kc = _mm256_add_ps(k, c);
    __m256d dev_lo = _mm256_setzero_pd(), dev_hi = dev_lo, sq_lo = dev_lo, sq_hi = dev_lo;
    size_t i = 0;
    while (i < rows) {
        size_t end = rows - i < 2 * SN_PASS2_TERMS ? rows : i + 2 * SN_PASS2_TERMS;
        __m256 d[2] = { _mm256_setzero_ps(), _mm256_setzero_ps() }, q[2] = { d[0], d[1] };
        for (; i + 2 <= end; i += 2) {
            const float *row = x + (ptrdiff_t)i * stride;
            __m256 v0 = _mm256_maskload_ps(row, mask), v1 = _mm256_maskload_ps(row + stride, mask);
            add_dev(deviation(v0, kc, s), d, q);
            add_dev(deviation(v1, kc, s), d + 1, q + 1);
        }
        if (i < end) {
            __m256 v = _mm256_maskload_ps(x + (ptrdiff_t)i * stride, mask);
            add_dev(deviation(v, kc, s), d, q);
            i++;
        }
        __m256 dev = _mm256_add_ps(d[0], d[1]), sq = _mm256_add_ps(q[0], q[1]);
        dev_lo = _mm256_add_pd(dev_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(dev)));
        dev_hi = _mm256_add_pd(dev_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(dev, 1)));
        sq_lo = _mm256_add_pd(sq_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
        sq_hi = _mm256_add_pd(sq_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
    }
    _mm256_storeu_pd(sum_dev, dev_lo);
    _mm256_storeu_pd(sum_dev + 4, dev_hi);
    _mm256_storeu_pd(sum_sq, sq_lo);
    _mm256_storeu_pd(sum_sq + 4, sq_hi);
}

/* Two-pass moments of up to 8 adjacent columns, `count` of them valid.
 * Masked-off columns load 0 for both x and the shift, so they sum to 0 and are
 * not written. Rows go in pairs, each with
 * its own sums, to hide add latency. */
static void col_moments8(const float *x, ptrdiff_t stride, size_t rows, size_t count,
                         const float *shift, sn_moments *out)
{
    const __m256i mask = lane_mask(count);
    const __m256 k = _mm256_maskload_ps(shift, mask);
    size_t i;

    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (i = 0; i + 2 <= rows; i += 2) {
        const float *row = x + (ptrdiff_t)i * stride;
        acc0 = _mm256_add_ps(acc0, _mm256_sub_ps(_mm256_maskload_ps(row, mask), k));
        acc1 = _mm256_add_ps(acc1, _mm256_sub_ps(_mm256_maskload_ps(row + stride, mask), k));
    }
    if (i < rows) {
        __m256 v = _mm256_maskload_ps(x + (ptrdiff_t)i * stride, mask);
        acc0 = _mm256_add_ps(acc0, _mm256_sub_ps(v, k));
    }
    /* The scalar rounding per column: float sum, divided in double, to float. */
    __m256 sum = _mm256_add_ps(acc0, acc1);
    __m256d n = _mm256_set1_pd((double)rows);
    __m256d c_lo = _mm256_div_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(sum)), n);
    __m256d c_hi = _mm256_div_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(sum, 1)), n);
    __m256 c = _mm256_set_m128(_mm256_cvtpd_ps(c_hi), _mm256_cvtpd_ps(c_lo));

    double dev_total[8], sq_total[8];
    column_sums(x, stride, rows, mask, k, c, _mm256_set1_ps(1.0f), dev_total, sq_total);
    /* Columns whose squares underflowed go again with scaled deviations; the
     * others keep scale 1 and get the same sums again. */
    float scale[8];
    int rescale = 0;
    for (size_t j = 0; j < 8; j++) {
        int tiny = j < count && sq_total[j] * SN_PASS2_RESCALE < (double)rows;
        scale[j] = tiny ? SN_PASS2_RESCALE : 1.0f;
        rescale |= tiny;
    }
    if (rescale) {
        column_sums(x, stride, rows, mask, k, c, _mm256_loadu_ps(scale), dev_total, sq_total);
        for (size_t j = 0; j < count; j++) {
            dev_total[j] /= scale[j];
            sq_total[j] /= (double)scale[j] * scale[j];
        }
    }

    float center[8];
    _mm256_storeu_ps(center, c);
    for (size_t j = 0; j < count; j++)
        out[j] = sn_moments_from_sums((double)rows, shift[j], center[j], dev_total[j],
                                      sq_total[j]);
}

void sn_col_moments_f32_avx2(const float *x, ptrdiff_t stride, size_t rows, size_t width,
                             const float *shift, sn_moments *out)
{
    for (size_t j = 0; j < width; j += 8)
        col_moments8(x + j, stride, rows, width - j < 8 ? width - j : 8, shift + j, out + j);
}

/* Eight columns at j of `rows` rows (at most SN_PASS2_TERMS): deviations and
 * squares in float registers, then added to the double sums. */
/* With `ahead`, each row's line of the same columns SN_COL_STREAM_ROWS rows
 * on is prefetched into L2 (every other column step: a line holds two): the
 * next strip of the walk (see the AVX-512 kernel). */
SN_INLINE void col_deviations8(const float *x, ptrdiff_t stride, size_t rows,
                               const float *shift, const float *center, size_t j,
                               double *sum_dev, double *sum_sq, int ahead)
{
    const __m256 kc = _mm256_add_ps(_mm256_loadu_ps(shift + j), _mm256_loadu_ps(center + j));
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 d = _mm256_setzero_ps(), q = _mm256_setzero_ps();
    for (size_t i = 0; i < rows; i++) {
        const float *at = x + (ptrdiff_t)i * stride + j;
        if (ahead && j % 16 == 0)
            _mm_prefetch((const char *)(at + SN_COL_STREAM_ROWS * stride), _MM_HINT_T1);
        add_dev(deviation(_mm256_loadu_ps(at), kc, one), &d, &q);
    }
    const __m256d d_lo = _mm256_cvtps_pd(_mm256_castps256_ps128(d));
    const __m256d d_hi = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
    const __m256d q_lo = _mm256_cvtps_pd(_mm256_castps256_ps128(q));
    const __m256d q_hi = _mm256_cvtps_pd(_mm256_extractf128_ps(q, 1));
    _mm256_storeu_pd(sum_dev + j, _mm256_add_pd(_mm256_loadu_pd(sum_dev + j), d_lo));
    _mm256_storeu_pd(sum_dev + j + 4, _mm256_add_pd(_mm256_loadu_pd(sum_dev + j + 4), d_hi));
    _mm256_storeu_pd(sum_sq + j, _mm256_add_pd(_mm256_loadu_pd(sum_sq + j), q_lo));
    _mm256_storeu_pd(sum_sq + j + 4, _mm256_add_pd(_mm256_loadu_pd(sum_sq + j + 4), q_hi));
}

/* The strips of SN_COL_STREAM_ROWS rows; all but the last of a call
 * prefetch the next. */
SN_INLINE void col_strip(const float *block, ptrdiff_t stride, size_t count, size_t body,
                         const float *shift, const float *center, double *sum_dev,
                         double *sum_sq, int ahead)
{
    for (size_t j = 0; j < body; j += 8)
        col_deviations8(block, stride, count, shift, center, j, sum_dev, sum_sq, ahead);
}

void sn_col_deviation_sums_f32_avx2(const float *x, ptrdiff_t stride, size_t rows, size_t width,
                                    const float *shift, const float *center, double *sum_dev,
                                    double *sum_sq)
{
    const size_t body = width - width % 8;
    for (size_t i = 0; i < rows; i += SN_COL_STREAM_ROWS) {
        const float *block = x + (ptrdiff_t)i * stride;
        size_t count = rows - i < SN_COL_STREAM_ROWS ? rows - i : SN_COL_STREAM_ROWS;
        if (i + SN_COL_STREAM_ROWS < rows)
            col_strip(block, stride, count, body, shift, center, sum_dev, sum_sq, 1);
        else
            col_strip(block, stride, count, body, shift, center, sum_dev, sum_sq, 0);
    }
    /* The last width % 8 columns: the reference kernel (the same blocks of rows). */
    if (body < width)
        sn_col_deviation_sums_f32_scalar(x + body, stride, rows, width - body, shift + body,
                                         center + body, sum_dev + body, sum_sq + body);
}
