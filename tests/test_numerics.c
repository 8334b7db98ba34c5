/* Numerics: ill-conditioned data, extreme magnitudes, an outlier as the
 * statistics shift, constant blocks, NaN and Inf contained to their group,
 * constant groups, epsilon 0, empty axes. Each on the rows, columns and gather
 * paths and on a long row split across threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "kernels.h"
#include "testutil.h"

/* Shapes [groups, features] normalized over axis 1, one per path. */
typedef struct path_shape {
    const char *name;
    ptrdiff_t groups, features;
    tu_layout layout;
    sn_path path;
    int threads;  /* 0: default */
} path_shape;

static const path_shape path_shapes[] = {
    { "rows", 23, 777, TU_DENSE, SN_PATH_ROWS, 0 },
    { "rows-short", 40, 13, TU_PADDED, SN_PATH_ROWS, 0 },
    { "rows-200", 31, 200, TU_DENSE, SN_PATH_ROWS, 0 }, /* pass 2 around a prefix center */
    { "columns", 37, 150, TU_TRANSPOSED, SN_PATH_COLUMNS, 0 },
    { "gather", 11, 300, TU_STRIDED, SN_PATH_GATHER, 0 },
    { "split-row", 2, 70001, TU_DENSE, SN_PATH_ROWS, 4 },
};
#define PATH_SHAPES ((int)(sizeof path_shapes / sizeof path_shapes[0]))

static tu_case path_case(tu_rng *rng, const char *label, int index, const path_shape *s)
{
    ptrdiff_t dims[2] = { s->groups, s->features };
    tu_case c = tu_case_layout(rng, label, index, 2, dims, 1, s->layout, s->layout);
    c.want_path = s->path;
    cr_assert(sn_set_num_threads(s->threads) == SN_OK, "sn_set_num_threads(%d) failed",
              s->threads);
    return c;
}

/* Element k of group g of a path_case. */
static float *element(tu_case *c, ptrdiff_t g, ptrdiff_t k)
{
    return tu_at(&c->x, g * c->x.t.dims[1] + k);
}

Test(numerics, ill_conditioned_large_mean_small_spread)
{
    tu_begin();
    tu_rng rng = tu_rng_for("numerics.ill_conditioned");
    /* PyTorch 1.13 errs by 7e-2 and 1e-1 on the first two (SPEC section 2). */
    const double presets[][2] = { { 1e4, 1e-2 }, { 1e6, 1.0 }, { -3e7, 10.0 } };
    int index = 0;
    for (int p = 0; p < 3; p++) {
        for (int s = 0; s < PATH_SHAPES; s++) {
            tu_case c = path_case(&rng, "numerics.ill_conditioned", index++, &path_shapes[s]);
            tu_fill_normal(&rng, &c.x, presets[p][0], presets[p][1]);
            tu_check(&c);
            tu_case_free(&c);
        }
        /* Every tail length of a short row. */
        for (ptrdiff_t f = 1; f <= 64; f++) {
            ptrdiff_t dims[2] = { 3, f };
            tu_case c = tu_case_layout(&rng, "numerics.ill_conditioned", index++, 2, dims, -1,
                                       TU_DENSE, TU_DENSE);
            c.affine = 0;
            tu_fill_normal(&rng, &c.x, presets[p][0], presets[p][1]);
            tu_check(&c);
            tu_case_free(&c);
        }
    }
}

Test(numerics, extreme_magnitudes)
{
    tu_begin();
    tu_rng rng = tu_rng_for("numerics.extreme");
    /* Deviations up to ~1e18 (SPEC's bar), and tiny values whose squares
     * underflow float32 (epsilon 0 so they are not drowned). */
    const struct { double mean, std; float epsilon; } presets[] = {
        { 0.0, 1e17, 1e-6f }, { 1e18, 1e17, 1e-6f }, { 0.0, 1e-30, 0.0f }, { 1e-18, 1e-20, 0.0f },
    };
    int index = 0;
    for (int p = 0; p < 4; p++)
        for (int s = 0; s < PATH_SHAPES; s++) {
            tu_case c = path_case(&rng, "numerics.extreme", index++, &path_shapes[s]);
            c.epsilon = presets[p].epsilon;
            tu_fill_normal(&rng, &c.x, presets[p].mean, presets[p].std);
            tu_check(&c);
            tu_case_free(&c);
        }
}

