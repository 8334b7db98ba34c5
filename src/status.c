/* Status messages and version. */
#include <stdarg.h>
#include <stdio.h>

#include "error.h"
#include "simdnorm.h"

static const char *const messages[SN_STATUS_COUNT] = {
    [SN_OK] = "success",
    [SN_ERR_NULL_POINTER] = "a required pointer is NULL",
    [SN_ERR_RANK] = "tensor rank must be between 1 and 8",
    [SN_ERR_NEGATIVE_DIM] = "a tensor dimension is negative",
    [SN_ERR_NEGATIVE_STRIDE] = "a tensor stride is negative (negative strides are not supported)",
    [SN_ERR_SIZE_OVERFLOW] = "tensor dims and strides overflow the address space",
    [SN_ERR_DTYPE] = "element type not supported by this function",
    [SN_ERR_SHAPE_MISMATCH] = "input and output shapes differ",
    [SN_ERR_AXIS] = "axis index out of range for the tensor's rank",
    [SN_ERR_EPSILON] = "epsilon must be finite and >= 0",
    [SN_ERR_ALIAS] = "output overlaps the input without being exactly in place, or overlaps itself",
    [SN_ERR_ISA_UNKNOWN] = "unknown ISA (expected scalar, avx2, avx512 or neon)",
    [SN_ERR_ISA_UNSUPPORTED] = "this CPU or build does not support the requested ISA",
    [SN_ERR_THREADS] = "thread count must be >= 0 (0 follows OpenMP)",
    [SN_ERR_OUT_OF_MEMORY] = "out of memory for scratch space",
    [SN_ERR_LAYOUT] = "layout must have one letter B, T, F or S per axis, at most one B, T and F",
    [SN_ERR_AXES_DESCRIPTION] = "invalid axis description (see sn_last_error_detail)",
    [SN_ERR_EMPTY_AXES] = "no axis to normalize over",
    [SN_ERR_PARAM_SHAPE] = "invalid param_shape: an axis twice, a batch or time axis, "
                           "or given without scale and bias",
    [SN_ERR_SEQ_LENS] = "sequence lengths must be between 0 and the time dimension",
    [SN_ERR_MASK_LAYOUT] = "masking needs B and T in the layout, and a reduced batch axis "
                           "needs the time axis reduced too",
    [SN_ERR_MOMENTUM] = "momentum must be in [0, 1]",
    [SN_ERR_USE_SAMPLE] = "use_sample must be in [0, 1]",
    [SN_ERR_PARAM_VERSION] = "param_version must be 0, 1 or 2",
    [SN_ERR_INIT_VALUE] = "gamma_init/beta_init must be a number, \"zeros\" or \"ones\"",
    [SN_ERR_MASKED_TIME] = "the current preset needs masked_time set when sequence lengths "
                           "are given",
    [SN_ERR_CORRECTION] = "variance correction must be finite and >= 0",
    [SN_ERR_MASK_MODE] = "mask_mode must be SN_MASK_EXCLUDE, SN_MASK_ZERO or SN_MASK_IGNORE",
    [SN_ERR_PLAN_MISMATCH] = "scale, bias or seq_lens given to a plan's execution without "
                             "the plan having them, or missing where it has them",
};

const char *sn_status_string(sn_status status)
{
    if ((int)status < 0 || status >= SN_STATUS_COUNT || !messages[status])
        return "unknown status code";
    return messages[status];
}

const char *sn_version_string(void)
{
    return SN_VERSION_STRING;
}

int sn_version(void)
{
    return SN_VERSION;
}

static _Thread_local char last_detail[256];

sn_status sn_fail(sn_status status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(last_detail, sizeof last_detail, format, args);
    va_end(args);
    return status;
}

void sn_error_clear(void)
{
    last_detail[0] = '\0';
}

const char *sn_last_error_detail(void)
{
    return last_detail;
}
