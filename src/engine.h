/*
 * The engine's internals, shared by normalize.c (splitting, dispatch of a
 * run), normalize_rows.c (the ROWS and GATHER loop nests) and
 * normalize_columns.c (the COLUMNS loop nest).
 */
#ifndef SN_ENGINE_H
#define SN_ENGINE_H

#include "normalize.h"
#include "parallel.h"
#include "scratch.h"

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
    ptrdiff_t unit_rows;     /* COLUMNS: rows of a unit (sn_col_unit_rows) */
    ptrdiff_t units;         /* runs * blocks: the fixed pieces a group is reduced in */
    int run_major;           /* split items walk units outside groups (memory order) */
    sn_moments *partial;     /* split: moments of every (group or panel, unit[, lane]) */
    sn_group_norm *stats;    /* split: constants of every group */
    float *shifts;           /* split: shift of every group */
    void *scratch;           /* per thread: GATHER's run copies, COLUMNS' lane arrays */
    int stream;              /* streaming stores of y (see SN_STREAM_MIN_BYTES_PER_THREAD) */
    ptrdiff_t batch;         /* groups per batch (sn_rows_batches) */
} run;

/* Single-block groups are reduced a batch at a time (sn_rows_batches): up
 * to SN_ROWS_BATCH groups. Work in cache is computation-bound, and a batch
 * lets the groups' chains of dependent steps overlap ([4,768]: 490 ns one by
 * one, 405 ns in a batch). Work from memory on rows of SN_ROWS_BATCH_BYTES or
 * more is memory-bound, and normalizing each row right after its statistics,
 * while in L1, measured fastest ([8192,1024]: 1624 us in batches of four,
 * 1013 us one by one, 1 thread); shorter rows fill a batch of those bytes. */

#define SN_ROWS_BATCH_BYTES 4096
#define SN_ROWS_IN_CACHE_BYTES ((double)(1 << 20))

/* Whether the whole input is small enough to be in cache (see above). */
static inline int sn_rows_in_cache(const sn_plan *p)
{
    return (double)p->groups * (double)p->reduce_count * sizeof(float) <= SN_ROWS_IN_CACHE_BYTES;
}

/* Runs of `length` elements that fill a batch from memory: SN_ROWS_BATCH_BYTES
 * of them, 1 to SN_ROWS_BATCH. */
static inline ptrdiff_t sn_rows_filling_batch(ptrdiff_t length)
{
    ptrdiff_t fit = SN_ROWS_BATCH_BYTES / ((ptrdiff_t)sizeof(float) * length);
    return fit < 1 ? 1 : fit > SN_ROWS_BATCH ? SN_ROWS_BATCH : fit;
}
/* COLUMNS: rows one unit of a panel reduces. Each unit takes its centers
 * from its first SN_COL_CENTER_ROWS rows (reading those twice costs 6% of a
 * 256-row unit, 25% of a 64-row one), and each unit's moments are finished
 * and kept per lane until the panel's are merged, a cost per unit and lane.
 * A run is cut into a power of two of units, at most SN_COL_MAX_UNITS, of
 * 128 to 256 rows where there are few of them (SN_COL_UNIT_ROWS), longer
 * where the run is long: a split panel's units then divide evenly among 2,
 * 4, 8 and 16 threads (25 units on 2 threads left one idle 8% of the time).
 * Batch norm training on [32,200,512] (6400 rows), A/B: 32 units of 200
 * rows 49 / 83 GB/s at 1 / 2 threads, 16 of 400 52 / 96, 8 of 800 the same
 * as 16. The size depends on the run's length only, never on the thread
 * count, so that split and unsplit panels merge the same units. */
#define SN_COL_UNIT_ROWS 256
#define SN_COL_MAX_UNITS 16
#define SN_COL_CENTER_ROWS 16

static inline ptrdiff_t sn_col_unit_rows(ptrdiff_t run_length)
{
    ptrdiff_t units = 1;
    while (units < SN_COL_MAX_UNITS && units * SN_COL_UNIT_ROWS < run_length)
        units *= 2;
    ptrdiff_t rows = (run_length + units - 1) / units;
    rows = (rows + SN_COL_STREAM_ROWS - 1) / SN_COL_STREAM_ROWS * SN_COL_STREAM_ROWS;
    return rows > 0 ? rows : SN_COL_STREAM_ROWS;
}

typedef struct panel {
    sn_offsets g;   /* the panel's outer position */
    const float *x; /* first lane, outer offset applied */
    float *y;
} panel;

/* Per-thread arrays of a panel, one entry per lane. */
typedef struct lanes {
    float *shift_in, *shift, *mean, *rstd;
    sn_moments *total, *unit;
    double *sums;  /* 2 per lane: a unit's pass 2 sums */
    float *center; /* a unit's provisional centers */
    float *a, *b;  /* folded constants of the normalization (col_scale_shift) */
} lanes;

/* Memory the kernels load a vector at a time is allocated and laid out in
 * whole cache lines (sn_scratch_alloc, sn_line_bytes): a load that splits
 * two lines costs twice (the AVX-512 column normalization ran at half speed
 * on 16-byte aligned arrays), and whole lines keep each thread's arrays off
 * its neighbours' lines. */

