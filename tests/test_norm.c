/* The generic layer (sn_norm) against the float64 oracle: random ranks, shapes,
 * views, reduced axes and parameter axes on every plan path; ill-conditioned
 * data; equivalences with layer norm (bit for bit) and with group and instance
 * norm; bitwise determinism over thread counts; masking with sequence lengths
 * in every mode; bad input with its own status and untouched outputs. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "oracle.h"
#include "testutil.h"

static const int affine_modes[] = { TU_SCALE | TU_BIAS, 0, TU_SCALE, TU_BIAS };

/* x layout, y layout: cycles through the interesting mixes (in place on the
 * second TU_RANDOM pair). */
static const tu_layout view_mixes[][2] = {
    { TU_DENSE, TU_DENSE },     { TU_TRANSPOSED, TU_TRANSPOSED }, { TU_STRIDED, TU_DENSE },
    { TU_RANDOM, TU_RANDOM },   { TU_DENSE, TU_STRIDED },         { TU_RANDOM, TU_RANDOM },
    { TU_PADDED, TU_RANDOM },   { TU_TRANSPOSED, TU_DENSE },
};
#define VIEW_MIXES ((int)(sizeof view_mixes / sizeof view_mixes[0]))
#define IN_PLACE_MIX 5

/* Sequence lengths of `batch` sequences of up to `time` frames: 0, full,
 * 1 and random ones. */
static void fill_lengths(tu_rng *rng, ptrdiff_t batch, ptrdiff_t time, int *lens)
{
    for (ptrdiff_t b = 0; b < batch; b++) {
        switch (b % 5) {
        case 0: lens[b] = (int)tu_range(rng, time > 1 ? 1 : 0, time > 1 ? time - 1 : time); break;
        case 1: lens[b] = 0; break;
        case 2: lens[b] = (int)time; break;
        case 3: lens[b] = time > 0 ? 1 : 0; break;
        default: lens[b] = (int)tu_range(rng, 0, time); break;
        }
    }
}

static void set_threads(int n)
{
    cr_assert(sn_set_num_threads(n) == SN_OK, "sn_set_num_threads(%d) failed", n);
}

/* ------------------------------------------------------------ properties */

/* Mostly small dims (some 1, rarely 0), one axis possibly longer. */
static void random_dims(tu_rng *rng, int rank, ptrdiff_t budget, ptrdiff_t *dims)
{
    ptrdiff_t count = 1;
    for (int i = 0; i < rank; i++) {
        ptrdiff_t r = tu_range(rng, 0, 59);
        dims[i] = r == 0 ? 0 : r < 15 ? 1 : tu_range(rng, 2, 6);
        count *= dims[i] > 0 ? dims[i] : 1;
    }
    int longer = (int)tu_range(rng, 0, rank - 1);
    ptrdiff_t room = budget / count;
    if (room > 1)
        dims[longer] *= tu_range(rng, 1, room < 80 ? room : 80);
}

static unsigned random_subset(tu_rng *rng, unsigned allowed)
{
    return (unsigned)tu_next(rng) & allowed;
}

Test(norm, random_views_axes_and_params)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.random");
    ptrdiff_t cases = tu_scaled(320, 48), budget = tu_scaled(20000, 3000);
    int paths[3] = { 0, 0, 0 }, in_place = 0, masked = 0, scalar = 0, multi = 0;
    for (int i = 0; i < cases; i++) {
        int rank = (int)tu_range(&rng, 1, 6);
        ptrdiff_t dims[SN_MAX_RANK];
        random_dims(&rng, rank, budget, dims);
        unsigned all = (1u << rank) - 1u;
        unsigned axes = (unsigned)tu_range(&rng, 1, (ptrdiff_t)all);
        char layout[SN_MAX_RANK + 1];
        int *lens = NULL, use_mask = rank >= 2 && i % 3 == 1;
        unsigned param_allowed = all;
        if (use_mask) {
            int b = (int)tu_range(&rng, 0, rank - 1), t = (int)tu_range(&rng, 0, rank - 2);
            t += t >= b;
            memset(layout, 'S', (size_t)rank);
            layout[rank] = '\0';
            layout[b] = 'B';
            layout[t] = 'T';
            for (int a = 0; a < rank; a++)
                if (a != b && a != t && tu_range(&rng, 0, 1)) {
                    layout[a] = 'F';
                    break;
                }
            /* A reduced batch axis needs the time axis reduced too. */
            if (axes >> b & 1u)
                axes |= 1u << t;
            param_allowed &= ~(1u << b | 1u << t);
            lens = malloc((size_t)(dims[b] + 1) * sizeof *lens);
            cr_assert(lens, "out of memory");
            fill_lengths(&rng, dims[b], dims[t], lens);
        }
        int mix = i % VIEW_MIXES;
        tu_norm_case c = tu_norm_case_layout(&rng, "norm.random", i, rank, dims, axes,
                                             view_mixes[mix][0], view_mixes[mix][1]);
        c.in_place = mix == IN_PLACE_MIX;
        c.affine = affine_modes[i % 4];
        c.params = tu_range(&rng, 0, 3) == 0 ? 0u : random_subset(&rng, param_allowed);
        c.epsilon = i % 11 == 0 ? 0.0f : i % 11 == 1 ? 1e-3f : 1e-6f;
        tu_fill_random(&rng, &c.x);
        if (use_mask) {
            static const sn_mask_mode modes[] = { SN_MASK_EXCLUDE, SN_MASK_ZERO, SN_MASK_EXCLUDE,
                                                  SN_MASK_ZERO, SN_MASK_IGNORE };
            c.layout = layout;
            c.seq_lens = lens;
            c.mask_mode = modes[tu_range(&rng, 0, 4)];
            tu_norm_fill_padding(&rng, &c, 300.0, 50.0); /* garbage the statistics skip */
        }
        tu_norm_check(&c, paths);
        in_place += c.in_place;
        masked += use_mask;
        scalar += c.affine && !c.params;
        multi += (axes & (axes - 1u)) != 0;
        tu_norm_case_free(&c);
        free(lens);
    }
    cr_assert(paths[SN_PATH_ROWS] > 0 && paths[SN_PATH_COLUMNS] > 0 &&
                  paths[SN_PATH_GATHER] > 0 && in_place > 0 && masked > 0 && scalar > 0 &&
                  multi > 0,
              "seed=%u isa=%s: %td random cases took rows %d, columns %d, gather %d times; in "
              "place %d, masked %d, scalar params %d, multi-axis %d: each must be covered",
              tu_seed(), tu_isa_name(), cases, paths[0], paths[1], paths[2], in_place, masked,
              scalar, multi);
    cr_log_info("norm.random: %td cases, runs on rows %d, columns %d, gather %d", cases,
                paths[0], paths[1], paths[2]);
}

/* A shape with its reduced axes, parameter axes, views and path. */
typedef struct shape_case {
    const char *name;
    int rank;
    ptrdiff_t dims[5];
    unsigned axes, params;
    tu_layout layout;
    sn_path path;
    int threads;          /* 0: default */
    const char *mask_layout;  /* with sequence lengths (EXCLUDE), or NULL */
} shape_case;

static tu_norm_case shape_case_new(tu_rng *rng, const char *label, int index,
                                   const shape_case *s)
{
    tu_norm_case c = tu_norm_case_layout(rng, label, index, s->rank, s->dims, s->axes,
                                         s->layout, s->layout);
    c.params = s->params;
    c.want_path = s->path;
    c.layout = s->mask_layout;
    set_threads(s->threads);
    return c;
}

