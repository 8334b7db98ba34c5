/* Validation of tensor views shared by every entry point. */
#ifndef SN_TENSOR_H
#define SN_TENSOR_H

#include <math.h>
#include <stdint.h>

#include "simdnorm.h"

/* sn_tensor_dense, written in place (no struct returned by value). */
void sn_tensor_dense_into(sn_tensor *t, void *data, sn_dtype dtype, int rank,
                          const ptrdiff_t *dims);

/* NULL, rank, dims, strides, dtype (float32 only for now), overflow; a
 * non-empty tensor's data. */
sn_status sn_check_tensor(const sn_tensor *t);
/* The same but the data pointer, which a plan does not know. */
sn_status sn_check_tensor_shape(const sn_tensor *t);
sn_status sn_check_same_dims(const sn_tensor *a, const sn_tensor *b);

/* What the aliasing rule needs of two views x and y of one shape: the bytes
 * each spans from its data pointer (0 when the shape is empty) and whether
 * their strides agree along every axis longer than 1 (then x and y with the
 * same data pointer are the same view). */
typedef struct sn_views {
    size_t x_bytes, y_bytes;
    int same_strides;
} sn_views;

/* The views of x and y (checked tensors of the same dims); SN_ERR_ALIAS
 * when y overlaps itself. */
sn_status sn_views_of(const sn_tensor *x, const sn_tensor *y, sn_views *v);

/* y may overlap x only by being exactly x: the same data, the same strides. */
static inline sn_status sn_check_views(const sn_views *v, const void *x, const void *y)
{
    uintptr_t x_begin = (uintptr_t)x, y_begin = (uintptr_t)y;
    int disjoint = x_begin + v->x_bytes <= y_begin || y_begin + v->y_bytes <= x_begin;
    if (v->y_bytes && !disjoint && !(x == y && v->same_strides))
        return SN_ERR_ALIAS;
    return SN_OK;
}

/* y must not overlap itself, and may overlap x only by being exactly x. */
sn_status sn_check_output(const sn_tensor *x, const sn_tensor *y);
/* Each of the batch's `batch` sequence lengths between 0 and `time`. */
sn_status sn_check_seq_lens(const int *seq_lens, ptrdiff_t batch, ptrdiff_t time);
/* epsilon, or batch norm's correction: a finite number >= 0 (not NaN). */
static inline int sn_finite_nonnegative(float v)
{
    return v >= 0.0f && !isinf(v);
}

/* Normalize a possibly negative axis index; -1 when out of range. */
int sn_resolve_axis(int axis, int rank);

#endif
