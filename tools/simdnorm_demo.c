/*
 * simdnorm-demo: a first look at simdnorm on this machine.
 *
 * Prints the library version, the CPU, which ISAs it can run, the ISA and
 * thread count chosen by default; then runs a default workload of every layer
 * on every ISA the CPU has, at 1 thread and at the default thread count, and
 * prints for each: time per call, GB/s (bytes read + bytes written), the
 * percentage of a memcpy of the same bytes timed in the same run, and the
 * largest error against a float64 reference computed here.
 *
 * Adding a layer: one row per shape in the workloads table: for a
 * configuration of sn_norm its axes, layout and parameter axes (run_norm and
 * norm_error serve every one); for a configuration of sn_batch_norm its
 * layout and training flag (run_batch_norm and batch_norm_error); for
 * anything else a run function and a reference (max error) function.
 *
 * Exit status: 0 when every call succeeded within the accuracy bar, 1 when
 * one did not, 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef SN_DEMO_OPENMP
#include <omp.h>
#endif

#include <simdnorm.h>

#define EPSILON 1e-6f
/* SPEC section 2: |y - y_ref| <= 2e-6 * max(1, |y_ref|) on the normalized value. */
#define ERROR_BAR 2e-6
#define ALIGNMENT 64
/* Like the library, the memcpy baseline does not fork for small copies (the
 * library's threshold is 16384 elements per thread, i.e. 64 KiB of input). */
#define MEMCPY_MIN_BYTES_PER_THREAD (64 * 1024)

/* ---------------------------------------------------------------- data */

/* The input data of a workload: normal with this mean and standard deviation,
 * rounded to float32. */
typedef struct data_kind {
    const char *label;
    double mean;
    double std;
} data_kind;

static const data_kind normal_data = { "N(0,1)", 0.0, 1.0 };
static const data_kind offset_data = { "N(1e4,1e-2)", 1e4, 1e-2 };
static const data_kind far_data = { "N(1e6,1)", 1e6, 1.0 };

static uint64_t rng_state;

static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static double next_unit(void)
{
    return ((double)(next_u64() >> 11) + 0.5) * 0x1.0p-53;
}

static void fill_data(float *x, size_t n, const data_kind *kind, uint64_t seed)
{
    const double two_pi = 6.283185307179586;
    rng_state = seed;
    for (size_t i = 0; i < n; i += 2) {
        /* Box-Muller: two normal values per pair of uniforms. */
        double r = sqrt(-2.0 * log(next_unit())), a = two_pi * next_unit();
        x[i] = (float)(kind->mean + kind->std * r * cos(a));
        if (i + 1 < n)
            x[i + 1] = (float)(kind->mean + kind->std * r * sin(a));
    }
}

