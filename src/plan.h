/*
 * Planning: map a strided tensor, its reduced axes and its parameter axes onto
 * one of two canonical loop nests, after dropping unit axes and merging
 * adjacent axes that address memory (and groups and parameters) as one.
 *
 *   ROWS     each group is a nest of reduced axes whose innermost one (the run)
 *            is contiguous in x and y (with parameters per element or constant
 *            along it) and walked by the row kernels.
 *   COLUMNS  the run is strided but a group axis (the lane axis) is contiguous:
 *            panels of adjacent groups are reduced together, vectorized across
 *            the lanes, one row of the panel per step of the innermost reduced
 *            axis.
 *   GATHER   nothing is contiguous: like ROWS, through a per-thread scratch
 *            copy of each run.
 */
#ifndef SN_PLAN_H
#define SN_PLAN_H

#include "simdnorm.h"

typedef enum sn_path { SN_PATH_ROWS, SN_PATH_COLUMNS, SN_PATH_GATHER } sn_path;

/* Role of an axis for masking with sequence lengths. */
enum { SN_MASK_ROLE_NONE = 0, SN_MASK_ROLE_BATCH, SN_MASK_ROLE_TIME };

/* One (possibly merged) axis: extent, strides in x and y, step of the group
 * index (0 on reduced axes; groups are numbered row-major over the
 * non-reduced axes) and step of the parameter index (0 off parameter axes). */
typedef struct sn_axis {
    ptrdiff_t dim, x_stride, y_stride, group_stride, param_stride;
    int mask_role;
} sn_axis;

typedef struct sn_plan {
    sn_path path;
    int reduce_rank;           /* reduced axes, outermost first; the last is the run / row axis */
    sn_axis reduce[SN_MAX_RANK];
    int outer_rank;            /* group axes other than the lane axis, outermost first */
    sn_axis outer[SN_MAX_RANK];
    sn_axis lane;              /* COLUMNS: the unit-stride group axis; otherwise dim 1 */
    ptrdiff_t outer_count;     /* product of the outer dims */
    ptrdiff_t groups;          /* outer_count * lane.dim */
    ptrdiff_t run_length;      /* dim of the last reduced axis (1 if none) */
    ptrdiff_t runs;            /* product of the other reduced dims */
    ptrdiff_t reduce_count;    /* elements per group: runs * run_length */
    /* Masking: valid frames of batch b are t < seq_lens[b] along the time
     * axis, the lengths coming with each run of the plan (sn_norm_job). */
    int masked;
    int zero_masked;           /* padded outputs are 0 instead of normalized */
} sn_plan;

/* x and y passed validation and have the same dims. reduce_mask: the reduced
 * axes (non-empty); param_mask: axes the parameters vary along, dense
 * row-major in tensor order. When masked, batch_axis and time_axis name the
 * B and T axes (the planner keeps them unmerged). */
void sn_plan_build(const sn_tensor *x, const sn_tensor *y, unsigned reduce_mask,
                   unsigned param_mask, int masked, int batch_axis, int time_axis,
                   int zero_masked, sn_plan *plan);

/* Offsets of a position given as a row-major index over `count` axes. */
typedef struct sn_offsets {
    ptrdiff_t x, y, group, param;
    ptrdiff_t batch;  /* index along the batch axis, when one of these axes is it */
    ptrdiff_t time;   /* index along the time axis, likewise (-1 if not among them) */
} sn_offsets;

/* Inline: the engine asks for a position per group and per run. */
static inline void sn_plan_position(const sn_axis *axes, int count, ptrdiff_t index,
                                    sn_offsets *out)
{
    sn_offsets o = { 0, 0, 0, 0, -1, -1 };
    for (int i = count - 1; i >= 0; i--) {
        const sn_axis *a = &axes[i];
        /* The outermost axis takes what is left: no division (one-axis
         * positions, the common case after merging, need none at all). */
        ptrdiff_t k = i > 0 ? index % a->dim : index;
        index = i > 0 ? index / a->dim : 0;
        o.x += k * a->x_stride;
        o.y += k * a->y_stride;
        o.group += k * a->group_stride;
        o.param += k * a->param_stride;
        if (a->mask_role == SN_MASK_ROLE_BATCH)
            o.batch = k;
        else if (a->mask_role == SN_MASK_ROLE_TIME)
            o.time = k;
    }
    *out = o;
}

#endif
