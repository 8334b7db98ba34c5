// simdnorm_compare: simdnorm and oneDNN (2.6) side by side on the shapes of
// issue 6, in one Google Benchmark binary. For every case and thread count
// (1, 2) three rows follow each other, on the same x and y buffers (out of
// place, float32):
//   layer_norm/8192x768/threads:1/memcpy     memcpy of the same bytes (x -> y)
//   layer_norm/8192x768/threads:1/simdnorm   simdnorm, automatic ISA
//   layer_norm/8192x768/threads:1/onednn     oneDNN, the primitive of the case
// Each layer row carries a label saying exactly what ran (for oneDNN also its
// implementation, e.g. "jit:avx512_core"). Cases that read x twice where a
// group is larger than the cache, on 1 MB of x or more, have a fourth row:
//   norm_TF/32x200x512/threads:1/floor       the passes' floor (bm_floor)
// the same passes over memory with almost none of the arithmetic.
//
// Counters, default flags and the console output are those of simdnorm_bench
// (bench_common.h): bw = (x read once + y written once) / time, pct_memcpy =
// memcpy time of the same bytes (timed right before the row's loop) / time.
//
// Threads: sn_set_num_threads for simdnorm, omp_set_num_threads for oneDNN
// (its CPU runtime is OpenMP, the same libgomp as the library's) and the
// memcpy's own num_threads clause.
//
// oneDNN primitives are created outside the timed loop; only execute +
// stream.wait is timed. Before timing, each simdnorm and oneDNN row computes
// the case once with both libraries and fails (SkipWithError) unless the
// outputs agree within 1e-4 absolute.
//
// Cases (epsilon 1e-5 for both libraries everywhere)
//   layer_norm          [R,F] over F with scale and shift: sn_layer_norm_f32's
//                       call planned once outside the timed loop, as oneDNN's
//                       primitive is (LayerNormPlan: sn_norm_plan_execute) /
//                       layer_normalization_forward, forward_inference, ab,
//                       use_scale|use_shift
//   batch_norm_{infer,train}_{BTF,BFSS}
//                       sn_batch_norm, preset "current" with epsilon 1e-5,
//                       layout BTF ([32,200,512], feature last) or BFSS
//                       ([32,256,28,28], channels first); infer: training=0,
//                       frozen running statistics; train: training=1, batch
//                       statistics + running update (momentum 0.1) + normalize.
//                       oneDNN batch_normalization_forward on {32,512,200,1}
//                       nhwc (the same bytes as BTF: N=B, C=F, H=T) or on
//                       nchw; infer: forward_inference, use_global_stats|
//                       use_scale|use_shift with simdnorm's running statistics;
//                       train: forward_training, use_scale|use_shift, batch mean
//                       and variance as outputs (oneDNN keeps no running ones)
//   norm_TF             sn_norm BTF axes "TF" params F on [32,200,512] / layer
//                       norm of [32,102400] rows without scale and shift
//   norm_T              sn_norm BTF axes "T" params F on [32,200,512] / none
//   group_norm_32       [2,320,64,64], 32 groups of 10 channels: sn_norm on the
//                       [2,32,10,4096] view, axes {2,3}, params {1,2} (320
//                       channels) / layer norm of [64,40960] rows without
//                       scale and shift
//   instance_norm       sn_norm BFT axes "T" params F on [16,64,4096] / layer
//                       norm of [1024,4096] rows without scale and shift
// Where oneDNN runs without scale and shift (it has no per-channel affine on
// those views), the check applies simdnorm's per-channel scale and bias to
// oneDNN's output; oneDNN's time does not include it (it reads 2 fewer
// parameter arrays, a few KB).
//
// Examples
//   build/bench/simdnorm_compare
//   build/bench/simdnorm_compare --benchmark_filter='^layer_norm/8192x768/'
//   build/bench/simdnorm_compare --benchmark_out=compare.json --benchmark_out_format=json

#include "bench_common.h"

#include <dnnl.hpp>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using namespace snbench;
using tag = dnnl::memory::format_tag;

constexpr float kEpsilon = 1e-5f;
constexpr double kTolerance = 1e-4;
// omp_get_max_threads() at start, restored after each oneDNN row.
int g_omp_threads = 1;

// ---------------------------------------------------------------- cases

enum class Sn { layer_norm, norm, batch_norm };
enum class Dnnl { none, layer_norm, batch_norm };

