/* Layer normalization (RETURNN layer_norm): validate, plan, run. */
#include <math.h>
#include <stdint.h>

#include "dispatch.h"
#include "normalize.h"
#include "tensor.h"

static const sn_layer_norm_options default_options = SN_LAYER_NORM_DEFAULTS;

sn_status sn_layer_norm(const sn_tensor *x, const sn_tensor *y,
                        const sn_layer_norm_options *options)
{
    const sn_layer_norm_options *o = options ? options : &default_options;
    sn_status status;
    if (!x || !y)
        return SN_ERR_NULL_POINTER;
    if ((status = sn_check_tensor(x)) != SN_OK || (status = sn_check_tensor(y)) != SN_OK)
        return status;
    if ((status = sn_check_same_dims(x, y)) != SN_OK)
        return status;
    int axis = sn_resolve_axis(o->axis, x->rank);
    if (axis < 0)
        return SN_ERR_AXIS;
    if (!(o->epsilon >= 0.0f) || isinf(o->epsilon))
        return SN_ERR_EPSILON;
    if ((status = sn_check_output(x, y)) != SN_OK)
        return status;

    sn_norm_job job;
    sn_plan_reduce_axis(x, y, axis, &job.plan);
    job.kernels = sn_active_kernels();
    job.x = x->data;
    job.y = y->data;
    job.scale = o->scale;
    job.bias = o->bias;
    job.epsilon = o->epsilon;
    job.mean_out = o->mean;
    job.rstd_out = o->rstd;
    return sn_run_norm(&job);
}

sn_status sn_layer_norm_f32(const float *x, float *y, size_t rows, size_t features,
                            const float *scale, const float *bias, float epsilon)
{
    if (rows > PTRDIFF_MAX || features > PTRDIFF_MAX)
        return SN_ERR_SIZE_OVERFLOW;
    ptrdiff_t dims[2] = { (ptrdiff_t)rows, (ptrdiff_t)features };
    sn_tensor xt = sn_tensor_dense((void *)x, SN_FLOAT32, 2, dims);
    sn_tensor yt = sn_tensor_dense(y, SN_FLOAT32, 2, dims);
    sn_layer_norm_options o = SN_LAYER_NORM_DEFAULTS;
    o.scale = scale;
    o.bias = bias;
    o.epsilon = epsilon;
    return sn_layer_norm(&xt, &yt, &o);
}
