/* Validation of tensor views shared by every entry point. */
#ifndef SN_TENSOR_H
#define SN_TENSOR_H

#include <math.h>

#include "simdnorm.h"

/* sn_tensor_dense, written in place (no struct returned by value). */
void sn_tensor_dense_into(sn_tensor *t, void *data, sn_dtype dtype, int rank,
                          const ptrdiff_t *dims);

/* NULL, rank, dims, strides, dtype (float32 only for now), overflow. */
sn_status sn_check_tensor(const sn_tensor *t);
sn_status sn_check_same_dims(const sn_tensor *a, const sn_tensor *b);
/* y must not overlap itself, and may overlap x only by being exactly x. */
sn_status sn_check_output(const sn_tensor *x, const sn_tensor *y);
/* epsilon, or batch norm's correction: a finite number >= 0 (not NaN). */
static inline int sn_finite_nonnegative(float v)
{
    return v >= 0.0f && !isinf(v);
}

/* Normalize a possibly negative axis index; -1 when out of range. */
int sn_resolve_axis(int axis, int rank);

#endif
