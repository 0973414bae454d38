#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test. With no option (what CI runs):
#   1. the normal build (build/): the whole ctest suite;
#   2. ASan + UBSan (build-asan/) and TSan (build-tsan/): the same suite;
#   3. the libFuzzer targets (build-fuzz/, clang), each for AEROLOG_FUZZ_SECONDS (default 15) s
#      from the seed corpus in test/fuzz/corpus (longer: AEROLOG_FUZZ_SECONDS=600).
# Options run one part: --quick (1 only), --sanitize (ASan+UBSan), --tsan, --fuzz.
# AEROLOG_SOAK_CYCLES (default 100) sets the kill -9 soak's cycles.
set -euo pipefail
cd "$(dirname "$0")/.."
"scripts/deps.sh"
jobs=$(nproc)
summary=()
passed=0

build() {  # build <dir> <cmake args...>
  local dir=$1; shift
  echo "== configure + build $dir"
  cmake -S . -B "$dir" "$@" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
  if ! cmake --build "$dir" -j "$jobs" > "$dir.build.log" 2>&1; then
    grep -E "error|Error" "$dir.build.log" | head -30
    exit 1
  fi
  grep -E "warning:" "$dir.build.log" | sort -u | head -20 || true
}

suite() {  # suite <dir> [env...]
  local dir=$1; shift
  echo "== test $dir"
  (cd "$dir" && env "$@" ctest --output-on-failure -j "$jobs" --timeout 600)
  local n
  n=$(cd "$dir" && ctest -N | sed -n 's/^Total Tests: //p')
  passed=$((passed + n))
  summary+=("$dir: all $n tests passed")
}

fuzz() {
  local secs=${AEROLOG_FUZZ_SECONDS:-15} work
  build build-fuzz -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DAEROLOG_FUZZ=ON -DAEROLOG_BUILD_TESTS=OFF -DAEROLOG_BUILD_BENCH=OFF
  work=$(mktemp -d)
  for t in ring block config; do
    echo "== fuzz_$t for ${secs}s"
    mkdir -p "$work/$t"
    cp test/fuzz/corpus/$t/* "$work/$t/"
    (cd "$work" && "$OLDPWD/build-fuzz/test/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
      -print_final_stats=1 "$work/$t" > "$work/$t.log" 2>&1) || {
      tail -40 "$work/$t.log"
      echo "fuzz_$t found a crash: $(ls "$work"/crash-* 2> /dev/null | head -1) (add it to test/fuzz/corpus/$t as a regression)"
      exit 1
    }
    grep -E "stat::number_of_executed_units" "$work/$t.log" | sed "s/^/  fuzz_$t: /"
  done
  rm -rf "$work"
  passed=$((passed + 3))
  summary+=("fuzzers: no crash in ${secs}s each")
}

normal() { build build -DCMAKE_BUILD_TYPE=RelWithDebInfo; suite build; }
asan() { build build-asan -DAEROLOG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DAEROLOG_BUILD_BENCH=OFF; suite build-asan; }
tsan() {
  build build-tsan -DAEROLOG_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAEROLOG_BUILD_BENCH=OFF
  suite build-tsan TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
}

mode=${1:-}
case "$mode" in
  "") normal; asan; tsan; fuzz ;;
  --quick) normal ;;
  --sanitize) asan ;;
  --tsan) tsan ;;
  --fuzz) fuzz ;;
  -h|--help) sed -n 2,8p "$0"; exit 0 ;;
  *) echo "test.sh: unknown option '$mode' (try --help)" >&2; exit 2 ;;
esac
printf '%s\n' "${summary[@]}"
echo "aerolog: $passed passed, 0 failed"  # (a failure exits non-zero before this line)
