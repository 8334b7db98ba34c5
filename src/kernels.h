/*
 * The kernel table: one read-only struct of function pointers per ISA.
 *
 * Kernels compute, drivers decide. A kernel is single-threaded, takes plain
 * pointers and lengths, never allocates and never fails. Blocking, merging
 * order, threading and scratch memory belong to the drivers (the layer files in src/).
 *
 * Adding an ISA: a folder src/<isa>/ with <op>_<isa>.c files compiled with
 * only that ISA's flags, one table definition below, one line in dispatch.c.
 * Adding an element type: new slots here, next to the f32 ones.
 */
#ifndef SN_KERNELS_H
#define SN_KERNELS_H

#include <stddef.h>

#include "stats.h"

/* Longest contiguous run one row_moments call sees: a row block stays in L1
 * for the second pass, and bounds the float rounding of the first pass. */
#define SN_ROW_BLOCK 4096
/* Column kernels: at most this many rows per call, at most this many columns. */
#define SN_COL_BLOCK_ROWS 64
#define SN_COL_BLOCK_WIDTH 64

/* Pass 2 of the moments kernels sums deviations and their squares in float
 * partial sums of at most SN_PASS2_TERMS terms, folded into double: each
 * partial rounds by ~16u and, for deviations below 1e18, stays far below
 * FLT_MAX. Squares of deviations below ~1e-19 underflow float, so a block
 * whose mean square is below 1 / SN_PASS2_RESCALE is summed again with its
 * deviations multiplied by SN_PASS2_RESCALE (a power of 2: exact). */
#define SN_PASS2_TERMS 16
#define SN_PASS2_RESCALE 0x1p100f

/* Row moments read a block once, two ways by length:
 * - up to SN_ONE_PASS_MAX elements, power sums in double (see
 *   sn_moments_from_power_sums): no chain of dependent passes, which on short
 *   rows is most of the time;
 * - longer, pass 2 of the two-pass algorithm (deviations from a provisional
 *   center C, sn_pass2_center, and their squares, float partials) over the
 *   whole block, with C from its first SN_CENTER_PREFIX elements: float
 *   throughput (the conversions to double cost more than the latency on long
 *   blocks). That center lies within a standard deviation of the mean for any
 *   but contrived data (its own error is about a tenth of one), and then the
 *   float partials round at most twice as much as around the exact mean
 *   (sn_center_serves).
 * Either falls back to the full two-pass algorithm, on the block still in
 * cache, where it cannot serve (an outlier first element, NaN or Inf).
 * Rows of 256 took the power sums until pass 2 cost one subtraction an
 * element (sn_pass2_center); since, pass 2 is faster there ([8192,256]:
 * AVX-512 43-45 -> 46-48 GB/s, AVX2 33-34 -> 40-41 at 1 thread). */
#define SN_ONE_PASS_MAX 128
#define SN_CENTER_PREFIX 128
_Static_assert(SN_ONE_PASS_MAX >= SN_CENTER_PREFIX,
               "longer rows take their center from a prefix of SN_CENTER_PREFIX elements");

/* Whether pass 2's sums around a provisional center stand: n e^2 <= m2 for the
 * center's error e = sum_dev / n, i.e. the center lies within a standard
 * deviation of the mean and sum_sq is at most twice the block's m2, so its
 * float partials round at most twice as much, relative to m2, as around the
 * exact mean; finite (NaN and Inf go the full two-pass way, which defines
 * their results); and no underflowing squares (else the rescaled pass). */
static inline int sn_center_serves(double n, double sum_dev, double sum_sq)
{
    return sum_sq * SN_PASS2_RESCALE >= n && sum_sq <= 1.0e300 &&
           2.0 * sum_dev * (sum_dev / n) <= sum_sq;
}

/* Moments from pass 2's sums for `count` lanes (or rows) of n elements each,
 * lane j about shift[j] and center[j], where the center serves: out[j] and
 * fallback[j] = 0; elsewhere fallback[j] = 1, out[j] untouched. Returns
 * whether any falls back. The scalar definition of the lanes_moments kernel
 * (below) and the finish of a batch of rows. */
