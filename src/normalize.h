/*
 * Executes a plan: statistics of every group, then its normalization, fused
 * per group (or per panel of groups) so that each element is read from memory
 * once and the later passes hit the cache.
 */
#ifndef SN_NORMALIZE_H
#define SN_NORMALIZE_H

#include "kernels.h"
#include "plan.h"

typedef struct sn_norm_job {
    sn_plan plan;
    const sn_kernels *kernels;
    const float *x;
    float *y;
    const float *scale;  /* indexed by the plan's parameter offsets, or NULL */
    const float *bias;   /* likewise, or NULL */
    double epsilon;
    float *mean_out;     /* by group index, or NULL */
    float *rstd_out;     /* by group index, or NULL */
} sn_norm_job;

/* Fails only with SN_ERR_OUT_OF_MEMORY, before anything is written. */
sn_status sn_run_norm(const sn_norm_job *job);

#endif
