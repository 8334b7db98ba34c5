/* Independent float64 reference for the tests: a textbook two-pass
 * computation in double over an N-d strided float32 tensor, sharing no code
 * with the library. */
#ifndef SN_TEST_ORACLE_H
#define SN_TEST_ORACLE_H

#include "simdnorm.h"

/* Layer norm over `axis` (resolved, >= 0) of x. Writes, for every element of x
 * in row-major order of x's dims, the normalized value before scale and bias
 * (`normalized`) and the final value (`expected`); `mean` and `rstd` per
 * group (row-major over the other axes). Any output may be NULL.
 * A group with no elements, or with zero variance and epsilon 0, has rstd 0
 * (the library's documented convention), so its normalized values are 0. */
void oracle_layer_norm(const sn_tensor *x, int axis, const float *scale, const float *bias,
                       double epsilon, double *normalized, double *expected, double *mean,
                       double *rstd);

/* The generic layer (sn_norm) in float64. */
typedef struct oracle_norm_spec {
    unsigned reduce;          /* reduced axes (bit i = axis i) */
    unsigned params;          /* axes scale and bias vary along */
    const float *scale;       /* dense row-major over the param axes in tensor order, or NULL */
    const float *bias;        /* likewise, or NULL */
    double epsilon;
    const int *seq_lens;      /* valid lengths per batch index along time_axis, or NULL */
    int batch_axis, time_axis;
    int zero_masked;          /* padded positions output 0 (else normalized with the group's
                                 statistics) */
} oracle_norm_spec;

/*
 * Normalization of x over the axes of spec->reduce, one group per position of
 * the other axes (groups numbered row-major over x's dims with the reduced
 * axes removed). With seq_lens, an element with t >= seq_lens[b] (t, b its
 * indices along time_axis and batch_axis) is padded: left out of its group's
 * statistics, and its output is 0 when zero_masked. A group with no valid
 * element has mean 0 and rstd 0; rstd is also 0 where var + epsilon == 0.
 * NaN or Inf among a group's valid elements makes its mean, rstd and outputs
 * NaN (the library's convention; the mean of finite data would be infinite).
 * Writes per element in row-major order `normalized` (before scale and bias),
 * `expected` (final) and `valid` (1 unless padded); per group `mean` and
 * `rstd`. Any output may be NULL.
 */
void oracle_norm(const sn_tensor *x, const oracle_norm_spec *spec, double *normalized,
                 double *expected, double *mean, double *rstd, unsigned char *valid);

/*
 * Standard group normalization (PyTorch/ONNX GroupNorm): axis 0 is the batch,
 * `channel_axis` holds C channels in `groups` groups of C / groups adjacent
 * channels, every other axis is spatial; statistics per (n, group), numbered
 * row-major; scale and bias ([C], or NULL) per channel. Outputs as
 * oracle_norm's.
 */
void oracle_group_norm(const sn_tensor *x, int channel_axis, ptrdiff_t groups, const float *scale,
                       const float *bias, double epsilon, double *normalized, double *expected,
                       double *mean, double *rstd);

/* Element offset of row-major position `index` of t (its strides applied). */
ptrdiff_t oracle_offset(const sn_tensor *t, ptrdiff_t index);
/* Element at row-major position `index` of t. */
float oracle_get(const sn_tensor *t, ptrdiff_t index);

#endif
