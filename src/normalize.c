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
    ptrdiff_t blocks;        /* row blocks per run */
    ptrdiff_t units;         /* runs * blocks: the fixed pieces a group is reduced in */
    sn_moments *partial;     /* split groups: moments of every (group, unit) */
    group_stats *stats;      /* split groups: per group */
    float *scratch;          /* strided runs: three runs per thread (x, scale, bias) */
} run;

static ptrdiff_t min_ptrdiff(ptrdiff_t a, ptrdiff_t b)
{
    return a < b ? a : b;
}

static const sn_axis *run_axis(const sn_plan *p)
{
    static const sn_axis none = { 1, 1, 1, 0, 0, SN_MASK_ROLE_NONE };
    return p->reduce_rank ? &p->reduce[p->reduce_rank - 1] : &none;
}

static void outer_position(const sn_plan *p, ptrdiff_t index, sn_offsets *o)
{
    sn_plan_position(p->outer, p->outer_rank, index, o);
}

/* Offsets of run `r` within a group (all reduced axes but the last). */
static void run_position(const sn_plan *p, ptrdiff_t r, sn_offsets *o)
{
    sn_plan_position(p->reduce, p->reduce_rank > 0 ? p->reduce_rank - 1 : 0, r, o);
}

/* How many leading elements of a run (of the group at `group`, run at `at`)
 * are valid frames: all of them without masking. */
static ptrdiff_t valid_length(const sn_plan *p, const sn_offsets *group, const sn_offsets *at)
{
    if (!p->seq_lens)
        return p->run_length;
    ptrdiff_t b = group->batch >= 0 ? group->batch : at->batch;
    ptrdiff_t t = group->time >= 0 ? group->time : at->time;
    if (b < 0)
        return p->run_length;
    ptrdiff_t length = p->seq_lens[b];
    if (run_axis(p)->mask_role == SN_MASK_ROLE_TIME)
        return min_ptrdiff(length, p->run_length);
    return t >= 0 && t >= length ? 0 : p->run_length;
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

/* ---------------------------------------------------------- ROWS, GATHER */

/* A run's elements as a contiguous array: the run itself, or its copy in
 * `scratch` when it is strided. */
static const float *run_input(const sn_norm_job *job, const float *x, ptrdiff_t length,
                              float *scratch)
{
    const sn_plan *p = &job->plan;
    if (p->path == SN_PATH_ROWS)
        return x;
    ptrdiff_t step = run_axis(p)->x_stride;
    for (ptrdiff_t i = 0; i < length; i++)
        scratch[i] = x[i * step];
    return scratch;
}

/* The first valid element of the group: the shift K of its statistics. */
static float group_shift(const sn_norm_job *job, const sn_offsets *g)
{
    const sn_plan *p = &job->plan;
    for (ptrdiff_t r = 0; r < p->runs; r++) {
        sn_offsets at;
        run_position(p, r, &at);
        if (valid_length(p, g, &at) > 0)
            return job->x[g->x + at.x];
    }
    return 0.0f;
}

/* Moments of unit `u` (run u / blocks, block u % blocks) of a group. */
static sn_moments unit_moments(const run *rn, const sn_offsets *g, ptrdiff_t u, float shift,
                               float *scratch)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = &job->plan;
    sn_offsets at;
    run_position(p, u / rn->blocks, &at);
    ptrdiff_t begin = (u % rn->blocks) * SN_ROW_BLOCK;
    ptrdiff_t length = min_ptrdiff(valid_length(p, g, &at) - begin, SN_ROW_BLOCK);
    sn_moments m = sn_moments_empty();
    if (length > 0) {
        const float *x = job->x + g->x + at.x + begin * run_axis(p)->x_stride;
        job->kernels->row_moments_f32(run_input(job, x, length, scratch), (size_t)length,
                                      shift, &m);
    }
    return m;
}

