/* Portable group constants: the reference every ISA's vector form follows. */
#include "../kernels.h"

void sn_group_constants_scalar(size_t count, const sn_moments *m, const float *shift,
                               double epsilon, float *center, float *residual, float *rstd)
{
    for (size_t i = 0; i < count; i++)
        sn_group_constants_of(&m[i], shift[i], epsilon, center + i, residual + i, rstd + i);
}
