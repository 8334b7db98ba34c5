/*
 * The axis-description parser: sn_axes_parse with random layouts,
 * descriptions (raw bytes, or tokens from tests/fuzz/axes.dict) and dims, and
 * sn_norm with axes_text / param_text on small dense tensors.
 *
 * Checks: no crash or sanitizer report; a mask only on success, naming only
 * axes of the layout (at most SN_MAX_RANK of them); on error the mask is
 * unchanged and SN_ERR_AXES_DESCRIPTION names its text in
 * sn_last_error_detail(); parsing is case-insensitive; sn_norm with a
 * description computes the same bits as with the mask it parses to.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static const char *const layouts[] = {
    "BTF", "BFT", "TBF", "BSSF", "BFSS", "BF", "F", "SS", "btf", "BTFS", "SSSSSSSS",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void upper(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)toupper((unsigned char)src[i]);
    dst[i] = '\0';
}

static void parse_case(fz_reader *r, uint8_t mode)
{
    char layout_buf[48], text_buf[200], again[200];
    const char *layout = fz_text(r, layouts, COUNT(layouts), layout_buf, sizeof layout_buf);
    const char *text = fz_raw_text(r, text_buf, sizeof text_buf);
    if (mode & 2)
        text = NULL;
    size_t rank = layout ? strlen(layout) : 0;
    ptrdiff_t *dims = NULL;
    if (!(mode & 4)) {
        dims = malloc((rank ? rank : 1) * sizeof *dims);
        if (!dims)
            fz_fail("out of memory");
        for (size_t i = 0; i < rank; i++)
            dims[i] = fz_u8(r) % 12;
    }
    unsigned mask = 0xA5A5A5A5u, *maskp = (mode & 8) ? NULL : &mask;
    sn_status s = sn_axes_parse(text, layout, dims, maskp);
    const char *detail = sn_last_error_detail();
    fz_note("sn_axes_parse", s);
    if (!detail)
        fz_fail("sn_last_error_detail() is NULL");
    if ((!text || !layout || !maskp) && s != SN_ERR_NULL_POINTER)
        fz_fail("sn_axes_parse with a NULL argument: %s", sn_status_string(s));
    if (s == SN_OK) {
        if (rank > SN_MAX_RANK)
            fz_fail("sn_axes_parse accepted layout \"%s\" of %zu axes (at most %d)", layout,
                    rank, SN_MAX_RANK);
        if (mask >> rank)
            fz_fail("sn_axes_parse(\"%s\", \"%s\") = %#x names axes past the layout", text,
                    layout, mask);
        if (!mask)
            fz_fail("sn_axes_parse(\"%s\", \"%s\") selected nothing but succeeded", text, layout);
    } else {
        if (s != SN_ERR_NULL_POINTER && s != SN_ERR_LAYOUT && s != SN_ERR_AXES_DESCRIPTION)
            fz_fail("sn_axes_parse(\"%s\", \"%s\"): unexpected %s", text ? text : "(null)",
                    layout ? layout : "(null)", sn_status_string(s));
        if (mask != 0xA5A5A5A5u)
            fz_fail("sn_axes_parse failed (%s) but wrote the mask", sn_status_string(s));
        if (s == SN_ERR_AXES_DESCRIPTION && !*detail)
            fz_fail("sn_axes_parse(\"%s\", \"%s\"): SN_ERR_AXES_DESCRIPTION without detail", text,
                    layout);
    }
    /* Case-insensitive, and the same answer twice. */
    if (text && layout && maskp) {
        char upper_layout[48];
        unsigned mask2 = 0xA5A5A5A5u;
        upper(again, text, sizeof again);
        upper(upper_layout, layout, sizeof upper_layout);
        sn_status s2 = sn_axes_parse(again, upper_layout, dims, &mask2);
        if (s2 != s || mask2 != mask)
            fz_fail("sn_axes_parse(\"%s\", \"%s\") = %s %#x but upper-cased = %s %#x", text,
                    layout, sn_status_string(s), mask, sn_status_string(s2), mask2);
    }
    free(dims);
}

