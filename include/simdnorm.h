/*
 * simdnorm: normalization layers for CPUs (layer norm, generic norm, batch norm)
 * computed by SIMD kernels chosen at run time, parallelized with OpenMP.
 *
 * The whole public API is in this header. It is C89-friendly (no // comments,
 * no inline, no bool) and usable from C++.
 *
 * Conventions
 *  - Every entry point returns an sn_status; sn_status_string() turns it into
 *    text. On any error nothing is written to any output.
 *  - Tensors are views (sn_tensor): data pointer, element type, rank 1..8,
 *    dims and strides counted in elements. sn_tensor_dense() builds the common
 *    dense row-major view in one line.
 *  - Options are plain structs with *_DEFAULTS initializers; passing NULL for
 *    an options pointer means the defaults.
 */
#ifndef SIMDNORM_H
#define SIMDNORM_H

#include <stddef.h>

#define SN_VERSION_MAJOR 0
#define SN_VERSION_MINOR 1
#define SN_VERSION_PATCH 0
#define SN_VERSION_STRING "0.1.0"
/** Version as one comparable number: major * 10000 + minor * 100 + patch. */
#define SN_VERSION (SN_VERSION_MAJOR * 10000 + SN_VERSION_MINOR * 100 + SN_VERSION_PATCH)

/** Largest tensor rank accepted. */
#define SN_MAX_RANK 8

#if defined(_WIN32) && defined(SN_BUILDING_SHARED)
#define SN_API __declspec(dllexport)
#elif defined(__GNUC__)
#define SN_API __attribute__((visibility("default")))
#else
#define SN_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Status of a call. SN_OK is zero; every error has its own code. */
typedef enum sn_status {
    SN_OK = 0,
    SN_ERR_NULL_POINTER,     /**< a required pointer is NULL */
    SN_ERR_RANK,             /**< rank outside 1..SN_MAX_RANK */
    SN_ERR_NEGATIVE_DIM,     /**< a dimension is negative */
    SN_ERR_NEGATIVE_STRIDE,  /**< a stride is negative (not supported) */
    SN_ERR_SIZE_OVERFLOW,    /**< dims times strides overflow the address space */
    SN_ERR_DTYPE,            /**< element type not supported by this entry point */
    SN_ERR_SHAPE_MISMATCH,   /**< input and output (or parameter) shapes differ */
    SN_ERR_AXIS,             /**< axis index out of range */
    SN_ERR_EPSILON,          /**< epsilon negative, NaN or infinite */
    SN_ERR_ALIAS,            /**< output overlaps the input without being exactly in place,
                                  or overlaps itself */
    SN_ERR_ISA_UNKNOWN,      /**< not one of the sn_isa values / names */
    SN_ERR_ISA_UNSUPPORTED,  /**< this CPU (or this build) cannot run that ISA */
    SN_ERR_THREADS,          /**< thread count negative */
    SN_ERR_OUT_OF_MEMORY,    /**< scratch memory could not be allocated */
    SN_ERR_LAYOUT,           /**< layout string is not one B/T/F/S letter per axis (at most
                                  one B, T and F) */
    SN_ERR_AXES_DESCRIPTION, /**< an axis description could not be parsed or matched
                                  (sn_last_error_detail names the text) */
    SN_ERR_EMPTY_AXES,       /**< no axis to normalize over */
    SN_ERR_PARAM_SHAPE,      /**< param_shape names an axis twice, a batch or time axis, or is
                                  given with neither scale nor bias */
    SN_ERR_SEQ_LENS,         /**< a sequence length is negative or above the time dim */
    SN_ERR_MASK_LAYOUT,      /**< masking needs a layout with B and T, and a reduced batch
                                  axis needs the time axis reduced too */
    SN_ERR_MOMENTUM,         /**< batch norm momentum outside [0, 1] or NaN */
    SN_ERR_USE_SAMPLE,       /**< batch norm use_sample outside [0, 1] or NaN */
    SN_ERR_PARAM_VERSION,    /**< batch norm param_version not 0, 1 or 2 */
    SN_ERR_INIT_VALUE,       /**< gamma_init / beta_init text is not a number, "zeros" or "ones" */
    SN_ERR_MASKED_TIME,      /**< sequence lengths given to batch norm under the "current"
                                  preset without masked_time set explicitly */
    SN_ERR_CORRECTION,       /**< variance correction negative or NaN */
    SN_ERR_MASK_MODE,        /**< not an sn_mask_mode */
    SN_ERR_PLAN_MISMATCH,    /**< scale, bias or seq_lens given to a plan's execution where
                                  the plan was made without it, or the other way round */
    SN_STATUS_COUNT          /**< number of status codes (not a status) */
} sn_status;

