/*
 * Batch normalization (RETURNN batch_norm): statistics per feature over every
 * other axis, running statistics, RETURNN's five steps. The statistics and the
 * normalization are the generic layer's (normalize.c); this file only decides
 * which statistics to use and keeps the state.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "axes.h"
#include "dispatch.h"
#include "error.h"
#include "normalize.h"
#include "scratch.h"
#include "tensor.h"

sn_batch_norm_options sn_batch_norm_defaults(sn_batch_norm_preset preset)
{
    int legacy = preset == SN_BATCH_NORM_LEGACY;
    sn_batch_norm_options o;
    memset(&o, 0, sizeof o);
    o.use_shift = 1;
    o.use_std = 1;
    o.use_sample = 0.0f;
    o.force_sample = 0;
    o.momentum = legacy ? 0.99f : 0.1f;
    o.epsilon = 1e-3f;
    o.update_sample_only_in_training = !legacy;
    o.delay_sample_update = !legacy;
    o.param_version = legacy ? 0 : 2;
    o.gamma_init = 1.0f;
    o.beta_init = 0.0f;
    o.gamma_init_text = NULL;
    o.beta_init_text = NULL;
    o.masked_time = legacy ? 1 : SN_UNSET;
    o.correction = 0.0f;
    o.layout = NULL;
    o.feature_axis = -1;
    return o;
}

static int unit_interval(float v)
{
    return v >= 0.0f && v <= 1.0f;
}

/* "zeros", "ones" or a whole numeric string; NULL keeps `value`. */
static sn_status init_value(const char *text, float value, const char *name, float *out)
{
    if (!text) {
        *out = value;
        return isfinite(value) ? SN_OK
                               : sn_fail(SN_ERR_INIT_VALUE, "%s = %g is not finite", name, value);
    }
    if (!strcmp(text, "zeros")) {
        *out = 0.0f;
        return SN_OK;
    }
    if (!strcmp(text, "ones")) {
        *out = 1.0f;
        return SN_OK;
    }
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !isfinite((float)v))
        return sn_fail(SN_ERR_INIT_VALUE, "%s \"%s\" is not a number, \"zeros\" or \"ones\"",
                       name, text);
    *out = (float)v;
    return SN_OK;
}

static sn_status check_options(const sn_batch_norm_options *o, float *gamma0, float *beta0)
{
    sn_status status;
    if (!sn_finite_nonnegative(o->epsilon))
        return SN_ERR_EPSILON;
    if (!unit_interval(o->momentum))
        return SN_ERR_MOMENTUM;
    if (!unit_interval(o->use_sample))
        return SN_ERR_USE_SAMPLE;
    if (o->param_version < 0 || o->param_version > 2)
        return SN_ERR_PARAM_VERSION;
    if (!sn_finite_nonnegative(o->correction))
        return SN_ERR_CORRECTION;
    if (o->masked_time != SN_UNSET && o->masked_time != 0 && o->masked_time != 1)
        return SN_ERR_MASKED_TIME;
    if ((status = init_value(o->gamma_init_text, o->gamma_init, "gamma_init", gamma0)) != SN_OK)
        return status;
    return init_value(o->beta_init_text, o->beta_init, "beta_init", beta0);
}

static sn_status check_state(const sn_batch_norm_state *state, const sn_batch_norm_options *o)
{
    if (!state)
        return SN_ERR_NULL_POINTER;
    if (state->features < 0)
        return SN_ERR_NEGATIVE_DIM;
    if (state->features > 0 &&
        (!state->running_mean || !state->running_var || (o->use_std && !state->gamma) ||
         (o->use_shift && !state->beta)))
        return SN_ERR_NULL_POINTER;
    return SN_OK;
}

sn_status sn_batch_norm_init(sn_batch_norm_state *state, const sn_batch_norm_options *options)
{
    sn_error_clear();
    sn_batch_norm_options defaults = sn_batch_norm_defaults(SN_BATCH_NORM_CURRENT);
    const sn_batch_norm_options *o = options ? options : &defaults;
    float gamma0, beta0;
    sn_status status;
    if ((status = check_options(o, &gamma0, &beta0)) != SN_OK ||
        (status = check_state(state, o)) != SN_OK)
        return status;
    for (ptrdiff_t f = 0; f < state->features; f++) {
        state->running_mean[f] = 0.0f;
        state->running_var[f] = 1.0f;
        if (state->gamma)
            state->gamma[f] = gamma0;
        if (state->beta)
            state->beta[f] = beta0;
    }
    return SN_OK;
}

/* The feature axis, and the B and T axes when masking applies. */
static sn_status resolve_axes(const sn_tensor *x, const sn_batch_norm_options *o,
                              const int *seq_lens, int *feature, int *batch, int *time)
{
    sn_status status;
    *batch = *time = -1;
    if (o->layout) {
        if ((status = sn_layout_check(o->layout, x->rank)) != SN_OK)
            return status;
        if ((*feature = sn_layout_find(o->layout, 'F')) < 0)
            return sn_fail(SN_ERR_LAYOUT, "layout \"%s\" has no feature axis F", o->layout);
    } else if ((*feature = sn_resolve_axis(o->feature_axis, x->rank)) < 0) {
        return SN_ERR_AXIS;
    }
    if (!seq_lens)
        return SN_OK;
    if (o->masked_time == SN_UNSET)
        return SN_ERR_MASKED_TIME;
    if (!o->masked_time)
        return SN_OK;
    if (!o->layout || (*batch = sn_layout_find(o->layout, 'B')) < 0 ||
        (*time = sn_layout_find(o->layout, 'T')) < 0)
        return sn_fail(SN_ERR_MASK_LAYOUT, "masked_time needs a layout with B and T, got \"%s\"",
                       o->layout ? o->layout : "(none)");
    return sn_check_seq_lens(seq_lens, x->dims[*batch], x->dims[*time]);
}

