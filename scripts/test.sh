#!/usr/bin/env bash
# Builds and runs every test: the native build with each ISA forced in turn,
# the same suite under ASan + UBSan, the NEON build under qemu-aarch64, the
# suite under ThreadSanitizer (clang + libomp + Archer), bounded libFuzzer runs,
# valgrind memcheck on the scalar path, and the Python package's tests.
# Usage: scripts/test.sh            (from anywhere; installs missing Debian packages)
#   FUZZ_SECONDS=N   fuzzing time per fuzzer (default 60; scripts/fuzz.sh runs them longer)
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
# Each suite's own closing line (Criterion's Synthesis), from ctest's full log;
# the lite harness's self-test is left out: it fails two tests on purpose.
awk '/ Testing: /{skip = ($0 ~ /lite_harness_selftest/)} !skip && /Synthesis/' \
  build/Testing/Temporary/LastTest.log

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

step "ThreadSanitizer: clang + LLVM libomp (Archer), the whole suite on the lite harness"
# Criterion cannot start under TSan (its arena mmap fails), hence SN_TEST_LITE.
# libomp loads its Archer tool (libarcher.so) by itself for TSan programs; TSan
# must then skip the uninstrumented libomp. tsan_canary proves both: a real race
# is reported, OpenMP's own synchronization is not. Any report fails the test.
stage_start=$SECONDS
cmake -S . -B build-tsan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSIMDNORM_SANITIZE=thread -DSN_TEST_LITE=ON \
  -DSIMDNORM_BUILD_TESTS=ON -DSIMDNORM_BUILD_BENCH=OFF -DSIMDNORM_BUILD_TOOLS=OFF > /dev/null
cmake --build build-tsan -j"$jobs"
(cd build-tsan && TSAN_OPTIONS="halt_on_error=1 ignore_noninstrumented_modules=1" \
  SN_TEST_SCALE=0.25 ctest --no-tests=error --output-on-failure -j"$jobs")
echo "ThreadSanitizer stage: $((SECONDS - stage_start)) s"

step "libFuzzer: seed corpora, then ${FUZZ_SECONDS:-60} s per fuzzer (ASan + UBSan)"
stage_start=$SECONDS
bash scripts/fuzz.sh --seconds "${FUZZ_SECONDS:-60}"
echo "fuzzing stage: $((SECONDS - stage_start)) s"

step "valgrind memcheck: scalar path, one OpenMP thread, lite harness"
# scripts/valgrind.supp: libgomp's worker-thread TLS, "possibly lost" by design.
stage_start=$SECONDS
cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSN_TEST_LITE=ON \
  -DSIMDNORM_BUILD_TESTS=ON -DSIMDNORM_BUILD_BENCH=OFF -DSIMDNORM_BUILD_TOOLS=OFF > /dev/null
valgrind_suites=(errors axes layer_norm norm batch_norm)
cmake --build build-valgrind -j"$jobs" --target "${valgrind_suites[@]/#/test_}"
valgrind_failed=0 valgrind_pids=()
for suite in "${valgrind_suites[@]}"; do
  SIMDNORM_ISA=scalar OMP_NUM_THREADS=1 SN_TEST_SCALE=0.05 \
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
    --suppressions=scripts/valgrind.supp "build-valgrind/tests/test_$suite" \
    > "build-valgrind/valgrind-$suite.log" 2>&1 &
  valgrind_pids+=($!)
done
for pid in "${valgrind_pids[@]}"; do wait "$pid" || valgrind_failed=1; done
for suite in "${valgrind_suites[@]}"; do
  if grep -q '^==[0-9]*==' "build-valgrind/valgrind-$suite.log" ||
     ! grep -q ' 0 failed' "build-valgrind/valgrind-$suite.log"; then
    valgrind_failed=1
    echo "--- valgrind test_$suite:"; tail -40 "build-valgrind/valgrind-$suite.log"
  else
    echo "valgrind test_$suite: clean ($(tail -1 "build-valgrind/valgrind-$suite.log"))"
  fi
done
[ "$valgrind_failed" = 0 ] || { echo "valgrind stage failed"; exit 1; }
echo "valgrind stage: $((SECONDS - stage_start)) s"

step "Python package (pytest)"
SIMDNORM_LIBRARY=$root/build/libsimdnorm.so /usr/bin/python3 -m pytest -q python/tests

step "all test stages passed"
