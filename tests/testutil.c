#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"

#ifndef SN_TEST_DEFAULT_SCALE
#define SN_TEST_DEFAULT_SCALE 1.0
#endif

/* ------------------------------------------------------------ session */

static sn_isa isa_under_test = SN_ISA_SCALAR;

void tu_begin(void)
{
    /* The lite harness runs every test in one process: start from the defaults. */
    cr_assert(sn_set_isa(SN_ISA_AUTO) == SN_OK, "sn_set_isa(SN_ISA_AUTO) failed");
    cr_assert(sn_set_num_threads(0) == SN_OK, "sn_set_num_threads(0) failed");
    const char *env = getenv("SIMDNORM_ISA");
    if (!env || !*env) {
        isa_under_test = sn_get_isa();
        return;
    }
    sn_isa want;
    cr_assert(sn_isa_from_name(env, &want) == SN_OK,
              "SIMDNORM_ISA=%s is not an ISA name (scalar, avx2, avx512, neon)", env);
    if (!sn_isa_supported(want)) {
        cr_log_warn("SN_TEST_SKIP: SIMDNORM_ISA=%s is not supported by this CPU or build", env);
        cr_skip_test("SIMDNORM_ISA=%s is not supported by this CPU or build", env);
    }
    sn_isa got = sn_get_isa();
    cr_assert(got == want, "SIMDNORM_ISA=%s is supported but sn_get_isa() reports %s", env,
              sn_isa_name(got));
    isa_under_test = want;
}

sn_isa tu_isa(void)
{
    return isa_under_test;
}

const char *tu_isa_name(void)
{
    return sn_isa_name(isa_under_test);
}

unsigned tu_seed(void)
{
    const char *env = getenv("SN_TEST_SEED");
    if (!env || !*env)
        return TU_DEFAULT_SEED;
    char *end;
    unsigned long seed = strtoul(env, &end, 0);
    cr_assert(*end == '\0', "SN_TEST_SEED=%s is not a number", env);
    return (unsigned)seed;
}

double tu_scale(void)
{
    const char *env = getenv("SN_TEST_SCALE");
    if (!env || !*env)
        return SN_TEST_DEFAULT_SCALE;
    char *end;
    double scale = strtod(env, &end);
    cr_assert(*end == '\0' && scale > 0.0 && scale <= 100.0,
              "SN_TEST_SCALE=%s is not a number in (0, 100]", env);
    return scale;
}

ptrdiff_t tu_scaled(ptrdiff_t count, ptrdiff_t minimum)
{
    ptrdiff_t n = (ptrdiff_t)floor((double)count * tu_scale() + 0.5);
    return n < minimum ? minimum : n;
}

/* ------------------------------------------------------------- random */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

tu_rng tu_rng_for(const char *name)
{
    uint64_t hash = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const char *p = name; *p; p++)
        hash = (hash ^ (unsigned char)*p) * 0x100000001b3ull;
    tu_rng rng = { hash ^ ((uint64_t)tu_seed() * 0x9e3779b97f4a7c15ull) };
    return rng;
}

uint64_t tu_next(tu_rng *rng)
{
    return splitmix64(&rng->state);
}

ptrdiff_t tu_range(tu_rng *rng, ptrdiff_t lo, ptrdiff_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1u;
    return lo + (ptrdiff_t)(tu_next(rng) % span);
}

double tu_uniform(tu_rng *rng)
{
    return (double)(tu_next(rng) >> 11) * 0x1.0p-53;
}

