/* Layer normalization (RETURNN layer_norm): the generic layer over one axis,
 * with scale and bias along that axis. */
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "norm.h"
#include "tensor.h"

static const sn_layer_norm_options default_options = SN_LAYER_NORM_DEFAULTS;

/* Copied from a constant rather than initialized in place: an aggregate
 * initializer becomes a string instruction (rep stos) that costs ~10 ns of a
 * small call, a 96-byte copy a few vector moves. */
static const sn_norm_options norm_defaults = SN_NORM_DEFAULTS;

/* The generic layer's options for layer normalization over `axis`. */
static void norm_options_for(int axis, float epsilon, const float *scale, const float *bias,
                             float *mean, float *rstd, sn_norm_options *n)
{
    memcpy(n, &norm_defaults, sizeof *n);
    n->axes = 1u << axis;
    if (scale || bias)
        n->param_axes = 1u << axis;
    n->epsilon = epsilon;
    n->scale = scale;
    n->bias = bias;
    n->mean = mean;
    n->rstd = rstd;
}

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
    sn_norm_options n;
    norm_options_for(axis, o->epsilon, o->scale, o->bias, o->mean, o->rstd, &n);
    return sn_norm(x, y, &n);
}

/* The dense [rows, features] case of sn_layer_norm, with its checks and
 * results. Two dense views of one shape built here cannot fail sn_norm's
 * checks of rank, dims, strides, dtype, axes or parameter shape, nor
 * overlap themselves: their size and epsilon are checked here, the arrays
 * by the run, which saves a small call a third of its overhead. */
sn_status sn_layer_norm_f32(const float *x, float *y, size_t rows, size_t features,
                            const float *scale, const float *bias, float epsilon)
{
    sn_error_clear();
    if (rows > PTRDIFF_MAX || features > PTRDIFF_MAX)
        return SN_ERR_SIZE_OVERFLOW;
    ptrdiff_t dims[2] = { (ptrdiff_t)rows, (ptrdiff_t)features };
    sn_tensor xt, yt;
    sn_tensor_dense_into(&xt, (void *)x, SN_FLOAT32, 2, dims);
    sn_tensor_dense_into(&yt, y, SN_FLOAT32, 2, dims);
    sn_status status;
    if ((status = sn_check_tensor_shape(&xt)) != SN_OK)
        return status;
    if (!sn_finite_nonnegative(epsilon))
        return SN_ERR_EPSILON;
    sn_norm_options n;
    norm_options_for(1, epsilon, scale, bias, NULL, NULL, &n);
    struct sn_norm_plan plan;
    /* The parameter axes as sn_norm resolves them: none without scale and bias. */
    sn_norm_plan_fill(&plan, &xt, &yt, n.axes, scale || bias ? n.param_axes : 0u, &n, -1, -1);
    /* Dense and alike: the same bytes, the same strides (field by field: a
     * struct copied moments after it is built stalls on store forwarding). */
    plan.views.x_bytes = plan.views.y_bytes = rows && features ? rows * features * sizeof(float)
                                                               : 0;
    plan.views.same_strides = 1;
    const sn_norm_arrays arrays = { x, y, scale, bias, NULL, NULL, NULL };
    return sn_norm_plan_run(&plan, &arrays);
}
