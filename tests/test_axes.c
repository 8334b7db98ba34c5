/* RETURNN axis descriptions (sn_axes_parse): every description of SPEC
 * section 1 in every letter case on several layouts, against a model written
 * from the role rules; indexed and sized descriptions, lists, invalid text
 * (with the offending text in sn_last_error_detail), bad layouts and NULLs;
 * descriptions through sn_norm equal the same axes given as bits. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define UNTOUCHED 0xdeadbeefu

typedef struct layout_case {
    const char *layout;
    int rank;
    ptrdiff_t dims[4];
} layout_case;

static const layout_case layouts[] = {
    { "BTF", 3, { 2, 3, 5 } },   { "BFT", 3, { 2, 5, 3 } },      { "BSSF", 4, { 2, 7, 7, 3 } },
    { "BFSS", 4, { 2, 3, 7, 9 } }, { "TBF", 3, { 3, 2, 5 } },    { "F", 1, { 5 } },
    { "BTSF", 4, { 2, 3, 4, 5 } },
};
#define LAYOUTS ((int)(sizeof layouts / sizeof layouts[0]))

/* Axes whose role is among `roles`. */
static unsigned with_roles(const char *layout, const char *roles)
{
    unsigned mask = 0;
    for (int i = 0; layout[i]; i++)
        if (strchr(roles, toupper((unsigned char)layout[i])))
            mask |= 1u << i;
    return mask;
}

static unsigned all_axes(const char *layout)
{
    return (1u << strlen(layout)) - 1u;
}

/* sn_axes_parse must return SN_OK and `want`. */
static void expect_mask(const char *text, const char *layout, const ptrdiff_t *dims,
                        unsigned want)
{
    unsigned mask = UNTOUCHED;
    sn_status status = sn_axes_parse(text, layout, dims, &mask);
    cr_assert(status == SN_OK && mask == want,
              "isa=%s sn_axes_parse(\"%s\", \"%s\"): got %s (%s) mask 0x%x, want SN_OK mask 0x%x",
              tu_isa_name(), text, layout, sn_status_string(status), sn_last_error_detail(), mask,
              want);
}

/* sn_axes_parse must fail with `want`, leave the mask alone and (for
 * descriptions and layouts) name `named` in the error detail. */
static void expect_error(const char *text, const char *layout, const ptrdiff_t *dims,
                         sn_status want, const char *named)
{
    unsigned mask = UNTOUCHED;
    sn_status status = sn_axes_parse(text, layout, dims, &mask);
    cr_assert(status == want && mask == UNTOUCHED,
              "isa=%s sn_axes_parse(\"%s\", \"%s\"): got %s mask 0x%x, want %s and the mask "
              "untouched", tu_isa_name(), text ? text : "NULL", layout ? layout : "NULL",
              sn_status_string(status), mask, sn_status_string(want));
    if (named) {
        const char *detail = sn_last_error_detail();
        cr_assert(detail && *detail && strstr(detail, named),
                  "isa=%s sn_axes_parse(\"%s\", \"%s\"): detail \"%s\" does not name \"%s\"",
                  tu_isa_name(), text, layout, detail ? detail : "NULL", named);
    }
}

/* The description in lower case, upper case and alternating case. */
static void case_variant(const char *text, int variant, char *out, size_t size)
{
    size_t n = strlen(text);
    cr_assert(n < size, "description too long for the test buffer");
    for (size_t i = 0; i <= n; i++) {
        int c = (unsigned char)text[i];
        out[i] = (char)(variant == 0 ? tolower(c) : variant == 1 ? toupper(c)
                        : i % 2 ? toupper(c) : tolower(c));
    }
}

/* A named description and the model of what it selects: the axes whose role
 * is in `roles` (letters: each letter's role must exist), or all axes whose
 * role is not in `excluded`. */
typedef struct named_description {
    const char *text;
    const char *roles;     /* required roles, or NULL */
    const char *excluded;  /* for sets, when roles is NULL */
} named_description;

static const named_description descriptions[] = {
    { "b", "B", NULL },    { "batch", "B", NULL },       { "t", "T", NULL },
    { "time", "T", NULL }, { "f", "F", NULL },           { "feature", "F", NULL },
    { "tf", "TF", NULL },  { "ft", "TF", NULL },         { "bt", "BT", NULL },
    { "bf", "BF", NULL },  { "btf", "BTF", NULL },       { "fbt", "BTF", NULL },
    { "tt", "T", NULL },   { "except_batch", NULL, "B" }, { "except_time", NULL, "BT" },
    { "static", NULL, "BT" }, { "spatial", NULL, "BF" }, { "spatial_except_time", NULL, "BFT" },
    { "*", NULL, "" },
};
#define DESCRIPTIONS ((int)(sizeof descriptions / sizeof descriptions[0]))

