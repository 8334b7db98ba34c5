/* Portable normalization kernels: ((x - K) - mean) * rstd, then the affine step. */
#include <math.h>

#include "../kernels.h"

/* scale[p] and bias[p], each when not NULL. */
static inline float affine(float t, const float *scale, const float *bias, ptrdiff_t p)
{
    if (scale)
        t *= scale[p];
    if (bias)
        t += bias[p];
    return t;
}

/* Nothing is ever streamed: nothing to order. */
void sn_store_fence_scalar(void)
{
}

/* stream is ignored: C has no portable streaming store, and this is the
 * reference the other kernels are checked against. */
void sn_row_normalize_f32_scalar(const float *x, float *y, size_t n, float shift, float mean,
                                 float rstd, const float *scale, const float *bias,
                                 ptrdiff_t param_step, int stream)
{
    (void)stream;
    for (size_t i = 0; i < n; i++)
        y[i] = affine(((x[i] - shift) - mean) * rstd, scale, bias, (ptrdiff_t)i * param_step);
}

SN_DEFINE_ROWS_NORMALIZE_BY_ROW(scalar)

void sn_col_normalize_f32_scalar(const float *x, ptrdiff_t x_stride, float *y,
                                 ptrdiff_t y_stride, size_t rows, size_t width,
                                 const float *shift, const float *mean, const float *rstd,
                                 const float *scale, const float *bias,
                                 ptrdiff_t param_row_step, ptrdiff_t param_col_step, int stream)
{
    (void)stream; /* as in row_normalize */
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + (ptrdiff_t)i * x_stride;
        float *yr = y + (ptrdiff_t)i * y_stride;
        ptrdiff_t p = (ptrdiff_t)i * param_row_step;
        for (size_t j = 0; j < width; j++)
            yr[j] = affine(((xr[j] - shift[j]) - mean[j]) * rstd[j], scale, bias,
                           p + (ptrdiff_t)j * param_col_step);
    }
}

void sn_col_scale_shift_f32_scalar(const float *x, ptrdiff_t x_stride, float *y,
                                   ptrdiff_t y_stride, size_t rows, size_t width,
                                   const float *center, const float *a, const float *b,
                                   int stream, const float *ahead)
{
    (void)stream; /* as in row_normalize */
    (void)ahead;  /* nothing to prefetch into: the reference is plain C */
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + (ptrdiff_t)i * x_stride;
        float *yr = y + (ptrdiff_t)i * y_stride;
        for (size_t j = 0; j < width; j++)
            yr[j] = fmaf(xr[j] - center[j], a[j], b[j]);
    }
}
