/* AVX2 normalization kernels: ((x - K) - mean) * rstd, then the affine step,
 * with the same roundings as normalize_scalar.c except that scale and bias
 * together are one fused multiply-add. */
#include <immintrin.h>
#include <stdint.h>

#include "../kernels.h"

/* The loops below are written once for every scale/bias combination and both
 * parameter layouts; forcing them inline with constant NULLs and flags
 * compiles the tests out of the loops. */
#define SN_INLINE static inline __attribute__((always_inline))

/* Which of scale and bias a loop applies: bit flags. */
enum { AFFINE_NONE = 0, AFFINE_SCALE = 1, AFFINE_BIAS = 2, AFFINE_BOTH = 3 };

/* All-ones in the first `count` lanes (count <= 8). */
static inline __m256i lane_mask(size_t count)
{
    const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), index);
}

static inline __m256 standardize(__m256 v, __m256 shift, __m256 mean, __m256 rstd)
{
    return _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(v, shift), mean), rstd);
}

SN_INLINE __m256 affine(__m256 t, __m256 scale, __m256 bias, int kind)
{
    switch (kind) {
    case AFFINE_SCALE: return _mm256_mul_ps(t, scale);
    case AFFINE_BIAS: return _mm256_add_ps(t, bias);
    case AFFINE_BOTH: return _mm256_fmadd_ps(t, scale, bias);
    default: return t;
    }
}

/* The parameter vector at p + i: loaded when it varies along the lanes
 * (per_lane), else the broadcast `same`; zero when `kind` lacks `which`
 * (p is then NULL and not touched). */
SN_INLINE __m256 param8(const float *p, size_t i, __m256 same, int kind, int which,
                        int per_lane)
{
    if (!(kind & which))
        return _mm256_setzero_ps();
    return per_lane ? _mm256_loadu_ps(p + i) : same;
}

SN_INLINE __m256 param_masked(const float *p, size_t i, __m256i mask, __m256 same, int kind,
                              int which, int per_lane)
{
    if (!(kind & which))
        return _mm256_setzero_ps();
    return per_lane ? _mm256_maskload_ps(p + i, mask) : same;
}

/* Normalize 8 elements at offset i of a row; with per_lane, scale and bias are
 * indexed like x, else s and b hold their broadcast values. With stream, a
 * non-temporal store: y + i must then be 32-byte aligned. */
SN_INLINE void row8(const float *x, float *y, size_t i, __m256 k, __m256 m, __m256 r,
                    const float *scale, const float *bias, __m256 s, __m256 b, int kind,
                    int per_lane, int stream)
{
    s = param8(scale, i, s, kind, AFFINE_SCALE, per_lane);
    b = param8(bias, i, b, kind, AFFINE_BIAS, per_lane);
    __m256 v = affine(standardize(_mm256_loadu_ps(x + i), k, m, r), s, b, kind);
    if (stream)
        _mm256_stream_ps(y + i, v);
    else
        _mm256_storeu_ps(y + i, v);
}

/* The same for the lanes of `mask` only. */
SN_INLINE void row_masked(const float *x, float *y, size_t i, __m256i mask, __m256 k, __m256 m,
                          __m256 r, const float *scale, const float *bias, __m256 s, __m256 b,
                          int kind, int per_lane)
{
    s = param_masked(scale, i, mask, s, kind, AFFINE_SCALE, per_lane);
    b = param_masked(bias, i, mask, b, kind, AFFINE_BIAS, per_lane);
    __m256 t = standardize(_mm256_maskload_ps(x + i, mask), k, m, r);
    _mm256_maskstore_ps(y + i, mask, affine(t, s, b, kind));
}

SN_INLINE void row_normalize(const float *x, float *y, size_t n, float shift, float mean,
                             float rstd, const float *scale, const float *bias, int kind,
                             int per_lane, int stream)
{
    const __m256 k = _mm256_set1_ps(shift), m = _mm256_set1_ps(mean), r = _mm256_set1_ps(rstd);
    /* One scale and bias for the whole run: broadcast once, here. */
    const __m256 s = !per_lane && kind & AFFINE_SCALE ? _mm256_broadcast_ss(scale)
                                                      : _mm256_setzero_ps();
    const __m256 b = !per_lane && kind & AFFINE_BIAS ? _mm256_broadcast_ss(bias)
                                                     : _mm256_setzero_ps();
    size_t i = 0;
    /* A masked head aligns the stores to 32 bytes, so that no vector splits a
     * cache line (a split store costs twice); with y == x the loads are aligned too.
     * The full vectors after it are aligned, as streaming stores need (a head
     * of n or more elements leaves no full vector); head and tail keep plain
     * masked stores. */
    size_t head = ((32 - (uintptr_t)y % 32) % 32) / sizeof(float);
    if (head && head < n) {
        row_masked(x, y, 0, lane_mask(head), k, m, r, scale, bias, s, b, kind, per_lane);
        i = head;
    }
    for (; i + 32 <= n; i += 32) {
        row8(x, y, i, k, m, r, scale, bias, s, b, kind, per_lane, stream);
        row8(x, y, i + 8, k, m, r, scale, bias, s, b, kind, per_lane, stream);
        row8(x, y, i + 16, k, m, r, scale, bias, s, b, kind, per_lane, stream);
        row8(x, y, i + 24, k, m, r, scale, bias, s, b, kind, per_lane, stream);
    }
    for (; i + 8 <= n; i += 8)
        row8(x, y, i, k, m, r, scale, bias, s, b, kind, per_lane, stream);
    if (i < n)
        row_masked(x, y, i, lane_mask(n - i), k, m, r, scale, bias, s, b, kind, per_lane);
}

