#include "tensor.h"

#include <stdint.h>

#include "error.h"

static size_t element_size(sn_dtype dtype)
{
    return dtype == SN_FLOAT32 ? 4 : 0;
}

void sn_tensor_dense_into(sn_tensor *t, void *data, sn_dtype dtype, int rank,
                          const ptrdiff_t *dims)
{
    t->data = data;
    t->dtype = dtype;
    t->rank = rank;
    /* Field by field, and not as a zeroing plus a fill: on a call of a few
     * hundred nanoseconds the string instruction GCC makes of a 128-byte
     * zeroing (rep stos, like the copy of a returned struct) costs a tenth. */
    int valid = dims && rank >= 1 && rank <= SN_MAX_RANK;
    /* Strides saturate at PTRDIFF_MAX, so that an oversized shape is reported
     * by sn_check_tensor as SN_ERR_SIZE_OVERFLOW instead of overflowing here. */
    ptrdiff_t stride = 1;
    for (int i = SN_MAX_RANK - 1; i >= 0; i--) {
        int used = valid && i < rank;
        t->dims[i] = used ? dims[i] : 0;
        t->strides[i] = used ? stride : 0;
        ptrdiff_t dim = used && dims[i] > 0 ? dims[i] : 1;
        if (__builtin_mul_overflow(stride, dim, &stride))
            stride = PTRDIFF_MAX;
    }
}

sn_tensor sn_tensor_dense(void *data, sn_dtype dtype, int rank, const ptrdiff_t *dims)
{
    sn_tensor t;
    sn_tensor_dense_into(&t, data, dtype, rank, dims);
    return t;
}

/* Largest element offset, or -1 for an empty tensor. */
static ptrdiff_t max_offset(const sn_tensor *t)
{
    ptrdiff_t offset = 0;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] == 0)
            return -1;
        offset += (t->dims[i] - 1) * t->strides[i];
    }
    return offset;
}

sn_status sn_check_tensor(const sn_tensor *t)
{
    if (!t)
        return SN_ERR_NULL_POINTER;
    sn_status status = sn_check_tensor_shape(t);
    if (status == SN_OK && !t->data && max_offset(t) >= 0)
        return SN_ERR_NULL_POINTER;
    return status;
}

sn_status sn_check_tensor_shape(const sn_tensor *t)
{
    if (t->rank < 1 || t->rank > SN_MAX_RANK)
        return SN_ERR_RANK;
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] < 0)
            return SN_ERR_NEGATIVE_DIM;
    for (int i = 0; i < t->rank; i++)
        if (t->strides[i] < 0)
            return SN_ERR_NEGATIVE_STRIDE;
    size_t size = element_size(t->dtype);
    if (size == 0)
        return SN_ERR_DTYPE;
    /* Both the element count and the byte extent must fit in ptrdiff_t
     * (the checked multiplies avoid a division per axis on every call). */
    const ptrdiff_t limit = PTRDIFF_MAX / (ptrdiff_t)size;
    ptrdiff_t count = 1, extent = 0, span;
    for (int i = 0; i < t->rank; i++) {
        ptrdiff_t dim = t->dims[i];
        if (dim == 0)
            continue;
        if (__builtin_mul_overflow(count, dim, &count) || count > limit ||
            __builtin_mul_overflow(dim - 1, t->strides[i], &span) ||
            __builtin_add_overflow(extent, span, &extent) || extent > limit)
            return SN_ERR_SIZE_OVERFLOW;
    }
    return SN_OK;
}

sn_status sn_check_same_dims(const sn_tensor *a, const sn_tensor *b)
{
    if (a->rank != b->rank)
        return SN_ERR_SHAPE_MISMATCH;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return SN_ERR_SHAPE_MISMATCH;
    return SN_OK;
}

/* Sufficient test that no two elements share an address: sorted by stride,
 * every stride exceeds the extent spanned by the smaller ones. */
static int overlaps_itself(const sn_tensor *t)
{
    int order[SN_MAX_RANK], n = 0;
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] > 1)
            order[n++] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && t->strides[order[j]] < t->strides[order[j - 1]]; j--) {
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    ptrdiff_t span = 0;
    for (int i = 0; i < n; i++) {
        if (t->strides[order[i]] <= span)
            return 1;
        span += (t->dims[order[i]] - 1) * t->strides[order[i]];
    }
    return 0;
}

static int same_strides(const sn_tensor *x, const sn_tensor *y)
{
    for (int i = 0; i < x->rank; i++)
        if (x->dims[i] > 1 && x->strides[i] != y->strides[i])
            return 0;
    return 1;
}

sn_status sn_views_of(const sn_tensor *x, const sn_tensor *y, sn_views *v)
{
    size_t size = element_size(x->dtype);
    ptrdiff_t x_last = max_offset(x), y_last = max_offset(y);
    /* Empty: nothing is read or written, and no byte is spanned. */
    v->x_bytes = x_last < 0 || y_last < 0 ? 0 : (size_t)(x_last + 1) * size;
    v->y_bytes = x_last < 0 || y_last < 0 ? 0 : (size_t)(y_last + 1) * size;
    v->same_strides = same_strides(x, y);
    return v->y_bytes && overlaps_itself(y) ? SN_ERR_ALIAS : SN_OK;
}

sn_status sn_check_output(const sn_tensor *x, const sn_tensor *y)
{
    sn_views v;
    sn_status status = sn_views_of(x, y, &v);
    return status != SN_OK ? status : sn_check_views(&v, x->data, y->data);
}

sn_status sn_check_seq_lens(const int *seq_lens, ptrdiff_t batch, ptrdiff_t time)
{
    for (ptrdiff_t b = 0; b < batch; b++)
        if (seq_lens[b] < 0 || seq_lens[b] > time)
            return sn_fail(SN_ERR_SEQ_LENS, "seq_lens[%td] = %d, time dim is %td", b,
                           seq_lens[b], time);
    return SN_OK;
}

int sn_resolve_axis(int axis, int rank)
{
    if (axis < 0)
        axis += rank;
    return axis >= 0 && axis < rank ? axis : -1;
}
