#!/usr/bin/python3
"""Merge simdnorm_compare's Google Benchmark JSON and compare_torch.py's JSON
into one markdown table, bench/RESULTS.md (issue 6). Standard library only.

Usage: /usr/bin/python3 bench/compare_table.py --onednn compare.json --torch torch.json
           [--build build] [--out bench/RESULTS.md]

The section of the existing output file that starts with PRESERVED_HEADING
(the human-written analysis of missed targets) is kept, and written again at
the end of the new file.
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys

PRESERVED_HEADING = "## Where targets are missed, and why"

# id -> (layer, mode), in the words of the table.
LAYERS = {
    "layer_norm": ("layer_norm", "inference"),
    "batch_norm_infer_BTF": ("batch_norm, feature last (BTF)", "inference"),
    "batch_norm_train_BTF": ("batch_norm, feature last (BTF)", "training + running update"),
    "batch_norm_infer_BFSS": ("batch_norm, channels first (BFSS)", "inference"),
    "batch_norm_train_BFSS": ("batch_norm, channels first (BFSS)", "training + running update"),
    "norm_TF": ("norm axes TF (BTF, params F)", "inference"),
    "norm_T": ("norm axes T (BTF, params F)", "inference"),
    "group_norm_32": ("group norm, 32 groups", "inference"),
    "instance_norm": ("instance norm (BFT, axes T)", "inference"),
}

# The targets.
BIG = 1 << 20                                 # x larger than 1 MB
BIG_PCT, BIG_RATIO = 90.0, 1.5                # layer norm and inference
TRAIN_PCT, TRAIN_RATIO = 60.0, 2.0            # batch-norm training
SMALL_NS = {("layer_norm", "1x768"): 150.0, ("layer_norm", "4x768"): 300.0}

NAME = re.compile(r"^(?P<id>[^/]+)/(?P<shape>[^/]+)/threads:(?P<threads>\d+)/"
                  r"(?P<impl>memcpy|simdnorm|onednn|floor)(/|$)")
# simdnorm_compare's skip message where oneDNN has no equivalent primitive.
NO_PRIMITIVE = "no oneDNN"
UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def read_benchmark(path):
    """{(id, shape, threads, impl): dict(seconds, gbps, pct, label, error)},
    medians over the repetitions (the iteration rows), and the context."""
    with open(path) as f:
        data = json.load(f)
    runs = {}
    for b in data["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        m = NAME.match(b.get("run_name", b["name"]))
        if not m:
            continue
        key = (m["id"], m["shape"], int(m["threads"]), m["impl"])
        runs.setdefault(key, []).append(b)
    out = {}
    for key, rows in runs.items():
        good = [r for r in rows if not r.get("error_occurred")]
        if not good:
            out[key] = dict(error=rows[0].get("error_message", "error"))
            continue
        med = lambda f: statistics.median(f(r) for r in good)
        out[key] = dict(
            seconds=med(lambda r: r["real_time"] * UNIT[r.get("time_unit", "ns")]),
            gbps=med(lambda r: r["bw"] / 1e9),
            pct=med(lambda r: r["pct_memcpy"]) if "pct_memcpy" in good[0] else None,
            label=good[0].get("label", ""), reps=len(good))
    return out, data.get("context", {})


def read_torch(path):
    with open(path) as f:
        data = json.load(f)
    return {(r["id"], r["shape"], r["threads"]): r for r in data["results"]}, data


# ------------------------------------------------------------ header facts

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def run(cmd, cwd=None):
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def commit(root):
    head = run(["git", "rev-parse", "--short", "HEAD"], root) or "unknown"
    return head + ("+dirty" if run(["git", "status", "--porcelain"], root) else "")


def compilers(build):
    """'gcc (Debian 12.2.0-14) 12.2.0' for C and C++ from the CMake cache."""
    found = {}
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                m = re.match(r"^(CMAKE_C_COMPILER|CMAKE_CXX_COMPILER|CMAKE_BUILD_TYPE):\w+=(.*)$", line)
                if m:
                    found[m[1]] = m[2].strip()
    except OSError:
        pass
    names = []
    for var in ("CMAKE_C_COMPILER", "CMAKE_CXX_COMPILER"):
        if found.get(var):
            version = run([found[var], "--version"]).splitlines()
            names.append(version[0] if version else found[var])
    text = " / ".join(dict.fromkeys(names)) or "unknown"
    return text, found.get("CMAKE_BUILD_TYPE", "")


def caches(context):
    parts = []
    for c in context.get("caches", []):
        if c.get("type") in ("Data", "Unified"):
            size = c["size"]
            size = "%d MiB" % (size >> 20) if size >= 1 << 20 else "%d KiB" % (size >> 10)
            parts.append("L%d%s %s" % (c["level"], "d" if c["type"] == "Data" else "", size))
    return ", ".join(parts)


# ------------------------------------------------------------ table

def unavailable(r):
    """A row skipped because the library has no such operation."""
    return r is not None and r.get("error", "").startswith(NO_PRIMITIVE)


def fmt_gbps(r):
    if r is None or unavailable(r):
        return "—"
    if "error" in r:
        return "error"
    return "%.1f" % r["gbps"]


def fmt_ns(seconds):
    return "%.0f" % (seconds * 1e9)


def target(case_id, shape, sn, best, x_bytes, floor=None):
    """'met', 'missed (...)' or '—' (no target for this row). floor: the
    case's floor row, named where it lies below the memcpy goal too."""
    if sn is None or "error" in sn:
        return "missed (simdnorm failed)"
    ratio = sn["gbps"] / best if best else None
    if (case_id, shape) in SMALL_NS:
        limit = SMALL_NS[(case_id, shape)]
        ns = sn["seconds"] * 1e9
        return ("met" if ns <= limit else "missed") + " (%.0f ns, <= %.0f)" % (ns, limit)
    if "train" in case_id:
        pct_goal, ratio_goal = TRAIN_PCT, TRAIN_RATIO
    elif x_bytes > BIG:
        pct_goal, ratio_goal = BIG_PCT, BIG_RATIO
    else:
        return "—"
    why = []
    if sn["pct"] is None or sn["pct"] < pct_goal:
        text = "%.0f%% < %.0f%% memcpy" % (sn["pct"] or 0, pct_goal)
        if floor and "error" not in floor and floor["pct"] is not None and floor["pct"] < pct_goal:
            text += ", floor %.0f%%" % floor["pct"]
        why.append(text)
    if ratio is None:
        why.append("no other library to compare")
    elif ratio < ratio_goal:
        why.append("%.2fx < %.1fx" % (ratio, ratio_goal))
    return "met" if not why else "missed (" + "; ".join(why) + ")"


