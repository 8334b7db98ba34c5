#!/usr/bin/env python3
"""simdnorm and PyTorch side by side on the same float32 arrays.

For each layer (layer_norm, batch_norm in inference and training, group_norm
with one group and with 32 groups, instance_norm) and each thread count, prints
the time per call, the effective bandwidth (the array read once and the output
written once, 2 x 4 bytes per element, over the time) and the largest error of
each library's output against a float64 computation on the same inputs.

simdnorm writes into a preallocated output (out=); PyTorch's functional ops
allocate theirs (they have no out= argument), which is part of its time.

With --shapes issue6 it times PyTorch alone on the cases of issue 6, the ones
bench/simdnorm_compare runs through simdnorm and oneDNN (same ids, shapes and
modes, same bytes definition), checks each output against float64 once, and
with --json FILE writes the figures for bench/compare_table.py
(scripts/compare.sh runs all of it).

Usage: /usr/bin/python3 examples/compare_torch.py [--threads 1,2] [--quick]
       /usr/bin/python3 examples/compare_torch.py --shapes issue6 [--json FILE]
       (the package is found in ../python, the library in ../build or through
        SIMDNORM_LIBRARY)
"""
import argparse
import json
import platform
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "python"))
import simdnorm  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    sys.exit("compare_torch.py needs PyTorch (Debian: apt-get install python3-torch)")

EPS = 1e-5


# ------------------------------------------------------------ float64 references

def ref_norm(x, axes, scale=None, bias=None, param_axes=(), eps=EPS):
    x = x.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + np.float64(np.float32(eps)))
    view = [x.shape[i] if i in param_axes else 1 for i in range(x.ndim)]
    if scale is not None:
        y *= scale.astype(np.float64).reshape(view)
    if bias is not None:
        y += bias.astype(np.float64).reshape(view)
    return y


def max_error(y, ref):
    y = np.asarray(y, np.float64).reshape(ref.shape)
    return float(np.max(np.abs(y - ref))) if y.size else 0.0


# ------------------------------------------------------------ timing

