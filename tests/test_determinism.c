/* Determinism: for the ISA under test, outputs (y, mean, rstd) are bitwise
 * identical for 1, 2, 3 and 8 threads and across repeated runs, on a shape
 * for every path: many rows, long rows (split reduction), columns, gather. */
#include "dispatch.h"
#include "testutil.h"

typedef struct det_shape {
    ptrdiff_t groups, features;
    tu_layout layout;
    sn_path path;
} det_shape;

static const det_shape shapes[] = {
    { 256, 1031, TU_DENSE, SN_PATH_ROWS },          /* many rows */
    { 1, 1 << 17, TU_DENSE, SN_PATH_ROWS },         /* one long row: split from 2 threads */
    { 3, 65536 + 7, TU_DENSE, SN_PATH_ROWS },       /* split at 8 threads, not at 1..3 */
    { 600, 300, TU_TRANSPOSED, SN_PATH_COLUMNS },
    { 300, 600, TU_STRIDED, SN_PATH_GATHER },
};

static const int thread_counts[] = { 1, 2, 3, 8 };
#define THREAD_COUNTS ((int)(sizeof thread_counts / sizeof thread_counts[0]))

static void check_shape(int index, int in_place)
{
    const det_shape *s = &shapes[index];
    tu_rng rng = tu_rng_for("determinism");
    ptrdiff_t dims[2] = { s->groups, s->features };
    tu_case c = tu_case_layout(&rng, "determinism", 2 * index + in_place, 2, dims, 1, s->layout,
                               s->layout);
    c.want_path = s->path;
    c.in_place = in_place;
    tu_fill_random(&rng, &c.x);

    char desc[1024];
    tu_result first[THREAD_COUNTS];
    for (int t = 0; t < THREAD_COUNTS; t++) {
        cr_assert(sn_set_num_threads(thread_counts[t]) == SN_OK, "sn_set_num_threads failed");
        /* The shape must be big enough to really use that many threads. */
        int used = sn_threads_for((double)(s->groups * s->features));
        tu_describe(&c, desc, sizeof desc);
        cr_assert(used == thread_counts[t], "%s: the driver would use %d threads, not %d", desc,
                  used, thread_counts[t]);
        tu_run(&c, TU_SCALE | TU_BIAS, &first[t]);
        if (t > 0)
            tu_assert_same(&c, &first[0], &first[t], "1 thread vs this thread count");
    }
    /* Repeated runs, in another order of thread counts. */
    for (int t = THREAD_COUNTS - 1; t >= 0; t--) {
        sn_set_num_threads(thread_counts[t]);
        tu_result again;
        tu_run(&c, TU_SCALE | TU_BIAS, &again);
        tu_assert_same(&c, &first[t], &again, "repeated run");
        tu_result_free(&again);
    }
    /* And the shared result is right. */
    tu_check(&c);
    for (int t = 0; t < THREAD_COUNTS; t++)
        tu_result_free(&first[t]);
    tu_case_free(&c);
    sn_set_num_threads(0);
}

Test(determinism, many_rows)
{
    tu_begin();
    check_shape(0, 0);
    check_shape(0, 1);
}

Test(determinism, one_long_row)
{
    tu_begin();
    check_shape(1, 0);
    check_shape(1, 1);
}

Test(determinism, few_long_rows)
{
    tu_begin();
    check_shape(2, 0);
}

Test(determinism, columns)
{
    tu_begin();
    check_shape(3, 0);
    check_shape(3, 1);
}

Test(determinism, gather)
{
    tu_begin();
    check_shape(4, 0);
}

Test(determinism, small_problems_stay_on_one_thread)
{
    tu_begin();
    /* SPEC 5: a row of 768 must not pay a fork/join, whatever the setting. */
    cr_assert(sn_set_num_threads(8) == SN_OK, "sn_set_num_threads(8) failed");
    int used = sn_threads_for(768.0);
    cr_assert(used == 1, "isa=%s threads=8: a [1,768] problem would use %d threads",
              tu_isa_name(), used);
    sn_set_num_threads(0);
}
