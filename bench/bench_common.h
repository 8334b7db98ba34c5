// What simdnorm_bench and simdnorm_compare share: the data of a shape
// (aligned x, y, scale, bias and batch-norm state), the memcpy baseline and
// its timing, the timed loop with its counters, the calls of sn_norm and
// sn_batch_norm the layers are made of, and main() with its default flags.
//
// Counters (both binaries)
//   bw          (bytes read + bytes written) / wall time, decimal units:
//               x read once and y written once (elements * 4 * 2 bytes); for
//               memcpy the same.
//   pct_memcpy  100 * (memcpy time of the same bytes) / (layer time), the
//               memcpy timed on the same x and y buffers and threads right
//               before each timed loop (median of 5 batches of >= 10 ms).
#ifndef SIMDNORM_BENCH_COMMON_H
#define SIMDNORM_BENCH_COMMON_H

#include <benchmark/benchmark.h>
#include <simdnorm.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace snbench {

using Dims = std::vector<std::ptrdiff_t>;

constexpr std::size_t kAlign = 64;

// ------------------------------------------------------------- buffers

struct FreeDeleter {
    void operator()(float *p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], FreeDeleter>;

// n floats, 64-byte aligned.
Buffer alloc_floats(std::size_t n);

// Uniform floats in [lo, hi) from splitmix64 (no zeros, no denormals).
void fill_uniform(float *p, std::size_t n, float lo, float hi, std::uint64_t seed);

// The data of one shape: distinct x and y (not in place), 64-byte aligned,
// x uniform in [-2, 3), y written once so that its pages exist before any
// timing. Kept for the whole run so that every benchmark of a shape sees the
// same memory.
struct Workspace {
    Dims dims;
    std::size_t elements = 1;
    std::size_t params = 1;  // length of scale and bias (at least the largest dim)
    Buffer x, y, scale, bias;
    // Batch-norm state, [bn.features] each (allocated by reset_batch_norm).
    Buffer running_mean, running_var, gamma, beta;
    sn_batch_norm_state bn{};
};

// The workspace of dims, created on first use.
Workspace &workspace(const Dims &dims);

// Scale and bias of at least n floats; reallocated (outside any timing) when
// a layer needs more than the workspace has.
void ensure_params(Workspace &ws, std::size_t n);

// "8192x768"
std::string shape_name(const Dims &dims);

// Bytes a call moves: the tensor read once and written once.
inline double bytes_moved(const Workspace &ws) { return 2.0 * ws.elements * sizeof(float); }

// ------------------------------------------------------ simdnorm calls

// How sn_norm is called: the reduced axes as a bitmask or a description, the
// layout the description is read against, and the parameter axes as a
// bitmask or a description (scale and bias dense over them in tensor order).
struct NormConfig {
    unsigned axes = 0;
    const char *axes_text = nullptr;
    const char *layout = nullptr;
    unsigned param_axes = SN_AXES_DEFAULT;
    const char *param_text = nullptr;
};

NormConfig norm_text(const char *layout, const char *axes, const char *params);
NormConfig norm_bits(unsigned axes, unsigned params);

// The number of scale (and bias) values sn_norm reads on dims with c: the
// product of the dims of its parameter axes; 0 when the description cannot be
// parsed (the call itself then reports why).
std::size_t norm_param_count(const NormConfig &c, const Dims &dims);

// sn_norm with c on ws.x into ws.y, with ws.scale and ws.bias.
sn_status call_norm(const Workspace &ws, const NormConfig &c, float epsilon);

// Layer norm over the last axis of ws with ws.scale and ws.bias, planned once
// (sn_norm_plan_create) as a model's layer would be: run() executes the plan,
// sn_layer_norm_f32's computation without its per-call checks and planning.
// Make it after the workspace's parameters are in place (ensure_params).
class LayerNormPlan {
public:
    LayerNormPlan(const Workspace &ws, float epsilon);
    ~LayerNormPlan() { sn_norm_plan_destroy(plan_); }
    LayerNormPlan(const LayerNormPlan &) = delete;
    LayerNormPlan &operator=(const LayerNormPlan &) = delete;
    sn_status status() const { return status_; }
    sn_status run() const { return sn_norm_plan_execute(plan_, &arrays_); }

private:
    sn_norm_plan *plan_ = nullptr;
    sn_norm_arrays arrays_{};
    sn_status status_;
};

// sn_batch_norm's preset "current" with this layout.
sn_batch_norm_options batch_norm_options(const char *layout);

// The state of a batch-norm layer on ws, as a training loop would have left
// it: sn_batch_norm_init, then running statistics near those of x (mean 0.5,
// variance 25/12), gamma near 1 and beta near 0.
sn_status reset_batch_norm(Workspace &ws, const sn_batch_norm_options &o);

// sn_batch_norm on ws.x into ws.y with the workspace's state (training calls
// update its running statistics).
sn_status call_batch_norm(const Workspace &ws, const sn_batch_norm_options &o, int training);

// sn_status_string, plus sn_last_error_detail for the statuses that have one.
std::string status_text(sn_status status);

// ---------------------------------------------------- memcpy and timing

// part(0), ..., part(threads - 1), each on a thread of its own (the OpenMP
// pool where the bench has OpenMP, as the library's; std::thread otherwise).
void on_threads(int threads, const std::function<void(int)> &part);

// memcpy of bytes from src to dst on `threads` threads (equal 64-byte-aligned
// chunks; one thread below 64 KiB per thread, like the library).
void copy_bytes(void *dst, const void *src, std::size_t bytes, int threads);

inline double seconds_since(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Median time of one call of f over 5 batches of at least 10 ms each.
template <class F>
double median_call_seconds(F &&f)
{
    f();
    auto t0 = std::chrono::steady_clock::now();
    f();
    double one = std::max(seconds_since(t0), 1e-9);
    long calls = std::max(1L, static_cast<long>(0.01 / one));
    std::vector<double> per_call;
    for (int b = 0; b < 5; b++) {
        t0 = std::chrono::steady_clock::now();
        for (long i = 0; i < calls; i++) {
            f();
            benchmark::ClobberMemory();
        }
        per_call.push_back(seconds_since(t0) / calls);
    }
    std::nth_element(per_call.begin(), per_call.begin() + 2, per_call.end());
    return per_call[2];
}

// The two-pass floor: what an exact normalization's passes over memory cost
// on this machine with almost none of its arithmetic. The elements are cut
// into groups of `group` contiguous floats (the span of one group's
// statistics, or a panel's: a multiple of `period`); each group is read once
// to sum it, then read again and written as y = (x - mean) * a[j] + b[j], j
// running over `period` parameters, with plain or (`streamed`) non-temporal
// stores. Whole groups are shared among the threads as the library shares
// them; fewer groups than threads are each cut among the threads, as the
// library splits a reduction. A group larger than a core's caches is read
// twice from memory, as an exact normalization must read it: all of its
// statistics before any of its output.
void two_pass_floor(const float *x, float *y, std::size_t elements, std::size_t group,
                    const float *a, const float *b, std::size_t period, int threads, bool streamed);

// Whether two_pass_floor can stream here (x86-64 with AVX-512).
bool two_pass_floor_streams();

// Whether a layer on dims has a floor row: it reads x twice where a group
// spans its last floor_dims dims (0: it reads x once), on 1 MB of x or more
// (smaller calls are bound by their fixed costs, not by their passes).
bool has_floor(const Dims &dims, int floor_dims);

// The floor row of a layer on dims: two_pass_floor with groups of the last
// floor_dims dims (a group's statistics span, or a panel's), parameters
// repeating along the last dims (at least 256 elements: no scalar tail), and
// whichever of plain and streamed stores is faster here (timed before the
// loop; the row's label says which). Sets bw and pct_memcpy as a layer row.
void bm_floor(benchmark::State &state, Dims dims, int floor_dims, int threads);

// The memcpy row: x -> y of the workspace of dims, with the bw counter.
void bm_memcpy(benchmark::State &state, Dims dims, int threads);

// The timed part of a layer's row: times the memcpy reference (again before
// each repetition, so that pct_memcpy compares runs made under the same
// load), makes one untimed call, then times call() (which returns false on
// failure) and sets bw and pct_memcpy. Returns false if a call failed (the
// row is then marked with SkipWithError).
template <class Call>
bool timed_loop(benchmark::State &state, const Workspace &ws, int threads, Call &&call)
{
    std::size_t bytes = ws.elements * sizeof(float);
    double memcpy_s = median_call_seconds([&] { copy_bytes(ws.y.get(), ws.x.get(), bytes, threads); });
    call();

    bool ok = true;
    auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        ok &= call();
        benchmark::ClobberMemory();
    }
    double per_call = seconds_since(t0) / static_cast<double>(state.iterations());
    if (!ok)
        state.SkipWithError("a call failed during timing");
    state.counters["bw"] = benchmark::Counter(bytes_moved(ws), benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
    state.counters["pct_memcpy"] = 100.0 * memcpy_s / per_call;
    return ok;
}

// ------------------------------------------------------------ main

// The body of main(): prepends the default flags
//   --benchmark_min_time=0.2 --benchmark_repetitions=3
//   --benchmark_display_aggregates_only=true
// to argv (any flag given on the command line wins), initializes Google
// Benchmark, adds the context lines, calls register_all(user_min_time,
// threads) (user_min_time: --benchmark_min_time was given on the command line;
// threads: the counts of --threads=1,2,4,..., ours, default 1,2), and runs with a
// console reporter that shows only the median of the repetitions and names
// without "/real_time" and "/min_time:..." (JSON and CSV keep everything).
// The thread counts the rows run at: --threads=1,2,4,... (ours, removed from
// argv before Google Benchmark sees it; default 1,2).
using RegisterAll = void (*)(bool user_min_time, const std::vector<int> &threads);
int bench_main(int argc, char **argv, RegisterAll register_all);

}  // namespace snbench

#endif
