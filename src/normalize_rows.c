/* The ROWS and GATHER loop nests: each group a nest of runs walked by the row
 * kernels (directly, or through a per-thread scratch copy of a strided run). */
#include "engine.h"

/* A run's elements as a contiguous array: the run itself, or its copy in
 * `scratch` when it is strided. */
static const float *run_input(const sn_norm_job *job, const float *x, ptrdiff_t length,
                              float *scratch)
{
    const sn_plan *p = job->plan;
    if (p->path == SN_PATH_ROWS)
        return x;
    ptrdiff_t step = run_axis(p)->x_stride;
    for (ptrdiff_t i = 0; i < length; i++)
        scratch[i] = x[i * step];
    return scratch;
}

/* sn_group_shift where runs may be masked out: the first valid run's first
 * element (0 when none is valid). */
float sn_group_shift_search(const sn_norm_job *job, const sn_offsets *g)
{
    const sn_plan *p = job->plan;
    for (ptrdiff_t r = 0; r < p->runs; r++) {
        sn_offsets at;
        run_position(p, r, &at);
        if (valid_length(job, g, &at) > 0)
            return job->x[g->x + at.x];
    }
    return 0.0f;
}

/* Moments of unit `u` (run u / blocks, block u % blocks) of a group.
 * Inlined, as normalize_run_part below: called per row of short rows, where
 * the calls cost as much as the work around them. */
SN_ENGINE_INLINE sn_moments unit_moments(const run *rn, const sn_offsets *g, ptrdiff_t u,
                                         float shift, float *scratch)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = job->plan;
    sn_offsets at;
    run_position(p, u / rn->blocks, &at);
    ptrdiff_t begin = (u % rn->blocks) * SN_ROW_BLOCK;
    ptrdiff_t length = min_ptrdiff(valid_length(job, g, &at) - begin, SN_ROW_BLOCK);
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
SN_ENGINE_INLINE void normalize_run_part(const run *rn, const sn_offsets *g, ptrdiff_t r,
                                         ptrdiff_t begin, ptrdiff_t end, const sn_group_norm *s,
                                         float *scratch)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = job->plan;
    const sn_axis *axis = run_axis(p);
    sn_offsets at;
    run_position(p, r, &at);
    ptrdiff_t valid = valid_length(job, g, &at);
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

/* Whether a group's units are whole runs one stride apart in x, none of them
 * masked: the rows_moments kernel then reduces them SN_ROWS_BATCH at a time,
 * their chains side by side, each run's moments the same bits as alone (in
 * cache, per-call pairs at 1 / 2 threads: norm "TF" [2,200,512] 0.94-0.95 /
 * 0.94 of the time, [4,64,512] 0.96 / 0.94, "except_batch" [2,128,512] 0.97 /
 * 0.93-0.94; from memory unchanged). */
static int units_side_by_side(const run *rn)
{
    const sn_plan *p = rn->job->plan;
    return p->path == SN_PATH_ROWS && rn->blocks == 1 && !p->masked && p->reduce_rank == 2;
}

/* Merges the moments of units [from, to) of a group into *total, in order. */
SN_ENGINE_INLINE void merge_units(const run *rn, const sn_offsets *g, ptrdiff_t from, ptrdiff_t to,
                                  float shift, float *scratch, sn_moments *total)
{
    if (to - from > 1 && units_side_by_side(rn)) {
        const sn_norm_job *job = rn->job;
        const ptrdiff_t stride = job->plan->reduce[0].x_stride;
        float shifts[SN_ROWS_BATCH];
        sn_moments m[SN_ROWS_BATCH];
        for (int i = 0; i < SN_ROWS_BATCH; i++)
            shifts[i] = shift;
        for (ptrdiff_t count; to - from > 1; from += count) {
            count = min_ptrdiff(SN_ROWS_BATCH, to - from);
            job->kernels->rows_moments_f32(job->x + g->x + from * stride, stride, (size_t)count,
                                           (size_t)job->plan->run_length, shifts, m);
            for (ptrdiff_t i = 0; i < count; i++)
                sn_moments_merge(total, &m[i]);
        }
    }
    for (ptrdiff_t u = from; u < to; u++) {
        sn_moments m = unit_moments(rn, g, u, shift, scratch);
        sn_moments_merge(total, &m);
    }
}

