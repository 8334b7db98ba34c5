#include "fuzz_common.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ reader */

uint8_t fz_u8(fz_reader *r)
{
    if (!r->size)
        return 0;
    r->size--;
    return *r->data++;
}

uint16_t fz_u16(fz_reader *r)
{
    uint16_t lo = fz_u8(r);
    return (uint16_t)(lo | (uint16_t)fz_u8(r) << 8);
}

uint32_t fz_u32(fz_reader *r)
{
    uint32_t lo = fz_u16(r);
    return lo | (uint32_t)fz_u16(r) << 16;
}

static const ptrdiff_t special_sizes[16] = {
    -1,
    -2,
    -65536,
    PTRDIFF_MIN,
    PTRDIFF_MAX,
    PTRDIFF_MAX / 2,
    PTRDIFF_MAX / 4,
    PTRDIFF_MAX / 4 + 1,
    (ptrdiff_t)1 << 31,
    ((ptrdiff_t)1 << 32) + 1,
    (ptrdiff_t)1 << 40,
    (ptrdiff_t)1 << 62,
    3037000500, /* ~sqrt(2^63): products of two overflow */
    0,
    1,
    65537,
};

ptrdiff_t fz_dim(fz_reader *r)
{
    uint8_t c = fz_u8(r);
    if (c < 200)
        return c % 40;
    if (c < 240)
        return fz_u16(r);
    return special_sizes[c - 240];
}

ptrdiff_t fz_stride(fz_reader *r, ptrdiff_t dense)
{
    uint8_t c = fz_u8(r);
    if (c < 64)
        return dense;
    if (c < 160)
        return c - 64; /* 0 .. 95, 0 = broadcast */
    if (c < 192)
        return dense <= PTRDIFF_MAX / 32 ? dense * (c - 159) : dense;
    if (c < 240)
        return fz_u16(r);
    return special_sizes[c - 240];
}

float fz_float(fz_reader *r)
{
    static const float specials[] = {
        NAN, -NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f, -0.0f, -1e-7f,
        -1.0f, 1.0000001f, 0.99999994f, 1e-6f, 1e-3f, 0.5f, 1.0f, 2.0f, 1e30f, -1e30f,
        3e38f, 1e-38f, -2.0f, 1e-5f,
    };
    uint8_t c = fz_u8(r);
    if (c < 160)
        return (float)c / 64.0f;
    if (c < 240)
        return specials[(c - 160) % (sizeof specials / sizeof specials[0])];
    uint32_t bits = fz_u32(r);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

int fz_int(fz_reader *r, int typical_lo, int typical_hi)
{
    uint8_t c = fz_u8(r);
    if (c < 200) {
        long span = (long)typical_hi - typical_lo + 1;
        return (int)(typical_lo + (long)c % (span > 0 ? span : 1));
    }
    switch (c % 8) {
    case 0: return INT_MIN;
    case 1: return INT_MAX;
    case 2: return -1;
    case 3: return typical_lo - 1;
    case 4: return typical_hi + 1;
    case 5: return 0;
    case 6: return 1;
    default: return 2;
    }
}

const char *fz_raw_text(fz_reader *r, char *buf, size_t cap)
{
    size_t n = 0;
    while (r->size && n + 1 < cap) {
        uint8_t c = fz_u8(r);
        if (!c)
            break;
        buf[n++] = (char)c;
    }
    buf[n] = '\0';
    return buf;
}

const char *fz_text(fz_reader *r, const char *const *table, size_t count, char *buf, size_t cap)
{
    size_t pick = fz_u8(r) % (count + 2);
    if (pick < count)
        return table[pick];
    if (pick == count)
        return NULL;
    return fz_raw_text(r, buf, cap);
}

void fz_set_runtime(fz_reader *r)
{
    uint8_t b = fz_u8(r);
    if (sn_set_num_threads(1 + b % 3) != SN_OK)
        fz_fail("sn_set_num_threads(%d) failed", 1 + b % 3);
    int isa = (b / 3) % 5;
    sn_isa want = isa == 4 ? SN_ISA_AUTO : (sn_isa)isa;
    sn_status s = sn_set_isa(want);
    if (want == SN_ISA_AUTO || sn_isa_supported(want)) {
        if (s != SN_OK)
            fz_fail("sn_set_isa(%s) failed: %s", sn_isa_name(want), sn_status_string(s));
    } else if (s != SN_ERR_ISA_UNSUPPORTED) {
        fz_fail("sn_set_isa(%s) on a CPU without it: %s", sn_isa_name(want), sn_status_string(s));
    }
}

/* ------------------------------------------------------------ checks */

void fz_note(const char *what, sn_status status)
{
    static int verbose = -1;
    if (verbose < 0) {
        const char *env = getenv("FZ_VERBOSE");
        verbose = env && *env && strcmp(env, "0");
    }
    if (verbose)
        fprintf(stderr, "%s: %s%s%s\n", what, sn_status_string(status),
                *sn_last_error_detail() ? " -- " : "", sn_last_error_detail());
}

void fz_fail(const char *format, ...)
{
    va_list args;
    fputs("\nsimdnorm fuzz check failed: ", stderr);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    abort();
}

static void fill_floats(float *v, size_t n, uint32_t seed, int mode)
{
    uint32_t s = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        float u = (float)(s >> 8) / 16777216.0f * 4.0f - 2.0f;
        switch (mode % 6) {
        case 0: v[i] = u; break;
        case 1: v[i] = 3.25f; break;                       /* constant groups */
        case 2: v[i] = (s & 63) == 0 ? (s & 64 ? NAN : INFINITY) : u; break;
        case 3: v[i] = u * 1.5e38f; break;                 /* squares overflow */
        case 4: v[i] = u * 1e-40f; break;                  /* subnormal */
        default: memcpy(&v[i], &s, sizeof s); break;       /* any bits */
        }
    }
}