Test(axes, every_named_description_every_case_every_layout)
{
    tu_begin();
    for (int l = 0; l < LAYOUTS; l++) {
        const layout_case *lc = &layouts[l];
        for (int d = 0; d < DESCRIPTIONS; d++)
            for (int v = 0; v < 3; v++) {
                const named_description *nd = &descriptions[d];
                char text[64];
                case_variant(nd->text, v, text, sizeof text);
                if (nd->roles) {
                    unsigned want = with_roles(lc->layout, nd->roles);
                    int missing = 0;
                    for (const char *r = nd->roles; *r; r++)
                        missing |= with_roles(lc->layout, (char[2]){ *r, '\0' }) == 0;
                    if (missing)
                        expect_error(text, lc->layout, lc->dims, SN_ERR_AXES_DESCRIPTION, text);
                    else
                        expect_mask(text, lc->layout, lc->dims, want);
                } else {
                    unsigned want = all_axes(lc->layout) & ~with_roles(lc->layout, nd->excluded);
                    if (want)
                        expect_mask(text, lc->layout, lc->dims, want);
                    else /* never a silent empty set */
                        expect_error(text, lc->layout, lc->dims, SN_ERR_AXES_DESCRIPTION, text);
                }
            }
    }
}

Test(axes, spot_checks)
{
    tu_begin();
    /* A few literal results, independent of the model above. */
    expect_mask("TF", "BTF", NULL, 0x6);
    expect_mask("except_batch", "BFSS", NULL, 0xe);
    expect_mask("spatial", "BFSS", NULL, 0xc);
    expect_mask("spatial", "BTF", NULL, 0x2);
    expect_mask("static", "BTSF", NULL, 0xc);
    expect_mask("except_time", "TBF", NULL, 0x4);
    expect_mask("spatial_except_time", "BTSF", NULL, 0x4);
    expect_mask("F", "BFT", NULL, 0x2);
    expect_mask("*", "F", NULL, 0x1);
    expect_mask("F", "btf", NULL, 0x4); /* the layout is case-insensitive too */
    expect_mask("s:0", "bssf", NULL, 0x2);
}

/* The I-th axis among `candidates`, I from -(n+1) to n (out of range at both
 * ends), for every spelling of the indexed descriptions. */
Test(axes, indexed_descriptions)
{
    tu_begin();
    const struct { const char *prefix; const char *excluded; } kinds[] = {
        { "spatial:", "BF" }, { "s:", "BF" }, { "except_batch:", "B" },
        { "SPATIAL:", "BF" }, { "S:", "BF" }, { "Except_Batch:", "B" },
    };
    for (int l = 0; l < LAYOUTS; l++) {
        const layout_case *lc = &layouts[l];
        for (int k = 0; k < 6; k++) {
            unsigned candidates = all_axes(lc->layout) & ~with_roles(lc->layout, kinds[k].excluded);
            int order[SN_MAX_RANK], n = 0;
            for (int i = 0; i < lc->rank; i++)
                if (candidates >> i & 1u)
                    order[n++] = i;
            for (int index = -n - 2; index <= n + 1; index++) {
                char text[64];
                snprintf(text, sizeof text, "%s%d", kinds[k].prefix, index);
                int at = index < 0 ? index + n : index;
                if (at >= 0 && at < n)
                    expect_mask(text, lc->layout, lc->dims, 1u << order[at]);
                else
                    expect_error(text, lc->layout, lc->dims, SN_ERR_AXES_DESCRIPTION, text);
            }
        }
    }
    expect_error("s:99999999999999999999999", "BSSF", NULL, SN_ERR_AXES_DESCRIPTION,
                 "s:99999999999999999999999");
    expect_error("spatial:-99999999999999999999999", "BSSF", NULL, SN_ERR_AXES_DESCRIPTION,
                 "spatial:-99999999999999999999999");
}

