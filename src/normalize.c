#include "normalize.h"

#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "parallel.h"

/* What normalization needs of a group, in float as the kernels take it:
 * y = ((x - shift) - mean) * rstd. */
typedef struct group_stats {
    float shift, mean, rstd;
} group_stats;

typedef struct run {
    const sn_norm_job *job;
    ptrdiff_t blocks;        /* row blocks per group */
    sn_moments *partial;     /* split rows: moments of every (group, block) */
    group_stats *stats;      /* split rows: per group */
    float *scratch;          /* gather: one row per thread */
} run;

static ptrdiff_t min_ptrdiff(ptrdiff_t a, ptrdiff_t b)
{
    return a < b ? a : b;
}

/* Turn a group's merged moments into its normalization constants and write
 * the optional mean/rstd outputs. Normalization re-centers on the mean rounded
 * to float, M, with the rounding residual r = mean - M: (x - M) is exact for x
 * near the mean and small otherwise, whereas (x - K) loses u*|K| when the
 * group's first element K is an outlier far from the rest. */
static group_stats finish_group(const sn_norm_job *job, ptrdiff_t group, float shift,
                                const sn_moments *m)
{
    double rstd = sn_moments_rstd(m, job->epsilon, 0.0);
    double mean = m->count > 0.0 ? (double)shift + m->mean : 0.0;
    float center = (float)mean;
    group_stats s = { center, (float)(mean - (double)center), (float)rstd };
    if (job->mean_out)
        job->mean_out[group] = center;
    if (job->rstd_out)
        job->rstd_out[group] = (float)rstd;
    return s;
}

/* Moments of a contiguous run, block by block in a fixed order. */
static sn_moments row_moments(const sn_kernels *k, const float *x, ptrdiff_t n, float shift)
{
    sn_moments total = sn_moments_empty();
    for (ptrdiff_t b = 0; b < n; b += SN_ROW_BLOCK) {
        sn_moments m;
        k->row_moments_f32(x + b, (size_t)min_ptrdiff(SN_ROW_BLOCK, n - b), shift, &m);
        sn_moments_merge(&total, &m);
    }
    return total;
}

static void normalize_row(const sn_norm_job *job, const float *x, float *y, ptrdiff_t group)
{
    ptrdiff_t n = job->plan.length;
    float shift = n > 0 ? x[0] : 0.0f;
    sn_moments m = row_moments(job->kernels, x, n, shift);
    group_stats s = finish_group(job, group, shift, &m);
    job->kernels->row_normalize_f32(x, y, (size_t)n, s.shift, s.mean, s.rstd, job->scale,
                                    job->bias);
}

static void rows_task(void *context, ptrdiff_t g, int thread)
{
    (void)thread;
    const sn_norm_job *job = ((run *)context)->job;
    ptrdiff_t xo, yo, group;
    sn_plan_outer_position(&job->plan, g, &xo, &yo, &group);
    normalize_row(job, job->x + xo, job->y + yo, group);
}

static void gather_task(void *context, ptrdiff_t g, int thread)
{
    run *r = context;
    const sn_norm_job *job = r->job;
    const sn_plan *p = &job->plan;
    float *row = r->scratch + (ptrdiff_t)thread * p->length;
    ptrdiff_t xo, yo, group;
    sn_plan_outer_position(p, g, &xo, &yo, &group);
    for (ptrdiff_t i = 0; i < p->length; i++)
        row[i] = job->x[xo + i * p->x_step];
    normalize_row(job, row, row, group);
    for (ptrdiff_t i = 0; i < p->length; i++)
        job->y[yo + i * p->y_step] = row[i];
}

/* Split rows: few long groups. Phase 1 computes every block's moments in
 * parallel, a serial pass merges them in block order (the same order as the
 * unsplit path, so results do not depend on the thread count), phase 2
 * normalizes the blocks in parallel. */
static void split_moments_task(void *context, ptrdiff_t item, int thread)
{
    (void)thread;
    run *r = context;
    const sn_norm_job *job = r->job;
    ptrdiff_t g = item / r->blocks, b = (item % r->blocks) * SN_ROW_BLOCK;
    ptrdiff_t xo, yo, group;
    sn_plan_outer_position(&job->plan, g, &xo, &yo, &group);
    job->kernels->row_moments_f32(job->x + xo + b,
                                  (size_t)min_ptrdiff(SN_ROW_BLOCK, job->plan.length - b),
                                  job->x[xo], &r->partial[item]);
}

static void split_normalize_task(void *context, ptrdiff_t item, int thread)
{
    (void)thread;
    run *r = context;
    const sn_norm_job *job = r->job;
    ptrdiff_t g = item / r->blocks, b = (item % r->blocks) * SN_ROW_BLOCK;
    ptrdiff_t xo, yo, group;
    sn_plan_outer_position(&job->plan, g, &xo, &yo, &group);
    const group_stats *s = &r->stats[g];
    job->kernels->row_normalize_f32(job->x + xo + b, job->y + yo + b,
                                    (size_t)min_ptrdiff(SN_ROW_BLOCK, job->plan.length - b),
                                    s->shift, s->mean, s->rstd,
                                    job->scale ? job->scale + b : NULL,
                                    job->bias ? job->bias + b : NULL);
}