/* sn_norm on a small dense tensor with both axes and parameters described. */
static void norm_case(fz_reader *r)
{
    char layout_buf[16], axes_buf[120], param_buf[120];
    const char *layout = fz_text(r, layouts, COUNT(layouts), layout_buf, sizeof layout_buf);
    const char *axes = fz_raw_text(r, axes_buf, sizeof axes_buf);
    uint8_t flags = fz_u8(r);
    const char *params = (flags & 1) ? fz_raw_text(r, param_buf, sizeof param_buf) : NULL;
    int rank = layout && strlen(layout) >= 1 && strlen(layout) <= SN_MAX_RANK
                   ? (int)strlen(layout)
                   : 1 + fz_u8(r) % SN_MAX_RANK;
    ptrdiff_t dims[SN_MAX_RANK];
    ptrdiff_t count = 1;
    for (int i = 0; i < rank; i++) {
        dims[i] = 1 + fz_u8(r) % 5;
        count *= dims[i];
    }
    /* What the library will resolve, when it can. */
    char spatial[SN_MAX_RANK + 1];
    memset(spatial, 'S', (size_t)rank);
    spatial[rank] = '\0';
    const char *as = layout ? layout : spatial;
    unsigned reduce = 0, pmask = 0;
    int reduce_ok = (int)strlen(as) == rank && sn_axes_parse(axes, as, dims, &reduce) == SN_OK;
    int params_ok = 1;
    if (params) {
        params_ok = (int)strlen(as) == rank && sn_axes_parse(params, as, dims, &pmask) == SN_OK;
    } else { /* the default: the F axis of the layout, else the last */
        const char *f = layout ? strpbrk(layout, "Ff") : NULL;
        pmask = 1u << (f && f - layout < rank ? (int)(f - layout) : rank - 1);
    }
    ptrdiff_t groups = 1, pcount = 1;
    for (int i = 0; i < rank; i++) {
        if (!(reduce >> i & 1u))
            groups *= dims[i];
        if (pmask >> i & 1u)
            pcount *= dims[i];
    }

    fz_region x, y, y2, scale, bias, mean, rstd;
    uint32_t seed = fz_u32(r);
    fz_region_floats(&x, "x", (size_t)count, 0, seed);
    fz_region_floats(&y, "y", (size_t)count, (size_t)count, 7);
    fz_region_floats(&y2, "y (bits)", (size_t)count, (size_t)count, 7);
    fz_region_floats(&scale, "scale", params_ok ? (size_t)pcount : 1, 0, seed + 1);
    fz_region_floats(&bias, "bias", params_ok ? (size_t)pcount : 1, 0, seed + 2);
    fz_region_floats(&mean, "mean", reduce_ok ? (size_t)groups : 1, reduce_ok ? (size_t)groups : 0, 8);
    fz_region_floats(&rstd, "rstd", reduce_ok ? (size_t)groups : 1, reduce_ok ? (size_t)groups : 0, 9);
    fz_region *regions[] = { &x, &y, &scale, &bias, &mean, &rstd };
    for (size_t i = 0; i < COUNT(regions); i++)
        fz_region_snapshot(regions[i]);

    sn_tensor xt = sn_tensor_dense(x.data, SN_FLOAT32, rank, dims);
    sn_tensor yt = sn_tensor_dense(y.data, SN_FLOAT32, rank, dims);
    sn_norm_options o = SN_NORM_DEFAULTS;
    o.layout = layout;
    o.axes_text = axes;
    o.param_text = params;
    if (params || (flags & 2)) {
        o.scale = (const float *)scale.data;
        o.bias = (flags & 4) ? (const float *)bias.data : NULL;
    }
    if (flags & 8) {
        o.mean = (float *)mean.data;
        o.rstd = (float *)rstd.data;
    }
    sn_status s = sn_norm(&xt, &yt, &o);
    fz_note("sn_norm with descriptions", s);
    for (size_t i = 0; i < COUNT(regions); i++)
        fz_region_check(regions[i], s == SN_OK, "sn_norm with descriptions");
    if (s == SN_OK && !reduce_ok)
        fz_fail("sn_norm accepted axes \"%s\" that sn_axes_parse rejects", axes);
    if (s == SN_OK && params && !params_ok)
        fz_fail("sn_norm accepted param_text \"%s\" that sn_axes_parse rejects", params);

    /* The same call with the parsed masks gives the same bits. */
    if (s == SN_OK) {
        sn_tensor yt2 = sn_tensor_dense(y2.data, SN_FLOAT32, rank, dims);
        o.axes_text = NULL;
        o.param_text = NULL;
        o.axes = reduce;
        o.param_axes = params ? pmask : SN_AXES_DEFAULT;
        o.mean = o.rstd = NULL;
        sn_status s2 = sn_norm(&xt, &yt2, &o);
        if (s2 != SN_OK)
            fz_fail("sn_norm with axes \"%s\" succeeded, with mask %#x: %s", axes, reduce,
                    sn_status_string(s2));
        if (memcmp(y.data, y2.data, (size_t)count * sizeof(float)))
            fz_fail("sn_norm with axes \"%s\" and with mask %#x differ", axes, reduce);
    }
    for (size_t i = 0; i < COUNT(regions); i++)
        fz_region_free(regions[i]);
    fz_region_free(&y2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r = { data, size };
    fz_set_runtime(&r);
    uint8_t mode = fz_u8(&r);
    if (mode & 1)
        norm_case(&r);
    else
        parse_case(&r, mode);
    return 0;
}