Test(numerics, outlier_first_element)
{
    tu_begin();
    tu_rng rng = tu_rng_for("numerics.outlier");
    /* The first element of each group far from the rest: a statistics shift
     * taken from it must not cost u * |outlier| in every normalized value. */
    const float outliers[] = { 1e8f, -3e9f, 1e12f };
    /* Besides one shape per path: a last row block (4096) or column block
     * (64 rows) of one element, or of a few elements that all sit the same
     * distance from the shift. */
    const path_shape blocks[] = {
        { "rows-4097", 3, 4097, TU_DENSE, SN_PATH_ROWS, 1 },
        { "rows-8193", 2, 8193, TU_DENSE, SN_PATH_ROWS, 1 },
        { "rows-4100", 2, 4100, TU_PADDED, SN_PATH_ROWS, 1 },
        { "columns-65", 20, 65, TU_TRANSPOSED, SN_PATH_COLUMNS, 1 },
        { "columns-131", 9, 131, TU_TRANSPOSED, SN_PATH_COLUMNS, 1 },
    };
    int index = 0;
    for (int o = 0; o < 3; o++)
        for (int s = 0; s < PATH_SHAPES + 5; s++) {
            const path_shape *shape = s < PATH_SHAPES ? &path_shapes[s] : &blocks[s - PATH_SHAPES];
            tu_case c = path_case(&rng, "numerics.outlier", index++, shape);
            tu_fill_normal(&rng, &c.x, 0.0, 1.0);
            for (ptrdiff_t g = 0; g < c.x.t.dims[0]; g++)
                *element(&c, g, 0) = outliers[o];
            tu_check(&c);
            tu_case_free(&c);
        }
}

Test(numerics, first_elements_unlike_the_rest)
{
    tu_begin();
    tu_rng rng = tu_rng_for("numerics.prefix");
    /* Long rows take their provisional center from their first 128 elements
     * (SN_CENTER_PREFIX), column panels from a unit's first 16 rows: groups
     * whose first elements sit elsewhere than the rest (a step), or drift (a
     * ramp), must reach the same accuracy, through the two-pass fallback when
     * the center is too far off. Steps of 0.1 keep the center usable; the
     * others do not. */
    const double steps[] = { 0.1, 5.0, 1e4, 1e6 };
    const path_shape shapes[] = {
        { "rows-129", 7, 129, TU_DENSE, SN_PATH_ROWS, 1 },
        { "rows-257", 7, 257, TU_DENSE, SN_PATH_ROWS, 1 },
        { "rows-768", 5, 768, TU_PADDED, SN_PATH_ROWS, 1 },
        { "rows-5000", 3, 5000, TU_DENSE, SN_PATH_ROWS, 1 },
        { "rows-split", 2, 70001, TU_DENSE, SN_PATH_ROWS, 4 },
        { "columns-200", 40, 200, TU_TRANSPOSED, SN_PATH_COLUMNS, 1 },
        { "columns-1500", 20, 1500, TU_TRANSPOSED, SN_PATH_COLUMNS, 2 },
    };
    int index = 0;
    for (int k = 0; k < 5; k++)
        for (int s = 0; s < 7; s++) {
            tu_case c = path_case(&rng, "numerics.prefix", index++, &shapes[s]);
            ptrdiff_t groups = c.x.t.dims[0], f = c.x.t.dims[1];
            ptrdiff_t prefix = shapes[s].path == SN_PATH_COLUMNS ? 16 : 128;
            for (ptrdiff_t g = 0; g < groups; g++)
                for (ptrdiff_t e = 0; e < f; e++) {
                    /* k < 4: a step after the prefix; k == 4: a ramp. */
                    double base = k < 4 ? (e < prefix ? 0.0 : steps[k]) : 1e-3 * (double)e;
                    *element(&c, g, e) = (float)(base + tu_normal(&rng));
                }
            tu_check(&c);
            tu_case_free(&c);
        }
}

