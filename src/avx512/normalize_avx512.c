/* AVX-512 normalization kernels: ((x - K) - mean) * rstd, then the affine step,
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

/* The first `count` lanes (count <= 16). */
static inline __mmask16 lane_mask(size_t count)
{
    return _cvtu32_mask16((1u << count) - 1u);
}

static inline __m512 standardize(__m512 v, __m512 shift, __m512 mean, __m512 rstd)
{
    return _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(v, shift), mean), rstd);
}

SN_INLINE __m512 affine(__m512 t, __m512 scale, __m512 bias, int kind)
{
    switch (kind) {
    case AFFINE_SCALE: return _mm512_mul_ps(t, scale);
    case AFFINE_BIAS: return _mm512_add_ps(t, bias);
    case AFFINE_BOTH: return _mm512_fmadd_ps(t, scale, bias);
    default: return t;
    }
}

/* The parameter vector at p + i, lanes of `mask`: loaded when it varies along
 * the lanes (per_lane), else the broadcast `same`; zero when `kind` lacks
 * `which` (p is then NULL and not touched). */
SN_INLINE __m512 param16(const float *p, size_t i, __mmask16 mask, __m512 same, int kind,
                         int which, int per_lane)
{
    if (!(kind & which))
        return _mm512_setzero_ps();
    return per_lane ? _mm512_maskz_loadu_ps(mask, p + i) : same;
}

/* Normalize 16 elements at offset i of a row; with per_lane, scale and bias
 * are indexed like x, else s and b hold their broadcast values. With stream,
 * a non-temporal store: y + i must then be 64-byte aligned. */
SN_INLINE void row16(const float *x, float *y, size_t i, __m512 k, __m512 m, __m512 r,
                     const float *scale, const float *bias, __m512 s, __m512 b, int kind,
                     int per_lane, int stream)
{
    if (per_lane) {
        s = kind & AFFINE_SCALE ? _mm512_loadu_ps(scale + i) : _mm512_setzero_ps();
        b = kind & AFFINE_BIAS ? _mm512_loadu_ps(bias + i) : _mm512_setzero_ps();
    }
    __m512 v = affine(standardize(_mm512_loadu_ps(x + i), k, m, r), s, b, kind);
    if (stream)
        _mm512_stream_ps(y + i, v);
    else
        _mm512_storeu_ps(y + i, v);
}

/* The same for the lanes of `mask` only. */
SN_INLINE void row_masked(const float *x, float *y, size_t i, __mmask16 mask, __m512 k, __m512 m,
                          __m512 r, const float *scale, const float *bias, __m512 s, __m512 b,
                          int kind, int per_lane)
{
    s = param16(scale, i, mask, s, kind, AFFINE_SCALE, per_lane);
    b = param16(bias, i, mask, b, kind, AFFINE_BIAS, per_lane);
    __m512 t = standardize(_mm512_maskz_loadu_ps(mask, x + i), k, m, r);
    _mm512_mask_storeu_ps(y + i, mask, affine(t, s, b, kind));
}

