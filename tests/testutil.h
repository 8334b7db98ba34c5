/*
 * Shared test helpers: the ISA under test, seeded random numbers, strided
 * views with canary guards, and the layer-norm runner that checks a case
 * against the float64 oracle and formats every failure with the seed, the
 * ISA and the shape.
 *
 * Environment:
 *   SIMDNORM_ISA   the ISA under test (ctest sets it; the tests skip when the
 *                  CPU lacks it and fail when another ISA runs)
 *   SN_TEST_SEED   seed of every random choice (default TU_DEFAULT_SEED)
 *   SN_TEST_SCALE  multiplies case counts and sizes (default set at build
 *                  time: 1 natively, less under qemu); coverage of tails,
 *                  paths and error codes does not shrink
 */
#ifndef SN_TEST_UTIL_H
#define SN_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "plan.h"
#include "simdnorm.h"

#define TU_DEFAULT_SEED 20240611u

/* ------------------------------------------------------------ session */

/* First statement of every test: forgets API caps (the lite harness runs all
 * tests in one process), then checks that the ISA named by SIMDNORM_ISA is
 * the one running, or skips the test when this CPU lacks it. */
void tu_begin(void);
sn_isa tu_isa(void);
const char *tu_isa_name(void);
unsigned tu_seed(void);
double tu_scale(void);
/* max(minimum, round(count * scale)). */
ptrdiff_t tu_scaled(ptrdiff_t count, ptrdiff_t minimum);

/* ------------------------------------------------------------- random */

typedef struct tu_rng {
    uint64_t state;
} tu_rng;

/* A stream per (seed, name): tests draw independently of one another. */
tu_rng tu_rng_for(const char *name);
uint64_t tu_next(tu_rng *rng);
/* Uniform integer in [lo, hi]. */
ptrdiff_t tu_range(tu_rng *rng, ptrdiff_t lo, ptrdiff_t hi);
/* Uniform in [0, 1). */
double tu_uniform(tu_rng *rng);
double tu_normal(tu_rng *rng);

/* ------------------------------------------------------------ views */

/* Canary: a NaN payload no computation produces, compared bytewise. */
#define TU_CANARY_BITS 0x7fa5c3e1u
float tu_canary(void);
void tu_fill_canary(float *p, ptrdiff_t n);
/* Index of the first element of p[0..n) that is not the canary, or -1. */
ptrdiff_t tu_find_non_canary(const float *p, ptrdiff_t n);

/* A tensor view over its own allocation: `guard` canary elements before and
 * after the elements the view can reach, and every unreached element (padding)
 * canary as well. guard 0 allocates exactly the view's extent, so that a
 * kernel reading past it trips AddressSanitizer. */
typedef struct tu_view {
    sn_tensor t;
    float *alloc;
    ptrdiff_t size;   /* elements allocated */
    ptrdiff_t guard;
} tu_view;

/* Storage layouts for tu_layout_strides. */
typedef enum tu_layout {
    TU_DENSE,       /* row-major */
    TU_PADDED,      /* row-major with gaps after every axis but the last */
    TU_TRANSPOSED,  /* the reduced axis outermost in memory, the rest row-major */
    TU_STRIDED,     /* no axis contiguous: every stride >= 2 */
    TU_RANDOM       /* random axis order, random padding, maybe strided */
} tu_layout;

const char *tu_layout_name(tu_layout layout);
void tu_layout_strides(tu_rng *rng, tu_layout layout, int rank, const ptrdiff_t *dims, int axis,
                       ptrdiff_t *strides);
tu_view tu_view_new(int rank, const ptrdiff_t *dims, const ptrdiff_t *strides, ptrdiff_t guard);
/* Same layout, same bytes (values and canaries). */
tu_view tu_view_clone(const tu_view *v);
void tu_view_free(tu_view *v);
ptrdiff_t tu_count(int rank, const ptrdiff_t *dims);
/* Element at row-major logical position `index`. */
float *tu_at(const tu_view *v, ptrdiff_t index);
/* Multi-index of a row-major position, as "[i,j,k]". */
void tu_format_index(char *out, size_t size, int rank, const ptrdiff_t *dims, ptrdiff_t index);
/* "[a,b,c]" of the first `rank` entries. */
void tu_format_dims(char *out, size_t size, int rank, const ptrdiff_t *v);
/* Group (row-major over the axes other than `axis`) of a row-major position. */
ptrdiff_t tu_group_of(int rank, const ptrdiff_t *dims, int axis, ptrdiff_t index);
/* Number of groups: the product of the dims other than `axis`. */
ptrdiff_t tu_group_count(int rank, const ptrdiff_t *dims, int axis);

/* Values: mean + std * N(0, 1) in every element of the view. */
void tu_fill_normal(tu_rng *rng, tu_view *v, double mean, double std);
/* A random spread: per tensor, mean in [-10, 10] and std in [1e-2, 1e2]. */
void tu_fill_random(tu_rng *rng, tu_view *v);

