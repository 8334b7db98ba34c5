// simdnorm_bench: Google Benchmark harness for simdnorm.
//
// One benchmark per layer, ISA, shape and thread count, named
//   layer_norm/avx512/8192x768/threads:1
//   norm TF/avx2/32x200x512/threads:2
// and next to them, for every shape and thread count, a memcpy of the same
// bytes (x -> y), so that both run in the same binary run:
//   memcpy/8192x768/threads:1
//
// Layers (every one out of place, with scale and bias, epsilon 1e-6)
//   layer_norm         sn_layer_norm_f32 over the last axis of [rows, features]
//   norm F             sn_norm, layout "BTF", axes "F", params over F (layer norm)
//   norm TF            sn_norm, layout "BTF", axes "TF", params over F (group norm,
//                      one group)
//   norm T             sn_norm, axes "T", params over F: layout "BTF" on
//                      32x200x512 (instance norm over time), layout "BFT" on
//                      16x64x4096 (instance norm over the last axis, per (B,F))
//   norm except_batch  sn_norm, layout "BFT", axes "except_batch", params over F
//                      (channels-first [N,C,L], 512 channels)
//   group_norm 32      sn_norm on [2,320,64,64] viewed as [2,32,10,4096]: axes
//                      {2,3} and params over {1,2} (320 channels) as bitmasks
//   batch_norm infer L sn_batch_norm, preset "current" (momentum 0.1, epsilon
//   batch_norm train L 1e-3, delay_sample_update 1, use_sample 0), layout L:
//                      "BTF" on 32x200x512 (feature last, 512 features) and
//                      "BFSS" on 32x256x28x28 (channels first, 256 channels).
//                      infer: training=0, the frozen running statistics, one
//                      pass (y = x * a[f] + b[f]); train: training=1, batch
//                      statistics per feature, running update, normalize.
//                      The state (four [F] arrays) is reset before each
//                      benchmark: sn_batch_norm_init, then running mean and
//                      variance near the data's (0.5, 25/12), gamma near 1,
//                      beta near 0; training calls keep updating it (momentum
//                      keeps it bounded).
//
// Counters
//   bw          (bytes read + bytes written) / wall time, decimal units:
//               "25.1G/s" is 25.1e9 B/s. For a layer: x read once and y
//               written once (elements * 4 * 2 bytes); for memcpy the same.
//   pct_memcpy  100 * (memcpy time of the same bytes) / (layer time), the
//               memcpy timed on the same x and y buffers and threads right
//               before each timed loop (median of 5 batches of >= 10 ms).
//
// Defaults (prepended to argv, so any flag given on the command line wins):
//   --benchmark_min_time=0.2 --benchmark_repetitions=3
//   --benchmark_display_aggregates_only=true
// except that the batch_norm rows, whose calls take milliseconds, default to
// a min_time of 0.1 (a --benchmark_min_time given applies to them too).
// and the console shows only the median of the repetitions (JSON or CSV
// output, e.g. --benchmark_out=FILE, keeps everything).
//
// Examples
//   build/bench/simdnorm_bench
//   build/bench/simdnorm_bench --benchmark_filter='8192x768/'
//   build/bench/simdnorm_bench --benchmark_filter='(memcpy|avx512)/.*threads:1'
//   build/bench/simdnorm_bench --benchmark_filter='^(norm|group_norm|memcpy/(32x200|16x64|8x512|2x32))'
//   build/bench/simdnorm_bench --benchmark_filter='^(batch_norm|memcpy/(32x200x512|32x256x28x28)/)'
//   build/bench/simdnorm_bench --benchmark_repetitions=9 --benchmark_out=bench.json
//
// Adding a layer: one row of kLayers (a configuration of sn_norm), or one run
// function and a row for anything else.

#include <benchmark/benchmark.h>
#include <simdnorm.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#ifdef SN_BENCH_OPENMP
#include <omp.h>
#else
#include <thread>
#endif