Test(axes, dim_descriptions)
{
    tu_begin();
    for (int l = 0; l < LAYOUTS; l++) {
        const layout_case *lc = &layouts[l];
        for (ptrdiff_t size = 0; size <= 10; size++) {
            unsigned found = 0;
            int count = 0;
            for (int i = 0; i < lc->rank; i++)
                if (lc->dims[i] == size) {
                    found |= 1u << i;
                    count++;
                }
            char text[32];
            snprintf(text, sizeof text, size % 2 ? "dim:%td" : "DIM:%td", size);
            if (count == 1)
                expect_mask(text, lc->layout, lc->dims, found);
            else /* absent, or not unique (7 in BSSF) */
                expect_error(text, lc->layout, lc->dims, SN_ERR_AXES_DESCRIPTION, text);
        }
    }
    /* A size-0 axis is matched like any other; sizes need dims. */
    const ptrdiff_t empty[3] = { 2, 0, 5 };
    expect_mask("dim:0", "BTF", empty, 0x2);
    expect_error("dim:5", "BTF", NULL, SN_ERR_AXES_DESCRIPTION, "dim:5");
}

Test(axes, lists_are_unions)
{
    tu_begin();
    const ptrdiff_t bssf[4] = { 2, 7, 7, 3 };
    expect_mask("T,F", "BTF", NULL, 0x6);
    expect_mask(" t , f ", "BTF", NULL, 0x6);
    expect_mask("F,T,F", "BTF", NULL, 0x6);          /* duplicates: union */
    expect_mask("time,TF,feature", "BTF", NULL, 0x6);
    expect_mask("B,except_batch", "BTF", NULL, 0x7);
    expect_mask("batch, spatial", "BFSS", NULL, 0xd);
    expect_mask("s:0,S:1", "BFSS", NULL, 0xc);
    expect_mask("F,spatial", "BFSS", NULL, 0xe);
    expect_mask("spatial:-1, dim:3", "BSSF", bssf, 0xc);
    expect_mask("except_batch:0,except_batch:-1", "BTSF", NULL, 0xa);
    expect_mask("\tT\t,\nF ", "BTF", NULL, 0x6);
    expect_mask("*,*", "BTSF", NULL, 0xf);
}

