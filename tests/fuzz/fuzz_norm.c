/*
 * Argument validation of sn_norm, and of the same call through a plan
 * (sn_norm_plan_create, sn_norm_plan_execute): random tensors (see
 * fuzz_common.c), layout, reduced axes as bits or a description, parameter
 * axes, epsilon, optional scale/bias/mean/rstd sized exactly from the shapes,
 * sequence lengths and mask modes. No crash, no sanitizer report; invalid
 * input is rejected; on error nothing is written; on success nothing outside
 * y, mean and rstd is.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static const char *const layouts[] = {
    "BTF", "BFT", "TBF", "BSSF", "BFSS", "BF", "F", "T", "S", "SS", "SSS", "BT", "btf",
    "BTFS", "FTB", "BTX", "BBF", "", "SSSSSSSS", "SSSSSSSSS", "BTSSSSSF",
};
static const char *const descriptions[] = {
    "F", "T", "B", "TF", "BT", "BTF", "except_batch", "except_time", "static", "spatial",
    "spatial_except_time", "*", "dim:3", "dim:0", "spatial:0", "s:-1", "except_batch:1",
    "s:7", "feature", "time", "batch", "T,F", "F,F", " f ", "", ",", "x", "dim:", "s:abc",
    "except_batch:-9", "dim:99999999999999999999", "B,T", "S:0,F",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The mask the library derives from bits or a description (-1: an error). */
static long long resolve(unsigned bits, const char *text, const char *layout, const sn_tensor *x)
{
    char all_spatial[SN_MAX_RANK + 1];
    if (text) {
        if (!layout) {
            memset(all_spatial, 'S', (size_t)x->rank);
            all_spatial[x->rank] = '\0';
            layout = all_spatial;
        }
        unsigned mask;
        return sn_axes_parse(text, layout, x->dims, &mask) == SN_OK ? (long long)mask : -1;
    }
    if (bits >> x->rank)
        return -1;
    return bits;
}

static int layout_fits(const char *layout, int rank)
{
    if (!layout)
        return 1;
    unsigned mask;
    return (int)strlen(layout) == rank && sn_axes_parse("*", layout, NULL, &mask) == SN_OK;
}

