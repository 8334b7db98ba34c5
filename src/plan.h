/*
 * Planning: map a strided tensor and its reduced axis onto one of a few
 * canonical loop nests, after dropping unit axes and merging adjacent ones.
 *
 *   ROWS     the reduced axis is contiguous in x and y: each group is a run.
 *   COLUMNS  another axis (the lane axis) is contiguous: panels of adjacent
 *            groups are reduced together, vectorized across the lanes.
 *   GATHER   nothing is contiguous: each group is copied to scratch, treated
 *            as a row, and copied back.
 */
#ifndef SN_PLAN_H
#define SN_PLAN_H

#include "simdnorm.h"

typedef enum sn_path { SN_PATH_ROWS, SN_PATH_COLUMNS, SN_PATH_GATHER } sn_path;

/* An axis over groups: extent, strides in x and y, and step of the group index
 * (groups are numbered row-major over the non-reduced axes). */
typedef struct sn_group_axis {
    ptrdiff_t dim, x_stride, y_stride, group_stride;
} sn_group_axis;

typedef struct sn_plan {
    sn_path path;
    ptrdiff_t length;          /* elements of a group along the reduced axis */
    ptrdiff_t x_step, y_step;  /* strides of the reduced axis */
    int outer_rank;            /* group axes other than the lane axis, outermost first */
    sn_group_axis outer[SN_MAX_RANK];
    sn_group_axis lane;        /* COLUMNS: the unit-stride group axis; otherwise dim 1 */
    ptrdiff_t outer_count;     /* product of the outer dims */
    ptrdiff_t groups;          /* outer_count * lane.dim */
} sn_plan;

/* x and y passed validation and have the same dims; axis is resolved. */
void sn_plan_reduce_axis(const sn_tensor *x, const sn_tensor *y, int axis, sn_plan *plan);

/* Where outer position `index` (0 <= index < outer_count) starts. */
void sn_plan_outer_position(const sn_plan *plan, ptrdiff_t index, ptrdiff_t *x_offset,
                            ptrdiff_t *y_offset, ptrdiff_t *group);

#endif