/* One group: its moments, then its normalization. */
static void group_task(const run *rn, ptrdiff_t index, int thread)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = job->plan;
    float *scratch = rn->scratch ? (float *)rn->scratch + (ptrdiff_t)thread * 3 * p->run_length
                                 : NULL;
    sn_offsets g;
    outer_position(p, index, &g);
    float shift = 0.0f;
    sn_moments total = sn_moments_empty();
    if (rn->mode != MODE_APPLY) {
        shift = sn_group_shift(job, &g);
        merge_units(rn, &g, 0, rn->units, shift, scratch, &total);
    }
    if (rn->mode == MODE_STATS) {
        rn->moments_out[g.group] = (sn_group_moments){ shift, total };
        return;
    }
    sn_group_norm s = sn_group_constants(rn, g.group, shift, &total);
    for (ptrdiff_t r = 0; r < p->runs; r++)
        normalize_run_part(rn, &g, r, 0, p->run_length, &s, scratch);
}

/* Whether rows normalized a few together by the rows_normalize kernel, each
 * vector of the parameters loaded once for them, pay: in cache, and where the
 * output streams (layer norm [8192,256] at 1 thread: 8% faster, median of 10
 * rounds; norm "TF" [32,200,512]: 7-10%; norm F [32,200,512], batches of two
 * rows, unchanged). Not from memory with plain stores, whose two to four
 * streams of stores measured slower than one row after the other (norm F
 * [32,200,512] at 2 threads: 23% slower, norm "TF" 6%; on the Zen 5 VM
 * 110-115 -> 79-89 GB/s). */
static int together_pays(const run *rn)
{
    return rn->stream || sn_rows_in_cache(rn->job->plan);
}

/* Whether a group's runs are normalized SN_ROWS_BATCH at a time by the
 * rows_normalize kernel (together_pays): whole runs one stride apart, none
 * masked (units_side_by_side), with the same parameter per element (norm
 * "TF" with parameters "F") or none. Each run comes out as row_normalize
 * makes it. */
static int runs_together(const run *rn)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = job->plan;
    return units_side_by_side(rn) && p->reduce[0].param_stride == 0 &&
           (run_axis(p)->param_stride == 1 || (!job->scale && !job->bias)) &&
           together_pays(rn);
}

/* `count` whole runs (2 to SN_ROWS_BATCH), run i at x + i * x_stride in x and
 * y + i * y_stride in y, normalized with s[i * s_step] in one call of the
 * rows_normalize kernel, with the parameter array at `param` for them all. */
SN_ENGINE_INLINE void normalize_together(const run *rn, ptrdiff_t x, ptrdiff_t x_stride,
                                         ptrdiff_t y, ptrdiff_t y_stride, ptrdiff_t count,
                                         const sn_group_norm *s, ptrdiff_t s_step,
                                         ptrdiff_t param)
{
    const sn_norm_job *job = rn->job;
    float shift[SN_ROWS_BATCH], mean[SN_ROWS_BATCH], rstd[SN_ROWS_BATCH];
    for (ptrdiff_t i = 0; i < count; i++) {
        shift[i] = s[i * s_step].shift;
        mean[i] = s[i * s_step].mean;
        rstd[i] = s[i * s_step].rstd;
    }
    job->kernels->rows_normalize_f32(job->x + x, x_stride, job->y + y, y_stride, (size_t)count,
                                     (size_t)job->plan->run_length, shift, mean, rstd,
                                     job->scale ? job->scale + param : NULL,
                                     job->bias ? job->bias + param : NULL, rn->stream);
}

/* Runs [r, r + count) of a group (runs_together), normalized in one call. */
static void normalize_runs(const run *rn, const sn_offsets *g, ptrdiff_t r, ptrdiff_t count,
                           const sn_group_norm *s)
{
    const sn_plan *p = rn->job->plan;
    if (count == 1) {
        normalize_run_part(rn, g, r, 0, p->run_length, s, NULL);
        return;
    }
    sn_offsets at;
    run_position(p, r, &at);
    normalize_together(rn, g->x + at.x, p->reduce[0].x_stride, g->y + at.y,
                       p->reduce[0].y_stride, count, s, 0, g->param + at.param);
}

/* Groups [begin, end) on one thread. When groups span several blocks and
 * the output streams, each block of a group is normalized and then the same
 * block of the next group is reduced, so that reading the one from memory
 * overlaps writing the other (the column path's panels do the same); the
 * next group's moments merge block by block in the order group_task merges
 * them, so every group is computed exactly as group_task computes it. An
 * output written into the cache is best normalized group after group, as
 * the column path's panels are: on a Zen 4 VM, per-call pairs against the
 * interleaved walk, norm "TF" on [32,200,512] at 2 threads 0.91 of the time
 * (separate runs, 12 alternating pairs: median 0.94), [8,200,512] in cache
 * at 1 thread 0.92, group norm on [2,32,10,4096] at 2 threads 0.87-0.96,
 * "except_batch" [4,128,4096] 0.96. Streamed groups whose runs read a
 * parameter per element were 1.14x slower group after group (norm "TF" at
 * 1 thread, separate runs). */
