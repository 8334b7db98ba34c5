/* simdnorm-ab-calls: two builds of the library, call against call.
 *
 *   simdnorm-ab-calls LIB_A LIB_B PAIRS THREADS CASE...
 *     CASE  layer_norm:ROWSxF            sn_layer_norm_f32, scale and bias
 *           norm:D0xD1x...:LAYOUT:AXES   sn_norm, scale and bias over "F"
 *           batch_norm:D0xD1x...:LAYOUT:train|infer
 *                                        sn_batch_norm, preset "current",
 *                                        each build with a state of its own
 *
 * Both libraries are loaded into one process (dlopen, each with its own
 * symbols) and called on the same buffers, one call of each per pair, the
 * order alternating from pair to pair. Each case prints the median time of
 * either build and the median and quartiles of the pairs' ratios B/A. On a
 * shared machine whose speed moves by 2x within minutes, two calls a few
 * hundred microseconds apart see the same machine, and the median ratio of
 * a few hundred pairs is steady where separate runs are not.
 *
 * What it cannot compare: builds that leave the caches in different states
 * (streamed against plain stores, or groups walked in another order), since
 * each call inherits the other's cache contents; compare those in separate
 * runs (scripts/ab.sh without --calls). Walking streamed groups of norm "TF"
 * [32,200,512] one after the other instead of interleaved read 0.88-1.0 of
 * the time here, and 1.14 in separate runs. scripts/ab.sh --calls builds an
 * earlier revision and runs this. */
/* RTLD_DEEPBIND (each library binds to its own symbols) is a GNU extension. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <simdnorm.h>

typedef struct build {
    sn_status (*layer_norm_f32)(const float *, float *, size_t, size_t, const float *,
                                const float *, float);
    sn_status (*norm)(const sn_tensor *, const sn_tensor *, const sn_norm_options *);
    sn_status (*set_num_threads)(int);
    sn_status (*batch_norm)(const sn_tensor *, const sn_tensor *, sn_batch_norm_state *,
                            const sn_batch_norm_options *, int, const int *);
    sn_batch_norm_options (*batch_norm_defaults)(sn_batch_norm_preset);
    sn_status (*batch_norm_init)(sn_batch_norm_state *, const sn_batch_norm_options *);
} build;

typedef enum kind { LAYER_NORM, NORM, BATCH_NORM } kind;

typedef struct work {
    kind kind;
    size_t rows, features;         /* layer_norm */
    sn_tensor x, y;                /* norm, batch_norm */
    sn_norm_options options;
    sn_batch_norm_options bn_options;
    sn_batch_norm_state state[2];  /* batch_norm: A's and B's */
    int training;
    float *xd, *yd, *scale, *bias;
    float *state_arrays;           /* batch_norm: both states' arrays */
} work;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int load(const char *path, build *b)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!h) {
        fprintf(stderr, "simdnorm-ab-calls: %s\n", dlerror());
        return 0;
    }
    *(void **)&b->layer_norm_f32 = dlsym(h, "sn_layer_norm_f32");
    *(void **)&b->norm = dlsym(h, "sn_norm");
    *(void **)&b->set_num_threads = dlsym(h, "sn_set_num_threads");
    *(void **)&b->batch_norm = dlsym(h, "sn_batch_norm");
    *(void **)&b->batch_norm_defaults = dlsym(h, "sn_batch_norm_defaults");
    *(void **)&b->batch_norm_init = dlsym(h, "sn_batch_norm_init");
    if (!b->layer_norm_f32 || !b->norm || !b->set_num_threads || !b->batch_norm ||
        !b->batch_norm_defaults || !b->batch_norm_init) {
        fprintf(stderr, "simdnorm-ab-calls: %s lacks the simdnorm API\n", path);
        return 0;
    }
    return 1;
}

static float *floats(size_t count, unsigned *seed)
{
    float *p = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);
    for (size_t i = 0; p && i < count; i++) {
        *seed = *seed * 1103515245u + 12345u;
        p[i] = (float)(*seed >> 8) / 16777216.0f * 4.0f - 2.0f;
    }
    return p;
}

