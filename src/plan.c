#include "plan.h"

static int mergeable(const sn_axis *outer, const sn_axis *inner)
{
    return !outer->mask_role && !inner->mask_role &&
           outer->x_stride == inner->x_stride * inner->dim &&
           outer->y_stride == inner->y_stride * inner->dim &&
           outer->group_stride == inner->group_stride * inner->dim &&
           outer->param_stride == inner->param_stride * inner->dim;
}

/* Appends `a` (walking from the innermost axis outwards) to a list, merging it
 * into the previous entry when the two address memory as one axis. */
static void push_axis(sn_axis *list, int *count, sn_axis a)
{
    if (*count > 0 && mergeable(&a, &list[*count - 1]))
        list[*count - 1].dim *= a.dim;
    else
        list[(*count)++] = a;
}

static void reverse(sn_axis *list, int count)
{
    for (int i = 0, j = count - 1; i < j; i++, j--) {
        sn_axis t = list[i];
        list[i] = list[j];
        list[j] = t;
    }
}

void sn_plan_build(const sn_tensor *x, const sn_tensor *y, unsigned reduce_mask,
                   unsigned param_mask, const int *seq_lens, int batch_axis, int time_axis,
                   int zero_masked, sn_plan *plan)
{
    /* The reduced axes go straight into the plan: GCC made the copy of a
     * local array a `rep movsq`, slow to start ([1,768] 155-157 -> 144-145 ns
     * without it). The group axes go through `groups`, which loses its lane
     * axis on the way to plan->outer. */
    sn_axis *reduce = plan->reduce, groups[SN_MAX_RANK];
    int reduce_count = 0, group_count = 0;
    ptrdiff_t group_stride = 1, param_stride = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        int reduced = reduce_mask >> i & 1u, param = param_mask >> i & 1u;
        int role = !seq_lens            ? SN_MASK_ROLE_NONE
                   : i == batch_axis    ? SN_MASK_ROLE_BATCH
                   : i == time_axis     ? SN_MASK_ROLE_TIME
                                        : SN_MASK_ROLE_NONE;
        sn_axis a = { x->dims[i], x->strides[i], y->strides[i], reduced ? 0 : group_stride,
                      param ? param_stride : 0, role };
        if (x->dims[i] != 1 || role)
            push_axis(reduced ? reduce : groups, reduced ? &reduce_count : &group_count, a);
        if (!reduced)
            group_stride *= x->dims[i];
        if (param)
            param_stride *= x->dims[i];
    }
    reverse(reduce, reduce_count);
    reverse(groups, group_count);
    /* Masking reads a frame's batch index before its time index: walk a reduced
     * batch axis outside a reduced time axis, whatever their order in memory. */
    for (int i = 0; i + 1 < reduce_count; i++)
        if (reduce[i].mask_role == SN_MASK_ROLE_TIME)
            for (int j = i + 1; j < reduce_count; j++)
                if (reduce[j].mask_role == SN_MASK_ROLE_BATCH) {
                    sn_axis t = reduce[i];
                    reduce[i] = reduce[j];
                    reduce[j] = t;
                }

    plan->seq_lens = seq_lens;
    plan->zero_masked = zero_masked;
    plan->reduce_rank = reduce_count;
    plan->runs = 1;
    plan->run_length = 1;
    for (int i = 0; i < reduce_count; i++) {
        if (i + 1 < reduce_count)
            plan->runs *= reduce[i].dim;
        else
            plan->run_length = reduce[i].dim;
    }
    plan->reduce_count = plan->runs * plan->run_length;

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
        }
    }
    plan->outer_rank = 0;
    plan->outer_count = 1;
    for (int i = 0; i < group_count; i++) {
        if (i == lane)
            continue;
        plan->outer[plan->outer_rank++] = groups[i];
        plan->outer_count *= groups[i].dim;
    }
    plan->groups = plan->outer_count * plan->lane.dim;
}

