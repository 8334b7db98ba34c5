#!/usr/bin/env bash
# Installs the Debian 12 packages simdnorm's build, tests and benchmarks need.
# Run as root (or through sudo). Safe to run again: apt skips what is present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  clang libomp-dev libclang-rt-14-dev  # sanitizers, libFuzzer, LLVM OpenMP
  libcriterion-dev                      # unit tests
  libbenchmark-dev                      # bench/
  binutils                              # objdump, nm: ISA and symbol checks
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user  # NEON build, run under qemu
  valgrind
  python3-numpy python3-pytest python3-torch     # python/ package tests, examples/compare_torch.py
  python3-pip python3-setuptools python3-wheel   # pip install --no-build-isolation ./python
  libdnnl-dev                                     # bench/: side-by-side comparison with oneDNN
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