/** A short English sentence for a status; never NULL. */
SN_API const char *sn_status_string(sn_status status);
/** Details of the calling thread's last call to sn_norm, sn_norm_plan_create,
 *  sn_norm_plan_execute, sn_layer_norm, sn_batch_norm, sn_batch_norm_init or
 *  sn_axes_parse when it failed with an error that has them (the offending
 *  text of an axis description or layout, the bad sequence length, ...); ""
 *  otherwise. */
SN_API const char *sn_last_error_detail(void);

/** The library's version string, e.g. "0.1.0" (the shared library's, which may
 *  differ from SN_VERSION_STRING of the header a program was compiled with). */
SN_API const char *sn_version_string(void);
/** The library's version as SN_VERSION computes it. */
SN_API int sn_version(void);

/* ------------------------------------------------------------------ tensors */

/** Element types. Only SN_FLOAT32 is computed for now. */
typedef enum sn_dtype {
    SN_FLOAT32 = 0
} sn_dtype;

/** A strided view of a tensor. dims and strides are in elements; only the
 *  first `rank` entries are read. Strides may be 0 on an input (broadcast),
 *  must be >= 0, and an output must not overlap itself. */
typedef struct sn_tensor {
    void *data;
    sn_dtype dtype;
    int rank;
    ptrdiff_t dims[SN_MAX_RANK];
    ptrdiff_t strides[SN_MAX_RANK];
} sn_tensor;

/** A dense row-major view of `data` with the given dims (strides computed).
 *  A rank outside 1..SN_MAX_RANK is kept as given so that the call using the
 *  view reports SN_ERR_RANK. */
SN_API sn_tensor sn_tensor_dense(void *data, sn_dtype dtype, int rank, const ptrdiff_t *dims);

/* ---------------------------------------------------- ISA and threading */

/** Instruction sets, in the order used for capping (higher = wider). NEON
 *  exists only on AArch64 and AVX2/AVX-512 only on x86-64. */
typedef enum sn_isa {
    SN_ISA_SCALAR = 0,  /**< portable C, any CPU */
    SN_ISA_AVX2 = 1,    /**< AVX2 + FMA */
    SN_ISA_AVX512 = 2,  /**< AVX-512 F, BW, VL, DQ */
    SN_ISA_NEON = 3,    /**< AArch64 Advanced SIMD */
    SN_ISA_AUTO = -1    /**< for sn_set_isa: forget the API cap */
} sn_isa;

/** The ISA whose kernels run now (after detection and every cap). */
SN_API sn_isa sn_get_isa(void);
/** Cap the ISA through the API: `isa` itself is used; SN_ISA_AUTO returns to
 *  the default (the best the CPU has, capped by SIMDNORM_ISA if set).
 *  SN_ERR_ISA_UNSUPPORTED if the CPU or build lacks it (nothing changes). */
SN_API sn_status sn_set_isa(sn_isa isa);
/** 1 if this CPU and build can run `isa`, else 0. */
SN_API int sn_isa_supported(sn_isa isa);
/** "scalar", "avx2", "avx512", "neon" (or "unknown"). */
SN_API const char *sn_isa_name(sn_isa isa);
/** Parse a name as above (case-insensitive); SN_ERR_ISA_UNKNOWN otherwise. */
SN_API sn_status sn_isa_from_name(const char *name, sn_isa *isa);

/** Threads used by the layers: n > 0 fixes the count; 0 follows OpenMP
 *  (omp_get_max_threads, i.e. OMP_NUM_THREADS). Small problems always run on
 *  the calling thread without entering a parallel region. */
SN_API sn_status sn_set_num_threads(int n);
/** The thread count a large problem would use now. */
SN_API int sn_get_num_threads(void);

/* --------------------------------------------------------- layer norm */

