/* Bad input: every status code the layer-norm entry points return, each for
 * its own cause, with x, y and the mean/rstd outputs left byte for byte as
 * they were; the status messages. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define BUF 64  /* x and y live at the start of 64-element buffers */
#define STATS_OFFSET 4

/* A valid call (x, y dense [4, 6], axis -1, mean/rstd requested) that each
 * test breaks in one way. */
typedef struct fixture {
    float x_buf[BUF], y_buf[BUF], stats[2][BUF];
    float x_before[BUF], y_before[BUF], stats_before[2][BUF];
    sn_tensor x, y;
    sn_layer_norm_options o;
} fixture;

static void fixture_init(fixture *f)
{
    tu_rng rng = tu_rng_for("errors");
    for (int i = 0; i < BUF; i++)
        f->x_buf[i] = (float)tu_normal(&rng);
    ptrdiff_t dims[2] = { 4, 6 };
    f->x = sn_tensor_dense(f->x_buf, SN_FLOAT32, 2, dims);
    f->y = sn_tensor_dense(f->y_buf, SN_FLOAT32, 2, dims);
    sn_layer_norm_options o = SN_LAYER_NORM_DEFAULTS;
    o.mean = f->stats[0] + STATS_OFFSET;
    o.rstd = f->stats[1] + STATS_OFFSET;
    f->o = o;
    /* The unbroken call must succeed, so each failure below has one cause. */
    sn_status status = sn_layer_norm(&f->x, &f->y, &f->o);
    cr_assert(status == SN_OK, "seed=%u isa=%s: the valid fixture call returned %s", tu_seed(),
              tu_isa_name(), sn_status_string(status));
    tu_fill_canary(f->y_buf, BUF);
    tu_fill_canary(f->stats[0], 2 * BUF);
    memcpy(f->x_before, f->x_buf, sizeof f->x_buf);
    memcpy(f->y_before, f->y_buf, sizeof f->y_buf);
    memcpy(f->stats_before, f->stats, sizeof f->stats);
}

/* The buffers must be exactly as before the failed call. */
static void assert_untouched(const fixture *f, const char *what)
{
    const char *names[3] = { "y", "x", "mean/rstd" };
    const void *now[3] = { f->y_buf, f->x_buf, f->stats };
    const void *before[3] = { f->y_before, f->x_before, f->stats_before };
    size_t sizes[3] = { sizeof f->y_buf, sizeof f->x_buf, sizeof f->stats };
    tu_assert_unwritten(3, names, now, before, sizes, what);
}

static void expect_status(const fixture *f, const sn_tensor *x, const sn_tensor *y,
                          const sn_layer_norm_options *o, sn_status want, const char *what)
{
    sn_status got = sn_layer_norm(x, y, o);
    if (got != want) {
        char xd[512], yd[512];
        tu_format_tensor(xd, sizeof xd, "x", x);
        tu_format_tensor(yd, sizeof yd, "y", y);
        cr_assert(0, "seed=%u isa=%s %s: got %d (%s), want %d (%s); %s; %s; axis=%d eps=%g",
                  tu_seed(), tu_isa_name(), what, (int)got, sn_status_string(got), (int)want,
                  sn_status_string(want), xd, yd, o ? o->axis : -1,
                  o ? (double)o->epsilon : 1e-6);
    }
    assert_untouched(f, what);
}

static void expect_f32_status(const fixture *f, const float *x, float *y, size_t rows,
                              size_t features, float epsilon, sn_status want, const char *what)
{
    sn_status got = sn_layer_norm_f32(x, y, rows, features, NULL, NULL, epsilon);
    cr_assert(got == want,
              "seed=%u isa=%s sn_layer_norm_f32 %s: rows=%zu features=%zu eps=%g: got %s, "
              "want %s", tu_seed(), tu_isa_name(), what, rows, features, (double)epsilon,
              sn_status_string(got), sn_status_string(want));
    assert_untouched(f, what);
}

Test(errors, null_pointers)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    expect_status(&f, NULL, &f.y, &f.o, SN_ERR_NULL_POINTER, "x tensor NULL");
    expect_status(&f, &f.x, NULL, &f.o, SN_ERR_NULL_POINTER, "y tensor NULL");
    sn_tensor x = f.x, y = f.y;
    x.data = NULL;
    expect_status(&f, &x, &f.y, &f.o, SN_ERR_NULL_POINTER, "x data NULL");
    y.data = NULL;
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_NULL_POINTER, "y data NULL");
    expect_f32_status(&f, NULL, f.y_buf, 4, 6, 1e-6f, SN_ERR_NULL_POINTER, "x NULL");
    expect_f32_status(&f, f.x_buf, NULL, 4, 6, 1e-6f, SN_ERR_NULL_POINTER, "y NULL");
}

