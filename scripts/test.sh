#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test. With no option (what CI runs):
#   0. every C++ file is checked against .clang-format; every build treats warnings as errors;
#   1. the normal build (build/): the whole ctest suite;
#   2. the crash, reboot and power-cut tests of that build again with every WAL on a
#      loop-mounted XFS image (needs root; skipped, loudly, without it);
#   3. ASan + UBSan (build-asan/) and TSan (build-tsan/): the same suite as 1 but the install
#      tests and the Python package's;
#   4. the libFuzzer targets (build-fuzz/, clang), each for AEROLOG_FUZZ_SECONDS (default 10) s
#      from the seed corpus in test/fuzz/corpus (longer: AEROLOG_FUZZ_SECONDS=600).
# Options run one part: --quick (1 only), --xfs (1 and 2), --sanitize (ASan+UBSan), --tsan, --fuzz.
# AEROLOG_SOAK_CYCLES (default 100) sets the kill -9 soak's cycles; AEROLOG_POWERCUT_CUTS
# (default 8) and AEROLOG_POWERCUT_IMAGES (default 24) the power-cut suite's size (240 images);
# AEROLOG_LOGGER_CRASH_ROUNDS (default 500) the rounds each thread logs before it dies.
set -euo pipefail
cd "$(dirname "$0")/.."
"scripts/deps.sh"
jobs=$(nproc)
summary=()
passed=0

build() {  # build <preset> [target...] (CMakePresets.json; the directory is build or build-<preset>)
  local preset=$1 dir=build
  shift
  [ "$preset" = default ] || dir=build-$preset
  echo "== configure + build $dir (preset $preset, warnings are errors) [${SECONDS}s]"
  cmake --preset "$preset" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
  if ! cmake --build --preset "$preset" -j "$jobs" ${1:+--target "$@"} > "$dir.build.log" 2>&1; then
    grep -E "error|Error" "$dir.build.log" | head -30
    exit 1
  fi
}

suite() {  # suite <dir> [ctest args...] [-- env...]
  local dir=$1 args=(); shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  echo "== test $dir [${SECONDS}s]"
  (cd "$dir" && env "$@" ctest --output-on-failure -j "$jobs" --timeout 600 "${args[@]}")
  local n
  n=$(cd "$dir" && ctest -N "${args[@]}" | sed -n 's/^Total Tests: //p')
  passed=$((passed + n))
  summary+=("$dir: all $n tests passed")
}

fuzz() {
  local secs=${AEROLOG_FUZZ_SECONDS:-10} work
  build fuzz fuzz_ring fuzz_block fuzz_config  # only the fuzzers: the programs are built three times already
  work=$(mktemp -d)
  for t in ring block config; do
    echo "== fuzz_$t for ${secs}s [${SECONDS}s]"
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

# The sanitizer builds run the power-cut suite and the logging crash test small (the normal build
# cuts 240 images and logs 500 rounds a thread): their long runs are the normal build's.
small=(AEROLOG_POWERCUT_CUTS=1 AEROLOG_POWERCUT_IMAGES=4 AEROLOG_LOGGER_CRASH_ROUNDS=100)

# The kill, reboot and power-cut tests again with every WAL on a loop-mounted XFS image (trading
# boxes often run XFS; the rest of the suite runs on /tmp, ext4 here).
xfs() {
  local img=/tmp/aerolog-xfs.img mnt=/tmp/aerolog-xfs out
  echo "== test build on XFS ($mnt) [${SECONDS}s]"
  if [ "$(id -u)" -ne 0 ]; then echo "   SKIPPED: loop-mounting an XFS image needs root"; return; fi
  mountpoint -q "$mnt" && umount "$mnt"
  rm -f "$img" && truncate -s 4G "$img" && mkfs.xfs -q -f "$img" && mkdir -p "$mnt"
  if ! mount -o loop "$img" "$mnt"; then
    echo "   SKIPPED: cannot loop-mount $img (no loop device?)"
    rm -f "$img"
    return
  fi
  out=$(mktemp)
  (cd build && AEROLOG_TEST_DIR="$mnt" AEROLOG_POWERCUT_CUTS=2 AEROLOG_SOAK_CYCLES=25 \
    test/aerolog_tests "[crash]~[ship],[reboot],[powercut]" \
    > "$out" 2>&1) || { tail -60 "$out"; umount "$mnt"; rm -f "$img" "$out"; exit 1; }
  umount "$mnt" && rm -f "$img"
  local n
  n=$(sed -n 's/^All tests passed (.* in \([0-9]*\) test cases)$/\1/p' "$out")
  rm -f "$out"
  passed=$((passed + n))
  summary+=("build on XFS: all $n crash, reboot and power-cut tests passed")
}

lint() {  # every C++ file formatted as .clang-format says (clang-format 14)
  echo "== clang-format check"
  git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror || {
    echo "clang-format: the files above are not formatted: run clang-format -i on them"
    exit 1
  }
  passed=$((passed + 1))
  summary+=("clang-format: every C++ file formatted")
}

normal() { build default; suite build; }
# The sanitizer builds skip the install tests (packaging, find_package: nothing of ours runs there).
# Nor the Python package's tests (python: ...): the code they check is Python and its native part,
# libaerolog_frames.so, which python3 cannot load sanitized (it is not built there; fuzz_block
# runs its C++ under ASan + UBSan); the C++ tools they drive run sanitized in the rest of the suite.
not_sanitized=(-LE install -E "^python: ")
asan() { build asan; suite build-asan "${not_sanitized[@]}" -- "${small[@]}"; }
tsan() { build tsan; suite build-tsan "${not_sanitized[@]}" -- TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "${small[@]}"; }

mode=${1:-}
case "$mode" in
  "") lint; normal; xfs; asan; tsan; fuzz ;;
  --quick) normal ;;
  --xfs) normal; xfs ;;
  --sanitize) asan ;;
  --tsan) tsan ;;
  --fuzz) fuzz ;;
  -h|--help) sed -n 2,14p "$0"; exit 0 ;;
  *) echo "test.sh: unknown option '$mode' (try --help)" >&2; exit 2 ;;
esac
printf '%s\n' "${summary[@]}"
echo "aerolog: $passed passed, 0 failed, in ${SECONDS}s"  # (a failure exits non-zero before this line)
