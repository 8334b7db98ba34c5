/* The generic normalization layer (RETURNN norm): validate, plan, run.
 * Layer normalization is one configuration of it (layer_norm.c). */
#include <string.h>

#include "axes.h"
#include "dispatch.h"
#include "error.h"
#include "norm.h"
#include "normalize.h"
#include "tensor.h"

static const sn_norm_options default_options = SN_NORM_DEFAULTS;

/* Masks from bits or from a description; a layout of all S when none is given,
 * so that "*", "dim:N" and "spatial:I" still work. */
static sn_status resolve_mask(unsigned bits, const char *text, const char *layout,
                              const sn_tensor *x, unsigned *mask, int *listed_twice)
{
    *listed_twice = 0;
    if (text) {
        char all_spatial[SN_MAX_RANK + 1];
        if (!layout) {
            memset(all_spatial, 'S', (size_t)x->rank);
            all_spatial[x->rank] = '\0';
            layout = all_spatial;
        }
        return sn_axes_parse_checked(text, layout, x->dims, mask, listed_twice);
    }
    if (bits >> x->rank)
        return SN_ERR_AXIS;
    *mask = bits;
    return SN_OK;
}

static sn_status resolve_params(const sn_norm_options *o, const sn_tensor *x, unsigned *mask)
{
    int twice;
    sn_status status;
    if (!o->scale && !o->bias) {
        *mask = 0;
        return o->param_text || o->param_axes != SN_AXES_DEFAULT ? SN_ERR_PARAM_SHAPE : SN_OK;
    }
    if (!o->param_text && o->param_axes == SN_AXES_DEFAULT) {
        int feature = o->layout ? sn_layout_find(o->layout, 'F') : -1;
        *mask = 1u << (feature >= 0 ? feature : x->rank - 1);
        return SN_OK;
    }
    if ((status = resolve_mask(o->param_axes, o->param_text, o->layout, x, mask, &twice)) !=
        SN_OK)
        return status;
    if (twice)
        return sn_fail(SN_ERR_PARAM_SHAPE, "param_shape \"%s\" names an axis twice",
                       o->param_text);
    if (o->layout) {
        int batch = sn_layout_find(o->layout, 'B'), time = sn_layout_find(o->layout, 'T');
        if ((batch >= 0 && (*mask >> batch & 1u)) || (time >= 0 && (*mask >> time & 1u)))
            return sn_fail(SN_ERR_PARAM_SHAPE,
                           "param_shape includes the batch or time axis of layout \"%s\"",
                           o->layout);
    }
    return SN_OK;
}

static sn_status check_masking(const sn_norm_options *o, const sn_tensor *x, unsigned reduce,
                               int *batch, int *time)
{
    *batch = *time = -1;
    if (!o->seq_lens || o->mask_mode == SN_MASK_IGNORE)
        return SN_OK;
    if (o->mask_mode != SN_MASK_EXCLUDE && o->mask_mode != SN_MASK_ZERO)
        return sn_fail(SN_ERR_MASK_MODE, "mask_mode %d is not an sn_mask_mode",
                       (int)o->mask_mode);
    if (!o->layout || (*batch = sn_layout_find(o->layout, 'B')) < 0 ||
        (*time = sn_layout_find(o->layout, 'T')) < 0)
        return sn_fail(SN_ERR_MASK_LAYOUT, "seq_lens given but layout \"%s\" lacks B or T",
                       o->layout ? o->layout : "(none)");
    if ((reduce >> *batch & 1u) && !(reduce >> *time & 1u))
        return sn_fail(SN_ERR_MASK_LAYOUT, "batch axis reduced without the time axis");
    for (ptrdiff_t b = 0; b < x->dims[*batch]; b++)
        if (o->seq_lens[b] < 0 || o->seq_lens[b] > x->dims[*time])
            return sn_fail(SN_ERR_SEQ_LENS, "seq_lens[%td] = %d, time dim is %td", b,
                           o->seq_lens[b], x->dims[*time]);
    return SN_OK;
}

sn_status sn_norm_checked(const sn_tensor *x, const sn_tensor *y, unsigned reduce,
                          unsigned params, const sn_norm_options *o, int batch, int time)
{
    sn_norm_job job;
    sn_plan_build(x, y, reduce, params, batch >= 0 ? o->seq_lens : NULL, batch, time,
                  o->mask_mode == SN_MASK_ZERO, &job.plan);
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

sn_status sn_norm(const sn_tensor *x, const sn_tensor *y, const sn_norm_options *options)
{
    sn_error_clear();
    const sn_norm_options *o = options ? options : &default_options;
    sn_status status;
    if (!x || !y)
        return SN_ERR_NULL_POINTER;
    if ((status = sn_check_tensor(x)) != SN_OK || (status = sn_check_tensor(y)) != SN_OK)
        return status;
    if ((status = sn_check_same_dims(x, y)) != SN_OK)
        return status;
    if (o->layout && (status = sn_layout_check(o->layout, x->rank)) != SN_OK)
        return status;
    unsigned reduce, params;
    int twice, batch, time;
    if (!o->axes && !o->axes_text)
        return SN_ERR_EMPTY_AXES;
    if ((status = resolve_mask(o->axes, o->axes_text, o->layout, x, &reduce, &twice)) != SN_OK)
        return status;
    if (!reduce)
        return SN_ERR_EMPTY_AXES;
    if ((status = resolve_params(o, x, &params)) != SN_OK)
        return status;
    if (!sn_finite_nonnegative(o->epsilon))
        return SN_ERR_EPSILON;
    if ((status = check_masking(o, x, reduce, &batch, &time)) != SN_OK)
        return status;
    if ((status = sn_check_output(x, y)) != SN_OK)
        return status;

    return sn_norm_checked(x, y, reduce, params, o, batch, time);
}