Test(numerics, constant_blocks_far_from_the_first_element)
{
    tu_begin();
    tu_rng rng = tu_rng_for("numerics.constant_blocks");
    /* [v, 0, 0, ..., 0]: every block after the first is constant, |v| away
     * from the shift, and has zero spread of its own. |v| stays within the
     * accuracy bar's deviations (below 1e18). */
    const float firsts[] = { 1.0f, 1e9f, -3e15f, 1e17f };
    const path_shape shapes[] = {
        { "rows", 3, 8192, TU_DENSE, SN_PATH_ROWS, 1 },
        { "rows-split", 2, 70001, TU_DENSE, SN_PATH_ROWS, 4 },
        { "columns", 30, 200, TU_TRANSPOSED, SN_PATH_COLUMNS, 1 },
        { "gather", 5, 5000, TU_STRIDED, SN_PATH_GATHER, 1 },
    };
    int index = 0;
    for (int v = 0; v < 4; v++)
        for (int s = 0; s < 4; s++) {
            tu_case c = path_case(&rng, "numerics.constant_blocks", index++, &shapes[s]);
            ptrdiff_t groups = c.x.t.dims[0], f = c.x.t.dims[1];
            for (ptrdiff_t g = 0; g < groups; g++)
                for (ptrdiff_t k = 0; k < f; k++)
                    *element(&c, g, k) = k == 0 ? firsts[v] * (float)(1 + g % 3) : 0.0f;
            tu_check(&c);
            tu_case_free(&c);
        }
}

Test(numerics, epsilon_zero)
{
    tu_begin();
    tu_rng rng = tu_rng_for("numerics.epsilon_zero");
    for (int s = 0; s < PATH_SHAPES; s++) {
        tu_case c = path_case(&rng, "numerics.epsilon_zero", s, &path_shapes[s]);
        c.epsilon = 0.0f;
        tu_fill_random(&rng, &c.x);
        tu_check(&c);
        tu_case_free(&c);
    }
}

/* Every third group gets NaN, Inf or an overflowing spread; `kind` says
 * which, and where. */
static int dirty(ptrdiff_t g)
{
    return g % 3 == 1;
}

#define KINDS 6

static int kind_of(ptrdiff_t g, int round)
{
    return (int)((g / 3 + round) % KINDS);
}

static void poison(tu_case *c, ptrdiff_t g, int kind)
{
    ptrdiff_t f = c->x.t.dims[1];
    switch (kind) {
    case 0: *element(c, g, 0) = NAN; break;            /* the shift element */
    case 1: *element(c, g, f / 2) = INFINITY; break;
    case 2: *element(c, g, f - 1) = -INFINITY; break;  /* in the tail */
    case 3:
        *element(c, g, f / 3) = INFINITY;
        *element(c, g, f - 1 - f / 3) = -INFINITY;
        break;
    case 4:
        /* Finite, but spanning more than FLT_MAX from the first element:
         * documented to give NaN in the group. */
        *element(c, g, 0) = -3e38f;
        *element(c, g, f / 2) = 3e38f;
        break;
    default:
        for (ptrdiff_t k = 0; k < f; k++)
            *element(c, g, k) = NAN;
    }
}

