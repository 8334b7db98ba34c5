#include "../kernels.h"
/* TEMPORARY: replaced by real kernels */
const sn_kernels sn_kernels_avx512 = { sn_row_moments_f32_scalar, sn_row_normalize_f32_scalar, sn_col_moments_f32_scalar, sn_col_normalize_f32_scalar };
