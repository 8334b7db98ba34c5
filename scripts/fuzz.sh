#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan) and fuzzes
# each for a bounded time, two at a time. Fails on the first crash, sanitizer
# report, failed check or timeout, printing the input's file and the command
# that replays it.
#
# Usage: scripts/fuzz.sh [--seconds N] [fuzzer ...]
#   --seconds N   fuzzing time per fuzzer (default: $FUZZ_SECONDS or 60)
#   fuzzer ...    some of: axes layer_norm norm batch_norm (default: all)
# The corpus grows in build-fuzz/corpus/<fuzzer> from run to run (the seeds
# in tests/fuzz/corpus are read, never written); crashes go to
# build-fuzz/artifacts/, logs to build-fuzz/logs/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=${FUZZ_SECONDS:-60}
fuzzers=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) fuzzers+=("$1"); shift ;;
  esac
done
[ ${#fuzzers[@]} -gt 0 ] || fuzzers=(axes layer_norm norm batch_norm)

build=build-fuzz
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIMDNORM_FUZZ=ON \
  -DSIMDNORM_BUILD_TESTS=OFF -DSIMDNORM_BUILD_BENCH=OFF -DSIMDNORM_BUILD_TOOLS=OFF > /dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" > "$build/build.log" 2>&1 || {
  tail -40 "$build/build.log"; exit 1; }

# The seeds first: each must run clean (a regression test of past findings).
(cd "$build" && ctest --no-tests=error --output-on-failure -L fuzz)

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1
mkdir -p "$build/artifacts" "$build/logs"
run_one() {
  local name=$1 extra=()
  [ "$name" = axes ] && extra=(-dict=tests/fuzz/axes.dict)
  mkdir -p "$build/corpus/$name"
  "$build/tests/fuzz/fuzz_$name" "${extra[@]}" -max_total_time="$seconds" -timeout=25 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/artifacts/$name-" \
    "$build/corpus/$name" "tests/fuzz/corpus/$name" > "$build/logs/$name.log" 2>&1
}

jobs=$(nproc 2>/dev/null || echo 2)
declare -A pids
failed=0
for name in "${fuzzers[@]}"; do
  [ -x "$build/tests/fuzz/fuzz_$name" ] || { echo "no fuzzer named $name"; exit 2; }
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "$name" & pids[$name]=$!
done
for name in "${fuzzers[@]}"; do
  if wait "${pids[$name]}"; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/logs/$name.log" | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$build/logs/$name.log" | tail -1 || true)
    printf 'fuzz_%-11s %4ss  %8s inputs  %s  clean\n' "$name" "$seconds" "${runs:-?}" "$cov"
  else
    failed=1
    echo "fuzz_$name FAILED; the end of $build/logs/$name.log:"
    grep -v -E '^(#[0-9]+ +(NEW|REDUCE|pulse)|\s+NEW_FUNC)' "$build/logs/$name.log" | tail -60
    artifact=$(grep -o "Test unit written to .*" "$build/logs/$name.log" | tail -1 | sed 's/Test unit written to //')
    [ -n "$artifact" ] && echo "replay: $build/tests/fuzz/fuzz_$name $artifact"
  fi
done
exit $failed