Test(errors, rank_outside_1_to_8)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    const int ranks[] = { 0, 9, -1, INT_MAX };
    for (int i = 0; i < 4; i++) {
        char what[64];
        sn_tensor x = f.x, y = f.y;
        x.rank = ranks[i];
        snprintf(what, sizeof what, "x rank %d", ranks[i]);
        expect_status(&f, &x, &f.y, &f.o, SN_ERR_RANK, what);
        y.rank = ranks[i];
        snprintf(what, sizeof what, "y rank %d", ranks[i]);
        expect_status(&f, &f.x, &y, &f.o, SN_ERR_RANK, what);
    }
    ptrdiff_t dims[1] = { 3 };
    sn_tensor kept = sn_tensor_dense(f.x_buf, SN_FLOAT32, 9, dims);
    cr_assert(kept.rank == 9, "isa=%s: sn_tensor_dense must keep a bad rank for the call to "
              "report", tu_isa_name());
    expect_status(&f, &kept, &f.y, &f.o, SN_ERR_RANK, "sn_tensor_dense rank 9");
    kept = sn_tensor_dense(f.x_buf, SN_FLOAT32, 0, NULL);
    expect_status(&f, &kept, &f.y, &f.o, SN_ERR_RANK, "sn_tensor_dense rank 0");
}

Test(errors, negative_dims_and_strides)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    sn_tensor x = f.x, y = f.y;
    x.dims[1] = -6;
    expect_status(&f, &x, &f.y, &f.o, SN_ERR_NEGATIVE_DIM, "x dims[1] = -6");
    y.dims[0] = -4;
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_NEGATIVE_DIM, "y dims[0] = -4");
    x = f.x;
    y = f.y;
    x.strides[1] = -1;
    expect_status(&f, &x, &f.y, &f.o, SN_ERR_NEGATIVE_STRIDE, "x strides[1] = -1");
    y.strides[0] = -6;
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_NEGATIVE_STRIDE, "y strides[0] = -6");
}

Test(errors, overflowing_sizes)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    sn_tensor x = f.x, y = f.y;
    /* Element count past PTRDIFF_MAX / sizeof(float). */
    x.dims[0] = y.dims[0] = PTRDIFF_MAX / 2;
    expect_status(&f, &x, &y, &f.o, SN_ERR_SIZE_OVERFLOW, "dims [PTRDIFF_MAX/2, 6]");
    x.dims[0] = y.dims[0] = (ptrdiff_t)1 << 40;
    x.dims[1] = y.dims[1] = (ptrdiff_t)1 << 30;
    expect_status(&f, &x, &y, &f.o, SN_ERR_SIZE_OVERFLOW, "dims [2^40, 2^30]");
    /* Byte extent past the address space with a modest count. */
    x = f.x;
    x.strides[0] = PTRDIFF_MAX / 8;
    expect_status(&f, &x, &f.y, &f.o, SN_ERR_SIZE_OVERFLOW, "x strides[0] = PTRDIFF_MAX/8");
    y = f.y;
    y.strides[1] = PTRDIFF_MAX / 5;
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_SIZE_OVERFLOW, "y strides[1] = PTRDIFF_MAX/5");
    /* sn_tensor_dense on dims whose products overflow: the call reports it. */
    const ptrdiff_t huge[3] = { 2, (ptrdiff_t)1 << 40, (ptrdiff_t)1 << 40 };
    x = sn_tensor_dense(f.x_buf, SN_FLOAT32, 3, huge);
    y = sn_tensor_dense(f.y_buf, SN_FLOAT32, 3, huge);
    expect_status(&f, &x, &y, &f.o, SN_ERR_SIZE_OVERFLOW, "sn_tensor_dense [2,2^40,2^40]");
    expect_f32_status(&f, f.x_buf, f.y_buf, SIZE_MAX, 6, 1e-6f, SN_ERR_SIZE_OVERFLOW,
                      "rows SIZE_MAX");
    expect_f32_status(&f, f.x_buf, f.y_buf, 4, (size_t)PTRDIFF_MAX + 1, 1e-6f,
                      SN_ERR_SIZE_OVERFLOW, "features PTRDIFF_MAX + 1");
    expect_f32_status(&f, f.x_buf, f.y_buf, (size_t)1 << 40, (size_t)1 << 30, 1e-6f,
                      SN_ERR_SIZE_OVERFLOW, "rows 2^40 x features 2^30");
}

