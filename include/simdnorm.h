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
    SN_STATUS_COUNT          /**< number of status codes (not a status) */
} sn_status;

/** A short English sentence for a status; never NULL. */
SN_API const char *sn_status_string(sn_status status);

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

#ifdef __cplusplus
}
#endif

#endif /* SIMDNORM_H */