static inline int sn_lanes_moments_of(size_t count, double n, const float *shift,
                                      const float *center, const double *sum_dev,
                                      const double *sum_sq, sn_moments *out, int *fallback)
{
    int any = 0;
    for (size_t j = 0; j < count; j++) {
        fallback[j] = !sn_center_serves(n, sum_dev[j], sum_sq[j]);
        if (!fallback[j])
            out[j] = sn_moments_from_sums(n, shift[j], center[j], sum_dev[j], sum_sq[j]);
        any |= fallback[j];
    }
    return any;
}

/* Rows a rows_moments call reduces at most: a batch of short rows (engine.h). */
#define SN_ROWS_BATCH 4

/* Defines sn_row_moments_f32_<isa> and sn_rows_moments_f32_<isa> (the same
 * recipe for a batch of rows, step by step; their bodies are also the inline
 * row_moments_of and rows_moments_of, which SN_DEFINE_ROWS_NORM builds on)
 * from the static functions of the ISA's moments file:
 *   row_power_sums(x, n, shift, &s1, &s2)           one pass, in double
 *   row_deviation_sums(x, n, shift, center, &d, &q) pass 2, scale 1
 *   row_center(x, n, shift)                         pass 1: float center
 *   row_finish(x, n, shift, center)                 pass 2 (rescued), moments */
#define SN_DEFINE_ROW_MOMENTS(isa)                                                          \
    static inline __attribute__((always_inline)) void row_moments_of(                      \
        const float *x, size_t n, float shift, sn_moments *out)                             \
    {                                                                                       \
        if (n <= SN_ONE_PASS_MAX) {                                                         \
            double s1, s2;                                                                  \
            row_power_sums(x, n, shift, &s1, &s2);                                          \
            if (sn_moments_from_power_sums((double)n, s1, s2, out))                         \
                return;                                                                     \
        } else {                                                                            \
            float center = row_center(x, SN_CENTER_PREFIX, shift);                          \
            double sum_dev, sum_sq;                                                         \
            row_deviation_sums(x, n, shift, center, &sum_dev, &sum_sq);                     \
            if (sn_center_serves((double)n, sum_dev, sum_sq)) {                             \
                *out = sn_moments_from_sums((double)n, shift, center, sum_dev, sum_sq);     \
                return;                                                                     \
            }                                                                               \
        }                                                                                   \
        *out = row_finish(x, n, shift, row_center(x, n, shift));                            \
    }                                                                                       \
    void sn_row_moments_f32_##isa(const float *x, size_t n, float shift, sn_moments *out)   \
    {                                                                                       \
        row_moments_of(x, n, shift, out);                                                   \
    }                                                                                       \
    static inline __attribute__((always_inline)) void rows_moments_of(                     \
        const float *x, ptrdiff_t stride, size_t rows, size_t n, const float *shift,        \
        sn_moments *out)                                                                    \
    {                                                                                       \
        double sum1[SN_ROWS_BATCH], sum2[SN_ROWS_BATCH];                                    \
        float center[SN_ROWS_BATCH];                                                        \
        int fallback[SN_ROWS_BATCH];                                                        \
        if (n <= SN_ONE_PASS_MAX) {                                                         \
            for (size_t r = 0; r < rows; r++)                                               \
                row_power_sums(x + (ptrdiff_t)r * stride, n, shift[r], &sum1[r], &sum2[r]); \
            for (size_t r = 0; r < rows; r++)                                               \
                fallback[r] = !sn_moments_from_power_sums((double)n, sum1[r], sum2[r],      \
                                                          &out[r]);                         \
        } else {                                                                            \
            for (size_t r = 0; r < rows; r++)                                               \
                center[r] = row_center(x + (ptrdiff_t)r * stride, SN_CENTER_PREFIX, shift[r]); \
            for (size_t r = 0; r < rows; r++)                                               \
                row_deviation_sums(x + (ptrdiff_t)r * stride, n, shift[r], center[r],       \
                                   &sum1[r], &sum2[r]);                                     \
            sn_lanes_moments_of(rows, (double)n, shift, center, sum1, sum2, out, fallback);  \
        }                                                                                   \
        for (size_t r = 0; r < rows; r++)                                                   \
            if (fallback[r]) {                                                              \
                const float *row = x + (ptrdiff_t)r * stride;                               \
                out[r] = row_finish(row, n, shift[r], row_center(row, n, shift[r]));        \
            }                                                                               \
    }                                                                                       \
    void sn_rows_moments_f32_##isa(const float *x, ptrdiff_t stride, size_t rows, size_t n, \
                                   const float *shift, sn_moments *out)                     \
    {                                                                                       \
        rows_moments_of(x, stride, rows, n, shift, out);                                    \
    }

