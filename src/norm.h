/* The generic layer after validation, shared by its entry points. */
#ifndef SN_NORM_H
#define SN_NORM_H

#include "simdnorm.h"

/* Plans and runs a call whose arguments passed sn_norm's checks: reduce and
 * params are the resolved axis masks, batch and time the masking axes (-1
 * without masking); o supplies the arrays, epsilon and the mask mode. */
sn_status sn_norm_checked(const sn_tensor *x, const sn_tensor *y, unsigned reduce,
                          unsigned params, const sn_norm_options *o, int batch, int time);

#endif
