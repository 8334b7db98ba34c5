/* The generic layer after validation, shared by its entry points: a call as
 * its shapes and options determine it (struct sn_norm_plan, the public
 * sn_norm_plan), run on the arrays of one execution. */
#ifndef SN_NORM_H
#define SN_NORM_H

#include "plan.h"
#include "simdnorm.h"
#include "tensor.h"

struct sn_norm_plan {
    sn_plan plan;
    sn_views views;
    double epsilon;
    /* Which arrays the call was planned with: given ones must come again. */
    int scale, bias, seq_lens;
    ptrdiff_t batch_dim, time_dim; /* when plan.masked: the lengths' count and bound */
};

/* The plan, but its views (the caller's to set), of a call whose shapes and
 * options passed sn_norm's checks: reduce and params are the resolved axis
 * masks, batch and time the masking axes (-1 without masking). */
void sn_norm_plan_fill(struct sn_norm_plan *p, const sn_tensor *x, const sn_tensor *y,
                       unsigned reduce, unsigned params, const sn_norm_options *o, int batch,
                       int time);

/* Checks the arrays against the plan (data, presence, lengths, aliasing),
 * then normalizes. */
sn_status sn_norm_plan_run(const struct sn_norm_plan *p, const sn_norm_arrays *a);

#endif