Test(numerics, nan_and_inf_stay_in_their_group)
{
    tu_begin();
    tu_rng rng = tu_rng_for("numerics.nan_inf");
    int index = 0;
    for (int s = 0; s < PATH_SHAPES; s++) {
        /* Shapes with few groups go round every kind of special value. */
        int rounds = path_shapes[s].groups >= 3 * KINDS ? 1 : KINDS;
        for (int round = 0; round < rounds; round++) {
            tu_case c = path_case(&rng, "numerics.nan_inf", index++, &path_shapes[s]);
            tu_fill_random(&rng, &c.x);
            tu_result clean, result;
            tu_run(&c, TU_SCALE | TU_BIAS, &clean);
            ptrdiff_t groups = c.x.t.dims[0], f = c.x.t.dims[1];
            for (ptrdiff_t g = 0; g < groups; g++)
                if (dirty(g))
                    poison(&c, g, kind_of(g, round));
            tu_run(&c, TU_SCALE | TU_BIAS, &result);

            char desc[1024];
            tu_describe(&c, desc, sizeof desc);
            for (ptrdiff_t g = 0; g < groups; g++) {
                if (dirty(g)) {
                    for (ptrdiff_t k = 0; k < f; k++)
                        cr_assert(isnan(result.y[g * f + k]),
                                  "%s: group %td holds NaN/Inf/overflow (kind %d) but "
                                  "y[%td] = %g, not NaN", desc, g, kind_of(g, round), k,
                                  (double)result.y[g * f + k]);
                    cr_assert(isnan(result.mean[g]) && isnan(result.rstd[g]),
                              "%s: group %td holds NaN/Inf/overflow (kind %d) but mean = %g, "
                              "rstd = %g",
                              desc, g, kind_of(g, round), (double)result.mean[g],
                              (double)result.rstd[g]);
                } else {
                    cr_assert(memcmp(&result.y[g * f], &clean.y[g * f],
                                     (size_t)f * sizeof(float)) == 0 &&
                                  memcmp(&result.mean[g], &clean.mean[g], sizeof(float)) == 0 &&
                                  memcmp(&result.rstd[g], &clean.rstd[g], sizeof(float)) == 0,
                              "%s: group %td has no NaN/Inf but its outputs changed when other "
                              "groups got some", desc, g);
                }
            }
            tu_result_free(&clean);
            tu_result_free(&result);
            tu_case_free(&c);
        }
    }
}

/* Group g constant (value from a list) for even g; random otherwise. */
static const float constants[] = { 0.0f, 1.0f, -2.5f, 1e4f, -3e7f, 1e30f, 1e-40f, -0.0f };
#define CONSTANTS ((ptrdiff_t)(sizeof constants / sizeof constants[0]))

static void check_constant_groups(tu_case *c, float epsilon)
{
    ptrdiff_t groups = c->x.t.dims[0], f = c->x.t.dims[1];
    float *params = malloc((size_t)(2 * f) * sizeof(float));
    cr_assert(params, "out of memory");
    tu_params(f, params, params + f);
    c->epsilon = epsilon;
    tu_check(c); /* every group, constant or not, against the oracle */
    tu_result plain, affine;
    tu_run(c, 0, &plain);
    tu_run(c, TU_SCALE | TU_BIAS, &affine);
    char desc[1024];
    tu_describe(c, desc, sizeof desc);
    for (ptrdiff_t g = 0; g < groups; g += 2) {
        float value = *element(c, g, 0);
        for (ptrdiff_t k = 0; k < f; k++) {
            cr_assert(plain.y[g * f + k] == 0.0f,
                      "%s: constant group %td (value %g) normalizes to %g at %td, not 0", desc, g,
                      (double)value, (double)plain.y[g * f + k], k);
            cr_assert(affine.y[g * f + k] == params[f + k],
                      "%s: constant group %td (value %g) gives %g at %td, not the bias %g", desc,
                      g, (double)value, (double)affine.y[g * f + k], k, (double)params[f + k]);
        }
        /* rstd is 1/sqrt(epsilon), or 0 where that does not exist (epsilon 0). */
        int rstd_ok = epsilon > 0.0f ? plain.rstd[g] > 0.0f && isfinite(plain.rstd[g])
                                     : plain.rstd[g] == 0.0f;
        cr_assert(plain.mean[g] == value && rstd_ok,
                  "%s: constant group %td (value %g): mean %g, rstd %g", desc, g, (double)value,
                  (double)plain.mean[g], (double)plain.rstd[g]);
    }
    tu_result_free(&plain);
    tu_result_free(&affine);
    free(params);
}

