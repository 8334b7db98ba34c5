#include "plan.h"

/* Appends an axis (walking from the outermost axis inwards) to a list, merging
 * it into the previous entry when the two address memory (and groups and
 * parameters) as one axis: the merged axis keeps the inner one's steps.
 * Written field by field, never as a whole struct: a struct built moments
 * earlier and copied with wide loads stalls on store forwarding (several
 * such copies were a third of a [1,768] call's 44 ns of fixed cost). */
static void push_axis(sn_axis *list, int *count, ptrdiff_t dim, ptrdiff_t x_stride,
                      ptrdiff_t y_stride, ptrdiff_t group_stride, ptrdiff_t param_stride,
                      int role)
{
    sn_axis *a = *count > 0 ? &list[*count - 1] : NULL;
    if (a && !a->mask_role && !role && a->x_stride == x_stride * dim &&
        a->y_stride == y_stride * dim && a->group_stride == group_stride * dim &&
        a->param_stride == param_stride * dim) {
        a->dim *= dim;
    } else {
        a = &list[(*count)++];
        a->dim = dim;
        a->mask_role = role;
    }
    a->x_stride = x_stride;
    a->y_stride = y_stride;
    a->group_stride = group_stride;
    a->param_stride = param_stride;
}

static void swap_axes(sn_axis *a, sn_axis *b)
{
    sn_axis t = *a;
    *a = *b;
    *b = t;
}

void sn_plan_build(const sn_tensor *x, const sn_tensor *y, unsigned reduce_mask,
                   unsigned param_mask, int masked, int batch_axis, int time_axis,
                   int zero_masked, sn_plan *plan)
{
    /* Each axis's step of the group index (groups are numbered row-major over
     * the non-reduced axes) and of the parameter index. */
    ptrdiff_t group_step[SN_MAX_RANK], param_step[SN_MAX_RANK];
    ptrdiff_t group_stride = 1, param_stride = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        int reduced = reduce_mask >> i & 1u, param = param_mask >> i & 1u;
        group_step[i] = reduced ? 0 : group_stride;
        param_step[i] = param ? param_stride : 0;
        if (!reduced)
            group_stride *= x->dims[i];
        if (param)
            param_stride *= x->dims[i];
    }
    /* The axes outermost first, straight into the plan: the reduced ones into
     * plan->reduce, the group axes into plan->outer, which gives up its lane
     * axis below. (No local copy: GCC made one a `rep movsq`, slow to start.) */
    sn_axis *reduce = plan->reduce, *groups = plan->outer;
    int reduce_count = 0, group_count = 0;
    for (int i = 0; i < x->rank; i++) {
        int reduced = reduce_mask >> i & 1u;
        int role = !masked           ? SN_MASK_ROLE_NONE
                   : i == batch_axis ? SN_MASK_ROLE_BATCH
                   : i == time_axis  ? SN_MASK_ROLE_TIME
                                     : SN_MASK_ROLE_NONE;
        if (x->dims[i] != 1 || role)
            push_axis(reduced ? reduce : groups, reduced ? &reduce_count : &group_count,
                      x->dims[i], x->strides[i], y->strides[i], group_step[i], param_step[i],
                      role);
    }
    /* Masking reads a frame's batch index before its time index: walk a reduced
     * batch axis outside a reduced time axis, whatever their order in memory. */
    for (int i = 0; i + 1 < reduce_count; i++)
        if (reduce[i].mask_role == SN_MASK_ROLE_TIME)
            for (int j = i + 1; j < reduce_count; j++)
                if (reduce[j].mask_role == SN_MASK_ROLE_BATCH)
                    swap_axes(&reduce[i], &reduce[j]);

    /* Counts in locals, stored once: a store to an axis's int field may, for
     * the compiler, change the plan's int fields, which it then re-reads. */
    ptrdiff_t runs = 1, run_length = 1;
    for (int i = 0; i < reduce_count; i++) {
        if (i + 1 < reduce_count)
            runs *= reduce[i].dim;
        else
            run_length = reduce[i].dim;
    }
    plan->masked = masked;
    plan->zero_masked = zero_masked;
    plan->reduce_rank = reduce_count;
    plan->runs = runs;
    plan->run_length = run_length;
    plan->reduce_count = runs * run_length;

    const sn_axis *run = reduce_count ? &reduce[reduce_count - 1] : NULL;
    /* The row kernels take parameters per element or one per run (step 1 or 0). */
    int contiguous = !run || run->dim <= 1 ||
                     (run->x_stride == 1 && run->y_stride == 1 && run->param_stride <= 1);
    plan->path = contiguous ? SN_PATH_ROWS : SN_PATH_GATHER;
    plan->lane = (sn_axis){ 1, 0, 0, 0, 0, SN_MASK_ROLE_NONE };
    int lane = -1;
    if (!contiguous) {
        /* The innermost contiguous group axis along which parameters are
         * contiguous or constant; never the batch axis, whose lanes would each
         * need their own sequence length along a reduced time axis. */
        for (int i = group_count - 1; i >= 0 && lane < 0; i--)
            if (groups[i].x_stride == 1 && groups[i].y_stride == 1 &&
                groups[i].param_stride <= 1 && groups[i].mask_role != SN_MASK_ROLE_BATCH)
                lane = i;
        if (lane >= 0) {
            plan->path = SN_PATH_COLUMNS;
            plan->lane = groups[lane];
            for (int i = lane; i + 1 < group_count; i++)
                groups[i] = groups[i + 1];
            group_count--;
        }
    }
    ptrdiff_t outer_count = 1;
    for (int i = 0; i < group_count; i++)
        outer_count *= groups[i].dim;
    plan->outer_rank = group_count;
    plan->outer_count = outer_count;
    plan->groups = outer_count * plan->lane.dim;
}
