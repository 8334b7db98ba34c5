/* Batch normalization (RETURNN batch_norm, SPEC section 3.3) against an
 * independent float64 re-implementation of RETURNN's five steps, written from
 * the SPEC and the public header (not from src/batch_norm.c):
 *  - a truth table over every option, both presets, three consecutive calls,
 *    checking y and the running statistics after each call;
 *  - the presets' defaults against the SPEC table;
 *  - feature axis anywhere (BTF, BSSF, BFSS, BFT, feature_axis), strided,
 *    padded and transposed views, in place;
 *  - ill-conditioned batches (large mean, tiny spread);
 *  - checkpoints (save, run on, restore: bit-identical), gamma/beta init;
 *  - bitwise determinism over thread counts on the parallel and split paths;
 *  - bad options and arguments: each its own status, y and state untouched.
 * Every failure message names the seed, ISA, layout, dims, strides, option
 * values, training flag, call index, element / feature, got and want. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "testutil.h"

#define DESC_SIZE 3072
#define STATE_GUARD 4  /* canary floats before and after every state array */
#define Y_GUARD 8

/* Output bars: |got - want| <= bar * max(1, |want|). */
#define Y_BAR 2e-6
#define Y_BAR_GAMMA 1e-5
/* Running statistics: relative 1e-6 (see check_running for the scale). */
#define RUNNING_BAR 1e-6

/* ------------------------------------------------------------------ state */

/* A caller-owned state: four [F] arrays in one allocation, each between
 * canary guards, so that a write past an array is caught. */
typedef struct bn_state {
    sn_batch_norm_state s;
    float *mem;
    ptrdiff_t features;
} bn_state;

static ptrdiff_t state_stride(ptrdiff_t features)
{
    return features + 2 * STATE_GUARD;
}

static bn_state state_new(ptrdiff_t features)
{
    bn_state st;
    memset(&st, 0, sizeof st);
    ptrdiff_t stride = state_stride(features);
    st.features = features;
    st.mem = malloc((size_t)(4 * stride) * sizeof(float));
    cr_assert(st.mem, "out of memory allocating a state of %td features", features);
    tu_fill_canary(st.mem, 4 * stride);
    st.s.features = features;
    st.s.running_mean = st.mem + STATE_GUARD;
    st.s.running_var = st.mem + stride + STATE_GUARD;
    st.s.gamma = st.mem + 2 * stride + STATE_GUARD;
    st.s.beta = st.mem + 3 * stride + STATE_GUARD;
    return st;
}

static void state_free(bn_state *st)
{
    free(st->mem);
    st->mem = NULL;
}

/* The four arrays into out[4F] (mean, var, gamma, beta). */
static void state_save(const bn_state *st, float *out)
{
    ptrdiff_t f = st->features, stride = state_stride(f);
    for (int k = 0; k < 4; k++)
        memcpy(out + k * f, st->mem + k * stride + STATE_GUARD, (size_t)f * sizeof(float));
}

static void state_load(bn_state *st, const float *in)
{
    ptrdiff_t f = st->features, stride = state_stride(f);
    for (int k = 0; k < 4; k++)
        memcpy(st->mem + k * stride + STATE_GUARD, in + k * f, (size_t)f * sizeof(float));
}

/* Index (into the allocation) of the first guard element that is not canary, or -1. */
static ptrdiff_t state_bad_guard(const bn_state *st)
{
    ptrdiff_t stride = state_stride(st->features);
    for (int k = 0; k < 4; k++) {
        const float *a = st->mem + k * stride;
        ptrdiff_t before = tu_find_non_canary(a, STATE_GUARD);
        if (before >= 0)
            return k * stride + before;
        ptrdiff_t after = tu_find_non_canary(a + STATE_GUARD + st->features, STATE_GUARD);
        if (after >= 0)
            return k * stride + STATE_GUARD + st->features + after;
    }
    return -1;
}

static const char *const state_names[4] = { "running_mean", "running_var", "gamma", "beta" };

/* Initialize with the options, then overwrite the running statistics with
 * random values (var in [0.5, 3]) and gamma/beta with tu_params, as a caller
 * restoring a trained layer would: the state is the caller's. */
static void state_randomize(tu_rng *rng, bn_state *st)
{
    ptrdiff_t f = st->features;
    float *scale = malloc((size_t)(2 * f + 1) * sizeof(float));
    cr_assert(scale, "out of memory");
    tu_params(f, scale, scale + f);
    for (ptrdiff_t i = 0; i < f; i++) {
        st->s.running_mean[i] = (float)(4.0 * tu_uniform(rng) - 2.0);
        st->s.running_var[i] = (float)(0.5 + 2.5 * tu_uniform(rng));
        st->s.gamma[i] = scale[i];
        st->s.beta[i] = scale[f + i];
    }
    free(scale);
}

/* ------------------------------------------------------------------ cases */

typedef struct bn_case {
    const char *test;
    int index;
    const char *preset;      /* "current" or "legacy": where o started */
    int rank;
    ptrdiff_t dims[SN_MAX_RANK];
    ptrdiff_t x_strides[SN_MAX_RANK];
    ptrdiff_t y_strides[SN_MAX_RANK];  /* ignored when in place */
    int in_place;
    sn_batch_norm_options o;
    const int *seq_lens;     /* [B] or NULL; the test owns the array */
    int training;
    int call;                /* index of this call in the case's sequence */
} bn_case;

static sn_batch_norm_options preset_options(const char *preset)
{
    return sn_batch_norm_defaults(strcmp(preset, "legacy") ? SN_BATCH_NORM_CURRENT
                                                           : SN_BATCH_NORM_LEGACY);
}

/* A case over dense x and y. layout may be NULL (then feature_axis counts). */
static bn_case case_new(const char *test, int index, const char *preset, const char *layout,
                        int feature_axis, int rank, const ptrdiff_t *dims)
{
    bn_case c;
    memset(&c, 0, sizeof c);
    c.test = test;
    c.index = index;
    c.preset = preset;
    c.rank = rank;
    memcpy(c.dims, dims, (size_t)rank * sizeof *dims);
    sn_tensor dense = sn_tensor_dense(NULL, SN_FLOAT32, rank, dims);
    memcpy(c.x_strides, dense.strides, sizeof c.x_strides);
    memcpy(c.y_strides, dense.strides, sizeof c.y_strides);
    c.o = preset_options(preset);
    c.o.layout = layout;
    c.o.feature_axis = feature_axis;
    c.training = 1;
    return c;
}

static int case_feature(const bn_case *c)
{
    if (c->o.layout)
        return tu_layout_axis(c->o.layout, 'F');
    return c->o.feature_axis < 0 ? c->o.feature_axis + c->rank : c->o.feature_axis;
}

static ptrdiff_t case_features(const bn_case *c)
{
    return c->dims[case_feature(c)];
}

/* Masking is in effect: lengths given and masked_time true. */
static int case_masked(const bn_case *c)
{
    return c->seq_lens && c->o.masked_time == 1;
}

static void describe_options(const sn_batch_norm_options *o, char *out, size_t size)
{
    snprintf(out, size,
             "use_shift=%d use_std=%d use_sample=%g force_sample=%d momentum=%g epsilon=%g "
             "update_sample_only_in_training=%d delay_sample_update=%d param_version=%d "
             "gamma_init=%g gamma_init_text=%s%s%s beta_init=%g beta_init_text=%s%s%s "
             "masked_time=%d correction=%g layout=%s feature_axis=%d",
             o->use_shift, o->use_std, (double)o->use_sample, o->force_sample,
             (double)o->momentum, (double)o->epsilon, o->update_sample_only_in_training,
             o->delay_sample_update, o->param_version, (double)o->gamma_init,
             o->gamma_init_text ? "\"" : "", o->gamma_init_text ? o->gamma_init_text : "NULL",
             o->gamma_init_text ? "\"" : "", (double)o->beta_init,
             o->beta_init_text ? "\"" : "", o->beta_init_text ? o->beta_init_text : "NULL",
             o->beta_init_text ? "\"" : "", o->masked_time, (double)o->correction,
             o->layout ? o->layout : "NULL", o->feature_axis);
}

static void format_lens(char *out, size_t size, const int *lens, ptrdiff_t n)
{
    if (!lens) {
        snprintf(out, size, "NULL");
        return;
    }
    ptrdiff_t shown = n < 16 ? n : 16;
    size_t used = (size_t)snprintf(out, size, "[");
    for (ptrdiff_t i = 0; i < shown && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, i ? ",%d" : "%d", lens[i]);
    if (used < size)
        snprintf(out + used, size - used, "%s]", shown < n ? ",..." : "");
}

static void describe(const bn_case *c, char *out, size_t size)
{
    char dims[160], xs[200], ys[200], lens[200], opts[1024];
    tu_format_dims(dims, sizeof dims, c->rank, c->dims);
    tu_format_dims(xs, sizeof xs, c->rank, c->x_strides);
    if (c->in_place)
        snprintf(ys, sizeof ys, "(in place)");
    else
        tu_format_dims(ys, sizeof ys, c->rank, c->y_strides);
    int b = tu_layout_axis(c->o.layout, 'B');
    format_lens(lens, sizeof lens, c->seq_lens, b >= 0 ? c->dims[b] : (c->rank ? c->dims[0] : 0));
    describe_options(&c->o, opts, sizeof opts);
    snprintf(out, size,
             "seed=%u isa=%s test=%s case=%d preset=%s layout=%s dims=%s x_strides=%s "
             "y_strides=%s feature axis=%d training=%d call=%d seq_lens=%s threads=%d "
             "options{%s}",
             tu_seed(), sn_isa_name(sn_get_isa()), c->test, c->index, c->preset,
             c->o.layout ? c->o.layout : "none", dims, xs, ys, case_feature(c), c->training,
             c->call, lens, sn_get_num_threads(), opts);
}

static void unravel(int rank, const ptrdiff_t *dims, ptrdiff_t index, ptrdiff_t *at)
{
    for (int a = rank - 1; a >= 0; a--) {
        at[a] = index % dims[a];
        index /= dims[a];
    }
}

/* ------------------------------------------------------------- reference */

/* What one call must do, in float64, from the state before it. */
typedef struct bn_ref {
    double *y;                      /* [count] expected output */
    double *count;                  /* [F] frames in the batch statistics */
    double *batch_mean, *batch_var; /* [F] biased batch statistics (0, 0 without frames) */
    double *update_var;             /* [F] m2 / (n - correction) */
    double *used_mean, *used_var;   /* [F] what step 5 normalizes with */
    double *run_mean, *run_var;     /* [F] running statistics after the call */
    int update;                     /* step 1 */
    int need_batch;                 /* step 2 */
} bn_ref;