static const shape_case multi_axis_shapes[] = {
    { "rows-merged", 3, { 5, 30, 70 }, 6, 4, TU_DENSE, SN_PATH_ROWS, 0, NULL },
    { "rows-runs", 3, { 5, 30, 70 }, 6, 4, TU_PADDED, SN_PATH_ROWS, 0, NULL },
    { "rows-outer", 4, { 3, 9, 5, 40 }, 0xb, 2, TU_DENSE, SN_PATH_ROWS, 0, NULL },
    { "columns", 3, { 6, 300, 40 }, 2, 4, TU_DENSE, SN_PATH_COLUMNS, 0, NULL },
    { "columns-2", 4, { 3, 20, 15, 70 }, 6, 8, TU_DENSE, SN_PATH_COLUMNS, 0, NULL },
    { "gather", 4, { 4, 6, 50, 7 }, 5, 8, TU_STRIDED, SN_PATH_GATHER, 0, NULL },
    { "split", 3, { 1, 16, 8192 }, 6, 4, TU_DENSE, SN_PATH_ROWS, 4, NULL },
    { "columns-split", 3, { 1, 3000, 40 }, 2, 4, TU_DENSE, SN_PATH_COLUMNS, 4, NULL },
    { "masked-rows", 3, { 4, 40, 24 }, 6, 4, TU_DENSE, SN_PATH_ROWS, 0, "BTF" },
    { "masked-columns", 3, { 4, 40, 24 }, 2, 4, TU_DENSE, SN_PATH_COLUMNS, 0, "BTF" },
    /* Parameters along the row and across rows: rows one stride apart that
     * must not be normalized together with one row's parameters (in cache,
     * and beyond it, where each row is normalized alone). */
    { "rows-params-per-row", 2, { 8, 64 }, 2, 3, TU_DENSE, SN_PATH_ROWS, 0, NULL },
    { "rows-params-per-row-large", 2, { 600, 512 }, 2, 3, TU_DENSE, SN_PATH_ROWS, 0, NULL },
    /* The same over two outer axes that cannot merge (parameters over the
     * inner one only): rows one stride apart within a batch. */
    { "rows-params-per-row-2", 3, { 3, 5, 64 }, 4, 6, TU_DENSE, SN_PATH_ROWS, 0, NULL },
};
#define MULTI_AXIS_SHAPES ((int)(sizeof multi_axis_shapes / sizeof multi_axis_shapes[0]))

Test(norm, ill_conditioned_multi_axis)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.ill_conditioned");
    /* SPEC section 2: PyTorch 1.13 errs by 7e-2 and 1e-1 on these. */
    const double presets[][2] = { { 1e4, 1e-2 }, { 1e6, 1.0 } };
    int index = 0;
    for (int p = 0; p < 2; p++)
        for (int s = 0; s < MULTI_AXIS_SHAPES; s++) {
            const shape_case *sc = &multi_axis_shapes[s];
            tu_norm_case c = shape_case_new(&rng, "norm.ill_conditioned", index, sc);
            c.affine = affine_modes[index++ % 4];
            int lens[4];
            tu_fill_normal(&rng, &c.x, presets[p][0], presets[p][1]);
            if (sc->mask_layout) {
                fill_lengths(&rng, 4, sc->dims[1], lens);
                c.seq_lens = lens;
                tu_norm_fill_padding(&rng, &c, 0.0, 1e3);
            }
            tu_norm_check(&c, NULL);
            tu_norm_case_free(&c);
        }
    set_threads(0);
}

Test(norm, nan_and_inf_stay_in_their_group)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.nan_inf");
    const float poison[2] = { NAN, INFINITY };
    int index = 0;
    for (int s = 0; s < MULTI_AXIS_SHAPES; s++) {
        const shape_case *sc = &multi_axis_shapes[s];
        if (sc->mask_layout || sc->threads)
            continue;
        tu_norm_case c = shape_case_new(&rng, "norm.nan_inf", index, sc);
        tu_fill_random(&rng, &c.x);
        /* The oracle's NaN for every output of the poisoned groups; the others
         * must stay finite and right. */
        ptrdiff_t count = tu_count(c.x.t.rank, c.x.t.dims);
        *tu_at(&c.x, tu_range(&rng, 0, count - 1)) = poison[index % 2];
        *tu_at(&c.x, tu_range(&rng, 0, count - 1)) = poison[(index + 1) % 2];
        tu_norm_check(&c, NULL);
        tu_norm_case_free(&c);
        index++;
    }
}

Test(norm, constant_groups_and_epsilon_zero)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.constant");
    /* var + eps == 0: rstd 0, outputs the bias; also groups of one element. */
    for (int s = 0; s < MULTI_AXIS_SHAPES; s++) {
        const shape_case *sc = &multi_axis_shapes[s];
        if (sc->mask_layout)
            continue;
        tu_norm_case c = shape_case_new(&rng, "norm.constant", s, sc);
        c.epsilon = 0.0f;
        ptrdiff_t count = tu_count(c.x.t.rank, c.x.t.dims);
        unsigned reduce = c.axes;
        for (ptrdiff_t i = 0; i < count; i++) {
            /* Constant within every group: a value per group index. */
            ptrdiff_t rest = i, g = 0;
            for (int a = c.x.t.rank - 1; a >= 0; a--) {
                ptrdiff_t k = rest % c.x.t.dims[a];
                rest /= c.x.t.dims[a];
                if (!(reduce >> a & 1u))
                    g = g * 7 + k;
            }
            *tu_at(&c.x, i) = (float)(1e3 * sin((double)g + 1.0));
        }
        tu_norm_check(&c, NULL);
        tu_norm_case_free(&c);
    }
    set_threads(0);
    ptrdiff_t dims[3] = { 3, 1, 17 };
    tu_norm_case one = tu_norm_case_new("norm.constant", 100, 3, dims, 2, NULL, NULL);
    tu_fill_random(&rng, &one.x);
    tu_norm_check(&one, NULL); /* every group has one element */
    tu_norm_case_free(&one);
}

Test(norm, params_strided_along_a_contiguous_run)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.param_step");
    /* The reduced axis is contiguous in memory but comes before a parameter
     * axis in tensor order, so its parameters are p[k * F + f]: a parameter
     * step above 1 along the run. Lengths cover the vector tails. */
    const ptrdiff_t lengths[] = { 3, 8, 37, 100 };
    int index = 0;
    for (int l = 0; l < 4; l++) {
        ptrdiff_t dims[2] = { lengths[l], 5 }, strides[2] = { 1, lengths[l] };
        for (int a = 0; a < 4; a++) {
            tu_norm_case c = tu_norm_case_new("norm.param_step", index++, 2, dims, 1, strides,
                                              a % 2 ? NULL : strides);
            c.params = 3;
            c.affine = affine_modes[a] ? affine_modes[a] : TU_SCALE | TU_BIAS;
            c.in_place = a == 3;
            tu_fill_random(&rng, &c.x);
            tu_norm_check(&c, NULL);
            tu_norm_case_free(&c);
        }
    }
}

/* ----------------------------------------------------------- equivalences */

/* sn_layer_norm over `axis` and sn_norm over that axis with params on it
 * (bits, and a description on a layout when given) agree bit for bit. */
static void check_layer_norm_equivalence(tu_rng *rng, int index, int rank, const ptrdiff_t *dims,
                                         int axis, tu_layout layout, int want_path,
                                         const char *text_layout)
{
    tu_case lc = tu_case_layout(rng, "norm.layer_norm", index, rank, dims, axis, layout, layout);
    lc.in_place = index % 3 == 2;
    lc.want_path = want_path;
    tu_fill_random(rng, &lc.x);
    tu_check(&lc);
    tu_norm_case nc = tu_norm_case_new("norm.layer_norm", index, rank, dims, 1u << axis,
                                       lc.x.t.strides, lc.y_strides);
    nc.params = 1u << axis;
    nc.in_place = lc.in_place;
    nc.want_path = want_path;
    memcpy(nc.x.alloc, lc.x.alloc, (size_t)lc.x.size * sizeof(float));
    for (int variant = 0; variant < (text_layout ? 2 : 1); variant++) {
        if (variant) {
            /* "F" on the layout, params defaulting to the feature axis. */
            nc.axes_text = "F";
            nc.layout = text_layout;
            nc.default_params = 1;
            cr_assert(tu_norm_axes(&nc) == 1u << axis && tu_norm_params(&nc, 1) == 1u << axis,
                      "isa=%s: layout %s does not put F on axis %d", tu_isa_name(), text_layout,
                      axis);
        }
        for (int m = 0; m < 4; m++) {
            tu_result a, b;
            tu_run(&lc, affine_modes[m], &a);
            tu_norm_run(&nc, affine_modes[m], &b);
            tu_norm_assert_same(&nc, affine_modes[m], &a, &b, "sn_layer_norm vs sn_norm");
            if (want_path >= 0)
                cr_assert(tu_norm_path(&nc, affine_modes[m]) == (sn_path)want_path,
                          "isa=%s case %d: sn_norm planned another path", tu_isa_name(), index);
            tu_result_free(&a);
            tu_result_free(&b);
        }
    }
    tu_norm_case_free(&nc);
    tu_case_free(&lc);
}

