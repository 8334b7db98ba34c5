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
//   layer_norm planned the same computation planned once before the timed loop
//                      (sn_norm_plan_create), each call sn_norm_plan_execute
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
// Floors: for every layer that reads its input twice where a group does not
// fit in cache (all but batch-norm inference and the planned rows), on 1 MB
// of x or more, a row
//   floor norm TF/32x200x512/threads:2
// times the same passes over memory with almost none of the arithmetic
// (two_pass_floor, bench_common.h): each group (or panel: the floor of "T"
// on [B,T,F] is that of "TF") read once and summed, then read again and
// written as (x - mean) * a + b, with whichever of plain and streamed stores
// is faster here (its label says which). A layer near its floor is bound by
// its passes over memory on this machine, not by its arithmetic; a floor
// below a target shows the target out of reach of those passes here.
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
// output, e.g. --benchmark_out=FILE, keeps everything). Rows run at 1 and 2
// threads; --threads=1,4,16 (a flag of ours) picks other counts.
//
// Examples
//   build/bench/simdnorm_bench
//   build/bench/simdnorm_bench --benchmark_filter='8192x768/'
//   build/bench/simdnorm_bench --benchmark_filter='(memcpy|avx512)/.*threads:1'
//   build/bench/simdnorm_bench --benchmark_filter='^(norm|group_norm|memcpy/(32x200|16x64|8x512|2x32))'
//   build/bench/simdnorm_bench --benchmark_filter='^(memcpy|(floor )?norm TF(/avx512)?)/32x200x512/'
//   build/bench/simdnorm_bench --benchmark_filter='^(batch_norm|memcpy/(32x200x512|32x256x28x28)/)'
//   build/bench/simdnorm_bench --benchmark_repetitions=9 --benchmark_out=bench.json
//   build/bench/simdnorm_bench --threads=1,2,4,8,16 --benchmark_filter='(memcpy|avx512)/'
//
// Adding a layer: one row of kLayers (a configuration of sn_norm), or one run
// function and a row for anything else.
//
// The buffers, the memcpy baseline, the timed loop with its counters and
// main() are shared with simdnorm_compare (bench_common.h).

#include "bench_common.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace snbench;

constexpr float kEpsilon = 1e-6f;

#if defined(__x86_64__) || defined(_M_X64)
constexpr sn_isa kIsas[] = {SN_ISA_SCALAR, SN_ISA_AVX2, SN_ISA_AVX512};
#elif defined(__aarch64__) || defined(_M_ARM64)
constexpr sn_isa kIsas[] = {SN_ISA_SCALAR, SN_ISA_NEON};
#else
constexpr sn_isa kIsas[] = {SN_ISA_SCALAR};
#endif

// -------------------------------------------------------------- layers

struct Layer;

// A layer's run function computes the layer on ws.x into ws.y (with scale
// and bias when the layer has them) under the ISA and threads already set.
using RunFn = sn_status (*)(const Layer &layer, const Workspace &ws);

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
    // run_layer_norm's call planned once before the loop (LayerNormPlan).
    bool planned = false;
    // The trailing dims one group's (or panel's) statistics span, for the
    // layer's two-pass floor row (has_floor, bm_floor); 0: no floor row.
    int floor_dims = 0;
};

sn_status run_layer_norm(const Layer &, const Workspace &ws)
{
    std::size_t features = static_cast<std::size_t>(ws.dims.back());
    return sn_layer_norm_f32(ws.x.get(), ws.y.get(), ws.elements / features, features,
                             ws.scale.get(), ws.bias.get(), kEpsilon);
}

sn_status run_norm(const Layer &layer, const Workspace &ws) { return call_norm(ws, layer.norm, kEpsilon); }

// The state lives in the workspace (reset before each benchmark); training
// calls update its running statistics.
sn_status run_batch_norm(const Layer &layer, const Workspace &ws)
{
    return call_batch_norm(ws, batch_norm_options(layer.bn.layout), layer.bn.training);
}