static void ref_free(bn_ref *r)
{
    free(r->y);
    free(r->count);
    memset(r, 0, sizeof *r);
}

/*
 * RETURNN's five steps (SPEC 3.3):
 *  1. update = training || !update_sample_only_in_training
 *  2. batch statistics when update, or (training || force_sample) and
 *     use_sample != 1; with masked_time and lengths, valid frames only
 *  3. if update: running += (batch - running) * momentum (variance from
 *     m2 / (n - correction)); no valid frame: running unchanged
 *  4. training || force_sample: (1 - use_sample) * batch + use_sample *
 *     running, else running; "running" is the pre-update value with
 *     delay_sample_update
 *  5. y = (x - mean) / sqrt(var + epsilon) [* gamma] [+ beta], every frame
 * x: row-major values; before: the state's four arrays before the call.
 */
static void reference(const bn_case *c, const float *x, const float *before, bn_ref *r)
{
    const sn_batch_norm_options *o = &c->o;
    int feature = case_feature(c);
    ptrdiff_t f = c->dims[feature], n = tu_count(c->rank, c->dims);
    int masked = case_masked(c);
    int b_axis = masked ? tu_layout_axis(o->layout, 'B') : -1;
    int t_axis = masked ? tu_layout_axis(o->layout, 'T') : -1;
    const float *rm = before, *rv = before + f, *gamma = before + 2 * f, *beta = before + 3 * f;

    memset(r, 0, sizeof *r);
    r->y = malloc((size_t)(n + 1) * sizeof(double));
    r->count = calloc((size_t)(8 * f + 1), sizeof(double));
    cr_assert(r->y && r->count, "out of memory");
    r->batch_mean = r->count + f;
    r->batch_var = r->count + 2 * f;
    r->update_var = r->count + 3 * f;
    r->used_mean = r->count + 4 * f;
    r->used_var = r->count + 5 * f;
    r->run_mean = r->count + 6 * f;
    r->run_var = r->count + 7 * f;

    /* 1 */
    r->update = c->training || !o->update_sample_only_in_training;
    int sampling = c->training || o->force_sample;
    /* 2 */
    r->need_batch = r->update || (sampling && o->use_sample != 1.0f);
    ptrdiff_t at[SN_MAX_RANK];
    if (r->need_batch) {
        double *m2 = calloc((size_t)(f + 1), sizeof(double));
        cr_assert(m2, "out of memory");
        for (int pass = 0; pass < 2; pass++) {
            for (ptrdiff_t i = 0; i < n; i++) {
                unravel(c->rank, c->dims, i, at);
                if (masked && at[t_axis] >= c->seq_lens[at[b_axis]])
                    continue;
                ptrdiff_t k = at[feature];
                if (pass == 0) {
                    r->count[k] += 1.0;
                    r->batch_mean[k] += (double)x[i];
                } else {
                    double d = (double)x[i] - r->batch_mean[k];
                    m2[k] += d * d;
                }
            }
            for (ptrdiff_t k = 0; pass == 0 && k < f; k++)
                r->batch_mean[k] = r->count[k] > 0.0 ? r->batch_mean[k] / r->count[k] : 0.0;
        }
        for (ptrdiff_t k = 0; k < f; k++) {
            if (r->count[k] <= 0.0)
                continue;
            r->batch_var[k] = m2[k] / r->count[k];
            double dof = r->count[k] - (double)o->correction;
            /* The tests never ask for a correction the frame count cannot carry. */
            cr_assert(!r->update || dof > 0.0, "test bug: correction %g with %g frames",
                      (double)o->correction, r->count[k]);
            r->update_var[k] = dof > 0.0 ? m2[k] / dof : 0.0;
        }
        free(m2);
    }
    for (ptrdiff_t k = 0; k < f; k++) {
        double old_mean = rm[k], old_var = rv[k];
        /* 3 */
        r->run_mean[k] = old_mean;
        r->run_var[k] = old_var;
        if (r->update && r->count[k] > 0.0) {
            double momentum = (double)o->momentum;
            r->run_mean[k] = old_mean + (r->batch_mean[k] - old_mean) * momentum;
            r->run_var[k] = old_var + (r->update_var[k] - old_var) * momentum;
        }
        double running_mean = o->delay_sample_update ? old_mean : r->run_mean[k];
        double running_var = o->delay_sample_update ? old_var : r->run_var[k];
        /* 4 */
        if (sampling) {
            double w = (double)o->use_sample;
            r->used_mean[k] = (1.0 - w) * r->batch_mean[k] + w * running_mean;
            r->used_var[k] = (1.0 - w) * r->batch_var[k] + w * running_var;
        } else {
            r->used_mean[k] = running_mean;
            r->used_var[k] = running_var;
        }
    }
    /* 5 */
    for (ptrdiff_t i = 0; i < n; i++) {
        unravel(c->rank, c->dims, i, at);
        ptrdiff_t k = at[feature];
        double v = ((double)x[i] - r->used_mean[k]) /
                   sqrt(r->used_var[k] + (double)o->epsilon);
        if (o->use_std)
            v *= (double)gamma[k];
        if (o->use_shift)
            v += (double)beta[k];
        r->y[i] = v;
    }
}

/* ------------------------------------------------------------------ runs */

static void fail_case(const bn_case *c, const char *what)
{
    char desc[DESC_SIZE];
    describe(c, desc, sizeof desc);
    cr_assert(0, "%s: %s", desc, what);
}

/* Index of the first element of v's allocation outside its view that is not canary, or -1. */
static ptrdiff_t outside_written(const tu_view *v)
{
    ptrdiff_t n = tu_count(v->t.rank, v->t.dims);
    unsigned char *inside = calloc((size_t)(v->size > 0 ? v->size : 1), 1);
    cr_assert(inside, "out of memory");
    for (ptrdiff_t i = 0; i < n; i++)
        inside[tu_at(v, i) - v->alloc] = 1;
    ptrdiff_t bad = -1;
    float canary = tu_canary();
    for (ptrdiff_t i = 0; i < v->size && bad < 0; i++)
        if (!inside[i] && memcmp(&v->alloc[i], &canary, sizeof canary) != 0)
            bad = i;
    free(inside);
    return bad;
}

/* x's view for a case, with canary padding, filled by the test. */
static tu_view case_x(const bn_case *c)
{
    return tu_view_new(c->rank, c->dims, c->x_strides, 0);
}

/* One sn_batch_norm call on a copy of *xv with a guarded y (or in place on
 * the copy); asserts SN_OK, that nothing outside y's view and (unless in
 * place) nothing of x was written, and no state guard; y row-major to y_out. */
static void run_call(const bn_case *c, const tu_view *xv, bn_state *st, float *y_out)
{
    tu_view xin = tu_view_clone(xv), yv;
    memset(&yv, 0, sizeof yv);
    sn_tensor y;
    if (c->in_place) {
        y = xin.t;
    } else {
        yv = tu_view_new(c->rank, c->dims, c->y_strides, Y_GUARD);
        y = yv.t;
    }
    sn_status status = sn_batch_norm(&xin.t, &y, &st->s, &c->o, c->training, c->seq_lens);
    char msg[256];
    if (status != SN_OK) {
        snprintf(msg, sizeof msg, "sn_batch_norm returned %s (%s), want SN_OK",
                 sn_status_string(status), sn_last_error_detail());
        fail_case(c, msg);
    }
    const tu_view *out = c->in_place ? &xin : &yv;
    ptrdiff_t bad = outside_written(out);
    if (bad >= 0) {
        snprintf(msg, sizeof msg, "element %td of y's allocation (view starts at %td) is "
                 "outside the view but was written: %g", bad,
                 (ptrdiff_t)((float *)out->t.data - out->alloc), (double)out->alloc[bad]);
        fail_case(c, msg);
    }
    if (!c->in_place && memcmp(xin.alloc, xv->alloc, (size_t)xv->size * sizeof(float)) != 0)
        fail_case(c, "x (not in place) was written");
    if ((bad = state_bad_guard(st)) >= 0) {
        snprintf(msg, sizeof msg, "the state was written outside its arrays (allocation "
                 "element %td)", bad);
        fail_case(c, msg);
    }
    ptrdiff_t n = tu_count(c->rank, c->dims);
    for (ptrdiff_t i = 0; i < n; i++)
        y_out[i] = *tu_at(out, i);
    tu_view_free(&xin);
    if (!c->in_place)
        tu_view_free(&yv);
}

static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* y against the reference, the running statistics after the call, gamma and
 * beta untouched. */
static void check_call(const bn_case *c, const float *x, const float *before,
                       const float *after, const float *y, const bn_ref *r)
{
    ptrdiff_t n = tu_count(c->rank, c->dims), f = case_features(c);
    int feature = case_feature(c);
    double bar = c->o.use_std ? Y_BAR_GAMMA : Y_BAR;
    char msg[1024], where[160];
    ptrdiff_t at[SN_MAX_RANK];
    for (ptrdiff_t i = 0; i < n; i++) {
        double want = r->y[i], got = (double)y[i];
        double limit = bar * fmax(1.0, fabs(want));
        if (fabs(got - want) <= limit)
            continue;
        unravel(c->rank, c->dims, i, at);
        ptrdiff_t k = at[feature];
        tu_format_index(where, sizeof where, c->rank, c->dims, i);
        snprintf(msg, sizeof msg,
                 "y%s (feature %td, x=%.9g): got %.9g want %.9g (|diff| %.3g > %.3g); used "
                 "mean %.9g var %.9g; batch mean %.9g var %.9g over %g frames; running before "
                 "%.9g %.9g; update=%d",
                 where, k, (double)x[i], got, want, fabs(got - want), limit, r->used_mean[k],
                 r->used_var[k], r->batch_mean[k], r->batch_var[k], r->count[k],
                 (double)before[k], (double)before[f + k], r->update);
        fail_case(c, msg);
    }
    double m = (double)c->o.momentum;
    for (ptrdiff_t k = 0; k < f; k++) {
        for (int s = 0; s < 2; s++) {
            float old = before[s * f + k], got = after[s * f + k];
            if (!(r->update && r->count[k] > 0.0)) {
                if (same_bits(old, got))
                    continue;
                snprintf(msg, sizeof msg, "%s[%td]: got %.9g want it unchanged at %.9g "
                         "(update=%d, %g frames)", state_names[s], k, (double)got, (double)old,
                         r->update, r->count[k]);
                fail_case(c, msg);
            }
            double want = s ? r->run_var[k] : r->run_mean[k];
            /* Relative to the terms of old + (batch - old) * momentum. */
            double batch = s ? r->update_var[k] : fabs(r->batch_mean[k]) + sqrt(r->batch_var[k]);
            double limit = RUNNING_BAR * (fabs(want) + (1.0 - m) * fabs((double)old) +
                                          m * fabs(batch));
            if (fabs((double)got - want) <= limit)
                continue;
            snprintf(msg, sizeof msg, "%s[%td] after the call: got %.9g want %.9g (|diff| %.3g "
                     "> %.3g); before %.9g; batch mean %.9g var %.9g update var %.9g over %g "
                     "frames", state_names[s], k, (double)got, want, fabs((double)got - want),
                     limit, (double)old, r->batch_mean[k], r->batch_var[k], r->update_var[k],
                     r->count[k]);
            fail_case(c, msg);
        }
        for (int s = 2; s < 4; s++)
            if (!same_bits(before[s * f + k], after[s * f + k])) {
                snprintf(msg, sizeof msg, "%s[%td] changed: %.9g -> %.9g", state_names[s], k,
                         (double)before[s * f + k], (double)after[s * f + k]);
                fail_case(c, msg);
            }
    }
}

