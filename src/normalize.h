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
    const sn_plan *plan;
    const int *seq_lens; /* [B] with a masked plan, else NULL */
    const sn_kernels *kernels;
    const float *x;
    float *y;
    const float *scale;  /* indexed by the plan's parameter offsets, or NULL */
    const float *bias;   /* likewise, or NULL */
    double epsilon;
    float *mean_out;     /* by group index, or NULL */
    float *rstd_out;     /* by group index, or NULL */
} sn_norm_job;

/* A group's statistics: its shift K and its moments relative to K. */
typedef struct sn_group_moments {
    float shift;
    sn_moments moments;
} sn_group_moments;

/* What a group is normalized with: y = ((x - shift) - mean) * rstd, then the
 * affine step with the job's scale and bias. */
typedef struct sn_group_norm {
    float shift, mean, rstd;
} sn_group_norm;

/* Each fails only with SN_ERR_OUT_OF_MEMORY, before anything is written.
 * Statistics and normalization of every group, fused; mean/rstd outputs. */
sn_status sn_run_norm(const sn_norm_job *job);
/* Statistics only, into out[group index] (job->y, scale, bias unused). */
sn_status sn_run_stats(const sn_norm_job *job, sn_group_moments *out);
/* Normalization only, with the constants of every group (by group index). */
sn_status sn_run_normalize(const sn_norm_job *job, const sn_group_norm *groups);

#endif