/* Normalizes elements [begin, end) of run `r` of a group; padded frames are
 * zeroed instead when the plan asks for it. */
static void normalize_run_part(const run *rn, const sn_offsets *g, ptrdiff_t r, ptrdiff_t begin,
                               ptrdiff_t end, const group_stats *s, float *scratch)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = &job->plan;
    const sn_axis *axis = run_axis(p);
    sn_offsets at;
    run_position(p, r, &at);
    ptrdiff_t valid = valid_length(p, g, &at);
    ptrdiff_t stop = p->zero_masked ? min_ptrdiff(end, valid) : end;
    const float *x = job->x + g->x + at.x;
    float *y = job->y + g->y + at.y;
    ptrdiff_t param = g->param + at.param;

    if (stop > begin) {
        ptrdiff_t n = stop - begin, step = axis->param_stride;
        const float *scale = job->scale ? job->scale + param + begin * step : NULL;
        const float *bias = job->bias ? job->bias + param + begin * step : NULL;
        if (p->path == SN_PATH_ROWS) {
            job->kernels->row_normalize_f32(x + begin, y + begin, (size_t)n, s->shift, s->mean,
                                            s->rstd, scale, bias, step);
        } else {
            /* Strided run: gather x (and parameters that are not contiguous),
             * normalize in scratch, scatter. */
            float *xs = scratch, *ss = scratch + p->run_length, *bs = ss + p->run_length;
            for (ptrdiff_t i = 0; i < n; i++)
                xs[i] = x[(begin + i) * axis->x_stride];
            if (step > 1) {
                for (ptrdiff_t i = 0; scale && i < n; i++)
                    ss[i] = scale[i * step];
                for (ptrdiff_t i = 0; bias && i < n; i++)
                    bs[i] = bias[i * step];
                scale = scale ? ss : NULL;
                bias = bias ? bs : NULL;
                step = 1;
            }
            job->kernels->row_normalize_f32(xs, xs, (size_t)n, s->shift, s->mean, s->rstd, scale,
                                            bias, step);
            for (ptrdiff_t i = 0; i < n; i++)
                y[(begin + i) * axis->y_stride] = xs[i];
        }
    }
    for (ptrdiff_t i = stop > begin ? stop : begin; i < end; i++)
        y[i * axis->y_stride] = 0.0f;
}

static void runs_task(void *context, ptrdiff_t index, int thread)
{
    run *rn = context;
    const sn_norm_job *job = rn->job;
    const sn_plan *p = &job->plan;
    float *scratch = rn->scratch ? rn->scratch + (ptrdiff_t)thread * 3 * p->run_length : NULL;
    sn_offsets g;
    outer_position(p, index, &g);
    float shift = group_shift(job, &g);
    sn_moments total = sn_moments_empty();
    for (ptrdiff_t u = 0; u < rn->units; u++) {
        sn_moments m = unit_moments(rn, &g, u, shift, scratch);
        sn_moments_merge(&total, &m);
    }
    group_stats s = finish_group(job, g.group, shift, &total);
    for (ptrdiff_t r = 0; r < p->runs; r++)
        normalize_run_part(rn, &g, r, 0, p->run_length, &s, scratch);
}

/* Split groups: fewer groups than threads. Phase 1 computes every unit's
 * moments in parallel; a serial pass merges them in unit order (the order of
 * runs_task, so results do not depend on the thread count); phase 2
 * normalizes the units in parallel. Only for contiguous runs. */
static void split_moments_task(void *context, ptrdiff_t item, int thread)
{
    (void)thread;
    run *rn = context;
    ptrdiff_t g = item / rn->units;
    sn_offsets go;
    outer_position(&rn->job->plan, g, &go);
    rn->partial[item] = unit_moments(rn, &go, item % rn->units, rn->stats[g].shift, NULL);
}

