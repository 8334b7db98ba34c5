/*
 * The one place where statistics are defined. Every kernel and every layer
 * describes a piece of a group by an sn_moments record and combines pieces
 * with sn_moments_merge, so that lanes, blocks and threads all agree.
 *
 * Values are kept relative to a per-group shift K (the group's first element):
 * x - K is exact when x is near K, which is what keeps data with a large mean
 * and a tiny spread accurate. The mean of the group is K + mean.
 */
#ifndef SN_STATS_H
#define SN_STATS_H

#include <math.h>
#include <stddef.h>

typedef struct sn_moments {
    double count;  /* number of elements */
    double mean;   /* mean of (x - K) */
    double m2;     /* sum of squared deviations from the mean */
} sn_moments;

static inline sn_moments sn_moments_empty(void)
{
    sn_moments m = { 0.0, 0.0, 0.0 };
    return m;
}

/*
 * Pass 2 takes its deviations from C = K + center rounded to float, where
 * `center` is a provisional mean of x - K (the block's float mean, or a
 * prefix's): x - C is one operation, exact for x near C (a large mean with a
 * tiny spread), one rounding otherwise.
 */
static inline float sn_pass2_center(float shift, float center)
{
    return shift + center;
}

/*
 * Corrected two-pass moments of a block, about `shift` (K), from the sums a
 * kernel gathered around C = sn_pass2_center(shift, center):
 *   sum_dev = sum(x - C), sum_sq = sum((x - C)^2).
 * Subtracting sum_dev^2 / n removes the error of C (Bjorck's correction).
 * C - K, a difference of two floats, is exact in double.
 */
static inline sn_moments sn_moments_from_sums(double count, float shift, float center,
                                              double sum_dev, double sum_sq)
{
    sn_moments m;
    m.count = count;
    if (count <= 0.0)
        return sn_moments_empty();
    m.mean = ((double)sn_pass2_center(shift, center) - (double)shift) + sum_dev / count;
    m.m2 = sum_sq - sum_dev * (sum_dev / count);
    if (m.m2 < 0.0)
        m.m2 = 0.0;
    return m;
}

/*
 * One-pass moments of a block from its power sums about the shift,
 *   s1 = sum(d), s2 = sum(d^2), d = x - K rounded to float (as in the two-pass
 *   algorithm), gathered in double,
 * as m2 = s2 - s1^2 / n. The subtraction cancels the bits by which s2 exceeds
 * m2, i.e. log2(1 + n (mean - K)^2 / m2): while s2 / m2 <= SN_ONE_PASS_MAX_RATIO
 * (K within about a thousand standard deviations of the mean) double keeps
 * over 30 correct bits, far more than float results need, and the block is
 * read once. Otherwise (K an outlier, or a sum that is not finite) it returns
 * 0 and writes nothing: the kernel then uses the corrected two-pass
 * algorithm (sn_moments_from_sums) on the block, still in cache.
 */
#define SN_ONE_PASS_MAX_RATIO 0x1p20

static inline int sn_moments_from_power_sums(double count, double s1, double s2,
                                             sn_moments *out)
{
    double mean = s1 / count;
    double m2 = s2 - s1 * mean;
    if (!(m2 * SN_ONE_PASS_MAX_RATIO >= s2) || !(s2 <= 1.0e300))
        return 0;
    out->count = count;
    out->mean = mean;
    out->m2 = m2;
    return 1;
}

/* The merge below for two non-empty pieces, given their total count and
 * b's weight b->count / count. */
static inline void sn_moments_merge_weighted(sn_moments *a, const sn_moments *b, double count,
                                             double weight_b)
{
    double delta = b->mean - a->mean;
    a->mean += delta * weight_b;
    a->m2 += b->m2 + delta * delta * a->count * weight_b;
    a->count = count;
}

/* Chan et al.'s parallel merge: *a becomes the moments of a followed by b. */
static inline void sn_moments_merge(sn_moments *a, const sn_moments *b)
{
    if (b->count <= 0.0)
        return;
    if (a->count <= 0.0) {
        *a = *b;
        return;
    }
    double count = a->count + b->count;
    sn_moments_merge_weighted(a, b, count, b->count / count);
}

/*
 * sn_moments_merge of lanes[j] into totals[j] for every lane, bit for bit:
 * lanes of a unit of rows all hold the same counts, so the weight of the
 * merge (a division) is taken once for all of them; a lane whose counts
 * differ from the first lane's is merged on its own.
 */
static inline void sn_moments_merge_lanes(sn_moments *totals, const sn_moments *lanes,
                                          ptrdiff_t count)
{
    if (count <= 0)
        return;
    const double a_count = totals[0].count, b_count = lanes[0].count;
    if (!(a_count > 0.0 && b_count > 0.0)) {
        for (ptrdiff_t j = 0; j < count; j++)
            sn_moments_merge(&totals[j], &lanes[j]);
        return;
    }
    const double sum = a_count + b_count, weight_b = b_count / sum;
    for (ptrdiff_t j = 0; j < count; j++) {
        sn_moments *a = &totals[j];
        const sn_moments *b = &lanes[j];
        if (a->count == a_count && b->count == b_count)
            sn_moments_merge_weighted(a, b, sum, weight_b);
        else
            sn_moments_merge(a, b);
    }
}

/*
 * Reciprocal standard deviation with variance m2 / (count - correction).
 * Where it does not exist (an empty group, count <= correction, or a constant
 * group with epsilon 0) rstd is 0, so the normalized values are 0 and the
 * outputs are the bias: no 0/0 or 0*Inf NaN. NaN moments stay NaN.
 */
static inline double sn_rstd(double variance_plus_epsilon)
{
    return variance_plus_epsilon == 0.0 ? 0.0 : 1.0 / sqrt(variance_plus_epsilon);
}

static inline double sn_moments_rstd(const sn_moments *m, double epsilon, double correction)
{
    double dof = m->count - correction;
    if (m->count <= 0.0 || dof <= 0.0)
        return 0.0;
    return sn_rstd(m->m2 / dof + epsilon);
}

/*
 * The constants a group is normalized with, from its moments about `shift`:
 * the mean rounded to float (center), the rounding residual mean - center,
 * and rstd = 1 / sqrt(m2 / count + epsilon), 0 where that does not exist
 * (sn_moments_rstd: an empty group, or a constant one with epsilon 0). Normalizing
 * around the float mean, (x - center) - residual, is exact for x near the
 * mean, whereas (x - K) loses u*|K| when the first element K is an outlier.
 * The group_constants kernels compute this for many groups with vector
 * division and square root, the same IEEE operations: the same bits.
 */
static inline void sn_group_constants_of(const sn_moments *m, float shift, double epsilon,
                                         float *center, float *residual, float *rstd)
{
    double mean = 0.0, r = 0.0;
    if (m->count > 0.0) {
        mean = (double)shift + m->mean;
        r = sn_rstd(m->m2 / m->count + epsilon);
    }
    float c = (float)mean;
    *center = c;
    *residual = (float)(mean - (double)c);
    *rstd = (float)r;
}

#endif