/* ------------------------------------------------- layer norm cases */

enum { TU_SCALE = 1, TU_BIAS = 2 };

typedef struct tu_case {
    const char *label;     /* which test */
    int index;             /* case number within it */
    int axis;              /* as passed to the library (may be negative) */
    float epsilon;
    int in_place;          /* y is x */
    int affine;            /* TU_SCALE | TU_BIAS for the second run (0: one run only) */
    int want_path;         /* the planner's path this case must take, or -1 */
    ptrdiff_t y_strides[SN_MAX_RANK];  /* ignored when in_place */
    tu_view x;             /* the input, filled by the test */
} tu_case;

/* A case over x (not yet filled) with the given layouts; y guarded. */
tu_case tu_case_new(const char *label, int index, int rank, const ptrdiff_t *dims, int axis,
                    const ptrdiff_t *x_strides, const ptrdiff_t *y_strides);
/* The same with strides drawn from layouts. */
tu_case tu_case_layout(tu_rng *rng, const char *label, int index, int rank,
                       const ptrdiff_t *dims, int axis, tu_layout x_layout, tu_layout y_layout);
void tu_case_free(tu_case *c);
/* seed, ISA, label, case, dims, strides, axis, epsilon, in-place, threads. */
void tu_describe(const tu_case *c, char *out, size_t size);
/* The planner's path for the case's views. */
sn_path tu_case_path(const tu_case *c);
const char *tu_path_name(sn_path path);

/* The outputs of one call, in row-major logical order. */
typedef struct tu_result {
    float *y;             /* count elements */
    float *mean, *rstd;   /* groups elements */
    ptrdiff_t count, groups;
} tu_result;

/*
 * Run sn_layer_norm on a fresh copy of c->x (scale/bias per `affine`, mean
 * and rstd requested) and assert: status SN_OK; nothing outside y's view, the
 * mean/rstd arrays or (unless in place) anywhere in x changed. The outputs are
 * copied to *out (free with tu_result_free).
 */
void tu_run(const tu_case *c, int affine, tu_result *out);
void tu_result_free(tu_result *r);
/* The deterministic scale and bias of a case of F features. */
void tu_params(ptrdiff_t features, float *scale, float *bias);

/*
 * The full check: tu_run without scale/bias against the oracle's normalized
 * values (|y - ref| <= 2e-6 * max(1, |ref|)), mean and rstd against the
 * oracle's; then, if c->affine, with scale/bias against its final values
 * under a bound that adds the affine step's rounding. NaN expected means NaN
 * required. Asserts the path when c->want_path >= 0. Returns the path.
 */
sn_path tu_check(const tu_case *c);

/* Assert two results are bitwise identical (y, mean, rstd). `what` names the
 * comparison in the message, with the case's description. */
void tu_assert_same(const tu_case *c, const tu_result *a, const tu_result *b, const char *what);

/* ------------------------------------------------- generic norm cases */

/* Index of the axis of `role` ('B', 'T', 'F', 'S'; case-insensitive) in a
 * layout string, or -1 (also for a NULL layout). */
int tu_layout_axis(const char *layout, char role);
/* Number of elements of scale/bias over the param axes `mask` (1 for none). */
ptrdiff_t tu_param_count(int rank, const ptrdiff_t *dims, unsigned mask);
/* Index into dense row-major params over `mask` of a row-major position. */
ptrdiff_t tu_param_index(int rank, const ptrdiff_t *dims, unsigned mask, ptrdiff_t index);
/* Number of groups: the product of the dims not in `reduce`. */
ptrdiff_t tu_groups_of(int rank, const ptrdiff_t *dims, unsigned reduce);

/*
 * One sn_norm case. Axes and parameter axes are given as bits, or as text
 * (then parsed with sn_axes_parse against the layout, or a layout of all 'S'
 * when none is given, exactly as sn_norm resolves them, to compute the
 * reference). The runs with scale/bias use tu_params over the param axes.
 */
typedef struct tu_norm_case {
    const char *label;     /* which test */
    int index;             /* case number within it */
    unsigned axes;         /* reduced axes, when axes_text is NULL */
    const char *axes_text;
    unsigned params;       /* param axes of the runs with scale/bias, when param_text is NULL */
    const char *param_text;
    int default_params;    /* pass SN_AXES_DEFAULT (the feature axis) instead of params */
    const char *layout;    /* or NULL */
    float epsilon;
    int in_place;
    int affine;            /* TU_SCALE | TU_BIAS for the second run of tu_norm_check */
    int want_path;         /* the planner's path every run must take, or -1 */
    const int *seq_lens;   /* [B] along T of the layout, or NULL (the test owns the array) */
    sn_mask_mode mask_mode;
    int valid_only;        /* tu_norm_check compares only valid (unpadded) elements */
    ptrdiff_t y_strides[SN_MAX_RANK];  /* ignored when in_place */
    tu_view x;             /* the input, filled by the test */
} tu_norm_case;

