/* Status messages and version. */
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
