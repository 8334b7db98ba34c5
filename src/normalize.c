#include "normalize.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "engine.h"

/* Outputs of this many bytes per thread or more are written with streaming
 * (non-temporal) stores (ROWS and COLUMNS paths). A plain store first reads
 * its line (read for ownership): 3 transfers per element instead of 2, and a
 * core keeps too few of those reads in flight to stream at memory speed.
 * Below the threshold y may still be in cache when the caller reads it,
 * which streaming would forfeit. Per thread, as measured on 13 MB outputs
 * (batch norm and generic norm on [32,200,512]): streaming made one thread
 * 20-35% faster and two threads (6.5 MB each, the lines staying in L3)
 * 15-80% slower; layer norm's 24-32 MB outputs stream at 1 and 2 threads. A
 * constant, not sysconf(_SC_LEVEL3_CACHE_SIZE): in virtual machines that
 * reports the host's total (384 MiB on a VM whose lscpu shows 32 MiB), and
 * the L3 a core can use is often one CCX's (16-32 MiB on current x86). */
#define SN_STREAM_MIN_BYTES_PER_THREAD ((double)(8 << 20))
/* Rows normalized one block each (no pipelining) without a parameter array
 * along the row (instance norm's per-row scale and bias, or none) stream
 * from 12 MiB per thread: below, their plain stores keep x and y in L3
 * ([1024,4096] without parameters at 2 threads, 8 MiB each: 196-222 us
 * plain, 245-253 us streamed; [640,4096] at 1 thread, 10 MiB: 247-259 us
 * against 295 us; at 12 MiB streaming is 5-10% ahead again). A parameter
 * array along the row makes plain stores evict it from L1, and those rows
 * keep the lower threshold (the same [1024,4096] with scale and bias: 327
 * us plain, 228 us streamed). */
#define SN_STREAM_MIN_BYTES_PER_THREAD_UNPARAMETERIZED_ROWS ((double)(12 << 20))
/* Column panels that gather their own statistics (norm "T" on [B,T,F], each
 * thread a range of panels) read each panel twice, the second time from L2,
 * where plain stores of the panel's output would evict it: they stream from
 * 4 MiB per thread. Separate runs, streamed against plain stores: [32,200,512]
 * at 2 threads (6.5 MiB each) 0.60-0.92 of the time on a Zen 4 VM, and 5%
 * faster on the Zen 5 VM (531-559 against 549-602 us); [16,200,512] at 1
 * thread 0.77-0.97. Statistics applied to panels (batch norm inference) keep
 * the common threshold: 1.3x the time streamed at 2 threads. */
#define SN_STREAM_MIN_BYTES_PER_THREAD_PANEL_STATISTICS ((double)(4 << 20))

/* sn_group_constants of a panel's lanes, groups first + j * stride, into
 * three arrays: the group_constants kernel takes several lanes per vector
 * division and square root (norm T on [32,200,512], 16384 lanes a call:
 * 48-50 -> 54-55 GB/s at 1 thread). Not for a few groups: its vector chain
 * is longer than a lone group's scalar one ([1,768] 148 -> 162 ns, [4,768]
 * no faster). */
void sn_lanes_constants(const run *rn, ptrdiff_t count, ptrdiff_t first, ptrdiff_t stride,
                        const sn_moments *m, const float *shift, float *center,
                        float *residual, float *rstd)
{
    const sn_norm_job *job = rn->job;
    if (rn->mode == MODE_APPLY) {
        for (ptrdiff_t j = 0; j < count; j++) {
            const sn_group_norm *s = &rn->given[first + j * stride];
            center[j] = s->shift;
            residual[j] = s->mean;
            rstd[j] = s->rstd;
        }
        return;
    }
    job->kernels->group_constants((size_t)count, m, shift, job->epsilon, center, residual,
                                  rstd);
    for (ptrdiff_t j = 0; (job->mean_out || job->rstd_out) && j < count; j++) {
        if (job->mean_out)
            job->mean_out[first + j * stride] = center[j];
        if (job->rstd_out)
            job->rstd_out[first + j * stride] = rstd[j];
    }
}

