#include <stdint.h>
#include <string.h>

#include "engine.h"

/* A panel is one outer position with all the groups of the lane axis. Rows
 * (steps of the last reduced axis) are walked in order, each row across all
 * lanes, so memory is read row after row. A unit is sn_col_unit_rows rows of
 * one run: its moments come from one pass 2 around centers from its first
 * rows, or for lanes where that cannot serve from the two-pass kernel over
 * blocks of SN_COL_BLOCK_ROWS rows and SN_COL_BLOCK_WIDTH lanes; units are
 * merged in order. */

/* Every lane array starts on a cache line (sn_line_bytes; the scratch itself
 * comes from sn_scratch_alloc). */
size_t sn_lanes_bytes(ptrdiff_t count)
{
    size_t n = (size_t)count;
    return 2 * sn_line_bytes(n * sizeof(sn_moments)) + sn_line_bytes(2 * n * sizeof(double)) +
           7 * sn_line_bytes(n * sizeof(float));
}

lanes sn_lanes_at(void *memory, ptrdiff_t count)
{
    size_t n = (size_t)count, moments = sn_line_bytes(n * sizeof(sn_moments));
    size_t floats = sn_line_bytes(n * sizeof(float));
    char *at = memory;
    lanes l;
    l.total = (sn_moments *)at;
    l.unit = (sn_moments *)(at += moments);
    l.sums = (double *)(at += moments);
    at += sn_line_bytes(2 * n * sizeof(double));
    float **arrays[] = { &l.shift_in, &l.shift, &l.mean, &l.rstd, &l.center, &l.a, &l.b };
    for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++, at += floats)
        *arrays[i] = (float *)at;
    return l;
}

panel sn_panel_at(const sn_norm_job *job, ptrdiff_t index)
{
    panel pn;
    outer_position(job->plan, index, &pn.g);
    pn.x = job->x + pn.g.x;
    pn.y = job->y + pn.g.y;
    return pn;
}

/* Lanes from this one on are time steps past their sequence's end. */
static ptrdiff_t first_padded_lane(const sn_norm_job *job, const panel *pn)
{
    const sn_plan *p = job->plan;
    if (!p->masked || p->lane.mask_role != SN_MASK_ROLE_TIME || pn->g.batch < 0)
        return p->lane.dim;
    return min_ptrdiff(job->seq_lens[pn->g.batch], p->lane.dim);
}

/* The first valid row of the panel: the per-lane shifts. */
void sn_panel_shift(const sn_norm_job *job, const panel *pn, float *shift)
{
    const sn_plan *p = job->plan;
    size_t bytes = (size_t)p->lane.dim * sizeof *shift;
    memset(shift, 0, bytes);
    for (ptrdiff_t r = 0; r < p->runs; r++) {
        sn_offsets at;
        run_position(p, r, &at);
        if (valid_length(job, &pn->g, &at) > 0) {
            memcpy(shift, pn->x + at.x, bytes);
            return;
        }
    }
}

/* The moments of unit u of a panel, one per lane, gathered a few rows at a
 * time (unit_begin, unit_gather, unit_end), so that they can be interleaved
 * with the normalization of the panel before (sn_columns_range): pass 2 over
 * the unit's rows across every lane around the centers of its first rows (the
 * recipe of long rows, kernels.h), and for each chunk of lanes where a center
 * does not serve, the two-pass kernel over the unit's blocks of rows, merged
 * in order. */
typedef struct unit_moments {
    const float *x;  /* the unit's first row */
    ptrdiff_t rows;  /* valid rows in the unit */
    ptrdiff_t done;  /* rows of pass 2 gathered */
    int centered;    /* more rows than the centers come from: pass 2 runs */
} unit_moments;