/* Moments of x[0..n) relative to `shift`, 0 < n <= SN_ROW_BLOCK. */
typedef void (*sn_row_moments_f32_fn)(const float *x, size_t n, float shift, sn_moments *out);

/* row_moments of `rows` rows (2 to SN_ROWS_BATCH), row r at x + r * stride,
 * relative to shift[r], into out[r], with the same arithmetic for each row,
 * but each step taken for every row before the next step: a row alone is a
 * chain (its center before its pass 2, reductions and a division at its
 * end), and the chains of rows in cache overlap only when their steps are
 * issued side by side (768-element rows: 32.5 ns a row one by one, 24.6 ns
 * four at a time). */
typedef void (*sn_rows_moments_f32_fn)(const float *x, ptrdiff_t stride, size_t rows, size_t n,
                                       const float *shift, sn_moments *out);

/* y[i] = ((x[i] - shift) - mean) * rstd, then * scale[i * param_step] and
 * + bias[i * param_step] when those are not NULL (each is optional on its own).
 * param_step is 1 (a parameter per element) or 0 (one scale and one bias for
 * the whole run, broadcast). y may equal x.
 * stream != 0 asks for non-temporal (streaming) stores of y, for outputs far
 * larger than the last-level cache: they skip the read-for-ownership of every
 * y line and do not evict the data still to be read. Streamed stores are
 * weakly ordered: the caller issues store_fence on the same thread before y
 * is read by anyone (not per call: a fence waits for the stores to reach
 * memory, which on 768-element rows cost more than streaming saved). The
 * flag changes no value; a kernel may ignore it (scalar, NEON). */
typedef void (*sn_row_normalize_f32_fn)(const float *x, float *y, size_t n, float shift,
                                        float mean, float rstd, const float *scale,
                                        const float *bias, ptrdiff_t param_step, int stream);

/* row_normalize of `rows` rows (2 to SN_ROWS_BATCH) with the same per-element
 * scale and bias (param_step 1, either may be NULL): row r from x + r *
 * x_stride to y + r * y_stride, with shift[r], mean[r] and rstd[r]; the same
 * values as row by row. A kernel may normalize the rows together, loading
 * each vector of scale and bias once for all of them (a row in cache is
 * bound by its loads: 768 elements, 22.4 ns a row alone, 17.8 in fours), or
 * row by row (SN_DEFINE_ROWS_NORMALIZE_BY_ROW). stream as for row_normalize.
 * The engine's callers: a batch of single-run groups, and a few runs of one
 * group, in cache or where the output streams (normalize_rows.c). */
typedef void (*sn_rows_normalize_f32_fn)(const float *x, ptrdiff_t x_stride, float *y,
                                         ptrdiff_t y_stride, size_t rows, size_t n,
                                         const float *shift, const float *mean,
                                         const float *rstd, const float *scale,
                                         const float *bias, int stream);

/* rows_normalize as row_normalize row by row: the whole kernel of the ISAs
 * that define it with SN_DEFINE_ROWS_NORMALIZE_BY_ROW, the fallback of the
 * others. */
