/* Determinism: for the ISA under test, outputs (y, mean, rstd) are bitwise
 * identical for 1, 2, 3 and 8 threads and across repeated runs, on a shape
 * for every path: many rows, long rows (split reduction), columns, gather.
 * More threads than cores make threads take each other's untaken chunks of
 * rows (normalize.c): a taken chunk that lost a row failed 4 of these tests
 * on 2 cores. */
#include <stdint.h>
#include <string.h>

#include "dispatch.h"
#include "scratch.h"
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

Test(determinism, working_memory_is_kept_between_calls)
{
    tu_begin();
    /* Calls reuse the blocks earlier calls freed (scratch.h): aligned to a
     * line, the smallest kept block that fits, and a block is never handed
     * out twice. The repeated runs above check that reused memory, full of
     * an earlier call's values, changes no result. */
    sn_scratch_release();
    char *a = sn_scratch_alloc(1000), *b = sn_scratch_alloc(300000);
    cr_assert(a && b && a != b, "sn_scratch_alloc failed");
    cr_assert((uintptr_t)a % 64 == 0 && (uintptr_t)b % 64 == 0, "blocks not on a cache line");
    memset(a, 1, 1000);
    memset(b, 2, 300000);
    sn_scratch_free(b);
    sn_scratch_free(a);
    char *small = sn_scratch_alloc(900), *large = sn_scratch_alloc(200000);
    cr_assert(small == a, "a 900-byte request did not reuse the kept 1000-byte block");
    cr_assert(large == b, "a 200000-byte request did not reuse the kept 300000-byte block");
    char *other = sn_scratch_alloc(900);
    cr_assert(other && other != small && other != large, "a block was handed out twice");
    sn_scratch_free(other);
    sn_scratch_free(large);
    sn_scratch_free(small);
}
