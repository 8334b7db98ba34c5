/* Portable moments kernels: the reference algorithm every ISA follows.
 * Pass 1 finds a provisional center (float sum of x - K); pass 2 sums the
 * deviations from it and their squares in double (see sn_moments_from_sums). */
#include "../kernels.h"

void sn_row_moments_f32_scalar(const float *x, size_t n, float shift, sn_moments *out)
{
    float acc[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            acc[k] += x[i + k] - shift;
    for (; i < n; i++)
        acc[0] += x[i] - shift;
    float center = (float)((double)((acc[0] + acc[1]) + (acc[2] + acc[3])) / (double)n);

    double sum_dev = 0.0, sum_sq = 0.0;
    for (i = 0; i < n; i++) {
        double dev = (double)((x[i] - shift) - center);
        sum_dev += dev;
        sum_sq += dev * dev;
    }
    *out = sn_moments_from_sums((double)n, center, sum_dev, sum_sq);
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
        double sum_dev = 0.0, sum_sq = 0.0;
        for (size_t i = 0; i < rows; i++) {
            double dev = (double)((x[(ptrdiff_t)i * stride + j] - shift[j]) - center[j]);
            sum_dev += dev;
            sum_sq += dev * dev;
        }
        out[j] = sn_moments_from_sums((double)rows, center[j], sum_dev, sum_sq);
    }
}
