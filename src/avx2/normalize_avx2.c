/* AVX2 normalization kernels: ((x - K) - mean) * rstd, then the affine step,
 * with the same roundings as normalize_scalar.c except that scale and bias
 * together are one fused multiply-add. */
#include <immintrin.h>
#include <stdint.h>

#include "../kernels.h"

/* The loops below are written once for every scale/bias combination; forcing
 * them inline with constant NULLs compiles the tests out of the loops. */
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

/* Normalize 8 elements at offset i of a row; scale and bias are indexed like x. */
SN_INLINE void row8(const float *x, float *y, size_t i, __m256 k, __m256 m, __m256 r,
                    const float *scale, const float *bias, int kind)
{
    __m256 s = kind & AFFINE_SCALE ? _mm256_loadu_ps(scale + i) : _mm256_setzero_ps();
    __m256 b = kind & AFFINE_BIAS ? _mm256_loadu_ps(bias + i) : _mm256_setzero_ps();
    _mm256_storeu_ps(y + i, affine(standardize(_mm256_loadu_ps(x + i), k, m, r), s, b, kind));
}

/* The same for the lanes of `mask` only. */
SN_INLINE void row_masked(const float *x, float *y, size_t i, __m256i mask, __m256 k, __m256 m,
                          __m256 r, const float *scale, const float *bias, int kind)
{
    __m256 s = _mm256_setzero_ps(), b = _mm256_setzero_ps();
    if (kind & AFFINE_SCALE)
        s = _mm256_maskload_ps(scale + i, mask);
    if (kind & AFFINE_BIAS)
        b = _mm256_maskload_ps(bias + i, mask);
    __m256 t = standardize(_mm256_maskload_ps(x + i, mask), k, m, r);
    _mm256_maskstore_ps(y + i, mask, affine(t, s, b, kind));
}

SN_INLINE void row_normalize(const float *x, float *y, size_t n, float shift, float mean,
                             float rstd, const float *scale, const float *bias, int kind)
{
    const __m256 k = _mm256_set1_ps(shift), m = _mm256_set1_ps(mean), r = _mm256_set1_ps(rstd);
    size_t i = 0;
    /* A masked head aligns the stores to 32 bytes, so that no vector splits a
     * cache line (a split store costs twice); with y == x the loads are aligned too. */
    size_t head = ((32 - (uintptr_t)y % 32) % 32) / sizeof(float);
    if (head && head < n) {
        row_masked(x, y, 0, lane_mask(head), k, m, r, scale, bias, kind);
        i = head;
    }
    for (; i + 32 <= n; i += 32) {
        row8(x, y, i, k, m, r, scale, bias, kind);
        row8(x, y, i + 8, k, m, r, scale, bias, kind);
        row8(x, y, i + 16, k, m, r, scale, bias, kind);
        row8(x, y, i + 24, k, m, r, scale, bias, kind);
    }
    for (; i + 8 <= n; i += 8)
        row8(x, y, i, k, m, r, scale, bias, kind);
    if (i < n)
        row_masked(x, y, i, lane_mask(n - i), k, m, r, scale, bias, kind);
}

void sn_row_normalize_f32_avx2(const float *x, float *y, size_t n, float shift, float mean,
                               float rstd, const float *scale, const float *bias)
{
    if (scale && bias)
        row_normalize(x, y, n, shift, mean, rstd, scale, bias, AFFINE_BOTH);
    else if (scale)
        row_normalize(x, y, n, shift, mean, rstd, scale, NULL, AFFINE_SCALE);
    else if (bias)
        row_normalize(x, y, n, shift, mean, rstd, NULL, bias, AFFINE_BIAS);
    else
        row_normalize(x, y, n, shift, mean, rstd, NULL, NULL, AFFINE_NONE);
}

/* One panel row: per-column constants, one scale and bias for the whole row. */
SN_INLINE void col_row(const float *x, float *y, size_t width, const float *shift,
                       const float *mean, const float *rstd, __m256 s, __m256 b, int kind)
{
    size_t j = 0;
    for (; j + 8 <= width; j += 8) {
        __m256 t = standardize(_mm256_loadu_ps(x + j), _mm256_loadu_ps(shift + j),
                               _mm256_loadu_ps(mean + j), _mm256_loadu_ps(rstd + j));
        _mm256_storeu_ps(y + j, affine(t, s, b, kind));
    }
    if (j < width) {
        const __m256i tail = lane_mask(width - j);
        __m256 t = standardize(_mm256_maskload_ps(x + j, tail), _mm256_maskload_ps(shift + j, tail),
                               _mm256_maskload_ps(mean + j, tail),
                               _mm256_maskload_ps(rstd + j, tail));
        _mm256_maskstore_ps(y + j, tail, affine(t, s, b, kind));
    }
}

SN_INLINE void col_normalize(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                             size_t rows, size_t width, const float *shift, const float *mean,
                             const float *rstd, const float *scale, const float *bias, int kind)
{
    const __m256 none = _mm256_setzero_ps();
    for (size_t i = 0; i < rows; i++) {
        __m256 s = kind & AFFINE_SCALE ? _mm256_broadcast_ss(scale + i) : none;
        __m256 b = kind & AFFINE_BIAS ? _mm256_broadcast_ss(bias + i) : none;
        col_row(x + (ptrdiff_t)i * x_stride, y + (ptrdiff_t)i * y_stride, width, shift, mean, rstd,
                s, b, kind);
    }
}

void sn_col_normalize_f32_avx2(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                               size_t rows, size_t width, const float *shift, const float *mean,
                               const float *rstd, const float *scale, const float *bias)
{
    if (scale && bias)
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, bias,
                      AFFINE_BOTH);
    else if (scale)
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, scale, NULL,
                      AFFINE_SCALE);
    else if (bias)
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, NULL, bias,
                      AFFINE_BIAS);
    else
        col_normalize(x, x_stride, y, y_stride, rows, width, shift, mean, rstd, NULL, NULL,
                      AFFINE_NONE);
}
