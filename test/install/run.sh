#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then builds and runs an outside project against
# it twice: with find_package(aerolog) and with pkg-config.
set -euo pipefail
build=$1 src=$2
extra=${AEROLOG_EXTRA_FLAGS:-}  # e.g. sanitizer flags the installed library was built with
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" --component dev > "$work/install.log"
test -f "$work/prefix/include/aerolog/producer.hpp"
test -f "$work/prefix/include/aerolog/proto/ring.hpp"
test -f "$work/prefix/lib/cmake/aerolog/aerologConfig.cmake"
test -f "$work/prefix/lib/pkgconfig/aerolog.pc"
# The runtime component too: everything under the prefix, the example config in <prefix>/etc.
cmake --install "$build" --prefix "$work/prefix" --component runtime > "$work/install-runtime.log"
test -f "$work/prefix/etc/aerolog/sidecar.toml"
test -f "$work/prefix/bin/aerolog-sidecar"
outside=$(sed -n 's/^-- \(Installing\|Up-to-date\): //p' "$work/install-runtime.log" | grep -v "^$work/prefix/" || true)
[ -z "$outside" ] || { echo "install: written outside the prefix: $outside"; exit 1; }
"$work/prefix/bin/aerolog-sidecar" --config "$work/prefix/etc/aerolog/sidecar.toml" --check-config
cmake -S "$src/consumer" -B "$work/cm" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_FLAGS="$extra" -DCMAKE_EXE_LINKER_FLAGS="$extra" > "$work/cm.log"
cmake --build "$work/cm" > "$work/cm-build.log"
mkdir "$work/shm"
"$work/cm/consumer" "$work/shm"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
# shellcheck disable=SC2086
g++ $extra -o "$work/pc-consumer" "$src/consumer/main.cpp" $(pkg-config --cflags --libs --static aerolog)
rm -f "$work/shm/aerolog.installed"
"$work/pc-consumer" "$work/shm"
echo "install test: find_package and pkg-config consumers both work"
