#!/usr/bin/env bash
# README's first program, as a new user runs it: the two files pasted from README ("A first
# program") into an empty directory, built with find_package(aerolog) against an installed copy
# of this build tree, run beside that copy's aerolog-sidecar; then aerologctl cat and pandas read
# back what it wrote. Rings go to a fresh shm directory through AEROLOG_SHM_DIR (the programs'
# defaults otherwise), the WAL to a scratch directory.
set -euo pipefail
build=$1 src=$2
extra=${AEROLOG_EXTRA_FLAGS:-}  # e.g. sanitizer flags the installed library was built with
work=$(mktemp -d)
shm=/dev/shm/aerolog-front-door.$$
sidecar=
cleanup() {
  [ -n "$sidecar" ] && kill "$sidecar" 2> /dev/null && wait "$sidecar" 2> /dev/null
  rm -rf "$work" "$shm"
}
trap cleanup EXIT
fail() { echo "front door: $*"; exit 1; }

# The first ```cpp and ```cmake blocks after the heading, as they are.
block() {
  awk -v lang="$1" '/^## A first program$/ {on = 1; next} on && /^## / {exit}
                    on && $0 == "```" lang {inside = 1; next} inside && /^```$/ {exit} inside {print}' "$src/README.md"
}
mkdir "$work/app"
block cpp > "$work/app/strategy.cpp"
block cmake > "$work/app/CMakeLists.txt"
[ -s "$work/app/strategy.cpp" ] && [ -s "$work/app/CMakeLists.txt" ] || fail "README has no first program"

prefix=$work/prefix
for c in dev runtime; do cmake --install "$build" --prefix "$prefix" --component $c > "$work/install-$c.log"; done
cmake -S "$work/app" -B "$work/app/out" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_FLAGS="$extra" \
  -DCMAKE_EXE_LINKER_FLAGS="$extra" > "$work/cmake.log" || { cat "$work/cmake.log"; fail "cmake"; }
cmake --build "$work/app/out" > "$work/build.log" 2>&1 || { cat "$work/build.log"; fail "the program does not build"; }

export AEROLOG_SHM_DIR=$shm
"$prefix/bin/aerolog-sidecar" --wal-dir "$work/wal" --log-file "$work/sidecar.log" &
sidecar=$!
for _ in $(seq 400); do grep -q ready "$work/sidecar.log" 2> /dev/null && break; sleep 0.05; done
out=$("$work/app/out/strategy") || fail "strategy: $out"
[ "$out" = "durable: yes" ] || fail "strategy said: $out"

ctl=$prefix/bin/aerologctl
lines=$("$ctl" cat strategy)
[ "$(grep -c ' info strategy.t2 strategy.cpp:.* quote [0-2] @ 585.33$' <<< "$lines")" = 3 ] ||
  fail "the quoter's three lines are not in: $lines"
grep -q ' warn strategy.t1 strategy.cpp:.* filled 100 AAPL @ 585.33$' <<< "$lines" || fail "no fill line in: $lines"
csv=$("$ctl" cat fills --format csv)
grep -q '^1,[0-9]*,Trade,AAPL,trade,buy,585.33000000,100,' <<< "$csv" || fail "the trade is not in: $csv"
py=$(PYTHONPATH="$prefix/lib/python3/dist-packages" /usr/bin/python3 -c \
  'import aerolog; print(aerolog.open("'"$work"'/wal/fills").dataframe("Trade")[["symbol", "price", "qty"]].to_string())')
grep -q 'AAPL  585.33  100' <<< "$py" || fail "pandas printed: $py"
"$ctl" status > "$work/status.txt" || { cat "$work/status.txt"; fail "status says unhealthy"; }
kill -TERM "$sidecar"
wait "$sidecar" || fail "the sidecar did not stop cleanly"
sidecar=
echo "front door: README's first program builds, runs, is durable, and reads back through cat and pandas"
