#include "oracle.h"

#include <math.h>
#include <stdlib.h>

ptrdiff_t oracle_offset(const sn_tensor *t, ptrdiff_t index)
{
    ptrdiff_t offset = 0;
    for (int i = t->rank - 1; i >= 0; i--) {
        offset += (index % t->dims[i]) * t->strides[i];
        index /= t->dims[i];
    }
    return offset;
}

float oracle_get(const sn_tensor *t, ptrdiff_t index)
{
    return ((const float *)t->data)[oracle_offset(t, index)];
}

void oracle_layer_norm(const sn_tensor *x, int axis, const float *scale, const float *bias,
                       double epsilon, double *normalized, double *expected, double *mean,
                       double *rstd)
{
    ptrdiff_t n = x->dims[axis], inner = 1, outer = 1;
    for (int i = axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    for (int i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t in = 0; in < inner; in++) {
            ptrdiff_t base = o * n * inner + in, group = o * inner + in;
            double sum = 0.0, sq = 0.0;
            for (ptrdiff_t k = 0; k < n; k++)
                sum += oracle_get(x, base + k * inner);
            double mu = n > 0 ? sum / (double)n : 0.0;
            for (ptrdiff_t k = 0; k < n; k++) {
                double d = oracle_get(x, base + k * inner) - mu;
                sq += d * d;
            }
            /* Where rstd does not exist (no elements; zero variance with epsilon 0)
             * it is defined as 0, so the normalized values are 0. */
            double variance = n > 0 ? sq / (double)n + epsilon : 0.0;
            double r = variance == 0.0 ? 0.0 : 1.0 / sqrt(variance);
            if (mean)
                mean[group] = mu;
            if (rstd)
                rstd[group] = r;
            for (ptrdiff_t k = 0; k < n; k++) {
                ptrdiff_t at = base + k * inner;
                double t = (oracle_get(x, at) - mu) * r;
                if (normalized)
                    normalized[at] = t;
                if (expected)
                    expected[at] = t * (scale ? scale[k] : 1.0) + (bias ? bias[k] : 0.0);
            }
        }
}

/* Two-pass float64 statistics of the groups given per element (group[i],
 * param[i], valid[i]) and the outputs of every element. */
static void normalize_groups(const sn_tensor *x, ptrdiff_t count, const ptrdiff_t *group,
                             const ptrdiff_t *param, const unsigned char *valid, ptrdiff_t groups,
                             const float *scale, const float *bias, double epsilon,
                             int zero_masked, double *normalized, double *expected,
                             double *mean_out, double *rstd_out)
{
    double *sum = calloc((size_t)groups + 1, sizeof *sum);
    double *sq = calloc((size_t)groups + 1, sizeof *sq);
    double *n = calloc((size_t)groups + 1, sizeof *n);
    if (!sum || !sq || !n)
        abort();
    for (ptrdiff_t i = 0; i < count; i++)
        if (valid[i]) {
            sum[group[i]] += oracle_get(x, i);
            n[group[i]] += 1.0;
        }
    for (ptrdiff_t g = 0; g < groups; g++)
        sum[g] = n[g] > 0.0 ? sum[g] / n[g] : 0.0; /* now the mean */
    for (ptrdiff_t i = 0; i < count; i++)
        if (valid[i]) {
            double d = oracle_get(x, i) - sum[group[i]];
            sq[group[i]] += d * d;
        }
    for (ptrdiff_t g = 0; g < groups; g++) {
        double variance = n[g] > 0.0 ? sq[g] / n[g] + epsilon : 0.0;
        sq[g] = variance == 0.0 ? 0.0 : 1.0 / sqrt(variance); /* now rstd */
        if (mean_out) /* an infinite element makes the mean NaN, like everything else */
            mean_out[g] = isfinite(sum[g]) ? sum[g] : NAN;
        if (rstd_out)
            rstd_out[g] = sq[g];
    }
    for (ptrdiff_t i = 0; i < count; i++) {
        double t = 0.0, y = 0.0;
        if (valid[i] || !zero_masked) {
            t = (oracle_get(x, i) - sum[group[i]]) * sq[group[i]];
            y = t * (scale ? scale[param[i]] : 1.0) + (bias ? bias[param[i]] : 0.0);
        }
        if (normalized)
            normalized[i] = t;
        if (expected)
            expected[i] = y;
    }
    free(sum);
    free(sq);
    free(n);
}

typedef struct element_maps {
    ptrdiff_t *group, *param;
    unsigned char *valid;
} element_maps;

static element_maps maps_new(ptrdiff_t count)
{
    element_maps m = { malloc((size_t)(count + 1) * sizeof(ptrdiff_t)),
                       malloc((size_t)(count + 1) * sizeof(ptrdiff_t)),
                       malloc((size_t)(count + 1)) };
    if (!m.group || !m.param || !m.valid)
        abort();
    return m;
}

static void maps_free(element_maps *m)
{
    free(m->group);
    free(m->param);
    free(m->valid);
}

static ptrdiff_t element_count(const sn_tensor *x)
{
    ptrdiff_t count = 1;
    for (int i = 0; i < x->rank; i++)
        count *= x->dims[i];
    return count;
}

void oracle_norm(const sn_tensor *x, const oracle_norm_spec *spec, double *normalized,
                 double *expected, double *mean, double *rstd, unsigned char *valid)
{
    ptrdiff_t count = element_count(x), groups = 1;
    for (int a = 0; a < x->rank; a++)
        if (!(spec->reduce >> a & 1u))
            groups *= x->dims[a];
    element_maps m = maps_new(count);
    for (ptrdiff_t i = 0; i < count; i++) {
        ptrdiff_t rest = i, g = 0, gw = 1, p = 0, pw = 1, b = -1, t = -1;
        for (int a = x->rank - 1; a >= 0; a--) {
            ptrdiff_t k = rest % x->dims[a];
            rest /= x->dims[a];
            if (!(spec->reduce >> a & 1u)) {
                g += k * gw;
                gw *= x->dims[a];
            }
            if (spec->params >> a & 1u) {
                p += k * pw;
                pw *= x->dims[a];
            }
            if (a == spec->batch_axis)
                b = k;
            if (a == spec->time_axis)
                t = k;
        }
        m.group[i] = g;
        m.param[i] = p;
        m.valid[i] = !(spec->seq_lens && b >= 0 && t >= 0 && t >= spec->seq_lens[b]);
        if (valid)
            valid[i] = m.valid[i];
    }
    normalize_groups(x, count, m.group, m.param, m.valid, groups, spec->scale, spec->bias,
                     spec->epsilon, spec->zero_masked, normalized, expected, mean, rstd);
    maps_free(&m);
}

void oracle_group_norm(const sn_tensor *x, int channel_axis, ptrdiff_t groups, const float *scale,
                       const float *bias, double epsilon, double *normalized, double *expected,
                       double *mean, double *rstd)
{
    ptrdiff_t count = element_count(x), channels = x->dims[channel_axis];
    ptrdiff_t per_group = channels / groups;
    element_maps m = maps_new(count);
    for (ptrdiff_t i = 0; i < count; i++) {
        ptrdiff_t rest = i, c = 0, n = 0;
        for (int a = x->rank - 1; a >= 0; a--) {
            ptrdiff_t k = rest % x->dims[a];
            rest /= x->dims[a];
            if (a == channel_axis)
                c = k;
            else if (a == 0)
                n = k;
        }
        m.group[i] = n * groups + c / per_group;
        m.param[i] = c;
        m.valid[i] = 1;
    }
    normalize_groups(x, count, m.group, m.param, m.valid, x->dims[0] * groups, scale, bias,
                     epsilon, 0, normalized, expected, mean, rstd);
    maps_free(&m);
}
