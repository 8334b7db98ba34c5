/* AVX-512 normalization kernels: ((x - K) - mean) * rstd, then the affine step,
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

/* Normalize 16 elements at offset i of a row; scale and bias are indexed like x. */
SN_INLINE void row16(const float *x, float *y, size_t i, __m512 k, __m512 m, __m512 r,
                     const float *scale, const float *bias, int kind)
{
    __m512 s = kind & AFFINE_SCALE ? _mm512_loadu_ps(scale + i) : _mm512_setzero_ps();
    __m512 b = kind & AFFINE_BIAS ? _mm512_loadu_ps(bias + i) : _mm512_setzero_ps();
    _mm512_storeu_ps(y + i, affine(standardize(_mm512_loadu_ps(x + i), k, m, r), s, b, kind));
}

/* The same for the lanes of `mask` only. */
SN_INLINE void row_masked(const float *x, float *y, size_t i, __mmask16 mask, __m512 k, __m512 m,
                          __m512 r, const float *scale, const float *bias, int kind)
{
    __m512 s = _mm512_setzero_ps(), b = _mm512_setzero_ps();
    if (kind & AFFINE_SCALE)
        s = _mm512_maskz_loadu_ps(mask, scale + i);
    if (kind & AFFINE_BIAS)
        b = _mm512_maskz_loadu_ps(mask, bias + i);
    __m512 t = standardize(_mm512_maskz_loadu_ps(mask, x + i), k, m, r);
    _mm512_mask_storeu_ps(y + i, mask, affine(t, s, b, kind));
}

SN_INLINE void row_normalize(const float *x, float *y, size_t n, float shift, float mean,
                             float rstd, const float *scale, const float *bias, int kind)
{
    const __m512 k = _mm512_set1_ps(shift), m = _mm512_set1_ps(mean), r = _mm512_set1_ps(rstd);
    size_t i = 0;
    /* A masked head aligns the stores to the cache line: a line-splitting
     * store costs twice, and with y == x the loads are aligned too. */
    size_t head = ((64 - (uintptr_t)y % 64) % 64) / sizeof(float);
    if (head && head < n) {
        row_masked(x, y, 0, lane_mask(head), k, m, r, scale, bias, kind);
        i = head;
    }
    for (; i + 64 <= n; i += 64) {
        row16(x, y, i, k, m, r, scale, bias, kind);
        row16(x, y, i + 16, k, m, r, scale, bias, kind);
        row16(x, y, i + 32, k, m, r, scale, bias, kind);
        row16(x, y, i + 48, k, m, r, scale, bias, kind);
    }
    for (; i + 16 <= n; i += 16)
        row16(x, y, i, k, m, r, scale, bias, kind);
    if (i < n)
        row_masked(x, y, i, lane_mask(n - i), k, m, r, scale, bias, kind);
}

void sn_row_normalize_f32_avx512(const float *x, float *y, size_t n, float shift, float mean,
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

/* One panel row: per-column constants, one scale and bias for the whole row.
 * Full vectors use an all-ones mask: a masked load costs no more than a plain one. */
SN_INLINE void col_row(const float *x, float *y, size_t width, const float *shift,
                       const float *mean, const float *rstd, __m512 s, __m512 b, int kind)
{
    for (size_t j = 0; j < width; j += 16) {
        const __mmask16 mask = lane_mask(width - j < 16 ? width - j : 16);
        __m512 t = standardize(_mm512_maskz_loadu_ps(mask, x + j),
                               _mm512_maskz_loadu_ps(mask, shift + j),
                               _mm512_maskz_loadu_ps(mask, mean + j),
                               _mm512_maskz_loadu_ps(mask, rstd + j));
        _mm512_mask_storeu_ps(y + j, mask, affine(t, s, b, kind));
    }
}

SN_INLINE void col_normalize(const float *x, ptrdiff_t x_stride, float *y, ptrdiff_t y_stride,
                             size_t rows, size_t width, const float *shift, const float *mean,
                             const float *rstd, const float *scale, const float *bias, int kind)
{
    const __m512 none = _mm512_setzero_ps();
    for (size_t i = 0; i < rows; i++) {
        __m512 s = kind & AFFINE_SCALE ? _mm512_set1_ps(scale[i]) : none;
        __m512 b = kind & AFFINE_BIAS ? _mm512_set1_ps(bias[i]) : none;
        col_row(x + (ptrdiff_t)i * x_stride, y + (ptrdiff_t)i * y_stride, width, shift, mean, rstd,
                s, b, kind);
    }
}

void sn_col_normalize_f32_avx512(const float *x, ptrdiff_t x_stride, float *y,
                                 ptrdiff_t y_stride, size_t rows, size_t width,
                                 const float *shift, const float *mean, const float *rstd,
                                 const float *scale, const float *bias)
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
