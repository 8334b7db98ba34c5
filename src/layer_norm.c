/* Layer normalization (RETURNN layer_norm): the generic layer over one axis,
 * with scale and bias along that axis. */
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "tensor.h"

static const sn_layer_norm_options default_options = SN_LAYER_NORM_DEFAULTS;

sn_status sn_layer_norm(const sn_tensor *x, const sn_tensor *y,
                        const sn_layer_norm_options *options)
{
    const sn_layer_norm_options *o = options ? options : &default_options;
    sn_status status;
    sn_error_clear();
    if (!x || !y)
        return SN_ERR_NULL_POINTER;
    if ((status = sn_check_tensor(x)) != SN_OK)
        return status;
    int axis = sn_resolve_axis(o->axis, x->rank);
    if (axis < 0)
        return SN_ERR_AXIS;
    /* Copied from a constant rather than initialized in place: an aggregate
     * initializer becomes a string instruction (rep stos) that costs ~10 ns
     * of a small call, a 96-byte copy a few vector moves. */
    static const sn_norm_options norm_defaults = SN_NORM_DEFAULTS;
    sn_norm_options n;
    memcpy(&n, &norm_defaults, sizeof n);
    n.axes = 1u << axis;
    if (o->scale || o->bias)
        n.param_axes = 1u << axis;
    n.epsilon = o->epsilon;
    n.scale = o->scale;
    n.bias = o->bias;
    n.mean = o->mean;
    n.rstd = o->rstd;
    return sn_norm(x, y, &n);
}

sn_status sn_layer_norm_f32(const float *x, float *y, size_t rows, size_t features,
                            const float *scale, const float *bias, float epsilon)
{
    if (rows > PTRDIFF_MAX || features > PTRDIFF_MAX)
        return SN_ERR_SIZE_OVERFLOW;
    ptrdiff_t dims[2] = { (ptrdiff_t)rows, (ptrdiff_t)features };
    sn_tensor xt, yt;
    sn_tensor_dense_into(&xt, (void *)x, SN_FLOAT32, 2, dims);
    sn_tensor_dense_into(&yt, y, SN_FLOAT32, 2, dims);
    sn_layer_norm_options o = SN_LAYER_NORM_DEFAULTS;
    o.scale = scale;
    o.bias = bias;
    o.epsilon = epsilon;
    return sn_layer_norm(&xt, &yt, &o);
}