static inline void sn_rows_normalize_by_row(sn_row_normalize_f32_fn row_normalize,
                                            const float *x, ptrdiff_t x_stride, float *y,
                                            ptrdiff_t y_stride, size_t rows, size_t n,
                                            const float *shift, const float *mean,
                                            const float *rstd, const float *scale,
                                            const float *bias, int stream)
{
    for (size_t r = 0; r < rows; r++)
        row_normalize(x + (ptrdiff_t)r * x_stride, y + (ptrdiff_t)r * y_stride, n, shift[r],
                      mean[r], rstd[r], scale, bias, 1, stream);
}

#define SN_DEFINE_ROWS_NORMALIZE_BY_ROW(isa)                                                 \
    void sn_rows_normalize_f32_##isa(const float *x, ptrdiff_t x_stride, float *y,           \
                                     ptrdiff_t y_stride, size_t rows, size_t n,              \
                                     const float *shift, const float *mean,                  \
                                     const float *rstd, const float *scale,                  \
                                     const float *bias, int stream)                          \
    {                                                                                        \
        sn_rows_normalize_by_row(sn_row_normalize_f32_##isa, x, x_stride, y, y_stride, rows, \
                                 n, shift, mean, rstd, scale, bias, stream);                 \
    }

/* Whole rows, each a group of its own, one stride apart in x and in y (layer
 * norm's rows, and any unmasked rows along one outer axis), normalized end
 * to end by one rows_norm call: a batch's statistics side by side
 * (rows_moments), each row's constants (sn_group_constants_of), then its
 * normalization (row_normalize, or rows_normalize for a batch whose rows
 * share scale and bias) - exactly the steps, and bits, of the engine's
 * general path. One call for a thread's chunk of rows, the steps between
 * the kernels compiled with the ISA's flags and the statistics inlined:
 * against the same kernels called from the engine batch by batch, layer
 * norm took 0.95-0.96 of the time on [3200,512] and [4096,256] at 1 and 2
 * threads, 0.90 on [8192,256] at 1 thread, 0.93-0.97 on [64,512] in cache,
 * norm "F" [32,200,512] 0.90-0.95 (AVX-512, per-call pairs in both orders,
 * Zen 4 VM); single-row batches ([3000,768]) 0.98-0.99. */
typedef struct sn_rows_work {
    const float *x;
    ptrdiff_t x_stride;
    float *y;
    ptrdiff_t y_stride;
    size_t rows;               /* rows in this call */
    size_t n;                  /* elements a row, 1 to SN_ROW_BLOCK */
    size_t batch;              /* rows a batch: 1 to SN_ROWS_BATCH */
    int together;              /* a batch's rows share scale and bias: rows_normalize */
    int stream;                /* as for row_normalize */
    double epsilon;
    const float *scale, *bias; /* the first row's parameters, either may be NULL */
    ptrdiff_t param_stride;    /* from one row's parameters to the next row's */
    ptrdiff_t param_step;      /* along a row: 1, or 0 (one value for the row) */
    float *mean, *rstd;        /* the rows' outputs (center and rstd), one a row, or NULL */
} sn_rows_work;

typedef void (*sn_rows_norm_f32_fn)(const sn_rows_work *w);

/* Defines sn_rows_norm_f32_<isa> in the ISA's moments file, after
 * SN_DEFINE_ROW_MOMENTS, from rows_moments_of and the ISA's normalize
 * kernels. */