def elements(shape):
    n = 1
    for d in shape.split("x"):
        n *= int(d)
    return n


def build_table(bench, torch):
    keys = []  # (id, shape, threads) in the benchmark's order
    for (case_id, shape, threads, _impl) in bench:
        if (case_id, shape, threads) not in keys:
            keys.append((case_id, shape, threads))
    lines = ["| shape | layer | mode | threads | simdnorm GB/s | oneDNN GB/s | PyTorch GB/s | memcpy GB/s "
             "| simdnorm / best other | % of memcpy | floor, % of memcpy | target |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    met = total = 0
    small = []
    for case_id, shape, threads in keys:
        sn = bench.get((case_id, shape, threads, "simdnorm"))
        dn = bench.get((case_id, shape, threads, "onednn"))
        mc = bench.get((case_id, shape, threads, "memcpy"))
        fl = bench.get((case_id, shape, threads, "floor"))
        pt = torch.get((case_id, shape, threads))
        pt_row = dict(gbps=pt["gbps"], seconds=pt["seconds"]) if pt else None
        others = [r["gbps"] for r in (dn, pt_row) if r and "error" not in r]
        best = max(others) if others else None
        ok_sn = sn is not None and "error" not in sn
        ratio = "%.2fx" % (sn["gbps"] / best) if ok_sn and best else "—"
        pct = "%.0f%%" % sn["pct"] if ok_sn and sn["pct"] is not None else "—"
        goal = target(case_id, shape, sn, best, 4 * elements(shape), fl)
        floor = "%.0f%%" % fl["pct"] if fl and "error" not in fl and fl["pct"] is not None else "—"
        if goal != "—":
            total += 1
            met += goal.startswith("met")
        layer, mode = LAYERS.get(case_id, (case_id, ""))
        lines.append("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            shape, layer, mode, threads, fmt_gbps(sn), fmt_gbps(dn), fmt_gbps(pt_row), fmt_gbps(mc),
            ratio, pct, floor, goal))
        if (case_id, shape) in SMALL_NS:
            cell = lambda r: fmt_ns(r["seconds"]) if r and "error" not in r else "—"
            small.append("| %s | %d | %s | %s | %s | %s | %.0f |" % (
                shape, threads, cell(sn), cell(dn), cell(pt_row), cell(mc), SMALL_NS[(case_id, shape)]))
    return lines, small, met, total


def notes(bench, torch_data):
    """What each library ran, per case: the row labels, PyTorch's op, errors."""
    seen = {}
    for (case_id, shape, _threads, impl), r in bench.items():
        entry = seen.setdefault(case_id, dict(shapes=[], simdnorm=set(), onednn=set(), errors=set()))
        if shape not in entry["shapes"]:
            entry["shapes"].append(shape)
        if unavailable(r):
            entry["onednn"].add("— (%s)" % r["error"])
        elif "error" in r:
            entry["errors"].add("%s: %s" % (impl, r["error"]))
        elif impl in ("simdnorm", "onednn") and r["label"]:
            entry[impl].add(r["label"])
    ops = {}
    for r in torch_data.get("results", []):
        ops.setdefault(r["id"], set()).add(r["op"])
    out = []
    for case_id, e in seen.items():
        layer, mode = LAYERS.get(case_id, (case_id, ""))
        out.append("- **%s, %s** (%s, `%s`)" % (layer, mode, ", ".join(e["shapes"]), case_id))
        for what, key in (("simdnorm", "simdnorm"), ("oneDNN", "onednn")):
            for label in sorted(e[key]):
                out.append("  - %s: %s" % (what, label))
        for op in sorted(ops.get(case_id, ())):
            out.append("  - PyTorch: `%s`" % op)
        for err in sorted(e["errors"]):
            out.append("  - not measured (error): %s" % err)
    return out