/** Options of sn_layer_norm. Start from SN_LAYER_NORM_DEFAULTS. */
typedef struct sn_layer_norm_options {
    int axis;            /**< axis normalized over; negative counts from the end (default -1) */
    float epsilon;       /**< added to the variance, >= 0 (default 1e-6) */
    const float *scale;  /**< [F] contiguous, F = dims[axis]; NULL means ones */
    const float *bias;   /**< [F] contiguous; NULL means zeros */
    float *mean;         /**< optional output: the mean of each group, dense row-major over
                              x's dims with `axis` removed (or NULL) */
    float *rstd;         /**< optional output: 1/sqrt(var + epsilon) of each group, same layout */
} sn_layer_norm_options;

#define SN_LAYER_NORM_DEFAULTS { -1, 1e-6f, NULL, NULL, NULL, NULL }

/**
 * Layer normalization over one axis of an N-d float32 tensor:
 *   y = (x - mean) / sqrt(var + epsilon) * scale + bias
 * with mean and biased variance over `axis`, per position of all other axes.
 * x and y must have the same dims; their strides may differ. y may be x
 * (same data and strides: in place); any other overlap is SN_ERR_ALIAS.
 * A group of size 0 has mean 0 and rstd 0. NaN or Inf in a group gives NaN
 * in that group's outputs only.
 */
SN_API sn_status sn_layer_norm(const sn_tensor *x, const sn_tensor *y,
                               const sn_layer_norm_options *options);

/** Layer norm of a dense [rows, features] float32 matrix over its last axis.
 *  scale and bias ([features]) may be NULL. y may equal x. */
SN_API sn_status sn_layer_norm_f32(const float *x, float *y, size_t rows, size_t features,
                                   const float *scale, const float *bias, float epsilon);

/* ----------------------------------------------------- axis descriptions */

/**
 * Parse a RETURNN axis description against a layout into a bitmask (bit i =
 * axis i). The layout has one letter per axis: B batch, T time (the axis
 * sequence lengths apply to), F feature, S any other spatial axis; e.g. "BTF",
 * "BFT", "BSSF" (channels-last image), "BFSS" (channels-first).
 * Descriptions, case-insensitive, several joined by commas (their union):
 *   B/batch, T/time, F/feature, any string of b, t, f ("TF");
 *   except_batch; except_time and static (all but B and T); spatial (all but
 *   B and F); spatial_except_time; * (all); dim:N (the one axis of size N,
 *   needs dims); spatial:I or s:I, except_batch:I (the I-th such axis,
 *   negative from the end).
 * Anything else is SN_ERR_AXES_DESCRIPTION with sn_last_error_detail()
 * naming the text. dims may be NULL unless dim:N is used.
 */
SN_API sn_status sn_axes_parse(const char *description, const char *layout,
                               const ptrdiff_t *dims, unsigned *mask);

/* ----------------------------------------------------- generic norm */

/** param_axes value meaning "the feature axis": 'F' of the layout, else the last axis. */
#define SN_AXES_DEFAULT 0xFFFFFFFFu

/** What happens with padded frames (t >= seq_lens[b]) when seq_lens is given. */
typedef enum sn_mask_mode {
    SN_MASK_EXCLUDE = 0,  /**< left out of the statistics, normalized with them (RETURNN) */
    SN_MASK_ZERO = 1,     /**< left out of the statistics, output 0 */
    SN_MASK_IGNORE = 2    /**< lengths ignored: every frame counts (RETURNN's older TF layer) */
} sn_mask_mode;

/** Options of sn_norm. Start from SN_NORM_DEFAULTS. */
typedef struct sn_norm_options {
    unsigned axes;            /**< reduced axes as a bitmask; 0: use axes_text */
    const char *axes_text;    /**< or a description (see sn_axes_parse), needs layout */
    const char *layout;       /**< role of each axis ("BTF", ...), or NULL */
    unsigned param_axes;      /**< axes scale/bias vary along (static axes only), 0 for scalars;
                                   default SN_AXES_DEFAULT (the feature axis) */
    const char *param_text;   /**< or a description; overrides param_axes when not NULL */
    float epsilon;            /**< added to the variance, >= 0 (default 1e-6) */
    const float *scale;       /**< dense row-major over the param axes in tensor order, or NULL */
    const float *bias;        /**< same shape as scale, or NULL */
    float *mean;              /**< optional output: per group, dense row-major over the
                                   non-reduced axes (x's shape with reduced axes of size 1) */
    float *rstd;              /**< optional output: 1/sqrt(var + epsilon), same layout */
    const int *seq_lens;      /**< [B] valid lengths along T (needs B and T in layout), or NULL */
    sn_mask_mode mask_mode;   /**< with seq_lens (default SN_MASK_EXCLUDE) */
} sn_norm_options;