/* One call checked against the reference; y row-major to y_out if not NULL. */
static void step(const bn_case *c, const tu_view *xv, bn_state *st, float *y_out)
{
    ptrdiff_t n = tu_count(c->rank, c->dims), f = case_features(c);
    cr_assert(st->features == f, "test bug: state of %td features for %td", st->features, f);
    float *x = malloc((size_t)(n + 1) * sizeof(float));
    float *y = y_out ? y_out : malloc((size_t)(n + 1) * sizeof(float));
    float *before = malloc((size_t)(8 * f + 1) * sizeof(float)), *after = before + 4 * f;
    cr_assert(x && y && before, "out of memory");
    for (ptrdiff_t i = 0; i < n; i++)
        x[i] = *tu_at(xv, i);
    state_save(st, before);
    bn_ref r;
    reference(c, x, before, &r);
    run_call(c, xv, st, y);
    state_save(st, after);
    check_call(c, x, before, after, y, &r);
    ref_free(&r);
    free(x);
    free(before);
    if (!y_out)
        free(y);
}

/* A batch: per feature, mean in [-5, 5] and std in [0.1, 10]; padded frames
 * (t >= seq_lens[b] along the layout's B and T) far away (mean 50), so that
 * counting them would show. */
static void fill_batch(tu_rng *rng, const bn_case *c, tu_view *xv)
{
    int feature = case_feature(c);
    ptrdiff_t f = c->dims[feature], n = tu_count(c->rank, c->dims);
    double *mean = malloc((size_t)(2 * f + 1) * sizeof(double)), *std = mean + f;
    cr_assert(mean, "out of memory");
    for (ptrdiff_t k = 0; k < f; k++) {
        mean[k] = 10.0 * tu_uniform(rng) - 5.0;
        std[k] = pow(10.0, 2.0 * tu_uniform(rng) - 1.0);
    }
    int b = tu_layout_axis(c->o.layout, 'B'), t = tu_layout_axis(c->o.layout, 'T');
    int pad = c->seq_lens && b >= 0 && t >= 0;
    ptrdiff_t at[SN_MAX_RANK];
    for (ptrdiff_t i = 0; i < n; i++) {
        unravel(c->rank, c->dims, i, at);
        ptrdiff_t k = at[feature];
        if (pad && at[t] >= c->seq_lens[at[b]])
            *tu_at(xv, i) = (float)(50.0 + 20.0 * tu_normal(rng));
        else
            *tu_at(xv, i) = (float)(mean[k] + std[k] * tu_normal(rng));
    }
    free(mean);
}

/* ------------------------------------------------------------ truth table */

static const float use_samples[3] = { 0.0f, 0.5f, 1.0f };
static const int shift_std[3][2] = { { 1, 1 }, { 0, 0 }, { 1, 0 } };
static const tu_layout table_x_layouts[4] = { TU_DENSE, TU_PADDED, TU_TRANSPOSED, TU_STRIDED };

/* Masking variants: 0 no lengths; 1 lengths, masked_time 0; 2 lengths,
 * masked_time 1; 3 all lengths 0, masked_time 1 (no valid frame at all). */
#define MASK_VARIANTS 4

static void truth_table(const char *preset)
{
    static const int lens[3] = { 0, 7, 4 };   /* a 0 length, a full one, a partial one */
    static const int no_frames[3] = { 0, 0, 0 };
    const ptrdiff_t dims[3] = { 3, 7, 5 };
    char label[64];
    snprintf(label, sizeof label, "truth_table_%s", preset);
    tu_rng rng = tu_rng_for(label);
    int index = 0;
    for (int training = 0; training < 2; training++)
    for (int us = 0; us < 3; us++)
    for (int force = 0; force < 2; force++)
    for (int only = 0; only < 2; only++)
    for (int delay = 0; delay < 2; delay++)
    for (int ss = 0; ss < 3; ss++)
    for (int mask = 0; mask < MASK_VARIANTS; mask++, index++) {
        bn_case c = case_new(label, index, preset, "BTF", -1, 3, dims);
        c.training = training;
        c.o.use_sample = use_samples[us];
        c.o.force_sample = force;
        c.o.update_sample_only_in_training = only;
        c.o.delay_sample_update = delay;
        c.o.use_shift = shift_std[ss][0];
        c.o.use_std = shift_std[ss][1];
        if (mask > 0) {
            c.seq_lens = mask == 3 ? no_frames : lens;
            c.o.masked_time = mask >= 2;
        }
        /* Storage varies with the case: x dense/padded/transposed/strided,
         * y dense, padded or in place. */
        tu_layout_strides(&rng, table_x_layouts[index % 4], 3, dims, 2, c.x_strides);
        int y_kind = (index / 4) % 3;
        c.in_place = y_kind == 2;
        tu_layout_strides(&rng, y_kind ? TU_PADDED : TU_DENSE, 3, dims, 2, c.y_strides);

        bn_state st = state_new(dims[2]);
        sn_status status = sn_batch_norm_init(&st.s, &c.o);
        cr_assert(status == SN_OK, "sn_batch_norm_init returned %s", sn_status_string(status));
        state_randomize(&rng, &st);
        tu_view xv = case_x(&c);
        for (c.call = 0; c.call < 3; c.call++) {
            fill_batch(&rng, &c, &xv);
            step(&c, &xv, &st, NULL);
        }
        tu_view_free(&xv);
        state_free(&st);
    }
    cr_log_info("batch_norm %s: %d truth-table cases x 3 calls", label, index);
}

Test(batch_norm, truth_table_current)
{
    tu_begin();
    truth_table("current");
}

Test(batch_norm, truth_table_legacy)
{
    tu_begin();
    truth_table("legacy");
}

/* A Bessel (and a fractional) correction changes only the running variance. */
Test(batch_norm, variance_correction)
{
    tu_begin();
    static const int lens[4] = { 5, 0, 2, 6 };
    static const float corrections[3] = { 1.0f, 0.5f, 0.0f };
    const ptrdiff_t dims[3] = { 4, 6, 9 };
    tu_rng rng = tu_rng_for("variance_correction");
    int index = 0;
    for (int k = 0; k < 3; k++)
        for (int masked = 0; masked < 2; masked++)
            for (int preset = 0; preset < 2; preset++, index++) {
                bn_case c = case_new("variance_correction", index,
                                     preset ? "legacy" : "current", "BTF", -1, 3, dims);
                c.o.correction = corrections[k];
                c.o.momentum = 0.5f;
                if (masked) {
                    c.seq_lens = lens;
                    c.o.masked_time = 1;
                }
                bn_state st = state_new(dims[2]);
                cr_assert(sn_batch_norm_init(&st.s, &c.o) == SN_OK, "init failed");
                tu_view xv = case_x(&c);
                for (c.call = 0; c.call < 4; c.call++) {
                    c.training = c.call != 2;
                    fill_batch(&rng, &c, &xv);
                    step(&c, &xv, &st, NULL);
                }
                tu_view_free(&xv);
                state_free(&st);
            }
}

/* ---------------------------------------------------------------- presets */

