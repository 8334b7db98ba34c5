// The two-pass floor (see bench_common.h): the memory passes of an exact
// normalization with as little arithmetic as they allow.
#include "bench_common.h"

#include <algorithm>
#include <cstdint>
#include <vector>

// On x86-64: the widest vectors the CPU has, picked at load time (the floor
// must not be slower than the library for want of AVX-512), and streaming
// stores.
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SN_FLOOR_STREAMS 1
#define SN_FLOOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SN_FLOOR_CLONES
#endif

namespace snbench {

namespace {

// Parameters of the floor repeat over at least this many elements, so that
// its loop has no scalar tail where the last dim is short (28 in BFSS).
constexpr std::size_t kFloorMinPeriod = 256;
// Calls with less x than this have no floor row (has_floor).
constexpr std::size_t kFloorMinBytes = 1 << 20;

// 16 floats, loaded and stored at any 4-byte boundary (macros: a function
// returning one would have an ABI that depends on the clone).
typedef float Vec16 __attribute__((vector_size(64), aligned(4)));
#define VEC16_AT(p) (*reinterpret_cast<const Vec16 *>(p))
#define VEC16_STORE(p, v) (*reinterpret_cast<Vec16 *>(p) = (v))

// Pass 1: the sum of n floats, four vector accumulators deep.
SN_FLOOR_CLONES double sum_floats(const float *x, std::size_t n)
{
    Vec16 acc[4] = {};
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int u = 0; u < 4; u++)
            acc[u] += VEC16_AT(x + i + 16 * u);
    Vec16 v = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    double total = 0.0;
    for (int j = 0; j < 16; j++)
        total += v[j];
    for (; i < n; i++)
        total += x[i];
    return total;
}

// Pass 2: y = (x - mean) * a[j] + b[j] over n floats, j running over a
// period of the parameters (n and the start are multiples of it).
SN_FLOOR_CLONES void shift_scale(const float *x, float *y, std::size_t n, float mean,
                                 const float *a, const float *b, std::size_t period)
{
    for (std::size_t run = 0; run < n; run += period) {
        std::size_t j = 0;
        for (; j + 16 <= period; j += 16)
            VEC16_STORE(y + run + j, (VEC16_AT(x + run + j) - mean) * VEC16_AT(a + j) + VEC16_AT(b + j));
        for (; j < period; j++)
            y[run + j] = (x[run + j] - mean) * a[j] + b[j];
    }
}

#ifdef SN_FLOOR_STREAMS
// shift_scale with non-temporal stores (64-byte aligned vectors; the rest
// plain), as the library writes outputs larger than the cache.
__attribute__((target("avx512f"))) void shift_scale_streamed(const float *x, float *y, std::size_t n,
                                                             float mean, const float *a, const float *b,
                                                             std::size_t period)
{
    const __m512 m = _mm512_set1_ps(mean);
    for (std::size_t run = 0; run < n; run += period) {
        std::size_t j = 0;
        for (; j + 16 <= period; j += 16) {
            __m512 v = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(x + run + j), m),
                                       _mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j));
            float *at = y + run + j;
            if (reinterpret_cast<std::uintptr_t>(at) % 64 == 0)
                _mm512_stream_ps(at, v);
            else
                _mm512_storeu_ps(at, v);
        }
        for (; j < period; j++)
            y[run + j] = (x[run + j] - mean) * a[j] + b[j];
    }
}
#endif

// Streamed stores are weakly ordered: each thread fences its own at the end.
void fence_streams()
{
#ifdef SN_FLOOR_STREAMS
    _mm_sfence();
#endif
}

using ShiftScale = void (*)(const float *x, float *y, std::size_t n, float mean, const float *a,
                            const float *b, std::size_t period);

ShiftScale pass2_kernel(bool streamed)
{
#ifdef SN_FLOOR_STREAMS
    if (streamed && __builtin_cpu_supports("avx512f"))
        return shift_scale_streamed;
#endif
    return streamed ? nullptr : shift_scale;
}

}  // namespace

bool two_pass_floor_streams() { return pass2_kernel(true) != nullptr; }

bool has_floor(const Dims &dims, int floor_dims)
{
    std::size_t elements = 1;
    for (std::ptrdiff_t n : dims)
        elements *= static_cast<std::size_t>(n);
    return floor_dims > 0 && elements * sizeof(float) >= kFloorMinBytes;
}

void bm_floor(benchmark::State &state, Dims dims, int floor_dims, int threads)
{
    Workspace &ws = workspace(dims);
    std::size_t period = 1, group = 1;
    for (std::size_t d = dims.size(); d-- > 0 && period < kFloorMinPeriod;)
        period *= static_cast<std::size_t>(dims[d]);
    for (std::size_t d = dims.size() - static_cast<std::size_t>(floor_dims); d < dims.size(); d++)
        group *= static_cast<std::size_t>(dims[d]);
    period = std::min(period, group);
    ensure_params(ws, period);
    auto floor = [&](bool streamed) {
        two_pass_floor(ws.x.get(), ws.y.get(), ws.elements, group, ws.scale.get(), ws.bias.get(), period,
                       threads, streamed);
        return true;
    };
    bool streamed = two_pass_floor_streams() &&
                    median_call_seconds([&] { floor(true); }) < median_call_seconds([&] { floor(false); });
    state.SetLabel(streamed ? "streamed stores" : "plain stores");
    timed_loop(state, ws, threads, [&] { return floor(streamed); });
}

void two_pass_floor(const float *x, float *y, std::size_t elements, std::size_t group,
                    const float *a, const float *b, std::size_t period, int threads, bool streamed)
{
    const ShiftScale pass2 = pass2_kernel(streamed);
    const std::size_t groups = elements / group;
    if (groups >= static_cast<std::size_t>(threads)) {
        on_threads(threads, [&](int t) {
            for (std::size_t g = groups * t / threads; g < groups * (t + 1) / threads; g++) {
                const std::size_t at = g * group;
                float mean = static_cast<float>(sum_floats(x + at, group) / group);
                pass2(x + at, y + at, group, mean, a, b, period);
            }
            if (streamed)
                fence_streams();
        });
        return;
    }
    // Fewer groups than threads: each group cut among the threads in whole
    // periods, the sums of its pieces added between the two passes.
    const std::size_t periods = group / period;
    auto piece = [&](int t, std::size_t *begin, std::size_t *count) {
        *begin = periods * t / threads * period;
        *count = periods * (t + 1) / threads * period - *begin;
    };
    std::vector<double> sums(static_cast<std::size_t>(threads));
    std::vector<float> means(groups);
    for (std::size_t g = 0; g < groups; g++) {
        on_threads(threads, [&](int t) {
            std::size_t begin, count;
            piece(t, &begin, &count);
            sums[t] = sum_floats(x + g * group + begin, count);
        });
        double total = 0.0;
        for (double s : sums)
            total += s;
        means[g] = static_cast<float>(total / group);
    }
    on_threads(threads, [&](int t) {
        std::size_t begin, count;
        piece(t, &begin, &count);
        for (std::size_t g = 0; g < groups; g++)
            pass2(x + g * group + begin, y + g * group + begin, count, means[g], a, b, period);
        if (streamed)
            fence_streams();
    });
}

}  // namespace snbench