def seconds_per_call(fn, min_time):
    """Median over 5 batches of the time per call (after one warm-up call)."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    reps = max(1, int(min_time / 5 / once))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - start) / reps)
    return float(np.median(times))


# ------------------------------------------------------------ cases

def rand(rng, shape, loc=0.0):
    return (rng.standard_normal(shape, dtype=np.float32) + np.float32(loc))


def layer_norm_case(shape):
    def make(rng):
        x = rand(rng, shape, 1.0)
        f = shape[-1]
        w, b = rand(rng, f), rand(rng, f)
        out = np.empty_like(x)
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        return dict(
            x=x,
            sn=lambda: simdnorm.layer_norm(x, w, b, epsilon=EPS, out=out),
            torch=lambda: F.layer_norm(tx, (f,), tw, tb, EPS),
            ref=lambda: ref_norm(x, (x.ndim - 1,), w, b, (x.ndim - 1,)))
    return ("layer_norm", shape, "", make)


def batch_norm_case(shape, feature_axis, training):
    """Feature-last [B, T, F] runs in PyTorch as [B*T, F] (its channels-last
    form for 1-d features); channels-first as given."""
    def make(rng):
        x = rand(rng, shape, 0.5)
        f = shape[feature_axis]
        bn = simdnorm.BatchNorm(f, momentum=0.1, epsilon=EPS, correction=1)
        bn.gamma, bn.beta = rand(rng, f), rand(rng, f)
        bn.running_mean, bn.running_var = rand(rng, f) * 0.1, np.full(f, 1.5, np.float32)
        rm, rv = torch.from_numpy(bn.running_mean.copy()), torch.from_numpy(bn.running_var.copy())
        tw, tb = torch.from_numpy(bn.gamma.copy()), torch.from_numpy(bn.beta.copy())
        tx = torch.from_numpy(x.reshape(-1, f) if feature_axis in (-1, x.ndim - 1) else x)
        out = np.empty_like(x)
        axes = tuple(i for i in range(x.ndim) if i != feature_axis % x.ndim)
        gamma, beta = bn.gamma.copy(), bn.beta.copy()
        if training:
            ref = lambda: ref_norm(x, axes, gamma, beta, (feature_axis % x.ndim,))
        else:
            mean, var = bn.running_mean.copy(), bn.running_var.copy()

            def ref():
                view = [-1 if i == feature_axis % x.ndim else 1 for i in range(x.ndim)]
                return ((x.astype(np.float64) - mean.reshape(view)) /
                        np.sqrt(var.astype(np.float64).reshape(view) + np.float32(EPS)) *
                        gamma.reshape(view) + beta.reshape(view))
        return dict(
            x=x,
            sn=lambda: bn(x, training, feature_axis=feature_axis, out=out),
            torch=lambda: F.batch_norm(tx, rm, rv, tw, tb, training, 0.1, EPS),
            ref=ref, reshape=x.shape)
    mode = "training" if training else "inference"
    layout = "feature-last" if feature_axis == -1 else "channels-first"
    return ("batch_norm", shape, "%s %s" % (mode, layout), make)


def group_norm_case(shape, groups):
    """[N, C, *] normalized per sample over (C/groups channels, *); scale and
    bias per channel. simdnorm: axes over [N, G, C/G, prod(*)] of a reshaped view."""
    def make(rng):
        x = rand(rng, shape, -1.0)
        n, c = shape[0], shape[1]
        rest = int(np.prod(shape[2:]))
        w, b = rand(rng, c), rand(rng, c)
        out = np.empty_like(x)
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        if groups == 1:
            axes = tuple(range(1, x.ndim))
            sn = lambda: simdnorm.norm(x, axes, param_shape=1, scale=w, bias=b, epsilon=EPS,
                                       out=out)
        else:
            xg = x.reshape(n, groups, c // groups, rest)
            og = out.reshape(xg.shape)
            sn = lambda: simdnorm.norm(xg, (2, 3), param_shape=(1, 2), scale=w, bias=b,
                                       epsilon=EPS, out=og)
        xg64 = x.reshape(n, groups, c // groups, rest)

        def ref():
            y = ref_norm(xg64, (2, 3)).reshape(n, c, rest)
            return (y * w.reshape(1, c, 1) + b.reshape(1, c, 1)).reshape(shape)
        return dict(x=x, sn=sn, torch=lambda: F.group_norm(tx, groups, tw, tb, EPS), ref=ref)
    return ("group_norm", shape, "%d group%s" % (groups, "s" if groups > 1 else ""), make)


def instance_norm_case(shape):
    def make(rng):
        x = rand(rng, shape, 2.0)
        c = shape[1]
        w, b = rand(rng, c), rand(rng, c)
        out = np.empty_like(x)
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        axes = tuple(range(2, x.ndim))
        return dict(
            x=x,
            sn=lambda: simdnorm.norm(x, axes, param_shape=1, scale=w, bias=b, epsilon=EPS,
                                     out=out),
            torch=lambda: F.instance_norm(tx, weight=tw, bias=tb, eps=EPS),
            ref=lambda: ref_norm(x, axes, w, b, (1,)))
    return ("instance_norm", shape, "", make)


def cases(quick):
    ln = [(8192, 256), (8192, 768), (8192, 1024), (2048, 4096), (64, 65536), (1, 768), (4, 768)]
    if quick:
        ln = [(8192, 768), (64, 65536), (4, 768)]
    out = [layer_norm_case(s) for s in ln]
    for training in (False, True):
        out.append(batch_norm_case((32, 200, 512), -1, training))
        out.append(batch_norm_case((32, 256, 28, 28), 1, training))
    out.append(group_norm_case((32, 200, 512), 1))
    out.append(group_norm_case((2, 320, 64, 64), 32))
    out.append(instance_norm_case((16, 64, 4096)))
    return out


# ------------------------------------------------------------ issue 6

def norm_tf_case(shape):
    """[B, T, F] normalized per sample over (T, F), scale and bias over F
    (sn_norm BTF axes "TF"): F.layer_norm over the last two axes, with the [F]
    parameters expanded to [T, F] once, outside the timing (they are static)."""
    def make(rng):
        x = rand(rng, shape, 1.0)
        t, f = shape[1], shape[2]
        w, b = rand(rng, f), rand(rng, f)
        tx = torch.from_numpy(x)
        tw = torch.from_numpy(w).expand(t, f).contiguous()
        tb = torch.from_numpy(b).expand(t, f).contiguous()
        return dict(x=x, torch=lambda: F.layer_norm(tx, (t, f), tw, tb, EPS),
                    ref=lambda: ref_norm(x, (1, 2), w, b, (2,)),
                    op="F.layer_norm(x, (T, F), w, b) with w, b = [F] expanded to [T, F] beforehand")
    return make


def norm_t_case(shape):
    """[B, T, F] normalized per (B, F) over T, scale and bias over F (sn_norm
    BTF axes "T"): F.instance_norm on the [B, F, T] transposed view, which
    PyTorch copies to contiguous first; its output is [B, F, T] contiguous."""
    def make(rng):
        x = rand(rng, shape, 2.0)
        f = shape[2]
        w, b = rand(rng, f), rand(rng, f)
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        run = lambda: F.instance_norm(tx.transpose(1, 2), weight=tw, bias=tb, eps=EPS)
        return dict(x=x, torch=run, check=lambda: run().transpose(1, 2),
                    ref=lambda: ref_norm(x, (1,), w, b, (2,)),
                    op="F.instance_norm(x.transpose(1, 2), w, b): input copied to [B, F, T], "
                       "output [B, F, T]")
    return make


def issue6_cases(quick):
    """(id, shape, make) of bench/simdnorm_compare's cases; make(rng) -> dict
    with x, torch (the timed call), ref (float64), op (what is timed)."""
    out = []
    ln = [(8192, 256), (8192, 768), (8192, 1024), (2048, 4096), (64, 65536), (1, 768), (4, 768)]
    if quick:
        ln = [(8192, 768), (4, 768)]
    for s in ln:
        out.append(("layer_norm", s, layer_norm_case(s)[3],
                    "F.layer_norm(x, (F,), w, b)"))
    for shape, axis, layout, how in (((32, 200, 512), -1, "BTF", "x.view(6400, 512)"),
                                     ((32, 256, 28, 28), 1, "BFSS", "x (NCHW)")):
        for training in (False, True):
            out.append(("batch_norm_%s_%s" % ("train" if training else "infer", layout), shape,
                        batch_norm_case(shape, axis, training)[3],
                        "F.batch_norm(%s, running_mean, running_var, w, b, training=%s, "
                        "momentum=0.1)" % (how, training)))
    out.append(("norm_TF", (32, 200, 512), norm_tf_case((32, 200, 512)), None))
    out.append(("norm_T", (32, 200, 512), norm_t_case((32, 200, 512)), None))
    out.append(("group_norm_32", (2, 320, 64, 64), group_norm_case((2, 320, 64, 64), 32)[3],
                "F.group_norm(x, 32, w, b)"))
    out.append(("instance_norm", (16, 64, 4096), instance_norm_case((16, 64, 4096))[3],
                "F.instance_norm(x, weight=w, bias=b)"))
    return out


def run_issue6(threads, min_time, quick, json_path):
    """Times PyTorch on the cases of issue 6 at each thread count; prints a
    line per measurement and writes them to json_path (if given)."""
    results = []
    print("PyTorch %s, issue 6 cases, epsilon %g; GB/s = 8 bytes per element / time "
          "(median of 5 batches), err = max |y - float64|" % (torch.__version__, EPS))
    rng = np.random.default_rng(0)
    with torch.inference_mode():
        for case_id, shape, make, op in issue6_cases(quick):
            case = make(rng)
            op = op or case["op"]
            nbytes = 2 * case["x"].nbytes
            ref = case["ref"]()
            err = max_error(case.get("check", case["torch"])().numpy().reshape(ref.shape), ref)
            del ref
            for n in threads:
                torch.set_num_threads(n)
                t = seconds_per_call(case["torch"], min_time)
                shape_text = "x".join(map(str, shape))
                print("%-22s %-14s threads %d: %s %7.2f GB/s  err %.1e" % (
                    case_id, shape_text, n, fmt_time(t), nbytes / t / 1e9, err))
                sys.stdout.flush()
                results.append(dict(id=case_id, shape=shape_text, threads=n, seconds=t,
                                    gbps=nbytes / t / 1e9, bytes=nbytes, max_err=err, op=op))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(dict(torch=torch.__version__, numpy=np.__version__,
                           python=platform.python_version(), epsilon=EPS,
                           bytes="2 * x.nbytes (x read once, y written once)",
                           timing="median over 5 batches of min_time / 5 s, after a warm-up call; "
                                  "PyTorch allocates each output (no out=)",
                           min_time=min_time, results=results), f, indent=1)
            f.write("\n")


# ------------------------------------------------------------ main

def fmt_time(s):
    return "%8.1f us" % (s * 1e6) if s < 1e-3 else "%8.3f ms" % (s * 1e3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2", help="thread counts, e.g. 1,2")
    parser.add_argument("--quick", action="store_true", help="fewer shapes, shorter timing")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds of calls per measurement (default 0.25, quick 0.05)")
    parser.add_argument("--shapes", choices=("default", "issue6"), default="default",
                        help="issue6: PyTorch alone on bench/simdnorm_compare's cases")
    parser.add_argument("--json", metavar="FILE", help="with --shapes issue6: write the results")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    min_time = args.min_time or (0.05 if args.quick else 0.25)
    if args.json and args.shapes != "issue6":
        parser.error("--json needs --shapes issue6")
    if args.shapes == "issue6":
        run_issue6(threads, min_time, args.quick, args.json)
        return

    print("simdnorm %s (%s, ISA %s) vs PyTorch %s; epsilon %g"
          % (simdnorm.__version__, simdnorm.library_path, simdnorm.isa(), torch.__version__, EPS))
    print("time per call (median), GB/s = 8 bytes per element / time, err = max |y - float64|\n")
    header = "%-13s %-18s %-26s %3s | %11s %7s %8s | %11s %7s %8s | %7s" % (
        "layer", "shape", "mode", "thr", "simdnorm", "GB/s", "err", "torch", "GB/s", "err",
        "speedup")
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    with torch.inference_mode():
        for name, shape, mode, make in cases(args.quick):
            case = make(rng)
            nbytes = 2 * case["x"].nbytes
            # Errors first, on fresh state (one call each; training batch norm
            # uses the batch statistics, so the running stats do not matter).
            ref = case["ref"]()
            err_sn = max_error(case["sn"](), ref)
            err_t = max_error(case["torch"]().numpy().reshape(ref.shape), ref)
            for n in threads:
                simdnorm.set_num_threads(n)
                torch.set_num_threads(n)
                t_sn = seconds_per_call(case["sn"], min_time)
                t_t = seconds_per_call(case["torch"], min_time)
                print("%-13s %-18s %-26s %3d | %s %7.2f %8.1e | %s %7.2f %8.1e | %6.2fx" % (
                    name, "x".join(map(str, shape)), mode, n, fmt_time(t_sn), nbytes / t_sn / 1e9,
                    err_sn, fmt_time(t_t), nbytes / t_t / 1e9, err_t, t_t / t_sn))
                sys.stdout.flush()


if __name__ == "__main__":
    main()
