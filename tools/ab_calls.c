/* simdnorm-ab-calls: two builds of the library, call against call.
 *
 *   simdnorm-ab-calls LIB_A LIB_B PAIRS THREADS CASE...
 *     CASE  layer_norm:ROWSxF            sn_layer_norm_f32, scale and bias
 *           norm:D0xD1x...:LAYOUT:AXES   sn_norm, scale and bias over "F"
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
 * (streamed against plain stores, say), since each call inherits the other's
 * cache contents; compare those in separate runs (scripts/ab.sh without
 * --calls). scripts/ab.sh --calls builds an earlier revision and runs this. */
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
} build;

typedef struct work {
    int is_norm;
    size_t rows, features;         /* layer_norm */
    sn_tensor x, y;                /* norm */
    sn_norm_options options;
    float *xd, *yd, *scale, *bias;
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
    if (!b->layer_norm_f32 || !b->norm || !b->set_num_threads) {
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

static int setup(const char *spec, work *w)
{
    static char text[256];
    unsigned seed = 12345u;
    ptrdiff_t dims[SN_MAX_RANK];
    memset(w, 0, sizeof *w);
    snprintf(text, sizeof text, "%s", spec);
    if (strncmp(text, "layer_norm:", 11) == 0) {
        if (parse_dims(text + 11, dims) != 2)
            return 0;
        w->rows = (size_t)dims[0];
        w->features = (size_t)dims[1];
        w->xd = floats(w->rows * w->features, &seed);
        w->yd = floats(w->rows * w->features, &seed);
        w->scale = floats(w->features, &seed);
        w->bias = floats(w->features, &seed);
        return w->xd && w->yd && w->scale && w->bias;
    }
    if (strncmp(text, "norm:", 5) != 0)
        return 0;
    char *layout = strchr(text + 5, ':'), *axes = layout ? strchr(layout + 1, ':') : NULL;
    int rank = parse_dims(text + 5, dims);
    if (!axes || rank < 1)
        return 0;
    *layout++ = '\0';
    *axes++ = '\0';
    char *f = strchr(layout, 'F');
    if ((int)strlen(layout) != rank || !f)
        return 0;
    size_t count = 1, features = (size_t)dims[f - layout];
    for (int i = 0; i < rank; i++)
        count *= (size_t)dims[i];
    w->is_norm = 1;
    w->xd = floats(count, &seed);
    w->yd = floats(count, &seed);
    w->scale = floats(features, &seed);
    w->bias = floats(features, &seed);
    if (!w->xd || !w->yd || !w->scale || !w->bias)
        return 0;
    /* The tensors by hand: sn_tensor_dense is in the libraries compared. */
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
    sn_norm_options o = SN_NORM_DEFAULTS;
    o.layout = layout;
    o.axes_text = axes;
    o.param_text = "F";
    o.scale = w->scale;
    o.bias = w->bias;
    w->options = o;
    return 1;
}

static double timed_call(const build *b, const work *w)
{
    double t0 = now();
    sn_status s = w->is_norm ? b->norm(&w->x, &w->y, &w->options)
                             : b->layer_norm_f32(w->xd, w->yd, w->rows, w->features, w->scale,
                                                 w->bias, 1e-5f);
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
                        "  CASE  layer_norm:ROWSxF | norm:D0xD1x...:LAYOUT:AXES\n",
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
        if (!setup(argv[c], &w)) {
            fprintf(stderr, "simdnorm-ab-calls: cannot read or allocate the case %s\n", argv[c]);
            return 2;
        }
        for (int i = 0; i < 3; i++) {
            timed_call(&a, &w);
            timed_call(&b, &w);
        }
        for (int p = 0; p < pairs; p++) {
            /* A then B, then B then A: a drift within a pair favours neither. */
            if (p % 2 == 0) {
                ta[p] = timed_call(&a, &w);
                tb[p] = timed_call(&b, &w);
            } else {
                tb[p] = timed_call(&b, &w);
                ta[p] = timed_call(&a, &w);
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
    }
    free(ta);
    free(tb);
    free(ratio);
    return 0;
}