Test(norm, feature_axis_equals_layer_norm_bitwise)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.layer_norm");
    const ptrdiff_t btf[3] = { 4, 13, 300 }, bft[3] = { 3, 70, 45 }, row[2] = { 1, 70001 };
    const ptrdiff_t small[4] = { 2, 3, 5, 33 };
    int index = 0;
    check_layer_norm_equivalence(&rng, index++, 3, btf, 2, TU_DENSE, SN_PATH_ROWS, "BTF");
    check_layer_norm_equivalence(&rng, index++, 3, btf, 2, TU_PADDED, SN_PATH_ROWS, "btf");
    check_layer_norm_equivalence(&rng, index++, 3, bft, 1, TU_DENSE, SN_PATH_COLUMNS, "BFT");
    check_layer_norm_equivalence(&rng, index++, 3, btf, 2, TU_TRANSPOSED, SN_PATH_COLUMNS, NULL);
    check_layer_norm_equivalence(&rng, index++, 3, btf, 2, TU_STRIDED, SN_PATH_GATHER, NULL);
    check_layer_norm_equivalence(&rng, index++, 4, small, 0, TU_RANDOM, -1, "FSST");
    check_layer_norm_equivalence(&rng, index++, 4, small, 3, TU_RANDOM, -1, NULL);
    /* One long row split across threads. */
    set_threads(4);
    check_layer_norm_equivalence(&rng, index++, 2, row, 1, TU_DENSE, SN_PATH_ROWS, "BF");
    set_threads(0);
}

/* The group-norm oracle's reference for a case whose x, read in row-major
 * order, is the tensor `dims` (channel axis, `groups` groups). */
static tu_reference group_norm_reference(const tu_norm_case *c, int rank, const ptrdiff_t *dims,
                                         int channel_axis, ptrdiff_t groups)
{
    ptrdiff_t count = tu_count(rank, dims), channels = dims[channel_axis];
    ptrdiff_t n_groups = dims[0] * groups;
    cr_assert(count == tu_count(c->x.t.rank, c->x.t.dims), "reference of another size");
    float *values = tu_dense_values(&c->x);
    float *params = malloc((size_t)(2 * channels) * sizeof(float));
    tu_reference r = tu_reference_alloc(count, n_groups);
    cr_assert(params, "out of memory");
    tu_params(channels, params, params + channels);
    sn_tensor t = sn_tensor_dense(values, SN_FLOAT32, rank, dims);
    oracle_group_norm(&t, channel_axis, groups, c->affine & TU_SCALE ? params : NULL,
                      c->affine & TU_BIAS ? params + channels : NULL, (double)c->epsilon,
                      r.normalized, r.expected, r.mean, r.rstd);
    free(values);
    free(params);
    return r;
}

/* Check a case against the group-norm oracle and the generic one. */
static void check_as_group_norm(const tu_norm_case *c, int rank, const ptrdiff_t *dims,
                                int channel_axis, ptrdiff_t groups)
{
    tu_reference ref = group_norm_reference(c, rank, dims, channel_axis, groups);
    tu_norm_check_against(c, &ref, NULL);
    tu_reference_free(&ref);
    tu_norm_check(c, NULL);
}

Test(norm, time_feature_is_group_norm_with_one_group)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.group_one");
    const ptrdiff_t dims[3] = { 4, 37, 50 };
    const struct { tu_layout layout; int path; } views[] = {
        { TU_DENSE, SN_PATH_ROWS }, { TU_PADDED, SN_PATH_ROWS }, { TU_RANDOM, -1 },
        { TU_STRIDED, SN_PATH_GATHER },
    };
    for (int v = 0; v < 4; v++) {
        tu_norm_case c = tu_norm_case_layout(&rng, "norm.group_one", v, 3, dims, 6,
                                             views[v].layout, views[v].layout);
        c.axes_text = v % 2 ? "time,feature" : "TF";
        c.layout = "BTF";
        c.default_params = 1;
        c.in_place = v == 1;
        c.affine = affine_modes[v];
        c.want_path = views[v].path;
        tu_fill_random(&rng, &c.x);
        check_as_group_norm(&c, 3, dims, 2, 1);
        tu_norm_case_free(&c);
    }
}

Test(norm, instance_norm_over_time)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.instance_time");
    /* "T" on [B,T,F] with params on F: per (b, f), the columns path. */
    const ptrdiff_t shapes[][3] = { { 4, 37, 50 }, { 2, 130, 64 }, { 3, 9, 200 }, { 1, 700, 3 } };
    for (int i = 0; i < 4; i++) {
        tu_norm_case c = tu_norm_case_new("norm.instance_time", i, 3, shapes[i], 2, NULL, NULL);
        c.axes_text = i % 2 ? "time" : "T";
        c.layout = "BTF";
        c.param_text = "F";
        c.in_place = i == 2;
        c.affine = affine_modes[i];
        c.want_path = SN_PATH_COLUMNS;
        tu_fill_random(&rng, &c.x);
        check_as_group_norm(&c, 3, shapes[i], 2, shapes[i][2]);
        tu_norm_case_free(&c);
    }
}

/* Where the output streams to memory (8 MiB or more per thread), groups
 * (rows of blocks, axes "TF") and column panels (axes "T") are worked
 * through a range at a time, each group's moments gathered while the one
 * before is normalized (normalize_rows.c, normalize_columns.c): every group
 * must come out as in a call of its own, masked (padded frames zeroed) and
 * not, with parameters and without, on 1 and 2 threads, in place too.
 * dims[0] groups of dims[1] x dims[2] (dims[1] <= dims[2]). */
static void check_ranges_equal_one_group_calls(const char *label, const ptrdiff_t dims[3])
{
    tu_rng rng = tu_rng_for(label);
    const ptrdiff_t panel = dims[1] * dims[2];
    const size_t n = (size_t)(dims[0] * panel);
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    float *want = malloc(n * sizeof(float)), *params = malloc(2 * (size_t)dims[2] * sizeof(float));
    cr_assert(x && y && want && params, "out of memory");
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(10.0 + tu_normal(&rng));
    tu_params(dims[2], params, params + dims[2]);
    int lens[16];
    cr_assert(dims[0] <= 16, "at most 16 groups");
    fill_lengths(&rng, dims[0], dims[1], lens);
    /* Masked and not (unmasked runs take their statistics side by side), with
     * a parameter per element of the runs (normalized a few together), per run
     * (runs that cannot merge, side by side) and without (runs merged). */
    static const struct {
        const char *layout, *axes, *params;
        int masked;
    } configs[] = {
        { "BTF", "T", "F", 1 },    { "BTF", "TF", "F", 1 },  { "BTF", "T", "F", 0 },
        { "BTF", "TF", "F", 0 },   { "BTF", "T", NULL, 1 },  { "BTF", "TF", NULL, 1 },
        { "BTF", "T", NULL, 0 },   { "BTF", "TF", NULL, 0 }, { "BSF", "except_batch", "spatial", 0 },
    };
    cr_assert(dims[1] <= dims[2], "per-run parameters come from the per-feature arrays");
    for (size_t a = 0; a < sizeof configs / sizeof *configs; a++) {
        const int masked = configs[a].masked, with_params = configs[a].params != NULL;
        sn_norm_options o = SN_NORM_DEFAULTS;
        o.axes_text = configs[a].axes;
        o.layout = configs[a].layout;
        o.param_text = configs[a].params;
        o.scale = with_params ? params : NULL;
        o.bias = with_params ? params + dims[2] : NULL;
        o.mask_mode = SN_MASK_ZERO;
        const ptrdiff_t one[3] = { 1, dims[1], dims[2] };
        set_threads(1);
        for (ptrdiff_t b = 0; b < dims[0]; b++) {
            sn_tensor xb = sn_tensor_dense(x + b * panel, SN_FLOAT32, 3, one);
            sn_tensor yb = sn_tensor_dense(want + b * panel, SN_FLOAT32, 3, one);
            o.seq_lens = masked ? lens + b : NULL;
            cr_assert(sn_norm(&xb, &yb, &o) == SN_OK, "batch %td: %s", b,
                      sn_last_error_detail());
        }
        o.seq_lens = masked ? lens : NULL;
        for (int mode = 0; mode < 3; mode++) {
            int threads = 1 + mode % 2, in_place = mode == 2;
            set_threads(threads);
            if (in_place)
                memcpy(y, x, n * sizeof(float));
            sn_tensor xt = sn_tensor_dense(in_place ? y : x, SN_FLOAT32, 3, dims);
            sn_tensor yt = sn_tensor_dense(y, SN_FLOAT32, 3, dims);
            cr_assert(sn_norm(&xt, &yt, &o) == SN_OK, "%s", sn_last_error_detail());
            cr_assert(memcmp(y, want, n * sizeof(float)) == 0,
                      "seed=%u isa=%s %s dims=[%td,%td,%td] layout=%s axes=%s params=%s "
                      "masked=%d threads=%d in_place=%d: groups worked through in ranges "
                      "differ from one-group calls",
                      tu_seed(), tu_isa_name(), label, dims[0], dims[1], dims[2],
                      configs[a].layout, configs[a].axes,
                      with_params ? configs[a].params : "none", masked, threads, in_place);
        }
    }
    set_threads(0);
    free(x);
    free(y);
    free(want);
    free(params);
}

