#!/usr/bin/env bash
# The end-to-end demo on an embedded default configuration: installs the dependencies,
# builds, starts aerolog-sidecar on temporary directories, replays the AAPL sample
# (shared/data) through a producer, waits until every record is durable, prints the ring
# status and a decoded summary of the WAL, and stops the sidecar cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > build.configure.log 2>&1 || { cat build.configure.log; exit 1; }
cmake --build build -j "$(nproc)" --target aerolog-sidecar aerolog-replay > /dev/null
data=${AEROLOG_DATA:-../shared/data/AAPL_2012-06-21_34200000_37800000_message_50.csv}
[ -f "$data" ] || { echo "demo: sample data not found at $data (set AEROLOG_DATA)" >&2; exit 1; }

work=$(mktemp -d /tmp/aerolog-demo.XXXXXX)
shm=$(mktemp -d /dev/shm/aerolog-demo.XXXXXX)
sidecar_pid=""
cleanup() {
  [ -n "$sidecar_pid" ] && kill "$sidecar_pid" 2> /dev/null || true
  rm -rf "$work" "$shm"
}
trap cleanup EXIT

# The embedded default configuration (same keys as systemd/sidecar.toml).
cat > "$work/sidecar.toml" <<TOML
shm-dir = "$shm"
wal-dir = "$work/wal"
durability = "dsync"
segment-size = 16777216
log-file = "$work/sidecar.log"
TOML

echo "== starting aerolog-sidecar (WAL in $work/wal)"
build/sidecar/aerolog-sidecar --config "$work/sidecar.toml" &
sidecar_pid=$!
for _ in $(seq 100); do grep -q ready "$work/sidecar.log" 2> /dev/null && break; sleep 0.05; done

echo "== replaying $(basename "$data")"
build/sidecar/aerolog-replay "$data" --shm-dir "$shm" --stream md-feed

echo "== waiting until every record is durable"
python3 - "$shm/aerolog.md-feed" <<'PY'
import struct, sys, time
deadline = time.time() + 30
while time.time() < deadline:
    h = open(sys.argv[1], "rb").read(512)
    last, durable = struct.unpack_from("<Q", h, 136)[0], struct.unpack_from("<Q", h, 384)[0]
    if durable == last:
        print(f"durable seq {durable} == last published seq {last}")
        sys.exit(0)
    time.sleep(0.01)
sys.exit("demo: records did not become durable within 30 s")
PY

echo "== status"
python3 scripts/alog.py rings "$shm"
echo "== WAL summary"
python3 scripts/alog.py summary "$work/wal/md-feed"

kill -TERM "$sidecar_pid"
wait "$sidecar_pid" && echo "== sidecar stopped cleanly (exit 0)"
sidecar_pid=""