SN_INLINE void row_normalize(const float *x, float *y, size_t n, float shift, float mean,
                             float rstd, const float *scale, const float *bias, int kind,
                             int per_lane, int stream)
{
    const __m512 k = _mm512_set1_ps(shift), m = _mm512_set1_ps(mean), r = _mm512_set1_ps(rstd);
    /* One scale and bias for the whole run: broadcast once, here. */
    const __m512 s = !per_lane && kind & AFFINE_SCALE ? _mm512_set1_ps(*scale)
                                                      : _mm512_setzero_ps();
    const __m512 b = !per_lane && kind & AFFINE_BIAS ? _mm512_set1_ps(*bias)
                                                     : _mm512_setzero_ps();
    size_t i = 0;
    /* A masked head aligns the stores to the cache line: a line-splitting
     * store costs twice, and with y == x the loads are aligned too. The
     * full vectors after it are aligned, as streaming stores need (a head
     * of n or more elements leaves no full vector); head and tail, partial
     * lines, keep plain masked stores. */
    size_t head = ((64 - (uintptr_t)y % 64) % 64) / sizeof(float);
    if (head && head < n) {
        row_masked(x, y, 0, lane_mask(head), k, m, r, scale, bias, s, b, kind, per_lane);
        i = head;
    }
    for (; i + 64 <= n; i += 64) {
        row16(x, y, i, k, m, r, scale, bias, s, b, kind, per_lane, stream);
        row16(x, y, i + 16, k, m, r, scale, bias, s, b, kind, per_lane, stream);
        row16(x, y, i + 32, k, m, r, scale, bias, s, b, kind, per_lane, stream);
        row16(x, y, i + 48, k, m, r, scale, bias, s, b, kind, per_lane, stream);
    }
    for (; i + 16 <= n; i += 16)
        row16(x, y, i, k, m, r, scale, bias, s, b, kind, per_lane, stream);
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

void sn_store_fence_avx512(void)
{
    _mm_sfence();
}

/* With stream, the caller fences (sn_store_fence_avx512) before y is read. */
void sn_row_normalize_f32_avx512(const float *x, float *y, size_t n, float shift, float mean,
                                 float rstd, const float *scale, const float *bias,
                                 ptrdiff_t param_step, int stream)
{
    if (param_step)
        row_per_lane(x, y, n, shift, mean, rstd, scale, bias, stream);
    else
        row_broadcast(x, y, n, shift, mean, rstd, scale, bias, stream);
}

/* Rows normalized together, ROWS of them (a constant where inlined, so
 * that each row's constants stay in registers): each vector of scale and
 * bias is loaded once for all the rows, then each row's vector standardized
 * and scaled exactly as row16 does. Rows of whole vectors starting on a
 * cache line (stores, plain or streamed, to whole lines; the caller checks).
 * The rows' vectors are all loaded before any is stored: rows 2 or 4 KiB
 * apart (512, 1024, 2048... floats), with x and y at the same offset in their
 * pages as large allocations are, put a load of one row at the 4 KiB offset
 * of the store to the row before, and a load that follows such a store waits
 * for it (4K aliasing: in cache, [64,1024] 229-271 -> 167 ns a row, [32,2048]
 * 388-442 -> 350, [16,4096] 740 -> 635, shorter rows unchanged). */
SN_INLINE void rows_together(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                             size_t n, const float *shift, const float *mean, const float *rstd,
                             const float *scale, const float *bias, int kind, const int ROWS,
                             const int stream)
{
    __m512 k[SN_ROWS_BATCH], m[SN_ROWS_BATCH], r[SN_ROWS_BATCH];
    for (int j = 0; j < ROWS; j++) {
        k[j] = _mm512_set1_ps(shift[j]);
        m[j] = _mm512_set1_ps(mean[j]);
        r[j] = _mm512_set1_ps(rstd[j]);
    }
    for (size_t i = 0; i < n; i += 16) {
        const __m512 s = kind & AFFINE_SCALE ? _mm512_loadu_ps(scale + i) : _mm512_setzero_ps();
        const __m512 b = kind & AFFINE_BIAS ? _mm512_loadu_ps(bias + i) : _mm512_setzero_ps();
        __m512 v[SN_ROWS_BATCH];
        for (int j = 0; j < ROWS; j++) {
            v[j] = _mm512_loadu_ps(x + j * x_stride + i);
        }
        for (int j = 0; j < ROWS; j++) {
            __m512 t = affine(standardize(v[j], k[j], m[j], r[j]), s, b, kind);
            if (stream)
                _mm512_stream_ps(y + j * y_stride + i, t);
            else
                _mm512_storeu_ps(y + j * y_stride + i, t);
        }
    }
}

/* The batch sizes, each with its own unrolled loop, plain or streaming stores. */
SN_INLINE void rows_stores(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                           size_t rows, size_t n, const float *shift, const float *mean,
                           const float *rstd, const float *scale, const float *bias, int kind,
                           const int stream)
{
    if (rows == 4)
        rows_together(x, x_stride, y, y_stride, n, shift, mean, rstd, scale, bias, kind, 4,
                      stream);
    else if (rows == 3)
        rows_together(x, x_stride, y, y_stride, n, shift, mean, rstd, scale, bias, kind, 3,
                      stream);
    else
        rows_together(x, x_stride, y, y_stride, n, shift, mean, rstd, scale, bias, kind, 2,
                      stream);
}

SN_INLINE void rows_kind(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                         size_t rows, size_t n, const float *shift, const float *mean,
                         const float *rstd, const float *scale, const float *bias, int kind,
                         int stream)
{
    if (stream)
        rows_stores(x, x_stride, y, y_stride, rows, n, shift, mean, rstd, scale, bias, kind, 1);
    else
        rows_stores(x, x_stride, y, y_stride, rows, n, shift, mean, rstd, scale, bias, kind, 0);
}

/* Rows off a cache line (which row16 would align with a masked head) and rows
 * with a partial last vector go row by row. */
void sn_rows_normalize_f32_avx512(const float *x, ptrdiff_t x_stride, float *y,
                                  ptrdiff_t y_stride, size_t rows, size_t n, const float *shift,
                                  const float *mean, const float *rstd, const float *scale,
                                  const float *bias, int stream)
{
    if (rows < 2 || rows > SN_ROWS_BATCH || n % 16 != 0 || (uintptr_t)y % 64 != 0 ||
        y_stride % 16 != 0) {
        sn_rows_normalize_by_row(sn_row_normalize_f32_avx512, x, x_stride, y, y_stride, rows, n,
                                 shift, mean, rstd, scale, bias, stream);
        return;
    }
    if (scale && bias)
        rows_kind(x, x_stride, y, y_stride, rows, n, shift, mean, rstd, scale, bias, AFFINE_BOTH,
                  stream);
    else if (scale)
        rows_kind(x, x_stride, y, y_stride, rows, n, shift, mean, rstd, scale, NULL, AFFINE_SCALE,
                  stream);
    else if (bias)
        rows_kind(x, x_stride, y, y_stride, rows, n, shift, mean, rstd, NULL, bias, AFFINE_BIAS,
                  stream);
    else
        rows_kind(x, x_stride, y, y_stride, rows, n, shift, mean, rstd, NULL, NULL, AFFINE_NONE,
                  stream);
}

/* One panel row: per-column constants; scale and bias either loaded along the
 * lanes from srow and brow (per_lane) or the broadcast s and b. Full vectors
 * use plain loads (masked loads of the streamed x stalled it), the tail a mask. */
SN_INLINE void col16(const float *x, float *y, size_t j, __mmask16 mask, const float *shift,
                     const float *mean, const float *rstd, const float *srow,
                     const float *brow, __m512 s, __m512 b, int kind, int per_lane)
{
    __m512 t = standardize(_mm512_maskz_loadu_ps(mask, x + j), _mm512_maskz_loadu_ps(mask, shift + j),
                           _mm512_maskz_loadu_ps(mask, mean + j),
                           _mm512_maskz_loadu_ps(mask, rstd + j));
    _mm512_mask_storeu_ps(y + j, mask,
                          affine(t, param16(srow, j, mask, s, kind, AFFINE_SCALE, per_lane),
                                 param16(brow, j, mask, b, kind, AFFINE_BIAS, per_lane), kind));
}

SN_INLINE void col_row(const float *x, float *y, size_t width, const float *shift,
                       const float *mean, const float *rstd, const float *srow,
                       const float *brow, __m512 s, __m512 b, int kind, int per_lane,
                       int stream)
{
    /* A masked head first, so that the full-vector stores below are 64-byte
     * aligned: an unaligned 64-byte store splits across two cache lines. */
    size_t j = ((64 - (uintptr_t)y % 64) % 64) / sizeof(float);
    if (j > width)
        j = width;
    if (j > 0)
        col16(x, y, 0, lane_mask(j), shift, mean, rstd, srow, brow, s, b, kind, per_lane);
    for (; j + 16 <= width; j += 16) {
        __m512 t = standardize(_mm512_loadu_ps(x + j), _mm512_loadu_ps(shift + j),
                               _mm512_loadu_ps(mean + j), _mm512_loadu_ps(rstd + j));
        __m512 sv = kind & AFFINE_SCALE && per_lane ? _mm512_loadu_ps(srow + j) : s;
        __m512 bv = kind & AFFINE_BIAS && per_lane ? _mm512_loadu_ps(brow + j) : b;
        /* Aligned by the head: a streaming store may serve. */
        if (stream)
            _mm512_stream_ps(y + j, affine(t, sv, bv, kind));
        else
            _mm512_storeu_ps(y + j, affine(t, sv, bv, kind));
    }
    if (j < width)
        col16(x, y, j, lane_mask(width - j), shift, mean, rstd, srow, brow, s, b, kind, per_lane);
}

SN_INLINE void col_normalize(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                             size_t rows, size_t width, const float *shift, const float *mean,
                             const float *rstd, const float *scale, const float *bias,
                             ptrdiff_t row_step, int kind, int per_lane, int stream)
{
    const __m512 none = _mm512_setzero_ps();
    /* The offsets advance by addition: no multiplies in the row loop. */
    ptrdiff_t xo = 0, yo = 0, p = 0;
    for (size_t i = 0; i < rows; i++, xo += x_stride, yo += y_stride, p += row_step) {
        const float *srow = kind & AFFINE_SCALE ? scale + p : NULL;
        const float *brow = kind & AFFINE_BIAS ? bias + p : NULL;
        __m512 s = !per_lane && kind & AFFINE_SCALE ? _mm512_set1_ps(*srow) : none;
        __m512 b = !per_lane && kind & AFFINE_BIAS ? _mm512_set1_ps(*brow) : none;
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

void sn_col_normalize_f32_avx512(const float *x, ptrdiff_t x_stride, float *y,
                                 ptrdiff_t y_stride, size_t rows, size_t width,
                                 const float *shift, const float *mean, const float *rstd,
                                 const float *scale, const float *bias,
                                 ptrdiff_t param_row_step, ptrdiff_t param_col_step, int stream)
{
    if (param_col_step)
        col_per_lane(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias,
                     param_row_step, stream);
    else
        col_broadcast(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias,
                      param_row_step, stream);
}

/* The lanes of `mask` of one panel row, folded constants. */
static inline __m512 scale_shift16(const float *x, size_t j, __mmask16 mask, const float *center,
                                   const float *a, const float *b)
{
    return _mm512_fmadd_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x + j),
                                         _mm512_maskz_loadu_ps(mask, center + j)),
                           _mm512_maskz_loadu_ps(mask, a + j),
                           _mm512_maskz_loadu_ps(mask, b + j));
}

