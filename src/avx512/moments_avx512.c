/* AVX-512 moments kernels: the scalar algorithm (moments_scalar.c) on 16 lanes.
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

/* Pass 2 (run at most twice) is inlined: across a call GCC keeps vector
 * values in zmm16-31 and then drops the vzeroupper on return, which slows the
 * caller's SSE code by tens of nanoseconds a call. */
#define SN_INLINE static inline __attribute__((always_inline))

/* Row pass 2: four accumulators per kind, SN_PASS2_TERMS vectors each per chunk. */
#define ROW_CHUNK (4 * 16 * SN_PASS2_TERMS)

/* The first `count` lanes (count <= 16). */
static inline __mmask16 lane_mask(size_t count)
{
    return _cvtu32_mask16((1u << count) - 1u);
}

/* (x - C) * scale, C = sn_pass2_center(K, center) (k + c, as the scalar code
 * rounds it): the difference rounded in float, then scaled exactly (a power
 * of 2; a constant 1 folds away). */
static inline __m512 deviation(__m512 v, __m512 kc, __m512 scale)
{
    return _mm512_mul_ps(_mm512_sub_ps(v, kc), scale);
}

static inline void add_dev(__m512 dev, __m512 *sum_dev, __m512 *sum_sq)
{
    *sum_dev = _mm512_add_ps(*sum_dev, dev);
    *sum_sq = _mm512_fmadd_ps(dev, dev, *sum_sq);
}

/* 1.0 in every lane, hidden from the compiler, which would otherwise fold
 * a multiply-add by it back into an add (add_dev_fma). */
static inline __m512 opaque_one(void)
{
    __m512 one = _mm512_set1_ps(1.0f);
    __asm__("" : "+v"(one));
    return one;
}

/* add_dev with the sum taken on the multiply-add pipes: dev * 1 + sum rounds
 * once, exactly as dev + sum does. `one` is opaque_one(). */
static inline void add_dev_fma(__m512 dev, __m512 one, __m512 *sum_dev, __m512 *sum_sq)
{
    *sum_dev = _mm512_fmadd_ps(dev, one, *sum_dev);
    *sum_sq = _mm512_fmadd_ps(dev, dev, *sum_sq);
}

