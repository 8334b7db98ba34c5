#include "normalize.h"

#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "parallel.h"

/* What normalization needs of a group, in float as the kernels take it:
 * y = ((x - shift) - mean) * rstd. */
/* How a run treats each group: statistics and normalization fused (layer and
 * generic norm), statistics only, or normalization with given constants
 * (batch norm, which combines statistics in between). */
typedef enum mode { MODE_FUSED, MODE_STATS, MODE_APPLY } mode;

typedef struct run {
    const sn_norm_job *job;
    mode mode;
    sn_group_moments *moments_out;   /* MODE_STATS: by group index */
    const sn_group_norm *given;      /* MODE_APPLY: by group index */
    ptrdiff_t blocks;        /* units per run: row blocks (ROWS) or row units (COLUMNS) */
    ptrdiff_t units;         /* runs * blocks: the fixed pieces a group is reduced in */
    int run_major;           /* split items walk units outside groups (memory order) */
    sn_moments *partial;     /* split: moments of every (group or panel, unit[, lane]) */
    sn_group_norm *stats;    /* split: constants of every group */
    float *shifts;           /* split: shift of every group */
    void *scratch;           /* per thread: GATHER's run copies, COLUMNS' lane arrays */
    int stream;              /* ROWS: streaming stores of y (see SN_STREAM_MIN_BYTES) */
} run;

/* Outputs larger than this are written with streaming (non-temporal) stores
 * on the ROWS path: y cannot stay in the last-level cache for a later reader
 * anyway, and a plain store first reads every y line from DRAM (read for
 * ownership), 3 transfers per element instead of 2. Below it y may still be
 * in cache when the caller reads it, which streaming would forfeit. A
 * constant, not sysconf(_SC_LEVEL3_CACHE_SIZE): in virtual machines that
 * reports the host's total (384 MiB on a VM whose lscpu shows 32 MiB), and
 * the L3 a core can use is often one CCX's (16-32 MiB on current x86). */
#define SN_STREAM_MIN_BYTES ((double)(16 << 20))

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
static sn_group_norm finish_group(const sn_norm_job *job, ptrdiff_t group, float shift,
                                const sn_moments *m)
{
    double rstd = sn_moments_rstd(m, job->epsilon, 0.0);
    double mean = m->count > 0.0 ? (double)shift + m->mean : 0.0;
    float center = (float)mean;
    sn_group_norm s = { center, (float)(mean - (double)center), (float)rstd };
    if (job->mean_out)
        job->mean_out[group] = center;
    if (job->rstd_out)
        job->rstd_out[group] = (float)rstd;
    return s;
}

/* The constants a group is normalized with, in the fused and apply modes. */
static sn_group_norm group_constants(const run *rn, ptrdiff_t group, float shift,
                                     const sn_moments *m)
{
    return rn->mode == MODE_APPLY ? rn->given[group] : finish_group(rn->job, group, shift, m);
}

/* Streamed stores are weakly ordered: each thread fences its own before the
 * join. A fence waits for them to reach memory, so it is paid once per thread
 * and call, not per item (per item, on 768-element rows, it cost more than
 * streaming saved): each thread takes one contiguous range of items, as the
 * static schedule would, and fences at its end. Items are computed as ever. */
typedef struct streamed {
    run *rn;
    sn_task_fn task;
    ptrdiff_t count;
    int threads;
} streamed;

static void streamed_task(void *context, ptrdiff_t t, int thread)
{
    const streamed *c = context;
    ptrdiff_t end = c->count * (t + 1) / c->threads;
    for (ptrdiff_t i = c->count * t / c->threads; i < end; i++)
        c->task(c->rn, i, thread);
    c->rn->job->kernels->store_fence();
}

/* sn_parallel_for of a task that normalizes. */
static void normalize_for(run *rn, ptrdiff_t count, int threads, sn_task_fn task)
{
    if (!rn->stream) {
        sn_parallel_for(count, threads, task, rn);
        return;
    }
    if (threads > count)
        threads = (int)count;
    if (threads < 1)
        threads = 1;
    streamed c = { rn, task, count, threads };
    sn_parallel_for(threads, threads, streamed_task, &c);
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
                               ptrdiff_t end, const sn_group_norm *s, float *scratch)
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
                                            s->rstd, scale, bias, step, rn->stream);
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
            /* Plain stores: the scratch copy is read back right away. */
            job->kernels->row_normalize_f32(xs, xs, (size_t)n, s->shift, s->mean, s->rstd, scale,
                                            bias, step, 0);
            for (ptrdiff_t i = 0; i < n; i++)
                y[(begin + i) * axis->y_stride] = xs[i];
        }
    }
    for (ptrdiff_t i = stop > begin ? stop : begin; i < end; i++)
        y[i * axis->y_stride] = 0.0f;
}