#define EXPECT_FIELD(preset, cond)                                                         \
    cr_expect(cond, "seed=%u isa=%s: sn_batch_norm_defaults(%s): %s does not hold (SPEC 3.3 " \
              "table)", tu_seed(), tu_isa_name(), preset, #cond)

static void check_current(const sn_batch_norm_options *o, const char *name)
{
    EXPECT_FIELD(name, o->use_shift == 1);
    EXPECT_FIELD(name, o->use_std == 1);
    EXPECT_FIELD(name, o->use_sample == 0.0f);
    EXPECT_FIELD(name, o->force_sample == 0);
    EXPECT_FIELD(name, o->momentum == 0.1f);
    EXPECT_FIELD(name, o->epsilon == 1e-3f);
    EXPECT_FIELD(name, o->update_sample_only_in_training == 1);
    EXPECT_FIELD(name, o->delay_sample_update == 1);
    EXPECT_FIELD(name, o->param_version == 2);
    EXPECT_FIELD(name, o->gamma_init == 1.0f);
    EXPECT_FIELD(name, o->beta_init == 0.0f);
    EXPECT_FIELD(name, o->gamma_init_text == NULL);
    EXPECT_FIELD(name, o->beta_init_text == NULL);
    EXPECT_FIELD(name, o->masked_time == SN_UNSET);
    EXPECT_FIELD(name, o->correction == 0.0f);
    EXPECT_FIELD(name, o->layout == NULL);
    EXPECT_FIELD(name, o->feature_axis == -1);
}

Test(batch_norm, preset_defaults)
{
    tu_begin();
    sn_batch_norm_options cur = sn_batch_norm_defaults(SN_BATCH_NORM_CURRENT);
    check_current(&cur, "SN_BATCH_NORM_CURRENT");
    /* Any value other than LEGACY is the current preset. */
    sn_batch_norm_options other = sn_batch_norm_defaults((sn_batch_norm_preset)7);
    check_current(&other, "(sn_batch_norm_preset)7");

    sn_batch_norm_options leg = sn_batch_norm_defaults(SN_BATCH_NORM_LEGACY);
    const char *name = "SN_BATCH_NORM_LEGACY";
    EXPECT_FIELD(name, leg.use_shift == 1);
    EXPECT_FIELD(name, leg.use_std == 1);
    EXPECT_FIELD(name, leg.use_sample == 0.0f);
    EXPECT_FIELD(name, leg.force_sample == 0);
    EXPECT_FIELD(name, leg.momentum == 0.99f);
    EXPECT_FIELD(name, leg.epsilon == 1e-3f);
    EXPECT_FIELD(name, leg.update_sample_only_in_training == 0);
    EXPECT_FIELD(name, leg.delay_sample_update == 0);
    EXPECT_FIELD(name, leg.param_version == 0);
    EXPECT_FIELD(name, leg.gamma_init == 1.0f);
    EXPECT_FIELD(name, leg.beta_init == 0.0f);
    EXPECT_FIELD(name, leg.gamma_init_text == NULL);
    EXPECT_FIELD(name, leg.beta_init_text == NULL);
    EXPECT_FIELD(name, leg.masked_time == 1);
    EXPECT_FIELD(name, leg.correction == 0.0f);
    EXPECT_FIELD(name, leg.layout == NULL);
    EXPECT_FIELD(name, leg.feature_axis == -1);
}

/* NULL options are the current preset: same state from init, same bits from
 * a call; the legacy preset masks by default, the current one needs masked_time. */
Test(batch_norm, null_options_and_preset_masking)
{
    tu_begin();
    tu_rng rng = tu_rng_for("null_options");
    const ptrdiff_t dims[3] = { 4, 5, 6 };
    bn_case c = case_new("null_options", 0, "current", NULL, -1, 3, dims);
    bn_state a = state_new(6), b = state_new(6);
    cr_assert(sn_batch_norm_init(&a.s, NULL) == SN_OK, "sn_batch_norm_init(NULL options) failed");
    cr_assert(sn_batch_norm_init(&b.s, &c.o) == SN_OK, "sn_batch_norm_init failed");
    for (ptrdiff_t k = 0; k < 6; k++)
        cr_assert(a.s.running_mean[k] == 0.0f && a.s.running_var[k] == 1.0f &&
                      a.s.gamma[k] == 1.0f && a.s.beta[k] == 0.0f,
                  "seed=%u isa=%s: init with NULL options gave mean %g var %g gamma %g beta %g "
                  "at feature %td, want 0 1 1 0", tu_seed(), tu_isa_name(),
                  (double)a.s.running_mean[k], (double)a.s.running_var[k], (double)a.s.gamma[k],
                  (double)a.s.beta[k], k);
    tu_view xv = case_x(&c);
    ptrdiff_t n = tu_count(3, dims);
    float *ya = malloc((size_t)n * sizeof(float)), *yb = malloc((size_t)n * sizeof(float));
    cr_assert(ya && yb, "out of memory");
    for (c.call = 0; c.call < 3; c.call++) {
        c.training = c.call != 1;
        fill_batch(&rng, &c, &xv);
        step(&c, &xv, &b, yb);
        sn_tensor x = xv.t, y = sn_tensor_dense(ya, SN_FLOAT32, 3, dims);
        sn_status status = sn_batch_norm(&x, &y, &a.s, NULL, c.training, NULL);
        cr_assert(status == SN_OK, "sn_batch_norm(NULL options) returned %s",
                  sn_status_string(status));
        cr_assert(memcmp(ya, yb, (size_t)n * sizeof(float)) == 0 &&
                      memcmp(a.mem, b.mem, (size_t)(4 * state_stride(6)) * sizeof(float)) == 0,
                  "seed=%u isa=%s call %d training %d: NULL options differ from "
                  "sn_batch_norm_defaults(SN_BATCH_NORM_CURRENT)", tu_seed(), tu_isa_name(),
                  c.call, c.training);
    }
    free(ya);
    free(yb);

    /* Legacy: masked_time defaults to true, so padded frames are left out. */
    static const int lens[4] = { 5, 2, 0, 3 };
    bn_case l = case_new("legacy_masking", 1, "legacy", "BTF", -1, 3, dims);
    l.seq_lens = lens;
    bn_state st = state_new(6);
    cr_assert(sn_batch_norm_init(&st.s, &l.o) == SN_OK, "init failed");
    for (l.call = 0; l.call < 2; l.call++) {
        l.training = l.call == 0;
        fill_batch(&rng, &l, &xv);
        step(&l, &xv, &st, NULL);
    }
    /* Current with masked_time given explicitly (either way) works. */
    bn_case m = case_new("current_masking", 2, "current", "BTF", -1, 3, dims);
    m.seq_lens = lens;
    for (int mt = 0; mt < 2; mt++) {
        m.o.masked_time = mt;
        m.call = mt;
        fill_batch(&rng, &m, &xv);
        step(&m, &xv, &st, NULL);
    }
    tu_view_free(&xv);
    state_free(&a);
    state_free(&b);
    state_free(&st);
}

/* param_version only names the checkpoint convention: 0, 1, 2 compute the same bits. */
Test(batch_norm, param_version_same_results)
{
    tu_begin();
    const ptrdiff_t dims[3] = { 3, 8, 10 };
    ptrdiff_t n = tu_count(3, dims);
    float *first_y = malloc((size_t)(3 * n) * sizeof(float));
    float *y = malloc((size_t)(3 * n) * sizeof(float));
    float first_state[40], state[40];
    cr_assert(first_y && y, "out of memory");
    for (int pv = 0; pv <= 2; pv++) {
        tu_rng rng = tu_rng_for("param_version");
        bn_case c = case_new("param_version", pv, "current", "BTF", -1, 3, dims);
        c.o.param_version = pv;
        bn_state st = state_new(10);
        cr_assert(sn_batch_norm_init(&st.s, &c.o) == SN_OK, "init failed");
        tu_view xv = case_x(&c);
        for (c.call = 0; c.call < 3; c.call++) {
            c.training = c.call < 2;
            fill_batch(&rng, &c, &xv);
            step(&c, &xv, &st, (pv ? y : first_y) + c.call * n);
        }
        state_save(&st, pv ? state : first_state);
        if (pv)
            cr_assert(memcmp(y, first_y, (size_t)(3 * n) * sizeof(float)) == 0 &&
                          memcmp(state, first_state, sizeof state) == 0,
                      "seed=%u isa=%s: param_version %d computes other bits than "
                      "param_version 0", tu_seed(), tu_isa_name(), pv);
        tu_view_free(&xv);
        state_free(&st);
    }
    free(first_y);
    free(y);
}

/* ---------------------------------------------------------------- layouts */

typedef struct layout_shape {
    const char *layout;  /* NULL: feature_axis */
    int feature_axis;
    int rank;
    ptrdiff_t dims[4];
    int maskable;        /* has B and T */
} layout_shape;

static const layout_shape layout_shapes[] = {
    { "BTF", -1, 3, { 4, 9, 24 }, 1 },           /* feature-last [B,T,F] */
    { "BSSF", -1, 4, { 2, 5, 6, 20 }, 0 },       /* [N,H,W,C] */
    { "BFSS", -1, 4, { 3, 10, 6, 7 }, 0 },       /* channels-first [N,C,H,W] */
    { "BFT", -1, 3, { 4, 12, 15 }, 1 },          /* [B,F,T] */
    { "TBF", -1, 3, { 11, 4, 24 }, 1 },          /* time-major [T,B,F] */
    { "btf", -1, 3, { 3, 5, 70 }, 1 },           /* lower case, more than a panel of features */
    { NULL, 1, 3, { 5, 12, 9 }, 0 },             /* no layout, feature_axis 1 */
    { NULL, -1, 3, { 6, 7, 13 }, 0 },            /* no layout, feature_axis -1 */
    { NULL, 0, 2, { 7, 33 }, 0 },                /* [F, N] */
    { "BTF", -1, 3, { 1, 1, 3 }, 1 },            /* one frame per feature: variance 0 */
    { NULL, -1, 2, { 50, 1 }, 0 },               /* one feature */
};

Test(batch_norm, layouts_and_views)
{
    tu_begin();
    /* x: these five, and a broadcast view (stride 0 along the first other axis) */
    static const tu_layout x_layouts[6] = { TU_DENSE, TU_PADDED, TU_TRANSPOSED, TU_STRIDED,
                                            TU_RANDOM, TU_DENSE };
    static const int lens_by_b[6] = { 9, 0, 4, 1, 15, 7 };
    tu_rng rng = tu_rng_for("layouts");
    int index = 0;
    for (size_t s = 0; s < sizeof layout_shapes / sizeof layout_shapes[0]; s++) {
        const layout_shape *ls = &layout_shapes[s];
        int lens[6];
        for (int xl = 0; xl < 6; xl++)
            for (int yl = 0; yl < 4; yl++, index++) {
                const char *preset = index % 2 ? "legacy" : "current";
                bn_case c = case_new("layouts", index, preset, ls->layout, ls->feature_axis,
                                     ls->rank, ls->dims);
                int feature = case_feature(&c);
                tu_layout_strides(&rng, x_layouts[xl], ls->rank, ls->dims, feature, c.x_strides);
                int broadcast = xl == 5;
                for (int a = 0; broadcast && a < ls->rank; a++)
                    if (a != feature && ls->dims[a] > 1) {
                        c.x_strides[a] = 0;
                        break;
                    }
                /* y: dense, strided, transposed, in place */
                static const tu_layout y_layouts[3] = { TU_DENSE, TU_STRIDED, TU_TRANSPOSED };
                c.in_place = yl == 3 && !broadcast;  /* y must not overlap itself */
                tu_layout_strides(&rng, y_layouts[yl % 3], ls->rank, ls->dims, feature,
                                  c.y_strides);
                if (ls->maskable && (xl + yl) % 2) {
                    int t = tu_layout_axis(ls->layout, 'T');
                    for (int b = 0; b < ls->dims[tu_layout_axis(ls->layout, 'B')]; b++)
                        lens[b] = lens_by_b[b] < ls->dims[t] ? lens_by_b[b] : (int)ls->dims[t];
                    c.seq_lens = lens;
                    c.o.masked_time = 1;
                }
                c.o.use_sample = (index % 3) * 0.25f;
                bn_state st = state_new(ls->dims[feature]);
                cr_assert(sn_batch_norm_init(&st.s, &c.o) == SN_OK, "init failed");
                state_randomize(&rng, &st);
                tu_view xv = case_x(&c);
                for (c.call = 0; c.call < 3; c.call++) {
                    c.training = c.call < 2;
                    fill_batch(&rng, &c, &xv);
                    step(&c, &xv, &st, NULL);
                }
                tu_view_free(&xv);
                state_free(&st);
            }
    }
}

/* --------------------------------------------------------- ill-conditioned */

/* Per feature mean M * (1 + 0.01 * k) (k the feature), std S; padded frames 0. */
static void fill_offset(tu_rng *rng, const bn_case *c, tu_view *xv, double big, double std)
{
    int feature = case_feature(c);
    ptrdiff_t n = tu_count(c->rank, c->dims);
    int b = tu_layout_axis(c->o.layout, 'B'), t = tu_layout_axis(c->o.layout, 'T');
    int pad = c->seq_lens && b >= 0 && t >= 0;
    ptrdiff_t at[SN_MAX_RANK];
    for (ptrdiff_t i = 0; i < n; i++) {
        unravel(c->rank, c->dims, i, at);
        if (pad && at[t] >= c->seq_lens[at[b]])
            *tu_at(xv, i) = 0.0f;
        else
            *tu_at(xv, i) = (float)(big * (1.0 + 0.01 * (double)at[feature]) +
                                    std * tu_normal(rng));
    }
}

Test(batch_norm, ill_conditioned)
{
    tu_begin();
    static const double conditions[3][2] = { { 1e4, 1e-2 }, { 1e6, 1.0 }, { -3e5, 0.5 } };
    static const int lens[8] = { 0, 50, 17, 1, 49, 0, 33, 8 };
    static const struct {
        const char *layout;
        int rank;
        ptrdiff_t dims[4];
        int masked;
    } shapes[] = {
        { "BTF", 3, { 8, 50, 16 }, 0 },
        { "BTF", 3, { 8, 50, 16 }, 1 },     /* first frames padded: the shift must be valid */
        { "BFSS", 4, { 4, 16, 10, 10 }, 0 },
        { "BTF", 3, { 4, 1100, 3 }, 0 },    /* long columns */
        { "BFSS", 4, { 2, 3, 80, 80 }, 0 }, /* rows longer than one row block */
        { "BFT", 3, { 8, 5, 50 }, 1 },      /* masked rows */
    };
    tu_rng rng = tu_rng_for("ill_conditioned");
    int index = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int k = 0; k < 3; k++, index++) {
            bn_case c = case_new("ill_conditioned", index, "current", shapes[s].layout, -1,
                                 shapes[s].rank, shapes[s].dims);
            if (shapes[s].masked) {
                c.seq_lens = lens;
                c.o.masked_time = 1;
            }
            /* The normalized value itself, with an epsilon that does not hide the
             * spread; momentum 1 makes the running statistics the batch's. */
            c.o.use_shift = c.o.use_std = 0;
            c.o.epsilon = 1e-9f;
            c.o.momentum = 1.0f;
            c.o.delay_sample_update = 0;
            bn_state st = state_new(case_features(&c));
            cr_assert(sn_batch_norm_init(&st.s, &c.o) == SN_OK, "init failed");
            tu_view xv = case_x(&c);
            for (c.call = 0; c.call < 4; c.call++) {
                /* training, inference on the running (batch) statistics, training
                 * with gamma and beta, training with use_sample 0.5 */
                c.training = c.call != 1;
                if (c.call == 2) {
                    c.o.use_shift = c.o.use_std = 1;
                    state_randomize(&rng, &st);
                    for (ptrdiff_t f = 0; f < st.features; f++) {
                        st.s.running_mean[f] = (float)conditions[k][0];
                        st.s.running_var[f] = (float)(conditions[k][1] * conditions[k][1]);
                    }
                }
                if (c.call == 3)
                    c.o.use_sample = 0.5f;
                fill_offset(&rng, &c, &xv, conditions[k][0], conditions[k][1]);
                step(&c, &xv, &st, NULL);
            }
            tu_view_free(&xv);
            state_free(&st);
        }
}