Test(errors, dtype_not_float32)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    sn_tensor x = f.x, y = f.y;
    x.dtype = (sn_dtype)1;
    expect_status(&f, &x, &f.y, &f.o, SN_ERR_DTYPE, "x dtype 1");
    y.dtype = (sn_dtype)7;
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_DTYPE, "y dtype 7");
    y.dtype = (sn_dtype)-1;
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_DTYPE, "y dtype -1");
}

Test(errors, mismatched_shapes)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    sn_tensor y = f.y;
    y.dims[1] = 5;
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_SHAPE_MISMATCH, "y dims [4,5]");
    ptrdiff_t swapped[2] = { 6, 4 }, more[3] = { 4, 6, 1 }, fewer[1] = { 24 };
    y = sn_tensor_dense(f.y_buf, SN_FLOAT32, 2, swapped);
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_SHAPE_MISMATCH, "y dims [6,4]");
    y = sn_tensor_dense(f.y_buf, SN_FLOAT32, 3, more);
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_SHAPE_MISMATCH, "y dims [4,6,1]");
    y = sn_tensor_dense(f.y_buf, SN_FLOAT32, 1, fewer);
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_SHAPE_MISMATCH, "y dims [24]");
}

Test(errors, axis_out_of_range)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    const int axes[] = { 2, 3, 100, INT_MAX, -3, -4, -100, INT_MIN };
    for (int i = 0; i < 8; i++) {
        sn_layer_norm_options o = f.o;
        o.axis = axes[i];
        char what[64];
        snprintf(what, sizeof what, "axis %d of rank 2", axes[i]);
        expect_status(&f, &f.x, &f.y, &o, SN_ERR_AXIS, what);
    }
}

Test(errors, bad_epsilon)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    const float bad[] = { -1e-6f, -1.0f, -INFINITY, INFINITY, NAN, -NAN };
    for (int i = 0; i < 6; i++) {
        sn_layer_norm_options o = f.o;
        o.epsilon = bad[i];
        char what[64];
        snprintf(what, sizeof what, "epsilon %g", (double)bad[i]);
        expect_status(&f, &f.x, &f.y, &o, SN_ERR_EPSILON, what);
        expect_f32_status(&f, f.x_buf, f.y_buf, 4, 6, bad[i], SN_ERR_EPSILON, what);
    }
}

Test(errors, output_overlaps)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    /* y over x's memory shifted by one element: partial overlap. */
    sn_tensor y = f.x;
    y.data = f.x_buf + 1;
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_ALIAS, "y = x + 1 element");
    /* Same memory, other order: overlaps without being in place. */
    y = f.x;
    y.strides[0] = 1;
    y.strides[1] = 4;
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_ALIAS, "y over x, transposed strides");
    /* x inside y's span. */
    sn_tensor x = f.x;
    x.data = f.y_buf + 10;
    memcpy(f.y_buf + 10, f.x_buf, 24 * sizeof(float));
    memcpy(f.y_before, f.y_buf, sizeof f.y_buf);
    expect_status(&f, &x, &f.y, &f.o, SN_ERR_ALIAS, "x starts inside y");
    /* y overlapping itself. */
    y = f.y;
    y.strides[0] = 0;
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_ALIAS, "y strides[0] = 0 on a dim of 4");
    y = f.y;
    y.strides[0] = 3;
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_ALIAS, "y rows 3 apart, 6 long");
    y = f.y;
    y.strides[1] = 0;
    expect_status(&f, &f.x, &y, &f.o, SN_ERR_ALIAS, "y strides[1] = 0 on the axis");
    /* The dense entry point checks aliasing itself (it skips sn_norm's checks). */
    memcpy(f.y_buf, f.x_buf, 24 * sizeof(float));
    memcpy(f.y_before, f.y_buf, sizeof f.y_buf);
    expect_f32_status(&f, f.y_buf, f.y_buf + 1, 4, 6, 1e-6f, SN_ERR_ALIAS, "f32: y = x + 1");
    expect_f32_status(&f, f.y_buf + 10, f.y_buf, 4, 6, 1e-6f, SN_ERR_ALIAS,
                      "f32: x starts inside y");
}

/* A failing call leaves no detail of an earlier failure behind, including the
 * dense entry point's own early checks. */