static void rows_task(void *context, ptrdiff_t index, int thread)
{
    run *rn = context;
    const sn_norm_job *job = rn->job;
    const sn_plan *p = &job->plan;
    float *scratch = rn->scratch ? (float *)rn->scratch + (ptrdiff_t)thread * 3 * p->run_length
                                 : NULL;
    sn_offsets g;
    outer_position(p, index, &g);
    float shift = 0.0f;
    sn_moments total = sn_moments_empty();
    if (rn->mode != MODE_APPLY) {
        shift = group_shift(job, &g);
        for (ptrdiff_t u = 0; u < rn->units; u++) {
            sn_moments m = unit_moments(rn, &g, u, shift, scratch);
            sn_moments_merge(&total, &m);
        }
    }
    if (rn->mode == MODE_STATS) {
        rn->moments_out[g.group] = (sn_group_moments){ shift, total };
        return;
    }
    sn_group_norm s = group_constants(rn, g.group, shift, &total);
    for (ptrdiff_t r = 0; r < p->runs; r++)
        normalize_run_part(rn, &g, r, 0, p->run_length, &s, scratch);
}

/* Short single-run groups, a few at a time: each group's statistics end in a
 * chain of dependent scalar steps (reductions, divisions, a square root);
 * doing the loads of the next groups before those chains lets them overlap.
 * Every group is computed exactly as rows_task computes it. */
#define SN_ROWS_BATCH 4

static void rows_batch_task(void *context, ptrdiff_t batch, int thread)
{
    (void)thread;
    run *rn = context;
    const sn_norm_job *job = rn->job;
    const sn_plan *p = &job->plan;
    ptrdiff_t first = batch * SN_ROWS_BATCH, count = min_ptrdiff(SN_ROWS_BATCH, p->groups - first);
    sn_offsets g[SN_ROWS_BATCH];
    float shift[SN_ROWS_BATCH] = { 0.0f };
    sn_moments m[SN_ROWS_BATCH];
    for (ptrdiff_t i = 0; i < count; i++) {
        outer_position(p, first + i, &g[i]);
        m[i] = sn_moments_empty();
    }
    if (rn->mode != MODE_APPLY)
        for (ptrdiff_t i = 0; i < count; i++) {
            shift[i] = group_shift(job, &g[i]);
            m[i] = unit_moments(rn, &g[i], 0, shift[i], NULL);
        }
    for (ptrdiff_t i = 0; i < count; i++) {
        if (rn->mode == MODE_STATS) {
            rn->moments_out[g[i].group] = (sn_group_moments){ shift[i], m[i] };
            continue;
        }
        sn_group_norm s = group_constants(rn, g[i].group, shift[i], &m[i]);
        normalize_run_part(rn, &g[i], 0, 0, p->run_length, &s, NULL);
    }
}

/* Split groups: fewer groups than threads. Phase 1 computes every unit's
 * moments in parallel; a serial pass merges them in unit order (the order of
 * rows_task, so results do not depend on the thread count); phase 2
 * normalizes the units in parallel. Only for contiguous runs. */
/* The owner (group or panel) and unit of split item `item`; partial moments
 * are stored by owner * units + unit whatever the order items are walked in. */
static void split_item(const run *rn, ptrdiff_t owners, ptrdiff_t item, ptrdiff_t *owner,
                       ptrdiff_t *unit)
{
    *owner = rn->run_major ? item % owners : item / rn->units;
    *unit = rn->run_major ? item / owners : item % rn->units;
}

static void rows_split_moments_task(void *context, ptrdiff_t item, int thread)
{
    (void)thread;
    run *rn = context;
    ptrdiff_t g, u;
    split_item(rn, rn->job->plan.groups, item, &g, &u);
    sn_offsets go;
    outer_position(&rn->job->plan, g, &go);
    rn->partial[g * rn->units + u] = unit_moments(rn, &go, u, rn->shifts[g], NULL);
}

