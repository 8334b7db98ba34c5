/*
 * Thread safety of the public API, in one fresh process per run:
 *
 *  1. A race on first-use initialization: RACE_THREADS threads wait on a
 *     barrier, then each makes its first library call at once (sn_get_isa, or
 *     a layer norm that detects the CPU on its way). Nothing calls the library
 *     before, so CPU detection and the SIMDNORM_ISA cap run under that race.
 *     Every thread must see the same ISA and compute the same bits.
 *  2. Concurrent callers: eight application threads (pthreads) run layer
 *     norm, generic norm (masked instance norm, called directly and through
 *     one plan that two callers execute at once, one long row) and batch norm
 *     (training, own state) at the same time, each with its own OpenMP team of
 *     sn_set_num_threads(2), ITERATIONS times; every output must be bitwise
 *     the result computed serially beforehand. One more thread makes failing
 *     calls and checks that sn_last_error_detail() is its own.
 *
 * Plain C + pthreads, no test framework: Criterion would call into the process
 * before main. Built with -fsanitize=thread (scripts/test.sh) it is the TSan
 * check of dispatch, threading and the per-thread error detail.
 *
 * Environment: SIMDNORM_ISA (the ISA under test; "SN_TEST_SKIP:" and exit 0
 * after the race when the CPU lacks it), SN_TEST_SCALE (iterations).
 */
#define _POSIX_C_SOURCE 200809L /* pthread barriers under -std=c11 */

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simdnorm.h"

#define RACE_THREADS 8
#define OMP_THREADS 2

static int failures;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *format, ...)
{
    va_list args;
    pthread_mutex_lock(&report_lock);
    failures++;
    fputs("FAIL: ", stderr);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    pthread_mutex_unlock(&report_lock);
}

static void *checked_malloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "FAIL: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

static float *new_floats(size_t n)
{
    return checked_malloc(n * sizeof(float));
}

/* Deterministic data in [-2, 2) plus an offset, from a per-workload seed. */
static void fill(float *v, size_t n, uint32_t seed, float offset)
{
    uint64_t s = 0x9E3779B97F4A7C15ull * (seed + 1);
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v[i] = offset + (float)((double)(s >> 40) / (double)(1ull << 24) * 4.0 - 2.0);
    }
}

static size_t first_difference(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)))
            return i;
    return n;
}

/* -------------------------------------------------------- 1. first use */

typedef struct race_arg {
    pthread_barrier_t *barrier;
    int index;
    sn_isa isa;
    sn_status status;
    float y[4 * 8];
} race_arg;

static const float race_x[4 * 8] = {
    1, 2, 3, 4, 5, 6, 7, 8, -1, 0.5f, 2, 9, 3, 3, 3, 3,
    0, 0, 0, 0, 0, 0, 0, 1, 100, -100, 7, 7, 7, 7, 0.25f, -0.25f,
};

static void *race_main(void *p)
{
    race_arg *a = p;
    pthread_barrier_wait(a->barrier);
    /* Half the threads start with the query, half with a layer. */
    if (a->index % 2 == 0) {
        a->isa = sn_get_isa();
        a->status = sn_layer_norm_f32(race_x, a->y, 4, 8, NULL, NULL, 1e-5f);
    } else {
        a->status = sn_layer_norm_f32(race_x, a->y, 4, 8, NULL, NULL, 1e-5f);
        a->isa = sn_get_isa();
    }
    return NULL;
}