// The number of scale (and bias) values a layer reads on dims (the last dim
// for layer_norm, none for batch_norm, whose parameters are its state).
std::size_t param_count(const Layer &layer, const Dims &dims)
{
    if (layer.run == run_batch_norm)
        return 1;
    if (layer.run != run_norm)
        return static_cast<std::size_t>(dims.back());
    return norm_param_count(layer.norm, dims);
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
     {{8192, 256}, {8192, 768}, {8192, 1024}, {2048, 4096}, {64, 65536}, {1, 768}}, {}, {}, 0.0, false, 1},
    // Small calls, whose time is half fixed cost, also as a model calls them.
    {"layer_norm planned", run_layer_norm, {{1, 768}, {4, 768}}, {}, {}, 0.0, true},
    // sn_norm on [B,T,F]: layer norm, group norm with one group, instance norm over T.
    // (A "T" panel is [T,F]: its floor is the TF group's.)
    {"norm F", run_norm, {{32, 200, 512}}, norm_text("BTF", "F", "F"), {}, 0.0, false, 1},
    {"norm TF", run_norm, {{32, 200, 512}}, norm_text("BTF", "TF", "F"), {}, 0.0, false, 2},
    {"norm T", run_norm, {{32, 200, 512}}, norm_text("BTF", "T", "F"), {}, 0.0, false, 2},
    // Instance norm over the last axis of [B,F,T], one group per (B,F).
    {"norm T", run_norm, {{16, 64, 4096}}, norm_text("BFT", "T", "F"), {}, 0.0, false, 1},
    // Channels-first [N,C,L], everything but the batch axis, 512 channels.
    {"norm except_batch", run_norm, {{8, 512, 1024}}, norm_text("BFT", "except_batch", "F"), {}, 0.0, false, 2},
    // Group norm, 32 groups of 10 channels, on [2,320,64,64] seen as
    // [2,32,10,4096]: reduce {2,3}, params over {1,2} (320 channels).
    {"group_norm 32", run_norm, {{2, 32, 10, 4096}}, norm_bits(0xCu, 0x6u), {}, 0.0, false, 2},
    // Batch norm, feature last [B,T,F] and channels first [N,C,H,W]; inference
    // (frozen running statistics) and training (statistics + update + normalize).
    // Calls of several ms: 0.1 s per repetition is plenty, and keeps the
    // default run within 4 minutes.
    {"batch_norm infer BTF", run_batch_norm, {{32, 200, 512}}, {}, batch_norm("BTF", 0), 0.1},
    {"batch_norm train BTF", run_batch_norm, {{32, 200, 512}}, {}, batch_norm("BTF", 1), 0.1, false, 3},
    {"batch_norm infer BFSS", run_batch_norm, {{32, 256, 28, 28}}, {}, batch_norm("BFSS", 0), 0.1},
    {"batch_norm train BFSS", run_batch_norm, {{32, 256, 28, 28}}, {}, batch_norm("BFSS", 1), 0.1, false, 4},
};

// ---------------------------------------------------------- benchmarks

void bm_layer(benchmark::State &state, const Layer *layer, sn_isa isa, Dims dims, int threads)
{
    if (!sn_isa_supported(isa)) {
        state.SkipWithError((std::string(sn_isa_name(isa)) + " is not supported by this CPU or build").c_str());
        return;
    }
    Workspace &ws = workspace(dims);
    ensure_params(ws, param_count(*layer, dims));
    sn_status status =
        layer->run == run_batch_norm ? reset_batch_norm(ws, batch_norm_options(layer->bn.layout)) : SN_OK;
    if (status == SN_OK)
        status = sn_set_isa(isa);
    if (status == SN_OK)
        status = sn_set_num_threads(threads);
    std::unique_ptr<LayerNormPlan> plan;
    if (status == SN_OK && layer->planned) {
        plan.reset(new LayerNormPlan(ws, kEpsilon));
        status = plan->status();
    }
    auto call = [&] { return plan ? plan->run() : layer->run(*layer, ws); };
    if (status == SN_OK)
        status = call();  // warm-up: pages, caches, the OpenMP pool
    if (status != SN_OK) {
        state.SkipWithError(status_text(status).c_str());
        sn_set_isa(SN_ISA_AUTO);
        sn_set_num_threads(0);
        return;
    }
    timed_loop(state, ws, threads, [&] { return call() == SN_OK; });
    sn_set_isa(SN_ISA_AUTO);
    sn_set_num_threads(0);
}

// user_min_time: --benchmark_min_time was given on the command line.
void register_all(bool user_min_time, const std::vector<int> &thread_counts)
{
    std::set<std::pair<Dims, int>> memcpy_done;
    for (const Layer &layer : kLayers)
        for (const Dims &dims : layer.shapes)
            for (int threads : thread_counts) {
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
                if (has_floor(dims, layer.floor_dims))
                    benchmark::RegisterBenchmark(("floor " + std::string(layer.name) + tail).c_str(), bm_floor,
                                                 dims, layer.floor_dims, threads)
                        ->UseRealTime()
                        ->Unit(benchmark::kMicrosecond);
            }
}

}  // namespace

int main(int argc, char **argv) { return bench_main(argc, argv, register_all); }