static unit_moments unit_begin(const run *rn, const panel *pn, ptrdiff_t u, const float *shift,
                               const lanes *l)
{
    const sn_plan *p = rn->job->plan;
    const ptrdiff_t width = p->lane.dim;
    sn_offsets at;
    run_position(p, u / rn->blocks, &at);
    ptrdiff_t begin = (u % rn->blocks) * rn->unit_rows;
    ptrdiff_t end = min_ptrdiff(valid_length(rn->job, &pn->g, &at), begin + rn->unit_rows);
    unit_moments m = { pn->x + at.x + begin * run_axis(p)->x_stride, end - begin, 0, 0 };
    m.rows = m.rows > 0 ? m.rows : 0;
    m.centered = m.rows > SN_COL_CENTER_ROWS;
    if (m.centered) {
        /* The centers: the first rows' mean deviations from the shifts, by
         * the same kernel around centers 0 (rows in order, as the pass after). */
        double *sum_dev = l->sums, *sum_sq = l->sums + width;
        size_t bytes = 2 * (size_t)width * sizeof *l->sums;
        memset(l->center, 0, (size_t)width * sizeof *l->center);
        memset(l->sums, 0, bytes);
        rn->job->kernels->col_deviation_sums_f32(m.x, run_axis(p)->x_stride, SN_COL_CENTER_ROWS,
                                                 (size_t)width, shift, l->center, sum_dev,
                                                 sum_sq);
        for (ptrdiff_t j = 0; j < width; j++)
            l->center[j] = (float)(sum_dev[j] / SN_COL_CENTER_ROWS);
        memset(l->sums, 0, bytes);
    }
    return m;
}

/* Pass 2 over up to `rows` more rows of the unit. */
static void unit_gather(const run *rn, unit_moments *m, ptrdiff_t rows, const float *shift,
                        const lanes *l)
{
    if (!m->centered)
        return;
    const sn_plan *p = rn->job->plan;
    const ptrdiff_t stride = run_axis(p)->x_stride, width = p->lane.dim;
    rows = min_ptrdiff(rows, m->rows - m->done);
    if (rows > 0)
        rn->job->kernels->col_deviation_sums_f32(m->x + m->done * stride, stride, (size_t)rows,
                                                 (size_t)width, shift, l->center, l->sums,
                                                 l->sums + width);
    m->done += rows;
}

/* The unit's moments into out, once every row is gathered. */
static void unit_end(const run *rn, const unit_moments *m, const float *shift, sn_moments *out,
                     const lanes *l)
{
    const sn_plan *p = rn->job->plan;
    const sn_kernels *kernels = rn->job->kernels;
    const ptrdiff_t stride = run_axis(p)->x_stride, width = p->lane.dim;
    const double *sum_dev = l->sums, *sum_sq = l->sums + width;
    const size_t rows = (size_t)m->rows;
    if (rows == 0) {
        for (ptrdiff_t j = 0; j < width; j++)
            out[j] = sn_moments_empty();
        return;
    }
    /* Below, every lane is written: by pass 2's sums, or by the fallback. */
    for (ptrdiff_t c = 0; c < width; c += SN_COL_BLOCK_WIDTH) {
        size_t chunk = (size_t)min_ptrdiff(SN_COL_BLOCK_WIDTH, width - c);
        int fallback[SN_COL_BLOCK_WIDTH], any = 1;
        if (m->centered)
            any = kernels->lanes_moments(chunk, (double)rows, shift + c, l->center + c,
                                         sum_dev + c, sum_sq + c, out + c, fallback);
        else
            for (size_t j = 0; j < chunk; j++)
                fallback[j] = 1;
        if (!any)
            continue;
        sn_moments total[SN_COL_BLOCK_WIDTH], block[SN_COL_BLOCK_WIDTH];
        for (size_t j = 0; j < chunk; j++)
            total[j] = sn_moments_empty();
        for (size_t i = 0; i < rows; i += SN_COL_BLOCK_ROWS) {
            size_t count = rows - i < SN_COL_BLOCK_ROWS ? rows - i : SN_COL_BLOCK_ROWS;
            kernels->col_moments_f32(m->x + (ptrdiff_t)i * stride + c, stride, count, chunk,
                                     shift + c, block);
            for (size_t j = 0; j < chunk; j++)
                sn_moments_merge(&total[j], &block[j]);
        }
        for (size_t j = 0; j < chunk; j++)
            if (fallback[j])
                out[c + (ptrdiff_t)j] = total[j];
    }
}