static void first_use_race(void)
{
    pthread_barrier_t barrier;
    pthread_t threads[RACE_THREADS];
    race_arg args[RACE_THREADS];
    pthread_barrier_init(&barrier, NULL, RACE_THREADS);
    for (int i = 0; i < RACE_THREADS; i++) {
        args[i].barrier = &barrier;
        args[i].index = i;
        if (pthread_create(&threads[i], NULL, race_main, &args[i])) {
            fprintf(stderr, "FAIL: pthread_create\n");
            exit(1);
        }
    }
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < RACE_THREADS; i++) {
        if (args[i].status != SN_OK)
            fail("race: thread %d: sn_layer_norm_f32: %s", i, sn_status_string(args[i].status));
        if (args[i].isa != args[0].isa)
            fail("race: thread %d sees ISA %s, thread 0 sees %s", i, sn_isa_name(args[i].isa),
                 sn_isa_name(args[0].isa));
        if (first_difference(args[i].y, args[0].y, 4 * 8) != 4 * 8)
            fail("race: thread %d computed other bits than thread 0", i);
    }
    if (args[0].isa != sn_get_isa())
        fail("race: the threads saw %s, now sn_get_isa() says %s", sn_isa_name(args[0].isa),
             sn_isa_name(sn_get_isa()));
    printf("first-use race: %d threads agree on ISA %s\n", RACE_THREADS,
           sn_isa_name(args[0].isa));
}

/* 0: ISA under test is running; 1: skip (the CPU lacks it). */
static int check_isa_under_test(void)
{
    const char *env = getenv("SIMDNORM_ISA");
    sn_isa want;
    if (!env || !*env)
        return 0;
    if (sn_isa_from_name(env, &want) != SN_OK) {
        fail("SIMDNORM_ISA=%s is not an ISA name", env);
        return 0;
    }
    if (!sn_isa_supported(want))
        return 1;
    if (sn_get_isa() != want)
        fail("SIMDNORM_ISA=%s is supported but sn_get_isa() reports %s", env,
             sn_isa_name(sn_get_isa()));
    return 0;
}

/* ------------------------------------------------- 2. concurrent callers */

enum { LAYER_NORM, NORM_MASKED_T, NORM_PLANNED, BATCH_NORM, LONG_ROW, KINDS };
static const char *const kind_names[KINDS] = { "layer_norm [64,1031] axis -1",
                                               "norm [8,96,80] BTF axes T masked",
                                               "the same norm through one shared plan",
                                               "batch_norm [16,64,48] BTF training masked",
                                               "layer_norm_f32 [1,65539] in place" };

/* One caller's problem, its inputs and the serial results. */
typedef struct work {
    int kind;
    ptrdiff_t dims[3];
    size_t count, groups, params;
    float *x, *y, *scale, *bias, *mean, *rstd;
    int *seq_lens;
    float *state0;          /* batch norm: the state before each call, 4 * params */
    float *state;           /* the state this caller updates */
    float *want_y, *want_mean, *want_rstd, *want_state;
    int iterations;
    pthread_barrier_t *barrier;
} work;

/* NORM_MASKED_T's call planned once: every NORM_PLANNED caller executes it. */
static const ptrdiff_t masked_t_dims[3] = { 8, 96, 80 };
static sn_norm_plan *shared_plan;

static sn_norm_options masked_t_options(const work *w)
{
    sn_norm_options o = SN_NORM_DEFAULTS;
    o.layout = "BTF";
    o.axes_text = "T";
    o.scale = w->scale;
    o.bias = w->bias;
    o.mean = w->mean;
    o.rstd = w->rstd;
    o.seq_lens = w->seq_lens;
    return o;
}