Test(numerics, constant_groups_give_the_bias)
{
    tu_begin();
    tu_rng rng = tu_rng_for("numerics.constant");
    for (int s = 0; s < PATH_SHAPES; s++) {
        tu_case c = path_case(&rng, "numerics.constant", s, &path_shapes[s]);
        tu_fill_random(&rng, &c.x);
        ptrdiff_t groups = c.x.t.dims[0], f = c.x.t.dims[1];
        for (ptrdiff_t g = 0; g < groups; g += 2)
            for (ptrdiff_t k = 0; k < f; k++)
                *element(&c, g, k) = constants[(g / 2) % CONSTANTS];
        check_constant_groups(&c, 1e-6f);
        check_constant_groups(&c, 0.0f);
        tu_case_free(&c);
    }
}

Test(numerics, broadcast_along_the_axis_is_constant)
{
    tu_begin();
    tu_rng rng = tu_rng_for("numerics.broadcast_axis");
    /* A stride of 0 along the reduced axis: every group is one repeated value. */
    ptrdiff_t dims[2] = { 10, 301 }, xs[2] = { 1, 0 };
    tu_case c = tu_case_new("numerics.broadcast_axis", 0, 2, dims, 1, xs, NULL);
    for (ptrdiff_t g = 0; g < dims[0]; g++)
        *element(&c, g, 0) = g % 2 ? (float)tu_normal(&rng) : constants[g / 2];
    check_constant_groups(&c, 1e-6f);
    check_constant_groups(&c, 0.0f);
    tu_case_free(&c);
}

Test(numerics, length_zero_groups_have_mean_0_rstd_0)
{
    tu_begin();
    tu_rng rng = tu_rng_for("numerics.empty");
    const ptrdiff_t shape_a[2] = { 5, 0 }, shape_b[3] = { 3, 0, 4 };
    const struct { int rank; const ptrdiff_t *dims; int axis; tu_layout layout; } cases[] = {
        { 2, shape_a, -1, TU_DENSE }, { 2, shape_a, 1, TU_STRIDED },
        { 3, shape_b, 1, TU_DENSE },  { 3, shape_b, 1, TU_TRANSPOSED },
    };
    for (int i = 0; i < 4; i++) {
        tu_case c = tu_case_layout(&rng, "numerics.empty", i, cases[i].rank, cases[i].dims,
                                   cases[i].axis, cases[i].layout, cases[i].layout);
        tu_result r;
        tu_run(&c, TU_SCALE | TU_BIAS, &r); /* also checks nothing else was written */
        cr_assert(r.groups > 0, "the case must have groups");
        char desc[1024];
        tu_describe(&c, desc, sizeof desc);
        for (ptrdiff_t g = 0; g < r.groups; g++)
            cr_assert(r.mean[g] == 0.0f && r.rstd[g] == 0.0f,
                      "%s: length-0 group %td: mean %g, rstd %g (want 0, 0)", desc, g,
                      (double)r.mean[g], (double)r.rstd[g]);
        tu_result_free(&r);
        tu_case_free(&c);
    }
}

Test(numerics, zero_groups_write_nothing)
{
    tu_begin();
    tu_rng rng = tu_rng_for("numerics.no_groups");
    const ptrdiff_t shape_a[2] = { 0, 5 }, shape_b[3] = { 3, 0, 4 }, shape_c[3] = { 0, 0, 7 };
    const struct { int rank; const ptrdiff_t *dims; int axis; } cases[] = {
        { 2, shape_a, -1 }, { 3, shape_b, 2 }, { 3, shape_b, 0 }, { 3, shape_c, 2 },
    };
    for (int i = 0; i < 4; i++) {
        tu_case c = tu_case_layout(&rng, "numerics.no_groups", i, cases[i].rank, cases[i].dims,
                                   cases[i].axis, TU_DENSE, TU_DENSE);
        tu_result r;
        tu_run(&c, TU_SCALE | TU_BIAS, &r); /* the guards around mean/rstd stay intact */
        cr_assert(r.groups == 0 && r.count == 0, "the case must be empty");
        tu_result_free(&r);
        tu_case_free(&c);
    }
}

