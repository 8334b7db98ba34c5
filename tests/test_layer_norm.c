/* Layer norm against the float64 oracle: every tail length, random shapes,
 * N-d tensors with the axis anywhere, padded, transposed (COLUMNS path) and
 * fully strided (GATHER path) views, in place, long rows split across
 * threads, and the contiguous entry point. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Rows for a case of `features` columns: 1..max_rows, within an element budget. */
static ptrdiff_t rows_for(tu_rng *rng, ptrdiff_t features, ptrdiff_t max_rows)
{
    ptrdiff_t budget = tu_scaled(150000, 8000), limit = budget / features;
    if (limit > max_rows)
        limit = max_rows;
    return tu_range(rng, 1, limit < 1 ? 1 : limit);
}

static const int affine_modes[] = { TU_SCALE | TU_BIAS, 0, TU_SCALE, TU_BIAS };

Test(layer_norm, every_tail_length_1_to_64)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.tails");
    for (int f = 1; f <= 64; f++) {
        ptrdiff_t dims[2] = { rows_for(&rng, f, tu_scaled(300, 40)), f };
        /* Dense (in place for every third length), then padded rows. */
        tu_case c = tu_case_layout(&rng, "layer_norm.tails", 2 * f, 2, dims, -1, TU_DENSE,
                                   TU_DENSE);
        c.in_place = f % 3 == 0;
        c.affine = affine_modes[f % 4];
        c.want_path = SN_PATH_ROWS;
        tu_fill_random(&rng, &c.x);
        tu_check(&c);
        tu_case_free(&c);

        c = tu_case_layout(&rng, "layer_norm.tails", 2 * f + 1, 2, dims, 1, TU_PADDED,
                           TU_PADDED);
        c.affine = affine_modes[(f + 1) % 4];
        c.want_path = SN_PATH_ROWS;
        tu_fill_random(&rng, &c.x);
        tu_check(&c);
        tu_case_free(&c);
    }
}

Test(layer_norm, random_features_up_to_5000)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.random_features");
    ptrdiff_t cases = tu_scaled(60, 8);
    for (int i = 0; i < cases; i++) {
        ptrdiff_t f = tu_range(&rng, 65, 5000);
        ptrdiff_t dims[2] = { rows_for(&rng, f, 300), f };
        tu_layout layout = i % 2 ? TU_PADDED : TU_DENSE;
        tu_case c = tu_case_layout(&rng, "layer_norm.random_features", i, 2, dims, -1, layout,
                                   layout);
        c.in_place = i % 5 == 0;
        c.affine = affine_modes[i % 4];
        c.want_path = SN_PATH_ROWS;
        tu_fill_random(&rng, &c.x);
        tu_check(&c);
        tu_case_free(&c);
    }
}

Test(layer_norm, row_block_boundaries)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.row_blocks");
    /* Around multiples of the kernels' 4096-element blocks and vector widths. */
    static const ptrdiff_t lengths[] = { 4095, 4096, 4097, 4111, 8191, 8192, 8193, 12289 };
    for (int i = 0; i < (int)(sizeof lengths / sizeof lengths[0]); i++) {
        ptrdiff_t dims[2] = { tu_range(&rng, 1, 3), lengths[i] };
        tu_case c = tu_case_layout(&rng, "layer_norm.row_blocks", i, 2, dims, -1, TU_DENSE,
                                   TU_DENSE);
        c.want_path = SN_PATH_ROWS;
        tu_fill_random(&rng, &c.x);
        tu_check(&c);
        tu_case_free(&c);
    }
}

/* Random dims for an N-d case: mostly small, one axis possibly long, some 1s. */
static void random_dims(tu_rng *rng, int rank, ptrdiff_t *dims)
{
    ptrdiff_t budget = tu_scaled(20000, 2000), count = 1;
    for (int i = 0; i < rank; i++) {
        dims[i] = tu_range(rng, 0, 4) == 0 ? 1 : tu_range(rng, 2, 12);
        count *= dims[i];
    }
    int longer = (int)tu_range(rng, 0, rank - 1);
    ptrdiff_t room = budget / count;
    if (room > 1)
        dims[longer] *= tu_range(rng, 1, room < 40 ? room : 40);
}