static void rows_split_normalize_task(void *context, ptrdiff_t item, int thread)
{
    (void)thread;
    run *rn = context;
    ptrdiff_t g, u;
    split_item(rn, rn->job->plan.groups, item, &g, &u);
    ptrdiff_t begin = (u % rn->blocks) * SN_ROW_BLOCK;
    sn_offsets go;
    outer_position(&rn->job->plan, g, &go);
    normalize_run_part(rn, &go, u / rn->blocks, begin,
                       min_ptrdiff(begin + SN_ROW_BLOCK, rn->job->plan.run_length),
                       &rn->stats[g], NULL);
}

/* ----------------------------------------------------------------- COLUMNS */

/* A panel is one outer position with all the groups of the lane axis. Rows
 * (steps of the last reduced axis) are walked in order, each row across all
 * lanes in chunks of SN_COL_BLOCK_WIDTH, so memory is read row after row.
 * A unit is SN_COL_UNIT_ROWS rows of one run: its moments are merged from
 * blocks of SN_COL_BLOCK_ROWS rows, and units are merged in order. */
#define SN_COL_UNIT_ROWS (8 * SN_COL_BLOCK_ROWS)

typedef struct panel {
    sn_offsets g;   /* the panel's outer position */
    const float *x; /* first lane, outer offset applied */
    float *y;
} panel;

/* Per-thread arrays of a panel, one entry per lane. */
typedef struct lanes {
    float *shift_in, *shift, *mean, *rstd;
    sn_moments *total, *unit;
} lanes;

static size_t lanes_bytes(ptrdiff_t count)
{
    return (size_t)count * (4 * sizeof(float) + 2 * sizeof(sn_moments));
}

static lanes lanes_at(void *memory, ptrdiff_t count)
{
    lanes l;
    l.total = memory;
    l.unit = l.total + count;
    l.shift_in = (float *)(l.unit + count);
    l.shift = l.shift_in + count;
    l.mean = l.shift + count;
    l.rstd = l.mean + count;
    return l;
}

static panel panel_at(const sn_norm_job *job, ptrdiff_t index)
{
    panel pn;
    outer_position(&job->plan, index, &pn.g);
    pn.x = job->x + pn.g.x;
    pn.y = job->y + pn.g.y;
    return pn;
}

/* Lanes from this one on are time steps past their sequence's end. */
static ptrdiff_t first_padded_lane(const sn_plan *p, const panel *pn)
{
    if (!p->seq_lens || p->lane.mask_role != SN_MASK_ROLE_TIME || pn->g.batch < 0)
        return p->lane.dim;
    return min_ptrdiff(p->seq_lens[pn->g.batch], p->lane.dim);
}

/* The first valid row of the panel: the per-lane shifts. */
static void panel_shift(const sn_norm_job *job, const panel *pn, float *shift)
{
    const sn_plan *p = &job->plan;
    size_t bytes = (size_t)p->lane.dim * sizeof *shift;
    memset(shift, 0, bytes);
    for (ptrdiff_t r = 0; r < p->runs; r++) {
        sn_offsets at;
        run_position(p, r, &at);
        if (valid_length(p, &pn->g, &at) > 0) {
            memcpy(shift, pn->x + at.x, bytes);
            return;
        }
    }
}

/* Moments of unit u of a panel, one per lane, into out. */
static void panel_unit_moments(const run *rn, const panel *pn, ptrdiff_t u, const float *shift,
                               sn_moments *out)
{
    const sn_plan *p = &rn->job->plan;
    const sn_axis *rows_axis = run_axis(p);
    sn_offsets at;
    run_position(p, u / rn->blocks, &at);
    ptrdiff_t begin = (u % rn->blocks) * SN_COL_UNIT_ROWS;
    ptrdiff_t end = min_ptrdiff(valid_length(p, &pn->g, &at), begin + SN_COL_UNIT_ROWS);
    sn_moments block[SN_COL_BLOCK_WIDTH];
    for (ptrdiff_t j = 0; j < p->lane.dim; j++)
        out[j] = sn_moments_empty();
    for (ptrdiff_t i = begin; i < end; i += SN_COL_BLOCK_ROWS) {
        const float *x = pn->x + at.x + i * rows_axis->x_stride;
        size_t rows = (size_t)min_ptrdiff(SN_COL_BLOCK_ROWS, end - i);
        for (ptrdiff_t c = 0; c < p->lane.dim; c += SN_COL_BLOCK_WIDTH) {
            size_t width = (size_t)min_ptrdiff(SN_COL_BLOCK_WIDTH, p->lane.dim - c);
            rn->job->kernels->col_moments_f32(x + c, rows_axis->x_stride, rows, width, shift + c,
                                              block);
            for (size_t j = 0; j < width; j++)
                sn_moments_merge(&out[c + (ptrdiff_t)j], &block[j]);
        }
    }
}

