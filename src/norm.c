/* The generic normalization layer (RETURNN norm): validate, plan, run.
 * Layer normalization is one configuration of it (layer_norm.c). */
#include <stdlib.h>
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

/* The masking options; the lengths themselves come with each execution. */
static sn_status check_masking(const sn_norm_options *o, unsigned reduce, int *batch,
                               int *time)
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
    return SN_OK;
}

void sn_norm_plan_fill(struct sn_norm_plan *p, const sn_tensor *x, const sn_tensor *y,
                       unsigned reduce, unsigned params, const sn_norm_options *o, int batch,
                       int time)
{
    int masked = batch >= 0;
    sn_plan_build(x, y, reduce, params, masked, batch, time, o->mask_mode == SN_MASK_ZERO,
                  &p->plan);
    p->epsilon = o->epsilon;
    p->scale = o->scale != NULL;
    p->bias = o->bias != NULL;
    p->seq_lens = o->seq_lens != NULL;
    p->batch_dim = masked ? x->dims[batch] : 0;
    p->time_dim = masked ? x->dims[time] : 0;
}

/* sn_norm's checks of everything but the arrays, and the plan. */
static sn_status plan_checked(const sn_tensor *x, const sn_tensor *y, const sn_norm_options *o,
                              struct sn_norm_plan *p)
{
    sn_status status;
    if (!x || !y)
        return SN_ERR_NULL_POINTER;
    if ((status = sn_check_tensor_shape(x)) != SN_OK ||
        (status = sn_check_tensor_shape(y)) != SN_OK)
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
    if ((status = check_masking(o, reduce, &batch, &time)) != SN_OK)
        return status;
    if ((status = sn_views_of(x, y, &p->views)) != SN_OK)
        return status;
    sn_norm_plan_fill(p, x, y, reduce, params, o, batch, time);
    return SN_OK;
}

/* An array given to an execution exactly when the plan was made with it. */
static sn_status check_given(const void *array, int planned, const char *name)
{
    if ((array != NULL) == planned)
        return SN_OK;
    return sn_fail(SN_ERR_PLAN_MISMATCH, "%s %s", name,
                   planned ? "planned but not given" : "given but not planned");
}

sn_status sn_norm_plan_run(const struct sn_norm_plan *p, const sn_norm_arrays *a)
{
    if (p->views.y_bytes && (!a->x || !a->y))
        return SN_ERR_NULL_POINTER;
    sn_status status;
    if ((status = check_given(a->scale, p->scale, "scale")) != SN_OK ||
        (status = check_given(a->bias, p->bias, "bias")) != SN_OK ||
        (status = check_given(a->seq_lens, p->seq_lens, "seq_lens")) != SN_OK)
        return status;
    if (p->plan.masked &&
        (status = sn_check_seq_lens(a->seq_lens, p->batch_dim, p->time_dim)) != SN_OK)
        return status;
    if ((status = sn_check_views(&p->views, a->x, a->y)) != SN_OK)
        return status;

    sn_norm_job job;
    job.plan = &p->plan;
    job.seq_lens = p->plan.masked ? a->seq_lens : NULL;
    job.kernels = sn_active_kernels();
    job.x = a->x;
    job.y = a->y;
    job.scale = a->scale;
    job.bias = a->bias;
    job.epsilon = p->epsilon;
    job.mean_out = a->mean;
    job.rstd_out = a->rstd;
    return sn_run_norm(&job);
}

sn_status sn_norm(const sn_tensor *x, const sn_tensor *y, const sn_norm_options *options)
{
    sn_error_clear();
    const sn_norm_options *o = options ? options : &default_options;
    struct sn_norm_plan plan;
    sn_status status = plan_checked(x, y, o, &plan);
    if (status != SN_OK)
        return status;
    sn_norm_arrays arrays = { x->data, y->data, o->scale, o->bias, o->mean, o->rstd, o->seq_lens };
    return sn_norm_plan_run(&plan, &arrays);
}

sn_status sn_norm_plan_create(const sn_tensor *x, const sn_tensor *y,
                              const sn_norm_options *options, sn_norm_plan **plan)
{
    sn_error_clear();
    if (!plan)
        return SN_ERR_NULL_POINTER;
    *plan = NULL;
    struct sn_norm_plan made;
    sn_status status = plan_checked(x, y, options ? options : &default_options, &made);
    if (status != SN_OK)
        return status;
    if (!(*plan = malloc(sizeof made)))
        return SN_ERR_OUT_OF_MEMORY;
    memcpy(*plan, &made, sizeof made);
    return SN_OK;
}

sn_status sn_norm_plan_execute(const sn_norm_plan *plan, const sn_norm_arrays *arrays)
{
    sn_error_clear();
    if (!plan || !arrays)
        return SN_ERR_NULL_POINTER;
    return sn_norm_plan_run(plan, arrays);
}

void sn_norm_plan_destroy(sn_norm_plan *plan)
{
    free(plan);
}
