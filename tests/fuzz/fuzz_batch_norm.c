/*
 * Argument validation of sn_batch_norm and sn_batch_norm_init: random tensors
 * (see fuzz_common.c), every option (presets, out-of-range momentum,
 * use_sample, epsilon, correction, param_version, masked_time, init values and
 * texts, layout, feature axis), training or not, sequence lengths, and a state
 * whose size and arrays may not match. No crash, no sanitizer report; invalid
 * input is rejected; on error neither y nor the state is written; on success
 * gamma and beta are never written, and the running statistics only when
 * RETURNN's rule updates them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static const char *const layouts[] = {
    "BTF", "BFT", "TBF", "BSSF", "BFSS", "BF", "F", "TF", "FT", "SF", "SSF", "btf", "BTFS", "BT",
    "BBF", "", "BTX", "SSSSSSSF",
};
static const char *const init_texts[] = {
    "zeros", "ones", "0.5", "-1e3", "abc", "", "1e39", "nan", "inf", " 1", "1 ", "0x10",
    "1e-50", "Zeros", "-0",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int unit_interval(float v)
{
    return v >= 0.0f && v <= 1.0f;
}

/* The init value rule restated: NULL text keeps the float (finite); else
 * "zeros", "ones", or a whole finite number. 1 if valid. */
static int init_ok(const char *text, float value)
{
    if (!text)
        return isfinite(value);
    if (!strcmp(text, "zeros") || !strcmp(text, "ones"))
        return 1;
    char *end;
    double v = strtod(text, &end);
    return end != text && !*end && isfinite(v);
}

static int find_role(const char *layout, char role)
{
    for (int i = 0; layout && layout[i]; i++)
        if ((layout[i] & ~0x20) == role)
            return i;
    return -1;
}