/* Normalizes rows [begin, end) of run r of a panel; padded rows and lanes are
 * zeroed when the plan asks for it. */
static void panel_normalize_part(const run *rn, const panel *pn, ptrdiff_t r, ptrdiff_t begin,
                                 ptrdiff_t end, const lanes *l)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = &job->plan;
    const sn_axis *rows_axis = run_axis(p);
    sn_offsets at;
    run_position(p, r, &at);
    ptrdiff_t stop = p->zero_masked ? min_ptrdiff(end, valid_length(p, &pn->g, &at)) : end;
    ptrdiff_t lanes_kept = p->zero_masked ? first_padded_lane(p, pn) : p->lane.dim;
    const float *x = pn->x + at.x;
    float *y = pn->y + at.y;
    /* Whole rows across every lane: memory is written in order. */
    if (stop > begin) {
        ptrdiff_t param = pn->g.param + at.param + begin * rows_axis->param_stride;
        job->kernels->col_normalize_f32(
            x + begin * rows_axis->x_stride, rows_axis->x_stride,
            y + begin * rows_axis->y_stride, rows_axis->y_stride, (size_t)(stop - begin),
            (size_t)p->lane.dim, l->shift, l->mean, l->rstd,
            job->scale ? job->scale + param : NULL, job->bias ? job->bias + param : NULL,
            rows_axis->param_stride, p->lane.param_stride);
    }
    for (ptrdiff_t i = begin; i < end; i++) {
        ptrdiff_t from = i < stop ? lanes_kept : 0;
        if (from < p->lane.dim)
            memset(y + i * rows_axis->y_stride + from, 0,
                   (size_t)(p->lane.dim - from) * sizeof *y);
    }
}

/* Turns a panel's merged moments into per-lane constants (or records them).
 * Returns whether the panel is to be normalized. */
static int panel_finish(run *rn, const panel *pn, lanes *l)
{
    const sn_plan *p = &rn->job->plan;
    ptrdiff_t first = first_padded_lane(p, pn);
    for (ptrdiff_t j = 0; j < p->lane.dim; j++) {
        ptrdiff_t group = pn->g.group + j * p->lane.group_stride;
        if (j >= first)
            l->total[j] = sn_moments_empty();
        if (rn->mode == MODE_STATS) {
            rn->moments_out[group] = (sn_group_moments){ l->shift_in[j], l->total[j] };
            continue;
        }
        sn_group_norm s = group_constants(rn, group, l->shift_in[j], &l->total[j]);
        l->shift[j] = s.shift;
        l->mean[j] = s.mean;
        l->rstd[j] = s.rstd;
    }
    return rn->mode != MODE_STATS;
}

static void columns_task(void *context, ptrdiff_t index, int thread)
{
    run *rn = context;
    const sn_plan *p = &rn->job->plan;
    panel pn = panel_at(rn->job, index);
    lanes l = lanes_at(rn->scratch + (size_t)thread * lanes_bytes(p->lane.dim), p->lane.dim);
    for (ptrdiff_t j = 0; j < p->lane.dim; j++)
        l.total[j] = sn_moments_empty();
    if (rn->mode != MODE_APPLY) {
        panel_shift(rn->job, &pn, l.shift_in);
        for (ptrdiff_t u = 0; u < rn->units; u++) {
            panel_unit_moments(rn, &pn, u, l.shift_in, l.unit);
            for (ptrdiff_t j = 0; j < p->lane.dim; j++)
                sn_moments_merge(&l.total[j], &l.unit[j]);
        }
    }
    if (!panel_finish(rn, &pn, &l))
        return;
    for (ptrdiff_t r = 0; r < p->runs; r++)
        panel_normalize_part(rn, &pn, r, 0, p->run_length, &l);
}