/* Per-feature statistics in double. */
typedef struct feature_stats {
    double mean, var;
} feature_stats;

sn_status sn_batch_norm(const sn_tensor *x, const sn_tensor *y, sn_batch_norm_state *state,
                        const sn_batch_norm_options *options, int training, const int *seq_lens)
{
    sn_error_clear();
    sn_batch_norm_options defaults = sn_batch_norm_defaults(SN_BATCH_NORM_CURRENT);
    const sn_batch_norm_options *o = options ? options : &defaults;
    sn_status status;
    float gamma0, beta0;
    int feature, batch, time;
    if (!x || !y)
        return SN_ERR_NULL_POINTER;
    if ((status = sn_check_tensor(x)) != SN_OK || (status = sn_check_tensor(y)) != SN_OK ||
        (status = sn_check_same_dims(x, y)) != SN_OK ||
        (status = check_options(o, &gamma0, &beta0)) != SN_OK ||
        (status = check_state(state, o)) != SN_OK ||
        (status = resolve_axes(x, o, seq_lens, &feature, &batch, &time)) != SN_OK)
        return status;
    if (state->features != x->dims[feature])
        return SN_ERR_SHAPE_MISMATCH;
    if ((status = sn_check_output(x, y)) != SN_OK)
        return status;

    ptrdiff_t features = state->features;
    int update = training || !o->update_sample_only_in_training;
    int sampling = training || o->force_sample;
    int need_batch = update || (sampling && o->use_sample != 1.0f);

    sn_plan plan;
    unsigned feature_bit = 1u << feature, all = (1u << x->rank) - 1u;
    sn_plan_build(x, y, all & ~feature_bit, feature_bit, batch >= 0, batch, time, 0, &plan);
    sn_norm_job job;
    job.plan = &plan;
    job.seq_lens = batch >= 0 ? seq_lens : NULL;
    job.kernels = sn_active_kernels();
    job.x = x->data;
    job.y = y->data;
    job.epsilon = o->epsilon;
    job.mean_out = job.rstd_out = NULL;

    /* One block: folded parameters (each on its own lines: the kernels load
     * them a vector at a time), batch moments, new running stats. */
    size_t f = (size_t)features, params = sn_line_bytes(f * sizeof(float));
    char *memory = sn_scratch_alloc(2 * params + f * (sizeof(sn_group_moments) +
                                                      sizeof(sn_group_norm) +
                                                      sizeof(feature_stats)));
    if (!memory)
        return SN_ERR_OUT_OF_MEMORY;
    float *a = (float *)memory, *b = (float *)(memory + params);
    sn_group_moments *moments = (sn_group_moments *)(memory + 2 * params);
    feature_stats *running = (feature_stats *)(moments + f);
    sn_group_norm *groups = (sn_group_norm *)(running + f);

    if (need_batch && (status = sn_run_stats(&job, moments)) != SN_OK) {
        sn_scratch_free(memory);
        return status;
    }
    for (ptrdiff_t i = 0; i < features; i++) {
        double old_mean = state->running_mean[i], old_var = state->running_var[i];
        double count = need_batch ? moments[i].moments.count : 0.0;
        feature_stats batch_i = { 0.0, 0.0 };
        if (count > 0.0) {
            batch_i.mean = (double)moments[i].shift + moments[i].moments.mean;
            batch_i.var = moments[i].moments.m2 / count;
        }
        running[i] = (feature_stats){ old_mean, old_var };
        if (update && count > 0.0) {
            double dof = count - o->correction;
            double update_var = dof > 0.0 ? moments[i].moments.m2 / dof : batch_i.var;
            running[i].mean = old_mean + (batch_i.mean - old_mean) * o->momentum;
            running[i].var = old_var + (update_var - old_var) * o->momentum;
        }
        feature_stats use = o->delay_sample_update ? (feature_stats){ old_mean, old_var }
                                                   : running[i];
        if (sampling && o->use_sample != 1.0f) {
            double w = o->use_sample;
            use.mean = (1.0 - w) * batch_i.mean + w * use.mean;
            use.var = (1.0 - w) * batch_i.var + w * use.var;
        }
        /* Normalize as (x - M) * a + b: M the mean rounded to float (x - M is
         * exact for x near it), a = gamma / sqrt(var + eps), b = beta - (mean - M) * a. */
        double scale = sn_rstd(use.var + o->epsilon) * (o->use_std ? state->gamma[i] : 1.0);
        float center = (float)use.mean;
        a[i] = (float)scale;
        b[i] = (float)((o->use_shift ? state->beta[i] : 0.0) - (use.mean - (double)center) * scale);
        groups[i] = (sn_group_norm){ center, 0.0f, 1.0f };
    }
    job.scale = a;
    job.bias = b;
    status = sn_run_normalize(&job, groups);
    if (status == SN_OK && update)
        for (ptrdiff_t i = 0; i < features; i++) {
            state->running_mean[i] = (float)running[i].mean;
            state->running_var[i] = (float)running[i].var;
        }
    sn_scratch_free(memory);
    return status;
}