struct Case {
    const char *id = "";  // first part of the row names
    Dims shape;           // the shape, in the row names
    Dims view;            // the dims simdnorm is called with (same bytes as shape)
    Sn sn = Sn::layer_norm;
    NormConfig norm{};              // Sn::norm
    const char *layout = nullptr;   // Sn::batch_norm
    int training = 0;               // Sn::batch_norm
    const char *sn_label = "";
    Dnnl dnnl = Dnnl::none;
    Dims dnnl_dims;                 // the view oneDNN computes on
    tag dnnl_tag = tag::ab;
    const char *dnnl_tag_name = "ab";
    // oneDNN without scale and shift: for the check, element i gets
    // simdnorm's scale and bias number (i / param_inner) % params.
    bool dnnl_affine = true;
    std::size_t param_inner = 1, params = 0;
    const char *dnnl_label = "";    // what oneDNN runs, or why nothing
    double min_time = 0.0;          // 0: the default (0.2 s)
    // The trailing dims of `view` one group's statistics (or a panel's) span:
    // the case's floor row (bm_floor); 0 where the layer reads x once.
    int floor_dims = 0;
};

Case base(const char *id, const Dims &shape, const Dims &view, Sn sn)
{
    Case c;
    c.id = id;
    c.shape = shape;
    c.view = view;
    c.sn = sn;
    return c;
}

Case layer_norm(std::ptrdiff_t rows, std::ptrdiff_t features)
{
    Case c = base("layer_norm", {rows, features}, {rows, features}, Sn::layer_norm);
    c.sn_label = "sn_layer_norm_f32 planned (sn_norm_plan_execute), scale and bias";
    c.dnnl = Dnnl::layer_norm;
    c.dnnl_dims = c.shape;
    c.dnnl_label = "layer_normalization_forward, forward_inference, use_scale|use_shift";
    c.floor_dims = 1;
    return c;
}

// Calls of several ms: 0.1 s per repetition is plenty (as in simdnorm_bench).
Case batch_norm(const char *id, Dims shape, const char *layout, int training, Dims dnnl_dims, tag t,
                const char *tag_name)
{
    Case c = base(id, shape, shape, Sn::batch_norm);
    c.layout = layout;
    c.training = training;
    c.sn_label = training ? "sn_batch_norm training=1: batch statistics, running update (momentum 0.1), normalize"
                          : "sn_batch_norm training=0: frozen running statistics";
    c.dnnl = Dnnl::batch_norm;
    c.dnnl_dims = dnnl_dims;
    c.dnnl_tag = t;
    c.dnnl_tag_name = tag_name;
    c.dnnl_label = training ? "batch_normalization_forward, forward_training, use_scale|use_shift, "
                              "outputs batch mean and variance (no running statistics)"
                            : "batch_normalization_forward, forward_inference, "
                              "use_global_stats|use_scale|use_shift";
    c.min_time = 0.1;
    c.floor_dims = training ? static_cast<int>(shape.size()) : 0;
    return c;
}

// A generic norm whose oneDNN counterpart is layer norm of dnnl_dims rows,
// without scale and shift (params: simdnorm's scale/bias count).
Case norm(const char *id, Dims shape, Dims view, NormConfig config, const char *sn_label, int floor_dims,
          Dims dnnl_dims, std::size_t param_inner, std::size_t params, const char *dnnl_label)
{
    Case c = base(id, shape, view, Sn::norm);
    c.floor_dims = floor_dims;
    c.norm = config;
    c.sn_label = sn_label;
    c.dnnl_label = dnnl_label;
    if (!dnnl_dims.empty()) {
        c.dnnl = Dnnl::layer_norm;
        c.dnnl_dims = dnnl_dims;
        c.dnnl_affine = false;
        c.param_inner = param_inner;
        c.params = params;
    }
    return c;
}