/* Split panels: fewer panels than threads; as for rows, by units. */
static void columns_split_moments_task(void *context, ptrdiff_t item, int thread)
{
    (void)thread;
    run *rn = context;
    ptrdiff_t lanes_count = rn->job->plan.lane.dim, index, u;
    split_item(rn, rn->job->plan.outer_count, item, &index, &u);
    panel pn = panel_at(rn->job, index);
    panel_unit_moments(rn, &pn, u, rn->shifts + index * lanes_count,
                       rn->partial + (index * rn->units + u) * lanes_count);
}

static void columns_split_normalize_task(void *context, ptrdiff_t item, int thread)
{
    run *rn = context;
    const sn_plan *p = &rn->job->plan;
    ptrdiff_t index, u;
    split_item(rn, p->outer_count, item, &index, &u);
    panel pn = panel_at(rn->job, index);
    lanes l = lanes_at(rn->scratch + (size_t)thread * lanes_bytes(p->lane.dim), p->lane.dim);
    for (ptrdiff_t j = 0; j < p->lane.dim; j++) {
        const sn_group_norm *s = &rn->stats[pn.g.group + j * p->lane.group_stride];
        l.shift[j] = s->shift;
        l.mean[j] = s->mean;
        l.rstd[j] = s->rstd;
    }
    ptrdiff_t begin = (u % rn->blocks) * SN_COL_UNIT_ROWS;
    panel_normalize_part(rn, &pn, u / rn->blocks, begin,
                         min_ptrdiff(begin + SN_COL_UNIT_ROWS, p->run_length), &l);
}

/* ------------------------------------------------------------------ split */

/* Splits the reduction of few groups (ROWS) or panels (COLUMNS) into their
 * fixed units, computed in parallel and merged in unit order: results equal
 * the unsplit path's bit for bit, whatever the thread count. */
static sn_status run_split(run *rn, int threads)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = &job->plan;
    int columns = p->path == SN_PATH_COLUMNS;
    ptrdiff_t owners = p->outer_count, width = columns ? p->lane.dim : 1;
    ptrdiff_t items = owners * rn->units;
    rn->partial = malloc((size_t)(items * width) * sizeof *rn->partial);
    rn->shifts = malloc((size_t)(owners * width) * sizeof *rn->shifts);
    rn->stats = malloc((size_t)p->groups * sizeof *rn->stats);
    if (!rn->partial || !rn->shifts || !rn->stats) {
        free(rn->partial);
        free(rn->shifts);
        free(rn->stats);
        return SN_ERR_OUT_OF_MEMORY;
    }
    if (rn->mode != MODE_APPLY) {
        for (ptrdiff_t o = 0; o < owners; o++) {
            if (columns) {
                panel pn = panel_at(job, o);
                panel_shift(job, &pn, rn->shifts + o * width);
            } else {
                sn_offsets g;
                outer_position(p, o, &g);
                rn->shifts[o] = group_shift(job, &g);
            }
        }
        sn_parallel_for(items, threads,
                        columns ? columns_split_moments_task : rows_split_moments_task, rn);
    }
    for (ptrdiff_t o = 0; o < owners; o++) {
        if (columns) {
            panel pn = panel_at(job, o);
            lanes l = lanes_at(rn->scratch, width);
            memcpy(l.shift_in, rn->shifts + o * width, (size_t)width * sizeof(float));
            for (ptrdiff_t j = 0; j < width; j++)
                l.total[j] = sn_moments_empty();
            for (ptrdiff_t u = 0; rn->mode != MODE_APPLY && u < rn->units; u++)
                for (ptrdiff_t j = 0; j < width; j++)
                    sn_moments_merge(&l.total[j], &rn->partial[(o * rn->units + u) * width + j]);
            if (panel_finish(rn, &pn, &l))
                for (ptrdiff_t j = 0; j < width; j++)
                    rn->stats[pn.g.group + j * p->lane.group_stride] =
                        (sn_group_norm){ l.shift[j], l.mean[j], l.rstd[j] };
        } else {
            sn_offsets g;
            outer_position(p, o, &g);
            sn_moments total = sn_moments_empty();
            for (ptrdiff_t u = 0; rn->mode != MODE_APPLY && u < rn->units; u++)
                sn_moments_merge(&total, &rn->partial[o * rn->units + u]);
            if (rn->mode == MODE_STATS)
                rn->moments_out[g.group] = (sn_group_moments){ rn->shifts[o], total };
            else
                rn->stats[o] = group_constants(rn, g.group, rn->shifts[o], &total);
        }
    }
    if (rn->mode != MODE_STATS)
        normalize_for(rn, items, threads,
                      columns ? columns_split_normalize_task : rows_split_normalize_task);
    free(rn->partial);
    free(rn->shifts);
    free(rn->stats);
    return SN_OK;
}

