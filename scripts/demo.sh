#!/usr/bin/env bash
# The end-to-end demo on the embedded default: installs the dependencies, builds, replays the
# AAPL sample (shared/data) through a producer into a ring in a temporary directory, and shows
# what landed in the ring. (The sidecar, aerologctl and the WAL summary join as they land.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > build.configure.log 2>&1 || { cat build.configure.log; exit 1; }
cmake --build build -j "$(nproc)" --target aerolog-replay > /dev/null
data=${AEROLOG_DATA:-../shared/data/AAPL_2012-06-21_34200000_37800000_message_50.csv}
[ -f "$data" ] || { echo "demo: sample data not found at $data (set AEROLOG_DATA)" >&2; exit 1; }
work=$(mktemp -d /tmp/aerolog-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "== replaying $(basename "$data") into $work"
build/sidecar/aerolog-replay "$data" --shm-dir "$work" --stream md-feed
python3 - "$work/aerolog.md-feed" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(4096)
magic, ver, hsize, cap = struct.unpack_from("<QIIQ", b, 0)
wpos, last_seq, payload, dropped = struct.unpack_from("<QQQQ", b, 128)
rpos, = struct.unpack_from("<Q", b, 256)
print(f"ring {sys.argv[1]}: magic {magic:#x} v{ver}, capacity {cap >> 20} MiB")
print(f"  published {last_seq} records, {payload} payload bytes, {wpos} ring bytes, dropped {dropped}")
print(f"  undrained {wpos - rpos} bytes ({100.0 * (wpos - rpos) / cap:.1f}% full): no sidecar drains it yet")
PY