static float *alloc_floats(size_t n)
{
    size_t bytes = (n * sizeof(float) + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    return aligned_alloc(ALIGNMENT, bytes ? bytes : ALIGNMENT);
}

/* ----------------------------------------------------------- workloads */

/* How a workload calls sn_norm: axes and param axes each as a description
 * (read against layout) or as a bitmask, plus the masks they must come to,
 * which the float64 reference uses (so that it does not depend on the
 * library's parser). */
typedef struct norm_config {
    const char *layout;     /* or NULL */
    const char *axes_text;  /* or NULL: then axes */
    unsigned axes;
    const char *param_text; /* or NULL: then param_axes */
    unsigned param_axes;
    unsigned ref_axes;      /* the reduced axes, bit i = axis i */
    unsigned ref_params;    /* the axes scale and bias vary along */
    const char *note;       /* what the configuration is, for the legend */
} norm_config;

/* How a workload calls sn_batch_norm: the "current" preset with this layout
 * (the feature axis is where 'F' is) and training flag. */
typedef struct batch_norm_config {
    const char *layout;
    int training;
    const char *note; /* what the configuration is, for the legend */
} batch_norm_config;

/* Scale and bias of a norm workload: dense over its param axes; the state of
 * a batch_norm workload; the plan of a planned workload, made once before
 * its rows are timed. */
typedef struct params {
    const float *scale;
    const float *bias;
    sn_batch_norm_state *state;
    sn_norm_plan *plan;
} params;

typedef struct workload workload;
struct workload {
    const char *layer;
    int rank;
    ptrdiff_t dims[SN_MAX_RANK];
    const data_kind *data;
    /* Computes the layer on x into y with the ISA and threads already set;
     * layer_norm without scale or bias, norm with p's. */
    sn_status (*run)(const workload *w, const float *x, float *y, const params *p);
    /* The largest |n - n_ref| / max(1, |n_ref|) over all elements: n_ref the
     * normalized value computed in float64 from the same float32 x, n the one
     * in y (with scale and bias: (y - bias) / scale, computed in float64).
     * Called right after the timing, with the ISA and threads still set. */
    double (*max_error)(const workload *w, const float *x, const float *y, const params *p);
    const norm_config *norm;             /* for norm rows, else NULL */
    const batch_norm_config *batch_norm; /* for batch_norm rows, else NULL */
};

static size_t elements(const workload *w)
{
    size_t n = 1;
    for (int i = 0; i < w->rank; i++)
        n *= (size_t)w->dims[i];
    return n;
}

/* |y - ref| / max(1, |ref|); NaN or Inf in y counts as an infinite error. */
static double relative_error(double y, double ref)
{
    if (!isfinite(y))
        return INFINITY;
    double scale = fabs(ref) > 1.0 ? fabs(ref) : 1.0;
    return fabs(y - ref) / scale;
}

/* --- layer norm: over the last axis */

static sn_status run_layer_norm(const workload *w, const float *x, float *y, const params *p)
{
    (void)p;
    size_t features = (size_t)w->dims[w->rank - 1];
    return sn_layer_norm_f32(x, y, elements(w) / features, features, NULL, NULL, EPSILON);
}

/* --- layer norm planned: the same call as a model's layer makes it, planned
 * once (layer_norm_plan) and executed at every call */

static sn_status layer_norm_plan(const workload *w, sn_norm_plan **plan)
{
    sn_tensor shape = sn_tensor_dense(NULL, SN_FLOAT32, w->rank, w->dims);
    sn_norm_options o = SN_NORM_DEFAULTS;
    o.axes = 1u << (w->rank - 1);
    o.epsilon = EPSILON;
    return sn_norm_plan_create(&shape, &shape, &o, plan);
}

static sn_status run_layer_norm_planned(const workload *w, const float *x, float *y,
                                        const params *p)
{
    (void)w;
    const sn_norm_arrays arrays = { x, y, NULL, NULL, NULL, NULL, NULL };
    return sn_norm_plan_execute(p->plan, &arrays);
}

static double layer_norm_error(const workload *w, const float *x, const float *y,
                               const params *p)
{
    (void)p;
    size_t features = (size_t)w->dims[w->rank - 1], rows = elements(w) / features;
    double worst = 0.0;
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * features;
        const float *yr = y + r * features;
        /* Two passes around a shift: the sum of (x - x[0]) stays small even
         * when the mean is far from zero, then the corrected two-pass variance. */
        double shift = xr[0], sum = 0.0;
        for (size_t i = 0; i < features; i++)
            sum += xr[i] - shift;
        double mean = shift + sum / (double)features;
        double dev = 0.0, sq = 0.0;
        for (size_t i = 0; i < features; i++) {
            double d = xr[i] - mean;
            dev += d;
            sq += d * d;
        }
        double var = (sq - dev * dev / (double)features) / (double)features;
        double rstd = 1.0 / sqrt(var + (double)EPSILON);
        for (size_t i = 0; i < features; i++) {
            double e = relative_error(yr[i], (xr[i] - mean) * rstd);
            if (!(e <= worst))
                worst = e;
        }
    }
    return worst;
}

/* --- norm: any axes, params over any axes */

/* The number of scale (and bias) values: the product of the param axes' dims. */
static size_t param_count(const workload *w)
{
    size_t n = 1;
    for (int i = 0; i < w->rank; i++)
        if (w->norm->ref_params >> i & 1u)
            n *= (size_t)w->dims[i];
    return n;
}

static sn_status run_norm(const workload *w, const float *x, float *y, const params *p)
{
    const norm_config *c = w->norm;
    sn_tensor xt = sn_tensor_dense((void *)x, SN_FLOAT32, w->rank, w->dims);
    sn_tensor yt = sn_tensor_dense(y, SN_FLOAT32, w->rank, w->dims);
    sn_norm_options o = SN_NORM_DEFAULTS;
    o.layout = c->layout;
    o.axes_text = c->axes_text;
    o.axes = c->axes;
    o.param_text = c->param_text;
    o.param_axes = c->param_axes;
    o.epsilon = EPSILON;
    o.scale = p->scale;
    o.bias = p->bias;
    return sn_norm(&xt, &yt, &o);
}

/* Walks a dense row-major tensor in memory order, keeping for the current
 * element its group (linear index over the kept axes), its position in the
 * group (linear index over the reduced axes) and its parameter index (linear
 * index over the param axes): no division per element. */
typedef struct walker {
    int rank;
    ptrdiff_t dims[SN_MAX_RANK], index[SN_MAX_RANK];
    size_t step[3][SN_MAX_RANK]; /* group, position, param: stride of each axis */
    size_t at[3];
} walker;

enum { GROUP, POSITION, PARAM };

static void walker_init(walker *k, const workload *w, unsigned reduced, unsigned params,
                        size_t *groups, size_t *group_size)
{
    size_t size[3] = { 1, 1, 1 };
    k->rank = w->rank;
    for (int i = w->rank - 1; i >= 0; i--) {
        unsigned bit = 1u << i;
        k->dims[i] = w->dims[i];
        k->index[i] = 0;
        int which[3] = { !(reduced & bit), (reduced & bit) != 0, (params & bit) != 0 };
        for (int s = 0; s < 3; s++) {
            k->step[s][i] = which[s] ? size[s] : 0;
            if (which[s])
                size[s] *= (size_t)w->dims[i];
        }
    }
    k->at[GROUP] = k->at[POSITION] = k->at[PARAM] = 0;
    *groups = size[GROUP];
    *group_size = size[POSITION];
}

