#!/usr/bin/env bash
# A/B speed of the working tree against an earlier revision, for machines too
# noisy for two separate bench runs to compare (shared VMs move by 2x within
# minutes). Two ways, both against each revision's libsimdnorm.so.0 (the
# public API must be the same at both):
#
# scripts/ab.sh BASE_REV [ROUNDS] [BENCHMARK_FILTER]
#   One simdnorm_bench binary, built from the working tree, runs in
#   alternating rounds against either library (chosen by LD_LIBRARY_PATH),
#   and each benchmark's time is compared round by round: the median of the
#   per-round ratios new/base survives a machine that changes speed between
#   rounds. ROUNDS defaults to 8, the filter to every AVX-512 benchmark of
#   the generic layer; the JSON of every run stays in build/ab.
#   e.g. scripts/ab.sh HEAD~3 10 'norm T/avx512/32x200x512'
#
# scripts/ab.sh --calls BASE_REV [PAIRS] [CASE...]
#   tools/ab_calls.c loads both libraries into one process and times them
#   call against call, at 1 and 2 threads, in both orders (base first, then
#   new first): steadier than rounds where the machine moves within seconds,
#   but only for changes that leave the caches alike (not for a change of
#   store policy or of the order groups are walked in; see ab_calls.c). PAIRS defaults to 200; CASEs as in
#   ab_calls.c, by default the shapes of issues 3 and 6.
#   e.g. scripts/ab.sh --calls HEAD~1 300 layer_norm:8192x768
#
# The base revision is built in a temporary git worktree, build/ab-base,
# removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
calls=0
if [ "${1:-}" = --calls ]; then
  calls=1
  shift
fi
usage="usage: scripts/ab.sh [--calls] BASE_REV [ROUNDS|PAIRS] [BENCHMARK_FILTER|CASE...]"
base_rev=${1:?$usage}
base_sha=$(git rev-parse --verify "$base_rev^{commit}")
if [ $calls -eq 1 ]; then
  pairs=${2:-200}
  shift $(($# < 2 ? $# : 2))
  cases=("$@")
  if [ ${#cases[@]} -eq 0 ]; then
    cases=(layer_norm:8192x256 layer_norm:8192x768 layer_norm:8192x1024 layer_norm:1x768
           layer_norm:4x768 norm:32x200x512:BTF:F norm:32x200x512:BTF:TF norm:32x200x512:BTF:T
           norm:16x64x4096:BFT:T norm:8x512x1024:BFT:except_batch)
  fi
  targets="simdnorm simdnorm-ab-calls"
else
  rounds=${2:-8}
  filter=${3:-'^(norm|group_norm)[^/]*/avx512/'}
  targets="simdnorm simdnorm_bench"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
# shellcheck disable=SC2086 # two target names
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target $targets > /dev/null

tree=build/ab-base
git worktree remove --force "$tree" 2> /dev/null || rm -rf "$tree"
git worktree add -q --detach "$tree" "$base_sha"
trap 'git worktree remove --force "$tree"' EXIT
cmake -S "$tree" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$tree/build" -j"$(nproc 2>/dev/null || echo 2)" --target simdnorm > /dev/null

if [ $calls -eq 1 ]; then
  new_lib="$root/build/libsimdnorm.so.0" base_lib="$root/$tree/build/libsimdnorm.so.0"
  echo "new (working tree) against base ${base_sha:0:7}, $pairs pairs of calls per case"
  echo "| case | threads | base us | new us | new/base, base called first | quartiles | new/base, new called first | quartiles |"
  echo "|---|---:|---:|---:|---:|---|---:|---|"
  for threads in 1 2; do
    for c in "${cases[@]}"; do
      first=$(build/tools/simdnorm-ab-calls "$base_lib" "$new_lib" "$pairs" "$threads" "$c")
      second=$(build/tools/simdnorm-ab-calls "$new_lib" "$base_lib" "$pairs" "$threads" "$c")
      # Each line: | case | threads | A us | B us | B/A | q25-q75 |; the second run's
      # ratios are base/new, inverted here (their quartiles swap places).
      paste -d'|' <(echo "$first") <(echo "$second") | awk -F'|' '{
        split($15, r, "-");
        printf "|%s|%s|%s|%s|%s|%s| %.3f | %.3f-%.3f |\n", $2, $3, $4, $5, $6, $7,
               1 / $14, 1 / r[2], 1 / r[1] }'
    done
  done
  exit 0
fi

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
