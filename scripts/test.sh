#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test (ctest).
#   scripts/test.sh              the normal build (build/)
#   scripts/test.sh --sanitize   the same suite built with ASan + UBSan (build-asan/)
#   scripts/test.sh --all        both
set -euo pipefail
cd "$(dirname "$0")/.."
"scripts/deps.sh"
jobs=$(nproc)

run() {  # run <build dir> <cmake args...>
  local dir=$1; shift
  echo "== configure + build $dir"
  cmake -S . -B "$dir" -DAEROLOG_BUILD_BENCH=ON "$@" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
  cmake --build "$dir" -j "$jobs" 2>&1 | grep -E "error|warning|Error" || true
  cmake --build "$dir" -j "$jobs" > /dev/null
  echo "== test $dir"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600)
}

mode=${1:-}
case "$mode" in
  "") run build ;;
  --sanitize) run build-asan -DAEROLOG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug ;;
  --all) run build; run build-asan -DAEROLOG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug ;;
  -h|--help) sed -n 2,6p "$0"; exit 0 ;;
  *) echo "test.sh: unknown option '$mode' (try --help)" >&2; exit 2 ;;
esac