/* Widen 16 float partial sums and add them to a double total. */
static inline __m512d widen_add(__m512 v, __m512d total)
{
    total = _mm512_add_pd(total, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    return _mm512_add_pd(total, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
}

static inline __m512 sum4(const __m512 *v)
{
    return _mm512_add_ps(_mm512_add_ps(v[0], v[1]), _mm512_add_ps(v[2], v[3]));
}

/* Pass 2 of a row block with deviations multiplied by `scale`: four
 * accumulators per kind over whole chunks of 64-element steps, then the last
 * n % 64 elements (up to 3 vectors and the masked tail) in a partial of their own. */
SN_INLINE void row_sums(const float *x, size_t n, __m512 k, __m512 c, float scale,
                        double *sum_dev, double *sum_sq)
{
    const __mmask16 tail = lane_mask(n % 16);
    const size_t body = n - n % 16, steps = n - n % 64;
    const __m512 s = _mm512_set1_ps(scale), kc = _mm512_add_ps(k, c);
    const __m512 one = opaque_one();
    __m512d dev_total = _mm512_setzero_pd(), sq_total = _mm512_setzero_pd();
    size_t i = 0;
    while (i < steps) {
        size_t end = steps - i < ROW_CHUNK ? steps : i + ROW_CHUNK;
        __m512 d[4], q[4];
        for (int u = 0; u < 4; u++)
            d[u] = q[u] = _mm512_setzero_ps();
        for (; i < end; i += 64) {
            for (int u = 0; u < 4; u += 2) {
                add_dev(deviation(_mm512_loadu_ps(x + i + 16 * u), kc, s), d + u, q + u);
                add_dev_fma(deviation(_mm512_loadu_ps(x + i + 16 * u + 16), kc, s), one, d + u + 1,
                            q + u + 1);
            }
        }
        dev_total = widen_add(sum4(d), dev_total);
        sq_total = widen_add(sum4(q), sq_total);
    }
    /* Skipped where there are none: the partial of no elements is zeros, which
     * would add nothing to the (never -0) totals but latency to their chain. */
    if (i < n) {
        __m512 d = _mm512_setzero_ps(), q = _mm512_setzero_ps();
        for (; i < body; i += 16)
            add_dev(deviation(_mm512_loadu_ps(x + i), kc, s), &d, &q);
        if (body < n) {
            /* Masked-off lanes must add 0, not ((0 - K) - center) * scale. */
            __m512 dev = deviation(_mm512_maskz_loadu_ps(tail, x + body), kc, s);
            add_dev(_mm512_maskz_mov_ps(tail, dev), &d, &q);
        }
        dev_total = widen_add(d, dev_total);
        sq_total = widen_add(q, sq_total);
    }
    *sum_dev = _mm512_reduce_add_pd(dev_total);
    *sum_sq = _mm512_reduce_add_pd(sq_total);
}

/* Pass 1: the provisional center (of a prefix, or of the whole block). */
SN_INLINE float row_center(const float *x, size_t n, float shift)
{
    const __m512 k = _mm512_set1_ps(shift);
    const __mmask16 tail = lane_mask(n % 16);
    const size_t body = n - n % 16;

    /* Four accumulators hide the latency of the adds. */
    __m512 acc[4] = { _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                      _mm512_setzero_ps() };
    const __m512 one = opaque_one();
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int u = 0; u < 4; u += 2) {
            acc[u] = _mm512_add_ps(acc[u], _mm512_sub_ps(_mm512_loadu_ps(x + i + 16 * u), k));
            acc[u + 1] = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16 * u + 16), k),
                                         one, acc[u + 1]);
        }
    for (; i < body; i += 16)
        acc[0] = _mm512_add_ps(acc[0], _mm512_sub_ps(_mm512_loadu_ps(x + i), k));
    if (body < n) {
        /* Masked-off lanes must add 0, not 0 - K. */
        __m512 last = _mm512_maskz_sub_ps(tail, _mm512_maskz_loadu_ps(tail, x + body), k);
        acc[1] = _mm512_add_ps(acc[1], last);
    }
    float sum = _mm512_reduce_add_ps(sum4(acc));
    return (float)((double)sum / (double)n);
}

/* Two-pass fallback, pass 2 (again with scaled deviations when the squares
 * underflowed) and the corrected moments. */
SN_INLINE sn_moments row_finish(const float *x, size_t n, float shift, float center)
{
    const __m512 k = _mm512_set1_ps(shift), c = _mm512_set1_ps(center);
    double sum_dev, sum_sq;
    row_sums(x, n, k, c, 1.0f, &sum_dev, &sum_sq);
    if (sum_sq * SN_PASS2_RESCALE < (double)n) {
        row_sums(x, n, k, c, SN_PASS2_RESCALE, &sum_dev, &sum_sq);
        sum_dev /= SN_PASS2_RESCALE;
        sum_sq /= (double)SN_PASS2_RESCALE * SN_PASS2_RESCALE;
    }
    return sn_moments_from_sums((double)n, shift, center, sum_dev, sum_sq);
}

/* d = x - K in float, widened: its 16 lanes added to s1[0..1] and their
 * squares to s2[0..1] (exact products, double accumulation). */
static inline void add_power(__m512 d, __m512d *s1, __m512d *s2)
{
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(d));
    __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(d, 1));
    s1[0] = _mm512_add_pd(s1[0], lo);
    s1[1] = _mm512_add_pd(s1[1], hi);
    s2[0] = _mm512_fmadd_pd(lo, lo, s2[0]);
    s2[1] = _mm512_fmadd_pd(hi, hi, s2[1]);
}