/* A normalizing region gives each thread one contiguous share of the items,
 * as the static schedule would: the ROWS and COLUMNS paths work through a
 * range (they overlap one group's or panel's moments with the normalization
 * of the one before), and streamed stores are fenced once per thread and
 * call. Streamed stores are weakly ordered, and a fence waits for them to
 * reach memory: per item, on 768-element rows, it cost more than streaming
 * saved. Where items carry nothing from one to the next (batches of short
 * rows, a split reduction's units; not the pipelined ranges of multi-block
 * groups and panels), they are taken from the shares a chunk at a time,
 * each thread from its own share first, then from the others' what is still
 * untaken: a thread slowed down by other work on its core is helped instead
 * of waited for at the region's end (2 threads on a shared Zen 4 VM,
 * per-call pairs against the static schedule: layer norm [6400,512]
 * 0.78-0.80 of the time, [8192,768] 0.87-1.0, [8192,256] 0.89-0.94,
 * instance norm 0.98; column panels written into the cache, taken likewise:
 * 0.95-1.02, not kept). Threads that keep to their own shares run exactly
 * the static schedule's items, and items are computed alike whichever
 * thread takes them. A chunk is one call of the range function, which
 * loops over its items itself (against an indirect call per batch of rows:
 * layer norm [1600,512] 0.98 of the time at 1 and 2 threads). */
#define SN_SHARE_CHUNKS 8
/* The shares a thread takes from: its own and the next ones, this many in
 * all, so that on many cores a counter is contended by few threads. */
#define SN_SHARES_VISITED 8
/* Threads beyond this many each keep to their own share (no counters). */
#define SN_MAX_SHARED_THREADS 256

typedef struct share {
    run *rn;
    sn_range_fn range;
    ptrdiff_t count;
    int threads;
    _Atomic ptrdiff_t *taken;  /* items taken from each share's front, or NULL: whole shares */
} share;

static ptrdiff_t share_begin(const share *c, ptrdiff_t t)
{
    return c->count * t / c->threads;
}

/* Runs the items of share s not yet taken, a chunk at a time. */
static void take_share(const share *c, ptrdiff_t s, int thread)
{
    ptrdiff_t begin = share_begin(c, s), end = share_begin(c, s + 1);
    ptrdiff_t chunk = (end - begin + SN_SHARE_CHUNKS - 1) / SN_SHARE_CHUNKS;
    if (chunk < 1)
        return;
    /* A load first: a share already all taken costs no write to its line. */
    while (atomic_load_explicit(&c->taken[s], memory_order_relaxed) < end - begin) {
        ptrdiff_t i =
            begin + atomic_fetch_add_explicit(&c->taken[s], chunk, memory_order_relaxed);
        if (i >= end)
            return;
        c->range(c->rn, i, min_ptrdiff(i + chunk, end), thread);
    }
}

static void share_task(void *context, ptrdiff_t t, int thread)
{
    const share *c = context;
    if (c->taken) {
        int visited = c->threads < SN_SHARES_VISITED ? c->threads : SN_SHARES_VISITED;
        for (int k = 0; k < visited; k++)
            take_share(c, (t + k) % c->threads, thread);
    } else {
        c->range(c->rn, share_begin(c, t), share_begin(c, t + 1), thread);
    }
    if (c->rn->stream)
        c->rn->job->kernels->store_fence();
}

/* sn_parallel_for of a range function that normalizes; `independent`: its
 * items carry nothing from one to the next, and chunks of them may be taken. */
static void normalize_for(run *rn, ptrdiff_t count, int threads, sn_range_fn range,
                          int independent)
{
    if (threads > count)
        threads = (int)count;
    if (threads < 1)
        threads = 1;
    _Atomic ptrdiff_t taken[SN_MAX_SHARED_THREADS];
    int shared = independent && threads > 1 && threads <= SN_MAX_SHARED_THREADS;
    for (int t = 0; shared && t < threads; t++)
        atomic_init(&taken[t], 0);
    share c = { rn, range, count, threads, shared ? taken : NULL };
    sn_parallel_for(threads, threads, share_task, &c);
}

/* The owner (group or panel) and unit of split item `item`; partial moments
 * are stored by owner * units + unit whatever the order items are walked in. */
void sn_split_item(const run *rn, ptrdiff_t owners, ptrdiff_t item, ptrdiff_t *owner,
                       ptrdiff_t *unit)
{
    *owner = rn->run_major ? item % owners : item / rn->units;
    *unit = rn->run_major ? item / owners : item % rn->units;
}

/* ------------------------------------------------------------------ split */

/* Splits the reduction of few groups (ROWS) or panels (COLUMNS) into their
 * fixed units, computed in parallel and merged in unit order: results equal
 * the unsplit path's bit for bit, whatever the thread count. */