Test(errors, a_failure_clears_an_earlier_detail)
{
    tu_begin();
    fixture f;
    fixture_init(&f);
    unsigned mask;
    cr_assert(sn_axes_parse("no_such_axis", "BTF", NULL, &mask) == SN_ERR_AXES_DESCRIPTION &&
                  sn_last_error_detail()[0] != '\0',
              "sn_axes_parse must fail with a detail");
    expect_f32_status(&f, f.x_buf, f.y_buf, SIZE_MAX, 6, 1e-6f, SN_ERR_SIZE_OVERFLOW,
                      "rows SIZE_MAX");
    cr_assert(sn_last_error_detail()[0] == '\0',
              "isa=%s: sn_layer_norm_f32 kept the detail of an earlier failure: %s",
              tu_isa_name(), sn_last_error_detail());
}

Test(errors, unusual_but_valid_views_are_accepted)
{
    tu_begin();
    tu_rng rng = tu_rng_for("errors.valid_views");
    /* A zero stride on a dim of 1 does not make y overlap itself. */
    ptrdiff_t dims[3] = { 1, 5, 7 }, ys[3] = { 0, 7, 1 };
    tu_case c = tu_case_new("errors.valid_views", 0, 3, dims, -1, NULL, ys);
    tu_fill_random(&rng, &c.x);
    tu_check(&c);
    tu_case_free(&c);
    /* In place where y's strides differ from x's only on a dim of 1. */
    c = tu_case_new("errors.valid_views", 1, 3, dims, -1, NULL, NULL);
    c.in_place = 1;
    tu_fill_random(&rng, &c.x);
    tu_check(&c);
    tu_result want;
    tu_run(&c, 0, &want);
    tu_view xy = tu_view_clone(&c.x);
    sn_tensor y = xy.t;
    y.strides[0] = 1000;
    sn_status status = sn_layer_norm(&xy.t, &y, NULL);
    cr_assert(status == SN_OK && memcmp(xy.t.data, want.y, 35 * sizeof(float)) == 0,
              "seed=%u isa=%s dims=[1,5,7] x_strides=[35,7,1] y_strides=[1000,7,1] same data: "
              "status %s, or the result differs from in place", tu_seed(), tu_isa_name(),
              sn_status_string(status));
    tu_view_free(&xy);
    tu_result_free(&want);
    tu_case_free(&c);
    /* -0.0 is a valid epsilon (>= 0). */
    c = tu_case_new("errors.valid_views", 2, 3, dims, 1, NULL, NULL);
    c.epsilon = -0.0f;
    tu_fill_random(&rng, &c.x);
    tu_check(&c);
    tu_case_free(&c);
}

Test(errors, negative_thread_count)
{
    tu_begin();
    cr_assert(sn_set_num_threads(3) == SN_OK, "isa=%s: sn_set_num_threads(3)", tu_isa_name());
    const int bad[] = { -1, -8, INT_MIN };
    for (int i = 0; i < 3; i++) {
        sn_status status = sn_set_num_threads(bad[i]);
        cr_assert(status == SN_ERR_THREADS, "isa=%s: sn_set_num_threads(%d) returned %s",
                  tu_isa_name(), bad[i], sn_status_string(status));
        cr_assert(sn_get_num_threads() == 3,
                  "isa=%s: a refused sn_set_num_threads(%d) changed the count to %d",
                  tu_isa_name(), bad[i], sn_get_num_threads());
    }
    sn_set_num_threads(0);
}

Test(errors, every_status_has_its_own_message)
{
    tu_begin();
    const char *unknown = sn_status_string(SN_STATUS_COUNT);
    cr_assert(unknown && *unknown, "isa=%s: no message for an unknown status", tu_isa_name());
    cr_assert(sn_status_string((sn_status)-1) && *sn_status_string((sn_status)-1) &&
                  sn_status_string((sn_status)1000) && *sn_status_string((sn_status)1000),
              "isa=%s: no message for an out-of-range status", tu_isa_name());
    for (int i = 0; i < SN_STATUS_COUNT; i++) {
        const char *message = sn_status_string((sn_status)i);
        cr_assert(message && *message, "isa=%s: status %d has no message", tu_isa_name(), i);
        cr_assert(strcmp(message, unknown) != 0, "isa=%s: status %d reads as unknown (\"%s\")",
                  tu_isa_name(), i, message);
        for (int j = 0; j < i; j++)
            cr_assert(strcmp(message, sn_status_string((sn_status)j)) != 0,
                      "isa=%s: statuses %d and %d share the message \"%s\"", tu_isa_name(), j, i,
                      message);
    }
}