double tu_normal(tu_rng *rng)
{
    double u1 = 1.0 - tu_uniform(rng), u2 = tu_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ------------------------------------------------------------ views */

float tu_canary(void)
{
    uint32_t bits = TU_CANARY_BITS;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void tu_fill_canary(float *p, ptrdiff_t n)
{
    float canary = tu_canary();
    for (ptrdiff_t i = 0; i < n; i++)
        p[i] = canary;
}

ptrdiff_t tu_find_non_canary(const float *p, ptrdiff_t n)
{
    uint32_t bits;
    for (ptrdiff_t i = 0; i < n; i++) {
        memcpy(&bits, &p[i], sizeof bits);
        if (bits != TU_CANARY_BITS)
            return i;
    }
    return -1;
}

const char *tu_layout_name(tu_layout layout)
{
    static const char *const names[] = { "dense", "padded", "transposed", "strided", "random" };
    return layout >= TU_DENSE && layout <= TU_RANDOM ? names[layout] : "?";
}

void tu_layout_strides(tu_rng *rng, tu_layout layout, int rank, const ptrdiff_t *dims, int axis,
                       ptrdiff_t *strides)
{
    int order[SN_MAX_RANK]; /* outermost first */
    ptrdiff_t pad[SN_MAX_RANK] = { 0 }, step = 1;
    for (int i = 0; i < rank; i++)
        order[i] = i;
    switch (layout) {
    case TU_DENSE:
        break;
    case TU_PADDED:
        for (int i = 0; i < rank - 1; i++)
            pad[order[i]] = tu_range(rng, 1, 5);
        break;
    case TU_TRANSPOSED:
        for (int i = axis; i > 0; i--)
            order[i] = order[i - 1];
        order[0] = axis;
        break;
    case TU_STRIDED:
        step = tu_range(rng, 2, 3);
        for (int i = 0; i < rank; i++)
            pad[i] = tu_range(rng, 0, 3);
        break;
    case TU_RANDOM:
        for (int i = rank - 1; i > 0; i--) {
            int j = (int)tu_range(rng, 0, i), tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        for (int i = 0; i < rank; i++)
            pad[i] = tu_range(rng, 0, 1) ? tu_range(rng, 1, 3) : 0;
        step = tu_range(rng, 0, 3) == 0 ? 2 : 1;
        break;
    }
    ptrdiff_t stride = step;
    for (int i = rank - 1; i >= 0; i--) {
        int a = order[i];
        strides[a] = stride;
        stride = stride * (dims[a] > 0 ? dims[a] : 1) + pad[a];
    }
}

ptrdiff_t tu_count(int rank, const ptrdiff_t *dims)
{
    ptrdiff_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    return n;
}

static ptrdiff_t offset_of(const sn_tensor *t, ptrdiff_t index)
{
    ptrdiff_t offset = 0;
    for (int i = t->rank - 1; i >= 0; i--) {
        offset += (index % t->dims[i]) * t->strides[i];
        index /= t->dims[i];
    }
    return offset;
}

tu_view tu_view_new(int rank, const ptrdiff_t *dims, const ptrdiff_t *strides, ptrdiff_t guard)
{
    tu_view v;
    memset(&v, 0, sizeof v);
    v.t = sn_tensor_dense(NULL, SN_FLOAT32, rank, dims);
    if (strides)
        for (int i = 0; i < rank; i++)
            v.t.strides[i] = strides[i];
    ptrdiff_t extent = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 0) {
            extent = 0;
            break;
        }
        extent += (dims[i] - 1) * v.t.strides[i];
    }
    v.guard = guard;
    v.size = extent + 2 * guard;
    v.alloc = malloc((size_t)(v.size > 0 ? v.size : 1) * sizeof(float));
    cr_assert(v.alloc, "out of memory allocating a test view of %td elements", v.size);
    tu_fill_canary(v.alloc, v.size);
    v.t.data = v.alloc + guard;
    return v;
}

tu_view tu_view_clone(const tu_view *v)
{
    tu_view c = *v;
    c.alloc = malloc((size_t)(v->size > 0 ? v->size : 1) * sizeof(float));
    cr_assert(c.alloc, "out of memory cloning a test view of %td elements", v->size);
    memcpy(c.alloc, v->alloc, (size_t)v->size * sizeof(float));
    c.t.data = c.alloc + v->guard;
    return c;
}

void tu_view_free(tu_view *v)
{
    free(v->alloc);
    v->alloc = NULL;
    v->t.data = NULL;
}

float *tu_at(const tu_view *v, ptrdiff_t index)
{
    return (float *)v->t.data + offset_of(&v->t, index);
}

void tu_format_dims(char *out, size_t size, int rank, const ptrdiff_t *v)
{
    size_t used = (size_t)snprintf(out, size, "[");
    for (int i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, i ? ",%td" : "%td", v[i]);
    if (used < size)
        snprintf(out + used, size - used, "]");
}

void tu_format_index(char *out, size_t size, int rank, const ptrdiff_t *dims, ptrdiff_t index)
{
    ptrdiff_t at[SN_MAX_RANK];
    for (int i = rank - 1; i >= 0; i--) {
        at[i] = dims[i] ? index % dims[i] : 0;
        index = dims[i] ? index / dims[i] : 0;
    }
    tu_format_dims(out, size, rank, at);
}

ptrdiff_t tu_group_of(int rank, const ptrdiff_t *dims, int axis, ptrdiff_t index)
{
    ptrdiff_t group = 0, weight = 1;
    for (int i = rank - 1; i >= 0; i--) {
        ptrdiff_t k = index % dims[i];
        index /= dims[i];
        if (i == axis)
            continue;
        group += k * weight;
        weight *= dims[i];
    }
    return group;
}

ptrdiff_t tu_group_count(int rank, const ptrdiff_t *dims, int axis)
{
    ptrdiff_t groups = 1;
    for (int i = 0; i < rank; i++)
        if (i != axis)
            groups *= dims[i];
    return groups;
}

void tu_fill_normal(tu_rng *rng, tu_view *v, double mean, double std)
{
    ptrdiff_t n = tu_count(v->t.rank, v->t.dims);
    for (ptrdiff_t i = 0; i < n; i++)
        *tu_at(v, i) = (float)(mean + std * tu_normal(rng));
}

void tu_fill_random(tu_rng *rng, tu_view *v)
{
    double mean = 20.0 * tu_uniform(rng) - 10.0;
    double std = pow(10.0, 4.0 * tu_uniform(rng) - 2.0);
    tu_fill_normal(rng, v, mean, std);
}

/* ------------------------------------------------- layer norm cases */

#define TU_Y_GUARD 16
#define TU_STATS_GUARD 8

static int resolved_axis(const tu_case *c)
{
    int rank = c->x.t.rank;
    return c->axis < 0 ? c->axis + rank : c->axis;
}

tu_case tu_case_new(const char *label, int index, int rank, const ptrdiff_t *dims, int axis,
                    const ptrdiff_t *x_strides, const ptrdiff_t *y_strides)
{
    tu_case c;
    memset(&c, 0, sizeof c);
    c.label = label;
    c.index = index;
    c.axis = axis;
    c.epsilon = 1e-6f;
    c.affine = TU_SCALE | TU_BIAS;
    c.want_path = -1;
    c.x = tu_view_new(rank, dims, x_strides, 0);
    if (y_strides)
        memcpy(c.y_strides, y_strides, (size_t)rank * sizeof *y_strides);
    else
        memcpy(c.y_strides, sn_tensor_dense(NULL, SN_FLOAT32, rank, dims).strides,
               sizeof c.y_strides);
    return c;
}

tu_case tu_case_layout(tu_rng *rng, const char *label, int index, int rank,
                       const ptrdiff_t *dims, int axis, tu_layout x_layout, tu_layout y_layout)
{
    ptrdiff_t xs[SN_MAX_RANK], ys[SN_MAX_RANK];
    int a = axis < 0 ? axis + rank : axis;
    tu_layout_strides(rng, x_layout, rank, dims, a, xs);
    tu_layout_strides(rng, y_layout, rank, dims, a, ys);
    return tu_case_new(label, index, rank, dims, axis, xs, ys);
}

void tu_case_free(tu_case *c)
{
    tu_view_free(&c->x);
}

const char *tu_path_name(sn_path path)
{
    switch (path) {
    case SN_PATH_ROWS: return "rows";
    case SN_PATH_COLUMNS: return "columns";
    case SN_PATH_GATHER: return "gather";
    }
    return "?";
}

static sn_tensor y_tensor(const tu_case *c, void *data)
{
    sn_tensor y = c->x.t;
    y.data = data;
    if (!c->in_place)
        memcpy(y.strides, c->y_strides, sizeof y.strides);
    return y;
}

sn_path tu_case_path(const tu_case *c)
{
    sn_tensor y = y_tensor(c, c->x.t.data);
    sn_plan plan;
    unsigned axis = 1u << resolved_axis(c);
    sn_plan_build(&c->x.t, &y, axis, axis, NULL, -1, -1, 0, &plan);
    return plan.path;
}

void tu_describe(const tu_case *c, char *out, size_t size)
{
    const sn_tensor *x = &c->x.t;
    char dims[160], xs[200], ys[200];
    tu_format_dims(dims, sizeof dims, x->rank, x->dims);
    tu_format_dims(xs, sizeof xs, x->rank, x->strides);
    if (c->in_place)
        snprintf(ys, sizeof ys, "(in place)");
    else
        tu_format_dims(ys, sizeof ys, x->rank, c->y_strides);
    snprintf(out, size,
             "seed=%u isa=%s test=%s case=%d dims=%s x_strides=%s y_strides=%s axis=%d "
             "eps=%g path=%s threads=%d",
             tu_seed(), sn_isa_name(sn_get_isa()), c->label, c->index, dims, xs, ys, c->axis,
             (double)c->epsilon, tu_path_name(tu_case_path(c)), sn_get_num_threads());
}

void tu_params(ptrdiff_t features, float *scale, float *bias)
{
    /* Fixed, varied values: scale in [-2, 2] and never 0, bias in [-3, 3]. */
    for (ptrdiff_t k = 0; k < features; k++) {
        double u = (double)((k * 7919 + 13) % 1000) / 999.0;
        scale[k] = (float)(u < 0.5 ? -0.25 - 3.5 * u : 0.25 + 3.5 * (u - 0.5));
        bias[k] = (float)(6.0 * (double)((k * 104729 + 7) % 997) / 996.0 - 3.0);
    }
}

/* Assert every element of alloc outside the positions of `view` is canary. */
static void assert_outside_untouched(const tu_case *c, const tu_view *v, const sn_tensor *view,
                                     const char *what)
{
    ptrdiff_t n = tu_count(view->rank, view->dims);
    unsigned char *inside = calloc((size_t)(v->size > 0 ? v->size : 1), 1);
    cr_assert(inside, "out of memory");
    ptrdiff_t base = (float *)view->data - v->alloc;
    for (ptrdiff_t i = 0; i < n; i++)
        inside[base + offset_of(view, i)] = 1;
    ptrdiff_t bad = -1;
    float canary = tu_canary();
    for (ptrdiff_t i = 0; i < v->size && bad < 0; i++)
        if (!inside[i] && memcmp(&v->alloc[i], &canary, sizeof canary) != 0)
            bad = i;
    free(inside);
    if (bad >= 0) {
        char desc[1024];
        tu_describe(c, desc, sizeof desc);
        cr_assert(0, "%s: %s: element %td of the allocation (data starts at %td) is outside the "
                  "view but was written: %g", desc, what, bad, base, (double)v->alloc[bad]);
    }
}

static void assert_stats_guards(const tu_case *c, const float *buffer, ptrdiff_t groups,
                                const char *what)
{
    ptrdiff_t before = tu_find_non_canary(buffer, TU_STATS_GUARD);
    ptrdiff_t after = tu_find_non_canary(buffer + TU_STATS_GUARD + groups, TU_STATS_GUARD);
    if (before >= 0 || after >= 0) {
        char desc[1024];
        tu_describe(c, desc, sizeof desc);
        cr_assert(0, "%s: the %s output was written outside its %td groups (%s, offset %td)",
                  desc, what, groups, before >= 0 ? "before" : "after",
                  before >= 0 ? before : after);
    }
}

void tu_run(const tu_case *c, int affine, tu_result *out)
{
    const sn_tensor *xt = &c->x.t;
    int axis = resolved_axis(c);
    ptrdiff_t count = tu_count(xt->rank, xt->dims);
    ptrdiff_t groups = tu_group_count(xt->rank, xt->dims, axis);
    ptrdiff_t features = xt->dims[axis];

    tu_view xw = tu_view_clone(&c->x), yw;
    if (c->in_place)
        yw = xw;
    else
        yw = tu_view_new(xt->rank, xt->dims, c->y_strides, TU_Y_GUARD);
    float *stats = malloc((size_t)(2 * (groups + 2 * TU_STATS_GUARD)) * sizeof(float));
    float *params = malloc((size_t)(2 * features + 1) * sizeof(float));
    cr_assert(stats && params, "out of memory");
    float *mean_buf = stats, *rstd_buf = stats + groups + 2 * TU_STATS_GUARD;
    tu_fill_canary(stats, 2 * (groups + 2 * TU_STATS_GUARD));
    tu_params(features, params, params + features);

    sn_layer_norm_options o = SN_LAYER_NORM_DEFAULTS;
    o.axis = c->axis;
    o.epsilon = c->epsilon;
    o.scale = affine & TU_SCALE ? params : NULL;
    o.bias = affine & TU_BIAS ? params + features : NULL;
    o.mean = mean_buf + TU_STATS_GUARD;
    o.rstd = rstd_buf + TU_STATS_GUARD;
    sn_tensor yt = y_tensor(c, yw.t.data);
    sn_status status = sn_layer_norm(&xw.t, &yt, &o);
    if (status != SN_OK) {
        char desc[1024];
        tu_describe(c, desc, sizeof desc);
        cr_assert(0, "%s: sn_layer_norm returned %d (%s)", desc, (int)status,
                  sn_status_string(status));
    }

    if (c->in_place) {
        assert_outside_untouched(c, &xw, &yt, "in-place x/y");
    } else {
        assert_outside_untouched(c, &yw, &yt, "y");
        if (memcmp(xw.alloc, c->x.alloc, (size_t)c->x.size * sizeof(float)) != 0) {
            char desc[1024];
            tu_describe(c, desc, sizeof desc);
            cr_assert(0, "%s: the input x was modified", desc);
        }
    }
    assert_stats_guards(c, mean_buf, groups, "mean");
    assert_stats_guards(c, rstd_buf, groups, "rstd");

    out->count = count;
    out->groups = groups;
    out->y = malloc((size_t)(count + 1) * sizeof(float));
    out->mean = malloc((size_t)(groups + 1) * sizeof(float));
    out->rstd = malloc((size_t)(groups + 1) * sizeof(float));
    cr_assert(out->y && out->mean && out->rstd, "out of memory");
    yw.t = yt;
    for (ptrdiff_t i = 0; i < count; i++)
        out->y[i] = *tu_at(&yw, i);
    memcpy(out->mean, o.mean, (size_t)groups * sizeof(float));
    memcpy(out->rstd, o.rstd, (size_t)groups * sizeof(float));

    free(stats);
    free(params);
    if (!c->in_place)
        tu_view_free(&yw);
    tu_view_free(&xw);
}

void tu_result_free(tu_result *r)
{
    free(r->y);
    free(r->mean);
    free(r->rstd);
    r->y = r->mean = r->rstd = NULL;
}

/* NaN wants NaN, an infinity wants itself, a finite value wants |got - want| <= tol. */
static int close_enough(double got, double want, double tol)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= tol;
}