/* ------------------------------------------------------------- checkpoint */

Test(batch_norm, checkpoint_restore)
{
    tu_begin();
    static const int lens[4] = { 6, 3, 0, 5 };
    const ptrdiff_t dims[3] = { 4, 6, 70 };
    enum { CALLS = 6, SAVED_AFTER = 3 };
    ptrdiff_t n = tu_count(3, dims), f = dims[2];
    for (int preset = 0; preset < 2; preset++) {
        tu_rng rng = tu_rng_for("checkpoint");
        bn_case c = case_new("checkpoint", preset, preset ? "legacy" : "current", "BTF", -1, 3,
                             dims);
        c.seq_lens = lens;
        c.o.masked_time = 1;
        c.o.use_sample = 0.25f;
        tu_view x[CALLS], other = case_x(&c);
        for (int i = 0; i < CALLS; i++) {
            x[i] = case_x(&c);
            fill_batch(&rng, &c, &x[i]);
        }
        float *y_a = malloc((size_t)(CALLS * n) * sizeof(float));
        float *y_b = malloc((size_t)(CALLS * n) * sizeof(float));
        float *states_a = malloc((size_t)(CALLS * 4 * f) * sizeof(float));
        float *saved = malloc((size_t)(4 * f) * sizeof(float));
        float *now = malloc((size_t)(4 * f) * sizeof(float));
        cr_assert(y_a && y_b && states_a && saved && now, "out of memory");

        /* Run A: never saved. */
        bn_state a = state_new(f);
        cr_assert(sn_batch_norm_init(&a.s, &c.o) == SN_OK, "init failed");
        for (c.call = 0; c.call < CALLS; c.call++) {
            c.training = c.call != 4;
            step(&c, &x[c.call], &a, y_a + c.call * n);
            state_save(&a, states_a + c.call * 4 * f);
        }
        /* Run B: save after SAVED_AFTER calls, train on other batches and change
         * gamma/beta (as an optimizer would), restore into a fresh state, go on. */
        bn_state b = state_new(f);
        cr_assert(sn_batch_norm_init(&b.s, &c.o) == SN_OK, "init failed");
        for (c.call = 0; c.call < SAVED_AFTER; c.call++) {
            c.training = c.call != 4;
            step(&c, &x[c.call], &b, NULL);
        }
        state_save(&b, saved);
        c.training = 1;
        for (int j = 0; j < 2; j++) {
            fill_batch(&rng, &c, &other);
            step(&c, &other, &b, NULL);
        }
        for (ptrdiff_t k = 0; k < f; k++) {
            b.s.gamma[k] += 0.5f;
            b.s.beta[k] -= 0.25f;
        }
        for (int fresh = 0; fresh < 2; fresh++) {
            /* Restore into a new state, then into the one that ran on. */
            bn_state r = fresh ? b : state_new(f);
            state_load(&r, saved);
            for (c.call = SAVED_AFTER; c.call < CALLS; c.call++) {
                c.training = c.call != 4;
                step(&c, &x[c.call], &r, y_b + c.call * n);
                state_save(&r, now);
                if (memcmp(y_b + c.call * n, y_a + c.call * n, (size_t)n * sizeof(float)) ||
                    memcmp(now, states_a + c.call * 4 * f, (size_t)(4 * f) * sizeof(float))) {
                    fail_case(&c, fresh ? "restored into the state that ran on: y or state "
                                          "differ from the run that never saved"
                                        : "restored into a new state: y or state differ from "
                                          "the run that never saved");
                }
            }
            if (!fresh)
                state_free(&r);
        }
        for (int i = 0; i < CALLS; i++)
            tu_view_free(&x[i]);
        tu_view_free(&other);
        state_free(&a);
        state_free(&b);
        free(y_a);
        free(y_b);
        free(states_a);
        free(saved);
        free(now);
    }
}

/* ------------------------------------------------------------ init values */

static void check_init(const char *gamma_text, float gamma, const char *beta_text, float beta,
                       float want_gamma, float want_beta)
{
    sn_batch_norm_options o = sn_batch_norm_defaults(SN_BATCH_NORM_CURRENT);
    o.gamma_init = gamma;
    o.gamma_init_text = gamma_text;
    o.beta_init = beta;
    o.beta_init_text = beta_text;
    bn_state st = state_new(5);
    sn_status status = sn_batch_norm_init(&st.s, &o);
    char opts[1024];
    describe_options(&o, opts, sizeof opts);
    cr_assert(status == SN_OK, "seed=%u isa=%s: sn_batch_norm_init(%s) returned %s", tu_seed(),
              tu_isa_name(), opts, sn_status_string(status));
    for (ptrdiff_t k = 0; k < 5; k++)
        cr_assert(same_bits(st.s.running_mean[k], 0.0f) && same_bits(st.s.running_var[k], 1.0f) &&
                      same_bits(st.s.gamma[k], want_gamma) && same_bits(st.s.beta[k], want_beta),
                  "seed=%u isa=%s: sn_batch_norm_init(%s): feature %td has running mean %g var "
                  "%g gamma %.9g beta %.9g, want 0 1 %.9g %.9g", tu_seed(), tu_isa_name(), opts,
                  k, (double)st.s.running_mean[k], (double)st.s.running_var[k],
                  (double)st.s.gamma[k], (double)st.s.beta[k], (double)want_gamma,
                  (double)want_beta);
    cr_assert(state_bad_guard(&st) < 0, "seed=%u isa=%s: sn_batch_norm_init(%s) wrote outside "
              "the state arrays", tu_seed(), tu_isa_name(), opts);
    state_free(&st);
}

/* A bad init text: SN_ERR_INIT_VALUE from sn_batch_norm_init and from
 * sn_batch_norm, with neither the state nor y written. */
static void check_bad_init(const char *gamma_text, const char *beta_text)
{
    tu_rng rng = tu_rng_for("init_values");
    const ptrdiff_t dims[3] = { 2, 3, 5 };
    bn_case c = case_new("init_values", 0, "current", "BTF", -1, 3, dims);
    c.o.gamma_init_text = gamma_text;
    c.o.beta_init_text = beta_text;
    bn_state st = state_new(5);
    state_randomize(&rng, &st);
    float before[20], after[20];
    state_save(&st, before);
    char opts[1024];
    describe_options(&c.o, opts, sizeof opts);
    sn_status status = sn_batch_norm_init(&st.s, &c.o);
    state_save(&st, after);
    cr_assert(status == SN_ERR_INIT_VALUE, "seed=%u isa=%s: sn_batch_norm_init(%s) returned %s, "
              "want SN_ERR_INIT_VALUE", tu_seed(), tu_isa_name(), opts,
              sn_status_string(status));
    cr_assert(memcmp(before, after, sizeof before) == 0 && state_bad_guard(&st) < 0,
              "seed=%u isa=%s: sn_batch_norm_init(%s) failed but wrote the state", tu_seed(),
              tu_isa_name(), opts);
    float x[30], y[30];
    for (int i = 0; i < 30; i++)
        x[i] = (float)tu_normal(&rng);
    tu_fill_canary(y, 30);
    sn_tensor xt = sn_tensor_dense(x, SN_FLOAT32, 3, dims), yt = sn_tensor_dense(y, SN_FLOAT32, 3,
                                                                                    dims);
    for (int training = 0; training < 2; training++) {
        status = sn_batch_norm(&xt, &yt, &st.s, &c.o, training, NULL);
        state_save(&st, after);
        cr_assert(status == SN_ERR_INIT_VALUE, "seed=%u isa=%s: sn_batch_norm(training=%d, %s) "
                  "returned %s, want SN_ERR_INIT_VALUE", tu_seed(), tu_isa_name(), training,
                  opts, sn_status_string(status));
        cr_assert(tu_find_non_canary(y, 30) < 0 && memcmp(before, after, sizeof before) == 0,
                  "seed=%u isa=%s: sn_batch_norm(training=%d, %s) failed but wrote y or the "
                  "state", tu_seed(), tu_isa_name(), training, opts);
    }
    state_free(&st);
}