static sn_status run_split(run *rn, int threads)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = job->plan;
    int columns = p->path == SN_PATH_COLUMNS;
    ptrdiff_t owners = p->outer_count, width = columns ? p->lane.dim : 1;
    ptrdiff_t items = owners * rn->units;
    /* One block: the partial moments, the shifts (the column kernels load
     * them a vector at a time) and the groups' constants, each on its lines. */
    size_t partial_bytes = sn_line_bytes((size_t)(items * width) * sizeof *rn->partial);
    size_t shifts_bytes = sn_line_bytes((size_t)(owners * width) * sizeof *rn->shifts);
    char *memory = sn_scratch_alloc(partial_bytes + shifts_bytes +
                                    (size_t)p->groups * sizeof *rn->stats);
    if (!memory)
        return SN_ERR_OUT_OF_MEMORY;
    rn->partial = (sn_moments *)memory;
    rn->shifts = (float *)(memory + partial_bytes);
    rn->stats = (sn_group_norm *)(memory + partial_bytes + shifts_bytes);
    if (rn->mode != MODE_APPLY) {
        for (ptrdiff_t o = 0; o < owners; o++) {
            if (columns) {
                panel pn = sn_panel_at(job, o);
                sn_panel_shift(job, &pn, rn->shifts + o * width);
            } else {
                sn_offsets g;
                outer_position(p, o, &g);
                rn->shifts[o] = sn_group_shift(job, &g);
            }
        }
        sn_parallel_for(items, threads,
                        columns ? sn_columns_split_moments_task : sn_rows_split_moments_task, rn);
    }
    for (ptrdiff_t o = 0; o < owners; o++) {
        if (columns) {
            panel pn = sn_panel_at(job, o);
            lanes l = sn_lanes_at(rn->scratch, width);
            memcpy(l.shift_in, rn->shifts + o * width, (size_t)width * sizeof(float));
            for (ptrdiff_t j = 0; j < width; j++)
                l.total[j] = sn_moments_empty();
            for (ptrdiff_t u = 0; rn->mode != MODE_APPLY && u < rn->units; u++)
                sn_moments_merge_lanes(l.total, &rn->partial[(o * rn->units + u) * width], width);
            if (sn_panel_finish(rn, &pn, &l))
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
                rn->stats[o] = sn_group_constants(rn, g.group, rn->shifts[o], &total);
        }
    }
    if (rn->mode != MODE_STATS)
        normalize_for(rn, items, threads,
                      columns ? sn_columns_split_normalize : sn_rows_split_normalize, 1);
    sn_scratch_free(memory);
    return SN_OK;
}

/* A reduced axis of size 0: every group is empty and x and y have no element
 * (their data may be NULL), so only the statistics are written. */
static sn_status empty_groups(run *rn)
{
    const sn_norm_job *job = rn->job;
    sn_moments none = sn_moments_empty();
    int outputs = rn->mode == MODE_STATS || job->mean_out || job->rstd_out;
    for (ptrdiff_t g = 0; outputs && g < job->plan->groups; g++) {
        if (rn->mode == MODE_STATS)
            rn->moments_out[g] = (sn_group_moments){ 0.0f, none };
        else if (rn->mode == MODE_FUSED)
            sn_finish_group(job, g, 0.0f, &none);
    }
    return SN_OK;
}

/* Run-major splitting keeps the moments of every (group, unit): bound them. */
#define SN_RUN_MAJOR_MAX_ITEMS (1 << 20)