static void walker_next(walker *k)
{
    for (int i = k->rank - 1; i >= 0; i--) {
        for (int s = 0; s < 3; s++)
            k->at[s] += k->step[s][i];
        if (++k->index[i] < k->dims[i])
            return;
        for (int s = 0; s < 3; s++)
            k->at[s] -= k->step[s][i] * (size_t)k->dims[i];
        k->index[i] = 0;
    }
}

static double norm_error(const workload *w, const float *x, const float *y, const params *p)
{
    const norm_config *c = w->norm;
    size_t n = elements(w), groups, group_size;
    walker k;
    walker_init(&k, w, c->ref_axes, c->ref_params, &groups, &group_size);
    double *shift = calloc(groups, sizeof(double)), *mean = calloc(groups, sizeof(double));
    double *dev = calloc(groups, sizeof(double)), *sq = calloc(groups, sizeof(double));
    double worst = INFINITY;
    if (!shift || !mean || !dev || !sq || group_size == 0)
        goto done;
    /* As for layer norm: a shifted sum for the mean (the shift is the group's
     * first element, which comes first in memory order), then the corrected
     * two-pass variance. */
    for (size_t i = 0; i < n; i++, walker_next(&k)) {
        if (k.at[POSITION] == 0)
            shift[k.at[GROUP]] = x[i];
        mean[k.at[GROUP]] += x[i] - shift[k.at[GROUP]];
    }
    for (size_t g = 0; g < groups; g++)
        mean[g] = shift[g] + mean[g] / (double)group_size;
    walker_init(&k, w, c->ref_axes, c->ref_params, &groups, &group_size);
    for (size_t i = 0; i < n; i++, walker_next(&k)) {
        double d = x[i] - mean[k.at[GROUP]];
        dev[k.at[GROUP]] += d;
        sq[k.at[GROUP]] += d * d;
    }
    for (size_t g = 0; g < groups; g++) {
        double var = (sq[g] - dev[g] * dev[g] / (double)group_size) / (double)group_size;
        sq[g] = 1.0 / sqrt(var + (double)EPSILON); /* sq now holds rstd */
    }
    worst = 0.0;
    walker_init(&k, w, c->ref_axes, c->ref_params, &groups, &group_size);
    for (size_t i = 0; i < n; i++, walker_next(&k)) {
        size_t g = k.at[GROUP], q = k.at[PARAM];
        /* The normalized value back from y: exact enough in float64 (the scales
         * are powers of two; y - bias is exact). */
        double normalized = isfinite(y[i]) ? ((double)y[i] - p->bias[q]) / p->scale[q] : INFINITY;
        double e = relative_error(normalized, (x[i] - mean[g]) * sq[g]);
        if (!(e <= worst))
            worst = e;
    }
done:
    free(shift);
    free(mean);
    free(dev);
    free(sq);
    return worst;
}

/* --- batch norm: statistics per feature over every other axis, and a state */

static sn_batch_norm_options batch_norm_options(const workload *w)
{
    sn_batch_norm_options o = sn_batch_norm_defaults(SN_BATCH_NORM_CURRENT);
    o.layout = w->batch_norm->layout;
    return o;
}

/* The dense tensor as [outer, F, inner] around its feature axis. */
static size_t batch_norm_features(const workload *w, size_t *outer, size_t *inner)
{
    const char *f = strchr(w->batch_norm->layout, 'F');
    int axis = f ? (int)(f - w->batch_norm->layout) : w->rank - 1;
    *outer = *inner = 1;
    for (int i = 0; i < w->rank; i++) {
        if (i < axis)
            *outer *= (size_t)w->dims[i];
        else if (i > axis)
            *inner *= (size_t)w->dims[i];
    }
    return (size_t)w->dims[axis];
}

/* Every call uses (and, training, updates) the state in p. */
static sn_status run_batch_norm(const workload *w, const float *x, float *y, const params *p)
{
    sn_tensor xt = sn_tensor_dense((void *)x, SN_FLOAT32, w->rank, w->dims);
    sn_tensor yt = sn_tensor_dense(y, SN_FLOAT32, w->rank, w->dims);
    sn_batch_norm_options o = batch_norm_options(w);
    return sn_batch_norm(&xt, &yt, p->state, &o, w->batch_norm->training, NULL);
}

/* The state a training loop could have left: sn_batch_norm_init, then running
 * mean and variance near the data's (mean + 0.1 std * U(-1,1) and variance
 * times U(0.8,1.2)), gamma 0.5, 1 or 2 (powers of two, so that the normalized
 * value can be read back from y exactly), beta in [-0.5, 0.5). */
static sn_status fill_batch_norm_state(const workload *w, sn_batch_norm_state *s, uint64_t seed)
{
    static const float gammas[3] = { 0.5f, 1.0f, 2.0f };
    sn_batch_norm_options o = batch_norm_options(w);
    sn_status status = sn_batch_norm_init(s, &o);
    if (status != SN_OK)
        return status;
    rng_state = seed;
    for (ptrdiff_t f = 0; f < s->features; f++) {
        double std = w->data->std;
        s->running_mean[f] = (float)(w->data->mean + 0.1 * std * (2.0 * next_unit() - 1.0));
        s->running_var[f] = (float)(std * std * (0.8 + 0.4 * next_unit()));
        s->gamma[f] = gammas[next_u64() % 3];
        s->beta[f] = (float)(next_unit() - 0.5);
    }
    return SN_OK;
}