void sn_rows_range(run *rn, ptrdiff_t begin, ptrdiff_t end, int thread)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = job->plan;
    /* Strided runs (GATHER) copy through the thread's scratch a group at a
     * time; single-block groups and outputs written into the cache go group
     * after group. */
    if (p->path != SN_PATH_ROWS || rn->mode != MODE_FUSED || rn->units < 2 || !rn->stream) {
        for (ptrdiff_t i = begin; i < end; i++)
            group_task(rn, i, thread);
        return;
    }
    if (begin >= end)
        return;
    const int side_by_side = units_side_by_side(rn), together = runs_together(rn);
    const ptrdiff_t step = together ? SN_ROWS_BATCH : sn_rows_filling_batch(p->run_length);
    sn_offsets g, next;
    outer_position(p, begin, &g);
    float shift = sn_group_shift(job, &g), next_shift = 0.0f;
    sn_moments total = sn_moments_empty();
    merge_units(rn, &g, 0, rn->units, shift, NULL, &total);
    for (ptrdiff_t i = begin; i < end; i++) {
        sn_group_norm s = sn_group_constants(rn, g.group, shift, &total);
        int more = i + 1 < end;
        ptrdiff_t unit = more ? 0 : rn->units;
        if (more) {
            outer_position(p, i + 1, &next);
            next_shift = sn_group_shift(job, &next);
        }
        total = sn_moments_empty();
        if (side_by_side) {
            /* Whole runs `step` at a time, then as many units of the next
             * group, whose statistics merge_units takes side by side: where
             * the runs are normalized together, SN_ROWS_BATCH; else as many as
             * a batch of rows (SN_ROWS_BATCH_BYTES), so that the runs in flight
             * stay in L1 (four runs of 4096: "except_batch" [4,128,4096] 1.11x
             * the time). Against run by run, separate runs, when this walk
             * also took outputs written into the cache: norm "TF"
             * [16,200,512] at 1 thread 0.92 of the time, [16,200,256] at 2
             * threads 0.85. */
            for (ptrdiff_t r = 0; r < p->runs; r += step) {
                ptrdiff_t count = min_ptrdiff(step, p->runs - r);
                if (together)
                    normalize_runs(rn, &g, r, count, &s);
                else
                    for (ptrdiff_t i = 0; i < count; i++)
                        normalize_run_part(rn, &g, r + i, 0, p->run_length, &s, NULL);
                ptrdiff_t to = min_ptrdiff(unit + count, rn->units);
                merge_units(rn, &next, unit, to, next_shift, NULL, &total);
                unit = to;
            }
        } else {
            for (ptrdiff_t r = 0; r < p->runs; r++)
                for (ptrdiff_t part = 0; part < p->run_length; part += SN_ROW_BLOCK) {
                    normalize_run_part(rn, &g, r, part,
                                       min_ptrdiff(part + SN_ROW_BLOCK, p->run_length), &s, NULL);
                    if (unit < rn->units) {
                        merge_units(rn, &next, unit, unit + 1, next_shift, NULL, &total);
                        unit++;
                    }
                }
        }
        merge_units(rn, &next, unit, rn->units, next_shift, NULL, &total);
        if (more) {
            g = next;
            shift = next_shift;
        }
    }
}

/* Whether the batch's rows (single-run groups) lie one stride apart in x
 * and one in y, every one of full length (no padded frame) and contiguous
 * (ROWS): the rows_* kernels then take them in one call, and the row kernels
 * each row without the general bookkeeping of a run. */
static int regular_batch(const run *rn, const sn_offsets *g, ptrdiff_t count, ptrdiff_t *x_stride,
                         ptrdiff_t *y_stride)
{
    const sn_plan *p = rn->job->plan;
    if (p->path != SN_PATH_ROWS)
        return 0;
    sn_offsets at;
    run_position(p, 0, &at);
    *x_stride = count > 1 ? g[1].x - g[0].x : 0;
    *y_stride = count > 1 ? g[1].y - g[0].y : 0;
    for (ptrdiff_t i = 0; i < count; i++)
        if (g[i].x != g[0].x + i * *x_stride || g[i].y != g[0].y + i * *y_stride ||
            valid_length(rn->job, &g[i], &at) != p->run_length)
            return 0;
    return 1;
}