static sn_status run_once(work *w)
{
    switch (w->kind) {
    case LAYER_NORM: {
        sn_tensor xt = sn_tensor_dense(w->x, SN_FLOAT32, 2, w->dims);
        sn_tensor yt = sn_tensor_dense(w->y, SN_FLOAT32, 2, w->dims);
        sn_layer_norm_options o = SN_LAYER_NORM_DEFAULTS;
        o.scale = w->scale;
        o.bias = w->bias;
        o.mean = w->mean;
        o.rstd = w->rstd;
        o.epsilon = 1e-5f;
        return sn_layer_norm(&xt, &yt, &o);
    }
    case NORM_MASKED_T: {
        sn_tensor xt = sn_tensor_dense(w->x, SN_FLOAT32, 3, w->dims);
        sn_tensor yt = sn_tensor_dense(w->y, SN_FLOAT32, 3, w->dims);
        sn_norm_options o = masked_t_options(w);
        return sn_norm(&xt, &yt, &o);
    }
    case NORM_PLANNED: {
        sn_norm_arrays a = { w->x, w->y, w->scale, w->bias, w->mean, w->rstd, w->seq_lens };
        return sn_norm_plan_execute(shared_plan, &a);
    }
    case BATCH_NORM: {
        size_t f = w->params;
        memcpy(w->state, w->state0, 4 * f * sizeof(float));
        sn_batch_norm_state s = { (ptrdiff_t)f, w->state, w->state + f, w->state + 2 * f,
                                  w->state + 3 * f };
        sn_batch_norm_options o = sn_batch_norm_defaults(SN_BATCH_NORM_CURRENT);
        o.layout = "BTF";
        o.masked_time = 1;
        o.delay_sample_update = 0;
        sn_tensor xt = sn_tensor_dense(w->x, SN_FLOAT32, 3, w->dims);
        sn_tensor yt = sn_tensor_dense(w->y, SN_FLOAT32, 3, w->dims);
        return sn_batch_norm(&xt, &yt, &s, &o, 1, w->seq_lens);
    }
    case LONG_ROW:
        /* In place: start from the input every time. */
        memcpy(w->y, w->x, w->count * sizeof(float));
        return sn_layer_norm_f32(w->y, w->y, 1, w->count, NULL, NULL, 1e-6f);
    }
    return SN_ERR_NULL_POINTER;
}

static void setup(work *w, int kind, uint32_t seed)
{
    memset(w, 0, sizeof *w);
    w->kind = kind;
    switch (kind) {
    case LAYER_NORM:
        w->dims[0] = 64, w->dims[1] = 1031;
        w->groups = 64, w->params = 1031;
        break;
    case NORM_MASKED_T:
    case NORM_PLANNED:
        memcpy(w->dims, masked_t_dims, sizeof w->dims);
        w->groups = 8 * 80, w->params = 80;
        break;
    case BATCH_NORM:
        w->dims[0] = 16, w->dims[1] = 64, w->dims[2] = 48;
        w->params = 48;
        break;
    case LONG_ROW:
        w->dims[0] = 1, w->dims[1] = 65539;
        break;
    }
    w->count = (size_t)w->dims[0] * (size_t)w->dims[1] * (size_t)(w->dims[2] ? w->dims[2] : 1);
    w->x = new_floats(w->count);
    w->y = new_floats(w->count);
    w->want_y = new_floats(w->count);
    fill(w->x, w->count, seed, kind == LONG_ROW ? 1000.0f : 0.5f);
    if (w->params) {
        w->scale = new_floats(w->params);
        w->bias = new_floats(w->params);
        fill(w->scale, w->params, seed + 100, 1.0f);
        fill(w->bias, w->params, seed + 200, 0.0f);
    }
    if (w->groups) {
        w->mean = new_floats(w->groups);
        w->rstd = new_floats(w->groups);
        w->want_mean = new_floats(w->groups);
        w->want_rstd = new_floats(w->groups);
    }
    if (kind == NORM_MASKED_T || kind == NORM_PLANNED || kind == BATCH_NORM) {
        ptrdiff_t b = w->dims[0], t = w->dims[1];
        w->seq_lens = checked_malloc((size_t)b * sizeof(int));
        for (ptrdiff_t i = 0; i < b; i++)
            w->seq_lens[i] = (int)(i == 1 ? 0 : t - (i * 7) % t);
    }
    if (kind == BATCH_NORM) {
        size_t f = w->params;
        w->state0 = new_floats(4 * f);
        w->state = new_floats(4 * f);
        w->want_state = new_floats(4 * f);
        fill(w->state0, f, seed + 300, 0.0f);              /* running mean */
        fill(w->state0 + f, f, seed + 400, 3.0f);          /* running var > 0 */
        memcpy(w->state0 + 2 * f, w->scale, f * sizeof(float));
        memcpy(w->state0 + 3 * f, w->bias, f * sizeof(float));
    }
}