Test(numerics, empty_tensors_accept_null_data)
{
    tu_begin();
    ptrdiff_t dims[2] = { 4, 0 };
    sn_tensor x = sn_tensor_dense(NULL, SN_FLOAT32, 2, dims);
    float stats[2][4];
    memset(stats, 0xff, sizeof stats);
    sn_layer_norm_options o = SN_LAYER_NORM_DEFAULTS;
    o.mean = stats[0];
    o.rstd = stats[1];
    sn_status status = sn_layer_norm(&x, &x, &o);
    cr_assert(status == SN_OK, "isa=%s dims=[4,0] data=NULL: returned %s", tu_isa_name(),
              sn_status_string(status));
    for (int g = 0; g < 4; g++)
        cr_assert(stats[0][g] == 0.0f && stats[1][g] == 0.0f,
                  "isa=%s dims=[4,0] data=NULL: group %d mean %g rstd %g (want 0, 0)",
                  tu_isa_name(), g, (double)stats[0][g], (double)stats[1][g]);
    cr_assert(sn_layer_norm_f32(NULL, NULL, 0, 8, NULL, NULL, 1e-6f) == SN_OK &&
                  sn_layer_norm_f32(NULL, NULL, 3, 0, NULL, NULL, 1e-6f) == SN_OK,
              "isa=%s: sn_layer_norm_f32 on 0 rows or 0 features with NULL data must succeed",
              tu_isa_name());
}

/* The group_constants kernel of the ISA under test against the scalar
 * definition (sn_group_constants_of), bit for bit, and against long double:
 * every count from 0 to 40 (vector bodies and tails), ordinary and
 * ill-conditioned moments (a mean far from the shift, a tiny spread), empty
 * groups, constant groups with epsilon 0, NaN and Inf moments. */
Test(numerics, group_constants_kernel_matches_its_definition)
{
    tu_begin();
    tu_rng rng = tu_rng_for("numerics.group_constants");
    const sn_kernels *k = sn_active_kernels();
    enum { MAX = 40 };
    sn_moments m[MAX];
    float shift[MAX], center[MAX], residual[MAX], rstd[MAX];
    for (int count = 0; count <= MAX; count++) {
        for (int trial = 0; trial < 4; trial++) {
            double epsilon = trial == 0 ? 0.0 : 1e-6;
            for (int i = 0; i < count; i++) {
                double n = (double)tu_range(&rng, 1, 100000);
                double spread = ldexp(1.0, (int)tu_range(&rng, -40, 20));
                shift[i] = (float)(tu_normal(&rng) * ldexp(1.0, (int)tu_range(&rng, -10, 30)));
                m[i] = (sn_moments){ n, tu_normal(&rng) * spread, spread * spread * n };
                switch (tu_range(&rng, 0, 9)) {
                case 0: m[i] = sn_moments_empty(); break;
                case 1: m[i].m2 = 0.0; break;                    /* a constant group */
                case 2: m[i].m2 = NAN; break;
                case 3: m[i].mean = INFINITY; m[i].m2 = NAN; break;
                default: break;
                }
            }
            k->group_constants((size_t)count, m, shift, epsilon, center, residual, rstd);
            for (int i = 0; i < count; i++) {
                float want_center, want_residual, want_rstd;
                sn_group_constants_of(&m[i], shift[i], epsilon, &want_center, &want_residual,
                                      &want_rstd);
                int same = memcmp(&center[i], &want_center, sizeof(float)) == 0 &&
                           memcmp(&residual[i], &want_residual, sizeof(float)) == 0 &&
                           memcmp(&rstd[i], &want_rstd, sizeof(float)) == 0;
                cr_assert(same,
                          "isa=%s count=%d group %d (n=%g mean=%g m2=%g shift=%g eps=%g): "
                          "got (%a, %a, %a), the definition gives (%a, %a, %a)",
                          tu_isa_name(), count, i, m[i].count, m[i].mean, m[i].m2,
                          (double)shift[i], epsilon, (double)center[i], (double)residual[i],
                          (double)rstd[i], (double)want_center, (double)want_residual,
                          (double)want_rstd);
                long double var = m[i].count > 0 ? (long double)m[i].m2 / m[i].count + epsilon : 0;
                long double mean = m[i].count > 0 ? (long double)shift[i] + m[i].mean : 0;
                long double want = var > 0 ? 1.0L / sqrtl(var) : 0.0L;
                if (!isfinite((double)var) || !isfinite((double)mean))
                    continue;
                cr_assert(fabsl((long double)center[i] + residual[i] - mean) <=
                                  fabsl(mean) * 0x1p-45L &&
                              fabsl(rstd[i] - want) <= want * 0x1p-23L,
                          "isa=%s count=%d group %d: center %a + residual %a, rstd %a; "
                          "long double mean %La, rstd %La",
                          tu_isa_name(), count, i, (double)center[i], (double)residual[i],
                          (double)rstd[i], mean, want);
            }
        }
    }
}