/* Whether rows share one parameter array along the row (a parameter per
 * element: layer norm's scale and bias), or have none, given whether their
 * parameter offsets differ: then rows_normalize can normalize them together. */
static int parameters_shared(const run *rn, int offsets_differ)
{
    const sn_norm_job *job = rn->job;
    if (!job->scale && !job->bias)
        return 1;
    return run_axis(job->plan)->param_stride == 1 && !offsets_differ;
}

/* parameters_shared for the batch's rows at g. */
static int same_parameters(const run *rn, const sn_offsets *g, ptrdiff_t count)
{
    int differ = 0;
    for (ptrdiff_t i = 1; i < count; i++)
        differ |= g[i].param != g[0].param;
    return parameters_shared(rn, differ);
}

/* Whether the groups are whole rows along one outer axis, unmasked (layer
 * norm's rows, once merged): every batch of them is regular. */
static int rows_along_one_axis(const sn_plan *p)
{
    return p->path == SN_PATH_ROWS && p->outer_rank == 1 && !p->masked;
}

/* A regular batch (regular_batch) whose rows do not lie along one axis, or
 * in the statistics and apply modes (else the rows_norm kernel takes them,
 * sn_rows_batches, with the same steps): its rows' statistics side by side,
 * then each row's constants right before its normalization by the row kernel,
 * called directly, as normalize_run_part would call it (a row's output
 * does not wait for the batch's last square root, and the general run's
 * bookkeeping, some 200 instructions a row, is skipped). Against the
 * constants all first and each row through normalize_run_part, layer norm
 * rows read from L3 and written with plain stores took 0.93-0.97 of the
 * time ([4096,256], [3200,512], [3000,768] at 1 and 2 threads; per-call
 * pairs in both orders on a Zen 4 VM); in cache and streamed, the same. */
static void regular_batch_task(const run *rn, const sn_offsets *g, ptrdiff_t count,
                               ptrdiff_t x_stride, ptrdiff_t y_stride)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = job->plan;
    const size_t n = (size_t)p->run_length;
    float shift[SN_ROWS_BATCH] = { 0.0f };
    sn_moments m[SN_ROWS_BATCH];
    if (rn->mode != MODE_APPLY) {
        for (ptrdiff_t i = 0; i < count; i++)
            shift[i] = job->x[g[i].x];
        if (count > 1)
            job->kernels->rows_moments_f32(job->x + g[0].x, x_stride, (size_t)count, n, shift, m);
        else
            job->kernels->row_moments_f32(job->x + g[0].x, n, shift[0], m);
    }
    if (rn->mode == MODE_STATS) {
        for (ptrdiff_t i = 0; i < count; i++)
            rn->moments_out[g[i].group] = (sn_group_moments){ shift[i], m[i] };
        return;
    }
    sn_group_norm s[SN_ROWS_BATCH];
    if (count > 1 && together_pays(rn) && same_parameters(rn, g, count)) {
        for (ptrdiff_t i = 0; i < count; i++)
            s[i] = sn_group_constants(rn, g[i].group, shift[i], &m[i]);
        normalize_together(rn, g[0].x, x_stride, g[0].y, y_stride, count, s, 1, g[0].param);
        return;
    }
    const ptrdiff_t step = run_axis(p)->param_stride;
    for (ptrdiff_t i = 0; i < count; i++) {
        s[i] = sn_group_constants(rn, g[i].group, shift[i], &m[i]);
        job->kernels->row_normalize_f32(job->x + g[i].x, job->y + g[i].y, n, s[i].shift,
                                        s[i].mean, s[i].rstd,
                                        job->scale ? job->scale + g[i].param : NULL,
                                        job->bias ? job->bias + g[i].param : NULL, step,
                                        rn->stream);
    }
}

/* Short single-run groups, a few at a time: each group's statistics end in a
 * chain of dependent scalar steps (reductions, divisions, a square root);
 * doing the loads of the next groups before those chains lets them overlap.
 * Every group is computed exactly as group_task computes it. */