static void split_normalize_task(void *context, ptrdiff_t item, int thread)
{
    (void)thread;
    run *rn = context;
    ptrdiff_t g = item / rn->units, u = item % rn->units;
    ptrdiff_t begin = (u % rn->blocks) * SN_ROW_BLOCK;
    sn_offsets go;
    outer_position(&rn->job->plan, g, &go);
    normalize_run_part(rn, &go, u / rn->blocks, begin,
                       min_ptrdiff(begin + SN_ROW_BLOCK, rn->job->plan.run_length),
                       &rn->stats[g], NULL);
}

static sn_status run_split(run *rn, int threads)
{
    const sn_norm_job *job = rn->job;
    ptrdiff_t groups = job->plan.groups, items = groups * rn->units;
    rn->partial = malloc((size_t)items * sizeof *rn->partial);
    rn->stats = malloc((size_t)groups * sizeof *rn->stats);
    if (!rn->partial || !rn->stats) {
        free(rn->partial);
        free(rn->stats);
        return SN_ERR_OUT_OF_MEMORY;
    }
    for (ptrdiff_t g = 0; g < groups; g++) {
        sn_offsets go;
        outer_position(&job->plan, g, &go);
        rn->stats[g].shift = group_shift(job, &go);
    }
    sn_parallel_for(items, threads, split_moments_task, rn);
    for (ptrdiff_t g = 0; g < groups; g++) {
        sn_offsets go;
        outer_position(&job->plan, g, &go);
        sn_moments total = sn_moments_empty();
        for (ptrdiff_t u = 0; u < rn->units; u++)
            sn_moments_merge(&total, &rn->partial[g * rn->units + u]);
        rn->stats[g] = finish_group(job, go.group, rn->stats[g].shift, &total);
    }
    sn_parallel_for(items, threads, split_normalize_task, rn);
    free(rn->partial);
    free(rn->stats);
    return SN_OK;
}

/* --------------------------------------------------------------- COLUMNS */

/* A panel is up to SN_COL_BLOCK_WIDTH adjacent groups along the lane axis;
 * each run is a column block of rows (the last reduced axis), reduced
 * SN_COL_BLOCK_ROWS rows at a time and merged in order. */