float *fz_region_floats(fz_region *region, const char *name, size_t count, size_t writable,
                        uint32_t seed)
{
    size_t n = count ? count : 1;
    region->name = name;
    region->bytes = n * sizeof(float);
    region->writable = writable * sizeof(float);
    region->data = malloc(region->bytes);
    region->snapshot = malloc(region->bytes);
    if (!region->data || !region->snapshot)
        fz_fail("out of memory");
    fill_floats((float *)region->data, n, seed, 0);
    return (float *)region->data;
}

void fz_region_snapshot(fz_region *region)
{
    memcpy(region->snapshot, region->data, region->bytes);
}

void fz_region_check(const fz_region *region, int ok, const char *what)
{
    if (!region->data)
        return;
    size_t from = ok ? region->writable : 0;
    for (size_t i = from; i < region->bytes; i++)
        if (region->data[i] != region->snapshot[i])
            fz_fail("%s %s: %s byte %zu of %zu changed (writable on success: %zu)", what,
                    ok ? "succeeded" : "failed", region->name, i, region->bytes,
                    region->writable);
}

void fz_region_free(fz_region *region)
{
    free(region->data);
    free(region->snapshot);
    memset(region, 0, sizeof *region);
}

/* ------------------------------------------------------------ tensors */

/* Dense row-major (or column-major) strides, saturating like sn_tensor_dense. */
static void dense_strides(sn_tensor *t, int column_major, ptrdiff_t pad)
{
    ptrdiff_t stride = 1;
    for (int k = 0; k < t->rank; k++) {
        int i = column_major ? k : t->rank - 1 - k;
        t->strides[i] = stride;
        ptrdiff_t dim = t->dims[i] > 0 ? t->dims[i] : 1;
        stride = stride > (PTRDIFF_MAX - pad) / dim ? PTRDIFF_MAX : stride * dim + pad;
    }
}

static void decode_strides(fz_reader *r, sn_tensor *t, int mode, const sn_tensor *same_as)
{
    switch (mode % 5) {
    case 0: dense_strides(t, 0, 0); break;
    case 1: dense_strides(t, 0, fz_u8(r) % 5); break;
    case 2:
        dense_strides(t, 0, 0);
        for (int i = 0; i < t->rank; i++)
            t->strides[i] = fz_stride(r, t->strides[i]);
        break;
    case 3: dense_strides(t, 1, 0); break;
    default:
        memcpy(t->strides, same_as->strides, sizeof t->strides);
        break;
    }
}