/* Runs the layer once more (into a buffer of its own) from a copy of the
 * state taken right before, then checks against float64:
 *  - the normalized value (y - beta) / gamma against (x - mean) / sqrt(var +
 *    epsilon), with mean and var the running statistics from before the call
 *    (inference) or the batch statistics per feature over every other axis
 *    (training: the "current" preset has use_sample 0 and delay_sample_update 1);
 *  - the state after the call: running += (batch - running) * momentum with
 *    the biased batch variance (training), untouched (inference; any change
 *    is an infinite error), gamma and beta untouched. */
static double batch_norm_error(const workload *w, const float *x, const float *y, const params *p)
{
    (void)y;
    sn_batch_norm_state *s = p->state;
    sn_batch_norm_options o = batch_norm_options(w);
    int training = w->batch_norm->training;
    size_t outer, inner, features = batch_norm_features(w, &outer, &inner);
    size_t n = elements(w), count = outer * inner;
    float *before = malloc(4 * features * sizeof(float));
    float *out = alloc_floats(n);
    double *mean = calloc(features, sizeof(double)), *var = calloc(features, sizeof(double));
    double *dev = calloc(features, sizeof(double));
    float *mean0, *var0, *gamma0, *beta0;
    double worst = INFINITY;
    if (!before || !out || !mean || !var || !dev || count == 0)
        goto done;
    mean0 = before;
    var0 = mean0 + features;
    gamma0 = var0 + features;
    beta0 = gamma0 + features;
    memcpy(mean0, s->running_mean, features * sizeof(float));
    memcpy(var0, s->running_var, features * sizeof(float));
    memcpy(gamma0, s->gamma, features * sizeof(float));
    memcpy(beta0, s->beta, features * sizeof(float));
    if (run_batch_norm(w, x, out, p) != SN_OK)
        goto done;

    if (training) {
        /* As for layer norm: a shifted sum for the mean (the shift is the
         * feature's first element), then the corrected two-pass variance. */
        for (size_t f = 0; f < features; f++)
            dev[f] = x[f * inner]; /* dev holds the shift for now */
        for (size_t i = 0, a = 0; a < outer; a++)
            for (size_t f = 0; f < features; f++)
                for (size_t k = 0; k < inner; k++, i++)
                    mean[f] += x[i] - dev[f];
        for (size_t f = 0; f < features; f++) {
            mean[f] = dev[f] + mean[f] / (double)count;
            dev[f] = 0.0;
        }
        for (size_t i = 0, a = 0; a < outer; a++)
            for (size_t f = 0; f < features; f++)
                for (size_t k = 0; k < inner; k++, i++) {
                    double d = x[i] - mean[f];
                    dev[f] += d;
                    var[f] += d * d;
                }
        for (size_t f = 0; f < features; f++)
            var[f] = (var[f] - dev[f] * dev[f] / (double)count) / (double)count;
    } else {
        for (size_t f = 0; f < features; f++) {
            mean[f] = mean0[f];
            var[f] = var0[f];
        }
    }
    worst = 0.0;
    for (size_t f = 0; f < features; f++)
        dev[f] = 1.0 / sqrt(var[f] + (double)o.epsilon); /* dev now holds rstd */
    for (size_t i = 0, a = 0; a < outer; a++)
        for (size_t f = 0; f < features; f++)
            for (size_t k = 0; k < inner; k++, i++) {
                double normalized =
                    isfinite(out[i]) ? ((double)out[i] - beta0[f]) / gamma0[f] : INFINITY;
                double e = relative_error(normalized, (x[i] - mean[f]) * dev[f]);
                if (!(e <= worst))
                    worst = e;
            }
    /* The state after the call. */
    if (memcmp(gamma0, s->gamma, features * sizeof(float)) ||
        memcmp(beta0, s->beta, features * sizeof(float)))
        worst = INFINITY;
    if (!training) {
        if (memcmp(mean0, s->running_mean, features * sizeof(float)) ||
            memcmp(var0, s->running_var, features * sizeof(float)))
            worst = INFINITY;
    } else {
        double momentum = o.momentum;
        for (size_t f = 0; f < features; f++) {
            double e =
                relative_error(s->running_mean[f], mean0[f] + (mean[f] - mean0[f]) * momentum);
            if (!(e <= worst))
                worst = e;
            e = relative_error(s->running_var[f], var0[f] + (var[f] - var0[f]) * momentum);
            if (!(e <= worst))
                worst = e;
        }
    }
done:
    free(before);
    free(out);
    free(mean);
    free(var);
    free(dev);
    return worst;
}

/* Scale: 0.5, 1 or 2 (powers of two, so that the normalized value can be read
 * back from y exactly); bias: uniform in [-0.5, 0.5), rounded to float32. */