Test(batch_norm, init_values)
{
    tu_begin();
    check_init(NULL, 1.0f, NULL, 0.0f, 1.0f, 0.0f);
    check_init(NULL, 2.5f, NULL, -0.75f, 2.5f, -0.75f);
    check_init("zeros", 3.0f, "ones", 3.0f, 0.0f, 1.0f);
    check_init("ones", 0.0f, "zeros", 7.0f, 1.0f, 0.0f);
    check_init("0.5", 9.0f, "-2e-1", 9.0f, 0.5f, -0.2f);
    check_init("3", 0.0f, NULL, 0.125f, 3.0f, 0.125f);

    check_bad_init("foo", NULL);
    check_bad_init(NULL, "foo");
    check_bad_init("", NULL);
    check_bad_init(NULL, "1.5x");
    check_bad_init("zero", NULL);

    /* The init values reach the output through gamma and beta. */
    tu_rng rng = tu_rng_for("init_values_run");
    const ptrdiff_t dims[3] = { 3, 4, 6 };
    bn_case c = case_new("init_values_run", 1, "current", "BTF", -1, 3, dims);
    c.o.gamma_init_text = "0.5";
    c.o.beta_init = -1.5f;
    bn_state st = state_new(6);
    cr_assert(sn_batch_norm_init(&st.s, &c.o) == SN_OK, "init failed");
    tu_view xv = case_x(&c);
    fill_batch(&rng, &c, &xv);
    step(&c, &xv, &st, NULL);
    tu_view_free(&xv);
    state_free(&st);

    /* Without use_std / use_shift, gamma / beta may be NULL (init and call). */
    for (int which = 0; which < 2; which++) {
        bn_case d = case_new("null_params", which, "current", "BTF", -1, 3, dims);
        bn_state s2 = state_new(6);
        if (which == 0) {
            d.o.use_std = 0;
            s2.s.gamma = NULL;
        } else {
            d.o.use_shift = 0;
            s2.s.beta = NULL;
        }
        sn_status status = sn_batch_norm_init(&s2.s, &d.o);
        cr_assert(status == SN_OK, "seed=%u isa=%s: init with %s NULL and use_%s 0 returned %s",
                  tu_seed(), tu_isa_name(), which ? "beta" : "gamma", which ? "shift" : "std",
                  sn_status_string(status));
        float x[72], y[72];
        for (int i = 0; i < 72; i++)
            x[i] = (float)tu_normal(&rng);
        sn_tensor xt = sn_tensor_dense(x, SN_FLOAT32, 3, dims);
        sn_tensor yt = sn_tensor_dense(y, SN_FLOAT32, 3, dims);
        status = sn_batch_norm(&xt, &yt, &s2.s, &d.o, 1, NULL);
        cr_assert(status == SN_OK, "seed=%u isa=%s: sn_batch_norm with %s NULL and use_%s 0 "
                  "returned %s", tu_seed(), tu_isa_name(), which ? "beta" : "gamma",
                  which ? "shift" : "std", sn_status_string(status));
        state_free(&s2);
    }
}

/* Empty tensors: nothing to compute, the state stays as it was. */
Test(batch_norm, empty)
{
    tu_begin();
    static const ptrdiff_t shapes[2][3] = { { 0, 4, 5 }, { 3, 0, 5 } };
    for (int s = 0; s < 2; s++)
        for (int training = 0; training < 2; training++) {
            bn_state st = state_new(5);
            tu_rng rng = tu_rng_for("empty");
            state_randomize(&rng, &st);
            float before[20], after[20], dummy[1];
            state_save(&st, before);
            sn_batch_norm_options o = sn_batch_norm_defaults(SN_BATCH_NORM_LEGACY);
            o.layout = "BTF";
            sn_tensor x = sn_tensor_dense(dummy, SN_FLOAT32, 3, shapes[s]);
            sn_tensor y = sn_tensor_dense(dummy + 0, SN_FLOAT32, 3, shapes[s]);
            sn_status status = sn_batch_norm(&x, &y, &st.s, &o, training, NULL);
            state_save(&st, after);
            cr_assert(status == SN_OK && memcmp(before, after, sizeof before) == 0,
                      "seed=%u isa=%s: empty x dims [%td,%td,%td] training=%d: status %s, state "
                      "%s", tu_seed(), tu_isa_name(), shapes[s][0], shapes[s][1], shapes[s][2],
                      training, sn_status_string(status),
                      memcmp(before, after, sizeof before) ? "changed" : "unchanged");
            state_free(&st);
        }
    /* F = 0: a state of no features, NULL arrays. */
    const ptrdiff_t dims[3] = { 2, 3, 0 };
    sn_batch_norm_state empty = { 0, NULL, NULL, NULL, NULL };
    float dummy[1];
    sn_tensor x = sn_tensor_dense(dummy, SN_FLOAT32, 3, dims);
    sn_status status = sn_batch_norm_init(&empty, NULL);
    cr_assert(status == SN_OK, "seed=%u isa=%s: init of a 0-feature state returned %s",
              tu_seed(), tu_isa_name(), sn_status_string(status));
    status = sn_batch_norm(&x, &x, &empty, NULL, 1, NULL);
    cr_assert(status == SN_OK, "seed=%u isa=%s: batch norm of [2,3,0] returned %s", tu_seed(),
              tu_isa_name(), sn_status_string(status));
}

/* ------------------------------------------------------------ determinism */

typedef struct det_shape {
    const char *layout;
    int rank;
    ptrdiff_t dims[4];
    int masked;
    sn_path path;  /* the planner's path for the statistics */
    const char *why;
} det_shape;

static const det_shape det_shapes[] = {
    { "BTF", 3, { 16, 64, 256 }, 0, SN_PATH_COLUMNS,
      "feature-last, 4 panels: split at 8 threads" },
    { "BTF", 3, { 16, 64, 256 }, 1, SN_PATH_COLUMNS, "feature-last, masked" },
    { "BFSS", 4, { 4, 64, 32, 32 }, 0, SN_PATH_ROWS, "channels-first, 64 channels of 4 rows" },
    { "BTF", 3, { 64, 256, 8 }, 0, SN_PATH_COLUMNS, "F=8: one panel, split from 2 threads" },
    { "BFSS", 4, { 2, 4, 128, 128 }, 0, SN_PATH_ROWS, "4 channels: split at 8 threads" },
    { "BFT", 3, { 16, 4, 4096 }, 1, SN_PATH_ROWS, "[B,F,T] masked, 4 features: split at 8" },
};

static const int det_threads[] = { 1, 2, 3, 8 };
#define DET_THREADS ((int)(sizeof det_threads / sizeof det_threads[0]))
#define DET_CALLS 3

Test(batch_norm, determinism_threads)
{
    tu_begin();
    for (size_t s = 0; s < sizeof det_shapes / sizeof det_shapes[0]; s++) {
        const det_shape *ds = &det_shapes[s];
        tu_rng rng = tu_rng_for("determinism");
        bn_case c = case_new("determinism", (int)s, "current", ds->layout, -1, ds->rank,
                             ds->dims);
        int lens[64];
        if (ds->masked) {
            int t = tu_layout_axis(ds->layout, 'T');
            for (int b = 0; b < ds->dims[0]; b++)
                lens[b] = b == 0 ? (int)ds->dims[t] : (int)tu_range(&rng, 0, ds->dims[t]);
            c.seq_lens = lens;
            c.o.masked_time = 1;
        }
        ptrdiff_t n = tu_count(ds->rank, ds->dims), f = case_features(&c);
        tu_view x[2] = { case_x(&c), case_x(&c) };
        fill_batch(&rng, &c, &x[0]);
        fill_batch(&rng, &c, &x[1]);
        /* The statistics' plan: per feature over every other axis. */
        sn_plan plan;
        int feature = case_feature(&c);
        unsigned fbit = 1u << feature, all = (1u << ds->rank) - 1u;
        sn_plan_build(&x[0].t, &x[0].t, all & ~fbit, fbit, c.seq_lens != NULL,
                      ds->masked ? tu_layout_axis(ds->layout, 'B') : -1,
                      ds->masked ? tu_layout_axis(ds->layout, 'T') : -1, 0, &plan);
        if (plan.path != ds->path) {
            char msg[256];
            snprintf(msg, sizeof msg, "(%s) the statistics take the %s path, not %s", ds->why,
                     tu_path_name(plan.path), tu_path_name(ds->path));
            fail_case(&c, msg);
        }
        float *first = malloc((size_t)(DET_CALLS * n + 4 * f) * sizeof(float));
        float *out = malloc((size_t)(DET_CALLS * n + 4 * f) * sizeof(float));
        cr_assert(first && out, "out of memory");
        for (int ti = 0; ti < DET_THREADS; ti++) {
            int threads = det_threads[ti];
            cr_assert(sn_set_num_threads(threads) == SN_OK, "sn_set_num_threads(%d) failed",
                      threads);
            int used = sn_threads_for((double)n);
            if (used != threads) {
                char msg[256];
                snprintf(msg, sizeof msg, "(%s) the driver would use %d threads, not %d",
                         ds->why, used, threads);
                fail_case(&c, msg);
            }
            float *y = ti ? out : first;
            bn_state st = state_new(f);
            cr_assert(sn_batch_norm_init(&st.s, &c.o) == SN_OK, "init failed");
            tu_rng params = tu_rng_for("determinism_state");
            state_randomize(&params, &st);
            for (c.call = 0; c.call < DET_CALLS; c.call++) {
                /* train, train, infer (frozen statistics: one pass) */
                c.training = c.call < 2;
                const tu_view *xv = &x[c.call % 2];
                if (ti == 0) {
                    step(&c, xv, &st, y + c.call * n);
                } else {
                    run_call(&c, xv, &st, y + c.call * n);
                    if (memcmp(y + c.call * n, first + c.call * n, (size_t)n * sizeof(float))) {
                        char msg[256];
                        snprintf(msg, sizeof msg, "(%s) y with %d threads differs from y with "
                                 "1 thread", ds->why, threads);
                        fail_case(&c, msg);
                    }
                }
            }
            state_save(&st, y + DET_CALLS * n);
            if (ti && memcmp(y + DET_CALLS * n, first + DET_CALLS * n,
                             (size_t)(4 * f) * sizeof(float))) {
                char msg[256];
                snprintf(msg, sizeof msg, "(%s) the state after %d calls with %d threads "
                         "differs from the one with 1 thread", ds->why, DET_CALLS, threads);
                fail_case(&c, msg);
            }
            state_free(&st);
        }
        free(first);
        free(out);
        tu_view_free(&x[0]);
        tu_view_free(&x[1]);
    }
    cr_assert(sn_set_num_threads(0) == SN_OK, "sn_set_num_threads(0) failed");
}