/* The bound for value i of a comparison. */
typedef double (*tolerance_fn)(ptrdiff_t i, const void *context);

/* Compare n values; on failure assert once, with the count of offenders and
 * the first one. `elements`: indices are elements of x (shown as multi-indices)
 * rather than groups. One assertion per comparison keeps passing runs cheap. */

static void compare(const tu_case *c, const char *what, const float *got, const double *want,
                    ptrdiff_t n, tolerance_fn tolerance, const void *context, int elements)
{
    ptrdiff_t bad = 0, first = -1;
    double worst = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        double tol = tolerance(i, context);
        if (!close_enough(got[i], want[i], tol)) {
            if (first < 0)
                first = i;
            bad++;
        } else if (isfinite(want[i]) && tol > 0.0 && fabs(got[i] - want[i]) / tol > worst) {
            worst = fabs(got[i] - want[i]) / tol;
        }
    }
    if (bad == 0)
        return;
    char desc[1024], where[200];
    tu_describe(c, desc, sizeof desc);
    if (elements)
        tu_format_index(where, sizeof where, c->x.t.rank, c->x.t.dims, first);
    else
        snprintf(where, sizeof where, "group %td", first);
    cr_assert(0, "%s: %s: %td of %td values out of bound; first at index=%td %s got=%.9g "
              "want=%.9g tol=%.3g",
              desc, what, bad, n, first, where, (double)got[first], want[first],
              tolerance(first, context));
}

