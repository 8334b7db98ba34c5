#!/usr/bin/env bash
# Installs the build into a scratch prefix, then builds and runs a consumer
# through find_package(simdnorm CONFIG) and through pkg-config.
# Usage: package.sh BUILD_DIR SOURCE_DIR C_COMPILER
set -euo pipefail
build=$1 source=$2 cc=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"

cmake -S "$source/tests/checks/consumer" -B "$work/cmake-consumer" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_C_COMPILER="$cc" > "$work/configure.log"
cmake --build "$work/cmake-consumer" > "$work/build.log"
LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib64:${LD_LIBRARY_PATH:-}" "$work/cmake-consumer/consumer"

pcdir=$(dirname "$(find "$work/prefix" -name simdnorm.pc | head -1)")
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs simdnorm)
"$cc" -std=c89 -pedantic -Wall -Werror "$source/tests/checks/consumer/consumer.c" $flags -o "$work/pc-consumer"
LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib64:${LD_LIBRARY_PATH:-}" "$work/pc-consumer"
echo "OK: find_package(simdnorm CONFIG) and pkg-config consumers build and run"