static void columns_task(void *context, ptrdiff_t panel, int thread)
{
    (void)thread;
    const sn_norm_job *job = ((run *)context)->job;
    const sn_plan *p = &job->plan;
    const sn_kernels *k = job->kernels;
    const sn_axis *rows_axis = run_axis(p), *lane = &p->lane;
    ptrdiff_t chunks = (lane->dim + SN_COL_BLOCK_WIDTH - 1) / SN_COL_BLOCK_WIDTH;
    ptrdiff_t lane0 = (panel % chunks) * SN_COL_BLOCK_WIDTH;
    size_t width = (size_t)min_ptrdiff(SN_COL_BLOCK_WIDTH, lane->dim - lane0);
    sn_offsets g;
    outer_position(p, panel / chunks, &g);
    const float *x = job->x + g.x + lane0;
    float *y = job->y + g.y + lane0;
    ptrdiff_t group = g.group + lane0 * lane->group_stride;
    ptrdiff_t param = g.param + lane0 * lane->param_stride;
    int time_lanes = lane->mask_role == SN_MASK_ROLE_TIME && p->seq_lens && g.batch >= 0;

    float shift[SN_COL_BLOCK_WIDTH], mean[SN_COL_BLOCK_WIDTH], rstd[SN_COL_BLOCK_WIDTH];
    sn_moments total[SN_COL_BLOCK_WIDTH], block[SN_COL_BLOCK_WIDTH];
    for (size_t j = 0; j < width; j++) {
        shift[j] = 0.0f;
        total[j] = sn_moments_empty();
    }
    int shifted = 0;
    for (ptrdiff_t r = 0; r < p->runs; r++) {
        sn_offsets at;
        run_position(p, r, &at);
        ptrdiff_t rows = valid_length(p, &g, &at);
        if (rows > 0 && !shifted) {
            memcpy(shift, x + at.x, width * sizeof *shift);
            shifted = 1;
        }
        for (ptrdiff_t i = 0; i < rows; i += SN_COL_BLOCK_ROWS) {
            k->col_moments_f32(x + at.x + i * rows_axis->x_stride, rows_axis->x_stride,
                               (size_t)min_ptrdiff(SN_COL_BLOCK_ROWS, rows - i), width, shift,
                               block);
            for (size_t j = 0; j < width; j++)
                sn_moments_merge(&total[j], &block[j]);
        }
    }
    for (size_t j = 0; j < width; j++) {
        if (time_lanes && lane0 + (ptrdiff_t)j >= p->seq_lens[g.batch])
            total[j] = sn_moments_empty();
        group_stats s = finish_group(job, group + (ptrdiff_t)j * lane->group_stride, shift[j],
                                     &total[j]);
        shift[j] = s.shift;
        mean[j] = s.mean;
        rstd[j] = s.rstd;
    }
    for (ptrdiff_t r = 0; r < p->runs; r++) {
        sn_offsets at;
        run_position(p, r, &at);
        ptrdiff_t rows = p->zero_masked ? valid_length(p, &g, &at) : p->run_length;
        ptrdiff_t pr = param + at.param;
        k->col_normalize_f32(x + at.x, rows_axis->x_stride, y + at.y, rows_axis->y_stride,
                             (size_t)rows, width, shift, mean, rstd,
                             job->scale ? job->scale + pr : NULL,
                             job->bias ? job->bias + pr : NULL, rows_axis->param_stride,
                             lane->param_stride);
        for (ptrdiff_t i = rows; i < p->run_length; i++)
            memset(y + at.y + i * rows_axis->y_stride, 0, width * sizeof *y);
    }
    if (time_lanes && p->zero_masked) {
        /* Lanes past the sequence end are padded frames: zero them everywhere. */
        ptrdiff_t first = p->seq_lens[g.batch] - lane0;
        for (ptrdiff_t r = 0; first < (ptrdiff_t)width && r < p->runs; r++) {
            sn_offsets at;
            run_position(p, r, &at);
            for (ptrdiff_t i = 0; i < p->run_length; i++)
                memset(y + at.y + i * rows_axis->y_stride + (first > 0 ? first : 0), 0,
                       (width - (size_t)(first > 0 ? first : 0)) * sizeof *y);
        }
    }
}

sn_status sn_run_norm(const sn_norm_job *job)
{
    const sn_plan *p = &job->plan;
    ptrdiff_t blocks = (p->run_length + SN_ROW_BLOCK - 1) / SN_ROW_BLOCK;
    run rn = { job, blocks, p->runs * blocks, NULL, NULL, NULL };
    if (p->groups == 0)
        return SN_OK;
    double per_group = p->reduce_count > 0 ? (double)p->reduce_count : 1.0;
    int threads = sn_threads_for((double)p->groups * per_group);

    if (p->path == SN_PATH_COLUMNS) {
        ptrdiff_t chunks = (p->lane.dim + SN_COL_BLOCK_WIDTH - 1) / SN_COL_BLOCK_WIDTH;
        sn_parallel_for(p->outer_count * chunks, threads, columns_task, &rn);
        return SN_OK;
    }
    if (p->path == SN_PATH_ROWS && p->groups < threads && rn.units > 1)
        return run_split(&rn, threads);
    if (p->path == SN_PATH_GATHER) {
        if (threads > p->groups)
            threads = (int)p->groups;
        rn.scratch = malloc((size_t)threads * 3 * (size_t)p->run_length * sizeof(float) + 1);
        if (!rn.scratch)
            return SN_ERR_OUT_OF_MEMORY;
    }
    sn_parallel_for(p->groups, threads, runs_task, &rn);
    free(rn.scratch);
    return SN_OK;
}