#define SN_DEFINE_ROWS_NORM(isa)                                                             \
    void sn_rows_norm_f32_##isa(const sn_rows_work *w)                                       \
    {                                                                                        \
        for (size_t first = 0; first < w->rows; first += w->batch) {                         \
            const size_t count = w->rows - first < w->batch ? w->rows - first : w->batch;    \
            const float *x = w->x + (ptrdiff_t)first * w->x_stride;                          \
            float *y = w->y + (ptrdiff_t)first * w->y_stride;                                \
            float shift[SN_ROWS_BATCH], center[SN_ROWS_BATCH], residual[SN_ROWS_BATCH];      \
            float rstd[SN_ROWS_BATCH];                                                       \
            sn_moments m[SN_ROWS_BATCH];                                                     \
            for (size_t r = 0; r < count; r++)                                               \
                shift[r] = x[(ptrdiff_t)r * w->x_stride];                                    \
            if (count > 1)                                                                   \
                rows_moments_of(x, w->x_stride, count, w->n, shift, m);                      \
            else                                                                             \
                row_moments_of(x, w->n, shift[0], m);                                        \
            if (w->together && count > 1) {                                                  \
                for (size_t r = 0; r < count; r++)                                           \
                    sn_rows_constants(w, first + r, &m[r], shift[r], &center[r],             \
                                      &residual[r], &rstd[r]);                               \
                sn_rows_normalize_f32_##isa(x, w->x_stride, y, w->y_stride, count, w->n,     \
                                            center, residual, rstd, w->scale, w->bias,       \
                                            w->stream);                                      \
                continue;                                                                    \
            }                                                                                \
            /* Each row's constants right before its normalization: a row's output         \
             * does not wait for the batch's last square root. */                          \
            for (size_t r = 0; r < count; r++) {                                             \
                sn_rows_constants(w, first + r, &m[r], shift[r], &center[r], &residual[r],   \
                                  &rstd[r]);                                                 \
                const ptrdiff_t p = (ptrdiff_t)(first + r) * w->param_stride;                \
                sn_row_normalize_f32_##isa(x + (ptrdiff_t)r * w->x_stride,                   \
                                           y + (ptrdiff_t)r * w->y_stride, w->n, center[r],  \
                                           residual[r], rstd[r],                             \
                                           w->scale ? w->scale + p : NULL,                   \
                                           w->bias ? w->bias + p : NULL, w->param_step,      \
                                           w->stream);                                       \
            }                                                                                \
        }                                                                                    \
    }

/* Row `row`'s constants (sn_group_constants_of), and its optional mean (the
 * center) and rstd outputs. */
static inline void sn_rows_constants(const sn_rows_work *w, size_t row, const sn_moments *m,
                                     float shift, float *center, float *residual, float *rstd)
{
    sn_group_constants_of(m, shift, w->epsilon, center, residual, rstd);
    if (w->mean)
        w->mean[row] = *center;
    if (w->rstd)
        w->rstd[row] = *rstd;
}

/* Per-column moments of a rows x width panel (row i starts at x + i * stride),
 * relative to shift[j]; rows <= SN_COL_BLOCK_ROWS, width <= SN_COL_BLOCK_WIDTH. */
typedef void (*sn_col_moments_f32_fn)(const float *x, ptrdiff_t stride, size_t rows,
                                      size_t width, const float *shift, sn_moments *out);

/* Pass 2 for columns, any width: adds to sum_dev[j] and sum_sq[j] the sums of
 * the deviations x - sn_pass2_center(shift[j], center[j]) of column j of a
 * rows x width panel (row i starts at x + i * stride) and of their squares,
 * in float partials of SN_COL_STREAM_ROWS rows folded into double. Rows are walked
 * across the whole width, SN_COL_STREAM_ROWS rows at a time: that many
 * sequential streams in flight, each row read in order. The caller picks the
 * centers and checks them (sn_center_serves). Strips of 16 rows instead of 8
 * fold the partials into double half as often, and make the pipelined steps
 * of streamed panels 16 rows (norm T on [32,200,512], AVX-512, per-call
 * pairs: 0.93-0.95 of the time at 1 thread, 0.94 at 2; AVX2 and batch norm
 * training unchanged). */
#define SN_COL_STREAM_ROWS 16
_Static_assert(SN_COL_STREAM_ROWS <= SN_PASS2_TERMS,
               "a strip's float partials sum at most SN_PASS2_TERMS terms");
typedef void (*sn_col_deviation_sums_f32_fn)(const float *x, ptrdiff_t stride, size_t rows,
                                             size_t width, const float *shift,
                                             const float *center, double *sum_dev,
                                             double *sum_sq);