/* A case over x (not yet filled): params on the last axis, scale and bias,
 * epsilon 1e-6, no layout, no masking. NULL strides mean dense. */
tu_norm_case tu_norm_case_new(const char *label, int index, int rank, const ptrdiff_t *dims,
                              unsigned axes, const ptrdiff_t *x_strides,
                              const ptrdiff_t *y_strides);
/* The same with strides drawn from layouts; TU_TRANSPOSED puts the innermost
 * reduced axis outermost in memory. */
tu_norm_case tu_norm_case_layout(tu_rng *rng, const char *label, int index, int rank,
                                 const ptrdiff_t *dims, unsigned axes, tu_layout x_layout,
                                 tu_layout y_layout);
void tu_norm_case_free(tu_norm_case *c);
/* The reduced axes and (for a run with `affine`) the param axes as sn_norm
 * resolves them; asserts that the text parses. */
unsigned tu_norm_axes(const tu_norm_case *c);
unsigned tu_norm_params(const tu_norm_case *c, int affine);
/* The options of a run (mean, rstd, scale and bias left NULL). */
sn_norm_options tu_norm_options(const tu_norm_case *c, int affine);
/* The plan sn_norm builds for a run with `affine`. */
void tu_norm_plan(const tu_norm_case *c, int affine, sn_plan *plan);
sn_path tu_norm_path(const tu_norm_case *c, int affine);
/* seed, ISA, label, case, dims, strides, axes and param masks (and texts),
 * layout, seq_lens, mask mode, epsilon, in-place, path, threads. */
void tu_norm_describe(const tu_norm_case *c, int affine, char *out, size_t size);
/* Overwrite the padded frames (t >= seq_lens[b]) of c->x with
 * mean + std * N(0, 1); mean NaN writes NaN. */
void tu_norm_fill_padding(tu_rng *rng, tu_norm_case *c, double mean, double std);

/* As tu_run, for sn_norm: mean/rstd over the groups (tu_groups_of). */
void tu_norm_run(const tu_norm_case *c, int affine, tu_result *out);
/* The same through sn_norm_plan_create (from the shapes alone) and
 * sn_norm_plan_execute; tu_norm_check runs both and compares their bits. */
void tu_norm_run_planned(const tu_norm_case *c, int affine, tu_result *out);

/* What a case must produce, per element in row-major order and per group. */
typedef struct tu_reference {
    double *normalized;    /* before scale and bias */
    double *expected;      /* with the case's affine (may be NULL when c->affine is 0) */
    double *mean, *rstd;
    unsigned char *valid;  /* 1 unless padded; NULL: all valid */
} tu_reference;

/* Uninitialized arrays for `count` elements and `groups` groups (valid NULL). */
tu_reference tu_reference_alloc(ptrdiff_t count, ptrdiff_t groups);
/* The elements of a view in row-major logical order, as a new array. */
float *tu_dense_values(const tu_view *v);
/* The oracle's reference for a case (free with tu_reference_free). */
tu_reference tu_norm_reference(const tu_norm_case *c);
void tu_reference_free(tu_reference *r);

/*
 * The full check against `ref`: a run without scale/bias against the
 * normalized values (|y - ref| <= 2e-6 * max(1, |ref|)), mean and rstd; then,
 * if c->affine, a run with scale/bias against the expected values under a
 * bound that adds the affine step's rounding. Padded outputs with
 * SN_MASK_ZERO must be exactly 0; c->valid_only skips padded elements.
 * Asserts c->want_path when >= 0. Counts each run's path in paths[3] (may be
 * NULL); returns the path of the run without parameters.
 */
sn_path tu_norm_check_against(const tu_norm_case *c, const tu_reference *ref, int *paths);
/* tu_norm_check_against the oracle. */
sn_path tu_norm_check(const tu_norm_case *c, int *paths);

/* Bitwise equality of two results, described by the case. */
void tu_norm_assert_same(const tu_norm_case *c, int affine, const tu_result *a,
                         const tu_result *b, const char *what);
/* The same under a free-form description (seed and ISA are prepended). */
void tu_assert_same_described(const char *description, const tu_result *a, const tu_result *b,
                              const char *what);

/* Each of `count` buffers (names[i], sizes[i] bytes) still equals its copy
 * from before a failing call `what`. */
void tu_assert_unwritten(int count, const char *const *names, const void *const *now,
                         const void *const *before, const size_t *sizes, const char *what);

/* "name: data=... dtype=... rank=... dims=[...] strides=[...]" or "name=NULL". */
void tu_format_tensor(char *out, size_t size, const char *name, const sn_tensor *t);

#endif
