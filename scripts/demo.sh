#!/usr/bin/env bash
# Builds the library and runs the main job: every layer on every ISA this CPU
# has, timed against memcpy and checked against float64.
# Usage: scripts/demo.sh [simdnorm-demo options]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target simdnorm-demo
exec build/tools/simdnorm-demo "$@"