/* A reduced axis of size 0: every group is empty and x and y have no element
 * (their data may be NULL), so only the statistics are written. */
static sn_status empty_groups(run *rn)
{
    const sn_norm_job *job = rn->job;
    sn_moments none = sn_moments_empty();
    int outputs = rn->mode == MODE_STATS || job->mean_out || job->rstd_out;
    for (ptrdiff_t g = 0; outputs && g < job->plan.groups; g++) {
        if (rn->mode == MODE_STATS)
            rn->moments_out[g] = (sn_group_moments){ 0.0f, none };
        else if (rn->mode == MODE_FUSED)
            finish_group(job, g, 0.0f, &none);
    }
    return SN_OK;
}

/* Run-major splitting keeps the moments of every (group, unit): bound them. */
#define SN_RUN_MAJOR_MAX_ITEMS (1 << 20)

static sn_status execute(run *rn)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = &job->plan;
    if (p->groups == 0)
        return SN_OK;
    if (p->reduce_count == 0)
        return empty_groups(rn);
    int columns = p->path == SN_PATH_COLUMNS;
    ptrdiff_t unit = columns ? SN_COL_UNIT_ROWS : SN_ROW_BLOCK;
    rn->blocks = (p->run_length + unit - 1) / unit;
    rn->units = p->runs * rn->blocks;
    double per_group = p->reduce_count > 0 ? (double)p->reduce_count : 1.0;
    int threads = sn_threads_for((double)p->groups * per_group);
    ptrdiff_t owners = p->path == SN_PATH_ROWS ? p->groups : p->outer_count;
    int split = p->path != SN_PATH_GATHER && owners < threads && rn->units > 1;
    /* Runs of different groups interleaved in memory (channels-first data
     * reduced over batch and space): walk them in memory order, unit by unit
     * across the groups, instead of jumping a batch stride at every run. */
    if (p->path == SN_PATH_ROWS && p->runs > 1 && p->outer_rank > 0 &&
        p->reduce[0].x_stride > p->outer[p->outer_rank - 1].x_stride &&
        (double)owners * (double)rn->units <= SN_RUN_MAJOR_MAX_ITEMS) {
        split = 1;
        rn->run_major = 1;
    }
    if (threads > owners && !split)
        threads = (int)owners;
    /* Every element of y is written once: groups * reduce_count of them. */
    rn->stream = p->path == SN_PATH_ROWS && rn->mode != MODE_STATS &&
                 (double)p->groups * (double)p->reduce_count * sizeof(float) > SN_STREAM_MIN_BYTES;

    /* Per-thread scratch: a panel's lane arrays, or a strided run's copies. */
    size_t per_thread = columns ? lanes_bytes(p->lane.dim)
                        : p->path == SN_PATH_GATHER ? 3 * (size_t)p->run_length * sizeof(float)
                                                    : 0;
    if (per_thread) {
        rn->scratch = malloc((size_t)threads * per_thread);
        if (!rn->scratch)
            return SN_ERR_OUT_OF_MEMORY;
    }
    sn_status status = SN_OK;
    if (split)
        status = run_split(rn, threads);
    else if (p->path == SN_PATH_ROWS && rn->units == 1)
        normalize_for(rn, (owners + SN_ROWS_BATCH - 1) / SN_ROWS_BATCH, threads, rows_batch_task);
    else
        normalize_for(rn, owners, threads, columns ? columns_task : rows_task);
    free(rn->scratch);
    return status;
}

sn_status sn_run_norm(const sn_norm_job *job)
{
    run rn = { job, MODE_FUSED, NULL, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 };
    return execute(&rn);
}

sn_status sn_run_stats(const sn_norm_job *job, sn_group_moments *out)
{
    run rn = { job, MODE_STATS, out, NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0 };
    return execute(&rn);
}

sn_status sn_run_normalize(const sn_norm_job *job, const sn_group_norm *groups)
{
    run rn = { job, MODE_APPLY, NULL, groups, 0, 0, 0, NULL, NULL, NULL, NULL, 0 };
    return execute(&rn);
}
