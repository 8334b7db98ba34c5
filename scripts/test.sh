#!/usr/bin/env bash
# Builds and runs every test: the native build with each ISA forced in turn,
# the same suite under ASan + UBSan, and the NEON build under qemu-aarch64.
# Usage: scripts/test.sh            (from anywhere; installs missing Debian packages)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/install-deps.sh

step() { printf '\n=== %s ===\n' "$*"; }

step "native build, every ISA this CPU has"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSIMDNORM_BUILD_TESTS=ON -DSIMDNORM_BUILD_BENCH=ON -DSIMDNORM_BUILD_TOOLS=ON > /dev/null
cmake --build build -j"$jobs"
(cd build && ctest --no-tests=error --output-on-failure -j"$jobs")

step "ASan + UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIMDNORM_SANITIZE=address,undefined \
  -DSIMDNORM_BUILD_TESTS=ON -DSIMDNORM_BUILD_BENCH=OFF -DSIMDNORM_BUILD_TOOLS=OFF > /dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  SN_TEST_SCALE=0.25 ctest --no-tests=error --output-on-failure -j"$jobs")

step "AArch64 NEON build under qemu-aarch64"
cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=Release -DSIMDNORM_BUILD_TESTS=ON -DSIMDNORM_BUILD_BENCH=OFF -DSIMDNORM_BUILD_TOOLS=OFF > /dev/null
cmake --build build-aarch64 -j"$jobs"
(cd build-aarch64 && SN_TEST_SCALE=0.1 ctest --no-tests=error --output-on-failure -j"$jobs")

step "Python package (pytest)"
SIMDNORM_LIBRARY=$root/build/libsimdnorm.so /usr/bin/python3 -m pytest -q python/tests

step "all test stages passed"