Test(axes, invalid_text_is_named)
{
    tu_begin();
    const ptrdiff_t dims[3] = { 2, 3, 5 };
    char long_text[101];
    for (int i = 0; i < 100; i++)
        long_text[i] = "abcdefghij"[i % 10];
    long_text[100] = '\0';
    const char *bad[] = {
        ",",          "foo",       "TX",        "spatial:x", "dim:",      "T,",
        ",T",         "T,,F",      "s:",        "s:1.5",     "s:1x",      "dim:abc",
        "dim:-3",     "dim:3.0",   "except_batch:", "t f",   "batch_",    "**",
        "*,",         "except",    "spatial_except", "B;T",  "T F",       "features",
        "times",      "spatial:0:0", "x:1",     long_text,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_error(bad[i], "BTF", dims, SN_ERR_AXES_DESCRIPTION, bad[i]);
    /* Only blanks: nothing to name but the detail must say something. */
    expect_error("", "BTF", dims, SN_ERR_AXES_DESCRIPTION, "");
    expect_error("   ", "BTF", dims, SN_ERR_AXES_DESCRIPTION, "");
    /* A role the layout lacks. */
    expect_error("T", "BSSF", NULL, SN_ERR_AXES_DESCRIPTION, "T");
    expect_error("time", "BFSS", NULL, SN_ERR_AXES_DESCRIPTION, "time");
    expect_error("batch", "F", NULL, SN_ERR_AXES_DESCRIPTION, "batch");
    expect_error("F,T", "BFSS", NULL, SN_ERR_AXES_DESCRIPTION, "F,T");
}

Test(axes, bad_layouts_and_nulls)
{
    tu_begin();
    const char *bad[] = { "BBF", "BXF", "TT", "FBF", "BTF?", "B F", "BTTF", "1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_error("F", bad[i], NULL, SN_ERR_LAYOUT, bad[i]);
    const ptrdiff_t dims[3] = { 2, 3, 5 };
    unsigned mask = UNTOUCHED;
    cr_assert(sn_axes_parse(NULL, "BTF", dims, &mask) == SN_ERR_NULL_POINTER &&
                  sn_axes_parse("F", NULL, dims, &mask) == SN_ERR_NULL_POINTER &&
                  sn_axes_parse("F", "BTF", dims, NULL) == SN_ERR_NULL_POINTER &&
                  mask == UNTOUCHED,
              "isa=%s: sn_axes_parse with a NULL argument must return SN_ERR_NULL_POINTER and "
              "leave the mask alone (mask 0x%x)", tu_isa_name(), mask);
}

Test(axes, detail_belongs_to_the_last_call)
{
    tu_begin();
    unsigned mask;
    cr_assert(sn_axes_parse("foo", "BTF", NULL, &mask) == SN_ERR_AXES_DESCRIPTION &&
                  strstr(sn_last_error_detail(), "foo"),
              "isa=%s: sn_axes_parse(\"foo\") must fail and name it (detail \"%s\")",
              tu_isa_name(), sn_last_error_detail());
    cr_assert(sn_axes_parse("TF", "BTF", NULL, &mask) == SN_OK && !*sn_last_error_detail(),
              "isa=%s: after a successful sn_axes_parse the detail is \"%s\", want \"\"",
              tu_isa_name(), sn_last_error_detail());
    float x[6] = { 1, 2, 3, 4, 5, 6 }, y[6];
    const ptrdiff_t dims[2] = { 2, 3 };
    sn_tensor xt = sn_tensor_dense(x, SN_FLOAT32, 2, dims);
    sn_tensor yt = sn_tensor_dense(y, SN_FLOAT32, 2, dims);
    sn_norm_options o = SN_NORM_DEFAULTS;
    o.axes_text = "bogus";
    o.layout = "BF";
    cr_assert(sn_norm(&xt, &yt, &o) == SN_ERR_AXES_DESCRIPTION &&
                  strstr(sn_last_error_detail(), "bogus"),
              "isa=%s: sn_norm with axes \"bogus\" must fail and name it (detail \"%s\")",
              tu_isa_name(), sn_last_error_detail());
    o.axes_text = "F";
    cr_assert(sn_norm(&xt, &yt, &o) == SN_OK && !*sn_last_error_detail(),
              "isa=%s: after a successful sn_norm the detail is \"%s\", want \"\"",
              tu_isa_name(), sn_last_error_detail());
}

/* ------------------------------------------------------ through sn_norm */

/* The same call with texts and with bits must agree bit for bit (scale and
 * bias, mean and rstd included). */
static void expect_text_equals_bits(tu_rng *rng, int index, int rank, const ptrdiff_t *dims,
                                    const char *layout, const char *axes_text, unsigned axes,
                                    const char *param_text, unsigned params)
{
    tu_norm_case text = tu_norm_case_new("axes.sn_norm", index, rank, dims, 0, NULL, NULL);
    text.layout = layout;
    text.axes_text = axes_text;
    text.param_text = param_text;
    text.default_params = !param_text;
    tu_fill_random(rng, &text.x);
    tu_norm_case bits = tu_norm_case_new("axes.sn_norm", index, rank, dims, axes, NULL, NULL);
    bits.params = params;
    memcpy(bits.x.alloc, text.x.alloc, (size_t)text.x.size * sizeof(float));
    cr_assert(tu_norm_axes(&text) == axes && tu_norm_params(&text, 1) == params,
              "isa=%s: \"%s\" / \"%s\" on %s resolve to 0x%x / 0x%x, want 0x%x / 0x%x",
              tu_isa_name(), axes_text, param_text ? param_text : "(default)",
              layout ? layout : "(no layout)", tu_norm_axes(&text), tu_norm_params(&text, 1),
              axes, params);
    const int modes[] = { TU_SCALE | TU_BIAS, 0, TU_SCALE, TU_BIAS };
    for (int m = 0; m < 4; m++) {
        tu_result a, b;
        tu_norm_run(&text, modes[m], &a);
        tu_norm_run(&bits, modes[m], &b);
        tu_norm_assert_same(&text, modes[m], &a, &b, "descriptions vs bits");
        tu_result_free(&a);
        tu_result_free(&b);
    }
    tu_norm_check(&text, NULL);
    tu_norm_case_free(&text);
    tu_norm_case_free(&bits);
}

Test(axes, sn_norm_with_descriptions)
{
    tu_begin();
    tu_rng rng = tu_rng_for("axes.sn_norm");
    const ptrdiff_t btf[3] = { 3, 17, 24 }, bfss[4] = { 2, 6, 9, 11 }, bft[3] = { 3, 24, 17 };
    const ptrdiff_t bssf[4] = { 2, 5, 7, 6 };
    int i = 0;
    expect_text_equals_bits(&rng, i++, 3, btf, "BTF", "TF", 0x6, NULL, 0x4);
    expect_text_equals_bits(&rng, i++, 3, btf, "BTF", "time", 0x2, "feature", 0x4);
    expect_text_equals_bits(&rng, i++, 3, btf, "btf", "F", 0x4, "f", 0x4);
    expect_text_equals_bits(&rng, i++, 3, bft, "BFT", "F", 0x2, NULL, 0x2);
    expect_text_equals_bits(&rng, i++, 3, bft, "BFT", "except_batch", 0x6, "static", 0x2);
    expect_text_equals_bits(&rng, i++, 4, bfss, "BFSS", "except_batch", 0xe, "F", 0x2);
    expect_text_equals_bits(&rng, i++, 4, bfss, "BFSS", "spatial", 0xc, NULL, 0x2);
    expect_text_equals_bits(&rng, i++, 4, bfss, "BFSS", "s:-1", 0x8, "F,s:0", 0x6);
    expect_text_equals_bits(&rng, i++, 4, bssf, "BSSF", "spatial", 0x6, "dim:6", 0x8);
    expect_text_equals_bits(&rng, i++, 4, bssf, "BSSF", "except_batch:0,s:1", 0x6,
                            "spatial_except_time", 0x6);
    expect_error("spatial_except_time", "BTF", btf, SN_ERR_AXES_DESCRIPTION, "selects no axis");
    /* No layout: every axis is spatial ('S'), so "*", "s:I" and "dim:N" work. */
    expect_text_equals_bits(&rng, i++, 3, btf, NULL, "*", 0x7, NULL, 0x4);
    expect_text_equals_bits(&rng, i++, 3, btf, NULL, "s:-1,s:1", 0x6, "s:0", 0x1);
    expect_text_equals_bits(&rng, i++, 3, btf, NULL, "dim:17", 0x2, "dim:24", 0x4);
    /* A layout without F: the default param axis is the last one. */
    const ptrdiff_t bts[3] = { 2, 9, 13 };
    expect_text_equals_bits(&rng, i++, 3, bts, "BTS", "T", 0x2, NULL, 0x4);
}

Test(axes, sn_norm_rejects_bad_descriptions)
{
    tu_begin();
    float x[60] = { 0 }, y[60];
    const ptrdiff_t dims[3] = { 3, 4, 5 };
    sn_tensor xt = sn_tensor_dense(x, SN_FLOAT32, 3, dims);
    sn_tensor yt = sn_tensor_dense(y, SN_FLOAT32, 3, dims);
    const struct { const char *layout, *axes, *params; sn_status want; const char *named; } cases[] = {
        { "BTF", "foo", NULL, SN_ERR_AXES_DESCRIPTION, "foo" },
        { "BTF", "F", "spatial:7", SN_ERR_AXES_DESCRIPTION, "spatial:7" },
        { NULL, "F", NULL, SN_ERR_AXES_DESCRIPTION, "F" },  /* no layout: no F axis */
        { NULL, "T", NULL, SN_ERR_AXES_DESCRIPTION, "T" },
        { "BSSF", "T", NULL, SN_ERR_LAYOUT, "BSSF" },  /* 4 letters for rank 3 */
        { "BF", "F", NULL, SN_ERR_LAYOUT, "BF" },
        { "BBF", "F", NULL, SN_ERR_LAYOUT, "BBF" },
        { "BXF", "F", NULL, SN_ERR_LAYOUT, "BXF" },
        { "BTF", "dim:4,dim:9", NULL, SN_ERR_AXES_DESCRIPTION, "dim:9" },
    };
    float scale[5] = { 1, 1, 1, 1, 1 };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sn_norm_options o = SN_NORM_DEFAULTS;
        o.layout = cases[i].layout;
        o.axes_text = cases[i].axes;
        o.param_text = cases[i].params;
        o.scale = cases[i].params ? scale : NULL;
        tu_fill_canary(y, 60);
        sn_status status = sn_norm(&xt, &yt, &o);
        sn_status want = cases[i].want;
        cr_assert(status == want, "isa=%s sn_norm layout=%s axes_text=\"%s\" param_text=%s: got "
                  "%s (%s), want %s", tu_isa_name(), o.layout ? o.layout : "NULL", o.axes_text,
                  o.param_text ? o.param_text : "NULL", sn_status_string(status),
                  sn_last_error_detail(), sn_status_string(want));
        cr_assert(strstr(sn_last_error_detail(), cases[i].named),
                  "isa=%s sn_norm layout=%s axes_text=\"%s\": detail \"%s\" does not name the "
                  "offending text", tu_isa_name(), o.layout ? o.layout : "NULL", o.axes_text,
                  sn_last_error_detail());
        cr_assert(tu_find_non_canary(y, 60) < 0, "isa=%s sn_norm layout=%s axes_text=\"%s\": "
                  "y was written by a failing call", tu_isa_name(),
                  o.layout ? o.layout : "NULL", o.axes_text);
    }
}
