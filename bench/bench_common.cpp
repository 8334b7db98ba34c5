// Shared by simdnorm_bench and simdnorm_compare; see bench_common.h.
#include "bench_common.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <utility>

#include <unistd.h>

#ifdef SN_BENCH_OPENMP
#include <omp.h>
#else
#include <thread>
#endif

namespace snbench {

namespace {

// Like the library, the memcpy baseline does not fork for small copies: a
// thread gets at least this many source bytes (the library's threshold is
// 16384 elements per thread, i.e. 64 KiB of x).
constexpr std::size_t kMemcpyMinBytesPerThread = 64 * 1024;

}  // namespace

// ------------------------------------------------------------- buffers

Buffer alloc_floats(std::size_t n)
{
    std::size_t bytes = (n * sizeof(float) + kAlign - 1) / kAlign * kAlign;
    void *p = std::aligned_alloc(kAlign, bytes ? bytes : kAlign);
    if (!p)
        throw std::bad_alloc();
    return Buffer(static_cast<float *>(p));
}

// Fast enough to fill 32 MB in a blink, and the values do not matter to the
// speed.
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

// ------------------------------------------------------ simdnorm calls

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

std::size_t norm_param_count(const NormConfig &c, const Dims &dims)
{
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

sn_status call_norm(const Workspace &ws, const NormConfig &c, float epsilon)
{
    int rank = static_cast<int>(ws.dims.size());
    sn_tensor x = sn_tensor_dense(ws.x.get(), SN_FLOAT32, rank, ws.dims.data());
    sn_tensor y = sn_tensor_dense(ws.y.get(), SN_FLOAT32, rank, ws.dims.data());
    sn_norm_options o = SN_NORM_DEFAULTS;
    o.axes = c.axes;
    o.axes_text = c.axes_text;
    o.layout = c.layout;
    o.param_axes = c.param_axes;
    o.param_text = c.param_text;
    o.epsilon = epsilon;
    o.scale = ws.scale.get();
    o.bias = ws.bias.get();
    return sn_norm(&x, &y, &o);
}

LayerNormPlan::LayerNormPlan(const Workspace &ws, float epsilon)
{
    sn_tensor shape = sn_tensor_dense(nullptr, SN_FLOAT32, static_cast<int>(ws.dims.size()), ws.dims.data());
    sn_norm_options o = SN_NORM_DEFAULTS;
    o.axes = 1u << (ws.dims.size() - 1);
    o.epsilon = epsilon;
    o.scale = ws.scale.get();
    o.bias = ws.bias.get();
    status_ = sn_norm_plan_create(&shape, &shape, &o, &plan_);
    arrays_ = {ws.x.get(), ws.y.get(), ws.scale.get(), ws.bias.get(), nullptr, nullptr, nullptr};
}

sn_batch_norm_options batch_norm_options(const char *layout)
{
    sn_batch_norm_options o = sn_batch_norm_defaults(SN_BATCH_NORM_CURRENT);
    o.layout = layout;
    return o;
}

sn_status reset_batch_norm(Workspace &ws, const sn_batch_norm_options &o)
{
    const char *f = o.layout ? std::strchr(o.layout, 'F') : nullptr;
    std::size_t axis = f ? static_cast<std::size_t>(f - o.layout) : ws.dims.size() - 1;
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
    sn_status status = sn_batch_norm_init(&ws.bn, &o);
    if (status != SN_OK)
        return status;
    fill_uniform(ws.running_mean.get(), features, 0.4f, 0.6f, 5);
    fill_uniform(ws.running_var.get(), features, 1.9f, 2.3f, 6);
    fill_uniform(ws.gamma.get(), features, 0.9f, 1.1f, 7);
    fill_uniform(ws.beta.get(), features, -0.1f, 0.1f, 8);
    return SN_OK;
}

sn_status call_batch_norm(const Workspace &ws, const sn_batch_norm_options &o, int training)
{
    int rank = static_cast<int>(ws.dims.size());
    sn_tensor x = sn_tensor_dense(ws.x.get(), SN_FLOAT32, rank, ws.dims.data());
    sn_tensor y = sn_tensor_dense(ws.y.get(), SN_FLOAT32, rank, ws.dims.data());
    sn_batch_norm_state state = ws.bn;
    return sn_batch_norm(&x, &y, &state, &o, training, nullptr);
}

std::string status_text(sn_status status)
{
    std::string why = sn_status_string(status);
    if (status == SN_ERR_AXES_DESCRIPTION || status == SN_ERR_LAYOUT || status == SN_ERR_PARAM_SHAPE)
        why += std::string(" (") + sn_last_error_detail() + ")";
    return why;
}

// ---------------------------------------------------- memcpy and timing

void on_threads(int threads, const std::function<void(int)> &part)
{
    if (threads <= 1) {
        part(0);
        return;
    }
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

void copy_bytes(void *dst, const void *src, std::size_t bytes, int threads)
{
    std::size_t useful = bytes / kMemcpyMinBytesPerThread;
    if (useful < static_cast<std::size_t>(threads))
        threads = useful < 1 ? 1 : static_cast<int>(useful);
    // Equal chunks, cut at 64-byte boundaries.
    std::size_t chunk = (bytes / threads + kAlign - 1) / kAlign * kAlign;
    on_threads(threads, [=](int t) {
        std::size_t begin = std::min(bytes, chunk * t);
        std::size_t end = std::min(bytes, begin + chunk);
        std::memcpy(static_cast<char *>(dst) + begin, static_cast<const char *>(src) + begin,
                    end - begin);
    });
}

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

// ------------------------------------------------------------ main

namespace {

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

// "1,2,4" -> {1, 2, 4}; empty when the text is not a list of counts from 1 to 1024.
std::vector<int> parse_thread_counts(const std::string &text)
{
    std::vector<int> counts;
    std::size_t at = 0;
    while (at <= text.size()) {
        std::size_t comma = text.find(',', at);
        std::string item = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        char *end = nullptr;
        long value = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || value < 1 || value > 1024)
            return {};
        counts.push_back(static_cast<int>(value));
        if (comma == std::string::npos)
            break;
        at = comma + 1;
    }
    return counts;
}

}  // namespace

int bench_main(int argc, char **argv, RegisterAll register_all)
{
    static char min_time[] = "--benchmark_min_time=0.2";
    static char repetitions[] = "--benchmark_repetitions=3";
    static char aggregates[] = "--benchmark_display_aggregates_only=true";
    std::vector<char *> args = {argv[0], min_time, repetitions, aggregates};
    args.insert(args.end(), argv + 1, argv + argc);
    std::vector<char *> user_args(argv + 1, argv + argc);
    bool user_min_time = !flag_value(user_args, "benchmark_min_time").empty();
    std::string threads_text = flag_value(user_args, "threads");
    std::vector<int> threads = threads_text.empty() ? std::vector<int>{1, 2} : parse_thread_counts(threads_text);
    if (threads.empty()) {
        std::fprintf(stderr, "%s: --threads=%s: expected a list of thread counts such as 1,2,4\n", argv[0],
                     threads_text.c_str());
        return 1;
    }
    args.erase(std::remove_if(args.begin(), args.end(),
                              [](const char *a) { return std::strncmp(a, "--threads=", 10) == 0; }),
               args.end());
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
    register_all(user_min_time, threads);

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

}  // namespace snbench
