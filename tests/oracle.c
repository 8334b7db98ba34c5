#include "oracle.h"

#include <math.h>
#include <stdlib.h>

static ptrdiff_t offset_of(const sn_tensor *t, ptrdiff_t index)
{
    ptrdiff_t offset = 0;
    for (int i = t->rank - 1; i >= 0; i--) {
        offset += (index % t->dims[i]) * t->strides[i];
        index /= t->dims[i];
    }
    return offset;
}

float oracle_get(const sn_tensor *t, ptrdiff_t index)
{
    return ((const float *)t->data)[offset_of(t, index)];
}

void oracle_layer_norm(const sn_tensor *x, int axis, const float *scale, const float *bias,
                       double epsilon, double *normalized, double *expected, double *mean,
                       double *rstd)
{
    ptrdiff_t n = x->dims[axis], inner = 1, outer = 1;
    for (int i = axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    for (int i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t in = 0; in < inner; in++) {
            ptrdiff_t base = o * n * inner + in, group = o * inner + in;
            double sum = 0.0, sq = 0.0;
            for (ptrdiff_t k = 0; k < n; k++)
                sum += oracle_get(x, base + k * inner);
            double mu = n > 0 ? sum / (double)n : 0.0;
            for (ptrdiff_t k = 0; k < n; k++) {
                double d = oracle_get(x, base + k * inner) - mu;
                sq += d * d;
            }
            /* Where rstd does not exist (no elements; zero variance with epsilon 0)
             * it is defined as 0, so the normalized values are 0. */
            double variance = n > 0 ? sq / (double)n + epsilon : 0.0;
            double r = variance == 0.0 ? 0.0 : 1.0 / sqrt(variance);
            if (mean)
                mean[group] = mu;
            if (rstd)
                rstd[group] = r;
            for (ptrdiff_t k = 0; k < n; k++) {
                ptrdiff_t at = base + k * inner;
                double t = (oracle_get(x, at) - mu) * r;
                if (normalized)
                    normalized[at] = t;
                if (expected)
                    expected[at] = t * (scale ? scale[k] : 1.0) + (bias ? bias[k] : 0.0);
            }
        }
}
