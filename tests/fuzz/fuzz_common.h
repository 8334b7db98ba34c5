/*
 * Shared parts of the libFuzzer targets: a reader that turns the fuzzer's
 * bytes into values (running out of bytes gives zeros), a model of tensor
 * validation, and canary buffers that prove "on error nothing is written;
 * on success only the output view is".
 *
 * Every check that fails prints what it saw and calls abort(), which
 * libFuzzer reports as a crash and saves the input (crash-<sha1>).
 */
#ifndef SN_FUZZ_COMMON_H
#define SN_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "simdnorm.h"

/* Bounds on what one input may allocate and compute: the product of the
 * dims (0 counted as 1) and the elements a buffer spans. Inputs the library
 * must accept but that exceed them are skipped; inputs it must reject are
 * always run (with small buffers, so a wrong accept is an ASan report). */
#define FZ_MAX_ELEMENTS 65536
#define FZ_MAX_EXTENT 262144


/* ------------------------------------------------------------ reader */

typedef struct fz_reader {
    const uint8_t *data;
    size_t size;
} fz_reader;

uint8_t fz_u8(fz_reader *r);
uint16_t fz_u16(fz_reader *r);
uint32_t fz_u32(fz_reader *r);
/* A dimension or stride: mostly small, sometimes 16-bit, sometimes a special
 * value (negative, PTRDIFF_MAX, 2^31, 2^62, ...). */
ptrdiff_t fz_dim(fz_reader *r);
ptrdiff_t fz_stride(fz_reader *r, ptrdiff_t dense);
/* A float: ordinary values, specials (NaN, +-Inf, FLT_MAX, subnormal, -0,
 * 1 + ulp, ...) or raw bits. */
float fz_float(fz_reader *r);
/* An int: small, near the edges of an interval, or INT_MIN/INT_MAX. */
int fz_int(fz_reader *r, int typical_lo, int typical_hi);
/* NULL, one entry of `table`, or raw bytes up to a NUL (at most cap - 1). */
const char *fz_text(fz_reader *r, const char *const *table, size_t count, char *buf,
                    size_t cap);
/* Raw bytes up to a NUL or the end of the input. */
const char *fz_raw_text(fz_reader *r, char *buf, size_t cap);

/* Sets the thread count (1..3) and the ISA (any supported one) from one byte. */
void fz_set_runtime(fz_reader *r);

/* ------------------------------------------------------------ checks */

/* With FZ_VERBOSE=1 in the environment: prints what a call returned (to see
 * which paths a seed reaches: FZ_VERBOSE=1 ./fuzz_norm corpus/norm/x). */
void fz_note(const char *what, sn_status status);

void fz_fail(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A heap block with a snapshot: on error it must be unchanged; on success
 * only its first `writable` bytes may change. Exactly sized, so that ASan
 * sees any access past it. */
typedef struct fz_region {
    const char *name;
    unsigned char *data;
    size_t bytes, writable;
    unsigned char *snapshot;
} fz_region;

/* A float region of `count` elements (at least one is allocated) filled from
 * `seed`; `writable` elements may change on success. */
float *fz_region_floats(fz_region *region, const char *name, size_t count, size_t writable,
                        uint32_t seed);
void fz_region_snapshot(fz_region *region);
/* ok: the call succeeded. `what` names the call for the message. */
void fz_region_check(const fz_region *region, int ok, const char *what);
void fz_region_free(fz_region *region);

/* ------------------------------------------------------------ tensors */

/* x and y decoded from the input, in their buffers. */
typedef struct fz_tensors {
    sn_tensor x, y;
    int pass_x, pass_y;         /* 0: the call gets a NULL tensor pointer */
    int invalid;                /* the model says validation must fail */
    int may_alias;              /* y does not overlap itself, but the library's
                                   (sufficient, documented) test may say so */
    const char *why;            /* the model's reason */
    float *xbuf, *ybuf;         /* ybuf NULL when y lives in xbuf */
    size_t xlen, ylen;          /* elements */
    unsigned char *xsnap, *ysnap;
    unsigned char *xmark, *ymark; /* elements of y's view, per buffer */
    ptrdiff_t nominal;          /* product of dims, 0 counted as 1 (x) */
} fz_tensors;

/* Decodes x and y (rank, dims, strides, placement, dtype, NULLs). Returns 0
 * when the input is to be skipped (a valid problem too big to run). */
int fz_tensors_decode(fz_reader *r, fz_tensors *t);
/* The checks after a call: on error both buffers unchanged; on success
 * nothing outside y's view changed. `model_error` adds option errors the
 * caller modelled: when set, success is a failure. */
void fz_tensors_check(const fz_tensors *t, sn_status status, int model_error, const char *what);
void fz_tensors_free(fz_tensors *t);

/* The library's validation of one tensor, restated: NULL if valid, else why
 * not (rank, negative dim or stride, dtype, size overflow, NULL data). */
const char *fz_model_tensor(const sn_tensor *t);

/* Product of dims over the axes in `mask`; -1 if larger than FZ_MAX_ELEMENTS. */
ptrdiff_t fz_product(const sn_tensor *t, unsigned mask);
/* 1 if x's rank is 1..8, dims >= 0 (sizes meaningful for the options). */
int fz_shape_usable(const sn_tensor *t);

#endif