/* The one pass over memory (sn_moments_from_power_sums): two vectors a step,
 * each with its own accumulators. */
SN_INLINE void row_power_sums(const float *x, size_t n, float shift, double *sum1, double *sum2)
{
    const __m512 k = _mm512_set1_ps(shift);
    const __mmask16 tail = lane_mask(n % 16);
    const size_t body = n - n % 16;
    __m512d s1[4], s2[4];
    for (int u = 0; u < 4; u++)
        s1[u] = s2[u] = _mm512_setzero_pd();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        add_power(_mm512_sub_ps(_mm512_loadu_ps(x + i), k), s1, s2);
        add_power(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), k), s1 + 2, s2 + 2);
    }
    for (; i < body; i += 16)
        add_power(_mm512_sub_ps(_mm512_loadu_ps(x + i), k), s1, s2);
    if (body < n) /* Masked-off lanes must add 0, not 0 - K. */
        add_power(_mm512_maskz_sub_ps(tail, _mm512_maskz_loadu_ps(tail, x + body), k), s1 + 2,
                  s2 + 2);
    *sum1 = _mm512_reduce_add_pd(
        _mm512_add_pd(_mm512_add_pd(s1[0], s1[1]), _mm512_add_pd(s1[2], s1[3])));
    *sum2 = _mm512_reduce_add_pd(
        _mm512_add_pd(_mm512_add_pd(s2[0], s2[1]), _mm512_add_pd(s2[2], s2[3])));
}

SN_INLINE void row_deviation_sums(const float *x, size_t n, float shift, float center,
                                  double *sum_dev, double *sum_sq)
{
    row_sums(x, n, _mm512_set1_ps(shift), _mm512_set1_ps(center), 1.0f, sum_dev, sum_sq);
}

SN_DEFINE_ROW_MOMENTS(avx512)
SN_DEFINE_ROWS_NORM(avx512)

/* Pass 2 of 16 columns, column j's deviations multiplied by scale[j]: row
 * pairs go to two accumulators per kind, SN_PASS2_TERMS pairs per chunk. */
SN_INLINE void column_sums(const float *x, ptrdiff_t stride, size_t rows, __mmask16 mask,
                           __m512 k, __m512 c, __m512 s, double *sum_dev, double *sum_sq)
{
    const __m512 kc = _mm512_add_ps(k, c);
    __m512d dev_lo = _mm512_setzero_pd(), dev_hi = dev_lo, sq_lo = dev_lo, sq_hi = dev_lo;
    size_t i = 0;
    while (i < rows) {
        size_t end = rows - i < 2 * SN_PASS2_TERMS ? rows : i + 2 * SN_PASS2_TERMS;
        __m512 d[2] = { _mm512_setzero_ps(), _mm512_setzero_ps() }, q[2] = { d[0], d[1] };
        for (; i + 2 <= end; i += 2) {
            const float *row = x + (ptrdiff_t)i * stride;
            __m512 v0 = _mm512_maskz_loadu_ps(mask, row);
            __m512 v1 = _mm512_maskz_loadu_ps(mask, row + stride);
            add_dev(deviation(v0, kc, s), d, q);
            add_dev(deviation(v1, kc, s), d + 1, q + 1);
        }
        if (i < end) {
            __m512 v = _mm512_maskz_loadu_ps(mask, x + (ptrdiff_t)i * stride);
            add_dev(deviation(v, kc, s), d, q);
            i++;
        }
        __m512 dev = _mm512_add_ps(d[0], d[1]), sq = _mm512_add_ps(q[0], q[1]);
        dev_lo = _mm512_add_pd(dev_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(dev)));
        dev_hi = _mm512_add_pd(dev_hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(dev, 1)));
        sq_lo = _mm512_add_pd(sq_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(sq)));
        sq_hi = _mm512_add_pd(sq_hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(sq, 1)));
    }
    _mm512_storeu_pd(sum_dev, dev_lo);
    _mm512_storeu_pd(sum_dev + 8, dev_hi);
    _mm512_storeu_pd(sum_sq, sq_lo);
    _mm512_storeu_pd(sum_sq + 8, sq_hi);
}