const char *fz_model_tensor(const sn_tensor *t)
{
    if (t->rank < 1 || t->rank > SN_MAX_RANK)
        return "rank";
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] < 0)
            return "negative dim";
    for (int i = 0; i < t->rank; i++)
        if (t->strides[i] < 0)
            return "negative stride";
    if (t->dtype != SN_FLOAT32)
        return "dtype";
    /* Element count and byte extent must fit in ptrdiff_t. */
    const unsigned __int128 limit = (unsigned __int128)PTRDIFF_MAX;
    unsigned __int128 count = 1, extent = 0;
    int empty = 0;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] == 0) {
            empty = 1;
            continue;
        }
        count *= (unsigned __int128)t->dims[i];
        extent += (unsigned __int128)(t->dims[i] - 1) * (unsigned __int128)t->strides[i];
        if (count * 4 > limit || extent * 4 > limit)
            return "size overflow";
    }
    if (!empty && !t->data)
        return "NULL data";
    return NULL;
}

/* Largest element offset of a valid tensor, -1 if empty. */
static ptrdiff_t last_offset(const sn_tensor *t)
{
    ptrdiff_t last = 0;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] == 0)
            return -1;
        last += (t->dims[i] - 1) * t->strides[i];
    }
    return last;
}

static ptrdiff_t nominal_size(const sn_tensor *t)
{
    ptrdiff_t n = 1;
    for (int i = 0; i < t->rank && i < SN_MAX_RANK; i++) {
        ptrdiff_t d = t->dims[i] > 0 ? t->dims[i] : 1;
        if (n > FZ_MAX_ELEMENTS / d)
            return FZ_MAX_ELEMENTS + 1;
        n *= d;
    }
    return n;
}

ptrdiff_t fz_product(const sn_tensor *t, unsigned mask)
{
    ptrdiff_t n = 1;
    for (int i = 0; i < t->rank && i < SN_MAX_RANK; i++)
        if (mask >> i & 1u) {
            if (t->dims[i] < 0)
                return -1;
            if (t->dims[i] && n > FZ_MAX_ELEMENTS / t->dims[i])
                return -1;
            n *= t->dims[i];
        }
    return n;
}

int fz_shape_usable(const sn_tensor *t)
{
    if (t->rank < 1 || t->rank > SN_MAX_RANK)
        return 0;
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] < 0)
            return 0;
    return 1;
}

static int same_view(const sn_tensor *x, const sn_tensor *y)
{
    if (x->data != y->data)
        return 0;
    for (int i = 0; i < x->rank; i++)
        if (x->dims[i] > 1 && x->strides[i] != y->strides[i])
            return 0;
    return 1;
}

/* src/tensor.c's test that a view cannot overlap itself, restated: sorted by
 * stride, every stride exceeds the span of the smaller ones. Sufficient, not
 * necessary: [3, 2] with strides [2, 3] does not overlap but fails it. */
static int fails_stride_test(const sn_tensor *t)
{
    int order[SN_MAX_RANK], n = 0;
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] > 1)
            order[n++] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && t->strides[order[j]] < t->strides[order[j - 1]]; j--) {
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    ptrdiff_t span = 0;
    for (int i = 0; i < n; i++) {
        if (t->strides[order[i]] <= span)
            return 1;
        span += (t->dims[order[i]] - 1) * t->strides[order[i]];
    }
    return 0;
}

/* Marks every element of y's view in `mark`; 1 if two elements share one. */
static int mark_view(const sn_tensor *y, unsigned char *mark, size_t length)
{
    ptrdiff_t index[SN_MAX_RANK] = { 0 };
    int overlap = 0;
    for (;;) {
        ptrdiff_t offset = 0;
        for (int i = 0; i < y->rank; i++)
            offset += index[i] * y->strides[i];
        if (offset < 0 || (size_t)offset >= length)
            fz_fail("fuzz harness: y element at offset %td outside its buffer of %zu", offset,
                    length);
        overlap |= mark[offset];
        mark[offset] = 1;
        int i = y->rank - 1;
        while (i >= 0 && ++index[i] == y->dims[i])
            index[i--] = 0;
        if (i < 0)
            return overlap;
    }
}