static int find_role(const char *layout, char role)
{
    for (int i = 0; layout && layout[i]; i++)
        if ((layout[i] & ~0x20) == role)
            return i;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r = { data, size };
    fz_set_runtime(&r);
    fz_tensors t;
    if (!fz_tensors_decode(&r, &t))
        return 0;
    sn_tensor *x = &t.x;

    sn_norm_options o = SN_NORM_DEFAULTS;
    char layout_buf[24], axes_buf[80], param_buf[80];
    o.layout = fz_text(&r, layouts, COUNT(layouts), layout_buf, sizeof layout_buf);
    uint8_t choice = fz_u8(&r);
    switch (choice % 4) {
    case 0: o.axes = fz_u8(&r); break;
    case 1: o.axes_text = fz_text(&r, descriptions, COUNT(descriptions), axes_buf, sizeof axes_buf); break;
    case 2:
        o.axes = fz_u8(&r);
        o.axes_text = fz_text(&r, descriptions, COUNT(descriptions), axes_buf, sizeof axes_buf);
        break;
    default: break; /* neither */
    }
    switch (choice / 4 % 4) {
    case 0: break; /* the default: the feature axis */
    case 1: o.param_axes = fz_u8(&r); break;
    case 2: o.param_text = fz_text(&r, descriptions, COUNT(descriptions), param_buf, sizeof param_buf); break;
    default: o.param_axes = 0; break;
    }
    uint8_t opt = fz_u8(&r);
    if (opt & 1)
        o.epsilon = fz_float(&r);
    if (opt & 2)
        o.mask_mode = (sn_mask_mode)fz_int(&r, 0, 2);
    uint32_t seed = fz_u32(&r);

    /* Sizes, as far as the shape and options make them meaningful. */
    int shape_ok = fz_shape_usable(x);
    int usable = shape_ok && layout_fits(o.layout, x->rank);
    unsigned all = usable ? (1u << x->rank) - 1u : 0u;
    long long reduce = usable && (o.axes || o.axes_text) ? resolve(o.axes, o.axes_text, o.layout, x) : -1;
    long long params = -1;
    if (usable && (opt & 12)) {
        if (!o.param_text && o.param_axes == SN_AXES_DEFAULT) {
            int f = find_role(o.layout, 'F');
            params = 1u << (f >= 0 ? f : x->rank - 1);
        } else {
            params = resolve(o.param_axes, o.param_text, o.layout, x);
        }
    }
    ptrdiff_t groups = reduce >= 0 ? fz_product(x, all & ~(unsigned)reduce) : -1;
    ptrdiff_t param_count = params >= 0 ? fz_product(x, (unsigned)params) : -1;
    int batch = usable ? find_role(o.layout, 'B') : -1, time = usable ? find_role(o.layout, 'T') : -1;
    ptrdiff_t lens = batch >= 0 ? x->dims[batch] : 4;
    ptrdiff_t time_dim = time >= 0 ? x->dims[time] : 4;

    fz_region scale, bias, mean, rstd, seq;
    memset(&scale, 0, sizeof scale);
    memset(&bias, 0, sizeof bias);
    memset(&mean, 0, sizeof mean);
    memset(&rstd, 0, sizeof rstd);
    memset(&seq, 0, sizeof seq);
    size_t p = param_count > 0 ? (size_t)param_count : 1, g = groups > 0 ? (size_t)groups : 0;
    if (opt & 4)
        o.scale = fz_region_floats(&scale, "scale", p, 0, seed);
    if (opt & 8)
        o.bias = fz_region_floats(&bias, "bias", p, 0, seed + 1);
    if (opt & 16)
        o.mean = fz_region_floats(&mean, "mean", g, g, seed + 2);
    if (opt & 32)
        o.rstd = fz_region_floats(&rstd, "rstd", g, g, seed + 3);
    int model_error = !(o.epsilon >= 0.0f) || isinf(o.epsilon) || (!o.axes && !o.axes_text);
    if (opt & 64) {
        size_t n = lens > 0 && lens <= FZ_MAX_ELEMENTS ? (size_t)lens : 1;
        fz_region_floats(&seq, "seq_lens", n, 0, 0);
        int *v = (int *)seq.data;
        int masking = o.mask_mode == SN_MASK_EXCLUDE || o.mask_mode == SN_MASK_ZERO;
        int t_max = time_dim < 1000 ? (int)time_dim : 1000;
        for (size_t i = 0; i < n; i++) {
            v[i] = fz_int(&r, 0, t_max);
            if (masking && usable && batch >= 0 && time >= 0 && (ptrdiff_t)i < lens &&
                (v[i] < 0 || v[i] > time_dim))
                model_error = 1;
        }
        if (o.mask_mode != SN_MASK_EXCLUDE && o.mask_mode != SN_MASK_ZERO &&
            o.mask_mode != SN_MASK_IGNORE)
            model_error = 1;
        if (masking && usable && (batch < 0 || time < 0))
            model_error = 1;
        o.seq_lens = v;
    }
    if (shape_ok && !usable)
        model_error = 1; /* the layout does not fit the rank */
    fz_region *regions[] = { &scale, &bias, &mean, &rstd, &seq };
    for (size_t i = 0; i < COUNT(regions); i++)
        if (regions[i]->data)
            fz_region_snapshot(regions[i]);

    sn_status s = sn_norm(t.pass_x ? x : NULL, t.pass_y ? &t.y : NULL, (opt & 128) ? NULL : &o);
    if (opt & 128) /* NULL options: axes 0 and no text is SN_ERR_EMPTY_AXES */
        model_error = 1;
    fz_tensors_check(&t, s, model_error, "sn_norm");
    for (size_t i = 0; i < COUNT(regions); i++)
        fz_region_check(regions[i], s == SN_OK, "sn_norm");
    if (s == SN_OK && reduce < 0)
        fz_fail("sn_norm succeeded, but the axes (bits %#x, text \"%s\") do not resolve", o.axes,
                o.axes_text ? o.axes_text : "(null)");

    /* The same call through a plan. Its creation fails as sn_norm did where
     * that failure needs no array, and leaves no plan; where sn_norm failed
     * on its arrays, the execution fails alike and writes nothing. (A call
     * that succeeded is not repeated: in place, its input is now its output.) */
    sn_norm_plan *plan;
    sn_status created = sn_norm_plan_create(t.pass_x ? x : NULL, t.pass_y ? &t.y : NULL,
                                            (opt & 128) ? NULL : &o, &plan);
    if (created != SN_OK && (plan || created != s))
        fz_fail("sn_norm_plan_create returned %d (plan %p), sn_norm %d", (int)created,
                (void *)plan, (int)s);
    if (created == SN_OK && s != SN_OK) {
        const sn_norm_arrays a = { x->data, t.y.data, o.scale, o.bias, o.mean, o.rstd, o.seq_lens };
        sn_status executed = sn_norm_plan_execute(plan, &a);
        if (executed != s)
            fz_fail("sn_norm_plan_execute returned %d, sn_norm %d", (int)executed, (int)s);
        fz_tensors_check(&t, executed, model_error, "sn_norm_plan_execute");
        for (size_t i = 0; i < COUNT(regions); i++)
            fz_region_check(regions[i], 0, "sn_norm_plan_execute");
    }
    sn_norm_plan_destroy(plan);

    for (size_t i = 0; i < COUNT(regions); i++)
        fz_region_free(regions[i]);
    fz_tensors_free(&t);
    return 0;
}