#define SN_NORM_DEFAULTS \
    { 0, NULL, NULL, SN_AXES_DEFAULT, NULL, 1e-6f, NULL, NULL, NULL, NULL, NULL, SN_MASK_EXCLUDE }

/**
 * Generic normalization (RETURNN norm) over any set of axes of an N-d float32
 * tensor: y = (x - mean) / sqrt(var + epsilon) * scale + bias, statistics per
 * position of the non-reduced axes, scale/bias varying along param axes that
 * are independent of the reduced ones. Layer norm is axes = F; group norm with
 * one group is axes "TF" on [B,T,F] or "except_batch"; instance norm is axes
 * "T" on [B,T,F] (or the spatial axes of an image).
 * With seq_lens, padded frames are left out of the statistics; a group with
 * no valid frame has mean 0 and rstd 0 (its outputs are the bias, or 0 with
 * SN_MASK_ZERO). Same aliasing and error rules as sn_layer_norm.
 */
SN_API sn_status sn_norm(const sn_tensor *x, const sn_tensor *y, const sn_norm_options *options);

/* ------------------------------------------------------- planned calls */

/** An sn_norm call validated and planned once, to be executed on many arrays
 *  of the same shapes and strides (a model's layer called step after step):
 *  each execution skips the checks of shapes, axes and options and the
 *  planning, about a third of a call on a few rows. Immutable once made:
 *  several threads may execute one plan at the same time. The ISA and the
 *  thread count are not planned: each execution uses those of its moment. */
typedef struct sn_norm_plan sn_norm_plan;

/**
 * Plans sn_norm(x, y, options): x and y give the dims and strides (their data
 * pointers are not read), options everything else. Of the options' arrays
 * only whether scale, bias and seq_lens are given is kept, not where they
 * are: executions pass them. Fails as sn_norm would on the same arguments,
 * but for the checks that need the arrays (sn_norm_plan_execute makes them);
 * then *plan is NULL. Release the plan with sn_norm_plan_destroy.
 */
SN_API sn_status sn_norm_plan_create(const sn_tensor *x, const sn_tensor *y,
                                     const sn_norm_options *options, sn_norm_plan **plan);

/** The arrays of one execution of a plan. */
typedef struct sn_norm_arrays {
    const void *x;         /**< laid out as the plan's x */
    void *y;               /**< laid out as the plan's y; may be x (in place) */
    const float *scale;    /**< given exactly when planned with a scale */
    const float *bias;     /**< given exactly when planned with a bias */
    float *mean;           /**< optional output, as sn_norm_options.mean (any execution) */
    float *rstd;           /**< optional output, as sn_norm_options.rstd (any execution) */
    const int *seq_lens;   /**< given exactly when planned with seq_lens */
} sn_norm_arrays;

/**
 * sn_norm on these arrays with the plan's shapes and options: the same
 * results, bit for bit. Checks what the plan could not: NULL data of a
 * non-empty x or y (SN_ERR_NULL_POINTER), scale, bias and seq_lens given as
 * planned (SN_ERR_PLAN_MISMATCH), the sequence lengths' values
 * (SN_ERR_SEQ_LENS) and aliasing (SN_ERR_ALIAS); on error nothing is written.
 */
SN_API sn_status sn_norm_plan_execute(const sn_norm_plan *plan, const sn_norm_arrays *arrays);

/** Frees a plan; NULL is allowed. */
SN_API void sn_norm_plan_destroy(sn_norm_plan *plan);

/* ----------------------------------------------------- batch norm */

/** RETURNN's defaults: "current" = behavior version >= 12, "legacy" = <= 11. */
typedef enum sn_batch_norm_preset {
    SN_BATCH_NORM_CURRENT = 0,
    SN_BATCH_NORM_LEGACY = 1
} sn_batch_norm_preset;

