#!/usr/bin/env bash
# Proves that only an ISA's own folder contains that ISA's instructions:
#   --baseline OBJ...  objects that must hold no AVX at all (no ymm/zmm/opmask)
#   --avx2 OBJ...      objects that may use ymm but no AVX-512 (zmm/opmask)
# Usage: isa_isolation.sh OBJDUMP --baseline a.o b.o --avx2 c.o
set -euo pipefail
objdump=$1; shift
mode=""; status=0; checked=0
for arg in "$@"; do
  case "$arg" in
    --baseline|--avx2) mode=$arg; continue ;;
  esac
  case "$mode" in
    --baseline) pattern='%[yz]mm[0-9]|%k[0-7]|^\s*[0-9a-f]+:\s+v[a-z]' ;;
    --avx2) pattern='%zmm[0-9]|%k[0-7]|\{%k[0-7]\}' ;;
    *) echo "no mode before $arg" >&2; exit 2 ;;
  esac
  hits=$("$objdump" -d --no-show-raw-insn "$arg" | grep -E "$pattern" | head -5 || true)
  checked=$((checked + 1))
  if [ -n "$hits" ]; then
    echo "FAIL: $(basename "$arg") ($mode) contains instructions it must not:"
    echo "$hits"
    status=1
  fi
done
[ "$checked" -gt 0 ] || { echo "no objects checked" >&2; exit 2; }
[ "$status" -eq 0 ] && echo "OK: $checked objects hold only their own ISA's instructions"
exit $status