Test(layer_norm, nd_views_axis_anywhere)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.nd");
    ptrdiff_t cases = tu_scaled(250, 40);
    int paths[3] = { 0, 0, 0 }, in_place = 0;
    for (int i = 0; i < cases; i++) {
        int rank = (int)tu_range(&rng, 1, 5);
        ptrdiff_t dims[SN_MAX_RANK];
        random_dims(&rng, rank, dims);
        int axis = (int)tu_range(&rng, -rank, rank - 1);
        /* x layout, y layout, in place: cycles through the interesting mixes. */
        static const tu_layout mixes[][2] = {
            { TU_DENSE, TU_DENSE },     { TU_TRANSPOSED, TU_TRANSPOSED },
            { TU_STRIDED, TU_DENSE },   { TU_RANDOM, TU_RANDOM },
            { TU_DENSE, TU_STRIDED },   { TU_RANDOM, TU_RANDOM },
            { TU_PADDED, TU_RANDOM },
        };
        int mix = i % 7;
        tu_case c = tu_case_layout(&rng, "layer_norm.nd", i, rank, dims, axis, mixes[mix][0],
                                   mixes[mix][1]);
        c.in_place = mix == 5;
        c.affine = affine_modes[i % 4];
        tu_fill_random(&rng, &c.x);
        sn_path path = tu_check(&c);
        paths[path]++;
        in_place += c.in_place;
        tu_case_free(&c);
    }
    cr_assert(paths[SN_PATH_ROWS] > 0 && paths[SN_PATH_COLUMNS] > 0 &&
                  paths[SN_PATH_GATHER] > 0 && in_place > 0,
              "seed=%u isa=%s: %td random N-d cases took rows %d, columns %d, gather %d times, "
              "in place %d: every path must be covered",
              tu_seed(), tu_isa_name(), cases, paths[0], paths[1], paths[2], in_place);
}

/* [lanes, length] with the reduced axis outermost in memory (strides [1, lanes]). */
static void check_columns(tu_rng *rng, const char *label, int index, ptrdiff_t lanes,
                          ptrdiff_t length, int in_place)
{
    ptrdiff_t dims[2] = { lanes, length };
    tu_case c = tu_case_layout(rng, label, index, 2, dims, 1, TU_TRANSPOSED, TU_TRANSPOSED);
    c.in_place = in_place;
    c.affine = affine_modes[index % 4];
    c.want_path = lanes > 1 && length > 1 ? SN_PATH_COLUMNS : -1;
    tu_fill_random(rng, &c.x);
    tu_check(&c);
    tu_case_free(&c);
}

Test(layer_norm, columns_every_lane_width)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.columns");
    int index = 0;
    /* Every panel width up to past one 64-wide panel, then across panels. */
    for (ptrdiff_t lanes = 1; lanes <= 70; lanes++)
        check_columns(&rng, "layer_norm.columns", index++, lanes, tu_range(&rng, 2, 150), 0);
    static const ptrdiff_t wide[] = { 127, 128, 129, 200, 257 };
    for (int i = 0; i < 5; i++)
        check_columns(&rng, "layer_norm.columns", index++, wide[i], tu_range(&rng, 2, 150), 0);
    /* Reduced lengths around the 64-row blocks. */
    static const ptrdiff_t lengths[] = { 2, 3, 63, 64, 65, 127, 128, 129, 1000 };
    for (int i = 0; i < 9; i++)
        check_columns(&rng, "layer_norm.columns", index++, tu_range(&rng, 2, 80), lengths[i],
                      i % 2);
}

Test(layer_norm, columns_nd_dense_axis_not_last)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.columns_nd");
    /* Dense [B, T, F] normalized over T or B; [N, C, H, W] over C. */
    const ptrdiff_t btf[3] = { 3, 37, 45 }, nchw[4] = { 2, 5, 6, 7 };
    const struct { int rank; const ptrdiff_t *dims; int axis; } shapes[] = {
        { 3, btf, 1 }, { 3, btf, 0 }, { 3, btf, -2 }, { 4, nchw, 1 }, { 4, nchw, 2 },
        { 4, nchw, 0 },
    };
    for (int i = 0; i < (int)(sizeof shapes / sizeof shapes[0]); i++) {
        tu_case c = tu_case_layout(&rng, "layer_norm.columns_nd", i, shapes[i].rank,
                                   shapes[i].dims, shapes[i].axis, TU_DENSE, TU_DENSE);
        c.in_place = i % 2;
        c.want_path = SN_PATH_COLUMNS;
        tu_fill_random(&rng, &c.x);
        tu_check(&c);
        tu_case_free(&c);
    }
}