static double normalized_tolerance(ptrdiff_t i, const void *context)
{
    const double *ref = context;
    return 2e-6 * fmax(1.0, fabs(ref[i]));
}

typedef struct affine_context {
    const double *normalized;
    const float *scale, *bias;
    ptrdiff_t features, inner;  /* element i has feature (i / inner) % features */
} affine_context;

static double affine_tolerance(ptrdiff_t i, const void *context)
{
    const affine_context *a = context;
    ptrdiff_t k = (i / a->inner) % a->features;
    double t = a->normalized[i];
    double s = a->scale ? a->scale[k] : 1.0, b = a->bias ? a->bias[k] : 0.0;
    /* The normalized value's bound carried through the scale, plus a few
     * roundings of the multiply and the add. */
    return 3e-6 * fmax(1.0, fabs(t)) * fmax(1.0, fabs(s)) + 3e-7 * (fabs(t * s) + fabs(b));
}

typedef struct stats_context {
    const double *mean, *rstd;
} stats_context;

static double mean_tolerance(ptrdiff_t g, const void *context)
{
    const stats_context *s = context;
    double sd = s->rstd[g] > 0.0 && isfinite(s->rstd[g]) ? 1.0 / s->rstd[g] : 0.0;
    return 1e-6 * fabs(s->mean[g]) + 2e-6 * sd;
}