/* ---------------------------------------------------------------- errors */

#define EB 64   /* elements of the x and y buffers */
#define EF 5    /* features */

/* A valid masked training call (x, y [3,4,5] "BTF", lengths) that each case
 * breaks in one way. */
typedef struct fixture {
    float x_buf[EB], y_buf[EB], x_before[EB];
    ptrdiff_t dims[3];
    sn_tensor x, y;
    const sn_tensor *xp, *yp;
    bn_state st;
    sn_batch_norm_state *sp;
    float state_before[4 * EF];
    float mem_before[4 * (EF + 2 * STATE_GUARD)];
    int lens[8];  /* [B] = 3 used; the rest for layouts that read further */
    const int *seq_lens;
    sn_batch_norm_options o;
} fixture;

static void fixture_init(fixture *fx, int training)
{
    tu_rng rng = tu_rng_for("errors");
    for (int i = 0; i < EB; i++)
        fx->x_buf[i] = (float)tu_normal(&rng);
    fx->dims[0] = 3;
    fx->dims[1] = 4;
    fx->dims[2] = EF;
    fx->x = sn_tensor_dense(fx->x_buf, SN_FLOAT32, 3, fx->dims);
    fx->y = sn_tensor_dense(fx->y_buf, SN_FLOAT32, 3, fx->dims);
    fx->xp = &fx->x;
    fx->yp = &fx->y;
    fx->st = state_new(EF);
    fx->sp = &fx->st.s;
    fx->lens[0] = 4;
    fx->lens[1] = 0;
    fx->lens[2] = 2;
    for (int b = 3; b < 8; b++)
        fx->lens[b] = 1;
    fx->seq_lens = fx->lens;
    fx->o = sn_batch_norm_defaults(SN_BATCH_NORM_CURRENT);
    fx->o.layout = "BTF";
    fx->o.masked_time = 1;
    cr_assert(sn_batch_norm_init(fx->sp, &fx->o) == SN_OK, "fixture init failed");
    state_randomize(&rng, &fx->st);
    /* The unbroken call must succeed, so each failure below has one cause. */
    sn_status status = sn_batch_norm(fx->xp, fx->yp, fx->sp, &fx->o, training, fx->seq_lens);
    cr_assert(status == SN_OK, "seed=%u isa=%s: the valid fixture call (training=%d) returned %s",
              tu_seed(), tu_isa_name(), training, sn_status_string(status));
    state_randomize(&rng, &fx->st);
    tu_fill_canary(fx->y_buf, EB);
    tu_fill_canary(fx->x_buf + 60, EB - 60);
    memcpy(fx->x_before, fx->x_buf, sizeof fx->x_buf);
    state_save(&fx->st, fx->state_before);
    memcpy(fx->mem_before, fx->st.mem, sizeof fx->mem_before);
}

enum {
    BAD_MOMENTUM_NEG, BAD_MOMENTUM_BIG, BAD_MOMENTUM_NAN, BAD_USE_SAMPLE_NEG,
    BAD_USE_SAMPLE_BIG, BAD_USE_SAMPLE_NAN, BAD_EPS_NEG, BAD_EPS_NAN, BAD_EPS_INF,
    BAD_PARAM_VERSION_3, BAD_PARAM_VERSION_NEG, BAD_CORRECTION_NEG, BAD_CORRECTION_NAN,
    BAD_MASKED_TIME_2, BAD_MASKED_TIME_NEG2, BAD_MASKED_TIME_UNSET, BAD_MASK_NO_B,
    BAD_MASK_NO_T, BAD_MASK_NO_LAYOUT, BAD_MASK_LEGACY_NO_LAYOUT,
    BAD_LENS_NEG, BAD_LENS_BIG, BAD_STATE_NULL, BAD_MEAN_NULL, BAD_VAR_NULL, BAD_GAMMA_NULL,
    BAD_BETA_NULL, BAD_FEATURES_MORE, BAD_FEATURES_LESS, BAD_FEATURES_NEG, BAD_LAYOUT_NO_F,
    BAD_LAYOUT_LETTER, BAD_LAYOUT_LENGTH, BAD_LAYOUT_TWO_F, BAD_AXIS_BIG, BAD_AXIS_NEG,
    BAD_X_NULL, BAD_Y_NULL, BAD_X_DATA_NULL, BAD_Y_DATA_NULL, BAD_RANK_0, BAD_RANK_9,
    BAD_Y_RANK_9, BAD_DIMS, BAD_RANKS, BAD_NEG_DIM, BAD_NEG_STRIDE, BAD_ALIAS_SHIFTED,
    BAD_ALIAS_STRIDES, BAD_ALIAS_SELF, BAD_GAMMA_TEXT, BAD_BETA_TEXT, BAD_COUNT
};

typedef struct bad_case {
    int id;
    const char *what;
    sn_status want;
} bad_case;

static const bad_case bad_cases[] = {
    { BAD_MOMENTUM_NEG, "momentum -0.1", SN_ERR_MOMENTUM },
    { BAD_MOMENTUM_BIG, "momentum 1.1", SN_ERR_MOMENTUM },
    { BAD_MOMENTUM_NAN, "momentum NaN", SN_ERR_MOMENTUM },
    { BAD_USE_SAMPLE_NEG, "use_sample -0.1", SN_ERR_USE_SAMPLE },
    { BAD_USE_SAMPLE_BIG, "use_sample 1.5", SN_ERR_USE_SAMPLE },
    { BAD_USE_SAMPLE_NAN, "use_sample NaN", SN_ERR_USE_SAMPLE },
    { BAD_EPS_NEG, "epsilon -1e-3", SN_ERR_EPSILON },
    { BAD_EPS_NAN, "epsilon NaN", SN_ERR_EPSILON },
    { BAD_EPS_INF, "epsilon Inf", SN_ERR_EPSILON },
    { BAD_PARAM_VERSION_3, "param_version 3", SN_ERR_PARAM_VERSION },
    { BAD_PARAM_VERSION_NEG, "param_version -1", SN_ERR_PARAM_VERSION },
    { BAD_CORRECTION_NEG, "correction -1", SN_ERR_CORRECTION },
    { BAD_CORRECTION_NAN, "correction NaN", SN_ERR_CORRECTION },
    { BAD_MASKED_TIME_2, "masked_time 2", SN_ERR_MASKED_TIME },
    { BAD_MASKED_TIME_NEG2, "masked_time -2", SN_ERR_MASKED_TIME },
    { BAD_MASKED_TIME_UNSET, "current preset, seq_lens, masked_time SN_UNSET",
      SN_ERR_MASKED_TIME },
    { BAD_MASK_NO_B, "seq_lens with layout \"STF\" (no B)", SN_ERR_MASK_LAYOUT },
    { BAD_MASK_NO_T, "seq_lens with layout \"BSF\" (no T)", SN_ERR_MASK_LAYOUT },
    { BAD_MASK_NO_LAYOUT, "seq_lens, masked_time 1, no layout", SN_ERR_MASK_LAYOUT },
    { BAD_MASK_LEGACY_NO_LAYOUT, "legacy preset (masked_time 1), seq_lens, no layout",
      SN_ERR_MASK_LAYOUT },
    { BAD_LENS_NEG, "seq_lens[1] = -1", SN_ERR_SEQ_LENS },
    { BAD_LENS_BIG, "seq_lens[2] = T + 1", SN_ERR_SEQ_LENS },
    { BAD_STATE_NULL, "state NULL", SN_ERR_NULL_POINTER },
    { BAD_MEAN_NULL, "state.running_mean NULL", SN_ERR_NULL_POINTER },
    { BAD_VAR_NULL, "state.running_var NULL", SN_ERR_NULL_POINTER },
    { BAD_GAMMA_NULL, "state.gamma NULL with use_std", SN_ERR_NULL_POINTER },
    { BAD_BETA_NULL, "state.beta NULL with use_shift", SN_ERR_NULL_POINTER },
    { BAD_FEATURES_MORE, "state.features = F + 1", SN_ERR_SHAPE_MISMATCH },
    { BAD_FEATURES_LESS, "state.features = F - 1", SN_ERR_SHAPE_MISMATCH },
    { BAD_FEATURES_NEG, "state.features = -1", SN_ERR_NEGATIVE_DIM },
    { BAD_LAYOUT_NO_F, "layout \"BTS\" (no F)", SN_ERR_LAYOUT },
    { BAD_LAYOUT_LETTER, "layout \"BXF\"", SN_ERR_LAYOUT },
    { BAD_LAYOUT_LENGTH, "layout \"BF\" for rank 3", SN_ERR_LAYOUT },
    { BAD_LAYOUT_TWO_F, "layout \"BFF\"", SN_ERR_LAYOUT },
    { BAD_AXIS_BIG, "no layout, feature_axis 3 (rank 3)", SN_ERR_AXIS },
    { BAD_AXIS_NEG, "no layout, feature_axis -4 (rank 3)", SN_ERR_AXIS },
    { BAD_X_NULL, "x NULL", SN_ERR_NULL_POINTER },
    { BAD_Y_NULL, "y NULL", SN_ERR_NULL_POINTER },
    { BAD_X_DATA_NULL, "x.data NULL", SN_ERR_NULL_POINTER },
    { BAD_Y_DATA_NULL, "y.data NULL", SN_ERR_NULL_POINTER },
    { BAD_RANK_0, "x and y rank 0", SN_ERR_RANK },
    { BAD_RANK_9, "x and y rank 9", SN_ERR_RANK },
    { BAD_Y_RANK_9, "y rank 9", SN_ERR_RANK },
    { BAD_DIMS, "y dims [3,4,6] for x [3,4,5]", SN_ERR_SHAPE_MISMATCH },
    { BAD_RANKS, "y rank 2 for x rank 3", SN_ERR_SHAPE_MISMATCH },
    { BAD_NEG_DIM, "x and y dims[1] = -4", SN_ERR_NEGATIVE_DIM },
    { BAD_NEG_STRIDE, "x stride -1", SN_ERR_NEGATIVE_STRIDE },
    { BAD_ALIAS_SHIFTED, "y = x shifted by one element", SN_ERR_ALIAS },
    { BAD_ALIAS_STRIDES, "y over x's data with other strides", SN_ERR_ALIAS },
    { BAD_ALIAS_SELF, "y overlapping itself (stride 0)", SN_ERR_ALIAS },
    { BAD_GAMMA_TEXT, "gamma_init_text \"foo\"", SN_ERR_INIT_VALUE },
    { BAD_BETA_TEXT, "beta_init_text \"x1\"", SN_ERR_INIT_VALUE },
};

