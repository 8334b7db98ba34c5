#!/usr/bin/env bash
# Builds the library, then compares it side by side with oneDNN and PyTorch on
# the shapes of issue 6 and writes bench/RESULTS.md:
#   1. build/bench/simdnorm_compare: memcpy, simdnorm and oneDNN rows for each
#      shape and thread count (1, 2), medians of 3 repetitions;
#   2. examples/compare_torch.py --shapes issue6: PyTorch on the same cases;
#   3. bench/compare_table.py: one markdown table from both (the section
#      "## Where targets are missed, and why" of the old file is kept).
# The raw JSON stays in build/compare/. Takes about 3 minutes.
# Usage: scripts/compare.sh [simdnorm_compare flags, e.g. --benchmark_min_time=0.5]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
if ! cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target simdnorm simdnorm_compare; then
  echo "compare.sh: could not build simdnorm_compare; it needs Google Benchmark (libbenchmark-dev)," \
       "oneDNN (libdnnl-dev) and OpenMP (see the configure messages of bench/)" >&2
  exit 1
fi
out=build/compare
mkdir -p "$out"
build/bench/simdnorm_compare --benchmark_repetitions=3 \
  --benchmark_out="$out/onednn.json" --benchmark_out_format=json "$@"
# Debian's interpreter: the one that sees python3-torch and python3-numpy.
/usr/bin/python3 examples/compare_torch.py --shapes issue6 --threads 1,2 --json "$out/torch.json"
/usr/bin/python3 bench/compare_table.py --onednn "$out/onednn.json" --torch "$out/torch.json" \
  --build build --out bench/RESULTS.md