/* The lanes_moments kernel of the ISA under test against the scalar
 * definition (sn_lanes_moments_of), bit for bit, fallback flags included:
 * every count from 0 to 40 (vector bodies and tails), sums around a center
 * that serves, one far off (more than a standard deviation: falls back),
 * squares that underflowed (the rescaled pass), sums past 1e300, NaN and
 * Inf, and shifts and centers of any magnitude. */
Test(numerics, lanes_moments_kernel_matches_its_definition)
{
    tu_begin();
    tu_rng rng = tu_rng_for("numerics.lanes_moments");
    const sn_kernels *k = sn_active_kernels();
    enum { MAX = 40 };
    float shift[MAX], center[MAX];
    double sum_dev[MAX], sum_sq[MAX];
    sn_moments out[MAX], want[MAX];
    int fallback[MAX], want_flag;
    for (int count = 0; count <= MAX; count++) {
        for (int trial = 0; trial < 4; trial++) {
            double n = (double)tu_range(&rng, 1, 100000);
            for (int i = 0; i < count; i++) {
                double spread = ldexp(1.0, (int)tu_range(&rng, -60, 60));
                shift[i] = (float)(tu_normal(&rng) * ldexp(1.0, (int)tu_range(&rng, -10, 30)));
                center[i] = (float)(tu_normal(&rng) * ldexp(1.0, (int)tu_range(&rng, -20, 10)));
                double error = tu_normal(&rng) * spread * 0.3; /* the center's error */
                sum_dev[i] = n * error;
                sum_sq[i] = n * (spread * spread + error * error);
                switch (tu_range(&rng, 0, 9)) {
                case 0: sum_dev[i] = n * spread * 3.0; break;            /* falls back */
                case 1: sum_sq[i] = ldexp(1.0, -120); sum_dev[i] = 0.0; break; /* underflow */
                case 2: sum_sq[i] = 1e301; break;
                case 3: sum_sq[i] = NAN; break;
                case 4: sum_dev[i] = INFINITY; break;
                default: break;
                }
                out[i] = want[i] = (sn_moments){ -1.0, -1.0, -1.0 };
            }
            int any = k->lanes_moments((size_t)count, n, shift, center, sum_dev, sum_sq, out,
                                       fallback);
            int want_any = 0;
            for (int i = 0; i < count; i++) {
                int want_fallback = sn_lanes_moments_of(1, n, &shift[i], &center[i], &sum_dev[i],
                                                        &sum_sq[i], &want[i], &want_flag);
                want_any |= want_fallback;
                cr_assert(fallback[i] == want_fallback &&
                              memcmp(&out[i], &want[i], sizeof out[i]) == 0,
                          "isa=%s count=%d lane %d (n=%g shift=%a center=%a sum_dev=%a "
                          "sum_sq=%a): fallback %d, moments (%a, %a, %a); the definition "
                          "gives %d, (%a, %a, %a)",
                          tu_isa_name(), count, i, n, (double)shift[i], (double)center[i],
                          sum_dev[i], sum_sq[i], fallback[i], out[i].count, out[i].mean,
                          out[i].m2, want_fallback, want[i].count, want[i].mean, want[i].m2);
            }
            cr_assert(any == want_any, "isa=%s count=%d: returned %d, lanes say %d",
                      tu_isa_name(), count, any, want_any);
        }
    }
}