static void break_fixture(fixture *fx, int id)
{
    switch (id) {
    case BAD_MOMENTUM_NEG: fx->o.momentum = -0.1f; break;
    case BAD_MOMENTUM_BIG: fx->o.momentum = 1.1f; break;
    case BAD_MOMENTUM_NAN: fx->o.momentum = NAN; break;
    case BAD_USE_SAMPLE_NEG: fx->o.use_sample = -0.1f; break;
    case BAD_USE_SAMPLE_BIG: fx->o.use_sample = 1.5f; break;
    case BAD_USE_SAMPLE_NAN: fx->o.use_sample = NAN; break;
    case BAD_EPS_NEG: fx->o.epsilon = -1e-3f; break;
    case BAD_EPS_NAN: fx->o.epsilon = NAN; break;
    case BAD_EPS_INF: fx->o.epsilon = INFINITY; break;
    case BAD_PARAM_VERSION_3: fx->o.param_version = 3; break;
    case BAD_PARAM_VERSION_NEG: fx->o.param_version = -1; break;
    case BAD_CORRECTION_NEG: fx->o.correction = -1.0f; break;
    case BAD_CORRECTION_NAN: fx->o.correction = NAN; break;
    case BAD_MASKED_TIME_2: fx->o.masked_time = 2; break;
    case BAD_MASKED_TIME_NEG2: fx->o.masked_time = -2; break;
    case BAD_MASKED_TIME_UNSET: fx->o.masked_time = SN_UNSET; break;
    case BAD_MASK_NO_B: fx->o.layout = "STF"; break;
    case BAD_MASK_NO_T: fx->o.layout = "BSF"; break;
    case BAD_MASK_NO_LAYOUT: fx->o.layout = NULL; break;
    case BAD_MASK_LEGACY_NO_LAYOUT:
        fx->o = sn_batch_norm_defaults(SN_BATCH_NORM_LEGACY);
        break;
    case BAD_LENS_NEG: fx->lens[1] = -1; break;
    case BAD_LENS_BIG: fx->lens[2] = 5; break;
    case BAD_STATE_NULL: fx->sp = NULL; break;
    case BAD_MEAN_NULL: fx->st.s.running_mean = NULL; break;
    case BAD_VAR_NULL: fx->st.s.running_var = NULL; break;
    case BAD_GAMMA_NULL: fx->st.s.gamma = NULL; break;
    case BAD_BETA_NULL: fx->st.s.beta = NULL; break;
    case BAD_FEATURES_MORE: fx->st.s.features = EF + 1; break;
    case BAD_FEATURES_LESS: fx->st.s.features = EF - 1; break;
    case BAD_FEATURES_NEG: fx->st.s.features = -1; break;
    case BAD_LAYOUT_NO_F: fx->o.layout = "BTS"; fx->seq_lens = NULL; break;
    case BAD_LAYOUT_LETTER: fx->o.layout = "BXF"; break;
    case BAD_LAYOUT_LENGTH: fx->o.layout = "BF"; fx->seq_lens = NULL; break;
    case BAD_LAYOUT_TWO_F: fx->o.layout = "BFF"; fx->seq_lens = NULL; break;
    case BAD_AXIS_BIG: fx->o.layout = NULL; fx->seq_lens = NULL; fx->o.feature_axis = 3; break;
    case BAD_AXIS_NEG: fx->o.layout = NULL; fx->seq_lens = NULL; fx->o.feature_axis = -4; break;
    case BAD_X_NULL: fx->xp = NULL; break;
    case BAD_Y_NULL: fx->yp = NULL; break;
    case BAD_X_DATA_NULL: fx->x.data = NULL; break;
    case BAD_Y_DATA_NULL: fx->y.data = NULL; break;
    case BAD_RANK_0: fx->x.rank = fx->y.rank = 0; fx->seq_lens = NULL; break;
    case BAD_RANK_9: fx->x.rank = fx->y.rank = 9; fx->seq_lens = NULL; break;
    case BAD_Y_RANK_9: fx->y.rank = 9; break;
    case BAD_DIMS: fx->y.dims[2] = EF + 1; break;
    case BAD_RANKS: fx->y.rank = 2; break;
    case BAD_NEG_DIM: fx->x.dims[1] = fx->y.dims[1] = -4; break;
    case BAD_NEG_STRIDE: fx->x.strides[2] = -1; break;
    case BAD_ALIAS_SHIFTED: fx->y = fx->x; fx->y.data = fx->x_buf + 1; break;
    case BAD_ALIAS_STRIDES:
        /* [3,4,5] over x's buffer with T and F swapped in memory */
        fx->y = fx->x;
        fx->y.strides[1] = 1;
        fx->y.strides[2] = 4;
        break;
    case BAD_ALIAS_SELF: fx->y.strides[1] = 0; break;
    case BAD_GAMMA_TEXT: fx->o.gamma_init_text = "foo"; break;
    case BAD_BETA_TEXT: fx->o.beta_init_text = "x1"; break;
    default: cr_assert(0, "test bug: bad case %d", id);
    }
}

Test(batch_norm, bad_options_and_arguments)
{
    tu_begin();
    cr_assert((int)(sizeof bad_cases / sizeof bad_cases[0]) == BAD_COUNT,
              "test bug: the bad-case table is incomplete");
    for (int training = 0; training < 2; training++)
        for (int i = 0; i < BAD_COUNT; i++) {
            const bad_case *bc = &bad_cases[i];
            fixture fx;
            fixture_init(&fx, training);
            break_fixture(&fx, bc->id);
            sn_status got = sn_batch_norm(fx.xp, fx.yp, fx.sp, &fx.o, training, fx.seq_lens);
            char opts[1024], xd[320], yd[320];
            describe_options(&fx.o, opts, sizeof opts);
            tu_format_tensor(xd, sizeof xd, "x", fx.xp);
            tu_format_tensor(yd, sizeof yd, "y", fx.yp);
            cr_expect(got == bc->want,
                      "seed=%u isa=%s: %s (training=%d, %s, %s, options{%s}): returned %s (%s), "
                      "want %s", tu_seed(), tu_isa_name(), bc->what, training, xd, yd, opts,
                      sn_status_string(got), sn_last_error_detail(),
                      sn_status_string(bc->want));
            ptrdiff_t y_written = tu_find_non_canary(fx.y_buf, EB);
            cr_expect(y_written < 0, "seed=%u isa=%s: %s (training=%d): failed with %s but y "
                      "element %td was written", tu_seed(), tu_isa_name(), bc->what, training,
                      sn_status_string(got), y_written);
            cr_expect(memcmp(fx.x_buf, fx.x_before, sizeof fx.x_buf) == 0,
                      "seed=%u isa=%s: %s (training=%d): failed with %s but x's buffer changed",
                      tu_seed(), tu_isa_name(), bc->what, training, sn_status_string(got));
            cr_expect(memcmp(fx.st.mem, fx.mem_before, sizeof fx.mem_before) == 0,
                      "seed=%u isa=%s: %s (training=%d): failed with %s but the state (running "
                      "mean, running var, gamma, beta) changed", tu_seed(), tu_isa_name(),
                      bc->what, training, sn_status_string(got));
            state_free(&fx.st);
        }
    /* Status strings exist for the batch-norm codes. */
    static const sn_status codes[] = { SN_ERR_MOMENTUM, SN_ERR_USE_SAMPLE, SN_ERR_PARAM_VERSION,
                                       SN_ERR_INIT_VALUE, SN_ERR_MASKED_TIME, SN_ERR_CORRECTION,
                                       SN_ERR_SEQ_LENS, SN_ERR_MASK_LAYOUT };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *text = sn_status_string(codes[i]);
        cr_expect(text && *text, "sn_status_string(%d) is empty", (int)codes[i]);
    }
}

/* sn_batch_norm_init validates too and writes nothing on error. */
Test(batch_norm, init_errors)
{
    tu_begin();
    sn_batch_norm_options o = sn_batch_norm_defaults(SN_BATCH_NORM_CURRENT);
    sn_status status = sn_batch_norm_init(NULL, &o);
    cr_expect(status == SN_ERR_NULL_POINTER, "seed=%u isa=%s: sn_batch_norm_init(NULL) returned "
              "%s, want SN_ERR_NULL_POINTER", tu_seed(), tu_isa_name(),
              sn_status_string(status));
    static const struct {
        const char *what;
        sn_status want;
    } cases[] = {
        { "momentum 1.5", SN_ERR_MOMENTUM },       { "use_sample -1", SN_ERR_USE_SAMPLE },
        { "epsilon -1", SN_ERR_EPSILON },          { "param_version 7", SN_ERR_PARAM_VERSION },
        { "correction -0.5", SN_ERR_CORRECTION },  { "masked_time 3", SN_ERR_MASKED_TIME },
        { "running_var NULL", SN_ERR_NULL_POINTER }, { "gamma NULL with use_std",
                                                        SN_ERR_NULL_POINTER },
        { "beta_init_text \"one\"", SN_ERR_INIT_VALUE },
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        tu_rng rng = tu_rng_for("init_errors");
        bn_state st = state_new(4);
        state_randomize(&rng, &st);
        float mem_before[4 * (4 + 2 * STATE_GUARD)];
        memcpy(mem_before, st.mem, sizeof mem_before);
        o = sn_batch_norm_defaults(SN_BATCH_NORM_CURRENT);
        switch (i) {
        case 0: o.momentum = 1.5f; break;
        case 1: o.use_sample = -1.0f; break;
        case 2: o.epsilon = -1.0f; break;
        case 3: o.param_version = 7; break;
        case 4: o.correction = -0.5f; break;
        case 5: o.masked_time = 3; break;
        case 6: st.s.running_var = NULL; break;
        case 7: st.s.gamma = NULL; break;
        case 8: o.beta_init_text = "one"; break;
        }
        status = sn_batch_norm_init(&st.s, &o);
        cr_expect(status == cases[i].want, "seed=%u isa=%s: sn_batch_norm_init with %s returned "
                  "%s, want %s", tu_seed(), tu_isa_name(), cases[i].what,
                  sn_status_string(status), sn_status_string(cases[i].want));
        cr_expect(memcmp(st.mem, mem_before, sizeof mem_before) == 0,
                  "seed=%u isa=%s: sn_batch_norm_init with %s failed but wrote the state",
                  tu_seed(), tu_isa_name(), cases[i].what);
        state_free(&st);
    }
}
