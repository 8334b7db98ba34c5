#!/usr/bin/env bash
# A/B speed of the working tree against an earlier revision, for machines too
# noisy for two separate bench runs to compare (shared VMs move by 2x within
# minutes). One simdnorm_bench binary, built from the working tree, runs in
# alternating rounds against each revision's libsimdnorm.so.0 (chosen by
# LD_LIBRARY_PATH; the public API must be the same at both), and each
# benchmark's time is compared round by round: the median of the per-round
# ratios new/base survives a machine that changes speed between rounds.
#
# Usage: scripts/ab.sh BASE_REV [ROUNDS] [BENCHMARK_FILTER]
#   e.g. scripts/ab.sh HEAD~3 10 'norm T/avx512/32x200x512'
# ROUNDS defaults to 8, the filter to every AVX-512 benchmark of the
# generic layer. The base revision is built in a temporary git worktree,
# build/ab-base, removed on exit; the JSON of every run stays in build/ab.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
base_rev=${1:?usage: scripts/ab.sh BASE_REV [ROUNDS] [BENCHMARK_FILTER]}
rounds=${2:-8}
filter=${3:-'^(norm|group_norm)[^/]*/avx512/'}
base_sha=$(git rev-parse --verify "$base_rev^{commit}")

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target simdnorm simdnorm_bench > /dev/null

tree=build/ab-base
git worktree remove --force "$tree" 2> /dev/null || rm -rf "$tree"
git worktree add -q --detach "$tree" "$base_sha"
trap 'git worktree remove --force "$tree"' EXIT
cmake -S "$tree" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$tree/build" -j"$(nproc 2>/dev/null || echo 2)" --target simdnorm > /dev/null

out=build/ab
mkdir -p "$out"
rm -f "$out"/*.json
for round in $(seq "$rounds"); do
  # Alternate which side runs first, so that a drift within a round favours neither.
  if [ $((round % 2)) -eq 1 ]; then order="base new"; else order="new base"; fi
  for side in $order; do
    lib=build
    [ "$side" = base ] && lib="$tree/build"
    LD_LIBRARY_PATH="$root/$lib" build/bench/simdnorm_bench --benchmark_filter="$filter" \
      --benchmark_out="$out/$side-$round.json" --benchmark_out_format=json > /dev/null 2>&1
  done
  echo "round $round of $rounds done" >&2
done

# Debian's interpreter, as everywhere in the project (only the standard library is used).
/usr/bin/python3 - "$out" "$rounds" "$base_sha" <<'EOF'
import json, statistics, sys
out, rounds, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def times(side, r):
    with open(f"{out}/{side}-{r}.json") as f:
        return {b["name"]: b["real_time"] for b in json.load(f)["benchmarks"]
                if b.get("run_type", "iteration") == "iteration"}
base_t = [times("base", r) for r in range(1, rounds + 1)]
new_t = [times("new", r) for r in range(1, rounds + 1)]
print(f"new (working tree) against base {base[:7]}, {rounds} alternating rounds")
print("| benchmark | base, median (bench unit) | new, median | new/base, median of the rounds' ratios | range of the ratios |")
print("|---|---:|---:|---:|---|")
for name in base_t[0]:
    b = [t[name] for t in base_t]
    n = [t[name] for t in new_t]
    ratios = sorted(x / y for x, y in zip(n, b))
    print(f"| {name} | {statistics.median(b):.1f} | {statistics.median(n):.1f} | "
          f"{statistics.median(ratios):.3f} | {ratios[0]:.2f}-{ratios[-1]:.2f} |")
EOF