const std::vector<Case> &cases()
{
    static const std::vector<Case> all = {
        layer_norm(8192, 256),
        layer_norm(8192, 768),
        layer_norm(8192, 1024),
        layer_norm(2048, 4096),
        layer_norm(64, 65536),
        layer_norm(1, 768),
        layer_norm(4, 768),
        // Feature last as nhwc: oneDNN 2.6 runs its JIT batch norm on it,
        // while {6400,512} nc (the same bytes) gets ncsp_bnorm, ~30x slower.
        // Channels first has no JIT path in plain nchw (only the blocked
        // nChw16c, another memory layout): ncsp_bnorm it is.
        batch_norm("batch_norm_infer_BTF", {32, 200, 512}, "BTF", 0, {32, 512, 200, 1}, tag::nhwc, "nhwc"),
        batch_norm("batch_norm_train_BTF", {32, 200, 512}, "BTF", 1, {32, 512, 200, 1}, tag::nhwc, "nhwc"),
        batch_norm("batch_norm_infer_BFSS", {32, 256, 28, 28}, "BFSS", 0, {32, 256, 28, 28}, tag::nchw, "nchw"),
        batch_norm("batch_norm_train_BFSS", {32, 256, 28, 28}, "BFSS", 1, {32, 256, 28, 28}, tag::nchw, "nchw"),
        norm("norm_TF", {32, 200, 512}, {32, 200, 512}, norm_text("BTF", "TF", "F"),
             "sn_norm layout BTF, axes TF, params F", 2, {32, 102400}, 1, 512,
             "layer_normalization_forward, forward_inference, no scale/shift"),
        norm("norm_T", {32, 200, 512}, {32, 200, 512}, norm_text("BTF", "T", "F"),
             "sn_norm layout BTF, axes T, params F", 2, {}, 0, 0,
             "no oneDNN 2.6 primitive: layer_normalization needs the normalized axis last "
             "(here T is the middle one, per (B,F)), batch_normalization also reduces B"),
        norm("group_norm_32", {2, 320, 64, 64}, {2, 32, 10, 4096}, norm_bits(0xCu, 0x6u),
             "sn_norm on the [2,32,10,4096] view, axes {2,3}, params {1,2} (320 channels)", 2, {64, 40960},
             4096, 320, "layer_normalization_forward, forward_inference, no scale/shift"),
        norm("instance_norm", {16, 64, 4096}, {16, 64, 4096}, norm_text("BFT", "T", "F"),
             "sn_norm layout BFT, axes T, params F", 1, {1024, 4096}, 4096, 64,
             "layer_normalization_forward, forward_inference, no scale/shift"),
    };
    return all;
}

// ------------------------------------------------------------ simdnorm

sn_batch_norm_options bn_options(const Case &c)
{
    sn_batch_norm_options o = batch_norm_options(c.layout);
    o.epsilon = kEpsilon;  // the preset's is 1e-3; both libraries use the same
    return o;
}

// The workspace of a case, with its parameters and (batch norm) fresh state.
sn_status prepare(const Case &c, Workspace *&ws)
{
    ws = &workspace(c.view);
    if (c.sn == Sn::batch_norm)
        return reset_batch_norm(*ws, bn_options(c));
    ensure_params(*ws, c.sn == Sn::norm ? norm_param_count(c.norm, c.view)
                                        : static_cast<std::size_t>(c.view.back()));
    return SN_OK;
}

sn_status run_simdnorm(const Case &c, const Workspace &ws)
{
    switch (c.sn) {
    case Sn::layer_norm: {
        std::size_t features = static_cast<std::size_t>(ws.dims.back());
        return sn_layer_norm_f32(ws.x.get(), ws.y.get(), ws.elements / features, features, ws.scale.get(),
                                 ws.bias.get(), kEpsilon);
    }
    case Sn::norm:
        return call_norm(ws, c.norm, kEpsilon);
    case Sn::batch_norm:
        return call_batch_norm(ws, bn_options(c), c.training);
    }
    return SN_ERR_NULL_POINTER;  // not reached
}

// -------------------------------------------------------------- oneDNN