static int has_zero_dim(const sn_tensor *t)
{
    for (int i = 0; i < t->rank && i < SN_MAX_RANK; i++)
        if (t->dims[i] == 0)
            return 1;
    return 0;
}

static float *alloc_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p)
        fz_fail("out of memory");
    return p;
}

int fz_tensors_decode(fz_reader *r, fz_tensors *t)
{
    static const int ranks[16] = { 2, 1, 3, 4, 2, 3, 5, 6, 7, 8, 0, 9, -1, 2, 3, 1 };
    memset(t, 0, sizeof *t);
    sn_tensor *x = &t->x, *y = &t->y;
    x->dtype = SN_FLOAT32;
    x->rank = ranks[fz_u8(r) % 16];
    int stored = x->rank < 0 ? 0 : x->rank > SN_MAX_RANK ? SN_MAX_RANK : x->rank;
    for (int i = 0; i < stored; i++)
        x->dims[i] = fz_dim(r);
    int x_strides = fz_u8(r);
    if (x->rank >= 1 && x->rank <= SN_MAX_RANK)
        decode_strides(r, x, x_strides % 4, x);

    int placement = fz_u8(r) % 4; /* separate, in place, x + offset, same data */
    int y_strides = fz_u8(r);
    size_t y_offset = fz_u8(r);
    int flags = fz_u8(r);
    int values = fz_u8(r);
    uint32_t seed = fz_u32(r);

    *y = *x;
    if (placement != 1 && y->rank >= 1 && y->rank <= SN_MAX_RANK)
        decode_strides(r, y, y_strides == 0 ? 4 : y_strides, x);
    if (flags & 1) { /* another shape */
        int axis = fz_u8(r) % (stored ? stored : 1);
        y->dims[axis] = y->dims[axis] < PTRDIFF_MAX ? y->dims[axis] + 1 : 0;
    }
    if (flags & 128)
        y->rank += fz_u8(r) % 2 ? 1 : -1;
    if (flags & 8)
        x->dtype = (sn_dtype)1;
    if (flags & 16)
        y->dtype = (sn_dtype)7;
    t->pass_x = !(flags & 32);
    t->pass_y = !(flags & 64);
    t->nominal = nominal_size(x);

    /* Validity as the library must see it (the data pointers are set below;
     * only whether they are NULL matters here). */
    sn_tensor xv = *x, yv = *y;
    xv.data = (flags & 2) ? NULL : (void *)t;
    yv.data = (flags & 4) ? NULL : (void *)t;
    const char *why = !t->pass_x || !t->pass_y ? "NULL tensor" : NULL;
    if (!why)
        why = fz_model_tensor(&xv);
    if (!why)
        why = fz_model_tensor(&yv);
    if (!why && (x->rank != y->rank ||
                 memcmp(x->dims, y->dims, (size_t)x->rank * sizeof x->dims[0])))
        why = "shape mismatch";

    /* Buffers: exact for tensors with a computable extent, small otherwise
     * (the library must reject those before touching memory). */
    sn_tensor xg = xv, yg = yv;
    xg.data = yg.data = (void *)t;
    xg.dtype = yg.dtype = SN_FLOAT32;
    int x_geometry = fz_model_tensor(&xg) == NULL, y_geometry = fz_model_tensor(&yg) == NULL;
    ptrdiff_t x_last = x_geometry ? last_offset(x) : -1;
    ptrdiff_t y_last = y_geometry ? last_offset(y) : -1;
    if (!why && (t->nominal > FZ_MAX_ELEMENTS || x_last >= FZ_MAX_EXTENT ||
                 y_last >= FZ_MAX_EXTENT))
        return 0; /* valid but too big to run here */
    size_t x_len = x_last >= 0 && x_last < FZ_MAX_EXTENT ? (size_t)x_last + 1 : x_geometry ? 1 : 16;
    size_t y_len = y_last >= 0 && y_last < FZ_MAX_EXTENT ? (size_t)y_last + 1 : y_geometry ? 1 : 16;
    int y_in_x = placement != 0;
    if (placement != 2)
        y_offset = 0;
    if (y_in_x && y_offset + y_len > x_len)
        x_len = y_offset + y_len;

    t->xlen = x_len;
    t->xbuf = alloc_floats(x_len);
    fill_floats(t->xbuf, x_len, seed, values);
    x->data = (flags & 2) ? NULL : t->xbuf;
    if (y_in_x) {
        y->data = (flags & 4) ? NULL : t->xbuf + y_offset;
    } else {
        t->ylen = y_len;
        t->ybuf = alloc_floats(y_len);
        memset(t->ybuf, 0xA5, y_len * sizeof(float));
        y->data = (flags & 4) ? NULL : t->ybuf;
    }

    /* Aliasing, restated: y may not overlap itself, nor x unless it is x.
     * The marks are the elements a successful call may write. */
    if (y_geometry && y->data && y_last >= 0 && y_last < FZ_MAX_EXTENT &&
        nominal_size(y) <= FZ_MAX_ELEMENTS) {
        size_t length = y_in_x ? t->xlen : t->ylen;
        unsigned char *mark = calloc(length, 1);
        if (!mark)
            fz_fail("out of memory");
        if (y_in_x)
            t->xmark = mark;
        else
            t->ymark = mark;
        if (mark_view(y, mark + y_offset, length - y_offset) && !why)
            why = "y overlaps itself";
        t->may_alias = fails_stride_test(y);
        if (!why && y_in_x && x_last >= 0 && x->data) {
            size_t x_end = (size_t)x_last + 1;
            if (y_offset < x_end && !same_view(x, y))
                why = "y overlaps x";
        }
    }
    t->invalid = why != NULL;
    t->why = why;

    t->xsnap = malloc(t->xlen * sizeof(float));
    if (!t->xsnap)
        fz_fail("out of memory");
    memcpy(t->xsnap, t->xbuf, t->xlen * sizeof(float));
    if (t->ybuf) {
        t->ysnap = malloc(t->ylen * sizeof(float));
        if (!t->ysnap)
            fz_fail("out of memory");
        memcpy(t->ysnap, t->ybuf, t->ylen * sizeof(float));
    }
    return 1;
}