/* "8192x768" into dims; the count of dims, 0 on a malformed list. */
static int parse_dims(const char *text, ptrdiff_t *dims)
{
    int rank = 0;
    char *end;
    for (;;) {
        long v = strtol(text, &end, 10);
        if (end == text || v < 1 || rank == SN_MAX_RANK)
            return 0;
        dims[rank++] = v;
        if (*end != 'x')
            break;
        text = end + 1;
    }
    return *end == '\0' || *end == ':' ? rank : 0;
}

/* The dense tensors of dims, by hand: sn_tensor_dense is in the libraries
 * compared. */
static void dense_tensors(work *w, int rank, const ptrdiff_t *dims)
{
    w->x.data = w->xd;
    w->y.data = w->yd;
    w->x.dtype = w->y.dtype = SN_FLOAT32;
    w->x.rank = w->y.rank = rank;
    ptrdiff_t stride = 1;
    for (int i = rank - 1; i >= 0; i--) {
        w->x.dims[i] = w->y.dims[i] = dims[i];
        w->x.strides[i] = w->y.strides[i] = stride;
        stride *= dims[i];
    }
}

/* A batch-norm state for each build, initialized by that build. */
static int batch_norm_states(work *w, const build *a, const build *b, size_t features)
{
    w->state_arrays = malloc(8 * features * sizeof(float));
    if (!w->state_arrays)
        return 0;
    const build *builds[2] = { a, b };
    for (int k = 0; k < 2; k++) {
        float *at = w->state_arrays + 4 * k * features;
        w->state[k] = (sn_batch_norm_state){ (ptrdiff_t)features, at, at + features,
                                             at + 2 * features, at + 3 * features };
        if (builds[k]->batch_norm_init(&w->state[k], &w->bn_options) != SN_OK)
            return 0;
    }
    return 1;
}

static int setup(const char *spec, work *w, const build *a, const build *b)
{
    static char text[256];
    unsigned seed = 12345u;
    ptrdiff_t dims[SN_MAX_RANK];
    memset(w, 0, sizeof *w);
    snprintf(text, sizeof text, "%s", spec);
    if (strncmp(text, "layer_norm:", 11) == 0) {
        if (parse_dims(text + 11, dims) != 2)
            return 0;
        w->kind = LAYER_NORM;
        w->rows = (size_t)dims[0];
        w->features = (size_t)dims[1];
        w->xd = floats(w->rows * w->features, &seed);
        w->yd = floats(w->rows * w->features, &seed);
        w->scale = floats(w->features, &seed);
        w->bias = floats(w->features, &seed);
        return w->xd && w->yd && w->scale && w->bias;
    }
    size_t prefix = strncmp(text, "norm:", 5) == 0         ? 5
                    : strncmp(text, "batch_norm:", 11) == 0 ? 11
                                                            : 0;
    if (!prefix)
        return 0;
    w->kind = prefix == 5 ? NORM : BATCH_NORM;
    char *layout = strchr(text + prefix, ':'), *last = layout ? strchr(layout + 1, ':') : NULL;
    int rank = parse_dims(text + prefix, dims);
    if (!last || rank < 1)
        return 0;
    *layout++ = '\0';
    *last++ = '\0';
    char *f = strchr(layout, 'F');
    if ((int)strlen(layout) != rank || !f)
        return 0;
    size_t count = 1, features = (size_t)dims[f - layout];
    for (int i = 0; i < rank; i++)
        count *= (size_t)dims[i];
    w->xd = floats(count, &seed);
    w->yd = floats(count, &seed);
    w->scale = floats(features, &seed);
    w->bias = floats(features, &seed);
    if (!w->xd || !w->yd || !w->scale || !w->bias)
        return 0;
    dense_tensors(w, rank, dims);
    if (w->kind == BATCH_NORM) {
        if (strcmp(last, "train") != 0 && strcmp(last, "infer") != 0)
            return 0;
        w->training = strcmp(last, "train") == 0;
        w->bn_options = a->batch_norm_defaults(SN_BATCH_NORM_CURRENT);
        w->bn_options.layout = layout;
        return batch_norm_states(w, a, b, features);
    }
    sn_norm_options o = SN_NORM_DEFAULTS;
    o.layout = layout;
    o.axes_text = last;
    o.param_text = "F";
    o.scale = w->scale;
    o.bias = w->bias;
    w->options = o;
    return 1;
}