static void fill_params(float *scale, float *bias, size_t n, uint64_t seed)
{
    static const float scales[3] = { 0.5f, 1.0f, 2.0f };
    rng_state = seed;
    for (size_t i = 0; i < n; i++) {
        scale[i] = scales[next_u64() % 3];
        bias[i] = (float)(next_unit() - 0.5);
    }
}

/* B=0 T=1 F=2 for "BTF"; B=0 F=1 T=2 for "BFT". */
static const norm_config norm_btf_f = { "BTF", "F", 0, "F", 0, 0x4u, 0x4u, "layer norm" };
static const norm_config norm_btf_tf = { "BTF", "TF", 0, "F", 0, 0x6u, 0x4u,
                                         "group norm, one group" };
static const norm_config norm_btf_t = { "BTF", "T", 0, "F", 0, 0x2u, 0x4u,
                                        "instance norm over time" };
static const norm_config norm_bft_t = { "BFT", "T", 0, "F", 0, 0x4u, 0x2u,
                                        "instance norm over the last axis, per (B,F)" };
static const norm_config norm_bft_except_batch = { "BFT", "except_batch", 0, "F", 0, 0x6u, 0x2u,
                                                   "channels first, 512 channels" };
/* [2,320,64,64] as [2,32,10,4096]: 32 groups of 10 channels, params over the
 * 320 channels; bitmasks, no layout. */
static const norm_config norm_group_32 = { NULL, NULL, 0xCu, NULL, 0x6u, 0xCu, 0x6u,
                                           "[2,320,64,64] in 32 groups, 320 channels" };

#define NORM(config) run_norm, norm_error, config, NULL

static const batch_norm_config batch_norm_infer_btf = {
    "BTF", 0, "feature last, 512 features; frozen running statistics, one pass"
};
static const batch_norm_config batch_norm_train_btf = {
    "BTF", 1, "feature last, 512 features; batch statistics, running update"
};
static const batch_norm_config batch_norm_infer_bfss = {
    "BFSS", 0, "channels first, 256 channels; frozen running statistics, one pass"
};
static const batch_norm_config batch_norm_train_bfss = {
    "BFSS", 1, "channels first, 256 channels; batch statistics, running update"
};

#define BATCH_NORM(config) run_batch_norm, batch_norm_error, NULL, config

/* The default workload: every layer built so far, one row per shape. */
static const workload workloads[] = {
    { "layer_norm", 2, { 8192, 768 }, &normal_data, run_layer_norm, layer_norm_error, NULL, NULL },
    { "layer_norm", 2, { 2048, 4096 }, &offset_data, run_layer_norm, layer_norm_error, NULL, NULL },
    { "layer_norm", 2, { 64, 65536 }, &far_data, run_layer_norm, layer_norm_error, NULL, NULL },
    { "layer_norm", 2, { 1, 768 }, &normal_data, run_layer_norm, layer_norm_error, NULL, NULL },
    { "layer_norm planned", 2, { 1, 768 }, &normal_data, run_layer_norm_planned, layer_norm_error,
      NULL, NULL },
    { "norm F", 3, { 32, 200, 512 }, &normal_data, NORM(&norm_btf_f) },
    { "norm TF", 3, { 32, 200, 512 }, &normal_data, NORM(&norm_btf_tf) },
    { "norm T", 3, { 32, 200, 512 }, &offset_data, NORM(&norm_btf_t) },
    { "norm T", 3, { 16, 64, 4096 }, &far_data, NORM(&norm_bft_t) },
    { "norm except_batch", 3, { 8, 512, 1024 }, &offset_data, NORM(&norm_bft_except_batch) },
    { "group_norm 32", 4, { 2, 32, 10, 4096 }, &normal_data, NORM(&norm_group_32) },
    { "batch_norm infer BTF", 3, { 32, 200, 512 }, &normal_data,
      BATCH_NORM(&batch_norm_infer_btf) },
    { "batch_norm train BTF", 3, { 32, 200, 512 }, &offset_data,
      BATCH_NORM(&batch_norm_train_btf) },
    { "batch_norm infer BFSS", 4, { 32, 256, 28, 28 }, &normal_data,
      BATCH_NORM(&batch_norm_infer_bfss) },
    { "batch_norm train BFSS", 4, { 32, 256, 28, 28 }, &far_data,
      BATCH_NORM(&batch_norm_train_bfss) },
};

/* -------------------------------------------------------------- timing */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct timing_plan {
    int batches;          /* median over this many batches */
    double batch_seconds; /* each batch at least this long (or one call) */
} timing_plan;

typedef sn_status (*call_fn)(void *context);

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One timed thing: a call and how many calls make a batch. */
typedef struct timed {
    call_fn call;
    void *context;
    long calls;
    double per_call[64];
} timed;

/* Warms t up and sets its batch size; SN_OK or the call's failure. */
static sn_status calibrate(timed *t, const timing_plan *plan)
{
    sn_status status = t->call(t->context);
    if (status != SN_OK)
        return status;
    double t0 = now_seconds();
    status = t->call(t->context);
    double one = now_seconds() - t0;
    t->calls = one > 0.0 ? (long)(plan->batch_seconds / one) : 1000;
    if (t->calls < 1)
        t->calls = 1;
    return status;
}