/* The moments of a whole unit at once. */
static void panel_unit_moments(const run *rn, const panel *pn, ptrdiff_t u, const float *shift,
                               sn_moments *out, const lanes *l)
{
    unit_moments m = unit_begin(rn, pn, u, shift, l);
    unit_gather(rn, &m, m.rows, shift, l);
    unit_end(rn, &m, shift, out, l);
}

/* A panel's moments, unit after unit, gathered as its rows are walked
 * (panel_gather): into l->total, around the shifts l->shift_in. The first
 * unit's unit_end writes every lane of l->total, the others merge into it. */
typedef struct panel_moments {
    const panel *pn;
    ptrdiff_t unit;     /* the unit in progress, or rn->units when done */
    unit_moments current;
} panel_moments;

static panel_moments panel_begin(const run *rn, const panel *pn, const lanes *l)
{
    panel_moments pm = { pn, 0, { NULL, 0, 0, 0 } };
    sn_panel_shift(rn->job, pn, l->shift_in);
    pm.current = unit_begin(rn, pn, 0, l->shift_in, l);
    return pm;
}

/* Gathers about `rows` more rows (a unit's center rows come on top). */
static void panel_gather(const run *rn, panel_moments *pm, ptrdiff_t rows, const lanes *l)
{
    const ptrdiff_t width = rn->job->plan->lane.dim;
    while (pm->unit < rn->units) {
        ptrdiff_t before = pm->current.done;
        unit_gather(rn, &pm->current, rows, l->shift_in, l);
        rows -= pm->current.done - before;
        if (pm->current.centered && pm->current.done < pm->current.rows)
            return;
        /* The first unit's moments are the panel's so far: no merge. */
        if (pm->unit == 0) {
            unit_end(rn, &pm->current, l->shift_in, l->total, l);
        } else {
            unit_end(rn, &pm->current, l->shift_in, l->unit, l);
            sn_moments_merge_lanes(l->total, l->unit, width);
        }
        if (++pm->unit < rn->units)
            pm->current = unit_begin(rn, pm->pn, pm->unit, l->shift_in, l);
        if (rows <= 0)
            return;
    }
}

/* Rows from which a normalization folds its lanes' constants. */
#define SN_FOLD_MIN_ROWS 4

/* Folds each lane's constants for `rows` rows of run r of a panel when its
 * parameters are constant down the rows: y = (x - shift) * a + b with a =
 * rstd * scale and b = bias - mean * a, in double (the mean here is the
 * residual below the float shift, so its product stays exact enough).
 * Returns whether it did (panel_normalize_part then uses l->a and l->b). */
static int fold_run(const run *rn, const panel *pn, ptrdiff_t r, ptrdiff_t rows, const lanes *l)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = job->plan;
    if (rows < SN_FOLD_MIN_ROWS || run_axis(p)->param_stride != 0)
        return 0;
    sn_offsets at;
    run_position(p, r, &at);
    ptrdiff_t param = pn->g.param + at.param;
    for (ptrdiff_t j = 0; j < p->lane.dim; j++) {
        ptrdiff_t at_j = param + j * p->lane.param_stride;
        double a = (double)l->rstd[j] * (job->scale ? (double)job->scale[at_j] : 1.0);
        l->a[j] = (float)a;
        l->b[j] = (float)((job->bias ? (double)job->bias[at_j] : 0.0) - (double)l->mean[j] * a);
    }
    return 1;
}

/* Normalizes rows [begin, end) of run r of a panel, with the folded
 * constants when `folded` (fold_run); padded rows and lanes are zeroed when
 * the plan asks for it. Whole rows across every lane: memory is written in
 * order. The folded kernel prefetches the rows at `ahead` as it goes (NULL:
 * none; see next_rows). */