Test(layer_norm, gather_fully_strided)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.gather");
    static const tu_layout mixes[][2] = {
        { TU_STRIDED, TU_DENSE }, { TU_DENSE, TU_STRIDED }, { TU_STRIDED, TU_STRIDED },
        { TU_STRIDED, TU_TRANSPOSED }, { TU_TRANSPOSED, TU_DENSE },
    };
    int index = 0;
    for (int m = 0; m < 5; m++)
        for (int rank = 2; rank <= 3; rank++) {
            ptrdiff_t dims[3] = { tu_range(&rng, 2, 30), tu_range(&rng, 2, 200),
                                  tu_range(&rng, 2, 9) };
            tu_case c = tu_case_layout(&rng, "layer_norm.gather", index++, rank, dims, -1,
                                       mixes[m][0], mixes[m][1]);
            c.want_path = SN_PATH_GATHER;
            tu_fill_random(&rng, &c.x);
            tu_check(&c);
            tu_case_free(&c);
        }
}

Test(layer_norm, in_place_on_every_path)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.in_place");
    const struct { tu_layout layout; sn_path path; } kinds[] = {
        { TU_DENSE, SN_PATH_ROWS },
        { TU_PADDED, SN_PATH_ROWS },
        { TU_TRANSPOSED, SN_PATH_COLUMNS },
        { TU_STRIDED, SN_PATH_GATHER },
    };
    for (int i = 0; i < 4; i++) {
        ptrdiff_t dims[3] = { 3, tu_range(&rng, 2, 40), tu_range(&rng, 2, 300) };
        tu_case c = tu_case_layout(&rng, "layer_norm.in_place", i, 3, dims, 2, kinds[i].layout,
                                   kinds[i].layout);
        c.in_place = 1;
        c.want_path = kinds[i].path;
        tu_fill_random(&rng, &c.x);
        tu_check(&c);
        tu_case_free(&c);
    }
}

Test(layer_norm, long_rows_split_across_threads)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.long_rows");
    /* Four threads make one to three long rows take the split reduction. */
    cr_assert(sn_set_num_threads(4) == SN_OK, "sn_set_num_threads(4) failed");
    const ptrdiff_t shapes[][2] = { { 1, 65536 }, { 1, 65536 + 37 }, { 2, 70001 },
                                    { 3, 100003 } };
    int cases = tu_scale() < 1.0 ? 2 : 4;
    for (int i = 0; i < cases; i++) {
        tu_case c = tu_case_layout(&rng, "layer_norm.long_rows", i, 2, shapes[i], -1, TU_DENSE,
                                   i == 2 ? TU_PADDED : TU_DENSE);
        c.in_place = i == 1;
        c.want_path = SN_PATH_ROWS;
        tu_fill_random(&rng, &c.x);
        tu_check(&c);
        tu_case_free(&c);
    }
    /* A long reduced axis on the columns path. */
    ptrdiff_t dims[2] = { 66000, 3 };
    tu_case c = tu_case_layout(&rng, "layer_norm.long_rows", cases, 2, dims, 0, TU_DENSE,
                               TU_DENSE);
    c.want_path = SN_PATH_COLUMNS;
    tu_fill_random(&rng, &c.x);
    tu_check(&c);
    tu_case_free(&c);
    sn_set_num_threads(0);
}

Test(layer_norm, zero_stride_broadcast_input)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.broadcast");
    /* Every row reads the same memory: a stride of 0 on an input is allowed. */
    ptrdiff_t dims[2] = { 9, 777 }, xs[2] = { 0, 1 };
    tu_case c = tu_case_new("layer_norm.broadcast", 0, 2, dims, -1, xs, NULL);
    tu_fill_random(&rng, &c.x);
    tu_check(&c);
    tu_result r;
    tu_run(&c, TU_SCALE | TU_BIAS, &r);
    for (ptrdiff_t row = 1; row < dims[0]; row++)
        cr_assert(memcmp(r.y, r.y + row * dims[1], (size_t)dims[1] * sizeof(float)) == 0,
                  "seed=%u isa=%s dims=[9,777] x_strides=[0,1]: row %td differs from row 0",
                  tu_seed(), tu_isa_name(), row);
    tu_result_free(&r);
    tu_case_free(&c);
}

Test(layer_norm, rank_8_with_unit_dims)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.rank8");
    const ptrdiff_t dims[8] = { 1, 3, 1, 4, 1, 37, 1, 5 };
    for (int axis = -8; axis < 8; axis++) {
        tu_case c = tu_case_layout(&rng, "layer_norm.rank8", axis + 8, 8, dims, axis,
                                   axis % 2 ? TU_RANDOM : TU_DENSE, TU_DENSE);
        tu_fill_random(&rng, &c.x);
        tu_check(&c);
        tu_case_free(&c);
    }
}

