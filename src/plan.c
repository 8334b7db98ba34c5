#include "plan.h"

static int mergeable(const sn_group_axis *outer, const sn_group_axis *inner)
{
    return outer->x_stride == inner->x_stride * inner->dim &&
           outer->y_stride == inner->y_stride * inner->dim &&
           outer->group_stride == inner->group_stride * inner->dim;
}

void sn_plan_reduce_axis(const sn_tensor *x, const sn_tensor *y, int axis, sn_plan *plan)
{
    sn_group_axis axes[SN_MAX_RANK];
    int count = 0;
    ptrdiff_t group_stride = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        if (i == axis)
            continue;
        if (x->dims[i] != 1) {
            sn_group_axis a = { x->dims[i], x->strides[i], y->strides[i], group_stride };
            /* Collected innermost first; merge into the previous (inner) one when possible. */
            if (count > 0 && mergeable(&a, &axes[count - 1])) {
                axes[count - 1].dim *= a.dim;
            } else {
                axes[count++] = a;
            }
        }
        group_stride *= x->dims[i];
    }

    plan->length = x->dims[axis];
    plan->x_step = x->strides[axis];
    plan->y_step = y->strides[axis];
    plan->lane = (sn_group_axis){ 1, 0, 0, 0 };
    plan->path = SN_PATH_GATHER;
    int lane = -1;
    if (plan->length <= 1 || (plan->x_step == 1 && plan->y_step == 1)) {
        plan->path = SN_PATH_ROWS;
    } else {
        for (int i = 0; i < count; i++)
            if (axes[i].x_stride == 1 && axes[i].y_stride == 1) {
                lane = i;
                plan->path = SN_PATH_COLUMNS;
                plan->lane = axes[i];
                break;
            }
    }

    plan->outer_rank = 0;
    plan->outer_count = 1;
    for (int i = count - 1; i >= 0; i--) {
        if (i == lane)
            continue;
        plan->outer[plan->outer_rank++] = axes[i];
        plan->outer_count *= axes[i].dim;
    }
    plan->groups = plan->outer_count * plan->lane.dim;
}

void sn_plan_outer_position(const sn_plan *plan, ptrdiff_t index, ptrdiff_t *x_offset,
                            ptrdiff_t *y_offset, ptrdiff_t *group)
{
    ptrdiff_t xo = 0, yo = 0, g = 0;
    for (int i = plan->outer_rank - 1; i >= 0; i--) {
        const sn_group_axis *a = &plan->outer[i];
        ptrdiff_t k = index % a->dim;
        index /= a->dim;
        xo += k * a->x_stride;
        yo += k * a->y_stride;
        g += k * a->group_stride;
    }
    *x_offset = xo;
    *y_offset = yo;
    *group = g;
}