static sn_status run_job(run *rn)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = job->plan;
    if (p->groups == 0)
        return SN_OK;
    if (p->reduce_count == 0)
        return empty_groups(rn);
    int columns = p->path == SN_PATH_COLUMNS;
    rn->unit_rows = columns ? sn_col_unit_rows(p->run_length) : 0;
    ptrdiff_t unit = columns ? rn->unit_rows : SN_ROW_BLOCK;
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
    /* (Statistics alone leave y, scale and bias unread, and unset.) */
    int params_along_rows = rn->mode != MODE_STATS && (job->scale || job->bias) &&
                            run_axis(p)->param_stride != 0;
    double stream_from = p->path == SN_PATH_ROWS && rn->units == 1 && !params_along_rows
                             ? SN_STREAM_MIN_BYTES_PER_THREAD_UNPARAMETERIZED_ROWS
                         : columns && !split && rn->mode == MODE_FUSED
                             ? SN_STREAM_MIN_BYTES_PER_THREAD_PANEL_STATISTICS
                             : SN_STREAM_MIN_BYTES_PER_THREAD;
    /* Every element of y is written once: groups * reduce_count of them. */
    rn->stream = p->path != SN_PATH_GATHER && rn->mode != MODE_STATS &&
                 (double)p->groups * (double)p->reduce_count * sizeof(float) >=
                     stream_from * threads;

    /* Per-thread scratch: a panel's lane arrays, or a strided run's copies. */
    size_t per_thread = columns ? sn_lanes_bytes(p->lane.dim)
                        : p->path == SN_PATH_GATHER ? 3 * (size_t)p->run_length * sizeof(float)
                                                    : 0;
    if (per_thread) {
        rn->scratch = sn_scratch_alloc((size_t)threads * per_thread);
        if (!rn->scratch)
            return SN_ERR_OUT_OF_MEMORY;
    }
    sn_status status = SN_OK;
    if (split) {
        status = run_split(rn, threads);
    } else if (p->path == SN_PATH_ROWS && rn->units == 1) {
        rn->batch = sn_rows_in_cache(p) ? SN_ROWS_BATCH : sn_rows_filling_batch(p->run_length);
        normalize_for(rn, (owners + rn->batch - 1) / rn->batch, threads, sn_rows_batches, 1);
    } else {
        normalize_for(rn, owners, threads, columns ? sn_columns_range : sn_rows_range, 0);
    }
    sn_scratch_free(rn->scratch);
    return status;
}

/* How many parameters the plan indexes: 1 + the largest parameter offset. */
static ptrdiff_t param_extent(const sn_plan *p)
{
    ptrdiff_t extent = 1 + (p->lane.dim - 1) * p->lane.param_stride;
    for (int i = 0; i < p->outer_rank; i++)
        extent += (p->outer[i].dim - 1) * p->outer[i].param_stride;
    for (int i = 0; i < p->reduce_rank; i++)
        extent += (p->reduce[i].dim - 1) * p->reduce[i].param_stride;
    return extent;
}

static int off_line(const float *a)
{
    return a && (uintptr_t)a % 64 != 0;
}

/* Scale and bias reached through a cache-line aligned copy when the caller's
 * arrays are not on a line (NumPy aligns to 16 bytes): the kernels read
 * parameters a vector at a time, once per group, and a load across two lines
 * costs twice ([8192,256] with 16-byte aligned parameters: 5-10% slower).
 * Only where the copy is small next to the work it serves. */
#define SN_PARAM_COPY_MAX ((ptrdiff_t)1 << 16)

static sn_status execute(run *rn)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = job->plan;
    ptrdiff_t extent = param_extent(p);
    size_t bytes = sn_line_bytes((size_t)extent * sizeof(float));
    if (rn->mode == MODE_STATS || !(off_line(job->scale) || off_line(job->bias)) ||
        extent > SN_PARAM_COPY_MAX ||
        (double)p->groups * (double)p->reduce_count < 16.0 * (double)extent)
        return run_job(rn);
    float *copy = sn_scratch_alloc(2 * bytes);
    if (!copy) /* the copy is an optimization: without it, the arrays as given */
        return run_job(rn);
    sn_norm_job aligned = *job;
    if (job->scale)
        aligned.scale = memcpy(copy, job->scale, (size_t)extent * sizeof(float));
    if (job->bias)
        aligned.bias = memcpy((char *)copy + bytes, job->bias, (size_t)extent * sizeof(float));
    rn->job = &aligned;
    sn_status status = run_job(rn);
    rn->job = job;
    sn_scratch_free(copy);
    return status;
}

/* Every field set one by one: an aggregate zeroing of the struct becomes a
 * string instruction (rep stos) that costs ~10 ns of a small call. */
static sn_status start(const sn_norm_job *job, mode mode, sn_group_moments *moments_out,
                       const sn_group_norm *given)
{
    run rn;
    rn.job = job;
    rn.mode = mode;
    rn.moments_out = moments_out;
    rn.given = given;
    rn.blocks = rn.units = rn.unit_rows = rn.batch = 0;
    rn.run_major = rn.stream = 0;
    rn.partial = NULL;
    rn.stats = NULL;
    rn.shifts = NULL;
    rn.scratch = NULL;
    return execute(&rn);
}

sn_status sn_run_norm(const sn_norm_job *job)
{
    return start(job, MODE_FUSED, NULL, NULL);
}

sn_status sn_run_stats(const sn_norm_job *job, sn_group_moments *out)
{
    return start(job, MODE_STATS, out, NULL);
}

sn_status sn_run_normalize(const sn_norm_job *job, const sn_group_norm *groups)
{
    return start(job, MODE_APPLY, NULL, groups);
}