/* The four scale/bias combinations for one parameter layout. */
SN_INLINE void row_affine(const float *x, float *y, size_t n, float shift, float mean,
                          float rstd, const float *scale, const float *bias, int per_lane,
                          int stream)
{
    if (scale && bias)
        row_normalize(x, y, n, shift, mean, rstd, scale, bias, AFFINE_BOTH, per_lane, stream);
    else if (scale)
        row_normalize(x, y, n, shift, mean, rstd, scale, NULL, AFFINE_SCALE, per_lane, stream);
    else if (bias)
        row_normalize(x, y, n, shift, mean, rstd, NULL, bias, AFFINE_BIAS, per_lane, stream);
    else
        row_normalize(x, y, n, shift, mean, rstd, NULL, NULL, AFFINE_NONE, per_lane, stream);
}

/* Plain or streaming stores: each a loop of its own (stream is a constant). */
SN_INLINE void row_store(const float *x, float *y, size_t n, float shift, float mean,
                         float rstd, const float *scale, const float *bias, int per_lane,
                         int stream)
{
    if (stream)
        row_affine(x, y, n, shift, mean, rstd, scale, bias, per_lane, 1);
    else
        row_affine(x, y, n, shift, mean, rstd, scale, bias, per_lane, 0);
}

/* The two parameter layouts are separate functions, so that the per-element
 * one compiles exactly as it would alone (no extra register or stack setup). */
static __attribute__((noinline)) void row_per_lane(const float *x, float *y, size_t n,
                                                   float shift, float mean, float rstd,
                                                   const float *scale, const float *bias,
                                                   int stream)
{
    row_store(x, y, n, shift, mean, rstd, scale, bias, 1, stream);
}

static __attribute__((noinline)) void row_broadcast(const float *x, float *y, size_t n,
                                                    float shift, float mean, float rstd,
                                                    const float *scale, const float *bias,
                                                    int stream)
{
    if (n > 0) /* the broadcast reads scale[0] and bias[0] */
        row_store(x, y, n, shift, mean, rstd, scale, bias, 0, stream);
}

void sn_store_fence_avx2(void)
{
    _mm_sfence();
}

/* With stream, the caller fences (sn_store_fence_avx2) before y is read. */
void sn_row_normalize_f32_avx2(const float *x, float *y, size_t n, float shift, float mean,
                               float rstd, const float *scale, const float *bias,
                               ptrdiff_t param_step, int stream)
{
    if (param_step)
        row_per_lane(x, y, n, shift, mean, rstd, scale, bias, stream);
    else
        row_broadcast(x, y, n, shift, mean, rstd, scale, bias, stream);
}

SN_DEFINE_ROWS_NORMALIZE_BY_ROW(avx2)

/* One panel row: per-column constants; scale and bias either loaded along the
 * lanes from srow and brow (per_lane) or the broadcast s and b. */
SN_INLINE void col_row(const float *x, float *y, size_t width, const float *shift,
                       const float *mean, const float *rstd, const float *srow,
                       const float *brow, __m256 s, __m256 b, int kind, int per_lane,
                       int stream)
{
    /* Streaming stores need 32-byte alignment: rows that lack it store plainly. */
    const int streamed = stream && (uintptr_t)y % 32 == 0;
    size_t j = 0;
    for (; j + 8 <= width; j += 8) {
        __m256 t = standardize(_mm256_loadu_ps(x + j), _mm256_loadu_ps(shift + j),
                               _mm256_loadu_ps(mean + j), _mm256_loadu_ps(rstd + j));
        __m256 v = affine(t, param8(srow, j, s, kind, AFFINE_SCALE, per_lane),
                          param8(brow, j, b, kind, AFFINE_BIAS, per_lane), kind);
        if (streamed)
            _mm256_stream_ps(y + j, v);
        else
            _mm256_storeu_ps(y + j, v);
    }
    if (j < width) {
        const __m256i tail = lane_mask(width - j);
        __m256 t = standardize(_mm256_maskload_ps(x + j, tail), _mm256_maskload_ps(shift + j, tail),
                               _mm256_maskload_ps(mean + j, tail),
                               _mm256_maskload_ps(rstd + j, tail));
        _mm256_maskstore_ps(
            y + j, tail,
            affine(t, param_masked(srow, j, tail, s, kind, AFFINE_SCALE, per_lane),
                   param_masked(brow, j, tail, b, kind, AFFINE_BIAS, per_lane), kind));
    }
}