/** masked_time: a value that was not given (the "current" preset requires it
 *  whenever sequence lengths are passed). */
#define SN_UNSET (-1)

/** Options of sn_batch_norm; get them from sn_batch_norm_defaults(preset). */
typedef struct sn_batch_norm_options {
    int use_shift;                     /**< add beta */
    int use_std;                       /**< multiply by gamma */
    float use_sample;                  /**< weight of the running statistics where batch
                                            statistics are used: 0 batch only, 1 running only */
    int force_sample;                  /**< apply use_sample outside training too */
    float momentum;                    /**< running += (batch - running) * momentum */
    float epsilon;                     /**< added to the variance */
    int update_sample_only_in_training;
    int delay_sample_update;           /**< normalize with the running statistics from
                                            before this call's update */
    int param_version;                 /**< checkpoint convention: 0/1 parameters shaped for
                                            broadcast like [1,1,F], 2 shaped [F]; the values
                                            in sn_batch_norm_state are [F] either way */
    float gamma_init, beta_init;       /**< initial gamma / beta */
    const char *gamma_init_text;       /**< or "zeros", "ones", a numeric string (overrides) */
    const char *beta_init_text;
    int masked_time;                   /**< leave padded frames out of the batch statistics;
                                            SN_UNSET, 0 or 1 */
    float correction;                  /**< running variance from m2 / (n - correction):
                                            0 biased (RETURNN), 1 Bessel (PyTorch); where
                                            n - correction <= 0 the biased variance is used */
    const char *layout;                /**< role of each axis, e.g. "BTF", "BFSS"; F is the
                                            feature axis, B and T are used for masking.
                                            NULL: the feature axis is feature_axis */
    int feature_axis;                  /**< without a layout; negative from the end (-1) */
} sn_batch_norm_options;

/** The preset's options (and layout NULL, feature_axis -1, correction 0).
 *  Any value other than SN_BATCH_NORM_LEGACY gives the current preset. */
SN_API sn_batch_norm_options sn_batch_norm_defaults(sn_batch_norm_preset preset);

/** The layer's state, [F] each, owned by the caller (read and write it to
 *  save and restore checkpoints). gamma is needed with use_std, beta with
 *  use_shift; either may be NULL otherwise. */
typedef struct sn_batch_norm_state {
    ptrdiff_t features;
    float *running_mean;  /**< initially 0 */
    float *running_var;   /**< initially 1 */
    float *gamma;         /**< initially gamma_init */
    float *beta;          /**< initially beta_init */
} sn_batch_norm_state;

/** Fill the state with its initial values (running mean 0, variance 1, gamma
 *  and beta from the options). Validates the init values first. */
SN_API sn_status sn_batch_norm_init(sn_batch_norm_state *state,
                                    const sn_batch_norm_options *options);

/**
 * One batch-norm call, in RETURNN's order:
 *  1. update = training || !update_sample_only_in_training;
 *  2. batch statistics per feature (over all other axes; with masked_time and
 *     seq_lens only valid frames) when update, or when (training ||
 *     force_sample) and use_sample != 1;
 *  3. if update: running += (batch - running) * momentum for mean and variance
 *     (the biased batch variance, or m2 / (n - correction)); a feature with no
 *     valid frame leaves its running statistics alone;
 *  4. statistics used: with training || force_sample, use_sample blends batch
 *     (weight 1 - use_sample) and running (weight use_sample) statistics;
 *     otherwise the running ones. "Running" means after this call's update
 *     unless delay_sample_update;
 *  5. y = (x - mean) / sqrt(var + epsilon), * gamma if use_std, + beta if
 *     use_shift, on every frame (padded ones too).
 * When only running statistics are used, the call is one pass: y = (x - M) *
 * a[f] + b[f] with M the running mean rounded to float and a, b folded once.
 * seq_lens: [B] lengths along T, or NULL. On any error neither y nor the state
 * is written.
 */
SN_API sn_status sn_batch_norm(const sn_tensor *x, const sn_tensor *y, sn_batch_norm_state *state,
                               const sn_batch_norm_options *options, int training,
                               const int *seq_lens);

#ifdef __cplusplus
}
#endif

#endif /* SIMDNORM_H */