static int layout_fits(const char *layout, int rank)
{
    unsigned mask;
    return (int)strlen(layout) == rank && sn_axes_parse("*", layout, NULL, &mask) == SN_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r = { data, size };
    fz_set_runtime(&r);
    fz_tensors t;
    if (!fz_tensors_decode(&r, &t))
        return 0;
    sn_tensor *x = &t.x;

    uint8_t preset = fz_u8(&r);
    sn_batch_norm_options o =
        sn_batch_norm_defaults(preset % 3 == 2 ? (sn_batch_norm_preset)7
                                               : (sn_batch_norm_preset)(preset % 3));
    uint16_t which = fz_u16(&r);
    char layout_buf[24], gamma_buf[32], beta_buf[32];
    if (which & 1)
        o.use_shift = fz_int(&r, 0, 1);
    if (which & 2)
        o.use_std = fz_int(&r, 0, 1);
    if (which & 4)
        o.use_sample = fz_float(&r);
    if (which & 8)
        o.force_sample = fz_int(&r, 0, 1);
    if (which & 16)
        o.momentum = fz_float(&r);
    if (which & 32)
        o.epsilon = fz_float(&r);
    if (which & 64)
        o.update_sample_only_in_training = fz_int(&r, 0, 1);
    if (which & 128)
        o.delay_sample_update = fz_int(&r, 0, 1);
    if (which & 256)
        o.param_version = fz_int(&r, 0, 2);
    if (which & 512) {
        o.gamma_init = fz_float(&r);
        o.beta_init = fz_float(&r);
    }
    if (which & 1024) {
        o.gamma_init_text = fz_text(&r, init_texts, COUNT(init_texts), gamma_buf, sizeof gamma_buf);
        o.beta_init_text = fz_text(&r, init_texts, COUNT(init_texts), beta_buf, sizeof beta_buf);
    }
    if (which & 2048)
        o.masked_time = fz_int(&r, -1, 1);
    if (which & 4096)
        o.correction = fz_float(&r);
    if (which & 8192)
        o.layout = fz_text(&r, layouts, COUNT(layouts), layout_buf, sizeof layout_buf);
    if (which & 16384)
        o.feature_axis = fz_int(&r, -SN_MAX_RANK - 1, SN_MAX_RANK);
    int training = (which & 32768) != 0;
    uint8_t state_mode = fz_u8(&r);
    /* bits 0-3: that state array is NULL (with bit 4); 5: state NULL;
     * 6: options NULL; 7: sequence lengths given. */
    uint8_t nulls = fz_u8(&r);
    uint32_t seed = fz_u32(&r);

    /* The options' own errors, restated. */
    int model_error = !(o.epsilon >= 0.0f) || isinf(o.epsilon) || !unit_interval(o.momentum) ||
                      !unit_interval(o.use_sample) || o.param_version < 0 ||
                      o.param_version > 2 || !(o.correction >= 0.0f) || isinf(o.correction) ||
                      (o.masked_time != SN_UNSET && o.masked_time != 0 && o.masked_time != 1) ||
                      !init_ok(o.gamma_init_text, o.gamma_init) ||
                      !init_ok(o.beta_init_text, o.beta_init);
    int options_error = model_error;

    /* The feature axis and its size. */
    int shape_ok = fz_shape_usable(x);
    int feature = -1;
    if (shape_ok && o.layout) {
        if (layout_fits(o.layout, x->rank))
            feature = find_role(o.layout, 'F');
        if (feature < 0)
            model_error = 1;
    } else if (shape_ok) {
        long a = o.feature_axis < 0 ? (long)o.feature_axis + x->rank : o.feature_axis;
        if (a >= 0 && a < x->rank)
            feature = (int)a;
        else
            model_error = 1;
    }
    ptrdiff_t features = feature >= 0 ? x->dims[feature] : 3;
    switch (state_mode % 6) {
    case 0: case 1: case 2: break;
    case 3: features = features < PTRDIFF_MAX ? features + 1 : 0; break;
    case 4: features = -1; break;
    default: features = fz_dim(&r); break;
    }
    if (feature < 0 || features != x->dims[feature] || features < 0)
        model_error = 1;

    /* The state: four exactly sized arrays, any of them possibly NULL. */
    size_t f = features > 0 && features <= FZ_MAX_ELEMENTS ? (size_t)features : 1;
    fz_region arrays[4], seq;
    const char *names[4] = { "running_mean", "running_var", "gamma", "beta" };
    int update = training || !o.update_sample_only_in_training;
    for (int i = 0; i < 4; i++)
        fz_region_floats(&arrays[i], names[i], f, i < 2 && update ? f : 0, seed + (uint32_t)i);
    float *p[4];
    for (int i = 0; i < 4; i++) {
        float *v = (float *)arrays[i].data;
        p[i] = (nulls & 16) && (nulls >> i & 1) ? NULL : v;
        if (i == 1) /* positive running variances */
            for (size_t k = 0; k < f; k++)
                v[k] = fabsf(v[k]) + 0.25f;
    }
    sn_batch_norm_state state = { features, p[0], p[1], p[2], p[3] };
    if (features < 0)
        model_error = 1;
    if (features > 0 && (!p[0] || !p[1] || (o.use_std && !p[2]) || (o.use_shift && !p[3])))
        model_error = 1;

    /* Sequence lengths. */
    memset(&seq, 0, sizeof seq);
    const int *seq_lens = NULL;
    if (nulls & 128) {
        int batch = shape_ok && o.layout ? find_role(o.layout, 'B') : -1;
        int time = shape_ok && o.layout ? find_role(o.layout, 'T') : -1;
        ptrdiff_t lens = batch >= 0 && batch < x->rank ? x->dims[batch] : 4;
        ptrdiff_t time_dim = time >= 0 && time < x->rank ? x->dims[time] : 4;
        size_t n = lens > 0 && lens <= FZ_MAX_ELEMENTS ? (size_t)lens : 1;
        fz_region_floats(&seq, "seq_lens", n, 0, 0);
        int *v = (int *)seq.data;
        int t_max = time_dim < 1000 ? (int)time_dim : 1000;
        int masking = o.masked_time == 1 && shape_ok && o.layout && layout_fits(o.layout, x->rank);
        for (size_t i = 0; i < n; i++) {
            v[i] = fz_int(&r, 0, t_max);
            if (masking && batch >= 0 && time >= 0 && (ptrdiff_t)i < lens &&
                (v[i] < 0 || v[i] > time_dim))
                model_error = 1;
        }
        if (o.masked_time == SN_UNSET)
            model_error = 1;
        if (masking && (batch < 0 || time < 0))
            model_error = 1;
        seq_lens = v;
    }

    for (int i = 0; i < 4; i++)
        fz_region_snapshot(&arrays[i]);
    if (seq.data)
        fz_region_snapshot(&seq);
    int null_state = (nulls & 32) != 0, null_options = (nulls & 64) != 0;
    if (null_state)
        model_error = 1;
    sn_status s = sn_batch_norm(t.pass_x ? x : NULL, t.pass_y ? &t.y : NULL,
                                null_state ? NULL : &state, null_options ? NULL : &o, training,
                                seq_lens);
    /* With NULL options the current preset's defaults apply. */
    fz_tensors_check(&t, s, null_options ? null_state : model_error, "sn_batch_norm");
    for (int i = 0; i < 4; i++)
        fz_region_check(&arrays[i], s == SN_OK, "sn_batch_norm");
    if (seq.data)
        fz_region_check(&seq, 0, "sn_batch_norm (seq_lens are input)");

    /* sn_batch_norm_init with the same options on the same state. */
    if (!null_options && !null_state && features <= (ptrdiff_t)f) { /* init writes [features] */
        for (int i = 0; i < 4; i++) {
            arrays[i].writable = arrays[i].bytes;
            fz_region_snapshot(&arrays[i]);
        }
        int init_error = options_error || features < 0 ||
                         (features > 0 && (!p[0] || !p[1] || (o.use_std && !p[2]) ||
                                           (o.use_shift && !p[3])));
        s = sn_batch_norm_init(&state, &o);
        fz_note("sn_batch_norm_init", s);
        if (s == SN_OK && init_error)
            fz_fail("sn_batch_norm_init accepted invalid options or state");
        for (int i = 0; i < 4; i++)
            fz_region_check(&arrays[i], s == SN_OK, "sn_batch_norm_init");
        if (s == SN_OK)
            for (ptrdiff_t k = 0; k < features; k++)
                if (p[0][k] != 0.0f || p[1][k] != 1.0f)
                    fz_fail("sn_batch_norm_init: running mean/var [%td] = %g, %g, not 0, 1", k,
                            (double)p[0][k], (double)p[1][k]);
    }

    for (int i = 0; i < 4; i++)
        fz_region_free(&arrays[i]);
    fz_region_free(&seq);
    fz_tensors_free(&t);
    return 0;
}