Test(norm, streamed_ranges_equal_one_group_calls)
{
    tu_begin();
    const ptrdiff_t dims[3] = { 11, 400, 1000 }; /* 17.6 MB: streamed on 1 and 2 threads */
    check_ranges_equal_one_group_calls("norm.streamed_ranges", dims);
}

/* Rows and runs normalized a few together (in cache, or when the output
 * streams; normalize_rows.c) load and store whole aligned vectors, and fall
 * back to one at a time for an output off the cache line: both must give
 * the same bits. Norm "TF" (runs of a group sharing the parameters "F") and
 * "F" (groups of one row), in cache, and streamed at 1 thread (plain and one
 * at a time at 2); y on a cache line against y 4 floats past one. */
static void check_alignment_gives_same_bits(const char *label, const ptrdiff_t dims[3],
                                            const char *axes)
{
    tu_rng rng = tu_rng_for(label);
    const size_t n = (size_t)(dims[0] * dims[1] * dims[2]), pad = 16;
    float *x = aligned_alloc(64, n * sizeof(float));
    float *aligned = aligned_alloc(64, (n + pad) * sizeof(float));
    float *shifted = aligned_alloc(64, (n + pad) * sizeof(float));
    float *params = malloc(2 * (size_t)dims[2] * sizeof(float));
    cr_assert(x && aligned && shifted && params, "out of memory");
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(100.0 + tu_normal(&rng));
    tu_params(dims[2], params, params + dims[2]);
    for (int mode = 0; mode < 6; mode++) {
        int threads = 1 + mode % 2, affine = mode / 2;
        sn_norm_options o = SN_NORM_DEFAULTS;
        o.axes_text = axes;
        o.layout = "BTF";
        o.scale = affine != 1 ? params : NULL;
        o.bias = affine != 2 ? params + dims[2] : NULL;
        set_threads(threads);
        sn_tensor xt = sn_tensor_dense(x, SN_FLOAT32, 3, dims);
        sn_tensor ya = sn_tensor_dense(aligned, SN_FLOAT32, 3, dims);
        sn_tensor ys = sn_tensor_dense(shifted + 4, SN_FLOAT32, 3, dims);
        cr_assert(sn_norm(&xt, &ya, &o) == SN_OK, "%s", sn_last_error_detail());
        cr_assert(sn_norm(&xt, &ys, &o) == SN_OK, "%s", sn_last_error_detail());
        cr_assert(memcmp(aligned, shifted + 4, n * sizeof(float)) == 0,
                  "seed=%u isa=%s %s dims=[%td,%td,%td] axes=%s threads=%d scale=%d bias=%d: "
                  "y on a cache line and y off it differ",
                  tu_seed(), tu_isa_name(), label, dims[0], dims[1], dims[2], axes, threads,
                  o.scale != NULL, o.bias != NULL);
    }
    set_threads(0);
    free(x);
    free(aligned);
    free(shifted);
    free(params);
}

Test(norm, aligned_outputs_give_the_same_bits)
{
    tu_begin();
    const ptrdiff_t cached[3] = { 3, 37, 256 }, streamed[3] = { 9, 401, 1024 }; /* 14.8 MB */
    const ptrdiff_t short_rows[3] = { 4, 2100, 256 }; /* 8.6 MB: rows streamed four at a time */
    check_alignment_gives_same_bits("norm.aligned_cached", cached, "TF");
    check_alignment_gives_same_bits("norm.aligned_streamed", streamed, "TF");
    check_alignment_gives_same_bits("norm.aligned_rows", cached, "F");
    check_alignment_gives_same_bits("norm.aligned_rows_streamed", short_rows, "F");
}

Test(norm, cached_ranges_equal_one_group_calls)
{
    tu_begin();
    const ptrdiff_t dims[3] = { 9, 150, 333 }; /* 1.8 MB: plain stores */
    check_ranges_equal_one_group_calls("norm.cached_ranges", dims);
}

Test(norm, channels_first_except_batch_and_spatial)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.channels_first");
    const ptrdiff_t shapes[][4] = { { 2, 8, 13, 11 }, { 3, 16, 8, 8 }, { 1, 5, 30, 31 } };
    int index = 0;
    for (int i = 0; i < 3; i++)
        for (int v = 0; v < 2; v++) {
            tu_norm_case c = tu_norm_case_layout(&rng, "norm.channels_first", index, 4,
                                                 shapes[i], 14, v ? TU_PADDED : TU_DENSE,
                                                 TU_DENSE);
            c.layout = "BFSS";
            c.affine = affine_modes[index++ % 4];
            c.want_path = SN_PATH_ROWS;
            c.in_place = v && i == 1;
            tu_fill_random(&rng, &c.x);
            /* Group norm with one group: all but the batch, params per channel. */
            c.axes_text = "except_batch";
            c.param_text = "F";
            check_as_group_norm(&c, 4, shapes[i], 1, 1);
            /* Instance norm: over H, W per (n, c); params by default on F. */
            c.axes_text = "spatial";
            c.param_text = NULL;
            c.default_params = 1;
            check_as_group_norm(&c, 4, shapes[i], 1, shapes[i][1]);
            tu_norm_case_free(&c);
        }
}

Test(norm, group_norm_as_a_reshape)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.group_norm");
    /* [N,C,H,W] as [N,G,C/G,H,W] reducing axes 2,3,4, params over axes 1,2
     * (= C); and channels-last [N,H,W,C] as [N,H,W,G,C/G] reducing 1,2,4. */
    const ptrdiff_t nchw[4] = { 3, 12, 7, 9 };
    const ptrdiff_t groups[] = { 1, 2, 3, 4, 12 };
    int index = 0;
    for (int g = 0; g < 5; g++)
        for (int last = 0; last < 2; last++) {
            ptrdiff_t G = groups[g], C = nchw[1], dims4[4], dims5[5];
            unsigned axes, params;
            if (!last) {
                memcpy(dims4, nchw, sizeof dims4);
                ptrdiff_t d5[5] = { nchw[0], G, C / G, nchw[2], nchw[3] };
                memcpy(dims5, d5, sizeof dims5);
                axes = 0x1c;
                params = 0x6;
            } else {
                ptrdiff_t d4[4] = { nchw[0], nchw[2], nchw[3], C };
                ptrdiff_t d5[5] = { nchw[0], nchw[2], nchw[3], G, C / G };
                memcpy(dims4, d4, sizeof dims4);
                memcpy(dims5, d5, sizeof dims5);
                axes = 0x16;
                params = 0x18;
            }
            tu_norm_case c = tu_norm_case_layout(&rng, "norm.group_norm", index, 5, dims5, axes,
                                                 g % 2 ? TU_PADDED : TU_DENSE, TU_DENSE);
            c.params = params;
            c.affine = affine_modes[index++ % 4];
            tu_fill_random(&rng, &c.x);
            check_as_group_norm(&c, 4, dims4, last ? 3 : 1, G);
            tu_norm_case_free(&c);
        }
}

/* ------------------------------------------------------------ determinism */

static const int thread_counts[] = { 1, 2, 3, 8 };
#define THREAD_COUNTS ((int)(sizeof thread_counts / sizeof thread_counts[0]))

static void check_deterministic(tu_norm_case *c)
{
    const int affine = TU_SCALE | TU_BIAS;
    tu_result first[THREAD_COUNTS];
    char desc[1536];
    for (int t = 0; t < THREAD_COUNTS; t++) {
        set_threads(thread_counts[t]);
        sn_plan plan;
        tu_norm_plan(c, affine, &plan);
        /* The shape must be big enough to really use that many threads. */
        int used = sn_threads_for((double)plan.groups *
                                  (double)(plan.reduce_count > 0 ? plan.reduce_count : 1));
        tu_norm_describe(c, affine, desc, sizeof desc);
        cr_assert(used == thread_counts[t], "%s: the driver would use %d threads, not %d", desc,
                  used, thread_counts[t]);
        tu_norm_run(c, affine, &first[t]);
        if (t > 0)
            tu_norm_assert_same(c, affine, &first[0], &first[t], "1 thread vs this thread count");
    }
    for (int t = THREAD_COUNTS - 1; t >= 0; t--) {
        set_threads(thread_counts[t]);
        tu_result again;
        tu_norm_run(c, affine, &again);
        tu_norm_assert_same(c, affine, &first[t], &again, "repeated run");
        tu_result_free(&again);
    }
    tu_norm_check(c, NULL); /* and the shared result is right */
    for (int t = 0; t < THREAD_COUNTS; t++)
        tu_result_free(&first[t]);
    set_threads(0);
}