static void batch_task(run *rn, ptrdiff_t batch)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = job->plan;
    ptrdiff_t first = batch * rn->batch, count = min_ptrdiff(rn->batch, p->groups - first);
    sn_offsets g[SN_ROWS_BATCH];
    for (ptrdiff_t i = 0; i < count; i++)
        outer_position(p, first + i, &g[i]);
    ptrdiff_t x_stride = 0, y_stride = 0;
    if (regular_batch(rn, g, count, &x_stride, &y_stride)) {
        regular_batch_task(rn, g, count, x_stride, y_stride);
        return;
    }
    float shift[SN_ROWS_BATCH] = { 0.0f };
    sn_moments m[SN_ROWS_BATCH];
    if (rn->mode != MODE_APPLY)
        for (ptrdiff_t i = 0; i < count; i++) {
            shift[i] = sn_group_shift(job, &g[i]);
            m[i] = unit_moments(rn, &g[i], 0, shift[i], NULL);
        }
    if (rn->mode == MODE_STATS) {
        for (ptrdiff_t i = 0; i < count; i++)
            rn->moments_out[g[i].group] = (sn_group_moments){ shift[i], m[i] };
        return;
    }
    /* All constants first: their divisions and square roots overlap. */
    sn_group_norm s[SN_ROWS_BATCH];
    for (ptrdiff_t i = 0; i < count; i++)
        s[i] = sn_group_constants(rn, g[i].group, shift[i], &m[i]);
    for (ptrdiff_t i = 0; i < count; i++)
        normalize_run_part(rn, &g[i], 0, 0, p->run_length, &s[i], NULL);
}

/* Batches [begin, end). Rows along one unmasked axis, fused: the rows_norm
 * kernel takes them all, batch by batch as batch_task would. */
void sn_rows_batches(run *rn, ptrdiff_t begin, ptrdiff_t end, int thread)
{
    (void)thread;
    const sn_norm_job *job = rn->job;
    const sn_plan *p = job->plan;
    if (rows_along_one_axis(p) && rn->mode == MODE_FUSED) {
        const sn_axis *a = &p->outer[0];
        const ptrdiff_t first = begin * rn->batch;
        const ptrdiff_t rows = min_ptrdiff(end * rn->batch, p->groups) - first;
        const sn_rows_work w = {
            .x = job->x + first * a->x_stride,
            .x_stride = a->x_stride,
            .y = job->y + first * a->y_stride,
            .y_stride = a->y_stride,
            .rows = (size_t)rows,
            .n = (size_t)p->run_length,
            .batch = (size_t)rn->batch,
            .together = parameters_shared(rn, a->param_stride != 0) && together_pays(rn),
            .stream = rn->stream,
            .epsilon = job->epsilon,
            .scale = job->scale ? job->scale + first * a->param_stride : NULL,
            .bias = job->bias ? job->bias + first * a->param_stride : NULL,
            .param_stride = a->param_stride,
            .param_step = run_axis(p)->param_stride,
            /* Groups along the one axis that is not reduced are numbered 0, 1, ... */
            .mean = job->mean_out ? job->mean_out + first : NULL,
            .rstd = job->rstd_out ? job->rstd_out + first : NULL,
        };
        job->kernels->rows_norm_f32(&w);
        return;
    }
    for (ptrdiff_t batch = begin; batch < end; batch++)
        batch_task(rn, batch);
}

/* Split groups: fewer groups than threads. Phase 1 computes every unit's
 * moments in parallel; a serial pass merges them in unit order (the order of
 * group_task, so results do not depend on the thread count); phase 2
 * normalizes the units in parallel. Only for contiguous runs. */
void sn_rows_split_moments_task(void *context, ptrdiff_t item, int thread)
{
    (void)thread;
    run *rn = context;
    ptrdiff_t g, u;
    sn_split_item(rn, rn->job->plan->groups, item, &g, &u);
    sn_offsets go;
    outer_position(rn->job->plan, g, &go);
    rn->partial[g * rn->units + u] = unit_moments(rn, &go, u, rn->shifts[g], NULL);
}

void sn_rows_split_normalize(run *rn, ptrdiff_t begin, ptrdiff_t end, int thread)
{
    (void)thread;
    for (ptrdiff_t item = begin; item < end; item++) {
        ptrdiff_t g, u;
        sn_split_item(rn, rn->job->plan->groups, item, &g, &u);
        ptrdiff_t first = (u % rn->blocks) * SN_ROW_BLOCK;
        sn_offsets go;
        outer_position(rn->job->plan, g, &go);
        normalize_run_part(rn, &go, u / rn->blocks, first,
                           min_ptrdiff(first + SN_ROW_BLOCK, rn->job->plan->run_length),
                           &rn->stats[g], NULL);
    }
}