def preserved(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    at = text.find(PRESERVED_HEADING)
    return text[at:].rstrip() + "\n" if at >= 0 else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onednn", required=True, help="simdnorm_compare --benchmark_out JSON")
    parser.add_argument("--torch", required=True, help="compare_torch.py --shapes issue6 --json output")
    parser.add_argument("--build", default="build", help="the build folder (for the compiler)")
    parser.add_argument("--out", default=os.path.join("bench", "RESULTS.md"))
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    bench, context = read_benchmark(args.onednn)
    torch, torch_data = read_torch(args.torch)
    lines, small, met, total = build_table(bench, torch)
    compiler, build_type = compilers(args.build)
    reps = sorted({r.get("reps", 0) for r in bench.values() if "error" not in r})
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    doc = ["# simdnorm, oneDNN and PyTorch side by side", "",
           "Written by `scripts/compare.sh` (do not edit above the last section; it is regenerated).", "",
           "- Date: %s" % now,
           "- CPU: %s, %s logical CPUs%s" % (cpu_model(), context.get("num_cpus", "?"),
                                             ", " + caches(context) if caches(context) else ""),
           "- Commit: %s" % commit(root),
           "- Compiler: %s%s" % (compiler, ", %s build" % build_type if build_type else ""),
           "- simdnorm %s (ISA %s); oneDNN %s; PyTorch %s (numpy %s, Python %s)" % (
               context.get("simdnorm", "?"), context.get("simdnorm_default_isa", "?"),
               context.get("onednn", "?"), torch_data.get("torch", "?"), torch_data.get("numpy", "?"),
               torch_data.get("python", "?")),
           "",
           "How it is measured:",
           "",
           "- GB/s = (x read once + y written once) / time per call = elements x 8 bytes / time, "
           "1 GB = 1e9 B; float32, out of place, epsilon %g for every library." % torch_data.get("epsilon", 1e-5),
           "- simdnorm, oneDNN and memcpy: `build/bench/simdnorm_compare`, medians of %s repetitions, the "
           "three rows of a shape and thread count run one after the other on the same buffers; oneDNN "
           "primitives are created outside the timing (execute + stream wait timed). Threads: "
           "`sn_set_num_threads` and `omp_set_num_threads` (one libgomp)." % "/".join(map(str, reps)),
           "- % of memcpy: simdnorm's time against a memcpy of the same bytes on the same buffers and "
           "threads, timed right before its own loop (the memcpy column is the separate memcpy row).",
           "- floor: the same passes over memory with almost none of the arithmetic (`bm_floor`: each "
           "group, or panel, read once and summed, then read again and written as (x - mean) * a + b, "
           "the faster of plain and streamed stores), as % of its own memcpy; for the layers that read x "
           "twice where a group is larger than the cache, on 1 MB or more. A memcpy target missed with "
           "the floor below it too names the floor: out of reach of the passes on this machine.",
           "- Before timing, simdnorm's and oneDNN's outputs are compared (within 1e-4 absolute; a row "
           "that disagrees is not timed). PyTorch's output is checked against float64.",
           "- PyTorch: `examples/compare_torch.py --shapes issue6`, `torch.set_num_threads`, median of 5 "
           "batches, called from Python (its per-call overhead, a few us, is in the time) and allocating "
           "its output each call (its functional ops have no `out=`).",
           "- simdnorm / best other: simdnorm GB/s over the faster of oneDNN and PyTorch.",
           "- Targets (issue 6): layer norm and inference shapes over 1 MB: >= 90% of memcpy and >= 1.5x the "
           "best other; batch-norm training: >= 60% and >= 2x; [1,768] <= 150 ns, [4,768] <= 300 ns per call.",
           "", "## Results", ""]
    doc += lines
    doc += ["", "Targets met: %d of %d." % (met, total), ""]
    if small:
        doc += ["### Small shapes: ns per call", "",
                "| shape | threads | simdnorm | oneDNN | PyTorch (from Python) | memcpy | target (simdnorm) |",
                "|---|---:|---:|---:|---:|---:|---:|"] + small + [""]
    doc += ["## What ran", ""] + notes(bench, torch_data) + [""]
    kept = preserved(args.out)
    doc.append(kept if kept else PRESERVED_HEADING + "\n\n(To be written: for each missed target, the "
               "measurement that shows why.)\n")
    with open(args.out, "w") as f:
        f.write("\n".join(doc))
    print("wrote %s (%d rows, targets met: %d of %d)" % (args.out, len(lines) - 2, met, total))


if __name__ == "__main__":
    sys.exit(main())
