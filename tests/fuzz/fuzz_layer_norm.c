/*
 * Argument validation of sn_layer_norm and sn_layer_norm_f32: random ranks,
 * dims, strides, placements of y (separate, in place, overlapping x), dtypes,
 * NULLs, axis, epsilon, optional scale/bias/mean/rstd. No crash, no sanitizer
 * report; invalid tensors and options are rejected; on error nothing is
 * written; on success nothing outside y's view (and mean/rstd) is.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static int bad_epsilon(float e)
{
    return !(e >= 0.0f) || isinf(e);
}

/* sn_layer_norm_f32: dense [rows, features], sizes as size_t. */
static void f32_case(fz_reader *r)
{
    static const size_t specials[] = { 0, 1, 7, 1031, (size_t)1 << 31, (size_t)1 << 62,
                                       (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1, SIZE_MAX,
                                       (size_t)PTRDIFF_MAX / 4 + 1 };
    size_t rows, features;
    uint8_t a = fz_u8(r), b = fz_u8(r), flags = fz_u8(r);
    rows = a < 200 ? a % 64 : specials[a % (sizeof specials / sizeof specials[0])];
    features = b < 200 ? b : specials[b % (sizeof specials / sizeof specials[0])];
    float epsilon = (flags & 1) ? fz_float(r) : 1e-6f;

    const char *why = NULL;
    if (rows > PTRDIFF_MAX || features > PTRDIFF_MAX) {
        why = "size_t above PTRDIFF_MAX";
    } else {
        ptrdiff_t dims[2] = { (ptrdiff_t)rows, (ptrdiff_t)features };
        sn_tensor t = sn_tensor_dense((void *)r, SN_FLOAT32, 2, dims);
        why = fz_model_tensor(&t);
    }
    unsigned __int128 count = (unsigned __int128)rows * features;
    /* Bound the groups too: [2^31, 0] is empty but has 2^31 groups to visit. */
    unsigned __int128 nominal = (unsigned __int128)(rows ? rows : 1) * (features ? features : 1);
    if (!why && nominal > FZ_MAX_ELEMENTS)
        return; /* valid, too big */
    size_t n = why ? 16 : (size_t)count;
    int model_error = why != NULL || bad_epsilon(epsilon);
    if (count && ((flags & 2) || (flags & 4)))
        model_error = 1; /* NULL x or y with elements */

    fz_region x, y, scale, bias;
    memset(&scale, 0, sizeof scale);
    memset(&bias, 0, sizeof bias);
    fz_region_floats(&x, "x", n, (flags & 8) ? n : 0, fz_u8(r));
    fz_region_floats(&y, "y", n, n, 99);
    if (flags & 16)
        fz_region_floats(&scale, "scale", why ? 1 : features, 0, 3);
    if (flags & 32)
        fz_region_floats(&bias, "bias", why ? 1 : features, 0, 4);
    fz_region *all[] = { &x, &y, &scale, &bias };
    for (size_t i = 0; i < 4; i++)
        if (all[i]->data)
            fz_region_snapshot(all[i]);
    float *xp = (flags & 2) ? NULL : (float *)x.data;
    float *yp = (flags & 4) ? NULL : (flags & 8) ? (float *)x.data : (float *)y.data;
    sn_status s = sn_layer_norm_f32(xp, yp, rows, features, (const float *)scale.data,
                                    (const float *)bias.data, epsilon);
    fz_note("sn_layer_norm_f32", s);
    if (s == SN_OK && model_error)
        fz_fail("sn_layer_norm_f32(rows %zu, features %zu, epsilon %g, flags %#x) accepted "
                "invalid input",
                rows, features, (double)epsilon, flags);
    if (s != SN_OK && !model_error)
        fz_fail("sn_layer_norm_f32(rows %zu, features %zu, epsilon %g, flags %#x) rejected "
                "valid input: %s",
                rows, features, (double)epsilon, flags, sn_status_string(s));
    for (size_t i = 0; i < 4; i++)
        fz_region_check(all[i], s == SN_OK, "sn_layer_norm_f32");
    for (size_t i = 0; i < 4; i++)
        fz_region_free(all[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r = { data, size };
    fz_set_runtime(&r);
    uint8_t mode = fz_u8(&r);
    if (mode % 8 == 7) {
        f32_case(&r);
        return 0;
    }
    fz_tensors t;
    if (!fz_tensors_decode(&r, &t))
        return 0;

    sn_layer_norm_options o = SN_LAYER_NORM_DEFAULTS;
    uint8_t opt = fz_u8(&r);
    if (opt & 1)
        o.axis = fz_int(&r, -SN_MAX_RANK - 1, SN_MAX_RANK);
    if (opt & 2)
        o.epsilon = fz_float(&r);

    /* Sizes of the parameters and statistics, when the shape allows them. */
    int usable = fz_shape_usable(&t.x);
    long axis = o.axis < 0 ? (long)o.axis + t.x.rank : o.axis;
    int axis_ok = usable && axis >= 0 && axis < t.x.rank;
    unsigned all = usable ? (1u << t.x.rank) - 1u : 0u;
    ptrdiff_t features = axis_ok ? fz_product(&t.x, 1u << axis) : -1;
    ptrdiff_t groups = axis_ok ? fz_product(&t.x, all & ~(1u << axis)) : -1;
    uint32_t seed = fz_u32(&r);

    fz_region scale, bias, mean, rstd;
    memset(&scale, 0, sizeof scale);
    memset(&bias, 0, sizeof bias);
    memset(&mean, 0, sizeof mean);
    memset(&rstd, 0, sizeof rstd);
    size_t f = features > 0 ? (size_t)features : 1, g = groups > 0 ? (size_t)groups : 0;
    if (opt & 4)
        o.scale = fz_region_floats(&scale, "scale", f, 0, seed);
    if (opt & 8)
        o.bias = fz_region_floats(&bias, "bias", f, 0, seed + 1);
    if (opt & 16)
        o.mean = fz_region_floats(&mean, "mean", g, g, seed + 2);
    if (opt & 32)
        o.rstd = fz_region_floats(&rstd, "rstd", g, g, seed + 3);
    fz_region *regions[] = { &scale, &bias, &mean, &rstd };
    for (size_t i = 0; i < 4; i++)
        if (regions[i]->data)
            fz_region_snapshot(regions[i]);

    int model_error = bad_epsilon(o.epsilon) || (usable && !axis_ok);
    if (opt & 64) /* NULL options: the defaults */
        model_error = 0;
    sn_status s = sn_layer_norm(t.pass_x ? &t.x : NULL, t.pass_y ? &t.y : NULL,
                                (opt & 64) ? NULL : &o);
    fz_tensors_check(&t, s, model_error, "sn_layer_norm");
    /* And the other way round: valid input is accepted. */
    if (s != SN_OK && !t.invalid && !model_error && !(s == SN_ERR_ALIAS && t.may_alias))
        fz_fail("sn_layer_norm rejected valid input: %s (%s)", sn_status_string(s),
                sn_last_error_detail());
    for (size_t i = 0; i < 4; i++)
        fz_region_check(regions[i], s == SN_OK, "sn_layer_norm");
    if (s == SN_OK && o.rstd && !(opt & 64))
        for (size_t i = 0; i < g; i++) {
            float v = ((const float *)rstd.data)[i];
            if (v < 0.0f)
                fz_fail("sn_layer_norm: rstd[%zu] = %g is negative", i, (double)v);
        }

    for (size_t i = 0; i < 4; i++)
        fz_region_free(regions[i]);
    fz_tensors_free(&t);
    return 0;
}
