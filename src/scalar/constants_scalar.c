/* Portable finishing of a panel's lanes (their moments from pass 2's sums,
 * their group constants): the reference every ISA's vector form follows. */
#include "../kernels.h"

void sn_group_constants_scalar(size_t count, const sn_moments *m, const float *shift,
                               double epsilon, float *center, float *residual, float *rstd)
{
    for (size_t i = 0; i < count; i++)
        sn_group_constants_of(&m[i], shift[i], epsilon, center + i, residual + i, rstd + i);
}

int sn_lanes_moments_scalar(size_t count, double n, const float *shift, const float *center,
                            const double *sum_dev, const double *sum_sq, sn_moments *out,
                            int *fallback)
{
    return sn_lanes_moments_of(count, n, shift, center, sum_dev, sum_sq, out, fallback);
}