static sn_status run_split_rows(run *r, int threads)
{
    const sn_norm_job *job = r->job;
    ptrdiff_t groups = job->plan.groups, items = groups * r->blocks;
    r->partial = malloc((size_t)items * sizeof *r->partial);
    r->stats = malloc((size_t)groups * sizeof *r->stats);
    if (!r->partial || !r->stats) {
        free(r->partial);
        free(r->stats);
        return SN_ERR_OUT_OF_MEMORY;
    }
    sn_parallel_for(items, threads, split_moments_task, r);
    for (ptrdiff_t g = 0; g < groups; g++) {
        ptrdiff_t xo, yo, group;
        sn_plan_outer_position(&job->plan, g, &xo, &yo, &group);
        sn_moments total = sn_moments_empty();
        for (ptrdiff_t b = 0; b < r->blocks; b++)
            sn_moments_merge(&total, &r->partial[g * r->blocks + b]);
        r->stats[g] = finish_group(job, group, job->x[xo], &total);
    }
    sn_parallel_for(items, threads, split_normalize_task, r);
    free(r->partial);
    free(r->stats);
    return SN_OK;
}

/* Columns: a panel is up to SN_COL_BLOCK_WIDTH adjacent groups along the lane
 * axis; its rows are reduced in blocks of SN_COL_BLOCK_ROWS, merged in order. */
static void columns_task(void *context, ptrdiff_t panel, int thread)
{
    (void)thread;
    const sn_norm_job *job = ((run *)context)->job;
    const sn_plan *p = &job->plan;
    const sn_kernels *k = job->kernels;
    ptrdiff_t chunks = (p->lane.dim + SN_COL_BLOCK_WIDTH - 1) / SN_COL_BLOCK_WIDTH;
    ptrdiff_t lane0 = (panel % chunks) * SN_COL_BLOCK_WIDTH;
    size_t width = (size_t)min_ptrdiff(SN_COL_BLOCK_WIDTH, p->lane.dim - lane0);
    ptrdiff_t xo, yo, group;
    sn_plan_outer_position(p, panel / chunks, &xo, &yo, &group);
    const float *x = job->x + xo + lane0;
    float *y = job->y + yo + lane0;
    group += lane0 * p->lane.group_stride;

    float shift[SN_COL_BLOCK_WIDTH], mean[SN_COL_BLOCK_WIDTH], rstd[SN_COL_BLOCK_WIDTH];
    sn_moments total[SN_COL_BLOCK_WIDTH], block[SN_COL_BLOCK_WIDTH];
    memcpy(shift, x, width * sizeof *shift);
    for (size_t j = 0; j < width; j++)
        total[j] = sn_moments_empty();
    for (ptrdiff_t i = 0; i < p->length; i += SN_COL_BLOCK_ROWS) {
        size_t rows = (size_t)min_ptrdiff(SN_COL_BLOCK_ROWS, p->length - i);
        k->col_moments_f32(x + i * p->x_step, p->x_step, rows, width, shift, block);
        for (size_t j = 0; j < width; j++)
            sn_moments_merge(&total[j], &block[j]);
    }
    for (size_t j = 0; j < width; j++) {
        group_stats s = finish_group(job, group + (ptrdiff_t)j * p->lane.group_stride, shift[j],
                                     &total[j]);
        shift[j] = s.shift;
        mean[j] = s.mean;
        rstd[j] = s.rstd;
    }
    k->col_normalize_f32(x, p->x_step, y, p->y_step, (size_t)p->length, width, shift, mean,
                         rstd, job->scale, job->bias);
}

sn_status sn_run_norm(const sn_norm_job *job)
{
    const sn_plan *p = &job->plan;
    run r = { job, (p->length + SN_ROW_BLOCK - 1) / SN_ROW_BLOCK, NULL, NULL, NULL };
    if (p->groups == 0)
        return SN_OK;
    int threads = sn_threads_for((double)p->groups * (double)(p->length > 0 ? p->length : 1));

    switch (p->path) {
    case SN_PATH_ROWS:
        if (p->groups < threads && r.blocks > 1)
            return run_split_rows(&r, threads);
        sn_parallel_for(p->groups, threads, rows_task, &r);
        return SN_OK;
    case SN_PATH_COLUMNS: {
        ptrdiff_t chunks = (p->lane.dim + SN_COL_BLOCK_WIDTH - 1) / SN_COL_BLOCK_WIDTH;
        sn_parallel_for(p->outer_count * chunks, threads, columns_task, &r);
        return SN_OK;
    }
    case SN_PATH_GATHER: {
        if (threads > p->groups)
            threads = (int)p->groups;
        r.scratch = malloc((size_t)threads * (size_t)p->length * sizeof(float) + 1);
        if (!r.scratch)
            return SN_ERR_OUT_OF_MEMORY;
        sn_parallel_for(p->groups, threads, gather_task, &r);
        free(r.scratch);
        return SN_OK;
    }
    }
    return SN_OK;
}