/* Two-pass moments of up to 16 adjacent columns, `count` of them valid.
 * Masked-off columns load 0 for both x and the shift, so they sum to 0 and are
 * not written. Rows go in pairs, each with
 * its own sums, to hide add latency. */
static void col_moments16(const float *x, ptrdiff_t stride, size_t rows, size_t count,
                          const float *shift, sn_moments *out)
{
    const __mmask16 mask = lane_mask(count);
    const __m512 k = _mm512_maskz_loadu_ps(mask, shift);
    size_t i;

    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (i = 0; i + 2 <= rows; i += 2) {
        const float *row = x + (ptrdiff_t)i * stride;
        acc0 = _mm512_add_ps(acc0, _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, row), k));
        acc1 = _mm512_add_ps(acc1, _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, row + stride), k));
    }
    if (i < rows) {
        __m512 v = _mm512_maskz_loadu_ps(mask, x + (ptrdiff_t)i * stride);
        acc0 = _mm512_add_ps(acc0, _mm512_sub_ps(v, k));
    }
    /* The scalar rounding per column: float sum, divided in double, to float. */
    __m512 sum = _mm512_add_ps(acc0, acc1);
    __m512d n = _mm512_set1_pd((double)rows);
    __m512d c_lo = _mm512_div_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(sum)), n);
    __m512d c_hi = _mm512_div_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(sum, 1)), n);
    __m512 c = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(c_lo)),
                                  _mm512_cvtpd_ps(c_hi), 1);

    double dev_total[16], sq_total[16];
    column_sums(x, stride, rows, mask, k, c, _mm512_set1_ps(1.0f), dev_total, sq_total);
    /* Columns whose squares underflowed go again with scaled deviations; the
     * others keep scale 1 and get the same sums again. */
    float scale[16];
    int rescale = 0;
    for (size_t j = 0; j < 16; j++) {
        int tiny = j < count && sq_total[j] * SN_PASS2_RESCALE < (double)rows;
        scale[j] = tiny ? SN_PASS2_RESCALE : 1.0f;
        rescale |= tiny;
    }
    if (rescale) {
        column_sums(x, stride, rows, mask, k, c, _mm512_loadu_ps(scale), dev_total, sq_total);
        for (size_t j = 0; j < count; j++) {
            dev_total[j] /= scale[j];
            sq_total[j] /= (double)scale[j] * scale[j];
        }
    }

    float center[16];
    _mm512_storeu_ps(center, c);
    for (size_t j = 0; j < count; j++)
        out[j] = sn_moments_from_sums((double)rows, shift[j], center[j], dev_total[j],
                                      sq_total[j]);
}

void sn_col_moments_f32_avx512(const float *x, ptrdiff_t stride, size_t rows, size_t width,
                               const float *shift, sn_moments *out)
{
    for (size_t j = 0; j < width; j += 16)
        col_moments16(x + j, stride, rows, width - j < 16 ? width - j : 16, shift + j, out + j);
}

/* The 16 columns at j (the lanes of `mask`) of `rows` rows (at most
 * SN_PASS2_TERMS): deviations and squares in float registers, then added to
 * the double sums. With `ahead`, each row's line of the same columns
 * SN_COL_STREAM_ROWS rows on is prefetched into L2: the next strip of the
 * walk. Not into L1: a strip of 16 rows of 512 lanes is as large as L1, and
 * lines fetched a strip ahead were evicted before their turn (batch norm
 * training BTF, per-call pairs against L1 prefetches: [32,200,512] 0.92 of
 * the time at 1 and 2 threads, [64,400,512] 0.82 at 1 thread; AVX2 likewise
 * 0.92, 0.95 and 0.86). */