Test(norm, deterministic_many_groups)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.det_many");
    const ptrdiff_t dims[3] = { 256, 16, 40 };
    tu_norm_case c = tu_norm_case_new("norm.det_many", 0, 3, dims, 6, NULL, NULL);
    c.want_path = SN_PATH_ROWS;
    tu_fill_random(&rng, &c.x);
    check_deterministic(&c);
    c.in_place = 1;
    check_deterministic(&c);
    tu_norm_case_free(&c);
}

Test(norm, deterministic_one_group_split)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.det_split");
    /* "except_batch" with batch 1: one group, its reduction split. */
    const ptrdiff_t dims[3] = { 1, 64, 4096 };
    tu_norm_case c = tu_norm_case_new("norm.det_split", 0, 3, dims, 0, NULL, NULL);
    c.axes_text = "except_batch";
    c.layout = "BTF";
    c.default_params = 1;
    c.want_path = SN_PATH_ROWS;
    tu_fill_random(&rng, &c.x);
    sn_plan plan;
    tu_norm_plan(&c, TU_SCALE | TU_BIAS, &plan);
    cr_assert(plan.groups == 1 && plan.reduce_count > SN_ROW_BLOCK,
              "isa=%s: [1,64,4096] except_batch planned %td groups of %td", tu_isa_name(),
              plan.groups, plan.reduce_count);
    check_deterministic(&c);
    tu_norm_case_free(&c);
}

Test(norm, deterministic_columns_and_gather)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.det_paths");
    const ptrdiff_t btf[3] = { 8, 200, 100 }, cube[3] = { 40, 64, 64 };
    tu_norm_case c = tu_norm_case_new("norm.det_paths", 0, 3, btf, 2, NULL, NULL);
    c.want_path = SN_PATH_COLUMNS;
    tu_fill_random(&rng, &c.x);
    check_deterministic(&c);
    tu_norm_case_free(&c);
    /* One panel of 64 lanes: its reduction split. */
    const ptrdiff_t panel[3] = { 1, 2048, 64 };
    c = tu_norm_case_new("norm.det_paths", 1, 3, panel, 2, NULL, NULL);
    c.want_path = SN_PATH_COLUMNS;
    tu_fill_random(&rng, &c.x);
    check_deterministic(&c);
    tu_norm_case_free(&c);
    c = tu_norm_case_layout(&rng, "norm.det_paths", 2, 3, cube, 6, TU_STRIDED, TU_STRIDED);
    c.want_path = SN_PATH_GATHER;
    tu_fill_random(&rng, &c.x);
    check_deterministic(&c);
    tu_norm_case_free(&c);
}

Test(norm, deterministic_masked)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.det_masked");
    const struct { ptrdiff_t dims[3]; unsigned axes; sn_mask_mode mode; sn_path path; } cases[] = {
        { { 16, 80, 128 }, 6, SN_MASK_EXCLUDE, SN_PATH_ROWS },
        { { 16, 80, 128 }, 2, SN_MASK_ZERO, SN_PATH_COLUMNS },
        { { 1, 160, 1024 }, 6, SN_MASK_ZERO, SN_PATH_ROWS },  /* one group: split */
        { { 2, 2048, 40 }, 2, SN_MASK_EXCLUDE, SN_PATH_COLUMNS },  /* two panels: split */
    };
    for (int i = 0; i < 4; i++) {
        int lens[16];
        tu_norm_case c = tu_norm_case_new("norm.det_masked", i, 3, cases[i].dims, cases[i].axes,
                                          NULL, NULL);
        c.layout = "BTF";
        c.seq_lens = lens;
        c.mask_mode = cases[i].mode;
        c.want_path = cases[i].path;
        fill_lengths(&rng, cases[i].dims[0], cases[i].dims[1], lens);
        if (cases[i].dims[0] <= 2)
            lens[0] = (int)cases[i].dims[1] * 3 / 4;
        tu_fill_random(&rng, &c.x);
        tu_norm_fill_padding(&rng, &c, NAN, 0.0);
        c.valid_only = c.mask_mode == SN_MASK_EXCLUDE;
        check_deterministic(&c);
        tu_norm_case_free(&c);
    }
}

/* ---------------------------------------------------------------- masking */

typedef struct mask_config {
    const char *layout;
    int rank;
    ptrdiff_t dims[3];
    const char *axes;
    unsigned params;
    sn_path path;
} mask_config;

static ptrdiff_t mask_time(const mask_config *m)
{
    return m->dims[tu_layout_axis(m->layout, 'T')];
}

static ptrdiff_t mask_batch(const mask_config *m)
{
    return m->dims[tu_layout_axis(m->layout, 'B')];
}

static const mask_config mask_configs[] = {
    { "BTF", 3, { 5, 37, 70 }, "T", 4, SN_PATH_COLUMNS },  /* T the reduced rows */
    { "BTF", 3, { 5, 37, 23 }, "TF", 4, SN_PATH_ROWS },    /* T an outer reduced axis */
    { "BTF", 3, { 5, 37, 23 }, "F", 4, SN_PATH_ROWS },     /* padded frames: empty groups */
    { "BFT", 3, { 5, 23, 37 }, "T", 2, SN_PATH_ROWS },     /* T the contiguous run */
    { "BFT", 3, { 5, 23, 70 }, "F", 2, SN_PATH_COLUMNS },  /* T the lane axis */
    { "BT", 2, { 6, 45 }, "BT", 0, SN_PATH_ROWS },         /* batch reduced, T inside */
    { "TBF", 3, { 37, 5, 23 }, "TB", 4, SN_PATH_COLUMNS }, /* both reduced, T outside B */
    { "TB", 2, { 45, 6 }, "BT", 0, SN_PATH_GATHER },       /* the same without lanes */
};
#define MASK_CONFIGS ((int)(sizeof mask_configs / sizeof mask_configs[0]))

static tu_norm_case mask_case(tu_rng *rng, int index, const mask_config *m, tu_layout layout,
                              const int *lens, sn_mask_mode mode)
{
    tu_norm_case c = tu_norm_case_layout(rng, "norm.masking", index, m->rank, m->dims, 0, layout,
                                         layout);
    c.layout = m->layout;
    c.axes_text = m->axes;
    c.params = m->params;
    c.seq_lens = lens;
    c.mask_mode = mode;
    c.affine = affine_modes[index % 4];
    if (layout == TU_DENSE && mode != SN_MASK_IGNORE) /* ignored: the planner merges B, T */
        c.want_path = m->path;
    tu_fill_random(rng, &c.x);
    return c;
}

Test(norm, masking_exclude_and_zero)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.masking");
    int index = 0;
    for (int k = 0; k < MASK_CONFIGS; k++) {
        const mask_config *m = &mask_configs[k];
        int lens[8];
        fill_lengths(&rng, mask_batch(m), mask_time(m), lens);
        for (int mode = SN_MASK_EXCLUDE; mode <= SN_MASK_ZERO; mode++) {
            /* Finite garbage in the padded frames: every output is checked. */
            tu_norm_case c = mask_case(&rng, index++, m, TU_DENSE, lens, (sn_mask_mode)mode);
            tu_norm_fill_padding(&rng, &c, 1e3, 1e2);
            tu_norm_check(&c, NULL);
            /* NaN there: the statistics must not see it. With EXCLUDE the
             * padded outputs are NaN then, so only valid ones are compared. */
            tu_norm_fill_padding(&rng, &c, NAN, 0.0);
            c.valid_only = mode == SN_MASK_EXCLUDE;
            tu_norm_check(&c, NULL);
            tu_norm_case_free(&c);
            /* Other views, in place. */
            static const tu_layout views[] = { TU_RANDOM, TU_TRANSPOSED, TU_STRIDED };
            for (int v = 0; v < 3; v++) {
                c = mask_case(&rng, index++, m, views[v], lens, (sn_mask_mode)mode);
                c.in_place = v == 0;
                tu_norm_fill_padding(&rng, &c, -1e3, 1e2);
                tu_norm_check(&c, NULL);
                tu_norm_case_free(&c);
            }
        }
    }
}