SN_INLINE void col_normalize(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                             size_t rows, size_t width, const float *shift, const float *mean,
                             const float *rstd, const float *scale, const float *bias,
                             ptrdiff_t row_step, int kind, int per_lane, int stream)
{
    const __m256 none = _mm256_setzero_ps();
    /* The offsets advance by addition: no multiplies in the row loop. */
    ptrdiff_t xo = 0, yo = 0, p = 0;
    for (size_t i = 0; i < rows; i++, xo += x_stride, yo += y_stride, p += row_step) {
        const float *srow = kind & AFFINE_SCALE ? scale + p : NULL;
        const float *brow = kind & AFFINE_BIAS ? bias + p : NULL;
        __m256 s = !per_lane && kind & AFFINE_SCALE ? _mm256_broadcast_ss(srow) : none;
        __m256 b = !per_lane && kind & AFFINE_BIAS ? _mm256_broadcast_ss(brow) : none;
        col_row(x + xo, y + yo, width, shift, mean, rstd, srow, brow, s, b, kind, per_lane,
                stream);
    }
}

/* The four scale/bias combinations for one parameter layout. */
SN_INLINE void col_affine(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                          size_t rows, size_t width, const float *shift, const float *mean,
                          const float *rstd, const float *scale, const float *bias,
                          ptrdiff_t row_step, int per_lane, int stream)
{
    if (scale && bias)
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias,
                      row_step, AFFINE_BOTH, per_lane, stream);
    else if (scale)
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, NULL,
                      row_step, AFFINE_SCALE, per_lane, stream);
    else if (bias)
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, NULL, bias,
                      row_step, AFFINE_BIAS, per_lane, stream);
    else
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, NULL, NULL,
                      row_step, AFFINE_NONE, per_lane, stream);
}

/* As for the rows: one function per parameter layout. */
static __attribute__((noinline)) void col_per_lane(const float *x, ptrdiff_t x_stride, float *y,
                                                   ptrdiff_t y_stride, size_t rows,
                                                   size_t width, const float *shift,
                                                   const float *mean, const float *rstd,
                                                   const float *scale, const float *bias,
                                                   ptrdiff_t row_step, int stream)
{
    col_affine(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias, row_step,
                1, stream);
}

static __attribute__((noinline)) void col_broadcast(const float *x, ptrdiff_t x_stride,
                                                    float *y, ptrdiff_t y_stride, size_t rows,
                                                    size_t width, const float *shift,
                                                    const float *mean, const float *rstd,
                                                    const float *scale, const float *bias,
                                                    ptrdiff_t row_step, int stream)
{
    if (width > 0) /* no parameter is read for an empty panel */
        col_affine(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias,
                   row_step, 0, stream);
}

void sn_col_normalize_f32_avx2(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                               size_t rows, size_t width, const float *shift, const float *mean,
                               const float *rstd, const float *scale, const float *bias,
                               ptrdiff_t param_row_step, ptrdiff_t param_col_step, int stream)
{
    if (param_col_step)
        col_per_lane(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias,
                     param_row_step, stream);
    else
        col_broadcast(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias,
                      param_row_step, stream);
}

void sn_col_scale_shift_f32_avx2(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                                 size_t rows, size_t width, const float *center, const float *a,
                                 const float *b, int stream, const float *ahead)
{
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + (ptrdiff_t)i * x_stride;
        float *yr = y + (ptrdiff_t)i * y_stride;
        const float *ar = ahead ? ahead + (ptrdiff_t)i * x_stride : NULL;
        /* Streaming stores need 32-byte alignment: rows that lack it store plainly. */
        const int streamed = stream && (uintptr_t)yr % 32 == 0;
        size_t j = 0;
        for (; j + 8 <= width; j += 8) {
            if (ar && j % 16 == 0) /* a line of the row ahead, into L2 */
                _mm_prefetch((const char *)(ar + j), _MM_HINT_T1);
            __m256 v = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j),
                                                     _mm256_loadu_ps(center + j)),
                                       _mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j));
            if (streamed)
                _mm256_stream_ps(yr + j, v);
            else
                _mm256_storeu_ps(yr + j, v);
        }
        if (j < width) {
            if (ar)
                _mm_prefetch((const char *)(ar + j), _MM_HINT_T1);
            const __m256i tail = lane_mask(width - j);
            __m256 v = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + j, tail),
                                                     _mm256_maskload_ps(center + j, tail)),
                                       _mm256_maskload_ps(a + j, tail),
                                       _mm256_maskload_ps(b + j, tail));
            _mm256_maskstore_ps(yr + j, tail, v);
        }
    }
}