void sn_col_scale_shift_f32_avx512(const float *x, ptrdiff_t x_stride, float *y,
                                   ptrdiff_t y_stride, size_t rows, size_t width,
                                   const float *center, const float *a, const float *b,
                                   int stream, const float *ahead)
{
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + (ptrdiff_t)i * x_stride;
        float *yr = y + (ptrdiff_t)i * y_stride;
        const float *ar = ahead ? ahead + (ptrdiff_t)i * x_stride : NULL;
        /* A masked head aligns the full-vector stores (see col_row). */
        size_t j = ((64 - (uintptr_t)yr % 64) % 64) / sizeof(float);
        if (j > width)
            j = width;
        if (j > 0) {
            if (ar)
                _mm_prefetch((const char *)ar, _MM_HINT_T1);
            _mm512_mask_storeu_ps(yr, lane_mask(j),
                                  scale_shift16(xr, 0, lane_mask(j), center, a, b));
        }
        for (; j + 16 <= width; j += 16) {
            if (ar) /* a line of the row ahead, into L2 */
                _mm_prefetch((const char *)(ar + j), _MM_HINT_T1);
            __m512 v = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + j),
                                                     _mm512_loadu_ps(center + j)),
                                       _mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j));
            if (stream)
                _mm512_stream_ps(yr + j, v);
            else
                _mm512_storeu_ps(yr + j, v);
        }
        if (j < width) {
            if (ar)
                _mm_prefetch((const char *)(ar + j), _MM_HINT_T1);
            __mmask16 tail = lane_mask(width - j);
            _mm512_mask_storeu_ps(yr + j, tail, scale_shift16(xr, j, tail, center, a, b));
        }
    }
}