Test(norm, masking_ignore_equals_unmasked)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.masking_ignore");
    for (int k = 0; k < MASK_CONFIGS; k++) {
        const mask_config *m = &mask_configs[k];
        int lens[8];
        fill_lengths(&rng, mask_batch(m), mask_time(m), lens);
        lens[0] = -1; /* ignored lengths are not even validated */
        tu_norm_case c = mask_case(&rng, k, m, TU_DENSE, lens, SN_MASK_IGNORE);
        tu_norm_check(&c, NULL); /* the oracle without masking */
        for (int a = 0; a < 4; a++) {
            tu_result ignored, plain;
            tu_norm_run(&c, affine_modes[a], &ignored);
            c.seq_lens = NULL;
            tu_norm_run(&c, affine_modes[a], &plain);
            c.seq_lens = lens;
            tu_norm_assert_same(&c, affine_modes[a], &ignored, &plain,
                                "SN_MASK_IGNORE vs no seq_lens");
            tu_result_free(&ignored);
            tu_result_free(&plain);
        }
        tu_norm_case_free(&c);
    }
}

Test(norm, masking_all_lengths_zero_or_full)
{
    tu_begin();
    tu_rng rng = tu_rng_for("norm.masking_edges");
    int index = 0;
    for (int k = 0; k < MASK_CONFIGS; k++) {
        const mask_config *m = &mask_configs[k];
        int zero[8] = { 0 }, full[8];
        for (int b = 0; b < 8; b++)
            full[b] = (int)mask_time(m);
        for (int mode = SN_MASK_EXCLUDE; mode <= SN_MASK_ZERO; mode++) {
            /* Every sequence empty: mean 0, rstd 0, outputs the bias (or 0): no NaN. */
            tu_norm_case c = mask_case(&rng, index++, m, TU_DENSE, zero, (sn_mask_mode)mode);
            c.affine = TU_SCALE | TU_BIAS;
            tu_norm_check(&c, NULL);
            tu_result r;
            tu_norm_run(&c, TU_SCALE | TU_BIAS, &r);
            for (ptrdiff_t i = 0; i < r.count; i++)
                cr_assert(!isnan(r.y[i]), "isa=%s %s mode=%d all lengths 0: y[%td] is NaN",
                          tu_isa_name(), m->layout, mode, i);
            for (ptrdiff_t g = 0; g < r.groups; g++)
                cr_assert(r.mean[g] == 0.0f && r.rstd[g] == 0.0f,
                          "isa=%s %s axes %s mode=%d all lengths 0: group %td has mean %g rstd "
                          "%g, want 0 and 0", tu_isa_name(), m->layout, m->axes, mode, g,
                          (double)r.mean[g], (double)r.rstd[g]);
            tu_result_free(&r);
            /* Every sequence full: the same as no masking, bit for bit where
             * the plan is the same loop nest (masking keeps B and T unmerged). */
            tu_result masked, plain;
            sn_plan with, without;
            c.seq_lens = full;
            tu_norm_check(&c, NULL);
            tu_norm_run(&c, TU_SCALE | TU_BIAS, &masked);
            tu_norm_plan(&c, TU_SCALE | TU_BIAS, &with);
            c.seq_lens = NULL;
            tu_norm_run(&c, TU_SCALE | TU_BIAS, &plain);
            tu_norm_plan(&c, TU_SCALE | TU_BIAS, &without);
            c.seq_lens = full;
            if (with.path == without.path && with.reduce_rank == without.reduce_rank &&
                with.run_length == without.run_length)
                tu_norm_assert_same(&c, TU_SCALE | TU_BIAS, &masked, &plain,
                                    "full lengths vs no seq_lens");
            tu_result_free(&masked);
            tu_result_free(&plain);
            tu_norm_case_free(&c);
        }
    }
}

/* -------------------------------------------------------------- bad input */

#define BUF 128
#define STATS_OFFSET 4

/* A valid masked call on dense [3,5,4] "BTF" over "TF" (scale, bias, mean and
 * rstd, seq_lens) that each check breaks in one way. */
typedef struct fixture {
    float x_buf[BUF], y_buf[BUF], stats[2][BUF], params[2][4];
    float x_before[BUF], y_before[BUF], stats_before[2][BUF];
    int lens[8];
    sn_tensor x, y;
    sn_norm_options o;
} fixture;

static void fixture_init(fixture *f)
{
    tu_rng rng = tu_rng_for("norm.errors");
    for (int i = 0; i < BUF; i++)
        f->x_buf[i] = (float)tu_normal(&rng);
    tu_params(4, f->params[0], f->params[1]);
    ptrdiff_t dims[3] = { 3, 5, 4 };
    f->x = sn_tensor_dense(f->x_buf, SN_FLOAT32, 3, dims);
    f->y = sn_tensor_dense(f->y_buf, SN_FLOAT32, 3, dims);
    const int lens[8] = { 5, 2, 0, 5, 5, 5, 5, 5 };
    memcpy(f->lens, lens, sizeof lens);
    sn_norm_options o = SN_NORM_DEFAULTS;
    o.axes = 6;
    o.layout = "BTF";
    o.scale = f->params[0];
    o.bias = f->params[1];
    o.mean = f->stats[0] + STATS_OFFSET;
    o.rstd = f->stats[1] + STATS_OFFSET;
    o.seq_lens = f->lens;
    f->o = o;
    sn_status status = sn_norm(&f->x, &f->y, &f->o);
    cr_assert(status == SN_OK, "seed=%u isa=%s: the valid fixture call returned %s (%s)",
              tu_seed(), tu_isa_name(), sn_status_string(status), sn_last_error_detail());
    tu_fill_canary(f->y_buf, BUF);
    tu_fill_canary(f->stats[0], 2 * BUF);
    memcpy(f->x_before, f->x_buf, sizeof f->x_buf);
    memcpy(f->y_before, f->y_buf, sizeof f->y_buf);
    memcpy(f->stats_before, f->stats, sizeof f->stats);
}

/* The same call through a plan: the status of its creation, or where that
 * succeeds (the arrays are checked only then), of its execution. A failed
 * creation leaves no plan. */
static sn_status planned(const sn_tensor *x, const sn_tensor *y, const sn_norm_options *o,
                         const char *what)
{
    static const sn_norm_options defaults = SN_NORM_DEFAULTS;
    sn_norm_plan *plan = (sn_norm_plan *)&plan; /* not NULL before the call */
    sn_status status = sn_norm_plan_create(x, y, o, &plan);
    if (status != SN_OK) {
        cr_assert(plan == NULL, "seed=%u isa=%s %s: a failed plan creation left *plan set",
                  tu_seed(), tu_isa_name(), what);
        return status;
    }
    if (!o)
        o = &defaults;
    const sn_norm_arrays arrays = { x->data, y->data, o->scale,  o->bias,
                                    o->mean, o->rstd, o->seq_lens };
    status = sn_norm_plan_execute(plan, &arrays);
    sn_norm_plan_destroy(plan);
    return status;
}

static void expect_unwritten(const fixture *f, const char *what)
{
    const char *names[3] = { "y", "x", "mean/rstd" };
    const void *now[3] = { f->y_buf, f->x_buf, f->stats };
    const void *before[3] = { f->y_before, f->x_before, f->stats_before };
    size_t sizes[3] = { sizeof f->y_buf, sizeof f->x_buf, sizeof f->stats };
    tu_assert_unwritten(3, names, now, before, sizes, what);
}

/* A failure of `route` (how the call was made) returned `want` and, with
 * `detail`, named it in sn_last_error_detail(). */
static void expect_failure(sn_status got, sn_status want, const char *route, const char *what,
                           const char *detail)
{
    cr_assert(got == want, "seed=%u isa=%s %s, %s: got %d (%s), want %d (%s); detail \"%s\"",
              tu_seed(), tu_isa_name(), what, route, (int)got, sn_status_string(got), (int)want,
              sn_status_string(want), sn_last_error_detail());
    if (detail)
        cr_assert(strstr(sn_last_error_detail(), detail),
                  "seed=%u isa=%s %s, %s: sn_last_error_detail() \"%s\" does not name \"%s\"",
                  tu_seed(), tu_isa_name(), what, route, sn_last_error_detail(), detail);
}

/* The call returns `want`, writes nothing, and (with `detail`) names it in
 * sn_last_error_detail(); so does the call through a plan. */