static sn_status time_batch(timed *t, int b)
{
    sn_status status = SN_OK;
    double t0 = now_seconds();
    for (long i = 0; i < t->calls; i++) {
        sn_status s = t->call(t->context);
        if (status == SN_OK)
            status = s;
    }
    t->per_call[b] = (now_seconds() - t0) / (double)t->calls;
    return status;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], compare_doubles);
    return v[n / 2];
}

/* Median seconds per call of a and of b, their batches alternating so that
 * both see the same machine (other processes, clock speed) over the run.
 * Returns SN_OK or the first failure of a call. */
static sn_status median_pair(timed *a, timed *b, const timing_plan *plan, double *a_seconds,
                             double *b_seconds)
{
    int batches = plan->batches < 64 ? plan->batches : 64;
    sn_status status = calibrate(a, plan);
    if (status == SN_OK)
        status = calibrate(b, plan);
    for (int i = 0; i < batches && status == SN_OK; i++) {
        status = time_batch(a, i);
        if (status == SN_OK)
            status = time_batch(b, i);
    }
    if (status != SN_OK)
        return status;
    *a_seconds = median(a->per_call, batches);
    *b_seconds = median(b->per_call, batches);
    return SN_OK;
}

typedef struct copy_job {
    float *dst;
    const float *src;
    size_t bytes;
    int threads;
} copy_job;

static sn_status copy_call(void *context)
{
    const copy_job *job = context;
    int threads = job->threads;
    size_t useful = job->bytes / MEMCPY_MIN_BYTES_PER_THREAD;
    if (useful < (size_t)threads)
        threads = useful < 1 ? 1 : (int)useful;
#ifdef SN_DEMO_OPENMP
    if (threads > 1) {
        /* Equal chunks, cut at 64-byte boundaries. */
        size_t chunk = (job->bytes / (size_t)threads + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
#pragma omp parallel num_threads(threads)
        {
            size_t begin = chunk * (size_t)omp_get_thread_num();
            size_t end = begin + chunk;
            if (begin > job->bytes)
                begin = job->bytes;
            if (end > job->bytes)
                end = job->bytes;
            memcpy((char *)job->dst + begin, (const char *)job->src + begin, end - begin);
        }
        return SN_OK;
    }
#endif
    (void)threads;
    memcpy(job->dst, job->src, job->bytes);
    return SN_OK;
}

typedef struct layer_job {
    const workload *w;
    const float *x;
    float *y;
    const params *p;
} layer_job;

static sn_status layer_call(void *context)
{
    const layer_job *job = context;
    return job->w->run(job->w, job->x, job->y, job->p);
}

/* ------------------------------------------------------------- report */

/* The value of the first "key : value" line of /proc/cpuinfo, or 0 if none. */
static int cpuinfo_value(FILE *f, const char *key, char *out, size_t size)
{
    char line[512];
    size_t len = strlen(key);
    rewind(f);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, len) != 0)
            continue;
        const char *v = line + len;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v++ != ':')
            continue;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t n = strcspn(v, "\n");
        if (n == 0)
            continue;
        snprintf(out, size, "%.*s", (int)n, v);
        return 1;
    }
    return 0;
}

static void cpu_model(char *out, size_t size)
{
    /* x86: "model name"; AArch64 kernels print "Hardware" or "Processor" if anything. */
    static const char *const keys[] = { "model name", "Hardware", "Processor" };
    snprintf(out, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    int found = 0;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0] && !found; k++)
        found = cpuinfo_value(f, keys[k], out, size);
    /* Most AArch64 kernels give only the ARM ids (e.g. 0x41 / 0xd0c: Neoverse N1). */
    char implementer[32], part[32];
    if (!found && cpuinfo_value(f, "CPU implementer", implementer, sizeof implementer) &&
        cpuinfo_value(f, "CPU part", part, sizeof part))
        snprintf(out, size, "CPU implementer %s, part %s", implementer, part);
    fclose(f);
}

static void shape_text(const workload *w, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < w->rank && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%td", i ? "x" : "", w->dims[i]);
}

/* "{1,2}" for the bits of a mask. */
static void mask_text(unsigned mask, char *out, size_t size)
{
    size_t used = (size_t)snprintf(out, size, "{");
    for (int i = 0; i < SN_MAX_RANK && used < size; i++)
        if (mask >> i & 1u)
            used += (size_t)snprintf(out + used, size - used, "%s%d", used > 1 ? "," : "", i);
    if (used < size)
        snprintf(out + used, size - used, "}");
}

/* One line per norm workload: how sn_norm is called. */
static void print_norm_legend(const workload *ws, size_t count)
{
    printf("norm rows: sn_norm with scale (0.5, 1 or 2) and bias (in [-0.5, 0.5)) dense over\n"
           "the param axes; max err on the normalized value (y - bias) / scale.\n");
    for (size_t i = 0; i < count; i++) {
        const norm_config *c = ws[i].norm;
        char shape[64], axes[64], param_axes[64];
        if (!c)
            continue;
        shape_text(&ws[i], shape, sizeof shape);
        if (c->axes_text)
            snprintf(axes, sizeof axes, "\"%s\"", c->axes_text);
        else
            mask_text(c->axes, axes, sizeof axes);
        if (c->param_text)
            snprintf(param_axes, sizeof param_axes, "\"%s\"", c->param_text);
        else
            mask_text(c->param_axes, param_axes, sizeof param_axes);
        printf("  %-21s %-13s layout %-4s axes %-14s params %-6s %s\n", ws[i].layer, shape,
               c->layout ? c->layout : "-", axes, param_axes, c->note);
    }
    printf("\n");
}