static void panel_normalize_part(const run *rn, const panel *pn, ptrdiff_t r, ptrdiff_t begin,
                                 ptrdiff_t end, const lanes *l, int folded, const float *ahead)
{
    const sn_norm_job *job = rn->job;
    const sn_plan *p = job->plan;
    const sn_axis *rows_axis = run_axis(p);
    sn_offsets at;
    run_position(p, r, &at);
    ptrdiff_t stop = p->zero_masked ? min_ptrdiff(end, valid_length(job, &pn->g, &at)) : end;
    ptrdiff_t lanes_kept = p->zero_masked ? first_padded_lane(job, pn) : p->lane.dim;
    const float *x = pn->x + at.x + begin * rows_axis->x_stride;
    float *y = pn->y + at.y + begin * rows_axis->y_stride;
    ptrdiff_t param = pn->g.param + at.param + begin * rows_axis->param_stride;
    if (stop > begin && folded) {
        job->kernels->col_scale_shift_f32(x, rows_axis->x_stride, y, rows_axis->y_stride,
                                          (size_t)(stop - begin), (size_t)p->lane.dim, l->shift,
                                          l->a, l->b, rn->stream, ahead);
    } else if (stop > begin) {
        job->kernels->col_normalize_f32(
            x, rows_axis->x_stride, y, rows_axis->y_stride, (size_t)(stop - begin),
            (size_t)p->lane.dim, l->shift, l->mean, l->rstd,
            job->scale ? job->scale + param : NULL, job->bias ? job->bias + param : NULL,
            rows_axis->param_stride, p->lane.param_stride, rn->stream);
    }
    for (ptrdiff_t i = begin; i < end; i++) {
        ptrdiff_t from = i < stop ? lanes_kept : 0;
        if (from < p->lane.dim)
            memset(y + (i - begin) * rows_axis->y_stride + from, 0,
                   (size_t)(p->lane.dim - from) * sizeof *y);
    }
}

/* Turns a panel's merged moments into per-lane constants (or records them).
 * Returns whether the panel is to be normalized. */
int sn_panel_finish(run *rn, const panel *pn, lanes *l)
{
    const sn_plan *p = rn->job->plan;
    for (ptrdiff_t j = first_padded_lane(rn->job, pn); j < p->lane.dim; j++)
        l->total[j] = sn_moments_empty();
    if (rn->mode == MODE_STATS) {
        for (ptrdiff_t j = 0; j < p->lane.dim; j++)
            rn->moments_out[pn->g.group + j * p->lane.group_stride] =
                (sn_group_moments){ l->shift_in[j], l->total[j] };
        return 0;
    }
    sn_lanes_constants(rn, p->lane.dim, pn->g.group, p->lane.group_stride, l->total,
                       l->shift_in, l->shift, l->mean, l->rstd);
    return 1;
}

/* Rows of a panel normalized between two steps of the next panel's
 * moments: at least the kernels' row step, and about 16 KiB. */
#define SN_COL_STEP_BYTES 16384

/* The first of the next `rows` rows that pass 2 of the next panel reads,
 * where they lie in its current unit and the output streams (NULL
 * elsewhere). When the output streams (and the input most likely comes from
 * memory too), the step of normalization before prefetches them into L2, a
 * line a vector, so that those reads overlap its stores instead of following
 * them (norm T on [32,200,512], 1 thread: 11-17% faster, medians of 12
 * rounds; a burst of prefetches before each step gained 11%, prefetches into
 * L1 nothing, as the step's own rows pass through L1). A panel in cache gains
 * nothing and pays for the prefetches ([4,200,512]: 7% slower). */
static const float *next_rows(const run *rn, const panel_moments *pm, ptrdiff_t rows)
{
    const unit_moments *m = &pm->current;
    if (!rn->stream || pm->unit >= rn->units || !m->centered || m->done + rows > m->rows)
        return NULL;
    return m->x + m->done * run_axis(rn->job->plan)->x_stride;
}

/* Panels [begin, end) on one thread. Each panel's moments are gathered while
 * the panel before it is normalized, a step of rows of the one after a step
 * of the other, so that reading the next panel from memory overlaps writing
 * this one (norm T on [32,200,512], 400 KiB panels, 1 thread: 5-15% faster
 * than gathering each panel's moments before normalizing it). */