SN_INLINE void col_deviations16(const float *x, ptrdiff_t stride, size_t rows,
                                const float *shift, const float *center, size_t j,
                                __mmask16 mask, double *sum_dev, double *sum_sq, int ahead)
{
    const __m512 kc = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, shift + j),
                                    _mm512_maskz_loadu_ps(mask, center + j));
    const __m512 unit = _mm512_set1_ps(1.0f);
    __m512 d = _mm512_setzero_ps(), q = _mm512_setzero_ps();
    for (size_t i = 0; i < rows; i++) {
        const float *at = x + (ptrdiff_t)i * stride + j;
        if (ahead)
            _mm_prefetch((const char *)(at + SN_COL_STREAM_ROWS * stride), _MM_HINT_T1);
        add_dev(deviation(_mm512_maskz_loadu_ps(mask, at), kc, unit), &d, &q);
    }
    __mmask8 lo = (__mmask8)mask, hi = (__mmask8)(mask >> 8);
    __m512d d_lo = _mm512_cvtps_pd(_mm512_castps512_ps256(d));
    __m512d d_hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(d, 1));
    __m512d q_lo = _mm512_cvtps_pd(_mm512_castps512_ps256(q));
    __m512d q_hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(q, 1));
    _mm512_mask_storeu_pd(sum_dev + j, lo,
                          _mm512_add_pd(_mm512_maskz_loadu_pd(lo, sum_dev + j), d_lo));
    _mm512_mask_storeu_pd(sum_dev + j + 8, hi,
                          _mm512_add_pd(_mm512_maskz_loadu_pd(hi, sum_dev + j + 8), d_hi));
    _mm512_mask_storeu_pd(sum_sq + j, lo,
                          _mm512_add_pd(_mm512_maskz_loadu_pd(lo, sum_sq + j), q_lo));
    _mm512_mask_storeu_pd(sum_sq + j + 8, hi,
                          _mm512_add_pd(_mm512_maskz_loadu_pd(hi, sum_sq + j + 8), q_hi));
}

/* The strips of SN_COL_STREAM_ROWS rows; all but the last prefetch the
 * next (from memory, the walk's streams of rows a strip apart outrun the
 * hardware prefetchers: with strips of 8 rows, batch norm training BTF at 2
 * threads 70-82 -> 81-87 GB/s). A call of one strip (a step of the pipelined panels) prefetches
 * nothing: prefetching the next strip there too measured no faster (norm T
 * [32,200,512], 1 thread). */
SN_INLINE void col_strip(const float *block, ptrdiff_t stride, size_t count, size_t width,
                         const float *shift, const float *center, double *sum_dev,
                         double *sum_sq, int ahead)
{
    const size_t body = width - width % 16;
    const __mmask16 all = lane_mask(16), tail = lane_mask(width % 16);
    for (size_t j = 0; j < body; j += 16)
        col_deviations16(block, stride, count, shift, center, j, all, sum_dev, sum_sq, ahead);
    if (body < width)
        col_deviations16(block, stride, count, shift, center, body, tail, sum_dev, sum_sq, ahead);
}

void sn_col_deviation_sums_f32_avx512(const float *x, ptrdiff_t stride, size_t rows,
                                      size_t width, const float *shift, const float *center,
                                      double *sum_dev, double *sum_sq)
{
    for (size_t i = 0; i < rows; i += SN_COL_STREAM_ROWS) {
        const float *block = x + (ptrdiff_t)i * stride;
        size_t count = rows - i < SN_COL_STREAM_ROWS ? rows - i : SN_COL_STREAM_ROWS;
        if (i + SN_COL_STREAM_ROWS < rows)
            col_strip(block, stride, count, width, shift, center, sum_dev, sum_sq, 1);
        else
            col_strip(block, stride, count, width, shift, center, sum_dev, sum_sq, 0);
    }
}