dnnl::engine &engine()
{
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

// A oneDNN primitive bound to a workspace's buffers, created once (under the
// OpenMP thread count already set) and then only executed.
struct OneDnn {
    dnnl::stream stream{engine()};
    dnnl::primitive primitive;
    std::unordered_map<int, dnnl::memory> args;
    Buffer mean, variance;  // batch statistics output by training
    std::string impl;

    void run()
    {
        primitive.execute(stream, args);
        stream.wait();
    }
};

dnnl::memory wrap(const dnnl::memory::desc &md, float *p) { return dnnl::memory(md, engine(), p); }

// Throws dnnl::error if oneDNN rejects the case.
void make_onednn(const Case &c, Workspace &ws, OneDnn &d)
{
    using dnnl::normalization_flags;
    using dt = dnnl::memory::data_type;
    dnnl::memory::dims dims(c.dnnl_dims.begin(), c.dnnl_dims.end());
    dnnl::memory::desc data(dims, dt::f32, c.dnnl_tag);
    dnnl::memory::desc channels({dims[1]}, dt::f32, tag::a);
    d.args = {{DNNL_ARG_SRC, wrap(data, ws.x.get())}, {DNNL_ARG_DST, wrap(data, ws.y.get())}};
    if (c.dnnl == Dnnl::layer_norm) {
        // The normalized axis is the last one: scale and shift are [features].
        dnnl::memory::desc features({dims.back()}, dt::f32, tag::a);
        normalization_flags flags = c.dnnl_affine ? normalization_flags::use_scale | normalization_flags::use_shift
                                                  : normalization_flags::none;
        dnnl::layer_normalization_forward::desc desc(dnnl::prop_kind::forward_inference, data, kEpsilon, flags);
        dnnl::layer_normalization_forward::primitive_desc pd(desc, engine());
        if (c.dnnl_affine) {
            d.args[DNNL_ARG_SCALE] = wrap(features, ws.scale.get());
            d.args[DNNL_ARG_SHIFT] = wrap(features, ws.bias.get());
        }
        // forward_inference computes its statistics internally; give it
        // buffers anyway should this version ask for them.
        if (pd.mean_desc().get_size() != 0) {
            d.mean = alloc_floats(pd.mean_desc().get_size() / sizeof(float));
            d.variance = alloc_floats(pd.variance_desc().get_size() / sizeof(float));
            d.args[DNNL_ARG_MEAN] = wrap(pd.mean_desc(), d.mean.get());
            d.args[DNNL_ARG_VARIANCE] = wrap(pd.variance_desc(), d.variance.get());
        }
        d.impl = pd.impl_info_str();
        d.primitive = dnnl::layer_normalization_forward(pd);
    } else {
        normalization_flags flags = normalization_flags::use_scale | normalization_flags::use_shift;
        if (!c.training)
            flags = flags | normalization_flags::use_global_stats;
        auto prop = c.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
        dnnl::batch_normalization_forward::desc desc(prop, data, kEpsilon, flags);
        dnnl::batch_normalization_forward::primitive_desc pd(desc, engine());
        d.args[DNNL_ARG_SCALE] = wrap(channels, ws.bn.gamma);
        d.args[DNNL_ARG_SHIFT] = wrap(channels, ws.bn.beta);
        if (c.training) {
            // Outputs: kept apart from simdnorm's running statistics.
            d.mean = alloc_floats(static_cast<std::size_t>(dims[1]));
            d.variance = alloc_floats(static_cast<std::size_t>(dims[1]));
            d.args[DNNL_ARG_MEAN] = wrap(channels, d.mean.get());
            d.args[DNNL_ARG_VARIANCE] = wrap(channels, d.variance.get());
        } else {
            // Inputs: the same running statistics simdnorm normalizes with.
            d.args[DNNL_ARG_MEAN] = wrap(channels, ws.bn.running_mean);
            d.args[DNNL_ARG_VARIANCE] = wrap(channels, ws.bn.running_var);
        }
        d.impl = pd.impl_info_str();
        d.primitive = dnnl::batch_normalization_forward(pd);
    }
}

// Both libraries compute the case once; "" if their outputs agree within
// kTolerance, else why not.
std::string check(const Case &c, const Workspace &ws, OneDnn &d)
{
    sn_status status = run_simdnorm(c, ws);
    if (status != SN_OK)
        return "simdnorm: " + status_text(status);
    std::vector<float> ours(ws.y.get(), ws.y.get() + ws.elements);
    d.run();
    const float *theirs = ws.y.get();
    double worst = 0.0;
    std::size_t at = 0;
    for (std::size_t i = 0; i < ws.elements; i++) {
        double expected = theirs[i];
        if (!c.dnnl_affine) {
            std::size_t p = i / c.param_inner % c.params;
            expected = expected * ws.scale[p] + ws.bias[p];
        }
        double diff = std::fabs(ours[i] - expected);
        if (!(diff <= worst)) {  // NaN included
            worst = diff;
            at = i;
            if (std::isnan(diff))
                break;
        }
    }
    if (worst <= kTolerance)
        return "";
    char text[160];
    std::snprintf(text, sizeof text, "simdnorm and oneDNN differ by %.3g at element %zu (tolerance %g)", worst, at,
                  kTolerance);
    return text;
}

// ---------------------------------------------------------- benchmarks

void bm_simdnorm(benchmark::State &state, const Case *c, int threads)
{
    Workspace *ws = nullptr;
    sn_status status = prepare(*c, ws);
    if (status == SN_OK)
        status = sn_set_num_threads(threads);
    if (status != SN_OK) {
        state.SkipWithError(status_text(status).c_str());
        sn_set_num_threads(0);
        return;
    }
    if (c->dnnl != Dnnl::none) {
        std::string why;
        try {
            omp_set_num_threads(threads);
            OneDnn d;
            make_onednn(*c, *ws, d);
            why = check(*c, *ws, d);
        } catch (const dnnl::error &e) {
            why = std::string("oneDNN (for the check): ") + e.what();
        }
        omp_set_num_threads(g_omp_threads);
        if (why.empty() && c->sn == Sn::batch_norm && reset_batch_norm(*ws, bn_options(*c)) != SN_OK)
            why = "sn_batch_norm_init failed";  // (the reset undoes the check's training update)
        if (!why.empty()) {
            state.SkipWithError(why.c_str());
            sn_set_num_threads(0);
            return;
        }
    }
    std::unique_ptr<LayerNormPlan> plan;
    if (c->sn == Sn::layer_norm) {
        plan.reset(new LayerNormPlan(*ws, kEpsilon));
        if (plan->status() != SN_OK) {
            state.SkipWithError(status_text(plan->status()).c_str());
            sn_set_num_threads(0);
            return;
        }
    }
    state.SetLabel(std::string(c->sn_label) + " [" + sn_isa_name(sn_get_isa()) + "]");
    timed_loop(state, *ws, threads, [&] { return (plan ? plan->run() : run_simdnorm(*c, *ws)) == SN_OK; });
    sn_set_num_threads(0);
}

void bm_onednn(benchmark::State &state, const Case *c, int threads)
{
    if (c->dnnl == Dnnl::none) {
        state.SkipWithError(c->dnnl_label);  // "no oneDNN ...": compare_table.py shows "—"
        return;
    }
    Workspace *ws = nullptr;
    sn_status status = prepare(*c, ws);
    if (status == SN_OK)
        status = sn_set_num_threads(threads);  // for the check's simdnorm call
    if (status != SN_OK) {
        state.SkipWithError(status_text(status).c_str());
        sn_set_num_threads(0);
        return;
    }
    omp_set_num_threads(threads);
    try {
        OneDnn d;
        make_onednn(*c, *ws, d);
        std::string why = check(*c, *ws, d);
        if (!why.empty()) {
            state.SkipWithError(why.c_str());
        } else {
            std::string view;
            for (std::ptrdiff_t n : c->dnnl_dims)
                view += (view.empty() ? "[" : ",") + std::to_string(n);
            state.SetLabel(std::string(c->dnnl_label) + ", on " + view + "] " + c->dnnl_tag_name + " [" + d.impl +
                           "]");
            timed_loop(state, *ws, threads, [&] {
                d.run();
                return true;
            });
        }
    } catch (const dnnl::error &e) {
        state.SkipWithError((std::string("oneDNN: ") + e.what()).c_str());
    }
    omp_set_num_threads(g_omp_threads);
    sn_set_num_threads(0);
}

void register_all(bool user_min_time, const std::vector<int> &thread_counts)
{
    g_omp_threads = omp_get_max_threads();
    const dnnl_version_t *v = dnnl_version();
    benchmark::AddCustomContext("onednn",
                                std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
    for (const Case &c : cases())
        for (int threads : thread_counts) {
            std::string head =
                std::string(c.id) + "/" + shape_name(c.shape) + "/threads:" + std::to_string(threads) + "/";
            std::vector<benchmark::internal::Benchmark *> rows = {
                benchmark::RegisterBenchmark((head + "memcpy").c_str(), bm_memcpy, c.view, threads),
                benchmark::RegisterBenchmark((head + "simdnorm").c_str(), bm_simdnorm, &c, threads),
                benchmark::RegisterBenchmark((head + "onednn").c_str(), bm_onednn, &c, threads),
            };
            if (has_floor(c.view, c.floor_dims))
                rows.push_back(benchmark::RegisterBenchmark((head + "floor").c_str(), bm_floor, c.view,
                                                            c.floor_dims, threads));
            for (auto *b : rows) {
                b->UseRealTime()->Unit(benchmark::kMicrosecond);
                if (c.min_time > 0.0 && !user_min_time)
                    b->MinTime(c.min_time);
            }
        }
}

}  // namespace

int main(int argc, char **argv) { return bench_main(argc, argv, register_all); }