/* One line per batch_norm workload, after what every one has in common. */
static void print_batch_norm_legend(const workload *ws, size_t count)
{
    sn_batch_norm_options o = sn_batch_norm_defaults(SN_BATCH_NORM_CURRENT);
    printf("batch_norm rows: sn_batch_norm, preset \"current\" (momentum %g, epsilon %g,\n"
           "use_sample %g, delay_sample_update %d, update_sample_only_in_training %d), no\n"
           "sequence lengths. The state ([F] each) is reset before every ISA and thread count:\n"
           "running mean and variance near the data's, gamma 0.5, 1 or 2, beta in [-0.5, 0.5);\n"
           "training calls update it. infer: training=0; train: training=1.\n"
           "max err: of one more call from a copy of the state, on the normalized value\n"
           "(y - beta) / gamma against float64 with the running statistics from before the\n"
           "call (infer) or the batch statistics per feature over every other axis (train),\n"
           "and on the state after the call (train: the float64 momentum update of the\n"
           "running mean and biased variance; infer: unchanged).\n",
           (double)o.momentum, (double)o.epsilon, (double)o.use_sample, o.delay_sample_update,
           o.update_sample_only_in_training);
    for (size_t i = 0; i < count; i++) {
        const batch_norm_config *c = ws[i].batch_norm;
        char shape[64];
        if (!c)
            continue;
        shape_text(&ws[i], shape, sizeof shape);
        printf("  %-21s %-13s layout %-4s  %s\n", ws[i].layer, shape, c->layout, c->note);
    }
    printf("\n");
}

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [--quick] [--help]\n"
            "Prints this CPU's ISA support and the ISA simdnorm chooses, then times every\n"
            "layer on every supported ISA (at 1 thread and at the default thread count)\n"
            "against memcpy, and checks its accuracy against float64.\n"
            "  --quick   fewer repetitions (a rougher, faster run)\n"
            "  --help    this text\n"
            "Environment: SIMDNORM_ISA caps the default ISA; OMP_NUM_THREADS sets the\n"
            "default thread count.\n",
            argv0);
}

#define ROW_FORMAT "%-21s %-13s %-12s %-7s %7s %12s %8s %11s %8s  %s\n"