Test(layer_norm, negative_axis_equals_positive)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.negative_axis");
    const ptrdiff_t dims[3] = { 4, 19, 33 };
    for (int axis = 0; axis < 3; axis++) {
        tu_case c = tu_case_layout(&rng, "layer_norm.negative_axis", axis, 3, dims, axis,
                                   TU_DENSE, TU_DENSE);
        tu_fill_random(&rng, &c.x);
        tu_result positive, negative;
        tu_run(&c, TU_SCALE | TU_BIAS, &positive);
        c.axis = axis - 3;
        tu_run(&c, TU_SCALE | TU_BIAS, &negative);
        tu_assert_same(&c, &positive, &negative, "axis k vs k - rank");
        tu_result_free(&positive);
        tu_result_free(&negative);
        tu_case_free(&c);
    }
}

Test(layer_norm, null_options_are_the_defaults)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.defaults");
    ptrdiff_t dims[2] = { 5, 300 };
    tu_case c = tu_case_layout(&rng, "layer_norm.defaults", 0, 2, dims, -1, TU_DENSE, TU_DENSE);
    tu_fill_random(&rng, &c.x);
    tu_check(&c); /* axis -1, epsilon 1e-6: the defaults */
    tu_result want;
    tu_run(&c, 0, &want);
    tu_view y = tu_view_new(2, dims, NULL, 0);
    sn_status status = sn_layer_norm(&c.x.t, &y.t, NULL);
    cr_assert(status == SN_OK, "seed=%u isa=%s: sn_layer_norm(options NULL) returned %s",
              tu_seed(), tu_isa_name(), sn_status_string(status));
    cr_assert(memcmp(y.t.data, want.y, (size_t)want.count * sizeof(float)) == 0,
              "seed=%u isa=%s dims=[5,300]: options NULL differ from SN_LAYER_NORM_DEFAULTS",
              tu_seed(), tu_isa_name());
    tu_view_free(&y);
    tu_result_free(&want);
    tu_case_free(&c);
}

Test(layer_norm, contiguous_entry_point)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.f32");
    const ptrdiff_t shapes[][2] = { { 1, 768 }, { 7, 1 }, { 33, 257 }, { 300, 64 }, { 2, 5000 } };
    for (int i = 0; i < 5; i++) {
        ptrdiff_t rows = shapes[i][0], f = shapes[i][1], n = rows * f;
        tu_case c = tu_case_new("layer_norm.f32", i, 2, shapes[i], -1, NULL, NULL);
        tu_fill_random(&rng, &c.x);
        tu_check(&c); /* sn_layer_norm on the same data, against the oracle */
        float *params = malloc((size_t)(2 * f) * sizeof(float));
        float *y = malloc((size_t)n * sizeof(float));
        float *inplace = malloc((size_t)n * sizeof(float));
        cr_assert(params && y && inplace, "out of memory");
        tu_params(f, params, params + f);
        for (int mode = 0; mode < 4; mode++) {
            const float *scale = mode & TU_SCALE ? params : NULL;
            const float *bias = mode & TU_BIAS ? params + f : NULL;
            tu_result want;
            tu_run(&c, mode, &want);
            memcpy(inplace, c.x.t.data, (size_t)n * sizeof(float));
            sn_status s1 = sn_layer_norm_f32(c.x.t.data, y, (size_t)rows, (size_t)f, scale, bias,
                                             1e-6f);
            sn_status s2 = sn_layer_norm_f32(inplace, inplace, (size_t)rows, (size_t)f, scale,
                                             bias, 1e-6f);
            cr_assert(s1 == SN_OK && s2 == SN_OK,
                      "seed=%u isa=%s rows=%td features=%td: sn_layer_norm_f32 returned %s / %s",
                      tu_seed(), tu_isa_name(), rows, f, sn_status_string(s1),
                      sn_status_string(s2));
            cr_assert(memcmp(y, want.y, (size_t)n * sizeof(float)) == 0 &&
                          memcmp(inplace, want.y, (size_t)n * sizeof(float)) == 0,
                      "seed=%u isa=%s rows=%td features=%td scale=%d bias=%d: "
                      "sn_layer_norm_f32 (out of place, in place) differs from sn_layer_norm",
                      tu_seed(), tu_isa_name(), rows, f, scale != NULL, bias != NULL);
            tu_result_free(&want);
        }
        free(params);
        free(y);
        free(inplace);
        tu_case_free(&c);
    }
}

/* Outputs above 16 MiB are written with streaming stores (ROWS path): the
 * same rows computed in small calls (plain stores) must give the same bits,
 * with and without parameters, in place, on 1 and 2 threads, with y offset
 * from the vector alignment. */