static double rstd_tolerance(ptrdiff_t g, const void *context)
{
    const stats_context *s = context;
    return 2e-6 * fabs(s->rstd[g]);
}

sn_path tu_check(const tu_case *c)
{
    const sn_tensor *xt = &c->x.t;
    int axis = resolved_axis(c);
    sn_path path = tu_case_path(c);
    if (c->want_path >= 0 && (int)path != c->want_path) {
        char desc[1024];
        tu_describe(c, desc, sizeof desc);
        cr_assert(0, "%s: the case was built for the %s path", desc,
                  tu_path_name((sn_path)c->want_path));
    }

    ptrdiff_t count = tu_count(xt->rank, xt->dims);
    ptrdiff_t groups = tu_group_count(xt->rank, xt->dims, axis);
    ptrdiff_t features = xt->dims[axis], inner = 1;
    for (int i = axis + 1; i < xt->rank; i++)
        inner *= xt->dims[i];

    /* The oracle reads a dense copy of the input. */
    float *values = malloc((size_t)(count + 1) * sizeof(float));
    double *normalized = malloc((size_t)(count + 1) * sizeof(double));
    double *expected = malloc((size_t)(count + 1) * sizeof(double));
    double *mean = malloc((size_t)(groups + 1) * sizeof(double));
    double *rstd = malloc((size_t)(groups + 1) * sizeof(double));
    float *params = malloc((size_t)(2 * features + 1) * sizeof(float));
    cr_assert(values && normalized && expected && mean && rstd && params, "out of memory");
    for (ptrdiff_t i = 0; i < count; i++)
        values[i] = *tu_at(&c->x, i);
    sn_tensor dense = sn_tensor_dense(values, SN_FLOAT32, xt->rank, xt->dims);
    oracle_layer_norm(&dense, axis, NULL, NULL, (double)c->epsilon, normalized, NULL, mean, rstd);

    tu_result r;
    tu_run(c, 0, &r);
    compare(c, "normalized value (no scale, no bias)", r.y, normalized, count,
            normalized_tolerance, normalized, 1);
    stats_context sc = { mean, rstd };
    compare(c, "mean output", r.mean, mean, groups, mean_tolerance, &sc, 0);
    compare(c, "rstd output", r.rstd, rstd, groups, rstd_tolerance, &sc, 0);
    tu_result_free(&r);

    if (c->affine) {
        tu_params(features, params, params + features);
        affine_context ac = { normalized, c->affine & TU_SCALE ? params : NULL,
                              c->affine & TU_BIAS ? params + features : NULL, features, inner };
        for (ptrdiff_t i = 0; i < count; i++) {
            ptrdiff_t k = (i / inner) % features;
            expected[i] = normalized[i] * (ac.scale ? (double)ac.scale[k] : 1.0) +
                          (ac.bias ? (double)ac.bias[k] : 0.0);
        }
        static const char *const what[] = { "", "with scale", "with bias",
                                            "with scale and bias" };
        tu_run(c, c->affine, &r);
        compare(c, what[c->affine & 3], r.y, expected, count, affine_tolerance, &ac, 1);
        tu_result_free(&r);
    }

    free(values);
    free(normalized);
    free(expected);
    free(mean);
    free(rstd);
    free(params);
    return path;
}

static ptrdiff_t first_difference(const float *a, const float *b, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
            return i;
    return -1;
}

void tu_assert_same(const tu_case *c, const tu_result *a, const tu_result *b, const char *what)
{
    const char *part[3] = { "y", "mean", "rstd" };
    const float *pa[3] = { a->y, a->mean, a->rstd }, *pb[3] = { b->y, b->mean, b->rstd };
    ptrdiff_t n[3] = { a->count, a->groups, a->groups };
    for (int k = 0; k < 3; k++) {
        ptrdiff_t at = first_difference(pa[k], pb[k], n[k]);
        if (at >= 0) {
            char desc[1024];
            tu_describe(c, desc, sizeof desc);
            cr_assert(0, "%s: %s: %s differs at index %td: %a vs %a", desc, what, part[k], at,
                      (double)pa[k][at], (double)pb[k][at]);
        }
    }
}
