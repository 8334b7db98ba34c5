#include "testutil.h"

#include <ctype.h>
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
    return (float *)v->t.data + oracle_offset(&v->t, index);
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

/* A group is a position over the axes other than the reduced ones: the
 * parameter helpers below with the complementary mask. */
ptrdiff_t tu_group_of(int rank, const ptrdiff_t *dims, int axis, ptrdiff_t index)
{
    return tu_param_index(rank, dims, ~(1u << axis), index);
}

ptrdiff_t tu_group_count(int rank, const ptrdiff_t *dims, int axis)
{
    return tu_groups_of(rank, dims, 1u << axis);
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
    sn_plan_build(&c->x.t, &y, axis, axis, 0, -1, -1, 0, &plan);
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

/* ------------------------------------------------- shared checking */

/* Who a check is about: describes the case in failure messages, lazily. */
typedef struct subject {
    void (*describe)(const void *self, char *out, size_t size);
    const void *self;
} subject;

static void describe_layer_case(const void *self, char *out, size_t size)
{
    tu_describe(self, out, size);
}

typedef struct norm_subject {
    const tu_norm_case *c;
    int affine;
} norm_subject;

static void describe_norm_case(const void *self, char *out, size_t size)
{
    const norm_subject *n = self;
    tu_norm_describe(n->c, n->affine, out, size);
}

#define DESC_SIZE 1536

/* Assert every element of alloc outside the positions of `view` is canary. */
static void assert_outside_untouched(const subject *s, const tu_view *v, const sn_tensor *view,
                                     const char *what)
{
    ptrdiff_t n = tu_count(view->rank, view->dims);
    unsigned char *inside = calloc((size_t)(v->size > 0 ? v->size : 1), 1);
    cr_assert(inside, "out of memory");
    ptrdiff_t base = (float *)view->data - v->alloc;
    for (ptrdiff_t i = 0; i < n; i++)
        inside[base + oracle_offset(view, i)] = 1;
    ptrdiff_t bad = -1;
    float canary = tu_canary();
    for (ptrdiff_t i = 0; i < v->size && bad < 0; i++)
        if (!inside[i] && memcmp(&v->alloc[i], &canary, sizeof canary) != 0)
            bad = i;
    free(inside);
    if (bad >= 0) {
        char desc[DESC_SIZE];
        s->describe(s->self, desc, sizeof desc);
        cr_assert(0, "%s: %s: element %td of the allocation (data starts at %td) is outside the "
                  "view but was written: %g", desc, what, bad, base, (double)v->alloc[bad]);
    }
}

static void assert_stats_guards(const subject *s, const float *buffer, ptrdiff_t groups,
                                const char *what)
{
    ptrdiff_t before = tu_find_non_canary(buffer, TU_STATS_GUARD);
    ptrdiff_t after = tu_find_non_canary(buffer + TU_STATS_GUARD + groups, TU_STATS_GUARD);
    if (before >= 0 || after >= 0) {
        char desc[DESC_SIZE];
        s->describe(s->self, desc, sizeof desc);
        cr_assert(0, "%s: the %s output was written outside its %td groups (%s, offset %td)",
                  desc, what, groups, before >= 0 ? "before" : "after",
                  before >= 0 ? before : after);
    }
}

/* The entry point of a run: x, y, the mean/rstd outputs and the parameters
 * (NULL when absent). */
typedef sn_status (*entry_fn)(const void *self, const sn_tensor *x, const sn_tensor *y,
                              float *mean, float *rstd, const float *scale, const float *bias);

/* One call on a fresh copy of x with guarded outputs; asserts SN_OK and that
 * nothing outside y's view, the mean/rstd arrays or (unless in place) x
 * changed; copies the outputs to *out in row-major logical order. */
static void run_guarded(const subject *s, const char *entry_name, entry_fn entry,
                        const tu_view *x, int in_place, const ptrdiff_t *y_strides,
                        ptrdiff_t groups, ptrdiff_t param_count, int affine, tu_result *out)
{
    const sn_tensor *xt = &x->t;
    ptrdiff_t count = tu_count(xt->rank, xt->dims);
    tu_view xw = tu_view_clone(x), yw;
    if (in_place)
        yw = xw;
    else
        yw = tu_view_new(xt->rank, xt->dims, y_strides, TU_Y_GUARD);
    float *stats = malloc((size_t)(2 * (groups + 2 * TU_STATS_GUARD)) * sizeof(float));
    float *params = malloc((size_t)(2 * param_count + 1) * sizeof(float));
    cr_assert(stats && params, "out of memory");
    float *mean_buf = stats, *rstd_buf = stats + groups + 2 * TU_STATS_GUARD;
    tu_fill_canary(stats, 2 * (groups + 2 * TU_STATS_GUARD));
    tu_params(param_count, params, params + param_count);

    sn_tensor yt = *xt;
    yt.data = yw.t.data;
    if (!in_place)
        memcpy(yt.strides, y_strides, sizeof yt.strides);
    float *mean = mean_buf + TU_STATS_GUARD, *rstd = rstd_buf + TU_STATS_GUARD;
    sn_status status = entry(s->self, &xw.t, &yt, mean, rstd,
                             affine & TU_SCALE ? params : NULL,
                             affine & TU_BIAS ? params + param_count : NULL);
    if (status != SN_OK) {
        char desc[DESC_SIZE];
        s->describe(s->self, desc, sizeof desc);
        cr_assert(0, "%s: %s returned %d (%s); detail \"%s\"", desc, entry_name, (int)status,
                  sn_status_string(status), sn_last_error_detail());
    }

    if (in_place) {
        assert_outside_untouched(s, &xw, &yt, "in-place x/y");
    } else {
        assert_outside_untouched(s, &yw, &yt, "y");
        if (memcmp(xw.alloc, x->alloc, (size_t)x->size * sizeof(float)) != 0) {
            char desc[DESC_SIZE];
            s->describe(s->self, desc, sizeof desc);
            cr_assert(0, "%s: the input x was modified", desc);
        }
    }
    assert_stats_guards(s, mean_buf, groups, "mean");
    assert_stats_guards(s, rstd_buf, groups, "rstd");

    out->count = count;
    out->groups = groups;
    out->y = malloc((size_t)(count + 1) * sizeof(float));
    out->mean = malloc((size_t)(groups + 1) * sizeof(float));
    out->rstd = malloc((size_t)(groups + 1) * sizeof(float));
    cr_assert(out->y && out->mean && out->rstd, "out of memory");
    yw.t = yt;
    for (ptrdiff_t i = 0; i < count; i++)
        out->y[i] = *tu_at(&yw, i);
    memcpy(out->mean, mean, (size_t)groups * sizeof(float));
    memcpy(out->rstd, rstd, (size_t)groups * sizeof(float));

    free(stats);
    free(params);
    if (!in_place)
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

/* Compare n values, skipping those with skip[i] != 0 (skip may be NULL); on
 * failure assert once, with the count of offenders and the first one. With
 * `x`, indices are elements of x (shown as multi-indices) rather than groups.
 * One assertion per comparison keeps passing runs cheap. */
static void compare(const subject *s, const sn_tensor *x, const char *what, const float *got,
                    const double *want, const unsigned char *skip, ptrdiff_t n,
                    tolerance_fn tolerance, const void *context)
{
    ptrdiff_t bad = 0, first = -1;
    for (ptrdiff_t i = 0; i < n; i++)
        if (!(skip && skip[i]) && !close_enough(got[i], want[i], tolerance(i, context))) {
            if (first < 0)
                first = i;
            bad++;
        }
    if (bad == 0)
        return;
    char desc[DESC_SIZE], where[200];
    s->describe(s->self, desc, sizeof desc);
    if (x)
        tu_format_index(where, sizeof where, x->rank, x->dims, first);
    else
        snprintf(where, sizeof where, "group %td", first);
    cr_assert(0, "%s: %s: %td of %td values out of bound; first at index=%td %s got=%.9g "
              "want=%.9g tol=%.3g",
              desc, what, bad, n, first, where, (double)got[first], want[first],
              tolerance(first, context));
}

typedef struct value_context {
    const double *normalized;
    const float *scale, *bias;   /* with the params */
    const ptrdiff_t *param_of;   /* param index of each element */
    const unsigned char *zero;   /* elements that must be exactly 0, or NULL */
} value_context;

static double normalized_tolerance(ptrdiff_t i, const void *context)
{
    const value_context *v = context;
    if (v->zero && v->zero[i])
        return 0.0;
    return 2e-6 * fmax(1.0, fabs(v->normalized[i]));
}

static double affine_tolerance(ptrdiff_t i, const void *context)
{
    const value_context *v = context;
    if (v->zero && v->zero[i])
        return 0.0;
    ptrdiff_t k = v->param_of[i];
    double t = v->normalized[i];
    double s = v->scale ? v->scale[k] : 1.0, b = v->bias ? v->bias[k] : 0.0;
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

/* Runs a case without parameters, then with `affine`, through `run`. */
typedef void (*case_run_fn)(const void *self, int affine, tu_result *out);

typedef struct check_input {
    const subject *s;            /* of the run without parameters */
    const subject *s_affine;     /* of the run with them */
    const sn_tensor *x;          /* for counts and index formatting */
    const tu_reference *ref;
    ptrdiff_t groups;
    int affine;
    const ptrdiff_t *param_of;   /* param index of each element (for affine) */
    ptrdiff_t param_count;
    const unsigned char *skip;   /* or NULL */
    const unsigned char *zero;   /* or NULL */
    case_run_fn run;
} check_input;

static void check_results(const check_input *in)
{
    ptrdiff_t count = tu_count(in->x->rank, in->x->dims);
    value_context vc = { in->ref->normalized, NULL, NULL, in->param_of, in->zero };
    tu_result r;
    in->run(in->s->self, 0, &r);
    compare(in->s, in->x, "normalized value (no scale, no bias)", r.y, in->ref->normalized,
            in->skip, count, normalized_tolerance, &vc);
    stats_context sc = { in->ref->mean, in->ref->rstd };
    compare(in->s, NULL, "mean output", r.mean, in->ref->mean, NULL, in->groups, mean_tolerance,
            &sc);
    compare(in->s, NULL, "rstd output", r.rstd, in->ref->rstd, NULL, in->groups, rstd_tolerance,
            &sc);
    tu_result_free(&r);
    if (!in->affine)
        return;

    float *params = malloc((size_t)(2 * in->param_count + 1) * sizeof(float));
    cr_assert(params, "out of memory");
    tu_params(in->param_count, params, params + in->param_count);
    vc.scale = in->affine & TU_SCALE ? params : NULL;
    vc.bias = in->affine & TU_BIAS ? params + in->param_count : NULL;
    static const char *const what[] = { "", "with scale", "with bias", "with scale and bias" };
    in->run(in->s_affine->self, in->affine, &r);
    compare(in->s_affine, in->x, what[in->affine & 3], r.y, in->ref->expected, in->skip, count,
            affine_tolerance, &vc);
    tu_result_free(&r);
    free(params);
}

static ptrdiff_t first_difference(const float *a, const float *b, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
            return i;
    return -1;
}

static void assert_same(const subject *s, const tu_result *a, const tu_result *b,
                        const char *what)
{
    const char *part[3] = { "y", "mean", "rstd" };
    const float *pa[3] = { a->y, a->mean, a->rstd }, *pb[3] = { b->y, b->mean, b->rstd };
    ptrdiff_t n[3] = { a->count, a->groups, a->groups };
    if (a->count != b->count || a->groups != b->groups) {
        char desc[DESC_SIZE];
        s->describe(s->self, desc, sizeof desc);
        cr_assert(0, "%s: %s: results of %td/%td elements and %td/%td groups", desc, what,
                  a->count, b->count, a->groups, b->groups);
    }
    for (int k = 0; k < 3; k++) {
        ptrdiff_t at = first_difference(pa[k], pb[k], n[k]);
        if (at >= 0) {
            char desc[DESC_SIZE];
            s->describe(s->self, desc, sizeof desc);
            cr_assert(0, "%s: %s: %s differs at index %td: %a vs %a", desc, what, part[k], at,
                      (double)pa[k][at], (double)pb[k][at]);
        }
    }
}

static void describe_text(const void *self, char *out, size_t size)
{
    snprintf(out, size, "seed=%u isa=%s %s", tu_seed(), sn_isa_name(sn_get_isa()),
             (const char *)self);
}

void tu_assert_same_described(const char *description, const tu_result *a, const tu_result *b,
                              const char *what)
{
    subject s = { describe_text, description };
    assert_same(&s, a, b, what);
}

/* ------------------------------------------------- layer norm runs */

static sn_status layer_norm_entry(const void *self, const sn_tensor *x, const sn_tensor *y,
                                  float *mean, float *rstd, const float *scale,
                                  const float *bias)
{
    const tu_case *c = self;
    sn_layer_norm_options o = SN_LAYER_NORM_DEFAULTS;
    o.axis = c->axis;
    o.epsilon = c->epsilon;
    o.scale = scale;
    o.bias = bias;
    o.mean = mean;
    o.rstd = rstd;
    return sn_layer_norm(x, y, &o);
}

void tu_run(const tu_case *c, int affine, tu_result *out)
{
    const sn_tensor *xt = &c->x.t;
    int axis = resolved_axis(c);
    subject s = { describe_layer_case, c };
    run_guarded(&s, "sn_layer_norm", layer_norm_entry, &c->x, c->in_place, c->y_strides,
                tu_group_count(xt->rank, xt->dims, axis), xt->dims[axis], affine, out);
}

static void layer_case_run(const void *self, int affine, tu_result *out)
{
    tu_run(self, affine, out);
}

sn_path tu_check(const tu_case *c)
{
    const sn_tensor *xt = &c->x.t;
    int axis = resolved_axis(c);
    sn_path path = tu_case_path(c);
    if (c->want_path >= 0 && (int)path != c->want_path) {
        char desc[DESC_SIZE];
        tu_describe(c, desc, sizeof desc);
        cr_assert(0, "%s: the case was built for the %s path", desc,
                  tu_path_name((sn_path)c->want_path));
    }

    ptrdiff_t count = tu_count(xt->rank, xt->dims);
    ptrdiff_t groups = tu_group_count(xt->rank, xt->dims, axis);
    ptrdiff_t features = xt->dims[axis];

    /* The oracle reads a dense copy of the input. */
    float *values = tu_dense_values(&c->x);
    float *params = malloc((size_t)(2 * features + 1) * sizeof(float));
    ptrdiff_t *param_of = malloc((size_t)(count + 1) * sizeof(ptrdiff_t));
    tu_reference ref = tu_reference_alloc(count, groups);
    cr_assert(params && param_of, "out of memory");
    for (ptrdiff_t i = 0; i < count; i++)
        param_of[i] = tu_param_index(xt->rank, xt->dims, 1u << axis, i);
    tu_params(features, params, params + features);
    sn_tensor dense = sn_tensor_dense(values, SN_FLOAT32, xt->rank, xt->dims);
    oracle_layer_norm(&dense, axis, c->affine & TU_SCALE ? params : NULL,
                      c->affine & TU_BIAS ? params + features : NULL, (double)c->epsilon,
                      ref.normalized, ref.expected, ref.mean, ref.rstd);

    subject s = { describe_layer_case, c };
    check_input in = { &s, &s, xt, &ref, groups, c->affine, param_of, features, NULL, NULL,
                       layer_case_run };
    check_results(&in);

    free(values);
    free(params);
    free(param_of);
    tu_reference_free(&ref);
    return path;
}

void tu_assert_same(const tu_case *c, const tu_result *a, const tu_result *b, const char *what)
{
    subject s = { describe_layer_case, c };
    assert_same(&s, a, b, what);
}

/* ------------------------------------------------- generic norm cases */

int tu_layout_axis(const char *layout, char role)
{
    for (int i = 0; layout && layout[i]; i++)
        if (toupper((unsigned char)layout[i]) == toupper((unsigned char)role))
            return i;
    return -1;
}

ptrdiff_t tu_param_count(int rank, const ptrdiff_t *dims, unsigned mask)
{
    ptrdiff_t n = 1;
    for (int i = 0; i < rank; i++)
        if (mask >> i & 1u)
            n *= dims[i];
    return n;
}

ptrdiff_t tu_param_index(int rank, const ptrdiff_t *dims, unsigned mask, ptrdiff_t index)
{
    ptrdiff_t p = 0, weight = 1;
    for (int i = rank - 1; i >= 0; i--) {
        ptrdiff_t k = index % dims[i];
        index /= dims[i];
        if (mask >> i & 1u) {
            p += k * weight;
            weight *= dims[i];
        }
    }
    return p;
}

ptrdiff_t tu_groups_of(int rank, const ptrdiff_t *dims, unsigned reduce)
{
    return tu_param_count(rank, dims, ~reduce);
}

tu_norm_case tu_norm_case_new(const char *label, int index, int rank, const ptrdiff_t *dims,
                              unsigned axes, const ptrdiff_t *x_strides,
                              const ptrdiff_t *y_strides)
{
    tu_norm_case c;
    memset(&c, 0, sizeof c);
    c.label = label;
    c.index = index;
    c.axes = axes;
    c.params = 1u << (rank - 1);
    c.epsilon = 1e-6f;
    c.affine = TU_SCALE | TU_BIAS;
    c.want_path = -1;
    c.mask_mode = SN_MASK_EXCLUDE;
    c.x = tu_view_new(rank, dims, x_strides, 0);
    if (y_strides)
        memcpy(c.y_strides, y_strides, (size_t)rank * sizeof *y_strides);
    else
        memcpy(c.y_strides, sn_tensor_dense(NULL, SN_FLOAT32, rank, dims).strides,
               sizeof c.y_strides);
    return c;
}

static int highest_axis(unsigned mask, int rank)
{
    for (int i = rank - 1; i >= 0; i--)
        if (mask >> i & 1u)
            return i;
    return rank - 1;
}

tu_norm_case tu_norm_case_layout(tu_rng *rng, const char *label, int index, int rank,
                                 const ptrdiff_t *dims, unsigned axes, tu_layout x_layout,
                                 tu_layout y_layout)
{
    ptrdiff_t xs[SN_MAX_RANK], ys[SN_MAX_RANK];
    int a = highest_axis(axes, rank);
    tu_layout_strides(rng, x_layout, rank, dims, a, xs);
    tu_layout_strides(rng, y_layout, rank, dims, a, ys);
    return tu_norm_case_new(label, index, rank, dims, axes, xs, ys);
}

void tu_norm_case_free(tu_norm_case *c)
{
    tu_view_free(&c->x);
}

/* A description resolved as sn_norm does (all 'S' without a layout). */
static unsigned parse_text(const tu_norm_case *c, const char *text)
{
    char all_spatial[SN_MAX_RANK + 1];
    const char *layout = c->layout;
    if (!layout) {
        memset(all_spatial, 'S', (size_t)c->x.t.rank);
        all_spatial[c->x.t.rank] = '\0';
        layout = all_spatial;
    }
    unsigned mask = 0;
    sn_status status = sn_axes_parse(text, layout, c->x.t.dims, &mask);
    cr_assert(status == SN_OK, "seed=%u isa=%s test=%s case=%d: sn_axes_parse(\"%s\", \"%s\") "
              "returned %s (%s)", tu_seed(), tu_isa_name(), c->label, c->index, text, layout,
              sn_status_string(status), sn_last_error_detail());
    return mask;
}

unsigned tu_norm_axes(const tu_norm_case *c)
{
    return c->axes_text ? parse_text(c, c->axes_text) : c->axes;
}

unsigned tu_norm_params(const tu_norm_case *c, int affine)
{
    if (!affine)
        return 0;
    if (c->param_text)
        return parse_text(c, c->param_text);
    if (c->default_params) {
        int f = tu_layout_axis(c->layout, 'F');
        return 1u << (f >= 0 ? f : c->x.t.rank - 1);
    }
    return c->params;
}

sn_norm_options tu_norm_options(const tu_norm_case *c, int affine)
{
    sn_norm_options o = SN_NORM_DEFAULTS;
    o.axes = c->axes_text ? 0 : c->axes;
    o.axes_text = c->axes_text;
    o.layout = c->layout;
    if (affine) {
        o.param_text = c->param_text;
        if (!c->param_text && !c->default_params)
            o.param_axes = c->params;
    }
    o.epsilon = c->epsilon;
    o.seq_lens = c->seq_lens;
    o.mask_mode = c->mask_mode;
    return o;
}

/* Masking is in effect: lengths given and not ignored. */
static int masked(const tu_norm_case *c)
{
    return c->seq_lens && c->mask_mode != SN_MASK_IGNORE;
}

static sn_tensor norm_y_tensor(const tu_norm_case *c)
{
    sn_tensor y = c->x.t;
    if (!c->in_place)
        memcpy(y.strides, c->y_strides, sizeof y.strides);
    return y;
}

void tu_norm_plan(const tu_norm_case *c, int affine, sn_plan *plan)
{
    sn_tensor y = norm_y_tensor(c);
    int m = masked(c);
    sn_plan_build(&c->x.t, &y, tu_norm_axes(c), tu_norm_params(c, affine),
                  m, m ? tu_layout_axis(c->layout, 'B') : -1,
                  m ? tu_layout_axis(c->layout, 'T') : -1, c->mask_mode == SN_MASK_ZERO, plan);
}

sn_path tu_norm_path(const tu_norm_case *c, int affine)
{
    sn_plan plan;
    tu_norm_plan(c, affine, &plan);
    return plan.path;
}

void tu_norm_describe(const tu_norm_case *c, int affine, char *out, size_t size)
{
    const sn_tensor *x = &c->x.t;
    char dims[160], xs[200], ys[200], lens[200] = "none";
    tu_format_dims(dims, sizeof dims, x->rank, x->dims);
    tu_format_dims(xs, sizeof xs, x->rank, x->strides);
    if (c->in_place)
        snprintf(ys, sizeof ys, "(in place)");
    else
        tu_format_dims(ys, sizeof ys, x->rank, c->y_strides);
    int b = tu_layout_axis(c->layout, 'B');
    if (c->seq_lens && b >= 0) {
        ptrdiff_t n = x->dims[b] < 12 ? x->dims[b] : 12;
        size_t used = (size_t)snprintf(lens, sizeof lens, "[");
        for (ptrdiff_t i = 0; i < n && used < sizeof lens; i++)
            used += (size_t)snprintf(lens + used, sizeof lens - used, i ? ",%d" : "%d",
                                     c->seq_lens[i]);
        if (used < sizeof lens)
            snprintf(lens + used, sizeof lens - used, "%s]", n < x->dims[b] ? ",..." : "");
    }
    static const char *const modes[] = { "exclude", "zero", "ignore" };
    static const char *const affines[] = { "none", "scale", "bias", "scale+bias" };
    sn_plan plan;
    tu_norm_plan(c, affine, &plan);
    snprintf(out, size,
             "seed=%u isa=%s test=%s case=%d dims=%s x_strides=%s y_strides=%s axes=0x%x%s%s%s "
             "params=0x%x%s%s%s (%s) layout=%s seq_lens=%s mask_mode=%s eps=%g path=%s "
             "groups=%td threads=%d",
             tu_seed(), sn_isa_name(sn_get_isa()), c->label, c->index, dims, xs, ys,
             tu_norm_axes(c), c->axes_text ? " (\"" : "", c->axes_text ? c->axes_text : "",
             c->axes_text ? "\")" : "", tu_norm_params(c, affine),
             c->param_text ? " (\"" : "", c->param_text ? c->param_text : "",
             c->param_text ? "\")" : "", affines[affine & 3], c->layout ? c->layout : "none",
             lens, (unsigned)c->mask_mode < 3 ? modes[c->mask_mode] : "?", (double)c->epsilon,
             tu_path_name(plan.path), plan.groups, sn_get_num_threads());
}

void tu_norm_fill_padding(tu_rng *rng, tu_norm_case *c, double mean, double std)
{
    const sn_tensor *x = &c->x.t;
    int b = tu_layout_axis(c->layout, 'B'), t = tu_layout_axis(c->layout, 'T');
    cr_assert(c->seq_lens && b >= 0 && t >= 0, "tu_norm_fill_padding needs seq_lens and a "
              "layout with B and T");
    ptrdiff_t count = tu_count(x->rank, x->dims);
    for (ptrdiff_t i = 0; i < count; i++) {
        ptrdiff_t rest = i, bi = 0, ti = 0;
        for (int a = x->rank - 1; a >= 0; a--) {
            ptrdiff_t k = rest % x->dims[a];
            rest /= x->dims[a];
            if (a == b)
                bi = k;
            if (a == t)
                ti = k;
        }
        if (ti >= c->seq_lens[bi])
            *tu_at(&c->x, i) = (float)(mean + std * tu_normal(rng));
    }
}

static sn_status norm_entry(const void *self, const sn_tensor *x, const sn_tensor *y, float *mean,
                            float *rstd, const float *scale, const float *bias)
{
    const norm_subject *n = self;
    sn_norm_options o = tu_norm_options(n->c, n->affine);
    o.scale = scale;
    o.bias = bias;
    o.mean = mean;
    o.rstd = rstd;
    return sn_norm(x, y, &o);
}

void tu_norm_run(const tu_norm_case *c, int affine, tu_result *out)
{
    const sn_tensor *xt = &c->x.t;
    norm_subject ns = { c, affine };
    subject s = { describe_norm_case, &ns };
    run_guarded(&s, "sn_norm", norm_entry, &c->x, c->in_place, c->y_strides,
                tu_groups_of(xt->rank, xt->dims, tu_norm_axes(c)),
                tu_param_count(xt->rank, xt->dims, tu_norm_params(c, affine)), affine, out);
}

/* The same call through a plan made from the shapes alone (the views' data
 * NULL: a plan must not read it), executed on the arrays, then destroyed. */
static sn_status planned_norm_entry(const void *self, const sn_tensor *x, const sn_tensor *y,
                                    float *mean, float *rstd, const float *scale,
                                    const float *bias)
{
    const norm_subject *n = self;
    sn_norm_options o = tu_norm_options(n->c, n->affine);
    o.scale = scale;
    o.bias = bias;
    sn_tensor x_shape = *x, y_shape = *y;
    x_shape.data = y_shape.data = NULL;
    sn_norm_plan *plan;
    sn_status status = sn_norm_plan_create(&x_shape, &y_shape, &o, &plan);
    if (status != SN_OK)
        return status;
    const sn_norm_arrays arrays = { x->data, y->data, scale, bias, mean, rstd, o.seq_lens };
    status = sn_norm_plan_execute(plan, &arrays);
    sn_norm_plan_destroy(plan);
    return status;
}

void tu_norm_run_planned(const tu_norm_case *c, int affine, tu_result *out)
{
    const sn_tensor *xt = &c->x.t;
    norm_subject ns = { c, affine };
    subject s = { describe_norm_case, &ns };
    run_guarded(&s, "sn_norm_plan_execute", planned_norm_entry, &c->x, c->in_place,
                c->y_strides, tu_groups_of(xt->rank, xt->dims, tu_norm_axes(c)),
                tu_param_count(xt->rank, xt->dims, tu_norm_params(c, affine)), affine, out);
}

tu_reference tu_norm_reference(const tu_norm_case *c)
{
    const sn_tensor *xt = &c->x.t;
    ptrdiff_t count = tu_count(xt->rank, xt->dims);
    unsigned reduce = tu_norm_axes(c), params = tu_norm_params(c, c->affine);
    ptrdiff_t groups = tu_groups_of(xt->rank, xt->dims, reduce);
    ptrdiff_t param_count = tu_param_count(xt->rank, xt->dims, params);
    tu_reference r = tu_reference_alloc(count, groups);
    r.valid = malloc((size_t)(count + 1));
    float *values = tu_dense_values(&c->x);
    float *p = malloc((size_t)(2 * param_count + 1) * sizeof(float));
    cr_assert(r.valid && p, "out of memory");
    tu_params(param_count, p, p + param_count);
    sn_tensor dense = sn_tensor_dense(values, SN_FLOAT32, xt->rank, xt->dims);
    int m = masked(c);
    oracle_norm_spec spec = { reduce,
                              params,
                              c->affine & TU_SCALE ? p : NULL,
                              c->affine & TU_BIAS ? p + param_count : NULL,
                              (double)c->epsilon,
                              m ? c->seq_lens : NULL,
                              m ? tu_layout_axis(c->layout, 'B') : -1,
                              m ? tu_layout_axis(c->layout, 'T') : -1,
                              m && c->mask_mode == SN_MASK_ZERO };
    oracle_norm(&dense, &spec, r.normalized, r.expected, r.mean, r.rstd, r.valid);
    free(values);
    free(p);
    return r;
}

tu_reference tu_reference_alloc(ptrdiff_t count, ptrdiff_t groups)
{
    tu_reference r = { malloc((size_t)(count + 1) * sizeof(double)),
                       malloc((size_t)(count + 1) * sizeof(double)),
                       malloc((size_t)(groups + 1) * sizeof(double)),
                       malloc((size_t)(groups + 1) * sizeof(double)), NULL };
    cr_assert(r.normalized && r.expected && r.mean && r.rstd, "out of memory");
    return r;
}

float *tu_dense_values(const tu_view *v)
{
    ptrdiff_t count = tu_count(v->t.rank, v->t.dims);
    float *values = malloc((size_t)(count + 1) * sizeof(float));
    cr_assert(values, "out of memory");
    for (ptrdiff_t i = 0; i < count; i++)
        values[i] = *tu_at(v, i);
    return values;
}

void tu_reference_free(tu_reference *r)
{
    free(r->normalized);
    free(r->expected);
    free(r->mean);
    free(r->rstd);
    free(r->valid);
    memset(r, 0, sizeof *r);
}

/* Every checked case runs through sn_norm and through a plan, which must
 * agree bit for bit. */
static void norm_case_run(const void *self, int affine, tu_result *out)
{
    const norm_subject *n = self;
    tu_norm_run(n->c, affine, out);
    tu_result planned;
    tu_norm_run_planned(n->c, affine, &planned);
    tu_norm_assert_same(n->c, affine, out, &planned, "a plan's execution against sn_norm");
    tu_result_free(&planned);
}

sn_path tu_norm_check_against(const tu_norm_case *c, const tu_reference *ref, int *paths)
{
    const sn_tensor *xt = &c->x.t;
    ptrdiff_t count = tu_count(xt->rank, xt->dims);
    unsigned reduce = tu_norm_axes(c), params = tu_norm_params(c, c->affine);
    sn_path path[2] = { tu_norm_path(c, 0), tu_norm_path(c, c->affine) };
    for (int run = 0; run < (c->affine ? 2 : 1); run++) {
        if (c->want_path >= 0 && (int)path[run] != c->want_path) {
            char desc[DESC_SIZE];
            tu_norm_describe(c, run ? c->affine : 0, desc, sizeof desc);
            cr_assert(0, "%s: the case was built for the %s path", desc,
                      tu_path_name((sn_path)c->want_path));
        }
        if (paths)
            paths[path[run]]++;
    }

    ptrdiff_t *param_of = malloc((size_t)(count + 1) * sizeof(ptrdiff_t));
    unsigned char *skip = malloc((size_t)(count + 1)), *zero = malloc((size_t)(count + 1));
    cr_assert(param_of && skip && zero, "out of memory");
    int any_padded = 0;
    for (ptrdiff_t i = 0; i < count; i++) {
        int padded = ref->valid && !ref->valid[i];
        any_padded |= padded;
        param_of[i] = tu_param_index(xt->rank, xt->dims, params, i);
        skip[i] = padded && c->valid_only;
        zero[i] = padded && masked(c) && c->mask_mode == SN_MASK_ZERO;
    }
    norm_subject ns = { c, 0 }, ns_affine = { c, c->affine };
    subject s = { describe_norm_case, &ns }, s_affine = { describe_norm_case, &ns_affine };
    check_input in = { &s,
                       &s_affine,
                       xt,
                       ref,
                       tu_groups_of(xt->rank, xt->dims, reduce),
                       c->affine,
                       param_of,
                       tu_param_count(xt->rank, xt->dims, params),
                       any_padded && c->valid_only ? skip : NULL,
                       any_padded ? zero : NULL,
                       norm_case_run };
    check_results(&in);
    free(param_of);
    free(skip);
    free(zero);
    return path[0];
}

sn_path tu_norm_check(const tu_norm_case *c, int *paths)
{
    tu_reference ref = tu_norm_reference(c);
    sn_path path = tu_norm_check_against(c, &ref, paths);
    tu_reference_free(&ref);
    return path;
}

void tu_norm_assert_same(const tu_norm_case *c, int affine, const tu_result *a,
                         const tu_result *b, const char *what)
{
    norm_subject ns = { c, affine };
    subject s = { describe_norm_case, &ns };
    assert_same(&s, a, b, what);
}

void tu_format_tensor(char *out, size_t size, const char *name, const sn_tensor *t)
{
    if (!t) {
        snprintf(out, size, "%s=NULL", name);
        return;
    }
    char dims[160] = "[]", strides[200] = "[]";
    if (t->rank >= 1 && t->rank <= SN_MAX_RANK) {
        tu_format_dims(dims, sizeof dims, t->rank, t->dims);
        tu_format_dims(strides, sizeof strides, t->rank, t->strides);
    }
    snprintf(out, size, "%s: data=%p dtype=%d rank=%d dims=%s strides=%s", name, t->data,
             (int)t->dtype, t->rank, dims, strides);
}

void tu_assert_unwritten(int count, const char *const *names, const void *const *now,
                         const void *const *before, const size_t *sizes, const char *what)
{
    for (int i = 0; i < count; i++)
        cr_assert(memcmp(now[i], before[i], sizes[i]) == 0,
                  "seed=%u isa=%s %s: the %s buffer was written by a failing call", tu_seed(),
                  tu_isa_name(), what, names[i]);
}