/* Panel version of row_normalize: y[i][j] = ((x[i][j] - shift[j]) - mean[j]) * rstd[j],
 * then * scale[p] and + bias[p] when not NULL, p = i * param_row_step + j * param_col_step.
 * param_col_step is 0 or 1, param_row_step any value >= 0: (1, 0) a parameter per
 * row, broadcast across the lanes; (0, 1) one per column (vector loads); (0, 0) one
 * for the whole panel; (F, 1) a 2-D table whose rows are F apart. y may equal x.
 * stream as for row_normalize (the caller fences). */
typedef void (*sn_col_normalize_f32_fn)(const float *x, ptrdiff_t x_stride, float *y,
                                        ptrdiff_t y_stride, size_t rows, size_t width,
                                        const float *shift, const float *mean,
                                        const float *rstd, const float *scale,
                                        const float *bias, ptrdiff_t param_row_step,
                                        ptrdiff_t param_col_step, int stream);

/* The panel normalization with each column's constants folded:
 * y[i][j] = (x[i][j] - center[j]) * a[j] + b[j] (one fused multiply-add where
 * the ISA has it), for panels whose parameters do not vary along the rows:
 * four streams a vector instead of the six of col_normalize. stream as for
 * row_normalize. With `ahead`, the row of `width` floats at ahead + i *
 * x_stride is prefetched into L2, a line per vector, while row i is
 * normalized: the rows of the next panel that the caller's pass 2 reads next
 * (the scalar reference does not prefetch). */
typedef void (*sn_col_scale_shift_f32_fn)(const float *x, ptrdiff_t x_stride, float *y,
                                          ptrdiff_t y_stride, size_t rows, size_t width,
                                          const float *center, const float *a, const float *b,
                                          int stream, const float *ahead);

/* sn_group_constants_of for groups [0, count): their moments m, about their
 * shifts, into three arrays, with the same bits. Vector ISAs take several
 * groups per division and square root: the finishing of a panel's lanes (a
 * group each) is otherwise bound by the divider. */
typedef void (*sn_group_constants_fn)(size_t count, const sn_moments *m, const float *shift,
                                      double epsilon, float *center, float *residual,
                                      float *rstd);

/* sn_moments_from_sums for `count` lanes of n > 0 rows each, lane j about
 * shift[j] and center[j], where sn_center_serves(n, sum_dev[j], sum_sq[j]):
 * out[j] written and fallback[j] = 0; elsewhere fallback[j] = 1 and out[j]
 * untouched (the caller computes those lanes another way). Returns whether
 * any lane falls back. The same bits as the scalar definition; vector ISAs
 * take several lanes per division, as group_constants does. */
typedef int (*sn_lanes_moments_fn)(size_t count, double n, const float *shift,
                                   const float *center, const double *sum_dev,
                                   const double *sum_sq, sn_moments *out, int *fallback);

/* The stores of `width` lanes a vector kernel computed together: the moments
 * (mean[j], m2[j]) of the lanes whose bit is set in `serves`, and every
 * lane's fallback flag. Returns whether any lane falls back. */
static inline int sn_lanes_moments_store(size_t width, unsigned serves, double n,
                                         const double *mean, const double *m2, sn_moments *out,
                                         int *fallback)
{
    for (size_t j = 0; j < width; j++) {
        int serving = serves >> j & 1;
        fallback[j] = !serving;
        if (serving)
            out[j] = (sn_moments){ n, mean[j], m2[j] };
    }
    return serves != (1u << width) - 1u;
}

/* Orders the calling thread's streamed stores (row_normalize's stream) before
 * its later stores and before any other thread reads them; a no-op for
 * kernels that never stream. */
typedef void (*sn_store_fence_fn)(void);