Test(layer_norm, parameters_at_any_alignment_give_the_same_bits)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.param_alignment");
    /* Scale and bias off a cache line are read through an aligned copy when
     * the work is large next to them (normalize.c): the bits must not depend
     * on where the caller's arrays sit, on either side of that threshold. */
    const ptrdiff_t shapes[][2] = { { 64, 256 }, { 40, 1000 }, { 3, 256 } };
    for (int i = 0; i < 3; i++) {
        ptrdiff_t rows = shapes[i][0], f = shapes[i][1], n = rows * f;
        /* Room to move each array by up to 15 floats; both start on a line at offset 0. */
        ptrdiff_t stride = (f + 31) / 16 * 16;
        float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
        float *want = malloc((size_t)n * sizeof(float));
        float *params = aligned_alloc(64, (size_t)(2 * stride) * sizeof(float));
        float *source = malloc((size_t)(2 * f) * sizeof(float));
        cr_assert(x && y && want && params && source, "out of memory");
        for (ptrdiff_t k = 0; k < n; k++)
            x[k] = (float)tu_normal(&rng);
        tu_params(f, source, source + f);
        for (int offset = 0; offset < 16; offset++) {
            int bias_offset = offset * 7 % 16;
            float *scale = params + offset, *bias = params + stride + bias_offset;
            memcpy(scale, source, (size_t)f * sizeof(float));
            memcpy(bias, source + f, (size_t)f * sizeof(float));
            sn_status st = sn_layer_norm_f32(x, offset ? y : want, (size_t)rows, (size_t)f, scale,
                                             bias, 1e-6f);
            cr_assert(st == SN_OK, "seed=%u isa=%s rows=%td features=%td offset=%d: %s",
                      tu_seed(), tu_isa_name(), rows, f, offset, sn_status_string(st));
            cr_assert(offset == 0 || memcmp(y, want, (size_t)n * sizeof(float)) == 0,
                      "seed=%u isa=%s rows=%td features=%td: scale %d and bias %d floats off "
                      "a cache line change the result",
                      tu_seed(), tu_isa_name(), rows, f, offset, bias_offset);
        }
        free(x);
        free(y);
        free(want);
        free(params);
        free(source);
    }
}

Test(layer_norm, streaming_stores_for_large_outputs)
{
    tu_begin();
    tu_rng rng = tu_rng_for("layer_norm.stream");
    const size_t rows = 4200, f = 1021, n = rows * f, chunk = 200; /* 17.2 MB of y */
    float *x = malloc(n * sizeof(float)), *params = malloc(2 * f * sizeof(float));
    float *big = malloc((n + 1) * sizeof(float)), *small = malloc((n + 1) * sizeof(float));
    cr_assert(x && params && big && small, "out of memory");
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(1e3 + tu_normal(&rng));
    tu_params((ptrdiff_t)f, params, params + f);
    for (int mode = 0; mode < 4; mode++) {
        const float *scale = mode & 1 ? params : NULL, *bias = mode & 2 ? params + f : NULL;
        int threads = 1 + mode % 2, offset = mode / 2;
        cr_assert(sn_set_num_threads(threads) == SN_OK, "sn_set_num_threads");
        float *y = big + offset;
        sn_status s = sn_layer_norm_f32(x, y, rows, f, scale, bias, 1e-6f);
        for (size_t r = 0; s == SN_OK && r < rows; r += chunk)
            s = sn_layer_norm_f32(x + r * f, small + r * f, rows - r < chunk ? rows - r : chunk, f,
                                  scale, bias, 1e-6f);
        cr_assert(s == SN_OK, "seed=%u isa=%s: %s", tu_seed(), tu_isa_name(),
                  sn_status_string(s));
        cr_assert(memcmp(y, small, n * sizeof(float)) == 0,
                  "seed=%u isa=%s dims=[%zu,%zu] threads=%d scale=%d bias=%d y offset=%d: "
                  "streamed output differs from the same rows in small calls",
                  tu_seed(), tu_isa_name(), rows, f, threads, scale != NULL, bias != NULL, offset);
        memcpy(big, x, n * sizeof(float));
        s = sn_layer_norm_f32(big, big, rows, f, scale, bias, 1e-6f);
        cr_assert(s == SN_OK && memcmp(big, small, n * sizeof(float)) == 0,
                  "seed=%u isa=%s threads=%d scale=%d bias=%d: streamed in-place output differs",
                  tu_seed(), tu_isa_name(), threads, scale != NULL, bias != NULL);
    }
    sn_set_num_threads(0);
    free(x);
    free(params);
    free(big);
    free(small);
}
