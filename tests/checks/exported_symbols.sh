#!/usr/bin/env bash
# Every symbol the shared library exports starts with sn_, and the public API is there.
# Usage: exported_symbols.sh NM libsimdnorm.so
set -euo pipefail
nm=$1 lib=$2
symbols=$("$nm" -D --defined-only "$lib" | awk '{print $NF}')
bad=$(echo "$symbols" | grep -v '^sn_' || true)
if [ -n "$bad" ]; then
  echo "FAIL: symbols without the sn_ prefix are exported:"; echo "$bad"; exit 1
fi
for required in sn_layer_norm sn_layer_norm_f32 sn_norm sn_norm_plan_create sn_norm_plan_execute \
    sn_norm_plan_destroy sn_get_isa sn_set_isa sn_status_string sn_version; do
  # A here-string, not a pipe: grep -q stops at the first match, and with
  # pipefail the writer's SIGPIPE would fail the check.
  grep -qx "$required" <<< "$symbols" || { echo "FAIL: $required is not exported"; exit 1; }
done
internal=$(echo "$symbols" | grep -E '_(scalar|avx2|avx512|neon)$' || true)
[ -z "$internal" ] || { echo "FAIL: internal kernels exported:"; echo "$internal"; exit 1; }
echo "OK: $(echo "$symbols" | wc -l) exported symbols, all sn_-prefixed"