static void release(work *w)
{
    float *owned[] = { w->x, w->y, w->scale, w->bias, w->mean, w->rstd, w->state0, w->state,
                       w->want_y, w->want_mean, w->want_rstd, w->want_state };
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        free(owned[i]);
    free(w->seq_lens);
}

/* The serial result: run once on this thread, keep the outputs. */
static void compute_expected(work *w)
{
    sn_status s = run_once(w);
    if (s != SN_OK) {
        fail("%s: serial run: %s (%s)", kind_names[w->kind], sn_status_string(s),
             sn_last_error_detail());
        return;
    }
    memcpy(w->want_y, w->y, w->count * sizeof(float));
    if (w->groups) {
        memcpy(w->want_mean, w->mean, w->groups * sizeof(float));
        memcpy(w->want_rstd, w->rstd, w->groups * sizeof(float));
    }
    if (w->want_state)
        memcpy(w->want_state, w->state, 4 * w->params * sizeof(float));
}

static void compare(const work *w, int caller, int iteration, const char *what,
                    const float *got, const float *want, size_t n)
{
    size_t i = first_difference(got, want, n);
    if (i != n)
        fail("caller %d (%s), iteration %d: %s[%zu] = %a, serially %a", caller,
             kind_names[w->kind], iteration, what, i, got[i], want[i]);
}

typedef struct caller_arg {
    work *w;
    int index;
} caller_arg;

static void *caller_main(void *p)
{
    caller_arg *a = p;
    work *w = a->w;
    pthread_barrier_wait(w->barrier);
    for (int it = 0; it < w->iterations; it++) {
        /* Dirty the outputs so that a skipped write cannot pass. */
        memset(w->y, 0xA5, w->count * sizeof(float));
        if (w->groups) {
            memset(w->mean, 0xA5, w->groups * sizeof(float));
            memset(w->rstd, 0xA5, w->groups * sizeof(float));
        }
        sn_status s = run_once(w);
        if (s != SN_OK) {
            fail("caller %d (%s), iteration %d: %s", a->index, kind_names[w->kind], it,
                 sn_status_string(s));
            break;
        }
        compare(w, a->index, it, "y", w->y, w->want_y, w->count);
        if (w->groups) {
            compare(w, a->index, it, "mean", w->mean, w->want_mean, w->groups);
            compare(w, a->index, it, "rstd", w->rstd, w->want_rstd, w->groups);
        }
        if (w->want_state)
            compare(w, a->index, it, "state", w->state, w->want_state, 4 * w->params);
    }
    return NULL;
}

/* Failing calls from one more thread: the detail must be this thread's own. */
typedef struct errors_arg {
    pthread_barrier_t *barrier;
    int iterations;
} errors_arg;

static void *errors_main(void *p)
{
    errors_arg *a = p;
    ptrdiff_t dims[3] = { 4, 6, 8 };
    float x[4 * 6 * 8], y[4 * 6 * 8];
    int lens[4] = { 6, 7, 1, 0 }; /* 7 > T */
    fill(x, sizeof x / sizeof x[0], 7, 0.0f);
    pthread_barrier_wait(a->barrier);
    for (int it = 0; it < a->iterations * 20; it++) {
        char text[32];
        unsigned mask;
        snprintf(text, sizeof text, "bogus%d", it);
        if (sn_axes_parse(text, "BTF", NULL, &mask) != SN_ERR_AXES_DESCRIPTION ||
            !strstr(sn_last_error_detail(), text))
            fail("errors thread: detail \"%s\" does not name \"%s\"", sn_last_error_detail(),
                 text);
        sn_tensor xt = sn_tensor_dense(x, SN_FLOAT32, 3, dims);
        sn_tensor yt = sn_tensor_dense(y, SN_FLOAT32, 3, dims);
        sn_norm_options o = SN_NORM_DEFAULTS;
        o.layout = "BTF";
        o.axes_text = "T";
        o.seq_lens = lens;
        if (sn_norm(&xt, &yt, &o) != SN_ERR_SEQ_LENS ||
            !strstr(sn_last_error_detail(), "seq_lens[1] = 7"))
            fail("errors thread: detail \"%s\" does not name seq_lens[1]",
                 sn_last_error_detail());
        if (sn_axes_parse("TF", "BTF", NULL, &mask) != SN_OK || *sn_last_error_detail())
            fail("errors thread: a successful call left detail \"%s\"", sn_last_error_detail());
    }
    return NULL;
}