static void expect_detail(const fixture *f, const sn_tensor *x, const sn_tensor *y,
                          const sn_norm_options *o, sn_status want, const char *what,
                          const char *detail)
{
    sn_status got = sn_norm(x, y, o);
    char xd[400], yd[400];
    tu_format_tensor(xd, sizeof xd, "x", x);
    tu_format_tensor(yd, sizeof yd, "y", y);
    cr_assert(got == want,
              "seed=%u isa=%s %s: got %d (%s), want %d (%s); %s; %s; axes=0x%x axes_text=%s "
              "params=0x%x param_text=%s layout=%s eps=%g mask_mode=%d; detail \"%s\"",
              tu_seed(), tu_isa_name(), what, (int)got, sn_status_string(got), (int)want,
              sn_status_string(want), xd, yd, o ? o->axes : 0u,
              o && o->axes_text ? o->axes_text : "NULL", o ? o->param_axes : 0u,
              o && o->param_text ? o->param_text : "NULL",
              o && o->layout ? o->layout : "NULL", o ? (double)o->epsilon : 0.0,
              o ? (int)o->mask_mode : 0, sn_last_error_detail());
    expect_failure(got, want, "sn_norm", what, detail);
    expect_unwritten(f, what);
    expect_failure(planned(x, y, o, what), want, "planned", what, detail);
    expect_unwritten(f, what);
}

static void expect(const fixture *f, const sn_norm_options *o, sn_status want, const char *what)
{
    expect_detail(f, &f->x, &f->y, o, want, what, NULL);
}

static void expect_views(const fixture *f, const sn_tensor *x, const sn_tensor *y,
                         sn_status want, const char *what)
{
    expect_detail(f, x, y, &f->o, want, what, NULL);
}

Test(norm, bad_tensors)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    expect_views(&f, NULL, &f.y, SN_ERR_NULL_POINTER, "x NULL");
    expect_views(&f, &f.x, NULL, SN_ERR_NULL_POINTER, "y NULL");
    sn_tensor x = f.x, y = f.y;
    x.data = NULL;
    expect_views(&f, &x, &f.y, SN_ERR_NULL_POINTER, "x data NULL");
    y.data = NULL;
    expect_views(&f, &f.x, &y, SN_ERR_NULL_POINTER, "y data NULL");
    const int ranks[] = { 0, 9, -1 };
    for (int i = 0; i < 3; i++) {
        x = f.x;
        y = f.y;
        x.rank = y.rank = ranks[i];
        expect_views(&f, &x, &f.y, SN_ERR_RANK, "x rank out of range");
        expect_views(&f, &f.x, &y, SN_ERR_RANK, "y rank out of range");
    }
    x = f.x;
    x.dims[1] = -5;
    expect_views(&f, &x, &f.y, SN_ERR_NEGATIVE_DIM, "x dims[1] = -5");
    x = f.x;
    x.strides[2] = -1;
    expect_views(&f, &x, &f.y, SN_ERR_NEGATIVE_STRIDE, "x strides[2] = -1");
    y = f.y;
    y.strides[0] = -20;
    expect_views(&f, &f.x, &y, SN_ERR_NEGATIVE_STRIDE, "y strides[0] = -20");
    x = f.x;
    x.strides[0] = PTRDIFF_MAX / 4;
    expect_views(&f, &x, &f.y, SN_ERR_SIZE_OVERFLOW, "x strides[0] = PTRDIFF_MAX/4");
    x = f.x;
    x.dtype = (sn_dtype)1;
    expect_views(&f, &x, &f.y, SN_ERR_DTYPE, "x dtype 1");
    y = f.y;
    y.dtype = (sn_dtype)3;
    expect_views(&f, &f.x, &y, SN_ERR_DTYPE, "y dtype 3");
    y = f.y;
    y.dims[2] = 3;
    expect_views(&f, &f.x, &y, SN_ERR_SHAPE_MISMATCH, "y dims [3,5,3]");
    ptrdiff_t flat[2] = { 15, 4 };
    y = sn_tensor_dense(f.y_buf, SN_FLOAT32, 2, flat);
    expect_views(&f, &f.x, &y, SN_ERR_SHAPE_MISMATCH, "y dims [15,4]");
    /* Aliasing: partial overlap, same memory in another order, y over itself. */
    y = f.x;
    y.data = f.x_buf + 1;
    expect_views(&f, &f.x, &y, SN_ERR_ALIAS, "y = x + 1 element");
    y = f.x;
    y.strides[1] = 1;
    y.strides[2] = 5;
    expect_views(&f, &f.x, &y, SN_ERR_ALIAS, "y over x with T and F swapped in memory");
    y = f.y;
    y.strides[1] = 0;
    expect_views(&f, &f.x, &y, SN_ERR_ALIAS, "y strides[1] = 0");
    y = f.y;
    y.strides[0] = 10;
    expect_views(&f, &f.x, &y, SN_ERR_ALIAS, "y batches 10 apart, 20 long");
}

Test(norm, bad_axes_and_params)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    expect(&f, NULL, SN_ERR_EMPTY_AXES, "options NULL (no axes)");
    sn_norm_options o = f.o;
    o.axes = 0;
    expect(&f, &o, SN_ERR_EMPTY_AXES, "axes 0, no text");
    o.axes_text = "spatial_except_time";
    expect(&f, &o, SN_ERR_AXES_DESCRIPTION,
           "axes \"spatial_except_time\" on BTF (selects no axis: never a silent empty set)");
    const unsigned beyond[] = { 1u << 3, 0xfu, 1u << 31, 0xffffffffu };
    for (int i = 0; i < 4; i++) {
        o = f.o;
        o.axes = beyond[i];
        expect(&f, &o, SN_ERR_AXIS, "axes bits beyond rank 3");
        o = f.o;
        o.param_axes = beyond[i] == 0xffffffffu ? 0xfffffffeu : beyond[i];
        expect(&f, &o, SN_ERR_AXIS, "param_axes bits beyond rank 3");
    }
    const char *bad_text[] = { "foo", "TX", "spatial:x", "dim:", "T,", "s:5" };
    for (int i = 0; i < 6; i++) {
        o = f.o;
        o.axes_text = bad_text[i];
        expect_detail(&f, &f.x, &f.y, &o, SN_ERR_AXES_DESCRIPTION, "bad axes text",
                      bad_text[i]);
        o = f.o;
        o.param_text = bad_text[i];
        expect_detail(&f, &f.x, &f.y, &o, SN_ERR_AXES_DESCRIPTION, "bad param text",
                      bad_text[i]);
    }
    const char *bad_layout[] = { "BBF", "BXF", "BT", "BTFS", "", "B F" };
    for (int i = 0; i < 6; i++) {
        o = f.o;
        o.layout = bad_layout[i];
        expect_detail(&f, &f.x, &f.y, &o, SN_ERR_LAYOUT, "bad layout", bad_layout[i]);
    }
    /* param_shape: an axis twice, batch or time, or without scale and bias. */
    const char *twice[] = { "F,F", "f, feature", "F,dim:4", "F,static,f" };
    for (int i = 0; i < 4; i++) {
        o = f.o;
        o.param_text = twice[i];
        expect(&f, &o, SN_ERR_PARAM_SHAPE, "param_text names an axis twice");
    }
    o = f.o;
    o.layout = NULL;
    o.seq_lens = NULL;
    o.param_text = "s:-1,s:2";
    expect(&f, &o, SN_ERR_PARAM_SHAPE, "param_text \"s:-1,s:2\" without a layout");
    const char *batch_time[] = { "B", "T", "except_batch", "TF", "*", "spatial" };
    for (int i = 0; i < 6; i++) {
        o = f.o;
        o.param_text = batch_time[i];
        expect(&f, &o, SN_ERR_PARAM_SHAPE, "param_text with the batch or time axis");
    }
    const unsigned batch_time_bits[] = { 1, 2, 3, 6, 7 };
    for (int i = 0; i < 5; i++) {
        o = f.o;
        o.param_axes = batch_time_bits[i];
        expect(&f, &o, SN_ERR_PARAM_SHAPE, "param_axes with the batch or time axis");
    }
    o = f.o;
    o.scale = o.bias = NULL;
    o.param_axes = 4;
    expect(&f, &o, SN_ERR_PARAM_SHAPE, "param_axes without scale and bias");
    o.param_axes = 0;
    expect(&f, &o, SN_ERR_PARAM_SHAPE, "param_axes 0 (scalars) without scale and bias");
    o.param_axes = SN_AXES_DEFAULT;
    o.param_text = "F";
    expect(&f, &o, SN_ERR_PARAM_SHAPE, "param_text without scale and bias");
    /* Without a layout nothing is a batch or time axis. */
    o = f.o;
    o.layout = NULL;
    o.seq_lens = NULL;
    o.param_axes = 3;
    o.mean = o.rstd = NULL;
    float y[60];
    sn_tensor yt = f.y;
    yt.data = y;
    cr_assert(sn_norm(&f.x, &yt, &o) == SN_OK, "isa=%s: params on axes 0,1 without a layout "
              "must be accepted", tu_isa_name());
}