void sn_columns_range(run *rn, ptrdiff_t begin, ptrdiff_t end, int thread)
{
    const sn_plan *p = rn->job->plan;
    const ptrdiff_t width = p->lane.dim;
    lanes l = sn_lanes_at((char *)rn->scratch + (size_t)thread * sn_lanes_bytes(width), width);
    ptrdiff_t step = SN_COL_STEP_BYTES / ((ptrdiff_t)sizeof(float) * width);
    step = step < SN_COL_STREAM_ROWS ? SN_COL_STREAM_ROWS : step - step % SN_COL_STREAM_ROWS;
    /* Only outputs streamed to memory gain: a panel written into the cache
     * is best normalized at once (2 threads on [32,200,512], whose output
     * stays in L3: 15% slower in steps). */
    if (!rn->stream)
        step = p->run_length;
    if (begin >= end)
        return;
    int gather = rn->mode != MODE_APPLY;
    panel pn = sn_panel_at(rn->job, begin), next;
    panel_moments pm;
    if (gather) {
        pm = panel_begin(rn, &pn, &l);
        panel_gather(rn, &pm, PTRDIFF_MAX, &l);
    }
    for (ptrdiff_t i = begin; i < end; i++) {
        /* The constants first: the next panel's moments reuse l->total. */
        int normalize = sn_panel_finish(rn, &pn, &l);
        int more = gather && i + 1 < end;
        if (more) {
            next = sn_panel_at(rn->job, i + 1);
            pm = panel_begin(rn, &next, &l);
        }
        for (ptrdiff_t r = 0; normalize && r < p->runs; r++) {
            int folded = fold_run(rn, &pn, r, p->run_length, &l);
            for (ptrdiff_t row = 0; row < p->run_length; row += step) {
                ptrdiff_t stop = min_ptrdiff(row + step, p->run_length);
                panel_normalize_part(rn, &pn, r, row, stop, &l, folded,
                                     more ? next_rows(rn, &pm, stop - row) : NULL);
                if (more)
                    panel_gather(rn, &pm, step, &l);
            }
        }
        if (more) {
            panel_gather(rn, &pm, PTRDIFF_MAX, &l);
            pn = next;
        } else if (i + 1 < end) {
            pn = sn_panel_at(rn->job, i + 1);
        }
    }
}

/* Split panels: fewer panels than threads; as for rows, by units. */
void sn_columns_split_moments_task(void *context, ptrdiff_t item, int thread)
{
    run *rn = context;
    ptrdiff_t lanes_count = rn->job->plan->lane.dim, index, u;
    sn_split_item(rn, rn->job->plan->outer_count, item, &index, &u);
    panel pn = sn_panel_at(rn->job, index);
    lanes l = sn_lanes_at(rn->scratch + (size_t)thread * sn_lanes_bytes(lanes_count), lanes_count);
    panel_unit_moments(rn, &pn, u, rn->shifts + index * lanes_count,
                       rn->partial + (index * rn->units + u) * lanes_count, &l);
}

void sn_columns_split_normalize(run *rn, ptrdiff_t begin, ptrdiff_t end, int thread)
{
    const sn_plan *p = rn->job->plan;
    lanes l = sn_lanes_at(rn->scratch + (size_t)thread * sn_lanes_bytes(p->lane.dim), p->lane.dim);
    for (ptrdiff_t item = begin; item < end; item++) {
        ptrdiff_t index, u;
        sn_split_item(rn, p->outer_count, item, &index, &u);
        panel pn = sn_panel_at(rn->job, index);
        for (ptrdiff_t j = 0; j < p->lane.dim; j++) {
            const sn_group_norm *s = &rn->stats[pn.g.group + j * p->lane.group_stride];
            l.shift[j] = s->shift;
            l.mean[j] = s->mean;
            l.rstd[j] = s->rstd;
        }
        ptrdiff_t first = (u % rn->blocks) * rn->unit_rows;
        ptrdiff_t last = min_ptrdiff(first + rn->unit_rows, p->run_length);
        int folded = fold_run(rn, &pn, u / rn->blocks, last - first, &l);
        panel_normalize_part(rn, &pn, u / rn->blocks, first, last, &l, folded, NULL);
    }
}