static int scaled_iterations(void)
{
    const char *env = getenv("SN_TEST_SCALE");
    double scale = env && *env ? strtod(env, NULL) : 1.0;
    int n = (int)(8.0 * scale + 0.5);
    return n < 2 ? 2 : n > 200 ? 200 : n;
}

static void concurrent_callers(void)
{
    enum { CALLERS = KINDS + 3 }; /* three kinds run twice, on other data */
    int iterations = scaled_iterations();
    work works[CALLERS];
    pthread_t threads[CALLERS + 1];
    caller_arg args[CALLERS];
    errors_arg eargs;
    pthread_barrier_t barrier;

    if (sn_set_num_threads(OMP_THREADS) != SN_OK)
        fail("sn_set_num_threads(%d) failed", OMP_THREADS);
    /* The shared plan: from the shapes, and which arrays the callers pass. */
    work shape;
    setup(&shape, NORM_PLANNED, 0);
    sn_tensor t = sn_tensor_dense(NULL, SN_FLOAT32, 3, masked_t_dims);
    sn_norm_options o = masked_t_options(&shape);
    sn_status planned = sn_norm_plan_create(&t, &t, &o, &shared_plan);
    release(&shape);
    if (planned != SN_OK) {
        fail("sn_norm_plan_create: %s (%s)", sn_status_string(planned), sn_last_error_detail());
        return;
    }
    for (int i = 0; i < CALLERS; i++) {
        setup(&works[i], i % KINDS, (uint32_t)i);
        compute_expected(&works[i]);
    }
    if (failures)
        return;
    pthread_barrier_init(&barrier, NULL, CALLERS + 1);
    for (int i = 0; i < CALLERS; i++) {
        works[i].iterations = iterations;
        works[i].barrier = &barrier;
        args[i].w = &works[i];
        args[i].index = i;
        if (pthread_create(&threads[i], NULL, caller_main, &args[i])) {
            fprintf(stderr, "FAIL: pthread_create\n");
            exit(1);
        }
    }
    eargs.barrier = &barrier;
    eargs.iterations = iterations;
    if (pthread_create(&threads[CALLERS], NULL, errors_main, &eargs)) {
        fprintf(stderr, "FAIL: pthread_create\n");
        exit(1);
    }
    for (int i = 0; i <= CALLERS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < CALLERS; i++)
        release(&works[i]);
    sn_norm_plan_destroy(shared_plan);
    sn_set_num_threads(0);
    printf("concurrent callers: %d threads x %d iterations with %d OpenMP threads each, "
           "plus an error-detail thread\n",
           CALLERS, iterations, OMP_THREADS);
}

int main(void)
{
    first_use_race(); /* must be the process's first use of the library */
    if (check_isa_under_test() && !failures) {
        printf("SN_TEST_SKIP: SIMDNORM_ISA=%s is not supported by this CPU or build "
               "(the first-use race ran)\n",
               getenv("SIMDNORM_ISA"));
        return 0;
    }
    concurrent_callers();
    if (failures) {
        fprintf(stderr, "%d failure(s) (ISA %s)\n", failures, sn_isa_name(sn_get_isa()));
        return 1;
    }
    printf("all passed (ISA %s)\n", sn_isa_name(sn_get_isa()));
    return 0;
}
