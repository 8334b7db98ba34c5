/* Portable normalization kernels: ((x - K) - mean) * rstd, then the affine step. */
#include "../kernels.h"

static inline float affine(float t, const float *scale, const float *bias, size_t i)
{
    if (scale)
        t *= scale[i];
    if (bias)
        t += bias[i];
    return t;
}

void sn_row_normalize_f32_scalar(const float *x, float *y, size_t n, float shift, float mean,
                                 float rstd, const float *scale, const float *bias)
{
    for (size_t i = 0; i < n; i++)
        y[i] = affine(((x[i] - shift) - mean) * rstd, scale, bias, i);
}

void sn_col_normalize_f32_scalar(const float *x, ptrdiff_t x_stride, float *y,
                                 ptrdiff_t y_stride, size_t rows, size_t width,
                                 const float *shift, const float *mean, const float *rstd,
                                 const float *scale, const float *bias)
{
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + (ptrdiff_t)i * x_stride;
        float *yr = y + (ptrdiff_t)i * y_stride;
        for (size_t j = 0; j < width; j++)
            yr[j] = affine(((xr[j] - shift[j]) - mean[j]) * rstd[j], scale, bias, i);
    }
}