/* For the per-row helpers of the loop nests. */
#define SN_ENGINE_INLINE static inline __attribute__((always_inline))

static inline ptrdiff_t min_ptrdiff(ptrdiff_t a, ptrdiff_t b)
{
    return a < b ? a : b;
}

static inline const sn_axis *run_axis(const sn_plan *p)
{
    static const sn_axis none = { 1, 1, 1, 0, 0, SN_MASK_ROLE_NONE };
    return p->reduce_rank ? &p->reduce[p->reduce_rank - 1] : &none;
}

static inline void outer_position(const sn_plan *p, ptrdiff_t index, sn_offsets *o)
{
    sn_plan_position(p->outer, p->outer_rank, index, o);
}

/* Offsets of run `r` within a group (all reduced axes but the last). */
static inline void run_position(const sn_plan *p, ptrdiff_t r, sn_offsets *o)
{
    sn_plan_position(p->reduce, p->reduce_rank > 0 ? p->reduce_rank - 1 : 0, r, o);
}

/* How many leading elements of a run (of the group at `group`, run at `at`)
 * are valid frames: all of them without masking. */
static inline ptrdiff_t valid_length(const sn_norm_job *job, const sn_offsets *group,
                                     const sn_offsets *at)
{
    const sn_plan *p = job->plan;
    if (!p->masked)
        return p->run_length;
    ptrdiff_t b = group->batch >= 0 ? group->batch : at->batch;
    ptrdiff_t t = group->time >= 0 ? group->time : at->time;
    if (b < 0)
        return p->run_length;
    ptrdiff_t length = job->seq_lens[b];
    if (run_axis(p)->mask_role == SN_MASK_ROLE_TIME)
        return min_ptrdiff(length, p->run_length);
    return t >= 0 && t >= length ? 0 : p->run_length;
}

/* Items [begin, end) of a region on one thread (normalize.c's share_task). */
typedef void (*sn_range_fn)(run *rn, ptrdiff_t begin, ptrdiff_t end, int thread);

/* Turn a group's merged moments into its normalization constants
 * (sn_group_constants_of) and write the optional mean/rstd outputs. */
SN_ENGINE_INLINE sn_group_norm sn_finish_group(const sn_norm_job *job, ptrdiff_t group,
                                               float shift, const sn_moments *m)
{
    sn_group_norm s;
    sn_group_constants_of(m, shift, job->epsilon, &s.shift, &s.mean, &s.rstd);
    if (job->mean_out)
        job->mean_out[group] = s.shift;
    if (job->rstd_out)
        job->rstd_out[group] = s.rstd;
    return s;
}

/* The constants a group is normalized with, in the fused and apply modes.
 * Inline, as sn_group_shift: a batch of short rows calls both per row, and
 * the calls cost as much as the work around them. */
SN_ENGINE_INLINE sn_group_norm sn_group_constants(const run *rn, ptrdiff_t group, float shift,
                                                  const sn_moments *m)
{
    return rn->mode == MODE_APPLY ? rn->given[group] : sn_finish_group(rn->job, group, shift, m);
}

/* normalize_rows.c: the shift of a group whose first run may be masked out */
float sn_group_shift_search(const sn_norm_job *job, const sn_offsets *g);

/* The first valid element of the group: the shift K of its statistics. */
SN_ENGINE_INLINE float sn_group_shift(const sn_norm_job *job, const sn_offsets *g)
{
    const sn_plan *p = job->plan;
    if (p->runs == 1 && !p->masked) /* the common case, without the search */
        return job->x[g->x];
    return sn_group_shift_search(job, g);
}

/* normalize.c */
void sn_lanes_constants(const run *rn, ptrdiff_t count, ptrdiff_t first, ptrdiff_t stride,
                        const sn_moments *m, const float *shift, float *center,
                        float *residual, float *rstd);
void sn_split_item(const run *rn, ptrdiff_t owners, ptrdiff_t item, ptrdiff_t *owner,
                   ptrdiff_t *unit);

/* normalize_rows.c: tasks over groups (or batches of groups, or split items) */
void sn_rows_range(run *rn, ptrdiff_t begin, ptrdiff_t end, int thread);
void sn_rows_batches(run *rn, ptrdiff_t begin, ptrdiff_t end, int thread);
void sn_rows_split_moments_task(void *context, ptrdiff_t item, int thread);
void sn_rows_split_normalize(run *rn, ptrdiff_t begin, ptrdiff_t end, int thread);

/* normalize_columns.c: tasks over panels (or split items) and panel helpers */
size_t sn_lanes_bytes(ptrdiff_t count);
lanes sn_lanes_at(void *memory, ptrdiff_t count);
panel sn_panel_at(const sn_norm_job *job, ptrdiff_t index);
void sn_panel_shift(const sn_norm_job *job, const panel *pn, float *shift);
int sn_panel_finish(run *rn, const panel *pn, lanes *l);
void sn_columns_range(run *rn, ptrdiff_t begin, ptrdiff_t end, int thread);
void sn_columns_split_moments_task(void *context, ptrdiff_t item, int thread);
void sn_columns_split_normalize(run *rn, ptrdiff_t begin, ptrdiff_t end, int thread);

#endif