namespace {

using Dims = std::vector<std::ptrdiff_t>;

constexpr int kThreadCounts[] = {1, 2};
constexpr float kEpsilon = 1e-6f;
constexpr std::size_t kAlign = 64;
// Like the library, the memcpy baseline does not fork for small copies: a
// thread gets at least this many source bytes (the library's threshold is
// 16384 elements per thread, i.e. 64 KiB of x).
constexpr std::size_t kMemcpyMinBytesPerThread = 64 * 1024;

#if defined(__x86_64__) || defined(_M_X64)
constexpr sn_isa kIsas[] = {SN_ISA_SCALAR, SN_ISA_AVX2, SN_ISA_AVX512};
#elif defined(__aarch64__) || defined(_M_ARM64)
constexpr sn_isa kIsas[] = {SN_ISA_SCALAR, SN_ISA_NEON};
#else
constexpr sn_isa kIsas[] = {SN_ISA_SCALAR};
#endif

// ------------------------------------------------------------- buffers

struct FreeDeleter {
    void operator()(float *p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], FreeDeleter>;

Buffer alloc_floats(std::size_t n)
{
    std::size_t bytes = (n * sizeof(float) + kAlign - 1) / kAlign * kAlign;
    void *p = std::aligned_alloc(kAlign, bytes ? bytes : kAlign);
    if (!p)
        throw std::bad_alloc();
    return Buffer(static_cast<float *>(p));
}

// Uniform floats in [lo, hi) from splitmix64: fast enough to fill 32 MB in a
// blink, and the values do not matter to the speed (no zeros, no denormals).
void fill_uniform(float *p, std::size_t n, float lo, float hi, std::uint64_t seed)
{
    std::uint64_t s = seed;
    for (std::size_t i = 0; i < n; i++) {
        std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        p[i] = lo + (hi - lo) * static_cast<float>((z >> 40) * 0x1.0p-24);
    }
}

// The data of one shape: distinct x and y (not in place), 64-byte aligned,
// x random, y written once so that its pages exist before any timing. Kept
// for the whole run so that every benchmark of a shape sees the same memory.
struct Workspace {
    Dims dims;
    std::size_t elements = 1;
    std::size_t params = 1;  // length of scale and bias (at least the largest dim)
    Buffer x, y, scale, bias;
    // Batch-norm state, [bn.features] each (allocated by reset_batch_norm).
    Buffer running_mean, running_var, gamma, beta;
    sn_batch_norm_state bn{};
};

// Scale and bias of at least n floats; reallocated (outside any timing) when
// a layer needs more than the workspace has.
void ensure_params(Workspace &ws, std::size_t n)
{
    if (n <= ws.params)
        return;
    ws.params = n;
    ws.scale = alloc_floats(n);
    ws.bias = alloc_floats(n);
    fill_uniform(ws.scale.get(), n, 0.5f, 1.5f, 3);
    fill_uniform(ws.bias.get(), n, -0.5f, 0.5f, 4);
}

Workspace &workspace(const Dims &dims)
{
    static std::map<Dims, std::unique_ptr<Workspace>> cache;
    auto it = cache.find(dims);
    if (it != cache.end())
        return *it->second;
    auto ws = std::make_unique<Workspace>();
    ws->dims = dims;
    for (std::ptrdiff_t d : dims) {
        ws->elements *= static_cast<std::size_t>(d);
        ws->params = std::max(ws->params, static_cast<std::size_t>(d));
    }
    ws->x = alloc_floats(ws->elements);
    ws->y = alloc_floats(ws->elements);
    ws->scale = alloc_floats(ws->params);
    ws->bias = alloc_floats(ws->params);
    fill_uniform(ws->x.get(), ws->elements, -2.0f, 3.0f, 1);
    fill_uniform(ws->y.get(), ws->elements, -1.0f, 1.0f, 2);
    fill_uniform(ws->scale.get(), ws->params, 0.5f, 1.5f, 3);
    fill_uniform(ws->bias.get(), ws->params, -0.5f, 0.5f, 4);
    return *cache.emplace(dims, std::move(ws)).first->second;
}

std::string shape_name(const Dims &dims)
{
    std::string s;
    for (std::size_t i = 0; i < dims.size(); i++)
        s += (i ? "x" : "") + std::to_string(dims[i]);
    return s;
}

// Bytes a call moves: the tensor read once and written once.
double bytes_moved(const Workspace &ws) { return 2.0 * ws.elements * sizeof(float); }

// -------------------------------------------------------------- layers

struct Layer;

// A layer's run function computes the layer on ws.x into ws.y (with scale
// and bias when the layer has them) under the ISA and threads already set.
using RunFn = sn_status (*)(const Layer &layer, const Workspace &ws);

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

// How sn_batch_norm is called: the preset "current" with this layout (the
// feature axis is where 'F' is) and training flag.
struct BatchNormConfig {
    const char *layout = nullptr;
    int training = 0;
};

struct Layer {
    const char *name;
    RunFn run;
    std::vector<Dims> shapes;
    NormConfig norm;       // for run_norm
    BatchNormConfig bn{};  // for run_batch_norm
    // The row's own --benchmark_min_time default (0: the global 0.2 s); a
    // --benchmark_min_time on the command line applies to every row.
    double min_time = 0.0;
};

sn_status run_layer_norm(const Layer &, const Workspace &ws)
{
    std::size_t features = static_cast<std::size_t>(ws.dims.back());
    return sn_layer_norm_f32(ws.x.get(), ws.y.get(), ws.elements / features, features,
                             ws.scale.get(), ws.bias.get(), kEpsilon);
}

sn_status run_norm(const Layer &layer, const Workspace &ws)
{
    int rank = static_cast<int>(ws.dims.size());
    sn_tensor x = sn_tensor_dense(ws.x.get(), SN_FLOAT32, rank, ws.dims.data());
    sn_tensor y = sn_tensor_dense(ws.y.get(), SN_FLOAT32, rank, ws.dims.data());
    sn_norm_options o = SN_NORM_DEFAULTS;
    o.axes = layer.norm.axes;
    o.axes_text = layer.norm.axes_text;
    o.layout = layer.norm.layout;
    o.param_axes = layer.norm.param_axes;
    o.param_text = layer.norm.param_text;
    o.epsilon = kEpsilon;
    o.scale = ws.scale.get();
    o.bias = ws.bias.get();
    return sn_norm(&x, &y, &o);
}

sn_batch_norm_options batch_norm_options(const Layer &layer)
{
    sn_batch_norm_options o = sn_batch_norm_defaults(SN_BATCH_NORM_CURRENT);
    o.layout = layer.bn.layout;
    return o;
}

// The state lives in the workspace (reset before each benchmark); training
// calls update its running statistics.
sn_status run_batch_norm(const Layer &layer, const Workspace &ws)
{
    int rank = static_cast<int>(ws.dims.size());
    sn_tensor x = sn_tensor_dense(ws.x.get(), SN_FLOAT32, rank, ws.dims.data());
    sn_tensor y = sn_tensor_dense(ws.y.get(), SN_FLOAT32, rank, ws.dims.data());
    sn_batch_norm_options o = batch_norm_options(layer);
    sn_batch_norm_state state = ws.bn;
    return sn_batch_norm(&x, &y, &state, &o, layer.bn.training, nullptr);
}

// The state of a batch-norm layer on ws, as a training loop would have left
// it: sn_batch_norm_init, then running statistics near those of x (uniform
// in [-2, 3): mean 0.5, variance 25/12), gamma near 1 and beta near 0.
sn_status reset_batch_norm(const Layer &layer, Workspace &ws)
{
    const char *f = layer.bn.layout ? std::strchr(layer.bn.layout, 'F') : nullptr;
    std::size_t axis = f ? static_cast<std::size_t>(f - layer.bn.layout) : ws.dims.size() - 1;
    if (axis >= ws.dims.size())
        axis = ws.dims.size() - 1;  // a bad layout: the call reports it
    std::size_t features = static_cast<std::size_t>(ws.dims[axis]);
    if (static_cast<std::size_t>(ws.bn.features) != features) {
        ws.running_mean = alloc_floats(features);
        ws.running_var = alloc_floats(features);
        ws.gamma = alloc_floats(features);
        ws.beta = alloc_floats(features);
        ws.bn = {static_cast<std::ptrdiff_t>(features), ws.running_mean.get(), ws.running_var.get(),
                 ws.gamma.get(), ws.beta.get()};
    }
    sn_batch_norm_options o = batch_norm_options(layer);
    sn_status status = sn_batch_norm_init(&ws.bn, &o);
    if (status != SN_OK)
        return status;
    fill_uniform(ws.running_mean.get(), features, 0.4f, 0.6f, 5);
    fill_uniform(ws.running_var.get(), features, 1.9f, 2.3f, 6);
    fill_uniform(ws.gamma.get(), features, 0.9f, 1.1f, 7);
    fill_uniform(ws.beta.get(), features, -0.1f, 0.1f, 8);
    return SN_OK;
}

// The number of scale (and bias) values a layer reads on dims: the product of
// the dims of its parameter axes (the last dim for layer_norm, none for
// batch_norm, whose parameters are its state); 0 when the description cannot
// be parsed (the call itself then reports why).
std::size_t param_count(const Layer &layer, const Dims &dims)
{
    if (layer.run == run_batch_norm)
        return 1;
    if (layer.run != run_norm)
        return static_cast<std::size_t>(dims.back());
    const NormConfig &c = layer.norm;
    unsigned mask = c.param_axes;
    if (c.param_text) {
        if (sn_axes_parse(c.param_text, c.layout, dims.data(), &mask) != SN_OK)
            return 0;
    } else if (mask == SN_AXES_DEFAULT) {
        const char *f = c.layout ? std::strchr(c.layout, 'F') : nullptr;
        mask = 1u << (f ? f - c.layout : static_cast<std::ptrdiff_t>(dims.size()) - 1);
    }
    std::size_t n = 1;
    for (std::size_t i = 0; i < dims.size(); i++)
        if (mask >> i & 1u)
            n *= static_cast<std::size_t>(dims[i]);
    return n;
}

NormConfig norm_text(const char *layout, const char *axes, const char *params)
{
    NormConfig c;
    c.layout = layout;
    c.axes_text = axes;
    c.param_text = params;
    return c;
}

NormConfig norm_bits(unsigned axes, unsigned params)
{
    NormConfig c;
    c.axes = axes;
    c.param_axes = params;
    return c;
}

BatchNormConfig batch_norm(const char *layout, int training)
{
    BatchNormConfig c;
    c.layout = layout;
    c.training = training;
    return c;
}

// One row per layer (configuration), with its shapes.
const Layer kLayers[] = {
    // Over the last axis, with scale and bias.
    {"layer_norm", run_layer_norm,
     {{8192, 256}, {8192, 768}, {8192, 1024}, {2048, 4096}, {64, 65536}, {1, 768}}, {}},
    // sn_norm on [B,T,F]: layer norm, group norm with one group, instance norm over T.
    {"norm F", run_norm, {{32, 200, 512}}, norm_text("BTF", "F", "F")},
    {"norm TF", run_norm, {{32, 200, 512}}, norm_text("BTF", "TF", "F")},
    {"norm T", run_norm, {{32, 200, 512}}, norm_text("BTF", "T", "F")},
    // Instance norm over the last axis of [B,F,T], one group per (B,F).
    {"norm T", run_norm, {{16, 64, 4096}}, norm_text("BFT", "T", "F")},
    // Channels-first [N,C,L], everything but the batch axis, 512 channels.
    {"norm except_batch", run_norm, {{8, 512, 1024}}, norm_text("BFT", "except_batch", "F")},
    // Group norm, 32 groups of 10 channels, on [2,320,64,64] seen as
    // [2,32,10,4096]: reduce {2,3}, params over {1,2} (320 channels).
    {"group_norm 32", run_norm, {{2, 32, 10, 4096}}, norm_bits(0xCu, 0x6u)},
    // Batch norm, feature last [B,T,F] and channels first [N,C,H,W]; inference
    // (frozen running statistics) and training (statistics + update + normalize).
    // Calls of several ms: 0.1 s per repetition is plenty, and keeps the
    // default run within 4 minutes.
    {"batch_norm infer BTF", run_batch_norm, {{32, 200, 512}}, {}, batch_norm("BTF", 0), 0.1},
    {"batch_norm train BTF", run_batch_norm, {{32, 200, 512}}, {}, batch_norm("BTF", 1), 0.1},
    {"batch_norm infer BFSS", run_batch_norm, {{32, 256, 28, 28}}, {}, batch_norm("BFSS", 0), 0.1},
    {"batch_norm train BFSS", run_batch_norm, {{32, 256, 28, 28}}, {}, batch_norm("BFSS", 1), 0.1},
};

// ------------------------------------------------------------- memcpy

void copy_bytes(void *dst, const void *src, std::size_t bytes, int threads)
{
    std::size_t useful = bytes / kMemcpyMinBytesPerThread;
    if (useful < static_cast<std::size_t>(threads))
        threads = useful < 1 ? 1 : static_cast<int>(useful);
    if (threads <= 1) {
        std::memcpy(dst, src, bytes);
        return;
    }
    // Equal chunks, cut at 64-byte boundaries.
    std::size_t chunk = (bytes / threads + kAlign - 1) / kAlign * kAlign;
    auto part = [=](int t) {
        std::size_t begin = std::min(bytes, chunk * t);
        std::size_t end = std::min(bytes, begin + chunk);
        std::memcpy(static_cast<char *>(dst) + begin, static_cast<const char *>(src) + begin,
                    end - begin);
    };
#ifdef SN_BENCH_OPENMP
#pragma omp parallel num_threads(threads)
    part(omp_get_thread_num());
#else
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; t++)
        pool.emplace_back(part, t);
    part(0);
    for (auto &th : pool)
        th.join();
#endif
}

double seconds_since(std::chrono::steady_clock::time_point t0)
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

// ---------------------------------------------------------- benchmarks

void bm_memcpy(benchmark::State &state, Dims dims, int threads)
{
    Workspace &ws = workspace(dims);
    std::size_t bytes = ws.elements * sizeof(float);
    copy_bytes(ws.y.get(), ws.x.get(), bytes, threads);
    for (auto _ : state) {
        copy_bytes(ws.y.get(), ws.x.get(), bytes, threads);
        benchmark::ClobberMemory();
    }
    state.counters["bw"] = benchmark::Counter(bytes_moved(ws), benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}

void bm_layer(benchmark::State &state, const Layer *layer, sn_isa isa, Dims dims, int threads)
{
    if (!sn_isa_supported(isa)) {
        state.SkipWithError((std::string(sn_isa_name(isa)) + " is not supported by this CPU or build").c_str());
        return;
    }
    Workspace &ws = workspace(dims);
    ensure_params(ws, param_count(*layer, dims));
    sn_status status = layer->run == run_batch_norm ? reset_batch_norm(*layer, ws) : SN_OK;
    if (status == SN_OK)
        status = sn_set_isa(isa);
    if (status == SN_OK)
        status = sn_set_num_threads(threads);
    if (status == SN_OK)
        status = layer->run(*layer, ws);  // warm-up: pages, caches, the OpenMP pool
    if (status != SN_OK) {
        std::string why = sn_status_string(status);
        if (status == SN_ERR_AXES_DESCRIPTION || status == SN_ERR_LAYOUT || status == SN_ERR_PARAM_SHAPE)
            why += std::string(" (") + sn_last_error_detail() + ")";
        state.SkipWithError(why.c_str());
        sn_set_isa(SN_ISA_AUTO);
        sn_set_num_threads(0);
        return;
    }
    // The memcpy reference is timed again right before each timed loop (each
    // repetition), so that pct_memcpy compares runs made under the same load.
    std::size_t bytes = ws.elements * sizeof(float);
    double memcpy_s = median_call_seconds([&] { copy_bytes(ws.y.get(), ws.x.get(), bytes, threads); });
    layer->run(*layer, ws);

    int failed = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        failed |= layer->run(*layer, ws) != SN_OK;
        benchmark::ClobberMemory();
    }
    double per_call = seconds_since(t0) / static_cast<double>(state.iterations());
    if (failed)
        state.SkipWithError("a call failed during timing");

    state.counters["bw"] = benchmark::Counter(bytes_moved(ws), benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
    state.counters["pct_memcpy"] = 100.0 * memcpy_s / per_call;
    sn_set_isa(SN_ISA_AUTO);
    sn_set_num_threads(0);
}

// user_min_time: --benchmark_min_time was given on the command line.
void register_all(bool user_min_time)
{
    std::set<std::pair<Dims, int>> memcpy_done;
    for (const Layer &layer : kLayers)
        for (const Dims &dims : layer.shapes)
            for (int threads : kThreadCounts) {
                std::string tail = "/" + shape_name(dims) + "/threads:" + std::to_string(threads);
                if (memcpy_done.insert({dims, threads}).second)
                    benchmark::RegisterBenchmark(("memcpy" + tail).c_str(), bm_memcpy, dims, threads)
                        ->UseRealTime()
                        ->Unit(benchmark::kMicrosecond);
                for (sn_isa isa : kIsas) {
                    auto *b = benchmark::RegisterBenchmark(
                        (std::string(layer.name) + "/" + sn_isa_name(isa) + tail).c_str(), bm_layer,
                        &layer, isa, dims, threads);
                    b->UseRealTime()->Unit(benchmark::kMicrosecond);
                    if (layer.min_time > 0.0 && !user_min_time)
                        b->MinTime(layer.min_time);
                }
            }
}

// The console reporter, showing of the aggregates only the median, and the
// names without the "/real_time" that UseRealTime() appends (every benchmark
// here is timed by the wall clock) nor the "/min_time:0.100" of the rows with
// their own min_time; JSON and CSV output keep the full names.
class MedianConsoleReporter : public benchmark::ConsoleReporter {
  public:
    using benchmark::ConsoleReporter::ConsoleReporter;
    void ReportRuns(const std::vector<Run> &runs) override
    {
        std::vector<Run> shown;
        for (const Run &r : runs)
            if (r.run_type != Run::RT_Aggregate || r.aggregate_name == "median") {
                shown.push_back(r);
                if (shown.back().run_name.time_type == "real_time")
                    shown.back().run_name.time_type.clear();
                shown.back().run_name.min_time.clear();
            }
        if (!shown.empty())
            benchmark::ConsoleReporter::ReportRuns(shown);
    }
};

// The value of the last --name=value among args, or "" if absent.
std::string flag_value(const std::vector<char *> &args, const std::string &name)
{
    std::string value, prefix = "--" + name + "=";
    for (const char *a : args)
        if (std::strncmp(a, prefix.c_str(), prefix.size()) == 0)
            value = a + prefix.size();
    return value;
}

bool is_true(const std::string &v) { return v == "true" || v == "yes" || v == "1"; }

}  // namespace

int main(int argc, char **argv)
{
    static char min_time[] = "--benchmark_min_time=0.2";
    static char repetitions[] = "--benchmark_repetitions=3";
    static char aggregates[] = "--benchmark_display_aggregates_only=true";
    std::vector<char *> args = {argv[0], min_time, repetitions, aggregates};
    args.insert(args.end(), argv + 1, argv + argc);
    std::vector<char *> user_args(argv + 1, argv + argc);
    bool user_min_time = !flag_value(user_args, "benchmark_min_time").empty();
    // Initialize() removes the flags it knows, so read these first.
    std::string format = flag_value(args, "benchmark_format");
    std::string color = flag_value(args, "benchmark_color");
    bool tabular = is_true(flag_value(args, "benchmark_counters_tabular"));
    args.push_back(nullptr);
    int n = static_cast<int>(args.size()) - 1;
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data()))
        return 1;

    benchmark::AddCustomContext("simdnorm", sn_version_string());
    benchmark::AddCustomContext("simdnorm_default_isa", sn_isa_name(sn_get_isa()));
    benchmark::AddCustomContext("simdnorm_default_threads", std::to_string(sn_get_num_threads()));
    benchmark::AddCustomContext("bw", "(bytes read + bytes written) / wall time, 1G = 1e9");
    benchmark::AddCustomContext("pct_memcpy", "100 * memcpy time of the same bytes / layer time");
    register_all(user_min_time);

    if (format.empty() || format == "console") {
        bool use_color = color.empty() || color == "auto" ? isatty(STDOUT_FILENO) != 0 : is_true(color);
        int options = (use_color ? benchmark::ConsoleReporter::OO_Color : 0) |
                      (tabular ? benchmark::ConsoleReporter::OO_Tabular : 0);
        MedianConsoleReporter reporter(static_cast<benchmark::ConsoleReporter::OutputOptions>(options));
        benchmark::RunSpecifiedBenchmarks(&reporter);
    } else {
        benchmark::RunSpecifiedBenchmarks();
    }
    benchmark::Shutdown();
    return 0;
}