/* One call of build b (which: 0 for A, 1 for B, its batch-norm state). */
static double timed_call(const build *b, work *w, int which)
{
    double t0 = now();
    sn_status s;
    switch (w->kind) {
    case NORM: s = b->norm(&w->x, &w->y, &w->options); break;
    case BATCH_NORM:
        s = b->batch_norm(&w->x, &w->y, &w->state[which], &w->bn_options, w->training, NULL);
        break;
    default:
        s = b->layer_norm_f32(w->xd, w->yd, w->rows, w->features, w->scale, w->bias, 1e-5f);
    }
    double t = now() - t0;
    if (s != SN_OK) {
        fprintf(stderr, "simdnorm-ab-calls: a call failed (status %d)\n", (int)s);
        exit(1);
    }
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s LIB_A LIB_B PAIRS THREADS CASE...\n"
                        "  CASE  layer_norm:ROWSxF | norm:D0xD1x...:LAYOUT:AXES |\n"
                        "        batch_norm:D0xD1x...:LAYOUT:train|infer\n",
                argv[0]);
        return 2;
    }
    build a, b;
    if (!load(argv[1], &a) || !load(argv[2], &b))
        return 1;
    int pairs = atoi(argv[3]), threads = atoi(argv[4]);
    if (pairs < 4 || threads < 1 || a.set_num_threads(threads) != SN_OK ||
        b.set_num_threads(threads) != SN_OK) {
        fprintf(stderr, "simdnorm-ab-calls: PAIRS must be 4 or more, THREADS 1 or more\n");
        return 2;
    }
    double *ta = malloc((size_t)pairs * sizeof *ta), *tb = malloc((size_t)pairs * sizeof *tb);
    double *ratio = malloc((size_t)pairs * sizeof *ratio);
    if (!ta || !tb || !ratio)
        return 1;
    for (int c = 5; c < argc; c++) {
        work w;
        if (!setup(argv[c], &w, &a, &b)) {
            fprintf(stderr, "simdnorm-ab-calls: cannot read or allocate the case %s\n", argv[c]);
            return 2;
        }
        for (int i = 0; i < 3; i++) {
            timed_call(&a, &w, 0);
            timed_call(&b, &w, 1);
        }
        for (int p = 0; p < pairs; p++) {
            /* A then B, then B then A: a drift within a pair favours neither. */
            if (p % 2 == 0) {
                ta[p] = timed_call(&a, &w, 0);
                tb[p] = timed_call(&b, &w, 1);
            } else {
                tb[p] = timed_call(&b, &w, 1);
                ta[p] = timed_call(&a, &w, 0);
            }
            ratio[p] = tb[p] / ta[p];
        }
        qsort(ta, (size_t)pairs, sizeof *ta, compare_doubles);
        qsort(tb, (size_t)pairs, sizeof *tb, compare_doubles);
        qsort(ratio, (size_t)pairs, sizeof *ratio, compare_doubles);
        printf("| %s | %d | %.3f | %.3f | %.3f | %.3f-%.3f |\n", argv[c], threads,
               ta[pairs / 2] * 1e6, tb[pairs / 2] * 1e6, ratio[pairs / 2], ratio[pairs / 4],
               ratio[3 * pairs / 4]);
        fflush(stdout);
        free(w.xd);
        free(w.yd);
        free(w.scale);
        free(w.bias);
        free(w.state_arrays);
    }
    free(ta);
    free(tb);
    free(ratio);
    return 0;
}
