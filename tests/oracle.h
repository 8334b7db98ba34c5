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

/* Element at row-major position `index` of t. */
float oracle_get(const sn_tensor *t, ptrdiff_t index);

#endif