Test(norm, bad_epsilon)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    const float bad[] = { -1e-6f, -1.0f, -INFINITY, INFINITY, NAN, -NAN };
    for (int i = 0; i < 6; i++) {
        sn_norm_options o = f.o;
        o.epsilon = bad[i];
        expect(&f, &o, SN_ERR_EPSILON, "bad epsilon");
    }
}

Test(norm, bad_masking)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    sn_norm_options o = f.o;
    const int bad_lens[][3] = { { 5, -1, 0 }, { 6, 2, 0 }, { 0, 0, INT_MIN }, { INT_MAX, 1, 1 } };
    for (int i = 0; i < 4; i++)
        for (int mode = SN_MASK_EXCLUDE; mode <= SN_MASK_ZERO; mode++) {
            o.seq_lens = bad_lens[i];
            o.mask_mode = (sn_mask_mode)mode;
            expect(&f, &o, SN_ERR_SEQ_LENS, "a length negative or above T = 5");
        }
    /* Masking needs a layout with B and T. */
    o = f.o;
    o.layout = NULL;
    expect(&f, &o, SN_ERR_MASK_LAYOUT, "seq_lens without a layout");
    const char *no_bt[] = { "STF", "BSF", "SSF", "FST" };
    for (int i = 0; i < 4; i++) {
        o = f.o;
        o.layout = no_bt[i];
        o.axes = 2;
        expect(&f, &o, SN_ERR_MASK_LAYOUT, "seq_lens with a layout lacking B or T");
    }
    /* A reduced batch axis needs the time axis reduced inside it. */
    const unsigned batch_reduced[] = { 1, 5 };
    for (int i = 0; i < 2; i++) {
        o = f.o;
        o.axes = batch_reduced[i];
        o.param_axes = batch_reduced[i] == 1 ? 4 : 0;
        expect(&f, &o, SN_ERR_MASK_LAYOUT, "batch reduced without time");
    }
    const int bad_modes[] = { 3, -1, 100 };
    for (int i = 0; i < 3; i++) {
        o = f.o;
        o.mask_mode = (sn_mask_mode)bad_modes[i];
        expect(&f, &o, SN_ERR_MASK_MODE, "mask_mode not an sn_mask_mode");
    }
}

/* ----------------------------------------------------------------- plans */

/* An execution of `plan` on the fixture's arrays, changed as `a` says,
 * returns `want`, writes nothing and names `detail`. */
static void expect_execution(const fixture *f, const sn_norm_plan *plan, const sn_norm_arrays *a,
                             sn_status want, const char *what, const char *detail)
{
    expect_failure(sn_norm_plan_execute(plan, a), want, "executed", what, detail);
    expect_unwritten(f, what);
}

/* Scale, bias and seq_lens come to an execution exactly as planned; the
 * plan's own arguments. (Every other failure of a planned call is checked
 * beside sn_norm's in expect_detail.) */
Test(norm, plan_arrays_as_planned)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    sn_norm_plan *plan = NULL;
    cr_assert(sn_norm_plan_create(&f.x, &f.y, &f.o, &plan) == SN_OK && plan,
              "seed=%u isa=%s: the fixture's plan failed: %s", tu_seed(), tu_isa_name(),
              sn_last_error_detail());
    const sn_norm_arrays given = { f.x.data, f.y.data, f.o.scale, f.o.bias,
                                   f.o.mean, f.o.rstd, f.o.seq_lens };
    sn_norm_arrays a = given;
    a.scale = NULL;
    expect_execution(&f, plan, &a, SN_ERR_PLAN_MISMATCH, "scale planned, not given",
                     "scale planned but not given");
    a = given;
    a.bias = NULL;
    expect_execution(&f, plan, &a, SN_ERR_PLAN_MISMATCH, "bias planned, not given",
                     "bias planned but not given");
    a = given;
    a.seq_lens = NULL;
    expect_execution(&f, plan, &a, SN_ERR_PLAN_MISMATCH, "seq_lens planned, not given",
                     "seq_lens planned but not given");
    expect_execution(&f, plan, NULL, SN_ERR_NULL_POINTER, "arrays NULL", NULL);
    expect_execution(&f, NULL, &given, SN_ERR_NULL_POINTER, "plan NULL", NULL);
    sn_norm_plan_destroy(plan);

    /* Arrays the plan was made without. */
    sn_norm_options o = f.o;
    o.scale = o.bias = NULL;
    o.param_axes = SN_AXES_DEFAULT;
    o.seq_lens = NULL;
    cr_assert(sn_norm_plan_create(&f.x, &f.y, &o, &plan) == SN_OK);
    const char *names[3] = { "scale", "bias", "seq_lens" };
    for (int i = 0; i < 3; i++) {
        a = (sn_norm_arrays){ f.x.data, f.y.data, NULL, NULL, f.o.mean, f.o.rstd, NULL };
        if (i == 0)
            a.scale = f.o.scale;
        else if (i == 1)
            a.bias = f.o.bias;
        else
            a.seq_lens = f.o.seq_lens;
        char what[64], detail[64];
        snprintf(what, sizeof what, "%s given, not planned", names[i]);
        snprintf(detail, sizeof detail, "%s given but not planned", names[i]);
        expect_execution(&f, plan, &a, SN_ERR_PLAN_MISMATCH, what, detail);
    }
    sn_norm_plan_destroy(plan);
    sn_norm_plan_destroy(NULL);
    cr_assert(sn_norm_plan_create(&f.x, &f.y, &f.o, NULL) == SN_ERR_NULL_POINTER);
}

/* One plan executed on other arrays, with and without the optional mean and
 * rstd, gives sn_norm's bits on each. */
Test(norm, a_plan_serves_many_arrays)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    sn_norm_plan *plan;
    cr_assert(sn_norm_plan_create(&f.x, &f.y, &f.o, &plan) == SN_OK);
    tu_rng rng = tu_rng_for("norm.plan_arrays");
    for (int round = 0; round < 4; round++) {
        float x[BUF], y[BUF], want_y[BUF], stats[2][BUF], want_stats[2][BUF];
        for (int i = 0; i < BUF; i++)
            x[i] = (float)(tu_normal(&rng) * (round + 1) + 10.0 * round);
        int lens[3] = { 5 - round, round, 5 };
        sn_tensor xt = f.x, yt = f.y;
        xt.data = x;
        yt.data = want_y;
        sn_norm_options o = f.o;
        o.seq_lens = lens;
        o.mean = want_stats[0];
        o.rstd = want_stats[1];
        cr_assert(sn_norm(&xt, &yt, &o) == SN_OK);
        tu_fill_canary(y, BUF);
        tu_fill_canary(stats[0], 2 * BUF);
        /* [3,5,4] over "TF": 60 elements, 3 groups. */
        int with_stats = round % 2;
        sn_norm_arrays a = { x, y, o.scale, o.bias, NULL, NULL, lens };
        if (with_stats) {
            a.mean = stats[0];
            a.rstd = stats[1];
        }
        cr_assert(sn_norm_plan_execute(plan, &a) == SN_OK, "seed=%u isa=%s round %d: %s",
                  tu_seed(), tu_isa_name(), round, sn_last_error_detail());
        cr_assert(memcmp(y, want_y, 60 * sizeof(float)) == 0 &&
                      tu_find_non_canary(y + 60, BUF - 60) < 0,
                  "seed=%u isa=%s round %d: the plan's y differs from sn_norm's", tu_seed(),
                  tu_isa_name(), round);
        int groups = with_stats ? 3 : 0;
        for (int k = 0; k < 2; k++)
            cr_assert(memcmp(stats[k], want_stats[k], (size_t)groups * sizeof(float)) == 0 &&
                          tu_find_non_canary(stats[k] + groups, BUF - groups) < 0,
                      "seed=%u isa=%s round %d: the plan's %s differs from sn_norm's (given: %d)",
                      tu_seed(), tu_isa_name(), round, k ? "rstd" : "mean", with_stats);
    }
    sn_norm_plan_destroy(plan);
}