int main(int argc, char **argv)
{
    timing_plan plan = { 9, 0.02 };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            plan.batches = 3;
            plan.batch_seconds = 0.005;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, argv[0]);
            return 0;
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n", argv[0], argv[i]);
            usage(stderr, argv[0]);
            return 2;
        }
    }

    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    const char *env_isa = getenv("SIMDNORM_ISA");
    const char *env_threads = getenv("OMP_NUM_THREADS");
    int max_threads = sn_get_num_threads();

    printf("simdnorm %s (header %s)\n", sn_version_string(), SN_VERSION_STRING);
    printf("CPU:            %s\n", cpu);
    printf("ISA support:   ");
    for (int isa = SN_ISA_SCALAR; isa <= SN_ISA_NEON; isa++)
        printf(" %s %s%s", sn_isa_name((sn_isa)isa), sn_isa_supported((sn_isa)isa) ? "yes" : "no",
               isa < SN_ISA_NEON ? "," : "\n");
    printf("ISA chosen:     %s (SIMDNORM_ISA=%s)\n", sn_isa_name(sn_get_isa()),
           env_isa ? env_isa : "unset");
    printf("threads:        %d (OMP_NUM_THREADS=%s)\n", max_threads, env_threads ? env_threads : "unset");
    printf("\n");
    printf("Workload: each layer out of place, epsilon %g (batch_norm: its preset's), on data\n"
           "drawn from N(mean,std) and rounded to float32; layer_norm without scale or bias.\n"
           "time: median of %d batches of >= %g ms (batch_norm rows: >= %g ms).\n"
           "GB/s: (bytes read + bytes written) / time, 1 GB = 1e9 B. memcpy GB/s: a memcpy\n"
           "of the same bytes (x -> y, same threads), its batches alternating with the\n"
           "layer's; %% memcpy = memcpy time / layer time.\n"
           "max err: largest |n - n_ref| / max(1, |n_ref|), n the normalized value, n_ref float64;\n"
           "the bar is %g.\n\n",
           (double)EPSILON, plan.batches, plan.batch_seconds * 1e3, plan.batch_seconds * 0.5e3,
           ERROR_BAR);
    size_t n_workloads = sizeof workloads / sizeof workloads[0];
    print_norm_legend(workloads, n_workloads);
    print_batch_norm_legend(workloads, n_workloads);
    printf(ROW_FORMAT, "layer", "shape", "data", "ISA", "threads", "time (us)", "GB/s", "memcpy GB/s",
           "% memcpy", "max err");

    int thread_counts[2] = { 1, max_threads };
    int n_thread_counts = max_threads > 1 ? 2 : 1;
    int failures = 0;

    for (size_t wi = 0; wi < n_workloads; wi++) {
        const workload *w = &workloads[wi];
        size_t n = elements(w);
        double bytes = 2.0 * (double)n * sizeof(float);
        char shape[64];
        shape_text(w, shape, sizeof shape);
        size_t n_params = w->norm ? param_count(w) : 0;
        size_t outer, inner;
        size_t features = w->batch_norm ? batch_norm_features(w, &outer, &inner) : 0;
        float *x = alloc_floats(n), *y = alloc_floats(n);
        float *scale = n_params ? alloc_floats(n_params) : NULL;
        float *bias = n_params ? alloc_floats(n_params) : NULL;
        float *state_memory = features ? malloc(4 * features * sizeof(float)) : NULL;
        sn_batch_norm_state state = { 0, NULL, NULL, NULL, NULL };
        if (state_memory)
            state = (sn_batch_norm_state){ (ptrdiff_t)features, state_memory,
                                           state_memory + features, state_memory + 2 * features,
                                           state_memory + 3 * features };
        params p = { scale, bias, features ? &state : NULL, NULL };
        int allocated = x && y && (!n_params || (scale && bias)) && (!features || state_memory);
        sn_status setup = !allocated ? SN_ERR_OUT_OF_MEMORY
                          : w->run == run_layer_norm_planned ? layer_norm_plan(w, &p.plan)
                                                             : SN_OK;
        if (setup != SN_OK) {
            printf(ROW_FORMAT, w->layer, shape, w->data->label, "-", "-", "-", "-", "-", "-",
                   allocated ? sn_status_string(setup) : "out of memory");
            failures++;
            free(x);
            free(y);
            free(scale);
            free(bias);
            free(state_memory);
            continue;
        }
        fill_data(x, n, w->data, 1000 + wi);
        if (n_params)
            fill_params(scale, bias, n_params, 2000 + wi);
        memset(y, 0, n * sizeof(float));

        /* batch_norm rows (long calls, and a float64 check per run) in shorter
         * batches, to keep the default run within a minute. */
        timing_plan row_plan = plan;
        if (w->batch_norm)
            row_plan.batch_seconds = plan.batch_seconds / 2;
        for (int ti = 0; ti < n_thread_counts; ti++) {
            int threads = thread_counts[ti];
            copy_job copy = { y, x, n * sizeof(float), threads };
            layer_job job = { w, x, y, &p };
            for (int isa = SN_ISA_SCALAR; isa <= SN_ISA_NEON; isa++) {
                if (!sn_isa_supported((sn_isa)isa))
                    continue;
                char threads_text[16], time_text[32], gbs_text[32], copy_text[32], pct_text[32],
                    err_text[64];
                snprintf(threads_text, sizeof threads_text, "%d", threads);
                timed layer_timing = { layer_call, &job, 0, { 0 } };
                timed copy_timing = { copy_call, &copy, 0, { 0 } };
                double s = 0.0, copy_s = 0.0;
                sn_status status = SN_OK;
                if (features)
                    status = fill_batch_norm_state(w, &state, 3000 + wi);
                if (status == SN_OK)
                    status = sn_set_isa((sn_isa)isa);
                if (status == SN_OK)
                    status = sn_set_num_threads(threads);
                if (status == SN_OK)
                    status = median_pair(&copy_timing, &layer_timing, &row_plan, &copy_s, &s);
                if (status != SN_OK) {
                    printf(ROW_FORMAT, w->layer, shape, w->data->label, sn_isa_name((sn_isa)isa),
                           threads_text, "-", "-", "-", "-", sn_status_string(status));
                    failures++;
                    continue;
                }
                /* y holds the output of the last call of the layer. */
                double err = w->max_error(w, x, y, &p);
                int ok = err <= ERROR_BAR;
                failures += !ok;
                snprintf(time_text, sizeof time_text, "%.3f", s * 1e6);
                snprintf(gbs_text, sizeof gbs_text, "%.2f", bytes / s * 1e-9);
                snprintf(copy_text, sizeof copy_text, "%.2f", bytes / copy_s * 1e-9);
                snprintf(pct_text, sizeof pct_text, "%.1f", 100.0 * copy_s / s);
                snprintf(err_text, sizeof err_text, "%.1e%s", err, ok ? "" : "  FAIL");
                printf(ROW_FORMAT, w->layer, shape, w->data->label, sn_isa_name((sn_isa)isa),
                       threads_text, time_text, gbs_text, copy_text, pct_text, err_text);
                fflush(stdout);
            }
        }
        sn_norm_plan_destroy(p.plan);
        free(x);
        free(y);
        free(scale);
        free(bias);
        free(state_memory);
    }
    sn_set_isa(SN_ISA_AUTO);
    sn_set_num_threads(0);

    if (failures)
        printf("\n%d run(s) failed or missed the accuracy bar.\n", failures);
    return failures ? 1 : 0;
}
