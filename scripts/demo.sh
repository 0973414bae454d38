#!/usr/bin/env bash
# The end-to-end demo on an embedded default configuration: installs the dependencies,
# builds, starts aerolog-sidecar on temporary directories, replays the AAPL sample
# (shared/data) through a producer, flushes, prints `aerologctl status` and a decoded summary
# of the WAL, writes a dashboard PNG, and stops the sidecar cleanly.
#   AEROLOG_DATA=file.csv     another LOBSTER message file
#   AEROLOG_OUT=dir           where to leave the WAL and the PNG (default: a temporary directory, removed)
#   AEROLOG_BUILD_DIR=dir     build tree to use (default build/); AEROLOG_NO_BUILD=1 skips install + build
set -euo pipefail
cd "$(dirname "$0")/.."
build=${AEROLOG_BUILD_DIR:-build}
if [ "${AEROLOG_NO_BUILD:-0}" != 1 ]; then
  scripts/deps.sh
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
  echo "== building"
  cmake --build "$build" -j "$(nproc)" --target aerolog-sidecar aerologctl aerolog-replay > /dev/null
fi
data=${AEROLOG_DATA:-../shared/data/AAPL_2012-06-21_34200000_37800000_message_50.csv}
[ -f "$data" ] || { echo "demo: sample data not found at $data (set AEROLOG_DATA)" >&2; exit 1; }

work=${AEROLOG_OUT:-$(mktemp -d /tmp/aerolog-demo.XXXXXX)}
mkdir -p "$work"
shm=$(mktemp -d /dev/shm/aerolog-demo.XXXXXX)
sidecar_pid=""
cleanup() {
  [ -n "$sidecar_pid" ] && kill "$sidecar_pid" 2> /dev/null || true
  rm -rf "$shm"
  [ -n "${AEROLOG_OUT:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# The embedded default configuration (same keys as systemd/sidecar.toml).
cat > "$work/sidecar.toml" <<TOML
shm-dir = "$shm"
wal-dir = "$work/wal"
durability = "dsync"
segment-size = "16M"
log-file = "$work/sidecar.log"
TOML

ctl="$build/sidecar/aerologctl --shm-dir $shm"
py=/usr/bin/python3  # Debian's: python3-matplotlib is installed for it (another python3 may come first in PATH)
[ -x "$py" ] || py=python3
# The Python package with its native part, as the .deb installs it (without it: numpy alone).
lib="$build/libaerolog/libaerolog_frames.so"
[ -f "$lib" ] && export AEROLOG_FRAMES_LIB="$lib"
echo "== starting aerolog-sidecar (WAL in $work/wal)"
"$build/sidecar/aerolog-sidecar" --config "$work/sidecar.toml" &
sidecar_pid=$!
for _ in $(seq 200); do $ctl status > /dev/null 2>&1 && break; sleep 0.05; done

echo "== replaying $(basename "$data")"
"$build/sidecar/aerolog-replay" "$data" --shm-dir "$shm" --stream md-feed

echo "== aerologctl flush"
$ctl flush --timeout 30
echo "== aerologctl status"
$ctl status
echo "== WAL summary"
"$py" scripts/alog.py summary "$work/wal/md-feed"
"$build/sidecar/aerologctl" verify --quiet "$work/wal/md-feed"
echo "== first and last records"
$ctl cat md-feed --wal-dir "$work/wal" --to-seq 3
$ctl cat md-feed --wal-dir "$work/wal" --from-seq 91995
if "$py" -c "import matplotlib" 2> /dev/null; then
  "$py" scripts/dashboard.py wal "$work/wal/md-feed" -o "$work/dashboard.png"
else
  echo "(python3-matplotlib is not installed: no dashboard PNG)"
fi

kill -TERM "$sidecar_pid"
wait "$sidecar_pid" && echo "== sidecar stopped cleanly (exit 0)"
sidecar_pid=""
[ -n "${AEROLOG_OUT:-}" ] && echo "WAL, log and dashboard.png left in $work"
exit 0