static void check_buffer(const char *what, const char *name, int ok, const float *buf,
                         const unsigned char *snap, const unsigned char *mark, size_t length)
{
    const unsigned char *now = (const unsigned char *)buf;
    for (size_t i = 0; i < length * sizeof(float); i++) {
        if (now[i] == snap[i])
            continue;
        size_t element = i / sizeof(float);
        if (ok && mark && mark[element])
            continue;
        fz_fail("%s %s: %s element %zu of %zu changed, which is %s", what,
                ok ? "succeeded" : "failed", name, element, length,
                ok ? "outside y's view" : "not allowed on error");
    }
}

void fz_tensors_check(const fz_tensors *t, sn_status status, int model_error, const char *what)
{
    int ok = status == SN_OK;
    fz_note(what, status);
    if ((int)status < 0 || status >= SN_STATUS_COUNT)
        fz_fail("%s returned %d, not an sn_status", what, (int)status);
    if (!sn_status_string(status) || !sn_last_error_detail())
        fz_fail("%s: status string or error detail is NULL", what);
    if (ok && t->invalid)
        fz_fail("%s accepted invalid tensors (%s): x rank %d, y rank %d", what, t->why,
                t->x.rank, t->y.rank);
    if (ok && model_error)
        fz_fail("%s accepted invalid options", what);
    check_buffer(what, "x buffer", ok, t->xbuf, t->xsnap, t->xmark, t->xlen);
    if (t->ybuf)
        check_buffer(what, "y buffer", ok, t->ybuf, t->ysnap, t->ymark, t->ylen);
}

void fz_tensors_free(fz_tensors *t)
{
    free(t->xbuf);
    free(t->ybuf);
    free(t->xsnap);
    free(t->ysnap);
    free(t->xmark);
    free(t->ymark);
    memset(t, 0, sizeof *t);
}