typedef struct sn_kernels {
    sn_row_moments_f32_fn row_moments_f32;
    sn_rows_moments_f32_fn rows_moments_f32;
    sn_row_normalize_f32_fn row_normalize_f32;
    sn_rows_normalize_f32_fn rows_normalize_f32;
    sn_col_moments_f32_fn col_moments_f32;
    sn_col_deviation_sums_f32_fn col_deviation_sums_f32;
    sn_col_normalize_f32_fn col_normalize_f32;
    sn_col_scale_shift_f32_fn col_scale_shift_f32;
    sn_group_constants_fn group_constants;
    sn_lanes_moments_fn lanes_moments;
    sn_store_fence_fn store_fence;
    sn_rows_norm_f32_fn rows_norm_f32;
} sn_kernels;

#define SN_DECLARE_KERNELS(isa)                                                              \
    void sn_row_moments_f32_##isa(const float *x, size_t n, float shift, sn_moments *out);   \
    void sn_rows_moments_f32_##isa(const float *x, ptrdiff_t stride, size_t rows, size_t n,  \
                                   const float *shift, sn_moments *out);                     \
    void sn_row_normalize_f32_##isa(const float *x, float *y, size_t n, float shift,         \
                                    float mean, float rstd, const float *scale,              \
                                    const float *bias, ptrdiff_t param_step, int stream);    \
    void sn_rows_normalize_f32_##isa(const float *x, ptrdiff_t x_stride, float *y,           \
                                     ptrdiff_t y_stride, size_t rows, size_t n,              \
                                     const float *shift, const float *mean,                  \
                                     const float *rstd, const float *scale,                  \
                                     const float *bias, int stream);                         \
    void sn_col_moments_f32_##isa(const float *x, ptrdiff_t stride, size_t rows,             \
                                  size_t width, const float *shift, sn_moments *out);        \
    void sn_col_deviation_sums_f32_##isa(const float *x, ptrdiff_t stride, size_t rows,      \
                                         size_t width, const float *shift,                   \
                                         const float *center, double *sum_dev,               \
                                         double *sum_sq);                                    \
    void sn_col_normalize_f32_##isa(const float *x, ptrdiff_t x_stride, float *y,            \
                                    ptrdiff_t y_stride, size_t rows, size_t width,           \
                                    const float *shift, const float *mean,                   \
                                    const float *rstd, const float *scale,                   \
                                    const float *bias, ptrdiff_t param_row_step,             \
                                    ptrdiff_t param_col_step, int stream);                   \
    void sn_col_scale_shift_f32_##isa(const float *x, ptrdiff_t x_stride, float *y,          \
                                      ptrdiff_t y_stride, size_t rows, size_t width,         \
                                      const float *center, const float *a, const float *b,   \
                                      int stream, const float *ahead);                       \
    void sn_group_constants_##isa(size_t count, const sn_moments *m, const float *shift,     \
                                  double epsilon, float *center, float *residual,            \
                                  float *rstd);                                              \
    int sn_lanes_moments_##isa(size_t count, double n, const float *shift,                   \
                               const float *center, const double *sum_dev,                   \
                               const double *sum_sq, sn_moments *out, int *fallback);        \
    void sn_store_fence_##isa(void);                                                         \
    void sn_rows_norm_f32_##isa(const sn_rows_work *w);                                      \
    extern const sn_kernels sn_kernels_##isa;

SN_DECLARE_KERNELS(scalar)
SN_DECLARE_KERNELS(avx2)
SN_DECLARE_KERNELS(avx512)
SN_DECLARE_KERNELS(neon)

#define SN_DEFINE_KERNELS(isa)                                                               \
    const sn_kernels sn_kernels_##isa = {                                                    \
        sn_row_moments_f32_##isa,                                                            \
        sn_rows_moments_f32_##isa,                                                           \
        sn_row_normalize_f32_##isa,                                                          \
        sn_rows_normalize_f32_##isa,                                                         \
        sn_col_moments_f32_##isa,                                                            \
        sn_col_deviation_sums_f32_##isa,                                                     \
        sn_col_normalize_f32_##isa,                                                          \
        sn_col_scale_shift_f32_##isa,                                                        \
        sn_group_constants_##isa,                                                            \
        sn_lanes_moments_##isa,                                                              \
        sn_store_fence_##isa,                                                                \
        sn_rows_norm_f32_##isa,                                                              \
    };

#endif
